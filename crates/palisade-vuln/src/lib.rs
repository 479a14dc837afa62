//! palisade-vuln: vulnerability data (OSV records), version order per ecosystem, severity, and
//! matching, all pure; and the local database (`db`): import, storage and lookup, the one module
//! that touches files.
#![forbid(unsafe_code)]

pub mod db;
pub mod matcher;
pub mod osv;
pub mod severity;
pub mod version;

pub use matcher::{matches, Match};
pub use osv::Record;
pub use severity::{rate, Rating, RatingSource, Severity};
pub use version::Ecosystem;
