//! The screens. Plain text only: every string from the EHR goes into a text node.

use leptos::prelude::*;

use crate::app::feed::{self, EncounterFeed, Feed, ObservationFeed};
use crate::app::{Chart, Found, Screen, Search, Selected, ServerChoice, flow};
use crate::domain::banner::Banner;
use crate::domain::encounters::{EncounterFilter, choices, encounter_list};
use crate::domain::problem::{NextStep, Problem};
use crate::domain::results::{self, LabGroup, Vital};
use crate::domain::table::{ResultRow, Sort, SortKey, arrange, result_rows, window};
use crate::fhir::drill::loading_text;
use crate::fhir::encounter::Encounter;
use crate::fhir::search::{MAX_QUERY_CHARS, SEXES, SearchForm};
use crate::smart::scope::LaunchKind;
use crate::web::perf;

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
                        <span class="system__title">
                            {choice
                                .logo_url
                                .clone()
                                .map(|src| {
                                    view! {
                                        <img class="system__logo" src=src alt="" width="32" height="32" />
                                    }
                                })}
                            <span class="system__name">{choice.name.clone()}</span>
                        </span>
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

/// A clinician's patient search: family name, given name, birth date and (optionally) sex, or
/// the medical record number. The core checks the form and says what to add.
pub fn search(search: Search, screen: RwSignal<Screen>) -> impl IntoView {
    let typed = search.form.clone();
    let family = RwSignal::new(typed.family);
    let given = RwSignal::new(typed.given);
    let birth_date = RwSignal::new(typed.birth_date);
    let sex = RwSignal::new(typed.sex);
    let mrn = RwSignal::new(typed.mrn);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = SearchForm {
            family: family.get_untracked(),
            given: given.get_untracked(),
            birth_date: birth_date.get_untracked(),
            sex: sex.get_untracked(),
            mrn: mrn.get_untracked(),
        };
        leptos::task::spawn_local(flow::search(screen, form));
    };
    let text_field = |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <div class="search__field">
                <label class="search__label" for=id>
                    {label}
                </label>
                <input
                    id=id
                    class="search__input"
                    type="text"
                    maxlength=MAX_QUERY_CHARS.to_string()
                    autocomplete="off"
                    prop:value=move || value.get()
                    on:input:target=move |ev| value.set(ev.target().value())
                />
            </div>
        }
    };
    let chosen_sex = sex.get_untracked();
    let sexes = SEXES
        .iter()
        .map(|(code, label)| {
            view! {
                <option value=*code selected=chosen_sex == *code>
                    {*label}
                </option>
            }
        })
        .collect_view();
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
            <form class="search" role="search" aria-describedby="search-hint" on:submit=submit>
                <p class="search__hint" id="search-hint">
                    "Enter the family name, given name and birth date, or the MRN."
                </p>
                <fieldset class="search__person">
                    <legend>"By name and birth date"</legend>
                    {text_field("search-family", "Family name", family)}
                    {text_field("search-given", "Given name", given)}
                    <div class="search__field">
                        <label class="search__label" for="search-birth-date">
                            "Birth date (YYYY-MM-DD)"
                        </label>
                        <input
                            id="search-birth-date"
                            class="search__input"
                            type="text"
                            inputmode="numeric"
                            placeholder="YYYY-MM-DD"
                            size="12"
                            maxlength="10"
                            autocomplete="off"
                            prop:value=move || birth_date.get()
                            on:input:target=move |ev| birth_date.set(ev.target().value())
                        />
                    </div>
                    <div class="search__field">
                        <label class="search__label" for="search-sex">
                            "Sex (optional)"
                        </label>
                        <select
                            id="search-sex"
                            class="search__input"
                            on:change:target=move |ev| sex.set(ev.target().value())
                        >
                            <option value="">"Any"</option>
                            {sexes}
                        </select>
                    </div>
                </fieldset>
                <fieldset class="search__mrn">
                    <legend>"Or by medical record number"</legend>
                    {text_field("search-mrn", "MRN", mrn)}
                </fieldset>
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

/// Parts joined by " · ", each in its own `<bdi>`.
fn isolated(parts: Vec<String>) -> impl IntoView {
    parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            view! {
                {(i > 0).then_some(" · ")}
                <bdi>{part}</bdi>
            }
        })
        .collect_view()
}

/// Progress while pages arrive, and why results may be missing (one notice per search that
/// stopped or failed, naming its category in a feed of several), with a way to go on.
fn feed_status<T: Send + Sync + 'static>(feed: RwSignal<Feed<T>>) -> impl IntoView {
    move || {
        let (meta, count) = feed.with(|f| (f.meta.clone(), f.items.len()));
        let progress = (meta.running > 0).then(|| {
            view! {
                <p class="feed__progress" role="status" aria-live="polite">
                    {loading_text(count, meta.total())}
                </p>
            }
        });
        let id = meta.id;
        let mut retry = meta.can_resume().then(|| {
            view! {
                <button class="button button--quiet" on:click=move |_| feed::resume(id)>
                    "Retry"
                </button>
            }
        });
        let notices: Vec<String> = meta.notices();
        let last = notices.len().saturating_sub(1);
        let notices = notices
            .into_iter()
            .enumerate()
            .map(|(i, text)| {
                // One Retry, after the last notice: it resumes every search that can go on.
                let retry = if i == last { retry.take() } else { None };
                view! {
                    <p class="notice notice--partial" role="status">
                        {text}
                        " "
                        {retry}
                    </p>
                }
            })
            .collect_view();
        view! {
            {progress}
            {notices}
        }
    }
}

fn empty_unless_loading<T: Send + Sync + 'static>(
    feed: RwSignal<Feed<T>>,
    text: &'static str,
) -> Option<impl IntoView> {
    feed.with(|f| f.items.is_empty() && !f.is_loading())
        .then(|| view! { <p class="empty">{text}</p> })
}

fn vitals_section(feed: ObservationFeed) -> impl IntoView {
    view! {
        <section class="section section--vitals" aria-labelledby="vitals-title">
            <h2 id="vitals-title">"Vital signs"</h2>
            {feed_status(feed)}
            {move || {
                let cards = feed
                    .with(|f| results::vitals(&f.items))
                    .into_iter()
                    .map(vital_card)
                    .collect_view();
                view! {
                    {empty_unless_loading(feed, "No vital signs are recorded.")}
                    <ul class="vitals">{cards}</ul>
                }
            }}
        </section>
    }
}

fn vital_card(v: Vital) -> impl IntoView {
    perf::mark_after_paint(perf::FIRST_OBSERVATIONS);
    let class = if v.abnormal {
        "vital vital--abnormal"
    } else {
        "vital"
    };
    let readings = v.trend.len();
    let trend = trend_svg(
        &v.trend,
        format!("{} trend, {readings} readings", v.kind.label()),
    );
    view! {
        <li class=class data-kind=v.kind.label()>
            <span class="vital__label">{v.kind.label()}</span>
            <span class="vital__value">{breakable_after_slash(v.latest)}</span>
            <span class="vital__when">{v.when}</span>
            {trend}
        </li>
    }
}

/// `142/91 mm[Hg]` with a line-break opportunity after the `/` between the numbers, so a long
/// blood pressure wraps between them on a phone rather than inside one (units such as `kg/m2`
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

fn trend_svg(trend: &[results::Point], label: String) -> Option<impl IntoView + use<>> {
    let (main, second) = results::sparkline(trend, 120.0, 32.0, 60)?;
    Some(view! {
        <svg class="spark" viewBox="-2 -2 124 36" role="img" aria-label=label>
            <polyline class="spark__line" points=main></polyline>
            {second
                .map(|points| {
                    view! { <polyline class="spark__line spark__line--second" points=points></polyline> }
                })}
        </svg>
    })
}

/// Results of one test shown under its row, newest first.
const HISTORY_ROWS: usize = 100;

fn labs_section(feed: ObservationFeed) -> impl IntoView {
    let open = RwSignal::new(None::<String>);
    view! {
        <section class="section section--labs" aria-labelledby="labs-title">
            <h2 id="labs-title">"Results"</h2>
            {feed_status(feed)}
            {move || {
                let groups = feed.with(|f| results::labs(&f.items));
                let rows = groups.into_iter().map(|g| lab_rows(g, open)).collect_view();
                view! {
                    {empty_unless_loading(feed, "No laboratory results are recorded.")}
                    <div class="table-scroll">
                    <table class="labs">
                        <thead>
                            <tr>
                                <th scope="col">"Test"</th>
                                <th scope="col">"Latest"</th>
                                <th scope="col">"Flag"</th>
                                <th scope="col">"Reference range"</th>
                                <th scope="col">"Date"</th>
                                <th scope="col">"Trend"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                    </div>
                }
            }}
        </section>
    }
}

fn lab_rows(g: LabGroup, open: RwSignal<Option<String>>) -> impl IntoView {
    perf::mark_after_paint(perf::FIRST_OBSERVATIONS);
    let LabGroup {
        key,
        label,
        latest,
        results,
        trend,
        panel,
    } = g;
    let toggle_key = key.clone();
    let is_open = {
        let key = key.clone();
        move || open.with(|o| o.as_deref() == Some(key.as_str()))
    };
    let row_class = if latest.flag.is_some() {
        "lab lab--flagged"
    } else {
        "lab"
    };
    let count = results.len();
    let history = move || {
        is_open().then(|| {
            let shown = results
                .iter()
                .take(HISTORY_ROWS)
                .map(|r| {
                    view! {
                        <tr>
                            <td>{r.when.clone()}</td>
                            <td>{r.value.clone()}</td>
                            <td>{r.flag.clone()}</td>
                            <td>{r.reference_range.clone()}</td>
                        </tr>
                    }
                })
                .collect_view();
            let more = (count > HISTORY_ROWS).then(|| {
                view! {
                    <p class="empty">
                        {format!("{} earlier results are not shown here.", count - HISTORY_ROWS)}
                    </p>
                }
            });
            view! {
                <tr class="lab__history">
                    <td colspan="6">
                        <table>
                            <thead>
                                <tr>
                                    <th scope="col">"Date"</th>
                                    <th scope="col">"Value"</th>
                                    <th scope="col">"Flag"</th>
                                    <th scope="col">"Reference range"</th>
                                </tr>
                            </thead>
                            <tbody>{shown}</tbody>
                        </table>
                        {more}
                    </td>
                </tr>
            }
        })
    };
    let expanded = {
        let key = key.clone();
        move || {
            open.with(|o| o.as_deref() == Some(key.as_str()))
                .to_string()
        }
    };
    let trend = trend_svg(&trend, format!("{count} results"));
    view! {
        <tr class=row_class data-test=key>
            <th scope="row">
                <button
                    class="lab__toggle"
                    aria-expanded=expanded
                    on:click=move |_| {
                        open.update(|o| {
                            *o = if o.as_deref() == Some(toggle_key.as_str()) {
                                None
                            } else {
                                Some(toggle_key.clone())
                            };
                        })
                    }
                >
                    {label}
                    {panel.map(|p| view! { <span class="lab__panel">{p}</span> })}
                </button>
            </th>
            <td class="lab__value">{latest.value}</td>
            <td class="lab__flag">{latest.flag}</td>
            <td>{latest.reference_range}</td>
            <td>{latest.when}</td>
            <td>{trend}</td>
        </tr>
        {history}
    }
}

/// Height of one row of the all-results table, and of its scrolling viewport (CSS matches).
const ROW_PX: f64 = 32.0;
const VIEWPORT_PX: f64 = 480.0;

/// Every vital sign and lab result in one table, sortable and filterable. Only the rows in
/// sight are in the page (see `domain::table::window`), so ten thousand stay quick.
/// Every result in one virtualized table: the vital signs and labs shown above, and the
/// categories with no view of their own (`others`, whose loading state shows here).
fn all_results_section(
    shown: [Option<ObservationFeed>; 2],
    others: Option<ObservationFeed>,
) -> impl IntoView {
    let rows = Memo::new(move |_| {
        let mut all = Vec::new();
        for feed in shown.into_iter().chain([others]).flatten() {
            feed.with(|f| all.extend(result_rows(&f.items)));
        }
        all
    });
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new(Sort::default());
    let order = Memo::new(move |_| rows.with(|r| arrange(r, &filter.get(), sort.get())));
    let scroll = RwSignal::new(0.0_f64);
    let body = move || {
        let total = order.with(Vec::len);
        let w = window(total, scroll.get(), VIEWPORT_PX, ROW_PX);
        let visible: Vec<ResultRow> = order
            .with(|o| rows.with(|r| o[w.first..w.end].iter().map(|&i| r[i].clone()).collect()));
        let drawn = visible
            .into_iter()
            .map(|r| {
                let class = if r.flag.is_some() {
                    "row row--flagged"
                } else {
                    "row"
                };
                view! {
                    <tr class=class>
                        <td>{r.when}</td>
                        <td>
                            <bdi>{r.test}</bdi>
                        </td>
                        <td>{r.value}</td>
                        <td>{r.flag}</td>
                        <td class="all__kind">{r.category}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <tr class="spacer" aria-hidden="true" style:height=format!("{}px", w.above_px)></tr>
            {drawn}
            <tr class="spacer" aria-hidden="true" style:height=format!("{}px", w.below_px)></tr>
        }
    };
    let header = move |label: &'static str, key: SortKey| {
        let aria = move || {
            let s = sort.get();
            match (s.key == key, s.descending) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            }
        };
        view! {
            <th scope="col" aria-sort=aria>
                <button class="sort" on:click=move |_| sort.update(|s| *s = s.toggled(key))>
                    {label}
                </button>
            </th>
        }
    };
    view! {
        <section class="section section--all" aria-labelledby="all-title">
            <h2 id="all-title">"All results"</h2>
            <label class="filter">
                "Filter "
                <input
                    class="all__filter"
                    type="search"
                    on:input:target=move |ev| filter.set(ev.target().value())
                />
            </label>
            {others.map(feed_status)}
            <p class="all__count" role="status">
                {move || format!("{} of {} results", order.with(Vec::len), rows.with(Vec::len))}
            </p>
            <div
                class="all__scroll"
                tabindex="0"
                on:scroll:target=move |ev| scroll.set(f64::from(ev.target().scroll_top()))
            >
                <table class="all">
                    <thead>
                        <tr>
                            {header("Date", SortKey::Date)}
                            {header("Test", SortKey::Test)}
                            {header("Value", SortKey::Value)}
                            <th scope="col">"Flag"</th>
                            <th scope="col" class="all__kind">"Kind"</th>
                        </tr>
                    </thead>
                    <tbody>{body}</tbody>
                </table>
            </div>
        </section>
    }
}

fn encounters_section(feed: EncounterFeed, chart: Chart) -> impl IntoView {
    let status = RwSignal::new(String::new());
    let class = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let selected = chart.selected;
    let options = move |field: fn(&Encounter) -> Option<&String>| {
        feed.with(|f| choices(&f.items, field))
            .into_iter()
            .map(|s| {
                let value = s.clone();
                view! { <option value=value>{s}</option> }
            })
            .collect_view()
    };
    let list = move || {
        let chosen =
            |s: RwSignal<String>| Some(s.get().trim().to_owned()).filter(|s| !s.is_empty());
        let filter = EncounterFilter {
            status: chosen(status),
            class: chosen(class),
            from: chosen(from),
            to: chosen(to),
        };
        let rows: Vec<Encounter> = feed.with(|f| {
            encounter_list(&f.items, &filter)
                .into_iter()
                .cloned()
                .collect()
        });
        let chart = chart.clone();
        rows.into_iter()
            .map(move |e| encounter_row(e, chart.clone()))
            .collect_view()
    };
    view! {
        <section class="section section--encounters" aria-labelledby="encounters-title">
            <h2 id="encounters-title">"Encounters"</h2>
            {feed_status(feed)}
            <div class="filters" role="group" aria-label="Filter encounters">
                <label class="filter">
                    "Status "
                    <select
                        class="filter__status"
                        on:change:target=move |ev| status.set(ev.target().value())
                    >
                        <option value="">"All"</option>
                        {move || options(|e| e.status.as_ref())}
                    </select>
                </label>
                <label class="filter">
                    "Class "
                    <select
                        class="filter__class"
                        on:change:target=move |ev| class.set(ev.target().value())
                    >
                        <option value="">"All"</option>
                        {move || options(|e| e.class.as_ref())}
                    </select>
                </label>
                <label class="filter">
                    "From "
                    <input
                        class="filter__from"
                        type="text"
                        inputmode="numeric"
                        placeholder="YYYY or YYYY-MM-DD"
                        size="18"
                        on:input:target=move |ev| from.set(ev.target().value())
                    />
                </label>
                <label class="filter">
                    "To "
                    <input
                        class="filter__to"
                        type="text"
                        inputmode="numeric"
                        placeholder="YYYY or YYYY-MM-DD"
                        size="18"
                        on:input:target=move |ev| to.set(ev.target().value())
                    />
                </label>
            </div>
            {move || empty_unless_loading(feed, "No encounters are recorded.")}
            <ul class="encounters">{list}</ul>
            {move || selected.get().map(encounter_detail)}
        </section>
    }
}

fn encounter_row(e: Encounter, chart: Chart) -> impl IntoView {
    let when = e
        .start
        .as_deref()
        .map(|s| s.get(..10).unwrap_or(s).to_owned());
    let what = e
        .kind
        .clone()
        .or_else(|| e.class.clone())
        .unwrap_or_else(|| "Encounter".into());
    let facts = [
        e.class.clone(),
        e.status.clone(),
        e.reasons.first().cloned(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<String>>();
    let id = e.id.clone();
    let selected = chart.selected;
    let current = {
        let id = id.clone();
        move || {
            selected
                .with(|s| s.as_ref().is_some_and(|s| s.encounter.id == id))
                .then_some("true")
        }
    };
    view! {
        <li>
            <button
                class="encounter"
                data-encounter=id
                aria-current=current
                on:click=move |_| flow::select_encounter(&chart, e.clone())
            >
                <span class="encounter__when">{when}</span>
                <bdi class="encounter__what">{what}</bdi>
                <span class="encounter__facts">{isolated(facts)}</span>
            </button>
        </li>
    }
}

fn encounter_detail(sel: Selected) -> impl IntoView {
    let Selected {
        encounter: e,
        observations,
    } = sel;
    let field = |label: &'static str, value: Option<String>| {
        value.filter(|v| !v.is_empty()).map(|v| {
            view! {
                <div class="banner__field">
                    <dt>{label}</dt>
                    <dd>
                        <bdi>{v}</bdi>
                    </dd>
                </div>
            }
        })
    };
    let period = crate::domain::encounters::period_text(e.start.as_deref(), e.end.as_deref());
    let list = move || {
        observations
            .with(|f| {
                f.items
                    .iter()
                    .map(|o| {
                        (
                            o.code.label().unwrap_or("Observation").to_owned(),
                            results::observation_text(o, false),
                            o.effective.as_deref().map(crate::domain::time::display),
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .into_iter()
            .map(|(label, value, when)| {
                view! {
                    <tr>
                        <th scope="row">
                            <bdi>{label}</bdi>
                        </th>
                        <td>{value}</td>
                        <td>{when}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    // The detail comes after the whole list: move focus to it, so a keyboard or screen-reader
    // user who chose an encounter lands on what they chose.
    let heading = NodeRef::<leptos::html::H3>::new();
    Effect::new(move || {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    view! {
        <section class="encounter-detail" aria-labelledby="encounter-detail-title">
            <h3 id="encounter-detail-title" tabindex="-1" node_ref=heading>
                {isolated(e.summary_parts())}
            </h3>
            <dl class="banner__facts">
                {field("When", period)}
                {field("Class", e.class.clone())}
                {field("Status", e.status.clone())}
                {field("Reason", Some(e.reasons.join(", ")))}
                {field("Location", Some(e.locations.join(", ")))}
                {field("With", Some(e.participants.join(", ")))}
            </dl>
            {feed_status(observations)}
            {move || empty_unless_loading(observations, "No observations for this encounter.")}
            <div class="table-scroll">
                <table class="encounter-detail__observations">
                    <tbody>{list}</tbody>
                </table>
            </div>
        </section>
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
