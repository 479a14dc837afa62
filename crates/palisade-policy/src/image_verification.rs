//! Image verification at admission (`rules.requireSignature`, `rules.requireScan`, and for model
//! artifacts `rules.requireModelScan`), in two pure
//! halves around the registry work the webhook does: which images of a request must be verified,
//! with which trusted keys and requirements; and, once the verifier has answered, the decision
//! (deny, warn or audit per rule mode) and the patch that pins tags to the verified digests.

use std::time::Duration;

use palisade_core::image_ref::ImageRef;
use palisade_core::{pod_templates, Workload};
use palisade_diagnostics::Severity;

use crate::admission::{is_significant_pod_update, Admission, Decision, Fired, Request, Target};
use crate::config::{RegistryErrorMode, RuleMode};
use crate::harden::PatchOp;
use crate::teams::TeamIndex;

pub const IMAGE_AUDIT_ANNOTATION: &str = "palisade.dev/image-verification";
pub const REQUIRE_SIGNATURE_ID: &str = crate::rules::REQUIRE_SIGNATURE.id;
pub const REQUIRE_SCAN_ID: &str = crate::rules::REQUIRE_SCAN.id;
pub const REQUIRE_MODEL_SCAN_ID: &str = crate::rules::REQUIRE_MODEL_SCAN.id;

/// One image of a request and what it must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCheck {
    /// The image as the pod spec writes it.
    pub image: String,
    /// It parsed; `None` when it does not (then it cannot be verified and is denied).
    pub reference: Option<ImageRef>,
    /// Public keys (PEM) trusted for this image in the request's namespace; empty when no
    /// `imageVerification.trust` entry covers it.
    pub keys: Vec<String>,
    /// `rules.requireSignature` (or the namespace's Team) requires a signature.
    pub signature: bool,
    /// `rules.requireScan` (or the namespace's Team) requires a scan, with these limits.
    pub scan: Option<ScanPolicy>,
    /// What a failed signature check does: `rules.requireSignature`'s mode, or enforce where a
    /// Team requires it.
    pub signature_mode: RuleMode,
    /// Likewise for the scan.
    pub scan_mode: RuleMode,
    /// `rules.requireModelScan`, for a reference used as a model artifact (an image volume, a
    /// KServe `storageUri: oci://`): a model-scan attestation with these limits.
    pub model_scan: Option<ModelScanPolicy>,
    /// Its mode.
    pub model_scan_mode: RuleMode,
    /// Where the image is written: (container name, JSON pointer of its `image` field).
    pub uses: Vec<(String, String)>,
    /// Where it is referenced other than as a container's image: image volumes and KServe
    /// `storageUri: oci://...` ([`crate::rules::artifact_refs`]).
    pub artifact_uses: Vec<ArtifactUse>,
    /// The pod's `imagePullSecrets` (names of secrets in the request's namespace): where the
    /// registry credentials come from.
    pub pull_secrets: Vec<String>,
}

impl ImageCheck {
    /// The registry, with its plain-HTTP setting, and the keys: what a verdict depends on beside
    /// the digest (the cache key).
    pub fn requirement_key(&self) -> String {
        let scan = self
            .scan
            .as_ref()
            .map(|s| format!("{}:{}", s.max_severity, s.max_age.as_secs()))
            .unwrap_or_default();
        let model_scan = self
            .model_scan
            .as_ref()
            .map(|s| format!("{}:{}", s.fail_on, s.max_age.as_secs()))
            .unwrap_or_default();
        format!(
            "{}|{}|{}|{}",
            self.signature,
            scan,
            model_scan,
            self.keys.join("|")
        )
    }

    /// Whether the check requires anything of the registry.
    fn requires_something(&self) -> bool {
        self.signature || self.scan.is_some() || self.model_scan.is_some()
    }
}

/// What a model artifact's model-scan attestation must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelScanPolicy {
    pub fail_on: palisade_sign_core::intoto::ModelSeverity,
    pub max_age: Duration,
}

/// A model or other OCI artifact reference of a pod, checked as a container image is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactUse {
    /// `volume "models"`, `storageUri of container "kserve-container"`.
    pub what: String,
    /// JSON pointer of the field that holds it.
    pub pointer: String,
    /// The field holds `oci://` + the reference (`storageUri`), so a pin is written so too.
    pub uri: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPolicy {
    pub max_severity: Severity,
    pub max_age: Duration,
}

/// What the verifier found for one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageVerdict {
    /// The manifest digest the reference resolved to, which the checks were made against.
    pub digest: Option<String>,
    /// The signature check: `Err` with every reason; `None` when not required or not reached.
    pub signature: Option<Result<(), Vec<String>>>,
    /// The scan-attestation check, likewise.
    pub scan: Option<Result<(), Vec<String>>>,
    /// The model-scan-attestation check, likewise.
    pub model_scan: Option<Result<(), Vec<String>>>,
    /// No verdict: the registry could not be reached, or verification ran out of time or capacity.
    pub unavailable: Option<String>,
}

/// One failed requirement, for messages.
struct Failure {
    rule: &'static str,
    mode: RuleMode,
    text: String,
}

impl Admission {
    /// The images of a pod or workload request that the image rules cover, one check per distinct
    /// image; empty when the rules are off or the request is not evaluated (as `validate` screens).
    pub fn image_checks(&self, request: &Request<'_>) -> Vec<ImageCheck> {
        self.image_checks_with_teams(request, &TeamIndex::default())
    }

    /// As [`Self::image_checks`], with the image rules of the Team that owns the request's
    /// namespace on top: its keys are trusted for every image there and, with its scan limits,
    /// enforced whatever `rules` says.
    pub fn image_checks_with_teams(
        &self,
        request: &Request<'_>,
        teams: &TeamIndex,
    ) -> Vec<ImageCheck> {
        let rules = &self.config().rules;
        let team = teams
            .team_of(request.namespace)
            .and_then(|t| t.images.as_ref())
            .filter(|i| !i.keys.is_empty() || i.scan.is_some());
        if rules.require_signature.is_none()
            && rules.require_scan.is_none()
            && rules.require_model_scan.is_none()
            && team.is_none()
        {
            return Vec::new();
        }
        let Some((object, templates)) = self.image_templates(request) else {
            return Vec::new();
        };
        let team_signs = team.is_some_and(|t| !t.keys.is_empty());
        let (signature, signature_mode) = match (&rules.require_signature, team_signs) {
            (_, true) => (true, RuleMode::Enforce),
            (Some(rule), false) => (true, rule.mode),
            (None, false) => (false, RuleMode::Enforce),
        };
        let (scan, scan_mode) = match (team.and_then(|t| t.scan.as_ref()), &rules.require_scan) {
            (Some(limits), _) => (Some(limits.clone()), RuleMode::Enforce),
            (None, Some(rule)) => (
                Some(ScanPolicy {
                    max_severity: rule.max_severity,
                    max_age: rule.max_age,
                }),
                rule.mode,
            ),
            (None, None) => (None, RuleMode::Enforce),
        };
        let mut checks: Vec<ImageCheck> = Vec::new();
        for template in &templates {
            let pull_secrets = pull_secret_names(object, template);
            let new_check = |image: &str| {
                let reference = ImageRef::parse(image).ok();
                let mut keys = reference
                    .as_ref()
                    .map(|r| self.trusted_keys(r, request.namespace))
                    .unwrap_or_default();
                for pem in team.map(|t| t.keys.as_slice()).unwrap_or_default() {
                    if !keys.contains(pem) {
                        keys.push(pem.clone());
                    }
                }
                ImageCheck {
                    image: image.to_owned(),
                    reference,
                    keys,
                    signature,
                    scan: scan.clone(),
                    signature_mode,
                    scan_mode,
                    model_scan: None,
                    model_scan_mode: RuleMode::Enforce,
                    uses: Vec::new(),
                    artifact_uses: Vec::new(),
                    pull_secrets: pull_secrets.clone(),
                }
            };
            for (kind, index, container) in template.spec.all_containers() {
                let pointer = template
                    .container_path(kind, index)
                    .field("image")
                    .to_json_pointer();
                let use_ = (container.name.clone(), pointer);
                if let Some(check) = checks.iter_mut().find(|c| c.image == container.image) {
                    check.uses.push(use_);
                    continue;
                }
                let mut check = new_check(&container.image);
                check.uses.push(use_);
                checks.push(check);
            }
            for artifact in crate::rules::artifact_refs(&template.spec) {
                let (path, _) = crate::audit::resolve(template, &artifact.location);
                let use_ = ArtifactUse {
                    what: artifact.what,
                    pointer: path.to_json_pointer(),
                    uri: artifact.uri,
                };
                let index = match checks.iter().position(|c| c.image == artifact.reference) {
                    Some(index) => index,
                    None => {
                        checks.push(new_check(&artifact.reference));
                        checks.len() - 1
                    }
                };
                let check = &mut checks[index];
                check.artifact_uses.push(use_);
                if let Some(rule) = &rules.require_model_scan {
                    check.model_scan = Some(ModelScanPolicy {
                        fail_on: rule.fail_on,
                        max_age: rule.max_age,
                    });
                    check.model_scan_mode = rule.mode;
                }
            }
        }
        // With only rules.requireModelScan, a container image requires nothing of the registry.
        checks.retain(ImageCheck::requires_something);
        checks
    }

    /// The keys every `imageVerification.trust` entry covering `image` in `namespace` lists.
    fn trusted_keys(&self, image: &ImageRef, namespace: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for entry in &self.config().image_verification.trust {
            let covers = entry.images.iter().any(|p| image_matches(p, image))
                && entry.namespaces.iter().any(|p| glob(p, namespace));
            if covers {
                for pem in &entry.key_pems {
                    if !keys.contains(pem) {
                        keys.push(pem.clone());
                    }
                }
            }
        }
        keys
    }

    /// The decision for the images, given the verifier's verdicts (in the order of `checks`). A
    /// check without a verdict could not be verified, which is never taken as verified.
    pub fn judge_images(
        &self,
        request: &Request<'_>,
        checks: &[ImageCheck],
        verdicts: &[ImageVerdict],
    ) -> Decision {
        let fail_open =
            self.config().image_verification.on_registry_error == RegistryErrorMode::Allow;
        let mut failures: Vec<Failure> = Vec::new();
        let mut warnings = Vec::new();
        let missing = ImageVerdict {
            unavailable: Some("image verification is not running".into()),
            ..ImageVerdict::default()
        };
        for (i, check) in checks.iter().enumerate() {
            let verdict = verdicts.get(i).unwrap_or(&missing);
            let mut of = Vec::new();
            if !check.uses.is_empty() {
                let containers = check
                    .uses
                    .iter()
                    .map(|(name, _)| format!("{name:?}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                of.push(format!("container {containers}"));
            }
            of.extend(check.artifact_uses.iter().map(|u| u.what.clone()));
            let of = of.join(", ");
            let subject = match &verdict.digest {
                Some(digest) if !check.image.contains(digest.as_str()) => {
                    format!("image {:?} ({digest}) of {of}", check.image)
                }
                _ => format!("image {:?} of {of}", check.image),
            };
            let signature_mode = check.signature.then_some(check.signature_mode);
            let scan_mode = check.scan.is_some().then_some(check.scan_mode);
            let model_scan_mode = check.model_scan.is_some().then_some(check.model_scan_mode);
            let mut fail = |rule: &'static str, mode: Option<RuleMode>, why: String| {
                if let Some(mode) = mode {
                    failures.push(Failure {
                        rule,
                        mode,
                        text: format!("{subject}: {why}"),
                    });
                }
            };
            // What fails when nothing can be checked: each rule the check requires.
            let required: Vec<(&'static str, Option<RuleMode>)> = [
                (REQUIRE_SIGNATURE_ID, signature_mode),
                (REQUIRE_SCAN_ID, scan_mode),
                (REQUIRE_MODEL_SCAN_ID, model_scan_mode),
            ]
            .into_iter()
            .filter(|(_, mode)| mode.is_some())
            .collect();
            let (first_rule, first_mode) =
                required.first().copied().unwrap_or((REQUIRE_SCAN_ID, None));
            if check.reference.is_none() {
                fail(first_rule, first_mode, "not a valid image reference".into());
                continue;
            }
            if check.keys.is_empty() {
                let why = format!(
                    "no key in imageVerification.trust is trusted for this image in namespace {:?}",
                    request.namespace
                );
                for &(rule, mode) in &required {
                    fail(rule, mode, why.clone());
                }
                continue;
            }
            if let Some(message) = &verdict.unavailable {
                if fail_open {
                    warnings.push(format!(
                        "{subject}: not verified ({message}); allowed because imageVerification.onRegistryError is allow"
                    ));
                } else {
                    fail(
                        first_rule,
                        first_mode,
                        format!("cannot be verified: {message}"),
                    );
                }
                continue;
            }
            if let Some(Err(reasons)) = &verdict.signature {
                fail(REQUIRE_SIGNATURE_ID, signature_mode, reasons.join("; "));
            }
            if let Some(Err(reasons)) = &verdict.scan {
                fail(REQUIRE_SCAN_ID, scan_mode, reasons.join("; "));
            }
            if let Some(Err(reasons)) = &verdict.model_scan {
                fail(
                    REQUIRE_MODEL_SCAN_ID,
                    model_scan_mode,
                    format!("model scan: {}", reasons.join("; ")),
                );
            }
        }
        let mut decision = Decision {
            warnings,
            ..Decision::default()
        };
        for failure in &failures {
            decision.fired.push(Fired {
                rule: failure.rule,
                mode: match failure.mode {
                    RuleMode::Enforce => "enforce",
                    RuleMode::Warn => "warn",
                    RuleMode::Audit => "audit",
                },
            });
        }
        let texts = |mode: RuleMode| -> Vec<&str> {
            failures
                .iter()
                .filter(|f| f.mode == mode)
                .map(|f| f.text.as_str())
                .collect()
        };
        // How to fix each rule that fired, once, from the rule table.
        let fixes = |mode: RuleMode| -> String {
            crate::rules::IMAGE_RULES
                .iter()
                .filter(|rule| failures.iter().any(|f| f.mode == mode && f.rule == rule.id))
                .map(|rule| format!(" (to fix {}: {})", rule.id, rule.hint))
                .collect()
        };
        let enforced = texts(RuleMode::Enforce);
        if !enforced.is_empty() {
            decision.denial = Some(self.forbidden(
                request,
                format!(
                    "images not verified: {}{}",
                    enforced.join("; "),
                    fixes(RuleMode::Enforce)
                ),
            ));
            decision.warnings.clear();
        } else {
            let fix = fixes(RuleMode::Warn);
            for text in texts(RuleMode::Warn) {
                decision
                    .warnings
                    .push(format!("image not verified: {text}{fix}"));
            }
        }
        let audited = texts(RuleMode::Audit);
        if !audited.is_empty() {
            decision.audit_annotations.insert(
                IMAGE_AUDIT_ANNOTATION.into(),
                format!("images not verified: {}", audited.join("; ")),
            );
        }
        decision
    }

    /// The checks whose tags the mutating webhook resolves for pinning: none when
    /// `imageVerification.pinDigests` is off, so no registry work is done for nothing.
    pub fn pin_checks(&self, request: &Request<'_>) -> Vec<ImageCheck> {
        if !self.config().image_verification.pin_digests {
            return Vec::new();
        }
        self.image_checks(request)
    }

    /// The mutating webhook's patch: every tag that resolved replaced by `name:tag@digest`, so the
    /// kubelet pulls what was verified. Images already pinned are left alone.
    pub fn pin_images(&self, checks: &[ImageCheck], digests: &[Option<String>]) -> Vec<PatchOp> {
        if !self.config().image_verification.pin_digests {
            return Vec::new();
        }
        let mut patch = Vec::new();
        for (check, digest) in checks.iter().zip(digests) {
            let (Some(reference), Some(digest)) = (&check.reference, digest) else {
                continue;
            };
            if reference.digest.is_some() {
                continue;
            }
            let pinned = format!("{}@{digest}", check.image);
            for (_, pointer) in &check.uses {
                patch.push(PatchOp {
                    op: "replace",
                    path: pointer.clone(),
                    value: serde_json::Value::String(pinned.clone()),
                });
            }
            for artifact in &check.artifact_uses {
                patch.push(PatchOp {
                    op: "replace",
                    path: artifact.pointer.clone(),
                    value: serde_json::Value::String(if artifact.uri {
                        format!("oci://{pinned}")
                    } else {
                        pinned.clone()
                    }),
                });
            }
        }
        patch
    }
}

/// Whether `pattern` covers `image` (`registry/path`): without wildcards, as a prefix on path
/// segments (as `allowedRegistries`); with them, as a glob where `*` stays within a segment and
/// `**` crosses segments.
pub fn image_matches(pattern: &str, image: &ImageRef) -> bool {
    if !pattern.contains('*') {
        return image.is_under(pattern);
    }
    segment_glob(pattern.as_bytes(), image.full_name().as_bytes())
}

fn segment_glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| segment_glob(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let segment_end = text.iter().position(|&c| c == b'/').unwrap_or(text.len());
            (0..=segment_end).any(|i| segment_glob(rest, &text[i..]))
        }
        [c, rest @ ..] => text.first() == Some(c) && segment_glob(rest, &text[1..]),
    }
}

/// `*` matches any run of characters (namespace names have no separators).
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match p {
            [] => t.is_empty(),
            [b'*', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..])),
            [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

impl Admission {
    /// The object and pod templates of a request whose images admission reads from registries
    /// (signatures, scans, configurations): a pod or workload the rules evaluate, and for a pod
    /// update only one that changes what runs, and no pod in an exempt runtime class. None
    /// otherwise.
    pub(crate) fn image_templates<'r>(
        &self,
        request: &Request<'r>,
    ) -> Option<(&'r palisade_core::Object, Vec<palisade_core::PodTemplate>)> {
        let target = self.screen(request).ok()?;
        if !matches!(target, Target::Pod | Target::Workload) {
            return None;
        }
        let Some(Ok(object)) = request.object else {
            return None;
        };
        if target == Target::Pod && request.operation == "UPDATE" {
            if let Some(old) = request.old_object {
                if !is_significant_pod_update(&object.node, old) {
                    return None;
                }
            }
        }
        let Ok(Workload::Pods(templates)) = pod_templates(object) else {
            return None;
        };
        // A pod in an exempt runtime class is not checked at all.
        let exempt = &self.config().pod_security.exemptions.runtime_classes;
        let exempted = templates.iter().any(|t| {
            t.spec
                .runtime_class_name
                .as_deref()
                .is_some_and(|class| !class.is_empty() && exempt.iter().any(|c| c == class))
        });
        (!exempted).then_some((object, templates))
    }
}

/// The names of a pod template's `imagePullSecrets`, for reading its images.
pub(crate) fn pull_secret_names(
    object: &palisade_core::Object,
    template: &palisade_core::PodTemplate,
) -> Vec<String> {
    match object
        .node
        .at(&template.spec_path.clone().field("imagePullSecrets"))
        .map(|n| &n.value)
    {
        Some(palisade_core::node::Value::Sequence(items)) => items
            .iter()
            .filter_map(|i| i.get("name").and_then(|n| n.as_str()))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{parse_object, ParsedObject};
    use crate::config::Config;
    use palisade_core::node::Node;
    use serde_json::{json, Value};

    /// A P-256 public key (SPKI PEM) made for these tests.
    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2uMP4GXpcwFZwJPHjxHB1IWYOLXM\nlncmJ357oCw6MLL6YcXPo+p52vijdXiX7idb7e55L4AvIEDpx3AEGiSuOA==\n-----END PUBLIC KEY-----\n";

    fn admission(rules: &str) -> Admission {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ci.pub"), KEY).unwrap();
        let file = dir.path().join("palisade.yaml");
        let text = format!(
            "rules:\n{rules}imageVerification:\n  trust:\n    - images: [\"registry.example.com/ml/**\"]\n      namespaces: [\"ml-*\"]\n      keys: [ci.pub]\n"
        );
        std::fs::write(&file, text).unwrap();
        let config = Config::load(&file).unwrap();
        let defaults = config.default_level_version();
        Admission::new(config, defaults)
    }

    fn parsed(value: &Value) -> ParsedObject {
        parse_object(Node::from_json(value), "ml-iris", "p")
    }

    fn request<'a>(namespace: &'a str, object: &'a ParsedObject) -> Request<'a> {
        Request {
            operation: "CREATE",
            group: "",
            kind: "Pod",
            resource: "pods",
            resource_group: "",
            sub_resource: "",
            name: "p",
            namespace,
            username: "",
            object: Some(object),
            groups: &[],
            old_object: None,
        }
    }

    fn pod(images: &[&str]) -> Value {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect();
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": containers, "initContainers": [{"name": "init", "image": images[0]}]}})
    }

    #[test]
    fn checks_cover_each_image_once_with_its_keys() {
        let admission =
            admission("  requireSignature: {}\n  requireScan: {maxSeverity: medium, maxAge: 1d}\n");
        let object = parsed(&pod(&[
            "registry.example.com/ml/iris:1",
            "docker.io/redis:7",
        ]));
        let checks = admission.image_checks(&request("ml-iris", &object));
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].image, "registry.example.com/ml/iris:1");
        assert_eq!(
            checks[0].uses,
            [
                ("init".to_owned(), "/spec/initContainers/0/image".to_owned()),
                ("c0".to_owned(), "/spec/containers/0/image".to_owned())
            ]
        );
        assert_eq!(checks[0].keys, [KEY]);
        assert_eq!(
            checks[0].scan,
            Some(ScanPolicy {
                max_severity: Severity::Medium,
                max_age: Duration::from_secs(86_400)
            })
        );
        assert!(checks[1].keys.is_empty(), "redis is not covered");
        // Another namespace: no trusted key.
        let checks = admission.image_checks(&request("web", &object));
        assert!(checks.iter().all(|c| c.keys.is_empty()));
        // Rules off: nothing to verify.
        let off = Admission::new(Config::default(), Config::default().default_level_version());
        assert!(off.image_checks(&request("ml-iris", &object)).is_empty());
    }

    #[test]
    fn verdicts_become_denials_warnings_or_patches() {
        let admission = admission("  requireSignature: {}\n  requireScan: {mode: warn}\n");
        let object = parsed(&pod(&[
            "registry.example.com/ml/iris:1",
            "docker.io/redis:7",
        ]));
        let req = request("ml-iris", &object);
        let checks = admission.image_checks(&req);
        let digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let good = ImageVerdict {
            digest: Some(digest.into()),
            signature: Some(Ok(())),
            scan: Some(Ok(())),
            model_scan: None,
            unavailable: None,
        };
        // redis has no trusted key: denied by requireSignature (enforce).
        let decision =
            admission.judge_images(&req, &checks, &[good.clone(), ImageVerdict::default()]);
        let denial = decision.denial.unwrap();
        assert_eq!(denial.code, 403);
        assert_eq!(
            denial.message,
            "pods \"p\" is forbidden: images not verified: image \"docker.io/redis:7\" of container \"c1\": no key in imageVerification.trust is trusted for this image in namespace \"ml-iris\" (to fix palisade/require-signature: sign the image with `palisade sign` (or cosign) using a key trusted for this namespace and image in imageVerification.trust)"
        );
        // No verdicts at all: not verified, so denied (fail closed).
        let decision = admission.judge_images(&req, &checks[..1], &[]);
        assert!(decision
            .denial
            .unwrap()
            .message
            .contains("cannot be verified: image verification is not running"));
        // Only the first image: allowed; a failed scan (warn mode) is a warning.
        let checks = &checks[..1];
        assert!(admission
            .judge_images(&req, checks, std::slice::from_ref(&good))
            .allowed());
        let stale = ImageVerdict {
            scan: Some(Err(vec!["stale".into()])),
            ..good.clone()
        };
        let decision = admission.judge_images(&req, checks, &[stale]);
        assert!(decision.allowed());
        assert_eq!(
            decision.warnings,
            [format!("image not verified: image \"registry.example.com/ml/iris:1\" ({digest}) of container \"init\", \"c0\": stale (to fix palisade/require-scan: attest a fresh scan with `palisade attest --scan`, after fixing what it finds above rules.requireScan.maxSeverity)")]
        );
        // Registry down: fail closed.
        let down = ImageVerdict {
            unavailable: Some("registry unreachable".into()),
            ..ImageVerdict::default()
        };
        let decision = admission.judge_images(&req, checks, &[down]);
        assert!(decision
            .denial
            .unwrap()
            .message
            .contains("cannot be verified: registry unreachable"));
        // Pinning: every use of the image, the tag kept.
        let patch = admission.pin_images(checks, &[Some(digest.into())]);
        assert_eq!(patch.len(), 2);
        assert_eq!(patch[1].path, "/spec/containers/0/image");
        assert_eq!(
            patch[1].value,
            json!(format!("registry.example.com/ml/iris:1@{digest}"))
        );
    }

    #[test]
    fn workload_templates_are_checked_and_pinned_where_they_are_written() {
        let admission = admission("  requireSignature: {}\n");
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "iris"},
            "spec": {"template": {"metadata": {"labels": {"app": "iris"}}, "spec": {
                "imagePullSecrets": [{"name": "regcred"}],
                "containers": [{"name": "server", "image": "registry.example.com/ml/iris:1"}]}}}
        });
        let object = parsed(&deployment);
        let req = Request {
            group: "apps",
            kind: "Deployment",
            resource: "deployments",
            resource_group: "apps",
            ..request("ml-iris", &object)
        };
        let checks = admission.image_checks(&req);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].pull_secrets, ["regcred"]);
        assert_eq!(
            checks[0].uses,
            [(
                "server".to_owned(),
                "/spec/template/spec/containers/0/image".to_owned()
            )]
        );
        let digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let patch = admission.pin_images(&checks, &[Some(digest.into())]);
        assert_eq!(patch[0].path, "/spec/template/spec/containers/0/image");
        assert_eq!(admission.pin_checks(&req), checks);
        let mut config = admission.config().clone();
        config.image_verification.pin_digests = false;
        let unpinned = Admission::new(config.clone(), config.default_level_version());
        assert!(unpinned.pin_checks(&req).is_empty());
        assert!(unpinned
            .pin_images(&checks, &[Some(digest.into())])
            .is_empty());
        // An unsigned image in a Deployment is denied like one in a pod.
        let unsigned = ImageVerdict {
            digest: Some(digest.into()),
            signature: Some(Err(vec!["no signature".into()])),
            ..ImageVerdict::default()
        };
        let denial = admission
            .judge_images(&req, &checks, &[unsigned])
            .denial
            .unwrap();
        assert!(
            denial
                .message
                .starts_with("deployments.apps \"p\" is forbidden: images not verified"),
            "{}",
            denial.message
        );
    }

    #[test]
    fn image_volumes_and_kserve_oci_storage_are_checked_and_pinned_like_images() {
        let admission = admission("  requireSignature: {}\n");
        let digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        // A pod mounting a model as an image volume; the same reference also run as an image.
        let mut pod = pod(&["registry.example.com/ml/iris:1"]);
        pod["spec"]["volumes"] = json!([
            {"name": "cache", "emptyDir": {}},
            {"name": "model", "image": {"reference": "registry.example.com/ml/models/iris:1"}},
            {"name": "same", "image": {"reference": "registry.example.com/ml/iris:1"}}
        ]);
        let object = parsed(&pod);
        let req = request("ml-iris", &object);
        let checks = admission.image_checks(&req);
        assert_eq!(checks.len(), 2);
        assert_eq!(
            checks[0].artifact_uses,
            [ArtifactUse {
                what: "volume \"same\"".into(),
                pointer: "/spec/volumes/2/image/reference".into(),
                uri: false
            }]
        );
        assert_eq!(checks[1].image, "registry.example.com/ml/models/iris:1");
        assert!(checks[1].uses.is_empty());
        assert_eq!(checks[1].keys, [KEY]);
        let patch = admission.pin_images(&checks[1..], &[Some(digest.into())]);
        assert_eq!(patch.len(), 1);
        assert_eq!(patch[0].path, "/spec/volumes/1/image/reference");
        assert_eq!(
            patch[0].value,
            json!(format!("registry.example.com/ml/models/iris:1@{digest}"))
        );
        // Unsigned: denied, named by its volume.
        let unsigned = ImageVerdict {
            digest: Some(digest.into()),
            signature: Some(Err(vec!["no signature".into()])),
            ..ImageVerdict::default()
        };
        let denial = admission
            .judge_images(&req, &checks[1..], &[unsigned])
            .denial
            .unwrap();
        assert!(
            denial.message.starts_with(&format!("pods \"p\" is forbidden: images not verified: image \"registry.example.com/ml/models/iris:1\" ({digest}) of volume \"model\": no signature")),
            "{}",
            denial.message
        );
        // KServe: the predictor's oci:// storageUri, pinned as a URI; s3:// is not an image.
        let isvc = json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "iris"},
            "spec": {
                "predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "oci://registry.example.com/ml/models/iris:1",
                    "image": "registry.example.com/ml/sklearn-server@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
                "transformer": {"containers": [{"name": "t", "image": "registry.example.com/ml/t@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]},
                "explainer": {"art": {"storageUri": "s3://bucket/iris"}}
            }
        });
        let object = parsed(&isvc);
        let req = Request {
            group: "serving.kserve.io",
            kind: "InferenceService",
            resource: "inferenceservices",
            resource_group: "serving.kserve.io",
            ..request("ml-iris", &object)
        };
        let checks = admission.image_checks(&req);
        let model = checks
            .iter()
            .find(|c| c.image == "registry.example.com/ml/models/iris:1")
            .expect("the storageUri is checked");
        assert_eq!(
            model.artifact_uses,
            [ArtifactUse {
                what: "storageUri of container \"kserve-container\"".into(),
                pointer: "/spec/predictor/model/storageUri".into(),
                uri: true
            }]
        );
        assert!(checks.iter().all(|c| !c.image.contains("s3:")));
        let patch = admission.pin_images(std::slice::from_ref(model), &[Some(digest.into())]);
        assert_eq!(patch[0].path, "/spec/predictor/model/storageUri");
        assert_eq!(
            patch[0].value,
            json!(format!(
                "oci://registry.example.com/ml/models/iris:1@{digest}"
            ))
        );
    }

    #[test]
    fn model_artifacts_alone_require_a_model_scan() {
        let admission = admission("  requireModelScan: {failOn: suspicious, maxAge: 2d}\n");
        let mut pod = pod(&["registry.example.com/ml/iris:1"]);
        pod["spec"]["volumes"] = json!([
            {"name": "model", "image": {"reference": "registry.example.com/ml/models/iris:1"}}
        ]);
        let object = parsed(&pod);
        let req = request("ml-iris", &object);
        // The container image requires nothing of the registry; the model volume a model scan.
        let checks = admission.image_checks(&req);
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(checks[0].image, "registry.example.com/ml/models/iris:1");
        assert!(!checks[0].signature && checks[0].scan.is_none());
        assert_eq!(
            checks[0].model_scan,
            Some(ModelScanPolicy {
                fail_on: palisade_sign_core::intoto::ModelSeverity::Suspicious,
                max_age: Duration::from_secs(2 * 86_400)
            })
        );
        assert!(checks[0].requirement_key().contains("suspicious:172800"));
        let digest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let passed = ImageVerdict {
            digest: Some(digest.into()),
            model_scan: Some(Ok(())),
            ..ImageVerdict::default()
        };
        assert!(admission
            .judge_images(&req, &checks, std::slice::from_ref(&passed))
            .allowed());
        let found = ImageVerdict {
            model_scan: Some(Err(vec!["the scan found dangerous (x)".into()])),
            ..passed
        };
        let denial = admission
            .judge_images(&req, &checks, &[found])
            .denial
            .unwrap();
        assert!(
            denial.message.starts_with(&format!("pods \"p\" is forbidden: images not verified: image \"registry.example.com/ml/models/iris:1\" ({digest}) of volume \"model\": model scan: the scan found dangerous (x) (to fix palisade/require-model-scan: ")),
            "{}",
            denial.message
        );
        assert!(denial.message.contains("palisade attest --model-scan"));
        // Unreachable, or no verdict at all: denied under the same rule.
        for verdicts in [
            vec![ImageVerdict {
                unavailable: Some("registry down".into()),
                ..ImageVerdict::default()
            }],
            vec![],
        ] {
            let denial = admission
                .judge_images(&req, &checks, &verdicts)
                .denial
                .unwrap();
            assert!(
                denial.message.contains("cannot be verified"),
                "{}",
                denial.message
            );
            assert!(
                denial
                    .message
                    .contains("to fix palisade/require-model-scan"),
                "{}",
                denial.message
            );
        }
        // Without it, neither the container nor the volume is checked.
        let off = self::admission("  requireSignature: {}\n");
        let checks = off.image_checks(&req);
        assert!(checks.iter().all(|c| c.model_scan.is_none()));
    }

    #[test]
    fn require_model_scan_is_checked_when_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("palisade.yaml");
        for (rules, error) in [
            (
                "rules:\n  requireModelScan: {}\n",
                "needs imageVerification.trust",
            ),
            (
                "rules:\n  requireModelScan: {failOn: high}\n",
                "\"high\" is not one of info, suspicious, dangerous",
            ),
        ] {
            std::fs::write(&file, rules).unwrap();
            let message = Config::load(&file).unwrap_err().to_string();
            assert!(message.contains(error), "{message}");
        }
    }

    #[test]
    fn patterns_match_on_segments() {
        let image = ImageRef::parse("registry.example.com/ml/team-a/iris:1").unwrap();
        assert!(image_matches("registry.example.com/ml", &image));
        assert!(image_matches("registry.example.com/ml/**", &image));
        assert!(image_matches("registry.example.com/ml/*/iris", &image));
        assert!(!image_matches("registry.example.com/ml/*", &image));
        assert!(!image_matches("registry.example.com/m", &image));
        assert!(glob("ml-*", "ml-iris"));
        assert!(!glob("ml-*", "web"));
        assert!(glob("*", ""));
    }
}
