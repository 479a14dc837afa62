//! Service-mesh L7 policies for the services whose `accepts` carry HTTP rules: mesh identities
//! (from service accounts) instead of addresses, and methods and paths instead of ports alone.
//!
//! - Istio: a `security.istio.io/v1` PeerAuthentication requiring mTLS (STRICT) on the service's
//!   pods, and an ALLOW AuthorizationPolicy with one rule per `accepts` rule (principals
//!   `cluster.local/ns/NS/sa/SA`, operations with the ports, methods and paths). Once an ALLOW
//!   policy selects a workload, everything it does not allow is denied.
//! - Linkerd: per port a `policy.linkerd.io/v1beta3` Server (access policy deny); per `accepts`
//!   rule and HTTP port an HTTPRoute (`policy.linkerd.io/v1beta3`, parent the Server) with the
//!   path and method matches, a `policy.linkerd.io/v1alpha1` AuthorizationPolicy targeting that
//!   route (or the Server, for a port without HTTP rules), and a MeshTLSAuthentication listing
//!   the clients' service accounts. Declared probe paths get their own route, authorised from any
//!   network, since a Server with routes no longer serves unmatched paths.
//!
//! Every `accepts` rule of such a service is covered, so the mesh allows what the
//! NetworkPolicies allow, narrowed to the HTTP rules where there are some.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde_json::{json, Map, Value};

use crate::generate::{match_labels, Manifest};
use crate::intent::{Accept, Client, HttpRule, Intent, Service};

/// The trust domain of the workload identities (Istio's and Linkerd's default).
pub const TRUST_DOMAIN: &str = "cluster.local";
/// A service account name that stands for every service account of the namespace (the
/// namespace-wide services and peers palisade-team builds).
pub const ANY_SERVICE_ACCOUNT: &str = "*";

const ISTIO: &str = "security.istio.io/v1";
const LINKERD_SERVER: &str = "policy.linkerd.io/v1beta3";
const LINKERD_ROUTE: &str = "policy.linkerd.io/v1beta3";
const LINKERD_AUTH: &str = "policy.linkerd.io/v1alpha1";
const LINKERD_GROUP: &str = "policy.linkerd.io";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mesh {
    Istio,
    Linkerd,
}

impl FromStr for Mesh {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "istio" => Ok(Mesh::Istio),
            "linkerd" => Ok(Mesh::Linkerd),
            other => Err(format!("unknown mesh {other:?} (istio or linkerd)")),
        }
    }
}

impl fmt::Display for Mesh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mesh::Istio => "istio",
            Mesh::Linkerd => "linkerd",
        })
    }
}

/// Which services get mesh policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshScope {
    /// Services with HTTP rules (`netpol generate`: the NetworkPolicies already hold the rest).
    HttpRules,
    /// Every service: mTLS identity for all (a team platform, where the mesh is how a team's
    /// namespaces know who is calling).
    EveryService,
}

/// The mesh policies of one managed namespace.
pub fn namespace_policies(intent: &Intent, ns: &str, mesh: Mesh) -> Vec<Manifest> {
    namespace_policies_in(intent, ns, mesh, MeshScope::HttpRules)
}

/// The mesh policies of one managed namespace, for the services `scope` covers.
pub fn namespace_policies_in(
    intent: &Intent,
    ns: &str,
    mesh: Mesh,
    scope: MeshScope,
) -> Vec<Manifest> {
    let mut out = Vec::new();
    for service in intent
        .services
        .values()
        .filter(|s| s.namespace == ns && (scope == MeshScope::EveryService || s.has_l7()))
    {
        match mesh {
            Mesh::Istio => out.extend(istio(intent, service)),
            Mesh::Linkerd => out.extend(linkerd(intent, service)),
        }
    }
    out
}

/// The clients of a rule that have a mesh identity: (namespace, service account), sorted.
fn identities(intent: &Intent, accept: &Accept) -> Vec<(String, String)> {
    let set: BTreeSet<(String, String)> = accept
        .from
        .iter()
        .filter_map(|c| match c {
            Client::Workload(name) => intent
                .named(name)
                .map(|n| (n.namespace().to_owned(), n.service_account().to_owned())),
            Client::Cidr(_) => None,
        })
        .collect();
    set.into_iter().collect()
}

fn istio(intent: &Intent, service: &Service) -> Vec<Manifest> {
    let selector = match_labels(&service.pod_labels);
    let peer_auth = Manifest::new(
        ISTIO,
        "PeerAuthentication",
        &service.namespace,
        &service.name,
        json!({"selector": selector, "mtls": {"mode": "STRICT"}}),
    );
    let rules: Vec<Value> = service
        .accepts
        .iter()
        .map(|accept| {
            let principals: Vec<String> = identities(intent, accept)
                .into_iter()
                // `*` is Istio's prefix match: every service account of the namespace.
                .map(|(ns, sa)| format!("{TRUST_DOMAIN}/ns/{ns}/sa/{sa}"))
                .collect();
            let ports: Vec<String> = accept.ports.iter().map(|p| p.start.to_string()).collect();
            let to: Vec<Value> = if accept.http.is_empty() && ports.is_empty() {
                // Every port (a team's own namespaces): a rule with no `to` matches any request.
                Vec::new()
            } else if accept.http.is_empty() {
                vec![json!({"operation": {"ports": ports}})]
            } else {
                accept
                    .http
                    .iter()
                    .map(|h| {
                        let mut op = Map::new();
                        op.insert("ports".into(), json!(ports));
                        if !h.methods.is_empty() {
                            op.insert("methods".into(), json!(h.methods));
                        }
                        if !h.paths.is_empty() {
                            op.insert("paths".into(), json!(h.paths));
                        }
                        json!({"operation": op})
                    })
                    .collect()
            };
            let mut rule = json!({"from": [{"source": {"principals": principals}}]});
            if !to.is_empty() {
                rule["to"] = json!(to);
            }
            rule
        })
        .collect();
    let authz = Manifest::new(
        ISTIO,
        "AuthorizationPolicy",
        &service.namespace,
        &service.name,
        json!({"selector": selector, "action": "ALLOW", "rules": rules}),
    );
    vec![peer_auth, authz]
}

fn linkerd(intent: &Intent, service: &Service) -> Vec<Manifest> {
    let ns = service.namespace.as_str();
    let mut out = Vec::new();
    // Ports, and whether any rule on them is HTTP-specific.
    let mut ports: Vec<(u16, bool)> = Vec::new();
    for accept in &service.accepts {
        for p in &accept.ports {
            let http = !accept.http.is_empty();
            match ports.iter_mut().find(|(port, _)| *port == p.start) {
                Some(entry) => entry.1 |= http,
                None => ports.push((p.start, http)),
            }
        }
    }
    ports.sort_unstable();
    let server_name = |port: u16| format!("{}-{port}", service.name);
    for &(port, _) in &ports {
        out.push(Manifest::new(
            LINKERD_SERVER,
            "Server",
            ns,
            &server_name(port),
            json!({
                "podSelector": match_labels(&service.pod_labels),
                "port": port,
                "accessPolicy": "deny",
            }),
        ));
    }
    for (i, accept) in service.accepts.iter().enumerate() {
        // A rule without ports (a team's own namespaces) is let in on every port that has a
        // Server, or the Servers' deny would shut the team out of its own pods.
        let accept_ports: Vec<u16> = if accept.ports.is_empty() {
            ports.iter().map(|&(port, _)| port).collect()
        } else {
            accept.ports.iter().map(|p| p.start).collect()
        };
        if accept_ports.is_empty() {
            continue;
        }
        let auth_name = format!("{}-accepts-{i}", service.name);
        let identity_refs: Vec<Value> = identities(intent, accept)
            .into_iter()
            .map(|(ns, sa)| {
                if sa == ANY_SERVICE_ACCOUNT {
                    // Without a name, Linkerd takes every service account of the namespace.
                    json!({"kind": "ServiceAccount", "namespace": ns})
                } else {
                    json!({"kind": "ServiceAccount", "name": sa, "namespace": ns})
                }
            })
            .collect();
        out.push(Manifest::new(
            LINKERD_AUTH,
            "MeshTLSAuthentication",
            ns,
            &auth_name,
            json!({"identityRefs": identity_refs}),
        ));
        let required =
            json!([{"group": LINKERD_GROUP, "kind": "MeshTLSAuthentication", "name": auth_name}]);
        let mut seen = BTreeSet::new();
        for port in accept_ports {
            if !seen.insert(port) {
                continue;
            }
            let port_has_http = ports.iter().any(|&(q, http)| q == port && http);
            let name = format!("{}-{port}-accepts-{i}", service.name);
            let target = if port_has_http {
                // Every rule on an HTTP port is a route: rules without HTTP rules match any request.
                let all = [HttpRule {
                    methods: Vec::new(),
                    paths: Vec::new(),
                }];
                let http = if accept.http.is_empty() {
                    &all[..]
                } else {
                    &accept.http[..]
                };
                out.push(route(ns, &name, &server_name(port), http));
                json!({"group": LINKERD_GROUP, "kind": "HTTPRoute", "name": name})
            } else {
                json!({"group": LINKERD_GROUP, "kind": "Server", "name": server_name(port)})
            };
            out.push(Manifest::new(
                LINKERD_AUTH,
                "AuthorizationPolicy",
                ns,
                &name,
                json!({"targetRef": target, "requiredAuthenticationRefs": required}),
            ));
        }
    }
    if !service.probes.is_empty() {
        let net_name = format!("{}-probes", service.name);
        out.push(Manifest::new(
            LINKERD_AUTH,
            "NetworkAuthentication",
            ns,
            &net_name,
            json!({"networks": [{"cidr": "0.0.0.0/0"}, {"cidr": "::/0"}]}),
        ));
        let probe_rule = [HttpRule {
            methods: vec!["GET".into()],
            paths: service.probes.clone(),
        }];
        for &(port, http) in &ports {
            if !http {
                continue;
            }
            let name = format!("{}-{port}-probes", service.name);
            out.push(route(ns, &name, &server_name(port), &probe_rule));
            out.push(Manifest::new(
                LINKERD_AUTH,
                "AuthorizationPolicy",
                ns,
                &name,
                json!({
                    "targetRef": {"group": LINKERD_GROUP, "kind": "HTTPRoute", "name": name},
                    "requiredAuthenticationRefs": [{"group": LINKERD_GROUP, "kind": "NetworkAuthentication", "name": net_name}],
                }),
            ));
        }
    }
    out
}

/// An inbound HTTPRoute on a Server matching any of `rules`.
fn route(ns: &str, name: &str, server: &str, rules: &[HttpRule]) -> Manifest {
    let mut matches = Vec::new();
    for rule in rules {
        let paths: Vec<Option<&str>> = if rule.paths.is_empty() {
            vec![None]
        } else {
            rule.paths.iter().map(|p| Some(p.as_str())).collect()
        };
        let methods: Vec<Option<&str>> = if rule.methods.is_empty() {
            vec![None]
        } else {
            rule.methods.iter().map(|m| Some(m.as_str())).collect()
        };
        for path in &paths {
            for method in &methods {
                let mut m = Map::new();
                m.insert("path".into(), path_match(*path));
                if let Some(method) = method {
                    m.insert("method".into(), json!(method));
                }
                matches.push(Value::Object(m));
            }
        }
    }
    Manifest::new(
        LINKERD_ROUTE,
        "HTTPRoute",
        ns,
        name,
        json!({
            "parentRefs": [{"group": LINKERD_GROUP, "kind": "Server", "name": server}],
            "rules": [{"matches": matches}],
        }),
    )
}

/// `/a/b` is an exact match; `/a/*` a prefix (`/a`, path-segment-wise, as the Gateway API
/// defines PathPrefix); no path, every path.
fn path_match(path: Option<&str>) -> Value {
    match path {
        None => json!({"type": "PathPrefix", "value": "/"}),
        Some(p) => match p.strip_suffix('*') {
            Some(prefix) => {
                let trimmed = prefix.trim_end_matches('/');
                let value = if trimmed.is_empty() { "/" } else { trimmed };
                json!({"type": "PathPrefix", "value": value})
            }
            None => json!({"type": "Exact", "value": p}),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const TEXT: &str = "\
namespaces:
  ml: {team: ds}
  gw: {team: platform, shared: true}
services:
  gateway:
    namespace: gw
    podLabels: {app: gateway}
    serviceAccount: gateway
    reaches: [model]
  model:
    namespace: ml
    podLabels: {app: model}
    serviceAccount: model
    probes: [/healthz]
    accepts:
      - from: [gateway]
        ports: [8080]
        http:
          - methods: [POST]
            paths: [/v1/models/iris:predict, /v2/*]
      - from: [gateway]
        ports: [9000]
  redis:
    namespace: ml
    podLabels: {app: redis}
    accepts:
      - from: [gateway]
        ports: [6379]
";

    fn intent() -> Intent {
        Intent::parse(
            Arc::from("i.yaml"),
            &TEXT.replace("reaches: [model]", "reaches: [model, redis]"),
        )
        .unwrap()
    }

    #[test]
    fn istio_allows_principals_on_operations() {
        let ms = namespace_policies(&intent(), "ml", Mesh::Istio);
        let kinds: Vec<_> = ms
            .iter()
            .map(|m| format!("{} {}", m.kind, m.name))
            .collect();
        // Only the service with HTTP rules: redis has none.
        assert_eq!(
            kinds,
            vec!["PeerAuthentication model", "AuthorizationPolicy model"]
        );
        assert_eq!(ms[0].value["spec"]["mtls"]["mode"], "STRICT");
        assert_eq!(ms[0].value["apiVersion"], "security.istio.io/v1");
        let spec = &ms[1].value["spec"];
        assert_eq!(spec["action"], "ALLOW");
        assert_eq!(spec["selector"]["matchLabels"]["app"], "model");
        assert_eq!(
            spec["rules"][0]["from"][0]["source"]["principals"][0],
            "cluster.local/ns/gw/sa/gateway"
        );
        assert_eq!(
            spec["rules"][0]["to"][0]["operation"],
            json!({"ports": ["8080"], "methods": ["POST"], "paths": ["/v1/models/iris:predict", "/v2/*"]})
        );
        assert_eq!(
            spec["rules"][1]["to"][0]["operation"],
            json!({"ports": ["9000"]})
        );
    }

    #[test]
    fn linkerd_routes_authorise_identities() {
        let ms = namespace_policies(&intent(), "ml", Mesh::Linkerd);
        let kinds: Vec<_> = ms
            .iter()
            .map(|m| format!("{} {}", m.kind, m.name))
            .collect();
        assert_eq!(
            kinds,
            vec![
                "Server model-8080",
                "Server model-9000",
                "MeshTLSAuthentication model-accepts-0",
                "HTTPRoute model-8080-accepts-0",
                "AuthorizationPolicy model-8080-accepts-0",
                "MeshTLSAuthentication model-accepts-1",
                "AuthorizationPolicy model-9000-accepts-1",
                "NetworkAuthentication model-probes",
                "HTTPRoute model-8080-probes",
                "AuthorizationPolicy model-8080-probes",
            ]
        );
        let route = &ms[3].value;
        assert_eq!(route["apiVersion"], "policy.linkerd.io/v1beta3");
        assert_eq!(
            route["spec"]["parentRefs"][0],
            json!({"group": "policy.linkerd.io", "kind": "Server", "name": "model-8080"})
        );
        assert_eq!(
            route["spec"]["rules"][0]["matches"],
            json!([
                {"path": {"type": "Exact", "value": "/v1/models/iris:predict"}, "method": "POST"},
                {"path": {"type": "PathPrefix", "value": "/v2"}, "method": "POST"},
            ])
        );
        let authz = &ms[4].value;
        assert_eq!(authz["apiVersion"], "policy.linkerd.io/v1alpha1");
        assert_eq!(authz["spec"]["targetRef"]["kind"], "HTTPRoute");
        assert_eq!(
            authz["spec"]["requiredAuthenticationRefs"][0]["name"],
            "model-accepts-0"
        );
        assert_eq!(
            ms[2].value["spec"]["identityRefs"],
            json!([{"kind": "ServiceAccount", "name": "gateway", "namespace": "gw"}])
        );
        // A port without HTTP rules is authorised on its Server.
        assert_eq!(
            ms[6].value["spec"]["targetRef"],
            json!({"group": "policy.linkerd.io", "kind": "Server", "name": "model-9000"})
        );
        assert_eq!(ms[0].value["spec"]["accessPolicy"], "deny");
    }

    #[test]
    fn parses_mesh_names() {
        assert_eq!("istio".parse::<Mesh>(), Ok(Mesh::Istio));
        assert_eq!("linkerd".parse::<Mesh>(), Ok(Mesh::Linkerd));
        assert!("consul".parse::<Mesh>().is_err());
    }
}
