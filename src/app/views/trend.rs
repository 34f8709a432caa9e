//! A trend, shared by the vital signs and the results: the line, the reference range as a band,
//! its scale as text, and each point's value and date on hover and on keyboard focus (arrow
//! keys move between points). Screen readers get the whole trend as the image's name.

use std::sync::Arc;

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::domain::precision::Precision;
use crate::domain::results::Point;
use crate::domain::trend::{nearest, trend};

/// The drawing box (the viewBox adds 2 on each side for the line's width).
const WIDTH: f64 = 120.0;
const HEIGHT: f64 = 32.0;

pub(super) fn trend_view(
    points: &[Point],
    reference: (Option<f64>, Option<f64>),
    precision: Precision,
    name: &str,
) -> Option<impl IntoView + use<>> {
    let t = trend(points, reference, precision, WIDTH, HEIGHT)?;
    let label = format!("{name}: {}", t.summary);
    let scale = format!("{} · {}", t.range, t.dates);
    let last = t.points.len() - 1;
    let points = Arc::new(t.points);
    let current = RwSignal::new(None::<usize>);
    let keydown = move |ev: leptos::ev::KeyboardEvent| {
        let at = current.get_untracked().unwrap_or(last);
        let to = match ev.key().as_str() {
            "ArrowLeft" | "ArrowDown" => at.saturating_sub(1),
            "ArrowRight" | "ArrowUp" => (at + 1).min(last),
            "Home" => 0,
            "End" => last,
            _ => return,
        };
        ev.prevent_default();
        current.set(Some(to));
    };
    let pointer = {
        let points = points.clone();
        move |ev: leptos::ev::PointerEvent| {
            let Some(svg) = ev
                .current_target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            else {
                return;
            };
            let rect = svg.get_bounding_client_rect();
            if rect.width() > 0.0 {
                let x =
                    (f64::from(ev.client_x()) - rect.left()) / rect.width() * (WIDTH + 4.0) - 2.0;
                current.set(nearest(&points, x));
            }
        }
    };
    // The point in focus or under the pointer: a marker (none drawn, r = 0, otherwise) and its
    // value and date in place of the scale.
    let at = {
        let points = points.clone();
        move |pick: fn(&(f64, f64, String)) -> f64| {
            let p = current.get().and_then(|i| points.get(i));
            crate::domain::precision::one_decimal(p.map_or(0.0, pick))
        }
    };
    let (cx, cy) = (at.clone(), at);
    let caption = move || match current.get().and_then(|i| points.get(i)) {
        Some(p) => p.2.clone(),
        None => scale.clone(),
    };
    Some(view! {
        <figure class="trend">
            <svg
                class="spark"
                viewBox="-2 -2 124 36"
                role="img"
                tabindex="0"
                aria-label=label
                on:keydown=keydown
                on:focus=move |_| current.set(Some(last))
                on:blur=move |_| current.set(None)
                on:pointermove=pointer
                on:pointerleave=move |_| current.set(None)
            >
                {t
                    .band
                    .map(|(y, h)| {
                        view! {
                            <rect
                                class="spark__band"
                                x="-2"
                                y=crate::domain::precision::one_decimal(y)
                                width="124"
                                height=crate::domain::precision::one_decimal(h)
                            ></rect>
                        }
                    })}
                <polyline class="spark__line" points=t.line></polyline>
                {t
                    .second
                    .map(|points| {
                        view! { <polyline class="spark__line spark__line--second" points=points></polyline> }
                    })}
                <circle
                    class="spark__point"
                    cx=move || cx(|p| p.0)
                    cy=move || cy(|p| p.1)
                    r=move || if current.get().is_some() { "3" } else { "0" }
                ></circle>
            </svg>
            <figcaption class="trend__scale" aria-live="polite">
                {caption}
            </figcaption>
        </figure>
    })
}
