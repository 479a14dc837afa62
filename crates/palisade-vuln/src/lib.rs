//! palisade-vuln: vulnerability data (OSV records), version order per ecosystem, and matching.
//! Pure: no I/O beyond what the caller hands in.
#![forbid(unsafe_code)]

pub mod matcher;
pub mod osv;
pub mod version;

pub use matcher::{matches, Match};
pub use osv::Record;
pub use version::Ecosystem;
