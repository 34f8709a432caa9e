fn main() {
    console_error_panic_hook::set_once();
    // web/boot.js has already told the user what this browser lacks.
    if cairn::web::browser_unsupported() {
        return;
    }
    cairn::web::remove_boot_message();
    leptos::mount::mount_to_body(cairn::app::App);
}
