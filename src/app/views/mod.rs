//! The screens, one module per screen and per chart section. Plain text only: every string
//! from the EHR goes into a text node.
//!
//! This module holds the small screens and the pieces the sections share.

mod all_results;
mod chart;
mod encounters;
mod labs;
mod patient;
mod search;
mod start;
mod summary;
mod trend;
mod vitals;

pub use chart::chart;
pub use search::search;
pub use start::start;

use leptos::prelude::*;

use crate::app::feed::{self, Feed};
use crate::domain::problem::{NextStep, Problem};
use crate::domain::results::flag_words;
use crate::fhir::drill::loading_text;

pub fn working(status: &'static str) -> impl IntoView {
    view! {
        <section class="screen screen--working" aria-busy="true">
            <p class="status" role="status">{status}</p>
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

/// A value as shown, with the value exactly as recorded as its title (one hover away) when it
/// was rounded. One function for every table cell, so the app carries one copy of its view.
fn value_cell(class: &'static str, shown: String, recorded: &str) -> impl IntoView + use<> {
    let title = recorded_title(&shown, recorded);
    view! {
        <td class=class title=title>
            {shown}
        </td>
    }
}

/// The title of a value shown rounded: the value exactly as recorded. `None` when the value is
/// shown as recorded.
fn recorded_title(shown: &str, recorded: &str) -> Option<String> {
    (shown != recorded).then(|| format!("Recorded: {recorded}"))
}

/// An interpretation flag as text (`H`), with what it means for screen readers (`high`): never
/// colour alone.
fn flag(code: Option<String>) -> impl IntoView {
    code.map(|code| {
        let words = flag_words(&code).map(|w| format!(" ({w})"));
        view! {
            <span class="flag">
                {code} <span class="visually-hidden">{words}</span>
            </span>
        }
    })
}
