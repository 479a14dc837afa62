//! Comparing the signed manifest with the model's: every file that changed, appeared, went missing
//! or was renamed, named.

use std::collections::BTreeMap;

use crate::serialize::{Item, Manifest};

/// One way the model differs from what was signed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Difference {
    /// The file is signed but its content (or, with shards, its length) differs.
    Changed { path: String },
    /// The file is in the model but not in the signature.
    Appeared { path: String },
    /// The file is in the signature but not in the model.
    Missing { path: String },
    /// A signed file is now under another name, with the same content.
    Renamed { from: String, to: String },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Changed { path } => write!(
                f,
                "{path}: changed (its digest differs from the signed one)"
            ),
            Difference::Appeared { path } => write!(f, "{path}: appeared (not in the signature)"),
            Difference::Missing { path } => write!(f, "{path}: missing (signed, not in the model)"),
            Difference::Renamed { from, to } => write!(f, "{from}: renamed to {to} (same content)"),
        }
    }
}

/// Per file: its items (one, or its shards), as (name, algorithm, digest).
fn by_file(manifest: &Manifest) -> BTreeMap<&str, Vec<&Item>> {
    let mut files: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for item in &manifest.items {
        files
            .entry(item.path(&manifest.serialization.method))
            .or_default()
            .push(item);
    }
    files
}

fn same(a: &[&Item], b: &[&Item]) -> bool {
    let range = |i: &Item| crate::serialize::shard_parts(&i.name).map(|(_, s, e)| (s, e));
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.algorithm == y.algorithm && x.digest == y.digest && range(x) == range(y)
        })
}

/// What differs between the signed manifest and the model's (empty when they match). Items are
/// compared by name, algorithm and digest, as `model_signing` compares manifests; differences
/// are reported per file.
pub fn compare(signed: &Manifest, actual: &Manifest) -> Vec<Difference> {
    let expected = by_file(signed);
    let found = by_file(actual);
    let mut changed = Vec::new();
    let mut missing = Vec::new();
    let mut appeared = Vec::new();
    for (path, items) in &expected {
        match found.get(path) {
            None => missing.push(*path),
            Some(actual_items) => {
                let exact = items.len() == actual_items.len()
                    && items.iter().zip(actual_items).all(|(x, y)| x == y);
                if !exact {
                    changed.push(*path);
                }
            }
        }
    }
    for path in found.keys() {
        if !expected.contains_key(path) {
            appeared.push(*path);
        }
    }
    let mut out: Vec<Difference> = changed
        .into_iter()
        .map(|p| Difference::Changed { path: p.into() })
        .collect();
    // A missing file whose content appeared under a new name was renamed.
    let mut unmatched_appeared = appeared.clone();
    for from in missing {
        let renamed_to = unmatched_appeared
            .iter()
            .position(|to| same(&expected[from], &found[to]));
        match renamed_to {
            Some(i) => {
                let to = unmatched_appeared.remove(i);
                out.push(Difference::Renamed {
                    from: from.into(),
                    to: to.into(),
                });
            }
            None => out.push(Difference::Missing { path: from.into() }),
        }
    }
    out.extend(
        unmatched_appeared
            .into_iter()
            .map(|p| Difference::Appeared { path: p.into() }),
    );
    out
}
