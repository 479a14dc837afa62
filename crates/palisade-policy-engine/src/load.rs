//! Reading policies from manifests: every kind this crate runs, compiled once. A policy that does
//! not parse or compile is a [`PolicyError`] naming the file, line, policy and expression.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::cel_policy::{
    params_val, CelPolicy, Expr, KyvernoMatch, Matcher, ResourceFilter, Validation,
};
use crate::matching::{LabelSelector, ResourceRule};
use crate::{Action, Origin, PolicyError};

/// One document of the input, with where it came from.
#[derive(Debug, Clone)]
pub struct Doc {
    pub json: Json,
    pub origin: Origin,
}

impl Doc {
    pub fn str_at(&self, pointer: &str) -> &str {
        self.json
            .pointer(pointer)
            .and_then(Json::as_str)
            .unwrap_or_default()
    }
    pub fn api_version(&self) -> &str {
        self.str_at("/apiVersion")
    }
    pub fn kind(&self) -> &str {
        self.str_at("/kind")
    }
    pub fn name(&self) -> &str {
        self.str_at("/metadata/name")
    }
    pub fn namespace(&self) -> &str {
        self.str_at("/metadata/namespace")
    }
    pub fn group(&self) -> &str {
        crate::matching::group_version(self.api_version()).0
    }
}

/// The documents of one text (YAML stream or JSON), `List` items expanded.
///
/// As go-yaml (and so kubectl, gator and the Kyverno CLI) does, a continuation line of a quoted
/// scalar may sit at its key's indentation; such lines are indented before the text is read.
pub fn parse_docs(file: &Arc<str>, text: &str) -> Result<Vec<Doc>, PolicyError> {
    let mut text = std::borrow::Cow::Borrowed(text);
    for _ in 0..64 {
        match parse_docs_strict(file, &text) {
            Err(e) if e.message.contains("invalid indentation in quoted scalar") => {
                let line = e.origin.line as usize;
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                match lines.get_mut(line) {
                    Some(l) => l.insert_str(0, "  "),
                    None => return Err(e),
                }
                text = std::borrow::Cow::Owned(lines.join("\n"));
            }
            other => return other,
        }
    }
    parse_docs_strict(file, &text)
}

fn parse_docs_strict(file: &Arc<str>, text: &str) -> Result<Vec<Doc>, PolicyError> {
    let mut out = Vec::new();
    for document in palisade_core::yaml::documents(text) {
        let document = document.map_err(|e| {
            let e = palisade_core::InputError::from_yaml(file.clone(), e);
            PolicyError {
                origin: Origin {
                    file: file.clone(),
                    line: e.line.unwrap_or(1),
                },
                policy: String::new(),
                expression: None,
                message: e.message,
            }
        })?;
        let Some(root) = document.root else { continue };
        let line = root.line;
        let json = root.to_json();
        let origin = Origin {
            file: file.clone(),
            line,
        };
        match json.get("items").and_then(Json::as_array) {
            Some(items)
                if json
                    .get("kind")
                    .and_then(Json::as_str)
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                for item in items {
                    out.push(Doc {
                        json: item.clone(),
                        origin: origin.clone(),
                    });
                }
            }
            _ => out.push(Doc { json, origin }),
        }
    }
    Ok(out)
}

/// What kind of policy document this is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDocKind {
    Vap,
    VapBinding,
    KyvernoValidating,
    KyvernoClusterPolicy,
    KyvernoException,
    GatekeeperTemplate,
    GatekeeperConstraint,
}

pub fn classify(doc: &Doc) -> Option<PolicyDocKind> {
    let group = doc.group();
    match (group, doc.kind()) {
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy") => Some(PolicyDocKind::Vap),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding") => {
            Some(PolicyDocKind::VapBinding)
        }
        ("policies.kyverno.io", "ValidatingPolicy" | "NamespacedValidatingPolicy") => {
            Some(PolicyDocKind::KyvernoValidating)
        }
        ("policies.kyverno.io" | "kyverno.io", "PolicyException") => {
            Some(PolicyDocKind::KyvernoException)
        }
        ("kyverno.io", "ClusterPolicy" | "Policy") => Some(PolicyDocKind::KyvernoClusterPolicy),
        ("templates.gatekeeper.sh", "ConstraintTemplate") => {
            Some(PolicyDocKind::GatekeeperTemplate)
        }
        ("constraints.gatekeeper.sh", _) => Some(PolicyDocKind::GatekeeperConstraint),
        _ => None,
    }
}

pub(crate) struct Ctx<'a> {
    pub doc: &'a Doc,
    pub policy: String,
}

impl Ctx<'_> {
    pub fn error(&self, expression: Option<&str>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            origin: self.doc.origin.clone(),
            policy: self.policy.clone(),
            expression: expression.map(str::to_string),
            message: message.into(),
        }
    }

    pub fn compile(&self, source: &str) -> Result<Expr, PolicyError> {
        Expr::compile(source).map_err(|e| self.error(Some(source), e))
    }
}

fn arr(v: Option<&Json>) -> &[Json] {
    v.and_then(Json::as_array).map_or(&[], Vec::as_slice)
}

fn text<'a>(v: &'a Json, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Json::as_str)
}

fn strings(v: Option<&Json>) -> Vec<String> {
    arr(v)
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// The pod controllers Kyverno generates rules for, with the rewrite of `object.spec` and
/// `object.metadata` it applies to their expressions.
pub const AUTOGEN_CONTROLLERS: &[(&str, &str, &str)] = &[
    ("apps", "deployments", "Deployment"),
    ("apps", "statefulsets", "StatefulSet"),
    ("apps", "daemonsets", "DaemonSet"),
    ("apps", "replicasets", "ReplicaSet"),
    ("batch", "jobs", "Job"),
    ("", "replicationcontrollers", "ReplicationController"),
    ("batch", "cronjobs", "CronJob"),
];

/// Kyverno's autogen rewrite of an expression for a pod controller.
pub fn autogen_rewrite(expr: &str, cronjob: bool) -> String {
    let (spec, meta) = if cronjob {
        (
            ".spec.jobTemplate.spec.template.spec",
            ".spec.jobTemplate.spec.template.metadata",
        )
    } else {
        (".spec.template.spec", ".spec.template.metadata")
    };
    let mut out = String::with_capacity(expr.len() + 32);
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < expr.len() {
        let rest = &expr[i..];
        let boundary = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b'.');
        let mut matched = false;
        if boundary {
            for root in ["object", "oldObject"] {
                for (field, replacement) in [(".spec", spec), (".metadata", meta)] {
                    let pat_len = root.len() + field.len();
                    if rest.starts_with(root)
                        && rest[root.len()..].starts_with(field)
                        && !rest[pat_len..]
                            .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                    {
                        out.push_str(root);
                        out.push_str(replacement);
                        i += pat_len;
                        matched = true;
                        break;
                    }
                }
                if matched {
                    break;
                }
            }
        }
        if !matched {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The CEL parts of a ValidatingAdmissionPolicy-shaped spec (VAP, Kyverno ValidatingPolicy,
/// Kyverno `validate.cel`), compiled with an optional autogen rewrite.
pub(crate) struct CelParts {
    pub match_conditions: Vec<(String, Expr)>,
    pub variables: Vec<(String, Expr)>,
    pub validations: Vec<Validation>,
    pub audit_annotations: Vec<(String, Expr)>,
}

pub(crate) fn cel_parts(
    ctx: &Ctx<'_>,
    spec: &Json,
    validations_key: &str,
    rewrite: Option<bool>,
) -> Result<CelParts, PolicyError> {
    let rw = |s: &str| match rewrite {
        Some(cronjob) => autogen_rewrite(s, cronjob),
        None => s.to_string(),
    };
    let expr_of = |item: &Json, what: &str| -> Result<Expr, PolicyError> {
        let src = text(item, "expression")
            .ok_or_else(|| ctx.error(None, format!("{what} has no expression")))?;
        ctx.compile(&rw(src))
    };
    let mut parts = CelParts {
        match_conditions: Vec::new(),
        variables: Vec::new(),
        validations: Vec::new(),
        audit_annotations: Vec::new(),
    };
    for mc in arr(spec.get("matchConditions")) {
        let name = text(mc, "name").unwrap_or_default().to_string();
        parts
            .match_conditions
            .push((name, expr_of(mc, "a matchCondition")?));
    }
    for v in arr(spec.get("variables")) {
        let name = text(v, "name")
            .ok_or_else(|| ctx.error(None, "a variable has no name"))?
            .to_string();
        parts.variables.push((name, expr_of(v, "a variable")?));
    }
    for v in arr(spec.get(validations_key)) {
        let message_expression = match text(v, "messageExpression") {
            Some(m) => Some(ctx.compile(&rw(m))?),
            None => None,
        };
        parts.validations.push(Validation {
            expr: expr_of(v, "a validation")?,
            message: text(v, "message").map(str::to_string),
            message_expression,
            reason: text(v, "reason").map(str::to_string),
        });
    }
    for a in arr(spec.get("auditAnnotations")) {
        let key = text(a, "key").unwrap_or_default().to_string();
        let src = text(a, "valueExpression")
            .ok_or_else(|| ctx.error(None, "an auditAnnotation has no valueExpression"))?;
        parts.audit_annotations.push((key, ctx.compile(&rw(src))?));
    }
    Ok(parts)
}

/// matchConstraints / matchResources.
pub(crate) fn match_resources(ctx: &Ctx<'_>, m: Option<&Json>) -> Result<Matcher, PolicyError> {
    let Some(m) = m else {
        return Ok(Matcher::default());
    };
    let selector = |key: &str| -> Result<Option<LabelSelector>, PolicyError> {
        m.get(key)
            .map(LabelSelector::from_json)
            .transpose()
            .map(|s| s.filter(|s| !s.is_empty()))
            .map_err(|e| ctx.error(None, format!("{key}: {e}")))
    };
    Ok(Matcher {
        rules: arr(m.get("resourceRules"))
            .iter()
            .map(ResourceRule::from_json)
            .collect(),
        exclude: arr(m.get("excludeResourceRules"))
            .iter()
            .map(ResourceRule::from_json)
            .collect(),
        namespace_selector: selector("namespaceSelector")?,
        object_selector: selector("objectSelector")?,
        kyverno: None,
        any_payload: false,
    })
}

fn actions(list: &[String]) -> Vec<Action> {
    list.iter()
        .filter_map(|a| match a.as_str() {
            "Deny" => Some(Action::Deny),
            "Warn" => Some(Action::Warn),
            "Audit" => Some(Action::Audit),
            _ => None,
        })
        .collect()
}

fn base_policy(ctx: &Ctx<'_>, parts: CelParts, matcher: Matcher) -> CelPolicy {
    CelPolicy {
        name: ctx.policy.clone(),
        rule: None,
        origin: ctx.doc.origin.clone(),
        matcher,
        match_conditions: parts.match_conditions,
        variables: parts.variables,
        validations: parts.validations,
        audit_annotations: parts.audit_annotations,
        fail_open: false,
        actions: vec![Action::Deny],
        params: None,
        missing_params: None,
        severity: None,
        exceptions: Vec::new(),
        mode: crate::cel_policy::Mode::Kubernetes,
        param_choice: None,
        binding_matcher: None,
    }
}

/// A ValidatingAdmissionPolicy with each binding that names it (or, with none, as if bound with
/// `validationActions: [Deny]`), params resolved from `resources`.
pub(crate) fn vap(
    doc: &Doc,
    bindings: &[&Doc],
    resources: &[Doc],
) -> Result<Vec<CelPolicy>, PolicyError> {
    let ctx = Ctx {
        doc,
        policy: doc.name().to_string(),
    };
    let spec = doc.json.get("spec").cloned().unwrap_or(Json::Null);
    let param_kind = spec.get("paramKind").map(|pk| {
        (
            text(pk, "apiVersion").unwrap_or_default().to_string(),
            text(pk, "kind").unwrap_or_default().to_string(),
        )
    });
    let fail_open = text(&spec, "failurePolicy") == Some("Ignore");
    let mut out = Vec::new();
    let unbound: [Option<&Doc>; 1] = [None];
    let binding_list: Vec<Option<&Doc>> = if bindings.is_empty() {
        unbound.to_vec()
    } else {
        bindings.iter().map(|b| Some(*b)).collect()
    };
    for binding in binding_list {
        let parts = cel_parts(&ctx, &spec, "validations", None)?;
        let matcher = match_resources(&ctx, spec.get("matchConstraints"))?;
        let mut p = base_policy(&ctx, parts, matcher);
        p.fail_open = fail_open;
        if let Some(b) = binding {
            let bctx = Ctx {
                doc: b,
                policy: b.name().to_string(),
            };
            let bspec = b.json.get("spec").cloned().unwrap_or(Json::Null);
            p.rule = Some(b.name().to_string());
            p.actions = actions(&strings(bspec.get("validationActions")));
            if p.actions.is_empty() {
                return Err(bctx.error(None, "validationActions must name Deny, Warn or Audit"));
            }
            if let Some(mr) = bspec.get("matchResources") {
                let mut m = match_resources(&bctx, Some(mr))?;
                // The binding narrows the policy's matchConstraints: resourceRules it leaves
                // unset do not constrain the resources (its selectors and exclusions still do).
                if m.rules.is_empty() {
                    m.rules.push(crate::matching::ResourceRule {
                        groups: vec!["*".to_string()],
                        versions: vec!["*".to_string()],
                        resources: vec!["*/*".to_string()],
                        ..Default::default()
                    });
                }
                p.binding_matcher = Some(m);
            }
            if let Some((api_version, kind)) = &param_kind {
                let pr = bspec.get("paramRef");
                let choice = crate::cel_policy::ParamChoice {
                    candidates: resources
                        .iter()
                        .filter(|r| r.api_version() == api_version && r.kind() == kind)
                        .filter(|r| {
                            pr.and_then(|pr| text(pr, "name"))
                                .is_none_or(|n| n == r.name())
                        })
                        .filter(|r| {
                            pr.and_then(|pr| pr.get("selector"))
                                .and_then(|s| LabelSelector::from_json(s).ok())
                                .is_none_or(|s| s.matches(r.json.pointer("/metadata/labels")))
                        })
                        .map(|r| (r.namespace().to_string(), params_val(&r.json)))
                        .collect(),
                    namespace: pr.and_then(|pr| text(pr, "namespace")).map(str::to_string),
                    deny_when_missing: pr.and_then(|pr| text(pr, "parameterNotFoundAction"))
                        != Some("Allow"),
                };
                if pr.is_none() {
                    p.missing_params = Some(format!(
                        "binding {:?} has no paramRef for paramKind {kind}",
                        b.name()
                    ));
                }
                p.param_choice = Some(choice);
            }
        } else if param_kind.is_some() {
            p.missing_params = Some("no binding gives this policy its params".to_string());
        }
        out.push(p);
    }
    Ok(out)
}

/// The autogen variants a pod policy gets: (resource rules or kinds, cronjob?).
fn autogen_targets(
    controllers: Option<&[String]>,
) -> Vec<(&'static str, &'static str, &'static str)> {
    AUTOGEN_CONTROLLERS
        .iter()
        .filter(|(_, resource, kind)| {
            controllers.is_none_or(|c| {
                c.iter()
                    .any(|x| x.eq_ignore_ascii_case(kind) || x.eq_ignore_ascii_case(resource))
            })
        })
        .copied()
        .collect()
}

/// A Kyverno ValidatingPolicy, with its autogen variants for pod controllers.
pub(crate) fn kyverno_validating(
    doc: &Doc,
    exceptions: &[(String, Vec<String>, Doc)],
) -> Result<Vec<CelPolicy>, PolicyError> {
    let ctx = Ctx {
        doc,
        policy: doc.name().to_string(),
    };
    let spec = doc.json.get("spec").cloned().unwrap_or(Json::Null);
    let mode = match spec.pointer("/evaluation/mode").and_then(Json::as_str) {
        Some("JSON") => crate::cel_policy::Mode::Json,
        Some("Envoy") => crate::cel_policy::Mode::Envoy,
        Some("HTTP") => crate::cel_policy::Mode::Http,
        _ => crate::cel_policy::Mode::Kubernetes,
    };
    let mut acts = actions(&strings(spec.get("validationActions")));
    if acts.is_empty() {
        acts.push(Action::Deny);
    }
    let fail_open = text(&spec, "failurePolicy") == Some("Ignore");
    let excepted: Vec<(String, Vec<Expr>)> = exceptions
        .iter()
        .filter(|(_, refs, _)| refs.iter().any(|r| r == doc.name()))
        .map(|(name, _, edoc)| {
            let ectx = Ctx {
                doc: edoc,
                policy: name.clone(),
            };
            let conds = arr(edoc.json.pointer("/spec/matchConditions"))
                .iter()
                .map(|mc| ectx.compile(text(mc, "expression").unwrap_or("true")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((name.clone(), conds))
        })
        .collect::<Result<_, PolicyError>>()?;
    let build = |parts: CelParts, matcher: Matcher, rule: Option<String>| {
        let mut p = base_policy(&ctx, parts, matcher);
        p.rule = rule;
        p.actions = acts.clone();
        p.fail_open = fail_open;
        p.mode = mode;
        p.severity = doc
            .json
            .pointer("/metadata/annotations/policies.kyverno.io~1severity")
            .and_then(Json::as_str)
            .map(str::to_string);
        p.exceptions = excepted
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        p
    };
    let mut matcher = match_resources(&ctx, spec.get("matchConstraints"))?;
    if mode != crate::cel_policy::Mode::Kubernetes {
        matcher.any_payload = true;
    }
    let mut out = vec![build(
        cel_parts(&ctx, &spec, "validations", None)?,
        matcher.clone(),
        None,
    )];
    // Autogen: a policy whose rules match only pods also runs on the pod controllers.
    let pods_only = !matcher.rules.is_empty()
        && matcher.rules.iter().all(|r| {
            r.resources.iter().all(|x| x == "pods") && r.groups.iter().all(|g| g.is_empty())
        });
    let autogen_enabled = spec.pointer("/autogen/podControllers/controllers");
    let controllers: Option<Vec<String>> = autogen_enabled.map(|c| strings(Some(c)));
    if pods_only && mode == crate::cel_policy::Mode::Kubernetes {
        for (group, resource, _kind) in autogen_targets(controllers.as_deref()) {
            let cronjob = resource == "cronjobs";
            let mut m = matcher.clone();
            for r in &mut m.rules {
                r.groups = vec![group.to_string()];
                r.versions = vec!["v1".to_string()];
                r.resources = vec![resource.to_string()];
            }
            let parts = cel_parts(&ctx, &spec, "validations", Some(cronjob))?;
            let name = if cronjob {
                "autogen-cronjobs"
            } else {
                "autogen"
            };
            out.push(build(parts, m, Some(name.to_string())));
        }
    }
    Ok(out)
}

fn resource_filters(ctx: &Ctx<'_>, list: &[Json]) -> Result<Vec<ResourceFilter>, PolicyError> {
    list.iter()
        .map(|item| {
            let r = item.get("resources").unwrap_or(&Json::Null);
            let sel = |k: &str| {
                r.get(k)
                    .map(LabelSelector::from_json)
                    .transpose()
                    .map_err(|e| ctx.error(None, e))
            };
            Ok(ResourceFilter {
                kinds: strings(r.get("kinds")),
                names: strings(r.get("names"))
                    .into_iter()
                    .chain(text(r, "name").map(str::to_string))
                    .collect(),
                namespaces: strings(r.get("namespaces")),
                operations: strings(r.get("operations")),
                selector: sel("selector")?,
                namespace_selector: sel("namespaceSelector")?,
            })
        })
        .collect()
}

fn kyverno_match(ctx: &Ctx<'_>, rule: &Json) -> Result<KyvernoMatch, PolicyError> {
    let side = |key: &str| -> Result<(Vec<ResourceFilter>, Vec<ResourceFilter>), PolicyError> {
        let Some(m) = rule.get(key) else {
            return Ok((Vec::new(), Vec::new()));
        };
        let mut any = resource_filters(ctx, arr(m.get("any")))?;
        let all = resource_filters(ctx, arr(m.get("all")))?;
        if m.get("resources").is_some() {
            any.extend(resource_filters(ctx, std::slice::from_ref(m))?);
        }
        Ok((any, all))
    };
    let (any, all) = side("match")?;
    let (exclude_any, exclude_all) = side("exclude")?;
    Ok(KyvernoMatch {
        any,
        all,
        exclude_any,
        exclude_all,
    })
}

/// A Kyverno ClusterPolicy or Policy: each `validate.cel` rule, with autogen rules for pod
/// controllers. A rule of another type is an error (this engine runs CEL rules only).
pub(crate) fn kyverno_cluster_policy(doc: &Doc) -> Result<Vec<CelPolicy>, PolicyError> {
    let mut ctx = Ctx {
        doc,
        policy: doc.name().to_string(),
    };
    let spec = doc.json.get("spec").cloned().unwrap_or(Json::Null);
    let policy_action = text(&spec, "validationFailureAction").unwrap_or("Audit");
    let annotations = doc.json.pointer("/metadata/annotations");
    let severity = annotations
        .and_then(|a| a.get("policies.kyverno.io/severity"))
        .and_then(Json::as_str)
        .map(str::to_string);
    let controllers = annotations
        .and_then(|a| a.get("pod-policies.kyverno.io/autogen-controllers"))
        .and_then(Json::as_str)
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .collect::<Vec<_>>()
        });
    let mut out = Vec::new();
    for rule in arr(spec.get("rules")) {
        let rule_name = text(rule, "name").unwrap_or_default().to_string();
        ctx.policy = format!("{}/{}", doc.name(), rule_name);
        let Some(cel) = rule.pointer("/validate/cel") else {
            return Err(ctx.error(
                None,
                "only validate.cel rules are supported (pattern, deny, foreach and other rule types are not)",
            ));
        };
        let action = rule
            .pointer("/validate/failureAction")
            .and_then(Json::as_str)
            .unwrap_or(policy_action);
        let act = if action.eq_ignore_ascii_case("enforce") {
            Action::Deny
        } else {
            Action::Audit
        };
        let km = kyverno_match(&ctx, rule)?;
        let make = |parts: CelParts, km: KyvernoMatch, rule: String| {
            let mut p = base_policy(
                &ctx,
                parts,
                Matcher {
                    kyverno: Some(km),
                    ..Matcher::default()
                },
            );
            p.name = doc.name().to_string();
            p.rule = Some(rule);
            p.actions = vec![act];
            p.severity = severity.clone();
            p.fail_open = text(&spec, "failurePolicy") == Some("Ignore");
            p
        };
        let with_pre = |cronjob: Option<bool>| -> Result<CelParts, PolicyError> {
            let mut parts = cel_parts(&ctx, cel, "expressions", cronjob)?;
            let pre = serde_json::json!({"matchConditions": rule.get("celPreconditions").cloned().unwrap_or(Json::Null)});
            parts.match_conditions = cel_parts(&ctx, &pre, "none", cronjob)?.match_conditions;
            Ok(parts)
        };
        let parts = with_pre(None)?;
        out.push(make(parts, km.clone(), rule_name.clone()));
        let pod_only = km
            .any
            .iter()
            .chain(&km.all)
            .all(|f| !f.kinds.is_empty() && f.kinds.iter().all(|k| k == "Pod"))
            && !(km.any.is_empty() && km.all.is_empty());
        let disabled = controllers
            .as_ref()
            .is_some_and(|c| c.iter().any(|x| x.eq_ignore_ascii_case("none")));
        if !pod_only || disabled {
            continue;
        }
        let targets = autogen_targets(controllers.as_deref());
        for (cronjob, kinds) in [
            (
                false,
                targets
                    .iter()
                    .filter(|t| t.2 != "CronJob")
                    .map(|t| t.2.to_string())
                    .collect::<Vec<_>>(),
            ),
            (
                true,
                targets
                    .iter()
                    .filter(|t| t.2 == "CronJob")
                    .map(|t| t.2.to_string())
                    .collect(),
            ),
        ] {
            if kinds.is_empty() {
                continue;
            }
            let mut km2 = km.clone();
            for f in km2
                .any
                .iter_mut()
                .chain(km2.all.iter_mut())
                .chain(km2.exclude_any.iter_mut())
                .chain(km2.exclude_all.iter_mut())
            {
                if f.kinds.iter().any(|k| k == "Pod") {
                    f.kinds = kinds.clone();
                }
            }
            let parts = with_pre(Some(cronjob))?;
            let name = if cronjob {
                format!("autogen-cronjob-{rule_name}")
            } else {
                format!("autogen-{rule_name}")
            };
            out.push(make(parts, km2, name));
        }
    }
    Ok(out)
}

/// Kyverno PolicyExceptions: (name, policy names, document).
pub(crate) fn kyverno_exception(doc: &Doc) -> (String, Vec<String>, Doc) {
    let refs = arr(doc.json.pointer("/spec/policyRefs"))
        .iter()
        .filter_map(|r| text(r, "name").map(str::to_string))
        .chain(
            arr(doc.json.pointer("/spec/exceptions"))
                .iter()
                .filter_map(|r| text(r, "policyName").map(str::to_string)),
        )
        .collect();
    (doc.name().to_string(), refs, doc.clone())
}
