//! Searches that stream into the chart: every page of a FHIR search, followed by the core's
//! pager (loop guards, caps, de-duplication), decoded as it arrives and appended to a signal.
//! A page that fails keeps what came before; the user may resume from that page.

use std::cell::RefCell;
use std::collections::HashMap;

use leptos::prelude::*;
use serde_json::Value;

use crate::domain::problem::NextStep;
use crate::fhir::encounter::{Encounter, decode_encounter};
use crate::fhir::error::FhirError;
use crate::fhir::observation::{Observation, decode_observation};
use crate::fhir::pager::{Limits, Pager, PagerStatus};
use crate::web::fhir_client::FhirClient;
use crate::web::perf;

/// A search's results so far and where it stands.
#[derive(Debug, Clone)]
pub struct Feed<T> {
    pub items: Vec<T>,
    pub meta: FeedMeta,
}

/// Where a feed's searches stand.
#[derive(Debug, Clone, Default)]
pub struct FeedMeta {
    pub id: u32,
    /// Searches still running.
    pub running: u32,
    pub pages: u32,
    pub total: Option<u64>,
    /// Why results may be missing (a stop, a failed page), in plain words.
    pub notice: Option<String>,
    /// A failed page that can be asked for again.
    pub can_resume: bool,
}

impl<T> Feed<T> {
    fn new(id: u32) -> Feed<T> {
        Feed {
            items: Vec::new(),
            meta: FeedMeta {
                id,
                ..FeedMeta::default()
            },
        }
    }

    pub fn is_loading(&self) -> bool {
        self.meta.running > 0
    }
}

pub type EncounterFeed = RwSignal<Feed<Encounter>>;
pub type ObservationFeed = RwSignal<Feed<Observation>>;

/// Where decoded resources go.
#[derive(Clone, Copy)]
enum Sink {
    Encounters(EncounterFeed),
    Observations(ObservationFeed),
}

impl Sink {
    fn update(&self, f: impl FnOnce(&mut FeedMeta)) {
        match self {
            Sink::Encounters(s) => s.update(|feed| f(&mut feed.meta)),
            Sink::Observations(s) => s.update(|feed| f(&mut feed.meta)),
        }
    }

    fn id(&self) -> u32 {
        match self {
            Sink::Encounters(s) => s.with_untracked(|f| f.meta.id),
            Sink::Observations(s) => s.with_untracked(|f| f.meta.id),
        }
    }

    fn push(&self, resources: &[Value]) {
        match self {
            Sink::Encounters(s) => s.update(|f| {
                f.items
                    .extend(resources.iter().filter_map(decode_encounter))
            }),
            Sink::Observations(s) => s.update(|f| {
                f.items
                    .extend(resources.iter().filter_map(decode_observation))
            }),
        }
    }
}

/// A search stopped on a failed page: everything needed to go on from it.
struct Parked {
    pager: Pager,
    sink: Sink,
    client: FhirClient,
}

thread_local! {
    static NEXT_ID: RefCell<u32> = const { RefCell::new(1) };
    /// Searches stopped by a failed page, waiting for the user to resume them.
    static PARKED: RefCell<HashMap<u32, Vec<Parked>>> = RefCell::new(HashMap::new());
}

fn next_id() -> u32 {
    NEXT_ID.with(|n| {
        let mut n = n.borrow_mut();
        *n += 1;
        *n
    })
}

pub fn new_encounter_feed() -> EncounterFeed {
    RwSignal::new(Feed::new(next_id()))
}

pub fn new_observation_feed() -> ObservationFeed {
    RwSignal::new(Feed::new(next_id()))
}

/// Starts reading every page of `first_url` into `feed`.
pub fn load_encounters(client: &FhirClient, base: &str, first_url: String, feed: EncounterFeed) {
    start(client, base, first_url, Sink::Encounters(feed));
}

pub fn load_observations(
    client: &FhirClient,
    base: &str,
    first_url: String,
    feed: ObservationFeed,
) {
    start(client, base, first_url, Sink::Observations(feed));
}

fn start(client: &FhirClient, base: &str, first_url: String, sink: Sink) {
    let pager = Pager::new(base, first_url, Limits::default());
    sink.update(|f| f.running += 1);
    leptos::task::spawn_local(perf::tracked(run(client.clone(), pager, sink)));
}

/// Resumes every search of feed `id` that stopped on a failed page.
pub fn resume(id: u32) {
    let parked = PARKED
        .with(|p| p.borrow_mut().remove(&id))
        .unwrap_or_default();
    for Parked {
        mut pager,
        sink,
        client,
    } in parked
    {
        if pager.resume().is_some() {
            sink.update(|f| {
                f.running += 1;
                f.notice = None;
                f.can_resume = false;
            });
            leptos::task::spawn_local(run(client, pager, sink));
        }
    }
}

async fn run(client: FhirClient, mut pager: Pager, sink: Sink) {
    while pager.next_request().is_some() {
        let sent = client
            .send(|token| pager.next_http_request(token).ok_or(FhirError::Malformed))
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(problem) => {
                // A lost connection or a busy server may pass: keep what came and offer to go
                // on from this page. A session that ended needs a relaunch.
                let resumable = problem.next_step == NextStep::TryAgain;
                pager.fail(FhirError::Http {
                    status: 0,
                    diagnostics: None,
                });
                let id = park(resumable, &pager, sink, &client);
                sink.update(|f| {
                    f.running -= 1;
                    f.notice = Some(format!("{} {}", problem.title, problem.detail));
                    f.can_resume = resumable && id.is_some();
                });
                return;
            }
        };
        let progress = pager.receive(&response);
        sink.push(&progress.new);
        sink.update(|f| {
            f.pages += 1;
            f.total = progress.total.or(f.total);
        });
        match progress.status {
            PagerStatus::Running { .. } => {}
            PagerStatus::Done => break,
            PagerStatus::Partial(stop) => {
                sink.update(|f| f.notice = Some(stop.message()));
                break;
            }
            PagerStatus::Failed { error, resumable } => {
                let id = park(resumable, &pager, sink, &client);
                sink.update(|f| {
                    f.running -= 1;
                    f.notice = Some(format!(
                        "Some results may be missing: a page could not be read ({error})."
                    ));
                    f.can_resume = id.is_some();
                });
                return;
            }
        }
    }
    sink.update(|f| f.running -= 1);
}

fn park(resumable: bool, pager: &Pager, sink: Sink, client: &FhirClient) -> Option<u32> {
    if !resumable {
        return None;
    }
    let id = sink.id();
    PARKED.with(|p| {
        p.borrow_mut().entry(id).or_default().push(Parked {
            pager: pager.clone(),
            sink,
            client: client.clone(),
        })
    });
    Some(id)
}
