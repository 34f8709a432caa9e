//! The summary: the latest vital signs, the results with the abnormal ones first, and the
//! most recent encounters, on one screen of an EHR frame (900×600).

use leptos::prelude::*;

use super::encounters::encounter_row;
use super::vitals::vital_cards;
use super::{empty_unless_loading, feed_status, flag, value_cell};
use crate::app::Chart;
use crate::domain::encounters::{EncounterFilter, encounter_list};
use crate::domain::results;
use crate::domain::section::Section;
use crate::web::{self, location, perf};

/// Tests and encounters the summary lists.
const RESULTS: usize = 5;
const ENCOUNTERS: usize = 4;

pub(super) fn summary_section(chart: Chart) -> impl IntoView {
    let (vitals, labs, encounters) = (chart.vitals, chart.labs, chart.encounters);
    let results = labs.map(|feed| {
        let rows = move || {
            let groups = feed.with(|f| results::labs(&f.items, web::lower_case));
            results::abnormal_first(&groups, RESULTS)
                .into_iter()
                .map(|g| {
                    perf::mark_after_paint(perf::FIRST_OBSERVATIONS);
                    view! {
                        <tr>
                            <th scope="row">
                                <bdi>{g.label.clone()}</bdi>
                            </th>
                            {value_cell("", g.latest.value.clone(), &g.latest.recorded)}
                            <td>{flag(g.latest.flag.clone())}</td>
                            <td>{g.latest.when.clone()}</td>
                        </tr>
                    }
                })
                .collect_view()
        };
        view! {
            <div class="summary__part">
                <h3>"Results, abnormal first"</h3>
                {feed_status(feed)}
                {move || empty_unless_loading(feed, "No laboratory results are recorded.")}
                <div class="table-scroll">
                    <table class="summary__results">
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </div>
        }
    });
    let recent = encounters.map(|feed| {
        let chart = chart.clone();
        let rows = move || {
            let latest: Vec<_> = feed.with(|f| {
                encounter_list(&f.items, &EncounterFilter::default())
                    .into_iter()
                    .take(ENCOUNTERS)
                    .cloned()
                    .collect()
            });
            let chart = chart.clone();
            latest
                .into_iter()
                .map(move |e| encounter_row(e, chart.clone()))
                .collect_view()
        };
        view! {
            <div class="summary__part">
                <h3>"Recent encounters"</h3>
                {feed_status(feed)}
                {move || empty_unless_loading(feed, "No encounters are recorded.")}
                // Choosing one opens it in the Encounters section.
                <ul
                    class="encounters"
                    on:click=move |_| location::show_fragment(Section::Encounters.id())
                >
                    {rows}
                </ul>
            </div>
        }
    });
    view! {
        <section class="section section--summary" aria-labelledby="summary-title">
            <h2 id="summary-title" class="visually-hidden">
                "Summary"
            </h2>
            {vitals
                .map(|feed| {
                    view! {
                        <div class="summary__part summary__vitals">
                            <h3>"Latest vital signs"</h3>
                            {feed_status(feed)}
                            {vital_cards(feed, false)}
                        </div>
                    }
                })}
            <div class="summary__columns">{results} {recent}</div>
        </section>
    }
}
