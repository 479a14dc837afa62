//! The network intent file (`docs/netpol-intent.md`): which services a platform runs, which clients
//! each accepts (on which ports, optionally which HTTP methods and paths), and what each may reach.
//! Validated when loaded: every error names the file, the line and the key.
//!
//! The intent is read into [`Intent`]; [`Intent::edges`] lists the connections it allows, which is
//! what both the generator and `netpol verify` work from.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use palisade_core::names::{is_dns_label, is_dns_subdomain, is_label_key, is_label_value};
use palisade_core::object::typed_at;
use palisade_core::path::FieldPath;
use palisade_core::{yaml, InputError, Node};

use crate::ipblock::{network, parse_prefix, PrefixError};

pub const API_VERSION: &str = "palisade.dev/v1alpha1";
pub const KIND: &str = "NetworkIntent";

/// The name `reaches` uses for the cluster DNS.
pub const DNS: &str = "dns";

/// An intent file that is invalid: the file, the key and its line.
pub type IntentError = InputError;

/// A validated intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The file it was read from, for messages.
    pub file: Arc<str>,
    /// Connections between services of different teams must be declared as such.
    pub team_isolation: bool,
    /// Every pod of every managed namespace may query the cluster DNS.
    pub dns_for_all: bool,
    pub cluster_dns: ClusterDns,
    /// The managed namespaces: default-deny and the allows are generated for each.
    pub namespaces: BTreeMap<String, Namespace>,
    /// Workloads outside the managed namespaces that services talk to.
    pub peers: BTreeMap<String, Peer>,
    /// Workloads in the managed namespaces.
    pub services: BTreeMap<String, Service>,
}

/// Where the cluster DNS runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDns {
    pub namespace: String,
    pub pod_labels: BTreeMap<String, String>,
    /// UDP and TCP on each.
    pub ports: Vec<u16>,
}

impl Default for ClusterDns {
    fn default() -> Self {
        Self {
            namespace: "kube-system".into(),
            pod_labels: BTreeMap::from([("k8s-app".into(), "kube-dns".into())]),
            ports: vec![53],
        }
    }
}

impl ClusterDns {
    /// The DNS ports, UDP and TCP.
    pub fn port_ranges(&self) -> Vec<PortRange> {
        let mut out = Vec::new();
        for &p in &self.ports {
            out.push(PortRange::single(Protocol::Udp, p));
            out.push(PortRange::single(Protocol::Tcp, p));
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub team: String,
    /// A platform namespace (gateway, shared feature store): its services may serve and call every
    /// team without `crossTeam`.
    pub shared: bool,
}

/// A workload palisade does not write policies for (an ingress controller, Prometheus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub name: String,
    pub namespace: String,
    pub pod_labels: BTreeMap<String, String>,
    pub service_account: String,
    /// The ports it listens on, for services that reach it.
    pub ports: Vec<PortRange>,
}

/// A workload in a managed namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    pub namespace: String,
    pub pod_labels: BTreeMap<String, String>,
    pub service_account: String,
    pub accepts: Vec<Accept>,
    pub reaches: Vec<Reach>,
    /// May open connections to public addresses (anything outside the private ranges).
    pub internet_egress: bool,
    /// HTTP paths the kubelet probes (authorised for Linkerd, whose routes would otherwise hide them).
    pub probes: Vec<String>,
}

impl Service {
    /// True when some accepts rule carries HTTP rules: the service gets mesh L7 policy.
    pub fn has_l7(&self) -> bool {
        self.accepts.iter().any(|a| !a.http.is_empty())
    }
}

/// One `accepts` rule: these clients, on these ports (and, with `http`, only these requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    pub from: Vec<Client>,
    pub ports: Vec<PortRange>,
    pub http: Vec<HttpRule>,
    pub cross_team: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Client {
    /// A service or a peer, by name.
    Workload(String),
    /// Addresses outside the cluster (a load balancer's range).
    Cidr(IpBlock),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A service or a peer, by name; the ports are the ones it accepts on.
    Workload(String),
    /// The cluster DNS.
    Dns,
    /// Addresses outside the cluster, on these ports (all ports when empty).
    Cidr {
        block: IpBlock,
        ports: Vec<PortRange>,
    },
}

/// Requests an HTTP rule allows: any of `methods` (any method when empty) on any of `paths` (any
/// path when empty). A path ending in `*` is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRule {
    pub methods: Vec<String>,
    pub paths: Vec<String>,
}

/// A CIDR, with exceptions inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpBlock {
    pub cidr: String,
    pub except: Vec<String>,
}

impl IpBlock {
    /// Public IPv4 addresses: everything but the RFC 1918 private ranges, where clusters live.
    pub fn internet() -> Self {
        Self {
            cidr: "0.0.0.0/0".into(),
            except: vec![
                "10.0.0.0/8".into(),
                "172.16.0.0/12".into(),
                "192.168.0.0/16".into(),
            ],
        }
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cidr)?;
        if !self.except.is_empty() {
            write!(f, " except {}", self.except.join(","))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A protocol and an inclusive port range (`start == end` for one port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub protocol: Protocol,
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn single(protocol: Protocol, port: u16) -> Self {
        Self {
            protocol,
            start: port,
            end: port,
        }
    }

    /// Parses `8080`, `8080/TCP`, `53/UDP`, `30000-32767/TCP` (TCP when no protocol is given).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (ports, protocol) = match text.split_once('/') {
            Some((ports, proto)) => {
                let protocol = match proto.to_ascii_uppercase().as_str() {
                    "TCP" => Protocol::Tcp,
                    "UDP" => Protocol::Udp,
                    "SCTP" => Protocol::Sctp,
                    _ => return Err(format!("unknown protocol {proto:?} (TCP, UDP or SCTP)")),
                };
                (ports, protocol)
            }
            None => (text, Protocol::Tcp),
        };
        let number = |s: &str| -> Result<u16, String> {
            match s.trim().parse::<u32>() {
                Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
                _ => Err(format!(
                    "{text:?} is not a port (1-65535), a range (30000-32767) or either with /TCP, /UDP or /SCTP"
                )),
            }
        };
        let (start, end) = match ports.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let p = number(ports)?;
                (p, p)
            }
        };
        if end < start {
            return Err(format!("{text:?}: the range ends before it starts"));
        }
        Ok(Self {
            protocol,
            start,
            end,
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}/{}", self.start, self.protocol)
        } else {
            write!(f, "{}-{}/{}", self.start, self.end, self.protocol)
        }
    }
}

/// One end of a connection the intent allows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// A service or a peer, by name.
    Workload(String),
    /// Every pod of a managed namespace (the namespace-wide DNS allowance).
    Namespace(String),
    /// The cluster DNS.
    Dns,
    /// Addresses outside the cluster.
    Cidr(IpBlock),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Workload(name) => f.write_str(name),
            Endpoint::Namespace(ns) => write!(f, "every pod in {ns}"),
            Endpoint::Dns => f.write_str("cluster DNS"),
            Endpoint::Cidr(block) => write!(f, "{block}"),
        }
    }
}

/// A connection the intent allows: `from` may open connections to `to` on `ports` (every port when
/// `ports` is empty).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edge {
    pub from: Endpoint,
    pub to: Endpoint,
    pub ports: Vec<PortRange>,
}

/// Who an endpoint name refers to.
#[derive(Debug, Clone, Copy)]
pub enum Named<'a> {
    Service(&'a Service),
    Peer(&'a Peer),
}

impl Named<'_> {
    pub fn namespace(&self) -> &str {
        match self {
            Named::Service(s) => &s.namespace,
            Named::Peer(p) => &p.namespace,
        }
    }

    pub fn pod_labels(&self) -> &BTreeMap<String, String> {
        match self {
            Named::Service(s) => &s.pod_labels,
            Named::Peer(p) => &p.pod_labels,
        }
    }

    pub fn service_account(&self) -> &str {
        match self {
            Named::Service(s) => &s.service_account,
            Named::Peer(p) => &p.service_account,
        }
    }
}

impl Intent {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Intent, IntentError> {
        let file: Arc<str> = Arc::from(path.display().to_string());
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::file(file.clone(), format!("cannot read intent: {e}")))?;
        Intent::parse(file, &text)
    }

    /// Parses and validates intent text; `file` names it in errors.
    pub fn parse(file: Arc<str>, text: &str) -> Result<Intent, IntentError> {
        let root = yaml::single_document(text)
            .map_err(|e| InputError::from_yaml(file.clone(), e))?
            .ok_or_else(|| InputError::file(file.clone(), "the intent file is empty".into()))?;
        if !root.is_mapping() {
            return Err(InputError::at(
                file,
                root.line,
                format!("an intent must be a mapping, not a {}", root.type_name()),
            ));
        }
        let raw: RawIntent = typed_at(&file, &root, &FieldPath::root(), &root)?;
        Validator {
            file: &file,
            root: &root,
        }
        .validate(raw)
    }

    /// The service or peer called `name`.
    pub fn named(&self, name: &str) -> Option<Named<'_>> {
        self.services
            .get(name)
            .map(Named::Service)
            .or_else(|| self.peers.get(name).map(Named::Peer))
    }

    /// Every connection the intent allows, in a stable order; two declarations of the same
    /// endpoints are merged, with their ports.
    pub fn edges(&self) -> Vec<Edge> {
        let mut merged: BTreeMap<(Endpoint, Endpoint), BTreeSet<PortRange>> = BTreeMap::new();
        let mut all_ports: BTreeSet<(Endpoint, Endpoint)> = BTreeSet::new();
        let mut add = |from: Endpoint, to: Endpoint, ports: &[PortRange]| {
            if ports.is_empty() {
                all_ports.insert((from.clone(), to.clone()));
            }
            merged
                .entry((from, to))
                .or_default()
                .extend(ports.iter().copied());
        };
        if self.dns_for_all {
            for ns in self.namespaces.keys() {
                add(
                    Endpoint::Namespace(ns.clone()),
                    Endpoint::Dns,
                    &self.cluster_dns.port_ranges(),
                );
            }
        }
        for service in self.services.values() {
            let me = Endpoint::Workload(service.name.clone());
            for accept in &service.accepts {
                for client in &accept.from {
                    let from = match client {
                        Client::Workload(name) => Endpoint::Workload(name.clone()),
                        Client::Cidr(block) => Endpoint::Cidr(block.clone()),
                    };
                    add(from, me.clone(), &accept.ports);
                }
            }
            for reach in &service.reaches {
                match reach {
                    // Services: the accepting side's rules, added above (validation makes both
                    // sides agree).
                    Reach::Workload(name) => {
                        if let Some(peer) = self.peers.get(name) {
                            add(me.clone(), Endpoint::Workload(name.clone()), &peer.ports);
                        }
                    }
                    Reach::Dns => add(me.clone(), Endpoint::Dns, &self.cluster_dns.port_ranges()),
                    Reach::Cidr { block, ports } => {
                        add(me.clone(), Endpoint::Cidr(block.clone()), ports)
                    }
                }
            }
            if service.internet_egress {
                add(me.clone(), Endpoint::Cidr(IpBlock::internet()), &[]);
            }
        }
        merged
            .into_iter()
            .map(|((from, to), ports)| {
                let ports = if all_ports.contains(&(from.clone(), to.clone())) {
                    Vec::new()
                } else {
                    ports.into_iter().collect()
                };
                Edge { from, to, ports }
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written.

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawIntent {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default = "yes")]
    team_isolation: bool,
    #[serde(default)]
    internet_egress: bool,
    #[serde(default = "yes")]
    dns: bool,
    #[serde(default)]
    cluster_dns: Option<RawClusterDns>,
    #[serde(default)]
    namespaces: BTreeMap<String, RawNamespace>,
    #[serde(default)]
    peers: BTreeMap<String, RawPeer>,
    #[serde(default)]
    services: BTreeMap<String, RawService>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawClusterDns {
    namespace: String,
    pod_labels: BTreeMap<String, String>,
    #[serde(default)]
    ports: Vec<RawPort>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawNamespace {
    team: String,
    #[serde(default)]
    shared: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPeer {
    namespace: String,
    pod_labels: BTreeMap<String, String>,
    #[serde(default)]
    service_account: Option<String>,
    #[serde(default)]
    ports: Vec<RawPort>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawService {
    namespace: String,
    pod_labels: BTreeMap<String, String>,
    #[serde(default)]
    service_account: Option<String>,
    #[serde(default)]
    accepts: Vec<RawAccept>,
    #[serde(default)]
    reaches: Vec<RawReach>,
    #[serde(default)]
    internet_egress: Option<bool>,
    #[serde(default)]
    probes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawAccept {
    from: Vec<RawClient>,
    ports: Vec<RawPort>,
    #[serde(default)]
    http: Vec<RawHttp>,
    #[serde(default)]
    cross_team: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawCidr {
    cidr: String,
    #[serde(default)]
    except: Vec<String>,
    /// Only in `reaches`.
    #[serde(default)]
    ports: Option<Vec<RawPort>>,
}

/// A client in `from`: a name, or `{cidr, except}`.
#[derive(Debug)]
enum RawClient {
    Name(String),
    Cidr(RawCidr),
}

/// An entry of `reaches`: a name, `dns`, or `{cidr, except, ports}`.
type RawReach = RawClient;

/// A port as a file writes it: `8080`, or text as [`PortRange::parse`] reads it (`8080/TCP`,
/// `53/UDP`, `30000-32767/TCP`). The intent file and the Team resource both read ports so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawPort {
    Number(i64),
    Text(String),
}

impl RawPort {
    /// The range it names, or why it names none.
    pub fn range(&self) -> Result<PortRange, String> {
        match self {
            RawPort::Number(n) => match u16::try_from(*n) {
                Ok(port) if port > 0 => Ok(PortRange::single(Protocol::Tcp, port)),
                _ => Err(format!("{n} is not a port (1-65535)")),
            },
            RawPort::Text(text) => PortRange::parse(text),
        }
    }
}

impl<'de> Deserialize<'de> for RawClient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawClient;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a service or peer name, or a mapping with cidr (and except)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawClient, E> {
                Ok(RawClient::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawClient, A::Error> {
                RawCidr::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawClient::Cidr)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for RawPort {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawPort;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port such as 8080, 8080/TCP, 53/UDP or 30000-32767/TCP")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawPort, E> {
                Ok(RawPort::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawPort, E> {
                Ok(RawPort::Number(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPort, E> {
                Ok(RawPort::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

struct Validator<'a> {
    file: &'a Arc<str>,
    root: &'a Node,
}

impl Validator<'_> {
    fn error(&self, path: &FieldPath, message: impl fmt::Display) -> IntentError {
        InputError::at(
            self.file.clone(),
            self.root.line_of(path),
            format!("{path}: {message}"),
        )
    }

    fn validate(&self, raw: RawIntent) -> Result<Intent, IntentError> {
        let root = FieldPath::root();
        if let Some(v) = &raw.api_version {
            if v != API_VERSION {
                return Err(self.error(
                    &root.clone().field("apiVersion"),
                    format!("must be {API_VERSION:?}, not {v:?}"),
                ));
            }
        }
        if let Some(k) = &raw.kind {
            if k != KIND {
                return Err(self.error(
                    &root.clone().field("kind"),
                    format!("must be {KIND:?}, not {k:?}"),
                ));
            }
        }

        let cluster_dns = match raw.cluster_dns {
            None => ClusterDns::default(),
            Some(dns) => {
                let at = root.clone().field("clusterDns");
                self.dns_name(&at.clone().field("namespace"), &dns.namespace)?;
                self.labels(&at.clone().field("podLabels"), &dns.pod_labels, false)?;
                let mut ports = Vec::new();
                for (i, p) in dns.ports.iter().enumerate() {
                    let at = at.clone().field("ports").index(i);
                    let range = self.port(&at, p)?;
                    if range.start != range.end || text_has_protocol(p) {
                        return Err(self.error(
                            &at,
                            "DNS ports are single port numbers (UDP and TCP are both allowed)",
                        ));
                    }
                    ports.push(range.start);
                }
                if ports.is_empty() {
                    ports.push(53);
                }
                ClusterDns {
                    namespace: dns.namespace,
                    pod_labels: dns.pod_labels,
                    ports,
                }
            }
        };

        let mut namespaces = BTreeMap::new();
        for (name, ns) in raw.namespaces {
            let at = root.clone().field("namespaces").field(&name);
            self.dns_name(&at, &name)?;
            if ns.team.trim().is_empty() {
                return Err(self.error(&at.field("team"), "must name a team"));
            }
            if name == cluster_dns.namespace {
                return Err(self.error(
                    &at,
                    format!("{name} runs the cluster DNS; palisade does not write its policies"),
                ));
            }
            namespaces.insert(
                name,
                Namespace {
                    team: ns.team,
                    shared: ns.shared,
                },
            );
        }
        if namespaces.is_empty() {
            return Err(self.error(
                &root.clone().field("namespaces"),
                "declare at least one managed namespace (name: {team: TEAM})",
            ));
        }

        let mut peers = BTreeMap::new();
        for (name, p) in raw.peers {
            let at = root.clone().field("peers").field(&name);
            self.endpoint_name(&at, &name)?;
            self.dns_name(&at.clone().field("namespace"), &p.namespace)?;
            if namespaces.contains_key(&p.namespace) {
                return Err(self.error(
                    &at.field("namespace"),
                    format!(
                        "{} is a managed namespace: declare {name} under services instead",
                        p.namespace
                    ),
                ));
            }
            self.labels(&at.clone().field("podLabels"), &p.pod_labels, true)?;
            let service_account = self.service_account(&at, p.service_account)?;
            let mut ports = Vec::new();
            for (i, port) in p.ports.iter().enumerate() {
                ports.push(self.port(&at.clone().field("ports").index(i), port)?);
            }
            peers.insert(
                name.clone(),
                Peer {
                    name,
                    namespace: p.namespace,
                    pod_labels: p.pod_labels,
                    service_account,
                    ports,
                },
            );
        }

        let mut services = BTreeMap::new();
        for (name, s) in raw.services {
            let at = root.clone().field("services").field(&name);
            self.endpoint_name(&at, &name)?;
            if peers.contains_key(&name) {
                return Err(self.error(&at, format!("{name} is also declared under peers")));
            }
            if !namespaces.contains_key(&s.namespace) {
                return Err(self.error(
                    &at.field("namespace"),
                    format!(
                        "namespace {:?} is not declared under namespaces (declare it with its team, or make {name} a peer)",
                        s.namespace
                    ),
                ));
            }
            self.labels(&at.clone().field("podLabels"), &s.pod_labels, true)?;
            let service_account = self.service_account(&at, s.service_account)?;
            let mut accepts = Vec::new();
            for (i, a) in s.accepts.into_iter().enumerate() {
                accepts.push(self.accept(&at.clone().field("accepts").index(i), a)?);
            }
            let internet_egress = s.internet_egress.unwrap_or(raw.internet_egress);
            let mut reaches = Vec::new();
            for (i, r) in s.reaches.into_iter().enumerate() {
                let at = at.clone().field("reaches").index(i);
                reaches.push(self.reach(&at, r, internet_egress)?);
            }
            for (i, path) in s.probes.iter().enumerate() {
                if !path.starts_with('/') || path.contains('*') {
                    return Err(self.error(
                        &at.clone().field("probes").index(i),
                        format!("{path:?} is not an absolute HTTP path"),
                    ));
                }
            }
            services.insert(
                name.clone(),
                Service {
                    name,
                    namespace: s.namespace,
                    pod_labels: s.pod_labels,
                    service_account,
                    accepts,
                    reaches,
                    internet_egress,
                    probes: s.probes,
                },
            );
        }
        if services.is_empty() {
            return Err(self.error(
                &root.clone().field("services"),
                "declare at least one service",
            ));
        }

        let intent = Intent {
            file: self.file.clone(),
            team_isolation: raw.team_isolation,
            dns_for_all: raw.dns,
            cluster_dns,
            namespaces,
            peers,
            services,
        };
        self.cross_check(&intent)?;
        Ok(intent)
    }

    /// References between services: names exist, both sides of a service-to-service connection
    /// declare it, team isolation holds, L7 rules have identities to authorise.
    fn cross_check(&self, intent: &Intent) -> Result<(), IntentError> {
        for service in intent.services.values() {
            let at = FieldPath::root().field("services").field(&service.name);
            for (i, accept) in service.accepts.iter().enumerate() {
                let at = at.clone().field("accepts").index(i);
                if service.has_l7() {
                    if let Some(j) = accept.ports.iter().position(|p| p.start != p.end) {
                        return Err(self.error(
                            &at.clone().field("ports").index(j),
                            format!("{} has HTTP rules, and mesh policies name single ports, not ranges", service.name),
                        ));
                    }
                }
                for (j, client) in accept.from.iter().enumerate() {
                    let at = at.clone().field("from").index(j);
                    let Client::Workload(name) = client else {
                        if service.has_l7() {
                            return Err(self.error(
                                &at,
                                format!("{} has HTTP rules, so the mesh authorises its clients by identity, which a CIDR client has not: put a mesh gateway in front, or drop the HTTP rules", service.name),
                            ));
                        }
                        continue;
                    };
                    let Some(named) = intent.named(name) else {
                        return Err(
                            self.error(&at, format!("{name:?} is neither a service nor a peer"))
                        );
                    };
                    if let Named::Service(client) = named {
                        if !client
                            .reaches
                            .iter()
                            .any(|r| matches!(r, Reach::Workload(n) if n == &service.name))
                        {
                            return Err(self.error(
                                &at,
                                format!(
                                    "{} accepts {name}, but services.{name}.reaches does not name {}: a connection is declared on both sides",
                                    service.name, service.name
                                ),
                            ));
                        }
                        self.team_check(intent, &at, service, client, accept.cross_team)?;
                    }
                }
            }
            for (i, reach) in service.reaches.iter().enumerate() {
                let at = at.clone().field("reaches").index(i);
                let Reach::Workload(name) = reach else {
                    continue;
                };
                match intent.named(name) {
                    None => {
                        return Err(self.error(
                            &at,
                            format!("{name:?} is neither a service, a peer nor dns"),
                        ))
                    }
                    Some(Named::Service(target)) => {
                        let accepted = target.accepts.iter().any(|a| {
                            a.from
                                .iter()
                                .any(|c| matches!(c, Client::Workload(n) if n == &service.name))
                        });
                        if !accepted {
                            return Err(self.error(
                                &at,
                                format!(
                                    "{} reaches {name}, but services.{name}.accepts does not name {}: a connection is declared on both sides",
                                    service.name, service.name
                                ),
                            ));
                        }
                    }
                    Some(Named::Peer(peer)) => {
                        if peer.ports.is_empty() {
                            return Err(self.error(
                                &at,
                                format!(
                                    "{} reaches the peer {name}, which lists no ports: add peers.{name}.ports",
                                    service.name
                                ),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn team_check(
        &self,
        intent: &Intent,
        at: &FieldPath,
        server: &Service,
        client: &Service,
        cross_team: bool,
    ) -> Result<(), IntentError> {
        if !intent.team_isolation || cross_team {
            return Ok(());
        }
        let (Some(a), Some(b)) = (
            intent.namespaces.get(&server.namespace),
            intent.namespaces.get(&client.namespace),
        ) else {
            return Ok(());
        };
        if a.team != b.team && !a.shared && !b.shared {
            return Err(self.error(
                at,
                format!(
                    "teamIsolation: {} (team {}) accepts {} (team {}); set crossTeam: true on this rule if that is intended",
                    server.name, a.team, client.name, b.team
                ),
            ));
        }
        Ok(())
    }

    fn accept(&self, at: &FieldPath, a: RawAccept) -> Result<Accept, IntentError> {
        if a.from.is_empty() {
            return Err(self.error(&at.clone().field("from"), "must name at least one client"));
        }
        if a.ports.is_empty() {
            return Err(self.error(&at.clone().field("ports"), "must list at least one port"));
        }
        let mut from = Vec::new();
        for (i, c) in a.from.into_iter().enumerate() {
            let at = at.clone().field("from").index(i);
            from.push(match c {
                RawClient::Name(name) => Client::Workload(name),
                RawClient::Cidr(cidr) => {
                    if cidr.ports.is_some() {
                        return Err(self.error(
                            &at.field("ports"),
                            "a client has no ports of its own: the rule's ports apply",
                        ));
                    }
                    Client::Cidr(self.ip_block(&at, cidr.cidr, cidr.except)?)
                }
            });
        }
        let mut ports = Vec::new();
        for (i, p) in a.ports.iter().enumerate() {
            ports.push(self.port(&at.clone().field("ports").index(i), p)?);
        }
        let mut http = Vec::new();
        for (i, h) in a.http.into_iter().enumerate() {
            let at = at.clone().field("http").index(i);
            if h.methods.is_empty() && h.paths.is_empty() {
                return Err(self.error(&at, "an HTTP rule needs methods, paths or both"));
            }
            let mut methods = Vec::new();
            for (j, m) in h.methods.iter().enumerate() {
                let upper = m.to_ascii_uppercase();
                if !HTTP_METHODS.contains(&upper.as_str()) {
                    return Err(self.error(
                        &at.clone().field("methods").index(j),
                        format!("{m:?} is not an HTTP method ({})", HTTP_METHODS.join(", ")),
                    ));
                }
                methods.push(upper);
            }
            for (j, p) in h.paths.iter().enumerate() {
                let star = p.find('*');
                if !p.starts_with('/') || star.is_some_and(|s| s != p.len() - 1) {
                    return Err(self.error(
                        &at.clone().field("paths").index(j),
                        format!(
                            "{p:?} must be an absolute path, optionally ending in * for a prefix"
                        ),
                    ));
                }
            }
            http.push(HttpRule {
                methods,
                paths: h.paths,
            });
        }
        if !http.is_empty() && ports.iter().any(|p| p.protocol != Protocol::Tcp) {
            return Err(self.error(&at.clone().field("http"), "HTTP rules need TCP ports"));
        }
        Ok(Accept {
            from,
            ports,
            http,
            cross_team: a.cross_team,
        })
    }

    fn reach(
        &self,
        at: &FieldPath,
        r: RawReach,
        internet_egress: bool,
    ) -> Result<Reach, IntentError> {
        match r {
            RawClient::Name(name) if name == DNS => Ok(Reach::Dns),
            RawClient::Name(name) => Ok(Reach::Workload(name)),
            RawClient::Cidr(cidr) => {
                let block = self.ip_block(at, cidr.cidr, cidr.except)?;
                let is_everything = block.cidr.ends_with("/0");
                if is_everything && !internet_egress {
                    return Err(self.error(
                        &at.clone().field("cidr"),
                        format!("{} is the whole internet, and internetEgress is false: name the ranges this service needs, or set internetEgress: true on it", block.cidr),
                    ));
                }
                let mut ports = Vec::new();
                for (i, p) in cidr.ports.unwrap_or_default().iter().enumerate() {
                    ports.push(self.port(&at.clone().field("ports").index(i), p)?);
                }
                Ok(Reach::Cidr { block, ports })
            }
        }
    }

    fn port(&self, at: &FieldPath, p: &RawPort) -> Result<PortRange, IntentError> {
        p.range().map_err(|e| self.error(at, e))
    }

    fn ip_block(
        &self,
        at: &FieldPath,
        cidr: String,
        except: Vec<String>,
    ) -> Result<IpBlock, IntentError> {
        let outer = parse_cidr(&cidr).map_err(|e| self.error(&at.clone().field("cidr"), e))?;
        for (i, e) in except.iter().enumerate() {
            let at = at.clone().field("except").index(i);
            let inner = parse_cidr(e).map_err(|m| self.error(&at, m))?;
            if !cidr_contains(outer, inner) {
                return Err(self.error(&at, format!("{e} is not inside {cidr}")));
            }
        }
        Ok(IpBlock { cidr, except })
    }

    fn service_account(&self, at: &FieldPath, sa: Option<String>) -> Result<String, IntentError> {
        match sa {
            None => Ok("default".into()),
            Some(sa) => {
                if !is_dns_subdomain(&sa) {
                    return Err(self.error(
                        &at.clone().field("serviceAccount"),
                        format!("{sa:?} is not a valid service account name"),
                    ));
                }
                Ok(sa)
            }
        }
    }

    fn endpoint_name(&self, at: &FieldPath, name: &str) -> Result<(), IntentError> {
        if name == DNS {
            return Err(self.error(at, "\"dns\" is reserved for the cluster DNS in reaches"));
        }
        if !is_dns_label(name) || name.len() > 40 {
            return Err(self.error(
                at,
                format!("{name:?} must be a lowercase DNS label of at most 40 characters (it names generated policies)"),
            ));
        }
        Ok(())
    }

    fn dns_name(&self, at: &FieldPath, name: &str) -> Result<(), IntentError> {
        if !is_dns_label(name) {
            return Err(self.error(at, format!("{name:?} is not a valid namespace name")));
        }
        Ok(())
    }

    fn labels(
        &self,
        at: &FieldPath,
        labels: &BTreeMap<String, String>,
        required: bool,
    ) -> Result<(), IntentError> {
        if required && labels.is_empty() {
            return Err(self.error(
                at,
                "must name at least one label (an empty selector would select every pod of the namespace)",
            ));
        }
        for (k, v) in labels {
            if !is_label_key(k) {
                return Err(self.error(
                    &at.clone().key(k),
                    format!("{k:?} is not a valid label key"),
                ));
            }
            if !is_label_value(v) {
                return Err(self.error(
                    &at.clone().key(k),
                    format!("{v:?} is not a valid label value"),
                ));
            }
        }
        Ok(())
    }
}

const HTTP_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

fn text_has_protocol(p: &RawPort) -> bool {
    matches!(p, RawPort::Text(t) if t.contains('/'))
}

/// An address and prefix length, with no host bits set (as the API server requires of ipBlock).
pub fn parse_cidr(text: &str) -> Result<(IpAddr, u8), String> {
    let (addr, len) = parse_prefix(text).map_err(|e| match e {
        PrefixError::NoPrefix => format!("{text:?} is not a CIDR (address/prefix-length)"),
        PrefixError::Address => format!(
            "{text:?} is not a CIDR: {:?} is not an IP address",
            text.split_once('/').map_or(text, |(a, _)| a)
        ),
        PrefixError::Length(max) => {
            format!("{text:?} is not a CIDR: the prefix length must be 0-{max}")
        }
    })?;
    if network(addr, len) != addr {
        return Err(format!(
            "{text:?} has host bits set (the network is {}/{len})",
            network(addr, len)
        ));
    }
    Ok((addr, len))
}

fn cidr_contains(outer: (IpAddr, u8), inner: (IpAddr, u8)) -> bool {
    outer.0.is_ipv4() == inner.0.is_ipv4()
        && inner.1 >= outer.1
        && network(inner.0, outer.1) == outer.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Intent, IntentError> {
        Intent::parse(Arc::from("intent.yaml"), text)
    }

    const MINIMAL: &str = "\
namespaces:
  ml-iris: {team: data-science}
  ml-gateway: {team: platform, shared: true}
services:
  gateway:
    namespace: ml-gateway
    podLabels: {app: gateway}
    serviceAccount: gateway
    accepts:
      - from: [{cidr: 0.0.0.0/0}]
        ports: [8080]
    reaches: [iris]
  iris:
    namespace: ml-iris
    podLabels: {app: iris}
    accepts:
      - from: [gateway]
        ports: [8080/TCP]
        http:
          - methods: [post]
            paths: [/v1/models/iris:predict]
    reaches: [redis]
  redis:
    namespace: ml-iris
    podLabels: {app: redis}
    accepts:
      - from: [iris]
        ports: [6379]
";

    #[test]
    fn reads_a_minimal_intent_with_its_defaults() {
        let intent = parse(MINIMAL).unwrap();
        assert!(intent.team_isolation);
        assert!(intent.dns_for_all);
        assert_eq!(intent.cluster_dns, ClusterDns::default());
        let iris = &intent.services["iris"];
        assert_eq!(iris.service_account, "default");
        assert!(!iris.internet_egress);
        assert_eq!(iris.accepts[0].http[0].methods, vec!["POST"]);
        assert!(iris.has_l7());
        assert!(!intent.services["redis"].has_l7());
    }

    #[test]
    fn edges_list_every_connection_once() {
        let intent = parse(MINIMAL).unwrap();
        let edges: Vec<String> = intent
            .edges()
            .iter()
            .map(|e| {
                let ports: Vec<String> = e.ports.iter().map(ToString::to_string).collect();
                format!("{} -> {} [{}]", e.from, e.to, ports.join(","))
            })
            .collect();
        assert_eq!(
            edges,
            vec![
                "gateway -> iris [8080/TCP]",
                "iris -> redis [6379/TCP]",
                "every pod in ml-gateway -> cluster DNS [53/TCP,53/UDP]",
                "every pod in ml-iris -> cluster DNS [53/TCP,53/UDP]",
                "0.0.0.0/0 -> gateway [8080/TCP]",
            ]
        );
    }

    #[test]
    fn parses_ports() {
        assert_eq!(
            PortRange::parse("53/udp").unwrap(),
            PortRange::single(Protocol::Udp, 53)
        );
        let r = PortRange::parse("30000-32767/TCP").unwrap();
        assert_eq!((r.start, r.end, r.protocol), (30000, 32767, Protocol::Tcp));
        assert!(PortRange::parse("0").is_err());
        assert!(PortRange::parse("70000").is_err());
        assert!(PortRange::parse("90-80").is_err());
        assert!(PortRange::parse("80/ICMP").is_err());
        assert!(PortRange::parse("http").is_err());
    }

    #[test]
    fn parses_cidrs() {
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("2001:db8::/32").is_ok());
        assert!(parse_cidr("10.0.0.1/8").unwrap_err().contains("host bits"));
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.0.0").is_err());
        assert!(cidr_contains(
            parse_cidr("10.0.0.0/8").unwrap(),
            parse_cidr("10.1.0.0/16").unwrap()
        ));
        assert!(!cidr_contains(
            parse_cidr("10.1.0.0/16").unwrap(),
            parse_cidr("10.0.0.0/8").unwrap()
        ));
    }

    fn err(text: &str) -> IntentError {
        parse(text).unwrap_err()
    }

    #[test]
    fn one_sided_connections_are_refused_at_the_declaring_line() {
        let text = MINIMAL.replace("    reaches: [redis]\n", "");
        let e = err(&text);
        assert_eq!(e.line, Some(26), "{e}");
        assert!(
            e.message.starts_with("services.redis.accepts[0].from[0]: redis accepts iris, but services.iris.reaches does not name redis"),
            "{e}"
        );
        let text = MINIMAL.replace("      - from: [iris]\n", "      - from: [gateway]\n");
        let e = err(&text);
        assert_eq!(e.line, Some(22), "{e}");
        assert!(
            e.message.starts_with("services.iris.reaches[0]: iris reaches redis, but services.redis.accepts does not name iris"),
            "{e}"
        );
    }

    #[test]
    fn team_isolation_refuses_undeclared_cross_team_connections() {
        let text = MINIMAL.replace("platform, shared: true", "platform");
        let e = err(&text);
        assert_eq!(e.line, Some(17), "{e}");
        assert!(
            e.message.contains(
                "teamIsolation: iris (team data-science) accepts gateway (team platform)"
            ),
            "{e}"
        );
        let crossing = text.replace(
            "        ports: [8080/TCP]\n",
            "        ports: [8080/TCP]\n        crossTeam: true\n",
        );
        assert!(parse(&crossing).is_ok());
        let off = format!("teamIsolation: false\n{text}");
        assert!(parse(&off).is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_key_and_line() {
        let e = err(&MINIMAL.replace("ports: [6379]", "port: [6379]"));
        assert_eq!(e.line, Some(28), "{e}");
        assert!(e.message.contains("unknown field `port`"), "{e}");
        let e = err(&MINIMAL.replace("ports: [6379]", "ports: [6379/ICMP]"));
        assert_eq!(e.line, Some(28), "{e}");
        assert!(
            e.message
                .starts_with("services.redis.accepts[0].ports[0]: unknown protocol"),
            "{e}"
        );
        let e = err(&MINIMAL.replace("methods: [post]", "methods: [FETCH]"));
        assert_eq!(e.line, Some(20), "{e}");
        assert!(e.message.contains("not an HTTP method"), "{e}");
        let e = err(&MINIMAL.replace("reaches: [redis]", "reaches: [rediss]"));
        assert_eq!(e.line, Some(22), "{e}");
        assert!(
            e.message
                .contains("\"rediss\" is neither a service, a peer nor dns"),
            "{e}"
        );
        let e = err(&MINIMAL.replace(
            "namespace: ml-iris\n    podLabels: {app: redis}",
            "namespace: ml-irs\n    podLabels: {app: redis}",
        ));
        assert!(
            e.message
                .starts_with("services.redis.namespace: namespace \"ml-irs\" is not declared"),
            "{e}"
        );
        let e = err(&MINIMAL.replace("{app: redis}", "{}"));
        assert!(
            e.message
                .starts_with("services.redis.podLabels: must name at least one label"),
            "{e}"
        );
        let e = err(&MINIMAL.replace("0.0.0.0/0", "0.0.0.1/0"));
        assert_eq!(e.line, Some(10), "{e}");
        assert!(e.message.contains("host bits"), "{e}");
        let e = err(&MINIMAL.replace("{cidr: 0.0.0.0/0}", "{cidr: 0.0.0.0/0}, iris"));
        assert!(
            e.message.contains("a connection is declared on both sides"),
            "{e}"
        );
        let e = err("kind: Intent\nnamespaces: {a: {team: t}}\n");
        assert_eq!(e.line, Some(1), "{e}");
        assert!(
            e.message.starts_with("kind: must be \"NetworkIntent\""),
            "{e}"
        );
        let e = err("namespaces: {a: {team: t}}\nservices:\n  s:\n    namespace: a\n    podLabels: {app: s}\n    accepts:\n      - from: [42]\n        ports: [80]\n");
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.message.contains("a service or peer name"), "{e}");
    }

    #[test]
    fn services_with_http_rules_need_identities_and_single_ports() {
        let text = MINIMAL.replace(
            "      - from: [gateway]\n        ports: [8080/TCP]\n",
            "      - from: [gateway]\n        ports: [8080/TCP]\n      - from: [{cidr: 10.1.0.0/16}]\n        ports: [9090]\n",
        );
        let e = err(&text);
        assert!(
            e.message
                .starts_with("services.iris.accepts[1].from[0]: iris has HTTP rules"),
            "{e}"
        );
        let text = MINIMAL.replace(
            "ports: [8080/TCP]\n        http",
            "ports: [8080-8081/TCP]\n        http",
        );
        let e = err(&text);
        assert!(e.message.starts_with("services.iris.accepts[0].ports[0]: iris has HTTP rules, and mesh policies name single ports"), "{e}");
        let text = MINIMAL.replace(
            "ports: [8080/TCP]\n        http",
            "ports: [53/UDP]\n        http",
        );
        let e = err(&text);
        assert!(
            e.message
                .starts_with("services.iris.accepts[0].http: HTTP rules need TCP ports"),
            "{e}"
        );
    }

    #[test]
    fn internet_egress_must_be_allowed_for_the_whole_internet() {
        let reach = "    reaches: [redis, {cidr: 0.0.0.0/0, ports: [443]}]\n";
        let text = MINIMAL.replace("    reaches: [redis]\n", reach);
        let e = err(&text);
        assert!(e.message.contains("internetEgress is false"), "{e}");
        let allowed = text.replace(reach, &format!("{reach}    internetEgress: true\n"));
        let intent = parse(&allowed).unwrap();
        assert!(intent.services["iris"].internet_egress);
        let specific = MINIMAL.replace(
            "    reaches: [redis]\n",
            "    reaches: [redis, {cidr: 203.0.113.0/24, ports: [443]}]\n",
        );
        let intent = parse(&specific).unwrap();
        assert_eq!(
            intent.services["iris"].reaches[1],
            Reach::Cidr {
                block: IpBlock {
                    cidr: "203.0.113.0/24".into(),
                    except: vec![]
                },
                ports: vec![PortRange::single(Protocol::Tcp, 443)]
            }
        );
    }

    #[test]
    fn peers_need_ports_to_be_reached_and_live_outside_managed_namespaces() {
        let with_peer = format!(
            "{MINIMAL}peers:\n  otel:\n    namespace: monitoring\n    podLabels: {{app: otel}}\n"
        )
        .replace("    reaches: [redis]\n", "    reaches: [redis, otel]\n");
        let e = err(&with_peer);
        assert!(e.message.contains("lists no ports"), "{e}");
        let ok = with_peer.replace("{app: otel}\n", "{app: otel}\n    ports: [4317]\n");
        let intent = parse(&ok).unwrap();
        assert!(intent
            .edges()
            .iter()
            .any(|e| e.from == Endpoint::Workload("iris".into())
                && e.to == Endpoint::Workload("otel".into())
                && e.ports == vec![PortRange::single(Protocol::Tcp, 4317)]));
        let e = err(&ok.replace("namespace: monitoring", "namespace: ml-iris"));
        assert!(e.message.contains("is a managed namespace"), "{e}");
    }
}
