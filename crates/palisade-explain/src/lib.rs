//! palisade-explain: why a model server was rejected at admission or does not start, and the
//! change that makes it run. It reads the evidence a user has (the manifest, the pod's events or
//! the admission denial, the container logs, a summary of the image) and returns diagnoses (each
//! with the plain reason, the evidence line it came from and the fix), the fixed manifest text
//! and a JSON Patch per object. `palisade explain` is its front end.
//!
//! Pure: no I/O, no printing. The Pod Security violations are the audit engine's
//! (`palisade-policy`'s `Auditor`, as `palisade audit` evaluates them), the edits are
//! `palisade-policy`'s hardening, written into the YAML text by its `harden_text`. It must not
//! depend on image access, registries or the CLI: the front end reads the image and hands over an
//! [`ImageSummary`].
#![forbid(unsafe_code)]

pub mod evidence;
pub mod fix;
pub mod image;
mod rules;

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use palisade_core::pod::ContainerKind;
use palisade_core::{pod_templates, yaml, Finding, InputError, Node, Object, Workload};
use palisade_diagnostics::{Diagnostic, Location};
use palisade_policy::config::HardeningConfig;
use palisade_policy::harden::{harden_overriding, PatchOp, PodPointers, DEFAULT_NON_ROOT_UID};
use palisade_policy::harden_text::{rewrite, WantedDocument};
use palisade_policy::{AuditOutcome, Auditor, Config};
use palisade_pss::LevelVersion;

pub use evidence::{Clue, ImageRule, Seen, Text};
pub use image::{ImageSummary, ImageUser};
pub use rules::TABLE;

use fix::Outcome;

/// Everything the user has.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub manifest: Text,
    /// `kubectl describe pod`, `kubectl get events -o yaml|json`, or a pasted denial.
    pub events: Option<Text>,
    /// Container logs.
    pub logs: Option<Text>,
    pub image: Option<ImageSummary>,
}

/// The policy to explain against.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub config: &'a Config,
    /// The level and version for objects whose namespace sets none (a `Namespace` in the
    /// manifest with Pod Security labels sets its own, as in `palisade audit`).
    pub defaults: LevelVersion,
    /// Whether `defaults` were asked for (`--level`, `--version`). When they were not, the
    /// policy a pasted Pod Security denial names (`violates PodSecurity "restricted:v1.33"`) is
    /// the one the manifest is explained at: it is what the cluster enforces.
    pub policy_given: bool,
}

/// What explaining gave.
#[derive(Debug)]
pub struct Explanation {
    /// Each problem, with `properties` `resolution` (`fixed` or `needs a person`) and `evidence`
    /// (the line it came from, where it came from the events or logs).
    pub diagnoses: Vec<Diagnostic>,
    /// The manifest with every fix written in.
    pub fixed: String,
    /// True when the fixed manifest had to be re-emitted, losing its comments.
    pub reemitted: bool,
    /// The JSON Patch of each object the fix changes.
    pub patches: Vec<ObjectPatch>,
}

/// One object's patch.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectPatch {
    pub file: String,
    pub document: usize,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub patch: Vec<PatchOp>,
}

impl Explanation {
    /// Whether something is left that the fix does not settle: a person must decide.
    pub fn needs_person(&self) -> bool {
        self.diagnoses.iter().any(|d| resolution(d) == Some(PERSON))
    }
}

/// The `resolution` of a diagnosis the fix settles.
pub const FIXED: &str = "fixed";
/// The `resolution` of a diagnosis a person must settle.
pub const PERSON: &str = "needs a person";

fn resolution(d: &Diagnostic) -> Option<&str> {
    d.properties
        .iter()
        .find(|(k, _)| *k == "resolution")
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{0}: no workload to explain (a Pod, a workload with a pod template, or a KServe InferenceService)")]
    NoWorkload(Arc<str>),
}

/// One document of the manifest.
struct Document {
    root: Node,
    object: Option<Object>,
    pods: Vec<fix::Pod>,
}

/// The user the fix runs the pods as, and where it came from.
struct RunAs {
    uid: i64,
    gid: i64,
    /// How the UID was chosen, for the messages.
    why: String,
}

/// Explains why the manifest's pods are rejected or crash, from the evidence, and fixes what
/// can be fixed without a person's judgement.
/// `restricted:v1.33` or `baseline:latest`, as the API server names the policy it enforced.
fn parse_policy(text: &str) -> Option<LevelVersion> {
    let (level, version) = text.split_once(':')?;
    Some(LevelVersion::new(
        level.parse().ok()?,
        version.parse().ok()?,
    ))
}

pub fn explain(evidence: &Evidence, options: &Options<'_>) -> Result<Explanation, ExplainError> {
    let file = &evidence.manifest.name;
    let documents = read_manifest(file, &evidence.manifest.text)?;
    if documents.iter().all(|d| d.pods.is_empty()) {
        return Err(ExplainError::NoWorkload(file.clone()));
    }
    let mut clues = Vec::new();
    if let Some(events) = &evidence.events {
        clues.extend(evidence::read_events(events));
    }
    if let Some(logs) = &evidence.logs {
        clues.extend(evidence::read_logs(logs));
    }
    let denied_at = clues.iter().find_map(|(clue, _)| match clue {
        Clue::PodSecurityDenied { policy } => parse_policy(policy),
        _ => None,
    });
    let defaults = match denied_at {
        Some(policy) if !options.policy_given => policy,
        _ => options.defaults,
    };
    let mut auditor = Auditor::new(options.config, defaults);
    for object in documents.iter().filter_map(|d| d.object.as_ref()) {
        auditor.learn_namespace(object);
    }
    let image_user = evidence.image.as_ref().map(ImageSummary::user);
    let run_as = run_as(image_user.as_ref(), &options.config.hardening);
    let hardening = HardeningConfig {
        run_as_user: Some(run_as.uid),
        ..options.config.hardening.clone()
    };

    let mut diagnoses = Vec::new();
    let mut wanted: Vec<Value> = Vec::new();
    let mut before: Vec<Finding> = Vec::new();
    for document in &documents {
        let mut value = document.root.to_json();
        if let Some(object) = document
            .object
            .as_ref()
            .filter(|_| !document.pods.is_empty())
        {
            if let AuditOutcome::Report(report) = auditor.audit(object)? {
                before.extend(report.findings);
            }
            let level = auditor.policy_for(&object.metadata.namespace).level;
            let pointers: Vec<PodPointers> = document
                .pods
                .iter()
                .map(|p| PodPointers {
                    spec: p.spec.clone(),
                    containers: p.containers.iter().map(|c| c.pointer.clone()).collect(),
                })
                .collect();
            value = harden_overriding(&value, &pointers, &hardening, level);
            for (clue, seen) in &clues {
                if let Some(d) = runtime_fix(clue, seen, &mut value, &document.pods, &run_as) {
                    diagnoses.push(d);
                }
            }
        }
        wanted.push(value);
    }
    let wanted_documents: Vec<WantedDocument<'_>> = documents
        .iter()
        .zip(&wanted)
        .map(|(d, w)| WantedDocument {
            root: &d.root,
            wanted: w,
        })
        .collect();
    let rewritten = rewrite(file, &evidence.manifest.text, &wanted_documents)?;

    // What the audit still finds in the fixed text is what a person must settle.
    let after = remaining(&auditor, file, &rewritten.text);
    diagnoses.splice(
        0..0,
        before.iter().map(|f| pod_security(f, &after, &run_as)),
    );
    for (clue, seen) in &clues {
        if let Some(d) = admission_or_kubelet(clue, seen, &documents, &wanted, &run_as) {
            diagnoses.push(d);
        }
    }
    if let Some(user) = &image_user {
        let kubelet_seen = clues.iter().any(|(c, _)| {
            matches!(
                c,
                Clue::ImageRunsAsRoot { .. } | Clue::NonNumericUser { .. }
            )
        });
        if !kubelet_seen {
            diagnoses.extend(predicted_kubelet(user, evidence, &documents, &run_as));
        }
    }
    let patches = documents
        .iter()
        .zip(&rewritten.ops)
        .filter(|(_, ops)| !ops.is_empty())
        .map(|(d, ops)| {
            let object = d.object.as_ref();
            ObjectPatch {
                file: file.to_string(),
                document: object.map_or(0, |o| o.source.document),
                kind: object.map(|o| o.kind.clone()).unwrap_or_default(),
                namespace: object
                    .map(|o| o.metadata.namespace.clone())
                    .unwrap_or_default(),
                name: object.map(|o| o.metadata.name.clone()).unwrap_or_default(),
                patch: ops.clone(),
            }
        })
        .collect();
    Ok(Explanation {
        diagnoses,
        fixed: rewritten.text,
        reemitted: rewritten.reemitted,
        patches,
    })
}

fn read_manifest(file: &Arc<str>, text: &str) -> Result<Vec<Document>, ExplainError> {
    let mut documents = Vec::new();
    for document in yaml::documents(text) {
        let document = document.map_err(|e| InputError::from_yaml(file.clone(), e))?;
        let Some(root) = document.root.clone() else {
            continue;
        };
        let object = Object::from_document(file, document)?
            .into_iter()
            .next()
            .filter(|o| o.node == root);
        let pods = match &object {
            Some(o) => match pod_templates(o)? {
                Workload::Pods(templates) => templates
                    .iter()
                    .map(|t| fix::Pod {
                        spec: t.spec_path.to_json_pointer(),
                        containers: t
                            .spec
                            .all_containers()
                            .map(|(kind, index, c)| fix::Container {
                                name: c.name.clone(),
                                pointer: t.container_path(kind, index).to_json_pointer(),
                                app: kind == ContainerKind::Containers,
                            })
                            .collect(),
                    })
                    .collect(),
                Workload::NotAWorkload => Vec::new(),
            },
            None => Vec::new(),
        };
        documents.push(Document { root, object, pods });
    }
    Ok(documents)
}

/// The UID the fix gives pods that must run as non-root: the image's own non-root user, else
/// the configured one.
fn run_as(user: Option<&ImageUser>, hardening: &HardeningConfig) -> RunAs {
    let configured = hardening.run_as_user.unwrap_or(DEFAULT_NON_ROOT_UID);
    match user {
        Some(user @ (ImageUser::Uid { .. } | ImageUser::Name { .. })) if user.non_root().is_some() => {
            let (uid, gid) = user.non_root().unwrap_or((configured, None));
            let why = match user {
                ImageUser::Name { name, .. } => {
                    format!("the image's user {name}, UID {uid} in its /etc/passwd")
                }
                _ => format!("the image's own USER {uid}"),
            };
            RunAs {
                uid,
                gid: gid.unwrap_or(uid),
                why,
            }
        }
        Some(ImageUser::Name { name, .. }) => RunAs {
            uid: configured,
            gid: configured,
            why: format!("the configured hardening UID: the image's user {name} is not a non-root account in its /etc/passwd"),
        },
        Some(ImageUser::Root) => RunAs {
            uid: configured,
            gid: configured,
            why: "the configured hardening UID: the image has no non-root USER".into(),
        },
        _ => RunAs {
            uid: configured,
            gid: configured,
            why: "the configured hardening UID; pass --image to use the image's own user".into(),
        },
    }
}

fn remaining(auditor: &Auditor, file: &Arc<str>, text: &str) -> HashSet<(String, String, String)> {
    let stream = palisade_core::source::parse_stream(file, text);
    let mut left = HashSet::new();
    for object in &stream.objects {
        if let Ok(AuditOutcome::Report(report)) = auditor.audit(object) {
            for f in report.findings {
                left.insert(finding_key(&f));
            }
        }
    }
    left
}

/// A finding's identity across the fix: its object, check, container and field with list
/// indices left out (the fix inserts volumes and mounts, which moves the others).
fn finding_key(f: &Finding) -> (String, String, String) {
    let mut field = String::new();
    let mut in_index = false;
    for c in f.field.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            _ if in_index => continue,
            _ => {}
        }
        field.push(c);
    }
    (
        f.object.display_name(),
        format!("{}/{}", f.check, f.container.as_deref().unwrap_or("")),
        field,
    )
}

fn diagnostic(code: &str, message: String, at: Location, fix: String, fixed: bool) -> Diagnostic {
    let severity = TABLE
        .get(code)
        .map_or(palisade_diagnostics::Severity::High, |r| r.severity);
    Diagnostic::new(code, severity, message)
        .with_fix(if fixed {
            fix
        } else {
            format!("(needs a person) {fix}")
        })
        .at(at)
        .with_property("resolution", if fixed { FIXED } else { PERSON })
}

fn seen_at(seen: &Seen) -> Location {
    Location::file(seen.file.as_ref()).line(seen.line)
}

/// A Pod Security violation (or a palisade rule) as the audit found it, and whether the fix
/// settles it.
fn pod_security(
    f: &Finding,
    after: &HashSet<(String, String, String)>,
    run_as: &RunAs,
) -> Diagnostic {
    let fixed = !after.contains(&finding_key(f));
    let is_rule = f.level.is_empty();
    let code = if is_rule {
        "explain/palisade-rule"
    } else {
        "explain/pod-security"
    };
    let policy = if is_rule {
        "palisade rules".to_owned()
    } else {
        format!("PodSecurity \"{}:{}\"", f.level, f.version)
    };
    let message = format!(
        "{} violates {policy}: {} ({}) at {}",
        f.object.display_name(),
        f.reason,
        f.detail,
        f.field
    );
    let fix = if fixed {
        done(&f.check, run_as)
    } else {
        judgement(f)
    };
    let mut d = Diagnostic::new(code, f.severity, message)
        .with_fix(if fixed {
            fix
        } else {
            format!("(needs a person) {fix}")
        })
        .at(Location::file(f.object.file.as_ref())
            .line(f.line)
            .fully_qualified(
                format!(
                    "{}/{}/{}/{}",
                    f.object.kind,
                    if f.object.namespace.is_empty() {
                        "-"
                    } else {
                        &f.object.namespace
                    },
                    f.object.name,
                    f.field
                ),
                "object",
            ))
        .with_property("resolution", if fixed { FIXED } else { PERSON })
        .with_property("check", f.check.clone());
    if let Some(container) = &f.container {
        d = d.with_property("container", container.clone());
    }
    d
}

/// What the fix did for a check it settled.
fn done(check: &str, run_as: &RunAs) -> String {
    match check {
        "allowPrivilegeEscalation" => "--fix sets securityContext.allowPrivilegeEscalation: false (the app cannot gain more privileges than it starts with, through setuid binaries)".into(),
        "capabilities_restricted" => "--fix sets securityContext.capabilities.drop: [ALL] (a model server needs none of the kernel capabilities)".into(),
        "runAsNonRoot" | "runAsUser" => format!(
            "--fix sets runAsNonRoot: true with runAsUser: {} ({})",
            run_as.uid, run_as.why
        ),
        "seccompProfile_restricted" | "seccompProfile_baseline" => "--fix sets the pod's seccompProfile.type: RuntimeDefault (the container runtime's default system-call filter)".into(),
        _ => "--fix changes it".into(),
    }
}

/// Why a violation is left for a person, and what to do.
fn judgement(f: &Finding) -> String {
    match f.check.as_str() {
        "hostNamespaces" => "the pod shares the node's network (or PID or IPC namespace), so it can reach everything the node can; palisade does not remove it because the app may rely on it. Remove hostNetwork (and hostPID, hostIPC) unless the app must use the node's own network: a Service reaches the containerPort without it".into(),
        "hostPathVolumes" | "restrictedVolumes" if f.detail.contains("hostPath") => "the pod reads the node's disk, which ties it to that node and exposes the node's files; palisade does not replace it because the app needs what is there. Move the model to a persistentVolumeClaim (or bake it into the image, or download it into an emptyDir in an init container)".into(),
        "privileged" => "a privileged container has every power of the node; palisade leaves it as it is. Remove privileged: true and add only the capabilities the app needs".into(),
        "capabilities_baseline" | "capabilities_restricted" if f.field.ends_with("add") => "added capabilities beyond NET_BIND_SERVICE are the app's own choice; palisade leaves them. Remove them from capabilities.add unless the app needs them (a model server does not need SYS_ADMIN)".into(),
        "allowPrivilegeEscalation" => "allowPrivilegeEscalation must stay unset beside an added SYS_ADMIN (the API server refuses false with it); remove SYS_ADMIN first, then run explain --fix again".into(),
        "hostPorts" => "a hostPort opens the node's port to the pod; remove it and reach the pod through a Service".into(),
        _ => f.hint.clone(),
    }
}

/// The edit a runtime clue (from the logs) asks for, and its diagnosis.
fn runtime_fix(
    clue: &Clue,
    seen: &Seen,
    value: &mut Value,
    pods: &[fix::Pod],
    run_as: &RunAs,
) -> Option<Diagnostic> {
    let (code, message, outcomes) = match clue {
        Clue::ReadOnlyWrite { path } => (
            "explain/read-only-root-filesystem",
            format!("the app writes to {path}, but the container's root filesystem is read-only there"),
            pods.iter().map(|p| fix::empty_dir(value, p, path)).collect::<Vec<_>>(),
        ),
        Clue::WriteDenied { path } => {
            let outcomes: Vec<Outcome> = pods
                .iter()
                .filter_map(|p| fix::fs_group(value, p, path, run_as.gid))
                .collect();
            if outcomes.is_empty() {
                (
                    "explain/read-only-root-filesystem",
                    format!("the app cannot write {path}: in the image it belongs to root, and the pod runs as UID {}", run_as.uid),
                    pods.iter().map(|p| fix::empty_dir(value, p, path)).collect(),
                )
            } else {
                (
                    "explain/volume-not-writable",
                    format!("the app cannot write {path}, on a mounted volume whose files the pod's user does not own"),
                    outcomes,
                )
            }
        }
        Clue::PortDenied { port } => (
            "explain/privileged-port",
            format!(
                "the app cannot bind {}: ports below 1024 need NET_BIND_SERVICE, which a non-root user with capabilities drop: [ALL] does not have",
                port.map_or("its port".to_owned(), |p| format!("port {p}"))
            ),
            pods.iter().map(|p| fix::ports(value, p, *port)).collect(),
        ),
        _ => return None,
    };
    let fixed = outcomes.iter().all(|o| matches!(o, Outcome::Fixed(_)));
    let text: Vec<&str> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Fixed(t) | Outcome::Person(t) => t.as_str(),
        })
        .collect();
    Some(
        diagnostic(
            code,
            format!("{message} (from: {})", seen.text),
            seen_at(seen),
            text.join("; "),
            fixed,
        )
        .with_property("evidence", seen.text.clone()),
    )
}

/// The diagnosis of an admission denial or a kubelet error.
fn admission_or_kubelet(
    clue: &Clue,
    seen: &Seen,
    documents: &[Document],
    wanted: &[Value],
    run_as: &RunAs,
) -> Option<Diagnostic> {
    let advice = "and add a numeric USER to the image (USER 10001 in its Dockerfile) so the kubelet can check it itself";
    let (code, message, fix, fixed) = match clue {
        Clue::ImageRunsAsRoot { container } | Clue::NonNumericUser { container, .. } | Clue::RunAsUserRoot { container } => {
            let fixed = runs_as_non_root(documents, wanted, container.as_deref());
            let (code, reason) = match clue {
                Clue::ImageRunsAsRoot { .. } => ("explain/image-runs-as-root", "the image runs as root (no USER, or USER 0) and the pod requires runAsNonRoot, so the kubelet refuses to start the container".to_owned()),
                Clue::NonNumericUser { user, .. } => ("explain/non-numeric-image-user", format!("the image's USER is the name {user}; the kubelet cannot look names up in the image, so it cannot check runAsNonRoot and refuses to start the container")),
                _ => ("explain/run-as-user-root", "the pod sets runAsUser: 0 beside runAsNonRoot: true, which cannot both hold".to_owned()),
            };
            (code, reason, format!("--fix sets runAsUser: {} ({}), {advice}", run_as.uid, run_as.why), fixed)
        }
        Clue::PodSecurityDenied { policy } => ("explain/pod-security-denied", format!("the API server refused the pod: it violates PodSecurity \"{policy}\" (each violation is listed from the manifest, evaluated at that policy unless --level or --version say otherwise)"), "the Pod Security diagnoses say what --fix changes and what needs a person".to_owned(), true),
        Clue::ImageNotVerified { image, container, rule, reason } => {
            let (code, fix) = match rule {
                ImageRule::Signature => ("explain/image-not-signed", format!("sign the image with a key the cluster trusts for it (imageVerification.trust): `palisade sign --key cosign.key {image}`")),
                ImageRule::Scan => ("explain/image-scan-missing", format!("attest a fresh scan, signed with a trusted key: `palisade attest --key cosign.key --scan {image}` (after `palisade db import` of current advisories, and fixing what the scan finds above rules.requireScan.maxSeverity)")),
                ImageRule::ModelScan => ("explain/model-scan-missing", format!("scan and attest the model artifact, signed with a trusted key: `palisade scan model oci://{image}`, then `palisade attest --key cosign.key --model-scan {image}` (after removing what the scan finds at or above rules.requireModelScan.failOn)")),
                ImageRule::Trust => ("explain/image-key-not-trusted", format!("ask the platform team for an imageVerification.trust entry covering {image} in this namespace, or sign it with a key already trusted there: `palisade sign --key cosign.key {image}`")),
            };
            let of = match container.strip_prefix("of ") {
                Some(use_) => use_.to_owned(),
                None => format!("container {container:?}"),
            };
            (code, format!("palisade's admission webhook refused image {image:?} of {of}: {reason}"), fix, false)
        }
        Clue::RegistryNotAllowed { detail } => ("explain/registry-not-allowed", format!("palisade's admission webhook refused an image from a registry the platform does not allow ({detail})"), "push the image to an allowed registry (`crane copy SRC DST`, or your CI's push) and reference it from there".to_owned(), false),
        _ => return None,
    };
    Some(
        diagnostic(
            code,
            format!("{message} (from: {})", seen.text),
            seen_at(seen),
            fix,
            fixed,
        )
        .with_property("evidence", seen.text.clone()),
    )
}

/// Whether every pod (or the named container) runs with a non-zero runAsUser once fixed.
fn runs_as_non_root(documents: &[Document], wanted: &[Value], container: Option<&str>) -> bool {
    let user = |v: Option<&Value>| v.and_then(|u| u.as_i64());
    documents.iter().zip(wanted).all(|(d, value)| {
        d.pods.iter().all(|pod| {
            let pod_user = user(value.pointer(&format!("{}/securityContext/runAsUser", pod.spec)));
            pod.containers
                .iter()
                .filter(|c| container.is_none_or(|n| n == c.name))
                .all(|c| {
                    let own =
                        user(value.pointer(&format!("{}/securityContext/runAsUser", c.pointer)));
                    own.or(pod_user).is_some_and(|u| u != 0)
                })
        })
    })
}

/// The kubelet errors the image would cause once runAsNonRoot is set, before anyone sees them.
fn predicted_kubelet(
    user: &ImageUser,
    evidence: &Evidence,
    documents: &[Document],
    run_as: &RunAs,
) -> Vec<Diagnostic> {
    if user.non_root().is_some() && !matches!(user, ImageUser::Name { .. }) {
        return Vec::new();
    }
    let originals: Vec<Value> = documents.iter().map(|d| d.root.to_json()).collect();
    if runs_as_non_root(documents, &originals, None) {
        return Vec::new();
    }
    let reference = evidence
        .image
        .as_ref()
        .map(|i| i.reference.clone())
        .unwrap_or_default();
    let (code, words) = match user {
        ImageUser::Name { name, .. } => (
            "explain/non-numeric-image-user",
            format!("container has runAsNonRoot and image has non-numeric user ({name}), cannot verify user is non-root"),
        ),
        _ => (
            "explain/image-runs-as-root",
            "container has runAsNonRoot and image will run as root".to_owned(),
        ),
    };
    let line = documents
        .iter()
        .find_map(|d| d.object.as_ref().map(|o| o.source.line))
        .unwrap_or(1);
    vec![diagnostic(
        code,
        format!("with runAsNonRoot: true and no runAsUser, the kubelet would refuse to start image {reference}: \"{words}\""),
        Location::file(evidence.manifest.name.as_ref()).line(line),
        format!("--fix sets runAsUser: {} ({}) and add a numeric USER to the image so the kubelet can check it itself", run_as.uid, run_as.why),
        true,
    )
    .with_property("evidence", format!("image {reference} USER {:?}", evidence.image.as_ref().and_then(|i| i.user.clone()).unwrap_or_default()))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_pss::{Level, Version};

    const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: iris\n  namespace: ml\nspec:\n  template:\n    spec:\n      containers:\n      - name: server\n        image: registry.example.com/ml/iris:1\n        args: [\"--bind\", \"0.0.0.0:80\"]\n        ports:\n        - containerPort: 80\n        securityContext:\n          readOnlyRootFilesystem: true\n        volumeMounts:\n        - name: models\n          mountPath: /models\n      volumes:\n      - name: models\n        persistentVolumeClaim:\n          claimName: iris-models\n";

    fn text(name: &str, text: &str) -> Text {
        Text {
            name: Arc::from(name),
            text: text.to_owned(),
        }
    }

    fn run(events: Option<&str>, logs: Option<&str>, image: Option<ImageSummary>) -> Explanation {
        let config = Config::default();
        let evidence = Evidence {
            manifest: text("deploy.yaml", DEPLOYMENT),
            events: events.map(|e| text("events.txt", e)),
            logs: logs.map(|l| text("logs.txt", l)),
            image,
        };
        let options = Options {
            config: &config,
            defaults: LevelVersion::new(Level::Restricted, Version::Latest),
            policy_given: true,
        };
        explain(&evidence, &options).unwrap()
    }

    #[test]
    fn a_pasted_denial_sets_the_policy_unless_one_is_given() {
        // The deployment runs as root with no seccomp: restricted refuses it, baseline does not.
        let config = Config::default();
        let events = "Error from server (Forbidden): error when creating \"deploy.yaml\": pods \"iris\" is forbidden: violates PodSecurity \"baseline:v1.33\": host namespaces (hostNetwork=true)";
        let evidence = Evidence {
            manifest: text("deploy.yaml", DEPLOYMENT),
            events: Some(text("events.txt", events)),
            logs: None,
            image: None,
        };
        let pod_security = |policy_given: bool| {
            let options = Options {
                config: &config,
                defaults: LevelVersion::new(Level::Restricted, Version::Latest),
                policy_given,
            };
            explain(&evidence, &options)
                .unwrap()
                .diagnoses
                .iter()
                .filter(|d| d.code == "explain/pod-security")
                .count()
        };
        assert_eq!(
            pod_security(false),
            0,
            "explained at baseline:v1.33, as denied"
        );
        assert!(pod_security(true) > 0, "explained at restricted, as asked");
        assert_eq!(
            parse_policy("restricted:v1.33"),
            Some(LevelVersion::new(
                Level::Restricted,
                "v1.33".parse().unwrap()
            ))
        );
        assert_eq!(parse_policy("restricted"), None);
    }

    fn only<'a>(explanation: &'a Explanation, code: &str) -> &'a Diagnostic {
        let found: Vec<&Diagnostic> = explanation
            .diagnoses
            .iter()
            .filter(|d| d.code == code)
            .collect();
        assert_eq!(found.len(), 1, "{code}: {:#?}", explanation.diagnoses);
        found[0]
    }

    fn is_fixed(d: &Diagnostic) -> bool {
        resolution(d) == Some(FIXED)
    }

    #[test]
    fn pod_security_violations_are_the_audits_and_fixed_in_the_text() {
        let e = run(None, None, None);
        let checks: Vec<&str> = e
            .diagnoses
            .iter()
            .filter(|d| d.code == "explain/pod-security")
            .flat_map(|d| d.properties.iter().filter(|(k, _)| *k == "check"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(
            checks,
            [
                "allowPrivilegeEscalation",
                "capabilities_restricted",
                "runAsNonRoot",
                "seccompProfile_restricted"
            ]
        );
        assert!(e.diagnoses.iter().all(is_fixed));
        assert!(!e.needs_person());
        assert!(
            e.fixed.contains("      - name: server\n"),
            "layout stays:\n{}",
            e.fixed
        );
        assert!(e.fixed.contains("runAsUser: 65532\n"));
        assert_eq!(e.patches.len(), 1);
        assert_eq!(e.patches[0].kind, "Deployment");
    }

    #[test]
    fn image_will_run_as_root() {
        let events = "Warning  Failed  3s  kubelet  Error: container has runAsNonRoot and image will run as root (pod: \"iris-1_ml(9f)\", container: server)";
        let e = run(Some(events), None, None);
        let d = only(&e, "explain/image-runs-as-root");
        assert!(d
            .message
            .contains("container has runAsNonRoot and image will run as root"));
        assert_eq!(d.location.line, Some(1));
        assert!(is_fixed(d));
        assert!(d
            .fix
            .as_deref()
            .unwrap()
            .contains("runAsUser: 65532 (the configured hardening UID"));
    }

    #[test]
    fn image_has_a_non_numeric_user() {
        let events = "Error: container has runAsNonRoot and image has non-numeric user (appuser), cannot verify user is non-root (pod: \"iris-1_ml(9f)\", container: server)";
        let image = ImageSummary {
            reference: "oci-dir:iris".into(),
            user: Some("appuser".into()),
            passwd: Some(
                "root:x:0:0::/root:/bin/sh\nappuser:x:10001:10001::/home/appuser:/bin/sh\n".into(),
            ),
            ..ImageSummary::default()
        };
        let e = run(Some(events), None, Some(image.clone()));
        let d = only(&e, "explain/non-numeric-image-user");
        assert!(d
            .message
            .contains("image has non-numeric user (appuser), cannot verify user is non-root"));
        assert!(is_fixed(d));
        assert!(e.fixed.contains("runAsUser: 10001\n"), "{}", e.fixed);
        // Without the events, the image alone predicts the same refusal.
        let e = run(None, None, Some(image));
        let d = only(&e, "explain/non-numeric-image-user");
        assert!(d.message.contains("\"container has runAsNonRoot and image has non-numeric user (appuser), cannot verify user is non-root\""));
    }

    #[test]
    fn run_as_user_zero_breaks_non_root() {
        let events = "Error: container's runAsUser breaks non-root policy (pod: \"iris-1_ml(9f)\", container: server)";
        let d = run(Some(events), None, None)
            .diagnoses
            .into_iter()
            .find(|d| d.code == "explain/run-as-user-root")
            .unwrap();
        assert!(is_fixed(&d));
    }

    #[test]
    fn writes_under_a_read_only_root_get_an_empty_dir() {
        let logs = "Traceback (most recent call last):\nOSError: [Errno 30] Read-only file system: '/app/cache/index.json'\n";
        let e = run(None, Some(logs), None);
        let d = only(&e, "explain/read-only-root-filesystem");
        assert_eq!(d.location.line, Some(2));
        assert!(is_fixed(d));
        assert!(e.fixed.contains("mountPath: /app/cache\n"), "{}", e.fixed);
        assert!(e.fixed.contains("emptyDir: {}\n"), "{}", e.fixed);
    }

    #[test]
    fn a_volume_the_user_cannot_write_gets_fs_group() {
        let logs = "PermissionError: [Errno 13] Permission denied: '/models/iris.joblib'\n";
        let e = run(None, Some(logs), None);
        let d = only(&e, "explain/volume-not-writable");
        assert!(is_fixed(d));
        assert!(e.fixed.contains("fsGroup: 65532\n"), "{}", e.fixed);
    }

    #[test]
    fn a_port_below_1024_moves_and_the_args_are_named() {
        let logs = "[2024-05-01 10:00:00 +0000] [1] [INFO] Starting gunicorn 21.2.0\n[2024-05-01 10:00:00 +0000] [1] [ERROR] Retrying in 1 second.\n[2024-05-01 10:00:05 +0000] [1] [ERROR] Can't connect to ('0.0.0.0', 80)\n";
        let e = run(None, Some(logs), None);
        let d = only(&e, "explain/privileged-port");
        assert!(!is_fixed(d), "the app must listen on the new port too");
        assert!(d
            .fix
            .as_deref()
            .unwrap()
            .contains("\"0.0.0.0:80\" (use 8080)"));
        assert!(e.fixed.contains("containerPort: 8080\n"), "{}", e.fixed);
        assert!(e.needs_person());
    }

    #[test]
    fn palisade_denials_name_the_commands_that_fix_them() {
        let signature = "Error from server (Forbidden): error when creating \"deploy.yaml\": admission webhook \"validate.palisade.dev\" denied the request: deployments.apps \"iris\" is forbidden: images not verified: image \"registry.example.com/ml/iris:1\" of container \"server\": no signature: registry.example.com/ml/iris has no sha256-0f.sig tag (to fix palisade/require-signature: sign the image with `palisade sign` (or cosign) using a key trusted for this namespace and image in imageVerification.trust)";
        let e = run(Some(signature), None, None);
        let d = only(&e, "explain/image-not-signed");
        assert!(d
            .fix
            .as_deref()
            .unwrap()
            .contains("`palisade sign --key cosign.key registry.example.com/ml/iris:1`"));
        assert!(e.needs_person());
        let scan = "admission webhook \"validate.palisade.dev\" denied the request: pods \"iris-1\" is forbidden: images not verified: image \"registry.example.com/ml/iris:1\" of container \"server\": stale: the scan finished 2024-01-01T00:00:00Z, more than 604800s ago; attest a new scan (to fix palisade/require-scan: attest a fresh scan with `palisade attest --scan`, after fixing what it finds above rules.requireScan.maxSeverity)";
        let d = only(&run(Some(scan), None, None), "explain/image-scan-missing").clone();
        assert!(d
            .fix
            .as_deref()
            .unwrap()
            .contains("`palisade attest --key cosign.key --scan registry.example.com/ml/iris:1`"));
        // A model artifact's model scan: the fix scans and attests the artifact, not the image.
        let model = "pods \"iris\" is forbidden: images not verified: image \"registry.example.com/ml/models/iris@sha256:0f\" of volume \"model\": model scan: sha256:1a (the newest attestation): the scan found dangerous (model/dangerous-global in model.pkl), at or above dangerous (to fix palisade/require-model-scan: scan and attest the model artifact with `palisade attest --model-scan REF --key KEY`)";
        let d = only(&run(Some(model), None, None), "explain/model-scan-missing").clone();
        assert!(
            d.fix.as_deref().unwrap().contains(
                "`palisade attest --key cosign.key --model-scan registry.example.com/ml/models/iris@sha256:0f`"
            ),
            "{:?}",
            d.fix
        );
        assert!(
            d.message.starts_with("palisade's admission webhook refused image \"registry.example.com/ml/models/iris@sha256:0f\" of volume \"model\": model scan: sha256:1a (the newest attestation): the scan found dangerous"),
            "{}",
            d.message
        );
        let registry = "pods \"iris-1\" is forbidden: violates palisade rules: disallowed image registry (container \"server\" must use images from \"registry.example.com/ml\", not \"docker.io/me/iris:1\")";
        let d = only(
            &run(Some(registry), None, None),
            "explain/registry-not-allowed",
        )
        .clone();
        assert!(d
            .message
            .contains("must use images from \"registry.example.com/ml\""));
    }
}
