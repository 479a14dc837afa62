//! What a team's owners may do in its namespaces, and the check that no RBAC rule lets them change
//! a guardrail.
//!
//! The owners' Role lets them run workloads (pods, Deployments, StatefulSets, Jobs, KServe
//! InferenceServices, their Services, ConfigMaps, Secrets, volumes and service accounts) and read
//! what constrains them, and nothing else. The built-in `edit` and `admin` roles are never bound:
//! both may delete NetworkPolicies (and `admin` may write Roles).

use serde::Deserialize;
use serde_json::{json, Value};

/// Verbs that read.
pub const READ: &[&str] = &["get", "list", "watch"];
/// Verbs that read and write.
pub const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// Verbs that change an object, or grant or take on permissions.
pub const WRITE_VERBS: &[&str] = &[
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "escalate",
    "bind",
    "*",
];

/// One rule of the owners' Role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerRule {
    pub api_groups: &'static [&'static str],
    pub resources: &'static [&'static str],
    pub verbs: &'static [&'static str],
}

/// The owners' Role, rule by rule.
pub const OWNER_RULES: &[OwnerRule] = &[
    OwnerRule {
        api_groups: &[""],
        resources: &[
            "configmaps",
            "persistentvolumeclaims",
            "pods",
            "secrets",
            "serviceaccounts",
            "services",
        ],
        verbs: READ_WRITE,
    },
    OwnerRule {
        api_groups: &[""],
        resources: &["pods/exec", "pods/portforward"],
        verbs: &["create", "get"],
    },
    OwnerRule {
        api_groups: &[""],
        resources: &[
            "endpoints",
            "events",
            "limitranges",
            "pods/log",
            "resourcequotas",
        ],
        verbs: READ,
    },
    OwnerRule {
        api_groups: &["apps"],
        resources: &[
            "deployments",
            "deployments/scale",
            "replicasets",
            "statefulsets",
            "statefulsets/scale",
        ],
        verbs: READ_WRITE,
    },
    OwnerRule {
        api_groups: &["batch"],
        resources: &["cronjobs", "jobs"],
        verbs: READ_WRITE,
    },
    OwnerRule {
        api_groups: &["autoscaling"],
        resources: &["horizontalpodautoscalers"],
        verbs: READ_WRITE,
    },
    OwnerRule {
        api_groups: &["policy"],
        resources: &["poddisruptionbudgets"],
        verbs: READ_WRITE,
    },
    OwnerRule {
        api_groups: &["serving.kserve.io"],
        resources: &["inferenceservices"],
        verbs: READ_WRITE,
    },
    OwnerRule {
        api_groups: &["events.k8s.io"],
        resources: &["events"],
        verbs: READ,
    },
    OwnerRule {
        api_groups: &["networking.k8s.io"],
        resources: &["networkpolicies"],
        verbs: READ,
    },
];

/// The owners' Role rules as the Role writes them.
pub fn owner_rules() -> Value {
    Value::Array(
        OWNER_RULES
            .iter()
            .map(|r| json!({"apiGroups": r.api_groups, "resources": r.resources, "verbs": r.verbs}))
            .collect(),
    )
}

/// The objects that keep a team in its place: (API group, resource; `*` for every resource of the
/// group).
pub const GUARDRAILS: &[(&str, &str)] = &[
    ("networking.k8s.io", "networkpolicies"),
    ("policy.networking.k8s.io", "adminnetworkpolicies"),
    ("policy.networking.k8s.io", "baselineadminnetworkpolicies"),
    ("", "resourcequotas"),
    ("", "limitranges"),
    ("", "namespaces"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    (
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
    ),
    (
        "admissionregistration.k8s.io",
        "mutatingwebhookconfigurations",
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("palisade.dev", "*"),
];

/// Built-in ClusterRoles (aggregated, so their rules are not in manifests) that write guardrails.
pub const BUILT_IN_WRITERS: &[&str] = &["admin", "cluster-admin", "edit"];
/// Built-in ClusterRoles that only read.
pub const BUILT_IN_READERS: &[&str] = &["view"];

/// An RBAC rule as Roles and ClusterRoles write it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub api_groups: Vec<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default)]
    pub resource_names: Vec<String>,
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
}

/// What `rule` lets its subjects do to guardrails: `verb resource.group` for each write it grants
/// (wildcards count: `*` verbs, groups or resources; `impersonate` on users, groups or service
/// accounts, which would let them act as anyone). Empty when it grants none.
pub fn guardrail_writes(rule: &PolicyRule) -> Vec<String> {
    let mut out = Vec::new();
    let has = |list: &[String], wanted: &str| list.iter().any(|x| x == "*" || x == wanted);
    let writes: Vec<&str> = rule
        .verbs
        .iter()
        .map(String::as_str)
        .filter(|v| WRITE_VERBS.contains(v))
        .collect();
    for &(group, resource) in GUARDRAILS {
        if !has(&rule.api_groups, group) {
            continue;
        }
        let granted = if resource == "*" {
            !rule.resources.is_empty()
        } else {
            has(&rule.resources, resource)
        };
        if !granted {
            continue;
        }
        let shown = if resource == "*" {
            format!("{}.{group}", rule.resources.join(","))
        } else if group.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}.{group}")
        };
        for verb in &writes {
            out.push(format!("{verb} {shown}"));
        }
    }
    if has(&rule.verbs, "impersonate") {
        for (group, resource) in [("", "users"), ("", "groups"), ("", "serviceaccounts")] {
            if has(&rule.api_groups, group) && has(&rule.resources, resource) {
                out.push(format!("impersonate {resource}"));
            }
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        let s = |l: &[&str]| l.iter().map(|x| (*x).to_owned()).collect();
        PolicyRule {
            api_groups: s(groups),
            resources: s(resources),
            verbs: s(verbs),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn the_owner_role_never_writes_a_guardrail() {
        for r in OWNER_RULES {
            let s = |l: &[&str]| l.iter().map(|x| (*x).to_owned()).collect();
            let policy = PolicyRule {
                api_groups: s(r.api_groups),
                resources: s(r.resources),
                verbs: s(r.verbs),
                ..PolicyRule::default()
            };
            assert_eq!(guardrail_writes(&policy), Vec::<String>::new(), "{r:?}");
            for &(group, resource) in GUARDRAILS {
                let writes = r.verbs.iter().any(|v| WRITE_VERBS.contains(v));
                assert!(
                    !(writes && r.api_groups.contains(&group) && r.resources.contains(&resource)),
                    "{r:?} writes {resource}"
                );
            }
            assert!(
                !r.verbs.contains(&"*")
                    && !r.resources.contains(&"*")
                    && !r.api_groups.contains(&"*")
            );
        }
        // And the Role as written says the same.
        let written: Vec<PolicyRule> = serde_json::from_value(owner_rules()).unwrap();
        assert!(written.iter().all(|r| guardrail_writes(r).is_empty()));
    }

    #[test]
    fn wildcards_and_guardrails_are_found() {
        assert_eq!(
            guardrail_writes(&rule(
                &["networking.k8s.io"],
                &["networkpolicies"],
                &["get", "delete"]
            )),
            vec!["delete networkpolicies.networking.k8s.io"]
        );
        assert_eq!(
            guardrail_writes(&rule(&["*"], &["*"], &["*"])).len(),
            GUARDRAILS.len() + 3
        );
        assert_eq!(
            guardrail_writes(&rule(&[""], &["limitranges"], &["patch"])),
            vec!["patch limitranges"]
        );
        assert_eq!(
            guardrail_writes(&rule(&["palisade.dev"], &["teams"], &["update"])),
            vec!["update teams.palisade.dev"]
        );
        assert_eq!(
            guardrail_writes(&rule(
                &["rbac.authorization.k8s.io"],
                &["roles"],
                &["escalate"]
            )),
            vec!["escalate roles.rbac.authorization.k8s.io"]
        );
        assert_eq!(
            guardrail_writes(&rule(&[""], &["users"], &["impersonate"])),
            vec!["impersonate users"]
        );
        assert!(
            guardrail_writes(&rule(&["networking.k8s.io"], &["*"], &["get", "list"])).is_empty()
        );
        assert!(guardrail_writes(&rule(&["apps"], &["*"], &["*"])).is_empty());
    }
}
