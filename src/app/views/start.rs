//! The standalone start page.

use leptos::prelude::*;

use crate::app::{Screen, ServerChoice, flow};
use crate::smart::scope::LaunchKind;

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
