//! `palisade team render` and `palisade team verify` on examples/teams (a platform with gateway and
//! monitoring, a shared cache, fraud, recsys and an isolated team), run as the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{palisade, pinned, root, Redact};

const CONFIG: &str = "examples/teams/palisade.yaml";
const TEAMS: &str = "examples/teams/teams";

/// A directory with the rendered objects (one file per team) and the example workloads.
fn rendered_with_workloads() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rendered");
    palisade()
        .args(["team", "render", "--config", CONFIG, TEAMS, "--out"])
        .arg(&out)
        .assert()
        .success();
    for entry in std::fs::read_dir(root().join("examples/teams/workloads")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn verify(teams: &Path, dir: &Path) -> (i32, String) {
    let output = palisade()
        .args(["team", "verify", "--config", CONFIG])
        .arg(teams)
        .arg(dir)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[test]
fn render_output_is_pinned_and_the_same_every_run() {
    let first = palisade()
        .args(["team", "render", "--config", CONFIG, TEAMS])
        .output()
        .unwrap();
    let second = palisade()
        .args(["team", "render", "--config", CONFIG, TEAMS])
        .output()
        .unwrap();
    assert_eq!(first.stdout, second.stdout);
    insta::assert_snapshot!("team_render_example", pinned(&first, &Redact::new()));
}

#[test]
fn render_output_passes_the_restricted_audit() {
    let dir = tempfile::tempdir().unwrap();
    palisade()
        .args(["team", "render", "--config", CONFIG, TEAMS, "-o"])
        .arg(dir.path().join("all.yaml"))
        .assert()
        .success();
    palisade()
        .args(["audit", "--level", "restricted"])
        .arg(dir.path())
        .assert()
        .code(0);
}

#[test]
fn rendered_objects_with_workloads_keep_every_guardrail() {
    let dir = rendered_with_workloads();
    let (code, stdout) = verify(&root().join(TEAMS), dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with("every guardrail holds (4 teams, 5 namespaces"),
        "{stdout}"
    );
}

#[test]
fn a_missing_default_deny_fails_verify() {
    let dir = rendered_with_workloads();
    let file = dir.path().join("rendered/recsys.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let docs: Vec<&str> = text
        .split("---\n")
        .filter(|d| !d.contains("name: default-deny"))
        .collect();
    assert_eq!(docs.len(), text.split("---\n").count() - 1);
    std::fs::write(&file, docs.join("---\n")).unwrap();
    let (code, stdout) = verify(&root().join(TEAMS), dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("[team/default-deny] team recsys: namespace recsys has no default-deny"),
        "{stdout}"
    );
}

#[test]
fn a_one_sided_declaration_fails_verify() {
    let dir = rendered_with_workloads();
    // recsys withdraws its egress to fraud; fraud still accepts it, and the manifests allow it.
    let teams = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join(TEAMS)).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("      - {to: {team: fraud}, ports: [8080]}\n", "");
        std::fs::write(teams.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let (code, stdout) = verify(teams.path(), dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("[team/connection] team recsys: recsys/ranker[Deployment] => fraud/scorer[Deployment] : TCP 8080 is allowed: team fraud declares ingress from recsys, but team recsys declares no egress to fraud"),
        "{stdout}"
    );
}

#[test]
fn an_owner_granted_edit_fails_verify() {
    let dir = rendered_with_workloads();
    std::fs::write(
        dir.path().join("oops.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: fraud-edit, namespace: fraud}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\nsubjects:\n  - {kind: Group, name: fraud-ds, apiGroup: rbac.authorization.k8s.io}\n",
    )
    .unwrap();
    let (code, stdout) = verify(&root().join(TEAMS), dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("oops.yaml:4: HIGH [team/rbac] team fraud: owner Group fraud-ds may write guardrails in fraud (RoleBinding fraud/fraud-edit binds it to ClusterRole edit"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("1 violation (4 teams, 5 namespaces, 8 workloads compared)\n"),
        "{stdout}"
    );
}

#[test]
fn violations_are_reported_as_json_and_sarif_with_file_line_and_fix() {
    let dir = rendered_with_workloads();
    std::fs::write(
        dir.path().join("oops.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: fraud-edit, namespace: fraud}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\nsubjects:\n  - {kind: Group, name: fraud-ds, apiGroup: rbac.authorization.k8s.io}\n",
    )
    .unwrap();
    let run = |format: &str| {
        let output = palisade()
            .args(["team", "verify", "--config", CONFIG, "-f", format, TEAMS])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let json = run("json");
    let finding = &json["findings"][0];
    assert_eq!(json["summary"]["findings"], 1, "{json}");
    assert_eq!(finding["code"], "team/rbac");
    assert_eq!(finding["severity"], "high");
    assert_eq!(finding["line"], 4);
    assert_eq!(finding["team"], "fraud");
    assert!(finding["file"].as_str().unwrap().ends_with("oops.yaml"));
    assert!(finding["fix"]
        .as_str()
        .unwrap()
        .contains("palisade-team-owner"));
    let sarif = run("sarif");
    let run0 = &sarif["runs"][0];
    assert_eq!(run0["tool"]["driver"]["rules"][0]["id"], "team/rbac");
    assert_eq!(run0["results"][0]["ruleIndex"], 0);
    assert_eq!(
        run0["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        4
    );
}

#[test]
fn an_invalid_team_is_bad_input() {
    let teams = common::tree(&[(
        "bad.yaml",
        "apiVersion: palisade.dev/v1alpha1\nkind: Team\nmetadata: {name: bad}\nspec:\n  namespaces: [bad]\n  podSecurity: {level: baseline}\n",
    )]);
    let output = palisade()
        .args(["team", "render", "--config", CONFIG])
        .arg(teams.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("bad.yaml:6: spec.podSecurity.level: baseline is looser than the platform's floor, restricted"),
        "{stderr}"
    );
}
