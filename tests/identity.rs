//! End to end in real headless Chromium: who signed in, as the clinician reads it (issue 14).
//! A person's name or nothing: the id_token's name; else the name in the clinician's own
//! Practitioner resource, read only when the granted scope allows it; else nothing, and never an
//! id (the `fhirUser` id or `sub`) anywhere in the page. Run by `cargo xtask test`.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use fantoccini::{Client, Locator};
use support::*;

/// The development EHR's clinician: the name in its id_token; the name its Practitioner
/// resource reads as by the banner's rules (given and family names); and its id (the
/// `fhirUser` id and the id_token's `sub`).
const PRACTITIONER_NAME: &str = "Dr. Ada Clinician";
const PRACTITIONER_RECORD_NAME: &str = "Ada Clinician";
const PRACTITIONER_ID: &str = "dev-practitioner";
const PRACTITIONER_READ: &str = "/fhir/Practitioner/dev-practitioner";

/// Cairn's default scope, and the Practitioner read a deployer adds to show names from the
/// EHR's record of the clinician.
const WITH_PRACTITIONER_READ: &str = "launch openid fhirUser online_access patient/Patient.rs \
     patient/Encounter.rs patient/Observation.rs user/Practitioner.rs";

fn asking_for_practitioner_read(config: &mut serde_json::Value) {
    config["scope"] = WITH_PRACTITIONER_READ.into();
}

/// Opens the chart of the second patient and waits until the id_token has been checked and,
/// when one was made, the Practitioner read has been answered and shown.
async fn open_and_wait(c: &Client, stack: &Stack) {
    let patient = &stack.ehr.patients()[1];
    open_chart(c, stack, &patient.name).await;
    assert_eq!(text_of(c, ".banner__name").await, patient.name);
    wait_until_loaded(c).await;
    wait_for_identity_check(c).await;
}

async fn signed_in(c: &Client) -> Option<String> {
    match c
        .find_all(Locator::Css(".signed-in"))
        .await
        .unwrap()
        .first()
    {
        Some(element) => Some(element.text().await.unwrap()),
        None => None,
    }
}

fn practitioner_reads(stack: &Stack) -> usize {
    count(&stack.ehr.requests(), "GET", PRACTITIONER_READ)
}

/// The id_token's `name` is shown, and no Practitioner read is made for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_id_tokens_name_is_shown() {
    let stack = start_stack_in(false, asking_for_practitioner_read).await;
    let b = browser().await;
    let c = &b.client;
    open_and_wait(c, &stack).await;
    assert_eq!(
        signed_in(c).await.as_deref(),
        Some(format!("Signed in as {PRACTITIONER_NAME}").as_str())
    );
    assert_eq!(practitioner_reads(&stack), 0, "the token named the user");
}

/// An id_token without `name` (a non-Epic EHR, and Epic's own): the name comes from reading the
/// clinician's Practitioner resource, which the granted scope allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_name_in_the_id_token_the_practitioner_read_names_the_user() {
    let b = browser().await;
    let c = &b.client;
    for epic in [false, true] {
        let stack = start_stack_in(epic, asking_for_practitioner_read).await;
        if !epic {
            stack.ehr.inject(sandbox::Fault::IdTokenWithoutName);
        }
        open_and_wait(c, &stack).await;
        wait_for_text(
            c,
            ".signed-in",
            &format!("Signed in as {PRACTITIONER_RECORD_NAME}"),
        )
        .await;
        assert_eq!(practitioner_reads(&stack), 1, "epic: {epic}");
        assert_no_id_in_the_page(c).await;
        if epic {
            screenshot(c, "identity-from-practitioner-epic").await;
        }
    }
}

/// Without permission to read the Practitioner (the EHR left it out of the grant, or Cairn
/// was not configured to ask), nothing about identity is shown: no name, no id, no request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_permission_nothing_about_identity_is_shown() {
    let b = browser().await;
    let c = &b.client;
    for asked in [true, false] {
        let stack = if asked {
            start_stack_in(false, asking_for_practitioner_read).await
        } else {
            start_stack().await
        };
        stack.ehr.inject(sandbox::Fault::IdTokenWithoutName);
        if asked {
            stack.ehr.inject(sandbox::Fault::PractitionerNotGranted);
        }
        open_and_wait(c, &stack).await;
        // Long enough for a read that should not happen to have been shown.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(signed_in(c).await, None, "asked: {asked}");
        assert_eq!(practitioner_reads(&stack), 0, "asked: {asked}");
        let markup = page_markup(c).await;
        assert!(!markup.contains(PRACTITIONER_RECORD_NAME), "asked: {asked}");
        assert_no_id_in_the_page(c).await;
        if asked {
            screenshot(c, "identity-not-granted").await;
        }
    }
}

/// Neither the `fhirUser` id nor `sub` (both `dev-practitioner`) is in the DOM: text or
/// attributes.
async fn assert_no_id_in_the_page(c: &Client) {
    let markup = page_markup(c).await;
    assert!(!markup.contains(PRACTITIONER_ID), "an id in the page");
    assert!(!markup.contains("Practitioner/"), "a reference in the page");
}
