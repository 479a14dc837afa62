//! The one evaluable form every CEL policy is compiled into: a ValidatingAdmissionPolicy with a
//! binding, a Kyverno ValidatingPolicy (and each of its autogen variants), a Kyverno
//! ClusterPolicy rule with `validate.cel`, a Gatekeeper K8sNativeValidation template with its
//! constraint. Admission semantics are the API server's: matchConstraints, then matchConditions
//! (all must hold), variables, validations, auditAnnotations; failurePolicy decides errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Program, Value};
use serde_json::Value as Json;

use crate::cel_lib;
use crate::convert::{json_to_val, json_to_val_borrowed, json_to_value};
use crate::matching::{wildcard, LabelSelector, RequestInfo, ResourceRule};
use crate::{Action, Origin};

/// The longest expression accepted (Kubernetes bounds expressions by cost; this bounds them by
/// size, as the `cel` crate estimates no cost).
pub const MAX_EXPRESSION_BYTES: usize = 16 * 1024;

/// A compiled expression with its source.
#[derive(Debug, Clone)]
pub struct Expr {
    pub source: String,
    pub program: Arc<Program>,
    pub needs_cluster: Option<&'static str>,
    /// Set when the expression reads only what the request carries (no `params`, no other
    /// policy variable): then its value is the same in every policy that declares it, and a
    /// variable with it is computed once per request. Expressions with the same syntax tree
    /// (whatever their spacing or parentheses) share the id.
    pub request_scoped: Option<u64>,
}

/// The id of a syntax tree: equal trees, equal ids (for the life of the process).
fn shape_id(program: &Program) -> u64 {
    static SHAPES: std::sync::OnceLock<Mutex<HashMap<String, u64>>> = std::sync::OnceLock::new();
    let shape = format!("{:?}", program.expression());
    let mut shapes = SHAPES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let next = shapes.len() as u64;
    *shapes.entry(shape).or_insert(next)
}

impl Expr {
    pub fn compile(source: &str) -> Result<Expr, String> {
        if source.len() > MAX_EXPRESSION_BYTES {
            return Err(format!(
                "expression is {} bytes, more than the {MAX_EXPRESSION_BYTES} allowed",
                source.len()
            ));
        }
        let program = cel_lib::env()
            .compile(&cel_lib::lenient_source(source))
            .map_err(|e| e.to_string().trim().to_string())?;
        let refs = program.references();
        let needs_cluster = if refs.has_variable("authorizer") {
            Some("calls the authorizer, which needs a live cluster")
        } else if ["http.Get", "http.Post", "Get", "Post"]
            .iter()
            .any(|f| refs.has_function(f))
        {
            Some("makes HTTP calls, which need the network")
        } else if refs.has_variable("image") && refs.has_function("GetMetadata") {
            Some("reads image metadata from a registry, which needs the network")
        } else {
            None
        };
        let request_scoped = (!refs
            .variables()
            .iter()
            .any(|v| *v == "params" || *v == "variables" || v.starts_with("variables.")))
        .then(|| shape_id(&program));
        Ok(Expr {
            source: source.to_string(),
            program: Arc::new(program),
            needs_cluster,
            request_scoped,
        })
    }
}

#[derive(Debug)]
pub struct Validation {
    pub expr: Expr,
    pub message: Option<String>,
    pub message_expression: Option<Expr>,
    pub reason: Option<String>,
}

/// Which requests a policy sees.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub rules: Vec<ResourceRule>,
    pub exclude: Vec<ResourceRule>,
    pub namespace_selector: Option<LabelSelector>,
    pub object_selector: Option<LabelSelector>,
    /// Kyverno resource filters (`match.any` / `match.all`, `exclude.any` / `exclude.all`).
    pub kyverno: Option<KyvernoMatch>,
    /// Matches every payload (Kyverno JSON mode).
    pub any_payload: bool,
}

#[derive(Debug, Clone, Default)]
pub struct KyvernoMatch {
    pub any: Vec<ResourceFilter>,
    pub all: Vec<ResourceFilter>,
    pub exclude_any: Vec<ResourceFilter>,
    pub exclude_all: Vec<ResourceFilter>,
}

/// One Kyverno `resources` filter.
#[derive(Debug, Clone, Default)]
pub struct ResourceFilter {
    pub kinds: Vec<String>,
    pub names: Vec<String>,
    pub namespaces: Vec<String>,
    pub operations: Vec<String>,
    pub selector: Option<LabelSelector>,
    pub namespace_selector: Option<LabelSelector>,
}

impl ResourceFilter {
    fn matches(&self, req: &Prepared) -> bool {
        let info = &req.info;
        self.kind_matches(info)
            && (self.names.is_empty() || self.names.iter().any(|n| wildcard(n, &info.name)))
            && (self.namespaces.is_empty()
                || self.namespaces.iter().any(|n| wildcard(n, &info.namespace)))
            && (self.operations.is_empty() || self.operations.contains(&info.operation))
            && self
                .selector
                .as_ref()
                .is_none_or(|s| s.matches(req.labels.as_ref()))
            && self
                .namespace_selector
                .as_ref()
                .is_none_or(|s| info.cluster_scoped || s.matches(req.namespace_labels.as_ref()))
    }

    /// Whether the filter's kinds take the request's kind.
    fn kind_matches(&self, info: &RequestInfo) -> bool {
        self.kinds.is_empty()
            || self.kinds.iter().any(|k| {
                let parts: Vec<&str> = k.split('/').collect();
                let (gv_ok, kind, sub) = match parts.as_slice() {
                    [kind] => (true, *kind, ""),
                    [kind, sub] if kind.chars().next().is_some_and(char::is_uppercase) => {
                        (true, *kind, *sub)
                    }
                    [v, kind] => (*v == "*" || *v == info.version, *kind, ""),
                    [g, v, kind] => (
                        (*g == "*" || *g == info.group) && (*v == "*" || *v == info.version),
                        *kind,
                        "",
                    ),
                    _ => (false, "", ""),
                };
                gv_ok && wildcard(kind, &info.kind) && (sub.is_empty() || sub == info.sub_resource)
            })
    }
}

impl Matcher {
    /// Whether a request of this type (group, version, resource, kind, operation, scope) may
    /// match, whatever its name, namespace and labels: a necessary condition of
    /// [`Matcher::matches`], the same for every request of the type.
    pub fn may_match_type(&self, info: &RequestInfo) -> bool {
        if self.any_payload {
            return true;
        }
        if let Some(k) = &self.kyverno {
            let kind_ok = |f: &ResourceFilter| f.kind_matches(info);
            return (k.any.is_empty() || k.any.iter().any(kind_ok))
                && k.all.iter().all(kind_ok)
                && !(k.any.is_empty() && k.all.is_empty());
        }
        self.rules.iter().any(|r| r.matches_type(info))
    }

    pub fn matches(&self, req: &Prepared) -> bool {
        if self.any_payload {
            return true;
        }
        if let Some(k) = &self.kyverno {
            let included = (k.any.is_empty() || k.any.iter().any(|f| f.matches(req)))
                && k.all.iter().all(|f| f.matches(req))
                && !(k.any.is_empty() && k.all.is_empty());
            let excluded = k.exclude_any.iter().any(|f| f.matches(req))
                || (!k.exclude_all.is_empty() && k.exclude_all.iter().all(|f| f.matches(req)));
            return included && !excluded;
        }
        let ns_ok = self.namespace_selector.as_ref().is_none_or(|s| {
            if req.info.kind == "Namespace" && req.info.group.is_empty() {
                s.matches(req.labels.as_ref())
            } else {
                req.info.cluster_scoped || s.matches(req.namespace_labels.as_ref())
            }
        });
        let obj_ok = self
            .object_selector
            .as_ref()
            .is_none_or(|s| s.matches(req.labels.as_ref()) || s.matches(req.old_labels.as_ref()));
        self.rules.iter().any(|r| r.matches(&req.info))
            && !self.exclude.iter().any(|r| r.matches(&req.info))
            && ns_ok
            && obj_ok
    }
}

/// A compiled CEL policy (one binding, rule or autogen variant).
#[derive(Debug)]
pub struct CelPolicy {
    pub name: String,
    pub rule: Option<String>,
    pub origin: Origin,
    pub matcher: Matcher,
    pub match_conditions: Vec<(String, Expr)>,
    pub variables: Vec<(String, Expr)>,
    pub validations: Vec<Validation>,
    pub audit_annotations: Vec<(String, Expr)>,
    /// failurePolicy Ignore: an evaluation error lets the request through.
    pub fail_open: bool,
    pub actions: Vec<Action>,
    /// The params object, already resolved (binding paramRef or Gatekeeper parameters).
    pub params: Option<Arc<Box<dyn Val>>>,
    /// Set when the policy needs params it was not given.
    pub missing_params: Option<String>,
    /// Kyverno rule severity (`policies.kyverno.io/severity`), when given.
    pub severity: Option<String>,
    /// Exceptions: a request any of whose conditions all hold is skipped.
    pub exceptions: Vec<(String, Vec<Expr>)>,
    pub mode: Mode,
    /// paramKind with a binding's paramRef: the candidate params objects.
    pub param_choice: Option<ParamChoice>,
    /// A binding's matchResources, which must match too.
    pub binding_matcher: Option<Matcher>,
}

/// What a Kyverno ValidatingPolicy evaluates: admission requests, or arbitrary payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Kubernetes,
    Json,
    Envoy,
    Http,
}

/// The params objects a binding's paramRef selects.
#[derive(Debug, Clone)]
pub struct ParamChoice {
    /// (namespace, params) of every object of the paramKind that the name or selector picks.
    pub candidates: Vec<(String, Arc<Box<dyn Val>>)>,
    /// paramRef.namespace; unset means the request's namespace for namespaced params.
    pub namespace: Option<String>,
    /// parameterNotFoundAction Deny (the default).
    pub deny_when_missing: bool,
}

/// A request's values, converted once and shared by every policy it is evaluated against.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub info: RequestInfo,
    pub labels: Option<Json>,
    pub old_labels: Option<Json>,
    pub namespace_labels: Option<Json>,
    /// The objects borrow their strings from the request's JSON (see
    /// [`crate::convert::json_to_val_borrowed`]).
    object: Box<dyn Val + 'a>,
    old_object: Box<dyn Val + 'a>,
    request: Box<dyn Val>,
    namespace_object: Box<dyn Val + 'a>,
    resource: Box<dyn Val>,
    extra: Vec<(String, Box<dyn Val>)>,
    /// The values of request-scoped variables, by expression source: the policies of a library
    /// declare the same `allContainers`, and it is evaluated once per request, not per policy.
    shared_variables: Mutex<HashMap<u64, VariableValue>>,
}

/// A variable's value, or the error that evaluating it gave.
type VariableValue = Result<Arc<Box<dyn Val>>, String>;

/// What a request carries, before conversion.
#[derive(Debug, Default, Clone)]
pub struct RequestInput<'a> {
    pub info: RequestInfo,
    pub object: Option<&'a Json>,
    pub old_object: Option<&'a Json>,
    pub namespace_object: Option<&'a Json>,
    pub user_info: Option<&'a Json>,
    pub dry_run: bool,
    /// Kyverno's `resource.get` lookups (a test's context).
    pub lookup: Option<crate::k8s_types::ResourceLookup>,
}

impl<'a> Prepared<'a> {
    pub fn new(input: &RequestInput<'a>) -> Prepared<'a> {
        let labels = |o: Option<&Json>| o.and_then(|o| o.pointer("/metadata/labels")).cloned();
        let null = || -> Box<dyn Val + 'a> { Box::new(cel::common::types::CelNull) };
        let info = &input.info;
        let request = serde_json::json!({
            "kind": {"group": info.group, "version": info.version, "kind": info.kind},
            "resource": {"group": info.group, "version": info.version, "resource": info.resource},
            "subResource": info.sub_resource,
            "requestKind": {"group": info.group, "version": info.version, "kind": info.kind},
            "requestResource": {"group": info.group, "version": info.version, "resource": info.resource},
            "name": info.name,
            "namespace": info.namespace,
            "operation": info.operation,
            "userInfo": input.user_info.cloned().unwrap_or_else(|| serde_json::json!({"username": "", "groups": []})),
            "dryRun": input.dry_run,
        });
        let resource: Box<dyn Val> = match &input.lookup {
            Some(l) => json_value_box(Value::Opaque(Arc::new(l.clone()))),
            None => json_value_box(Value::Opaque(Arc::new(
                crate::k8s_types::ResourceLookup::default(),
            ))),
        };
        Prepared {
            info: input.info.clone(),
            labels: labels(input.object),
            old_labels: labels(input.old_object),
            namespace_labels: labels(input.namespace_object),
            object: input.object.map_or_else(null, json_to_val_borrowed),
            old_object: input.old_object.map_or_else(null, json_to_val_borrowed),
            request: json_to_val(&request),
            namespace_object: input
                .namespace_object
                .map_or_else(null, json_to_val_borrowed),
            resource,
            extra: Vec::new(),
            shared_variables: Mutex::new(HashMap::new()),
        }
    }

    /// Binds another top-level variable (Kyverno's `envoy`, `http`, ...).
    pub fn bind(&mut self, name: &str, value: Value) {
        self.extra.push((name.to_string(), json_value_box(value)));
    }
}

fn json_value_box(v: Value) -> Box<dyn Val> {
    crate::convert::value_to_val(v)
}

struct Scope<'a> {
    prepared: &'a Prepared<'a>,
    params: Option<&'a dyn Val>,
    variables: &'a [(String, Arc<Box<dyn Val>>)],
}

impl VariableResolver for Scope<'_> {
    fn resolve<'b>(&'b self, name: &str) -> Option<CowVal<'b, 'b>> {
        let p = self.prepared;
        let v: &dyn Val = match name {
            "object" => p.object.as_ref(),
            "oldObject" => p.old_object.as_ref(),
            "request" => p.request.as_ref(),
            "namespaceObject" => p.namespace_object.as_ref(),
            "params" => self.params?,
            "resource" => p.resource.as_ref(),
            _ => {
                if let Some(var) = name.strip_prefix("variables.") {
                    return self
                        .variables
                        .iter()
                        .find(|(n, _)| n == var)
                        .map(|(_, v)| CowVal::Borrowed(v.as_ref().as_ref()));
                }
                return p
                    .extra
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| CowVal::Borrowed(v.as_ref()));
            }
        };
        Some(CowVal::Borrowed(v))
    }
}

/// How one policy judged one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Matched and every validation held.
    Pass,
    /// Matched and at least one validation failed.
    Fail(Vec<Violation>),
    /// Not applicable (matchConditions, exceptions) or not evaluable offline.
    Skip(String),
    /// Evaluation failed and the failure policy is Fail.
    Error(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub message: String,
    pub reason: Option<String>,
}

/// The outcome of one policy on one request.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub verdict: Verdict,
    pub audit_annotations: Vec<(String, String)>,
}

fn eval(expr: &Expr, scope: &Scope<'_>) -> Result<Value, String> {
    let mut ctx = Context::with_env(cel_lib::thread_env());
    ctx.set_variable_resolver(scope);
    expr.program.execute(&ctx).map_err(|e| e.to_string())
}

/// Evaluates a variable's expression into a value that outlives the evaluation (one deep copy,
/// not a conversion to `Value` and back).
fn eval_variable(expr: &Expr, scope: &Scope<'_>) -> VariableValue {
    let mut ctx = Context::with_env(cel_lib::thread_env());
    ctx.set_variable_resolver(scope);
    let value = Value::resolve_val(expr.program.expression(), &ctx).map_err(|e| e.to_string())?;
    crate::convert::to_static(value.as_ref())
        .map(Arc::new)
        .map_err(|e| e.to_string())
}

impl Prepared<'_> {
    /// A request-scoped variable's value, computed at its first use in this request.
    fn shared_variable(&self, id: u64, expr: &Expr, scope: &Scope<'_>) -> VariableValue {
        let cached = self
            .shared_variables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .cloned();
        if let Some(v) = cached {
            return v;
        }
        let value = eval_variable(expr, scope);
        self.shared_variables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, value.clone());
        value
    }
}

fn eval_bool(expr: &Expr, scope: &Scope<'_>) -> Result<bool, String> {
    match eval(expr, scope)? {
        Value::Bool(b) => Ok(b),
        other => Err(format!(
            "expression {:?} must evaluate to a bool, not {:?}",
            expr.source,
            other.type_of()
        )),
    }
}

impl CelPolicy {
    /// Whether requests of this type may be in this policy's scope (see
    /// [`Matcher::may_match_type`]).
    pub fn may_apply_to_type(&self, info: &RequestInfo) -> bool {
        self.matcher.may_match_type(info)
            && self
                .binding_matcher
                .as_ref()
                .is_none_or(|m| m.may_match_type(info))
    }

    /// Whether the request is in this policy's scope (matchConstraints / match).
    pub fn applies(&self, req: &Prepared) -> bool {
        self.matcher.matches(req) && self.binding_matcher.as_ref().is_none_or(|m| m.matches(req))
    }

    /// Evaluates the policy on a request it applies to, once per params object its binding
    /// selects (a failure under any of them fails the request).
    pub fn evaluate(&self, req: &Prepared) -> Evaluation {
        let Some(choice) = &self.param_choice else {
            return self.evaluate_with(req, self.params.as_ref().map(|p| p.as_ref().as_ref()));
        };
        let chosen: Vec<&Arc<Box<dyn Val>>> = choice
            .candidates
            .iter()
            .filter(|(ns, _)| match &choice.namespace {
                Some(want) => ns == want,
                None => ns.is_empty() || *ns == req.info.namespace,
            })
            .map(|(_, p)| p)
            .collect();
        if chosen.is_empty() {
            let message = "no params found for policy binding".to_string();
            return Evaluation {
                verdict: if choice.deny_when_missing {
                    Verdict::Fail(vec![Violation {
                        message: format!("{message} with Deny parameterNotFoundAction"),
                        reason: Some("Invalid".to_string()),
                    }])
                } else {
                    Verdict::Skip(format!("{message} (parameterNotFoundAction Allow)"))
                },
                audit_annotations: Vec::new(),
            };
        }
        // The verdicts under each params object, merged: an error wins, then failures (all of
        // them), then a pass; the request is skipped only when it is skipped under every one.
        let mut merged: Option<Evaluation> = None;
        for p in chosen {
            let e = self.evaluate_with(req, Some(p.as_ref().as_ref()));
            merged = Some(match merged {
                None => e,
                Some(mut m) => {
                    m.audit_annotations.extend(e.audit_annotations);
                    m.verdict = match (m.verdict, e.verdict) {
                        (Verdict::Error(x), _) | (_, Verdict::Error(x)) => Verdict::Error(x),
                        (Verdict::Fail(mut a), Verdict::Fail(b)) => {
                            a.extend(b);
                            Verdict::Fail(a)
                        }
                        (Verdict::Fail(a), _) | (_, Verdict::Fail(a)) => Verdict::Fail(a),
                        (Verdict::Pass, _) | (_, Verdict::Pass) => Verdict::Pass,
                        (skip, _) => skip,
                    };
                    m
                }
            });
        }
        merged.unwrap_or(Evaluation {
            verdict: Verdict::Pass,
            audit_annotations: Vec::new(),
        })
    }

    fn evaluate_with(&self, req: &Prepared, params: Option<&dyn Val>) -> Evaluation {
        let verdict = |v| Evaluation {
            verdict: v,
            audit_annotations: Vec::new(),
        };
        if let Some(why) = &self.missing_params {
            return verdict(self.on_error(why.clone()));
        }
        let mut scope = Scope {
            prepared: req,
            params,
            variables: &[],
        };
        if let Some(why) = self.needs_cluster() {
            return verdict(Verdict::Skip(format!("needs a live cluster: {why}")));
        }
        for (name, cond) in &self.match_conditions {
            match eval_bool(cond, &scope) {
                Ok(true) => {}
                Ok(false) => {
                    return verdict(Verdict::Skip(format!("matchCondition {name:?} is false")))
                }
                Err(e) => return verdict(self.on_error(format!("matchCondition {name:?}: {e}"))),
            }
        }
        for (name, conds) in &self.exceptions {
            if conds.iter().all(|c| eval_bool(c, &scope) == Ok(true)) {
                return verdict(Verdict::Skip(format!(
                    "excepted by PolicyException {name:?}"
                )));
            }
        }
        let mut variables: Vec<(String, Arc<Box<dyn Val>>)> =
            Vec::with_capacity(self.variables.len());
        for (name, expr) in &self.variables {
            let scope = Scope {
                prepared: req,
                params,
                variables: &variables,
            };
            let value = match expr.request_scoped {
                Some(id) => req.shared_variable(id, expr, &scope),
                None => eval_variable(expr, &scope),
            };
            if let Ok(v) = value {
                variables.push((name.clone(), v));
            }
        }
        scope.variables = &variables;
        if matches!(self.mode, Mode::Envoy | Mode::Http) {
            return verdict(self.respond(&scope));
        }
        let mut violations = Vec::new();
        for v in &self.validations {
            match eval_bool(&v.expr, &scope) {
                Ok(true) => {}
                Ok(false) => violations.push(Violation {
                    message: self.message(v, &scope),
                    reason: v.reason.clone(),
                }),
                Err(e) => {
                    let err = self.on_error(format!("expression {:?}: {e}", v.expr.source));
                    if let Verdict::Error(_) = err {
                        return verdict(err);
                    }
                }
            }
        }
        let mut audit_annotations = Vec::new();
        for (key, expr) in &self.audit_annotations {
            match eval(expr, &scope) {
                Ok(Value::String(s)) => audit_annotations.push((key.clone(), s.to_string())),
                Ok(Value::Null) => {}
                Ok(other) => audit_annotations.push((key.clone(), format!("{other:?}"))),
                Err(e) => {
                    let err = self.on_error(format!("auditAnnotation {key:?}: {e}"));
                    if let Verdict::Error(_) = err {
                        return verdict(err);
                    }
                }
            }
        }
        Evaluation {
            verdict: if violations.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail(violations)
            },
            audit_annotations,
        }
    }

    /// Envoy and HTTP authorization mode: the first validation that gives a response decides.
    fn respond(&self, scope: &Scope<'_>) -> Verdict {
        for v in &self.validations {
            match eval(&v.expr, scope) {
                Ok(Value::Null) => {}
                Ok(value) => {
                    return match crate::kyverno_lib::response_allowed(&value) {
                        Some(true) => Verdict::Pass,
                        Some(false) => Verdict::Fail(vec![Violation {
                            message: crate::kyverno_lib::response_message(&value),
                            reason: None,
                        }]),
                        None => Verdict::Error(format!(
                            "expression {:?} must give a response or null",
                            v.expr.source
                        )),
                    }
                }
                Err(e) => return self.on_error(format!("expression {:?}: {e}", v.expr.source)),
            }
        }
        Verdict::Pass
    }

    fn needs_cluster(&self) -> Option<&'static str> {
        self.match_conditions
            .iter()
            .map(|(_, e)| e)
            .chain(self.variables.iter().map(|(_, e)| e))
            .chain(self.validations.iter().map(|v| &v.expr))
            .find_map(|e| e.needs_cluster)
    }

    fn on_error(&self, message: String) -> Verdict {
        if self.fail_open {
            Verdict::Skip(format!("failurePolicy Ignore: {message}"))
        } else {
            Verdict::Error(message)
        }
    }

    fn message(&self, v: &Validation, scope: &Scope<'_>) -> String {
        if let Some(me) = &v.message_expression {
            if let Ok(Value::String(s)) = eval(me, scope) {
                let s = s.trim();
                if !s.is_empty() && !s.contains('\n') {
                    return s.to_string();
                }
            }
        }
        match &v.message {
            Some(m) if !m.trim().is_empty() => m.trim().to_string(),
            _ => format!("failed expression: {}", v.expr.source.trim()),
        }
    }
}

/// A params object as the interpreter holds it.
pub fn params_val(params: &Json) -> Arc<Box<dyn Val>> {
    Arc::new(json_to_val(params))
}

/// A JSON value as a CEL value (for bindings such as Kyverno's payload variables).
pub fn json_value(v: &Json) -> Value {
    json_to_value(v)
}
