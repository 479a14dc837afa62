//! The Pod Security policy of a namespace, from its `pod-security.kubernetes.io/*` labels.

use std::collections::BTreeMap;

use palisade_pss::{Level, LevelVersion, Version};

use crate::config::NamespaceLabels;

pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
pub const WARN_LABEL: &str = "pod-security.kubernetes.io/warn";
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";
pub const AUDIT_LABEL: &str = "pod-security.kubernetes.io/audit";
pub const AUDIT_VERSION_LABEL: &str = "pod-security.kubernetes.io/audit-version";

/// A namespace's policy in each mode, and what was wrong with its labels (upstream keeps
/// evaluating with fallbacks, and so do we; the problems are reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePolicy {
    pub enforce: LevelVersion,
    pub warn: LevelVersion,
    pub audit: LevelVersion,
    pub label_errors: Vec<String>,
}

impl NamespacePolicy {
    /// The policy when a namespace has no labels.
    pub fn uniform(defaults: LevelVersion) -> Self {
        Self {
            enforce: defaults,
            warn: defaults,
            audit: defaults,
            label_errors: Vec::new(),
        }
    }

    /// Upstream's `PolicyToEvaluate`: a missing label keeps the default; an invalid enforce level
    /// falls back to `restricted`, an invalid warn or audit level to `privileged` (fail open), an
    /// invalid version to `latest`; warn follows a stricter enforce level unless set itself.
    pub fn from_labels(labels: &BTreeMap<String, String>, defaults: LevelVersion) -> Self {
        if labels.is_empty() {
            return Self::uniform(defaults);
        }
        let mut errors = Vec::new();
        let mut level = |label: &str, fallback: Level| -> Option<Level> {
            let value = labels.get(label)?;
            Some(value.parse::<Level>().unwrap_or_else(|_| {
                errors.push(field_error(
                    label,
                    value,
                    "must be one of privileged, baseline, restricted",
                ));
                fallback
            }))
        };
        let enforce = level(ENFORCE_LABEL, Level::Restricted);
        let audit = level(AUDIT_LABEL, Level::Privileged);
        let warn = level(WARN_LABEL, Level::Privileged);
        let mut version = |label: &str| -> Option<Version> {
            let value = labels.get(label)?;
            Some(value.parse().unwrap_or_else(|_| {
                errors.push(field_error(label, value, "must be \"latest\" or \"v1.x\""));
                Version::Latest
            }))
        };
        let levels = NamespaceLabels {
            enforce,
            enforce_version: version(ENFORCE_VERSION_LABEL),
            audit,
            audit_version: version(AUDIT_VERSION_LABEL),
            warn,
            warn_version: version(WARN_VERSION_LABEL),
        };
        // Only a valid enforce level is one that warn follows.
        let enforce_valid = labels
            .get(ENFORCE_LABEL)
            .is_some_and(|v| v.parse::<Level>().is_ok());
        let mut p = Self::resolve(&levels, defaults, enforce_valid);
        p.label_errors = errors;
        p
    }

    /// The policy of a namespace that the configuration file describes (its values were checked
    /// when the file was loaded, so there is nothing to fall back from).
    pub fn from_config(labels: &NamespaceLabels, defaults: LevelVersion) -> Self {
        Self::resolve(labels, defaults, labels.enforce.is_some())
    }

    /// The levels and versions that are set replace the defaults; warn follows a stricter
    /// enforce level (when `enforce_set`) unless warn's level is set itself.
    fn resolve(labels: &NamespaceLabels, defaults: LevelVersion, enforce_set: bool) -> Self {
        let mut p = Self::uniform(defaults);
        let modes = [
            (&mut p.enforce, labels.enforce, labels.enforce_version),
            (&mut p.audit, labels.audit, labels.audit_version),
            (&mut p.warn, labels.warn, labels.warn_version),
        ];
        for (target, level, version) in modes {
            if let Some(level) = level {
                target.level = level;
            }
            if let Some(version) = version {
                target.version = version;
            }
        }
        if labels.warn.is_none() && enforce_set && p.enforce.level > p.warn.level {
            p.warn.level = p.enforce.level;
            if labels.warn_version.is_none() {
                p.warn.version = p.enforce.version;
            }
        }
        p
    }
}

/// An invalid label, worded as the API server's `field.Invalid` error.
fn field_error(label: &str, value: &str, detail: &str) -> String {
    format!("metadata.labels[{label}]: Invalid value: {value:?}: {detail}")
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
    const PRIVILEGED: LevelVersion = LevelVersion {
        level: Level::Privileged,
        version: Version::Latest,
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
            &labels(&[
                (ENFORCE_LABEL, "strict"),
                (ENFORCE_VERSION_LABEL, "1.25"),
                (WARN_LABEL, "loud"),
            ]),
            DEFAULT,
        );
        assert_eq!(p.enforce.to_string(), "restricted:latest");
        assert_eq!(p.warn.level, Level::Privileged);
        assert_eq!(p.label_errors.len(), 3);
        assert_eq!(
            p.label_errors[0],
            "metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted"
        );
    }

    #[test]
    fn warn_follows_a_stricter_enforce_level() {
        let p = NamespacePolicy::from_labels(
            &labels(&[
                (ENFORCE_LABEL, "baseline"),
                (ENFORCE_VERSION_LABEL, "v1.29"),
            ]),
            PRIVILEGED,
        );
        assert_eq!(p.warn.to_string(), "baseline:v1.29");
        assert_eq!(p.audit.to_string(), "privileged:latest");
        let p = NamespacePolicy::from_labels(
            &labels(&[(ENFORCE_LABEL, "baseline"), (WARN_LABEL, "privileged")]),
            PRIVILEGED,
        );
        assert_eq!(p.warn.level, Level::Privileged);
        let p = NamespacePolicy::from_labels(
            &labels(&[(ENFORCE_LABEL, "restricted"), (WARN_VERSION_LABEL, "v1.20")]),
            PRIVILEGED,
        );
        assert_eq!(p.warn.to_string(), "restricted:v1.20");
    }
}
