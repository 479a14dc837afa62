//! Admission decisions: the policy engine applied to one API request, as upstream Pod Security
//! Admission decides (same levels, exemptions, messages and response shapes), plus palisade's
//! ML-serving rules and hardening. Pure: the webhook crate does HTTP, TLS and the namespace cache.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use palisade_core::node::Node;
use palisade_core::{pod_templates, Object, SourceRef, Workload};
use palisade_pss::{evaluate, Evaluation, Level, LevelVersion};

use crate::audit::{rules_detail, rules_message};
use crate::config::{Config, RuleMode, WorkloadMode};
use crate::harden::{harden, PatchOp};
use crate::namespace::NamespacePolicy;
use crate::rules::{check_rules, RuleViolation};

pub const ENFORCE_POLICY_ANNOTATION: &str = "pod-security.kubernetes.io/enforce-policy";
pub const AUDIT_VIOLATIONS_ANNOTATION: &str = "pod-security.kubernetes.io/audit-violations";
pub const EXEMPT_ANNOTATION: &str = "pod-security.kubernetes.io/exempt";
pub const RULES_AUDIT_ANNOTATION: &str = "palisade.dev/audit-violations";

/// Pod subresources upstream never evaluates.
const IGNORED_POD_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "binding",
    "eviction",
    "log",
    "portforward",
    "proxy",
    "status",
];

/// The parts of an `AdmissionRequest` a decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub operation: &'a str,
    /// API group of the object's kind (`""` for core, `apps`, ...).
    pub group: &'a str,
    pub kind: &'a str,
    /// The resource (`pods`, `deployments`) and its API group, for messages.
    pub resource: &'a str,
    pub resource_group: &'a str,
    pub sub_resource: &'a str,
    pub name: &'a str,
    pub namespace: &'a str,
    pub username: &'a str,
    /// The requester's groups (`userInfo.groups`).
    pub groups: &'a [String],
    /// The request's object, read by [`parse_object`] (or why it could not be).
    pub object: Option<&'a ParsedObject>,
    pub old_object: Option<&'a Node>,
}

/// A denial, shaped like the `metav1.Status` the API server returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

/// Why a rule or check fired, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    pub rule: &'static str,
    pub mode: &'static str,
}

/// The answer to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub denial: Option<Denial>,
    pub warnings: Vec<String>,
    pub audit_annotations: BTreeMap<String, String>,
    pub patch: Vec<PatchOp>,
    pub fired: Vec<Fired>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.denial.is_none()
    }

    /// Adds another part of the decision (image verification): its denial when this one has none
    /// (a denied request carries no warnings, as upstream answers), its warnings, annotations,
    /// patch and fired rules.
    pub fn absorb(&mut self, other: Decision) {
        if self.denial.is_none() {
            self.denial = other.denial;
        }
        self.warnings.extend(other.warnings);
        if self.denial.is_some() {
            self.warnings.clear();
        }
        self.audit_annotations.extend(other.audit_annotations);
        self.patch.extend(other.patch);
        self.fired.extend(other.fired);
    }

    fn exempt(reason: &str) -> Self {
        let mut d = Decision::default();
        d.audit_annotations
            .insert(EXEMPT_ANNOTATION.to_owned(), reason.to_owned());
        d
    }
}

/// What kind of object a request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Namespace,
    Pod,
    Workload,
    Other,
}

/// The admission engine: configuration plus the default policy for unlabelled namespaces.
#[derive(Debug, Clone)]
pub struct Admission {
    config: Config,
    defaults: LevelVersion,
}

impl Admission {
    pub fn new(config: Config, defaults: LevelVersion) -> Self {
        Self { config, defaults }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn target(&self, request: &Request<'_>) -> Target {
        match (request.group, request.kind) {
            ("", "Namespace") => Target::Namespace,
            ("", "Pod") => Target::Pod,
            ("", "PodTemplate" | "ReplicationController")
            | ("apps" | "extensions", "ReplicaSet" | "Deployment" | "DaemonSet")
            | ("apps", "StatefulSet")
            | ("batch", "Job" | "CronJob")
            | ("serving.kserve.io", "InferenceService") => Target::Workload,
            _ => Target::Other,
        }
    }

    /// The namespace's policy: its labels when the caller knows them (the cluster's namespace
    /// cache), else the configuration file's entry, else the defaults.
    pub fn namespace_policy(
        &self,
        namespace: &str,
        labels: Option<&BTreeMap<String, String>>,
    ) -> NamespacePolicy {
        match labels {
            Some(labels) => NamespacePolicy::from_labels(labels, self.defaults),
            None => match self.config.pod_security.namespaces.get(namespace) {
                Some(entry) => NamespacePolicy::from_config(entry, self.defaults),
                None => NamespacePolicy::uniform(self.defaults),
            },
        }
    }

    /// The shared preamble: which requests are evaluated at all, and exemptions.
    pub(crate) fn screen(&self, request: &Request<'_>) -> Result<Target, Box<Decision>> {
        if !matches!(request.operation, "CREATE" | "UPDATE") {
            return Err(Box::default());
        }
        let target = self.target(request);
        match target {
            Target::Other => return Err(Box::default()),
            Target::Pod if IGNORED_POD_SUBRESOURCES.contains(&request.sub_resource) => {
                return Err(Box::default())
            }
            Target::Pod if !matches!(request.sub_resource, "" | "ephemeralcontainers") => {
                return Err(Box::default())
            }
            Target::Workload | Target::Namespace if !request.sub_resource.is_empty() => {
                return Err(Box::default())
            }
            _ => {}
        }
        let exemptions = &self.config.pod_security.exemptions;
        if !request.namespace.is_empty()
            && exemptions.namespaces.iter().any(|n| n == request.namespace)
        {
            return Err(Box::new(Decision::exempt("namespace")));
        }
        if !request.username.is_empty()
            && exemptions.usernames.iter().any(|u| u == request.username)
        {
            return Err(Box::new(Decision::exempt("user")));
        }
        Ok(target)
    }

    pub(crate) fn forbidden(&self, request: &Request<'_>, message: String) -> Denial {
        let resource = if request.resource_group.is_empty() {
            request.resource.to_owned()
        } else {
            format!("{}.{}", request.resource, request.resource_group)
        };
        let message = if request.name.is_empty() {
            format!("{resource} is forbidden: {message}")
        } else {
            format!("{resource} {:?} is forbidden: {message}", request.name)
        };
        Denial {
            code: 403,
            reason: "Forbidden",
            message,
        }
    }

    /// Namespaces: their Pod Security labels must be valid, as upstream requires (422 Invalid).
    fn validate_namespace(&self, namespace: &Object) -> Decision {
        let policy = NamespacePolicy::from_labels(&namespace.metadata.labels, self.defaults);
        if policy.label_errors.is_empty() {
            return Decision::default();
        }
        let detail = match policy.label_errors.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        Decision {
            denial: Some(Denial {
                code: 422,
                reason: "Invalid",
                message: format!(
                    "Namespace {:?} is invalid: {detail}",
                    namespace.metadata.name
                ),
            }),
            ..Decision::default()
        }
    }

    /// The validating webhook's decision.
    pub fn validate(
        &self,
        request: &Request<'_>,
        namespace_labels: Option<&BTreeMap<String, String>>,
    ) -> Decision {
        let target = match self.screen(request) {
            Ok(target) => target,
            Err(decision) => return *decision,
        };
        let object = match request.object {
            Some(Ok(object)) => object,
            failure => {
                let error = match failure {
                    Some(Err(e)) => format!("failed to decode object: {e}"),
                    _ => "failed to decode object: no object in the request".to_owned(),
                };
                let mut decision = Decision::default();
                if target == Target::Pod {
                    decision.denial = Some(Denial {
                        code: 400,
                        reason: "BadRequest",
                        message: error.clone(),
                    });
                }
                decision.audit_annotations.insert("error".into(), error);
                return decision;
            }
        };
        if target == Target::Namespace {
            return self.validate_namespace(object);
        }
        if target == Target::Pod && request.operation == "UPDATE" {
            if let Some(old) = request.old_object {
                if !is_significant_pod_update(&object.node, old) {
                    return Decision::default();
                }
            }
        }
        let templates = match pod_templates(object) {
            Ok(Workload::Pods(templates)) => templates,
            Ok(Workload::NotAWorkload) => return Decision::default(),
            Err(e) => {
                let mut decision = Decision::default();
                if target == Target::Pod {
                    decision.denial = Some(Denial {
                        code: 400,
                        reason: "BadRequest",
                        message: format!("failed to decode pod: {}", e.message),
                    });
                }
                decision.audit_annotations.insert(
                    "error".into(),
                    format!("failed to extract pod spec: {}", e.message),
                );
                return decision;
            }
        };
        let policy = self.namespace_policy(request.namespace, namespace_labels);
        let mut decision = Decision::default();
        if !policy.label_errors.is_empty() {
            decision.audit_annotations.insert(
                "error".into(),
                format!("Failed to parse policy: {}", policy.label_errors.join("; ")),
            );
        }
        let enforce =
            target == Target::Pod || self.config.pod_security.workloads == WorkloadMode::Deny;
        let mut deny_messages = Vec::new();
        let exemptions = &self.config.pod_security.exemptions;
        for mut template in templates {
            if let Some(class) = template.spec.runtime_class_name.as_deref() {
                if !class.is_empty() && exemptions.runtime_classes.iter().any(|c| c == class) {
                    return Decision::exempt("runtimeClass");
                }
            }
            template.spec.apply_api_server_defaults(template.is_pod);
            let mut cache: Vec<Evaluation> = Vec::new();
            let mut eval = |lv: LevelVersion| -> Evaluation {
                let lv_key = equivalent(lv);
                if let Some(e) = cache.iter().find(|e| equivalent(e.level_version) == lv_key) {
                    return Evaluation {
                        level_version: lv,
                        failures: e.failures.clone(),
                    };
                }
                let e = evaluate(lv, &template.metadata, &template.spec);
                cache.push(e.clone());
                e
            };
            if enforce {
                decision
                    .audit_annotations
                    .insert(ENFORCE_POLICY_ANNOTATION.into(), policy.enforce.to_string());
                let result = eval(policy.enforce);
                if !result.allowed() {
                    deny_messages.push(result.message());
                    fire(&mut decision, &result, "enforce");
                }
            }
            let audit = eval(policy.audit);
            if !audit.allowed() {
                decision.audit_annotations.insert(
                    AUDIT_VIOLATIONS_ANNOTATION.into(),
                    format!(
                        "would violate PodSecurity \"{}\": {}",
                        audit.level_version,
                        audit.forbidden_detail()
                    ),
                );
                fire(&mut decision, &audit, "audit");
            }
            let violations = check_rules(&self.config.rules, &template.metadata, &template.spec);
            let by_mode = |mode: RuleMode| {
                violations
                    .iter()
                    .filter(move |v| v.mode == mode)
                    .collect::<Vec<&RuleViolation>>()
            };
            let (enforced, warned, audited) = (
                by_mode(RuleMode::Enforce),
                by_mode(RuleMode::Warn),
                by_mode(RuleMode::Audit),
            );
            for v in &violations {
                decision.fired.push(Fired {
                    rule: v.rule.id,
                    mode: mode_name(v.mode),
                });
            }
            if !audited.is_empty() {
                decision.audit_annotations.insert(
                    RULES_AUDIT_ANNOTATION.into(),
                    format!("would violate palisade rules: {}", rules_detail(audited)),
                );
            }
            let mut rule_warnings = warned;
            if !enforced.is_empty() {
                if enforce {
                    deny_messages.push(rules_message(enforced));
                } else {
                    rule_warnings.extend(enforced);
                }
            }
            // Upstream adds no warnings to a request it is going to reject.
            if deny_messages.is_empty() {
                let warn = eval(policy.warn);
                if !warn.allowed() {
                    decision.warnings.push(format!(
                        "would violate PodSecurity \"{}\": {}",
                        warn.level_version,
                        warn.forbidden_detail()
                    ));
                    fire(&mut decision, &warn, "warn");
                }
                if !rule_warnings.is_empty() {
                    decision.warnings.push(format!(
                        "would violate palisade rules: {}",
                        rules_detail(rule_warnings)
                    ));
                }
            }
        }
        if !deny_messages.is_empty() {
            decision.denial = Some(self.forbidden(request, deny_messages.join("; ")));
            decision.warnings.clear();
        }
        decision
    }

    /// The mutating webhook's decision: hardening patches for pods (on create) and workload
    /// templates (on create and update), never for exempt requests.
    pub fn mutate(&self, request: &Request<'_>) -> Decision {
        let target = match self.screen(request) {
            Ok(target) => target,
            Err(decision) => return *decision,
        };
        if (target == Target::Pod
            && (request.operation != "CREATE" || !request.sub_resource.is_empty()))
            || matches!(target, Target::Other | Target::Namespace)
        {
            return Decision::default();
        }
        let Some(object) = request
            .object
            .and_then(|o| o.as_ref().ok())
            .map(|o| o.node.to_json())
        else {
            return Decision::default();
        };
        let class = object
            .pointer("/spec/runtimeClassName")
            .or_else(|| object.pointer("/spec/template/spec/runtimeClassName"))
            .and_then(Value::as_str);
        if class.is_some_and(|c| {
            self.config
                .pod_security
                .exemptions
                .runtime_classes
                .iter()
                .any(|e| e == c)
        }) {
            return Decision::exempt("runtimeClass");
        }
        Decision {
            patch: harden(&object, request.group, request.kind, &self.config.hardening),
            ..Decision::default()
        }
    }
}

fn mode_name(mode: RuleMode) -> &'static str {
    match mode {
        RuleMode::Enforce => "enforce",
        RuleMode::Warn => "warn",
        RuleMode::Audit => "audit",
    }
}

fn fire(decision: &mut Decision, evaluation: &Evaluation, mode: &'static str) {
    for failure in &evaluation.failures {
        decision.fired.push(Fired {
            rule: failure.check.rule,
            mode,
        });
    }
}

/// Level-versions that evaluate identically (all privileged ones are alike), for reuse.
fn equivalent(lv: LevelVersion) -> (Level, u32) {
    match lv.level {
        Level::Privileged => (Level::Privileged, 0),
        level => (level, lv.version.effective_minor()),
    }
}

/// An admission request's object, or why it is not one.
pub type ParsedObject = Result<Object, String>;

/// Reads a request's object, taking the tree (no copy): done once per request by the front end.
pub fn parse_object(node: Node, namespace: &str, name: &str) -> ParsedObject {
    let file: Arc<str> = Arc::from(format!("{namespace}/{name}"));
    let source = SourceRef {
        file,
        document: 1,
        line: 0,
    };
    Object::from_node(source, node).map_err(|e| e.message)
}

/// Upstream's `isSignificantPodUpdate`: only image changes and new ephemeral containers can change
/// a pod's verdict, since the rest of its spec is immutable.
pub(crate) fn is_significant_pod_update(pod: &Node, old: &Node) -> bool {
    let containers = |v: &Node, key: &str| -> Vec<(String, String)> {
        let list = v.get("spec").and_then(|s| s.get(key));
        match list.map(|l| &l.value) {
            Some(palisade_core::node::Value::Sequence(items)) => items
                .iter()
                .map(|c| {
                    let s = |k: &str| {
                        c.get(k)
                            .and_then(Node::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (s("name"), s("image"))
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    for key in ["containers", "initContainers"] {
        let (new, old) = (containers(pod, key), containers(old, key));
        if new.len() != old.len() || new.iter().zip(&old).any(|(a, b)| a.1 != b.1) {
            return true;
        }
    }
    let old_ephemeral = containers(old, "ephemeralContainers");
    containers(pod, "ephemeralContainers")
        .iter()
        .any(|(name, image)| {
            old_ephemeral
                .iter()
                .find(|(n, _)| n == name)
                .is_none_or(|(_, i)| i != image)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use palisade_pss::Version;
    use serde_json::json;

    fn parsed(value: &Value) -> ParsedObject {
        parse_object(Node::from_json(value), "ml", "")
    }

    fn admission(config: &str) -> Admission {
        let config = Config::parse(Arc::from("palisade.yaml"), config).unwrap();
        Admission::new(
            config,
            LevelVersion::new(Level::Restricted, Version::Latest),
        )
    }

    fn request<'a>(kind: &'a str, object: &'a ParsedObject) -> Request<'a> {
        let (group, resource) = match kind {
            "Pod" => ("", "pods"),
            "Deployment" => ("apps", "deployments"),
            _ => ("", "services"),
        };
        Request {
            operation: "CREATE",
            group,
            kind,
            resource,
            resource_group: group,
            sub_resource: "",
            name: object
                .as_ref()
                .map(|o| o.metadata.name.as_str())
                .unwrap_or(""),
            namespace: "ml",
            username: "alice",
            object: Some(object),
            groups: &[],
            old_object: None,
        }
    }

    fn pod(security: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ml"},
               "spec": {"containers": [{"name": "app", "image": "flask", "securityContext": security}]}})
    }

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ml"},
               "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "flask", "securityContext": {"privileged": true}}]}}}})
    }

    #[test]
    fn denies_pods_with_upstreams_message() {
        let a = admission("");
        let labels: BTreeMap<String, String> = [(
            "pod-security.kubernetes.io/enforce".to_owned(),
            "baseline".to_owned(),
        )]
        .into();
        let object = parsed(&pod(json!({"privileged": true})));
        let d = a.validate(&request("Pod", &object), Some(&labels));
        let denial = d.denial.unwrap();
        assert_eq!((denial.code, denial.reason), (403, "Forbidden"));
        assert_eq!(
            denial.message,
            "pods \"p\" is forbidden: violates PodSecurity \"baseline:latest\": privileged (container \"app\" must not set securityContext.privileged=true)"
        );
        assert_eq!(
            d.audit_annotations[ENFORCE_POLICY_ANNOTATION],
            "baseline:latest"
        );
        assert!(d.warnings.is_empty());
    }

    #[test]
    fn warns_for_workloads_or_denies_when_configured() {
        let object = parsed(&deployment());
        let d = admission("").validate(&request("Deployment", &object), None);
        assert!(d.allowed());
        assert!(
            d.warnings[0].starts_with(
                "would violate PodSecurity \"restricted:latest\": privileged (container \"app\""
            ),
            "{:?}",
            d.warnings
        );
        let d = admission("podSecurity: {workloads: deny}")
            .validate(&request("Deployment", &object), None);
        assert!(d.denial.unwrap().message.starts_with("deployments.apps \"d\" is forbidden: violates PodSecurity \"restricted:latest\": privileged"));
    }

    #[test]
    fn exemptions_and_other_requests_are_allowed() {
        let object = parsed(&pod(json!({"privileged": true})));
        let a = admission("podSecurity:\n  exemptions: {namespaces: [ml], usernames: [bob]}\n");
        assert_eq!(
            a.validate(&request("Pod", &object), None).audit_annotations[EXEMPT_ANNOTATION],
            "namespace"
        );
        let a = admission("podSecurity:\n  exemptions: {usernames: [alice]}\n");
        assert_eq!(
            a.validate(&request("Pod", &object), None).audit_annotations[EXEMPT_ANNOTATION],
            "user"
        );
        let a = admission("");
        let mut r = request("Pod", &object);
        r.sub_resource = "status";
        assert!(a.validate(&r, None).allowed());
        r.sub_resource = "";
        r.operation = "DELETE";
        assert!(a.validate(&r, None).allowed());
        let service =
            parsed(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}));
        assert!(a.validate(&request("Service", &service), None).allowed());
    }

    #[test]
    fn rules_follow_their_modes() {
        let a = admission("podSecurity: {level: privileged}\nrules:\n  noLatestTag: {mode: enforce}\n  imageDigest: {mode: warn}\n  requiredLabels: {mode: audit, labels: [team]}\n");
        let a = Admission::new(
            a.config.clone(),
            LevelVersion::new(Level::Privileged, Version::Latest),
        );
        let object = parsed(&pod(json!({})));
        let d = a.validate(&request("Pod", &object), None);
        assert_eq!(
            d.denial.unwrap().message,
            "pods \"p\" is forbidden: violates palisade rules: latest image tag (container \"app\" must not use the latest tag (or no tag))"
        );
        assert!(d.audit_annotations[RULES_AUDIT_ANNOTATION]
            .starts_with("would violate palisade rules: missing required labels"));
        let object = parsed(
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "flask:2.2"}]}}),
        );
        let d = a.validate(&request("Pod", &object), None);
        assert!(d.allowed());
        assert_eq!(d.warnings, ["would violate palisade rules: image not pinned by digest (container \"app\" must reference its image by digest (image@sha256:...))"]);
    }

    #[test]
    fn pod_updates_are_evaluated_only_when_significant() {
        let a = admission("");
        let old_value = pod(json!({"privileged": true}));
        let mut relabelled = old_value.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        let mut new_image = old_value.clone();
        new_image["spec"]["containers"][0]["image"] = json!("flask:3");
        let old = Node::from_json(&old_value);
        let (relabelled, new_image) = (parsed(&relabelled), parsed(&new_image));
        for (new, significant) in [(&relabelled, false), (&new_image, true)] {
            let mut r = request("Pod", new);
            r.operation = "UPDATE";
            r.old_object = Some(&old);
            assert_eq!(!a.validate(&r, None).allowed(), significant);
        }
    }

    #[test]
    fn namespaces_need_valid_labels() {
        let a = admission("");
        let ns = |labels: Value| {
            parsed(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml", "labels": labels}}),
            )
        };
        let valid = ns(json!({"pod-security.kubernetes.io/enforce": "baseline"}));
        let mut r = request("Namespace", &valid);
        r.namespace = "";
        assert!(a.validate(&r, None).allowed());
        let invalid = ns(
            json!({"pod-security.kubernetes.io/enforce": "strict", "pod-security.kubernetes.io/warn-version": "1.30"}),
        );
        let r = Request {
            object: Some(&invalid),
            ..r
        };
        let denial = a.validate(&r, None).denial.unwrap();
        assert_eq!((denial.code, denial.reason), (422, "Invalid"));
        assert_eq!(
            denial.message,
            "Namespace \"ml\" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: \"strict\": must be one of privileged, baseline, restricted, metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: \"1.30\": must be \"latest\" or \"v1.x\"]"
        );
        assert!(a.mutate(&r).patch.is_empty());
    }

    #[test]
    fn undecodable_pods_are_bad_requests() {
        let object = parsed(
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "nope"}}),
        );
        let d = admission("").validate(&request("Pod", &object), None);
        let denial = d.denial.unwrap();
        assert_eq!((denial.code, denial.reason), (400, "BadRequest"));
        assert!(
            denial.message.contains("spec.containers"),
            "{}",
            denial.message
        );
    }

    #[test]
    fn mutation_hardens_pods_on_create_only() {
        let a = admission("");
        let object = parsed(&pod(json!({})));
        let d = a.mutate(&request("Pod", &object));
        assert!(d.patch.iter().any(|op| op.path == "/spec/securityContext"));
        let mut r = request("Pod", &object);
        r.operation = "UPDATE";
        assert!(a.mutate(&r).patch.is_empty());
        let object = parsed(&deployment());
        assert!(a
            .mutate(&request("Deployment", &object))
            .patch
            .iter()
            .all(|op| op.path.starts_with("/spec/template/spec")));
    }
}
