//! The Team resource (`palisade.dev/v1alpha1`, `kind: Team`, cluster-scoped) as a platform
//! engineer writes it, read with palisade's YAML reader and validated one Team at a time: every
//! error names the file, the line and the key. What needs every Team and the platform (a namespace
//! claimed twice, the Pod Security floor, references to the platform) is checked by
//! [`crate::TeamSet::new`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use palisade_core::names::{is_dns_label, is_dns_subdomain, is_label_key};
use palisade_core::node::Value;
use palisade_core::object::typed_at;
use palisade_core::path::FieldPath;
use palisade_core::{yaml, InputError, Node, Object, SourceRef};
use palisade_diagnostics::Severity;
use palisade_netpol::intent::{parse_cidr, IpBlock, PortRange, RawPort};
use palisade_pss::{Level, Version};

pub const API_VERSION: &str = "palisade.dev/v1alpha1";
pub const KIND: &str = "Team";

/// A Team file that is invalid: the file, the key and its line.
pub type TeamError = InputError;

/// One validated Team.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// `metadata.name`: a DNS label, written into the `palisade.dev/team` label.
    pub name: String,
    /// The namespaces the team owns, in the order written.
    pub namespaces: Vec<String>,
    /// The RBAC subjects who run the team's workloads.
    pub owners: Vec<Owner>,
    /// The level the namespaces enforce (`None`: the platform's floor) and its version.
    pub level: Option<Level>,
    pub version: Version,
    pub ingress: Vec<Rule>,
    pub egress: Vec<Rule>,
    /// ResourceQuota `hard`: resource name to quantity, as written.
    pub quota: BTreeMap<String, String>,
    /// LimitRange defaults for containers that set none.
    pub limit_range: LimitDefaults,
    pub images: Option<Images>,
    /// Where the Team was read, for messages.
    pub source: Source,
}

/// Where a Team was read from: its file and its tree, so that later checks can name lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    pub file: Arc<str>,
    pub root: Node,
}

impl Source {
    pub fn line(&self, path: &FieldPath) -> u32 {
        self.root.line_of(path)
    }

    /// An error at `path`, prefixed with the key.
    pub fn error(&self, path: &FieldPath, message: impl fmt::Display) -> TeamError {
        InputError::at(
            self.file.clone(),
            self.line(path),
            format!("{path}: {message}"),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum OwnerKind {
    User,
    Group,
    ServiceAccount,
}

impl OwnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OwnerKind::User => "User",
            OwnerKind::Group => "Group",
            OwnerKind::ServiceAccount => "ServiceAccount",
        }
    }
}

/// An RBAC subject: `namespace` only (and always) for a ServiceAccount.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    pub kind: OwnerKind,
    pub name: String,
    pub namespace: Option<String>,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind.as_str(), self.name),
            None => write!(f, "{} {}", self.kind.as_str(), self.name),
        }
    }
}

/// What the platform runs for every team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    Gateway,
    Monitoring,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Gateway => "gateway",
            Component::Monitoring => "monitoring",
        }
    }
}

/// The other end of an ingress (`from`) or egress (`to`) rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Peer {
    Platform(Component),
    Team(String),
    Cidr(IpBlock),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Platform(c) => write!(f, "platform {}", c.as_str()),
            Peer::Team(t) => write!(f, "team {t}"),
            Peer::Cidr(b) => write!(f, "{b}"),
        }
    }
}

/// One `network.ingress` or `network.egress` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub peer: Peer,
    pub ports: Vec<PortRange>,
    /// Its key (`spec.network.ingress[1]`), for messages.
    pub at: FieldPath,
}

/// `limitRange`: container defaults, so that pods without requests are admitted under a quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitDefaults {
    /// Limits for containers that set none.
    pub default: BTreeMap<String, String>,
    /// Requests for containers that set none.
    pub default_request: BTreeMap<String, String>,
}

impl Default for LimitDefaults {
    fn default() -> Self {
        let map = |cpu: &str, memory: &str| {
            BTreeMap::from([
                ("cpu".to_owned(), cpu.to_owned()),
                ("memory".to_owned(), memory.to_owned()),
            ])
        };
        Self {
            default: map("1", "1Gi"),
            default_request: map("100m", "256Mi"),
        }
    }
}

/// `images`: the team's image rules (enforced by the webhook; carried here validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Registry or registry/path prefixes the team's images come from.
    pub registries: Vec<String>,
    /// cosign public keys (PEM), each checked with palisade-sign-core's parser.
    pub keys: Vec<String>,
    pub require_scan: Option<RequireScan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequireScan {
    pub max_severity: Severity,
    pub max_age: Duration,
}

/// Reads every Team of a YAML stream (one or more documents; empty documents are skipped).
pub fn parse_teams(file: Arc<str>, text: &str) -> Result<Vec<Team>, TeamError> {
    let mut teams = Vec::new();
    for document in yaml::documents(text) {
        let document = document.map_err(|e| InputError::from_yaml(file.clone(), e))?;
        let Some(root) = document.root else { continue };
        let source = SourceRef {
            file: file.clone(),
            document: document.index,
            line: root.line,
        };
        let object = Object::from_node(source, root)?;
        teams.push(Team::from_object(object)?);
    }
    Ok(teams)
}

impl Team {
    /// Validates one Team object.
    pub fn from_object(object: Object) -> Result<Team, TeamError> {
        let source = Source {
            file: object.source.file.clone(),
            root: object.node,
        };
        let root = FieldPath::root();
        if object.kind != KIND || object.api_version != API_VERSION {
            return Err(source.error(
                &root.clone().field("kind"),
                format!(
                    "expected a {API_VERSION} {KIND}, found a {} {}",
                    object.api_version, object.kind
                ),
            ));
        }
        if let Value::Mapping(entries) = &source.root.value {
            for (key, _) in entries {
                if !matches!(
                    key.as_str(),
                    "apiVersion" | "kind" | "metadata" | "spec" | "status"
                ) {
                    return Err(source.error(&root.clone().field(key), "unknown field"));
                }
            }
        }
        let name = object.metadata.name.clone();
        if !is_dns_label(&name) {
            return Err(source.error(
                &root.clone().field("metadata").field("name"),
                format!("{name:?} is not a valid team name (a lowercase DNS label)"),
            ));
        }
        if !object.metadata.namespace.is_empty() {
            return Err(source.error(
                &root.clone().field("metadata").field("namespace"),
                "a Team is cluster-scoped: remove metadata.namespace",
            ));
        }
        let spec_at = root.field("spec");
        let Some(spec_node) = source.root.get("spec") else {
            return Err(source.error(&spec_at, "missing: a Team needs a spec"));
        };
        let raw: RawSpec = typed_at(&source.file, spec_node, &spec_at, &source.root)?;
        Validator {
            source: &source,
            spec: spec_at,
        }
        .validate(name, raw, source.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// The spec as written.

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawSpec {
    namespaces: Vec<String>,
    #[serde(default)]
    owners: Vec<RawOwner>,
    #[serde(default)]
    pod_security: Option<RawPodSecurity>,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    quota: BTreeMap<String, Quantity>,
    #[serde(default)]
    limit_range: Option<RawLimitRange>,
    #[serde(default)]
    images: Option<RawImages>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawOwner {
    kind: OwnerKind,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPodSecurity {
    level: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawNetwork {
    #[serde(default)]
    ingress: Vec<RawIngress>,
    #[serde(default)]
    egress: Vec<RawEgress>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawIngress {
    from: RawPeer,
    #[serde(default)]
    ports: Vec<RawPort>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawEgress {
    to: RawPeer,
    #[serde(default)]
    ports: Vec<RawPort>,
}

/// Exactly one of `platform`, `team`, `cidr` (with `except`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPeer {
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    cidr: Option<String>,
    #[serde(default)]
    except: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawLimitRange {
    #[serde(default)]
    default: BTreeMap<String, Quantity>,
    #[serde(default)]
    default_request: BTreeMap<String, Quantity>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawImages {
    #[serde(default)]
    registries: Vec<String>,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    require_scan: Option<RawRequireScan>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawRequireScan {
    #[serde(default = "default_max_severity")]
    max_severity: String,
    #[serde(default = "default_max_age")]
    max_age: String,
}

fn default_max_severity() -> String {
    "high".into()
}

fn default_max_age() -> String {
    "7d".into()
}

/// A Kubernetes quantity, written as a number (`pods: 100`) or text (`64Gi`).
#[derive(Debug)]
struct Quantity(String);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity such as 16, 500m or 64Gi")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Validation of one Team.

struct Validator<'a> {
    source: &'a Source,
    spec: FieldPath,
}

impl Validator<'_> {
    fn at(&self, key: &str) -> FieldPath {
        self.spec.clone().field(key)
    }

    fn error(&self, path: &FieldPath, message: impl fmt::Display) -> TeamError {
        self.source.error(path, message)
    }

    fn validate(&self, name: String, raw: RawSpec, source: Source) -> Result<Team, TeamError> {
        if raw.namespaces.is_empty() {
            return Err(self.error(&self.at("namespaces"), "list at least one namespace"));
        }
        for (i, ns) in raw.namespaces.iter().enumerate() {
            let at = self.at("namespaces").index(i);
            if !is_dns_label(ns) {
                return Err(self.error(&at, format!("{ns:?} is not a valid namespace name")));
            }
            if ns == "default" || ns.starts_with("kube-") {
                return Err(self.error(&at, format!("{ns} belongs to the cluster, not to a team")));
            }
            if raw.namespaces[..i].contains(ns) {
                return Err(self.error(&at, format!("{ns} is listed twice")));
            }
        }
        let mut owners = Vec::new();
        for (i, o) in raw.owners.into_iter().enumerate() {
            owners.push(self.owner(&self.at("owners").index(i), o)?);
        }
        let (level, version) = match raw.pod_security {
            None => (None, Version::Latest),
            Some(ps) => {
                let at = self.at("podSecurity");
                let level = ps
                    .level
                    .parse::<Level>()
                    .map_err(|e| self.error(&at.clone().field("level"), e))?;
                let version = match &ps.version {
                    None => Version::Latest,
                    Some(v) => v
                        .parse::<Version>()
                        .map_err(|e| self.error(&at.clone().field("version"), e))?,
                };
                (Some(level), version)
            }
        };
        let network = self.at("network");
        let mut ingress = Vec::new();
        for (i, r) in raw.network.ingress.into_iter().enumerate() {
            let at = network.clone().field("ingress").index(i);
            ingress.push(self.rule(&name, at, "from", r.from, &r.ports)?);
        }
        let mut egress = Vec::new();
        for (i, r) in raw.network.egress.into_iter().enumerate() {
            let at = network.clone().field("egress").index(i);
            egress.push(self.rule(&name, at, "to", r.to, &r.ports)?);
        }
        let quota = self.quantities(&self.at("quota"), raw.quota)?;
        let limit_range = match raw.limit_range {
            None => LimitDefaults::default(),
            Some(lr) => {
                let at = self.at("limitRange");
                LimitDefaults {
                    default: self.quantities(&at.clone().field("default"), lr.default)?,
                    default_request: self
                        .quantities(&at.field("defaultRequest"), lr.default_request)?,
                }
            }
        };
        let images = raw.images.map(|i| self.images(i)).transpose()?;
        Ok(Team {
            name,
            namespaces: raw.namespaces,
            owners,
            level,
            version,
            ingress,
            egress,
            quota,
            limit_range,
            images,
            source,
        })
    }

    fn owner(&self, at: &FieldPath, o: RawOwner) -> Result<Owner, TeamError> {
        if o.name.trim().is_empty() {
            return Err(self.error(&at.clone().field("name"), "must name the subject"));
        }
        match (o.kind, &o.namespace) {
            (OwnerKind::ServiceAccount, None) => {
                return Err(self.error(
                    &at.clone().field("namespace"),
                    "a ServiceAccount owner needs its namespace",
                ))
            }
            (OwnerKind::ServiceAccount, Some(ns)) => {
                if !is_dns_label(ns) {
                    return Err(self.error(
                        &at.clone().field("namespace"),
                        format!("{ns:?} is not a valid namespace name"),
                    ));
                }
                if !is_dns_subdomain(&o.name) {
                    return Err(self.error(
                        &at.clone().field("name"),
                        format!("{:?} is not a valid service account name", o.name),
                    ));
                }
            }
            (_, Some(_)) => {
                return Err(self.error(
                    &at.clone().field("namespace"),
                    "only a ServiceAccount owner has a namespace",
                ))
            }
            (_, None) => {}
        }
        Ok(Owner {
            kind: o.kind,
            name: o.name,
            namespace: o.namespace,
        })
    }

    fn rule(
        &self,
        team: &str,
        at: FieldPath,
        side: &str,
        peer: RawPeer,
        ports: &[RawPort],
    ) -> Result<Rule, TeamError> {
        let peer_at = at.clone().field(side);
        let peer = match (peer.platform, peer.team, peer.cidr) {
            (Some(p), None, None) if peer.except.is_empty() => match p.as_str() {
                "gateway" => Peer::Platform(Component::Gateway),
                "monitoring" => Peer::Platform(Component::Monitoring),
                "dns" => {
                    return Err(self.error(
                        &peer_at.field("platform"),
                        "every pod reaches the cluster DNS already: remove this rule",
                    ))
                }
                other => {
                    return Err(self.error(
                        &peer_at.field("platform"),
                        format!("{other:?} is not a platform component (gateway or monitoring)"),
                    ))
                }
            },
            (None, Some(t), None) if peer.except.is_empty() => {
                if !is_dns_label(&t) {
                    return Err(self.error(
                        &peer_at.field("team"),
                        format!("{t:?} is not a valid team name"),
                    ));
                }
                if t == team {
                    return Err(self.error(
                        &peer_at.field("team"),
                        "a team's own pods reach each other already: remove this rule",
                    ));
                }
                Peer::Team(t)
            }
            (None, None, Some(cidr)) => {
                let outer =
                    parse_cidr(&cidr).map_err(|e| self.error(&peer_at.clone().field("cidr"), e))?;
                if outer.1 == 0 {
                    return Err(self.error(
                        &peer_at.field("cidr"),
                        format!("{cidr} is the whole internet: teams name the ranges they need"),
                    ));
                }
                for (i, e) in peer.except.iter().enumerate() {
                    let at = peer_at.clone().field("except").index(i);
                    let inner = parse_cidr(e).map_err(|m| self.error(&at, m))?;
                    let inside = inner.0.is_ipv4() == outer.0.is_ipv4()
                        && inner.1 >= outer.1
                        && palisade_netpol::ipblock::network(inner.0, outer.1) == outer.0;
                    if !inside {
                        return Err(self.error(&at, format!("{e} is not inside {cidr}")));
                    }
                }
                Peer::Cidr(IpBlock {
                    cidr,
                    except: peer.except,
                })
            }
            _ => {
                return Err(self.error(
                    &peer_at,
                    "name exactly one of platform, team or cidr (except only with cidr)",
                ))
            }
        };
        if ports.is_empty() {
            return Err(self.error(
                &at.field("ports"),
                "list the ports (8080, 8080/TCP, 53/UDP, 30000-32767/TCP)",
            ));
        }
        let mut out = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            let at = at.clone().field("ports").index(i);
            let range = p.range().map_err(|e| self.error(&at, e))?;
            out.push(range);
        }
        out.sort();
        out.dedup();
        Ok(Rule {
            peer,
            ports: out,
            at,
        })
    }

    fn quantities(
        &self,
        at: &FieldPath,
        raw: BTreeMap<String, Quantity>,
    ) -> Result<BTreeMap<String, String>, TeamError> {
        let mut out = BTreeMap::new();
        for (resource, Quantity(q)) in raw {
            let at = at.clone().key(&resource);
            if !is_label_key(&resource) || resource.is_empty() {
                return Err(self.error(&at, format!("{resource:?} is not a resource name")));
            }
            if !is_quantity(&q) {
                return Err(self.error(
                    &at,
                    format!("{q:?} is not a quantity (16, 500m, 64Gi, 1e3)"),
                ));
            }
            out.insert(resource, q);
        }
        Ok(out)
    }

    fn images(&self, raw: RawImages) -> Result<Images, TeamError> {
        let at = self.at("images");
        for (i, r) in raw.registries.iter().enumerate() {
            if r.trim().is_empty() || r.contains(char::is_whitespace) {
                return Err(self.error(
                    &at.clone().field("registries").index(i),
                    format!("{r:?} is not a registry or registry/path prefix"),
                ));
            }
        }
        for (i, pem) in raw.keys.iter().enumerate() {
            // The verifier's own parser: a key accepted here is one the webhook can use.
            palisade_sign_core::keys::public_key(pem).map_err(|e| {
                self.error(
                    &at.clone().field("keys").index(i),
                    format!("not an ECDSA P-256 public key (cosign.pub PEM): {}", e.0),
                )
            })?;
        }
        let require_scan = match raw.require_scan {
            None => None,
            Some(scan) => {
                let at = at.clone().field("requireScan");
                let max_severity = palisade_policy::config::severity_word(&scan.max_severity)
                    .ok_or_else(|| {
                        self.error(
                            &at.clone().field("maxSeverity"),
                            format!(
                                "{:?} is not one of unknown, low, medium, high, critical",
                                scan.max_severity
                            ),
                        )
                    })?;
                let max_age = palisade_core::duration::parse_duration(&scan.max_age)
                    .map_err(|e| self.error(&at.field("maxAge"), e))?;
                Some(RequireScan {
                    max_severity,
                    max_age,
                })
            }
        };
        Ok(Images {
            registries: raw.registries,
            keys: raw.keys,
            require_scan,
        })
    }
}

/// A Kubernetes quantity: a signed decimal number with an optional binary (`Ki` ... `Ei`),
/// decimal (`n`, `u`, `m`, `k`, `M` ... `E`) or exponent (`e3`) suffix.
fn is_quantity(q: &str) -> bool {
    let body = q.strip_prefix(['+', '-']).unwrap_or(q);
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits_end);
    let valid_number = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit());
    let valid_suffix = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
    valid_number && valid_suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const FRAUD: &str = "\
apiVersion: palisade.dev/v1alpha1
kind: Team
metadata:
  name: fraud
spec:
  namespaces: [fraud, fraud-batch]
  owners:
    - {kind: Group, name: fraud-ds}
    - {kind: ServiceAccount, name: deployer, namespace: ci}
  podSecurity: {level: restricted, version: v1.33}
  network:
    ingress:
      - {from: {platform: gateway}, ports: [8080]}
      - {from: {team: recsys}, ports: [8080]}
    egress:
      - {to: {team: shared-cache}, ports: [6379]}
      - {to: {cidr: 10.20.0.0/16}, ports: [443]}
  quota: {requests.cpu: \"16\", requests.memory: 64Gi, requests.nvidia.com/gpu: \"2\", pods: 100}
  images:
    registries: [registry.example.com/fraud/]
    requireScan: {maxSeverity: high, maxAge: 7d}
";

    fn parse(text: &str) -> Result<Vec<Team>, TeamError> {
        parse_teams(Arc::from("fraud.yaml"), text)
    }

    fn err(text: &str) -> TeamError {
        parse(text).unwrap_err()
    }

    #[test]
    fn reads_a_team() {
        let teams = parse(FRAUD).unwrap();
        assert_eq!(teams.len(), 1);
        let t = &teams[0];
        assert_eq!(t.name, "fraud");
        assert_eq!(t.namespaces, vec!["fraud", "fraud-batch"]);
        assert_eq!(t.level, Some(Level::Restricted));
        assert_eq!(t.version, Version::Minor(33));
        assert_eq!(t.owners[1].namespace.as_deref(), Some("ci"));
        assert_eq!(t.ingress[1].peer, Peer::Team("recsys".into()));
        assert_eq!(t.ingress[1].at.to_string(), "spec.network.ingress[1]");
        assert_eq!(t.quota["pods"], "100");
        assert_eq!(t.quota["requests.nvidia.com/gpu"], "2");
        assert_eq!(t.limit_range, LimitDefaults::default());
        let scan = t.images.as_ref().unwrap().require_scan.unwrap();
        assert_eq!(scan.max_severity, Severity::High);
        assert_eq!(scan.max_age, Duration::from_secs(7 * 86400));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases: &[(&str, &str, u32, &str)] = &[
            (
                "namespaces: [fraud, fraud-batch]",
                "namespaces: [fraud, Fraud]",
                6,
                "spec.namespaces[1]: \"Fraud\" is not a valid namespace name",
            ),
            (
                "namespaces: [fraud, fraud-batch]",
                "namespaces: [fraud, kube-system]",
                6,
                "spec.namespaces[1]: kube-system belongs to the cluster",
            ),
            (
                "  podSecurity:",
                "  podSecurty:",
                10,
                "spec.podSecurty: unknown field `podSecurty`",
            ),
            (
                "level: restricted",
                "level: strict",
                10,
                "spec.podSecurity.level: invalid level \"strict\"",
            ),
            (
                "{platform: gateway}",
                "{platform: ingress}",
                13,
                "spec.network.ingress[0].from.platform: \"ingress\" is not a platform component",
            ),
            (
                "{team: recsys}, ports: [8080]",
                "{team: recsys}, ports: [80800]",
                14,
                "spec.network.ingress[1].ports[0]: 80800 is not a port",
            ),
            (
                "{team: recsys}, ports: [8080]",
                "{team: recsys}",
                14,
                "spec.network.ingress[1].ports: list the ports",
            ),
            (
                "{team: shared-cache}",
                "{team: shared-cache, cidr: 10.0.0.0/8}",
                16,
                "spec.network.egress[0].to: name exactly one",
            ),
            (
                "10.20.0.0/16",
                "0.0.0.0/0",
                17,
                "spec.network.egress[1].to.cidr: 0.0.0.0/0 is the whole internet",
            ),
            (
                "10.20.0.0/16",
                "10.20.0.1/16",
                17,
                "spec.network.egress[1].to.cidr: \"10.20.0.1/16\" has host bits set",
            ),
            (
                "requests.memory: 64Gi",
                "requests.memory: 64GB",
                18,
                "spec.quota[requests.memory]: \"64GB\" is not a quantity",
            ),
            (
                "maxSeverity: high",
                "maxSeverity: severe",
                21,
                "spec.images.requireScan.maxSeverity: \"severe\" is not one of",
            ),
            (
                "maxAge: 7d",
                "maxAge: 7 days",
                21,
                "spec.images.requireScan.maxAge:",
            ),
            (
                "{kind: Group, name: fraud-ds}",
                "{kind: Team, name: fraud-ds}",
                8,
                "spec.owners[0].kind: unknown variant `Team`",
            ),
            (
                "name: deployer, namespace: ci",
                "name: deployer",
                9,
                "spec.owners[1].namespace: a ServiceAccount owner needs its namespace",
            ),
            (
                "name: fraud\n",
                "name: Fraud\n",
                4,
                "metadata.name: \"Fraud\" is not a valid team name",
            ),
        ];
        for (from, to, line, message) in cases {
            assert!(FRAUD.contains(from), "{from}");
            let e = err(&FRAUD.replacen(from, to, 1));
            assert_eq!(&*e.file, "fraud.yaml");
            assert_eq!(e.line, Some(*line), "{to}: {e}");
            assert!(e.message.starts_with(message), "{to}: {e}");
        }
        let e = err(&FRAUD.replace("kind: Team", "kind: Tenant"));
        assert!(
            e.message.contains("expected a palisade.dev/v1alpha1 Team"),
            "{e}"
        );
        let e = err(&format!("{FRAUD}specs: {{}}\n"));
        assert_eq!(e.line, Some(22), "{e}");
        assert!(e.message.starts_with("specs: unknown field"), "{e}");
        let e = err(&FRAUD.replace(
            "    registries: [registry.example.com/fraud/]\n",
            "    registries: [registry.example.com/fraud/]\n    keys: [\"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"]\n",
        ));
        assert_eq!(e.line, Some(21), "{e}");
        assert!(
            e.message
                .starts_with("spec.images.keys[0]: not an ECDSA P-256 public key"),
            "{e}"
        );
    }

    #[test]
    fn several_teams_in_one_stream() {
        let two = format!(
            "{FRAUD}---\n{}",
            FRAUD.replace("name: fraud\n", "name: fraud2\n")
        );
        let teams = parse(&two).unwrap();
        assert_eq!(teams[1].name, "fraud2");
        assert_eq!(teams[1].source.root.line, 23);
    }

    #[test]
    fn quantities() {
        for ok in ["16", "500m", "64Gi", "1.5", "1e3", "+2", ".5", "2E-3"] {
            assert!(is_quantity(ok), "{ok}");
        }
        for bad in ["", "64GB", "1..5", "Gi", "1e", "one", "."] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
