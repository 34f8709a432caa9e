//! The chart: the patient banner, the tools, and each section.

use leptos::prelude::*;

use super::all_results::all_results_section;
use super::encounters::encounters_section;
use super::isolated;
use super::labs::labs_section;
use super::vitals::vitals_section;
use crate::app::{Chart, Screen, Search, flow};
use crate::domain::banner::Banner;
use crate::web::perf;

pub fn chart(chart: Chart, screen: RwSignal<Screen>) -> impl IntoView {
    let Chart {
        patient_id,
        banner,
        signed_in_as,
        encounter,
        not_granted,
        can_search,
        encounters,
        vitals,
        labs,
        others,
        selected: _,
    } = chart.clone();
    let notices = not_granted
        .into_iter()
        .map(|view| {
            view! {
                <p class="notice notice--not-granted" data-view=view.label()>
                    {view.not_granted_message()}
                </p>
            }
        })
        .collect_view();
    let reload = {
        let id = patient_id.clone();
        move |_| leptos::task::spawn_local(flow::open_chart(screen, id.clone()))
    };
    let back = can_search.then(|| {
        view! {
            <button
                class="button button--quiet"
                on:click=move |_| {
                    screen
                        .set(
                            Screen::Search(Search {
                                signed_in_as: flow::signed_in_as(),
                                ..Search::default()
                            }),
                        )
                }
            >
                "Find another patient"
            </button>
        }
    });
    view! {
        {banner.map(patient_banner)}
        <div class="chart__body">
            <div class="chart__tools">
                {move || {
                    signed_in_as
                        .get()
                        .map(|who| view! { <p class="signed-in">"Signed in as " <bdi>{who}</bdi></p> })
                }}
                <button class="button button--quiet chart__reload" on:click=reload>
                    "Reload"
                </button>
                {back}
            </div>
            {move || {
                encounter
                    .get()
                    .map(|parts| {
                        view! {
                            <p class="chart__encounter">
                                "Opened for the encounter: " {isolated(parts)}
                            </p>
                        }
                    })
            }}
            {notices}
            {move || {
                flow::reports()
                    .get()
                    .into_iter()
                    .map(|text| view! { <p class="notice notice--report" role="status">{text}</p> })
                    .collect_view()
            }}
            {vitals.map(vitals_section)}
            {labs.map(labs_section)}
            {(vitals.is_some() || labs.is_some() || others.is_some())
                .then(|| all_results_section([vitals, labs], others))}
            {encounters.map(|feed| encounters_section(feed, chart))}
        </div>
    }
}

fn patient_banner(b: Banner) -> impl IntoView {
    perf::mark_after_paint(perf::BANNER);
    let field = |label: &'static str, value: Option<String>| {
        value.map(|v| {
            view! {
                <div class="banner__field">
                    <dt>{label}</dt>
                    <dd>{v}</dd>
                </div>
            }
        })
    };
    view! {
        <header class="banner" aria-label="Patient">
            <h1 class="banner__name">
                <bdi>{b.name}</bdi>
            </h1>
            <dl class="banner__facts">
                {field("Born", b.birth_date)}
                {field("Age", b.age)}
                {field("Gender", b.gender)}
                {field("MRN", b.mrn)}
            </dl>
            {b.deceased.map(|d| view! { <p class="banner__deceased">{d}</p> })}
        </header>
    }
}
