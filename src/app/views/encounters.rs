//! The encounters section: the filtered list and the chosen encounter's detail.

use leptos::prelude::*;

use super::{empty_unless_loading, feed_status, isolated};
use crate::app::feed::EncounterFeed;
use crate::app::{Chart, Selected, flow};
use crate::domain::encounters::{EncounterFilter, choices, encounter_list};
use crate::domain::results;
use crate::fhir::encounter::Encounter;

pub(super) fn encounters_section(feed: EncounterFeed, chart: Chart) -> impl IntoView {
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

pub(super) fn encounter_row(e: Encounter, chart: Chart) -> impl IntoView {
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
    // user who chose an encounter lands on what they chose (on an encounter row, or on nothing
    // when the summary's row is gone); not when they come back to the section from its bar.
    let heading = NodeRef::<leptos::html::H3>::new();
    Effect::new(move || {
        let chosen = || {
            let active = web_sys::window()?.document()?.active_element()?;
            Some(active.tag_name() == "BODY" || active.class_name() == "encounter")
        };
        if let Some(h) = heading.get().filter(|_| chosen().unwrap_or(true)) {
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
