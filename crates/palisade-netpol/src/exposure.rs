//! Exposure analysis: what the policies leave open to peers that are not in the manifests, as
//! upstream's `--exposure` reports it.
//!
//! For each workload and direction: when no policy selects it, it is "not protected" and open to
//! the entire cluster. Otherwise the connections open to any pod of any namespace
//! (`entire-cluster`) are those of the rules whose peers are every namespace; and every other pod
//! selector a rule names is a "representative peer" (a namespace selector and a pod selector),
//! matched by a rule only when the rule's selectors are the representative's own (or empty), whose
//! connections to the workload are reported when they differ from the entire-cluster ones.
//! Representative peers that a workload in the manifests matches exactly are dropped: those
//! connections are in the connectivity list already.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use crate::analyze::{Applies, Connectivity, Conns, Endpoint, PeerRef, RepTable};
use crate::connset::{ConnectionSet, Protocol};
use crate::labels::{LabelSelector, Labels};
use crate::model::{NamespaceMatch, Peer, PodMatcher, NAMESPACE_NAME_LABEL};
use crate::report::options::{Direction, ReportOptions};

/// A set of connections that may also name ports by name (a rule's named port towards a
/// representative peer cannot be resolved). The protocol of a named port is the rule's; `None`
/// for an admin policy's named port, whose protocol is the container port's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExpConn {
    set: ConnectionSet,
    named: BTreeSet<(Option<Protocol>, String)>,
}

impl Conns for ExpConn {
    fn none() -> Self {
        Self::default()
    }
    fn all() -> Self {
        Self {
            set: ConnectionSet::all(),
            named: BTreeSet::new(),
        }
    }
    fn from_set(set: &ConnectionSet) -> Self {
        Self {
            set: set.clone(),
            named: BTreeSet::new(),
        }
    }
    fn named(protocol: Option<Protocol>, name: &str) -> Self {
        Self {
            set: ConnectionSet::none(),
            named: BTreeSet::from([(protocol, name.to_string())]),
        }
    }
    fn union(&self, other: &Self) -> Self {
        Self {
            set: self.set.union(&other.set),
            named: self.named.union(&other.named).cloned().collect(),
        }
    }
    fn difference(&self, other: &Self) -> Self {
        Self {
            set: self.set.difference(&other.set),
            named: self.named.difference(&other.named).cloned().collect(),
        }
    }
    fn intersection(&self, other: &Self) -> Self {
        // Upstream keeps the left operand's named ports: the egress side's, which is where they
        // come from.
        Self {
            set: self.set.intersection(&other.set),
            named: self.named.clone(),
        }
    }
    fn is_empty(&self) -> bool {
        self.set.is_empty() && self.named.is_empty()
    }
    fn is_all(&self) -> bool {
        self.set.is_all() && self.named.is_empty()
    }
}

impl ExpConn {
    /// Resolves named ports that `ports` (a workload's container ports) define, as upstream
    /// converts the entire-cluster ingress exposure of a pod.
    fn resolve(&self, ports: &[crate::model::ContainerPort]) -> ExpConn {
        let mut out = ExpConn {
            set: self.set.clone(),
            named: BTreeSet::new(),
        };
        for (protocol, name) in &self.named {
            let found = ports
                .iter()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| {
                    u16::try_from(p.port)
                        .ok()
                        .filter(|n| *n >= 1)
                        .map(|n| (p.protocol, n))
                });
            match found {
                Some((pod_protocol, port)) => out.set.add(
                    protocol.unwrap_or(pod_protocol),
                    &crate::connset::PortSet::range(port, port),
                ),
                None => {
                    out.named.insert((*protocol, name.clone()));
                }
            }
        }
        out
    }

    fn contains(&self, focus: &ConnectionSet) -> bool {
        focus.is_subset(&self.set)
    }
}

impl fmt::Display for ExpConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut items: Vec<String> = Vec::new();
        let mut protos: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        for (p, ports) in self.set.protocols() {
            protos.entry(p.as_str().to_string()).or_default().0 = ports.to_string();
        }
        for (p, name) in &self.named {
            let key = p.map(|p| p.as_str().to_string()).unwrap_or_default();
            protos.entry(key).or_default().1.push(name.clone());
        }
        for (proto, (ranges, mut names)) in protos {
            names.sort();
            let mut parts = Vec::new();
            if !ranges.is_empty() {
                parts.push(ranges);
            }
            parts.extend(names);
            items.push(format!("{proto} {}", parts.join(",")));
        }
        items.sort();
        f.write_str(&items.join(","))
    }
}

/// A representative peer: the pods a rule names, as selectors.
#[derive(Debug, Clone)]
struct Rep {
    namespaces: LabelSelector,
    pods: Option<LabelSelector>,
    /// The namespace of a NetworkPolicy's peer without a namespace selector.
    own_namespace: Option<String>,
}

/// A selector's requirements in a canonical text form (single-value `In` is `=`), sorted.
fn canonical(sel: &LabelSelector) -> Vec<String> {
    let mut out: Vec<String> = sel.labels().map(|(k, v)| format!("{k}={v}")).collect();
    for r in sel.expressions() {
        let mut values: Vec<String> = r.values.clone().unwrap_or_default();
        values.sort();
        values.dedup();
        out.push(match r.operator.as_str() {
            "In" if values.len() == 1 => format!("{}={}", r.key, values[0]),
            "In" => format!("{} in ({})", r.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", r.key, values.join(",")),
            "Exists" => r.key.clone(),
            "DoesNotExist" => format!("!{}", r.key),
            other => format!("{} {other}", r.key),
        });
    }
    out.sort();
    out.dedup();
    out
}

/// Upstream's match of a rule's selector against a representative's: an empty rule selector
/// matches; otherwise the requirements must be the same.
fn full_match(rule: &LabelSelector, rep: Option<&LabelSelector>) -> bool {
    let r = canonical(rule);
    if r.is_empty() {
        return true;
    }
    rep.is_some_and(|rep| canonical(rep) == r)
}

fn matcher_matches_rep(m: &PodMatcher, rep: &Rep) -> bool {
    let ns = match &m.namespaces {
        NamespaceMatch::Named(n) => rep.own_namespace.as_deref() == Some(n.as_str()),
        NamespaceMatch::Selector(s) => full_match(s, Some(&rep.namespaces)),
    };
    ns && m
        .pods
        .as_ref()
        .is_none_or(|sel| full_match(sel, rep.pods.as_ref()))
}

fn selects_all_namespaces(m: &PodMatcher) -> bool {
    matches!(&m.namespaces, NamespaceMatch::Selector(s) if s.is_empty())
        && m.pods.as_ref().is_none_or(LabelSelector::is_empty)
}

fn rep_from(m: &PodMatcher) -> Rep {
    match &m.namespaces {
        NamespaceMatch::Named(n) => Rep {
            namespaces: LabelSelector::from_labels(Labels::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                n.clone(),
            )])),
            pods: m.pods.clone(),
            own_namespace: Some(n.clone()),
        },
        NamespaceMatch::Selector(s) => Rep {
            namespaces: s.clone(),
            pods: m.pods.clone(),
            own_namespace: None,
        },
    }
}

/// The representative peers of the cluster's policies, deduplicated, without those a workload
/// of the input matches exactly.
fn representatives(conn: &Connectivity<'_>) -> Vec<Rep> {
    let cluster = conn.cluster();
    let mut reps: Vec<Rep> = Vec::new();
    let mut keys: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
    let mut add = |rep: Rep, reps: &mut Vec<Rep>| {
        let key = (
            canonical(&rep.namespaces),
            rep.pods.as_ref().map(canonical).unwrap_or_default(),
        );
        if keys.insert(key) {
            reps.push(rep);
        }
    };
    for np in &cluster.network_policies {
        for rules in [&np.ingress, &np.egress].into_iter().flatten() {
            for rule in rules {
                let Some(peers) = &rule.peers else { continue };
                let mut collected = Vec::new();
                let mut cluster_wide = false;
                for peer in peers {
                    if let Peer::Pods(m) = peer {
                        if selects_all_namespaces(m) {
                            // Upstream stops at such a peer, dropping the rule's others.
                            cluster_wide = true;
                            break;
                        }
                        collected.push(rep_from(m));
                    }
                }
                if !cluster_wide {
                    for rep in collected {
                        add(rep, &mut reps);
                    }
                }
            }
        }
    }
    for policy in cluster
        .admin_policies
        .iter()
        .chain(cluster.baseline.as_ref())
    {
        for rule in policy.ingress.iter().chain(&policy.egress) {
            for peer in &rule.peers {
                if let Peer::Pods(m) = peer {
                    if !selects_all_namespaces(m) {
                        add(rep_from(m), &mut reps);
                    }
                }
            }
        }
    }
    reps.retain(|rep| {
        let Some(pods) = &rep.pods else { return true };
        if pods.expressions().next().is_some() || rep.namespaces.expressions().next().is_some() {
            return true;
        }
        if rep.namespaces.labels().next().is_none() || pods.labels().next().is_none() {
            return true;
        }
        !cluster.workloads.iter().any(|w| {
            let ns_labels = cluster.namespaces.get(&w.namespace);
            pods.matches(&w.labels) && ns_labels.is_some_and(|l| rep.namespaces.matches(l))
        })
    });
    reps
}

/// The text of a representative peer: `[namespace with {..}]/[pod with {..}]`, a namespace's
/// name when the selector is only its name label, `[all namespaces]`, `[all pods]`.
fn rep_labels(rep: &Rep) -> (String, String) {
    let ns = &rep.namespaces;
    let only_name = ns.expressions().next().is_none()
        && ns.labels().count() == 1
        && ns.labels().any(|(k, _)| k == NAMESPACE_NAME_LABEL);
    let ns_label = if only_name {
        ns.labels()
            .map(|(_, v)| v.clone())
            .next()
            .unwrap_or_default()
    } else if ns.is_empty() {
        "all namespaces".to_string()
    } else {
        format!("namespace with {{{ns}}}")
    };
    let pod_label = match &rep.pods {
        Some(p) if !p.is_empty() => format!("pod with {{{p}}}"),
        _ => "all pods".to_string(),
    };
    (ns_label, pod_label)
}

/// What the other end of an exposure line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExposureTarget {
    /// An external address block (also in the connectivity list).
    External,
    /// Any pod in any namespace.
    EntireCluster,
    /// A representative peer: the namespace part and the pod part of its label (without
    /// brackets), and whether the namespace part is a plain namespace name.
    Representative {
        /// `all namespaces`, `namespace with {..}`, or a namespace's name.
        namespace: String,
        /// `all pods` or `pod with {..}`.
        pods: String,
        /// The namespace part is a name.
        named_namespace: bool,
    },
}

/// One exposure line: `src`/`dst` are the workload and the other end.
#[derive(Debug, Clone)]
pub struct ExposureLine {
    /// Source.
    pub src: String,
    /// Destination.
    pub dst: String,
    /// Connections.
    pub conn: String,
    /// What the other end is.
    pub target: ExposureTarget,
}

/// The exposure section.
#[derive(Debug, Clone, Default)]
pub struct Exposure<'c> {
    /// Egress lines, sorted by source.
    pub egress: Vec<ExposureLine>,
    /// Ingress lines, sorted by destination.
    pub ingress: Vec<ExposureLine>,
    /// `W is not protected on Egress|Ingress` lines, sorted.
    pub unprotected: Vec<String>,
    /// Width of the workload column.
    pub max_peer_len: usize,
    /// The workloads of the section.
    pub exposed_peers: Vec<PeerRef<'c>>,
}

/// Computes the exposure section. `connlist`: the (focus-filtered) connectivity lines, whose
/// lines with external blocks are repeated in the section.
pub fn exposure_lines<'c>(
    conn: &Connectivity<'c>,
    opts: &ReportOptions,
    connlist: &[(String, String, String)],
) -> Exposure<'c> {
    let mut builder = ExposureBuilder::new(conn, opts);
    for (src, dst, c) in connlist {
        builder.add_connection(src, dst, c);
    }
    builder.finish()
}

/// The exposure section while the connectivity lines are being written: it keeps only the
/// lines it repeats (those between its workloads and external blocks), so that the report can
/// stream the connectivity list and still add them.
#[derive(Debug)]
pub(crate) struct ExposureBuilder<'c> {
    cluster: &'c crate::model::Cluster,
    result: Exposure<'c>,
    /// The workloads of the section.
    exposed: BTreeSet<String>,
}

impl<'c> ExposureBuilder<'c> {
    /// Computes the section's own lines (entire cluster, representative peers, unprotected).
    pub(crate) fn new(conn: &Connectivity<'c>, opts: &ReportOptions) -> Self {
        let (result, exposed) = own_lines(conn, opts);
        Self {
            cluster: conn.cluster(),
            result,
            exposed,
        }
    }

    /// Offers a connectivity line; the section repeats it when one end is an external block
    /// and the other a workload of the section.
    pub(crate) fn add_connection(&mut self, src: &str, dst: &str, c: &str) {
        let src_ext = src.ends_with("[External]");
        let dst_ext = dst.ends_with("[External]");
        if dst_ext && self.exposed.contains(src) {
            self.result.egress.push(ExposureLine {
                src: src.to_string(),
                dst: dst.to_string(),
                conn: c.to_string(),
                target: ExposureTarget::External,
            });
        }
        if src_ext && self.exposed.contains(dst) {
            self.result.ingress.push(ExposureLine {
                src: src.to_string(),
                dst: dst.to_string(),
                conn: c.to_string(),
                target: ExposureTarget::External,
            });
        }
    }

    /// Sorts the section.
    pub(crate) fn finish(self) -> Exposure<'c> {
        let Self {
            cluster,
            mut result,
            exposed,
        } = self;
        result
            .egress
            .sort_by(|a, b| (&a.src, &a.dst).cmp(&(&b.src, &b.dst)));
        result
            .ingress
            .sort_by(|a, b| (&a.dst, &a.src).cmp(&(&b.dst, &b.src)));
        result.unprotected.sort();
        let mut peers_seen = BTreeSet::new();
        for w in &cluster.workloads {
            let p = PeerRef::Workload(w);
            let s = p.to_string();
            if exposed.contains(&s) && peers_seen.insert(s.clone()) {
                result.max_peer_len = result.max_peer_len.max(s.len());
                result.exposed_peers.push(p);
            }
        }
        result
    }
}

/// The section's lines that do not come from the connectivity list, and its workloads.
fn own_lines<'c>(
    conn: &Connectivity<'c>,
    opts: &ReportOptions,
) -> (Exposure<'c>, BTreeSet<String>) {
    let engine = &conn.engine;
    let cluster = conn.cluster();
    let mut reps = representatives(conn);
    let all_index = reps.len() as u32;
    reps.push(Rep {
        namespaces: LabelSelector::default(),
        pods: None,
        own_namespace: None,
    });
    let table = RepTable {
        member: reps
            .iter()
            .map(|r| {
                engine
                    .matchers
                    .iter()
                    .map(|m| matcher_matches_rep(m, r))
                    .collect()
            })
            .collect(),
        applies: reps
            .iter()
            .map(|r| Applies {
                anp: engine
                    .anp_subjects
                    .iter()
                    .enumerate()
                    .filter(|(_, &m)| matcher_matches_rep(&engine.matchers[m as usize], r))
                    .map(|(i, _)| i as u32)
                    .collect(),
                banp: engine
                    .banp_subject
                    .is_some_and(|m| matcher_matches_rep(&engine.matchers[m as usize], r)),
                ..Applies::default()
            })
            .collect(),
    };
    let labels: Vec<(String, String)> = reps.iter().map(rep_labels).collect();
    let focus = opts.focus_conn_set();

    // Per class and direction: whether protected, and the lines (other end, connections) its
    // workloads get, computed once per class. Only the lines are kept: the per-representative
    // results are as many as classes x representatives, and most lead to no line.
    type ClassLines = (bool, Vec<(String, String, ExposureTarget)>);
    let mut cache: HashMap<(u32, bool), ClassLines> = HashMap::new();
    let mut result = Exposure::default();
    let mut egress_entries: BTreeSet<String> = BTreeSet::new();
    let mut ingress_entries: BTreeSet<String> = BTreeSet::new();
    let mut seen_workloads: BTreeSet<String> = BTreeSet::new();
    for (wi, w) in cluster.workloads.iter().enumerate() {
        let peer = PeerRef::Workload(w);
        let name = peer.to_string();
        if !seen_workloads.insert(name.clone()) {
            continue;
        }
        if !opts.focus_of(&peer).focus {
            continue;
        }
        let class = engine.class_of[wi];
        for ingress in [false, true] {
            match opts.focus_direction {
                Some(Direction::Ingress) if !ingress => continue,
                Some(Direction::Egress) if ingress => continue,
                _ => {}
            }
            let (protected, class_lines) = cache.entry((class, ingress)).or_insert_with(|| {
                if !engine.is_protected(class, ingress) {
                    return (false, Vec::new());
                }
                let me = Endpoint::Class(class);
                let all = Endpoint::Rep(all_index);
                let entire: ExpConn = if ingress {
                    engine
                        .direction::<ExpConn>(me, all, all, true, Some(&table))
                        .map(|c| c.resolve(&w.ports))
                        .unwrap_or_default()
                } else {
                    engine
                        .direction::<ExpConn>(me, all, all, false, Some(&table))
                        .unwrap_or_default()
                };
                let mut class_lines = Vec::new();
                // With a focus connection, only it matters.
                let entire_shown = match &focus {
                    Some(f) if entire.contains(f) => Some(ExpConn::from_set(f)),
                    Some(_) => None,
                    None => (!entire.is_empty()).then(|| entire.clone()),
                };
                if let Some(e) = &entire_shown {
                    class_lines.push((
                        "entire-cluster".into(),
                        e.to_string(),
                        ExposureTarget::EntireCluster,
                    ));
                }
                let general = match &focus {
                    Some(f) if entire.contains(f) => ExpConn::from_set(f),
                    _ => entire.clone(),
                };
                for r in 0..all_index {
                    let rep = Endpoint::Rep(r);
                    let c = if ingress {
                        engine.between::<ExpConn>(rep, me, Some(&table))
                    } else {
                        engine.between::<ExpConn>(me, rep, Some(&table))
                    };
                    let c = c.unwrap_or_default();
                    let c = match &focus {
                        Some(f) if c.contains(f) => ExpConn::from_set(f),
                        Some(_) => continue,
                        None => c,
                    };
                    let exposed = !entire.is_empty();
                    if (exposed && c == general) || (!exposed && c.is_empty()) {
                        continue;
                    }
                    let (ns, pods) = &labels[r as usize];
                    let named_namespace =
                        !ns.starts_with("all namespaces") && !ns.starts_with("namespace with");
                    let ns_text = if named_namespace {
                        ns.clone()
                    } else {
                        format!("[{ns}]")
                    };
                    class_lines.push((
                        format!("{ns_text}/[{pods}]"),
                        c.to_string(),
                        ExposureTarget::Representative {
                            namespace: ns.clone(),
                            pods: pods.clone(),
                            named_namespace,
                        },
                    ));
                }
                (true, class_lines)
            });
            let entries = if ingress {
                &mut ingress_entries
            } else {
                &mut egress_entries
            };
            let lines = if ingress {
                &mut result.ingress
            } else {
                &mut result.egress
            };
            let mut push = |other: String, conn: String, target: ExposureTarget| {
                let (src, dst) = if ingress {
                    (other, name.clone())
                } else {
                    (name.clone(), other)
                };
                lines.push(ExposureLine {
                    src,
                    dst,
                    conn,
                    target,
                });
            };
            if !*protected {
                entries.insert(name.clone());
                push(
                    "entire-cluster".into(),
                    "All Connections".into(),
                    ExposureTarget::EntireCluster,
                );
                result.unprotected.push(format!(
                    "{name} is not protected on {}",
                    if ingress { "Ingress" } else { "Egress" }
                ));
                continue;
            }
            if !class_lines.is_empty() {
                entries.insert(name.clone());
            }
            for (other, conn, target) in class_lines.iter() {
                push(other.clone(), conn.clone(), target.clone());
            }
        }
    }
    // The workloads of the section get their lines with external blocks too (`add_connection`).
    let exposed: BTreeSet<String> = egress_entries.into_iter().chain(ingress_entries).collect();
    (result, exposed)
}

fn dot_quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Dot nodes (external ones) and edges of the exposure section; representative peers go into
/// `rep_groups` by namespace label.
pub fn dot_data(
    exp: &Exposure<'_>,
    _ns_groups: &mut BTreeMap<String, Vec<String>>,
    rep_groups: &mut BTreeMap<String, Vec<String>>,
) -> (Vec<String>, Vec<String>) {
    let mut external = Vec::new();
    let mut edges = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (lines, ingress) in [(&exp.ingress, true), (&exp.egress, false)] {
        for l in lines {
            let (workload, _) = if ingress {
                (&l.dst, &l.src)
            } else {
                (&l.src, &l.dst)
            };
            let node = match &l.target {
                ExposureTarget::External => continue,
                ExposureTarget::EntireCluster => {
                    if seen.insert("entire-cluster".into()) {
                        external.push(format!(
                            "\t{} [label={} color=\"red2\" fontcolor=\"red2\" shape=diamond]",
                            dot_quote("entire-cluster"),
                            dot_quote("entire-cluster")
                        ));
                    }
                    "entire-cluster".to_string()
                }
                ExposureTarget::Representative {
                    namespace, pods, ..
                } => {
                    let id = format!("{pods}_in_{namespace}");
                    if seen.insert(id.clone()) {
                        rep_groups
                            .entry(format!("{namespace}[namespace]"))
                            .or_default()
                            .push(format!(
                                "\t\t{} [label={} color=\"red2\" fontcolor=\"red2\"]",
                                dot_quote(&id),
                                dot_quote(pods)
                            ));
                    }
                    id
                }
            };
            let (s, d, color, weight) = if ingress {
                (node, workload.clone(), "darkorange2", "1")
            } else {
                (workload.clone(), node, "darkorange4", "0.5")
            };
            edges.push(format!(
                "\t{} -> {} [label={} color=\"{color}\" fontcolor=\"darkgreen\" weight={weight} style=dashed]",
                dot_quote(&s),
                dot_quote(&d),
                dot_quote(&l.conn)
            ));
        }
    }
    (external, edges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector::from_labels(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn full_match_compares_requirements_not_labels() {
        let rule = sel(&[("app", "web")]);
        assert!(full_match(&rule, Some(&sel(&[("app", "web")]))));
        assert!(!full_match(
            &rule,
            Some(&sel(&[("app", "web"), ("tier", "x")]))
        ));
        assert!(!full_match(&rule, None));
        assert!(
            full_match(&LabelSelector::default(), None),
            "an empty rule selector matches"
        );
        let single_in = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![crate::labels::LabelSelectorRequirement {
                key: "app".into(),
                operator: "In".into(),
                values: Some(vec!["web".into()]),
            }]),
        };
        assert!(
            full_match(&single_in, Some(&rule)),
            "In with one value is ="
        );
    }

    #[test]
    fn representative_labels_read_like_upstream() {
        let rep = Rep {
            namespaces: sel(&[(NAMESPACE_NAME_LABEL, "prod")]),
            pods: Some(sel(&[("app", "db")])),
            own_namespace: Some("prod".into()),
        };
        assert_eq!(
            rep_labels(&rep),
            ("prod".into(), "pod with {app=db}".into())
        );
        let any = Rep {
            namespaces: LabelSelector::default(),
            pods: None,
            own_namespace: None,
        };
        assert_eq!(
            rep_labels(&any),
            ("all namespaces".into(), "all pods".into())
        );
        let team = Rep {
            namespaces: sel(&[("team", "x"), ("env", "prod")]),
            pods: None,
            own_namespace: None,
        };
        assert_eq!(rep_labels(&team).0, "namespace with {env=prod,team=x}");
    }

    #[test]
    fn named_ports_stay_named_until_resolved() {
        let c = ExpConn::named(Some(Protocol::Tcp), "http").union(&ExpConn::from_set(
            &ConnectionSet::from_ports(Protocol::Tcp, crate::connset::PortSet::range(80, 80)),
        ));
        assert_eq!(c.to_string(), "TCP 80,http");
        let ports = [crate::model::ContainerPort {
            name: Some("http".into()),
            port: 8080,
            protocol: Protocol::Tcp,
        }];
        assert_eq!(c.resolve(&ports).to_string(), "TCP 80,8080");
    }
}
