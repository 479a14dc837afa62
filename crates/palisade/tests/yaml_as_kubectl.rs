//! `palisade audit` reads manifests as kubectl does (sigs.k8s.io/yaml: go-yaml v2, then JSON), so a
//! manifest cannot mean one thing to the checks and another to the cluster; what it cannot read as
//! kubectl would is refused with exit 2 naming file and line. Issue 12, items 4 and 5.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{audit_json, checks, path_str, tree};

const IMAGE: &str =
    "r.example/m@sha256:0000000000000000000000000000000000000000000000000000000000000000";

fn pod(security_context: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n  - name: c\n    image: {IMAGE}\n    securityContext:\n{security_context}"
    )
}

#[test]
fn hardening_04_audit_denies_the_merge_key_privileged_pod_as_kubectl_reads_it() {
    // kubectl applies the merge after the explicit key: privileged is true.
    let merged = pod("      privileged: false\n      <<: {privileged: true}\n");
    let anchored =
        pod("      privileged: false\n      <<: [&priv {privileged: true}, {privileged: false}]\n");
    let quoted = pod("      privileged: false\n      \"<<\": {privileged: true}\n");
    let dir = tree(&[
        ("merged.yaml", &merged),
        ("anchored.yaml", &anchored),
        ("quoted.yaml", &quoted),
    ]);
    let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, "merged.yaml")]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(checks(&report), ["privileged"], "{report:#}");
    assert_eq!(report["findings"][0]["file"], path_str(&dir, "merged.yaml"));

    // In a merged list the first mapping wins.
    let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, "anchored.yaml")]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(checks(&report), ["privileged"], "{report:#}");

    // A quoted "<<" is an ordinary key (the API server drops it as an unknown field).
    let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, "quoted.yaml")]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn hardening_04_audit_reads_numbers_and_booleans_as_the_api_server_receives_them() {
    let cases = [
        ("float.yaml", "      runAsUser: 0.0\n"),
        ("exponent.yaml", "      runAsUser: 0e0\n"),
        ("float_tag.yaml", "      runAsUser: !!float 0.0\n"),
        ("int_tag.yaml", "      runAsUser: !!int '0'\n"),
    ];
    let files: Vec<(&str, String)> = cases
        .iter()
        .map(|(name, sc)| {
            (
                *name,
                pod(&format!("      runAsNonRoot: true\n      allowPrivilegeEscalation: false\n      capabilities: {{drop: [ALL]}}\n      seccompProfile: {{type: RuntimeDefault}}\n{sc}")),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let dir = tree(&borrowed);
    for (name, _) in cases {
        let (code, report) = audit_json(&["--level", "restricted", &path_str(&dir, name)]);
        assert_eq!(code, 1, "{name}: {report:#}");
        assert_eq!(checks(&report), ["runAsUser"], "{name}: {report:#}");
    }
    let quoted_bool = pod("      privileged: !!bool \"true\"\n");
    let dir = tree(&[("bool.yaml", &quoted_bool)]);
    let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, "bool.yaml")]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(checks(&report), ["privileged"], "{report:#}");
}

#[test]
fn hardening_04_audit_reads_a_tab_inside_a_flow_sequence() {
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  hostPID: true\n  containers:\n  - name: c\n    image: {IMAGE}\n    args:\n      [\n\t        \"-jar\",\t\"x.jar\",\n      ]\n"
    );
    let dir = tree(&[("tab.yaml", &text)]);
    let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, "tab.yaml")]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(checks(&report), ["hostNamespaces"], "{report:#}");
}

#[test]
fn hardening_04_audit_refuses_what_it_cannot_read_as_kubectl_with_exit_2() {
    let cases = [
        (
            "inf.yaml",
            pod("      runAsUser: .inf\n"),
            9,
            "cannot be written as JSON",
        ),
        (
            "tag.yaml",
            pod("      privileged: !!bool 1\n"),
            9,
            "as a !!bool",
        ),
        (
            "keys.yaml",
            pod("      privileged: false\n      <<: {1: x}\n      \"1\": y\n"),
            11,
            "kubectl keeps one of them at random",
        ),
        (
            "merge.yaml",
            pod("      <<: [{privileged: true}, x]\n"),
            9,
            "map merge requires map",
        ),
    ];
    for (name, text, line, message) in cases {
        let dir = tree(&[(name, &text)]);
        let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, name)]);
        assert_eq!(code, 2, "{name}: {report:#}");
        let error = &report["errors"][0];
        assert_eq!(error["file"], path_str(&dir, name), "{report:#}");
        assert_eq!(error["line"], line, "{name}: {report:#}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{name}: {report:#}"
        );
    }
}

#[test]
fn hardening_05_audit_refuses_a_scalar_aliased_into_gigabytes_without_allocating_them() {
    let big = "x".repeat(1_000_000);
    let aliases = vec!["*a"; 100_000].join(",");
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bomb}}\ndata:\n  a: &a \"{big}\"\n  b: [{aliases}]\n"
    );
    let dir = tree(&[("bomb.yaml", &text)]);
    let started = std::time::Instant::now();
    let (code, report) = audit_json(&[&path_str(&dir, "bomb.yaml")]);
    assert_eq!(code, 2, "{report:#}");
    let error = &report["errors"][0];
    assert_eq!(error["line"], 6, "{report:#}");
    assert!(
        error["message"].as_str().unwrap().contains("alias bomb"),
        "{report:#}"
    );
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

#[test]
fn hardening_05_audit_reads_a_json_list_larger_than_the_old_node_limit() {
    // 120,000 pods of 19 nodes each: over the 2,000,000 nodes per document once allowed.
    let items: Vec<String> = (0..120_000)
        .map(|i| format!(r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p{i}"}},"spec":{{"containers":[{{"name":"c","image":"{IMAGE}"}}]}}}}"#))
        .collect();
    let list = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        items.join(",")
    );
    let dir = tree(&[("pods.json", &list)]);
    let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, "pods.json")]);
    assert_eq!(code, 0, "{}", report["errors"]);
    assert_eq!(report["summary"]["objects"], 120_000);
}
