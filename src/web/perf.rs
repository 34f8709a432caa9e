//! Performance marks (`performance.mark`) that `cargo xtask bench` reads through the driver:
//! when the banner and the first observations were painted, and when every search had
//! finished; and, for the end-to-end tests, when the id_token check had ended (so that a test
//! can tell "no name shown" from "not yet checked"). Each mark is set once per page, after the
//! frame that shows the change.

use std::cell::{Cell, RefCell};
use std::future::Future;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

pub const BANNER: &str = "cairn:banner";
pub const FIRST_OBSERVATIONS: &str = "cairn:first-observations";
pub const ALL_LOADED: &str = "cairn:all-loaded";
/// The id_token check of the chart's sign-in has ended: the name is shown, or will not be.
pub const IDENTITY_CHECKED: &str = "cairn:identity-checked";

thread_local! {
    static MARKED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    static SEARCHES: Cell<u32> = const { Cell::new(0) };
}

/// Marks `name` once: after the next animation frame has been painted (a `setTimeout` queued
/// from `requestAnimationFrame` runs after that frame).
pub fn mark_after_paint(name: &'static str) {
    let first = MARKED.with(|m| {
        let mut m = m.borrow_mut();
        let first = !m.contains(&name);
        if first {
            m.push(name);
        }
        first
    });
    let Some(window) = web_sys::window().filter(|_| first) else {
        return;
    };
    let after_paint = Closure::once_into_js(move || {
        if let Some(window) = web_sys::window() {
            let mark = Closure::once_into_js(move || {
                if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
                    let _ = performance.mark(name);
                }
            });
            let _ = window.set_timeout_with_callback(mark.unchecked_ref());
        }
    });
    let _ = window.request_animation_frame(after_paint.unchecked_ref());
}

/// `search`, counted from now until it ends; when no search is left, [`ALL_LOADED`] is marked.
pub fn tracked<F: Future>(search: F) -> impl Future<Output = F::Output> {
    SEARCHES.with(|n| n.set(n.get() + 1));
    async move {
        let out = search.await;
        let left = SEARCHES.with(|n| {
            n.set(n.get().saturating_sub(1));
            n.get()
        });
        if left == 0 {
            mark_after_paint(ALL_LOADED);
        }
        out
    }
}
