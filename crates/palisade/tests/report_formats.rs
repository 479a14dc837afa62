//! The report formats, snapshotted on the bundled insecure example, plus the structural rules
//! GitHub code scanning applies to SARIF.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::palisade;

fn report(format: &str) -> String {
    let output = palisade()
        .args([
            "audit",
            "--color",
            "never",
            "--format",
            format,
            "examples/iris-model-server-insecure",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn table_report() {
    insta::assert_snapshot!(report("table"));
}

#[test]
fn json_report() {
    let json: serde_json::Value = serde_json::from_str(&report("json")).unwrap();
    insta::assert_json_snapshot!(json);
}

#[test]
fn sarif_report() {
    let sarif: serde_json::Value = serde_json::from_str(&report("sarif")).unwrap();
    insta::assert_json_snapshot!(sarif);
}

#[test]
fn sarif_meets_code_scanning_requirements() {
    let sarif: serde_json::Value = serde_json::from_str(&report("sarif")).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(
        rules.len(),
        palisade_pss::CHECKS.len() + palisade_policy::rules::RULES.len()
    );
    for rule in rules {
        assert!(
            rule["id"].as_str().unwrap().starts_with("pss/")
                || rule["id"].as_str().unwrap().starts_with("palisade/")
        );
        assert!(
            rule["shortDescription"]["text"].is_string()
                && rule["fullDescription"]["text"].is_string()
        );
        assert!(rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .is_ok());
    }
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(
            location["artifactLocation"]["uri"],
            "examples/iris-model-server-insecure/deployment.yaml"
        );
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(result["partialFingerprints"].as_object().unwrap().len() == 1);
    }
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
}

#[test]
fn output_file_and_errors_in_sarif() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "kind: [\n").unwrap();
    let out = dir.path().join("report.sarif");
    let status = palisade()
        .args([
            "audit",
            "--format",
            "sarif",
            "-o",
            &out.display().to_string(),
            &bad.display().to_string(),
        ])
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(2));
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let invocation = &sarif["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    assert_eq!(
        invocation["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"]["region"]
            ["startLine"],
        2
    );
}
