//! `netpol verify`: do the manifests allow exactly what the intent allows?
//!
//! The manifests are analysed by [`crate::analyze`]; the intent's [`Edge`]s are expanded to the
//! workloads they select (a service or peer: namespace and pod labels; the namespace-wide DNS
//! allowance: every workload of the namespace; the cluster DNS: its namespace and labels) and to
//! external address blocks. Both are compared per pair of workloads in which at least one is in a
//! managed namespace, and per workload of a managed namespace and external block, refined so that
//! every block is uniform both for the analysis and for the intent.
//!
//! Peers and the cluster DNS that the manifests do not contain are stood in for by a Pod with
//! their labels (and ports) in their namespace, so that connections to them can be checked.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use palisade_core::Object;

use crate::analyze::{analyze, PeerRef, RowDestination, RowSource};
use crate::connset::{ConnectionSet, PortSet, Protocol as ConnProtocol};
use crate::error::NetpolError;
use crate::intent::{Endpoint, Intent, IpBlock, PortRange, Protocol};
use crate::ipblock::{atoms, IpBlockError, IpSet};
use crate::load::read_objects;
use crate::model::{Cluster, Workload};

/// Whether a difference is a connection the intent allows and the manifests do not, or the
/// reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Missing,
    Excess,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that `{:<8}` aligns the columns.
        f.pad(match self {
            Kind::Missing => "missing",
            Kind::Excess => "excess",
        })
    }
}

/// One difference between the intent and the manifests.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Difference {
    pub kind: Kind,
    /// `ns/name[Kind]`, or an address range with `[External]`.
    pub src: String,
    pub dst: String,
    pub connections: ConnectionSet,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<8} {} => {} : {}",
            self.kind, self.src, self.dst, self.connections
        )
    }
}

/// What verification found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Things skipped or assumed, for the user.
    pub warnings: Vec<String>,
    /// Services of the intent that no workload of the manifests matches: their connections
    /// cannot be as intended.
    pub unmatched: Vec<String>,
    /// Every difference, missing first, each sorted by source and destination.
    pub differences: Vec<Difference>,
    /// Workloads compared (stand-ins included).
    pub workloads: usize,
    /// Stand-ins added for peers and the cluster DNS.
    pub stand_ins: Vec<String>,
}

impl Report {
    /// True when the manifests allow exactly the intent.
    pub fn is_exact(&self) -> bool {
        self.unmatched.is_empty() && self.differences.is_empty()
    }

    pub fn missing(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(|d| d.kind == Kind::Missing)
    }

    pub fn excess(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(|d| d.kind == Kind::Excess)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for u in &self.unmatched {
            writeln!(f, "{:<8} {u}", "missing")?;
        }
        for d in &self.differences {
            writeln!(f, "{d}")?;
        }
        if !self.stand_ins.is_empty() {
            writeln!(
                f,
                "(stand-in pods for what the manifests lack: {})",
                self.stand_ins.join(", ")
            )?;
        }
        let missing = self.missing().count() + self.unmatched.len();
        let excess = self.excess().count();
        if self.is_exact() {
            writeln!(
                f,
                "the manifests allow exactly the intent ({} workloads compared)",
                self.workloads
            )
        } else {
            writeln!(
                f,
                "{missing} missing, {excess} excess ({} workloads compared)",
                self.workloads
            )
        }
    }
}

/// Why verification could not be done.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Netpol(#[from] NetpolError),
    #[error("{file}: {message}")]
    Intent { file: Arc<str>, message: String },
}

/// Reads the manifests under `dir` and compares what they allow with `intent`.
pub fn verify_dir(intent: &Intent, dir: &Path) -> Result<Report, VerifyError> {
    let (objects, warnings) = read_objects(dir)?;
    verify_objects(intent, objects, warnings)
}

/// Compares what `objects` allow with `intent`.
pub fn verify_objects(
    intent: &Intent,
    mut objects: Vec<Object>,
    mut warnings: Vec<String>,
) -> Result<Report, VerifyError> {
    // Stand-ins for the peers and the DNS the manifests lack: a first pass finds what is there.
    let probe = Cluster::from_objects(objects.clone())?;
    let mut stand_ins = Vec::new();
    for (name, ns, labels, ports) in stand_in_candidates(intent) {
        let present = probe
            .workloads
            .iter()
            .any(|w| w.namespace == ns && subset(&labels, &w.labels));
        if !present {
            objects.push(stand_in(intent, &name, &ns, &labels, &ports)?);
            stand_ins.push(format!("{ns}/{name}"));
        }
    }
    let mut cluster = Cluster::from_objects(objects)?;
    warnings.append(&mut cluster.warnings);
    let connectivity = analyze(&cluster)?;
    let workloads = &cluster.workloads;

    // Which intent endpoints each workload is.
    let managed: Vec<bool> = workloads
        .iter()
        .map(|w| intent.namespaces.contains_key(&w.namespace))
        .collect();
    let endpoints_of: Vec<BTreeSet<Endpoint>> =
        workloads.iter().map(|w| endpoints(intent, w)).collect();
    let mut unmatched = Vec::new();
    for service in intent.services.values() {
        let e = Endpoint::Workload(service.name.clone());
        if !endpoints_of.iter().any(|set| set.contains(&e)) {
            unmatched.push(format!(
                "service {}: no workload in namespace {} has the labels {}",
                service.name,
                service.namespace,
                labels_text(&service.pod_labels)
            ));
        }
    }

    // The intent, expanded: workload pairs, and per workload the connections to and from blocks.
    let edges = intent.edges();
    let mut intended: HashMap<(usize, usize), ConnectionSet> = HashMap::new();
    let mut intended_out: Vec<Vec<(IpSet, ConnectionSet)>> = vec![Vec::new(); workloads.len()];
    let mut intended_in: Vec<Vec<(IpSet, ConnectionSet)>> = vec![Vec::new(); workloads.len()];
    let matching = |e: &Endpoint| -> Vec<usize> {
        (0..workloads.len())
            .filter(|&i| endpoints_of[i].contains(e))
            .collect()
    };
    for edge in &edges {
        let conns = connection_set(&edge.ports);
        match (&edge.from, &edge.to) {
            (Endpoint::Cidr(block), to) => {
                let Some(ips) = ip_set(intent, block, &mut warnings)? else {
                    continue;
                };
                for j in matching(to) {
                    intended_in[j].push((ips.clone(), conns.clone()));
                }
            }
            (from, Endpoint::Cidr(block)) => {
                let Some(ips) = ip_set(intent, block, &mut warnings)? else {
                    continue;
                };
                for i in matching(from) {
                    intended_out[i].push((ips.clone(), conns.clone()));
                }
            }
            (from, to) => {
                let targets = matching(to);
                for i in matching(from) {
                    for &j in &targets {
                        let entry = intended.entry((i, j)).or_default();
                        *entry = entry.union(&conns);
                    }
                }
            }
        }
    }

    let mut differences = BTreeSet::new();
    let keys: Vec<String> = workloads.iter().map(Workload::key).collect();
    let none = ConnectionSet::none();
    // One row per source class, computed once for all its destinations.
    let mut row = connectivity.source_row();
    for i in 0..workloads.len() {
        row.load(RowSource::Workload(i));
        for j in 0..workloads.len() {
            if !(managed[i] || managed[j]) || (i != j && keys[i] == keys[j]) {
                continue;
            }
            let want = intended.get(&(i, j)).unwrap_or(&none);
            if i == j {
                // A row leaves out a workload to itself; its pods talking to each other count.
                let allowed = connectivity.between_workloads(i, i);
                compare(&mut differences, &keys[i], &keys[j], &allowed, want);
            } else {
                let allowed = row
                    .to(RowDestination::Workload(j))
                    .map_or(&none, |(_, set)| set);
                compare(&mut differences, &keys[i], &keys[j], allowed, want);
            }
        }
    }

    // External blocks: the analysis' blocks cut again at the intent's, so that each is uniform
    // for both; what the analysis allows for a block holds for every part of it.
    let index: HashMap<*const Workload, usize> = workloads
        .iter()
        .enumerate()
        .map(|(i, w)| (w as *const Workload, i))
        .collect();
    let mut allowed_out: Vec<Vec<(IpSet, ConnectionSet)>> = vec![Vec::new(); workloads.len()];
    let mut allowed_in: Vec<Vec<(IpSet, ConnectionSet)>> = vec![Vec::new(); workloads.len()];
    for (src, dst, conns) in connectivity.connections() {
        match (src, dst) {
            (PeerRef::Workload(w), PeerRef::External(ips)) => {
                if let Some(&i) = index.get(&(w as *const Workload)) {
                    allowed_out[i].push((ips.clone(), ConnectionSet::clone(&conns)));
                }
            }
            (PeerRef::External(ips), PeerRef::Workload(w)) => {
                if let Some(&i) = index.get(&(w as *const Workload)) {
                    allowed_in[i].push((ips.clone(), ConnectionSet::clone(&conns)));
                }
            }
            _ => {}
        }
    }
    for i in (0..workloads.len()).filter(|&i| managed[i]) {
        for (allowed, want, outgoing) in [
            (&allowed_out[i], &intended_out[i], true),
            (&allowed_in[i], &intended_in[i], false),
        ] {
            for (block, missing, excess) in compare_blocks(allowed, want) {
                let external = format!("{block}[External]");
                let (src, dst) = if outgoing {
                    (keys[i].clone(), external)
                } else {
                    (external, keys[i].clone())
                };
                for (kind, conns) in [(Kind::Missing, missing), (Kind::Excess, excess)] {
                    if !conns.is_empty() {
                        differences.insert(Difference {
                            kind,
                            src: src.clone(),
                            dst: dst.clone(),
                            connections: conns,
                        });
                    }
                }
            }
        }
    }

    Ok(Report {
        warnings,
        unmatched,
        differences: differences.into_iter().collect(),
        workloads: workloads.len(),
        stand_ins,
    })
}

fn compare(
    out: &mut BTreeSet<Difference>,
    src: &str,
    dst: &str,
    allowed: &ConnectionSet,
    want: &ConnectionSet,
) {
    for (kind, conns) in [
        (Kind::Missing, want.difference(allowed)),
        (Kind::Excess, allowed.difference(want)),
    ] {
        if !conns.is_empty() {
            out.insert(Difference {
                kind,
                src: src.to_owned(),
                dst: dst.to_owned(),
                connections: conns,
            });
        }
    }
}

/// Per address block where the analysis and the intent differ: (block, missing, excess), the
/// blocks with the same difference merged.
fn compare_blocks(
    allowed: &[(IpSet, ConnectionSet)],
    want: &[(IpSet, ConnectionSet)],
) -> Vec<(IpSet, ConnectionSet, ConnectionSet)> {
    let cuts = atoms(
        allowed
            .iter()
            .map(|(s, _)| s)
            .chain(want.iter().map(|(s, _)| s)),
    );
    let mut merged: BTreeMap<(ConnectionSet, ConnectionSet), IpSet> = BTreeMap::new();
    for atom in cuts {
        let set_for = |list: &[(IpSet, ConnectionSet)]| {
            list.iter()
                .filter(|(s, _)| atom.is_subset(s))
                .fold(ConnectionSet::none(), |acc, (_, c)| acc.union(c))
        };
        let a = set_for(allowed);
        let w = set_for(want);
        let missing = w.difference(&a);
        let excess = a.difference(&w);
        if missing.is_empty() && excess.is_empty() {
            continue;
        }
        let entry = merged.entry((missing, excess)).or_default();
        *entry = entry.union(&atom);
    }
    merged
        .into_iter()
        .map(|((missing, excess), block)| (block, missing, excess))
        .collect()
}

/// The intent endpoints a workload is.
fn endpoints(intent: &Intent, w: &Workload) -> BTreeSet<Endpoint> {
    let mut out = BTreeSet::new();
    for s in intent.services.values() {
        if s.namespace == w.namespace && subset(&s.pod_labels, &w.labels) {
            out.insert(Endpoint::Workload(s.name.clone()));
        }
    }
    for p in intent.peers.values() {
        if p.namespace == w.namespace && subset(&p.pod_labels, &w.labels) {
            out.insert(Endpoint::Workload(p.name.clone()));
        }
    }
    if intent.namespaces.contains_key(&w.namespace) {
        out.insert(Endpoint::Namespace(w.namespace.clone()));
    }
    let dns = &intent.cluster_dns;
    if dns.namespace == w.namespace && subset(&dns.pod_labels, &w.labels) {
        out.insert(Endpoint::Dns);
    }
    out
}

fn subset(wanted: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

fn connection_set(ports: &[PortRange]) -> ConnectionSet {
    if ports.is_empty() {
        return ConnectionSet::all();
    }
    let mut set = ConnectionSet::none();
    for p in ports {
        let protocol = match p.protocol {
            Protocol::Tcp => ConnProtocol::Tcp,
            Protocol::Udp => ConnProtocol::Udp,
            Protocol::Sctp => ConnProtocol::Sctp,
        };
        set.add(protocol, &PortSet::range(p.start, p.end));
    }
    set
}

fn ip_set(
    intent: &Intent,
    block: &IpBlock,
    warnings: &mut Vec<String>,
) -> Result<Option<IpSet>, VerifyError> {
    match IpSet::from_cidr_except(&block.cidr, &block.except) {
        Ok(Some(set)) => Ok(Some(set)),
        Ok(None) => {
            warnings.push(format!(
                "{}: {}: IPv6 is not analysed; not compared",
                intent.file, block.cidr
            ));
            Ok(None)
        }
        Err(e) => Err(VerifyError::Intent {
            file: intent.file.clone(),
            message: match e {
                IpBlockError::Invalid(message) => message,
                e => format!("ipBlock {}: {e}", block.cidr),
            },
        }),
    }
}

type Candidate = (String, String, BTreeMap<String, String>, Vec<PortRange>);

/// The peers and the cluster DNS, which the manifests may not contain.
fn stand_in_candidates(intent: &Intent) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = intent
        .peers
        .values()
        .map(|p| {
            (
                p.name.clone(),
                p.namespace.clone(),
                p.pod_labels.clone(),
                p.ports.clone(),
            )
        })
        .collect();
    let dns = &intent.cluster_dns;
    out.push((
        "cluster-dns".into(),
        dns.namespace.clone(),
        dns.pod_labels.clone(),
        dns.port_ranges(),
    ));
    out
}

/// A Pod standing in for a peer or the DNS.
fn stand_in(
    intent: &Intent,
    name: &str,
    ns: &str,
    labels: &BTreeMap<String, String>,
    ports: &[PortRange],
) -> Result<Object, VerifyError> {
    let mut pod = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "stand-in", "image": "stand-in"}]},
    });
    let container_ports: Vec<serde_json::Value> = ports
        .iter()
        .filter(|p| p.start == p.end)
        .map(|p| serde_json::json!({"containerPort": p.start, "protocol": p.protocol.as_str()}))
        .collect();
    if !container_ports.is_empty() {
        pod["spec"]["containers"][0]["ports"] = serde_json::Value::Array(container_ports);
    }
    let file: Arc<str> = Arc::from(format!("{} (stand-in for {ns}/{name})", intent.file));
    let document = palisade_core::yaml::Document {
        index: 1,
        line: 1,
        root: Some(palisade_core::Node::from_json(&pod)),
    };
    let mut objects = Object::from_document(&file, document).map_err(NetpolError::from)?;
    objects.pop().ok_or_else(|| VerifyError::Intent {
        file: intent.file.clone(),
        message: format!("cannot build a stand-in for {ns}/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conns(spec: &[(ConnProtocol, u16, u16)]) -> ConnectionSet {
        let mut set = ConnectionSet::none();
        for &(p, a, b) in spec {
            set.add(p, &PortSet::range(a, b));
        }
        set
    }

    #[test]
    fn blocks_are_compared_at_the_finer_cut_and_merged() {
        let all = IpSet::all();
        let s3 = IpSet::parse_cidr("52.216.0.0/15").unwrap().unwrap();
        let https = conns(&[(ConnProtocol::Tcp, 443, 443)]);
        // Allowed: everything everywhere. Intended: 443 to S3 only.
        let diffs = compare_blocks(
            &[(all.clone(), ConnectionSet::all())],
            &[(s3.clone(), https.clone())],
        );
        assert_eq!(diffs.len(), 2, "{diffs:?}");
        let rest = all.difference(&s3);
        assert!(diffs
            .iter()
            .any(|(b, m, e)| *b == rest && m.is_empty() && e.is_all()));
        assert!(diffs.iter().any(|(b, m, e)| *b == s3
            && m.is_empty()
            && *e == ConnectionSet::all().difference(&https)));
        // Equal: nothing.
        assert!(compare_blocks(
            &[(s3.clone(), https.clone())],
            &[(s3.clone(), https.clone())]
        )
        .is_empty());
        // Allowed nothing: all missing.
        let diffs = compare_blocks(&[], &[(s3.clone(), https.clone())]);
        assert_eq!(diffs, vec![(s3, https, ConnectionSet::none())]);
    }

    #[test]
    fn ports_become_connection_sets() {
        let set = connection_set(&[
            PortRange::single(Protocol::Udp, 53),
            PortRange::single(Protocol::Tcp, 53),
            PortRange::parse("8000-8100/TCP").unwrap(),
        ]);
        assert_eq!(set.to_string(), "TCP 53,8000-8100,UDP 53");
        assert!(connection_set(&[]).is_all());
    }
}
