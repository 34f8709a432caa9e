//! Searches that stream into the chart: every page of a FHIR search, followed by the core's
//! pager (loop guards, caps, de-duplication), decoded as it arrives and appended to a signal.
//! A page that fails keeps what came before; the user may resume from that page.
//!
//! A feed may gather several searches (one per Observation category, as Epic grants and
//! refuses them per category): each fails alone, with its own notice naming its category.

use std::cell::RefCell;
use std::collections::HashMap;

use leptos::prelude::*;
use serde_json::Value;

use crate::domain::problem::NextStep;
use crate::fhir::drill::{
    category_label, combined_total, failed_notice, failure_reason, labelled, of_encounter,
    of_patient, other_patient_notice,
};
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
    /// Each search of the feed, in the order they started.
    pub searches: Vec<SearchMeta>,
}

/// One search of a feed.
#[derive(Debug, Clone, Default)]
pub struct SearchMeta {
    /// The category searched, in plain words, when the feed has several.
    pub label: Option<&'static str>,
    /// `Bundle.total` when credible; `None` when the feed filters what it shows.
    pub total: Option<u64>,
    /// Why results may be missing (a stop, a failed page), in plain words.
    pub notice: Option<String>,
    /// A failed page that can be asked for again.
    pub can_resume: bool,
    /// Results left out because they named another patient (or none).
    pub dropped: usize,
}

impl FeedMeta {
    /// The total over every search, when each one's is known.
    pub fn total(&self) -> Option<u64> {
        combined_total(self.searches.iter().map(|s| s.total))
    }

    /// Each search's notice, in order, then one for results of another patient left out.
    pub fn notices(&self) -> Vec<String> {
        let mut notices: Vec<String> = self
            .searches
            .iter()
            .filter_map(|s| s.notice.clone())
            .collect();
        let dropped: usize = self.searches.iter().map(|s| s.dropped).sum();
        if dropped > 0 {
            notices.push(other_patient_notice(dropped));
        }
        notices
    }

    /// True when a failed page of some search can be asked for again.
    pub fn can_resume(&self) -> bool {
        self.searches.iter().any(|s| s.can_resume)
    }
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
#[derive(Clone)]
enum Target {
    Encounters(EncounterFeed),
    /// Observations, and the encounter they must name (id, FHIR base) in a drill-down: a
    /// server that ignores `encounter=` sends every encounter's.
    Observations(ObservationFeed, Option<(String, String)>),
}

/// One search's place in its feed.
#[derive(Clone)]
struct Sink {
    target: Target,
    /// Index of the search in [`FeedMeta::searches`].
    slot: usize,
    /// The patient in context and the FHIR base: every result must name that patient.
    patient: (String, String),
}

impl Sink {
    fn update(&self, f: impl FnOnce(&mut FeedMeta)) {
        match &self.target {
            Target::Encounters(s) => s.update(|feed| f(&mut feed.meta)),
            Target::Observations(s, _) => s.update(|feed| f(&mut feed.meta)),
        }
    }

    /// Changes this search's own state.
    fn update_search(&self, f: impl FnOnce(&mut SearchMeta)) {
        let slot = self.slot;
        self.update(|meta| {
            if let Some(search) = meta.searches.get_mut(slot) {
                f(search);
            }
        });
    }

    fn label(&self) -> Option<&'static str> {
        let slot = self.slot;
        let label = |meta: &FeedMeta| meta.searches.get(slot).and_then(|s| s.label);
        match &self.target {
            Target::Encounters(s) => s.with_untracked(|f| label(&f.meta)),
            Target::Observations(s, _) => s.with_untracked(|f| label(&f.meta)),
        }
    }

    fn filters(&self) -> bool {
        matches!(self.target, Target::Observations(_, Some(_)))
    }

    fn id(&self) -> u32 {
        match &self.target {
            Target::Encounters(s) => s.with_untracked(|f| f.meta.id),
            Target::Observations(s, _) => s.with_untracked(|f| f.meta.id),
        }
    }

    /// Shows the results that belong to the patient; returns how many were left out.
    fn push(&self, resources: &[Value]) -> usize {
        let (patient_id, base) = &self.patient;
        let (resources, dropped) = of_patient(resources, patient_id, base);
        let resources = resources.into_iter();
        match &self.target {
            Target::Encounters(s) => {
                s.update(|f| f.items.extend(resources.filter_map(decode_encounter)))
            }
            Target::Observations(s, encounter) => {
                let decoded = resources.filter_map(decode_observation);
                let kept = match encounter {
                    Some((id, base)) => of_encounter(decoded, id, base),
                    None => decoded.collect(),
                };
                s.update(|f| f.items.extend(kept));
            }
        }
        dropped
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

/// Starts reading every page of `first_url` into `feed`, keeping `patient_id`'s only.
pub fn load_encounters(
    client: &FhirClient,
    base: &str,
    patient_id: &str,
    first_url: String,
    feed: EncounterFeed,
) {
    start(
        client,
        (base, patient_id),
        first_url,
        Target::Encounters(feed),
        None,
    );
}

/// Starts one search of `feed` for observations: `category`, when given, names it in the
/// search's notices (a feed of several categories); `encounter`, when given, keeps only the
/// observations that name that encounter. Only `patient_id`'s are kept.
pub fn load_observations(
    client: &FhirClient,
    base: &str,
    patient_id: &str,
    first_url: String,
    feed: ObservationFeed,
    category: Option<&str>,
    encounter: Option<&str>,
) {
    let target = Target::Observations(feed, encounter.map(|id| (id.to_owned(), base.to_owned())));
    start(
        client,
        (base, patient_id),
        first_url,
        target,
        category.map(category_label),
    );
}

fn start(
    client: &FhirClient,
    (base, patient_id): (&str, &str),
    first_url: String,
    target: Target,
    label: Option<&'static str>,
) {
    let pager = Pager::new(base, first_url, Limits::default());
    let mut sink = Sink {
        target,
        slot: 0,
        patient: (patient_id.to_owned(), base.to_owned()),
    };
    let mut slot = 0;
    sink.update(|f| {
        f.running += 1;
        slot = f.searches.len();
        f.searches.push(SearchMeta {
            label,
            ..SearchMeta::default()
        });
    });
    sink.slot = slot;
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
        // An ended session is final: nothing resumes behind the problem screen.
        if client.has_ended() {
            continue;
        }
        if pager.resume().is_some() {
            sink.update(|f| f.running += 1);
            sink.update_search(|s| {
                s.notice = None;
                s.can_resume = false;
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
                let id = park(resumable, &pager, &sink, &client);
                let notice = match sink.label() {
                    Some(label) => failed_notice(
                        Some(label),
                        pager.pages() == 0,
                        &format!("{}. {}", problem.title, problem.detail),
                    ),
                    None => format!("{} {}", problem.title, problem.detail),
                };
                sink.update(|f| f.running -= 1);
                sink.update_search(|s| {
                    s.notice = Some(notice);
                    s.can_resume = resumable && id.is_some();
                });
                return;
            }
        };
        let progress = pager.receive(&response);
        let dropped = sink.push(&progress.new);
        sink.update(|f| f.pages += 1);
        let filters = sink.filters();
        // A page without a total keeps the one an earlier page gave. A search that returned
        // another patient's results has no credible total.
        sink.update_search(|s| {
            s.dropped += dropped;
            let credible = !filters && s.dropped == 0;
            s.total = progress.total.or(s.total).filter(|_| credible);
        });
        match progress.status {
            PagerStatus::Running { .. } => {}
            PagerStatus::Done => break,
            PagerStatus::Partial(stop) => {
                let notice = labelled(sink.label(), &stop.message());
                sink.update_search(|s| s.notice = Some(notice));
                break;
            }
            PagerStatus::Failed { error, resumable } => {
                let id = park(resumable, &pager, &sink, &client);
                // A feed of one search keeps its words: "Some results may be missing: …".
                let label = sink.label();
                let nothing_read = label.is_some() && pager.pages() == 0;
                let notice = failed_notice(label, nothing_read, &failure_reason(&error));
                sink.update(|f| f.running -= 1);
                sink.update_search(|s| {
                    s.notice = Some(notice);
                    s.can_resume = id.is_some();
                });
                return;
            }
        }
    }
    sink.update(|f| f.running -= 1);
}

fn park(resumable: bool, pager: &Pager, sink: &Sink, client: &FhirClient) -> Option<u32> {
    if !resumable {
        return None;
    }
    let id = sink.id();
    PARKED.with(|p| {
        p.borrow_mut().entry(id).or_default().push(Parked {
            pager: pager.clone(),
            sink: sink.clone(),
            client: client.clone(),
        })
    });
    Some(id)
}
