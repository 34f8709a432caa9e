//! The launch page (`launch.html`): an EHR launch or the standalone start page, up to the
//! authorize redirect. The callback (`redirect_uri`, `index.html`) runs the full app.
fn main() {
    cairn::app::start_launch();
}
