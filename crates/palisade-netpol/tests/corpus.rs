//! np-guard/netpol-analyzer's golden corpus (`shared/conformance/netpol`), through the library:
//! every NetworkPolicy and AdminNetworkPolicy/BaselineAdminNetworkPolicy connectivity list that
//! upstream compares in txt must come out exactly as upstream's (upstream's rule: equal after
//! deleting line breaks). The CLI test (`crates/palisade/tests/netpol_list.rs`) covers the other
//! formats, exposure and focus options, and the fatal errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use palisade_netpol::{analyze, load_dir, render, ReportOptions};
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

#[rstest]
#[case::ipblockstest("ipblockstest", "ipblockstest_connlist_output.txt")]
#[case::onlineboutique("onlineboutique", "onlineboutique_connlist_output.txt")]
#[case::onlineboutique_workloads(
    "onlineboutique_workloads",
    "onlineboutique_workloads_connlist_output.txt"
)]
#[case::minikube_resources("minikube_resources", "minikube_resources_connlist_output.txt")]
#[case::online_boutique_workloads_no_ns(
    "online_boutique_workloads_no_ns",
    "online_boutique_workloads_no_ns_connlist_output.txt"
)]
#[case::core_pods_without_host_ip(
    "core_pods_without_host_ip",
    "core_pods_without_host_ip_connlist_output.txt"
)]
#[case::test_with_named_ports("test_with_named_ports", "test_with_named_ports_connlist_output.txt")]
#[case::test_with_named_ports_changed_netpol(
    "test_with_named_ports_changed_netpol",
    "test_with_named_ports_changed_netpol_connlist_output.txt"
)]
#[case::netpol_analysis_example_minimal(
    "netpol-analysis-example-minimal",
    "netpol-analysis-example-minimal_connlist_output.txt"
)]
#[case::with_end_port_example("with_end_port_example", "with_end_port_example_connlist_output.txt")]
#[case::with_end_port_example_new(
    "with_end_port_example_new",
    "with_end_port_example_new_connlist_output.txt"
)]
#[case::new_online_boutique("new_online_boutique", "new_online_boutique_connlist_output.txt")]
#[case::new_online_boutique_synthesis(
    "new_online_boutique_synthesis",
    "new_online_boutique_synthesis_connlist_output.txt"
)]
#[case::multiple_topology_resources_1(
    "multiple_topology_resources_1",
    "multiple_topology_resources_1_connlist_output.txt"
)]
#[case::multiple_topology_resources_2(
    "multiple_topology_resources_2",
    "multiple_topology_resources_2_connlist_output.txt"
)]
#[case::multiple_topology_resources_3(
    "multiple_topology_resources_3",
    "multiple_topology_resources_3_connlist_output.txt"
)]
#[case::multiple_topology_resources_4(
    "multiple_topology_resources_4",
    "multiple_topology_resources_4_connlist_output.txt"
)]
#[case::minimal_test_in_ns("minimal_test_in_ns", "minimal_test_in_ns_connlist_output.txt")]
#[case::semanticdiff_same_topologies_old1(
    "semanticDiff-same-topologies-old1",
    "semanticDiff-same-topologies-old1_connlist_output.txt"
)]
#[case::semanticdiff_same_topologies_old2(
    "semanticDiff-same-topologies-old2",
    "semanticDiff-same-topologies-old2_connlist_output.txt"
)]
#[case::semanticdiff_same_topologies_old3(
    "semanticDiff-same-topologies-old3",
    "semanticDiff-same-topologies-old3_connlist_output.txt"
)]
#[case::semanticdiff_same_topologies_new1(
    "semanticDiff-same-topologies-new1",
    "semanticDiff-same-topologies-new1_connlist_output.txt"
)]
#[case::semanticdiff_same_topologies_new1a(
    "semanticDiff-same-topologies-new1a",
    "semanticDiff-same-topologies-new1a_connlist_output.txt"
)]
#[case::semanticdiff_same_topologies_new2(
    "semanticDiff-same-topologies-new2",
    "semanticDiff-same-topologies-new2_connlist_output.txt"
)]
#[case::semanticdiff_same_topologies_new3(
    "semanticDiff-same-topologies-new3",
    "semanticDiff-same-topologies-new3_connlist_output.txt"
)]
#[case::semanticdiff_orig_topologies_no_policy(
    "semanticDiff-orig-topologies-no-policy",
    "semanticDiff-orig-topologies-no-policy_connlist_output.txt"
)]
#[case::semanticdiff_orig_topologies_policy_a(
    "semanticDiff-orig-topologies-policy-a",
    "semanticDiff-orig-topologies-policy-a_connlist_output.txt"
)]
#[case::semanticdiff_different_topologies_policy_a(
    "semanticDiff-different-topologies-policy-a",
    "semanticDiff-different-topologies-policy-a_connlist_output.txt"
)]
#[case::semanticdiff_different_topologies_policy_b(
    "semanticDiff-different-topologies-policy-b",
    "semanticDiff-different-topologies-policy-b_connlist_output.txt"
)]
#[case::ipblockstest_2("ipblockstest_2", "ipblockstest_2_connlist_output.txt")]
#[case::ipblockstest_3("ipblockstest_3", "ipblockstest_3_connlist_output.txt")]
#[case::ipblockstest_4("ipblockstest_4", "ipblockstest_4_connlist_output.txt")]
#[case::semanticdiff_different_topologies_policy_a_with_ipblock(
    "semanticDiff-different-topologies-policy-a-with-ipblock",
    "semanticDiff-different-topologies-policy-a-with-ipblock_connlist_output.txt"
)]
#[case::semanticdiff_different_topologies_policy_b_with_ipblock(
    "semanticDiff-different-topologies-policy-b-with-ipblock",
    "semanticDiff-different-topologies-policy-b-with-ipblock_connlist_output.txt"
)]
#[case::test_with_named_ports_changed_netpol_2(
    "test_with_named_ports_changed_netpol_2",
    "test_with_named_ports_changed_netpol_2_connlist_output.txt"
)]
#[case::exposure_test_pod_exposed_only_to_representative_peers(
    "exposure_test_pod_exposed_only_to_representative_peers",
    "exposure_test_pod_exposed_only_to_representative_peers_connlist_output.txt"
)]
#[case::netpol_named_port_test(
    "netpol_named_port_test",
    "netpol_named_port_test_connlist_output.txt"
)]
#[case::netpol_named_port_test_2(
    "netpol_named_port_test_2",
    "netpol_named_port_test_2_connlist_output.txt"
)]
#[case::example_pods_w_same_owner_and_labels_gap_no_policy(
    "example_pods_w_same_owner_and_labels_gap_no_policy",
    "example_pods_w_same_owner_and_labels_gap_no_policy_connlist_output.txt"
)]
#[case::example_pods_w_same_owner_and_labels_gap_with_policy_selector_not_in_gap(
    "example_pods_w_same_owner_and_labels_gap_with_policy_selector_not_in_gap",
    "example_pods_w_same_owner_and_labels_gap_with_policy_selector_not_in_gap_connlist_output.txt"
)]
#[case::example_pods_w_same_owner_and_labels_gap_with_good_match_expression(
    "example_pods_w_same_owner_and_labels_gap_with_good_match_expression",
    "example_pods_w_same_owner_and_labels_gap_with_good_match_expression_connlist_output.txt"
)]
#[case::example_pods_w_same_owner_and_labels_gap_with_good_match_expression2(
    "example_pods_w_same_owner_and_labels_gap_with_good_match_expression2",
    "example_pods_w_same_owner_and_labels_gap_with_good_match_expression2_connlist_output.txt"
)]
#[case::anp_test_1_deny_traffic_at_cluster_level(
    "anp_test_1_deny_traffic_at_cluster_level",
    "anp_test_1_deny_traffic_at_cluster_level_connlist_output.txt"
)]
#[case::anp_test_2_allow_traffic_at_cluster_level(
    "anp_test_2_allow_traffic_at_cluster_level",
    "anp_test_2_allow_traffic_at_cluster_level_connlist_output.txt"
)]
#[case::anp_test_3_pass_traffic(
    "anp_test_3_pass_traffic",
    "anp_test_3_pass_traffic_connlist_output.txt"
)]
#[case::anp_test_4("anp_test_4", "anp_test_4_connlist_output.txt")]
#[case::anp_test_5("anp_test_5", "anp_test_5_connlist_output.txt")]
#[case::anp_test_6("anp_test_6", "anp_test_6_connlist_output.txt")]
#[case::anp_test_6_swapping_rules(
    "anp_test_6_swapping_rules",
    "anp_test_6_swapping_rules_connlist_output.txt"
)]
#[case::anp_test_7("anp_test_7", "anp_test_7_connlist_output.txt")]
#[case::anp_test_7_swapping_rules(
    "anp_test_7_swapping_rules",
    "anp_test_7_swapping_rules_connlist_output.txt"
)]
#[case::anp_test_8("anp_test_8", "anp_test_8_connlist_output.txt")]
#[case::anp_test_8_swapping_rules(
    "anp_test_8_swapping_rules",
    "anp_test_8_swapping_rules_connlist_output.txt"
)]
#[case::anp_test_9("anp_test_9", "anp_test_9_connlist_output.txt")]
#[case::anp_test_9_swapping_rules(
    "anp_test_9_swapping_rules",
    "anp_test_9_swapping_rules_connlist_output.txt"
)]
#[case::anp_test_10("anp_test_10", "anp_test_10_connlist_output.txt")]
#[case::anp_test_10_swapping_rules(
    "anp_test_10_swapping_rules",
    "anp_test_10_swapping_rules_connlist_output.txt"
)]
#[case::anp_test_11("anp_test_11", "anp_test_11_connlist_output.txt")]
#[case::anp_test_11_swapping_rules(
    "anp_test_11_swapping_rules",
    "anp_test_11_swapping_rules_connlist_output.txt"
)]
#[case::anp_test_12("anp_test_12", "anp_test_12_connlist_output.txt")]
#[case::anp_test_12_swapping_rules(
    "anp_test_12_swapping_rules",
    "anp_test_12_swapping_rules_connlist_output.txt"
)]
#[case::anp_test_combining_test_6_and_test_10(
    "anp_test_combining_test_6_and_test_10",
    "anp_test_combining_test_6_and_test_10_connlist_output.txt"
)]
#[case::anp_test_multiple_anps(
    "anp_test_multiple_anps",
    "anp_test_multiple_anps_connlist_output.txt"
)]
#[case::anp_test_ingress_egress_intersection(
    "anp_test_ingress_egress_intersection",
    "anp_test_ingress_egress_intersection_connlist_output.txt"
)]
#[case::anp_np_banp_core_test("anp_np_banp_core_test", "anp_np_banp_core_test_connlist_output.txt")]
#[case::anp_banp_core_test("anp_banp_core_test", "anp_banp_core_test_connlist_output.txt")]
#[case::anp_test_4_with_priority_chang_pass_to_banp(
    "anp_test_4_with_priority_chang_pass_to_banp",
    "anp_test_4_with_priority_chang_pass_to_banp_connlist_output.txt"
)]
#[case::anp_with_banp_pass_test(
    "anp_with_banp_pass_test",
    "anp_with_banp_pass_test_connlist_output.txt"
)]
#[case::anp_with_np_and_banp_pass_test(
    "anp_with_np_and_banp_pass_test",
    "anp_with_np_and_banp_pass_test_connlist_output.txt"
)]
#[case::anp_with_np_pass_test("anp_with_np_pass_test", "anp_with_np_pass_test_connlist_output.txt")]
#[case::banp_test_core_egress_sctp_rules(
    "banp_test_core_egress_sctp_rules",
    "banp_test_core_egress_sctp_rules_connlist_output.txt"
)]
#[case::banp_test_core_egress_sctp_swapping_rules(
    "banp_test_core_egress_sctp_swapping_rules",
    "banp_test_core_egress_sctp_swapping_rules_connlist_output.txt"
)]
#[case::banp_test_core_egress_tcp_rules(
    "banp_test_core_egress_tcp_rules",
    "banp_test_core_egress_tcp_rules_connlist_output.txt"
)]
#[case::banp_test_core_egress_tcp_swapping_rules(
    "banp_test_core_egress_tcp_swapping_rules",
    "banp_test_core_egress_tcp_swapping_rules_connlist_output.txt"
)]
#[case::banp_test_core_egress_udp_rules(
    "banp_test_core_egress_udp_rules",
    "banp_test_core_egress_udp_rules_connlist_output.txt"
)]
#[case::banp_test_core_egress_udp_swapping_rules(
    "banp_test_core_egress_udp_swapping_rules",
    "banp_test_core_egress_udp_swapping_rules_connlist_output.txt"
)]
#[case::banp_test_core_gress_rules(
    "banp_test_core_gress_rules",
    "banp_test_core_gress_rules_connlist_output.txt"
)]
#[case::banp_test_core_gress_swapping_rules(
    "banp_test_core_gress_swapping_rules",
    "banp_test_core_gress_swapping_rules_connlist_output.txt"
)]
#[case::banp_test_core_ingress_sctp_rules(
    "banp_test_core_ingress_sctp_rules",
    "banp_test_core_ingress_sctp_rules_connlist_output.txt"
)]
#[case::banp_test_core_ingress_sctp_swapping_rules(
    "banp_test_core_ingress_sctp_swapping_rules",
    "banp_test_core_ingress_sctp_swapping_rules_connlist_output.txt"
)]
#[case::banp_test_core_ingress_tcp_rules(
    "banp_test_core_ingress_tcp_rules",
    "banp_test_core_ingress_tcp_rules_connlist_output.txt"
)]
#[case::banp_test_core_ingress_tcp_swapping_rules(
    "banp_test_core_ingress_tcp_swapping_rules",
    "banp_test_core_ingress_tcp_swapping_rules_connlist_output.txt"
)]
#[case::banp_test_core_ingress_udp_rules(
    "banp_test_core_ingress_udp_rules",
    "banp_test_core_ingress_udp_rules_connlist_output.txt"
)]
#[case::banp_test_core_ingress_udp_swapping_rules(
    "banp_test_core_ingress_udp_swapping_rules",
    "banp_test_core_ingress_udp_swapping_rules_connlist_output.txt"
)]
#[case::anp_with_banp_new_test(
    "anp_with_banp_new_test",
    "anp_with_banp_new_test_connlist_output.txt"
)]
#[case::anp_demo("anp_demo", "anp_demo_connlist_output.txt")]
#[case::anp_banp_blog_demo("anp_banp_blog_demo", "anp_banp_blog_demo_connlist_output.txt")]
#[case::anp_and_banp_using_networks_test(
    "anp_and_banp_using_networks_test",
    "anp_and_banp_using_networks_test_connlist_output.txt"
)]
#[case::anp_banp_test_with_named_port_matched(
    "anp_banp_test_with_named_port_matched",
    "anp_banp_test_with_named_port_matched_connlist_output.txt"
)]
#[case::anp_and_banp_using_networks_and_nodes_test(
    "anp_and_banp_using_networks_and_nodes_test",
    "anp_and_banp_using_networks_and_nodes_test_connlist_output.txt"
)]
#[case::anp_and_banp_using_networks_with_ipv6_test(
    "anp_and_banp_using_networks_with_ipv6_test",
    "anp_and_banp_using_networks_with_ipv6_test_connlist_output.txt"
)]
#[case::anp_banp_test_multiple_warnings(
    "anp_banp_test_multiple_warnings",
    "anp_banp_test_multiple_warnings_connlist_output.txt"
)]
#[case::anp_banp_test_with_named_port_unmatched(
    "anp_banp_test_with_named_port_unmatched",
    "anp_banp_test_with_named_port_unmatched_connlist_output.txt"
)]
#[case::anp_test_named_ports_multiple_peers(
    "anp_test_named_ports_multiple_peers",
    "anp_test_named_ports_multiple_peers_connlist_output.txt"
)]
#[case::example_pods_w_same_owner_and_labels_gap_anp_good(
    "example_pods_w_same_owner_and_labels_gap_anp_good",
    "example_pods_w_same_owner_and_labels_gap_anp_good_connlist_output.txt"
)]
#[case::example_pods_w_same_owner_and_labels_gap_banp_good(
    "example_pods_w_same_owner_and_labels_gap_banp_good",
    "example_pods_w_same_owner_and_labels_gap_banp_good_connlist_output.txt"
)]
fn connlist_txt_matches_upstream(#[case] dir: &str, #[case] expected: &str) {
    let root = corpus();
    let cluster = load_dir(&root.join("tests").join(dir)).unwrap();
    let connectivity = analyze(&cluster).unwrap();
    let actual = render(&connectivity, &ReportOptions::default());
    let golden = std::fs::read_to_string(root.join("test_outputs/connlist").join(expected))
        .unwrap_or_else(|e| panic!("the netpol corpus is required at {}: {e}", root.display()));
    assert_eq!(
        strip(&actual),
        strip(&golden),
        "{dir}: our output\n{actual}\nupstream's\n{golden}"
    );
}
