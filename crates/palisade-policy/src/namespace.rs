//! The Pod Security level a namespace enforces, from its `pod-security.kubernetes.io/*` labels.

use std::collections::BTreeMap;

use palisade_pss::{Level, LevelVersion, Version};

pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";

/// A namespace's enforce policy, and what was wrong with its labels (upstream keeps evaluating
/// with a fallback, and so do we; the problems are reported as warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePolicy {
    pub enforce: LevelVersion,
    pub label_errors: Vec<String>,
}

impl NamespacePolicy {
    /// Upstream's `PolicyToEvaluate` for the enforce mode: a missing label keeps the default; an
    /// invalid level falls back to `restricted`, an invalid version to `latest`.
    pub fn from_labels(labels: &BTreeMap<String, String>, defaults: LevelVersion) -> Self {
        let mut enforce = defaults;
        let mut label_errors = Vec::new();
        if let Some(level) = labels.get(ENFORCE_LABEL) {
            enforce.level = level.parse().unwrap_or_else(|e| {
                label_errors.push(format!("{ENFORCE_LABEL}: {e}"));
                Level::Restricted
            });
        }
        if let Some(version) = labels.get(ENFORCE_VERSION_LABEL) {
            enforce.version = version.parse().unwrap_or_else(|e| {
                label_errors.push(format!("{ENFORCE_VERSION_LABEL}: {e}"));
                Version::Latest
            });
        }
        Self {
            enforce,
            label_errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const DEFAULT: LevelVersion = LevelVersion {
        level: Level::Baseline,
        version: Version::Minor(30),
    };

    #[test]
    fn labels_override_defaults() {
        let p = NamespacePolicy::from_labels(
            &labels(&[
                (ENFORCE_LABEL, "restricted"),
                (ENFORCE_VERSION_LABEL, "v1.25"),
            ]),
            DEFAULT,
        );
        assert_eq!(p.enforce.to_string(), "restricted:v1.25");
        assert!(p.label_errors.is_empty());
        let p = NamespacePolicy::from_labels(&labels(&[(ENFORCE_LABEL, "privileged")]), DEFAULT);
        assert_eq!(p.enforce.to_string(), "privileged:v1.30");
        assert_eq!(
            NamespacePolicy::from_labels(&labels(&[]), DEFAULT).enforce,
            DEFAULT
        );
    }

    #[test]
    fn invalid_labels_fall_back_like_upstream() {
        let p = NamespacePolicy::from_labels(
            &labels(&[(ENFORCE_LABEL, "strict"), (ENFORCE_VERSION_LABEL, "1.25")]),
            DEFAULT,
        );
        assert_eq!(p.enforce.to_string(), "restricted:latest");
        assert_eq!(p.label_errors.len(), 2);
    }
}
