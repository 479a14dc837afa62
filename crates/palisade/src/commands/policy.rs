//! `palisade policy test` (Gatekeeper suites and Kyverno tests on palisade's engine) and the
//! custom-policy half of `palisade audit --policy`: findings of the platform's own policies,
//! handed to the audit's reporters beside the Pod Security ones.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use palisade_core::finding::{Finding, ObjectRef};
use palisade_policy_engine::testing::{self, Status, SuiteResult};
use palisade_policy_engine::{parse_docs, Doc, PolicySet};

use super::shared::{pretty, write_output};
use crate::cli::{PolicyTestArgs, PolicyTestFormat};
use crate::{EXIT_ERROR, EXIT_FINDINGS};

/// Every test file under the paths (a path may be a test file itself), in a stable order.
fn test_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_file() {
            files.push(p.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = walkdir::WalkDir::new(p)
            .follow_links(false)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && testing::is_test_file(e.path()))
            .map(walkdir::DirEntry::into_path)
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// `palisade policy test PATH...`.
pub fn test(args: PolicyTestArgs) -> anyhow::Result<ExitCode> {
    let files = test_files(&args.paths);
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let missing: Vec<&PathBuf> = args.paths.iter().filter(|p| !p.exists()).collect();
    let mut suites: Vec<SuiteResult> = missing
        .iter()
        .map(|p| SuiteResult {
            file: p.display().to_string(),
            format: "unknown",
            expectations: Vec::new(),
            error: Some(format!("{}: no such file or directory", p.display())),
        })
        .collect();
    suites.extend(files.iter().map(|f| testing::run_file(f, &read)));
    let mut summary = testing::Summary::default();
    for s in &suites {
        summary.add(s);
    }
    let text = match args.format {
        PolicyTestFormat::Json => pretty(&serde_json::json!({
            "suites": suites,
            "summary": summary,
        }))?,
        PolicyTestFormat::Table => table(&suites, &summary),
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(
        if suites.iter().any(|s| s.error.is_some()) || summary.errors > 0 {
            ExitCode::from(EXIT_ERROR)
        } else if summary.failed > 0 {
            ExitCode::from(EXIT_FINDINGS)
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn table(suites: &[SuiteResult], summary: &testing::Summary) -> String {
    let mut out = String::new();
    for s in suites {
        if let Some(e) = &s.error {
            out.push_str(&format!("ERROR    {}: {e}\n", s.file));
        }
        for e in &s.expectations {
            let tag = match e.status {
                Status::Passed => continue,
                Status::Failed => "FAIL",
                Status::Error => "ERROR",
                Status::Skipped => "SKIP",
            };
            out.push_str(&format!(
                "{tag:<8} {}  {}\n         expected {}, got {}{}\n",
                s.file,
                e.name,
                e.expected,
                e.actual,
                if e.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.detail)
                }
            ));
        }
    }
    out.push_str(&format!(
        "{} test files: {} passed, {} failed, {} errors, {} skipped\n",
        suites.len(),
        summary.passed,
        summary.failed,
        summary.errors,
        summary.skipped
    ));
    out
}

/// Reads and compiles the policies under `paths` (files or directories of .yaml, .yml, .json).
/// Any policy that does not parse or compile is an error naming its file, line and expression.
pub fn load_policies(paths: &[PathBuf]) -> anyhow::Result<PolicySet> {
    let (inputs, errors) = crate::input::collect(paths);
    if let Some(e) = errors.first() {
        anyhow::bail!("policy {e}");
    }
    let mut docs: Vec<Doc> = Vec::new();
    for input in &inputs {
        let text = input.read().map_err(|e| anyhow::anyhow!("policy {e}"))?;
        docs.extend(parse_docs(input.name(), &text).map_err(|e| anyhow::anyhow!("policy {e}"))?);
    }
    let (set, errors) = PolicySet::compile(&docs);
    if !errors.is_empty() {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("invalid policy:\n  {}", all.join("\n  "));
    }
    Ok(set)
}

/// The platform's own policies as checks of the audit's one pass over the inputs: each object
/// is evaluated as if it were being created, in its namespace (`default` when it names none).
pub struct CustomPolicies {
    pub set: PolicySet,
}

impl palisade_policy::ObjectChecks for CustomPolicies {
    fn check(
        &self,
        object: &palisade_core::Object,
        namespace: Option<&palisade_core::Object>,
    ) -> Vec<Finding> {
        let json = object.node.to_json();
        let mut info = palisade_policy_engine::request_info(&json, "CREATE");
        if info.namespace.is_empty() && !info.cluster_scoped {
            info.namespace = "default".to_string();
        }
        let namespace_name = info.namespace.clone();
        let namespace_json = namespace.map(|n| n.node.to_json());
        let outcomes = self.set.evaluate(&palisade_policy_engine::RequestInput {
            info,
            object: Some(&json),
            namespace_object: self
                .set
                .namespace(&namespace_name)
                .or(namespace_json.as_ref()),
            ..Default::default()
        });
        let object_ref = ObjectRef::from_object(object);
        outcomes
            .iter()
            .flat_map(|o| finding_of(o, &object_ref))
            .collect()
    }
}

fn finding_of(o: &palisade_policy_engine::Outcome, object: &ObjectRef) -> Vec<Finding> {
    let name = format!("{}/{}", object.kind, object.name);
    o.diagnostics(
        &palisade_policy_engine::Origin {
            file: object.file.clone(),
            line: object.line,
        },
        &name,
    )
    .into_iter()
    .map(|d| Finding {
        rule_id: d.code.clone(),
        check: d.code.clone(),
        severity: d.severity,
        object: object.clone(),
        line: object.line,
        component: None,
        container: None,
        field: String::new(),
        level: "custom".to_string(),
        version: String::new(),
        reason: d.message.clone(),
        detail: format!("policy {} at {}:{}", o.policy, o.origin.file, o.origin.line),
        message: format!("violates policy {}: {}", d.code, d.message),
        hint: format!(
            "change the object so that policy {} holds (its message says what it requires), or ask the policy's owners for an exception",
            o.policy
        ),
    })
    .collect()
}
