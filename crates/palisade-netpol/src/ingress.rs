//! Connections from the ingress controller: Kubernetes `Ingress` (networking.k8s.io/v1) and
//! OpenShift `Route` (route.openshift.io/v1) objects expose the workloads selected by their
//! backend Services, on the Services' target ports.
//!
//! The rules follow np-guard netpol-analyzer's ingress analysis, which the conformance goldens
//! encode:
//! - a Service without a selector, or whose selector matches no workload of its namespace, is
//!   ignored; an Ingress/Route only reaches Services of its own namespace;
//! - a backend port (Ingress `service.port`, Route `spec.port.targetPort`) picks the first
//!   Service port whose name, port or targetPort equals it; no backend port picks every Service
//!   port; the chosen Service port's `targetPort` (or `port`, without one) is the pod port;
//! - a named pod port resolves on the workload's container ports and must be TCP; a numbered one
//!   counts only if a container declares it (of any protocol: upstream treats every declared
//!   container port as TCP here);
//! - the resulting TCP ports are then cut by what the policies allow from the controller, which
//!   is a pod without labels in the namespace `ingress-controller-ns` (labelled only with its
//!   name, unless a manifest declares it). The controller is added to the cluster when it is
//!   loaded ([`add_controller`]), so the one analysis of the cluster answers for it too.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::connset::{PortSet, Protocol};
use crate::labels::Labels;
use crate::model::{Cluster, Origin, Workload, NAMESPACE_NAME_LABEL};
use crate::spec::IntOrString;

/// The peer name upstream prints for the ingress controller.
pub const INGRESS_CONTROLLER: &str = "{ingress-controller}";
/// The name a focus option uses for the ingress controller.
pub const INGRESS_CONTROLLER_NAME: &str = "ingress-controller";
/// The namespace upstream places the controller's pod in.
const CONTROLLER_NAMESPACE: &str = "ingress-controller-ns";

/// `Service.spec`: the fields that decide which pods and ports a Service reaches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `None` (absent or null): the Service selects nothing this analysis knows of.
    #[serde(default)]
    pub selector: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub ports: Option<Vec<ServicePort>>,
}

/// `Service.spec.ports[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub port: i64,
    #[serde(default)]
    pub target_port: Option<IntOrString>,
}

/// `Ingress.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    #[serde(default)]
    pub default_backend: Option<IngressBackend>,
    #[serde(default)]
    pub rules: Option<Vec<IngressRule>>,
}

/// `Ingress.spec.rules[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IngressRule {
    #[serde(default)]
    pub http: Option<IngressHttp>,
}

/// `Ingress.spec.rules[].http`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IngressHttp {
    #[serde(default)]
    pub paths: Option<Vec<IngressPath>>,
}

/// `Ingress.spec.rules[].http.paths[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IngressPath {
    #[serde(default)]
    pub backend: IngressBackend,
}

/// An Ingress backend: only Service backends reach workloads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IngressBackend {
    #[serde(default)]
    pub service: Option<IngressServiceBackend>,
}

/// `backend.service`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IngressServiceBackend {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub port: Option<IngressServicePort>,
}

/// `backend.service.port`: a name or a number.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IngressServicePort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub number: Option<i64>,
}

/// `Route.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    #[serde(default)]
    pub to: RouteTarget,
    #[serde(default)]
    pub alternate_backends: Option<Vec<RouteTarget>>,
    #[serde(default)]
    pub port: Option<RoutePort>,
}

/// `Route.spec.to` and `alternateBackends[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RouteTarget {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

/// `Route.spec.port`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    #[serde(default)]
    pub target_port: Option<IntOrString>,
}

/// The port an Ingress or Route asks of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendPort {
    /// None given: every port of the Service.
    Any,
    /// A number.
    Number(i64),
    /// A name. `typed_name` is false for an Ingress's `port.name`: upstream builds that value
    /// without marking it as a string, so it never equals a Service's named `targetPort` (only
    /// the Service port's `name`), while a Route's named `targetPort` does.
    Name {
        /// The name.
        name: String,
        /// Whether it can equal a named `targetPort`.
        typed_name: bool,
    },
}

/// A Service with a selector.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The selector (every key must match).
    pub selector: BTreeMap<String, String>,
    /// Its ports.
    pub ports: Vec<ServicePort>,
}

/// A Service that an Ingress or Route sends traffic to.
#[derive(Debug, Clone)]
pub struct Backend {
    /// The namespace of the Ingress/Route (and so of the Service).
    pub namespace: String,
    /// The Service's name.
    pub service: String,
    /// The port asked for.
    pub port: BackendPort,
    /// `Ingress ns/name` or `Route ns/name`, for warnings.
    pub via: String,
}

/// The Services and the Ingress/Route backends of the manifests.
#[derive(Debug, Clone, Default)]
pub struct IngressInput {
    /// Services with a selector.
    pub services: Vec<Service>,
    /// Backends of every Ingress and Route.
    pub backends: Vec<Backend>,
}

impl IngressInput {
    /// Whether there is nothing for the ingress analysis.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() || self.backends.is_empty()
    }
}

fn int_or_string(value: &IntOrString) -> BackendPort {
    match value {
        IntOrString::Int(0) => BackendPort::Any,
        IntOrString::Int(n) => BackendPort::Number(*n),
        IntOrString::String(s) if s.is_empty() => BackendPort::Any,
        IntOrString::String(s) => BackendPort::Name {
            name: s.clone(),
            typed_name: true,
        },
    }
}

/// The backends of an Ingress; warnings for backends that are not Services.
pub(crate) fn ingress_backends(
    namespace: &str,
    name: &str,
    spec: &IngressSpec,
    warnings: &mut Vec<String>,
) -> Vec<Backend> {
    let via = format!("Ingress {namespace}/{name}");
    let mut out = Vec::new();
    let mut add = |backend: &IngressBackend, what: &str, warnings: &mut Vec<String>| {
        let Some(svc) = &backend.service else {
            warnings.push(format!("{via}: ignoring {what} without a Service"));
            return;
        };
        // Port name and number are exclusive; the name wins as upstream reads it.
        let port = match &svc.port {
            Some(IngressServicePort { name: Some(n), .. }) if !n.is_empty() => BackendPort::Name {
                name: n.clone(),
                typed_name: false,
            },
            Some(IngressServicePort {
                number: Some(n), ..
            }) if *n != 0 => BackendPort::Number(*n),
            _ => BackendPort::Any,
        };
        out.push(Backend {
            namespace: namespace.to_string(),
            service: svc.name.clone(),
            port,
            via: via.clone(),
        });
    };
    if let Some(b) = &spec.default_backend {
        add(b, "the default backend", warnings);
    }
    for rule in spec.rules.iter().flatten() {
        for path in rule.http.iter().flat_map(|h| h.paths.iter().flatten()) {
            add(&path.backend, "a rule backend", warnings);
        }
    }
    out
}

/// The backends of a Route; warnings for targets that are not Services.
pub(crate) fn route_backends(
    namespace: &str,
    name: &str,
    spec: &RouteSpec,
    warnings: &mut Vec<String>,
) -> Vec<Backend> {
    let via = format!("Route {namespace}/{name}");
    let port = spec
        .port
        .as_ref()
        .and_then(|p| p.target_port.as_ref())
        .map_or(BackendPort::Any, int_or_string);
    let mut out = Vec::new();
    for target in std::iter::once(&spec.to).chain(spec.alternate_backends.iter().flatten()) {
        if !target.kind.is_empty() && target.kind != "Service" {
            warnings.push(format!(
                "{via}: ignoring a target of kind {:?} (only Service is supported)",
                target.kind
            ));
            continue;
        }
        out.push(Backend {
            namespace: namespace.to_string(),
            service: target.name.clone(),
            port: port.clone(),
            via: via.clone(),
        });
    }
    out
}

fn selects(selector: &BTreeMap<String, String>, labels: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The pod ports a backend port reaches through a Service's ports.
fn pod_ports(ports: &[ServicePort], asked: &BackendPort) -> Vec<IntOrString> {
    let mut out = Vec::new();
    for p in ports {
        let target = p.target_port.as_ref().filter(|t| match t {
            IntOrString::Int(n) => *n != 0,
            IntOrString::String(s) => !s.is_empty(),
        });
        let matches = match asked {
            BackendPort::Any => true,
            BackendPort::Number(n) => {
                p.port == *n || matches!(target, Some(IntOrString::Int(t)) if t == n)
            }
            BackendPort::Name { name, typed_name } => {
                p.name.as_deref() == Some(name.as_str())
                    || (*typed_name && matches!(target, Some(IntOrString::String(t)) if t == name))
            }
        };
        if matches {
            // Without a targetPort the Service forwards to the same port number.
            out.push(target.cloned().unwrap_or(IntOrString::Int(p.port)));
            if *asked != BackendPort::Any {
                // The first matching Service port decides, as upstream stops there.
                break;
            }
        }
    }
    out
}

/// The TCP ports of `workload` that the given pod ports resolve to.
fn reachable(workload: &Workload, ports: &[IntOrString]) -> PortSet {
    let mut set = PortSet::empty();
    for port in ports {
        let number = match port {
            IntOrString::Int(n) => *n,
            IntOrString::String(name) => {
                match workload
                    .ports
                    .iter()
                    .find(|c| c.name.as_deref() == Some(name.as_str()))
                {
                    Some(c) if c.protocol == Protocol::Tcp => c.port,
                    // Ingress carries TCP only: a named UDP/SCTP port, or no such name, adds
                    // nothing.
                    _ => continue,
                }
            }
        };
        // Only ports a container declares are exposed; upstream counts every declared port
        // as TCP whatever its protocol.
        if !workload.ports.iter().any(|c| c.port == number) {
            continue;
        }
        if let Ok(n) = u16::try_from(number) {
            if n >= 1 {
                set = set.union(&PortSet::range(n, n));
            }
        }
    }
    set
}

/// The ingress controller as the analysis sees it: a pod without labels or ports in
/// `ingress-controller-ns`, as upstream places it.
pub fn controller() -> Workload {
    Workload {
        namespace: CONTROLLER_NAMESPACE.to_string(),
        name: INGRESS_CONTROLLER_NAME.to_string(),
        kind: "Pod".to_string(),
        labels: Labels::new(),
        ports: Vec::new(),
        origin: Origin {
            file: "<ingress controller>".into(),
            line: 0,
        },
    }
}

/// Adds the ingress controller to a cluster whose Ingresses or Routes have Services to reach
/// (with its namespace, labelled only with its name unless a manifest declares it), so that
/// the one analysis of the cluster also answers what the policies allow from it: every policy
/// (admin, namespaced, baseline) applies to it exactly as to a real pod.
pub(crate) fn add_controller(cluster: &mut Cluster) {
    if cluster.ingress.is_empty() {
        return;
    }
    cluster
        .namespaces
        .entry(CONTROLLER_NAMESPACE.to_string())
        .or_insert_with(|| {
            Labels::from([(
                NAMESPACE_NAME_LABEL.to_string(),
                CONTROLLER_NAMESPACE.to_string(),
            )])
        });
    cluster.ingress_controller = Some(controller());
}

/// The TCP ports that the Ingresses and Routes send to each workload (indices into
/// [`Cluster::workloads`], ascending), before any policy: non-empty sets only. The analysis
/// cuts them by what the policies allow from the controller.
pub(crate) fn requested_ports(cluster: &Cluster) -> Vec<(usize, PortSet)> {
    let input = &cluster.ingress;
    if input.is_empty() {
        return Vec::new();
    }
    let mut wanted: BTreeMap<usize, PortSet> = BTreeMap::new();
    for backend in &input.backends {
        let Some(svc) = input
            .services
            .iter()
            .find(|s| s.namespace == backend.namespace && s.name == backend.service)
        else {
            continue;
        };
        let ports = pod_ports(&svc.ports, &backend.port);
        for (i, w) in cluster.workloads.iter().enumerate() {
            if w.namespace != svc.namespace || !selects(&svc.selector, &w.labels) {
                continue;
            }
            let set = reachable(w, &ports);
            let entry = wanted.entry(i).or_insert_with(PortSet::empty);
            *entry = entry.union(&set);
        }
    }
    wanted.into_iter().filter(|(_, p)| !p.is_empty()).collect()
}

/// Parses a Service for the ingress analysis; `None` when it has no selector or selects no
/// workload (upstream ignores such Services).
pub(crate) fn service(namespace: &str, name: &str, spec: ServiceSpec) -> Option<Service> {
    Some(Service {
        namespace: namespace.to_string(),
        name: name.to_string(),
        selector: spec.selector?,
        ports: spec.ports.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::{analyze, load_str};

    fn controller_lines(yaml: &str) -> Vec<(String, String)> {
        let cluster = load_str("test.yaml", yaml).unwrap();
        let conn = analyze(&cluster).unwrap();
        conn.ingress_connections()
            .iter()
            .map(|(i, set)| (cluster.workloads[*i].key(), set.to_string()))
            .collect()
    }

    const PODS: &str = "
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: ns, labels: {app: web}}
spec:
  containers:
  - name: c
    ports:
    - {name: http, containerPort: 8080}
    - {name: dns, containerPort: 53, protocol: UDP}
    - {containerPort: 9090}
---
apiVersion: v1
kind: Pod
metadata: {name: other, namespace: ns, labels: {app: other}}
spec:
  containers:
  - {name: c, ports: [{containerPort: 8080}]}
";

    fn with(rest: &str) -> String {
        format!("{PODS}---\n{rest}")
    }

    #[test]
    fn a_route_without_a_port_reaches_every_target_port_the_pods_declare() {
        let yaml = with(
            "apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}, {port: 90, targetPort: 9090}, {port: 53, targetPort: dns}, {port: 7}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r, namespace: ns}
spec: {to: {kind: Service, name: svc}}
",
        );
        // `dns` is UDP (Ingress is TCP only); port 7 is not declared by any container.
        assert_eq!(
            controller_lines(&yaml),
            vec![("ns/web[Pod]".to_string(), "TCP 8080,9090".to_string())]
        );
    }

    #[test]
    fn an_ingress_port_picks_the_first_matching_service_port() {
        let yaml = with(
            "apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns}
spec:
  selector: {app: web}
  ports: [{name: web, port: 80, targetPort: 8080}, {name: metrics, port: 90, targetPort: 9090}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: i, namespace: ns}
spec:
  rules:
  - http:
      paths:
      - backend: {service: {name: svc, port: {number: 90}}}
",
        );
        assert_eq!(
            controller_lines(&yaml),
            vec![("ns/web[Pod]".to_string(), "TCP 9090".to_string())]
        );
    }

    #[test]
    fn the_controller_is_loaded_beside_the_workloads_and_answered_by_the_one_analysis() {
        let route = "apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r, namespace: ns}
spec: {to: {name: svc}}
";
        let cluster = load_str("test.yaml", &with(route)).unwrap();
        assert_eq!(
            cluster.ingress_controller.as_ref().map(|w| w.key()),
            Some("ingress-controller-ns/ingress-controller[Pod]".to_string())
        );
        assert!(cluster.namespaces.contains_key("ingress-controller-ns"));
        assert!(cluster
            .workloads
            .iter()
            .all(|w| w.name != "ingress-controller"));
        let conn = analyze(&cluster).unwrap();
        // No policy tells the pods apart: one class, the controller's too, which lists
        // nothing of its own.
        assert_eq!(conn.class_count(), 1);
        assert!(conn
            .connections()
            .all(|(s, d, _)| !s.to_string().contains("ingress-controller")
                && !d.to_string().contains("ingress-controller")));
        assert_eq!(conn.ingress_connections().len(), 1);
        // Without Ingresses or Routes there is no controller.
        let cluster = load_str("test.yaml", PODS).unwrap();
        assert!(cluster.ingress_controller.is_none());
        assert!(!cluster.namespaces.contains_key("ingress-controller-ns"));
    }

    #[test]
    fn the_controllers_named_port_error_counts_only_when_an_ingress_reaches_a_workload() {
        // A policy on the controller's namespace whose egress names a port towards addresses
        // only: upstream's fatal error, but only once the controller's connections are needed.
        let policy = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: ingress-controller-ns}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: http}]}]
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns}
spec: {selector: {app: SELECTOR}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r, namespace: ns}
spec: {to: {name: svc}}
";
        let reaching = load_str("test.yaml", &with(&policy.replace("SELECTOR", "web"))).unwrap();
        let err = analyze(&reaching).unwrap_err();
        assert!(err.to_string().contains("named port"), "{err}");
        let idle = load_str("test.yaml", &with(&policy.replace("SELECTOR", "none"))).unwrap();
        assert!(analyze(&idle).unwrap().ingress_connections().is_empty());
    }

    #[test]
    fn policies_cut_the_controller_and_other_namespaces_are_not_reached() {
        let yaml = with(
            "apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}, {port: 90, targetPort: 9090}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-9090, namespace: ns}
spec:
  podSelector: {}
  ingress: [{from: [{namespaceSelector: {}}], ports: [{port: 9090}]}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: elsewhere, namespace: other-ns}
spec: {to: {name: svc}}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r, namespace: ns}
spec: {to: {name: svc}}
",
        );
        assert_eq!(
            controller_lines(&yaml),
            vec![("ns/web[Pod]".to_string(), "TCP 9090".to_string())]
        );
        let denied = yaml.replace("namespaceSelector: {}", "podSelector: {}");
        assert!(controller_lines(&denied).is_empty());
    }
}
