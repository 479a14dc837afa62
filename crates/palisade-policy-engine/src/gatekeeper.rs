//! Gatekeeper: ConstraintTemplates (Rego with libs, or K8sNativeValidation CEL) and their
//! Constraints. Rego runs on `regorus` with an execution time limit; `data.inventory` is built
//! from the given manifests, as Gatekeeper's sync cache would hold them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::cel_policy::{params_val, CelPolicy, Evaluation, Prepared, Verdict, Violation};
use crate::load::{cel_parts, Ctx, Doc};
use crate::matching::{wildcard, LabelSelector};
use crate::{Action, Origin, PolicyError};

/// The longest a Rego evaluation may run.
pub const REGO_TIME_LIMIT: Duration = Duration::from_millis(500);

/// A compiled ConstraintTemplate.
#[derive(Debug)]
pub struct Template {
    pub name: String,
    /// The constraint kind it defines.
    pub kind: String,
    pub origin: Origin,
    engine: TemplateEngine,
}

#[derive(Debug)]
enum TemplateEngine {
    Rego {
        engine: Box<regorus::Engine>,
        rule: String,
    },
    Cel {
        spec: Json,
        doc: Box<Doc>,
    },
}

/// A Constraint, bound to its template.
#[derive(Debug)]
pub struct Constraint {
    pub name: String,
    pub kind: String,
    pub origin: Origin,
    pub action: Action,
    template: Arc<Template>,
    parameters: Json,
    matcher: GkMatch,
    cel: Option<CelPolicy>,
}

#[derive(Debug, Default)]
struct GkMatch {
    kinds: Vec<(Vec<String>, Vec<String>)>,
    scope: String,
    namespaces: Vec<String>,
    excluded: Vec<String>,
    label_selector: Option<LabelSelector>,
    namespace_selector: Option<LabelSelector>,
    name: Option<String>,
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl Template {
    pub fn compile(doc: &Doc, inventory: &Json) -> Result<Template, PolicyError> {
        let ctx = Ctx {
            doc,
            policy: doc.name().to_string(),
        };
        let kind = doc
            .json
            .pointer("/spec/crd/spec/names/kind")
            .and_then(Json::as_str)
            .ok_or_else(|| ctx.error(None, "spec.crd.spec.names.kind is missing"))?
            .to_string();
        let target = doc
            .json
            .pointer("/spec/targets/0")
            .ok_or_else(|| ctx.error(None, "spec.targets is empty"))?;
        let mut rego: Option<(String, Vec<String>)> = target
            .get("rego")
            .and_then(Json::as_str)
            .map(|r| (r.to_string(), strings(target.get("libs"))));
        let mut cel_spec = None;
        for code in target
            .get("code")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            match code.get("engine").and_then(Json::as_str) {
                Some("Rego") if rego.is_none() => {
                    let src = code.get("source").unwrap_or(&Json::Null);
                    if let Some(r) = src.get("rego").and_then(Json::as_str) {
                        rego = Some((r.to_string(), strings(src.get("libs"))));
                    }
                }
                Some("K8sNativeValidation") => cel_spec = code.get("source").cloned(),
                _ => {}
            }
        }
        let engine = if let Some((module, libs)) = rego {
            let mut engine = regorus::Engine::new();
            engine.set_rego_v0(true);
            // OPA's sprintf (Go's fmt), where regorus' refuses a missing argument.
            crate::rego_sprintf::register(&mut engine).map_err(|e| ctx.error(None, e))?;
            // OPA's default: a built-in that fails makes its expression undefined.
            engine.set_strict_builtin_errors(false);
            engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
                limit: REGO_TIME_LIMIT,
                check_interval: std::num::NonZeroU32::MIN.saturating_add(63),
            });
            let file = format!("{}#{}", doc.origin.file, doc.name());
            let package = engine
                .add_policy(file.clone(), rego_compat(&module))
                .map_err(|e| ctx.error(Some("rego"), e.to_string()))?;
            for (i, lib) in libs.into_iter().enumerate() {
                engine
                    .add_policy(format!("{file}#lib{i}"), rego_compat(&lib))
                    .map_err(|e| ctx.error(Some("libs"), e.to_string()))?;
            }
            engine
                .add_data(regorus::Value::from(json!({ "inventory": inventory })))
                .map_err(|e| ctx.error(None, e.to_string()))?;
            let rule = format!("{package}.violation");
            // Compile now, so that an error names this template rather than a later request.
            let mut probe = engine.clone();
            probe.set_input(regorus::Value::from(
                json!({"review": {}, "parameters": {}}),
            ));
            if let Err(e) = probe.eval_rule(rule.clone()) {
                let msg = e.to_string();
                if !msg.contains("execution") {
                    return Err(ctx.error(Some("rego"), msg));
                }
            }
            TemplateEngine::Rego {
                engine: Box::new(engine),
                rule,
            }
        } else if let Some(spec) = cel_spec {
            // Compiled per constraint; checked here once.
            cel_parts(&ctx, &spec, "validations", None)?;
            TemplateEngine::Cel {
                spec,
                doc: Box::new(doc.clone()),
            }
        } else {
            return Err(ctx.error(
                None,
                "template has neither Rego nor K8sNativeValidation code",
            ));
        };
        Ok(Template {
            name: doc.name().to_string(),
            kind,
            origin: doc.origin.clone(),
            engine,
        })
    }
}

impl Constraint {
    pub fn new(doc: &Doc, template: Arc<Template>) -> Result<Constraint, PolicyError> {
        let ctx = Ctx {
            doc,
            policy: format!("{}/{}", doc.kind(), doc.name()),
        };
        let spec = doc.json.get("spec").cloned().unwrap_or(Json::Null);
        let m = spec.get("match").cloned().unwrap_or(Json::Null);
        let selector = |k: &str| {
            m.get(k)
                .map(LabelSelector::from_json)
                .transpose()
                .map_err(|e| ctx.error(None, format!("match.{k}: {e}")))
        };
        let matcher = GkMatch {
            kinds: m
                .get("kinds")
                .and_then(Json::as_array)
                .map(|ks| {
                    ks.iter()
                        .map(|k| (strings(k.get("apiGroups")), strings(k.get("kinds"))))
                        .collect()
                })
                .unwrap_or_default(),
            scope: m
                .get("scope")
                .and_then(Json::as_str)
                .unwrap_or("*")
                .to_string(),
            namespaces: strings(m.get("namespaces")),
            excluded: strings(m.get("excludedNamespaces")),
            label_selector: selector("labelSelector")?,
            namespace_selector: selector("namespaceSelector")?,
            name: m.get("name").and_then(Json::as_str).map(str::to_string),
        };
        let action = match spec.get("enforcementAction").and_then(Json::as_str) {
            None | Some("deny") => Action::Deny,
            Some("warn") => Action::Warn,
            Some("dryrun") => Action::Audit,
            Some(other) => {
                return Err(ctx.error(None, format!("unknown enforcementAction {other:?}")))
            }
        };
        let parameters = spec.get("parameters").cloned().unwrap_or(json!({}));
        let cel = match &template.engine {
            TemplateEngine::Cel {
                spec: cspec,
                doc: tdoc,
            } => {
                let tctx = Ctx {
                    doc: tdoc,
                    policy: template.name.clone(),
                };
                let mut with_vars = cspec.clone();
                let mut vars = vec![
                    json!({"name": "anyObject", "expression": "has(request.operation) && request.operation == 'DELETE' && object == null ? oldObject : object"}),
                    json!({"name": "params", "expression": "!has(params.spec) ? null : !has(params.spec.parameters) ? null : params.spec.parameters"}),
                ];
                vars.extend(
                    cspec
                        .get("variables")
                        .and_then(Json::as_array)
                        .cloned()
                        .unwrap_or_default(),
                );
                with_vars["variables"] = Json::Array(vars);
                let parts = cel_parts(&tctx, &with_vars, "validations", None)?;
                Some(CelPolicy {
                    name: ctx.policy.clone(),
                    rule: None,
                    origin: doc.origin.clone(),
                    matcher: crate::cel_policy::Matcher {
                        any_payload: true,
                        ..Default::default()
                    },
                    match_conditions: parts.match_conditions,
                    variables: parts.variables,
                    validations: parts.validations,
                    audit_annotations: parts.audit_annotations,
                    fail_open: false,
                    actions: vec![action],
                    params: Some(params_val(&doc.json)),
                    missing_params: None,
                    severity: None,
                    exceptions: Vec::new(),
                    mode: crate::cel_policy::Mode::Kubernetes,
                    param_choice: None,
                    binding_matcher: None,
                })
            }
            TemplateEngine::Rego { .. } => None,
        };
        Ok(Constraint {
            name: doc.name().to_string(),
            kind: doc.kind().to_string(),
            origin: doc.origin.clone(),
            action,
            template,
            parameters,
            matcher,
            cel,
        })
    }

    /// Whether the constraint's match selects this request. `namespace_labels` are the labels
    /// of the object's namespace, when known.
    pub fn applies(&self, req: &Prepared) -> bool {
        let info = &req.info;
        let m = &self.matcher;
        let kind_ok = m.kinds.is_empty()
            || m.kinds.iter().any(|(groups, kinds)| {
                (groups.is_empty() || groups.iter().any(|g| g == "*" || *g == info.group))
                    && (kinds.is_empty() || kinds.iter().any(|k| k == "*" || *k == info.kind))
            });
        let is_namespace = info.kind == "Namespace" && info.group.is_empty();
        let ns = if is_namespace {
            info.name.as_str()
        } else {
            info.namespace.as_str()
        };
        let scope_ok = match m.scope.as_str() {
            "Cluster" => info.cluster_scoped,
            "Namespaced" => !info.cluster_scoped,
            _ => true,
        };
        let namespaced = !info.cluster_scoped || is_namespace;
        let ns_ok =
            m.namespaces.is_empty() || (namespaced && m.namespaces.iter().any(|p| wildcard(p, ns)));
        let excluded = namespaced && m.excluded.iter().any(|p| wildcard(p, ns));
        let labels_ok = m
            .label_selector
            .as_ref()
            .is_none_or(|s| s.matches(req.labels.as_ref()));
        let ns_sel_ok = m.namespace_selector.as_ref().is_none_or(|s| {
            if is_namespace {
                s.matches(req.labels.as_ref())
            } else if info.cluster_scoped {
                true
            } else {
                s.matches(req.namespace_labels.as_ref())
            }
        });
        let name_ok = m.name.as_ref().is_none_or(|n| wildcard(n, &info.name));
        kind_ok && scope_ok && ns_ok && !excluded && labels_ok && ns_sel_ok && name_ok
    }

    /// Evaluates the constraint: a violation per result of the template's `violation` rule.
    pub fn evaluate(&self, req: &Prepared, review: &Json) -> Evaluation {
        if let Some(cel) = &self.cel {
            return cel.evaluate(req);
        }
        let TemplateEngine::Rego { engine, rule } = &self.template.engine else {
            return Evaluation {
                verdict: Verdict::Error("template has no engine".to_string()),
                audit_annotations: Vec::new(),
            };
        };
        let mut engine = (**engine).clone();
        engine.set_input(regorus::Value::from(json!({
            "review": review,
            "parameters": self.parameters,
        })));
        let verdict = match engine.eval_rule(rule.clone()) {
            Ok(value) => {
                let results: Json = value
                    .to_json_str()
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .unwrap_or(Json::Null);
                let violations: Vec<Violation> = results
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|r| Violation {
                        message: r
                            .get("msg")
                            .and_then(Json::as_str)
                            .unwrap_or_default()
                            .to_string(),
                        reason: None,
                    })
                    .collect();
                if violations.is_empty() {
                    Verdict::Pass
                } else {
                    Verdict::Fail(violations)
                }
            }
            Err(e) => Verdict::Error(format!("rego: {e}")),
        };
        Evaluation {
            verdict,
            audit_annotations: Vec::new(),
        }
    }
}

/// Rewrites two Rego v0 forms OPA accepts and `regorus` does not, keeping the meaning: a rule
/// with several bodies (`head { a } { b }`) becomes one rule per body, and an expression line
/// that starts with `(` gets an explicit `;` so it is not read as a call on the line before.
pub fn rego_compat(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 64);
    let mut head: Option<String> = None;
    let mut prev = String::new();
    for line in src.lines() {
        let trimmed = line.trim();
        if !line.starts_with([' ', '\t', '}'])
            && trimmed.ends_with('{')
            && !trimmed.starts_with('#')
        {
            head = Some(trimmed.trim_end_matches('{').trim_end().to_string());
        }
        if trimmed == "} {" {
            if let Some(h) = &head {
                out.push_str("}\n");
                out.push_str(h);
                out.push_str(" {\n");
                prev = "{".to_string();
                continue;
            }
        }
        if trimmed.starts_with('(')
            && !prev.ends_with('{')
            && !prev.ends_with(['(', ',', '[', '|', '=', '+', '-', '*', '/'])
            && !prev.is_empty()
        {
            out.push_str("; ");
        }
        out.push_str(line);
        out.push('\n');
        if !trimmed.is_empty() && !trimmed.starts_with('#') {
            prev = trimmed.to_string();
        }
    }
    out
}

/// The `input.review` Gatekeeper builds for an object.
pub fn review(
    req: &Prepared,
    object: Option<&Json>,
    old: Option<&Json>,
    user: Option<&Json>,
) -> Json {
    let info = &req.info;
    let mut r = json!({
        "kind": {"group": info.group, "version": info.version, "kind": info.kind},
        "resource": {"group": info.group, "version": info.version, "resource": info.resource},
        "name": info.name,
        "operation": info.operation,
        "userInfo": user.cloned().unwrap_or_else(|| json!({"username": "", "groups": []})),
        "object": object.cloned().unwrap_or(Json::Null),
        "oldObject": old.cloned().unwrap_or(Json::Null),
    });
    if !info.namespace.is_empty() {
        r["namespace"] = Json::String(info.namespace.clone());
    }
    r
}

/// `data.inventory` for the given objects: `namespace[ns][apiVersion][kind][name]` and
/// `cluster[apiVersion][kind][name]`.
pub fn inventory<'a>(objects: impl IntoIterator<Item = &'a Doc>) -> Json {
    let mut inv = json!({"namespace": {}, "cluster": {}});
    for d in objects {
        let (av, kind, name, ns) = (d.api_version(), d.kind(), d.name(), d.namespace());
        if av.is_empty() || kind.is_empty() {
            continue;
        }
        let slot = if ns.is_empty() {
            &mut inv["cluster"]
        } else {
            &mut inv["namespace"][ns]
        };
        slot[av][kind][name] = d.json.clone();
    }
    inv
}
