//! The browser layer: the only code that touches `web_sys`, `gloo` and `getrandom`.
//!
//! Each function is a thin shell around one browser API. Errors are plain Rust values (no
//! `JsValue`) so they can cross into the user interface and the core's types.

pub mod clock;
pub mod fhir_client;
pub mod http;
pub mod location;
pub mod perf;
pub mod prefetch;
pub mod random;
pub mod storage;
pub mod style;
pub mod webcrypto;

/// Lower case for people's words, by the browser's `String.prototype.toLowerCase` (the
/// core's [`LowerCase`](crate::domain::LowerCase)): the same Unicode mapping as
/// `str::to_lowercase`, without its tables in the wasm.
pub fn lower_case(text: &str) -> String {
    js_sys::JsString::from(text).to_lower_case().into()
}

/// Removes the static "Loading Cairn…" message that `index.html` shows until the app starts.
pub fn remove_boot_message() {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        el.remove();
    }
}

/// True when `web/boot.js` found the browser lacking WebAssembly, a CSPRNG or sessionStorage.
pub fn browser_unsupported() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .is_some_and(|el| {
            el.class_name()
                .split_whitespace()
                .any(|c| c == "cairn-unsupported")
        })
}
