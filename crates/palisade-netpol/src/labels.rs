//! Label selectors as the API server reads them (`metav1.LabelSelector`): `matchLabels` and
//! `matchExpressions` are ANDed; an empty selector matches everything. Keys and values are
//! validated as the API server validates them, so a selector the API server would reject is an
//! error here, not a selector that silently matches nothing.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// Labels of a pod or a namespace.
pub type Labels = BTreeMap<String, String>;

/// One `matchExpressions` item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    #[serde(default)]
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[serde(default)]
    pub operator: String,
    /// The values for `In` and `NotIn`.
    #[serde(default)]
    pub values: Option<Vec<String>>,
}

/// A label selector as written in a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// `key: value` pairs, all required.
    #[serde(default)]
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Requirements, all required.
    #[serde(default)]
    pub match_expressions: Option<Vec<LabelSelectorRequirement>>,
}

impl LabelSelector {
    /// Whether the selector has neither labels nor expressions (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && self.match_expressions.as_ref().is_none_or(Vec::is_empty)
    }

    /// A selector of exactly these labels.
    pub fn from_labels(labels: Labels) -> Self {
        Self {
            match_labels: Some(labels),
            match_expressions: None,
        }
    }

    /// The `matchLabels` entries.
    pub fn labels(&self) -> impl Iterator<Item = (&String, &String)> {
        self.match_labels.iter().flatten()
    }

    /// The `matchExpressions` items.
    pub fn expressions(&self) -> impl Iterator<Item = &LabelSelectorRequirement> {
        self.match_expressions.iter().flatten()
    }

    /// Checks keys, values and operators as the API server does; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (key, value) in self.labels() {
            validate_key(key)?;
            validate_value(value).map_err(|e| format!("matchLabels {key:?}: {e}"))?;
        }
        for req in self.expressions() {
            validate_key(&req.key)?;
            let values = req.values.as_deref().unwrap_or(&[]);
            match req.operator.as_str() {
                "In" | "NotIn" => {
                    if values.is_empty() {
                        return Err(format!(
                            "matchExpressions key {:?}: values must be non-empty for operator {}",
                            req.key, req.operator
                        ));
                    }
                }
                "Exists" | "DoesNotExist" => {
                    if !values.is_empty() {
                        return Err(format!(
                            "matchExpressions key {:?}: values must be empty for operator {}",
                            req.key, req.operator
                        ));
                    }
                }
                other => {
                    return Err(format!(
                        "matchExpressions key {:?}: {other:?} is not a valid operator (In, NotIn, Exists, DoesNotExist)",
                        req.key
                    ))
                }
            }
            for value in values {
                validate_value(value)
                    .map_err(|e| format!("matchExpressions key {:?}: {e}", req.key))?;
            }
        }
        Ok(())
    }

    /// Whether `labels` satisfy the selector. The selector must have passed [`validate`](Self::validate);
    /// an unknown operator matches nothing.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.labels()
            .all(|(k, v)| labels.get(k).is_some_and(|have| have == v))
            && self.expressions().all(|req| {
                let values = req.values.as_deref().unwrap_or(&[]);
                let have = labels.get(&req.key);
                match req.operator.as_str() {
                    "In" => have.is_some_and(|h| values.contains(h)),
                    "NotIn" => have.is_none_or(|h| !values.contains(h)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
    }
}

impl fmt::Display for LabelSelector {
    /// The form upstream prints in exposure reports: `app=x,tier=y` for labels, then
    /// `{Key:k,Operator:In,Values:[a b],}` per expression, sorted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.labels().map(|(k, v)| format!("{k}={v}")).collect();
        let mut exprs: Vec<String> = self
            .expressions()
            .map(|r| {
                format!(
                    "{{Key:{},Operator:{},Values:[{}],}}",
                    r.key,
                    r.operator,
                    r.values.as_deref().unwrap_or(&[]).join(" ")
                )
            })
            .collect();
        exprs.sort();
        parts.extend(exprs);
        f.write_str(&parts.join(","))
    }
}

const NAME_MAX: usize = 63;
const PREFIX_MAX: usize = 253;

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= NAME_MAX
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 subdomain, at most 253 characters.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= PREFIX_MAX
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= NAME_MAX
                && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
                && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let ok = is_qualified_name_part(name) && prefix.is_none_or(is_dns_subdomain);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid label key {key:?}: a key is an optional DNS-subdomain prefix and '/', then a name of at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"
        ))
    }
}

fn validate_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_qualified_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "invalid label value {value:?}: a value is empty or at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn empty_selector_matches_everything() {
        let sel = LabelSelector::default();
        assert!(sel.is_empty());
        assert!(sel.matches(&labels(&[])));
        assert!(sel.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn labels_and_expressions_are_anded() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["front", "edge"]),
                expr("legacy", "DoesNotExist", &[]),
                expr("env", "NotIn", &["prod"]),
            ]),
        };
        assert!(sel.validate().is_ok());
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "edge")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "back")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "edge"), ("legacy", "")])));
        assert!(!sel.matches(&labels(&[
            ("app", "web"),
            ("tier", "edge"),
            ("env", "prod")
        ])));
        assert!(!sel.matches(&labels(&[("tier", "edge")])));
    }

    #[test]
    fn invalid_keys_values_and_operators_are_rejected() {
        let bad_key = LabelSelector::from_labels(labels(&[("a b", "x")]));
        assert!(bad_key
            .validate()
            .unwrap_err()
            .contains("invalid label key"));
        let bad_value = LabelSelector::from_labels(labels(&[("app", "-x")]));
        assert!(bad_value
            .validate()
            .unwrap_err()
            .contains("invalid label value"));
        let ok_prefixed =
            LabelSelector::from_labels(labels(&[("kubernetes.io/metadata.name", "")]));
        assert!(ok_prefixed.validate().is_ok());
        let in_without_values = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("app", "In", &[])]),
        };
        assert!(in_without_values.validate().is_err());
        let bad_op = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![expr("app", "Equals", &["x"])]),
        };
        assert!(bad_op.validate().is_err());
        assert!(!bad_op.matches(&labels(&[("app", "x")])));
    }
}
