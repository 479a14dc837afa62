//! Custom policies enforced by the real `palisade webhook` over HTTPS: the bundled example's
//! rules (examples/policies) as a ValidatingAdmissionPolicy and as a Kyverno ValidatingPolicy,
//! configured with `policies:`; Deny, Warn and Audit answered as the API server answers them, a
//! policy file edited on disk picked up without a restart, a broken edit kept out (and counted),
//! and a policy that does not compile stopping the webhook at start.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod webhook_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use webhook_support::{make_certs, pod_review, review, Webhook};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies")
}

/// Pod Security is not what these tests are about: every pod is admitted by it.
fn config(policies: &[&Path]) -> String {
    let mut c = String::from("podSecurity:\n  level: privileged\npolicies:\n");
    for p in policies {
        c.push_str(&format!("- {}\n", p.display()));
    }
    c
}

fn pod(name: &str, labels: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml-iris", "labels": labels, "annotations": annotations},
        "spec": {"containers": [{"name": "server", "image": "registry.example/iris:1.0"}]}
    })
}

fn response(webhook: &Webhook, review: &Value) -> Value {
    let (status, body) = webhook.post("/validate", review);
    assert_eq!(status, 200, "{body}");
    body["response"].clone()
}

#[test]
fn the_examples_rules_are_enforced_in_both_forms() {
    let vap = examples().join("require-team-label.vap.yaml");
    let vpol = examples().join("require-team-label.vpol.yaml");
    let webhook = Webhook::start(&config(&[&vap, &vpol]), &[]);

    // A pod without a team label: denied by the ValidatingAdmissionPolicy, 403, named.
    let r = response(
        &webhook,
        &pod_review(
            "1",
            "ml-iris",
            &pod(
                "no-team",
                json!({}),
                json!({"palisade.dev/scan-report": "sha256:0"}),
            ),
        ),
    );
    assert_eq!(r["allowed"], false, "{r}");
    assert_eq!(r["status"]["code"], 403);
    assert_eq!(r["status"]["reason"], "Forbidden");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message
            .starts_with("policy 'ml-serving-rules' denied request: missing required label team"),
        "{message}"
    );

    // A team the params ConfigMap does not list: the messageExpression's message.
    let r = response(
        &webhook,
        &pod_review(
            "2",
            "ml-iris",
            &pod(
                "finance",
                json!({"team": "finance"}),
                json!({"palisade.dev/scan-report": "sha256:0"}),
            ),
        ),
    );
    assert_eq!(r["allowed"], false);
    assert!(r["status"]["message"]
        .as_str()
        .unwrap()
        .contains("team finance is not one of data-science, ml-platform"));

    // A compliant pod: allowed, with the policy's audit annotation under POLICY/KEY.
    let r = response(
        &webhook,
        &pod_review(
            "3",
            "ml-iris",
            &pod(
                "good",
                json!({"team": "data-science"}),
                json!({"palisade.dev/scan-report": "sha256:0"}),
            ),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(
        r["auditAnnotations"]["ml-serving-rules/team"],
        "data-science"
    );

    // A DaemonSet: outside the VAP's resources, inside the Kyverno policy's autogen.
    let ds = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "ml-iris"},
        "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {
            "metadata": {"labels": {"app": "a", "team": "data-science"}},
            "spec": {"containers": [{"name": "c", "image": "registry.example/agent:1"}]}}}
    });
    let r = response(
        &webhook,
        &review(
            "4",
            "CREATE",
            "apps",
            "DaemonSet",
            "daemonsets",
            "ml-iris",
            &ds,
        ),
    );
    assert_eq!(r["allowed"], false, "{r}");
    let message = r["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("policy 'ml-serving-rules-kyverno' (autogen) denied request: ")
            && message.contains("no scan report"),
        "{message}"
    );

    // kube-system is left out by the VAP's matchCondition; the Kyverno form still applies.
    let r = response(
        &webhook,
        &pod_review(
            "5",
            "kube-system",
            &json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "sys", "namespace": "kube-system", "labels": {"team": "x", "palisade.dev/scan-report": "y"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]}}),
        ),
    );
    assert_eq!(r["allowed"], true, "{r}");
}

/// Polls `check` on the webhook until it holds or 20 s pass.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not within 20 s: {what}");
}

#[test]
fn warn_and_audit_and_a_policy_edited_on_disk_is_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yaml");
    let original = std::fs::read_to_string(examples().join("require-team-label.vap.yaml")).unwrap();
    let warn_audit = original.replace(
        "validationActions: [Deny]",
        "validationActions: [Warn, Audit]",
    );
    assert_ne!(warn_audit, original);
    std::fs::write(&file, &warn_audit).unwrap();
    let webhook = Webhook::start(&config(&[dir.path()]), &["--cert-reload-ms", "200"]);
    let no_report = pod_review(
        "1",
        "ml-iris",
        &pod("p", json!({"team": "data-science"}), json!({})),
    );

    // Warn: admitted with the message as a warning; Audit: the API server's failure annotation.
    let r = response(&webhook, &no_report);
    assert_eq!(r["allowed"], true, "{r}");
    let warnings = r["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{r}");
    assert!(warnings[0]
        .as_str()
        .unwrap()
        .starts_with("Validation failed for policy 'ml-serving-rules': no scan report"));
    let failures: Value = serde_json::from_str(
        r["auditAnnotations"]["validation.policy.admission.k8s.io/validation_failure"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(failures[0]["policy"], "ml-serving-rules");
    assert_eq!(failures[0]["binding"], "ml-serving-rules");
    assert_eq!(failures[0]["validationActions"], json!(["Warn", "Audit"]));
    assert!(failures[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("no scan report"));
    assert_eq!(
        r["auditAnnotations"]["ml-serving-rules/team"],
        "data-science"
    );

    // An edit that does not compile: the policies in force stay, the failure is counted.
    std::fs::write(
        &file,
        warn_audit.replace(
            "expression: \"has(variables.meta.labels) && 'team' in variables.meta.labels\"",
            "expression: \"has(variables.meta.labels) && 'team' in\"",
        ),
    )
    .unwrap();
    eventually("the failed reload is counted", || {
        webhook
            .text("/metrics")
            .contains("palisade_webhook_policy_reloads_total{outcome=\"error\"} 1")
    });
    let r = response(&webhook, &no_report);
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(r["warnings"].as_array().map(Vec::len), Some(1));

    // The binding edited to Deny: picked up without a restart.
    std::fs::write(&file, &original).unwrap();
    eventually("the edited policy denies", || {
        response(&webhook, &no_report)["allowed"] == false
    });
    let r = response(&webhook, &no_report);
    assert!(r["status"]["message"]
        .as_str()
        .unwrap()
        .contains("no scan report"));
    assert!(webhook
        .text("/metrics")
        .contains("palisade_webhook_policy_reloads_total{outcome=\"ok\"} 1"));
}

#[test]
fn a_policy_that_does_not_compile_stops_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata:\n  name: broken\nspec:\n  validations:\n  - expression: \"object.metadata.name ==\"\n",
    )
    .unwrap();
    let config = dir.path().join("palisade.yaml");
    std::fs::write(&config, "policies: [bad.yaml]\n").unwrap();
    let out = webhook_support::command(dir.path(), "127.0.0.1:0")
        .args(["--namespaces", "config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml:1: policy broken: expression \"object.metadata.name ==\""),
        "{stderr}"
    );

    // A path that does not exist is a configuration error with its key and line.
    std::fs::write(&config, "podSecurity: {}\npolicies:\n- missing/\n").unwrap();
    let out = webhook_support::command(dir.path(), "127.0.0.1:0")
        .args(["--namespaces", "config", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("palisade.yaml:3: policies[0]: cannot read"),
        "{stderr}"
    );
}
