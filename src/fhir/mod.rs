//! FHIR R4 reads, sans IO: request builders and lenient decoders that never panic.

pub mod bundle;
pub mod drill;
pub mod encounter;
pub mod error;
mod json;
pub mod observation;
pub mod pager;
pub mod patient;
pub mod request;
pub mod retry;
pub mod search;
