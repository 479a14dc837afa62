//! ML-serving rules beyond the Pod Security Standards: required labels, allowed registries,
//! digest pinning and no `latest` tags; and the serving rules: `--trust-remote-code` without a
//! pinned revision, NVIDIA GPU visibility without a GPU request, `LD_PRELOAD` in a container's
//! environment. Pure functions of a pod's metadata and spec, evaluated by both `palisade audit`
//! and the admission webhook.

use palisade_core::image_ref::ImageRef;
use palisade_core::path::FieldPath;
use palisade_core::pod::{Container, ContainerKind, ObjectMeta, PodSpec};
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

pub static TRUST_REMOTE_CODE: RuleInfo = RuleInfo {
    id: "palisade/trust-remote-code",
    name: "trustRemoteCode",
    title: "Model servers run remote model code only from a pinned revision",
    hint: "drop --trust-remote-code (and TRUST_REMOTE_CODE), or pin the code the server runs: --revision (or --code-revision) set to a 40-character commit hash",
    severity: Severity::High,
};
pub static GPU_VISIBILITY: RuleInfo = RuleInfo {
    id: "palisade/gpu-visibility",
    name: "gpuVisibility",
    title: "Only pods that request a GPU set NVIDIA_VISIBLE_DEVICES or NVIDIA_DRIVER_CAPABILITIES",
    hint: "request the GPU through resources.limits (nvidia.com/gpu: 1) and remove NVIDIA_VISIBLE_DEVICES and NVIDIA_DRIVER_CAPABILITIES from env (or set NVIDIA_VISIBLE_DEVICES=void)",
    severity: Severity::Medium,
};
pub static LD_PRELOAD: RuleInfo = RuleInfo {
    id: "palisade/ld-preload",
    name: "ldPreload",
    title: "Containers do not set LD_PRELOAD",
    hint: "remove LD_PRELOAD from the container's env (and from the image's configuration: `palisade scan image` reports it); link or load the library explicitly instead",
    severity: Severity::High,
};

/// The serving rules: evaluated with [`RULES`] by `palisade audit` and the webhook, and listed in
/// SARIF rule metadata only when configured ([`crate::rule_metadata_for`]), so that reports of
/// configurations without them are unchanged.
pub static SERVING_RULES: [&RuleInfo; 3] = [&TRUST_REMOTE_CODE, &GPU_VISIBILITY, &LD_PRELOAD];

/// The rules that need a registry: the webhook checks them at admission, `palisade verify` from
/// the command line; `palisade audit` reads no registry and so never reports them (which is why
/// they are not in [`RULES`], whose metadata its reports list).
pub static REQUIRE_MODEL_SCAN: RuleInfo = RuleInfo {
    id: "palisade/require-model-scan",
    name: "requireModelScan",
    title: "Model artifacts carry a recent, passing model-scan attestation by a trusted key",
    hint: "scan and attest the model artifact with `palisade attest --model-scan REF --key KEY` (by a key trusted in imageVerification.trust), after removing what `palisade scan model oci://REF` finds at or above rules.requireModelScan.failOn",
    severity: Severity::High,
};

pub static IMAGE_RULES: [&RuleInfo; 3] = [&REQUIRE_SIGNATURE, &REQUIRE_SCAN, &REQUIRE_MODEL_SCAN];

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

/// A model (or other OCI artifact) reference a pod mounts besides its container images: an
/// `image` volume's `image.reference`, or a KServe framework's `storageUri: oci://...`. The image
/// rules (`allowedRegistries`, `imageDigest`, `noLatestTag`, `requireSignature`, `requireScan`)
/// check them as they check container images.
#[derive(Debug, Clone)]
pub struct ArtifactRef {
    /// For messages: `volume "models"`, `storageUri of container "kserve-container"`.
    pub what: String,
    /// The reference without its `oci://` scheme.
    pub reference: String,
    /// Where it is written in the pod.
    pub location: Location,
    /// Written as a URI (`oci://` + reference), as `storageUri` is.
    pub uri: bool,
}

/// The artifact references of a pod spec, volumes first, in spec order. A `storageUri` in
/// another scheme (`s3://`, `gs://`, `hf://`, `pvc://`) is not an image and is left out.
pub fn artifact_refs(spec: &PodSpec) -> Vec<ArtifactRef> {
    let mut refs = Vec::new();
    for (index, volume) in spec.volumes.iter().enumerate() {
        if let Some(reference) = &volume.image_reference {
            refs.push(ArtifactRef {
                what: format!("volume {:?}", volume.name),
                reference: reference.clone(),
                location: Location::volume(
                    index,
                    FieldPath::root().field("image").field("reference"),
                ),
                uri: false,
            });
        }
    }
    for (kind, index, c) in spec.all_containers() {
        if let Some(reference) = c
            .storage_uri
            .as_deref()
            .and_then(|u| u.strip_prefix("oci://"))
        {
            refs.push(ArtifactRef {
                what: format!("storageUri of container {:?}", c.name),
                reference: reference.to_owned(),
                location: Location::container(
                    kind,
                    index,
                    &c.name,
                    FieldPath::root().field("storageUri"),
                ),
                uri: true,
            });
        }
    }
    refs
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
    let artifacts = artifact_refs(spec);
    // The artifacts a predicate on their parsed reference picks, as detail phrases and places.
    let artifacts_where =
        |bad: &dyn Fn(&Result<ImageRef, _>) -> bool| -> (Vec<String>, Vec<Location>) {
            artifacts
                .iter()
                .filter(|a| bad(&ImageRef::parse(&a.reference)))
                .map(|a| (a.what.clone(), a.location.clone()))
                .unzip()
        };
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
        let mut details = Vec::new();
        if !names.is_empty() {
            details.push(format!(
                "{} must use images from {}, not {}",
                containers_phrase(&names),
                quote_list(&allowed.registries),
                quote_list(&bad)
            ));
        }
        for artifact in &artifacts {
            let ok = ImageRef::parse(&artifact.reference)
                .is_ok_and(|image| allowed.registries.iter().any(|r| image.is_under(r)));
            if !ok {
                details.push(format!(
                    "{} must reference {}, not {:?}",
                    artifact.what,
                    quote_list(&allowed.registries),
                    artifact.reference
                ));
                locations.push(artifact.location.clone());
            }
        }
        if !details.is_empty() {
            violations.push(RuleViolation {
                rule: &ALLOWED_REGISTRIES,
                mode: allowed.mode,
                reason: "disallowed image registry".into(),
                detail: details.join("; "),
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
        let mut details = Vec::new();
        if !names.is_empty() {
            details.push(format!(
                "{} must reference {} by digest (image@sha256:...)",
                containers_phrase(&names),
                if names.len() == 1 {
                    "its image"
                } else {
                    "their images"
                }
            ));
        }
        let (what, places) =
            artifacts_where(&|image| image.as_ref().map_or(true, |i| i.digest.is_none()));
        if !what.is_empty() {
            details.push(format!(
                "{} must be pinned by digest (image@sha256:...)",
                what.join(", ")
            ));
        }
        if !details.is_empty() {
            violations.push(RuleViolation {
                rule: &IMAGE_DIGEST,
                mode: rule.mode,
                reason: "image not pinned by digest".into(),
                detail: details.join("; "),
                locations: locations.into_iter().chain(places).collect(),
            });
        }
    }
    if let Some(rule) = &config.no_latest_tag {
        let (names, locations): (Vec<String>, Vec<Location>) = images
            .iter()
            .filter(|(_, _, _, image)| image.as_ref().map_or(true, ImageRef::is_latest))
            .map(|(kind, index, c, _)| (c.name.clone(), image_location(*kind, *index, &c.name)))
            .unzip();
        let mut details = Vec::new();
        if !names.is_empty() {
            details.push(format!(
                "{} must not use the latest tag (or no tag)",
                containers_phrase(&names)
            ));
        }
        let (what, places) =
            artifacts_where(&|image| image.as_ref().map_or(true, ImageRef::is_latest));
        if !what.is_empty() {
            details.push(format!(
                "{} must not use the latest tag (or no tag)",
                what.join(", ")
            ));
        }
        if !details.is_empty() {
            violations.push(RuleViolation {
                rule: &NO_LATEST_TAG,
                mode: rule.mode,
                reason: "latest image tag".into(),
                detail: details.join("; "),
                locations: locations.into_iter().chain(places).collect(),
            });
        }
    }
    check_serving_rules(config, spec, &mut violations);
    violations
}

/// A container, with where it sits in the pod spec.
type Placed<'a> = (ContainerKind, usize, &'a Container);

/// The serving rules (`trustRemoteCode`, `gpuVisibility`, `ldPreload`), one violation per rule
/// naming every container that breaks it.
fn check_serving_rules(config: &RulesConfig, spec: &PodSpec, out: &mut Vec<RuleViolation>) {
    let containers: Vec<Placed<'_>> = spec.all_containers().collect();
    let mut push = |rule: &'static RuleInfo,
                    mode: RuleMode,
                    reason: &str,
                    found: Vec<(String, Location)>,
                    what: &dyn Fn(&[String]) -> String| {
        if found.is_empty() {
            return;
        }
        let (names, locations): (Vec<String>, Vec<Location>) = found.into_iter().unzip();
        let mut unique = names.clone();
        unique.dedup();
        out.push(RuleViolation {
            rule,
            mode,
            reason: reason.into(),
            detail: what(&unique),
            locations,
        });
    };
    if let Some(rule) = &config.trust_remote_code {
        let found = containers
            .iter()
            .filter_map(|(kind, index, c)| {
                let at = remote_code_unpinned(c)?;
                Some((
                    c.name.clone(),
                    Location::container(*kind, *index, &c.name, at),
                ))
            })
            .collect();
        push(
            &TRUST_REMOTE_CODE,
            rule.mode,
            "remote model code from an unpinned revision",
            found,
            &|names| {
                format!(
                    "{} trust{} remote code without --revision or --code-revision pinned to a commit",
                    containers_phrase(names),
                    if names.len() == 1 { "s" } else { "" }
                )
            },
        );
    }
    if let Some(rule) = &config.gpu_visibility {
        let requests_gpu = containers.iter().any(|(_, _, c)| requests_gpu(c));
        let found = if requests_gpu {
            Vec::new()
        } else {
            containers
                .iter()
                .filter_map(|(kind, index, c)| {
                    let (i, _) = sees_all_gpus(c)?;
                    let at = FieldPath::root().field("env").index(i);
                    Some((
                        c.name.clone(),
                        Location::container(*kind, *index, &c.name, at),
                    ))
                })
                .collect()
        };
        push(
            &GPU_VISIBILITY,
            rule.mode,
            "GPU visibility without a GPU request",
            found,
            &|names| {
                format!(
                    "{} must not set NVIDIA_VISIBLE_DEVICES or NVIDIA_DRIVER_CAPABILITIES in a pod that requests no GPU (it would see every GPU on the node)",
                    containers_phrase(names)
                )
            },
        );
    }
    if let Some(rule) = &config.ld_preload {
        let found = containers
            .iter()
            .filter_map(|(kind, index, c)| {
                let (i, var) = c.env_var("LD_PRELOAD")?;
                if var.value.as_deref().unwrap_or_default().is_empty() && var.value_from.is_none() {
                    return None;
                }
                let at = FieldPath::root().field("env").index(i);
                Some((
                    c.name.clone(),
                    Location::container(*kind, *index, &c.name, at),
                ))
            })
            .collect();
        push(&LD_PRELOAD, rule.mode, "LD_PRELOAD set", found, &|names| {
            format!("{} must not set LD_PRELOAD", containers_phrase(names))
        });
    }
}

/// True for the values the serving frameworks read as true (Python's and Rust clap's
/// spellings).
fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on" | "t" | "y"
    )
}

/// A full git commit hash: the only revision that cannot move.
fn is_commit(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The words of a container's command and arguments, each with the field and index it came
/// from: an entry is split on whitespace too, so `sh -c "vllm serve m --trust-remote-code"` is
/// read as the shell would run it (quoting aside).
fn words(c: &Container) -> Vec<(&'static str, usize, &str)> {
    let mut out = Vec::new();
    for (field, list) in [("command", &c.command), ("args", &c.args)] {
        for (i, entry) in list.iter().enumerate() {
            out.extend(entry.split_whitespace().map(|w| (field, i, w)));
        }
    }
    out
}

/// The value of `--flag` in `words` (as `--flag VALUE` or `--flag=VALUE`, dashes or
/// underscores), the last one winning as argparse and clap take it.
fn flag_value<'a>(words: &[(&'static str, usize, &'a str)], flag: &str) -> Option<&'a str> {
    let underscored = flag.replace('-', "_");
    let underscored = format!("--{}", underscored.trim_start_matches('_'));
    let mut value = None;
    for (i, (_, _, w)) in words.iter().enumerate() {
        for spelling in [flag, underscored.as_str()] {
            if let Some(rest) = w.strip_prefix(spelling) {
                if let Some(v) = rest.strip_prefix('=') {
                    value = Some(v.trim_matches(|c| c == '"' || c == '\''));
                } else if rest.is_empty() {
                    value = words
                        .get(i + 1)
                        .map(|(_, _, v)| v.trim_matches(|c| c == '"' || c == '\''));
                }
            }
        }
    }
    value
}

/// Where a container turns on remote code without pinning it, or `None`: `--trust-remote-code`
/// (vLLM, TGI's launcher, most transformers-based servers) or `trust_remote_code=True` in its
/// command or arguments, or `TRUST_REMOTE_CODE` / `HF_TRUST_REMOTE_CODE` true in its env (TGI
/// reads the former). Pinned means `--code-revision` (vLLM: the revision the code comes from)
/// is a commit, or, without it, `--revision` (or env `REVISION` / `HF_REVISION`) is.
fn remote_code_unpinned(c: &Container) -> Option<FieldPath> {
    let words = words(c);
    let mut at = None;
    for (field, index, w) in &words {
        let on = match w
            .strip_prefix("--trust-remote-code=")
            .or_else(|| w.strip_prefix("--trust_remote_code="))
        {
            Some(value) => truthy(value.trim_matches(|c| c == '"' || c == '\'')),
            None => {
                matches!(*w, "--trust-remote-code" | "--trust_remote_code")
                    || w.contains("trust_remote_code=True")
            }
        };
        if on && at.is_none() {
            at = Some(FieldPath::root().field(field).index(*index));
        }
    }
    if at.is_none() {
        for name in ["TRUST_REMOTE_CODE", "HF_TRUST_REMOTE_CODE"] {
            if let Some((i, var)) = c.env_var(name) {
                if var.value.as_deref().is_some_and(truthy) {
                    at = Some(FieldPath::root().field("env").index(i));
                    break;
                }
            }
        }
    }
    let at = at?;
    let env = |name: &str| c.env_var(name).and_then(|(_, v)| v.value.as_deref());
    let code_revision = flag_value(&words, "--code-revision").or_else(|| env("CODE_REVISION"));
    let revision = flag_value(&words, "--revision")
        .or_else(|| env("REVISION"))
        .or_else(|| env("HF_REVISION"));
    let pinned = match code_revision {
        Some(code) => is_commit(code),
        None => revision.is_some_and(is_commit),
    };
    (!pinned).then_some(at)
}

/// True when a container requests or limits a GPU (`nvidia.com/gpu` or any `*/gpu` extended
/// resource, at a quantity other than zero) or holds a dynamic resource claim.
fn requests_gpu(c: &Container) -> bool {
    let Some(resources) = &c.resources else {
        return false;
    };
    let nonzero = |q: &serde_json::Value| match q {
        serde_json::Value::String(s) => !matches!(s.trim(), "0" | ""),
        serde_json::Value::Number(n) => n.as_f64() != Some(0.0),
        _ => false,
    };
    !resources.claims.is_empty()
        || resources
            .limits
            .iter()
            .chain(&resources.requests)
            .any(|(name, q)| name.ends_with("/gpu") && nonzero(q))
}

/// The env entry that exposes the node's GPUs to a container: `NVIDIA_VISIBLE_DEVICES` unless
/// `void`, `none` or empty (the NVIDIA runtime then gives none), else
/// `NVIDIA_DRIVER_CAPABILITIES` when the devices are not so switched off.
fn sees_all_gpus(c: &Container) -> Option<(usize, &palisade_core::pod::EnvVar)> {
    let harmless = |v: &palisade_core::pod::EnvVar| {
        v.value_from.is_none()
            && matches!(
                v.value.as_deref().unwrap_or_default().trim(),
                "" | "void" | "none"
            )
    };
    match c.env_var("NVIDIA_VISIBLE_DEVICES") {
        Some((i, v)) if !harmless(v) => Some((i, v)),
        Some(_) => None,
        None => c.env_var("NVIDIA_DRIVER_CAPABILITIES"),
    }
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
    fn image_volumes_and_oci_storage_uris_follow_the_image_rules() {
        let digest = "@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let mut meta = ObjectMeta::default();
        meta.labels.insert("team".into(), "ds".into());
        meta.labels.insert("model".into(), "iris".into());
        let mut spec = spec(&[&format!("registry.example.com/ml/server{digest}")]);
        let volumes = serde_json::json!([
            {"name": "ok", "image": {"reference": format!("registry.example.com/ml/models/a:1{digest}")}},
            {"name": "evil", "image": {"reference": "evil.example.com/m"}},
        ]);
        spec.volumes = serde_json::from_value(volumes).unwrap();
        spec.containers[0].storage_uri = Some("oci://registry.example.com/ml/models/b:2".into());
        let v = check_rules(&all_rules(), &meta, &spec);
        let details: Vec<(&str, &str)> =
            v.iter().map(|v| (v.rule.name, v.detail.as_str())).collect();
        assert_eq!(
            details,
            [
                ("allowedRegistries", "volume \"evil\" must reference \"registry.example.com/ml\", not \"evil.example.com/m\""),
                ("imageDigest", "volume \"evil\", storageUri of container \"c0\" must be pinned by digest (image@sha256:...)"),
                ("noLatestTag", "volume \"evil\" must not use the latest tag (or no tag)"),
            ]
        );
        assert_eq!(
            format!("{:?}", v[0].locations[0].subject),
            "Volume { index: 1 }"
        );
        // A storageUri in another scheme is not an image.
        spec.volumes.clear();
        spec.containers[0].storage_uri = Some("s3://bucket/model".into());
        assert!(check_rules(&all_rules(), &meta, &spec).is_empty());
    }

    fn serving_rules(mode: RuleMode) -> RulesConfig {
        RulesConfig {
            trust_remote_code: Some(ModeOnly { mode }),
            gpu_visibility: Some(ModeOnly { mode }),
            ld_preload: Some(ModeOnly { mode }),
            ..RulesConfig::default()
        }
    }

    fn pod(spec: serde_json::Value) -> PodSpec {
        serde_json::from_value(spec).unwrap()
    }

    fn serving(spec: serde_json::Value) -> Vec<(&'static str, String, Vec<String>)> {
        check_rules(
            &serving_rules(RuleMode::Enforce),
            &ObjectMeta::default(),
            &pod(spec),
        )
        .into_iter()
        .map(|v| {
            let fields = v
                .locations
                .iter()
                .map(|l| format!("{l:?}"))
                .collect::<Vec<_>>();
            (v.rule.name, v.detail, fields)
        })
        .collect()
    }

    const SHA: &str = "5fd4e9c4d4e06b2f1b8f0b71f1e6c7b8a9d0e1f2";

    #[test]
    fn trust_remote_code_needs_a_pinned_revision() {
        let server = |command: serde_json::Value,
                      args: serde_json::Value,
                      env: serde_json::Value| {
            serving(serde_json::json!({"containers": [
                {"name": "vllm", "image": "vllm/vllm-openai:v0.8.5", "command": command, "args": args, "env": env}
            ]}))
        };
        let fires =
            |r: &[(&str, String, Vec<String>)]| r.iter().any(|(n, _, _)| *n == "trustRemoteCode");
        let null = serde_json::Value::Null;
        // vLLM in args, TGI's launcher in command, python -m, sh -c, and env.
        let unpinned = [
            server(
                null.clone(),
                serde_json::json!(["--model", "org/m", "--trust-remote-code"]),
                null.clone(),
            ),
            server(
                serde_json::json!([
                    "text-generation-launcher",
                    "--model-id",
                    "org/m",
                    "--trust-remote-code"
                ]),
                null.clone(),
                null.clone(),
            ),
            server(
                serde_json::json!(["python", "-m", "vllm.entrypoints.openai.api_server"]),
                serde_json::json!(["--trust_remote_code", "--revision", "main"]),
                null.clone(),
            ),
            server(
                serde_json::json!([
                    "sh",
                    "-c",
                    "vllm serve org/m --trust-remote-code --revision v1.0"
                ]),
                null.clone(),
                null.clone(),
            ),
            server(
                null.clone(),
                null.clone(),
                serde_json::json!([{"name": "TRUST_REMOTE_CODE", "value": "true"}]),
            ),
            server(
                null.clone(),
                null.clone(),
                serde_json::json!([{"name": "HF_TRUST_REMOTE_CODE", "value": "1"}, {"name": "REVISION", "value": "main"}]),
            ),
            server(
                serde_json::json!([
                    "python",
                    "-c",
                    "AutoModel.from_pretrained('org/m', trust_remote_code=True)"
                ]),
                null.clone(),
                null.clone(),
            ),
            // The model pinned, the code not: vLLM takes the code from --code-revision.
            server(
                null.clone(),
                serde_json::json!([
                    "serve",
                    "org/m",
                    "--trust-remote-code",
                    "--revision",
                    SHA,
                    "--code-revision",
                    "main"
                ]),
                null.clone(),
            ),
        ];
        for (i, r) in unpinned.iter().enumerate() {
            assert!(fires(r), "case {i}: {r:?}");
        }
        assert_eq!(
            unpinned[0][0].1,
            "container \"vllm\" trusts remote code without --revision or --code-revision pinned to a commit"
        );
        assert!(
            unpinned[0][0].2[0].contains("args"),
            "{:?}",
            unpinned[0][0].2
        );
        assert!(
            unpinned[4][0].2[0].contains("env"),
            "{:?}",
            unpinned[4][0].2
        );
        let pinned = [
            server(
                null.clone(),
                serde_json::json!(["serve", "org/m", "--trust-remote-code", "--revision", SHA]),
                null.clone(),
            ),
            server(
                null.clone(),
                serde_json::json!([
                    "serve",
                    "org/m",
                    "--trust-remote-code",
                    format!("--code-revision={SHA}")
                ]),
                null.clone(),
            ),
            server(
                serde_json::json!(["text-generation-launcher"]),
                null.clone(),
                serde_json::json!([{"name": "TRUST_REMOTE_CODE", "value": "true"}, {"name": "REVISION", "value": SHA}]),
            ),
            // Off, or not asked for.
            server(
                null.clone(),
                serde_json::json!(["--trust-remote-code=false"]),
                null.clone(),
            ),
            server(
                null.clone(),
                null.clone(),
                serde_json::json!([{"name": "TRUST_REMOTE_CODE", "value": "false"}]),
            ),
            server(
                null.clone(),
                serde_json::json!(["serve", "org/m", "--revision", "main"]),
                null.clone(),
            ),
        ];
        for (i, r) in pinned.iter().enumerate() {
            assert!(!fires(r), "case {i}: {r:?}");
        }
    }

    #[test]
    fn gpu_visibility_needs_a_gpu_request() {
        let fires =
            |spec: serde_json::Value| serving(spec).iter().any(|(n, _, _)| *n == "gpuVisibility");
        let env = |name: &str, value: &str| serde_json::json!([{"name": name, "value": value}]);
        for e in [
            env("NVIDIA_VISIBLE_DEVICES", "all"),
            env("NVIDIA_VISIBLE_DEVICES", "0,1"),
            env("NVIDIA_DRIVER_CAPABILITIES", "compute,utility"),
            serde_json::json!([{"name": "NVIDIA_VISIBLE_DEVICES", "valueFrom": {"configMapKeyRef": {"name": "g", "key": "k"}}}]),
        ] {
            assert!(
                fires(serde_json::json!({"containers": [{"name": "a", "env": e}]})),
                "{e}"
            );
            // A zero quantity requests nothing.
            assert!(
                fires(
                    serde_json::json!({"containers": [{"name": "a", "env": e, "resources": {"limits": {"nvidia.com/gpu": 0}}}]})
                ),
                "{e}"
            );
            // Another container's GPU request counts: the pod requests a GPU.
            assert!(
                !fires(
                    serde_json::json!({"containers": [{"name": "a", "env": e}, {"name": "b", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]})
                ),
                "{e}"
            );
            assert!(
                !fires(
                    serde_json::json!({"containers": [{"name": "a", "env": e, "resources": {"requests": {"amd.com/gpu": 1}}}]})
                ),
                "{e}"
            );
            assert!(
                !fires(
                    serde_json::json!({"containers": [{"name": "a", "env": e, "resources": {"claims": [{"name": "gpu"}]}}]})
                ),
                "{e}"
            );
        }
        for value in ["void", "none", ""] {
            assert!(!fires(
                serde_json::json!({"containers": [{"name": "a", "env": [
                {"name": "NVIDIA_VISIBLE_DEVICES", "value": value}, {"name": "NVIDIA_DRIVER_CAPABILITIES", "value": "all"}]}]})
            ));
        }
        assert!(!fires(
            serde_json::json!({"containers": [{"name": "a", "env": env("CUDA_VISIBLE_DEVICES", "0")}]})
        ));
        let r = serving(
            serde_json::json!({"initContainers": [{"name": "i", "env": env("NVIDIA_VISIBLE_DEVICES", "all")}], "containers": [{"name": "a"}]}),
        );
        assert_eq!(r[0].1, "container \"i\" must not set NVIDIA_VISIBLE_DEVICES or NVIDIA_DRIVER_CAPABILITIES in a pod that requests no GPU (it would see every GPU on the node)");
    }

    #[test]
    fn ld_preload_in_env() {
        let fires = |e: serde_json::Value| {
            serving(serde_json::json!({"containers": [{"name": "a", "env": e}]}))
                .iter()
                .any(|(n, _, _)| *n == "ldPreload")
        };
        assert!(fires(
            serde_json::json!([{"name": "X", "value": "1"}, {"name": "LD_PRELOAD", "value": "/usr/lib/libhook.so"}])
        ));
        assert!(fires(
            serde_json::json!([{"name": "LD_PRELOAD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
        ));
        assert!(!fires(
            serde_json::json!([{"name": "LD_PRELOAD", "value": ""}])
        ));
        assert!(!fires(
            serde_json::json!([{"name": "LD_LIBRARY_PATH", "value": "/opt/lib"}])
        ));
        let r = serving(
            serde_json::json!({"containers": [{"name": "a", "env": [{"name": "LD_PRELOAD", "value": "x.so"}]}, {"name": "b", "env": [{"name": "LD_PRELOAD", "value": "y.so"}]}]}),
        );
        assert_eq!(r[0].1, "containers \"a\", \"b\" must not set LD_PRELOAD");
        assert_eq!(r[0].2.len(), 2);
        // Off unless configured.
        assert!(check_rules(&RulesConfig::default(), &ObjectMeta::default(), &pod(serde_json::json!({"containers": [{"name": "a", "env": [{"name": "LD_PRELOAD", "value": "x.so"}]}]}))).is_empty());
    }

    #[test]
    fn every_rule_is_in_one_table_once_with_a_title_and_a_fix() {
        let all: Vec<&RuleInfo> = RULES
            .iter()
            .chain(SERVING_RULES.iter())
            .chain(IMAGE_RULES.iter())
            .copied()
            .collect();
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
