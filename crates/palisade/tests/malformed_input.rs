//! Bad input is an error naming the file (and line), exit code 2, never a crash or a silent pass;
//! the good objects beside it are still reported.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{audit_json, palisade, path_str, tree};
use predicates::prelude::*;
use rstest::rstest;

const GOOD_VIOLATION: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: good}\nspec:\n  containers: [{name: c, securityContext: {privileged: true}}]\n";

#[rstest]
#[case::bad_yaml(
    "apiVersion: v1\nkind: Pod\nspec:\n  containers: [{name: c\n",
    Some(5),
    ""
)]
#[case::tab_indentation("apiVersion: v1\nkind: Pod\nspec:\n\tcontainers: []\n", Some(4), "")]
#[case::scalar_document("just a string\n", Some(1), "not a Kubernetes object")]
#[case::list_document(
    "- apiVersion: v1\n  kind: Pod\n",
    Some(1),
    "is a sequence, not a Kubernetes object"
)]
#[case::no_kind("apiVersion: v1\nmetadata: {name: x}\n", Some(1), "has no kind")]
#[case::deployment_without_template(
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: 1\n",
    Some(4),
    "Deployment has no pod spec at spec.template.spec"
)]
#[case::pod_without_spec(
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    Some(1),
    "Pod has no pod spec at spec"
)]
#[case::wrong_type("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    securityContext:\n      privileged: maybe\n", Some(8), "spec.containers[0].securityContext.privileged: invalid type: string \"maybe\", expected a boolean")]
#[case::duplicate_key("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n  hostPID: false\n  hostPID: true\n", Some(7), "duplicate key \"hostPID\"")]
#[case::empty_file("", None, "contains no Kubernetes objects")]
#[case::only_comments("# nothing here\n---\n", None, "contains no Kubernetes objects")]
#[case::metadata_not_a_map(
    "apiVersion: v1\nkind: Pod\nmetadata: [a]\nspec: {containers: []}\n",
    Some(3),
    "metadata"
)]
#[case::alias_bomb(concat!(
    "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"), Some(4), "alias bomb")] // go-yaml's alias ratio, at d
fn malformed_documents_are_errors_with_file_and_line(
    #[case] text: &str,
    #[case] line: Option<u64>,
    #[case] message: &str,
) {
    let dir = tree(&[("bad.yaml", text), ("good.yaml", GOOD_VIOLATION)]);
    let (code, report) = audit_json(&[
        "--level",
        "baseline",
        &path_str(&dir, "bad.yaml"),
        &path_str(&dir, "good.yaml"),
    ]);
    assert_eq!(code, 2, "{report:#}");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report:#}");
    assert_eq!(errors[0]["file"], path_str(&dir, "bad.yaml"));
    assert_eq!(errors[0]["line"].as_u64(), line, "{report:#}");
    assert!(
        errors[0]["message"].as_str().unwrap().contains(message),
        "{report:#}"
    );
    // The other file is still audited.
    assert_eq!(report["findings"][0]["name"], "good");
}

#[test]
fn binary_junk_is_rejected_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.yaml");
    let mut junk = b"apiVersion: v1\n".to_vec();
    junk.extend((0u8..=255).rev().cycle().take(4096));
    std::fs::write(&path, &junk).unwrap();
    palisade()
        .args(["audit", &path.display().to_string()])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("model.yaml").and(predicate::str::contains("offset 15")));
}

#[test]
fn a_missing_path_is_an_error() {
    palisade()
        .args(["audit", "no/such/file.yaml"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("no/such/file.yaml: cannot read"));
}

#[test]
fn deep_nesting_does_not_crash() {
    let dir = tree(&[("deep.yaml", &format!("a: {}", "[".repeat(200_000)))]);
    palisade()
        .args(["audit", &path_str(&dir, "deep.yaml")])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("deep.yaml:1"));
}

#[test]
fn invalid_flags_exit_2() {
    palisade()
        .args(["audit", "--level", "strict", "x.yaml"])
        .assert()
        .code(2);
    palisade()
        .args(["audit", "--version", "1.29", "examples"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--version"));
}
