//! A trend line (sparkline), shared by the vital signs and the results.

use leptos::prelude::*;

use crate::domain::results;

pub(super) fn trend_svg(trend: &[results::Point], label: String) -> Option<impl IntoView + use<>> {
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
