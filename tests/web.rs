//! Browser-layer tests in real headless Chromium (`wasm-bindgen-test-runner`).
//! Run by `cargo xtask test`: `cargo test --target wasm32-unknown-unknown --test web`.
#![cfg(target_arch = "wasm32")]

use cairn::http::{HttpRequest, Method};
use cairn::smart::id_token::Jwk;
use cairn::web::{http, location, random, storage::SessionStore, webcrypto};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn session_store_values_are_single_use() {
    let store = SessionStore::open().expect("Chromium has sessionStorage");
    store.put("cairn.test.once", "verifier").unwrap();
    assert_eq!(store.take("cairn.test.once").as_deref(), Some("verifier"));
    assert_eq!(store.take("cairn.test.once"), None, "a taken value is gone");
}

/// The browser's lower case, which the chart uses to match and sort people's words, is
/// Rust's `str::to_lowercase` (the native tests' stand-in) in every script Cairn may meet.
#[wasm_bindgen_test]
fn the_browsers_lower_case_is_rusts() {
    for text in [
        "HÉMOGLOBINE",
        "Glucose 5.5 mmol/L",
        "ΓΛΥΚΌΖΗ ΟΔΟΣ",
        "N° DE DOSSIER MÉDICAL",
        "STRASSE ẞ",
        "İSTANBUL",
        "ДОСЬЕ",
        "患者 🙂",
        "",
    ] {
        assert_eq!(cairn::web::lower_case(text), text.to_lowercase(), "{text}");
    }
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
        max_body: 1024,
    };
    let response = http::send(&request).await.expect("a data: URL answers");
    assert_eq!(response.status, 200);
    assert!(response.is_json(), "{:?}", response.content_type);
    assert_eq!(response.body, br#"{"resourceType":"Patient"}"#);
}

#[wasm_bindgen_test]
async fn send_leaves_the_query_as_the_core_wrote_it() {
    // A data: URL answers with everything after the comma, query included: the URL as sent.
    let request = HttpRequest {
        method: Method::Get,
        url: "data:text/plain,echo?patient=p-1&_count=200".into(),
        headers: vec![],
        body: None,
        max_body: 1024,
    };
    let response = http::send(&request).await.expect("a data: URL answers");
    assert_eq!(
        String::from_utf8_lossy(&response.body),
        "echo?patient=p-1&_count=200"
    );
}

#[wasm_bindgen_test]
async fn send_reports_an_unreachable_server_as_a_network_error() {
    let request = HttpRequest {
        method: Method::Get,
        url: "http://127.0.0.1:9/unreachable".into(),
        headers: vec![],
        body: None,
        max_body: 1024,
    };
    assert!(http::send(&request).await.is_err());
}

#[wasm_bindgen_test]
async fn send_stops_reading_a_body_past_the_requests_cap() {
    // A data: URL has no Content-Length: the running count over the stream decides.
    let body = "a".repeat(5000);
    let request = |max_body| HttpRequest {
        method: Method::Get,
        url: format!("data:text/plain,{body}"),
        headers: vec![],
        body: None,
        max_body,
    };
    let whole = http::send(&request(5000)).await.expect("within the cap");
    assert_eq!(whole.body.len(), 5000);
    let err = http::send(&request(4999)).await.expect_err("past the cap");
    assert_eq!(
        err.failure,
        cairn::domain::problem::FetchFailure::TooLarge { max_bytes: 4999 }
    );
}

// RFC 7515 Appendix A.2: an RS256 JWS, its signing input and the RSA public key.
const RFC_A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const RFC_A2_SIGNING_INPUT: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const RFC_A2_SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";

fn rfc_a2_key() -> Jwk {
    Jwk {
        n: RFC_A2_N.into(),
        e: "AQAB".into(),
    }
}

fn rfc_a2_signature() -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(RFC_A2_SIGNATURE)
        .unwrap()
}

#[wasm_bindgen_test]
async fn webcrypto_verifies_the_rfc7515_rs256_example() {
    let valid = webcrypto::verify_rs256(
        &rfc_a2_key(),
        RFC_A2_SIGNING_INPUT.as_bytes(),
        &rfc_a2_signature(),
    )
    .await;
    assert_eq!(valid, Ok(true));
}

#[wasm_bindgen_test]
async fn webcrypto_rejects_a_changed_signature_or_changed_data() {
    let mut signature = rfc_a2_signature();
    signature[100] ^= 0x01;
    let flipped =
        webcrypto::verify_rs256(&rfc_a2_key(), RFC_A2_SIGNING_INPUT.as_bytes(), &signature).await;
    assert_eq!(flipped, Ok(false));

    let mut data = RFC_A2_SIGNING_INPUT.as_bytes().to_vec();
    data[30] ^= 0x01;
    let changed = webcrypto::verify_rs256(&rfc_a2_key(), &data, &rfc_a2_signature()).await;
    assert_eq!(changed, Ok(false));

    let short = webcrypto::verify_rs256(
        &rfc_a2_key(),
        RFC_A2_SIGNING_INPUT.as_bytes(),
        &rfc_a2_signature()[..255],
    )
    .await;
    assert_eq!(short, Ok(false));
}

#[wasm_bindgen_test]
async fn webcrypto_reports_an_unusable_key_as_an_error() {
    let bad_keys = [
        Jwk {
            n: "not base64url!".into(),
            e: "AQAB".into(),
        },
        Jwk {
            n: String::new(),
            e: String::new(),
        },
    ];
    for key in bad_keys {
        let result =
            webcrypto::verify_rs256(&key, RFC_A2_SIGNING_INPUT.as_bytes(), &rfc_a2_signature())
                .await;
        let error = result.expect_err("an unusable key is an error");
        assert!(!error.0.is_empty());
        assert!(!error.to_string().contains(RFC_A2_SIGNING_INPUT));
    }
}

/// The whole split end to end: a key pair made by WebCrypto, its public half read through
/// `parse_jwks`, an id_token signed with its private half, then `prepare`, `verify_rs256` and
/// `accept`. A token whose claims were swapped after signing is refused.
#[wasm_bindgen_test]
async fn an_id_token_signed_in_the_browser_passes_prepare_verify_and_accept() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use cairn::http::HttpResponse;
    use cairn::smart::id_token::{self, Expected, FhirUser, IdTokenError};
    use cairn::smart::secret::IdToken;
    use js_sys::{Array, Object, Reflect, Uint8Array};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::CryptoKey;

    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let get =
        |object: &JsValue, name: &str| Reflect::get(object, &JsValue::from_str(name)).unwrap();
    let algorithm = Object::new();
    for (name, value) in [
        ("name", JsValue::from_str("RSASSA-PKCS1-v1_5")),
        ("modulusLength", JsValue::from_f64(2048.0)),
        ("publicExponent", Uint8Array::from(&[1u8, 0, 1][..]).into()),
        ("hash", JsValue::from_str("SHA-256")),
    ] {
        Reflect::set(&algorithm, &JsValue::from_str(name), &value).unwrap();
    }
    let usages = Array::of2(&JsValue::from_str("sign"), &JsValue::from_str("verify"));
    let pair = JsFuture::from(
        subtle
            .generate_key_with_object(&algorithm, true, &usages)
            .unwrap(),
    )
    .await
    .unwrap();
    let private: CryptoKey = get(&pair, "privateKey").unchecked_into();
    let public: CryptoKey = get(&pair, "publicKey").unchecked_into();
    let exported = JsFuture::from(subtle.export_key("jwk", &public).unwrap())
        .await
        .unwrap();
    let (n, e) = (
        get(&exported, "n").as_string().unwrap(),
        get(&exported, "e").as_string().unwrap(),
    );

    let jwks_body = serde_json::json!({"keys": [
        {"kty": "RSA", "kid": "other", "n": RFC_A2_N, "e": "AQAB"},
        {"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": n, "e": e},
    ]});
    let jwks = id_token::parse_jwks(&HttpResponse {
        status: 200,
        content_type: Some("application/json".into()),
        body: jwks_body.to_string().into_bytes(),
    })
    .unwrap();

    let now_s = js_sys::Date::now() / 1000.0;
    let b64 = |value: serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let header = b64(serde_json::json!({"alg": "RS256", "kid": "k1", "typ": "JWT"}));
    let claims = |sub: &str| {
        b64(serde_json::json!({
            "iss": "https://ehr.example/oauth2", "aud": "cairn", "sub": sub,
            "exp": now_s + 300.0, "iat": now_s, "fhirUser": "Practitioner/p1", "name": "Dr. Ada",
        }))
    };
    let signing_input = format!("{header}.{}", claims("user-1"));
    let signature = JsFuture::from(
        subtle
            .sign_with_str_and_u8_array("RSASSA-PKCS1-v1_5", &private, signing_input.as_bytes())
            .unwrap(),
    )
    .await
    .unwrap();
    let signature = URL_SAFE_NO_PAD.encode(Uint8Array::new(&signature).to_vec());
    let expected = Expected {
        issuer: "https://ehr.example/oauth2".into(),
        client_id: "cairn".into(),
        fhir_base: "https://ehr.example/fhir".into(),
    };

    let check = |raw: String| {
        let jwks = jwks.clone();
        let expected = expected.clone();
        async move {
            let pending = id_token::prepare(&IdToken::new(raw), &jwks, &expected, now_s)?;
            let valid =
                webcrypto::verify_rs256(&pending.key, &pending.signing_input, &pending.signature)
                    .await
                    .map_err(|_| IdTokenError::SignatureNotChecked)?;
            pending.accept(valid)
        }
    };

    let user = check(format!("{signing_input}.{signature}")).await.unwrap();
    assert_eq!(user.subject, "user-1");
    assert_eq!(
        user.fhir_user,
        Some(FhirUser {
            resource_type: "Practitioner".into(),
            id: "p1".into(),
        })
    );
    assert_eq!(user.display_name.as_deref(), Some("Dr. Ada"));

    let swapped = format!("{header}.{}.{signature}", claims("someone-else"));
    assert_eq!(check(swapped).await, Err(IdTokenError::BadSignature));
}

fn root_style() -> web_sys::CssStyleDeclaration {
    use wasm_bindgen::JsCast;
    let root = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .expect("a document element");
    root.dyn_into::<web_sys::HtmlElement>().unwrap().style()
}

#[wasm_bindgen_test]
fn style_apply_sets_custom_properties_on_the_root_element() {
    let response = cairn::http::HttpResponse {
        status: 200,
        content_type: Some("application/json".into()),
        body: br##"{"color_background":"#edeae3","color_text":"red; background:url(//evil)","dim_border_radius":"6px","font_family_body":"Georgia, 'Times New Roman', serif"}"##.to_vec(),
    };
    let properties = cairn::smart::style::parse_style(&response).unwrap();
    cairn::web::style::apply(&properties);
    // Not a custom property: never set, whatever the caller passes.
    cairn::web::style::apply(&[("color", "red".to_string())]);

    let style = root_style();
    let read = |name: &str| style.get_property_value(name).unwrap();
    assert_eq!(read("--cairn-bg"), "#edeae3");
    assert_eq!(read("--cairn-radius"), "6px");
    assert_eq!(read("--cairn-font"), "Georgia, 'Times New Roman', serif");
    assert_eq!(read("--cairn-text"), "", "a hostile value is never applied");
    assert_eq!(read("color"), "");
    for name in ["--cairn-bg", "--cairn-radius", "--cairn-font"] {
        style.remove_property(name).unwrap();
    }
}
