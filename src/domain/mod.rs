//! Pure view models: what the screens show, computed from core data. No I/O.

pub mod banner;
pub mod encounters;
pub mod problem;
pub mod results;
pub mod table;
pub mod time;
