//! RS256 signature checks with WebCrypto (`crypto.subtle`), for id_token verification.
//!
//! The core (`smart::id_token::prepare`) decides what must be verified with which key; this
//! module only asks the browser whether the signature holds.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use crate::smart::id_token::Jwk;

/// WebCrypto is missing, refused the key, or failed. The message is the browser's error name and
/// message (never key material or signed data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the browser could not check a signature: {0}")]
pub struct CryptoError(pub String);

const RSASSA: &str = "RSASSA-PKCS1-v1_5";

/// True when `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `signing_input` by
/// the RSA public key `key`; an error when the browser cannot tell (no WebCrypto, unusable key).
pub async fn verify_rs256(
    key: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<bool, CryptoError> {
    let subtle = subtle()?;
    let jwk = object(&[
        ("kty", "RSA".into()),
        ("n", key.n.as_str().into()),
        ("e", key.e.as_str().into()),
        ("alg", "RS256".into()),
        ("ext", JsValue::TRUE),
    ])?;
    let algorithm = object(&[("name", RSASSA.into()), ("hash", "SHA-256".into())])?;
    let usages = Array::of1(&JsValue::from_str("verify"));
    let import = subtle
        .import_key_with_object("jwk", &jwk, &algorithm, false, &usages)
        .map_err(js_error)?;
    let crypto_key: CryptoKey = JsFuture::from(import)
        .await
        .map_err(js_error)?
        .dyn_into()
        .map_err(|_| CryptoError("importKey did not return a key".into()))?;
    let verify = subtle
        .verify_with_str_and_u8_array_and_u8_array(RSASSA, &crypto_key, signature, signing_input)
        .map_err(js_error)?;
    JsFuture::from(verify)
        .await
        .map_err(js_error)?
        .as_bool()
        .ok_or_else(|| CryptoError("verify did not return a boolean".into()))
}

fn subtle() -> Result<SubtleCrypto, CryptoError> {
    let window = web_sys::window().ok_or_else(|| CryptoError("no window".into()))?;
    let crypto = window.crypto().map_err(js_error)?;
    // `crypto.subtle` is undefined outside secure contexts (plain http other than localhost).
    let subtle = Reflect::get(&crypto, &JsValue::from_str("subtle")).map_err(js_error)?;
    if subtle.is_undefined() || subtle.is_null() {
        return Err(CryptoError(
            "WebCrypto is unavailable (not a secure context)".into(),
        ));
    }
    Ok(crypto.subtle())
}

fn object(fields: &[(&str, JsValue)]) -> Result<Object, CryptoError> {
    let object = Object::new();
    for (name, value) in fields {
        Reflect::set(&object, &JsValue::from_str(name), value).map_err(js_error)?;
    }
    Ok(object)
}

/// `name: message` of a JavaScript error (a `DOMException` from WebCrypto), as plain text.
fn js_error(value: JsValue) -> CryptoError {
    let field = |name: &str| {
        Reflect::get(&value, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    let text = match (field("name"), field("message")) {
        (Some(name), Some(message)) if !message.is_empty() => format!("{name}: {message}"),
        (Some(name), _) => name,
        (None, Some(message)) => message,
        (None, None) => value
            .as_string()
            .unwrap_or_else(|| "unknown error".to_owned()),
    };
    CryptoError(text)
}
