//! Cairn's backend-services companion: a native command-line client that authenticates as
//! itself (SMART Backend Services' signed client assertion, or a client secret) and exports
//! one patient's record by MRN. It reuses the app's sans-IO core (`cairn`: discovery, token
//! parsing, the FHIR decoders, the pager and its guards, retries) and adds what a server needs
//! and a browser must never hold: a private key or a secret. See docs/backend.md.
//!
//! Pure and unit-tested: [`assertion`], [`grant`], [`export`], [`config`]; I/O: [`keys`] (files)
//! and [`client`] (HTTP).

#![forbid(unsafe_code)]

pub mod assertion;
pub mod client;
pub mod config;
pub mod export;
pub mod grant;
pub mod keys;
