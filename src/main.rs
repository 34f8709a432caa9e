fn main() {
    console_error_panic_hook::set_once();
    cairn::web::remove_boot_message();
    leptos::mount::mount_to_body(cairn::app::App);
}
