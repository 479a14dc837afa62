//! The connectivity analysis, over equivalence classes of pods.
//!
//! Every subject and peer of every policy is a [`PodMatcher`]. A workload's pods are described by
//! the set of matchers that select them and by how each named port the policies mention resolves
//! on them; workloads with the same description are indistinguishable to every policy, so they
//! form one class, and connectivity is computed once per pair of classes (and per class and
//! external address block), then expanded to workload pairs. Matching is indexed by namespace, so
//! building the classes costs about (matchers x pods in the namespaces they reach), and the pair
//! computation costs (classes^2 x rules that apply to a class).
//!
//! Semantics, per direction (egress at the source, ingress at the destination; both required):
//! AdminNetworkPolicies by ascending priority, rules in order, the first rule that matches a
//! connection decides it (Allow, Deny, or Pass); connections not decided by an Allow or Deny are
//! decided by the NetworkPolicies that select the pod in that direction (their rules' union), or,
//! when none selects it, by the BaselineAdminNetworkPolicy (first match; Deny denies), and
//! otherwise allowed.

use std::collections::HashMap;
use std::fmt;

use rayon::prelude::*;

use crate::connset::{ConnectionSet, PortSet, Protocol};
use crate::error::NetpolError;
use crate::ipblock::{atoms, IpSet};
use crate::labels::Labels;
use crate::model::{
    Action, AdminPolicy, Cluster, NamespaceMatch, Peer, PodMatcher, PortSpec, Rule, Workload,
};

/// One end of a connection in the report: a workload, or a block of external addresses.
#[derive(Debug, Clone, Copy)]
pub enum PeerRef<'a> {
    /// A workload of the cluster.
    Workload(&'a Workload),
    /// Addresses outside the cluster.
    External(&'a IpSet),
}

impl PeerRef<'_> {
    /// Whether this is an external address block.
    pub fn is_external(&self) -> bool {
        matches!(self, PeerRef::External(_))
    }
}

impl fmt::Display for PeerRef<'_> {
    /// `ns/name[Kind]` or `a.b.c.d-e.f.g.h[External]`, as upstream prints peers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerRef::Workload(w) => write!(f, "{}/{}[{}]", w.namespace, w.name, w.kind),
            PeerRef::External(ips) => write!(f, "{ips}[External]"),
        }
    }
}

/// The result of [`analyze`]: the allowed connections between every pair of workloads, and
/// between workloads and external address blocks.
#[derive(Debug)]
pub struct Connectivity<'c> {
    cluster: &'c Cluster,
    pub(crate) engine: Engine<'c>,
    /// Workloads of each class.
    members: Vec<Vec<usize>>,
    /// Distinct connection sets; the matrices hold indices into this.
    conns: Vec<ConnectionSet>,
    /// classes x classes.
    class_matrix: Vec<u32>,
    /// source address blocks x classes.
    from_ips: Vec<u32>,
    /// classes x destination address blocks.
    to_ips: Vec<u32>,
}

impl<'c> Connectivity<'c> {
    /// The cluster analysed.
    pub fn cluster(&self) -> &'c Cluster {
        self.cluster
    }

    /// The number of equivalence classes the workloads fell into.
    pub fn class_count(&self) -> usize {
        self.engine.classes
    }

    /// The external address blocks that can be sources (cut by ingress `ipBlock`s).
    pub fn source_blocks(&self) -> &[IpSet] {
        &self.engine.src_atoms
    }

    /// The external address blocks that can be destinations (cut by egress `ipBlock`s and
    /// admin policies' `networks`).
    pub fn destination_blocks(&self) -> &[IpSet] {
        &self.engine.dst_atoms
    }

    /// The connections allowed from workload `src` to workload `dst` (indices into
    /// [`Cluster::workloads`]).
    pub fn between_workloads(&self, src: usize, dst: usize) -> &ConnectionSet {
        let k = self.engine.classes;
        let (a, b) = (
            self.engine.class_of[src] as usize,
            self.engine.class_of[dst] as usize,
        );
        &self.conns[self.class_matrix[a * k + b] as usize]
    }

    /// Every allowed connection, workload pairs first, then from and to external blocks:
    /// (source, destination, connections), skipping empty sets, a workload to itself, and
    /// external to external. Unsorted.
    pub fn connections(
        &self,
    ) -> impl Iterator<Item = (PeerRef<'_>, PeerRef<'_>, &ConnectionSet)> + '_ {
        let workloads = &self.cluster.workloads;
        let e = &self.engine;
        let k = e.classes;
        let members = &self.members;
        // Class pairs with connections, expanded to their workloads (workloads are distinct by
        // namespace, name and kind, so only the same index is the same workload).
        let pairs = (0..k).flat_map(move |cs| {
            (0..k).flat_map(move |cd| {
                let c = &self.conns[self.class_matrix[cs * k + cd] as usize];
                let (srcs, dsts): (&[usize], &[usize]) = if c.is_empty() {
                    (&[], &[])
                } else {
                    (&members[cs], &members[cd])
                };
                srcs.iter().flat_map(move |&i| {
                    dsts.iter().filter(move |&&j| j != i).map(move |&j| {
                        (
                            PeerRef::Workload(&workloads[i]),
                            PeerRef::Workload(&workloads[j]),
                            c,
                        )
                    })
                })
            })
        });
        let from = e.src_atoms.iter().enumerate().flat_map(move |(a, atom)| {
            workloads.iter().enumerate().filter_map(move |(j, w)| {
                let c = &self.conns[self.from_ips[a * k + e.class_of[j] as usize] as usize];
                (!c.is_empty()).then_some((PeerRef::External(atom), PeerRef::Workload(w), c))
            })
        });
        let n_dst = e.dst_atoms.len();
        let to = workloads.iter().enumerate().flat_map(move |(i, w)| {
            e.dst_atoms.iter().enumerate().filter_map(move |(a, atom)| {
                let c = &self.conns[self.to_ips[e.class_of[i] as usize * n_dst + a] as usize];
                (!c.is_empty()).then_some((PeerRef::Workload(w), PeerRef::External(atom), c))
            })
        });
        pairs.chain(from).chain(to)
    }
}

/// Analyses the cluster: see the module documentation for the semantics.
pub fn analyze(cluster: &Cluster) -> Result<Connectivity<'_>, NetpolError> {
    let engine = Engine::new(cluster)?;
    let k = engine.classes;
    let n_dst = engine.dst_atoms.len();

    // One direction's result depends on the other end only through which of the matchers (or
    // address blocks) of the applicable rules select it and, for egress, how it resolves the
    // rules' named ports. Each side partitions the other ends by that pattern (bitset
    // refinement, no per-pair work) and evaluates one representative per part. First the
    // ingress side of every destination class (also for external sources), then the rows of
    // source classes (also to external destinations), in parallel.
    let ingress: Vec<Result<(SideTable, SideTable), NetpolError>> = (0..k)
        .into_par_iter()
        .map(|d| {
            let refs = engine.side_references(d as u32, true);
            Ok((
                engine.side_table(d as u32, true, &refs, Universe::Classes)?,
                engine.side_table(d as u32, true, &refs, Universe::SrcAtoms)?,
            ))
        })
        .collect();
    let ingress: Vec<(SideTable, SideTable)> = ingress.into_iter().collect::<Result<_, _>>()?;

    // Ingress results interned across destinations, so rows can memoize intersections.
    let mut interner = Interner::default();
    let ingress_ids: Vec<Vec<u32>> = ingress
        .iter()
        .map(|(t, _)| t.results.iter().map(|c| interner.id(c.clone())).collect())
        .collect();
    let n_src = engine.src_atoms.len();
    let mut from_ips = vec![0u32; n_src * k];
    for (d, (_, atoms)) in ingress.iter().enumerate() {
        for a in 0..n_src {
            let c = atoms.results[atoms.ids[a] as usize].clone();
            from_ips[a * k + d] = interner.id(c);
        }
    }
    let ingress_sets = &interner.sets;

    type Row = (Vec<u32>, Vec<u32>, Vec<ConnectionSet>);
    let rows: Vec<Result<Row, NetpolError>> = (0..k)
        .into_par_iter()
        .map(|s| {
            let refs = engine.side_references(s as u32, false);
            let egress = engine.side_table(s as u32, false, &refs, Universe::Classes)?;
            let mut local: HashMap<(u32, u32), u32, FastHash> = HashMap::default();
            let mut sets: Vec<ConnectionSet> = vec![ConnectionSet::none()];
            let mut row = Vec::with_capacity(k);
            for d in 0..k {
                let e = egress.ids[d];
                if egress.results[e as usize].is_empty() {
                    row.push(0);
                    continue;
                }
                let (table, _) = &ingress[d];
                let i = ingress_ids[d][table.ids[s] as usize];
                let id = *local.entry((e, i)).or_insert_with(|| {
                    let c = egress.results[e as usize].intersection(&ingress_sets[i as usize]);
                    sets.push(c);
                    (sets.len() - 1) as u32
                });
                row.push(id);
            }
            // Egress to external blocks: nothing selects an address block on ingress.
            let to_atoms = engine.side_table(s as u32, false, &refs, Universe::DstAtoms)?;
            let base = sets.len() as u32;
            sets.extend(to_atoms.results);
            let to_ips = to_atoms.ids.iter().map(|&i| base + i).collect();
            Ok((row, to_ips, sets))
        })
        .collect();
    let mut class_matrix = Vec::with_capacity(k * k);
    let mut to_ips = Vec::with_capacity(n_dst * k);
    for row in rows {
        let (row, ips, sets) = row?;
        let global: Vec<u32> = sets.into_iter().map(|c| interner.id(c)).collect();
        class_matrix.extend(row.iter().map(|&l| global[l as usize]));
        to_ips.extend(ips.iter().map(|&l| global[l as usize]));
    }
    let mut members = vec![Vec::new(); k];
    for (w, &c) in engine.class_of.iter().enumerate() {
        members[c as usize].push(w);
    }
    Ok(Connectivity {
        cluster,
        members,
        engine,
        conns: interner.sets,
        class_matrix,
        from_ips,
        to_ips,
    })
}

/// What a side table ranges over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Universe {
    Classes,
    SrcAtoms,
    DstAtoms,
}

/// One class's side of one direction: for every other end (class or address block), the index
/// of its result.
struct SideTable {
    ids: Vec<u32>,
    results: Vec<ConnectionSet>,
}

/// A multiply-rotate hasher for small integer keys (the default SipHash is needlessly slow for
/// the per-pair memo).
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FastHash = std::hash::BuildHasherDefault<FastHasher>;

fn bit(set: &[u64], i: usize) -> bool {
    set[i / 64] & (1 << (i % 64)) != 0
}

/// Splits each part by each splitter (a bitset over the same universe); empty parts dropped.
fn refine<'a>(
    parts: Vec<Vec<u64>>,
    splitters: impl Iterator<Item = &'a Vec<u64>>,
) -> Vec<Vec<u64>> {
    let mut parts = parts;
    for splitter in splitters {
        let mut next = Vec::with_capacity(parts.len() * 2);
        for part in parts {
            let inside: Vec<u64> = part.iter().zip(splitter).map(|(p, s)| p & s).collect();
            let outside: Vec<u64> = part.iter().zip(splitter).map(|(p, s)| p & !s).collect();
            if inside.iter().any(|w| *w != 0) {
                next.push(inside);
            }
            if outside.iter().any(|w| *w != 0) {
                next.push(outside);
            }
        }
        parts = next;
    }
    parts
}

fn full_set(n: usize) -> Vec<u64> {
    let mut set = vec![u64::MAX; n.div_ceil(64)];
    if !n.is_multiple_of(64) {
        if let Some(last) = set.last_mut() {
            *last = (1u64 << (n % 64)) - 1;
        }
    }
    set
}

/// What the rules that apply to a class in a direction refer to.
struct SideRefs {
    matchers: Vec<u32>,
    ips: Vec<u32>,
    named: Vec<u32>,
    open: bool,
}

#[derive(Default)]
struct Interner {
    sets: Vec<ConnectionSet>,
    ids: HashMap<ConnectionSet, u32>,
}

impl Interner {
    fn id(&mut self, set: ConnectionSet) -> u32 {
        if let Some(&id) = self.ids.get(&set) {
            return id;
        }
        let id = self.sets.len() as u32;
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }
}

/// One end of a connection inside the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// An equivalence class of pods.
    Class(u32),
    /// A source address block (index into `src_atoms`).
    SrcIp(u32),
    /// A destination address block (index into `dst_atoms`).
    DstIp(u32),
    /// A representative peer of the exposure analysis (index into its table).
    Rep(u32),
}

/// The operations the evaluation needs from a set of connections: [`ConnectionSet`] for the
/// connectivity report, and the exposure analysis's sets that keep unresolved named ports.
pub(crate) trait Conns: Clone {
    fn none() -> Self;
    fn all() -> Self;
    fn from_set(set: &ConnectionSet) -> Self;
    /// A named port that cannot be resolved (the destination is a representative peer).
    fn named(protocol: Option<Protocol>, name: &str) -> Self;
    fn union(&self, other: &Self) -> Self;
    fn difference(&self, other: &Self) -> Self;
    fn intersection(&self, other: &Self) -> Self;
    fn is_empty(&self) -> bool;
    fn is_all(&self) -> bool;
}

impl Conns for ConnectionSet {
    fn none() -> Self {
        ConnectionSet::none()
    }
    fn all() -> Self {
        ConnectionSet::all()
    }
    fn from_set(set: &ConnectionSet) -> Self {
        set.clone()
    }
    fn named(_protocol: Option<Protocol>, _name: &str) -> Self {
        ConnectionSet::none()
    }
    fn union(&self, other: &Self) -> Self {
        ConnectionSet::union(self, other)
    }
    fn difference(&self, other: &Self) -> Self {
        ConnectionSet::difference(self, other)
    }
    fn intersection(&self, other: &Self) -> Self {
        ConnectionSet::intersection(self, other)
    }
    fn is_empty(&self) -> bool {
        ConnectionSet::is_empty(self)
    }
    fn is_all(&self) -> bool {
        ConnectionSet::is_all(self)
    }
}

/// Representative peers (exposure analysis): which matchers select each (full-match semantics),
/// and which admin policies apply to each.
#[derive(Debug, Default)]
pub(crate) struct RepTable {
    /// Per rep, per matcher.
    pub(crate) member: Vec<Vec<bool>>,
    pub(crate) applies: Vec<Applies>,
}

#[derive(Debug, Clone)]
pub(crate) enum CPeer {
    Pods(u32),
    Ips(u32),
    Nothing,
}

#[derive(Debug, Clone)]
pub(crate) struct CRule {
    pub(crate) peers: Option<Vec<CPeer>>,
    pub(crate) ports: Option<Vec<CPort>>,
}

#[derive(Debug, Clone)]
pub(crate) struct CAdminRule {
    pub(crate) action: Action,
    pub(crate) peers: Vec<CPeer>,
    pub(crate) ports: Option<Vec<CPort>>,
}

#[derive(Debug, Clone)]
pub(crate) enum CPort {
    Fixed(ConnectionSet),
    /// Index into the named-port table; the rule's protocol (`None`: the container port's).
    Named(u32, Option<Protocol>),
}

#[derive(Debug)]
pub(crate) struct CNetpol {
    pub(crate) ingress: Option<Vec<CRule>>,
    pub(crate) egress: Option<Vec<CRule>>,
}

#[derive(Debug)]
pub(crate) struct CAdmin {
    pub(crate) ingress: Vec<CAdminRule>,
    pub(crate) egress: Vec<CAdminRule>,
}

/// Per class: which policies apply, by direction.
#[derive(Debug, Default, Clone)]
pub(crate) struct Applies {
    pub(crate) np_ingress: Vec<u32>,
    pub(crate) np_egress: Vec<u32>,
    pub(crate) anp: Vec<u32>,
    pub(crate) banp: bool,
}

/// The compiled policies and the classes.
#[derive(Debug)]
pub(crate) struct Engine<'c> {
    pub(crate) cluster: &'c Cluster,
    pub(crate) matchers: Vec<PodMatcher>,
    pub(crate) nps: Vec<CNetpol>,
    pub(crate) anps: Vec<CAdmin>,
    pub(crate) banp: Option<CAdmin>,
    pub(crate) anp_subjects: Vec<u32>,
    pub(crate) banp_subject: Option<u32>,
    pub(crate) named_ports: Vec<String>,
    /// Number of classes.
    pub(crate) classes: usize,
    /// Workload index to class.
    pub(crate) class_of: Vec<u32>,
    /// Per class, the resolution of each named port (protocol, port).
    pub(crate) class_ports: Vec<Vec<Option<(Protocol, u16)>>>,
    /// Per matcher, a bit per class.
    pub(crate) member: Vec<Vec<u64>>,
    pub(crate) applies: Vec<Applies>,
    pub(crate) src_atoms: Vec<IpSet>,
    pub(crate) dst_atoms: Vec<IpSet>,
    /// Per source atom, per ip set: inside?
    pub(crate) src_in: Vec<Vec<bool>>,
    pub(crate) dst_in: Vec<Vec<bool>>,
    /// Per ip set, the source (destination) atoms inside it, as bitsets.
    src_atom_sets: Vec<Vec<u64>>,
    dst_atom_sets: Vec<Vec<u64>>,
    /// Per named port, the classes grouped by how they resolve it, as bitsets.
    named_parts: Vec<Vec<Vec<u64>>>,
}

#[derive(Default)]
struct Compiler {
    matchers: Vec<PodMatcher>,
    matcher_ids: HashMap<PodMatcher, u32>,
    ip_sets: Vec<IpSet>,
    ingress_cuts: Vec<usize>,
    egress_cuts: Vec<usize>,
    named_ports: Vec<String>,
    named_ids: HashMap<String, u32>,
}

impl Compiler {
    fn matcher(&mut self, m: &PodMatcher) -> u32 {
        if let Some(&id) = self.matcher_ids.get(m) {
            return id;
        }
        let id = self.matchers.len() as u32;
        self.matchers.push(m.clone());
        self.matcher_ids.insert(m.clone(), id);
        id
    }

    fn peer(&mut self, p: &Peer, ingress: bool) -> CPeer {
        match p {
            Peer::Pods(m) => CPeer::Pods(self.matcher(m)),
            Peer::Ips(set) => {
                let id = self.ip_sets.len();
                self.ip_sets.push(set.clone());
                if ingress {
                    self.ingress_cuts.push(id);
                } else {
                    self.egress_cuts.push(id);
                }
                CPeer::Ips(id as u32)
            }
            Peer::Nothing => CPeer::Nothing,
        }
    }

    fn ports(&mut self, ports: &Option<Vec<PortSpec>>) -> Option<Vec<CPort>> {
        ports.as_ref().map(|list| {
            list.iter()
                .map(|p| match p {
                    PortSpec::Range {
                        protocol,
                        start,
                        end,
                    } => CPort::Fixed(ConnectionSet::from_ports(
                        *protocol,
                        PortSet::range(*start, *end),
                    )),
                    PortSpec::AllPorts(protocol) => {
                        CPort::Fixed(ConnectionSet::protocol(*protocol))
                    }
                    PortSpec::Named { protocol, name } => {
                        let id = match self.named_ids.get(name) {
                            Some(&id) => id,
                            None => {
                                let id = self.named_ports.len() as u32;
                                self.named_ports.push(name.clone());
                                self.named_ids.insert(name.clone(), id);
                                id
                            }
                        };
                        CPort::Named(id, *protocol)
                    }
                })
                .collect()
        })
    }

    fn np_rules(&mut self, rules: &Option<Vec<Rule>>, ingress: bool) -> Option<Vec<CRule>> {
        rules.as_ref().map(|rules| {
            rules
                .iter()
                .map(|r| CRule {
                    peers: r
                        .peers
                        .as_ref()
                        .map(|ps| ps.iter().map(|p| self.peer(p, ingress)).collect()),
                    ports: self.ports(&r.ports),
                })
                .collect()
        })
    }

    fn admin(&mut self, policy: &AdminPolicy) -> (u32, CAdmin) {
        let subject = self.matcher(&policy.subject);
        let mut rules = |rules: &[crate::model::AdminRule], ingress: bool| -> Vec<CAdminRule> {
            rules
                .iter()
                .map(|r| CAdminRule {
                    action: r.action,
                    peers: r.peers.iter().map(|p| self.peer(p, ingress)).collect(),
                    ports: self.ports(&r.ports),
                })
                .collect()
        };
        let ingress = rules(&policy.ingress, true);
        let egress = rules(&policy.egress, false);
        (subject, CAdmin { ingress, egress })
    }
}

/// The description of a group of pods that decides connectivity: the matchers that select it,
/// and the resolution of each named port.
type Signature = (Vec<u32>, Vec<Option<(Protocol, u16)>>);

fn resolve_named(ports: &[crate::model::ContainerPort], name: &str) -> Option<(Protocol, u16)> {
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
        .and_then(|p| {
            u16::try_from(p.port)
                .ok()
                .filter(|n| *n >= 1)
                .map(|n| (p.protocol, n))
        })
}

impl<'c> Engine<'c> {
    fn new(cluster: &'c Cluster) -> Result<Self, NetpolError> {
        let mut comp = Compiler::default();
        let mut np_subjects = Vec::new();
        let mut nps = Vec::new();
        for np in &cluster.network_policies {
            np_subjects.push(comp.matcher(&np.subject));
            nps.push(CNetpol {
                ingress: comp.np_rules(&np.ingress, true),
                egress: comp.np_rules(&np.egress, false),
            });
        }
        let mut anp_subjects = Vec::new();
        let mut anps = Vec::new();
        for anp in &cluster.admin_policies {
            let (s, c) = comp.admin(anp);
            anp_subjects.push(s);
            anps.push(c);
        }
        let (banp_subject, banp) = match &cluster.baseline {
            Some(b) => {
                let (s, c) = comp.admin(b);
                (Some(s), Some(c))
            }
            None => (None, None),
        };

        // Namespaces, indexed.
        let ns_names: Vec<&String> = cluster.namespaces.keys().collect();
        let ns_index: HashMap<&str, usize> = ns_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        let ns_labels: Vec<&Labels> = cluster.namespaces.values().collect();

        // Raw groups: workloads with the same namespace, labels and ports.
        let mut raw_ids: HashMap<(usize, &Labels, &[crate::model::ContainerPort]), u32> =
            HashMap::new();
        let mut raw_of = Vec::with_capacity(cluster.workloads.len());
        let mut raw_rep: Vec<usize> = Vec::new();
        let mut raw_by_ns: Vec<Vec<u32>> = vec![Vec::new(); ns_names.len()];
        for (i, w) in cluster.workloads.iter().enumerate() {
            let ns = ns_index[w.namespace.as_str()];
            let key = (ns, &w.labels, w.ports.as_slice());
            let id = *raw_ids.entry(key).or_insert_with(|| {
                let id = raw_rep.len() as u32;
                raw_rep.push(i);
                raw_by_ns[ns].push(id);
                id
            });
            raw_of.push(id);
        }

        // Which raw groups each matcher selects.
        let ns_matches = |m: &PodMatcher| -> Vec<usize> {
            match &m.namespaces {
                NamespaceMatch::Named(n) => ns_index.get(n.as_str()).copied().into_iter().collect(),
                NamespaceMatch::Selector(sel) => (0..ns_names.len())
                    .filter(|&i| sel.matches(ns_labels[i]))
                    .collect(),
            }
        };
        let mut raw_sigs: Vec<Vec<u32>> = vec![Vec::new(); raw_rep.len()];
        for (mi, m) in comp.matchers.iter().enumerate() {
            for ns in ns_matches(m) {
                for &r in &raw_by_ns[ns] {
                    let w = &cluster.workloads[raw_rep[r as usize]];
                    if m.pods.as_ref().is_none_or(|sel| sel.matches(&w.labels)) {
                        raw_sigs[r as usize].push(mi as u32);
                    }
                }
            }
        }

        // Pods of one owner with labels that policies tell apart are ambiguous.
        for (wi, labels, pod) in &cluster.label_gaps {
            let w = &cluster.workloads[*wi];
            let ns = ns_index[w.namespace.as_str()];
            let other: Vec<u32> = comp
                .matchers
                .iter()
                .enumerate()
                .filter(|(_, m)| {
                    ns_matches(m).contains(&ns)
                        && m.pods.as_ref().is_none_or(|sel| sel.matches(labels))
                })
                .map(|(i, _)| i as u32)
                .collect();
            if other != raw_sigs[raw_of[*wi] as usize] {
                let differing: Vec<String> = w
                    .labels
                    .iter()
                    .filter(|(k, v)| labels.get(*k) != Some(v))
                    .map(|(k, _)| k.clone())
                    .chain(
                        labels
                            .keys()
                            .filter(|k| !w.labels.contains_key(*k))
                            .cloned(),
                    )
                    .collect();
                return Err(NetpolError::Invalid {
                    file: w.origin.file.to_string(),
                    line: w.origin.line,
                    object: format!("{} {}/{}", w.kind, w.namespace, w.name),
                    message: format!(
                        "pods of the same owner workload `{}/{}` have different labels (pod {:?} differs in {}), and a policy selector tells them apart: the workload's connectivity is ambiguous",
                        w.namespace,
                        w.name,
                        pod,
                        differing.join(", ")
                    ),
                });
            }
        }

        // Classes.
        let mut class_ids: HashMap<Signature, u32> = HashMap::new();
        let mut raw_class = Vec::with_capacity(raw_rep.len());
        let mut class_ports = Vec::new();
        let mut class_sigs: Vec<Vec<u32>> = Vec::new();
        for (r, &rep) in raw_rep.iter().enumerate() {
            let w = &cluster.workloads[rep];
            let ports: Vec<Option<(Protocol, u16)>> = comp
                .named_ports
                .iter()
                .map(|n| resolve_named(&w.ports, n))
                .collect();
            let sig = (std::mem::take(&mut raw_sigs[r]), ports);
            let next = class_ids.len() as u32;
            let id = *class_ids.entry(sig.clone()).or_insert_with(|| {
                class_sigs.push(sig.0.clone());
                class_ports.push(sig.1.clone());
                next
            });
            raw_class.push(id);
        }
        let classes = class_sigs.len();
        let class_of: Vec<u32> = raw_of.iter().map(|&r| raw_class[r as usize]).collect();
        let words = classes.div_ceil(64).max(1);
        let mut member = vec![vec![0u64; words]; comp.matchers.len()];
        for (c, sig) in class_sigs.iter().enumerate() {
            for &m in sig {
                member[m as usize][c / 64] |= 1 << (c % 64);
            }
        }
        let has = |m: u32, c: usize| member[m as usize][c / 64] & (1 << (c % 64)) != 0;
        let mut applies = vec![Applies::default(); classes];
        for (c, a) in applies.iter_mut().enumerate() {
            for (i, np) in nps.iter().enumerate() {
                if has(np_subjects[i], c) {
                    if np.ingress.is_some() {
                        a.np_ingress.push(i as u32);
                    }
                    if np.egress.is_some() {
                        a.np_egress.push(i as u32);
                    }
                }
            }
            for (i, &s) in anp_subjects.iter().enumerate() {
                if has(s, c) {
                    a.anp.push(i as u32);
                }
            }
            a.banp = banp_subject.is_some_and(|s| has(s, c));
        }

        // External address blocks.
        let src_atoms = atoms(comp.ingress_cuts.iter().map(|&i| &comp.ip_sets[i]));
        let dst_atoms = atoms(comp.egress_cuts.iter().map(|&i| &comp.ip_sets[i]));
        let inside = |atoms: &[IpSet]| -> Vec<Vec<bool>> {
            atoms
                .iter()
                .map(|a| comp.ip_sets.iter().map(|s| a.is_subset(s)).collect())
                .collect()
        };
        let src_in = inside(&src_atoms);
        let dst_in = inside(&dst_atoms);
        let atom_sets = |inside: &[Vec<bool>]| -> Vec<Vec<u64>> {
            (0..comp.ip_sets.len())
                .map(|i| {
                    let mut set = vec![0u64; inside.len().div_ceil(64)];
                    for (a, flags) in inside.iter().enumerate() {
                        if flags[i] {
                            set[a / 64] |= 1 << (a % 64);
                        }
                    }
                    set
                })
                .collect()
        };
        let src_atom_sets = atom_sets(&src_in);
        let dst_atom_sets = atom_sets(&dst_in);
        let named_parts: Vec<Vec<Vec<u64>>> = (0..comp.named_ports.len())
            .map(|n| {
                let mut by_value: HashMap<Option<(Protocol, u16)>, Vec<u64>> = HashMap::new();
                for (c, ports) in class_ports.iter().enumerate() {
                    by_value
                        .entry(ports[n])
                        .or_insert_with(|| vec![0u64; words])[c / 64] |= 1 << (c % 64);
                }
                by_value.into_values().collect()
            })
            .collect();

        Ok(Engine {
            cluster,
            matchers: comp.matchers,
            nps,
            anps,
            banp,
            anp_subjects,
            banp_subject,
            named_ports: comp.named_ports,
            classes,
            class_of,
            class_ports,
            member,
            applies,
            src_atoms,
            dst_atoms,
            src_in,
            dst_in,
            src_atom_sets,
            dst_atom_sets,
            named_parts,
        })
    }

    /// The side table of a class in a direction over a universe of other ends.
    fn side_table(
        &self,
        class: u32,
        ingress: bool,
        refs: &SideRefs,
        universe: Universe,
    ) -> Result<SideTable, NetpolError> {
        let n = match universe {
            Universe::Classes => self.classes,
            Universe::SrcAtoms => self.src_atoms.len(),
            Universe::DstAtoms => self.dst_atoms.len(),
        };
        if refs.open || n == 0 {
            return Ok(SideTable {
                ids: vec![0; n],
                results: vec![ConnectionSet::all()],
            });
        }
        let parts = match universe {
            Universe::Classes => {
                let by_matchers = refine(
                    vec![full_set(n)],
                    refs.matchers.iter().map(|&m| &self.member[m as usize]),
                );
                refine(
                    by_matchers,
                    refs.named
                        .iter()
                        .flat_map(|&p| self.named_parts[p as usize].iter()),
                )
            }
            Universe::SrcAtoms => refine(
                vec![full_set(n)],
                refs.ips.iter().map(|&i| &self.src_atom_sets[i as usize]),
            ),
            Universe::DstAtoms => refine(
                vec![full_set(n)],
                refs.ips.iter().map(|&i| &self.dst_atom_sets[i as usize]),
            ),
        };
        let me = Endpoint::Class(class);
        let mut ids = vec![0u32; n];
        let mut results = Vec::with_capacity(parts.len());
        for part in &parts {
            let Some(first) = (0..n).find(|&i| bit(part, i)) else {
                continue;
            };
            let other = match universe {
                Universe::Classes => Endpoint::Class(first as u32),
                Universe::SrcAtoms => Endpoint::SrcIp(first as u32),
                Universe::DstAtoms => Endpoint::DstIp(first as u32),
            };
            let result: ConnectionSet = if ingress {
                self.direction(me, other, me, true, None)?
            } else {
                self.direction(me, other, other, false, None)?
            };
            let id = results.len() as u32;
            results.push(result);
            for (w, &word) in part.iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let b = word.trailing_zeros() as usize;
                    ids[w * 64 + b] = id;
                    word &= word - 1;
                }
            }
        }
        Ok(SideTable { ids, results })
    }

    /// The matchers in the peers, and the named ports in the ports, of the rules that apply to
    /// a class in a direction; and whether no policy applies at all.
    fn side_references(&self, class: u32, ingress: bool) -> SideRefs {
        let a = &self.applies[class as usize];
        let nps = if ingress { &a.np_ingress } else { &a.np_egress };
        let open = a.anp.is_empty() && nps.is_empty() && !a.banp;
        let mut matchers = Vec::new();
        let mut ips = Vec::new();
        let mut named = Vec::new();
        let mut add_peers = |peers: &[CPeer], ports: &Option<Vec<CPort>>| {
            for p in peers {
                match p {
                    CPeer::Pods(m) => matchers.push(*m),
                    CPeer::Ips(i) => ips.push(*i),
                    CPeer::Nothing => {}
                }
            }
            for p in ports.iter().flatten() {
                if let CPort::Named(n, _) = p {
                    named.push(*n);
                }
            }
        };
        fn admin_rules(p: &CAdmin, ingress: bool) -> &[CAdminRule] {
            if ingress {
                &p.ingress
            } else {
                &p.egress
            }
        }
        for &i in &a.anp {
            for r in admin_rules(&self.anps[i as usize], ingress) {
                add_peers(&r.peers, &r.ports);
            }
        }
        if a.banp {
            if let Some(b) = &self.banp {
                for r in admin_rules(b, ingress) {
                    add_peers(&r.peers, &r.ports);
                }
            }
        }
        for &i in nps {
            let np = &self.nps[i as usize];
            let rules = if ingress { &np.ingress } else { &np.egress };
            for r in rules.iter().flatten() {
                add_peers(r.peers.as_deref().unwrap_or_default(), &r.ports);
            }
        }
        matchers.sort_unstable();
        matchers.dedup();
        ips.sort_unstable();
        ips.dedup();
        named.sort_unstable();
        named.dedup();
        if ingress {
            // Named ports resolve on the selected class itself, the same for every peer.
            named.clear();
        }
        SideRefs {
            matchers,
            ips,
            named,
            open,
        }
    }

    pub(crate) fn is_member(&self, matcher: u32, class: u32) -> bool {
        let c = class as usize;
        self.member[matcher as usize][c / 64] & (1 << (c % 64)) != 0
    }

    fn peer_matches(&self, peer: &CPeer, ep: Endpoint, reps: Option<&RepTable>) -> bool {
        match (peer, ep) {
            (CPeer::Pods(m), Endpoint::Class(c)) => self.is_member(*m, c),
            (CPeer::Pods(m), Endpoint::Rep(r)) => {
                reps.is_some_and(|t| t.member[r as usize][*m as usize])
            }
            (CPeer::Ips(i), Endpoint::SrcIp(a)) => self.src_in[a as usize][*i as usize],
            (CPeer::Ips(i), Endpoint::DstIp(a)) => self.dst_in[a as usize][*i as usize],
            _ => false,
        }
    }

    /// The connections a rule's ports allow to `target` (the destination: named ports resolve on
    /// it). `np`: NetworkPolicy rules (a named port needs the rule's protocol, and cannot apply
    /// to an address block).
    fn port_conns<C: Conns>(
        &self,
        ports: &Option<Vec<CPort>>,
        target: Endpoint,
        np: bool,
    ) -> Result<C, String> {
        let Some(ports) = ports else {
            return Ok(C::all());
        };
        let mut out = C::none();
        for p in ports {
            match p {
                CPort::Fixed(c) => out = out.union(&C::from_set(c)),
                CPort::Named(id, protocol) => match target {
                    Endpoint::Class(c) => {
                        if let Some((proto, port)) = self.class_ports[c as usize][*id as usize] {
                            if protocol.is_none_or(|p| p == proto) {
                                out = out.union(&C::from_set(&ConnectionSet::from_ports(
                                    proto,
                                    PortSet::range(port, port),
                                )));
                            }
                        }
                    }
                    Endpoint::Rep(_) => {
                        out = out.union(&C::named(*protocol, &self.named_ports[*id as usize]));
                    }
                    _ if np => {
                        return Err(format!(
                        "named port error: cannot convert named port {:?} for an IP destination",
                        self.named_ports[*id as usize]
                    ))
                    }
                    _ => {}
                },
            }
        }
        Ok(out)
    }

    /// First-match evaluation of admin rules, accumulating (allowed, denied, decided).
    fn admin_rules<C: Conns>(
        &self,
        rules: &[CAdminRule],
        peer: Endpoint,
        target: Endpoint,
        reps: Option<&RepTable>,
        acc: &mut (C, C, C),
    ) {
        for rule in rules {
            if acc.2.is_all() {
                return;
            }
            if !rule.peers.iter().any(|p| self.peer_matches(p, peer, reps)) {
                continue;
            }
            let conns = match self.port_conns::<C>(&rule.ports, target, false) {
                Ok(c) => c.difference(&acc.2),
                Err(_) => continue,
            };
            match rule.action {
                Action::Allow => acc.0 = acc.0.union(&conns),
                Action::Deny => acc.1 = acc.1.union(&conns),
                Action::Pass => {}
            }
            acc.2 = acc.2.union(&conns);
        }
    }

    /// Whether any policy selects the class in a direction (exposure: "protected").
    pub(crate) fn is_protected(&self, class: u32, ingress: bool) -> bool {
        let a = &self.applies[class as usize];
        let has_rules = |p: &CAdmin| {
            if ingress {
                !p.ingress.is_empty()
            } else {
                !p.egress.is_empty()
            }
        };
        (if ingress {
            !a.np_ingress.is_empty()
        } else {
            !a.np_egress.is_empty()
        }) || a.anp.iter().any(|&i| has_rules(&self.anps[i as usize]))
            || (a.banp && self.banp.as_ref().is_some_and(has_rules))
    }

    /// The connections one direction allows. `selected`: the end whose policies apply (the
    /// source for egress, the destination for ingress); `peer`: the other end; `target`: the
    /// destination.
    pub(crate) fn direction<C: Conns>(
        &self,
        selected: Endpoint,
        peer: Endpoint,
        target: Endpoint,
        ingress: bool,
        reps: Option<&RepTable>,
    ) -> Result<C, NetpolError> {
        let applies = match selected {
            Endpoint::Class(c) => &self.applies[c as usize],
            Endpoint::Rep(r) => match reps {
                Some(t) => &t.applies[r as usize],
                None => return Ok(C::all()),
            },
            // Nothing selects an address block.
            _ => return Ok(C::all()),
        };
        let nps = if ingress {
            &applies.np_ingress
        } else {
            &applies.np_egress
        };
        if applies.anp.is_empty() && nps.is_empty() && !applies.banp {
            return Ok(C::all());
        }
        let mut acc = (C::none(), C::none(), C::none());
        for &a in &applies.anp {
            let anp = &self.anps[a as usize];
            let rules = if ingress { &anp.ingress } else { &anp.egress };
            self.admin_rules(rules, peer, target, reps, &mut acc);
        }
        let (allowed, denied, _) = acc;
        if allowed.union(&denied).is_all() {
            return Ok(allowed);
        }
        let base = if nps.is_empty() {
            match (&self.banp, applies.banp) {
                (Some(banp), true) => {
                    let rules = if ingress { &banp.ingress } else { &banp.egress };
                    let mut b = (C::none(), C::none(), C::none());
                    self.admin_rules(rules, peer, target, reps, &mut b);
                    C::all().difference(&b.1)
                }
                _ => C::all(),
            }
        } else {
            let mut union = C::none();
            'policies: for &i in nps {
                let np = &self.nps[i as usize];
                let rules = if ingress { &np.ingress } else { &np.egress };
                for rule in rules.iter().flatten() {
                    let selected = match &rule.peers {
                        None => true,
                        Some(peers) => peers.iter().any(|p| self.peer_matches(p, peer, reps)),
                    };
                    if !selected {
                        continue;
                    }
                    let conns =
                        self.port_conns::<C>(&rule.ports, target, true)
                            .map_err(|message| {
                                let p = &self.cluster.network_policies[i as usize];
                                NetpolError::Invalid {
                                    file: p.origin.file.to_string(),
                                    line: p.origin.line,
                                    object: format!("NetworkPolicy {}/{}", p.namespace, p.name),
                                    message,
                                }
                            })?;
                    union = union.union(&conns);
                    if union.is_all() {
                        break 'policies;
                    }
                }
            }
            union
        };
        Ok(allowed.union(&base.difference(&denied)))
    }

    /// The connections allowed from `src` to `dst`: egress at the source and ingress at the
    /// destination.
    pub(crate) fn between<C: Conns>(
        &self,
        src: Endpoint,
        dst: Endpoint,
        reps: Option<&RepTable>,
    ) -> Result<C, NetpolError> {
        let egress: C = self.direction(src, dst, dst, false, reps)?;
        if egress.is_empty() {
            return Ok(egress);
        }
        let ingress: C = self.direction(dst, src, dst, true, reps)?;
        Ok(egress.intersection(&ingress))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::load::load_str;

    /// `src => dst : conns` for every allowed pair.
    fn conns(yaml: &str) -> BTreeMap<(String, String), String> {
        let cluster = load_str("test.yaml", yaml).unwrap();
        let connectivity = analyze(&cluster).unwrap();
        connectivity
            .connections()
            .map(|(s, d, c)| ((s.to_string(), d.to_string()), c.to_string()))
            .collect()
    }

    fn get<'a>(
        map: &'a BTreeMap<(String, String), String>,
        src: &str,
        dst: &str,
    ) -> Option<&'a str> {
        map.get(&(src.to_string(), dst.to_string()))
            .map(String::as_str)
    }

    const PODS: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {team: x}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: a, labels: {app: web}}\nspec:\n  containers: [{name: c, ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: a, labels: {app: db}}\nspec:\n  containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: b, labels: {app: client}}\n";

    fn np(body: &str) -> String {
        format!("{PODS}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n{body}")
    }

    #[test]
    fn no_policies_allow_everything_but_self() {
        let map = conns(PODS);
        assert_eq!(
            get(&map, "a/web[Pod]", "a/db[Pod]"),
            Some("All Connections")
        );
        assert_eq!(get(&map, "a/web[Pod]", "a/web[Pod]"), None);
        assert_eq!(
            get(&map, "0.0.0.0-255.255.255.255[External]", "b/client[Pod]"),
            Some("All Connections")
        );
    }

    #[test]
    fn empty_ingress_list_denies_and_absent_from_allows_all() {
        let deny = conns(&np(
            "  podSelector: {matchLabels: {app: db}}\n  ingress: []\n",
        ));
        assert_eq!(get(&deny, "a/web[Pod]", "a/db[Pod]"), None);
        assert_eq!(
            get(&deny, "a/db[Pod]", "a/web[Pod]"),
            Some("All Connections")
        );
        let allow = conns(&np(
            "  podSelector: {matchLabels: {app: db}}\n  ingress: [{}]\n",
        ));
        assert_eq!(
            get(&allow, "b/client[Pod]", "a/db[Pod]"),
            Some("All Connections")
        );
        assert_eq!(
            get(&allow, "0.0.0.0-255.255.255.255[External]", "a/db[Pod]"),
            Some("All Connections")
        );
    }

    #[test]
    fn pod_and_namespace_selectors_in_one_peer_are_anded() {
        let map = conns(&np(
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {team: x}}\n      podSelector: {matchLabels: {app: web}}\n",
        ));
        assert_eq!(
            get(&map, "a/web[Pod]", "a/db[Pod]"),
            Some("All Connections")
        );
        assert_eq!(get(&map, "b/client[Pod]", "a/db[Pod]"), None);
        // Separate peers are ORed.
        let or = conns(&np(
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}\n    - podSelector: {matchLabels: {app: web}}\n",
        ));
        assert_eq!(
            get(&or, "b/client[Pod]", "a/db[Pod]"),
            Some("All Connections")
        );
        assert_eq!(get(&or, "a/web[Pod]", "a/db[Pod]"), Some("All Connections"));
    }

    #[test]
    fn named_ports_resolve_per_destination_and_protocol_must_match() {
        let map = conns(&np(
            "  podSelector: {}\n  ingress:\n  - ports:\n    - port: http\n    - port: dns\n      protocol: UDP\n    - port: dns\n",
        ));
        assert_eq!(
            get(&map, "b/client[Pod]", "a/web[Pod]"),
            Some("TCP 8080,UDP 53")
        );
        assert_eq!(get(&map, "b/client[Pod]", "a/db[Pod]"), Some("TCP 9090"));
    }

    #[test]
    fn end_port_ranges_and_protocol_defaults() {
        let map = conns(&np(
            "  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - ports:\n    - port: 9000\n      endPort: 9100\n    - protocol: SCTP\n",
        ));
        assert_eq!(
            get(&map, "a/web[Pod]", "a/db[Pod]"),
            Some("SCTP 1-65535,TCP 9000-9100")
        );
    }

    #[test]
    fn egress_at_the_source_and_ingress_at_the_destination_are_both_required() {
        let yaml = format!(
            "{}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: e, namespace: a}}\nspec:\n  podSelector: {{matchLabels: {{app: web}}}}\n  egress:\n  - ports: [{{port: 1, endPort: 100}}]\n",
            np("  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - ports: [{port: 50, endPort: 200}]\n")
        );
        let map = conns(&yaml);
        assert_eq!(get(&map, "a/web[Pod]", "a/db[Pod]"), Some("TCP 50-100"));
        assert_eq!(get(&map, "a/web[Pod]", "b/client[Pod]"), Some("TCP 1-100"));
    }

    #[test]
    fn ip_blocks_with_except_cut_external_blocks() {
        let map = conns(&np(
            "  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n",
        ));
        assert_eq!(
            get(&map, "a/web[Pod]", "10.0.0.0-10.0.255.255[External]"),
            Some("All Connections")
        );
        assert_eq!(
            get(&map, "a/web[Pod]", "10.1.0.0-10.1.255.255[External]"),
            None
        );
        assert_eq!(
            get(&map, "a/web[Pod]", "a/db[Pod]"),
            None,
            "ipBlocks never match pods"
        );
        assert_eq!(
            get(&map, "a/db[Pod]", "10.1.0.0-10.1.255.255[External]"),
            Some("All Connections")
        );
    }

    const ANP: &str =
        "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\n";

    #[test]
    fn admin_policies_order_pass_and_baseline() {
        // Priority 1 passes web->db on TCP 80; priority 2 denies everything into namespace a.
        let anps = format!(
            "{ANP}metadata: {{name: pass}}\nspec:\n  priority: 1\n  subject: {{namespaces: {{matchLabels: {{team: x}}}}}}\n  ingress:\n  - name: p\n    action: Pass\n    from: [{{namespaces: {{}}}}]\n    ports: [{{portNumber: {{port: 80}}}}]\n{ANP}metadata: {{name: deny}}\nspec:\n  priority: 2\n  subject: {{namespaces: {{matchLabels: {{team: x}}}}}}\n  ingress:\n  - {{name: d, action: Deny, from: [{{namespaces: {{}}}}]}}\n"
        );
        let no_np = conns(&format!("{PODS}{anps}"));
        // Passed, no NetworkPolicy selects db, no baseline: allowed.
        assert_eq!(get(&no_np, "b/client[Pod]", "a/db[Pod]"), Some("TCP 80"));
        // A NetworkPolicy that selects db and allows nothing decides the passed connection.
        let with_np = conns(&format!(
            "{}{anps}",
            np("  podSelector: {matchLabels: {app: db}}\n  ingress: []\n")
        ));
        assert_eq!(get(&with_np, "b/client[Pod]", "a/db[Pod]"), None);
        // The baseline applies only where no NetworkPolicy selects the pod.
        let banp = "---\napiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n  ingress:\n  - {name: d, action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}]}\n";
        let base = conns(&format!("{PODS}{banp}"));
        assert_eq!(get(&base, "b/client[Pod]", "a/web[Pod]"), None);
        assert_eq!(
            get(&base, "a/db[Pod]", "a/web[Pod]"),
            Some("All Connections")
        );
        let base_np = conns(&format!(
            "{}{banp}",
            np("  podSelector: {matchLabels: {app: web}}\n  ingress: [{}]\n")
        ));
        assert_eq!(
            get(&base_np, "b/client[Pod]", "a/web[Pod]"),
            Some("All Connections")
        );
    }

    #[test]
    fn workloads_with_the_same_description_share_a_class() {
        let mut yaml = String::from(PODS);
        for i in 0..10 {
            yaml.push_str(&format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: w{i}, namespace: b, labels: {{app: client, id: \"{i}\"}}}}\n"
            ));
        }
        let yaml = format!(
            "{yaml}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n  podSelector: {{}}\n  ingress: [{{from: [{{namespaceSelector: {{}}, podSelector: {{matchLabels: {{app: client}}}}}}]}}]\n"
        );
        let cluster = load_str("t.yaml", &yaml).unwrap();
        let connectivity = analyze(&cluster).unwrap();
        // web, db (same selectors: the subject), client + w0..w9 (one class).
        assert_eq!(connectivity.class_count(), 2);
        let web = cluster
            .workloads
            .iter()
            .position(|w| w.name == "web")
            .unwrap();
        let w3 = cluster
            .workloads
            .iter()
            .position(|w| w.name == "w3")
            .unwrap();
        assert!(connectivity.between_workloads(w3, web).is_all());
        assert!(connectivity.between_workloads(web, w3).is_all());
    }

    #[test]
    fn pods_of_one_owner_that_selectors_tell_apart_are_an_error() {
        let pods = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\n  labels: {app: x}\n  ownerReferences: [{kind: ReplicaSet, name: rs, controller: true}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p2\n  labels: {app: z}\n  ownerReferences: [{kind: ReplicaSet, name: rs, controller: true}]\n";
        let cluster = load_str("t.yaml", pods).unwrap();
        assert!(analyze(&cluster).is_ok(), "no policy reads the labels");
        let with_policy = format!(
            "{pods}---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p}}\nspec:\n  podSelector: {{matchLabels: {{app: x}}}}\n"
        );
        let cluster = load_str("t.yaml", &with_policy).unwrap();
        let err = analyze(&cluster).unwrap_err().to_string();
        assert!(err.contains("default/rs") && err.contains("p2"), "{err}");
    }
}
