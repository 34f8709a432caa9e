//! "About Cairn": the version and the build, for whoever answers a support call.

use leptos::prelude::*;

/// Cairn's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit the build was made from: `cargo xtask dist` sets it from
/// `git rev-parse --short=12 HEAD`, with `-modified` when the work tree had uncommitted changes.
pub const COMMIT: Option<&str> = option_env!("CAIRN_COMMIT");

/// Shown at the foot of every screen, folded away until asked for.
#[component]
pub fn About() -> impl IntoView {
    view! {
        <footer class="about">
            <details>
                <summary>"About Cairn"</summary>
                <dl class="about__facts">
                    <dt>"Version"</dt>
                    <dd class="about__version">{VERSION}</dd>
                    <dt>"Build"</dt>
                    <dd class="about__commit">{COMMIT.unwrap_or("not recorded")}</dd>
                </dl>
                <p>"If you contact support about Cairn, tell them this version and build."</p>
            </details>
        </footer>
    }
}
