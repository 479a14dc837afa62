//! Runs the shared policy corpus (gatekeeper-library, Kyverno policies and CLI tests) through the
//! test runner and prints every expectation that does not hold.

use std::path::{Path, PathBuf};

use palisade_policy_engine::testing::{is_test_file, run_file, Status, Summary};

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/policies");
    p.is_dir().then_some(p)
}

#[test]
fn corpus_expectations_hold() {
    let Some(root) = corpus() else {
        eprintln!("corpus not found; skipped");
        return;
    };
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && is_test_file(e.path()))
        .map(|e| e.into_path())
        .collect();
    files.sort();
    let mut summary = Summary::default();
    for f in &files {
        let r = run_file(f, &read);
        summary.add(&r);
        if let Some(e) = &r.error {
            println!("SUITE ERROR {}: {e}", r.file);
        }
        for e in &r.expectations {
            if e.status != Status::Passed {
                println!(
                    "{:?} {} :: {}: expected {} got {} ({})",
                    e.status,
                    r.file.trim_start_matches(&root.display().to_string()),
                    e.name,
                    e.expected,
                    e.actual,
                    e.detail
                );
            }
        }
    }
    println!("{} suites; {summary:?}", files.len());
    assert_eq!(files.len(), 113);
    // Skipped: 5 expectations of allowed-base-images read image metadata from a registry
    // (image.GetMetadata). gatekeeper-library horizontalpodautoscaler's
    // example-disallowed-hpa-replicas has six %v for five arguments: it passes on OPA's sprintf
    // (Go's fmt, %!v(MISSING)), which replaces regorus' in every template's engine.
    assert_eq!(
        summary,
        Summary {
            passed: 2117,
            failed: 0,
            errors: 0,
            skipped: 5
        }
    );
}

/// The bundled example's test file, every expectation of which holds (among them a kube-system
/// pod the VAP's matchCondition skips, whatever params the binding selects).
#[test]
fn bundled_example_expectations_hold() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policies/tests/kyverno-test.yaml");
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let r = run_file(&file, &read);
    assert_eq!(r.error, None);
    for e in &r.expectations {
        assert_eq!(e.status, Status::Passed, "{e:?}");
    }
    assert!(r
        .expectations
        .iter()
        .any(|e| e.name.ends_with("/kube-system/system-pod") && e.actual == "skip"));
}
