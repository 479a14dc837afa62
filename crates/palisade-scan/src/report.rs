//! Vulnerability reports: a table grouped by package with upgrade advice, JSON, SARIF 2.1.0, and
//! CycloneDX with vulnerabilities (see [`crate::sbom`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use palisade_diagnostics::sarif;
use serde_json::json;

use palisade_core::report::count;
use palisade_image::inventory::Kind;
use palisade_vuln::severity::Severity;
use palisade_vuln::version::Ecosystem;

use crate::scan::{ScanReport, VulnFinding};

fn order_of(kind: Kind) -> Ecosystem {
    match kind {
        Kind::Python => Ecosystem::from_osv("PyPI"),
        Kind::Deb => Ecosystem::from_osv("Debian"),
        Kind::Apk => Ecosystem::from_osv("Alpine"),
        Kind::Rpm => Ecosystem::from_osv("Red Hat"),
        Kind::Cargo => Ecosystem::from_osv("crates.io"),
    }
}

/// The upgrade that fixes the most of a package's findings: the highest fixed version among them
/// (a version that fixes a later advisory also carries the earlier fixes, within one line of
/// releases), and how many it fixes.
pub fn advice(findings: &[&VulnFinding]) -> Option<(String, usize, usize)> {
    let first = findings.first()?;
    let order = order_of(first.kind);
    let target = findings
        .iter()
        .filter_map(|f| f.fixed.as_deref())
        .max_by(|a, b| order.compare(a, b))?
        .to_owned();
    let fixed = findings
        .iter()
        .filter(|f| {
            f.fixed
                .as_deref()
                .is_some_and(|v| order.compare(v, &target) != Ordering::Greater)
        })
        .count();
    Some((target, fixed, findings.len() - fixed))
}

fn counts(findings: &[VulnFinding]) -> String {
    let mut by: BTreeMap<std::cmp::Reverse<Severity>, usize> = BTreeMap::new();
    for f in findings {
        *by.entry(std::cmp::Reverse(f.severity)).or_default() += 1;
    }
    by.iter()
        .map(|(s, n)| format!("{n} {}", s.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table: one block per package, most severe first, each with its upgrade advice.
pub fn table(report: &ScanReport) -> String {
    let mut out = String::new();
    let os = report
        .os
        .as_ref()
        .map(|o| {
            if o.pretty_name.is_empty() {
                format!("{} {}", o.id, o.version_id)
            } else {
                o.pretty_name.clone()
            }
        })
        .unwrap_or_else(|| "unknown OS".into());
    let _ = writeln!(out, "{}", report.target);
    if let Some(digest) = &report.digest {
        let _ = writeln!(out, "  digest   {digest}");
    }
    let _ = writeln!(out, "  os       {os}");
    let _ = writeln!(out, "  packages {}", report.packages);
    if let Some(db) = &report.database {
        let _ = writeln!(
            out,
            "  database {} advisories, built {}",
            db.advisories, db.built
        );
    }
    let _ = writeln!(out);
    let mut packages: Vec<(String, Vec<&VulnFinding>)> = Vec::new();
    for finding in &report.findings {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            finding.package, finding.version, finding.location
        );
        match packages.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(finding),
            None => packages.push((key, vec![finding])),
        }
    }
    for (_, findings) in &packages {
        let first = findings[0];
        let _ = writeln!(
            out,
            "{} {}  ({})",
            first.package, first.version, first.location
        );
        for f in findings {
            let alias = f
                .aliases
                .iter()
                .find(|a| a.starts_with("CVE-"))
                .or(f.aliases.first())
                .map(String::as_str)
                .unwrap_or("");
            let fixed = f
                .fixed
                .as_deref()
                .map(|v| format!("fixed in {v}"))
                .unwrap_or_else(|| "no fix yet".into());
            let score = f.score.map(|s| format!(" {s:.1}")).unwrap_or_default();
            let summary: String = f
                .summary
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(70)
                .collect();
            let _ = writeln!(
                out,
                "  {:<9}{:<5} {:<20} {:<16} {:<18} {}",
                f.severity.to_string().to_uppercase(),
                score,
                f.id,
                alias,
                fixed,
                summary
            );
        }
        match advice(findings) {
            Some((target, fixed, open)) => {
                let what = match (fixed, open) {
                    (1, 0) => "fixes it".to_string(),
                    (_, 0) => format!("fixes all {fixed}"),
                    _ => format!("fixes {fixed} of {}", fixed + open),
                };
                let _ = writeln!(
                    out,
                    "  -> upgrade {} {} -> {target}: {what}",
                    first.package, first.version
                );
            }
            None => {
                let _ = writeln!(out, "  -> no fixed version published yet");
            }
        }
        let _ = writeln!(out);
    }
    if !report.models.is_empty() {
        let _ = writeln!(out, "Model files");
        for m in &report.models {
            let member = if m.members.is_empty() {
                String::new()
            } else {
                format!(" > {}", m.members.join(" > "))
            };
            let global = m
                .global
                .as_deref()
                .map(|g| format!(" {g}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<11}{}{member} @{}{global}: {}",
                m.severity.to_uppercase(),
                m.path,
                m.offset,
                m.message
            );
        }
        let _ = writeln!(out);
    }
    if !report.image_config.is_empty() {
        let _ = writeln!(out, "Image configuration");
        for f in &report.image_config {
            let _ = writeln!(
                out,
                "  {:<9}{} {}: {}",
                f.severity.to_string().to_uppercase(),
                f.rule,
                f.field,
                f.message
            );
            let _ = writeln!(out, "  -> {}", f.fix);
        }
        let _ = writeln!(out);
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "No vulnerabilities found.");
    } else {
        let _ = writeln!(
            out,
            "{} ({}) in {}.",
            count(report.findings.len(), "vulnerability", "vulnerabilities"),
            counts(&report.findings),
            count(packages.len(), "package", "packages")
        );
    }
    if report.model_scan.is_some() || !report.models.is_empty() {
        let files_with = |severity: palisade_model::Severity| {
            let mut paths: Vec<&str> = report
                .models
                .iter()
                .filter(|m| m.rating() == severity)
                .map(|m| m.path.as_str())
                .collect();
            paths.sort_unstable();
            paths.dedup();
            paths.len()
        };
        let (dangerous, suspicious) = (
            files_with(palisade_model::Severity::Dangerous),
            files_with(palisade_model::Severity::Suspicious),
        );
        if dangerous + suspicious == 0 {
            let _ = writeln!(out, "No dangerous or suspicious model files found.");
        } else {
            let _ = writeln!(
                out,
                "{} dangerous, {} suspicious.",
                count(dangerous, "model file", "model files"),
                suspicious
            );
        }
    }
    if !report.ignored.is_empty() {
        let _ = writeln!(
            out,
            "{} ignored by the ignore file:",
            count(report.ignored.len(), "finding", "findings")
        );
        for i in &report.ignored {
            let _ = writeln!(
                out,
                "  {} in {} {} (until {}: {})",
                i.finding.id, i.finding.package, i.finding.version, i.expires, i.reason
            );
        }
    }
    for stale in &report.stale_ignores {
        let _ = writeln!(
            out,
            "warning: ignore rule {} (line {}): {}",
            stale.id, stale.line, stale.problem
        );
    }
    for ecosystem in &report.uncovered_ecosystems {
        let _ = writeln!(out, "warning: the database has no advisories for {ecosystem}; those packages were not checked");
    }
    for error in &report.inventory_errors {
        let _ = writeln!(out, "warning: unreadable package record: {error}");
    }
    out
}

/// The report as JSON (schema in docs/output.md).
pub fn json(report: &ScanReport) -> serde_json::Value {
    let mut value = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("schemaVersion".into(), json!(1));
    }
    value
}

/// SARIF 2.1.0: one rule per advisory, one result per affected package.
pub fn sarif(report: &ScanReport, tool_version: &str) -> serde_json::Value {
    let mut rules: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    for f in &report.findings {
        rules.entry(&f.id).or_insert_with(|| {
            let mut rule = json!({
                "id": f.id,
                "shortDescription": {"text": f.summary.clone().unwrap_or_else(|| f.id.clone())},
                "properties": {
                    "tags": ["security", "vulnerability", f.severity.to_string()],
                    "security-severity": sarif::security_severity_text(
                        f.score.unwrap_or_else(|| sarif::security_severity(f.severity.into())),
                    ),
                },
            });
            if let Some(url) = &f.url {
                rule["helpUri"] = json!(url);
            }
            rule
        });
    }
    let rule_ids: Vec<&str> = rules.keys().copied().collect();
    let mut results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| sarif::result(&f.diagnostic(), rule_ids.iter().position(|r| *r == f.id)))
        .collect();
    let mut rules: Vec<serde_json::Value> = rules.into_values().collect();
    for m in &report.models {
        if !rules.iter().any(|r| r["id"] == m.rule.as_str()) {
            rules.push(sarif::rule(
                &m.rule,
                "Model file finding",
                &["security", "model"],
            ));
        }
        results.push(sarif::result(&m.diagnostic(), None));
    }
    for f in &report.image_config {
        if !rules.iter().any(|r| r["id"] == f.rule.as_str()) {
            rules.push(sarif::rule(
                &f.rule,
                "Image configuration finding",
                &["security", "image-config"],
            ));
        }
        results.push(sarif::result(&f.diagnostic(&report.target), None));
    }
    let automation = format!("palisade/scan-image/{}", report.target);
    sarif::document(
        sarif::driver(tool_version, false, sarif::TOOL_URI, rules),
        Some(&automation),
        results,
    )
}

/// The findings as CycloneDX vulnerabilities (ignored ones carry their reason as an analysis).
pub fn cyclonedx_entries(report: &ScanReport) -> Vec<crate::sbom::VulnerabilityEntry> {
    let entry = |f: &VulnFinding, analysis: Option<(String, String)>| {
        let method = f.vector.as_deref().map(|v| {
            if v.starts_with("CVSS:4.0") {
                "CVSSv4"
            } else if v.starts_with("CVSS:3.1") {
                "CVSSv31"
            } else if v.starts_with("CVSS:3.0") {
                "CVSSv3"
            } else {
                "other"
            }
            .to_owned()
        });
        crate::sbom::VulnerabilityEntry {
            id: f.id.clone(),
            source_url: f.url.clone(),
            aliases: f.aliases.clone(),
            severity: f.severity.to_string(),
            score: f.score,
            vector: f.vector.clone(),
            method,
            description: f.summary.clone(),
            fixed: f.fixed.clone(),
            purl: f.purl.clone(),
            analysis,
        }
    };
    report
        .findings
        .iter()
        .map(|f| entry(f, None))
        .chain(report.ignored.iter().map(|i| {
            entry(
                &i.finding,
                Some((
                    "not_affected".to_owned(),
                    format!("{} (accepted until {})", i.reason, i.expires),
                )),
            )
        }))
        .collect()
}
