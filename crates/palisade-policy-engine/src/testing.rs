//! The policy test runner: Gatekeeper `suite.yaml` (gator verify's `test.gatekeeper.sh` Suite)
//! and Kyverno `kyverno-test.yaml` (`cli.kyverno.io` Test) files, run on this crate's engine.
//! Files are read through the caller's callback, so the runner itself does no I/O.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value as Json;

use crate::cel_policy::RequestInput;
use crate::load::{parse_docs, Doc};
use crate::{request_info, Outcome, PolicySet, Verdict};

/// Reads a file for the runner.
pub type Reader<'a> = &'a dyn Fn(&Path) -> Result<String, String>;

/// How one expectation came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Error,
    Skipped,
}

/// One expectation of a test file and its result.
#[derive(Debug, Clone, Serialize)]
pub struct ExpectationResult {
    /// `test/case` (gator) or `test/policy[/rule]/kind/resource` (Kyverno).
    pub name: String,
    pub expected: String,
    pub actual: String,
    pub status: Status,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One test file's results.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteResult {
    pub file: String,
    pub format: &'static str,
    pub expectations: Vec<ExpectationResult>,
    /// Set when the suite could not be read or its policies not compiled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Summary {
    pub fn add(&mut self, suite: &SuiteResult) {
        if suite.error.is_some() {
            self.errors += 1;
        }
        for e in &suite.expectations {
            match e.status {
                Status::Passed => self.passed += 1,
                Status::Failed => self.failed += 1,
                Status::Error => self.errors += 1,
                Status::Skipped => self.skipped += 1,
            }
        }
    }
}

/// Whether a file name is one the runner reads.
pub fn is_test_file(path: &Path) -> bool {
    matches!(
        path.file_name().and_then(|n| n.to_str()),
        Some("suite.yaml" | "kyverno-test.yaml" | "kyverno-test.yml")
    )
}

fn read_docs(path: &Path, read: Reader<'_>) -> Result<Vec<Doc>, String> {
    let text = read(path)?;
    let file: Arc<str> = Arc::from(path.display().to_string());
    parse_docs(&file, &text).map_err(|e| e.to_string())
}

fn resolve(base: &Path, rel: &str) -> PathBuf {
    base.join(rel.trim())
}

/// Runs one test file.
pub fn run_file(path: &Path, read: Reader<'_>) -> SuiteResult {
    let mut result = SuiteResult {
        file: path.display().to_string(),
        format: "unknown",
        expectations: Vec::new(),
        error: None,
    };
    let docs = match read_docs(path, read) {
        Ok(d) => d,
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    for doc in &docs {
        let outcome = match (doc.group(), doc.kind()) {
            ("test.gatekeeper.sh", "Suite") => {
                result.format = "gator";
                gator_suite(doc, base, read)
            }
            ("cli.kyverno.io", "Test") => {
                result.format = "kyverno";
                kyverno_test(doc, base, read)
            }
            _ => Err(format!(
                "{}: not a gator Suite or Kyverno Test ({}/{})",
                path.display(),
                doc.api_version(),
                doc.kind()
            )),
        };
        match outcome {
            Ok(mut e) => result.expectations.append(&mut e),
            Err(e) => {
                result.error = Some(e);
                return result;
            }
        }
    }
    result
}

fn compile(docs: &[Doc]) -> Result<PolicySet, String> {
    let (set, errors) = PolicySet::compile(docs);
    match errors.first() {
        Some(_) => Err(errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")),
        None => Ok(set),
    }
}

fn unresolved(outcomes: &[Outcome]) -> Option<String> {
    outcomes.iter().find_map(|o| match &o.evaluation.verdict {
        Verdict::Skip(why) if why.starts_with("needs a live cluster") => Some(why.clone()),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------------
// gator

fn gator_suite(
    suite: &Doc,
    base: &Path,
    read: Reader<'_>,
) -> Result<Vec<ExpectationResult>, String> {
    let mut out = Vec::new();
    for test in suite
        .json
        .get("tests")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        let tname = test.get("name").and_then(Json::as_str).unwrap_or("test");
        let mut policy_docs = Vec::new();
        for key in ["template", "constraint"] {
            if let Some(p) = test.get(key).and_then(Json::as_str) {
                policy_docs.extend(read_docs(&resolve(base, p), read)?);
            }
        }
        // Compile once without inventory, so that a broken template is an error of the suite.
        compile(&policy_docs)?;
        for case in test
            .get("cases")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let cname = case.get("name").and_then(Json::as_str).unwrap_or("case");
            out.extend(gator_case(
                &policy_docs,
                case,
                base,
                read,
                &format!("{tname}/{cname}"),
            )?);
        }
    }
    Ok(out)
}

fn gator_case(
    policy_docs: &[Doc],
    case: &Json,
    base: &Path,
    read: Reader<'_>,
    name: &str,
) -> Result<Vec<ExpectationResult>, String> {
    let mut docs = policy_docs.to_vec();
    for inv in case
        .get("inventory")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(p) = inv.as_str() {
            docs.extend(read_docs(&resolve(base, p), read)?);
        }
    }
    let set = compile(&docs)?;
    let objects = match case.get("object").and_then(Json::as_str) {
        Some(p) => read_docs(&resolve(base, p), read)?,
        None => Vec::new(),
    };
    let mut messages: Vec<String> = Vec::new();
    let mut skipped = None;
    for o in &objects {
        // gator reviews a namespaced object that names no namespace in `default`, as kubectl
        // would create it.
        let mut info = request_info(&o.json, "CREATE");
        if info.namespace.is_empty() && !info.cluster_scoped {
            info.namespace = "default".to_string();
        }
        let outcomes = set.evaluate(&RequestInput {
            info,
            object: Some(&o.json),
            ..Default::default()
        });
        skipped = skipped.or(unresolved(&outcomes));
        for oc in outcomes {
            match oc.evaluation.verdict {
                Verdict::Fail(vs) => messages.extend(vs.into_iter().map(|v| v.message)),
                Verdict::Error(e) => return Err(format!("{name}: {e}")),
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for (i, a) in case
        .get("assertions")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let re = match a.get("message").and_then(Json::as_str) {
            Some(m) => {
                Some(regex::Regex::new(m).map_err(|e| format!("{name}: message regex: {e}"))?)
            }
            None => None,
        };
        let count = messages
            .iter()
            .filter(|m| re.as_ref().is_none_or(|r| r.is_match(m)))
            .count();
        let expected = match a.get("violations") {
            None => "yes".to_string(),
            Some(Json::String(s)) => s.clone(),
            Some(Json::Bool(b)) => if *b { "yes" } else { "no" }.to_string(),
            Some(Json::Number(n)) => n.to_string(),
            Some(other) => other.to_string(),
        };
        let holds = match expected.as_str() {
            "yes" => count > 0,
            "no" => count == 0,
            n => n.parse::<usize>().is_ok_and(|n| n == count),
        };
        let status = match (&skipped, holds) {
            (Some(_), _) => Status::Skipped,
            (None, true) => Status::Passed,
            (None, false) => Status::Failed,
        };
        out.push(ExpectationResult {
            name: format!("{name}#{}", i + 1),
            expected: format!(
                "violations: {expected}{}",
                re.as_ref()
                    .map(|r| format!(" matching {:?}", r.as_str()))
                    .unwrap_or_default()
            ),
            actual: format!("{count} violation(s)"),
            status,
            detail: skipped.clone().unwrap_or_else(|| {
                if holds {
                    String::new()
                } else {
                    messages.join(" | ")
                }
            }),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Kyverno

fn paths(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(a)) => a
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

struct KyvernoResult<'a> {
    doc: &'a Doc,
    /// The payload file's name, for payloads named by file in results.
    file: String,
    operation: String,
    outcomes: Vec<Outcome>,
}

fn kyverno_test(
    test: &Doc,
    base: &Path,
    read: Reader<'_>,
) -> Result<Vec<ExpectationResult>, String> {
    let t = &test.json;
    let tname = test.name();
    let load = |key: &str| -> Result<Vec<Doc>, String> {
        let mut docs = Vec::new();
        for p in paths(t.get(key)) {
            docs.extend(read_docs(&resolve(base, &p), read)?);
        }
        Ok(docs)
    };
    let mut policy_docs = load("policies")?;
    policy_docs.extend(load("exceptions")?);
    let values = load("variables")?;
    let mut namespaces = Vec::new();
    for v in &values {
        for ns in v
            .json
            .get("namespaces")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let mut ns = ns.clone();
            ns["kind"] = Json::String("Namespace".into());
            namespaces.push(Doc {
                json: ns,
                origin: v.origin.clone(),
            });
        }
        for sel in v
            .json
            .get("namespaceSelector")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let name = sel.get("name").and_then(Json::as_str).unwrap_or_default();
            namespaces.push(Doc {
                json: serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "labels": sel.get("labels").cloned().unwrap_or(Json::Null)}}),
                origin: v.origin.clone(),
            });
        }
    }
    let mut all = policy_docs.clone();
    all.extend(namespaces);
    let mut set = compile(&all)?;
    let context: Vec<Json> = load("context")?
        .iter()
        .flat_map(|c| {
            c.json
                .pointer("/spec/resources")
                .and_then(Json::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    set.set_lookup(&context);
    let default_op = t
        .get("operation")
        .and_then(Json::as_str)
        .unwrap_or("CREATE")
        .to_uppercase();
    let mut operations = vec![default_op.clone()];
    for r in t
        .get("results")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(op) = r.get("operation").and_then(Json::as_str) {
            if !operations.contains(&op.to_uppercase()) {
                operations.push(op.to_uppercase());
            }
        }
    }
    let resources = load("resources")?;
    let mut results: Vec<KyvernoResult<'_>> = Vec::new();
    for operation in &operations {
        for r in &resources {
            results.push(kyverno_evaluate(&set, r, operation));
        }
    }
    let mut payloads = Vec::new();
    for key in ["jsonPayloads", "envoyPayloads", "httpPayloads"] {
        payloads.extend(load(key)?);
    }
    for p in &payloads {
        let outcomes = set.evaluate(&RequestInput {
            object: Some(&p.json),
            ..Default::default()
        });
        let file = Path::new(&*p.origin.file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        results.push(KyvernoResult {
            doc: p,
            file,
            operation: default_op.clone(),
            outcomes,
        });
    }
    let mut out = Vec::new();
    for exp in t
        .get("results")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        out.extend(kyverno_expectation(tname, exp, &results));
    }
    Ok(out)
}

/// Evaluates a test resource as the Kyverno CLI does: a namespaced object that names no
/// namespace is in `default`, and its namespace object is the one the values give, else a bare
/// Namespace of that name.
fn kyverno_evaluate<'a>(set: &PolicySet, r: &'a Doc, operation: &str) -> KyvernoResult<'a> {
    let mut info = request_info(&r.json, operation);
    let mut object = r.json.clone();
    if info.namespace.is_empty() && !info.cluster_scoped {
        info.namespace = "default".to_string();
        if let Some(meta) = object.get_mut("metadata").and_then(Json::as_object_mut) {
            meta.insert("namespace".into(), Json::String("default".into()));
        }
    }
    let bare_ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": info.namespace}});
    let namespace_object = if info.cluster_scoped {
        None
    } else {
        Some(set.namespace(&info.namespace).unwrap_or(&bare_ns))
    };
    let (obj, old) = if operation == "DELETE" {
        (None, Some(&object))
    } else {
        (Some(&object), None)
    };
    let outcomes = set.evaluate(&RequestInput {
        info,
        object: obj,
        old_object: old,
        namespace_object,
        ..Default::default()
    });
    KyvernoResult {
        doc: r,
        file: String::new(),
        operation: operation.to_string(),
        outcomes,
    }
}

fn strip_autogen(rule: &str) -> &str {
    rule.strip_prefix("autogen-cronjob-")
        .or_else(|| rule.strip_prefix("autogen-"))
        .unwrap_or(rule)
}

fn kyverno_expectation(
    tname: &str,
    exp: &Json,
    results: &[KyvernoResult<'_>],
) -> Vec<ExpectationResult> {
    let s = |k: &str| {
        exp.get(k)
            .and_then(Json::as_str)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let (policy, rule, kind, expected) = (s("policy"), s("rule"), s("kind"), s("result"));
    let operation = exp
        .get("operation")
        .and_then(Json::as_str)
        .map(str::to_uppercase);
    let mut names = paths(exp.get("resources"));
    if let Some(r) = exp.get("resource").and_then(Json::as_str) {
        names.push(r.to_string());
    }
    let payload_mode = names.is_empty();
    let targets: Vec<Option<String>> = if payload_mode {
        vec![None]
    } else {
        names.into_iter().map(Some).collect()
    };
    targets
        .into_iter()
        .map(|target| {
            let mut verdicts: Vec<&Verdict> = Vec::new();
            let mut found = false;
            for r in results {
                if operation.as_ref().is_some_and(|op| *op != r.operation)
                    || (operation.is_none()
                        && results.first().is_some_and(|f| f.operation != r.operation))
                {
                    continue;
                }
                if let Some(t) = &target {
                    if !r.file.is_empty() {
                        if r.file != *t {
                            continue;
                        }
                        found = true;
                    } else {
                        let (ns, name) =
                            t.rsplit_once('/').map_or(("", t.as_str()), |(a, b)| (a, b));
                        let doc_ns = r.doc.namespace();
                        if r.doc.name() != name
                            || (!kind.is_empty() && r.doc.kind() != kind)
                            || (!ns.is_empty() && doc_ns != ns)
                        {
                            continue;
                        }
                        found = true;
                    }
                } else if !r.doc.kind().is_empty()
                    && !r.doc.api_version().is_empty()
                    && !kind.is_empty()
                    && r.doc.kind() != kind
                {
                    continue;
                }
                for o in &r.outcomes {
                    let rule_ok = rule.is_empty()
                        || o.rule.as_deref().map(strip_autogen) == Some(rule.as_str());
                    if o.policy == policy && rule_ok {
                        verdicts.push(&o.evaluation.verdict);
                    }
                }
            }
            let actual = if verdicts.iter().any(|v| matches!(v, Verdict::Error(_))) {
                "error"
            } else if verdicts.iter().any(|v| matches!(v, Verdict::Fail(_))) {
                "fail"
            } else if verdicts.iter().any(|v| matches!(v, Verdict::Pass)) {
                "pass"
            } else if verdicts
                .iter()
                .any(|v| matches!(v, Verdict::Skip(w) if w.starts_with("needs a live cluster")))
            {
                "unresolved"
            } else if verdicts.is_empty() {
                "no result"
            } else {
                "skip"
            };
            let detail = verdicts
                .iter()
                .filter_map(|v| match v {
                    Verdict::Fail(vs) => Some(
                        vs.iter()
                            .map(|v| v.message.clone())
                            .collect::<Vec<_>>()
                            .join(" | "),
                    ),
                    Verdict::Error(e) | Verdict::Skip(e) => Some(e.clone()),
                    Verdict::Pass => None,
                })
                .collect::<Vec<_>>()
                .join("; ");
            let status = if actual == "unresolved" {
                Status::Skipped
            } else if actual == expected {
                Status::Passed
            } else {
                Status::Failed
            };
            let mut name = format!("{tname}/{policy}");
            if !rule.is_empty() {
                name.push('/');
                name.push_str(&rule);
            }
            if !kind.is_empty() {
                name.push('/');
                name.push_str(&kind);
            }
            if let Some(t) = &target {
                name.push('/');
                name.push_str(t);
            }
            ExpectationResult {
                name,
                expected: expected.clone(),
                actual: if !found && target.is_some() {
                    "resource not found".to_string()
                } else {
                    actual.to_string()
                },
                status: if !found && target.is_some() {
                    Status::Failed
                } else {
                    status
                },
                detail,
            }
        })
        .collect()
}
