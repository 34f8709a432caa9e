//! SMART App Launch 2.2 for a public browser client, sans IO.
//!
//! This module builds requests as data and parses responses; it performs no network I/O, reads
//! no clock and no random source (callers pass `now_ms` and random bytes), and never panics on
//! input. The browser layer (`crate::web`) sends what it builds.

pub mod authorize;
pub mod brands;
pub mod callback;
pub mod config;
pub mod discovery;
pub mod id_token;
pub mod launch;
pub mod pkce;
pub mod scope;
pub mod secret;
pub mod session;
pub mod style;
pub mod token;
pub mod urls;
