fn main() {
    cairn::app::start();
}
