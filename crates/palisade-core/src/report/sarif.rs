use std::collections::HashMap;
use std::io::{self, Write};

use palisade_diagnostics::sarif;
use serde_json::json;

use super::{ObjectReport, Reporter, RuleMeta, Summary};
use crate::error::InputError;
use crate::finding::Finding;

/// SARIF 2.1.0, as GitHub code scanning accepts it: rule metadata with `security-severity`,
/// results with file and line, fingerprints stable across runs, input errors as notifications.
#[derive(Debug)]
pub struct SarifReporter<W: Write> {
    out: W,
    tool_version: String,
    rules: Vec<RuleMeta>,
    rule_index: HashMap<String, usize>,
    started: bool,
    first_result: bool,
    errors: Vec<InputError>,
}

impl<W: Write> SarifReporter<W> {
    pub fn new(out: W, tool_version: &str, rules: Vec<RuleMeta>) -> Self {
        let rule_index = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Self {
            out,
            tool_version: tool_version.to_owned(),
            rules,
            rule_index,
            started: false,
            first_result: true,
            errors: Vec::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let rules: Vec<serde_json::Value> = self
            .rules
            .iter()
            .map(|r| {
                let mut rule = json!({
                    "id": r.id,
                    "name": r.name,
                    "shortDescription": {"text": r.short_description},
                    "fullDescription": {"text": r.full_description},
                    "help": {"text": r.help},
                    "defaultConfiguration": {"level": sarif::level(r.severity)},
                    "properties": {
                        "tags": ["security", "kubernetes", "pod-security"],
                        "security-severity": sarif::security_severity_text(sarif::security_severity(r.severity)),
                        "precision": "very-high",
                    }
                });
                if let Some(uri) = &r.help_uri {
                    rule["helpUri"] = json!(uri);
                }
                rule
            })
            .collect();
        let driver = sarif::driver(
            &self.tool_version,
            true,
            "https://kubernetes.io/docs/concepts/security/pod-security-standards/",
            rules,
        );
        write!(
            self.out,
            "{{\n\"$schema\": \"https://json.schemastore.org/sarif-2.1.0.json\",\n\"version\": \"2.1.0\",\n\"runs\": [{{\n\"tool\": {{\"driver\": {}}},\n\"columnKind\": \"unicodeCodePoints\",\n\"results\": [",
            serde_json::to_string(&driver)?
        )
    }

    fn result(&self, finding: &Finding) -> serde_json::Value {
        let mut result = sarif::result(&finding.diagnostic(), None);
        // The audit report has always put the rule's index last; it stays there so that the
        // bytes users parse do not move.
        if let Some(index) = self.rule_index.get(&finding.rule_id) {
            result["ruleIndex"] = json!(index);
        }
        result
    }
}

impl<W: Write> Reporter for SarifReporter<W> {
    fn object(&mut self, report: &ObjectReport) -> io::Result<()> {
        self.start()?;
        for finding in &report.findings {
            let sep = if self.first_result { "\n  " } else { ",\n  " };
            self.first_result = false;
            let result = self.result(finding);
            self.out.write_all(sep.as_bytes())?;
            serde_json::to_writer(&mut self.out, &result)?;
        }
        Ok(())
    }

    fn error(&mut self, error: &InputError) -> io::Result<()> {
        self.errors.push(error.clone());
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.start()?;
        let notifications: Vec<serde_json::Value> = self
            .errors
            .iter()
            .map(|e| {
                let mut location = json!({"physicalLocation": {"artifactLocation": {"uri": sarif::artifact_uri(&e.file)}}});
                if let Some(line) = e.line {
                    location["physicalLocation"]["region"] = json!({"startLine": line.max(1)});
                }
                json!({"level": "error", "message": {"text": e.message}, "locations": [location]})
            })
            .collect();
        let invocation = json!({"executionSuccessful": self.errors.is_empty(), "toolExecutionNotifications": notifications});
        write!(
            self.out,
            "\n],\n\"invocations\": [{}]\n}}]\n}}\n",
            serde_json::to_string(&invocation)?
        )?;
        self.out.flush()
    }
}
