//! The webhook guards the guardrails palisade manages for teams (docs/teams.md): one
//! AdmissionReview over real HTTPS per bypass class, each denied with what is guarded and how to
//! change it properly, and the same request let through for palisade's controller and the
//! platform's administrators. The Teams are examples/teams.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod webhook_support;

use serde_json::{json, Value};

use common::root;
use webhook_support::Webhook;

const CONTROLLER: &str = "system:serviceaccount:palisade:palisade-controller";

fn webhook() -> Webhook {
    let platform = std::fs::read_to_string(root().join("examples/teams/palisade.yaml")).unwrap();
    let config = platform.replace(
        "platform:\n",
        "platform:\n  administrators: {groups: [platform-admins]}\n",
    );
    let teams = root().join("examples/teams/teams").display().to_string();
    Webhook::start(&config, &["--teams", &teams])
}

/// A review of `operation` on `object` (or, for DELETE, of its old version) by `username` in
/// `groups`.
#[allow(clippy::too_many_arguments)]
fn review(
    operation: &str,
    (group, kind, resource): (&str, &str, &str),
    namespace: &str,
    object: Option<&Value>,
    old: Option<&Value>,
    username: &str,
    groups: &[&str],
) -> Value {
    let name = object
        .or(old)
        .and_then(|o| o.pointer("/metadata/name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u1",
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": username, "groups": groups},
            "object": object,
            "oldObject": old,
        }
    })
}

const NETPOL: (&str, &str, &str) = ("networking.k8s.io", "NetworkPolicy", "networkpolicies");
const NAMESPACE: (&str, &str, &str) = ("", "Namespace", "namespaces");
const POD: (&str, &str, &str) = ("", "Pod", "pods");
const BOB: (&str, &[&str]) = ("bob", &["fraud-ds", "system:authenticated"]);

fn managed_policy() -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "default-deny", "namespace": "fraud",
                        "labels": {"app.kubernetes.io/managed-by": "palisade", "palisade.dev/team": "fraud"}},
           "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

/// Posts to /validate: `None` when allowed, the denial's message otherwise.
fn denial(hook: &Webhook, review: &Value) -> Option<String> {
    let (status, body) = hook.post("/validate", review);
    assert_eq!(status, 200, "{body}");
    let response = &body["response"];
    if response["allowed"] == true {
        return None;
    }
    assert_eq!(response["status"]["code"], 403, "{body}");
    Some(response["status"]["message"].as_str().unwrap().to_owned())
}

#[test]
fn each_bypass_is_denied_and_the_controller_is_not() {
    let hook = webhook();
    let (bob, bob_groups) = BOB;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "deleting a managed NetworkPolicy",
            review("DELETE", NETPOL, "fraud", None, Some(&managed_policy()), bob, bob_groups),
            "NetworkPolicy fraud/default-deny is managed by palisade for team fraud and only its controller may change or delete it; change the Team instead (kubectl edit team fraud)",
        ),
        (
            "editing a managed NetworkPolicy (and dropping its label)",
            review(
                "UPDATE",
                NETPOL,
                "fraud",
                Some(&json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                             "metadata": {"name": "default-deny", "namespace": "fraud"},
                             "spec": {"podSelector": {}, "ingress": [{}]}})),
                Some(&managed_policy()),
                bob,
                bob_groups,
            ),
            "is managed by palisade for team fraud",
        ),
        (
            "loosening a team namespace's Pod Security level",
            review(
                "UPDATE",
                NAMESPACE,
                "",
                Some(&namespace("recsys", json!({"palisade.dev/team": "recsys", "pod-security.kubernetes.io/enforce": "privileged"}))),
                Some(&namespace("recsys", json!({"palisade.dev/team": "recsys", "pod-security.kubernetes.io/enforce": "restricted"}))),
                bob,
                bob_groups,
            ),
            "the Pod Security labels of team namespace recsys (pod-security.kubernetes.io/enforce) are set from the Team's spec.podSecurity",
        ),
        (
            "labelling another namespace into a team",
            review(
                "UPDATE",
                NAMESPACE,
                "",
                Some(&namespace("scratch", json!({"palisade.dev/team": "recsys"}))),
                Some(&namespace("scratch", json!({}))),
                bob,
                bob_groups,
            ),
            "only palisade's controller may set or change a namespace's palisade.dev/team label",
        ),
        (
            "creating a namespace that claims a team by label",
            review(
                "CREATE",
                NAMESPACE,
                "",
                Some(&namespace("scratch", json!({"palisade.dev/team": "fraud"}))),
                None,
                bob,
                bob_groups,
            ),
            "only palisade's controller may label a namespace palisade.dev/team=fraud",
        ),
        (
            "creating a namespace a Team lists before the controller does",
            review("CREATE", NAMESPACE, "", Some(&namespace("fraud-batch", json!({}))), None, bob, bob_groups),
            "namespace fraud-batch belongs to team fraud and only palisade's controller creates it",
        ),
        (
            "forging the managed-by label",
            review(
                "CREATE",
                NETPOL,
                "fraud",
                Some(&json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                             "metadata": {"name": "allow-all", "namespace": "fraud",
                                          "labels": {"app.kubernetes.io/managed-by": "palisade"}},
                             "spec": {"podSelector": {}, "ingress": [{}]}})),
                None,
                bob,
                bob_groups,
            ),
            "only palisade's controller may label an object app.kubernetes.io/managed-by=palisade",
        ),
        (
            "an owner reference to a Team",
            review(
                "CREATE",
                NETPOL,
                "fraud",
                Some(&json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                             "metadata": {"name": "mine", "namespace": "fraud",
                                          "ownerReferences": [{"apiVersion": "palisade.dev/v1alpha1", "kind": "Team", "name": "recsys", "uid": "x"}]},
                             "spec": {"podSelector": {}}})),
                None,
                bob,
                bob_groups,
            ),
            "names Team \"recsys\" as its owner",
        ),
    ];
    for (what, review, expected) in &cases {
        let message = denial(&hook, review).unwrap_or_else(|| panic!("{what}: allowed"));
        assert!(message.contains(expected), "{what}: {message}");
        // The same request from the controller, or from an administrator, goes through.
        let mut as_controller = review.clone();
        as_controller["request"]["userInfo"] =
            json!({"username": CONTROLLER, "groups": ["system:serviceaccounts"]});
        assert_eq!(
            denial(&hook, &as_controller),
            None,
            "{what} by the controller"
        );
        let mut as_admin = review.clone();
        as_admin["request"]["userInfo"] =
            json!({"username": "carol", "groups": ["platform-admins"]});
        assert_eq!(denial(&hook, &as_admin), None, "{what} by an administrator");
    }
    // Status is the cluster's: the quota controller updates usage on managed quotas.
    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota",
                       "metadata": {"name": "quota", "namespace": "fraud",
                                    "labels": {"app.kubernetes.io/managed-by": "palisade"}}});
    let mut status = review(
        "UPDATE",
        ("", "ResourceQuota", "resourcequotas"),
        "fraud",
        Some(&quota),
        Some(&quota),
        "system:serviceaccount:kube-system:resourcequota-controller",
        &[],
    );
    status["request"]["subResource"] = json!("status");
    assert_eq!(denial(&hook, &status), None);
}

#[test]
fn a_team_namespace_takes_only_the_team_images() {
    let hook = webhook();
    let (bob, groups) = BOB;
    let pod = |namespace: &str, image: &str| {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "scorer", "namespace": namespace},
               "spec": {"securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{"name": "scorer", "image": image,
                                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}})
    };
    let message = denial(
        &hook,
        &review(
            "CREATE",
            POD,
            "fraud",
            Some(&pod("fraud", "docker.io/library/python:3.12")),
            None,
            bob,
            groups,
        ),
    )
    .expect("an image from another registry is denied in a fraud namespace");
    assert!(
        message.contains("team fraud takes images only from \"registry.example.com/fraud/\" (Team spec.images.registries), not \"docker.io/library/python:3.12\""),
        "{message}"
    );
    // From the team's registry, the image must still show a scan (requireScan in the Team):
    // none can be checked here, which is never taken as a pass.
    let message = denial(
        &hook,
        &review(
            "CREATE",
            POD,
            "fraud",
            Some(&pod("fraud", "registry.example.com/fraud/scorer:1")),
            None,
            bob,
            groups,
        ),
    )
    .expect("an unverifiable image is denied");
    assert!(message.contains("images not verified"), "{message}");
    assert!(message.contains("palisade/require-scan"), "{message}");
    // recsys sets no image rules; a namespace of no team is untouched by any.
    for namespace in ["recsys", "scratch"] {
        assert_eq!(
            denial(
                &hook,
                &review(
                    "CREATE",
                    POD,
                    namespace,
                    Some(&pod(namespace, "docker.io/library/python:3.12")),
                    None,
                    bob,
                    groups
                ),
            ),
            None,
            "{namespace}"
        );
    }
}
