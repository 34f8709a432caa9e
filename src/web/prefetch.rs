//! The launch page names the full app's script and wasm and the chart's styles as `<link
//! rel="prefetch">` (written by `cargo xtask dist`, added to the page by web/prefetch.js: at
//! once for an EHR launch, once this wasm runs for the standalone start page), so the browser
//! fetches them at the lowest priority into the HTTP cache (the files are immutable), and the
//! callback page finds them there.
//!
//! Chromium cancels a prefetch that is still under way when the page that asked for it goes
//! away (the authorization server's page, or the callback page, replaces it): the callback page
//! then downloads the whole app again (`docs/performance.md`). So the launch page waits for the
//! prefetch to finish, for at most [`MAX_WAIT_MS`], before it leaves for the sign-in.

use wasm_bindgen::JsCast;

use super::clock;

/// The longest the launch page holds the sign-in back for the prefetch. The chart needs the
/// app anyway, and a cancelled prefetch is downloaded again from the start, so waiting costs
/// nothing on a sign-in that returns at once (an EHR's single sign-on); only a network too slow
/// to fetch the app in this time lets the sign-in go first.
pub const MAX_WAIT_MS: f64 = 8_000.0;

/// How often the Resource Timing entries are looked at while waiting.
const POLL_MS: f64 = 25.0;

/// Resolves when every `<link rel="prefetch">` of the page has been fetched (each has its
/// Resource Timing entry, added when its last byte arrived; Chromium adds one for a prefetch
/// that could not connect too), or after `max_ms` (a prefetch that hangs); at once on a page
/// without any (the full app, or a development build).
pub async fn finished(max_ms: f64) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let (Some(document), Some(performance)) = (window.document(), window.performance()) else {
        return;
    };
    let Ok(links) = document.query_selector_all("link[rel=\"prefetch\"]") else {
        return;
    };
    let urls: Vec<String> = (0..links.length())
        .filter_map(|i| links.item(i)?.dyn_into::<web_sys::HtmlLinkElement>().ok())
        .map(|link| link.href())
        .collect();
    let start = clock::monotonic_ms();
    while urls
        .iter()
        .any(|url| performance.get_entries_by_name(url).length() == 0)
        && clock::monotonic_ms() - start < max_ms
    {
        clock::sleep_ms(POLL_MS).await;
    }
}
