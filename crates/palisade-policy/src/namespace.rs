//! The Pod Security policy of a namespace, from its `pod-security.kubernetes.io/*` labels.

use std::collections::BTreeMap;

use palisade_pss::{Level, LevelVersion, Version};

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
        let mut p = Self::uniform(defaults);
        if labels.is_empty() {
            return p;
        }
        let mut has_enforce_level = false;
        let level =
            |label: &str, target: &mut Level, fallback: Level, errors: &mut Vec<String>| -> bool {
                match labels.get(label).map(|v| v.parse::<Level>()) {
                    None => false,
                    Some(Ok(l)) => {
                        *target = l;
                        true
                    }
                    Some(Err(e)) => {
                        let _ = e;
                        errors.push(field_error(
                            label,
                            level_value(labels, label),
                            "must be one of privileged, baseline, restricted",
                        ));
                        *target = fallback;
                        false
                    }
                }
            };
        if level(
            ENFORCE_LABEL,
            &mut p.enforce.level,
            Level::Restricted,
            &mut p.label_errors,
        ) {
            has_enforce_level = true;
        }
        level(
            AUDIT_LABEL,
            &mut p.audit.level,
            Level::Privileged,
            &mut p.label_errors,
        );
        level(
            WARN_LABEL,
            &mut p.warn.level,
            Level::Privileged,
            &mut p.label_errors,
        );
        let version = |label: &str, target: &mut Version, errors: &mut Vec<String>| {
            if let Some(v) = labels.get(label) {
                *target = v.parse().unwrap_or_else(|e| {
                    let _ = e;
                    errors.push(field_error(label, v, "must be \"latest\" or \"v1.x\""));
                    Version::Latest
                });
            }
        };
        version(
            ENFORCE_VERSION_LABEL,
            &mut p.enforce.version,
            &mut p.label_errors,
        );
        version(
            AUDIT_VERSION_LABEL,
            &mut p.audit.version,
            &mut p.label_errors,
        );
        version(WARN_VERSION_LABEL, &mut p.warn.version, &mut p.label_errors);
        let has_warn_level = labels.contains_key(WARN_LABEL);
        let has_warn_version = labels.contains_key(WARN_VERSION_LABEL);
        if !has_warn_level && has_enforce_level && p.enforce.level > p.warn.level {
            p.warn.level = p.enforce.level;
            if !has_warn_version {
                p.warn.version = p.enforce.version;
            }
        }
        p
    }
}

fn level_value<'a>(labels: &'a BTreeMap<String, String>, label: &str) -> &'a str {
    labels.get(label).map(String::as_str).unwrap_or_default()
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
