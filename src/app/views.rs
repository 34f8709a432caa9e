//! The screens. Plain text only: every string from the EHR goes into a text node.

use leptos::prelude::*;

use crate::app::{Chart, Found, Screen, Search, ServerChoice, flow};
use crate::domain::banner::Banner;
use crate::domain::problem::{NextStep, Problem};
use crate::fhir::search::{MAX_QUERY_CHARS, PatientQuery};
use crate::smart::scope::LaunchKind;

pub fn working(status: &'static str) -> impl IntoView {
    view! {
        <section class="screen screen--working" aria-busy="true">
            <p class="status" role="status">{status}</p>
        </section>
    }
}

/// The standalone start page: patients pick their health system; clinicians have their own
/// sign-in below.
pub fn start(choices: Vec<ServerChoice>, screen: RwSignal<Screen>) -> impl IntoView {
    let systems = choices
        .iter()
        .map(|choice| {
            let index = choice.index;
            let launch = move |kind| {
                leptos::task::spawn_local(flow::standalone_launch(screen, index, kind));
            };
            view! {
                <li class="system">
                    <button
                        class="system__choose"
                        data-server=index
                        on:click=move |_| launch(LaunchKind::StandalonePatient)
                    >
                        <span class="system__name">{choice.name.clone()}</span>
                        <span class="system__hint">"Sign in with your patient portal account"</span>
                    </button>
                    {choice
                        .portal_url
                        .clone()
                        .map(|url| {
                            view! {
                                <a
                                    class="system__portal"
                                    href=url
                                    target="_blank"
                                    rel="noopener noreferrer"
                                >
                                    "No account yet? Visit the patient portal"
                                </a>
                            }
                        })}
                </li>
            }
        })
        .collect_view();
    let clinician = choices
        .into_iter()
        .map(|choice| {
            let index = choice.index;
            view! {
                <li>
                    <button
                        class="button button--quiet"
                        data-clinician-server=index
                        on:click=move |_| {
                            leptos::task::spawn_local(
                                flow::standalone_launch(screen, index, LaunchKind::StandaloneProvider),
                            );
                        }
                    >
                        {format!("Clinician sign-in: {}", choice.name)}
                    </button>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="screen screen--start">
            <h1>"Open your health record"</h1>
            <p>
                "Choose your health system. You will sign in on its own page, then come back here to see your visits, vital signs and results."
            </p>
            <ul class="systems">{systems}</ul>
            <details class="clinician">
                <summary>"Are you a clinician?"</summary>
                <p>
                    "Most clinicians open Cairn from a patient's chart in the EHR. To find a patient here instead, sign in as a clinician."
                </p>
                <ul class="clinician__list">{clinician}</ul>
            </details>
        </section>
    }
}

pub fn problem(problem: Problem) -> impl IntoView {
    let next = match problem.next_step {
        NextStep::Relaunch => "Open Cairn again from your EHR or patient portal.",
        NextStep::TryAgain => {
            "Try again in a moment. If it keeps happening, contact your support desk."
        }
        NextStep::ContactSupport => "Contact your support desk and tell them what this page says.",
    };
    let retry = matches!(problem.next_step, NextStep::TryAgain).then(|| {
        view! {
            <button class="button" on:click=|_| crate::web::location::reload()>
                "Try again"
            </button>
        }
    });
    view! {
        <section class="screen screen--problem" role="alert">
            <h1 class="problem__title">{problem.title}</h1>
            <p class="problem__detail">{problem.detail}</p>
            <p class="problem__next">{next}</p>
            {retry}
        </section>
    }
}

/// A clinician's patient search, by name or medical record number.
pub fn search(search: Search, screen: RwSignal<Screen>) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let by_mrn = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = query.get_untracked();
        let q = if by_mrn.get_untracked() {
            PatientQuery::Mrn(text)
        } else {
            PatientQuery::Name(text)
        };
        leptos::task::spawn_local(flow::search(screen, q));
    };
    let results = search.results.map(|found| {
        let rows = found
            .into_iter()
            .map(|f| result_row(f, screen))
            .collect_view();
        view! { <ul class="results" aria-label="Matching patients">{rows}</ul> }
    });
    view! {
        <section class="screen screen--search">
            {search
                .signed_in_as
                .map(|who| view! { <p class="signed-in">"Signed in as " <bdi>{who}</bdi></p> })}
            <h1>"Find a patient"</h1>
            <form class="search" role="search" on:submit=submit>
                <fieldset class="search__by">
                    <legend>"Search by"</legend>
                    <label>
                        <input
                            type="radio"
                            name="by"
                            value="name"
                            checked=true
                            on:change=move |_| by_mrn.set(false)
                        />
                        " Name"
                    </label>
                    <label>
                        <input
                            type="radio"
                            name="by"
                            value="mrn"
                            on:change=move |_| by_mrn.set(true)
                        />
                        " MRN"
                    </label>
                </fieldset>
                <label class="search__label" for="patient-query">
                    "Patient name or medical record number"
                </label>
                <input
                    id="patient-query"
                    class="search__input"
                    type="search"
                    required=true
                    maxlength=MAX_QUERY_CHARS.to_string()
                    autocomplete="off"
                    prop:value=move || query.get()
                    on:input:target=move |ev| query.set(ev.target().value())
                />
                <button class="button" type="submit">
                    "Search"
                </button>
            </form>
            {search.message.map(|m| view! { <p class="search__message" role="status">{m}</p> })}
            {results}
        </section>
    }
}

fn result_row(found: Found, screen: RwSignal<Screen>) -> impl IntoView {
    let Found { id, banner } = found;
    let facts = [
        banner.birth_date.clone().map(|d| format!("Born {d}")),
        banner.gender.clone(),
        banner.mrn.clone().map(|m| format!("MRN {m}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    view! {
        <li>
            <button
                class="result"
                data-patient=id.clone()
                on:click=move |_| {
                    leptos::task::spawn_local(flow::open_chart(screen, id.clone()));
                }
            >
                <bdi class="result__name">{banner.name}</bdi>
                <span class="result__facts">{facts}</span>
            </button>
        </li>
    }
}

pub fn chart(chart: Chart, screen: RwSignal<Screen>) -> impl IntoView {
    let Chart {
        patient_id,
        banner,
        signed_in_as,
        encounter,
        not_granted,
        can_search,
    } = chart;
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
        <section class="chart__body">
            <div class="chart__tools">
                {signed_in_as.map(|who| view! { <p class="signed-in">"Signed in as " <bdi>{who}</bdi></p> })}
                <button class="button button--quiet chart__reload" on:click=reload>
                    "Reload"
                </button>
                {back}
            </div>
            {encounter
                .map(|e| {
                    view! {
                        <p class="chart__encounter">
                            "Opened for the encounter: " <bdi>{e}</bdi>
                        </p>
                    }
                })}
            {notices}
            <p class="status">"Encounters and observations are not shown yet in this version."</p>
        </section>
    }
}

fn patient_banner(b: Banner) -> impl IntoView {
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
