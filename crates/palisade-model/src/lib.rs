//! palisade-model: finds code-executing payloads in model files (pickle, joblib, PyTorch, NumPy,
//! Keras) without ever loading them, and validates the headers of the formats that cannot carry
//! code (safetensors, ONNX, GGUF). Formats are recognised by content, not by file name; any stream
//! CPython's unpickler would execute is scanned as a pickle whatever else it looks like. Its
//! findings name rules of [`rules::TABLE`].
//!
//! It reads the files and archives it is given and nothing else: no network, no printing. It
//! depends on no palisade crate but `palisade-diagnostics`, so that image scanning and the CLI
//! can use it without pulling in the Kubernetes wing.
#![forbid(unsafe_code)]

pub mod finding;
pub mod formats;
pub mod pickle;
pub mod policy;
pub mod report;
pub mod rules;
pub mod scan;

mod archive;
mod compress;
mod gguf;
mod keras;
mod numpy;
#[cfg(test)]
mod pickle_openers_tests;
mod protobuf;
mod safetensors;
mod stream;
#[cfg(test)]
mod testutil;
mod zipfile;

pub use finding::{Finding, Location, Severity};
pub use scan::{scan_bytes, scan_path, scan_read, FileReport, ScanOptions, ScanOutcome};
