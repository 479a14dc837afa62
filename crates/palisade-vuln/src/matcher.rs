//! Whether a package version is affected by an OSV record, with OSV's range semantics.

use std::cmp::Ordering;

use crate::osv::{Affected, Event, Range, Record};
use crate::version::Ecosystem;

/// A package version an OSV record affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub id: String,
    pub aliases: Vec<String>,
    /// The lowest fixed version above the affected one, where the record names one.
    pub fixed: Option<String>,
}

/// Whether `version` of `name` in `ecosystem` is affected by `record`.
pub fn matches(record: &Record, ecosystem: Ecosystem, name: &str, version: &str) -> Option<Match> {
    if record.withdrawn.is_some() {
        return None;
    }
    let wanted = ecosystem.normalize_name(name);
    for affected in &record.affected {
        let Some(package) = &affected.package else {
            continue;
        };
        if Ecosystem::from_osv(&package.ecosystem) != ecosystem
            || ecosystem.normalize_name(&package.name) != wanted
        {
            continue;
        }
        if let Some(fixed) = affected_version(affected, ecosystem, version) {
            return Some(Match {
                id: record.id.clone(),
                aliases: record.aliases.clone(),
                fixed,
            });
        }
    }
    None
}

/// `Some(fixed)` when `version` is affected: listed explicitly, or inside a range.
pub fn affected_version(
    affected: &Affected,
    ecosystem: Ecosystem,
    version: &str,
) -> Option<Option<String>> {
    let listed = affected
        .versions
        .iter()
        .any(|v| v == version || ecosystem.compare(v, version) == Ordering::Equal);
    let mut in_range = None;
    for range in &affected.ranges {
        if !matches!(range.kind.as_str(), "ECOSYSTEM" | "SEMVER") {
            continue;
        }
        if let Some(fixed) = in_range_of(range, ecosystem, version) {
            in_range = Some(fixed);
            break;
        }
    }
    match (in_range, listed) {
        (Some(fixed), _) => Some(fixed),
        (None, true) => Some(lowest_fixed_above(affected, ecosystem, version)),
        (None, false) => None,
    }
}

fn lowest_fixed_above(affected: &Affected, ecosystem: Ecosystem, version: &str) -> Option<String> {
    affected
        .ranges
        .iter()
        .flat_map(|r| r.events.iter().filter_map(|e| e.fixed.as_deref()))
        .filter(|f| ecosystem.compare(f, version) == Ordering::Greater)
        .min_by(|a, b| ecosystem.compare(a, b))
        .map(str::to_owned)
}

/// OSV's evaluation: walk the events in version order; `introduced` opens, `fixed` and `limit`
/// close at their version, `last_affected` closes just above it. Returns the fixed version that
/// closes the interval containing `version`, if any.
pub fn in_range_of(range: &Range, ecosystem: Ecosystem, version: &str) -> Option<Option<String>> {
    let key = |e: &Event| -> (u8, String) {
        match e {
            Event {
                introduced: Some(v),
                ..
            } => (0, v.clone()),
            Event { fixed: Some(v), .. } => (1, v.clone()),
            Event {
                last_affected: Some(v),
                ..
            } => (2, v.clone()),
            Event { limit: Some(v), .. } => (3, v.clone()),
            _ => (4, String::new()),
        }
    };
    let mut events: Vec<(u8, String)> = range
        .events
        .iter()
        .map(key)
        .filter(|(k, _)| *k < 4)
        .collect();
    // "0" is below every version.
    events.sort_by(|(ka, a), (kb, b)| {
        let ord = match (a.as_str(), b.as_str()) {
            ("0", "0") => Ordering::Equal,
            ("0", _) => Ordering::Less,
            (_, "0") => Ordering::Greater,
            _ => ecosystem.compare(a, b),
        };
        ord.then(ka.cmp(kb))
    });
    if let Some((_, limit)) = events.iter().find(|(k, _)| *k == 3) {
        if ecosystem.compare(version, limit) != Ordering::Less {
            return None;
        }
    }
    let mut affected = false;
    for (i, (kind, at)) in events.iter().enumerate() {
        let at_or_above = at == "0" || ecosystem.compare(version, at) != Ordering::Less;
        match kind {
            0 if at_or_above => affected = true,
            1 if at_or_above => affected = false,
            2 if at != "0" && ecosystem.compare(version, at) == Ordering::Greater => {
                affected = false
            }
            _ => {
                // Events are sorted: once one is above the version, the state is final.
                if !at_or_above {
                    return affected.then(|| next_fixed(&events[i..]));
                }
            }
        }
    }
    affected.then_some(None)
}

fn next_fixed(events: &[(u8, String)]) -> Option<String> {
    events.iter().find(|(k, _)| *k == 1).map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::osv::Event;

    fn range(events: &[(&str, &str)]) -> Range {
        let events = events
            .iter()
            .map(|(kind, v)| {
                let v = Some((*v).to_owned());
                match *kind {
                    "introduced" => Event {
                        introduced: v,
                        ..Default::default()
                    },
                    "fixed" => Event {
                        fixed: v,
                        ..Default::default()
                    },
                    "last_affected" => Event {
                        last_affected: v,
                        ..Default::default()
                    },
                    _ => Event {
                        limit: v,
                        ..Default::default()
                    },
                }
            })
            .collect();
        Range {
            kind: "ECOSYSTEM".into(),
            events,
        }
    }

    #[test]
    fn osv_range_semantics() {
        let eco = Ecosystem::PyPI;
        // Two intervals, given out of order: [1.0, 1.2) and [2.0, 2.3).
        let r = range(&[
            ("introduced", "2.0"),
            ("fixed", "1.2"),
            ("introduced", "1.0"),
            ("fixed", "2.3"),
        ]);
        assert_eq!(in_range_of(&r, eco, "0.9"), None);
        assert_eq!(in_range_of(&r, eco, "1.1"), Some(Some("1.2".into())));
        assert_eq!(in_range_of(&r, eco, "1.2"), None);
        assert_eq!(in_range_of(&r, eco, "2.2.9"), Some(Some("2.3".into())));
        assert_eq!(in_range_of(&r, eco, "2.3"), None);
        // last_affected includes its own version.
        let r = range(&[("introduced", "0"), ("last_affected", "3.1")]);
        assert_eq!(in_range_of(&r, eco, "3.1"), Some(None));
        assert_eq!(in_range_of(&r, eco, "3.1.1"), None);
        // Open-ended and limited.
        let r = range(&[("introduced", "5.0")]);
        assert_eq!(in_range_of(&r, eco, "9.9"), Some(None));
        let r = range(&[("introduced", "0"), ("limit", "4.0")]);
        assert_eq!(in_range_of(&r, eco, "4.0"), None);
        assert_eq!(in_range_of(&r, eco, "3.9"), Some(None));
    }
}
