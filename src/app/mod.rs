//! The user interface. Components only wire and render: the launch logic is in `flow`, which
//! calls the core; the core decides.

mod flow;
mod views;

use leptos::prelude::*;

use crate::domain::banner::Banner;
use crate::domain::problem::Problem;

/// What the page shows. One screen at a time; the flow moves it forward.
#[derive(Debug, Clone)]
pub enum Screen {
    /// Work under way, with a short status line for the user.
    Working(&'static str),
    /// Opened without a launch: explain how to open Cairn.
    Welcome,
    /// Something failed: what, and what to do next.
    Problem(Problem),
    /// Signed in with a patient in context.
    Chart(Chart),
}

#[derive(Debug, Clone)]
pub struct Chart {
    /// `None` when the EHR said it shows its own banner (`need_patient_banner: false`).
    pub banner: Option<Banner>,
}

impl Chart {
    pub fn has_banner(&self) -> bool {
        self.banner.is_some()
    }
}

#[component]
pub fn App() -> impl IntoView {
    let screen = RwSignal::new(Screen::Working("Starting Cairn…"));
    leptos::task::spawn_local(flow::run(screen.write_only()));
    view! {
        <main class="cairn">
            {move || match screen.get() {
                Screen::Working(status) => views::working(status).into_any(),
                Screen::Welcome => views::welcome().into_any(),
                Screen::Problem(problem) => views::problem(problem).into_any(),
                Screen::Chart(chart) => views::chart(chart).into_any(),
            }}
        </main>
    }
}
