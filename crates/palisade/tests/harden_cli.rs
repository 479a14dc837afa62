//! `palisade harden`: hardened manifests pass restricted, keep their comments, and hardening is idempotent.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{palisade, path_str, tree};

const DEPLOYMENT: &str = "# Iris model server
apiVersion: apps/v1
kind: Deployment
metadata:
  name: iris
spec:
  template:
    metadata:
      labels: {app: iris}
    spec:
      # the model server
      containers:
        - name: server # gunicorn
          image: registry.example.com/ml/iris:1.0
          securityContext:
            readOnlyRootFilesystem: true
---
apiVersion: v1
kind: Service
metadata:
  name: iris
";

fn audit_restricted(text: &str) -> (i32, String) {
    let output = palisade()
        .args(["audit", "--level", "restricted", "--color", "never", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn hardened_manifests_pass_restricted_and_keep_comments() {
    assert_eq!(audit_restricted(DEPLOYMENT).0, 1);
    let dir = tree(&[("iris.yaml", DEPLOYMENT)]);
    let output = palisade()
        .args(["harden", &path_str(&dir, "iris.yaml")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let hardened = String::from_utf8(output.stdout).unwrap();
    for comment in [
        "# Iris model server",
        "# the model server",
        "- name: server # gunicorn",
    ] {
        assert!(hardened.contains(comment), "{comment} lost:\n{hardened}");
    }
    let (code, report) = audit_restricted(&hardened);
    assert_eq!(code, 0, "{report}\n{hardened}");
    assert!(hardened.contains("runAsUser: 65532"), "{hardened}");
    assert!(hardened.contains("mountPath: /tmp"), "{hardened}");
}

#[test]
fn in_place_is_idempotent_and_patches_are_json_patch() {
    let dir = tree(&[("iris.yaml", DEPLOYMENT)]);
    let file = path_str(&dir, "iris.yaml");
    let output = palisade()
        .args(["harden", "--patch", &file])
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(line["kind"], "Deployment");
    assert_eq!(line["name"], "iris");
    assert!(line["patch"]
        .as_array()
        .unwrap()
        .iter()
        .all(|op| op["op"] == "add"));
    assert!(palisade()
        .args(["harden", "-i", &file])
        .output()
        .unwrap()
        .status
        .success());
    let once = std::fs::read_to_string(&file).unwrap();
    assert_ne!(once, DEPLOYMENT);
    assert!(palisade()
        .args(["harden", "-i", &file])
        .output()
        .unwrap()
        .status
        .success());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), once);
    let output = palisade()
        .args(["harden", "--patch", &file])
        .output()
        .unwrap();
    assert!(output.stdout.is_empty(), "nothing left to patch");
}

#[test]
fn flow_style_is_re_emitted_and_still_hardened() {
    let flow = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n";
    let dir = tree(&[("pod.yaml", flow)]);
    let output = palisade()
        .args(["harden", &path_str(&dir, "pod.yaml")])
        .output()
        .unwrap();
    assert!(output.status.success());
    let hardened = String::from_utf8(output.stdout).unwrap();
    assert_eq!(audit_restricted(&hardened).0, 0, "{hardened}");
}

#[test]
fn broken_input_is_an_error() {
    let dir = tree(&[("bad.yaml", "kind: [\n")]);
    let output = palisade()
        .args(["harden", &path_str(&dir, "bad.yaml")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.yaml:2"));
}

const PRIVILEGED: &str = "apiVersion: v1
kind: Pod
metadata:
  name: gpu-debug
spec:
  hostNetwork: true
  containers:
  - name: debug
    image: registry.example.com/ml/debug:1
    securityContext:
      privileged: true
";

#[test]
fn hardening_11_harden_takes_directories_writes_block_yaml_and_says_what_it_left() {
    let dir = tree(&[("a/iris.yaml", DEPLOYMENT), ("b/debug.yaml", PRIVILEGED)]);
    let output = palisade()
        .args(["harden", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let hardened = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    // Both files, separated as documents, and what was added is block YAML like the rest.
    assert!(hardened.contains("# Iris model server"), "{hardened}");
    assert!(hardened.contains("name: gpu-debug"), "{hardened}");
    assert!(hardened.contains("\n---\n"), "{hardened}");
    assert!(hardened.contains("seccompProfile:\n"), "{hardened}");
    assert!(hardened.contains("type: RuntimeDefault"), "{hardened}");
    assert!(
        !hardened.contains("{\"") && !hardened.contains("[\""),
        "JSON-style flow written into block YAML:\n{hardened}"
    );
    // The iris Deployment now passes; the privileged pod cannot be fixed by hardening, and
    // standard error says so, finding by finding, with its fix.
    assert_eq!(
        audit_restricted(hardened.split("\n---\n").next().unwrap()).0,
        0
    );
    assert!(!stderr.contains("iris"), "{stderr}");
    assert!(
        stderr.contains("Pod gpu-debug still fails restricted"),
        "{stderr}"
    );
    for check in ["privileged", "hostNamespaces"] {
        assert!(stderr.contains(check), "{check} not reported:\n{stderr}");
    }
    assert!(stderr.contains("fix: "), "{stderr}");
}
