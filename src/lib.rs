//! Cairn: a SMART on FHIR app that runs entirely in the browser.
//!
//! The sans-IO core (`http`, `uri`, `smart`, `fhir`, `domain`) holds every protocol and data rule and
//! never touches the browser; `web` does the browser I/O; `app` is the Leptos user interface.
//! `deploy` (pure too) derives what a host must send from the configuration; only the build
//! tools use it. See ARCHITECTURE.md.

pub mod app;
pub mod deploy;
pub mod domain;
pub mod fhir;
pub mod http;
pub mod smart;
#[cfg(test)]
pub(crate) mod testing;
pub mod uri;
pub mod web;
