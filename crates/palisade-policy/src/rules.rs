//! ML-serving rules beyond the Pod Security Standards: required labels, allowed registries,
//! digest pinning and no `latest` tags. Pure functions of a pod's metadata and spec, evaluated by
//! both `palisade audit` and the admission webhook.

use palisade_core::image_ref::ImageRef;
use palisade_core::path::FieldPath;
use palisade_core::pod::{ObjectMeta, PodSpec};
use palisade_core::Severity;
use palisade_pss::Location;

use crate::config::{RuleMode, RulesConfig};

/// Static description of a rule.
#[derive(Debug)]
pub struct RuleInfo {
    /// Stable rule ID, e.g. `palisade/allowed-registries`.
    pub id: &'static str,
    /// The configuration key, e.g. `allowedRegistries`.
    pub name: &'static str,
    pub title: &'static str,
    pub hint: &'static str,
    pub severity: Severity,
}

pub static REQUIRED_LABELS: RuleInfo = RuleInfo {
    id: "palisade/required-labels",
    name: "requiredLabels",
    title: "Pods carry the labels the platform keys on (team, model)",
    hint: "add the missing labels to the pod template's metadata.labels",
    severity: Severity::Low,
};
pub static ALLOWED_REGISTRIES: RuleInfo = RuleInfo {
    id: "palisade/allowed-registries",
    name: "allowedRegistries",
    title: "Images come only from allowed registries",
    hint: "push the image to an allowed registry and reference it from there",
    severity: Severity::High,
};
pub static IMAGE_DIGEST: RuleInfo = RuleInfo {
    id: "palisade/image-digest",
    name: "imageDigest",
    title: "Images are pinned by digest",
    hint: "reference the image by digest: image@sha256:<digest> (e.g. from `crane digest` or your CI's push output)",
    severity: Severity::Medium,
};
pub static NO_LATEST_TAG: RuleInfo = RuleInfo {
    id: "palisade/no-latest-tag",
    name: "noLatestTag",
    title: "Images do not use the latest tag",
    hint: "use an immutable version tag or, better, a digest",
    severity: Severity::Medium,
};

pub static RULES: [&RuleInfo; 4] = [
    &REQUIRED_LABELS,
    &ALLOWED_REGISTRIES,
    &IMAGE_DIGEST,
    &NO_LATEST_TAG,
];

pub static REQUIRE_SIGNATURE: RuleInfo = RuleInfo {
    id: "palisade/require-signature",
    name: "requireSignature",
    title: "Images are signed by a trusted key",
    hint: "sign the image with `palisade sign` (or cosign) using a key trusted for this namespace and image in imageVerification.trust",
    severity: Severity::High,
};
pub static REQUIRE_SCAN: RuleInfo = RuleInfo {
    id: "palisade/require-scan",
    name: "requireScan",
    title: "Images carry a recent, passing scan attestation by a trusted key",
    hint: "attest a fresh scan with `palisade attest --scan`, after fixing what it finds above rules.requireScan.maxSeverity",
    severity: Severity::High,
};

/// The rules that need a registry: the webhook checks them at admission, `palisade verify` from
/// the command line; `palisade audit` reads no registry and so never reports them (which is why
/// they are not in [`RULES`], whose metadata its reports list).
pub static IMAGE_RULES: [&RuleInfo; 2] = [&REQUIRE_SIGNATURE, &REQUIRE_SCAN];

/// A broken rule, with the mode it is configured in.
#[derive(Debug, Clone)]
pub struct RuleViolation {
    pub rule: &'static RuleInfo,
    pub mode: RuleMode,
    pub reason: String,
    pub detail: String,
    pub locations: Vec<Location>,
}

fn quote_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn containers_phrase(names: &[String]) -> String {
    format!(
        "{} {}",
        if names.len() == 1 {
            "container"
        } else {
            "containers"
        },
        quote_list(names)
    )
}

/// Evaluates the configured rules against one pod.
pub fn check_rules(
    config: &RulesConfig,
    metadata: &ObjectMeta,
    spec: &PodSpec,
) -> Vec<RuleViolation> {
    let mut violations = Vec::new();
    if let Some(required) = &config.required_labels {
        let missing: Vec<String> = required
            .labels
            .iter()
            .filter(|l| !metadata.labels.contains_key(*l))
            .cloned()
            .collect();
        if !missing.is_empty() {
            violations.push(RuleViolation {
                rule: &REQUIRED_LABELS,
                mode: required.mode,
                reason: "missing required labels".into(),
                detail: format!(
                    "pod must carry {} {}",
                    if missing.len() == 1 {
                        "label"
                    } else {
                        "labels"
                    },
                    quote_list(&missing)
                ),
                locations: vec![Location::metadata(FieldPath::root().field("labels"))],
            });
        }
    }
    let images: Vec<_> = spec
        .all_containers()
        .map(|(kind, index, c)| (kind, index, c, ImageRef::parse(&c.image)))
        .collect();
    let image_location = |kind, index, name: &str| {
        Location::container(kind, index, name, FieldPath::root().field("image"))
    };
    if let Some(allowed) = &config.allowed_registries {
        let mut names = Vec::new();
        let mut locations = Vec::new();
        let mut bad = Vec::new();
        for (kind, index, c, image) in &images {
            let ok = image
                .as_ref()
                .is_ok_and(|image| allowed.registries.iter().any(|r| image.is_under(r)));
            if !ok {
                names.push(c.name.clone());
                bad.push(c.image.clone());
                locations.push(image_location(*kind, *index, &c.name));
            }
        }
        if !names.is_empty() {
            violations.push(RuleViolation {
                rule: &ALLOWED_REGISTRIES,
                mode: allowed.mode,
                reason: "disallowed image registry".into(),
                detail: format!(
                    "{} must use images from {}, not {}",
                    containers_phrase(&names),
                    quote_list(&allowed.registries),
                    quote_list(&bad)
                ),
                locations,
            });
        }
    }
    if let Some(rule) = &config.image_digest {
        let (names, locations): (Vec<String>, Vec<Location>) = images
            .iter()
            .filter(|(_, _, _, image)| image.as_ref().map_or(true, |i| i.digest.is_none()))
            .map(|(kind, index, c, _)| (c.name.clone(), image_location(*kind, *index, &c.name)))
            .unzip();
        if !names.is_empty() {
            violations.push(RuleViolation {
                rule: &IMAGE_DIGEST,
                mode: rule.mode,
                reason: "image not pinned by digest".into(),
                detail: format!(
                    "{} must reference {} by digest (image@sha256:...)",
                    containers_phrase(&names),
                    if names.len() == 1 {
                        "its image"
                    } else {
                        "their images"
                    }
                ),
                locations,
            });
        }
    }
    if let Some(rule) = &config.no_latest_tag {
        let (names, locations): (Vec<String>, Vec<Location>) = images
            .iter()
            .filter(|(_, _, _, image)| image.as_ref().map_or(true, ImageRef::is_latest))
            .map(|(kind, index, c, _)| (c.name.clone(), image_location(*kind, *index, &c.name)))
            .unzip();
        if !names.is_empty() {
            violations.push(RuleViolation {
                rule: &NO_LATEST_TAG,
                mode: rule.mode,
                reason: "latest image tag".into(),
                detail: format!(
                    "{} must not use the latest tag (or no tag)",
                    containers_phrase(&names)
                ),
                locations,
            });
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AllowedRegistries, ModeOnly, RequiredLabels};

    fn spec(images: &[&str]) -> PodSpec {
        let containers: Vec<serde_json::Value> = images
            .iter()
            .enumerate()
            .map(|(i, image)| serde_json::json!({"name": format!("c{i}"), "image": image}))
            .collect();
        serde_json::from_value(serde_json::json!({ "containers": containers })).unwrap()
    }

    fn all_rules() -> RulesConfig {
        RulesConfig {
            required_labels: Some(RequiredLabels {
                mode: RuleMode::Enforce,
                labels: vec!["team".into(), "model".into()],
            }),
            allowed_registries: Some(AllowedRegistries {
                mode: RuleMode::Warn,
                registries: vec!["registry.example.com/ml".into()],
            }),
            image_digest: Some(ModeOnly {
                mode: RuleMode::Audit,
            }),
            no_latest_tag: Some(ModeOnly {
                mode: RuleMode::Enforce,
            }),
            ..RulesConfig::default()
        }
    }

    #[test]
    fn every_rule_fires_and_passes() {
        let digest = "registry.example.com/ml/iris@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let mut meta = ObjectMeta::default();
        meta.labels.insert("team".into(), "ds".into());
        let v = check_rules(&all_rules(), &meta, &spec(&[digest, "flask"]));
        let ids: Vec<&str> = v.iter().map(|v| v.rule.id).collect();
        assert_eq!(
            ids,
            [
                "palisade/required-labels",
                "palisade/allowed-registries",
                "palisade/image-digest",
                "palisade/no-latest-tag"
            ]
        );
        assert_eq!(v[0].detail, "pod must carry label \"model\"");
        assert_eq!(
            v[1].detail,
            "container \"c1\" must use images from \"registry.example.com/ml\", not \"flask\""
        );
        assert_eq!(v[1].mode, RuleMode::Warn);
        meta.labels.insert("model".into(), "iris".into());
        assert!(check_rules(&all_rules(), &meta, &spec(&[digest])).is_empty());
        assert!(check_rules(&RulesConfig::default(), &meta, &spec(&["flask"])).is_empty());
    }

    #[test]
    fn every_rule_is_in_one_table_once_with_a_title_and_a_fix() {
        let all: Vec<&RuleInfo> = RULES.iter().chain(IMAGE_RULES.iter()).copied().collect();
        for (i, rule) in all.iter().enumerate() {
            assert!(rule.id.starts_with("palisade/"), "{}", rule.id);
            assert!(
                !rule.title.is_empty() && !rule.hint.is_empty(),
                "{}",
                rule.id
            );
            assert!(
                all[..i]
                    .iter()
                    .all(|other| other.id != rule.id && other.name != rule.name),
                "{} twice",
                rule.id
            );
        }
    }
}
