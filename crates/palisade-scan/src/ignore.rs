//! The ignore file: findings a team has decided to accept, each with a reason and an expiry.
//!
//! ```yaml
//! ignore:
//!   - id: CVE-2023-30861          # an advisory ID or any of its aliases
//!     package: flask              # optional: only for this package
//!     reason: the session cookie is not used behind our gateway
//!     expires: 2027-01-31         # after this day the finding is reported again
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use palisade_core::object::typed_at;
use palisade_core::path::FieldPath;
use palisade_core::{yaml, InputError};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreFile {
    #[serde(default)]
    pub ignore: Vec<IgnoreRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub reason: String,
    /// `YYYY-MM-DD`; the rule hides nothing after this day.
    pub expires: String,
    /// The line in the ignore file, for messages.
    #[serde(skip)]
    pub line: u32,
}

impl IgnoreFile {
    /// Parses and validates an ignore file; errors name the file, line and key.
    pub fn parse(file: &Arc<str>, text: &str) -> Result<IgnoreFile, InputError> {
        let Some(root) =
            yaml::single_document(text).map_err(|e| InputError::from_yaml(file.clone(), e))?
        else {
            return Ok(IgnoreFile { ignore: Vec::new() });
        };
        let mut parsed: IgnoreFile = typed_at(file, &root, &FieldPath::root(), &root)?;
        for (i, rule) in parsed.ignore.iter_mut().enumerate() {
            let path = FieldPath::root().field("ignore").index(i);
            rule.line = root.line_of(&path);
            let problem = if rule.id.trim().is_empty() {
                Some(("id", "must name an advisory ID or alias".to_owned()))
            } else if rule.reason.trim().is_empty() {
                Some(("reason", "must say why the finding is accepted".to_owned()))
            } else if parse_day(&rule.expires).is_none() {
                Some((
                    "expires",
                    format!("{:?} is not a date (YYYY-MM-DD)", rule.expires),
                ))
            } else {
                None
            };
            if let Some((key, message)) = problem {
                let at = path.field(key);
                return Err(InputError::at(
                    file.clone(),
                    root.line_of(&at),
                    format!("{at}: {message}"),
                ));
            }
        }
        Ok(parsed)
    }
}

/// `YYYY-MM-DD` as a comparable (year, month, day).
pub fn parse_day(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().splitn(3, '-');
    let year: u32 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.get(..2)?.parse().ok()?;
    ((1..=12).contains(&month) && (1..=31).contains(&day) && year >= 1970)
        .then_some((year, month, day))
}

impl IgnoreRule {
    /// Whether the rule covers an advisory (by ID or alias) in a package.
    pub fn covers(&self, id: &str, aliases: &[String], package: &str) -> bool {
        let id_matches = self.id.eq_ignore_ascii_case(id)
            || aliases.iter().any(|a| a.eq_ignore_ascii_case(&self.id));
        let package_matches = self.package.as_deref().is_none_or(|p| {
            palisade_core::names::normalize_pypi_name(p)
                == palisade_core::names::normalize_pypi_name(package)
        });
        id_matches && package_matches
    }

    /// Expired when `today` is after the expiry day.
    pub fn expired(&self, today: (u32, u32, u32)) -> bool {
        parse_day(&self.expires).is_none_or(|day| today > day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_with_lines_and_keys() {
        let file: Arc<str> = "ignore.yaml".into();
        let ok = IgnoreFile::parse(
            &file,
            "ignore:\n- id: CVE-1\n  reason: not reachable\n  expires: 2027-01-31\n",
        )
        .unwrap();
        assert_eq!(ok.ignore[0].line, 2);
        assert!(ok.ignore[0].covers("PYSEC-1", &["CVE-1".into()], "Flask"));
        assert!(!ok.ignore[0].expired((2027, 1, 31)));
        assert!(ok.ignore[0].expired((2027, 2, 1)));
        let missing =
            IgnoreFile::parse(&file, "ignore:\n- id: CVE-1\n  expires: 2027-01-31\n").unwrap_err();
        assert!(missing.to_string().contains("reason"), "{missing}");
        let bad_date = IgnoreFile::parse(
            &file,
            "ignore:\n- id: CVE-1\n  reason: x\n  expires: soon\n",
        )
        .unwrap_err();
        assert!(
            bad_date.to_string().contains(":4:") && bad_date.to_string().contains("expires"),
            "{bad_date}"
        );
        let unknown = IgnoreFile::parse(
            &file,
            "ignore:\n- id: CVE-1\n  reason: x\n  expires: 2027-01-01\n  until: x\n",
        )
        .unwrap_err();
        assert!(unknown.to_string().contains("until"), "{unknown}");
    }
}
