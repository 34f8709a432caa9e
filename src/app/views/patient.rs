//! The Patient section: the person as the Patient resource already read records them (no
//! request of its own). Each string from the record in its own `<bdi>`.

use leptos::prelude::*;

use super::isolated;
use crate::domain::patient::Field;

pub(super) fn patient_section(details: Option<Vec<Field>>) -> impl IntoView {
    let fields = details.map(|fields| {
        fields
            .into_iter()
            .map(|f| {
                let items = f
                    .items
                    .into_iter()
                    .map(|parts| view! { <li>{isolated(parts)}</li> })
                    .collect_view();
                view! {
                    <div class="details__field">
                        <dt>{f.label}</dt>
                        <dd>
                            <ul>{items}</ul>
                        </dd>
                    </div>
                }
            })
            .collect_view()
    });
    let empty = fields.is_none().then(|| {
        view! { <p class="empty">"This patient's details are not available in Cairn."</p> }
    });
    view! {
        <section class="section section--patient" aria-labelledby="patient-title">
            <h2 id="patient-title">"Patient"</h2>
            {empty}
            <dl class="details">{fields}</dl>
        </section>
    }
}
