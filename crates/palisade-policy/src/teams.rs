//! Teams at admission: which namespaces belong to which team, each team's image rules, and the
//! guard that keeps anyone but palisade's controller and the platform's administrators from
//! undoing the guardrails palisade manages for a team.
//!
//! The guard closes the classes of bypass that multi-tenancy operators have shipped (Capsule's
//! CVE-2022-46167, CVE-2024-39690, CVE-2025-55205): changing a team namespace's labels, labelling
//! some other namespace into a team, creating a namespace a team claims before the controller
//! does, making an object look managed (the `managed-by` label, an owner reference to a Team) so
//! that the controller or the guard treat it as palisade's, and editing or deleting the managed
//! objects themselves. The Team objects come from palisade-team (files, or the cluster through the
//! webhook's watch); this module only sees the index built from them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use palisade_core::node::{Node, Value};
use palisade_core::{pod_templates, Workload};

use crate::admission::{Admission, Decision, Fired, Request, Target};
use crate::config::RuleMode;
use crate::image_verification::ScanPolicy;

/// The label on every object palisade manages.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "palisade";
/// The label naming a namespace's (and a managed object's) team.
pub const TEAM_LABEL: &str = "palisade.dev/team";
/// Pod Security Admission's namespace labels.
pub const POD_SECURITY_LABEL_PREFIX: &str = "pod-security.kubernetes.io/";
/// Rule id for the guard's denials (metrics and messages).
pub const GUARD_RULE: &str = "team/guardrails";
/// Rule id for a team namespace's image registries.
pub const TEAM_REGISTRIES_RULE: &str = "team/registries";

/// Identities of the cluster's own controllers that must keep working on managed objects: the
/// namespace controller empties a namespace being deleted, the garbage collector deletes the
/// objects of a deleted Team.
const CLUSTER_CONTROLLERS: &[&str] = &[
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
];

/// One team, as admission needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRules {
    pub name: String,
    pub namespaces: Vec<String>,
    /// The team's image rules; `None` when the Team sets none.
    pub images: Option<TeamImages>,
}

/// A Team's `spec.images`: where its images come from, who signs them, how fresh and clean their
/// scans must be. All of it is enforced in the team's namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamImages {
    /// Registry or registry/path prefixes (path segments, as `rules.allowedRegistries`).
    pub registries: Vec<String>,
    /// Public keys (PEM) whose signatures are required; empty: no signature required.
    pub keys: Vec<String>,
    pub scan: Option<ScanPolicy>,
}

/// Every team, looked up by namespace.
#[derive(Debug, Clone, Default)]
pub struct TeamIndex {
    by_namespace: HashMap<String, Arc<TeamRules>>,
    teams: usize,
}

impl TeamIndex {
    pub fn new(teams: impl IntoIterator<Item = TeamRules>) -> Self {
        let mut index = Self::default();
        for team in teams {
            let team = Arc::new(team);
            index.teams += 1;
            for namespace in &team.namespaces {
                index
                    .by_namespace
                    .insert(namespace.clone(), Arc::clone(&team));
            }
        }
        index
    }

    /// The team that owns `namespace`.
    pub fn team_of(&self, namespace: &str) -> Option<&TeamRules> {
        self.by_namespace.get(namespace).map(Arc::as_ref)
    }

    pub fn teams(&self) -> usize {
        self.teams
    }
}

impl Admission {
    /// Whether the requester may change what palisade manages: its controller, the platform's
    /// administrators (`platform.administrators`), and the cluster's namespace controller and
    /// garbage collector.
    fn is_privileged(&self, request: &Request<'_>) -> bool {
        let platform = &self.config().platform;
        let username = request.username;
        let privileged_user = !username.is_empty()
            && (username == platform.controller_username()
                || CLUSTER_CONTROLLERS.contains(&username)
                || platform.administrators.users.iter().any(|u| u == username));
        privileged_user
            || request
                .groups
                .iter()
                .any(|g| platform.administrators.groups.contains(g))
    }

    /// The images of a pod or workload request that admission evaluates (as `validate` screens
    /// it), each once.
    fn request_images(&self, request: &Request<'_>) -> Vec<String> {
        let Ok(Target::Pod | Target::Workload) = self.screen(request) else {
            return Vec::new();
        };
        let Some(Ok(object)) = request.object else {
            return Vec::new();
        };
        let Ok(Workload::Pods(templates)) = pod_templates(object) else {
            return Vec::new();
        };
        let mut images: Vec<String> = Vec::new();
        for template in &templates {
            for (_, _, container) in template.spec.all_containers() {
                if !images.contains(&container.image) {
                    images.push(container.image.clone());
                }
            }
        }
        images
    }

    /// The guard's decision on any request the guardrail webhooks send (every operation, every
    /// kind): a denial that says what is guarded and how to change it properly, or nothing.
    pub fn guard(&self, request: &Request<'_>, teams: &TeamIndex) -> Decision {
        // Status and other subresources carry no guardrail (a quota's usage, a namespace's
        // phase), and the cluster's controllers write them all the time.
        if !request.sub_resource.is_empty() || self.is_privileged(request) {
            return Decision::default();
        }
        let new = match request.object {
            Some(Ok(object)) => Some(&object.node),
            _ => None,
        };
        let old = request.old_object;
        let new_labels = new.map(labels).unwrap_or_default();
        let old_labels = old.map(labels).unwrap_or_default();
        let what = describe(request);
        let refusal = match request.operation {
            "DELETE" | "UPDATE" if is_managed(&old_labels) => Some(format!(
                "{what} is managed by palisade{} and only its controller may change or delete it; change the Team instead (kubectl edit team {}) and the controller applies it",
                team_phrase(&old_labels),
                old_labels.get(TEAM_LABEL).map_or("TEAM", String::as_str),
            )),
            "CREATE" | "UPDATE" if is_managed(&new_labels) => Some(format!(
                "only palisade's controller may label an object {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}; remove the label from {what}"
            )),
            _ => None,
        }
        .or_else(|| {
            let owner = new.and_then(team_owner_reference)?;
            Some(format!(
                "{what} names Team {owner:?} as its owner, which only palisade's controller may do; remove that ownerReference"
            ))
        })
        .or_else(|| {
            if request.group.is_empty() && request.kind == "Namespace" {
                namespace_refusal(request, teams, &old_labels, &new_labels)
            } else {
                None
            }
        });
        match refusal {
            None => Decision::default(),
            Some(message) => Decision {
                denial: Some(self.forbidden(request, message)),
                fired: vec![Fired {
                    rule: GUARD_RULE,
                    mode: "enforce",
                }],
                ..Decision::default()
            },
        }
    }

    /// A team namespace's images must come from the Team's registries (`spec.images.registries`):
    /// enforced at admission like `rules.allowedRegistries`, for that namespace only.
    pub fn team_registries(&self, request: &Request<'_>, teams: &TeamIndex) -> Decision {
        let Some(team) = teams.team_of(request.namespace) else {
            return Decision::default();
        };
        let Some(images) = team.images.as_ref().filter(|i| !i.registries.is_empty()) else {
            return Decision::default();
        };
        let mut bad: Vec<String> = Vec::new();
        for image in self.request_images(request) {
            let allowed = palisade_core::image_ref::ImageRef::parse(&image)
                .is_ok_and(|r| images.registries.iter().any(|prefix| r.is_under(prefix)));
            if !allowed && !bad.contains(&image) {
                bad.push(image);
            }
        }
        if bad.is_empty() {
            return Decision::default();
        }
        let message = format!(
            "team {} takes images only from {} (Team spec.images.registries), not {}; push the image there, or have the platform add the registry to the Team",
            team.name,
            quote(&images.registries),
            quote(&bad)
        );
        Decision {
            denial: Some(self.forbidden(request, message)),
            fired: vec![Fired {
                rule: TEAM_REGISTRIES_RULE,
                mode: mode_name(RuleMode::Enforce),
            }],
            ..Decision::default()
        }
    }
}

fn mode_name(mode: RuleMode) -> &'static str {
    match mode {
        RuleMode::Enforce => "enforce",
        RuleMode::Warn => "warn",
        RuleMode::Audit => "audit",
    }
}

fn quote(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("{i:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Namespaces: a name a team claims is the controller's to create; the team label and the Pod
/// Security labels of a team namespace are the controller's to set.
fn namespace_refusal(
    request: &Request<'_>,
    teams: &TeamIndex,
    old_labels: &BTreeMap<String, String>,
    new_labels: &BTreeMap<String, String>,
) -> Option<String> {
    let name = request.name;
    let claimed = teams.team_of(name);
    match request.operation {
        "CREATE" => {
            if let Some(team) = claimed {
                return Some(format!(
                    "namespace {name} belongs to team {} and only palisade's controller creates it; it will appear once the controller has reconciled the Team",
                    team.name
                ));
            }
            new_labels.get(TEAM_LABEL).map(|team| {
                format!(
                    "only palisade's controller may label a namespace {TEAM_LABEL}={team}; to add a namespace to a team, list it in the Team's spec.namespaces"
                )
            })
        }
        "UPDATE" => {
            if old_labels.get(TEAM_LABEL) != new_labels.get(TEAM_LABEL) {
                return Some(format!(
                    "only palisade's controller may set or change a namespace's {TEAM_LABEL} label; to move a namespace between teams, change the Teams' spec.namespaces"
                ));
            }
            let team_namespace = claimed.is_some() || old_labels.contains_key(TEAM_LABEL);
            let changed = changed_pod_security_labels(old_labels, new_labels);
            (team_namespace && !changed.is_empty()).then(|| {
                format!(
                    "the Pod Security labels of team namespace {name} ({}) are set from the Team's spec.podSecurity; change the Team instead",
                    changed.join(", ")
                )
            })
        }
        _ => None,
    }
}

fn changed_pod_security_labels(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut keys: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|k| k.starts_with(POD_SECURITY_LABEL_PREFIX))
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn is_managed(labels: &BTreeMap<String, String>) -> bool {
    labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
}

fn team_phrase(labels: &BTreeMap<String, String>) -> String {
    labels
        .get(TEAM_LABEL)
        .map(|t| format!(" for team {t}"))
        .unwrap_or_default()
}

fn describe(request: &Request<'_>) -> String {
    if request.namespace.is_empty() {
        format!("{} {}", request.kind, request.name)
    } else {
        format!("{} {}/{}", request.kind, request.namespace, request.name)
    }
}

/// `metadata.labels` of an object tree, as strings (other values are not labels the API server
/// would have accepted, and are ignored).
fn labels(node: &Node) -> BTreeMap<String, String> {
    let Some(Value::Mapping(entries)) = node
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .map(|l| &l.value)
    else {
        return BTreeMap::new();
    };
    entries
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

/// The name of a Team an object's `metadata.ownerReferences` points at, if any.
fn team_owner_reference(node: &Node) -> Option<String> {
    let Value::Sequence(owners) = &node.get("metadata")?.get("ownerReferences")?.value else {
        return None;
    };
    owners.iter().find_map(|owner| {
        let api_version = owner.get("apiVersion")?.as_str()?;
        let kind = owner.get("kind")?.as_str()?;
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        (group == "palisade.dev" && kind == "Team").then(|| {
            owner
                .get("name")
                .and_then(Node::as_str)
                .unwrap_or("")
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use palisade_diagnostics::Severity;
    use serde_json::{json, Value};

    use super::*;
    use crate::admission::{parse_object, ParsedObject};
    use crate::config::Config;

    const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2uMP4GXpcwFZwJPHjxHB1IWYOLXM\nlncmJ357oCw6MLL6YcXPo+p52vijdXiX7idb7e55L4AvIEDpx3AEGiSuOA==\n-----END PUBLIC KEY-----\n";

    fn admission() -> Admission {
        let config = Config::parse(
            "test.yaml".into(),
            "platform:\n  controller: {serviceAccount: platform/palisade-controller}\n  administrators: {users: [alice], groups: [platform-admins]}\n",
        )
        .unwrap();
        let defaults = config.default_level_version();
        Admission::new(config, defaults)
    }

    fn teams() -> TeamIndex {
        TeamIndex::new([
            TeamRules {
                name: "fraud".into(),
                namespaces: vec!["fraud".into(), "fraud-batch".into()],
                images: Some(TeamImages {
                    registries: vec!["registry.example.com/fraud/".into()],
                    keys: vec![KEY.into()],
                    scan: Some(ScanPolicy {
                        max_severity: Severity::High,
                        max_age: Duration::from_secs(7 * 86_400),
                    }),
                }),
            },
            TeamRules {
                name: "recsys".into(),
                namespaces: vec!["recsys".into()],
                images: None,
            },
        ])
    }

    fn namespace(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    }

    struct Call {
        operation: &'static str,
        group: &'static str,
        kind: &'static str,
        resource: &'static str,
        sub_resource: &'static str,
        namespace: &'static str,
        name: &'static str,
        username: &'static str,
        groups: Vec<String>,
        object: Option<Value>,
        old: Option<Value>,
    }

    impl Call {
        fn new(operation: &'static str, kind: &'static str, name: &'static str) -> Self {
            let (group, resource) = match kind {
                "Namespace" => ("", "namespaces"),
                "NetworkPolicy" => ("networking.k8s.io", "networkpolicies"),
                "ResourceQuota" => ("", "resourcequotas"),
                "RoleBinding" => ("rbac.authorization.k8s.io", "rolebindings"),
                "Pod" => ("", "pods"),
                _ => ("", "configmaps"),
            };
            Self {
                operation,
                group,
                kind,
                resource,
                sub_resource: "",
                namespace: if kind == "Namespace" { "" } else { "fraud" },
                name,
                username: "bob",
                groups: vec!["fraud-ds".into(), "system:authenticated".into()],
                object: None,
                old: None,
            }
        }

        fn object(mut self, object: Value) -> Self {
            self.object = Some(object);
            self
        }

        fn old(mut self, old: Value) -> Self {
            self.old = Some(old);
            self
        }

        fn by(mut self, username: &'static str, groups: &[&str]) -> Self {
            self.username = username;
            self.groups = groups.iter().map(|g| (*g).to_owned()).collect();
            self
        }

        fn guard(&self) -> Option<String> {
            let admission = admission();
            let parsed: Option<ParsedObject> = self
                .object
                .as_ref()
                .map(|o| parse_object(Node::from_json(o), self.namespace, self.name));
            let old = self.old.as_ref().map(Node::from_json);
            let request = Request {
                operation: self.operation,
                group: self.group,
                kind: self.kind,
                resource: self.resource,
                resource_group: self.group,
                sub_resource: self.sub_resource,
                name: self.name,
                namespace: self.namespace,
                username: self.username,
                groups: &self.groups,
                object: parsed.as_ref(),
                old_object: old.as_ref(),
            };
            admission
                .guard(&request, &teams())
                .denial
                .map(|d| d.message)
        }
    }

    fn policy(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": "fraud", "labels": labels},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    }

    fn managed() -> Value {
        json!({MANAGED_BY_LABEL: MANAGED_BY_VALUE, TEAM_LABEL: "fraud"})
    }

    #[test]
    fn managed_objects_cannot_be_edited_or_deleted_by_team_users() {
        let deny = Call::new("DELETE", "NetworkPolicy", "default-deny")
            .old(policy("default-deny", managed()))
            .guard()
            .expect("deleting the default-deny is denied");
        assert_eq!(
            deny,
            "networkpolicies.networking.k8s.io \"default-deny\" is forbidden: NetworkPolicy fraud/default-deny is managed by palisade for team fraud and only its controller may change or delete it; change the Team instead (kubectl edit team fraud) and the controller applies it"
        );
        // Editing it, including by dropping the label that marks it as managed.
        let edited = policy("default-deny", json!({}));
        assert!(Call::new("UPDATE", "NetworkPolicy", "default-deny")
            .object(edited)
            .old(policy("default-deny", managed()))
            .guard()
            .is_some());
        for kind in ["ResourceQuota", "RoleBinding", "Namespace"] {
            let object = json!({"kind": kind, "metadata": {"name": "x", "labels": managed()}});
            assert!(
                Call::new("DELETE", kind, "x").old(object).guard().is_some(),
                "{kind}"
            );
        }
    }

    #[test]
    fn objects_cannot_pose_as_managed_or_as_owned_by_a_team() {
        assert!(Call::new("CREATE", "NetworkPolicy", "allow-all")
            .object(policy("allow-all", managed()))
            .guard()
            .unwrap()
            .contains("only palisade's controller may label an object app.kubernetes.io/managed-by=palisade"));
        assert!(Call::new("UPDATE", "NetworkPolicy", "mine")
            .object(policy("mine", managed()))
            .old(policy("mine", json!({})))
            .guard()
            .is_some());
        // An owner reference to a Team would make the controller (and garbage collector) take
        // the object for the Team's.
        let mut owned = policy("mine", json!({}));
        owned["metadata"]["ownerReferences"] = json!([{"apiVersion": "palisade.dev/v1alpha1", "kind": "Team", "name": "recsys", "uid": "1"}]);
        assert!(Call::new("CREATE", "NetworkPolicy", "mine")
            .object(owned.clone())
            .guard()
            .unwrap()
            .contains("names Team \"recsys\" as its owner"));
        // Another kind's owner is none of the guard's business.
        owned["metadata"]["ownerReferences"][0]["kind"] = json!("Deployment");
        assert_eq!(
            Call::new("CREATE", "NetworkPolicy", "mine")
                .object(owned)
                .guard(),
            None
        );
    }

    #[test]
    fn namespace_labels_cannot_move_a_namespace_into_or_out_of_a_team() {
        // Labelling one's own namespace into a team (CVE-2025-55205's class).
        let deny = Call::new("UPDATE", "Namespace", "scratch")
            .object(namespace("scratch", json!({TEAM_LABEL: "fraud"})))
            .old(namespace("scratch", json!({})))
            .guard()
            .unwrap();
        assert!(deny.contains("only palisade's controller may set or change a namespace's palisade.dev/team label"), "{deny}");
        // Creating a namespace that claims a team by label, or by a name a Team lists.
        assert!(Call::new("CREATE", "Namespace", "scratch")
            .object(namespace("scratch", json!({TEAM_LABEL: "recsys"})))
            .guard()
            .is_some());
        let deny = Call::new("CREATE", "Namespace", "fraud-batch")
            .object(namespace("fraud-batch", json!({})))
            .guard()
            .unwrap();
        assert!(
            deny.contains("namespace fraud-batch belongs to team fraud"),
            "{deny}"
        );
        // A team namespace that lost its managed-by label still keeps its Pod Security labels.
        let deny = Call::new("UPDATE", "Namespace", "recsys")
            .object(namespace(
                "recsys",
                json!({TEAM_LABEL: "recsys", "pod-security.kubernetes.io/enforce": "privileged"}),
            ))
            .old(namespace(
                "recsys",
                json!({TEAM_LABEL: "recsys", "pod-security.kubernetes.io/enforce": "restricted"}),
            ))
            .guard()
            .unwrap();
        assert!(
            deny.contains("(pod-security.kubernetes.io/enforce)"),
            "{deny}"
        );
        // Namespaces outside every team stay the cluster's business.
        assert_eq!(
            Call::new("UPDATE", "Namespace", "scratch")
                .object(namespace(
                    "scratch",
                    json!({"pod-security.kubernetes.io/enforce": "baseline"})
                ))
                .old(namespace("scratch", json!({})))
                .guard(),
            None
        );
        assert_eq!(
            Call::new("CREATE", "Namespace", "scratch")
                .object(namespace("scratch", json!({"app": "x"})))
                .guard(),
            None
        );
    }

    #[test]
    fn the_controller_administrators_and_cluster_controllers_pass() {
        let delete = || {
            Call::new("DELETE", "NetworkPolicy", "default-deny")
                .old(policy("default-deny", managed()))
        };
        assert!(delete().guard().is_some());
        assert_eq!(
            delete()
                .by("system:serviceaccount:platform:palisade-controller", &[])
                .guard(),
            None
        );
        assert_eq!(delete().by("alice", &[]).guard(), None);
        assert_eq!(delete().by("carol", &["platform-admins"]).guard(), None);
        assert_eq!(
            delete()
                .by(
                    "system:serviceaccount:kube-system:generic-garbage-collector",
                    &[]
                )
                .guard(),
            None
        );
        // The default controller identity is not this platform's: it is not let through.
        assert!(delete()
            .by("system:serviceaccount:palisade:palisade-controller", &[])
            .guard()
            .is_some());
        // A user named like a group is not in the group.
        assert!(delete().by("platform-admins", &[]).guard().is_some());
        // Quota usage and namespace phase are written through status, by the cluster.
        let mut status = Call::new("UPDATE", "ResourceQuota", "quota")
            .object(json!({"kind": "ResourceQuota", "metadata": {"name": "quota", "labels": managed()}}))
            .old(json!({"kind": "ResourceQuota", "metadata": {"name": "quota", "labels": managed()}}));
        status.sub_resource = "status";
        assert_eq!(status.guard(), None);
    }

    #[test]
    fn a_team_namespace_takes_images_only_from_the_team_registries() {
        let admission = admission();
        let pod = |image: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "fraud"},
                   "spec": {"containers": [{"name": "c", "image": image}]}})
        };
        let check = |namespace: &'static str, image: &str| {
            let parsed = parse_object(Node::from_json(&pod(image)), namespace, "p");
            let groups: Vec<String> = Vec::new();
            let request = Request {
                operation: "CREATE",
                group: "",
                kind: "Pod",
                resource: "pods",
                resource_group: "",
                sub_resource: "",
                name: "p",
                namespace,
                username: "bob",
                groups: &groups,
                object: Some(&parsed),
                old_object: None,
            };
            (
                admission
                    .team_registries(&request, &teams())
                    .denial
                    .map(|d| d.message),
                admission.image_checks_with_teams(&request, &teams()),
            )
        };
        let (denial, checks) = check("fraud", "registry.example.com/fraud/scorer:1");
        assert_eq!(denial, None);
        assert_eq!(checks.len(), 1);
        assert!(checks[0].signature && checks[0].signature_mode == RuleMode::Enforce);
        assert_eq!(checks[0].keys, vec![KEY.to_owned()]);
        assert_eq!(
            checks[0].scan.as_ref().map(|s| s.max_severity),
            Some(Severity::High)
        );
        // A path that only starts like the team's, and another registry, are both refused.
        for image in [
            "registry.example.com/fraudster/x:1",
            "docker.io/library/redis:7",
        ] {
            let (denial, _) = check("fraud", image);
            let denial = denial.expect(image);
            assert!(
                denial
                    .contains("team fraud takes images only from \"registry.example.com/fraud/\""),
                "{denial}"
            );
        }
        // A team without image rules, and a namespace of no team, get none of this.
        assert_eq!(
            check("recsys", "docker.io/library/redis:7"),
            (None, Vec::new())
        );
        assert_eq!(
            check("scratch", "docker.io/library/redis:7"),
            (None, Vec::new())
        );
    }
}
