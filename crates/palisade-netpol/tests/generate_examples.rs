//! The generated YAML for the bundled intents, snapshot-tested: NetworkPolicies alone, and with
//! the Istio and Linkerd policies.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use palisade_netpol::generate::{generate, to_yaml};
use palisade_netpol::intent::Intent;
use palisade_netpol::mesh::Mesh;

fn example(name: &str) -> Intent {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/netpol")
        .join(name);
    Intent::load(&path).unwrap()
}

fn yaml(name: &str, meshes: &[Mesh]) -> String {
    to_yaml(
        &generate(&example(name), meshes),
        &format!("examples/netpol/{name}"),
    )
}

#[test]
fn model_serving_network_policies() {
    insta::assert_snapshot!(yaml("intent.yaml", &[]));
}

#[test]
fn model_serving_istio() {
    let all = yaml("intent.yaml", &[Mesh::Istio]);
    let mesh_only: Vec<&str> = all
        .split("---\n")
        .filter(|doc| doc.contains("security.istio.io"))
        .collect();
    assert_eq!(mesh_only.len(), 2, "{all}");
    insta::assert_snapshot!(mesh_only.join("---\n"));
}

#[test]
fn model_serving_linkerd() {
    let all = yaml("intent.yaml", &[Mesh::Linkerd]);
    let mesh_only: Vec<&str> = all
        .split("---\n")
        .filter(|doc| doc.contains("policy.linkerd.io"))
        .collect();
    insta::assert_snapshot!(mesh_only.join("---\n"));
}

#[test]
fn platform_with_both_meshes() {
    insta::assert_snapshot!(yaml("platform-intent.yaml", &[Mesh::Istio, Mesh::Linkerd]));
}

#[test]
fn generation_is_deterministic() {
    let a = yaml("platform-intent.yaml", &[Mesh::Istio, Mesh::Linkerd]);
    let b = yaml("platform-intent.yaml", &[Mesh::Istio, Mesh::Linkerd]);
    assert_eq!(a, b);
}
