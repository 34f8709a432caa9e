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

/// `location.hash`, e.g. `#vitals` (empty when there is none).
pub fn fragment() -> String {
    web_sys::window()
        .and_then(|w| w.location().hash().ok())
        .unwrap_or_default()
}

/// Goes to the fragment `#id` (a new history entry, and a `hashchange`).
pub fn show_fragment(id: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_hash(id);
    }
}

/// Sets the fragment to `#id` in place (no new history entry, no `hashchange`).
pub fn replace_fragment(id: &str) {
    if let Some(window) = web_sys::window() {
        let l = window.location();
        let url = format!(
            "{}{}#{id}",
            l.pathname().unwrap_or_default(),
            l.search().unwrap_or_default()
        );
        if let Ok(history) = window.history() {
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

/// Leaves Cairn by submitting a POST form to `action` (the authorization endpoint, for
/// `authorize-post`). The fields are set as DOM properties, never parsed as HTML.
pub fn submit_form(action: &str, fields: &[(String, String)]) -> Result<(), String> {
    use wasm_bindgen::JsCast;
    let failed = || "the browser refused to open the sign-in page".to_owned();
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let form: web_sys::HtmlFormElement = document
        .create_element("form")
        .map_err(|_| failed())?
        .dyn_into()
        .map_err(|_| failed())?;
    form.set_method("post");
    form.set_action(action);
    form.set_hidden(true);
    for (name, value) in fields {
        let input: web_sys::HtmlInputElement = document
            .create_element("input")
            .map_err(|_| failed())?
            .dyn_into()
            .map_err(|_| failed())?;
        input.set_type("hidden");
        input.set_name(name);
        input.set_value(value);
        form.append_child(&input).map_err(|_| failed())?;
    }
    document
        .body()
        .ok_or_else(failed)?
        .append_child(&form)
        .map_err(|_| failed())?;
    form.submit().map_err(|_| failed())
}

/// Loads the page again (the "Try again" button).
pub fn reload() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}
