//! Fetching the full app ahead of time from the launch page. `cargo xtask dist` names the full
//! app's script and wasm in the launch page's `<meta name="cairn-app">`; each becomes a
//! `<link rel="prefetch">`, which Chromium fetches at the lowest priority and stores in the HTTP
//! cache (the files are immutable), so the callback page finds them there.
//!
//! Chromium cancels a prefetch that is still under way when the page that asked for it goes
//! away (the authorization server's page, or the callback page, replaces it): the callback page
//! then downloads the whole app again (`docs/performance.md`). So the launch page waits for the
//! prefetch to finish, for at most [`MAX_WAIT_MS`], before it leaves for the sign-in.

use std::cell::RefCell;

use wasm_bindgen::JsCast;

/// The meta element `cargo xtask dist` writes into `launch.html`.
pub const META_NAME: &str = "cairn-app";

/// The longest the launch page holds the sign-in back for the prefetch. The chart needs the
/// app anyway, and a cancelled prefetch is downloaded again from the start, so waiting costs
/// nothing on a sign-in that returns at once (an EHR's single sign-on); only a network too slow
/// to fetch the app in this time lets the sign-in go first.
pub const MAX_WAIT_MS: f64 = 8_000.0;

thread_local! {
    /// Settles when every prefetch has loaded or failed (`Promise.all` of their events).
    static SETTLED: RefCell<Option<js_sys::Promise>> = const { RefCell::new(None) };
}

/// Adds a `<link rel="prefetch">` for every file of the full app, once. Does nothing on a page
/// without the meta element (a development build, or the full app itself).
pub fn full_app() {
    if SETTLED.with(|s| s.borrow().is_some()) {
        return;
    }
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
    let loads = js_sys::Array::new();
    for file in files.split_whitespace() {
        let Some(link) = document
            .create_element("link")
            .ok()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        else {
            continue;
        };
        let _ = link.set_attribute("rel", "prefetch");
        let _ = link.set_attribute("href", file);
        let _ = link.set_attribute("crossorigin", "anonymous");
        // Loaded or failed, either way nothing more to wait for.
        loads.push(&js_sys::Promise::new(&mut |resolve, _reject| {
            link.set_onload(Some(&resolve));
            link.set_onerror(Some(&resolve));
        }));
        if head.append_child(&link).is_err() {
            return;
        }
    }
    SETTLED.with(|s| *s.borrow_mut() = Some(js_sys::Promise::all(&loads)));
}

/// Resolves when the prefetch [`full_app`] started has finished, or after `max_ms`; at once
/// when none was started.
pub async fn finished(max_ms: f64) {
    let Some(settled) = SETTLED.with(|s| s.borrow().clone()) else {
        return;
    };
    let loaded = wasm_bindgen_futures::JsFuture::from(settled);
    let deadline = super::clock::sleep_ms(max_ms);
    futures::future::select(Box::pin(loaded), Box::pin(deadline)).await;
}
