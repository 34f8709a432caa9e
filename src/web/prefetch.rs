//! Fetching the full app ahead of time from the launch page. `cargo xtask dist` names the full
//! app's script and wasm in the launch page's `<meta name="cairn-app">`; each becomes a
//! `<link rel="prefetch">`, which Chromium fetches at the lowest priority, keeps going across
//! the navigation to the authorization server, and stores in the HTTP cache (the files are
//! immutable), so the callback page finds them there.

/// The meta element `cargo xtask dist` writes into `launch.html`.
pub const META_NAME: &str = "cairn-app";

/// Adds a `<link rel="prefetch">` for every file of the full app, once. Does nothing on a page
/// without the meta element (a development build).
pub fn full_app() {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let files = document
        .query_selector(&format!("meta[name=\"{META_NAME}\"]"))
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"))
        .unwrap_or_default();
    let Some(head) = document.query_selector("head").ok().flatten() else {
        return;
    };
    for file in files.split_whitespace() {
        let selector = format!("link[rel=\"prefetch\"][href=\"{file}\"]");
        if document.query_selector(&selector).ok().flatten().is_some() {
            continue;
        }
        if let Ok(link) = document.create_element("link") {
            let _ = link.set_attribute("rel", "prefetch");
            let _ = link.set_attribute("href", file);
            let _ = link.set_attribute("crossorigin", "anonymous");
            let _ = head.append_child(&link);
        }
    }
}
