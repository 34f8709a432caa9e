//! A clinician's patient search.

use leptos::prelude::*;

use crate::app::{Found, Screen, Search, flow};
use crate::fhir::search::{MAX_QUERY_CHARS, SEXES, SearchForm};

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
