//! Report formats. Reports stream: objects are written as they are evaluated, so memory stays flat
//! however large the input.

mod json;
mod sarif;
mod table;

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

pub use json::JsonReporter;
pub use sarif::SarifReporter;
pub use table::TableReporter;

use crate::error::InputError;
use crate::finding::{Finding, ObjectRef, Severity};

pub use palisade_diagnostics::count;

/// Static description of a rule, for SARIF rule metadata and documentation.
#[derive(Debug, Clone)]
pub struct RuleMeta {
    pub id: String,
    pub name: String,
    pub short_description: String,
    pub full_description: String,
    pub help: String,
    /// Absolute documentation URL, where there is one.
    pub help_uri: Option<String>,
    pub severity: Severity,
}

/// The verdict on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Violations,
    /// Not evaluated, with the reason (an exempt namespace or runtime class).
    Exempt(String),
}

/// One evaluated object and its findings.
#[derive(Debug, Clone)]
pub struct ObjectReport {
    pub object: ObjectRef,
    /// The policy it was evaluated at, e.g. `restricted:v1.29`.
    pub policy: String,
    pub outcome: Outcome,
    pub findings: Vec<Finding>,
}

/// Counts over a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub files: usize,
    pub documents: usize,
    /// Kubernetes objects read (list items counted one by one).
    pub objects: usize,
    /// Objects that run pods and were evaluated.
    pub evaluated: usize,
    pub passed: usize,
    pub violating: usize,
    pub exempt: usize,
    /// Objects of kinds that run no pods, by kind.
    pub skipped: BTreeMap<String, usize>,
    pub findings: usize,
    pub findings_by_severity: BTreeMap<Severity, usize>,
    pub errors: usize,
}

impl Summary {
    pub fn record(&mut self, report: &ObjectReport) {
        self.evaluated += 1;
        match report.outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Violations => self.violating += 1,
            Outcome::Exempt(_) => self.exempt += 1,
        }
        self.findings += report.findings.len();
        for finding in &report.findings {
            *self
                .findings_by_severity
                .entry(finding.severity)
                .or_default() += 1;
        }
    }

    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }

    /// The highest severity found, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings_by_severity.keys().next_back().copied()
    }
}

/// A sink for results, called in input order.
pub trait Reporter {
    fn object(&mut self, report: &ObjectReport) -> io::Result<()>;
    fn error(&mut self, error: &InputError) -> io::Result<()>;
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

#[derive(Serialize)]
struct ErrorRecord<'a> {
    file: &'a str,
    line: Option<u32>,
    column: Option<u32>,
    message: &'a str,
}

impl<'a> From<&'a InputError> for ErrorRecord<'a> {
    fn from(e: &'a InputError) -> Self {
        ErrorRecord {
            file: &e.file,
            line: e.line,
            column: e.col,
            message: &e.message,
        }
    }
}
