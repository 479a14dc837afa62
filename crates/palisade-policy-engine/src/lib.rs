//! palisade-policy-engine: the platform team's own admission policies, run unmodified —
//! Kubernetes ValidatingAdmissionPolicy (with bindings and params), Kyverno ValidatingPolicy
//! (with autogen for pod controllers) and ClusterPolicy `validate.cel` rules, and Gatekeeper
//! ConstraintTemplates (Rego on `regorus`, or K8sNativeValidation CEL) with their Constraints —
//! with one engine offline (`palisade audit --policy`, `palisade policy test`) and at admission
//! (the webhook).
//!
//! Policies are read from manifests ([`load::parse_docs`], palisade-core's YAML reader: every
//! document keeps its file and line), compiled once into a [`PolicySet`] (CEL programs on the
//! `cel` crate with Kubernetes' and Kyverno's libraries, [`cel_lib`]; Rego modules on
//! `regorus`), and evaluated per request with bounded work: expressions are bounded in size,
//! Rego runs under an execution time limit, inputs are bounded by the callers. Results are
//! [`Outcome`]s, turned into `palisade_diagnostics::Diagnostic`s for reports.
//!
//! Pure: no file, network or clock access (but the JWT expiry check), no webhook, no CLI. The
//! test runner ([`testing`]) reads files through a callback its caller provides. An expression
//! that needs a live cluster (`authorizer`, HTTP or registry lookups) is reported as skipped
//! with that reason, never guessed.
#![forbid(unsafe_code)]

pub mod cel_lib;
pub mod cel_policy;
pub mod convert;
pub mod gatekeeper;
pub mod k8s_types;
pub mod kyverno_lib;
pub mod load;
pub mod matching;
pub mod rego_sprintf;
pub mod testing;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value as Json;

use palisade_diagnostics::{Diagnostic, Location, Severity};

pub use cel_policy::{CelPolicy, Evaluation, Prepared, RequestInput, Verdict, Violation};
pub use load::{parse_docs, Doc};
pub use matching::RequestInfo;

/// Where a policy or object was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u32,
}

/// What a failed policy does at admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Refuse the request (VAP `Deny`, Kyverno `Enforce`, Gatekeeper `deny`).
    Deny,
    /// Admit it with a warning (VAP `Warn`, Gatekeeper `warn`).
    Warn,
    /// Admit it and record an audit annotation (VAP `Audit`, Kyverno `Audit`, Gatekeeper
    /// `dryrun`).
    Audit,
}

impl Action {
    /// The severity of a finding: Deny → high, Warn → medium, Audit → low.
    pub fn severity(self) -> Severity {
        match self {
            Action::Deny => Severity::High,
            Action::Warn => Severity::Medium,
            Action::Audit => Severity::Low,
        }
    }
}

/// A policy that could not be read or compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub origin: Origin,
    pub policy: String,
    pub expression: Option<String>,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.origin.file, self.origin.line)?;
        if !self.policy.is_empty() {
            write!(f, "policy {}: ", self.policy)?;
        }
        if let Some(e) = &self.expression {
            write!(f, "expression {:?}: ", e.trim())?;
        }
        f.write_str(&self.message)
    }
}

/// One policy's judgement of one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The policy's name (a Gatekeeper constraint: `Kind/name`).
    pub policy: String,
    /// The rule, binding or autogen variant, where there is one.
    pub rule: Option<String>,
    pub origin: Origin,
    pub actions: Vec<Action>,
    /// The policy's own severity (Kyverno's `policies.kyverno.io/severity`), if it has one.
    pub declared_severity: Option<Severity>,
    pub evaluation: Evaluation,
}

impl Outcome {
    /// The rule id of its findings: `policy` or `policy/rule`.
    pub fn id(&self) -> String {
        match &self.rule {
            Some(r) => format!("{}/{}", self.policy, r),
            None => self.policy.clone(),
        }
    }

    /// Its severity: the policy's own if declared, else by its strongest action.
    pub fn severity(&self) -> Severity {
        self.declared_severity.unwrap_or_else(|| {
            self.actions
                .iter()
                .map(|a| a.severity())
                .max()
                .unwrap_or(Severity::High)
        })
    }

    /// One diagnostic per violation (and one for an evaluation error), at the object's place.
    pub fn diagnostics(&self, object: &Origin, object_name: &str) -> Vec<Diagnostic> {
        let at = Location::file(object.file.to_string())
            .line(object.line)
            .logical(object_name.to_string(), "object");
        let code = self.id();
        match &self.evaluation.verdict {
            Verdict::Fail(vs) => vs
                .iter()
                .map(|v| {
                    Diagnostic::new(code.clone(), self.severity(), v.message.clone())
                        .with_fix(v.message.clone())
                        .at(at.clone())
                        .with_property(
                            "policyFile",
                            format!("{}:{}", self.origin.file, self.origin.line),
                        )
                })
                .collect(),
            Verdict::Error(e) => vec![Diagnostic::new(
                code,
                self.severity(),
                format!("policy could not be evaluated: {e}"),
            )
            .at(at)],
            _ => Vec::new(),
        }
    }
}

/// Compiled policies, ready to evaluate requests.
#[derive(Debug, Default)]
pub struct PolicySet {
    /// Set once by [`PolicySet::compile`]: `by_type` indexes it.
    pub(crate) cel: Vec<CelPolicy>,
    pub templates: Vec<Arc<gatekeeper::Template>>,
    pub constraints: Vec<gatekeeper::Constraint>,
    namespaces: HashMap<String, Json>,
    lookup: Option<k8s_types::ResourceLookup>,
    /// For each type of request seen, the CEL policies that may apply to it: most policies are
    /// about pods, and a Service need not be matched against each of them.
    by_type: std::sync::Mutex<HashMap<TypeKey, Arc<[usize]>>>,
}

/// What [`CelPolicy::may_apply_to_type`] depends on.
type TypeKey = (String, String, String, String, String, String, bool);

/// Request types remembered at most (the API server sends only the types it serves; this bounds
/// the memory whatever it sends).
const MAX_REMEMBERED_TYPES: usize = 4096;

fn severity_of(s: &Option<String>) -> Option<Severity> {
    s.as_deref().and_then(|s| s.parse().ok())
}

impl PolicySet {
    /// Compiles the policies among `docs`; the other documents are resources: params for
    /// bindings, Namespaces for `namespaceObject` and selectors, and Gatekeeper's inventory.
    /// Every policy that fails to compile is an error (the others are still compiled).
    pub fn compile(docs: &[Doc]) -> (PolicySet, Vec<PolicyError>) {
        use load::PolicyDocKind as K;
        let mut set = PolicySet::default();
        let mut errors = Vec::new();
        let kinds: Vec<Option<K>> = docs.iter().map(load::classify).collect();
        let of = |k: K| {
            docs.iter()
                .zip(&kinds)
                .filter(move |(_, c)| **c == Some(k))
                .map(|(d, _)| d)
        };
        let resources: Vec<Doc> = docs
            .iter()
            .zip(&kinds)
            .filter(|(_, c)| c.is_none())
            .map(|(d, _)| d.clone())
            .collect();
        set.add_namespaces(&resources);
        let exceptions: Vec<_> = of(K::KyvernoException)
            .map(load::kyverno_exception)
            .collect();
        let bindings: Vec<&Doc> = of(K::VapBinding).collect();
        for d in of(K::Vap) {
            let mine: Vec<&Doc> = bindings
                .iter()
                .copied()
                .filter(|b| b.str_at("/spec/policyName") == d.name())
                .collect();
            match load::vap(d, &mine, &resources) {
                Ok(p) => set.cel.extend(p),
                Err(e) => errors.push(e),
            }
        }
        for d in of(K::KyvernoValidating) {
            match load::kyverno_validating(d, &exceptions) {
                Ok(p) => set.cel.extend(p),
                Err(e) => errors.push(e),
            }
        }
        for d in of(K::KyvernoClusterPolicy) {
            match load::kyverno_cluster_policy(d) {
                Ok(p) => set.cel.extend(p),
                Err(e) => errors.push(e),
            }
        }
        let inventory = gatekeeper::inventory(&resources);
        for d in of(K::GatekeeperTemplate) {
            match gatekeeper::Template::compile(d, &inventory) {
                Ok(t) => set.templates.push(Arc::new(t)),
                Err(e) => errors.push(e),
            }
        }
        for d in of(K::GatekeeperConstraint) {
            let Some(t) = set.templates.iter().find(|t| t.kind == d.kind()) else {
                errors.push(PolicyError {
                    origin: d.origin.clone(),
                    policy: format!("{}/{}", d.kind(), d.name()),
                    expression: None,
                    message: format!("no ConstraintTemplate defines kind {}", d.kind()),
                });
                continue;
            };
            match gatekeeper::Constraint::new(d, t.clone()) {
                Ok(c) => set.constraints.push(c),
                Err(e) => errors.push(e),
            }
        }
        (set, errors)
    }

    /// Namespaces the evaluation may look up (`namespaceObject`, namespace selectors).
    pub fn add_namespaces(&mut self, docs: &[Doc]) {
        for d in docs {
            if d.kind().eq_ignore_ascii_case("Namespace") && d.group().is_empty() {
                self.namespaces.insert(d.name().to_string(), d.json.clone());
            }
        }
    }

    /// Objects Kyverno's `resource.get` may return (a test's context).
    pub fn set_lookup(&mut self, objects: &[Json]) {
        self.lookup = Some(k8s_types::ResourceLookup::new(objects));
    }

    pub fn is_empty(&self) -> bool {
        self.cel.is_empty() && self.constraints.is_empty()
    }

    /// The number of evaluable policies (bindings, rules and autogen variants counted apart).
    pub fn len(&self) -> usize {
        self.cel.len() + self.constraints.len()
    }

    /// The namespace object of a namespace this set knows.
    pub fn namespace(&self, name: &str) -> Option<&Json> {
        self.namespaces.get(name)
    }

    /// Evaluates every policy that applies to the request.
    pub fn evaluate(&self, input: &RequestInput<'_>) -> Vec<Outcome> {
        let mut input = input.clone();
        if input.namespace_object.is_none() && !input.info.namespace.is_empty() {
            input.namespace_object = self.namespaces.get(&input.info.namespace);
        }
        if input.lookup.is_none() {
            input.lookup = self.lookup.clone();
        }
        let prepared = Prepared::new(&input);
        self.evaluate_prepared(&prepared, &input)
    }

    /// The indexes of the CEL policies that may apply to requests of this type.
    fn candidates(&self, info: &RequestInfo) -> Arc<[usize]> {
        let key: TypeKey = (
            info.group.clone(),
            info.version.clone(),
            info.resource.clone(),
            info.sub_resource.clone(),
            info.kind.clone(),
            info.operation.clone(),
            info.cluster_scoped,
        );
        let lock = || {
            self.by_type
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(c) = lock().get(&key) {
            return c.clone();
        }
        let found: Arc<[usize]> = (0..self.cel.len())
            .filter(|&i| self.cel[i].may_apply_to_type(info))
            .collect();
        let mut remembered = lock();
        if remembered.len() < MAX_REMEMBERED_TYPES {
            remembered.insert(key, found.clone());
        }
        found
    }

    /// Evaluates every policy on an already prepared request.
    pub fn evaluate_prepared(&self, prepared: &Prepared, input: &RequestInput<'_>) -> Vec<Outcome> {
        let mut out = Vec::new();
        for &i in self.candidates(&prepared.info).iter() {
            let p = &self.cel[i];
            if !p.applies(prepared) {
                continue;
            }
            out.push(Outcome {
                policy: p.name.clone(),
                rule: p.rule.clone(),
                origin: p.origin.clone(),
                actions: p.actions.clone(),
                declared_severity: severity_of(&p.severity),
                evaluation: p.evaluate(prepared),
            });
        }
        let mut review = None;
        for c in &self.constraints {
            if !c.applies(prepared) {
                continue;
            }
            let review = review.get_or_insert_with(|| {
                gatekeeper::review(prepared, input.object, input.old_object, input.user_info)
            });
            out.push(Outcome {
                policy: format!("{}/{}", c.kind, c.name),
                rule: None,
                origin: c.origin.clone(),
                actions: vec![c.action],
                declared_severity: None,
                evaluation: c.evaluate(prepared, review),
            });
        }
        out
    }

    /// Evaluates a manifest object as if it were being created.
    pub fn evaluate_object(&self, object: &Json) -> Vec<Outcome> {
        let info = request_info(object, "CREATE");
        self.evaluate(&RequestInput {
            info,
            object: Some(object),
            ..Default::default()
        })
    }
}

/// What a request for `object` with `operation` is about.
pub fn request_info(object: &Json, operation: &str) -> RequestInfo {
    let text = |p: &str| object.pointer(p).and_then(Json::as_str).unwrap_or_default();
    let (group, version) = matching::group_version(text("/apiVersion"));
    let kind = text("/kind");
    RequestInfo {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        resource: matching::plural(kind),
        sub_resource: String::new(),
        operation: operation.to_string(),
        name: text("/metadata/name").to_string(),
        namespace: text("/metadata/namespace").to_string(),
        cluster_scoped: matching::cluster_scoped(kind),
    }
}
