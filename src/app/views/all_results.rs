//! Every result in one sortable, filterable, virtualized table.

use leptos::prelude::*;

use super::{feed_status, flag, value_cell};
use crate::app::feed::ObservationFeed;
use crate::domain::table::{ResultRow, Sort, SortKey, arrange, result_rows, window};
use crate::web;

/// Height of one row of the all-results table, and of its scrolling viewport (CSS matches).
const ROW_PX: f64 = 32.0;
const VIEWPORT_PX: f64 = 480.0;

/// Every vital sign and lab result in one table, sortable and filterable. Only the rows in
/// sight are in the page (see `domain::table::window`), so ten thousand stay quick.
/// Every result in one virtualized table: the vital signs and labs shown above, and the
/// categories with no view of their own (`others`, whose loading state shows here).
pub(super) fn all_results_section(
    shown: [Option<ObservationFeed>; 2],
    others: Option<ObservationFeed>,
) -> impl IntoView {
    let rows = Memo::new(move |_| {
        let mut all = Vec::new();
        for feed in shown.into_iter().chain([others]).flatten() {
            feed.with(|f| all.extend(result_rows(&f.items, web::lower_case)));
        }
        all
    });
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new(Sort::default());
    let order =
        Memo::new(move |_| rows.with(|r| arrange(r, &filter.get(), sort.get(), web::lower_case)));
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
                        {value_cell("", r.value, &r.recorded)}
                        <td>{flag(r.flag)}</td>
                        <td class="all__kind">{r.category}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <tr class="spacer" aria-hidden="true" style:height=format!("{}px", crate::domain::precision::shortest(w.above_px))></tr>
            {drawn}
            <tr class="spacer" aria-hidden="true" style:height=format!("{}px", crate::domain::precision::shortest(w.below_px))></tr>
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
