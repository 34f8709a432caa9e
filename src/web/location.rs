//! The address bar.

/// `location.search`, e.g. `?launch=…&iss=…` (empty when there is none).
pub fn query() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// The page's address without query or fragment: `origin + pathname`.
pub fn page_url() -> String {
    web_sys::window()
        .and_then(|w| {
            let l = w.location();
            Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?))
        })
        .unwrap_or_default()
}

/// Replaces the query (the authorization `code` and `state`) in the address bar and the session
/// history with `query` (e.g. `?instance=…`, or empty), so a reload or Back never presents the
/// code again.
pub fn replace_query(query: &str) {
    if let Some(window) = web_sys::window() {
        let path = window.location().pathname().unwrap_or_else(|_| "/".into());
        if let Ok(history) = window.history() {
            let url = format!("{path}{query}");
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    }
}

/// Leaves Cairn for `url` (the authorization endpoint).
pub fn navigate(url: &str) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    window
        .location()
        .assign(url)
        .map_err(|_| "the browser refused to open the sign-in page".to_owned())
}

/// Loads the page again (the "Try again" button).
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}
