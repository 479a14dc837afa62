//! `palisade policy test` over the shared policy corpus (gatekeeper-library general suites, Kyverno
//! pod-security and best-practices policies in validate.cel and ValidatingPolicy form, the Kyverno
//! CLI's ValidatingPolicy tests) and over palisade's own examples, run through the real binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn corpus() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/policies");
    p.is_dir().then_some(p)
}

fn palisade() -> Command {
    Command::cargo_bin("palisade").expect("the palisade binary is built")
}

#[test]
fn corpus_counts_are_exact() {
    let Some(root) = corpus() else {
        eprintln!("policy corpus not found beside the repository; skipped");
        return;
    };
    let out = palisade()
        .args(["policy", "test", "--format", "json"])
        .arg(&root)
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    // 2,122 expectations in 113 suites. Skipped (need the network): the 5 of the Kyverno CLI's
    // allowed-base-images test, whose policy reads image metadata from a registry
    // (image.GetMetadata). gatekeeper-library horizontalpodautoscaler's
    // example-disallowed-hpa-replicas (six %v for five arguments) holds on OPA's sprintf, which
    // prints %!v(MISSING).
    assert_eq!(
        report["summary"],
        serde_json::json!({"passed": 2117, "failed": 0, "errors": 0, "skipped": 5})
    );
    assert_eq!(report["suites"].as_array().map(Vec::len), Some(113));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn examples_hold_and_one_test_file_is_a_path() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies");
    palisade()
        .args(["policy", "test"])
        .arg(root.join("tests/kyverno-test.yaml"))
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "11 passed, 0 failed, 0 errors, 0 skipped",
        ));
}

#[test]
fn unreadable_suite_exits_2() {
    palisade()
        .args(["policy", "test", "/nonexistent/suite.yaml"])
        .assert()
        .code(2);
}

#[test]
fn audit_reports_custom_policy_findings_with_rule_id_and_line() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = palisade()
        .current_dir(&root)
        .args([
            "audit",
            "--format",
            "json",
            "--policy",
            "examples/policies/require-team-label.vap.yaml",
            "examples/iris-model-server-insecure",
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"ruleId\":\"ml-serving-rules/ml-serving-rules\""),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_policy_that_does_not_compile_names_file_line_and_expression() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: broken\nspec:\n  validations:\n  - expression: \"object.metadata.name ==\"\n",
    )
    .expect("write");
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/iris-model-server/manifests");
    palisade()
        .arg("audit")
        .arg("--policy")
        .arg(&bad)
        .arg(root)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "bad.yaml:1: policy broken: expression",
        ));
}

/// `audit --policy` checks every object in the audit's one pass, in every format: a Service
/// (which runs no pods) only a custom policy flags is reported; an item of a `List` is reported
/// at its own line; a binding's namespaceSelector sees the Namespace objects of the inputs
/// (`dev` is not selected, `prod` is) and `namespaceObject` is the object's Namespace.
#[test]
fn audit_with_custom_policies_in_every_format() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/audit-policy");
    for format in ["table", "json", "sarif"] {
        let out = palisade()
            .current_dir(&fixtures)
            .args([
                "audit", "--level", "baseline", "--color", "never", "-f", format,
            ])
            .args(["--policy", "policies", "inputs"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let text =
            String::from_utf8_lossy(&out.stdout).replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
        insta::assert_snapshot!(format!("audit_custom_policies_{format}"), text);
    }
}
