//! The cluster as the analysis sees it: namespaces with their labels, workloads (pods collapsed
//! to their owner) with their labels and container ports, and the policies, validated and
//! compiled. Built from palisade-core objects by [`Cluster::from_objects`], or from a directory by
//! [`crate::load_dir`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use palisade_core::path::FieldPath;
use palisade_core::Object;
use serde::de::DeserializeOwned;

use crate::connset::Protocol;
use crate::error::NetpolError;
use crate::ipblock::{IpBlockError, IpSet};
use crate::labels::{LabelSelector, Labels};
use crate::spec;

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where an object was read from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: Arc<str>,
    /// The line of the object.
    pub line: u32,
}

/// A container port: its optional name, number and protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerPort {
    /// The port's name (named ports in policies refer to it).
    pub name: Option<String>,
    /// The port number.
    pub port: i64,
    /// The protocol (TCP when not given).
    pub protocol: Protocol,
}

/// A workload: a controller (Deployment, StatefulSet, ...) or a bare Pod, with the labels and
/// container ports of its pods.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The namespace (`default` when the manifest has none).
    pub namespace: String,
    /// The owner's name (or the pod's, for a bare pod).
    pub name: String,
    /// `Deployment`, `ReplicaSet`, ..., or `Pod`.
    pub kind: String,
    /// The pods' labels.
    pub labels: Labels,
    /// The pods' container ports.
    pub ports: Vec<ContainerPort>,
    /// Where the workload was declared.
    pub origin: Origin,
}

impl Workload {
    /// `ns/name[Kind]`, the form upstream prints.
    pub fn key(&self) -> String {
        format!("{}/{}[{}]", self.namespace, self.name, self.kind)
    }
}

/// Which pods a subject or a peer selects: those in a namespace (by name or by the namespace's
/// labels) whose labels match a pod selector (all of them when there is none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodMatcher {
    /// Which namespaces.
    pub namespaces: NamespaceMatch,
    /// Which pods in them (`None`: all).
    pub pods: Option<LabelSelector>,
}

/// The namespace part of a [`PodMatcher`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NamespaceMatch {
    /// Exactly the namespace of that name (a NetworkPolicy's own namespace).
    Named(String),
    /// The namespaces whose labels match.
    Selector(LabelSelector),
}

/// A rule peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Pods.
    Pods(PodMatcher),
    /// Addresses outside the cluster (never pod addresses in this model).
    Ips(IpSet),
    /// Something this model never matches (AdminNetworkPolicy `nodes`).
    Nothing,
}

/// A port in a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// A range of port numbers (a single port is a range of one).
    Range {
        /// The protocol.
        protocol: Protocol,
        /// First port.
        start: u16,
        /// Last port.
        end: u16,
    },
    /// Every port of a protocol (a NetworkPolicy port without `port`).
    AllPorts(Protocol),
    /// A container port's name, resolved per destination pod. `protocol` is the rule's protocol
    /// (NetworkPolicy: must equal the container port's); `None` takes the container port's
    /// (AdminNetworkPolicy).
    Named {
        /// The rule's protocol, if it constrains the named port.
        protocol: Option<Protocol>,
        /// The name.
        name: String,
    },
}

/// A NetworkPolicy rule: peers (`None`: every peer, pods and addresses) and ports (`None`: all).
#[derive(Debug, Clone)]
pub struct Rule {
    /// The peers.
    pub peers: Option<Vec<Peer>>,
    /// The ports.
    pub ports: Option<Vec<PortSpec>>,
}

/// A NetworkPolicy, compiled.
#[derive(Debug, Clone)]
pub struct NetworkPolicy {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The pods the policy applies to.
    pub subject: PodMatcher,
    /// Ingress rules when the policy applies to ingress (an empty list denies all ingress).
    pub ingress: Option<Vec<Rule>>,
    /// Egress rules when the policy applies to egress.
    pub egress: Option<Vec<Rule>>,
    /// Where it was declared.
    pub origin: Origin,
}

/// The action of an admin policy rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Allow, regardless of lower layers.
    Allow,
    /// Deny, regardless of lower layers.
    Deny,
    /// Leave the decision to NetworkPolicies (then the baseline).
    Pass,
}

/// An AdminNetworkPolicy or BaselineAdminNetworkPolicy rule.
#[derive(Debug, Clone)]
pub struct AdminRule {
    /// The rule's name.
    pub name: String,
    /// What happens to matching connections.
    pub action: Action,
    /// The peers (at least one).
    pub peers: Vec<Peer>,
    /// The ports (`None`: all).
    pub ports: Option<Vec<PortSpec>>,
}

/// An AdminNetworkPolicy (or the BaselineAdminNetworkPolicy), compiled.
#[derive(Debug, Clone)]
pub struct AdminPolicy {
    /// Name.
    pub name: String,
    /// Priority (0-1000, lower first); 0 for the baseline.
    pub priority: i64,
    /// The pods it applies to.
    pub subject: PodMatcher,
    /// Ingress rules, in order (the first match decides).
    pub ingress: Vec<AdminRule>,
    /// Egress rules, in order.
    pub egress: Vec<AdminRule>,
    /// Where it was declared.
    pub origin: Origin,
}

/// Everything the analysis reads, validated.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Namespace name to labels (with `kubernetes.io/metadata.name` added when absent); namespaces
    /// that pods use but no manifest declares are added with that label only.
    pub namespaces: BTreeMap<String, Labels>,
    /// Workloads, in input order.
    pub workloads: Vec<Workload>,
    /// NetworkPolicies.
    pub network_policies: Vec<NetworkPolicy>,
    /// AdminNetworkPolicies, by ascending priority.
    pub admin_policies: Vec<AdminPolicy>,
    /// The BaselineAdminNetworkPolicy.
    pub baseline: Option<AdminPolicy>,
    /// Things skipped or ignored, for the user.
    pub warnings: Vec<String>,
    /// Services and the Ingress/Route backends that expose them (the ingress controller's
    /// connections).
    pub ingress: crate::ingress::IngressInput,
    /// The ingress controller that Ingresses and Routes route through, when there are any: a
    /// pod of its own (see [`crate::ingress::controller`]) that the analysis includes like any
    /// other, so that one analysis answers what the policies allow it too. It is not one of
    /// `workloads`: no report lists it as a peer of its own, only its connections to the
    /// workloads that Ingresses and Routes expose.
    pub ingress_controller: Option<Workload>,
    /// Pods of one owner with different labels: (owner index, other labels, pod name).
    pub(crate) label_gaps: Vec<(usize, Labels, String)>,
}

/// Kinds whose pod template is `spec.template`.
const TEMPLATE_KINDS: [&str; 6] = [
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ReplicationController",
    "Job",
];

struct Ctx<'a> {
    object: &'a Object,
    origin: Origin,
}

impl Ctx<'_> {
    fn err(&self, message: impl Into<String>) -> NetpolError {
        self.err_at(self.origin.line, message)
    }

    fn err_at(&self, line: u32, message: impl Into<String>) -> NetpolError {
        NetpolError::Invalid {
            file: self.origin.file.to_string(),
            line,
            object: self.name(),
            message: message.into(),
        }
    }

    fn name(&self) -> String {
        let meta = &self.object.metadata;
        match (meta.namespace.as_str(), meta.name.as_str()) {
            ("", "") => self.object.kind.clone(),
            ("", name) if is_namespaced(&self.object.kind) => {
                format!("{} default/{name}", self.object.kind)
            }
            ("", name) => format!("{} {name}", self.object.kind),
            (ns, name) => format!("{} {ns}/{name}", self.object.kind),
        }
    }

    fn typed<T: DeserializeOwned + Default>(&self, path: &str) -> Result<T, NetpolError> {
        match self.object.typed::<T>(&FieldPath::parse_dotted(path)) {
            Ok(value) => Ok(value.unwrap_or_default()),
            Err(e) => Err(self.err_at(e.line.unwrap_or(self.origin.line), e.message)),
        }
    }

    fn line_of(&self, path: &str) -> u32 {
        self.object.node.line_of(&FieldPath::parse_dotted(path))
    }

    /// [`Ctx::line_of`] with numeric segments read as list indices, so that the line is the
    /// entry's own (`parse_dotted` reads every segment as a field name, and stops at the list).
    fn line_of_entry(&self, path: &str) -> u32 {
        let path = path
            .split('.')
            .filter(|s| !s.is_empty())
            .fold(FieldPath::root(), |p, s| match s.parse::<usize>() {
                Ok(i) => p.index(i),
                Err(_) => p.field(s),
            });
        self.object.node.line_of(&path)
    }
}

fn is_namespaced(kind: &str) -> bool {
    !matches!(
        kind,
        "Namespace"
            | "AdminNetworkPolicy"
            | "BaselineAdminNetworkPolicy"
            | "ClusterUserDefinedNetwork"
    )
}

fn namespace_of(object: &Object) -> String {
    if object.metadata.namespace.is_empty() {
        "default".to_string()
    } else {
        object.metadata.namespace.clone()
    }
}

fn parse_protocol(ctx: &Ctx<'_>, text: Option<&str>, line: u32) -> Result<Protocol, NetpolError> {
    match text {
        None | Some("") => Ok(Protocol::Tcp),
        Some(p) => match p {
            "TCP" => Ok(Protocol::Tcp),
            "UDP" => Ok(Protocol::Udp),
            "SCTP" => Ok(Protocol::Sctp),
            other => Err(ctx.err_at(
                line,
                format!("unsupported protocol {other:?} (TCP, UDP or SCTP)"),
            )),
        },
    }
}

fn container_ports(ctx: &Ctx<'_>, spec: &spec::PodSpec) -> Result<Vec<ContainerPort>, NetpolError> {
    let mut ports = Vec::new();
    for container in spec.containers.iter().flatten() {
        for port in container.ports.iter().flatten() {
            ports.push(ContainerPort {
                name: port.name.clone().filter(|n| !n.is_empty()),
                port: port.container_port,
                protocol: parse_protocol(ctx, port.protocol.as_deref(), ctx.origin.line)?,
            });
        }
    }
    Ok(ports)
}

fn port_in_range(value: i64) -> Option<u16> {
    u16::try_from(value).ok().filter(|p| *p >= 1)
}

fn illegal_range(start: i64, end: i64) -> String {
    format!(
        "port range {start}-{end} is illegal: start and end must be in 1-65535 and end may not be less than start"
    )
}

impl Cluster {
    /// Builds the cluster from objects (palisade-core's, with file and line). Kinds that do not
    /// affect connectivity are skipped. Errors name the file, line and object.
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> Result<Cluster, NetpolError> {
        let mut cluster = Cluster::default();
        let mut workload_index: HashMap<(String, String, String), usize> = HashMap::new();
        let mut np_names: HashSet<(String, String)> = HashSet::new();
        let mut anp_names: HashSet<String> = HashSet::new();
        let mut declared_namespaces: HashSet<String> = HashSet::new();
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        let mut networks: Vec<UserNetwork> = Vec::new();
        for object in objects {
            let origin = Origin {
                file: object.source.file.clone(),
                line: object.source.line,
            };
            let ctx = Ctx {
                object: &object,
                origin,
            };
            let kind = object.kind.as_str();
            match kind {
                "Namespace" => {
                    let name = object.metadata.name.clone();
                    if !declared_namespaces.insert(name.clone()) {
                        return Err(ctx.err(format!(
                            "Namespace {name:?} already exists: only one object of a kind may have a given name"
                        )));
                    }
                    let mut labels = object.metadata.labels.clone();
                    labels
                        .entry(NAMESPACE_NAME_LABEL.to_string())
                        .or_insert_with(|| name.clone());
                    cluster.namespaces.insert(name, labels);
                }
                "Pod" => {
                    let meta: spec::Meta = ctx.typed("metadata")?;
                    let pod_spec: spec::PodSpec = ctx.typed("spec")?;
                    let namespace = namespace_of(&object);
                    let name = object.metadata.name.clone();
                    if name.starts_with("virt-launcher-") {
                        cluster.warnings.push(format!(
                            "{}: ignoring virt-launcher pod {namespace}/{name}",
                            ctx.origin.file
                        ));
                        continue;
                    }
                    let owner = meta
                        .owner_references
                        .iter()
                        .flatten()
                        .find(|o| o.controller == Some(true));
                    let (owner_name, owner_kind) = match owner {
                        Some(o) if o.kind != "Node" => (
                            o.name.clone(),
                            if o.kind.is_empty() {
                                "Pod".to_string()
                            } else {
                                o.kind.clone()
                            },
                        ),
                        _ => (name.clone(), "Pod".to_string()),
                    };
                    let labels = meta.labels.unwrap_or_default();
                    let ports = container_ports(&ctx, &pod_spec)?;
                    cluster.add_workload(
                        &mut workload_index,
                        Workload {
                            namespace,
                            name: owner_name,
                            kind: owner_kind,
                            labels,
                            ports,
                            origin: ctx.origin.clone(),
                        },
                        &name,
                    );
                }
                k if TEMPLATE_KINDS.contains(&k) || k == "CronJob" => {
                    let path = if k == "CronJob" {
                        "spec.jobTemplate.spec.template"
                    } else {
                        "spec.template"
                    };
                    let template: spec::PodTemplateSpec = ctx.typed(path)?;
                    let labels = template.metadata.and_then(|m| m.labels).unwrap_or_default();
                    let ports = container_ports(&ctx, &template.spec.unwrap_or_default())?;
                    let name = object.metadata.name.clone();
                    cluster.add_workload(
                        &mut workload_index,
                        Workload {
                            namespace: namespace_of(&object),
                            name: name.clone(),
                            kind: k.to_string(),
                            labels,
                            ports,
                            origin: ctx.origin.clone(),
                        },
                        &name,
                    );
                }
                "NetworkPolicy" => {
                    let policy = compile_network_policy(&ctx)?;
                    if !np_names.insert((policy.namespace.clone(), policy.name.clone())) {
                        return Err(ctx.err(format!(
                            "NetworkPolicy \"{}/{}\" already exists: only one object of a kind may have a given name",
                            policy.namespace, policy.name
                        )));
                    }
                    cluster.network_policies.push(policy);
                }
                "AdminNetworkPolicy" => {
                    let policy = compile_admin_policy(&ctx, false)?;
                    if !anp_names.insert(policy.name.clone()) {
                        return Err(ctx.err(format!(
                            "an AdminNetworkPolicy {:?} already exists: only one object of a kind may have a given name",
                            policy.name
                        )));
                    }
                    if let Some(other) = cluster
                        .admin_policies
                        .iter()
                        .find(|p| p.priority == policy.priority)
                    {
                        return Err(ctx.err(format!(
                            "AdminNetworkPolicies {:?} and {:?} have the same priority {}: policies with the same priority conflict",
                            other.name, policy.name, policy.priority
                        )));
                    }
                    cluster.admin_policies.push(policy);
                }
                "BaselineAdminNetworkPolicy" => {
                    if cluster.baseline.is_some() {
                        return Err(ctx.err(
                            "only one BaselineAdminNetworkPolicy may exist in a cluster; one was already given",
                        ));
                    }
                    if object.metadata.name != "default" {
                        return Err(ctx.err(
                            "a BaselineAdminNetworkPolicy must be named \"default\" (metadata.name=default)",
                        ));
                    }
                    cluster.baseline = Some(compile_admin_policy(&ctx, true)?);
                }
                "UserDefinedNetwork" | "ClusterUserDefinedNetwork" => {
                    let cluster_scoped = kind == "ClusterUserDefinedNetwork";
                    let network: spec::NetworkSpec = ctx.typed(if cluster_scoped {
                        "spec.network"
                    } else {
                        "spec"
                    })?;
                    let selector: Option<LabelSelector> = if cluster_scoped {
                        Some(ctx.typed("spec.namespaceSelector")?)
                    } else {
                        None
                    };
                    if let Some(sel) = &selector {
                        validate_selector(&ctx, sel, "spec.namespaceSelector")?;
                    }
                    networks.push(UserNetwork {
                        error_site: (ctx.origin.clone(), ctx.name()),
                        name: object.metadata.name.clone(),
                        namespace: namespace_of(&object),
                        network,
                        selector,
                    });
                }
                "Service" => {
                    let spec: crate::ingress::ServiceSpec = ctx.typed("spec")?;
                    let namespace = namespace_of(&object);
                    match crate::ingress::service(&namespace, &object.metadata.name, spec) {
                        Some(svc) => cluster.ingress.services.push(svc),
                        None => cluster.warnings.push(format!(
                            "ignoring Service {namespace}/{}: a Service without a selector is not supported",
                            object.metadata.name
                        )),
                    }
                }
                "Ingress" => {
                    let spec: crate::ingress::IngressSpec = ctx.typed("spec")?;
                    let found = crate::ingress::ingress_backends(
                        &namespace_of(&object),
                        &object.metadata.name,
                        &spec,
                        &mut cluster.warnings,
                    );
                    cluster.ingress.backends.extend(found);
                }
                "Route" => {
                    let spec: crate::ingress::RouteSpec = ctx.typed("spec")?;
                    let found = crate::ingress::route_backends(
                        &namespace_of(&object),
                        &object.metadata.name,
                        &spec,
                        &mut cluster.warnings,
                    );
                    cluster.ingress.backends.extend(found);
                }
                other => *skipped.entry(other.to_string()).or_default() += 1,
            }
        }
        if !networks.is_empty() {
            check_user_networks(&networks, &cluster.namespaces)?;
            cluster.warnings.push(
                "(Cluster)UserDefinedNetworks are validated, but the isolation they add is not analysed".into(),
            );
        }
        cluster.admin_policies.sort_by_key(|p| p.priority);
        for workload in &cluster.workloads {
            cluster
                .namespaces
                .entry(workload.namespace.clone())
                .or_insert_with(|| {
                    Labels::from([(NAMESPACE_NAME_LABEL.to_string(), workload.namespace.clone())])
                });
        }
        for backend in &cluster.ingress.backends {
            let found = cluster
                .ingress
                .services
                .iter()
                .any(|s| s.namespace == backend.namespace && s.name == backend.service);
            if !found {
                // Upstream ignores such a backend too; say why it adds no connection.
                cluster.warnings.push(format!(
                    "{}: ignoring target Service {}/{}: no such Service with a selector",
                    backend.via, backend.namespace, backend.service
                ));
            }
        }
        crate::ingress::add_controller(&mut cluster);
        if !skipped.is_empty() {
            let list: Vec<String> = skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
            cluster
                .warnings
                .push(format!("skipped kinds: {}", list.join(", ")));
        }
        Ok(cluster)
    }

    fn add_workload(
        &mut self,
        index: &mut HashMap<(String, String, String), usize>,
        workload: Workload,
        pod_name: &str,
    ) {
        let key = (
            workload.namespace.clone(),
            workload.name.clone(),
            workload.kind.clone(),
        );
        match index.get(&key) {
            Some(&i) => {
                if self.workloads[i].labels != workload.labels {
                    self.label_gaps
                        .push((i, workload.labels, pod_name.to_string()));
                }
            }
            None => {
                index.insert(key, self.workloads.len());
                self.workloads.push(workload);
            }
        }
    }

    /// Whether any NetworkPolicy, AdminNetworkPolicy or baseline exists.
    pub fn has_policies(&self) -> bool {
        !self.network_policies.is_empty()
            || !self.admin_policies.is_empty()
            || self.baseline.is_some()
    }
}

/// A (Cluster)UserDefinedNetwork, kept for validation.
struct UserNetwork {
    error_site: (Origin, String),
    name: String,
    namespace: String,
    network: spec::NetworkSpec,
    /// `Some` for a ClusterUserDefinedNetwork.
    selector: Option<LabelSelector>,
}

const PRIMARY_UDN_LABEL: &str = "k8s.ovn.org/primary-user-defined-network";

/// Validates (Cluster)UserDefinedNetworks as upstream does: topology Layer2 or Layer3 with only
/// its layer configured, role Primary or Secondary, a UDN not named `default`, and at most one
/// primary network per namespace, never `default` or an `openshift-*` namespace.
fn check_user_networks(
    networks: &[UserNetwork],
    namespaces: &BTreeMap<String, Labels>,
) -> Result<(), NetpolError> {
    let mut primary: BTreeMap<String, String> = BTreeMap::new();
    for n in networks {
        let err = |message: String| NetpolError::Invalid {
            file: n.error_site.0.file.to_string(),
            line: n.error_site.0.line,
            object: n.error_site.1.clone(),
            message,
        };
        let id = if n.selector.is_some() {
            n.name.clone()
        } else {
            format!("{}/{}", n.namespace, n.name)
        };
        if n.selector.is_none() && n.name == "default" {
            return Err(err(format!(
                "illegal name of user-defined-network {id}: a UserDefinedNetwork may not be named default"
            )));
        }
        let net = &n.network;
        if net.topology != "Layer2" && net.topology != "Layer3" {
            return Err(err(format!(
                "user-defined-network {id}: invalid value {:?} for key topology (Layer2 or Layer3)",
                net.topology
            )));
        }
        if (net.topology == "Layer2" && net.layer3.is_some())
            || (net.topology == "Layer3" && net.layer2.is_some())
        {
            return Err(err(format!(
                "user-defined-network {id}: topology {} does not match the layer configured",
                net.topology
            )));
        }
        let mut is_primary = false;
        for layer in [&net.layer2, &net.layer3].into_iter().flatten() {
            match layer.role.as_str() {
                "Primary" => is_primary = true,
                "Secondary" => {}
                other => {
                    return Err(err(format!(
                        "user-defined-network {id}: invalid value {other:?} for key role (Primary or Secondary)"
                    )))
                }
            }
        }
        if !is_primary {
            continue;
        }
        let assigned: Vec<&String> = match &n.selector {
            None => namespaces
                .get_key_value(&n.namespace)
                .map(|(k, _)| k)
                .into_iter()
                .collect(),
            Some(sel) => namespaces
                .iter()
                .filter(|(_, labels)| sel.matches(labels))
                .map(|(k, _)| k)
                .collect(),
        };
        for ns in assigned {
            if !namespaces[ns].contains_key(PRIMARY_UDN_LABEL) {
                continue;
            }
            if ns == "default" || ns.starts_with("openshift-") {
                return Err(err(format!(
                    "user-defined-network {id} is assigned to namespace {ns}: UserDefinedNetworks must not be created in it (no isolation)"
                )));
            }
            if let Some(current) = primary.get(ns) {
                return Err(err(format!(
                    "only one primary (Cluster)UserDefinedNetwork may be assigned to a namespace, but {current} and {id} are both assigned to namespace {ns}"
                )));
            }
            primary.insert(ns.clone(), id.clone());
        }
    }
    Ok(())
}

fn validate_selector(
    ctx: &Ctx<'_>,
    selector: &LabelSelector,
    path: &str,
) -> Result<(), NetpolError> {
    selector
        .validate()
        .map_err(|e| ctx.err_at(ctx.line_of(path), format!("selector error in {path}: {e}")))
}

fn compile_ports(
    ctx: &Ctx<'_>,
    ports: &Option<Vec<spec::NetworkPolicyPort>>,
    path: &str,
) -> Result<Option<Vec<PortSpec>>, NetpolError> {
    let Some(ports) = ports else { return Ok(None) };
    if ports.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let here = format!("{path}.ports.{i}");
        let line = ctx.line_of(&here);
        let protocol = parse_protocol(ctx, port.protocol.as_deref(), line)?;
        out.push(match &port.port {
            None => PortSpec::AllPorts(protocol),
            Some(spec::IntOrString::String(name)) => {
                if port.end_port.is_some() {
                    return Err(ctx.err_at(
                        line,
                        format!("named port error in {here}: endPort cannot be set when port is a named (string) port"),
                    ));
                }
                if let Ok(n) = name.parse::<i64>() {
                    let p = port_in_range(n).ok_or_else(|| ctx.err_at(line, illegal_range(n, n)))?;
                    PortSpec::Range {
                        protocol,
                        start: p,
                        end: p,
                    }
                } else {
                    PortSpec::Named {
                        protocol: Some(protocol),
                        name: name.clone(),
                    }
                }
            }
            Some(spec::IntOrString::Int(start)) => {
                let end = port.end_port.unwrap_or(*start);
                match (port_in_range(*start), port_in_range(end)) {
                    (Some(s), Some(e)) if s <= e => PortSpec::Range {
                        protocol,
                        start: s,
                        end: e,
                    },
                    _ => return Err(ctx.err_at(line, illegal_range(*start, end))),
                }
            }
        });
    }
    Ok(Some(out))
}

fn compile_np_rules(
    ctx: &Ctx<'_>,
    rules: &[spec::NetworkPolicyRule],
    namespace: &str,
    direction: &str,
) -> Result<Vec<Rule>, NetpolError> {
    let peers_field = if direction == "ingress" { "from" } else { "to" };
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let rule_path = format!("spec.{direction}.{i}");
        let peers = match &rule.from {
            None => None,
            Some(list) if list.is_empty() => None,
            Some(list) => {
                let mut peers = Vec::new();
                for (j, peer) in list.iter().enumerate() {
                    let path = format!("{rule_path}.{peers_field}.{j}");
                    let line = ctx.line_of(&path);
                    let has_pods = peer.pod_selector.is_some() || peer.namespace_selector.is_some();
                    match (&peer.ip_block, has_pods) {
                        (None, false) => {
                            return Err(ctx.err_at(
                                line,
                                format!("rule NetworkPolicyPeer error in {path}: a rule peer cannot be empty"),
                            ))
                        }
                        (Some(_), true) => {
                            return Err(ctx.err_at(
                                line,
                                format!("rule NetworkPolicyPeer error in {path}: a rule peer cannot have both ipBlock and podSelector/namespaceSelector"),
                            ))
                        }
                        (Some(block), false) => {
                            let except = block.except.clone().unwrap_or_default();
                            match IpSet::from_cidr_except(&block.cidr, &except) {
                                Ok(Some(set)) => peers.push(Peer::Ips(set)),
                                Ok(None) => peers.push(Peer::Nothing),
                                Err(IpBlockError::ExceptNotWithin { index, value }) => {
                                    // The API server's message for this field.
                                    let field = format!("{path}.ipBlock.except.{index}");
                                    return Err(ctx.err_at(
                                        ctx.line_of_entry(&field),
                                        format!("CIDR error in {field}: Invalid value: {value:?}: must be a strict subset of `cidr`"),
                                    ));
                                }
                                Err(e) => {
                                    return Err(ctx.err_at(
                                        ctx.line_of(&format!("{path}.ipBlock")),
                                        format!("CIDR error in {path}.ipBlock: {e}"),
                                    ))
                                }
                            }
                        }
                        (None, true) => {
                            if let Some(sel) = &peer.pod_selector {
                                validate_selector(ctx, sel, &format!("{path}.podSelector"))?;
                            }
                            if let Some(sel) = &peer.namespace_selector {
                                validate_selector(ctx, sel, &format!("{path}.namespaceSelector"))?;
                            }
                            peers.push(Peer::Pods(PodMatcher {
                                namespaces: match &peer.namespace_selector {
                                    None => NamespaceMatch::Named(namespace.to_string()),
                                    Some(sel) => NamespaceMatch::Selector(sel.clone()),
                                },
                                pods: peer.pod_selector.clone(),
                            }));
                        }
                    }
                }
                Some(peers)
            }
        };
        let ports = compile_ports(ctx, &rule.ports, &rule_path)?;
        out.push(Rule { peers, ports });
    }
    Ok(out)
}

fn compile_network_policy(ctx: &Ctx<'_>) -> Result<NetworkPolicy, NetpolError> {
    let spec: spec::NetworkPolicySpec = ctx.typed("spec")?;
    let namespace = namespace_of(ctx.object);
    let selector = spec.pod_selector.clone().unwrap_or_default();
    validate_selector(ctx, &selector, "spec.podSelector")?;
    let ingress_rules = spec.ingress.clone().unwrap_or_default();
    let egress_rules = spec.egress.clone().unwrap_or_default();
    let (affects_ingress, affects_egress) = match &spec.policy_types {
        Some(types) if !types.is_empty() => {
            for t in types {
                if t != "Ingress" && t != "Egress" {
                    return Err(ctx.err_at(
                        ctx.line_of("spec.policyTypes"),
                        format!("policyTypes: {t:?} is not Ingress or Egress"),
                    ));
                }
            }
            (
                types.iter().any(|t| t == "Ingress"),
                types.iter().any(|t| t == "Egress"),
            )
        }
        _ => (true, !egress_rules.is_empty()),
    };
    let ingress = compile_np_rules(ctx, &ingress_rules, &namespace, "ingress")?;
    let egress = compile_np_rules(ctx, &egress_rules, &namespace, "egress")?;
    Ok(NetworkPolicy {
        subject: PodMatcher {
            namespaces: NamespaceMatch::Named(namespace.clone()),
            pods: Some(selector),
        },
        namespace,
        name: ctx.object.metadata.name.clone(),
        ingress: affects_ingress.then_some(ingress),
        egress: affects_egress.then_some(egress),
        origin: ctx.origin.clone(),
    })
}

fn compile_admin_peer(
    ctx: &Ctx<'_>,
    peer: &spec::AdminPeer,
    path: &str,
    egress: bool,
) -> Result<Vec<Peer>, NetpolError> {
    let line = ctx.line_of(path);
    if !exactly_one(&[
        peer.namespaces.is_some(),
        peer.pods.is_some(),
        egress && peer.nodes.is_some(),
        egress && peer.networks.is_some(),
    ]) {
        return Err(ctx.err_at(
            line,
            format!("{path}: exactly one field must be set in a rule peer"),
        ));
    }
    if let Some(sel) = &peer.namespaces {
        validate_selector(ctx, sel, &format!("{path}.namespaces"))?;
        return Ok(vec![Peer::Pods(PodMatcher {
            namespaces: NamespaceMatch::Selector(sel.clone()),
            pods: None,
        })]);
    }
    if let Some(pods) = &peer.pods {
        validate_selector(
            ctx,
            &pods.namespace_selector,
            &format!("{path}.pods.namespaceSelector"),
        )?;
        validate_selector(ctx, &pods.pod_selector, &format!("{path}.pods.podSelector"))?;
        return Ok(vec![Peer::Pods(PodMatcher {
            namespaces: NamespaceMatch::Selector(pods.namespace_selector.clone()),
            pods: Some(pods.pod_selector.clone()),
        })]);
    }
    if let Some(networks) = &peer.networks {
        // One peer per CIDR: each CIDR's boundaries cut the external address space.
        let mut sets = Vec::new();
        for cidr in networks {
            let set = IpSet::parse_cidr(cidr)
                .map_err(|e| ctx.err_at(line, format!("{path}.networks: {e}")))?;
            sets.extend(set.map(Peer::Ips));
        }
        return Ok(sets);
    }
    // `nodes`: node addresses are outside this model.
    Ok(vec![Peer::Nothing])
}

/// Whether exactly one of an API union's fields is set (the admin policy types are unions).
fn exactly_one(set: &[bool]) -> bool {
    set.iter().filter(|b| **b).count() == 1
}

fn compile_admin_ports(
    ctx: &Ctx<'_>,
    ports: &Option<Vec<spec::AdminPort>>,
    path: &str,
) -> Result<Option<Vec<PortSpec>>, NetpolError> {
    let Some(ports) = ports else { return Ok(None) };
    let mut out = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let here = format!("{path}.ports.{i}");
        let line = ctx.line_of(&here);
        if !exactly_one(&[
            port.port_number.is_some(),
            port.port_range.is_some(),
            port.named_port.is_some(),
        ]) {
            return Err(ctx.err_at(
                line,
                format!("{here}: exactly one field must be set in an AdminNetworkPolicyPort"),
            ));
        }
        if let Some(n) = &port.port_number {
            let protocol = parse_protocol(ctx, n.protocol.as_deref(), line)?;
            let p = port_in_range(n.port)
                .ok_or_else(|| ctx.err_at(line, illegal_range(n.port, n.port)))?;
            out.push(PortSpec::Range {
                protocol,
                start: p,
                end: p,
            });
        } else if let Some(r) = &port.port_range {
            let protocol = parse_protocol(ctx, r.protocol.as_deref(), line)?;
            match (port_in_range(r.start), port_in_range(r.end)) {
                (Some(s), Some(e)) if s <= e => out.push(PortSpec::Range {
                    protocol,
                    start: s,
                    end: e,
                }),
                _ => return Err(ctx.err_at(line, illegal_range(r.start, r.end))),
            }
        } else if let Some(name) = &port.named_port {
            out.push(PortSpec::Named {
                protocol: None,
                name: name.clone(),
            });
        }
    }
    Ok(Some(out))
}

fn compile_admin_rules(
    ctx: &Ctx<'_>,
    rules: &[spec::AdminRule],
    egress: bool,
    baseline: bool,
) -> Result<Vec<AdminRule>, NetpolError> {
    let (dir, field) = if egress {
        ("egress", "to")
    } else {
        ("ingress", "from")
    };
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("spec.{dir}.{i}");
        let line = ctx.line_of(&path);
        let action = match (rule.action.as_str(), baseline) {
            ("Allow", _) => Action::Allow,
            ("Deny", _) => Action::Deny,
            ("Pass", false) => Action::Pass,
            (other, _) => {
                return Err(ctx.err_at(
                    line,
                    format!(
                        "rule {:?}: unrecognized action {other:?} (expected {})",
                        rule.name,
                        if baseline {
                            "Allow or Deny"
                        } else {
                            "Allow, Deny or Pass"
                        }
                    ),
                ))
            }
        };
        let list = rule.from.as_deref().unwrap_or_default();
        if list.is_empty() {
            return Err(ctx.err_at(
                line,
                format!(
                    "rule {:?}: {field} field must be defined and contain at least one item",
                    rule.name
                ),
            ));
        }
        let mut peers = Vec::new();
        for (j, peer) in list.iter().enumerate() {
            peers.extend(compile_admin_peer(
                ctx,
                peer,
                &format!("{path}.{field}.{j}"),
                egress,
            )?);
        }
        let ports = compile_admin_ports(ctx, &rule.ports, &path)?;
        out.push(AdminRule {
            name: rule.name.clone(),
            action,
            peers,
            ports,
        });
    }
    Ok(out)
}

fn compile_admin_policy(ctx: &Ctx<'_>, baseline: bool) -> Result<AdminPolicy, NetpolError> {
    let spec: spec::AdminPolicySpec = ctx.typed("spec")?;
    let priority = if baseline {
        0
    } else {
        let p = spec.priority.unwrap_or(0);
        if !(0..=1000).contains(&p) {
            return Err(ctx.err_at(
                ctx.line_of("spec.priority"),
                format!("invalid priority {p}: an AdminNetworkPolicy's priority must be in 0-1000"),
            ));
        }
        p
    };
    let subject_line = ctx.line_of("spec.subject");
    let subject_spec = spec.subject.clone().unwrap_or_default();
    let subject = match (&subject_spec.namespaces, &subject_spec.pods) {
        (Some(sel), None) => {
            validate_selector(ctx, sel, "spec.subject.namespaces")?;
            PodMatcher {
                namespaces: NamespaceMatch::Selector(sel.clone()),
                pods: None,
            }
        }
        (None, Some(pods)) => {
            validate_selector(
                ctx,
                &pods.namespace_selector,
                "spec.subject.pods.namespaceSelector",
            )?;
            validate_selector(ctx, &pods.pod_selector, "spec.subject.pods.podSelector")?;
            PodMatcher {
                namespaces: NamespaceMatch::Selector(pods.namespace_selector.clone()),
                pods: Some(pods.pod_selector.clone()),
            }
        }
        _ => {
            return Err(ctx.err_at(
                subject_line,
                "spec.subject: exactly one field must be set in a subject (namespaces or pods)",
            ))
        }
    };
    let ingress = compile_admin_rules(
        ctx,
        spec.ingress.as_deref().unwrap_or_default(),
        false,
        baseline,
    )?;
    let egress = compile_admin_rules(
        ctx,
        spec.egress.as_deref().unwrap_or_default(),
        true,
        baseline,
    )?;
    Ok(AdminPolicy {
        name: ctx.object.metadata.name.clone(),
        priority,
        subject,
        ingress,
        egress,
        origin: ctx.origin.clone(),
    })
}

impl fmt::Display for PodMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespaces {
            NamespaceMatch::Named(ns) => write!(f, "namespace {ns}")?,
            NamespaceMatch::Selector(sel) => write!(f, "namespaces {{{sel}}}")?,
        }
        if let Some(pods) = &self.pods {
            write!(f, ", pods {{{pods}}}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::load::load_str;
    use crate::NetpolError;

    fn error_of(yaml: &str) -> String {
        match load_str("in.yaml", yaml) {
            Err(NetpolError::Invalid {
                message,
                object,
                file,
                ..
            }) => {
                assert_eq!(file, "in.yaml");
                format!("{object}: {message}")
            }
            other => panic!("expected an invalid object, got {other:?}"),
        }
    }

    const NP: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: np, namespace: ns}\nspec:\n";

    #[test]
    fn policy_types_default_from_the_rules() {
        let c = load_str(
            "in.yaml",
            &format!("{NP}  podSelector: {{}}\n  egress: [{{}}]\n"),
        )
        .unwrap();
        let np = &c.network_policies[0];
        assert!(
            np.ingress.as_ref().is_some_and(Vec::is_empty),
            "ingress always applies"
        );
        assert_eq!(np.egress.as_ref().map(Vec::len), Some(1));
        let c = load_str("in.yaml", &format!("{NP}  podSelector: {{}}\n")).unwrap();
        assert!(
            c.network_policies[0].egress.is_none(),
            "no egress rules: egress unaffected"
        );
        let c = load_str(
            "in.yaml",
            &format!("{NP}  podSelector: {{}}\n  policyTypes: [Egress]\n"),
        )
        .unwrap();
        assert!(c.network_policies[0].ingress.is_none());
        assert!(c.network_policies[0]
            .egress
            .as_ref()
            .is_some_and(Vec::is_empty));
    }

    #[test]
    fn invalid_network_policies_are_errors_naming_the_object() {
        let e = error_of(&format!(
            "{NP}  podSelector: {{}}\n  ingress:\n  - from:\n    - ipBlock: {{cidr: 10.0.0.0/8}}\n      podSelector: {{}}\n"
        ));
        assert!(e.starts_with("NetworkPolicy ns/np: "), "{e}");
        assert!(e.contains("both ipBlock and podSelector"), "{e}");
        assert!(
            error_of(&format!("{NP}  ingress:\n  - from:\n    - {{}}\n"))
                .contains("cannot be empty")
        );
        assert!(error_of(&format!(
            "{NP}  ingress:\n  - from:\n    - ipBlock: {{cidr: 300.0.0.0/8}}\n"
        ))
        .contains("invalid CIDR"));
        assert!(error_of(&format!(
            "{NP}  ingress:\n  - ports:\n    - port: http\n      endPort: 90\n"
        ))
        .contains("endPort"));
        assert!(error_of(&format!(
            "{NP}  ingress:\n  - ports:\n    - port: 10\n      endPort: 1\n"
        ))
        .contains("port range 10-1"));
        assert!(error_of(&format!(
            "{NP}  podSelector: {{matchLabels: {{\"a b\": x}}}}\n"
        ))
        .contains("selector error"));
        let twice = format!("{NP}  podSelector: {{}}\n---\n{NP}  podSelector: {{}}\n");
        assert!(error_of(&twice).contains("already exists"));
    }

    #[test]
    fn invalid_admin_policies_are_errors() {
        let anp = |spec: &str| {
            format!("apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: a}}\nspec:\n{spec}")
        };
        assert!(
            error_of(&anp("  priority: 1001\n  subject: {namespaces: {}}\n")).contains("priority")
        );
        assert!(error_of(&anp("  priority: 1\n"))
            .contains("exactly one field must be set in a subject"));
        assert!(error_of(&anp(
            "  priority: 1\n  subject: {namespaces: {}}\n  egress:\n  - {name: r, action: Allow, to: []}\n"
        ))
        .contains("to field must be defined"));
        assert!(error_of(&anp(
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - {name: r, action: Accept, from: [{namespaces: {}}]}\n"
        ))
        .contains("unrecognized action"));
        assert!(error_of(&anp(
            "  priority: 1\n  subject: {namespaces: {}}\n  ingress:\n  - name: r\n    action: Allow\n    from: [{namespaces: {}}]\n    ports: [{portNumber: {port: 80}, namedPort: http}]\n"
        ))
        .contains("AdminNetworkPolicyPort"));
        let banp = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: other}\nspec:\n  subject: {namespaces: {}}\n";
        assert!(error_of(banp).contains("must be named \"default\""));
        let pass = "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress:\n  - {name: r, action: Pass, from: [{namespaces: {}}]}\n";
        assert!(error_of(pass).contains("unrecognized action \"Pass\""));
    }

    #[test]
    fn user_defined_networks_are_validated() {
        let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: blue, labels: {k8s.ovn.org/primary-user-defined-network: \"\"}}\n";
        let udn = |name: &str, spec: &str| {
            format!("---\napiVersion: k8s.ovn.org/v1\nkind: UserDefinedNetwork\nmetadata: {{name: {name}, namespace: blue}}\nspec:\n{spec}")
        };
        let ok = format!(
            "{ns}{}",
            udn("a", "  topology: Layer2\n  layer2: {role: Primary}\n")
        );
        assert!(load_str("in.yaml", &ok).is_ok());
        let bad_topology = format!(
            "{ns}{}",
            udn("a", "  topology: Layer4\n  layer2: {role: Primary}\n")
        );
        assert!(error_of(&bad_topology).contains("topology"));
        let mismatch = format!(
            "{ns}{}",
            udn("a", "  topology: Layer3\n  layer2: {role: Primary}\n")
        );
        assert!(error_of(&mismatch).contains("does not match"));
        let two = format!(
            "{ok}{}",
            udn("b", "  topology: Layer3\n  layer3: {role: Primary}\n")
        );
        assert!(error_of(&two).contains("only one primary"));
        let named_default = format!(
            "{ns}{}",
            udn("default", "  topology: Layer2\n  layer2: {role: Primary}\n")
        );
        assert!(error_of(&named_default).contains("may not be named default"));
    }

    #[test]
    fn pods_collapse_to_their_controller() {
        let c = load_str(
            "in.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  labels: {app: web}\n  ownerReferences: [{kind: ReplicaSet, name: web-7d, controller: true}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: web-2\n  labels: {app: web}\n  ownerReferences: [{kind: ReplicaSet, name: web-7d, controller: true}]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: prod}\nspec:\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]\n",
        )
        .unwrap();
        let keys: Vec<String> = c.workloads.iter().map(|w| w.key()).collect();
        assert_eq!(keys, ["default/web-7d[ReplicaSet]", "prod/api[Deployment]"]);
        assert_eq!(c.workloads[1].ports[0].name.as_deref(), Some("http"));
    }
}
