//! Browser-layer tests in real headless Chromium (`wasm-bindgen-test-runner`).
//! Run by `cargo xtask test`: `cargo test --target wasm32-unknown-unknown --test web`.
#![cfg(target_arch = "wasm32")]

use cairn::http::{HttpRequest, Method};
use cairn::web::{http, location, random, storage::SessionStore};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn session_store_values_are_single_use() {
    let store = SessionStore::open().expect("Chromium has sessionStorage");
    store.put("cairn.test.once", "verifier").unwrap();
    assert_eq!(store.take("cairn.test.once").as_deref(), Some("verifier"));
    assert_eq!(store.take("cairn.test.once"), None, "a taken value is gone");
}

#[wasm_bindgen_test]
fn random_bytes_come_from_the_browser_csprng() {
    let a = random::random_bytes::<32>().unwrap();
    let b = random::random_bytes::<32>().unwrap();
    assert_ne!(a, b);
    assert_ne!(a, [0u8; 32]);
}

#[wasm_bindgen_test]
fn replace_query_removes_code_and_state_from_the_address_bar() {
    let window = web_sys::window().unwrap();
    let history = window.history().unwrap();
    let path = window.location().pathname().unwrap();
    history
        .replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}?code=SECRET-CODE&state=abc")),
        )
        .unwrap();
    assert!(location::query().contains("SECRET-CODE"));
    location::replace_query("?instance=i1");
    assert_eq!(location::query(), "?instance=i1");
    location::replace_query("");
    assert_eq!(location::query(), "");
    assert!(!window.location().href().unwrap().contains("SECRET-CODE"));
}

#[wasm_bindgen_test]
async fn send_reads_status_content_type_and_body() {
    let request = HttpRequest {
        method: Method::Get,
        url: "data:application/fhir+json,%7B%22resourceType%22%3A%22Patient%22%7D".into(),
        headers: vec![("Accept".into(), "application/fhir+json".into())],
        body: None,
    };
    let response = http::send(&request).await.expect("a data: URL answers");
    assert_eq!(response.status, 200);
    assert!(response.is_json(), "{:?}", response.content_type);
    assert_eq!(response.body, br#"{"resourceType":"Patient"}"#);
}

#[wasm_bindgen_test]
async fn send_reports_an_unreachable_server_as_a_network_error() {
    let request = HttpRequest {
        method: Method::Get,
        url: "http://127.0.0.1:9/unreachable".into(),
        headers: vec![],
        body: None,
    };
    assert!(http::send(&request).await.is_err());
}
