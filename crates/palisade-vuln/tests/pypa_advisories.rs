//! The real PyPA advisories in `shared/vulndata/pypa-advisories` (OSV in YAML): every record
//! imports, the range logic agrees with each record's own list of affected versions, and the
//! packages of the ML model-server image match exactly the records that list their versions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use palisade_vuln::matcher::in_range_of;
use palisade_vuln::{matches, Ecosystem, Record};

fn records() -> Vec<(String, Record)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/vulndata/pypa-advisories/vulns");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the advisories are required at {}: {e}", dir.display()))
        .flat_map(|package| std::fs::read_dir(package.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name: Arc<str> = Arc::from(path.display().to_string());
            let record = Record::parse(&name, &std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{e}"));
            (path.display().to_string(), record)
        })
        .collect()
}

#[test]
fn every_record_imports() {
    let records = records();
    assert_eq!(records.len(), 121);
    assert!(records
        .iter()
        .all(|(_, r)| r.id.starts_with("PYSEC-") || r.id.starts_with("GHSA-")));
}

#[test]
fn ranges_agree_with_the_listed_versions() {
    let mut checked = 0;
    for (path, record) in records() {
        for affected in &record.affected {
            let ranges: Vec<_> = affected
                .ranges
                .iter()
                .filter(|r| r.kind == "ECOSYSTEM")
                .collect();
            if ranges.is_empty() {
                continue;
            }
            for version in &affected.versions {
                assert!(
                    ranges
                        .iter()
                        .any(|r| in_range_of(r, Ecosystem::PyPI, version).is_some()),
                    "{path}: listed version {version} is outside every range"
                );
                checked += 1;
            }
            // A fixed version is not affected, unless another range or the list says it is.
            for range in &ranges {
                for fixed in range.events.iter().filter_map(|e| e.fixed.as_deref()) {
                    if affected.versions.iter().any(|v| v == fixed) {
                        continue;
                    }
                    assert!(
                        ranges
                            .iter()
                            .all(|r| in_range_of(r, Ecosystem::PyPI, fixed).is_none()),
                        "{path}: fixed version {fixed} reported as affected"
                    );
                }
            }
        }
    }
    assert!(checked > 5_000, "only {checked} listed versions checked");
}

#[test]
fn model_server_packages_match_the_records_that_list_them() {
    let records = records();
    // The image from shared/tools/build-ml-image.sh. (This 2024-10 PYSEC subset has no record for
    // jinja2 3.1.2 or scikit-learn 1.3.2: their 2024 advisories are GHSA-only; the expected sets are
    // still derived from the data and checked, empty.)
    for (package, version) in [
        ("flask", "2.2.2"),
        ("werkzeug", "2.2.2"),
        ("Jinja2", "3.1.2"),
        ("scikit_learn", "1.3.2"),
        ("numpy", "1.26.4"),
        ("joblib", "1.3.2"),
    ] {
        let wanted = Ecosystem::PyPI.normalize_name(package);
        let expected: BTreeSet<String> = records
            .iter()
            .filter(|(_, r)| {
                r.affected.iter().any(|a| {
                    a.package
                        .as_ref()
                        .is_some_and(|p| Ecosystem::PyPI.normalize_name(&p.name) == wanted)
                        && a.versions.iter().any(|v| v == version)
                })
            })
            .map(|(_, r)| r.id.clone())
            .collect();
        let found: BTreeSet<String> = records
            .iter()
            .filter_map(|(_, r)| matches(r, Ecosystem::PyPI, package, version))
            .map(|m| m.id)
            .collect();
        assert_eq!(found, expected, "{package} {version}");
        if ["werkzeug", "flask"].contains(&wanted.as_str()) {
            assert!(
                !found.is_empty(),
                "{package} {version} has known advisories"
            );
        }
    }
    // Advice: the fix for werkzeug 2.2.2's advisories.
    let fixes: BTreeSet<String> = records
        .iter()
        .filter_map(|(_, r)| matches(r, Ecosystem::PyPI, "werkzeug", "2.2.2"))
        .filter_map(|m| m.fixed)
        .collect();
    assert!(fixes.contains("2.2.3"), "{fixes:?}");
}

#[test]
fn malformed_records_name_file_and_line() {
    let file: Arc<str> = Arc::from("bad.yaml");
    let err = Record::parse(&file, "id: X\naffected:\n- package: {name: a, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - {introduced: '0', fixed: '1.0'}\n").unwrap_err();
    assert_eq!(err.line, Some(7), "{err}");
    let err = Record::parse(&file, "id: X\naffected: 5\n").unwrap_err();
    assert_eq!(err.line, Some(2), "{err}");
}
