//! palisade-scan: an image's inventory joined with the vulnerability database; ignore rules; the
//! SBOM (CycloneDX, SPDX) and vulnerability reports. Pure: the caller opens images and databases.
//!
//! A crate of its own because it joins `palisade-image` and `palisade-vuln`, neither of which
//! should depend on the other, and the CLI must stay a thin front end.
#![forbid(unsafe_code)]

pub mod ignore;
pub mod models;
pub mod report;
pub mod sbom;
pub mod scan;

pub use scan::{scan, ModelScanCoverage, ScanOptions, ScanReport, VulnFinding};
