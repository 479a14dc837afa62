//! palisade-pss: the Pod Security Standards, checked exactly as upstream Pod Security Admission
//! checks them, for every policy version from v1.0 to the newest, with upstream's messages.
//!
//! Pure: no I/O. Give it a pod's metadata and spec; get back upstream's verdict and message, plus
//! where in the pod each violation is. It depends on `palisade-core` alone: never on the policy
//! engine, the webhook or anything that reads files or the network.
#![forbid(unsafe_code)]

mod checks;
mod format;
pub mod level;
pub mod registry;
pub mod violation;

pub use level::{InvalidLevel, InvalidVersion, Level, LevelVersion, Version, NEWEST_MINOR};
pub use registry::{
    checks_for, evaluate, evaluate_as_written, CheckInfo, Evaluation, Failure, CHECKS,
};
pub use violation::{Location, Subject, Violation};

/// Rule metadata for every check, for SARIF and documentation.
pub fn rules() -> Vec<palisade_core::report::RuleMeta> {
    CHECKS
        .iter()
        .map(|c| palisade_core::report::RuleMeta {
            id: c.rule_id(),
            name: c.id.to_owned(),
            short_description: format!("Pod Security Standards ({}): {}", c.level, c.title),
            full_description: c.description.to_owned(),
            help: format!("Fix: {}.", c.hint),
            help_uri: Some(
                "https://kubernetes.io/docs/concepts/security/pod-security-standards/".to_owned(),
            ),
            severity: c.severity(),
        })
        .collect()
}
