//! Following a search through its pages, sans IO (matrix #38).
//!
//! A [`Pager`] says which URL to GET next ([`Pager::next_request`]); the caller fetches it,
//! decodes it with [`crate::fhir::bundle::parse_searchset`] and hands the [`Page`] back
//! ([`Pager::accept`]) or reports the failure ([`Pager::fail`]). The pager follows
//! `Bundle.link[relation=next]` only to the FHIR base the token belongs to, never twice to the
//! same URL, and within caps on pages, entries and bytes; when it stops early it keeps what it
//! has and says why ([`Stop::message`]). A failed page can be fetched again ([`Pager::resume`])
//! without losing the pages before it. Resources repeated across pages (same
//! `resourceType/id`, which Epic and others do at page edges) are passed on once.

use std::collections::HashSet;

use serde_json::Value;

use crate::fhir::bundle::{MAX_PAGE_BYTES, Page, parse_searchset};
use crate::fhir::error::FhirError;
use crate::fhir::request::token_may_go_to;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::smart::secret::AccessToken;
use crate::uri::Uri;

/// Times one search starts again from its first page after its paging session expired.
pub const MAX_RESTARTS: u32 = 3;

/// How far one search may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_pages: u32,
    pub max_entries: usize,
    pub max_bytes: usize,
}

impl Default for Limits {
    /// 500 pages, 20 000 entries, 64 MiB of response bodies.
    fn default() -> Limits {
        Limits {
            max_pages: 500,
            max_entries: 20_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why a search stopped before its last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The `next` link pointed at the page just read.
    SelfLoop,
    /// The `next` link pointed at a page read before.
    Cycle,
    /// The `next` link (or the first URL) left the FHIR base: the origin it named. Such a URL is
    /// never requested, since the request would carry the token.
    ForeignNextLink(String),
    /// The `next` link was not a URL.
    UnreadableNextLink,
    PageCap,
    EntryCap,
    ByteCap,
}

impl Stop {
    /// A plain-language sentence for a "partial results" notice.
    pub fn message(&self) -> String {
        let reason = match self {
            Stop::SelfLoop | Stop::Cycle => {
                "the EHR kept sending Cairn back to pages it had already read".to_owned()
            }
            Stop::ForeignNextLink(origin) => format!(
                "the EHR pointed to the next page at {origin}, outside its own FHIR address, \
                 and Cairn sends your sign-in only to the EHR"
            ),
            Stop::UnreadableNextLink => {
                "the EHR's link to the next page was not a readable address".to_owned()
            }
            Stop::PageCap => "the EHR sent more pages than Cairn reads at once".to_owned(),
            Stop::EntryCap => "the EHR sent more results than Cairn shows at once".to_owned(),
            Stop::ByteCap => "the EHR sent more data than Cairn reads at once".to_owned(),
        };
        format!("Some results may be missing: {reason}.")
    }
}

/// Where a search stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagerStatus {
    /// More pages to read; `pages` read and `entries` (unique matches) kept so far.
    Running { pages: u32, entries: usize },
    /// Every page was read.
    Done,
    /// Stopped early; what was read is kept.
    Partial(Stop),
    /// The current page failed; what was read before it is kept. When `resumable`, the same
    /// page may be asked for again with [`Pager::resume`].
    Failed { error: FhirError, resumable: bool },
}

/// What one accepted page added.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Matches not seen on an earlier page, in order.
    pub new: Vec<Value>,
    /// Included resources not seen on an earlier page.
    pub includes: Vec<Value>,
    /// OperationOutcome text from this page.
    pub outcomes: Vec<String>,
    /// `Bundle.total` of this page, if given and credible ([`credible_total`]).
    pub total: Option<u64>,
    /// The status after this page.
    pub status: PagerStatus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Running,
    Done,
    Partial(Stop),
    Failed { error: FhirError, resumable: bool },
}

/// The paging state machine. It performs no I/O.
#[derive(Debug, Clone)]
pub struct Pager {
    fhir_base: String,
    limits: Limits,
    /// The URL to read next (while running) or the one that failed.
    current: String,
    /// The search's first page, where an expired paging session starts again.
    first: String,
    /// Times the search started again after its paging session expired.
    restarts: u32,
    visited: HashSet<String>,
    seen_matches: HashSet<String>,
    seen_includes: HashSet<String>,
    pages: u32,
    entries: usize,
    bytes: usize,
    state: State,
}

impl Pager {
    /// A pager starting at `first_url`, which must be under `fhir_base` (else the pager stops at
    /// once with [`Stop::ForeignNextLink`] and requests nothing).
    pub fn new(fhir_base: &str, first_url: String, limits: Limits) -> Pager {
        let mut pager = Pager {
            fhir_base: fhir_base.to_owned(),
            limits,
            current: String::new(),
            first: String::new(),
            restarts: 0,
            visited: HashSet::new(),
            seen_matches: HashSet::new(),
            seen_includes: HashSet::new(),
            pages: 0,
            entries: 0,
            bytes: 0,
            state: State::Running,
        };
        match Uri::parse(&first_url) {
            Ok(url) => {
                let url = url.without_fragment().to_owned();
                if token_may_go_to(&url, fhir_base) {
                    pager.first.clone_from(&url);
                    pager.current = url;
                } else {
                    pager.state = State::Partial(Stop::ForeignNextLink(origin_of(&url)));
                }
            }
            Err(_) => pager.state = State::Partial(Stop::UnreadableNextLink),
        }
        pager
    }

    /// The URL to GET next; `None` once the search is finished, stopped or failed.
    pub fn next_request(&self) -> Option<String> {
        (self.state == State::Running).then(|| self.current.clone())
    }

    /// [`Pager::next_request`] as a GET with the token in the `Authorization` header. The URL
    /// was checked with [`token_may_go_to`] before it became current, and is checked again.
    pub fn next_http_request(&self, token: &AccessToken) -> Option<HttpRequest> {
        let url = self.next_request()?;
        token_may_go_to(&url, &self.fhir_base).then(|| HttpRequest {
            method: Method::Get,
            url,
            headers: vec![
                ("Accept".into(), "application/fhir+json".into()),
                ("Authorization".into(), format!("Bearer {}", token.secret())),
            ],
            body: None,
            max_body: MAX_PAGE_BYTES,
        })
    }

    /// Decodes a response to [`Pager::next_request`] and accepts it, or records the failure.
    pub fn receive(&mut self, resp: &HttpResponse) -> Progress {
        match parse_searchset(resp) {
            Ok(page) => self.accept(page),
            Err(error) => {
                self.fail(error);
                self.progress(Vec::new(), Vec::new(), Vec::new(), None)
            }
        }
    }

    /// Takes the page read from [`Pager::next_request`]'s URL. Outside the running state the page
    /// is ignored and nothing is new.
    pub fn accept(&mut self, page: Page) -> Progress {
        if self.state != State::Running {
            return self.progress(Vec::new(), Vec::new(), Vec::new(), None);
        }
        self.pages = self.pages.saturating_add(1);
        self.bytes = self.bytes.saturating_add(page.bytes);
        self.visited.insert(self.current.clone());

        let mut new = Vec::new();
        let mut entry_cap_hit = false;
        for resource in page.matches {
            if let Some(key) = identity(&resource)
                && self.seen_matches.contains(&key)
            {
                continue;
            }
            if self.entries >= self.limits.max_entries {
                entry_cap_hit = true;
                break;
            }
            if let Some(key) = identity(&resource) {
                self.seen_matches.insert(key);
            }
            self.entries += 1;
            new.push(resource);
        }
        let mut includes = Vec::new();
        for resource in page.includes {
            if identity(&resource).is_none_or(|key| self.seen_includes.insert(key)) {
                includes.push(resource);
            }
        }

        self.state = if entry_cap_hit {
            State::Partial(Stop::EntryCap)
        } else {
            match page.next {
                None => State::Done,
                Some(next) => self.follow(&next),
            }
        };
        let total = credible_total(page.total, self.entries, self.state == State::Running);
        self.progress(new, includes, page.outcomes, total)
    }

    /// The page from [`Pager::next_request`] failed. Everything accepted so far is kept.
    ///
    /// An expired paging session (Epic's 4113: its `sessionID` next links live minutes) cannot
    /// be read again: the search starts over from its first page instead, and the resources
    /// already passed on are not passed on twice. At most [`MAX_RESTARTS`] times.
    pub fn fail(&mut self, error: FhirError) {
        if self.state == State::Running
            && error == FhirError::SessionExpired
            && self.current != self.first
            && self.restarts < MAX_RESTARTS
        {
            self.restarts += 1;
            self.visited.clear();
            self.current.clone_from(&self.first);
            return;
        }
        if self.state == State::Running {
            // A refusal (4xx: a category Epic does not know, 59111, or outside the grant)
            // would be refused again; a server error, a lost connection (status 0) or a
            // garbled page may pass.
            let resumable = match &error {
                FhirError::Http { status, .. } => {
                    !(400..500).contains(status) || *status == 408 || *status == 429
                }
                FhirError::Malformed => true,
                _ => false,
            };
            self.state = State::Failed { error, resumable };
        }
    }

    /// After a resumable failure: runs again and returns the URL of the page that failed.
    pub fn resume(&mut self) -> Option<String> {
        match self.state {
            State::Failed {
                resumable: true, ..
            } => {
                self.state = State::Running;
                Some(self.current.clone())
            }
            _ => None,
        }
    }

    pub fn status(&self) -> PagerStatus {
        match &self.state {
            State::Running => PagerStatus::Running {
                pages: self.pages,
                entries: self.entries,
            },
            State::Done => PagerStatus::Done,
            State::Partial(stop) => PagerStatus::Partial(stop.clone()),
            State::Failed { error, resumable } => PagerStatus::Failed {
                error: error.clone(),
                resumable: *resumable,
            },
        }
    }

    /// Pages accepted so far.
    pub fn pages(&self) -> u32 {
        self.pages
    }

    /// Unique matches passed on so far.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// What to do with a `next` link found on the current page.
    fn follow(&mut self, next: &str) -> State {
        let resolved = Uri::parse(&self.current).and_then(|current| current.join(next));
        let Ok(resolved) = resolved else {
            return State::Partial(if crate::uri::names_other_scheme(next) {
                Stop::ForeignNextLink("another address".to_owned())
            } else {
                Stop::UnreadableNextLink
            });
        };
        let resolved = resolved.without_fragment().to_owned();
        if !token_may_go_to(&resolved, &self.fhir_base) {
            return State::Partial(Stop::ForeignNextLink(origin_of(&resolved)));
        }
        if resolved == self.current {
            return State::Partial(Stop::SelfLoop);
        }
        if self.visited.contains(&resolved) {
            return State::Partial(Stop::Cycle);
        }
        if self.entries >= self.limits.max_entries {
            return State::Partial(Stop::EntryCap);
        }
        if self.pages >= self.limits.max_pages {
            return State::Partial(Stop::PageCap);
        }
        if self.bytes >= self.limits.max_bytes {
            return State::Partial(Stop::ByteCap);
        }
        self.current = resolved;
        State::Running
    }

    fn progress(
        &self,
        new: Vec<Value>,
        includes: Vec<Value>,
        outcomes: Vec<String>,
        total: Option<u64>,
    ) -> Progress {
        Progress {
            new,
            includes,
            outcomes,
            total,
            status: self.status(),
        }
    }
}

/// `Bundle.total` when it can be believed: more than the `received` unique matches, or exactly
/// as many once no page is left. Epic may send the page size as the total (`_count=200`,
/// `total: 200`, and a `next` link), which would read "400 of 200"; such a total is unknown.
pub fn credible_total(total: Option<u64>, received: usize, more: bool) -> Option<u64> {
    let received = u64::try_from(received).unwrap_or(u64::MAX);
    total.filter(|&t| t > received || (t == received && !more))
}

/// `resourceType/id` when both are non-empty strings; resources without one are never merged.
fn identity(resource: &Value) -> Option<String> {
    let resource_type = resource.get("resourceType")?.as_str()?;
    let id = resource.get("id")?.as_str()?;
    (!resource_type.is_empty() && !id.is_empty()).then(|| format!("{resource_type}/{id}"))
}

/// The origin of a URL for a message (`https://host:port`), or a placeholder for URLs without
/// one (`javascript:`, `data:`).
fn origin_of(url: &str) -> String {
    match Uri::parse(url) {
        Ok(url) => crate::domain::problem::truncate_for_display(url.origin(), 200),
        Err(_) => "another address".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;

    const BASE: &str = "https://ehr.example/api/FHIR/R4";

    fn obs(id: &str) -> Value {
        json!({"resourceType": "Observation", "id": id})
    }

    fn page(ids: &[&str], next: Option<&str>) -> Page {
        Page {
            matches: ids.iter().map(|id| obs(id)).collect(),
            next: next.map(str::to_owned),
            bytes: 1000,
            ..Page::default()
        }
    }

    fn url(n: usize) -> String {
        format!("{BASE}/Observation?page={n}")
    }

    /// What one fake GET answers.
    #[derive(Clone)]
    enum Answer {
        Page(Page),
        Fail(FhirError),
    }

    /// A fake transport: pages by URL, failures served once, and the list of URLs requested.
    struct Fake {
        pages: HashMap<String, Page>,
        fail_once: HashMap<String, FhirError>,
        requested: Vec<String>,
    }

    impl Fake {
        fn new(pages: impl IntoIterator<Item = (String, Page)>) -> Fake {
            Fake {
                pages: pages.into_iter().collect(),
                fail_once: HashMap::new(),
                requested: Vec::new(),
            }
        }

        fn get(&mut self, url: &str) -> Answer {
            self.requested.push(url.to_owned());
            if let Some(error) = self.fail_once.remove(url) {
                return Answer::Fail(error);
            }
            match self.pages.get(url) {
                Some(page) => Answer::Page(page.clone()),
                None => Answer::Fail(FhirError::NotFound),
            }
        }
    }

    /// Drives the pager until it stops; returns every entry id passed on, in order.
    fn drive(pager: &mut Pager, fake: &mut Fake) -> Vec<String> {
        let mut got = Vec::new();
        let mut guard = 0;
        while let Some(url) = pager.next_request() {
            guard += 1;
            assert!(guard < 100_000, "the pager never stopped");
            match fake.get(&url) {
                Answer::Page(page) => {
                    let progress = pager.accept(page);
                    assert_eq!(progress.status, pager.status());
                    got.extend(
                        progress
                            .new
                            .iter()
                            .map(|v| v["id"].as_str().unwrap_or("?").to_owned()),
                    );
                }
                Answer::Fail(error) => pager.fail(error),
            }
        }
        got
    }

    /// A chain of `n` pages of two entries each, page `i` at `url(i)`.
    fn chain(n: usize) -> Vec<(String, Page)> {
        (1..=n)
            .map(|i| {
                let a = format!("o{i}a");
                let b = format!("o{i}b");
                let next = (i < n).then(|| url(i + 1));
                (url(i), page(&[&a, &b], next.as_deref()))
            })
            .collect()
    }

    struct Case {
        name: &'static str,
        pages: Vec<(String, Page)>,
        limits: Limits,
        requested: Vec<String>,
        ids: Vec<&'static str>,
        status: PagerStatus,
    }

    #[test]
    fn table_of_paging_scenarios() {
        let limits = Limits::default();
        let cases = vec![
            Case {
                name: "normal multi-page",
                pages: chain(3),
                limits,
                requested: vec![url(1), url(2), url(3)],
                ids: vec!["o1a", "o1b", "o2a", "o2b", "o3a", "o3b"],
                status: PagerStatus::Done,
            },
            Case {
                name: "self loop",
                pages: vec![
                    (url(1), page(&["a"], Some(&url(2)))),
                    (url(2), page(&["b"], Some(&url(2)))),
                ],
                limits,
                requested: vec![url(1), url(2)],
                ids: vec!["a", "b"],
                status: PagerStatus::Partial(Stop::SelfLoop),
            },
            Case {
                name: "A -> B -> A cycle",
                pages: vec![
                    (url(1), page(&["a"], Some(&url(2)))),
                    (url(2), page(&["b"], Some(&url(1)))),
                ],
                limits,
                requested: vec![url(1), url(2)],
                ids: vec!["a", "b"],
                status: PagerStatus::Partial(Stop::Cycle),
            },
            Case {
                name: "cross-origin next is never requested",
                pages: vec![
                    (
                        url(1),
                        page(
                            &["a"],
                            Some("https://evil.example/api/FHIR/R4/Observation?p=2"),
                        ),
                    ),
                    (
                        "https://evil.example/api/FHIR/R4/Observation?p=2".into(),
                        page(&["stolen"], None),
                    ),
                ],
                limits,
                requested: vec![url(1)],
                ids: vec!["a"],
                status: PagerStatus::Partial(Stop::ForeignNextLink("https://evil.example".into())),
            },
            Case {
                name: "same origin, other path prefix, is refused",
                pages: vec![
                    (url(1), page(&["a"], Some("/other/Observation?p=2"))),
                    (
                        "https://ehr.example/other/Observation?p=2".into(),
                        page(&["x"], None),
                    ),
                ],
                limits,
                requested: vec![url(1)],
                ids: vec!["a"],
                status: PagerStatus::Partial(Stop::ForeignNextLink("https://ehr.example".into())),
            },
            Case {
                name: "base path as a mere prefix is refused",
                pages: vec![(
                    url(1),
                    page(&["a"], Some("https://ehr.example/api/FHIR/R4x/Observation")),
                )],
                limits,
                requested: vec![url(1)],
                ids: vec!["a"],
                status: PagerStatus::Partial(Stop::ForeignNextLink("https://ehr.example".into())),
            },
            Case {
                name: "javascript: next",
                pages: vec![(url(1), page(&["a"], Some("javascript:alert(1)")))],
                limits,
                requested: vec![url(1)],
                ids: vec!["a"],
                status: PagerStatus::Partial(Stop::ForeignNextLink("another address".into())),
            },
            Case {
                name: "unreadable next",
                pages: vec![(url(1), page(&["a"], Some("https://[::1")))],
                limits,
                requested: vec![url(1)],
                ids: vec!["a"],
                status: PagerStatus::Partial(Stop::UnreadableNextLink),
            },
            Case {
                name: "relative next links",
                pages: vec![
                    (url(1), page(&["a"], Some("Observation?page=2"))),
                    (url(2), page(&["b"], Some("?page=3"))),
                    (
                        url(3),
                        page(&["c"], Some("/api/FHIR/R4/Observation?page=4#frag")),
                    ),
                    (url(4), page(&["d"], None)),
                ],
                limits,
                requested: vec![url(1), url(2), url(3), url(4)],
                ids: vec!["a", "b", "c", "d"],
                status: PagerStatus::Done,
            },
            Case {
                name: "relative next escaping the base",
                pages: vec![(url(1), page(&["a"], Some("../../Observation?page=2")))],
                limits,
                requested: vec![url(1)],
                ids: vec!["a"],
                status: PagerStatus::Partial(Stop::ForeignNextLink("https://ehr.example".into())),
            },
            Case {
                name: "duplicates across pages are passed on once",
                pages: vec![
                    (url(1), page(&["a", "b", "c"], Some(&url(2)))),
                    (url(2), page(&["c", "d", "a"], Some(&url(3)))),
                    (url(3), page(&["d", "e", "e"], None)),
                ],
                limits,
                requested: vec![url(1), url(2), url(3)],
                ids: vec!["a", "b", "c", "d", "e"],
                status: PagerStatus::Done,
            },
            Case {
                name: "entry cap mid-page",
                pages: chain(5),
                limits: Limits {
                    max_entries: 5,
                    ..limits
                },
                requested: vec![url(1), url(2), url(3)],
                ids: vec!["o1a", "o1b", "o2a", "o2b", "o3a"],
                status: PagerStatus::Partial(Stop::EntryCap),
            },
            Case {
                name: "entry cap at a page edge",
                pages: chain(5),
                limits: Limits {
                    max_entries: 4,
                    ..limits
                },
                requested: vec![url(1), url(2)],
                ids: vec!["o1a", "o1b", "o2a", "o2b"],
                status: PagerStatus::Partial(Stop::EntryCap),
            },
            Case {
                name: "entry cap exactly reached on the last page is complete",
                pages: chain(2),
                limits: Limits {
                    max_entries: 4,
                    ..limits
                },
                requested: vec![url(1), url(2)],
                ids: vec!["o1a", "o1b", "o2a", "o2b"],
                status: PagerStatus::Done,
            },
            Case {
                name: "byte cap",
                pages: chain(10),
                limits: Limits {
                    max_bytes: 2500,
                    ..limits
                },
                requested: vec![url(1), url(2), url(3)],
                ids: vec!["o1a", "o1b", "o2a", "o2b", "o3a", "o3b"],
                status: PagerStatus::Partial(Stop::ByteCap),
            },
            Case {
                name: "page cap",
                pages: chain(4),
                limits: Limits {
                    max_pages: 2,
                    ..limits
                },
                requested: vec![url(1), url(2)],
                ids: vec!["o1a", "o1b", "o2a", "o2b"],
                status: PagerStatus::Partial(Stop::PageCap),
            },
            Case {
                name: "a missing page fails, not resumable",
                pages: vec![(url(1), page(&["a"], Some(&url(2))))],
                limits,
                requested: vec![url(1), url(2)],
                ids: vec!["a"],
                status: PagerStatus::Failed {
                    error: FhirError::NotFound,
                    resumable: false,
                },
            },
        ];
        for case in cases {
            let mut fake = Fake::new(case.pages);
            let mut pager = Pager::new(BASE, url(1), case.limits);
            let ids = drive(&mut pager, &mut fake);
            assert_eq!(fake.requested, case.requested, "{}", case.name);
            assert_eq!(ids, case.ids, "{}", case.name);
            assert_eq!(pager.status(), case.status, "{}", case.name);
            assert_eq!(pager.entries(), case.ids.len(), "{}", case.name);
            assert_eq!(pager.next_request(), None, "{}", case.name);
        }
    }

    #[test]
    fn ten_thousand_pages_stop_at_the_page_cap() {
        let mut fake = Fake::new(chain(10_000));
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        let ids = drive(&mut pager, &mut fake);
        assert_eq!(fake.requested.len(), 500);
        assert_eq!(fake.requested.last(), Some(&url(500)));
        assert_eq!(ids.len(), 1000);
        assert_eq!(pager.pages(), 500);
        assert_eq!(pager.status(), PagerStatus::Partial(Stop::PageCap));
    }

    #[test]
    fn failure_on_page_three_keeps_pages_and_resumes() {
        let mut fake = Fake::new(chain(5));
        let outage = FhirError::Http {
            status: 503,
            diagnostics: None,
        };
        fake.fail_once.insert(url(3), outage.clone());
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        let mut ids = drive(&mut pager, &mut fake);
        assert_eq!(ids, ["o1a", "o1b", "o2a", "o2b"]);
        assert_eq!(
            pager.status(),
            PagerStatus::Failed {
                error: outage,
                resumable: true
            }
        );
        assert_eq!(pager.next_request(), None);
        // A failed pager ignores a stray page.
        assert!(pager.accept(page(&["zzz"], None)).new.is_empty());
        assert_eq!(pager.resume(), Some(url(3)));
        ids.extend(drive(&mut pager, &mut fake));
        assert_eq!(pager.status(), PagerStatus::Done);
        assert_eq!(
            fake.requested,
            [url(1), url(2), url(3), url(3), url(4), url(5)]
        );
        let expected: Vec<String> = (1..=5)
            .flat_map(|i| [format!("o{i}a"), format!("o{i}b")])
            .collect();
        assert_eq!(ids, expected);
        assert_eq!(pager.resume(), None, "nothing to resume once done");
    }

    #[test]
    fn failure_on_the_first_page_resumes_it() {
        let mut fake = Fake::new(chain(2));
        fake.fail_once.insert(url(1), FhirError::Malformed);
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        assert!(drive(&mut pager, &mut fake).is_empty());
        assert_eq!(pager.resume(), Some(url(1)));
        assert_eq!(drive(&mut pager, &mut fake).len(), 4);
        assert_eq!(pager.status(), PagerStatus::Done);
    }

    #[test]
    fn unauthorized_is_not_resumable() {
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        pager.fail(FhirError::Unauthorized);
        assert_eq!(pager.resume(), None);
        assert_eq!(pager.next_request(), None);
    }

    #[test]
    fn first_url_outside_the_base_is_never_requested() {
        for (first, stop) in [
            (
                "https://evil.example/api/FHIR/R4/Observation".to_owned(),
                Stop::ForeignNextLink("https://evil.example".into()),
            ),
            (
                "https://ehr.example/other/Observation".to_owned(),
                Stop::ForeignNextLink("https://ehr.example".into()),
            ),
            ("Observation?page=1".to_owned(), Stop::UnreadableNextLink),
        ] {
            let pager = Pager::new(BASE, first.clone(), Limits::default());
            assert_eq!(pager.next_request(), None, "{first}");
            assert_eq!(pager.status(), PagerStatus::Partial(stop), "{first}");
        }
    }

    #[test]
    fn includes_outcomes_and_total_are_passed_on() {
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        let p1 = Page {
            includes: vec![json!({"resourceType": "Patient", "id": "p"})],
            outcomes: vec!["partial data".into()],
            total: Some(3),
            ..page(&["a", "b"], Some(&url(2)))
        };
        let progress = pager.accept(p1);
        assert_eq!(progress.new.len(), 2);
        assert_eq!(progress.includes.len(), 1);
        assert_eq!(progress.outcomes, ["partial data"]);
        assert_eq!(progress.total, Some(3));
        assert_eq!(
            progress.status,
            PagerStatus::Running {
                pages: 1,
                entries: 2
            }
        );
        let p2 = Page {
            includes: vec![
                json!({"resourceType": "Patient", "id": "p"}),
                json!({"resourceType": "Practitioner", "id": "d"}),
            ],
            ..page(&["c", "b", "x"], None)
        };
        let progress = pager.accept(p2);
        assert_eq!(progress.new, [obs("c"), obs("x")]);
        assert_eq!(
            progress.includes,
            [json!({"resourceType": "Practitioner", "id": "d"})]
        );
        assert_eq!(progress.status, PagerStatus::Done);
    }

    #[test]
    fn resources_without_an_id_are_never_merged() {
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        let p = Page {
            matches: vec![
                json!({"resourceType": "Observation"}),
                json!({"resourceType": "Observation"}),
                json!({"resourceType": "Observation", "id": ""}),
                json!({"id": "a"}),
                json!("junk"),
            ],
            ..Page::default()
        };
        assert_eq!(pager.accept(p).new.len(), 5);
    }

    #[test]
    fn http_requests_carry_the_token_only_to_the_base() {
        let token = AccessToken::new("AT-CANARY-38".into());
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        let req = pager.next_http_request(&token).unwrap();
        assert_eq!(req.url, url(1));
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.header("authorization"), Some("Bearer AT-CANARY-38"));
        assert!(!req.url.contains("AT-CANARY"));
        pager.accept(page(&["a"], Some("https://evil.example/x")));
        assert_eq!(pager.next_http_request(&token), None);
    }

    #[test]
    fn receive_decodes_or_fails() {
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        let body = format!(
            r#"{{"resourceType":"Bundle","type":"searchset","link":[{{"relation":"next","url":"{}"}}],"entry":[{{"resource":{{"resourceType":"Observation","id":"a"}}}}]}}"#,
            url(2)
        );
        let resp = HttpResponse {
            status: 200,
            content_type: Some("application/fhir+json".into()),
            body: body.into_bytes(),
        };
        let progress = pager.receive(&resp);
        assert_eq!(progress.new, [obs("a")]);
        assert_eq!(pager.next_request(), Some(url(2)));
        let progress = pager.receive(&HttpResponse {
            status: 500,
            content_type: None,
            body: b"<html>".to_vec(),
        });
        assert!(progress.new.is_empty());
        assert_eq!(
            progress.status,
            PagerStatus::Failed {
                error: FhirError::Http {
                    status: 500,
                    diagnostics: None
                },
                resumable: true
            }
        );
        assert_eq!(pager.resume(), Some(url(2)));
    }

    #[test]
    fn an_expired_paging_session_starts_the_search_again() {
        // Epic: `next` links are `…/Observation?sessionID=…` and expire (4113).
        let first = format!("{BASE}/Observation?patient=p&category=laboratory");
        let session = |n: usize| format!("{BASE}/Observation?sessionID=s{n}");
        let mut pager = Pager::new(BASE, first.clone(), Limits::default());
        let mut fake = Fake::new([
            (first.clone(), page(&["a", "b"], Some(&session(1)))),
            (session(1), page(&["b", "c"], Some(&session(2)))),
            (session(2), page(&["d"], None)),
        ]);
        fake.fail_once.insert(session(1), FhirError::SessionExpired);
        let got = drive(&mut pager, &mut fake);
        assert_eq!(got, ["a", "b", "c", "d"], "each resource once");
        assert_eq!(pager.status(), PagerStatus::Done);
        assert_eq!(
            fake.requested,
            [
                first.clone(),
                session(1),
                first.clone(),
                session(1),
                session(2)
            ]
        );

        // A session that keeps expiring ends the search after a few restarts, not in a loop.
        let mut pager = Pager::new(BASE, first.clone(), Limits::default());
        let mut restarts = 0;
        while let Some(url) = pager.next_request() {
            if url == first {
                pager.accept(page(&["a"], Some(&session(1))));
            } else {
                restarts += 1;
                pager.fail(FhirError::SessionExpired);
            }
            assert!(restarts <= MAX_RESTARTS + 1);
        }
        assert_eq!(restarts, MAX_RESTARTS + 1);
        assert!(matches!(
            pager.status(),
            PagerStatus::Failed {
                error: FhirError::SessionExpired,
                ..
            }
        ));

        // The first page itself expiring is a plain failure.
        let mut pager = Pager::new(BASE, first.clone(), Limits::default());
        pager.fail(FhirError::SessionExpired);
        assert_eq!(pager.next_request(), None);
    }

    #[test]
    fn a_refused_search_is_not_offered_again() {
        let refused = |status| {
            let mut pager = Pager::new(BASE, url(1), Limits::default());
            pager.fail(FhirError::Http {
                status,
                diagnostics: Some("Required search parameter has an invalid value.".into()),
            });
            pager.resume().is_some()
        };
        assert!(!refused(400), "Epic's 59111 is refused again");
        assert!(!refused(422));
        assert!(refused(429));
        assert!(refused(500));
        assert!(refused(0), "a lost connection");
    }

    #[test]
    fn a_total_equal_to_the_page_size_is_not_believed() {
        // Epic with `_count=200`: `total: 200` on every page, and a `next` link.
        assert_eq!(credible_total(Some(200), 200, true), None);
        assert_eq!(credible_total(Some(200), 400, true), None);
        assert_eq!(credible_total(Some(200), 400, false), None);
        assert_eq!(credible_total(Some(200), 200, false), Some(200));
        assert_eq!(credible_total(Some(450), 200, true), Some(450));
        assert_eq!(credible_total(None, 200, true), None);
        let mut pager = Pager::new(BASE, url(1), Limits::default());
        let progress = pager.accept(Page {
            total: Some(2),
            ..page(&["a", "b"], Some(&url(2)))
        });
        assert_eq!(progress.total, None);
        let progress = pager.accept(Page {
            total: Some(3),
            ..page(&["c"], None)
        });
        assert_eq!(progress.total, Some(3));
    }

    #[test]
    fn every_stop_has_a_plain_message() {
        for stop in [
            Stop::SelfLoop,
            Stop::Cycle,
            Stop::ForeignNextLink("https://evil.example".into()),
            Stop::UnreadableNextLink,
            Stop::PageCap,
            Stop::EntryCap,
            Stop::ByteCap,
        ] {
            let message = stop.message();
            assert!(
                message.starts_with("Some results may be missing: "),
                "{message}"
            );
            assert!(message.ends_with('.'), "{message}");
            assert!(!message.contains("Stop"), "{message}");
        }
        assert!(
            Stop::ForeignNextLink("https://evil.example".into())
                .message()
                .contains("https://evil.example")
        );
    }

    #[test]
    fn mutated_bundles_never_panic_the_pager() {
        let mut rng = crate::testing::SplitMix(38);
        let seed = format!(
            r#"{{"resourceType":"Bundle","type":"searchset","total":2,"link":[{{"relation":"next","url":"{}"}}],"entry":[{{"resource":{{"resourceType":"Observation","id":"a"}},"search":{{"mode":"match"}}}},{{"resource":{{"resourceType":"Patient","id":"p"}},"search":{{"mode":"include"}}}}]}}"#,
            url(2)
        );
        let limits = Limits {
            max_pages: 50,
            max_entries: 60,
            max_bytes: 1 << 20,
        };
        let mut pager = Pager::new(BASE, url(1), limits);
        for _ in 0..5000 {
            if pager.next_request().is_none() && pager.resume().is_none() {
                pager = Pager::new(BASE, url(1), limits);
            }
            let resp = HttpResponse {
                status: 200,
                content_type: None,
                body: rng.mutate(seed.as_bytes()),
            };
            let progress = pager.receive(&resp);
            assert!(pager.entries() <= limits.max_entries);
            assert!(pager.pages() <= limits.max_pages);
            assert_eq!(progress.status, pager.status());
            if let Some(next) = pager.next_request() {
                assert!(token_may_go_to(&next, BASE), "{next}");
            }
        }
    }
}
