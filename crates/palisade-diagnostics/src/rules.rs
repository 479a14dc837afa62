//! Rule tables: one per domain, each rule with a stable code, a default severity, a title and
//! how to fix what it finds.

use crate::Severity;

/// One rule of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Stable identifier, `domain/name` (`model/dangerous-global`, `image/require-signature`).
    pub code: &'static str,
    /// The severity a finding of this rule has unless the finding says otherwise.
    pub severity: Severity,
    /// One line saying what the rule finds.
    pub title: &'static str,
    /// How to fix or accept what it finds.
    pub help: &'static str,
}

/// A domain's rules.
#[derive(Debug, Clone, Copy)]
pub struct RuleTable {
    /// The code prefix every rule of the table carries (`model`, `image`).
    pub domain: &'static str,
    pub rules: &'static [Rule],
}

impl RuleTable {
    /// The rule with this code.
    pub fn get(&self, code: &str) -> Option<&'static Rule> {
        self.rules.iter().find(|rule| rule.code == code)
    }

    /// Problems with the table itself: codes outside the domain, duplicates, empty texts. Each
    /// domain's tests assert there are none.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let prefix = format!("{}/", self.domain);
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.code.starts_with(&prefix) || rule.code.len() == prefix.len() {
                problems.push(format!("{}: not a {} code", rule.code, self.domain));
            }
            if self.rules[..i].iter().any(|r| r.code == rule.code) {
                problems.push(format!("{}: listed twice", rule.code));
            }
            if rule.title.trim().is_empty() || rule.help.trim().is_empty() {
                problems.push(format!("{}: no title or help", rule.code));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_reports_its_own_mistakes() {
        const RULES: &[Rule] = &[
            Rule {
                code: "x/a",
                severity: Severity::Low,
                title: "A.",
                help: "Fix a.",
            },
            Rule {
                code: "x/a",
                severity: Severity::Low,
                title: "A again.",
                help: "Fix a.",
            },
            Rule {
                code: "y/b",
                severity: Severity::Low,
                title: "",
                help: "Fix b.",
            },
        ];
        let table = RuleTable {
            domain: "x",
            rules: RULES,
        };
        assert_eq!(table.get("x/a").map(|r| r.title), Some("A."));
        assert_eq!(table.problems().len(), 3, "{:?}", table.problems());
    }
}
