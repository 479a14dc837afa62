//! Acceptance: the generator's output, analysed by the analyzer, allows exactly the intent, for
//! the bundled model server (gateway -> model -> Redis, DNS, S3) and the three-team platform; and
//! `verify` reports every difference when a policy is removed or an allow-all added.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};

use palisade_netpol::generate::{generate, to_yaml, Manifest};
use palisade_netpol::intent::Intent;
use palisade_netpol::mesh::Mesh;
use palisade_netpol::verify::{verify_dir, Kind, Report};
use palisade_netpol::{analyze, load_dir, ConnectionSet, PortSet, Protocol};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn copy_yaml(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// A directory with the example's workloads and the given policies.
fn cluster_dir(workloads: &[&str], policies: &[Manifest]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for w in workloads {
        copy_yaml(&repo(w), dir.path());
    }
    std::fs::write(dir.path().join("generated.yaml"), to_yaml(policies, "test")).unwrap();
    dir
}

const SERVING: &[&str] = &[
    "examples/iris-model-server/manifests",
    "examples/netpol/model-serving",
];
const PLATFORM: &[&str] = &["examples/netpol/platform"];

fn serving() -> Intent {
    Intent::load(&repo("examples/netpol/intent.yaml")).unwrap()
}

fn platform() -> Intent {
    Intent::load(&repo("examples/netpol/platform-intent.yaml")).unwrap()
}

fn tcp(port: u16) -> ConnectionSet {
    ConnectionSet::from_ports(Protocol::Tcp, PortSet::range(port, port))
}

fn lines(report: &Report) -> Vec<String> {
    report.to_string().lines().map(str::to_owned).collect()
}

#[test]
fn model_serving_generated_policies_allow_exactly_the_intent() {
    let intent = serving();
    let dir = cluster_dir(SERVING, &generate(&intent, &[Mesh::Istio, Mesh::Linkerd]));
    let report = verify_dir(&intent, dir.path()).unwrap();
    assert!(report.is_exact(), "{report}");
    assert_eq!(
        report.stand_ins,
        vec!["ingress-nginx/ingress-nginx", "kube-system/cluster-dns"]
    );

    // And, read straight from the analyzer: the chain and nothing around it.
    let cluster = load_dir(dir.path()).unwrap();
    let conn = analyze(&cluster).unwrap();
    let at = |name: &str| {
        cluster
            .workloads
            .iter()
            .position(|w| w.name == name)
            .unwrap()
    };
    let (gateway, iris, cache) = (at("model-gateway"), at("iris-classifier"), at("iris-cache"));
    assert_eq!(conn.between_workloads(gateway, iris), tcp(8080));
    assert_eq!(conn.between_workloads(iris, cache), tcp(6379));
    assert!(conn.between_workloads(gateway, cache).is_empty());
    assert!(conn.between_workloads(cache, iris).is_empty());
    assert!(conn.between_workloads(iris, gateway).is_empty());
}

#[test]
fn platform_generated_policies_allow_exactly_the_intent() {
    let intent = platform();
    let dir = cluster_dir(PLATFORM, &generate(&intent, &[Mesh::Istio, Mesh::Linkerd]));
    let report = verify_dir(&intent, dir.path()).unwrap();
    assert!(report.is_exact(), "{report}");
    // Four namespaces of workloads, the gateway's peers, the collector and the DNS.
    assert_eq!(report.workloads, 9, "{report}");

    let cluster = load_dir(dir.path()).unwrap();
    let conn = analyze(&cluster).unwrap();
    let at = |name: &str| {
        cluster
            .workloads
            .iter()
            .position(|w| w.name == name)
            .unwrap()
    };
    // The declared cross-team call, and no other path between teams.
    assert_eq!(
        conn.between_workloads(at("recommender"), at("fraud-scorer")),
        tcp(8080)
    );
    assert!(conn
        .between_workloads(at("fraud-scorer"), at("recommender"))
        .is_empty());
    assert!(conn
        .between_workloads(at("recommender"), at("fraud-features"))
        .is_empty());
    assert!(conn
        .between_workloads(at("image-classifier"), at("recsys-cache"))
        .is_empty());
    assert_eq!(
        conn.between_workloads(at("model-gateway"), at("image-classifier")),
        tcp(8080)
    );
}

#[test]
fn a_deleted_policy_is_reported_as_missing() {
    let intent = serving();
    let policies: Vec<Manifest> = generate(&intent, &[])
        .into_iter()
        .filter(|m| m.name != "allow-iris-cache")
        .collect();
    let dir = cluster_dir(SERVING, &policies);
    let report = verify_dir(&intent, dir.path()).unwrap();
    assert!(!report.is_exact());
    assert_eq!(
        lines(&report),
        vec![
            "missing  ml-iris/iris-classifier[Deployment] => ml-iris/iris-cache[Deployment] : TCP 6379",
            "(stand-in pods for what the manifests lack: ingress-nginx/ingress-nginx, kube-system/cluster-dns)",
            "1 missing, 0 excess (5 workloads compared)",
        ]
    );
}

#[test]
fn an_allow_all_is_reported_as_excess() {
    let intent = serving();
    let dir = cluster_dir(SERVING, &generate(&intent, &[]));
    std::fs::write(
        dir.path().join("allow-all.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: allow-all-ingress, namespace: ml-iris}\nspec:\n  podSelector: {matchLabels: {app.kubernetes.io/name: iris-cache}}\n  ingress: [{}]\n",
    )
    .unwrap();
    let report = verify_dir(&intent, dir.path()).unwrap();
    let excess: Vec<String> = report.excess().map(ToString::to_string).collect();
    assert_eq!(report.missing().count(), 0, "{report}");
    // The cache now takes anything from anything whose egress is open: the internet, and the
    // pods of the unmanaged namespaces. The gateway and the classifier are held back by their
    // own egress policies, as NetworkPolicy semantics require both sides.
    assert_eq!(
        excess,
        vec![
            "excess   0.0.0.0-255.255.255.255[External] => ml-iris/iris-cache[Deployment] : All Connections",
            "excess   ingress-nginx/ingress-nginx[Pod] => ml-iris/iris-cache[Deployment] : All Connections",
            "excess   kube-system/cluster-dns[Pod] => ml-iris/iris-cache[Deployment] : All Connections",
        ],
        "{report}"
    );
    assert!(report.differences.iter().all(|d| d.kind == Kind::Excess));
}

#[test]
fn a_service_without_workloads_fails_verification() {
    let intent = serving();
    let dir = tempfile::tempdir().unwrap();
    copy_yaml(&repo("examples/iris-model-server/manifests"), dir.path());
    std::fs::copy(
        repo("examples/netpol/model-serving/gateway.yaml"),
        dir.path().join("gateway.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("generated.yaml"),
        to_yaml(&generate(&intent, &[]), "test"),
    )
    .unwrap();
    let report = verify_dir(&intent, dir.path()).unwrap();
    assert!(!report.is_exact());
    assert_eq!(
        report.unmatched,
        vec!["service iris-cache: no workload in namespace ml-iris has the labels app.kubernetes.io/name=iris-cache"]
    );
}

#[test]
fn without_policies_everything_is_excess_and_nothing_missing() {
    let intent = platform();
    let dir = tempfile::tempdir().unwrap();
    copy_yaml(&repo("examples/netpol/platform"), dir.path());
    let report = verify_dir(&intent, dir.path()).unwrap();
    assert_eq!(report.missing().count(), 0, "{report}");
    assert!(report.excess().count() > 50, "{report}");
}
