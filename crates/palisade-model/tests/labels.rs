//! The labelled corpus in `../shared/conformance/model/LABELS.tsv` (beside this repository):
//! every file labelled M (executes code when loaded by its normal loader) must yield at least one
//! Dangerous finding, and no file labelled B (benign) may. Files labelled S (inert but
//! suspicious) are counted, not asserted.
//!
//! Nothing here loads a model: the files are only read by the scanner.

use std::path::{Path, PathBuf};

use palisade_model::{scan_path, ScanOptions, Severity};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/model")
}

#[test]
fn labelled_corpus() {
    let root = corpus();
    let labels = match std::fs::read_to_string(root.join("LABELS.tsv")) {
        Ok(labels) => labels,
        Err(e) => {
            // The corpus sits beside the repository, as it does in CI; without it there is
            // nothing to check, which must not look like a pass.
            panic!("cannot read {}: {e}", root.join("LABELS.tsv").display());
        }
    };
    let options = ScanOptions {
        parallel: false,
        ..ScanOptions::default()
    };
    // LABELS_VERBOSE=1 prints every file's format and findings.
    let verbose = std::env::var_os("LABELS_VERBOSE").is_some();
    let (mut m_total, mut m_flagged, mut b_total, mut b_clean, mut s_total, mut s_flagged) =
        (0, 0, 0, 0, 0, 0);
    let mut misses = Vec::new();
    for line in labels.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let (Some(path), Some(label)) = (fields.next(), fields.next()) else {
            panic!("malformed line in LABELS.tsv: {line:?}");
        };
        let outcome = scan_path(&root.join(path), &options);
        assert!(
            outcome.read_errors.is_empty(),
            "{path}: read errors {:?}",
            outcome.read_errors
        );
        let dangerous = outcome
            .findings
            .iter()
            .any(|f| f.severity == Severity::Dangerous);
        let suspicious = outcome
            .findings
            .iter()
            .any(|f| f.severity >= Severity::Suspicious);
        let format = outcome
            .files
            .first()
            .map(|f| f.format.clone())
            .unwrap_or_default();
        if verbose {
            println!("{label} {path} [{format}] {:?}", rules(&outcome.findings));
        }
        match label {
            "M" => {
                m_total += 1;
                if dangerous {
                    m_flagged += 1;
                } else {
                    misses.push(format!(
                        "M not flagged Dangerous: {path} [{format}] {:?}",
                        rules(&outcome.findings)
                    ));
                }
            }
            "B" => {
                b_total += 1;
                if dangerous {
                    misses.push(format!(
                        "B flagged Dangerous: {path} [{format}] {:?}",
                        rules(&outcome.findings)
                    ));
                } else {
                    b_clean += 1;
                }
            }
            "S" => {
                s_total += 1;
                if suspicious {
                    s_flagged += 1;
                }
            }
            other => panic!("unknown label {other:?} for {path}"),
        }
    }
    println!("M flagged Dangerous: {m_flagged}/{m_total}");
    println!("B without Dangerous: {b_clean}/{b_total}");
    println!("S flagged Suspicious or worse: {s_flagged}/{s_total}");
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(
        m_total > 0 && b_total > 0,
        "LABELS.tsv lists no M or no B files"
    );
    assert!(
        misses.is_empty(),
        "{} of {} labelled files misjudged",
        misses.len(),
        m_total + b_total
    );
}

fn rules(findings: &[palisade_model::Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{}:{}", f.rule, f.severity))
        .collect()
}
