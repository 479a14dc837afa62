//! palisade-diagnostics: what every domain's findings have in common. One [`Severity`] scale
//! onto which each domain maps its own (Pod Security levels, vulnerability ratings, the model
//! scanner's dangerous/suspicious/info), a [`Rule`] table per domain (stable code, default
//! severity, title, help) on the model of `palisade-pss`'s registry, and the SARIF 2.1.0 pieces
//! (levels, security-severity, artifact URIs, fingerprints, the document) that every SARIF report
//! is written with, so that none is written twice. Each domain converts its findings into one
//! [`Diagnostic`] type, from which SARIF results, severity counts and the exit code are derived.
//!
//! A crate of its own, below every domain crate, because the lightest of them (the model scanner)
//! must not pull in the YAML reader or the Kubernetes types to share them. It must depend on
//! nothing but serde: no I/O, no domain.
#![forbid(unsafe_code)]

pub mod diagnostic;
pub mod report;
pub mod rules;
pub mod sarif;
pub mod severity;

pub use diagnostic::{by_severity, fails, Diagnostic, Location, LogicalLocation};
pub use rules::{Rule, RuleTable};

/// `n` and the noun in the number it takes: `1 error`, `2 errors`, `1 vulnerability`. Every
/// report's summary line counts with it.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}
pub use severity::Severity;
