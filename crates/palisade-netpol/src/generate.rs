//! NetworkPolicies from an [`Intent`]: per managed namespace a default-deny for both directions,
//! the cluster-DNS egress, and per service one policy with its ingress allows (on the service) and
//! its egress allows (so that the client side permits what the server side accepts: a connection
//! needs both). The output is deterministic: namespaces, then objects, in a fixed order.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::intent::{Client, Intent, IpBlock, Named, PortRange, Reach, Service};
use crate::mesh::{self, Mesh};

/// The label every generated object carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "palisade");
/// The namespace label the API server sets on every namespace, used to select peers' namespaces.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// One generated object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub value: Value,
}

impl Manifest {
    pub(crate) fn new(
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
        spec: Value,
    ) -> Self {
        let value = json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {MANAGED_BY.0: MANAGED_BY.1},
            },
            "spec": spec,
        });
        Self {
            namespace: namespace.to_owned(),
            kind: kind.to_owned(),
            name: name.to_owned(),
            value,
        }
    }
}

/// Everything for `intent`: the NetworkPolicies and, for each mesh, its L7 policies; grouped by
/// namespace (in name order), NetworkPolicies first.
pub fn generate(intent: &Intent, meshes: &[Mesh]) -> Vec<Manifest> {
    generate_in(intent, meshes, mesh::MeshScope::HttpRules)
}

/// As [`generate`], with mesh policies for the services `scope` covers.
pub fn generate_in(intent: &Intent, meshes: &[Mesh], scope: mesh::MeshScope) -> Vec<Manifest> {
    // Services grouped by namespace once: looking them up per namespace would make generating
    // for a whole platform (thousands of team namespaces) quadratic.
    let mut by_namespace: BTreeMap<&str, Vec<&Service>> = BTreeMap::new();
    for service in intent.services.values() {
        by_namespace
            .entry(service.namespace.as_str())
            .or_default()
            .push(service);
    }
    let mut out = Vec::new();
    for ns in intent.namespaces.keys() {
        let services = by_namespace.get(ns.as_str()).map_or(&[][..], Vec::as_slice);
        out.extend(policies_of(intent, ns, services));
        for &m in meshes {
            out.extend(mesh::namespace_policies_in(intent, ns, m, scope));
        }
    }
    out
}

/// The NetworkPolicies of one managed namespace.
pub fn namespace_policies(intent: &Intent, ns: &str) -> Vec<Manifest> {
    let services: Vec<&Service> = intent
        .services
        .values()
        .filter(|s| s.namespace == ns)
        .collect();
    policies_of(intent, ns, &services)
}

/// The NetworkPolicies of namespace `ns`, whose services are `services` (in name order).
fn policies_of(intent: &Intent, ns: &str, services: &[&Service]) -> Vec<Manifest> {
    let mut out = vec![Manifest::new(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        ns,
        "default-deny",
        json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
    )];
    if intent.dns_for_all {
        out.push(Manifest::new(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            ns,
            "allow-dns",
            json!({
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [dns_rule(intent)],
            }),
        ));
    }
    for service in services {
        if let Some(policy) = service_policy(intent, service) {
            out.push(policy);
        }
    }
    out
}

fn service_policy(intent: &Intent, service: &Service) -> Option<Manifest> {
    let ingress: Vec<Value> = service
        .accepts
        .iter()
        .map(|accept| {
            let from: Vec<Value> = accept
                .from
                .iter()
                .map(|client| match client {
                    Client::Workload(name) => workload_peer(intent, &service.namespace, name),
                    Client::Cidr(block) => ip_block_peer(block),
                })
                .collect();
            let mut rule = Map::new();
            rule.insert("from".into(), Value::Array(from));
            // No ports: every port (only built in code, e.g. by palisade-team for a team's own
            // namespaces; an intent file always names ports).
            if !accept.ports.is_empty() {
                rule.insert("ports".into(), ports(&accept.ports));
            }
            Value::Object(rule)
        })
        .collect();

    let mut egress = Vec::new();
    for reach in &service.reaches {
        match reach {
            Reach::Workload(name) => {
                let allowed = ports_to(intent, service, name);
                let mut rule = Map::new();
                rule.insert(
                    "to".into(),
                    json!([workload_peer(intent, &service.namespace, name)]),
                );
                if !allowed.is_empty() {
                    rule.insert("ports".into(), ports(&allowed));
                }
                egress.push(Value::Object(rule));
            }
            Reach::Dns if !intent.dns_for_all => egress.push(dns_rule(intent)),
            Reach::Dns => {}
            Reach::Cidr { block, ports: p } => {
                let mut rule = Map::new();
                rule.insert("to".into(), json!([ip_block_peer(block)]));
                if !p.is_empty() {
                    rule.insert("ports".into(), ports(p));
                }
                egress.push(Value::Object(rule));
            }
        }
    }
    if service.internet_egress {
        egress.push(json!({"to": [ip_block_peer(&IpBlock::internet())]}));
    }
    if ingress.is_empty() && egress.is_empty() {
        return None;
    }
    let mut spec = Map::new();
    spec.insert("podSelector".into(), match_labels(&service.pod_labels));
    let mut types = Vec::new();
    if !ingress.is_empty() {
        types.push("Ingress");
    }
    if !egress.is_empty() {
        types.push("Egress");
    }
    spec.insert("policyTypes".into(), json!(types));
    if !ingress.is_empty() {
        spec.insert("ingress".into(), Value::Array(ingress));
    }
    if !egress.is_empty() {
        spec.insert("egress".into(), Value::Array(egress));
    }
    Some(Manifest::new(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        &service.namespace,
        &format!("allow-{}", service.name),
        Value::Object(spec),
    ))
}

/// The ports `client` may use towards `target`: what the target accepts from it (or, for a peer,
/// what the peer listens on). Empty means every port: a rule without ports accepts on all.
pub fn ports_to(intent: &Intent, client: &Service, target: &str) -> Vec<PortRange> {
    let mut out = BTreeSet::new();
    match intent.named(target) {
        Some(Named::Service(t)) => {
            for accept in &t.accepts {
                if accept
                    .from
                    .iter()
                    .any(|c| matches!(c, Client::Workload(n) if *n == client.name))
                {
                    if accept.ports.is_empty() {
                        return Vec::new();
                    }
                    out.extend(accept.ports.iter().copied());
                }
            }
        }
        Some(Named::Peer(p)) => out.extend(p.ports.iter().copied()),
        None => {}
    }
    out.into_iter().collect()
}

fn dns_rule(intent: &Intent) -> Value {
    let dns = &intent.cluster_dns;
    json!({
        "to": [{
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: dns.namespace}},
            "podSelector": match_labels(&dns.pod_labels),
        }],
        "ports": ports(&dns.port_ranges()),
    })
}

/// The peer selecting a service's or peer's pods, from a policy in `from_ns`.
fn workload_peer(intent: &Intent, from_ns: &str, name: &str) -> Value {
    let Some(named) = intent.named(name) else {
        // Validation guarantees every name resolves; select nothing rather than everything.
        return json!({"podSelector": {"matchLabels": {"palisade.dev/unresolved": name}}});
    };
    if named.namespace() == from_ns {
        json!({"podSelector": match_labels(named.pod_labels())})
    } else {
        json!({
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: named.namespace()}},
            "podSelector": match_labels(named.pod_labels()),
        })
    }
}

fn ip_block_peer(block: &IpBlock) -> Value {
    let mut b = Map::new();
    b.insert("cidr".into(), json!(block.cidr));
    if !block.except.is_empty() {
        b.insert("except".into(), json!(block.except));
    }
    json!({"ipBlock": b})
}

/// A selector of exactly these labels; `{}` (every pod) for none.
pub(crate) fn match_labels(labels: &BTreeMap<String, String>) -> Value {
    if labels.is_empty() {
        return json!({});
    }
    json!({"matchLabels": labels})
}

fn ports(ports: &[PortRange]) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|p| {
                let mut m = Map::new();
                m.insert("protocol".into(), json!(p.protocol.as_str()));
                m.insert("port".into(), json!(p.start));
                if p.end != p.start {
                    m.insert("endPort".into(), json!(p.end));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// Multi-document YAML, each document preceded by `---`, after a comment naming the source.
pub fn to_yaml(manifests: &[Manifest], source: &str) -> String {
    let mut out = format!(
        "# Generated by palisade netpol generate from {source}.\n# Do not edit: change the intent and generate again.\n"
    );
    for m in manifests {
        out.push_str(&yaml_document(&m.value));
    }
    out
}

/// One YAML document (`---` first, a newline last), keys in the value's order: how every
/// generated manifest is written (`netpol generate`, `team render`).
pub fn yaml_document(value: &Value) -> String {
    let mut doc = String::new();
    // Writing to a String cannot fail; the emitter errors only on writer failure.
    let _ = yaml_rust2::YamlEmitter::new(&mut doc).dump(&to_yaml_node(value));
    doc.push('\n');
    doc
}

fn to_yaml_node(value: &Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(to_yaml_node).collect()),
        Value::Object(map) => Yaml::Hash(
            map.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), to_yaml_node(v)))
                .collect(),
        ),
    }
}

/// The manifests grouped per namespace, for `--out DIR` (one file per namespace).
pub fn by_namespace(manifests: &[Manifest]) -> BTreeMap<&str, Vec<Manifest>> {
    let mut out: BTreeMap<&str, Vec<Manifest>> = BTreeMap::new();
    for m in manifests {
        out.entry(m.namespace.as_str()).or_default().push(m.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn intent(text: &str) -> Intent {
        Intent::parse(Arc::from("intent.yaml"), text).unwrap()
    }

    const TWO: &str = "\
namespaces:
  a: {team: t}
  b: {team: t}
services:
  web:
    namespace: a
    podLabels: {app: web}
    reaches: [api, {cidr: 203.0.113.0/24, ports: [443, 8000-8100/TCP]}]
  api:
    namespace: b
    podLabels: {app: api}
    accepts:
      - from: [web]
        ports: [8080, 9090/TCP]
      - from: [web]
        ports: [8080]
";

    fn find<'a>(ms: &'a [Manifest], ns: &str, name: &str) -> &'a Value {
        &ms.iter()
            .find(|m| m.namespace == ns && m.name == name)
            .unwrap_or_else(|| panic!("no {ns}/{name}"))
            .value
    }

    #[test]
    fn every_namespace_gets_default_deny_and_dns() {
        let ms = generate(&intent(TWO), &[]);
        let names: Vec<String> = ms
            .iter()
            .map(|m| format!("{}/{}", m.namespace, m.name))
            .collect();
        assert_eq!(
            names,
            vec![
                "a/default-deny",
                "a/allow-dns",
                "a/allow-web",
                "b/default-deny",
                "b/allow-dns",
                "b/allow-api"
            ]
        );
        let deny = find(&ms, "a", "default-deny");
        assert_eq!(
            deny["spec"],
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
        );
        let dns = &find(&ms, "b", "allow-dns")["spec"]["egress"][0];
        assert_eq!(
            dns["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "kube-system"
        );
        assert_eq!(
            dns["to"][0]["podSelector"]["matchLabels"]["k8s-app"],
            "kube-dns"
        );
        assert_eq!(
            dns["ports"],
            json!([{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}])
        );
    }

    #[test]
    fn both_sides_of_a_cross_namespace_connection_are_allowed() {
        let ms = generate(&intent(TWO), &[]);
        let api = &find(&ms, "b", "allow-api")["spec"];
        assert_eq!(api["policyTypes"], json!(["Ingress"]));
        assert_eq!(
            api["ingress"][0]["from"][0],
            json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "a"}}, "podSelector": {"matchLabels": {"app": "web"}}})
        );
        let web = &find(&ms, "a", "allow-web")["spec"];
        assert_eq!(web["policyTypes"], json!(["Egress"]));
        // The union of what api accepts from web, once each.
        assert_eq!(
            web["egress"][0]["ports"],
            json!([{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": 9090}])
        );
        assert_eq!(
            web["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]
                ["kubernetes.io/metadata.name"],
            "b"
        );
        assert_eq!(
            web["egress"][1],
            json!({"to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}], "ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 8000, "endPort": 8100}]})
        );
    }

    #[test]
    fn without_namespace_dns_each_service_names_it() {
        let text = format!("dns: false\n{TWO}").replace("reaches: [api,", "reaches: [dns, api,");
        let ms = generate(&intent(&text), &[]);
        assert!(ms.iter().all(|m| m.name != "allow-dns"));
        let web = &find(&ms, "a", "allow-web")["spec"];
        assert_eq!(
            web["egress"][0]["ports"][0],
            json!({"protocol": "UDP", "port": 53})
        );
    }

    #[test]
    fn internet_egress_excludes_private_ranges() {
        let text = TWO.replace(
            "    podLabels: {app: web}\n",
            "    podLabels: {app: web}\n    internetEgress: true\n",
        );
        let ms = generate(&intent(&text), &[]);
        let web = &find(&ms, "a", "allow-web")["spec"];
        assert_eq!(
            web["egress"][2],
            json!({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]}}]})
        );
        // Not for the other service.
        let api = &find(&ms, "b", "allow-api")["spec"];
        assert!(api.get("egress").is_none());
    }

    #[test]
    fn yaml_is_multi_document_and_reads_back() {
        let ms = generate(&intent(TWO), &[]);
        let text = to_yaml(&ms, "intent.yaml");
        assert!(text.starts_with("# Generated by palisade netpol generate from intent.yaml."));
        let docs: Vec<_> = palisade_core::yaml::documents(&text)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(docs.len(), ms.len());
        for (doc, m) in docs.iter().zip(&ms) {
            assert_eq!(doc.root.as_ref().unwrap().to_json(), m.value);
        }
    }
}
