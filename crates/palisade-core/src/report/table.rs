use std::io::{self, Write};

use super::{ObjectReport, Outcome, Reporter, Summary};
use crate::error::InputError;
use crate::finding::Severity;

/// The report for people: findings grouped by object, colour when writing to a terminal.
#[derive(Debug)]
pub struct TableReporter<W: Write> {
    out: W,
    color: bool,
    /// Also list objects that passed or were exempt.
    verbose: bool,
}

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";
const MAGENTA: &str = "\x1b[35m";
const CYAN: &str = "\x1b[36m";

impl<W: Write> TableReporter<W> {
    pub fn new(out: W, color: bool, verbose: bool) -> Self {
        Self {
            out,
            color,
            verbose,
        }
    }

    fn paint(&self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn severity_style(severity: Severity) -> &'static str {
        match severity {
            Severity::Critical => MAGENTA,
            Severity::High => RED,
            Severity::Medium => YELLOW,
            Severity::Low | Severity::Info => CYAN,
        }
    }
}

impl<W: Write> Reporter for TableReporter<W> {
    fn object(&mut self, report: &ObjectReport) -> io::Result<()> {
        let object = &report.object;
        let location = format!("{}:{}", object.file, object.line);
        match &report.outcome {
            Outcome::Pass | Outcome::Exempt(_) if !self.verbose => return Ok(()),
            Outcome::Pass => {
                let line = format!(
                    "{}  {}  {}",
                    self.paint(GREEN, "PASS"),
                    object.display_name(),
                    self.paint(DIM, &format!("[{}] {location}", report.policy))
                );
                return writeln!(self.out, "{line}");
            }
            Outcome::Exempt(reason) => {
                let line = format!(
                    "{}  {}  {}",
                    self.paint(DIM, "EXEMPT"),
                    object.display_name(),
                    self.paint(DIM, &format!("{reason} {location}"))
                );
                return writeln!(self.out, "{line}");
            }
            Outcome::Violations => {}
        }
        let count = report.findings.len();
        let header = format!(
            "{}  {}  {}",
            self.paint(BOLD, &object.display_name()),
            self.paint(DIM, &format!("[{}]", report.policy)),
            self.paint(DIM, &location),
        );
        writeln!(
            self.out,
            "{header}  {} {}",
            count,
            if count == 1 { "finding" } else { "findings" }
        )?;
        // Findings come grouped by check; print each check once, then every place it applies.
        let mut i = 0;
        while i < report.findings.len() {
            let first = &report.findings[i];
            let same_check = report.findings[i..]
                .iter()
                .take_while(|f| f.rule_id == first.rule_id && f.component == first.component)
                .count();
            let severity = self.paint(
                Self::severity_style(first.severity),
                &format!("{:<8}", first.severity.as_str().to_uppercase()),
            );
            writeln!(
                self.out,
                "  {severity} {}  {} ({})",
                self.paint(BOLD, &first.check),
                first.reason,
                first.detail
            )?;
            for finding in &report.findings[i..i + same_check] {
                let mut subject = String::new();
                if let Some(component) = &finding.component {
                    subject.push_str(&format!("{component} "));
                }
                if let Some(container) = &finding.container {
                    subject.push_str(&format!("container {container:?} "));
                }
                writeln!(
                    self.out,
                    "           at {subject}{}",
                    self.paint(
                        DIM,
                        &format!(
                            "{} (line {})",
                            // A finding about the whole object (a custom policy's) has no field.
                            if finding.field.is_empty() {
                                "the object"
                            } else {
                                &finding.field
                            },
                            finding.line
                        )
                    )
                )?;
            }
            writeln!(
                self.out,
                "           {} {}",
                self.paint(GREEN, "fix:"),
                first.hint
            )?;
            i += same_check;
        }
        // The whole message per policy, as the API server (or palisade's rules) would word it.
        let mut messages: Vec<&str> = Vec::new();
        for finding in &report.findings {
            if !messages.contains(&finding.message.as_str()) {
                messages.push(&finding.message);
            }
        }
        for message in messages {
            writeln!(self.out, "  {}", self.paint(DIM, message))?;
        }
        writeln!(self.out)
    }

    fn error(&mut self, error: &InputError) -> io::Result<()> {
        let label = self.paint(RED, "error:");
        writeln!(self.out, "{label} {error}")
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        let mut parts = vec![format!("{} evaluated", summary.evaluated)];
        parts.push(self.paint(GREEN, &format!("{} passed", summary.passed)));
        let violating = format!("{} violating", summary.violating);
        parts.push(if summary.violating > 0 {
            self.paint(RED, &violating)
        } else {
            violating
        });
        if summary.exempt > 0 {
            parts.push(format!("{} exempt", summary.exempt));
        }
        let skipped = summary.skipped_total();
        if skipped > 0 {
            let kinds: Vec<String> = summary
                .skipped
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            parts.push(format!("{skipped} skipped ({})", kinds.join(", ")));
        }
        if summary.errors > 0 {
            parts.push(self.paint(RED, &super::count(summary.errors, "error", "errors")));
        }
        let findings = if summary.findings > 0 {
            let by: Vec<String> = summary
                .findings_by_severity
                .iter()
                .rev()
                .map(|(s, n)| format!("{n} {s}"))
                .collect();
            format!(
                "; {} ({})",
                super::count(summary.findings, "finding", "findings"),
                by.join(", ")
            )
        } else {
            String::new()
        };
        writeln!(
            self.out,
            "{}, {}: {}{}",
            super::count(summary.files, "file", "files"),
            super::count(summary.objects, "object", "objects"),
            parts.join(", "),
            findings
        )?;
        self.out.flush()
    }
}
