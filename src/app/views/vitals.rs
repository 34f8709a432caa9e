//! The vital signs section: one card per kind, latest reading and trend.

use leptos::prelude::*;

use super::trend::trend_view;
use super::{empty_unless_loading, feed_status, flag, recorded_title};
use crate::app::feed::ObservationFeed;
use crate::domain::results::{self, Vital};
use crate::web::perf;

pub(super) fn vitals_section(feed: ObservationFeed) -> impl IntoView {
    view! {
        <section class="section section--vitals" aria-labelledby="vitals-title">
            <h2 id="vitals-title">"Vital signs"</h2>
            {feed_status(feed)}
            {vital_cards(feed, true)}
        </section>
    }
}

/// The latest of each vital sign, each with its trend (`with_trend`) or without (the summary).
pub(super) fn vital_cards(feed: ObservationFeed, with_trend: bool) -> impl IntoView {
    move || {
        let cards = feed
            .with(|f| results::vitals(&f.items))
            .into_iter()
            .map(|v| vital_card(v, with_trend))
            .collect_view();
        view! {
            {empty_unless_loading(feed, "No vital signs are recorded.")}
            <ul class="vitals">{cards}</ul>
        }
    }
}

fn vital_card(v: Vital, with_trend: bool) -> impl IntoView {
    perf::mark_after_paint(perf::FIRST_OBSERVATIONS);
    let class = if v.flag.is_some() {
        "vital vital--abnormal"
    } else {
        "vital"
    };
    let title = recorded_title(&v.latest, &v.recorded);
    let trend = with_trend
        .then(|| trend_view(&v.trend, (None, None), v.kind.precision(), v.kind.label()))
        .flatten();
    view! {
        <li class=class data-kind=v.kind.label()>
            <span class="vital__label">{v.kind.label()}</span>
            <span class="vital__value" title=title>
                {breakable_after_slash(v.latest)}
            </span>
            {flag(v.flag)}
            <span class="vital__when">{v.when}</span>
            {trend}
        </li>
    }
}

/// `142/91 mmHg` with a line-break opportunity after the `/` between the numbers, so a long
/// blood pressure wraps between them on a phone rather than inside one (units such as `kg/m²`
/// are left whole).
fn breakable_after_slash(text: String) -> impl IntoView {
    let between_numbers = |(before, after): &(&str, &str)| {
        before.ends_with(|c: char| c.is_ascii_digit())
            && after.starts_with(|c: char| c.is_ascii_digit())
    };
    match text.split_once('/').filter(between_numbers) {
        Some((before, after)) => {
            let (before, after) = (format!("{before}/"), after.to_owned());
            view! { {before} <wbr /> {after} }.into_any()
        }
        None => text.into_any(),
    }
}
