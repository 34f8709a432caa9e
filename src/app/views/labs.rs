//! The laboratory results section: one row per test, its history under it.

use leptos::prelude::*;

use super::trend::trend_view;
use super::{empty_unless_loading, feed_status, flag, value_cell};
use crate::app::feed::ObservationFeed;
use crate::domain::precision::Precision;
use crate::domain::results::{self, LabGroup};
use crate::web::{self, perf};

/// Results of one test shown under its row, newest first.
const HISTORY_ROWS: usize = 100;

pub(super) fn labs_section(feed: ObservationFeed) -> impl IntoView {
    let open = RwSignal::new(None::<String>);
    view! {
        <section class="section section--labs" aria-labelledby="labs-title">
            <h2 id="labs-title">"Results"</h2>
            {feed_status(feed)}
            {move || {
                let groups = feed.with(|f| results::labs(&f.items, web::lower_case));
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
        reference,
        latest_ms: _,
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
                            {value_cell("", r.value.clone(), &r.recorded)}
                            <td>{flag(r.flag.clone())}</td>
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
    let trend = trend_view(&trend, reference, Precision::Reported, &label);
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
            {value_cell("lab__value", latest.value, &latest.recorded)}
            <td class="lab__flag">{flag(latest.flag)}</td>
            <td>{latest.reference_range}</td>
            <td>{latest.when}</td>
            <td>{trend}</td>
        </tr>
        {history}
    }
}
