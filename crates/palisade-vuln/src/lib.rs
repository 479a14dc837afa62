//! palisade-vuln: vulnerability data (OSV records), version order per ecosystem, severity (mapped
//! onto `palisade-diagnostics`' scale), and matching, all pure; and the local database (`db`):
//! import, storage and lookup, the one module that touches files. It must not depend on image
//! reading, the scan or the registry client (`db push`/`pull` move its file through
//! `palisade-oci` in the CLI).
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
