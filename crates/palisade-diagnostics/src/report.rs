//! The reports of a plain list of diagnostics: a table for people, JSON for programs, SARIF for
//! code scanning. Domains whose findings need no schema of their own (team guardrails, custom
//! policies) report through these; the older domains keep their published JSON schemas and share
//! the SARIF result writer ([`crate::sarif::result`]).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::{count, sarif, Diagnostic, RuleTable, Severity};

/// Findings grouped by file, most severe first within a file, each with its place, message and
/// fix; then one summary line.
pub fn table(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    let mut order: Vec<&Diagnostic> = diagnostics.iter().collect();
    order.sort_by(|a, b| {
        (
            a.location.file.as_str(),
            std::cmp::Reverse(a.severity),
            a.location.line,
        )
            .cmp(&(
                b.location.file.as_str(),
                std::cmp::Reverse(b.severity),
                b.location.line,
            ))
    });
    let mut file: Option<&str> = None;
    for diagnostic in order {
        let place = &diagnostic.location;
        if file != Some(place.file.as_str()) {
            if file.is_some() {
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "{}",
                if place.file.is_empty() {
                    "-"
                } else {
                    &place.file
                }
            );
            file = Some(&place.file);
        }
        let at = match (place.line, place.offset) {
            (Some(line), _) => format!("line {line}: "),
            (None, Some(offset)) => format!("byte {offset}: "),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<9}{}  {at}{}",
            diagnostic.severity.as_str().to_uppercase(),
            diagnostic.code,
            diagnostic.message
        );
        if let Some(fix) = &diagnostic.fix {
            let _ = writeln!(out, "           fix: {fix}");
        }
    }
    if !diagnostics.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(out, "{}", summary(diagnostics));
    out
}

/// `3 findings (1 high, 2 medium).` or `No findings.`
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "No findings.".to_owned();
    }
    let by: Vec<String> = crate::by_severity(diagnostics)
        .into_iter()
        .map(|(severity, n)| format!("{n} {severity}"))
        .collect();
    format!(
        "{} ({}).",
        count(diagnostics.len(), "finding", "findings"),
        by.join(", ")
    )
}

/// `{"schemaVersion": 1, "findings": [...], "summary": {"findings": N, "bySeverity": {...}}}`;
/// a finding's fields appear only when it has them (docs/output.md).
pub fn json(diagnostics: &[Diagnostic]) -> Value {
    let findings: Vec<Value> = diagnostics.iter().map(finding_json).collect();
    let mut by = serde_json::Map::new();
    for severity in Severity::ALL.iter().rev() {
        let n = diagnostics
            .iter()
            .filter(|d| d.severity == *severity)
            .count();
        by.insert(severity.as_str().to_owned(), json!(n));
    }
    json!({
        "schemaVersion": 1,
        "findings": findings,
        "summary": {"findings": diagnostics.len(), "bySeverity": by},
    })
}

fn finding_json(diagnostic: &Diagnostic) -> Value {
    let place = &diagnostic.location;
    let mut value = json!({
        "code": diagnostic.code,
        "severity": diagnostic.severity,
        "message": diagnostic.message,
    });
    if let Some(fix) = &diagnostic.fix {
        value["fix"] = json!(fix);
    }
    value["file"] = json!(place.file);
    if let Some(line) = place.line {
        value["line"] = json!(line);
    }
    if let Some(offset) = place.offset {
        value["offset"] = json!(offset);
    }
    if let Some(logical) = &place.logical {
        value[logical.kind] = json!(logical.name);
    }
    for (name, text) in &diagnostic.properties {
        value[*name] = json!(text);
    }
    value
}

/// A SARIF log of the diagnostics: the rules of `tables` that any of them names (in code order,
/// with title, help and default severity), one result per diagnostic. `automation_id` names the
/// run so a code-scanning service keeps separate runs apart.
pub fn sarif_document(
    tool_version: &str,
    tables: &[&RuleTable],
    tags: &[&str],
    automation_id: Option<&str>,
    diagnostics: &[Diagnostic],
) -> Value {
    let mut codes: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|code| match tables.iter().find_map(|t| t.get(code)) {
            Some(rule) => {
                let mut value = sarif::table_rule(rule, tags);
                value["help"] = json!({"text": rule.help});
                value["defaultConfiguration"] = json!({"level": sarif::level(rule.severity)});
                value["properties"]["security-severity"] = json!(sarif::security_severity_text(
                    sarif::security_severity(rule.severity)
                ));
                value
            }
            None => sarif::rule(code, code, tags),
        })
        .collect();
    let results = diagnostics
        .iter()
        .map(|d| sarif::result(d, codes.iter().position(|c| *c == d.code)))
        .collect();
    sarif::document(
        sarif::driver(tool_version, true, sarif::TOOL_URI, rules),
        automation_id,
        results,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Location, Rule};

    const RULES: &[Rule] = &[Rule {
        code: "t/open",
        severity: Severity::High,
        title: "A door is open.",
        help: "Close it.",
    }];
    const TABLE: RuleTable = RuleTable {
        domain: "t",
        rules: RULES,
    };

    fn found() -> Vec<Diagnostic> {
        vec![
            Diagnostic::new("t/open", Severity::Medium, "the back door is open")
                .at(Location::file("b.yaml").line(3)),
            Diagnostic::new("t/open", Severity::High, "the front door is open")
                .with_fix("close the front door")
                .at(Location::file("a.yaml")
                    .line(9)
                    .logical("Door/front", "object")),
        ]
    }

    #[test]
    fn the_table_groups_by_file_and_counts() {
        assert_eq!(
            table(&found()),
            "a.yaml\n  HIGH     t/open  line 9: the front door is open\n           fix: close the front door\n\nb.yaml\n  MEDIUM   t/open  line 3: the back door is open\n\n2 findings (1 high, 1 medium).\n"
        );
        assert_eq!(table(&[]), "No findings.\n");
    }

    #[test]
    fn json_has_each_field_a_finding_has() {
        let value = json(&found());
        assert_eq!(value["findings"][1]["object"], "Door/front");
        assert_eq!(value["findings"][1]["fix"], "close the front door");
        assert!(value["findings"][0].get("fix").is_none());
        assert_eq!(value["summary"]["bySeverity"]["high"], 1);
        assert_eq!(value["summary"]["findings"], 2);
    }

    #[test]
    fn sarif_lists_the_rules_from_the_table() {
        let log = sarif_document("1.0", &[&TABLE], &["security"], None, &found());
        let rule = &log["runs"][0]["tool"]["driver"]["rules"][0];
        assert_eq!(rule["id"], "t/open");
        assert_eq!(rule["help"]["text"], "Close it.");
        assert_eq!(rule["properties"]["security-severity"], "8.0");
        assert_eq!(log["runs"][0]["results"][1]["ruleIndex"], 0);
        assert_eq!(log["runs"][0]["results"][1]["level"], "error");
    }
}
