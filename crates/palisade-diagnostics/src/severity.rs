//! The one severity scale.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How serious a finding is, on one scale for every domain. Each domain keeps the names its users
/// know (`dangerous`, `unknown`, ...) and maps them here for gating (`--fail-on`), ordering and
/// SARIF levels:
///
/// | this scale | Pod Security / rules | vulnerabilities | model scanner |
/// |---|---|---|---|
/// | `critical` | critical | critical | dangerous |
/// | `high` | high | high | |
/// | `medium` | medium | medium | suspicious |
/// | `low` | low | low | |
/// | `info` | | unknown (no rating published) | info |
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == s)
            .ok_or_else(|| {
                format!("invalid severity {s:?} (expected info, low, medium, high or critical)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_is_the_scale() {
        for severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
            assert_eq!(
                serde_json::to_string(&severity).unwrap_or_default(),
                format!("\"{severity}\"")
            );
        }
        assert!(Severity::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!("severe".parse::<Severity>().is_err());
    }
}
