//! The ingress/route cases of np-guard/netpol-analyzer's golden corpus
//! (`shared/conformance/netpol`), through the library: Ingress and Route objects add
//! `{ingress-controller}` connections to the workloads of their Services, cut by the policies.
//! Every case listed here equals upstream's txt output (upstream's rule: equal after deleting line
//! breaks). The other formats are covered by the CLI test (`crates/palisade/tests/netpol_list.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use palisade_netpol::{analyze, load_dir, render, Direction, ReportOptions};
use rstest::rstest;

fn corpus() -> PathBuf {
    if let Ok(dir) = std::env::var("PALISADE_CONFORMANCE_DIR") {
        return PathBuf::from(dir).join("netpol");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/netpol")
}

fn strip(text: &str) -> String {
    text.replace(['\n', '\r'], "")
}

fn words(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[rstest]
#[case::acs_security_frontend_demos(
    "acs_security_frontend_demos",
    "",
    "",
    false,
    "acs_security_frontend_demos_connlist_output.txt"
)]
#[case::demo_app_with_routes_and_ingress(
    "demo_app_with_routes_and_ingress",
    "",
    "",
    false,
    "demo_app_with_routes_and_ingress_connlist_output.txt"
)]
#[case::k8s_ingress_test(
    "k8s_ingress_test",
    "",
    "",
    false,
    "k8s_ingress_test_connlist_output.txt"
)]
#[case::multiple_ingress_objects_with_different_ports(
    "multiple_ingress_objects_with_different_ports",
    "",
    "",
    false,
    "multiple_ingress_objects_with_different_ports_connlist_output.txt"
)]
#[case::one_ingress_multiple_ports(
    "one_ingress_multiple_ports",
    "",
    "",
    false,
    "one_ingress_multiple_ports_connlist_output.txt"
)]
#[case::one_ingress_multiple_services(
    "one_ingress_multiple_services",
    "",
    "",
    false,
    "one_ingress_multiple_services_connlist_output.txt"
)]
#[case::acs_security_demos(
    "acs-security-demos",
    "",
    "",
    false,
    "acs-security-demos_connlist_output.txt"
)]
#[case::acs_security_demos_with_netpol_list(
    "acs-security-demos-with-netpol-list",
    "",
    "",
    false,
    "acs-security-demos-with-netpol-list_connlist_output.txt"
)]
#[case::k8s_ingress_test_focus(
    "k8s_ingress_test",
    "details-v1-79f774bdb9",
    "",
    false,
    "k8s_ingress_test_focus_workload_details-v1-79f774bdb9_connlist_output.txt"
)]
#[case::added_workloads_focus_egress("acs-security-demos-added-workloads", "backend/recommendation", "egress", false, "acs-security-demos-added-workloads_focus_workload_backend_recommendation_egress_connlist_output.txt")]
#[case::acs_security_demos_focus_ingress(
    "acs-security-demos",
    "checkout",
    "ingress",
    false,
    "acs-security-demos_focus_workload_checkout_ingress_with_webapp_connlist_output.txt"
)]
#[case::acs_security_demos_exposure(
    "acs-security-demos",
    "",
    "",
    true,
    "acs-security-demos_exposure_output.txt"
)]
#[case::acs_security_demos_exposure_focus_webapp(
    "acs-security-demos",
    "frontend/webapp",
    "",
    true,
    "acs-security-demos_focus_workload_frontend_webapp_exposure_output.txt"
)]
#[case::acs_security_demos_exposure_focus_webapp_ingress(
    "acs-security-demos",
    "frontend/webapp",
    "ingress",
    true,
    "acs-security-demos_focus_workload_frontend_webapp_ingress_exposure_output.txt"
)]
#[case::k8s_ingress_test_new_exposure(
    "k8s_ingress_test_new",
    "",
    "",
    true,
    "k8s_ingress_test_new_exposure_output.txt"
)]
#[case::k8s_ingress_test_new_exposure_focus(
    "k8s_ingress_test_new",
    "details-v1-79f774bdb9",
    "",
    true,
    "k8s_ingress_test_new_focus_workload_details-v1-79f774bdb9_exposure_output.txt"
)]
fn ingress_connlist_txt_matches_upstream(
    #[case] dir: &str,
    #[case] focus: &str,
    #[case] direction: &str,
    #[case] exposure: bool,
    #[case] expected: &str,
) {
    let root = corpus();
    let cluster = load_dir(&root.join("tests").join(dir)).unwrap();
    let connectivity = analyze(&cluster).unwrap();
    let opts = ReportOptions {
        focus_workloads: words(focus),
        focus_direction: match direction {
            "ingress" => Some(Direction::Ingress),
            "egress" => Some(Direction::Egress),
            _ => None,
        },
        exposure,
        ..ReportOptions::default()
    };
    let actual = render(&connectivity, &opts);
    let golden = std::fs::read_to_string(root.join("test_outputs/connlist").join(expected))
        .unwrap_or_else(|e| panic!("the netpol corpus is required at {}: {e}", root.display()));
    assert!(
        actual.contains("{ingress-controller}") == golden.contains("{ingress-controller}"),
        "{dir}: the ingress controller's lines differ"
    );
    assert_eq!(
        strip(&actual),
        strip(&golden),
        "{dir}: our output\n{actual}\nupstream's\n{golden}"
    );
}
