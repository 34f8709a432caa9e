//! The user interface. Components only wire and render: the launch logic is in `flow`, which
//! calls the core; the core decides.

mod about;
mod feed;
mod flow;
mod launch;
mod views;

pub use launch::Launch;

use leptos::prelude::*;

use crate::domain::banner::Banner;
use crate::domain::problem::Problem;
use crate::smart::scope::View;

/// What the page shows. One screen at a time; the flow moves it forward.
#[derive(Debug, Clone)]
pub enum Screen {
    /// Work under way, with a short status line for the user.
    Working(&'static str),
    /// Opened on its own (standalone): pick a health system and sign in there.
    Start(Vec<ServerChoice>),
    /// Something failed: what, and what to do next.
    Problem(Problem),
    /// A clinician signed in without a patient in context: find one.
    Search(Search),
    /// Signed in with a patient in context.
    Chart(Box<Chart>),
}

/// A health system on the start page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerChoice {
    /// Index in the configuration's `fhir_servers`.
    pub index: usize,
    pub name: String,
    pub logo_url: Option<String>,
    pub portal_url: Option<String>,
}

/// The patient search: the last results and any message about them.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub results: Option<Vec<Found>>,
    pub message: Option<String>,
    pub signed_in_as: Option<String>,
    /// What was typed, kept across searches.
    pub form: crate::fhir::search::SearchForm,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: String,
    pub banner: Banner,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub patient_id: String,
    /// `None` when the EHR said it shows its own banner (`need_patient_banner: false`) or the
    /// granted scope does not allow reading the patient.
    pub banner: Option<Banner>,
    /// Who signed in, from a verified id_token (filled in once checked).
    pub signed_in_as: RwSignal<Option<String>>,
    /// The encounter the EHR opened Cairn for: its summary's parts (filled in once read).
    pub encounter: RwSignal<Option<Vec<String>>>,
    /// Views the granted scope does not allow, each with its message.
    pub not_granted: Vec<View>,
    /// A clinician's standalone launch: offer to go back to the search.
    pub can_search: bool,
    /// The patient's encounters, streaming in (`None`: not permitted).
    pub encounters: Option<feed::EncounterFeed>,
    /// Vital signs and laboratory results, streaming in (`None`: not permitted).
    pub vitals: Option<feed::ObservationFeed>,
    pub labs: Option<feed::ObservationFeed>,
    /// Every other category (social history, surveys, exams…): only in the table of all
    /// results.
    pub others: Option<feed::ObservationFeed>,
    /// The Patient section's fields, from the Patient read for the banner (`None`: not read).
    pub details: Option<Vec<crate::domain::patient::Field>>,
    /// The encounter the user chose, with its observations.
    pub selected: RwSignal<Option<Selected>>,
    /// The chart's reactive owner: a chosen encounter's observations belong to it, so they
    /// outlive the section (and the list rows) they were chosen from.
    pub owner: Owner,
}

/// An encounter chosen in the list, and its own observations.
#[derive(Debug, Clone)]
pub struct Selected {
    pub encounter: crate::fhir::encounter::Encounter,
    pub observations: feed::ObservationFeed,
}

/// Starts the full app (`index.html`, the callback page) in the page's body. The bins call
/// this and [`start_launch`], so every generic piece of the view code is built once, in this
/// crate, rather than once here and once more in the bin.
pub fn start() {
    if boot() {
        leptos::mount::mount_to_body(App);
    }
}

/// Starts the launch page's app (`launch.html`).
pub fn start_launch() {
    if boot() {
        leptos::mount::mount_to_body(Launch);
    }
}

/// Before either app mounts: the boot message gone. False when the browser lacks what Cairn
/// needs (`web/boot.js` has already told the user what).
fn boot() -> bool {
    if crate::web::browser_unsupported() {
        return false;
    }
    crate::web::remove_boot_message();
    true
}

#[component]
pub fn App() -> impl IntoView {
    let screen = RwSignal::new(Screen::Working("Starting Cairn…"));
    leptos::task::spawn_local(flow::run(screen));
    view! {
        <main class="cairn">
            {move || match screen.get() {
                Screen::Working(status) => views::working(status).into_any(),
                Screen::Start(choices) => views::start(choices, screen).into_any(),
                Screen::Problem(problem) => views::problem(problem).into_any(),
                Screen::Search(search) => views::search(search, screen).into_any(),
                Screen::Chart(chart) => views::chart(*chart, screen).into_any(),
            }}
        </main>
        <about::About />
    }
}
