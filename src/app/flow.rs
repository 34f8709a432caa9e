//! The launch and the chart, step by step: each step is a core function and a browser call.

use std::cell::RefCell;

use leptos::prelude::*;

use crate::app::{Chart, Found, Screen, Search, Selected, ServerChoice, feed};
use crate::domain::banner::{banner, person_name};
use crate::domain::problem::{NextStep, Problem};
use crate::fhir;
use crate::fhir::encounter::Encounter;
use crate::fhir::patient::MrnRule;
use crate::fhir::search::{
    LABORATORY, NO_MATCH, OTHER_CATEGORIES, SearchForm, VITAL_SIGNS, all_categories,
    encounter_search_url, observation_search_url, patient_query, patient_search_request,
    read_patient_search,
};
use crate::http::HttpResponse;
use crate::smart::authorize::{Authorize, PendingLaunch, authorize};
use crate::smart::brands::{Brand, BrandsOutcome, brands_request, match_brands, parse_brands};
use crate::smart::callback::{check_pending, validate_callback};
use crate::smart::config::{Config, FhirServer, parse_config};
use crate::smart::discovery::{
    SmartConfiguration, cached_discovery, discovery_cache_entry, discovery_cache_key,
    discovery_request, metadata_request, parse_discovery, parse_metadata, trust_issuer,
};
use crate::smart::id_token::{
    Expected, FhirUser, IdTokenError, Identity, SignedInUser, jwks_request, parse_jwks, prepare,
};
use crate::smart::launch::{CallbackParams, Entry, INSTANCE_PARAM, parse_entry};
use crate::smart::pkce::new_instance_id;
use crate::smart::scope::{LaunchKind, View};
use crate::smart::secret::IdToken;
use crate::smart::session::Session;
use crate::smart::style::{parse_style, readable, style_request};
use crate::smart::token::{parse_token_response, token_request};
use crate::smart::urls::same_origin_as_any;
use crate::web::fhir_client::{FhirClient, unreachable_ehr};
use crate::web::http::{fetch_own_file, send, send_pinned, send_reading};
use crate::web::storage::SessionStore;
use crate::web::webcrypto::verify_rs256;
use crate::web::{self, clock, location, prefetch, random};

/// Cairn's configuration, served beside `index.html`.
const CONFIG_URL: &str = "cairn.config.json";
const PENDING_PREFIX: &str = "cairn.pending.";

thread_local! {
    /// The signed-in session of this window: in memory only, gone with the page.
    static CLIENT: RefCell<Option<FhirClient>> = const { RefCell::new(None) };
    /// The configuration, once loaded.
    static CONFIG: RefCell<Option<Config>> = const { RefCell::new(None) };
    /// Who signed in: their name, from the verified id_token or their own FHIR resource.
    static SIGNED_IN_AS: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn client() -> Option<FhirClient> {
    CLIENT.with(|c| c.borrow().clone())
}

pub fn signed_in_as() -> Option<String> {
    SIGNED_IN_AS.with(|s| s.borrow().clone())
}

pub async fn run(screen: RwSignal<Screen>) {
    sweep_stale_launches();
    let next = match parse_entry(&location::query()) {
        Err(err) => Screen::Problem(err.problem()),
        Ok(Entry::Standalone) => match start_page().await {
            Ok(choices) => Screen::Start(choices),
            Err(problem) => Screen::Problem(problem),
        },
        Ok(Entry::EhrLaunch { iss, launch }) => {
            screen.set(Screen::Working("Connecting to your EHR…"));
            match ehr_launch(&iss, &launch).await {
                // The browser is leaving for the sign-in page; keep the status on screen.
                Ok(()) => return,
                Err(problem) => Screen::Problem(problem),
            }
        }
        Ok(Entry::Reloaded { .. }) => Screen::Problem(Problem::new(
            "This Cairn window was reloaded",
            "Cairn keeps your sign-in only in this window's memory, so reloading ended it. Other \
             Cairn windows are not affected.",
            NextStep::Relaunch,
        )),
        Ok(Entry::Callback(params)) => {
            // Where the answer came back to, checked against the launch's redirect URI.
            let page_url = format!("{}{}", location::page_url(), location::query());
            // Before anything else, so a reload or Back never presents the code again. The
            // instance id marks this window, so a reload is recognised as this window's.
            let instance = random::random_bytes::<16>()
                .map(|bytes| format!("?{INSTANCE_PARAM}={}", new_instance_id(&bytes)))
                .unwrap_or_default();
            location::replace_query(&instance);
            screen.set(Screen::Working("Signing in…"));
            match callback(params, &page_url, screen).await {
                Ok(next) => next,
                Err(problem) => Screen::Problem(problem),
            }
        }
    };
    screen.set(next);
}

/// The standalone start page: the configured health systems, named as their brands say when
/// the configuration links a User-access Brands bundle.
pub(super) async fn start_page() -> Result<Vec<ServerChoice>, Problem> {
    let config = load_config().await?;
    let mut choices: Vec<ServerChoice> = config
        .servers
        .iter()
        .enumerate()
        .map(|(index, server)| ServerChoice {
            index,
            name: server.name.clone(),
            logo_url: server.logo.clone(),
            portal_url: None,
        })
        .collect();
    if let Some(url) = &config.brand_bundle {
        let bases: Vec<String> = config.servers.iter().map(|s| s.fhir_base.clone()).collect();
        for (index, brand) in match_brands(&load_brands(url).await, &bases) {
            if let Some(choice) = choices.get_mut(index) {
                // Brand logos are not shown: CSP `img-src` allows only the configured ones.
                choice.name = brand.name;
                choice.portal_url = brand.portal_url;
            }
        }
    }
    Ok(choices)
}

/// The brands in the bundle at `url`, revalidated with `If-None-Match` against the copy kept
/// for this session. Brands are public directory data, never secrets. Any failure gives none:
/// the start page then shows the configured names.
async fn load_brands(url: &str) -> Vec<Brand> {
    let store = SessionStore::open().ok();
    let key = format!("cairn.brands.{url}");
    let cached: Option<(String, String)> = store
        .as_ref()
        .and_then(|s| s.get(&key))
        .and_then(|json| serde_json::from_str(&json).ok());
    let etag = cached.as_ref().map(|(etag, _)| etag.as_str());
    let Ok((response, headers)) = send_reading(&brands_request(url, etag), &["etag"]).await else {
        return Vec::new();
    };
    let new_etag = headers.into_iter().next().flatten();
    match parse_brands(&response, new_etag.as_deref()) {
        Ok(BrandsOutcome::Fresh { brands, etag }) => {
            if let (Some(store), Some(etag), Ok(body)) =
                (&store, etag, String::from_utf8(response.body))
                && let Ok(json) = serde_json::to_string(&(etag, body))
            {
                let _ = store.put(&key, &json);
            }
            brands
        }
        Ok(BrandsOutcome::NotModified) => cached
            .map(|(_, body)| HttpResponse {
                status: 200,
                content_type: None,
                body: body.into_bytes(),
            })
            .and_then(|cached| match parse_brands(&cached, None) {
                Ok(BrandsOutcome::Fresh { brands, .. }) => Some(brands),
                _ => None,
            })
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// A standalone launch: the user chose a health system on the start page.
pub async fn standalone_launch(screen: RwSignal<Screen>, index: usize, kind: LaunchKind) {
    screen.set(Screen::Working("Connecting to your health system…"));
    let result = async {
        let config = load_config().await?;
        let server = config.servers.get(index).ok_or_else(internal_problem)?;
        let smart = discover(&config, server).await?;
        begin_authorize(&config, server, &smart, kind, None).await
    }
    .await;
    if let Err(problem) = result {
        screen.set(Screen::Problem(problem));
    }
}

/// EHR launch: check `iss`, discover the endpoints, remember the launch, go to authorize.
pub(super) async fn ehr_launch(iss: &str, launch: &str) -> Result<(), Problem> {
    let config = load_config().await?;
    // The allow-list decides before any request goes to `iss`.
    let server = config.server_for_iss(iss).map_err(|e| e.problem())?;
    let smart = discover(&config, server).await?;
    begin_authorize(&config, server, &smart, LaunchKind::Ehr, Some(launch)).await
}

/// Remembers the launch under its `state` and leaves for the authorization endpoint, once the
/// launch page's prefetch of the full app has finished (`web::prefetch`).
async fn begin_authorize(
    config: &Config,
    server: &FhirServer,
    smart: &SmartConfiguration,
    kind: LaunchKind,
    launch: Option<&str>,
) -> Result<(), Problem> {
    let random = random::random_bytes::<64>().map_err(|e| browser_problem(&e))?;
    let redirect = authorize(
        config,
        server,
        smart,
        kind,
        launch,
        &random,
        clock::now_ms(),
    );
    let store = SessionStore::open().map_err(|e| browser_problem(&e))?;
    let pending = serde_json::to_string(&redirect.pending).map_err(|_| internal_problem())?;
    store
        .put(&pending_key(&redirect.pending.state), &pending)
        .map_err(|e| browser_problem(&e))?;
    prefetch::finished(prefetch::MAX_WAIT_MS).await;
    match &redirect.via {
        Authorize::Get(url) => location::navigate(url),
        Authorize::Post { action, fields } => location::submit_form(action, fields),
    }
    .map_err(|_| internal_problem())
}

/// Authorization callback: match the `state`, exchange the code, open the chart.
async fn callback(
    params: CallbackParams,
    page_url: &str,
    screen: RwSignal<Screen>,
) -> Result<Screen, Problem> {
    let store = SessionStore::open().map_err(|e| browser_problem(&e))?;
    // `take` deletes the pending launch: a state is good for one callback only.
    let pending: Option<PendingLaunch> = params
        .state
        .as_deref()
        .and_then(|state| store.take(&pending_key(state)))
        .and_then(|json| serde_json::from_str(&json).ok());
    let (pending, code) =
        validate_callback(&params, pending, clock::now_ms()).map_err(|e| e.problem())?;
    // The stored launch is only as trustworthy as every script of this origin: checked again
    // against the configuration (and the address the answer came to) before the code is spent.
    let config = load_config().await?;
    check_pending(&config, &pending, page_url).map_err(|e| e.problem())?;
    // The code and verifier go to the pinned token endpoint only: a redirect is refused.
    let response = send_pinned(&token_request(&pending, &code))
        .await
        .map_err(|e| sign_in_failed(&e))?;
    let tokens = parse_token_response(&pending, &response).map_err(|e| e.problem())?;
    let style_url = tokens
        .smart_style_url
        .clone()
        .filter(|url| style_url_allowed(url, &pending));
    let id_token = tokens.id_token.clone();
    let session = Session::new(
        tokens,
        pending.kind,
        &pending.token_endpoint,
        &pending.client_id,
        clock::monotonic_ms(),
    );
    let patient = session.context.patient.clone();
    let kind = session.context.kind;
    CLIENT.with(|c| *c.borrow_mut() = Some(FhirClient::new(session)));
    let next = match (patient, kind) {
        (Some(patient), _) => {
            screen.set(Screen::Working("Opening the chart…"));
            // The chart's requests go first: the browser sends at most six at a time to an
            // HTTP/1.1 origin, in the order they are made, and the chart is what the user
            // waits for.
            load_chart(&patient).await?
        }
        (None, LaunchKind::StandaloneProvider) => Screen::Search(Search {
            signed_in_as: signed_in_user(id_token.as_ref(), &pending).await?,
            ..Search::default()
        }),
        (None, _) => {
            return Err(Problem::new(
                "No patient is open",
                "Your EHR did not say which patient to show.",
                NextStep::Relaunch,
            ));
        }
    };
    if let Some(url) = style_url {
        // Cosmetic and independent: any failure leaves Cairn's look.
        leptos::task::spawn_local(apply_style(url));
    }
    if let Screen::Chart(chart) = &next {
        // Who signed in (the id_token, checked against the EHR's keys) is shown when known;
        // the chart does not wait for it. Only a token showing tampering ends the session.
        let shown = chart.signed_in_as;
        leptos::task::spawn_local(async move {
            match signed_in_user(id_token.as_ref(), &pending).await {
                Ok(who) => {
                    SIGNED_IN_AS.with(|s| *s.borrow_mut() = who.clone());
                    shown.set(who);
                }
                Err(problem) => {
                    if let Some(client) = client() {
                        client.end(problem.clone());
                    }
                    CLIENT.with(|c| *c.borrow_mut() = None);
                    screen.set(Screen::Problem(problem));
                }
            }
            crate::web::perf::mark_after_paint(crate::web::perf::IDENTITY_CHECKED);
        });
    } else if let Screen::Search(search) = &next {
        SIGNED_IN_AS.with(|s| *s.borrow_mut() = search.signed_in_as.clone());
    }
    Ok(next)
}

/// The signed-in user's name: the verified id_token's name claims; else, when the granted
/// scope allows that read, the name in their own resource (`fhirUser`) on this FHIR server;
/// else `None` (no id_token, no keys to check it with, no name, or it could not be checked:
/// see `Identity`). Only evidence of tampering stops the sign-in. An id is never shown in
/// place of a name.
async fn signed_in_user(
    id_token: Option<&IdToken>,
    pending: &PendingLaunch,
) -> Result<Option<String>, Problem> {
    let (Some(id_token), Some(issuer), Some(jwks_uri)) =
        (id_token, pending.issuer.as_ref(), pending.jwks_uri.as_ref())
    else {
        return Ok(None);
    };
    let expected = Expected {
        issuer: issuer.clone(),
        client_id: pending.client_id.clone(),
        fhir_base: pending.fhir_base.clone(),
    };
    let identity = Identity::from_check(check_id_token(id_token, jwks_uri, &expected).await);
    if let Some(name) = identity.display_name() {
        return Ok(Some(name.to_owned()));
    }
    match identity {
        Identity::Tampered(err) => Err(err.problem()),
        Identity::SignedIn(SignedInUser {
            fhir_user: Some(user),
            ..
        }) => Ok(fhir_user_name(&user).await),
        _ => Ok(None),
    }
}

/// The name in the signed-in user's own resource, read when the granted scope allows it. The
/// id_token check placed `fhir_user` on this session's FHIR server; the request is built from
/// that base, its type and its id, never from a URL the token gave.
async fn fhir_user_name(user: &FhirUser) -> Option<String> {
    let client = client()?;
    let base = client.with_session(|s| {
        s.grants()
            .may_read_user(&user.resource_type, &user.id, s.context.patient.as_deref())
            .then(|| s.context.fhir_base.clone())
    })?;
    let response = read(&client, &base, &user.resource_type, &user.id)
        .await
        .ok()?;
    person_name(&fhir::patient::parse_user_names(
        &response,
        &user.resource_type,
        &user.id,
    ))
}

/// Fetches the EHR's keys and checks the id_token against them and `expected`.
async fn check_id_token(
    id_token: &IdToken,
    jwks_uri: &str,
    expected: &Expected,
) -> Result<SignedInUser, IdTokenError> {
    // Optional like the style: without the keys no name is shown, and a key set blocked by
    // CORS is reported on the chart for whoever sets Cairn up.
    let response = send(&jwks_request(jwks_uri)).await.map_err(|err| {
        report_blocked(&err, crate::domain::problem::Endpoint::Jwks);
        IdTokenError::JwksUnreachable
    })?;
    let jwks = parse_jwks(&response)?;
    let check = prepare(id_token, &jwks, expected, clock::now_ms() / 1000.0)?;
    let valid = verify_rs256(&check.key, &check.signing_input, &check.signature)
        .await
        .map_err(|_| IdTokenError::SignatureNotChecked)?;
    check.accept(valid)
}

/// A style document is fetched only from where the EHR's own endpoints are.
fn style_url_allowed(url: &str, pending: &PendingLaunch) -> bool {
    let pinned = [pending.fhir_base.as_str(), pending.token_endpoint.as_str()];
    same_origin_as_any(url, &pinned)
}

async fn apply_style(url: String) {
    match send(&style_request(&url)).await {
        Ok(response) => {
            if let Ok(properties) = parse_style(&response) {
                crate::web::style::apply(&readable(properties));
            }
        }
        // Optional: the chart goes on in Cairn's own look. A style blocked by CORS is only
        // reported, in a notice on the chart, for whoever sets Cairn up.
        Err(err) => report_blocked(&err, crate::domain::problem::Endpoint::Style),
    }
}

thread_local! {
    /// Failures of optional requests (the style document, the key set), shown on the chart as notices:
    /// they do not stop anything. Reference-counted, so not owned (and disposed of) by
    /// whichever view reads it first.
    static REPORTS: ArcRwSignal<Vec<String>> = ArcRwSignal::new(Vec::new());
}

/// What optional requests reported (see [`report`]).
pub fn reports() -> ArcRwSignal<Vec<String>> {
    REPORTS.with(ArcRwSignal::clone)
}

/// An optional request (style, key set) that failed: when CORS blocked it, says so on the
/// chart (which origin to allow, and whom to ask); any other failure is not worth a word.
pub fn report_blocked(
    err: &crate::web::http::SendError,
    endpoint: crate::domain::problem::Endpoint,
) {
    if err.blocked_by_cors() {
        let problem = crate::web::fhir_client::network_problem(err, endpoint);
        report(format!("{}: {}", problem.title, problem.detail));
    }
}

/// Shows `text` on the chart, once, without stopping anything.
fn report(text: String) {
    reports().update(|all| {
        if !all.contains(&text) {
            all.push(text);
        }
    });
}

/// Opens the chart of `patient_id` (from the token response, or chosen in the search).
pub async fn open_chart(screen: RwSignal<Screen>, patient_id: String) {
    screen.set(Screen::Working("Opening the chart…"));
    let next = load_chart(&patient_id)
        .await
        .unwrap_or_else(Screen::Problem);
    screen.set(next);
}

async fn load_chart(patient_id: &str) -> Result<Screen, Problem> {
    let client = client().ok_or_else(no_session)?;
    let (context, grants) = client.with_session(|s| (s.context.clone(), s.grants().clone()));
    let not_granted: Vec<View> = [View::Banner, View::Encounters, View::Observations]
        .into_iter()
        .filter(|v| !v.allowed(&grants))
        .collect();
    // The first page of every search starts now, beside the banner: nothing waits that need
    // not. Vital signs and labs first, since the browser sends a few requests at a time per
    // origin, in the order they are made.
    let base = context.fhir_base.as_str();
    // One search per category, each failing alone (Epic grants and refuses them one by one);
    // a feed of several names the category in its notices.
    let observations = |categories: &[&str]| {
        View::Observations.allowed(&grants).then(|| {
            let feed = feed::new_observation_feed();
            let named = categories.len() > 1;
            for &category in categories {
                if let Some(url) = observation_search_url(base, patient_id, &[category], None) {
                    let label = named.then_some(category);
                    feed::load_observations(&client, base, patient_id, url, feed, label, None);
                }
            }
            feed
        })
    };
    let vitals = observations(&[VITAL_SIGNS]);
    let labs = observations(&[LABORATORY]);
    let encounters = View::Encounters.allowed(&grants).then(|| {
        let feed = feed::new_encounter_feed();
        if let Some(url) = encounter_search_url(base, patient_id) {
            feed::load_encounters(&client, base, patient_id, url, feed);
        }
        feed
    });
    let others = observations(&OTHER_CATEGORIES);
    let (banner, details) = if context.need_patient_banner && View::Banner.allowed(&grants) {
        let (response, mrn) = futures::future::join(
            read(&client, &context.fhir_base, "Patient", patient_id),
            mrn_rule(&context.fhir_base),
        )
        .await;
        let patient =
            fhir::patient::parse_patient(&response?, patient_id).map_err(|e| e.problem())?;
        (
            Some(banner(
                &patient,
                clock::today(),
                mrn.as_ref(),
                web::lower_case,
            )),
            Some(crate::domain::patient::details(&patient)),
        )
    } else {
        (None, None)
    };
    // The encounter in launch context, shown when read; the chart does not wait for it. Only
    // the launch's own patient has one: a patient chosen in the search does not inherit it.
    let encounter = RwSignal::new(None);
    if let Some(id) = context
        .encounter
        .clone()
        .filter(|_| context.patient.as_deref() == Some(patient_id))
        .filter(|_| View::Encounters.allowed(&grants))
    {
        let fhir_base = context.fhir_base.clone();
        let patient_id = patient_id.to_owned();
        leptos::task::spawn_local(async move {
            let response = read(&client, &fhir_base, "Encounter", &id).await;
            // An unreadable encounter, or another patient's, is left out, not fatal.
            if let Some(e) = response.ok().and_then(|r| {
                fhir::encounter::parse_launch_encounter(&r, &id, &patient_id, &fhir_base).ok()
            }) {
                encounter.set(Some(e.summary_parts()));
            }
        });
    }
    Ok(Screen::Chart(Box::new(Chart {
        patient_id: patient_id.to_owned(),
        banner,
        details,
        signed_in_as: RwSignal::new(signed_in_as()),
        encounter,
        encounters,
        vitals,
        labs,
        others,
        selected: RwSignal::new(None),
        owner: Owner::current().unwrap_or_default(),
        not_granted,
        can_search: context.kind == LaunchKind::StandaloneProvider,
    })))
}

/// `GET {base}/{type}/{id}` with the session's token. Every read by id goes through here, so
/// the app carries one copy of the generic `FhirClient::send` for them all.
async fn read(
    client: &FhirClient,
    base: &str,
    resource_type: &str,
    id: &str,
) -> Result<HttpResponse, Problem> {
    client
        .send(|token| fhir::request::read_request(base, resource_type, id, token))
        .await
}

/// Shows `encounter` and starts reading its observations: one search per category, in
/// parallel, each failing alone with its own notice; only observations that name this
/// encounter are shown (a server may ignore `encounter=` and send every encounter's).
pub fn select_encounter(chart: &Chart, encounter: Encounter) {
    let Some(client) = client() else {
        return;
    };
    let base = client.with_session(|s| s.context.fhir_base.clone());
    let observations = chart.owner.with(feed::new_observation_feed);
    for category in all_categories() {
        if let Some(url) =
            observation_search_url(&base, &chart.patient_id, &[category], Some(&encounter.id))
        {
            feed::load_observations(
                &client,
                &base,
                &chart.patient_id,
                url,
                observations,
                Some(category),
                Some(&encounter.id),
            );
        }
    }
    chart.selected.set(Some(Selected {
        encounter,
        observations,
    }));
}

/// A clinician's patient search; the results (or the reason there are none) replace the last.
/// The form stays as typed.
pub async fn search(screen: RwSignal<Screen>, form: SearchForm) {
    let outcome = async {
        let told = |message: String| Search {
            results: None,
            message: Some(message),
            signed_in_as: signed_in_as(),
            form: form.clone(),
        };
        let query = match patient_query(&form) {
            Ok(query) => query,
            Err(message) => return Ok(told(message)),
        };
        let client = client().ok_or_else(no_session)?;
        let (base, grants) =
            client.with_session(|s| (s.context.fhir_base.clone(), s.grants().clone()));
        if !View::PatientSearch.allowed(&grants) {
            return Ok(told(View::PatientSearch.not_granted_message()));
        }
        let mrn = mrn_rule(&base).await;
        let response = client
            .send(|token| patient_search_request(&base, &query, mrn.as_ref(), token))
            .await?;
        let today = clock::today();
        let results: Vec<Found> = match read_patient_search(&response, &query) {
            Ok(patients) => patients
                .iter()
                .filter_map(|p| {
                    Some(Found {
                        id: p.id.clone()?,
                        banner: banner(p, today, mrn.as_ref(), web::lower_case),
                    })
                })
                .collect(),
            Err(message) => return Ok(told(message)),
        };
        let message = results.is_empty().then(|| NO_MATCH.to_owned());
        Ok::<_, Problem>(Search {
            results: Some(results),
            message,
            signed_in_as: signed_in_as(),
            form: form.clone(),
        })
    }
    .await;
    screen.set(match outcome {
        Ok(search) => Screen::Search(search),
        Err(problem) => Screen::Problem(problem),
    });
}

/// The configured rule for which identifier is the MRN on the server at `fhir_base`. The
/// configuration was checked at launch; if it cannot be read now, the default rule applies.
async fn mrn_rule(fhir_base: &str) -> Option<MrnRule> {
    let config = load_config().await.ok()?;
    config.server_for_iss(fhir_base).ok()?.mrn.clone()
}

/// `.well-known/smart-configuration`, or the CapabilityStatement when that document is absent
/// (404), with the issuer Cairn trusts for `server` (`trust_issuer`). A configuration fetched in
/// this tab in the last hour is reused (and checked again).
async fn discover(config: &Config, server: &FhirServer) -> Result<SmartConfiguration, Problem> {
    let smart = discover_unchecked(server).await?;
    trust_issuer(config, server, smart).map_err(|e| e.problem())
}

async fn discover_unchecked(server: &FhirServer) -> Result<SmartConfiguration, Problem> {
    let store = SessionStore::open().ok();
    let key = discovery_cache_key(&server.fhir_base);
    let kept = store
        .as_ref()
        .and_then(|s| s.get(&key))
        .and_then(|entry| cached_discovery(&entry, clock::now_ms()))
        .and_then(|kept| parse_discovery(server, &kept).ok());
    if let Some(smart) = kept {
        return Ok(smart);
    }
    let response = send(&discovery_request(server))
        .await
        .map_err(|e| sign_in_failed(&e))?;
    let parsed = parse_discovery(server, &response);
    if let (Ok(_), Some(store), Some(entry)) = (
        &parsed,
        &store,
        discovery_cache_entry(&response, clock::now_ms()),
    ) {
        // Best effort: a full or refused storage only costs the next launch a round trip.
        let _ = store.put(&key, &entry);
    }
    match parsed {
        Err(err) if err.allows_fallback() => {
            let response = send(&metadata_request(server))
                .await
                .map_err(|e| sign_in_failed(&e))?;
            // If the fallback fails too, the first failure is the one to explain.
            parse_metadata(server, &response).map_err(|_| err.problem())
        }
        result => result.map_err(|e| e.problem()),
    }
}

/// Cairn's configuration, fetched once per page: the start page and the launch it leads to
/// share it.
async fn load_config() -> Result<Config, Problem> {
    if let Some(config) = CONFIG.with(|c| c.borrow().clone()) {
        return Ok(config);
    }
    let config = fetch_config().await?;
    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
    Ok(config)
}

async fn fetch_config() -> Result<Config, Problem> {
    let response = fetch_own_file(CONFIG_URL).await.map_err(|_| {
        Problem::new(
            "Cairn could not load its settings",
            "The file cairn.config.json beside the app could not be fetched.",
            NextStep::TryAgain,
        )
    })?;
    if !response.is_success() {
        return Err(Problem::new(
            "Cairn is not set up on this site",
            format!(
                "The settings file cairn.config.json answered with HTTP {}.",
                response.status
            ),
            NextStep::ContactSupport,
        ));
    }
    // The redirect URI is checked against where this page really is: a mistake there would
    // send every sign-in's code somewhere else.
    let config = parse_config(&response.body).map_err(|e| e.problem())?;
    config
        .check_redirect_uri(&location::page_url())
        .map_err(|e| e.problem())?;
    Ok(config)
}

/// Deletes pending launches too old for any callback to use (abandoned sign-ins, or ones of
/// other instances sharing this sessionStorage).
pub(super) fn sweep_stale_launches() {
    let Ok(store) = SessionStore::open() else {
        return;
    };
    let now = clock::now_ms();
    for key in store.keys_with_prefix(PENDING_PREFIX) {
        let stale = store
            .get(&key)
            .and_then(|json| serde_json::from_str::<PendingLaunch>(&json).ok())
            .is_none_or(|p| p.is_stale(now));
        if stale {
            store.remove(&key);
        }
    }
}

fn pending_key(state: &str) -> String {
    format!("{PENDING_PREFIX}{state}")
}

/// A connection failure during sign-in: the code (if any) is spent, so relaunch; unless the
/// EHR blocks Cairn's origin (CORS), redirects or sends too much, which only its integration
/// team can change.
fn sign_in_failed(err: &crate::web::http::SendError) -> Problem {
    let mut problem = unreachable_ehr(err);
    if err.relaunch_may_help() {
        problem.next_step = NextStep::Relaunch;
    }
    problem
}

fn no_session() -> Problem {
    crate::smart::session::session_ended("This sign-in has ended.")
}

fn browser_problem(err: &dyn std::error::Error) -> Problem {
    Problem::new(
        "This browser cannot run Cairn safely",
        format!("{err}. Open Cairn in an up-to-date browser."),
        NextStep::ContactSupport,
    )
}

fn internal_problem() -> Problem {
    Problem::new(
        "Cairn stopped unexpectedly",
        "Something inside Cairn failed while starting the sign-in.",
        NextStep::Relaunch,
    )
}
