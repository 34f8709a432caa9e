//! The chart: the patient banner and the section bar (sticky), the tools, and one section at a
//! time. The section is named in the address bar's fragment (`#vitals`), so a reload or
//! relaunch goes back to it; this tab's sessionStorage remembers it for a relaunch, whose
//! callback address has no fragment.

use leptos::leptos_dom::helpers::window_event_listener_untyped;
use leptos::prelude::*;

use super::all_results::all_results_section;
use super::encounters::encounters_section;
use super::isolated;
use super::labs::labs_section;
use super::patient::patient_section;
use super::summary::summary_section;
use super::vitals::vitals_section;
use crate::app::{Chart, Screen, Search, flow};
use crate::domain::banner::Banner;
use crate::domain::section::Section;
use crate::web::storage::SessionStore;
use crate::web::{location, perf};

/// The last section shown in this tab (a section name, nothing about the patient).
const SECTION_KEY: &str = "cairn.section";

fn remember(section: Section) {
    if let Ok(store) = SessionStore::open() {
        let _ = store.put(SECTION_KEY, section.id());
    }
}

/// The section the fragment names, else the one last shown in this tab, else the summary; the
/// fragment is set to it.
fn first_section() -> Section {
    let stored = || SessionStore::open().ok()?.get(SECTION_KEY);
    let section = Section::from_fragment(&location::fragment())
        .or_else(|| stored().and_then(|s| Section::from_fragment(&s)))
        .unwrap_or_default();
    location::replace_fragment(section.id());
    remember(section);
    section
}

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
        details,
        selected: _,
        owner: _,
    } = chart.clone();
    let section = RwSignal::new(first_section());
    let listener = window_event_listener_untyped("hashchange", move |_| {
        if let Some(s) = Section::from_fragment(&location::fragment()) {
            remember(s);
            section.set(s);
            if let Some(w) = web_sys::window() {
                w.scroll_to_with_x_and_y(0.0, 0.0);
            }
        }
    });
    on_cleanup(move || listener.remove());
    let links = Section::ALL
        .into_iter()
        .map(|s| {
            view! {
                <li>
                    <a
                        class="sections__link"
                        href=format!("#{}", s.id())
                        accesskey=s.key()
                        aria-keyshortcuts=format!("Alt+{}", s.key().to_ascii_uppercase())
                        aria-current=move || (section.get() == s).then_some("page")
                        rel="noopener noreferrer"
                    >
                        {s.label()}
                    </a>
                </li>
            }
        })
        .collect_view();
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
    let shown = move || match section.get() {
        Section::Summary => summary_section(chart.clone()).into_any(),
        Section::Vitals => vitals.map(vitals_section).into_any(),
        Section::Results => view! {
            {labs.map(labs_section)}
            {(vitals.is_some() || labs.is_some() || others.is_some())
                .then(|| all_results_section([vitals, labs], others))}
        }
        .into_any(),
        Section::Encounters => encounters
            .map(|feed| encounters_section(feed, chart.clone()))
            .into_any(),
        Section::Patient => patient_section(details.clone()).into_any(),
    };
    // For tests and tools: set while any of the chart's searches is running, whichever section
    // is shown.
    let loading = move || {
        let observations = [vitals, labs, others]
            .into_iter()
            .flatten()
            .any(|f| f.with(|f| f.is_loading()));
        let encounters = encounters.is_some_and(|f| f.with(|f| f.is_loading()));
        (observations || encounters).then_some("true")
    };
    view! {
        <div class="chart__top">
            {banner.map(patient_banner)}
            <nav class="sections" aria-label="Chart sections">
                <ul>{links}</ul>
            </nav>
        </div>
        <div class="chart__body" data-loading=loading>
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
            {shown}
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
