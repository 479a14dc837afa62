//! `palisade policy test` (Gatekeeper suites and Kyverno tests on palisade's engine) and the
//! custom-policy half of `palisade audit --policy`: findings of the platform's own policies,
//! handed to the audit's reporters beside the Pod Security ones.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use palisade_core::finding::{Finding, ObjectRef};
use palisade_core::report::{ObjectReport, Outcome, Reporter, Summary};
use palisade_core::{InputError, Severity};
use palisade_policy_engine::testing::{self, Status, SuiteResult};
use palisade_policy_engine::{parse_docs, Doc, PolicySet};

use super::shared::{pretty, write_output};
use crate::cli::{PolicyTestArgs, PolicyTestFormat};
use crate::input::Input;
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

/// The custom-policy findings of every object of the audited inputs, by (file, object line).
/// Files are read and objects evaluated in parallel; the result does not depend on the order.
pub fn custom_findings(
    set: &PolicySet,
    inputs: &[Input],
) -> HashMap<(Arc<str>, u32), (ObjectRef, Vec<Finding>)> {
    use rayon::prelude::*;
    let per_input: Vec<Vec<Doc>> = inputs
        .par_iter()
        .map(|input| {
            // Unreadable or malformed files are the audit's to report, with their place.
            input
                .read()
                .ok()
                .and_then(|text| parse_docs(input.name(), &text).ok())
                .unwrap_or_default()
        })
        .collect();
    let all_docs: Vec<Doc> = per_input.into_iter().flatten().collect();
    let mut set_ns = PolicySet::default();
    set_ns.add_namespaces(&all_docs);
    let evaluated: Vec<(ObjectRef, Vec<Finding>)> = all_docs
        .par_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut info = palisade_policy_engine::request_info(&d.json, "CREATE");
            if info.namespace.is_empty() && !info.cluster_scoped {
                info.namespace = "default".to_string();
            }
            let ns_obj = set
                .namespace(&info.namespace)
                .or(set_ns.namespace(&info.namespace));
            let outcomes = set.evaluate(&palisade_policy_engine::RequestInput {
                info,
                object: Some(&d.json),
                namespace_object: ns_obj,
                ..Default::default()
            });
            let object = object_ref(d, i);
            let findings: Vec<Finding> = outcomes
                .iter()
                .flat_map(|o| finding_of(o, &object))
                .collect();
            (object, findings)
        })
        .collect();
    let mut out: HashMap<(Arc<str>, u32), (ObjectRef, Vec<Finding>)> = HashMap::new();
    for (object, findings) in evaluated {
        if !findings.is_empty() {
            out.entry((object.file.clone(), object.line))
                .or_insert_with(|| (object, Vec::new()))
                .1
                .extend(findings);
        }
    }
    out
}

fn object_ref(d: &Doc, index: usize) -> ObjectRef {
    ObjectRef {
        file: d.origin.file.clone(),
        line: d.origin.line,
        document: index + 1,
        api_version: d.api_version().to_string(),
        kind: d.kind().to_string(),
        namespace: d.namespace().to_string(),
        name: d.name().to_string(),
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
        detail: String::new(),
        message: format!("violates policy {}: {}", d.code, d.message),
        hint: d.fix.unwrap_or_default(),
    })
    .collect()
}

/// A reporter that adds custom-policy findings to the audit's object reports, and reports the
/// objects only custom policies found something in at the end.
pub struct WithCustom {
    pub inner: Box<dyn Reporter>,
    pub pending: HashMap<(Arc<str>, u32), (ObjectRef, Vec<Finding>)>,
    /// The custom findings' severities, for the summary and the exit code.
    pub extra: Vec<Severity>,
    /// Findings added to reports the audit counted already, and how many of them had passed.
    merged: Vec<Severity>,
    turned: usize,
}

impl WithCustom {
    pub fn new(
        inner: Box<dyn Reporter>,
        pending: HashMap<(Arc<str>, u32), (ObjectRef, Vec<Finding>)>,
    ) -> Self {
        WithCustom {
            inner,
            pending,
            extra: Vec::new(),
            merged: Vec::new(),
            turned: 0,
        }
    }
}

impl Reporter for WithCustom {
    fn object(&mut self, report: &ObjectReport) -> std::io::Result<()> {
        let key = (report.object.file.clone(), report.object.line);
        match self.pending.remove(&key) {
            Some((_, findings)) => {
                let mut report = report.clone();
                self.extra.extend(findings.iter().map(|f| f.severity));
                self.merged.extend(findings.iter().map(|f| f.severity));
                report.findings.extend(findings);
                if report.outcome == Outcome::Pass {
                    self.turned += 1;
                }
                report.outcome = Outcome::Violations;
                self.inner.object(&report)
            }
            None => self.inner.object(report),
        }
    }

    fn error(&mut self, error: &InputError) -> std::io::Result<()> {
        self.inner.error(error)
    }

    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        let mut rest: Vec<_> = self.pending.drain().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        let mut summary = summary.clone();
        summary.passed -= self.turned.min(summary.passed);
        summary.violating += self.turned;
        for s in &self.merged {
            summary.findings += 1;
            *summary.findings_by_severity.entry(*s).or_default() += 1;
        }
        for (_, (object, findings)) in rest {
            self.extra.extend(findings.iter().map(|f| f.severity));
            let report = ObjectReport {
                object,
                policy: "custom".to_string(),
                outcome: Outcome::Violations,
                findings,
            };
            summary.record(&report);
            self.inner.object(&report)?;
        }
        self.inner.finish(&summary)
    }
}
