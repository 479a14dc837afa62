//! `palisade audit` end to end: the real binary, its exit codes and its JSON contract.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::{audit_json, checks, palisade, path_str, tree};
use predicates::prelude::*;
use rstest::rstest;

#[test]
fn bundled_example_passes_restricted() {
    let (code, report) = audit_json(&[
        "--config",
        "examples/iris-model-server/palisade.yaml",
        "examples/iris-model-server/manifests",
    ]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
    assert_eq!(report["summary"]["evaluated"], 1);
    assert_eq!(report["summary"]["passed"], 1);
    assert_eq!(report["summary"]["skipped"]["Service"], 1);
    assert_eq!(report["summary"]["skipped"]["Namespace"], 1);
}

#[test]
fn insecure_example_violates_with_every_json_field() {
    let (code, report) = audit_json(&["examples/iris-model-server-insecure"]);
    assert_eq!(code, 1);
    let findings = report["findings"].as_array().unwrap();
    let privileged_user = findings
        .iter()
        .find(|f| f["check"] == "runAsUser")
        .expect("runAsUser finding");
    for field in [
        "file",
        "line",
        "document",
        "apiVersion",
        "kind",
        "namespace",
        "name",
        "container",
        "check",
        "level",
        "version",
        "reason",
        "detail",
        "message",
        "ruleId",
        "severity",
        "field",
        "hint",
    ] {
        assert!(
            privileged_user.get(field).is_some(),
            "missing {field}: {privileged_user:#}"
        );
    }
    assert_eq!(
        privileged_user["file"],
        "examples/iris-model-server-insecure/deployment.yaml"
    );
    assert_eq!(privileged_user["line"], 27);
    assert_eq!(privileged_user["document"], 1);
    assert_eq!(privileged_user["apiVersion"], "apps/v1");
    assert_eq!(privileged_user["kind"], "Deployment");
    assert_eq!(privileged_user["namespace"], "ml-iris");
    assert_eq!(privileged_user["name"], "iris-classifier");
    assert_eq!(privileged_user["container"], "server");
    assert_eq!(privileged_user["level"], "restricted");
    // The Namespace in the same input pins the version.
    assert_eq!(privileged_user["version"], "v1.33");
    assert_eq!(privileged_user["reason"], "runAsUser=0");
    assert_eq!(
        privileged_user["detail"],
        "container \"server\" must not set runAsUser=0"
    );
    assert_eq!(
        privileged_user["field"],
        "spec.template.spec.containers[0].securityContext.runAsUser"
    );
    assert!(privileged_user["message"].as_str().unwrap().starts_with("violates PodSecurity \"restricted:v1.33\": host namespaces (hostNetwork=true), allowPrivilegeEscalation != false"));
    let mut found = checks(&report);
    found.dedup();
    assert_eq!(
        found,
        [
            "hostNamespaces",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "restrictedVolumes",
            "runAsNonRoot",
            "runAsUser",
            "seccompProfile_restricted"
        ]
    );
}

const POD_SPEC: &str =
    "containers:\n- name: app\n  image: flask\n  securityContext:\n    privileged: true\n";

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

#[rstest]
#[case("v1", "Pod", "spec", "spec")]
#[case("v1", "PodTemplate", "template:\n  spec", "template.spec")]
#[case(
    "v1",
    "ReplicationController",
    "spec:\n  template:\n    spec",
    "spec.template.spec"
)]
#[case(
    "apps/v1",
    "ReplicaSet",
    "spec:\n  template:\n    spec",
    "spec.template.spec"
)]
#[case(
    "apps/v1",
    "Deployment",
    "spec:\n  template:\n    spec",
    "spec.template.spec"
)]
#[case(
    "apps/v1",
    "StatefulSet",
    "spec:\n  template:\n    spec",
    "spec.template.spec"
)]
#[case(
    "apps/v1",
    "DaemonSet",
    "spec:\n  template:\n    spec",
    "spec.template.spec"
)]
#[case(
    "batch/v1",
    "Job",
    "spec:\n  template:\n    spec",
    "spec.template.spec"
)]
#[case(
    "batch/v1",
    "CronJob",
    "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec",
    "spec.jobTemplate.spec.template.spec"
)]
fn every_workload_kind_is_evaluated(
    #[case] api_version: &str,
    #[case] kind: &str,
    #[case] nesting: &str,
    #[case] spec_path: &str,
) {
    let depth = nesting.lines().count() * 2;
    let text = format!(
        "apiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: w\n{nesting}:\n{}",
        indent(POD_SPEC, depth)
    );
    let dir = tree(&[("w.yaml", &text)]);
    let (code, report) = audit_json(&["--level", "baseline", &path_str(&dir, "w.yaml")]);
    assert_eq!(code, 1, "{text}\n{report:#}");
    let finding = &report["findings"][0];
    assert_eq!(finding["kind"], kind);
    assert_eq!(finding["check"], "privileged");
    assert_eq!(
        finding["field"],
        format!("{spec_path}.containers[0].securityContext.privileged")
    );
    assert_eq!(
        finding["line"],
        text.lines().position(|l| l.contains("privileged")).unwrap() + 1
    );
}

#[test]
fn kserve_inference_service_components_are_evaluated() {
    let isvc = r#"apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: iris
  namespace: models
spec:
  predictor:
    minReplicas: 1
    securityContext:
      runAsNonRoot: true
      seccompProfile: {type: RuntimeDefault}
    sklearn:
      storageUri: gs://models/iris
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL]}
  transformer:
    containers:
      - name: feast
        image: feast-transformer
        securityContext:
          privileged: true
"#;
    let dir = tree(&[("isvc.yaml", isvc)]);
    let (code, report) = audit_json(&[&path_str(&dir, "isvc.yaml")]);
    assert_eq!(code, 1, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    // The predictor's framework container is hardened; only the transformer fails.
    assert!(
        findings.iter().all(|f| f["component"] == "transformer"),
        "{report:#}"
    );
    let privileged = findings
        .iter()
        .find(|f| f["check"] == "privileged")
        .unwrap();
    assert_eq!(
        privileged["field"],
        "spec.transformer.containers[0].securityContext.privileged"
    );
    assert_eq!(privileged["container"], "feast");

    // An unhardened framework container is reported as KServe names it, at its own path.
    let bare = "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: iris}\nspec:\n  predictor:\n    sklearn:\n      storageUri: gs://m\n";
    let dir = tree(&[("isvc.yaml", bare)]);
    let (_, report) = audit_json(&[&path_str(&dir, "isvc.yaml")]);
    let ape = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "allowPrivilegeEscalation")
        .unwrap();
    assert_eq!(ape["container"], "kserve-container");
    assert_eq!(ape["component"], "predictor");
    assert_eq!(
        ape["field"],
        "spec.predictor.sklearn.securityContext.allowPrivilegeEscalation"
    );
}

#[test]
fn lists_json_and_multi_document_streams() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": {"hostPID": true, "containers": [{"name": "c"}]}},
  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}
]}"#;
    let multi = "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c}]}\n---\n# empty documents are skipped\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: c}\nspec:\n  hostIPC: true\n  containers: [{name: c}]\n";
    let dir = tree(&[("list.json", list), ("multi.yaml", multi)]);
    let (code, report) = audit_json(&[
        "--level",
        "baseline",
        &path_str(&dir, "list.json"),
        &path_str(&dir, "multi.yaml"),
    ]);
    assert_eq!(code, 1);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{report:#}");
    assert_eq!(
        (
            findings[0]["name"].as_str(),
            findings[0]["line"].as_u64(),
            findings[0]["document"].as_u64()
        ),
        (Some("a"), Some(2), Some(1))
    );
    assert_eq!(
        (
            findings[1]["name"].as_str(),
            findings[1]["line"].as_u64(),
            findings[1]["document"].as_u64()
        ),
        (Some("c"), Some(12), Some(3))
    );
    assert_eq!(report["summary"]["files"], 2);
    assert_eq!(report["summary"]["documents"], 4);
    assert_eq!(report["summary"]["objects"], 4);
    assert_eq!(report["summary"]["skipped"]["ConfigMap"], 1);
}

#[test]
fn reads_standard_input() {
    let output = palisade()
        .args(["audit", "--format", "json", "--level", "baseline", "-"])
        .write_stdin("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: c}]\n")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["findings"][0]["file"], "-");
    assert_eq!(report["findings"][0]["check"], "hostNamespaces");
}

#[test]
fn directories_are_searched_recursively_for_manifests_only() {
    let bad = "apiVersion: v1\nkind: Pod\nmetadata: {name: deep}\nspec:\n  containers: [{name: c, securityContext: {privileged: true}}]\n";
    let dir = tree(&[
        ("a/b/c/deep.yml", bad),
        ("a/notes.txt", "not yaml: ["),
        (".hidden/ignored.yaml", "not: [valid"),
        (
            "a/ok.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
        ),
    ]);
    let (code, report) = audit_json(&["--level", "baseline", &dir.path().display().to_string()]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["summary"]["files"], 2);
    assert_eq!(report["findings"][0]["name"], "deep");
    assert_eq!(report["errors"].as_array().unwrap().len(), 0);
}

const ROOT_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: team-a}\nspec:\n  containers: [{name: c, image: x}]\n";

#[test]
fn namespace_labels_set_the_level_even_after_the_workload() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels:\n    pod-security.kubernetes.io/enforce: baseline\n    pod-security.kubernetes.io/enforce-version: v1.30\n";
    let dir = tree(&[("1-pod.yaml", ROOT_POD), ("2-ns.yaml", ns)]);
    // The default (restricted) would fail this pod; the namespace says baseline, which passes it.
    let (code, report) = audit_json(&[&dir.path().display().to_string()]);
    assert_eq!(code, 0, "{report:#}");
    // Without the namespace, the default applies.
    let (code, report) = audit_json(&[&path_str(&dir, "1-pod.yaml")]);
    assert_eq!(code, 1);
    assert_eq!(report["findings"][0]["level"], "restricted");
    assert_eq!(report["findings"][0]["version"], "latest");
}

#[test]
fn invalid_namespace_labels_fall_back_to_restricted_latest() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-a\n  labels:\n    pod-security.kubernetes.io/enforce: strict\n    pod-security.kubernetes.io/enforce-version: \"1.30\"\n";
    let dir = tree(&[("all.yaml", &format!("{ns}---\n{ROOT_POD}"))]);
    let output = palisade()
        .args([
            "audit",
            "--format",
            "json",
            "--level",
            "privileged",
            &path_str(&dir, "all.yaml"),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["findings"][0]["level"], "restricted");
    assert_eq!(report["findings"][0]["version"], "latest");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("Invalid value: \"strict\": must be one of privileged, baseline, restricted"),
        "{stderr}"
    );
}

#[rstest]
#[case("v1.0", 0, &[])]
#[case("v1.8", 1, &["allowPrivilegeEscalation"])]
#[case("v1.19", 1, &["allowPrivilegeEscalation", "seccompProfile_restricted"])]
#[case("v1.22", 1, &["allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"])]
#[case("latest", 1, &["allowPrivilegeEscalation", "capabilities_restricted", "seccompProfile_restricted"])]
fn versions_change_what_restricted_requires(
    #[case] version: &str,
    #[case] code: i32,
    #[case] expected: &[&str],
) {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  securityContext: {runAsNonRoot: true}\n  containers: [{name: c, image: x}]\n";
    let dir = tree(&[("p.yaml", pod)]);
    let (got, report) = audit_json(&[
        "--level",
        "restricted",
        "--version",
        version,
        &path_str(&dir, "p.yaml"),
    ]);
    assert_eq!(got, code, "{report:#}");
    assert_eq!(checks(&report), expected);
}

#[test]
fn fail_on_sets_the_threshold() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n";
    let dir = tree(&[("p.yaml", pod)]);
    // Only restricted (medium) findings: below --fail-on high.
    let (code, report) = audit_json(&["--fail-on", "high", &path_str(&dir, "p.yaml")]);
    assert_eq!(code, 0);
    assert!(!report["findings"].as_array().unwrap().is_empty());
    let (code, _) = audit_json(&["--fail-on", "medium", &path_str(&dir, "p.yaml")]);
    assert_eq!(code, 1);
}

#[test]
fn config_file_exemptions_and_defaults() {
    let config = "apiVersion: palisade.dev/v1alpha1\nkind: PalisadeConfig\npodSecurity:\n  level: baseline\n  version: v1.30\n  exemptions:\n    namespaces: [kube-system]\n    runtimeClasses: [kata]\n";
    let privileged = |ns: &str, rc: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p-{ns}, namespace: {ns}}}\nspec:\n  runtimeClassName: {rc}\n  containers: [{{name: c, securityContext: {{privileged: true}}}}]\n")
    };
    let dir = tree(&[
        ("palisade.yaml", config),
        ("a.yaml", &privileged("kube-system", "runc")),
        ("b.yaml", &privileged("apps", "kata")),
        ("c.yaml", &privileged("apps", "runc")),
    ]);
    let (code, report) = audit_json(&[
        "--config",
        &path_str(&dir, "palisade.yaml"),
        &path_str(&dir, "a.yaml"),
        &path_str(&dir, "b.yaml"),
        &path_str(&dir, "c.yaml"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["exempt"], 2);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["name"], "p-apps");
    assert_eq!(findings[0]["level"], "baseline");
    assert_eq!(findings[0]["version"], "v1.30");
    // A flag overrides the file.
    let (_, report) = audit_json(&[
        "--config",
        &path_str(&dir, "palisade.yaml"),
        "--version",
        "v1.25",
        &path_str(&dir, "c.yaml"),
    ]);
    assert_eq!(report["findings"][0]["version"], "v1.25");
}

#[test]
fn invalid_config_names_the_key_and_exits_2() {
    let dir = tree(&[
        (
            "palisade.yaml",
            "podSecurity:\n  exemptions:\n    runtimeclasses: [kata]\n",
        ),
        ("p.yaml", ROOT_POD),
    ]);
    palisade()
        .args([
            "audit",
            "--config",
            &path_str(&dir, "palisade.yaml"),
            &path_str(&dir, "p.yaml"),
        ])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("palisade.yaml:3")
                .and(predicate::str::contains("runtimeclasses")),
        );
}

#[test]
fn environment_variables_are_fallbacks() {
    let dir = tree(&[("p.yaml", ROOT_POD)]);
    let output = palisade()
        .env("PALISADE_LEVEL", "baseline")
        .env("PALISADE_FORMAT", "json")
        .args(["audit", &path_str(&dir, "p.yaml")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["passed"], 1);
}

#[test]
fn host_network_defaults_host_ports_in_pods_only() {
    let spec = "  hostNetwork: true\n  containers: [{name: c, ports: [{containerPort: 8080}]}]\n";
    let pod = format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n{spec}");
    let deployment = format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n  template:\n    spec:\n{}", spec.lines().map(|l| format!("    {l}\n")).collect::<String>());
    let dir = tree(&[("pod.yaml", &pod), ("deploy.yaml", &deployment)]);
    let (_, report) = audit_json(&["--level", "baseline", &path_str(&dir, "pod.yaml")]);
    assert_eq!(checks(&report), ["hostNamespaces", "hostPorts"]);
    assert_eq!(
        report["findings"][1]["detail"],
        "container \"c\" uses hostPort 8080"
    );
    let (_, report) = audit_json(&["--level", "baseline", &path_str(&dir, "deploy.yaml")]);
    assert_eq!(checks(&report), ["hostNamespaces"]);
}

#[test]
fn ml_serving_rules_report_offline_in_every_mode() {
    let config = "rules:\n  requiredLabels: {mode: audit, labels: [team, model]}\n  allowedRegistries: {mode: warn, registries: [registry.example.com/ml]}\n  imageDigest: {mode: enforce}\n  noLatestTag: {}\n";
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {team: ds}\nspec:\n  containers:\n  - name: app\n    image: docker.io/library/flask\n  - name: ok\n    image: registry.example.com/ml/iris@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n";
    let dir = tree(&[("palisade.yaml", config), ("pod.yaml", pod)]);
    let (code, report) = audit_json(&[
        "--level",
        "privileged",
        "--config",
        &path_str(&dir, "palisade.yaml"),
        &path_str(&dir, "pod.yaml"),
    ]);
    assert_eq!(code, 1, "{report:#}");
    let findings = report["findings"].as_array().unwrap();
    let ids: Vec<&str> = findings
        .iter()
        .map(|f| f["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "palisade/required-labels",
            "palisade/allowed-registries",
            "palisade/image-digest",
            "palisade/no-latest-tag"
        ]
    );
    assert_eq!(findings[0]["field"], "metadata.labels");
    assert_eq!(findings[0]["detail"], "pod must carry label \"model\"");
    assert_eq!(findings[1]["field"], "spec.containers[0].image");
    assert_eq!(findings[1]["line"], 9);
    assert_eq!(findings[1]["container"], "app");
    assert!(findings[3]["message"]
        .as_str()
        .unwrap()
        .starts_with("violates palisade rules: missing required labels"));
}

#[test]
fn palisades_own_deployment_passes_restricted_and_its_config_is_valid() {
    let (code, report) = audit_json(&["--level", "restricted", "deploy"]);
    assert_eq!(code, 0, "{report:#}");
    // The webhook's Deployment and the controller's.
    assert_eq!(report["summary"]["passed"], 2);
    let (code, controller) = audit_json(&["--level", "restricted", "deploy/controller.yaml"]);
    assert_eq!(code, 0, "{controller:#}");
    assert_eq!(controller["summary"]["passed"], 1);
    assert_eq!(
        report["summary"]["skipped"]["ValidatingWebhookConfiguration"],
        1
    );
    // The ConfigMap's palisade.yaml is a valid configuration.
    let text = std::fs::read_to_string(common::root().join("deploy/config.yaml")).unwrap();
    let doc = palisade_core::yaml::documents(&text)
        .next()
        .unwrap()
        .unwrap();
    let config = doc
        .root
        .unwrap()
        .get("data")
        .unwrap()
        .get("palisade.yaml")
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    palisade_policy::Config::parse(std::sync::Arc::from("deploy/config.yaml"), &config).unwrap();
}

/// The controller's ClusterRole is least privilege: no wildcard, no Secrets, no update of what it
/// applies, and `escalate`/`bind` only for the owners' Role that render writes.
#[test]
fn the_controllers_cluster_role_is_least_privilege() {
    let text = std::fs::read_to_string(common::root().join("deploy/controller.yaml")).unwrap();
    let docs: Vec<_> = palisade_core::yaml::documents(&text)
        .map(|d| d.unwrap().root.unwrap().to_json())
        .collect();
    let role = docs
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let mut grants = std::collections::BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        for list in ["apiGroups", "resources", "verbs"] {
            assert!(
                !rule[list]
                    .as_array()
                    .unwrap()
                    .contains(&serde_json::json!("*")),
                "{rule}"
            );
        }
        for resource in rule["resources"].as_array().unwrap() {
            assert_ne!(resource, "secrets", "{rule}");
            for verb in rule["verbs"].as_array().unwrap() {
                let verb = verb.as_str().unwrap();
                assert!(
                    !["update", "deletecollection", "impersonate"].contains(&verb),
                    "{rule}"
                );
                if verb == "escalate" || verb == "bind" {
                    assert_eq!(
                        rule["resourceNames"],
                        serde_json::json!([palisade_team::render::OWNER_ROLE]),
                        "{rule}"
                    );
                }
                grants.insert(format!("{}/{verb}", resource.as_str().unwrap()));
            }
        }
    }
    for needed in [
        "teams/watch",
        "teams/status/patch",
        "networkpolicies/create",
        "networkpolicies/patch",
        "networkpolicies/delete",
        "namespaces/delete",
        "roles/escalate",
        "roles/bind",
        "pods/list",
    ] {
        assert!(grants.contains(needed), "{needed} in {grants:?}");
    }
    // The Lease and the Events are granted in one namespace each, not cluster-wide.
    let roles: Vec<_> = docs.iter().filter(|d| d["kind"] == "Role").collect();
    assert_eq!(roles.len(), 2);
    assert!(roles
        .iter()
        .any(|r| r["metadata"]["namespace"] == "palisade"
            && r["rules"][0]["resources"][0] == "leases"));
    assert!(roles
        .iter()
        .any(|r| r["metadata"]["namespace"] == "default"
            && r["rules"][0]["resources"][0] == "events"));
}

#[test]
fn an_unreadable_input_is_reported_on_standard_error_in_every_format() {
    let dir = tree(&[
        ("bad.yaml", "kind: [\n"),
        (
            "ok.yaml",
            "kind: Service\napiVersion: v1\nmetadata: {name: s}\n",
        ),
    ]);
    for format in ["table", "json", "sarif"] {
        let output = palisade()
            .args(["audit", "--format", format, dir.path().to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{format}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("bad.yaml:2"),
            "{format}: nothing on standard error: {stderr}"
        );
        // The report on standard output still carries it.
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("bad.yaml"),
            "{format}"
        );
    }
}
