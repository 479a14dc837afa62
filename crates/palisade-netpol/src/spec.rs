//! The fields of the manifests that connectivity depends on, typed as the Kubernetes API types
//! them (networking.k8s.io/v1 NetworkPolicy, policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy
//! and BaselineAdminNetworkPolicy, the pod templates of workloads). Everything else is ignored, as
//! the API server's decoder ignores unknown fields; a known field of the wrong type is an error.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::labels::LabelSelector;

/// A port given as a number or as a container port's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// `port: 80`.
    Int(i64),
    /// `port: http`.
    String(String),
}

/// `metadata.ownerReferences[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub controller: Option<bool>,
}

/// The metadata fields read here (the name and namespace come from palisade-core's object).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub owner_references: Option<Vec<OwnerReference>>,
}

/// `containers[].ports[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub container_port: i64,
    #[serde(default)]
    pub protocol: Option<String>,
}

/// A container: only its ports matter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub ports: Option<Vec<ContainerPort>>,
}

/// A pod spec: only the containers' ports matter.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Option<Vec<Container>>,
}

/// `spec.template` of a workload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    #[serde(default)]
    pub metadata: Option<Meta>,
    #[serde(default)]
    pub spec: Option<PodSpec>,
}

/// `spec.ipBlock` of a NetworkPolicy peer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IpBlockSpec {
    #[serde(default)]
    pub cidr: String,
    #[serde(default)]
    pub except: Option<Vec<String>>,
}

/// A NetworkPolicy peer (`from[]` / `to[]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPeer {
    #[serde(default)]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default)]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default)]
    pub ip_block: Option<IpBlockSpec>,
}

/// A NetworkPolicy port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyPort {
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port: Option<IntOrString>,
    #[serde(default)]
    pub end_port: Option<i64>,
}

/// An ingress rule (`from`) or an egress rule (`to`): the peers and the ports.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyRule {
    #[serde(default, alias = "to")]
    pub from: Option<Vec<NetworkPolicyPeer>>,
    #[serde(default)]
    pub ports: Option<Vec<NetworkPolicyPort>>,
}

/// `spec` of a NetworkPolicy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    #[serde(default)]
    pub pod_selector: Option<LabelSelector>,
    #[serde(default)]
    pub ingress: Option<Vec<NetworkPolicyRule>>,
    #[serde(default)]
    pub egress: Option<Vec<NetworkPolicyRule>>,
    #[serde(default)]
    pub policy_types: Option<Vec<String>>,
}

/// `pods` in an AdminNetworkPolicy subject or peer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedPod {
    #[serde(default)]
    pub namespace_selector: LabelSelector,
    #[serde(default)]
    pub pod_selector: LabelSelector,
}

/// The subject of an (Baseline)AdminNetworkPolicy; exactly one field must be set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminSubject {
    #[serde(default)]
    pub namespaces: Option<LabelSelector>,
    #[serde(default)]
    pub pods: Option<NamespacedPod>,
}

/// A peer of an admin policy rule; exactly one field must be set (`networks` and `nodes` are
/// egress only).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminPeer {
    #[serde(default)]
    pub namespaces: Option<LabelSelector>,
    #[serde(default)]
    pub pods: Option<NamespacedPod>,
    #[serde(default)]
    pub nodes: Option<serde_json::Value>,
    #[serde(default)]
    pub networks: Option<Vec<String>>,
}

/// `portNumber` of an admin policy port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminPortNumber {
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub port: i64,
}

/// `portRange` of an admin policy port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminPortRange {
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub start: i64,
    #[serde(default)]
    pub end: i64,
}

/// An admin policy port; exactly one field must be set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminPort {
    #[serde(default)]
    pub port_number: Option<AdminPortNumber>,
    #[serde(default)]
    pub port_range: Option<AdminPortRange>,
    #[serde(default)]
    pub named_port: Option<String>,
}

/// An admin policy rule (`from` for ingress, `to` for egress).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminRule {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub action: String,
    #[serde(default, alias = "to")]
    pub from: Option<Vec<AdminPeer>>,
    #[serde(default)]
    pub ports: Option<Vec<AdminPort>>,
}

/// `spec` of an AdminNetworkPolicy or a BaselineAdminNetworkPolicy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminPolicySpec {
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default)]
    pub subject: Option<AdminSubject>,
    #[serde(default)]
    pub ingress: Option<Vec<AdminRule>>,
    #[serde(default)]
    pub egress: Option<Vec<AdminRule>>,
}

/// `layer2` / `layer3` of a (Cluster)UserDefinedNetwork: only the role is read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkLayer {
    #[serde(default)]
    pub role: String,
}

/// The network of a UserDefinedNetwork (`spec`) or ClusterUserDefinedNetwork (`spec.network`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    #[serde(default)]
    pub topology: String,
    #[serde(default)]
    pub layer2: Option<NetworkLayer>,
    #[serde(default)]
    pub layer3: Option<NetworkLayer>,
}
