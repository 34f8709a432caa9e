//! The launch page's app (`launch.html`, `src/bin/launch.rs`): an EHR launch (`launch` and
//! `iss`: the `iss` check, discovery, then the authorize redirect) or the standalone start page.
//! It names none of the chart, search, token or id_token code, so its wasm holds none of it; the
//! callback comes back to `redirect_uri` (`index.html`), which runs the full app. The browser
//! fetches the full app ahead of time from the moment the page loads (`web::prefetch`).

use leptos::prelude::*;

use crate::app::{Screen, about, flow, views};
use crate::domain::problem::{NextStep, Problem};
use crate::smart::launch::{Entry, parse_entry};
use crate::web::location;

#[component]
pub fn Launch() -> impl IntoView {
    let screen = RwSignal::new(Screen::Working("Starting Cairn…"));
    leptos::task::spawn_local(run(screen));
    view! {
        <main class="cairn">
            {move || match screen.get() {
                Screen::Working(status) => views::working(status).into_any(),
                Screen::Start(choices) => views::start(choices, screen).into_any(),
                Screen::Problem(problem) => views::problem(problem).into_any(),
                // Never shown here: the callback page has the search and the chart.
                Screen::Search(_) | Screen::Chart(_) => ().into_any(),
            }}
        </main>
        <about::About />
    }
}

async fn run(screen: RwSignal<Screen>) {
    flow::sweep_stale_launches();
    let next = match parse_entry(&location::query()) {
        Err(err) => Screen::Problem(err.problem()),
        Ok(Entry::Standalone) => match flow::start_page().await {
            Ok(choices) => Screen::Start(choices),
            Err(problem) => Screen::Problem(problem),
        },
        Ok(Entry::EhrLaunch { iss, launch }) => {
            screen.set(Screen::Working("Connecting to your EHR…"));
            match flow::ehr_launch(&iss, &launch).await {
                // The browser is leaving for the sign-in page; keep the status on screen.
                Ok(()) => return,
                Err(problem) => Screen::Problem(problem),
            }
        }
        // The sign-in comes back to `redirect_uri`, never here: this address is not it.
        Ok(Entry::Callback(_) | Entry::Reloaded { .. }) => Screen::Problem(Problem::new(
            "This is Cairn's launch page",
            "A sign-in came back to the launch page instead of Cairn's registered redirect \
             address, so Cairn did not use it.",
            NextStep::Relaunch,
        )),
    };
    screen.set(next);
}
