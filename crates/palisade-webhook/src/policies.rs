//! Custom policies at admission: the configuration's `policies:` (ValidatingAdmissionPolicy,
//! Kyverno and Gatekeeper files, with their params) compiled once by palisade-policy-engine when
//! the webhook starts, shared by every request behind an `Arc`, and recompiled when a file
//! changes (polled like the serving certificate). A reload that does not compile keeps the
//! policies in force and says why, in the log and in a metric.
//!
//! Each applicable policy's verdict becomes part of the admission decision as the API server
//! makes it for a ValidatingAdmissionPolicy: a failed validation with action Deny denies the
//! request (403, the policy named, its message), Warn adds a warning, Audit adds the failure to
//! the `validation.policy.admission.k8s.io/validation_failure` audit annotation; a policy's own
//! `auditAnnotations` are published as `POLICY/KEY`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value as Json};

use palisade_policy::admission::{Decision, Denial};
use palisade_policy_engine::{
    parse_docs, Action, Doc, Outcome, PolicySet, RequestInfo, RequestInput, Verdict,
};

/// The audit annotation the API server writes for ValidatingAdmissionPolicy failures with the
/// Audit action.
pub const VALIDATION_FAILURE_ANNOTATION: &str =
    "validation.policy.admission.k8s.io/validation_failure";

/// The largest policy file read (policies and their params are small).
const MAX_POLICY_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What the files held when they were last read: each file's path, modification time and size.
type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// The webhook's custom policies: empty, or the compiled set of the configured paths.
#[derive(Clone, Default)]
pub struct CustomPolicies {
    paths: Arc<Vec<PathBuf>>,
    current: Arc<RwLock<Arc<PolicySet>>>,
    fingerprint: Arc<RwLock<Fingerprint>>,
}

impl std::fmt::Debug for CustomPolicies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomPolicies")
            .field("paths", &self.paths)
            .field("policies", &self.current().len())
            .finish()
    }
}

/// Why the policies could not be loaded: a file that cannot be read, or every policy that does
/// not compile (file, line, policy, expression and the compiler's message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n  "))]
pub struct PolicyLoadError(pub Vec<String>);

impl CustomPolicies {
    /// No custom policies.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads and compiles every policy under `paths` (files, or directories read recursively for
    /// `.yaml`, `.yml` and `.json` files).
    pub fn load(paths: &[PathBuf]) -> Result<Self, PolicyLoadError> {
        let (set, fingerprint) = compile(paths)?;
        Ok(Self {
            paths: Arc::new(paths.to_vec()),
            current: Arc::new(RwLock::new(Arc::new(set))),
            fingerprint: Arc::new(RwLock::new(fingerprint)),
        })
    }

    /// The policies in force.
    pub fn current(&self) -> Arc<PolicySet> {
        match self.current.read() {
            Ok(set) => set.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Rereads the files when one was added, removed or changed since the last read. `Ok(true)`:
    /// recompiled and now in force; `Ok(false)`: nothing changed; an error: the policies in force
    /// are kept.
    pub fn reload_if_changed(&self) -> Result<bool, PolicyLoadError> {
        let now = fingerprint(&self.paths);
        let unchanged = self.fingerprint.read().map(|f| *f == now).unwrap_or(false);
        if unchanged {
            return Ok(false);
        }
        // Remember the failed state too, so that a broken file is reported once, not every poll.
        if let Ok(mut f) = self.fingerprint.write() {
            *f = now;
        }
        let (set, read) = compile(&self.paths)?;
        if let Ok(mut f) = self.fingerprint.write() {
            *f = read;
        }
        match self.current.write() {
            Ok(mut current) => *current = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(true)
    }

    /// Polls the files every `every`, reloading on change; `on_reload(true)` after a reload,
    /// `on_reload(false)` after one that failed (the old policies stay in force).
    pub async fn watch(self, every: Duration, on_reload: impl Fn(bool) + Send + 'static) {
        if self.is_empty() {
            return;
        }
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let me = self.clone();
            let Ok(result) = tokio::task::spawn_blocking(move || me.reload_if_changed()).await
            else {
                continue;
            };
            match result {
                Ok(false) => {}
                Ok(true) => {
                    on_reload(true);
                    tracing::info!(
                        policies = self.current().len(),
                        "reloaded the custom policies"
                    );
                }
                Err(e) => {
                    on_reload(false);
                    tracing::error!("keeping the custom policies in force: {e}");
                }
            }
        }
    }
}

/// The files under `paths`, sorted within each directory.
fn files(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out
}

fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    files(paths)
        .into_iter()
        .map(|f| {
            let meta = std::fs::metadata(&f).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (f, modified, len)
        })
        .collect()
}

fn compile(paths: &[PathBuf]) -> Result<(PolicySet, Fingerprint), PolicyLoadError> {
    // The fingerprint is taken before reading, so that a write during the read is seen next time.
    let print = fingerprint(paths);
    let mut docs: Vec<Doc> = Vec::new();
    let mut errors = Vec::new();
    for (file, _, len) in &print {
        if *len > MAX_POLICY_FILE_BYTES {
            errors.push(format!(
                "{}: larger than {MAX_POLICY_FILE_BYTES} bytes",
                file.display()
            ));
            continue;
        }
        let name: Arc<str> = Arc::from(file.display().to_string());
        match std::fs::read_to_string(file) {
            Ok(text) => match parse_docs(&name, &text) {
                Ok(d) => docs.extend(d),
                Err(e) => errors.push(e.to_string()),
            },
            Err(e) => errors.push(format!("{name}: cannot read: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(PolicyLoadError(errors));
    }
    let (set, compile_errors) = PolicySet::compile(&docs);
    if !compile_errors.is_empty() {
        return Err(PolicyLoadError(
            compile_errors.iter().map(ToString::to_string).collect(),
        ));
    }
    Ok((set, print))
}

/// One admission request as the policies see it.
#[derive(Debug)]
pub struct PolicyRequest<'a> {
    pub info: RequestInfo,
    pub object: Option<&'a Json>,
    pub old_object: Option<&'a Json>,
    /// The request's namespace object (from the namespace cache), when known.
    pub namespace_object: Option<&'a Json>,
    pub user_info: &'a Json,
    pub dry_run: bool,
}

/// The decision of `set`'s policies on `request`.
pub fn decide(set: &PolicySet, request: &PolicyRequest<'_>) -> Decision {
    let mut decision = Decision::default();
    if set.is_empty() {
        return decision;
    }
    // The namespace object: the cluster's, else one the policy files give, else a Namespace
    // with the name alone (a namespaced request's namespace exists).
    let bare;
    let namespace_object = if request.info.cluster_scoped || request.info.namespace.is_empty() {
        None
    } else if let Some(ns) = request
        .namespace_object
        .or_else(|| set.namespace(&request.info.namespace))
    {
        Some(ns)
    } else {
        bare = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": request.info.namespace}});
        Some(&bare)
    };
    let outcomes = set.evaluate(&RequestInput {
        info: request.info.clone(),
        object: request.object,
        old_object: request.old_object,
        namespace_object,
        user_info: Some(request.user_info),
        dry_run: request.dry_run,
        lookup: None,
    });
    let mut audit_failures: Vec<Json> = Vec::new();
    for outcome in &outcomes {
        apply(&mut decision, &mut audit_failures, outcome);
    }
    if !audit_failures.is_empty() {
        decision.audit_annotations.insert(
            VALIDATION_FAILURE_ANNOTATION.to_string(),
            Json::Array(audit_failures).to_string(),
        );
    }
    decision
}

/// How the API server names a policy in messages: `'policy'`, with its binding or rule.
fn named(o: &Outcome) -> String {
    match &o.rule {
        Some(rule) if *rule != o.policy => format!("policy '{}' ({})", o.policy, rule),
        _ => format!("policy '{}'", o.policy),
    }
}

fn apply(decision: &mut Decision, audit_failures: &mut Vec<Json>, o: &Outcome) {
    for (key, value) in &o.evaluation.audit_annotations {
        decision
            .audit_annotations
            .insert(format!("{}/{}", o.policy, key), value.clone());
    }
    let messages: Vec<String> = match &o.evaluation.verdict {
        Verdict::Fail(vs) => vs.iter().map(|v| v.message.clone()).collect(),
        // failurePolicy Fail (Ignore was already turned into a skip by the engine).
        Verdict::Error(e) => vec![format!("policy could not be evaluated: {e}")],
        Verdict::Pass | Verdict::Skip(_) => return,
    };
    for action in &o.actions {
        match action {
            Action::Deny => {
                if decision.denial.is_none() {
                    decision.denial = Some(Denial {
                        code: 403,
                        reason: "Forbidden",
                        message: format!("{} denied request: {}", named(o), messages.join("; ")),
                    });
                }
            }
            Action::Warn => {
                for m in &messages {
                    decision
                        .warnings
                        .push(format!("Validation failed for {}: {m}", named(o)));
                }
            }
            Action::Audit => {
                for m in &messages {
                    audit_failures.push(json!({
                        "message": m,
                        "policy": o.policy,
                        "binding": o.rule.clone().unwrap_or_else(|| o.policy.clone()),
                        "validationActions": o.actions.iter().map(|a| match a {
                            Action::Deny => "Deny",
                            Action::Warn => "Warn",
                            Action::Audit => "Audit",
                        }).collect::<Vec<_>>(),
                    }));
                }
            }
        }
    }
    // A denied request carries no warnings, as the rest of the webhook answers.
    if decision.denial.is_some() {
        decision.warnings.clear();
    }
}

/// A namespace object from the labels the namespace cache holds.
pub fn namespace_object(name: &str, labels: &BTreeMap<String, String>) -> Json {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const VAP: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: team-label}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"]}
  validations:
  - expression: "has(object.metadata.labels) && 'team' in object.metadata.labels"
    message: missing team
  auditAnnotations:
  - key: name
    valueExpression: "object.metadata.name"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: team-label-binding}
spec:
  policyName: team-label
  validationActions: [ACTIONS]
"#;

    fn request<'a>(pod: &'a Json, user: &'a Json) -> PolicyRequest<'a> {
        PolicyRequest {
            info: palisade_policy_engine::request_info(pod, "CREATE"),
            object: Some(pod),
            old_object: None,
            namespace_object: None,
            user_info: user,
            dry_run: false,
        }
    }

    fn set(actions: &str) -> PolicySet {
        let text = VAP.replace("ACTIONS", actions);
        let docs = parse_docs(&Arc::from("p.yaml"), &text).unwrap();
        let (set, errors) = PolicySet::compile(&docs);
        assert!(errors.is_empty(), "{errors:?}");
        set
    }

    #[test]
    fn actions_become_denials_warnings_and_audit_annotations() {
        let user = json!({"username": "alice", "groups": []});
        let bad = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}});
        let good = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q", "namespace": "ns", "labels": {"team": "a"}}});

        let d = decide(&set("Deny"), &request(&bad, &user));
        let denial = d.denial.unwrap();
        assert_eq!(denial.code, 403);
        assert_eq!(
            denial.message,
            "policy 'team-label' (team-label-binding) denied request: missing team"
        );
        assert_eq!(d.audit_annotations["team-label/name"], "p");

        let d = decide(&set("Warn"), &request(&bad, &user));
        assert!(d.denial.is_none());
        assert_eq!(
            d.warnings,
            vec!["Validation failed for policy 'team-label' (team-label-binding): missing team"]
        );

        let d = decide(&set("Audit"), &request(&bad, &user));
        assert!(d.denial.is_none() && d.warnings.is_empty());
        let failures: Json =
            serde_json::from_str(&d.audit_annotations[VALIDATION_FAILURE_ANNOTATION]).unwrap();
        assert_eq!(failures[0]["message"], "missing team");
        assert_eq!(failures[0]["binding"], "team-label-binding");
        assert_eq!(failures[0]["validationActions"], json!(["Audit"]));

        let d = decide(&set("Warn, Audit"), &request(&good, &user));
        assert!(d.denial.is_none() && d.warnings.is_empty());
        assert_eq!(d.audit_annotations.len(), 1);
        assert_eq!(d.audit_annotations["team-label/name"], "q");
    }

    #[test]
    fn a_reload_that_does_not_compile_keeps_the_policies_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, VAP.replace("ACTIONS", "Deny")).unwrap();
        let policies = CustomPolicies::load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(policies.current().len(), 1);
        assert_eq!(policies.reload_if_changed(), Ok(false));

        std::fs::write(
            &file,
            VAP.replace("ACTIONS", "Deny")
                .replace("'team' in object.metadata.labels", "'team' in"),
        )
        .unwrap();
        let err = policies.reload_if_changed().unwrap_err();
        assert!(
            err.to_string()
                .contains("p.yaml:2: policy team-label: expression"),
            "{err}"
        );
        assert_eq!(policies.current().len(), 1);
        // Reported once, not at every poll.
        assert_eq!(policies.reload_if_changed(), Ok(false));

        std::fs::write(
            dir.path().join("second.yaml"),
            VAP.replace("ACTIONS", "Warn")
                .replace("team-label", "other"),
        )
        .unwrap();
        std::fs::write(&file, VAP.replace("ACTIONS", "Deny")).unwrap();
        assert_eq!(policies.reload_if_changed(), Ok(true));
        assert_eq!(policies.current().len(), 2);
    }

    #[test]
    fn a_policy_that_does_not_compile_is_an_error_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.yaml");
        std::fs::write(
            &file,
            VAP.replace("ACTIONS", "Deny").replace("== ", "").replace(
                "has(object.metadata.labels) &&",
                "has(object.metadata.labels) && &&",
            ),
        )
        .unwrap();
        let err = CustomPolicies::load(std::slice::from_ref(&file)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "bad.yaml:2: policy team-label: expression \"has(object.metadata.labels) && &&"
            ),
            "{text}"
        );
        let err = CustomPolicies::load(&[dir.path().join("missing.yaml")]).unwrap_err();
        assert!(
            err.to_string().contains("missing.yaml: cannot read"),
            "{err}"
        );
    }
}
