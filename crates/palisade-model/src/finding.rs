//! What the model scanner reports.

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Suspicious < Dangerous`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, not a risk by itself (a format recognised, persistent IDs in a PyTorch file).
    Info,
    /// Not on the allowlist, or not understood: a human should look before this is served.
    Suspicious,
    /// Executes code when loaded by its normal loader (a known dangerous callable, a Keras Lambda
    /// layer), or cannot be parsed and so cannot be shown safe.
    Dangerous,
}

/// The model scanner's severities on palisade's one scale, as image scans and attestations rank
/// them: a file that runs code when loaded is critical, one to look at medium.
impl From<Severity> for palisade_diagnostics::Severity {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Dangerous => palisade_diagnostics::Severity::Critical,
            Severity::Suspicious => palisade_diagnostics::Severity::Medium,
            Severity::Info => palisade_diagnostics::Severity::Info,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Suspicious => "suspicious",
            Severity::Dangerous => "dangerous",
        })
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "suspicious" => Ok(Severity::Suspicious),
            "dangerous" => Ok(Severity::Dangerous),
            other => Err(format!(
                "unknown severity {other:?} (info, suspicious, dangerous)"
            )),
        }
    }
}

/// Where a finding is: the file, the chain of members inside archives (outermost first), and the
/// byte offset inside the innermost stream (after decompression, where there is any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    pub offset: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        for member in &self.members {
            write!(f, "!{member}")?;
        }
        write!(f, "@{}", self.offset)
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// A stable rule ID, e.g. `model/dangerous-global`, `model/unparseable`.
    pub rule: &'static str,
    pub severity: Severity,
    pub location: Location,
    /// The global (`module.name`) involved, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<String>,
    /// Why: what was found and why it matters.
    pub message: String,
}

impl Finding {
    /// The finding in the shape every report shares. Inside an archive the offset is in a member's
    /// decompressed stream, not in the file, so the file's region is its start and the members
    /// are named as the logical location.
    pub fn diagnostic(&self) -> palisade_diagnostics::Diagnostic {
        let place = &self.location;
        let inside = if place.members.is_empty() {
            String::new()
        } else {
            format!(" (in {})", place.members.join(" > "))
        };
        let mut location = palisade_diagnostics::Location::file(place.file.clone()).offset(
            if place.members.is_empty() {
                place.offset
            } else {
                0
            },
        );
        if !place.members.is_empty() {
            location = location.logical(place.members.join("!"), "member");
        }
        let mut diagnostic = palisade_diagnostics::Diagnostic::new(
            self.rule,
            self.severity.into(),
            format!("{}{inside} at byte {}", self.message, place.offset),
        )
        .at(location)
        .with_fingerprint(
            "palisadeModel/v1",
            format!(
                "{}|{}|{}|{}",
                self.rule,
                place.file,
                place.members.join("!"),
                self.global.as_deref().unwrap_or("")
            ),
        );
        if let Some(rule) = crate::rules::TABLE.get(self.rule) {
            diagnostic = diagnostic.with_fix(rule.help);
        }
        diagnostic
    }
}
