//! palisade-scan: an image's inventory joined with the vulnerability database; ignore rules; the
//! SBOM (CycloneDX, SPDX) and vulnerability reports; and [`Pipeline`], the one way from an image
//! target to a report (`scan image`, `sbom` and `attest` all use it).
//!
//! A crate of its own because it joins `palisade-image`, `palisade-model` and `palisade-vuln`,
//! none of which should depend on another, and the CLI must stay a thin front end. Only
//! `pipeline` (through `palisade-image`) and `artifact` (an OCI model artifact, through
//! `palisade-oci`) do I/O; matching, filtering and reports are pure. It
//! must not depend on the policy engine, the webhook or anything that prints.
#![forbid(unsafe_code)]

pub mod artifact;
pub mod ignore;
pub mod models;
pub mod pipeline;
pub mod report;
pub mod sbom;
pub mod scan;

pub use pipeline::{Inspected, ModelScan, Pipeline, Scanned};
pub use scan::{scan, ImageConfigFinding, ModelScanCoverage, ScanOptions, ScanReport, VulnFinding};
