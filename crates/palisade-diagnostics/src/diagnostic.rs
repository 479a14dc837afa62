//! One finding of any domain, in the one shape every reporter reads: a Pod Security violation, a
//! vulnerable package, a model file that runs code, a broken team guardrail. Each domain keeps its
//! own richer finding type for its own JSON schema and converts it into a [`Diagnostic`] for
//! what all reports share (SARIF results, severity counts, the exit code).

use crate::Severity;

/// One finding, whatever found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The rule's stable code (`pss/runAsNonRoot`, `model/dangerous-global`, `PYSEC-2023-62`).
    pub code: String,
    pub severity: Severity,
    /// The finding in one or two sentences, as the domain words it: what is wrong and where.
    /// SARIF shows this text as the result's message.
    pub message: String,
    /// How to fix it, where the domain knows (the rule table's help says it in general).
    pub fix: Option<String>,
    pub location: Location,
    /// A name and a value that identify the finding across runs (SARIF `partialFingerprints`),
    /// so a code-scanning service tracks it as one alert while lines move.
    pub fingerprint: Option<(&'static str, String)>,
    /// Domain facts kept as they are (SARIF result `properties`), in this order.
    pub properties: Vec<(&'static str, String)>,
}

/// Where a finding is, as precisely as its domain can say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The file read (a manifest, a model file, a file inside an image); `-` for standard input.
    pub file: String,
    /// The 1-based line in `file`, for text formats.
    pub line: Option<u32>,
    /// The byte offset in the innermost stream, for binary formats.
    pub offset: Option<u64>,
    /// The thing inside the file the finding is about: a Kubernetes object and field, a package,
    /// the members of archives around the stream (outermost first).
    pub logical: Option<LogicalLocation>,
}

/// The thing inside a file a finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLocation {
    /// Its name: `Deployment/ml-iris/iris/spec.template.spec.hostNetwork`, a package URL, the
    /// archive members joined by `!`.
    pub name: String,
    /// Whether `name` is the fully qualified path of the thing (SARIF `fullyQualifiedName`) or
    /// only its name.
    pub fully_qualified: bool,
    /// SARIF's kind for it: `object`, `package`, `member`.
    pub kind: &'static str,
}

impl Diagnostic {
    /// A diagnostic with only what every finding has; the builders below add the rest.
    pub fn new(code: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            severity,
            message: message.into(),
            fix: None,
            location: Location::default(),
            fingerprint: None,
            properties: Vec::new(),
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = location;
        self
    }

    pub fn with_fingerprint(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fingerprint = Some((name, value.into()));
        self
    }

    pub fn with_property(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.properties.push((name, value.into()));
        self
    }
}

impl Location {
    /// A location in `file` and nothing more precise.
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            ..Self::default()
        }
    }

    pub fn line(mut self, line: u32) -> Self {
        self.line = Some(line);
        self
    }

    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    pub fn logical(mut self, name: impl Into<String>, kind: &'static str) -> Self {
        self.logical = Some(LogicalLocation {
            name: name.into(),
            fully_qualified: false,
            kind,
        });
        self
    }

    pub fn fully_qualified(mut self, name: impl Into<String>, kind: &'static str) -> Self {
        self.logical = Some(LogicalLocation {
            name: name.into(),
            fully_qualified: true,
            kind,
        });
        self
    }
}

/// How many diagnostics there are at each severity, most severe first, with the ones absent left
/// out: `[(High, 1), (Medium, 3)]`. Every report's summary counts with it.
pub fn by_severity<'a>(
    diagnostics: impl IntoIterator<Item = &'a Diagnostic>,
) -> Vec<(Severity, usize)> {
    let mut counts = [0usize; Severity::ALL.len()];
    for diagnostic in diagnostics {
        counts[diagnostic.severity as usize] += 1;
    }
    Severity::ALL
        .iter()
        .rev()
        .filter(|s| counts[**s as usize] > 0)
        .map(|s| (*s, counts[*s as usize]))
        .collect()
}

/// Whether any diagnostic is at or above `fail_on`: the exit code's question (1 when it is).
pub fn fails<'a>(diagnostics: impl IntoIterator<Item = &'a Diagnostic>, fail_on: Severity) -> bool {
    diagnostics.into_iter().any(|d| d.severity >= fail_on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_the_exit_question_follow_the_scale() {
        let found = [
            Diagnostic::new("x/a", Severity::Medium, "a"),
            Diagnostic::new("x/b", Severity::High, "b"),
            Diagnostic::new("x/c", Severity::Medium, "c"),
        ];
        assert_eq!(
            by_severity(&found),
            vec![(Severity::High, 1), (Severity::Medium, 2)]
        );
        assert!(fails(&found, Severity::High));
        assert!(!fails(&found, Severity::Critical));
        assert!(!fails(&[], Severity::Info));
    }
}
