//! Every object the platform manages for a set of teams, the same bytes on every run: per team
//! namespace a Namespace (the team label and the Pod Security labels), a ResourceQuota (when the
//! Team sets a quota), a LimitRange, the owners' Role and RoleBinding, and the NetworkPolicies
//! that palisade-netpol's generator writes from the teams' intent ([`crate::network`]).
//!
//! Objects are ordered by kind (Namespace, ResourceQuota, LimitRange, Role, RoleBinding,
//! NetworkPolicy), then namespace, then name; keys are written in a fixed order. Every object is
//! labelled `app.kubernetes.io/managed-by: palisade` and `palisade.dev/team: TEAM`.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use palisade_netpol::generate::{generate_in, yaml_document, MANAGED_BY};
use palisade_netpol::mesh::{Mesh, MeshScope};

use crate::network;
use crate::rbac::owner_rules;
use crate::set::TeamSet;
use crate::spec::{OwnerKind, Team};

/// The label naming a managed object's team (and a namespace's owner).
pub const TEAM_LABEL: &str = "palisade.dev/team";
/// The owners' Role and RoleBinding.
pub const OWNER_ROLE: &str = "palisade-team-owner";
pub const QUOTA: &str = "palisade-quota";
pub const LIMIT_RANGE: &str = "palisade-defaults";
/// The Pod Security Admission label prefix.
pub const PSA: &str = "pod-security.kubernetes.io";

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// The kinds render writes, in output order.
pub const KIND_ORDER: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
];

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub team: String,
    pub kind: String,
    /// Empty for a Namespace.
    pub namespace: String,
    pub name: String,
    pub value: Value,
}

/// Every object for the teams of `set`, sorted.
pub fn render(set: &TeamSet) -> Vec<Rendered> {
    render_with(set, &[])
}

/// As [`render`], with each mesh's policies (`team render --mesh`): mTLS required in every team
/// namespace, and every connection the NetworkPolicies allow from another team or the platform
/// allowed by caller identity too (any service account of the calling namespace).
pub fn render_with(set: &TeamSet, meshes: &[Mesh]) -> Vec<Rendered> {
    let mut out = Vec::new();
    for team in &set.teams {
        for ns in &team.namespaces {
            out.extend(namespace_objects(set, team, ns));
        }
    }
    let intent = network::intent(set);
    for m in generate_in(&intent, meshes, MeshScope::EveryService) {
        let team = set
            .owner_of(&m.namespace)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let mut value = m.value;
        if let Some(labels) = value["metadata"]["labels"].as_object_mut() {
            labels.insert(TEAM_LABEL.into(), json!(team));
        }
        out.push(Rendered {
            team,
            kind: m.kind,
            namespace: m.namespace,
            name: m.name,
            value,
        });
    }
    out.sort_by(|a, b| {
        (kind_rank(&a.kind), &a.kind, &a.namespace, &a.name).cmp(&(
            kind_rank(&b.kind),
            &b.kind,
            &b.namespace,
            &b.name,
        ))
    });
    out
}

fn kind_rank(kind: &str) -> usize {
    KIND_ORDER
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KIND_ORDER.len())
}

fn object(
    team: &Team,
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    labels: Map<String, Value>,
    body: Vec<(&str, Value)>,
) -> Rendered {
    let mut all = Map::new();
    all.insert(MANAGED_BY.0.into(), json!(MANAGED_BY.1));
    all.insert(TEAM_LABEL.into(), json!(team.name));
    all.extend(labels);
    let mut metadata = Map::new();
    metadata.insert("name".into(), json!(name));
    if !namespace.is_empty() {
        metadata.insert("namespace".into(), json!(namespace));
    }
    metadata.insert("labels".into(), Value::Object(all));
    let mut value = Map::new();
    value.insert("apiVersion".into(), json!(api_version));
    value.insert("kind".into(), json!(kind));
    value.insert("metadata".into(), Value::Object(metadata));
    for (key, v) in body {
        value.insert(key.into(), v);
    }
    Rendered {
        team: team.name.clone(),
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
        value: Value::Object(value),
    }
}

/// The Namespace, quota, limits and RBAC of one team namespace.
fn namespace_objects(set: &TeamSet, team: &Team, ns: &str) -> Vec<Rendered> {
    let level = set.level(team).as_str();
    let version = team.version.to_string();
    let mut psa = Map::new();
    for mode in ["enforce", "audit", "warn"] {
        psa.insert(format!("{PSA}/{mode}"), json!(level));
        psa.insert(format!("{PSA}/{mode}-version"), json!(version));
    }
    let mut out = vec![object(team, "v1", "Namespace", "", ns, psa, Vec::new())];
    if !team.quota.is_empty() {
        out.push(object(
            team,
            "v1",
            "ResourceQuota",
            ns,
            QUOTA,
            Map::new(),
            vec![("spec", json!({"hard": team.quota}))],
        ));
    }
    let mut limits = Map::new();
    limits.insert("type".into(), json!("Container"));
    if !team.limit_range.default.is_empty() {
        limits.insert("default".into(), json!(team.limit_range.default));
    }
    if !team.limit_range.default_request.is_empty() {
        limits.insert(
            "defaultRequest".into(),
            json!(team.limit_range.default_request),
        );
    }
    out.push(object(
        team,
        "v1",
        "LimitRange",
        ns,
        LIMIT_RANGE,
        Map::new(),
        vec![("spec", json!({"limits": [limits]}))],
    ));
    out.push(object(
        team,
        &format!("{RBAC_GROUP}/v1"),
        "Role",
        ns,
        OWNER_ROLE,
        Map::new(),
        vec![("rules", owner_rules())],
    ));
    if !team.owners.is_empty() {
        let subjects: Vec<Value> = team
            .owners
            .iter()
            .map(|o| match o.kind {
                OwnerKind::ServiceAccount => json!({
                    "kind": "ServiceAccount",
                    "name": o.name,
                    "namespace": o.namespace,
                }),
                kind => json!({"kind": kind.as_str(), "apiGroup": RBAC_GROUP, "name": o.name}),
            })
            .collect();
        out.push(object(
            team,
            &format!("{RBAC_GROUP}/v1"),
            "RoleBinding",
            ns,
            OWNER_ROLE,
            Map::new(),
            vec![
                (
                    "roleRef",
                    json!({"apiGroup": RBAC_GROUP, "kind": "Role", "name": OWNER_ROLE}),
                ),
                ("subjects", Value::Array(subjects)),
            ],
        ));
    }
    out
}

/// Multi-document YAML after a header comment.
pub fn to_yaml<'a>(objects: impl IntoIterator<Item = &'a Rendered>) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_yaml(objects, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// What [`to_yaml`] returns, written to `out` one object at a time: a platform's render (tens of
/// megabytes for thousands of teams) is never held twice.
pub fn write_yaml<'a>(
    objects: impl IntoIterator<Item = &'a Rendered>,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    out.write_all(HEADER.as_bytes())?;
    for o in objects {
        out.write_all(yaml_document(&o.value).as_bytes())?;
    }
    Ok(())
}

const HEADER: &str = "# Generated by palisade team render.\n# Do not edit: change the Team or the platform configuration and render again.\n";

/// The objects grouped per team, in render order within each (`--out DIR`: one file per team).
pub fn by_team(objects: &[Rendered]) -> BTreeMap<&str, Vec<&Rendered>> {
    let mut out: BTreeMap<&str, Vec<&Rendered>> = BTreeMap::new();
    for o in objects {
        out.entry(o.team.as_str()).or_default().push(o);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::tests::{platform, team};

    fn set() -> TeamSet {
        let fraud = team(
            "fraud",
            "[fraud, fraud-batch]",
            "[{from: {platform: gateway}, ports: [8080]}, {from: {team: recsys}, ports: [8080]}]",
            "[{to: {cidr: 10.20.0.0/16}, ports: [443]}]",
        );
        let recsys = team(
            "recsys",
            "[recsys]",
            "[]",
            "[{to: {team: fraud}, ports: [8080]}]",
        );
        TeamSet::new(&platform(), vec![recsys, fraud]).unwrap()
    }

    fn find<'a>(objects: &'a [Rendered], kind: &str, ns: &str, name: &str) -> &'a Value {
        &objects
            .iter()
            .find(|o| o.kind == kind && o.namespace == ns && o.name == name)
            .unwrap_or_else(|| panic!("no {kind} {ns}/{name}"))
            .value
    }

    #[test]
    fn a_mesh_requires_mtls_and_lets_in_by_namespace_identity() {
        let objects = render_with(&set(), &[Mesh::Istio, Mesh::Linkerd]);
        // Without a mesh, none of this is written.
        assert!(render(&set())
            .iter()
            .all(|o| o.kind != "PeerAuthentication"));
        let peer = find(&objects, "PeerAuthentication", "fraud", "fraud");
        assert_eq!(peer["spec"]["mtls"]["mode"], "STRICT");
        let rules = &find(&objects, "AuthorizationPolicy", "fraud", "fraud")["spec"]["rules"];
        // The team's own namespaces, on every port: no `to`, which Istio reads as any request.
        assert_eq!(
            rules[0],
            json!({"from": [{"source": {"principals": ["cluster.local/ns/fraud/sa/*", "cluster.local/ns/fraud-batch/sa/*"]}}]})
        );
        // recsys, which both teams declared, on 8080 only.
        assert!(rules.as_array().unwrap().iter().any(|r| r
            == &json!({"from": [{"source": {"principals": ["cluster.local/ns/recsys/sa/*"]}}], "to": [{"operation": {"ports": ["8080"]}}]})));
        // Linkerd: a Server on 8080 denies by default, so the team itself is authorised on it
        // beside recsys, each by every service account of the namespaces.
        let servers: Vec<&Rendered> = objects
            .iter()
            .filter(|o| o.kind == "Server" && o.namespace == "fraud")
            .collect();
        assert!(!servers.is_empty());
        let policies_on = |port: u16| {
            objects
                .iter()
                .filter(|o| {
                    o.kind == "AuthorizationPolicy"
                        && o.namespace == "fraud"
                        && o.value["spec"]["targetRef"]["name"] == format!("fraud-{port}")
                })
                .count()
        };
        assert!(policies_on(8080) >= 2, "{}", policies_on(8080));
        let own = find(
            &objects,
            "MeshTLSAuthentication",
            "fraud",
            "fraud-accepts-0",
        );
        assert_eq!(
            own["spec"]["identityRefs"],
            json!([{"kind": "ServiceAccount", "namespace": "fraud"}, {"kind": "ServiceAccount", "namespace": "fraud-batch"}])
        );
        for o in &objects {
            assert_eq!(
                o.value["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "palisade"
            );
        }
    }

    #[test]
    fn rendering_is_deterministic_and_sorted() {
        let a = render(&set());
        let b = render(&set());
        assert_eq!(to_yaml(&a), to_yaml(&b));
        let order: Vec<String> = a
            .iter()
            .map(|o| format!("{} {}/{}", o.kind, o.namespace, o.name))
            .collect();
        let mut sorted = a.clone();
        sorted.sort_by_key(|o| (kind_rank(&o.kind), o.namespace.clone(), o.name.clone()));
        assert_eq!(a, sorted);
        assert_eq!(order[3], "LimitRange fraud/palisade-defaults");
        assert_eq!(order[4], "LimitRange fraud-batch/palisade-defaults");
        assert_eq!(order[0], "Namespace /fraud");
        assert!(order.contains(&"NetworkPolicy fraud-batch/default-deny".to_owned()));
        for o in &a {
            let labels = &o.value["metadata"]["labels"];
            assert_eq!(labels[MANAGED_BY.0], MANAGED_BY.1, "{o:?}");
            assert_eq!(labels[TEAM_LABEL], json!(o.team), "{o:?}");
        }
        // The input order of the teams does not matter.
        let fraud = team(
            "fraud",
            "[fraud, fraud-batch]",
            "[{from: {platform: gateway}, ports: [8080]}, {from: {team: recsys}, ports: [8080]}]",
            "[{to: {cidr: 10.20.0.0/16}, ports: [443]}]",
        );
        let recsys = team(
            "recsys",
            "[recsys]",
            "[]",
            "[{to: {team: fraud}, ports: [8080]}]",
        );
        let swapped = TeamSet::new(&platform(), vec![fraud, recsys]).unwrap();
        assert_eq!(to_yaml(&render(&swapped)), to_yaml(&a));
    }

    #[test]
    fn namespaces_carry_team_and_pod_security_labels() {
        let objects = render(&set());
        let ns = find(&objects, "Namespace", "", "recsys");
        let labels = &ns["metadata"]["labels"];
        assert_eq!(labels["palisade.dev/team"], "recsys");
        for mode in ["enforce", "audit", "warn"] {
            assert_eq!(labels[format!("{PSA}/{mode}")], "restricted");
            assert_eq!(labels[format!("{PSA}/{mode}-version")], "latest");
        }
        assert!(ns.get("spec").is_none());
    }

    #[test]
    fn network_policies_allow_only_what_both_sides_declared() {
        let objects = render(&set());
        let fraud = &find(&objects, "NetworkPolicy", "fraud", "allow-fraud")["spec"];
        assert_eq!(fraud["podSelector"], json!({}));
        let ingress = fraud["ingress"].as_array().unwrap();
        // Its own team on every port, recsys on 8080, the gateway on 8080, monitoring on 9090.
        assert_eq!(
            ingress[0],
            json!({"from": [{"podSelector": {}}, {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "fraud-batch"}}, "podSelector": {}}]})
        );
        assert_eq!(
            ingress[1]["from"][0]["namespaceSelector"]["matchLabels"]
                ["kubernetes.io/metadata.name"],
            "recsys"
        );
        assert_eq!(
            ingress[1]["ports"],
            json!([{"protocol": "TCP", "port": 8080}])
        );
        assert_eq!(
            ingress[2]["from"][0]["podSelector"]["matchLabels"]["app"],
            "gateway"
        );
        assert_eq!(
            ingress[3]["ports"],
            json!([{"protocol": "TCP", "port": 9090}])
        );
        assert_eq!(ingress.len(), 4);
        let egress = fraud["egress"].as_array().unwrap();
        assert_eq!(
            egress.last().unwrap(),
            &json!({"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 443}]})
        );
        let recsys = &find(&objects, "NetworkPolicy", "recsys", "allow-recsys")["spec"];
        let reaches: Vec<&Value> = recsys["egress"].as_array().unwrap().iter().collect();
        assert_eq!(reaches.len(), 3, "{reaches:?}"); // itself, fraud, fraud-batch
        assert_eq!(
            reaches[1]["ports"],
            json!([{"protocol": "TCP", "port": 8080}])
        );
        let deny = &find(&objects, "NetworkPolicy", "recsys", "default-deny")["spec"];
        assert_eq!(
            deny,
            &json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})
        );
    }

    #[test]
    fn owners_get_the_owner_role_and_quota_and_limits_are_written() {
        let objects = render(&set());
        let binding = find(&objects, "RoleBinding", "fraud", OWNER_ROLE);
        assert_eq!(binding["roleRef"]["kind"], "Role");
        assert_eq!(
            binding["subjects"],
            json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "fraud-ds"}])
        );
        let limits = &find(&objects, "LimitRange", "fraud", LIMIT_RANGE)["spec"]["limits"][0];
        assert_eq!(limits["defaultRequest"]["cpu"], "100m");
        assert!(objects.iter().all(|o| o.kind != "ResourceQuota"));
        let yaml = to_yaml(&objects);
        assert!(yaml.contains("\n  name: palisade-team-owner\n"), "{yaml}");
        assert!(!yaml.contains("\"*\""));
    }
}
