//! The launch page (`launch.html`): an EHR launch or the standalone start page, up to the
//! authorize redirect. The callback (`redirect_uri`, `index.html`) runs the full app.
fn main() {
    console_error_panic_hook::set_once();
    // web/boot.js has already told the user what this browser lacks.
    if cairn::web::browser_unsupported() {
        return;
    }
    cairn::web::remove_boot_message();
    leptos::mount::mount_to_body(cairn::app::Launch);
}
