//! The launch, step by step: each step is a core function and a browser call.

use leptos::prelude::*;

use crate::app::{Chart, Screen};
use crate::domain::banner::banner;
use crate::domain::problem::{NextStep, Problem};
use crate::fhir;
use crate::http::{HttpRequest, Method};
use crate::smart::authorize::{PendingLaunch, authorize_ehr_launch};
use crate::smart::callback::validate_callback;
use crate::smart::config::{Config, FhirServer, parse_config};
use crate::smart::discovery::{
    SmartConfiguration, discovery_request, metadata_request, parse_discovery, parse_metadata,
};
use crate::smart::launch::{CallbackParams, Entry, INSTANCE_PARAM, parse_entry};
use crate::smart::pkce::new_instance_id;
use crate::smart::token::{parse_token_response, token_request};
use crate::web::http::{NetworkError, send};
use crate::web::storage::SessionStore;
use crate::web::{clock, location, random};

/// Cairn's configuration, served beside `index.html`.
const CONFIG_URL: &str = "cairn.config.json";

pub async fn run(screen: WriteSignal<Screen>) {
    let next = match parse_entry(&location::query()) {
        Err(err) => Screen::Problem(err.problem()),
        Ok(Entry::Standalone) => Screen::Welcome,
        Ok(Entry::EhrLaunch { iss, launch }) => {
            screen.set(Screen::Working("Connecting to your EHR…"));
            match ehr_launch(&iss, &launch).await {
                // The browser is leaving for the sign-in page; keep the status on screen.
                Ok(()) => return,
                Err(problem) => Screen::Problem(problem),
            }
        }
        Ok(Entry::Reloaded { .. }) => Screen::Problem(Problem {
            title: "This Cairn window was reloaded".into(),
            detail: "Cairn keeps your sign-in only in this window's memory, so reloading ended \
                     it. Other Cairn windows are not affected."
                .into(),
            next_step: NextStep::Relaunch,
        }),
        Ok(Entry::Callback(params)) => {
            // Before anything else, so a reload or Back never presents the code again. The
            // instance id marks this window, so a reload is recognised as this window's.
            let instance = random::random_bytes::<16>()
                .map(|bytes| format!("?{INSTANCE_PARAM}={}", new_instance_id(&bytes)))
                .unwrap_or_default();
            location::replace_query(&instance);
            screen.set(Screen::Working("Signing in…"));
            match callback(params, screen).await {
                Ok(chart) => Screen::Chart(chart),
                Err(problem) => Screen::Problem(problem),
            }
        }
    };
    screen.set(next);
}

/// EHR launch: check `iss`, discover the endpoints, remember the launch, go to authorize.
async fn ehr_launch(iss: &str, launch: &str) -> Result<(), Problem> {
    let config = load_config().await?;
    // The allow-list decides before any request goes to `iss`.
    let server = config.server_for_iss(iss).map_err(|e| e.problem())?;
    let smart = discover(server).await?;
    let random = random::random_bytes::<64>().map_err(|e| browser_problem(&e))?;
    let redirect = authorize_ehr_launch(&config, server, &smart, launch, &random, clock::now_ms());
    let store = SessionStore::open().map_err(|e| browser_problem(&e))?;
    let pending = serde_json::to_string(&redirect.pending).map_err(|_| internal_problem())?;
    store
        .put(&pending_key(&redirect.pending.state), &pending)
        .map_err(|e| browser_problem(&e))?;
    location::navigate(&redirect.url).map_err(|_| internal_problem())
}

/// Authorization callback: match the `state`, exchange the code, read the patient.
async fn callback(params: CallbackParams, screen: WriteSignal<Screen>) -> Result<Chart, Problem> {
    let store = SessionStore::open().map_err(|e| browser_problem(&e))?;
    // `take` deletes the pending launch: a state is good for one callback only.
    let pending: Option<PendingLaunch> = params
        .state
        .as_deref()
        .and_then(|state| store.take(&pending_key(state)))
        .and_then(|json| serde_json::from_str(&json).ok());
    let (pending, code) =
        validate_callback(&params, pending, clock::now_ms()).map_err(|e| e.problem())?;
    let response = send(&token_request(&pending, &code))
        .await
        .map_err(|e| unreachable_ehr(&e))?;
    let tokens = parse_token_response(&pending, &response).map_err(|e| e.problem())?;
    if !tokens.need_patient_banner {
        return Ok(Chart { banner: None });
    }
    let Some(patient_id) = tokens.patient.as_deref() else {
        return Ok(Chart { banner: None });
    };
    screen.set(Screen::Working("Opening the chart…"));
    let request = fhir::request::read_request(
        &tokens.fhir_base,
        "Patient",
        patient_id,
        &tokens.access_token,
    )
    .map_err(|e| e.problem())?;
    let response = send(&request).await.map_err(|e| unreachable_ehr(&e))?;
    let patient = fhir::patient::parse_patient(&response, patient_id).map_err(|e| e.problem())?;
    Ok(Chart {
        banner: Some(banner(&patient, clock::today())),
    })
}

/// `.well-known/smart-configuration`, or the CapabilityStatement when that document is unusable.
async fn discover(server: &FhirServer) -> Result<SmartConfiguration, Problem> {
    let response = send(&discovery_request(server))
        .await
        .map_err(|e| unreachable_ehr(&e))?;
    match parse_discovery(server, &response) {
        Err(err) if err.allows_fallback() => {
            let response = send(&metadata_request(server))
                .await
                .map_err(|e| unreachable_ehr(&e))?;
            // If the fallback fails too, the first failure is the one to explain.
            parse_metadata(server, &response).map_err(|_| err.problem())
        }
        result => result.map_err(|e| e.problem()),
    }
}

async fn load_config() -> Result<Config, Problem> {
    let request = HttpRequest {
        method: Method::Get,
        url: CONFIG_URL.to_owned(),
        headers: vec![("Accept".into(), "application/json".into())],
        body: None,
    };
    let response = send(&request).await.map_err(|_| Problem {
        title: "Cairn could not load its settings".into(),
        detail: "The file cairn.config.json beside the app could not be fetched.".into(),
        next_step: NextStep::TryAgain,
    })?;
    if !response.is_success() {
        return Err(Problem {
            title: "Cairn is not set up on this site".into(),
            detail: format!(
                "The settings file cairn.config.json answered with HTTP {}.",
                response.status
            ),
            next_step: NextStep::ContactSupport,
        });
    }
    parse_config(&response.body).map_err(|e| e.problem())
}

fn pending_key(state: &str) -> String {
    format!("cairn.pending.{state}")
}

fn unreachable_ehr(err: &NetworkError) -> Problem {
    Problem {
        title: "Cairn could not reach your EHR".into(),
        detail: format!("The connection failed ({err}). Check the network and try again."),
        next_step: NextStep::Relaunch,
    }
}

fn browser_problem(err: &dyn std::error::Error) -> Problem {
    Problem {
        title: "This browser cannot run Cairn safely".into(),
        detail: format!("{err}. Open Cairn in an up-to-date browser."),
        next_step: NextStep::ContactSupport,
    }
}

fn internal_problem() -> Problem {
    Problem {
        title: "Cairn stopped unexpectedly".into(),
        detail: "Something inside Cairn failed while starting the sign-in.".into(),
        next_step: NextStep::Relaunch,
    }
}
