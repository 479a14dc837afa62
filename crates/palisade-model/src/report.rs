//! Model-scan reports: a table grouped by file, JSON, and SARIF 2.1.0.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use palisade_diagnostics::sarif;
use serde_json::json;

use crate::finding::{Finding, Severity};

/// A scanned file and what it was recognised as.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScannedFile {
    pub path: String,
    pub format: String,
}

/// The table: one block per file with findings, then a summary line. Files whose only finding is
/// that they are no model format (configs, READMEs, tokenizers beside the weights) are counted in
/// the summary instead of a block each: they carry nothing to act on, and a directory of them
/// would bury the findings that matter (the JSON and SARIF reports still list each).
pub fn table(files: &[ScannedFile], findings: &[Finding]) -> String {
    let mut out = String::new();
    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_file.entry(f.location.file.as_str()).or_default().push(f);
    }
    let mut not_models = 0;
    let mut flagged = 0;
    for file in files {
        let Some(list) = by_file.get(file.path.as_str()) else {
            continue;
        };
        if list
            .iter()
            .all(|f| f.severity == Severity::Info && f.rule == "model/unrecognised")
        {
            not_models += 1;
            continue;
        }
        flagged += 1;
        let _ = writeln!(out, "{}  ({})", file.path, file.format);
        for f in list {
            let inner = if f.location.members.is_empty() {
                String::new()
            } else {
                format!("{} ", f.location.members.join(" > "))
            };
            let global = f
                .global
                .as_deref()
                .map(|g| format!(" {g}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<11}{:<24} {inner}@{}{global}: {}",
                f.severity.to_string().to_uppercase(),
                f.rule,
                f.location.offset,
                f.message
            );
        }
        let _ = writeln!(out);
    }
    let count = |s: Severity| {
        findings
            .iter()
            .filter(|f| f.severity == s && !(s == Severity::Info && f.rule == "model/unrecognised"))
            .count()
    };
    let not_models = if not_models == 0 {
        String::new()
    } else {
        format!(
            "; {} in no model format (nothing in {} runs on load)",
            palisade_diagnostics::count(not_models, "file", "files"),
            if not_models == 1 { "it" } else { "them" }
        )
    };
    let _ = writeln!(
        out,
        "{} scanned, {flagged} with findings: {} dangerous, {} suspicious, {} info{not_models}.",
        palisade_diagnostics::count(files.len(), "file", "files"),
        count(Severity::Dangerous),
        count(Severity::Suspicious),
        count(Severity::Info)
    );
    out
}

/// JSON: the files, the findings, a summary.
pub fn json(files: &[ScannedFile], findings: &[Finding]) -> serde_json::Value {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    json!({
        "schemaVersion": 1,
        "files": files,
        "findings": findings,
        "summary": {
            "files": files.len(),
            "dangerous": count(Severity::Dangerous),
            "suspicious": count(Severity::Suspicious),
            "info": count(Severity::Info),
        },
    })
}

/// SARIF 2.1.0: one rule per finding kind; members inside archives in the message and as a
/// logical location.
pub fn sarif(findings: &[Finding], tool_version: &str) -> serde_json::Value {
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    let rule_objects: Vec<serde_json::Value> = rules
        .iter()
        .map(|r| match crate::rules::TABLE.get(r) {
            Some(rule) => sarif::table_rule(rule, &["security", "model"]),
            // Every code is in the table (its test says so); this is only a fallback.
            None => sarif::rule(r, "A model-artifact finding.", &["security", "model"]),
        })
        .collect();
    let results: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| sarif::result(&f.diagnostic(), rules.iter().position(|r| *r == f.rule)))
        .collect();
    sarif::document(
        sarif::driver(tool_version, false, sarif::TOOL_URI, rule_objects),
        None,
        results,
    )
}
