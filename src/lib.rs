//! Cairn: a SMART on FHIR app that runs entirely in the browser.
//!
//! The sans-IO core (`http`, `smart`, `fhir`, `domain`) holds every protocol and data rule and
//! never touches the browser; `web` does the browser I/O; `app` is the Leptos user interface.
//! See ARCHITECTURE.md.

pub mod app;
pub mod domain;
pub mod fhir;
pub mod http;
pub mod smart;
pub mod web;
