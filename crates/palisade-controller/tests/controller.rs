//! The controller's kube-rs loop against the in-process stand-in of the API server
//! (tests/support): server-side apply of exactly render's objects with field manager `palisade`,
//! drift repaired after a delete and an edit, a Team deleted, an invalid Team, a leader handover,
//! readiness when reconciles fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use palisade_controller::{run, Options};
use palisade_team::reconcile::{read_teams, with_owner};
use serde_json::{json, Value};
use support::{eventually, names, yaml_documents, ApiServer};
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(20);
const MANAGED: [&str; 6] = [
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn platform() -> palisade_policy::config::PlatformConfig {
    palisade_policy::Config::load(&root().join("examples/teams/palisade.yaml"))
        .unwrap()
        .platform
}

/// The example's Teams, as a platform engineer applies them.
fn example_teams() -> Vec<Value> {
    let mut teams = Vec::new();
    let dir = root().join("examples/teams/teams");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        teams.extend(yaml_documents(&std::fs::read_to_string(file).unwrap()));
    }
    teams
}

/// A stand-in holding the example's Teams.
fn cluster() -> ApiServer {
    let server = ApiServer::start();
    for team in example_teams() {
        server.put(team);
    }
    server
}

struct Controller {
    task: JoinHandle<()>,
    metrics: String,
    client: usize,
}

impl Controller {
    async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("http://{}{path}", self.metrics))
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn metric(&self, line_start: &str) -> f64 {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find(|l| l.starts_with(line_start))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0.0, |v| v.parse().unwrap())
    }
}

async fn start(
    server: &ApiServer,
    identity: &str,
    lease: Duration,
    tune: impl FnOnce(&mut Options),
) -> Controller {
    let (url, client_index) = server.listener();
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let metrics = listener.local_addr().unwrap().to_string();
    let mut options = Options::new(platform(), identity);
    options.lease_duration = lease;
    options.resync = Duration::from_secs(1);
    options.debounce = Duration::from_millis(50);
    options.ready_bound = Duration::from_secs(30);
    tune(&mut options);
    let task = tokio::spawn(async move {
        run(options, client, listener, std::future::pending())
            .await
            .unwrap();
    });
    Controller {
        task,
        metrics,
        client: client_index,
    }
}

/// What render prints for the Teams in the cluster, as the controller applies it (with owner
/// references to the Teams as the stand-in stores them).
fn rendered(server: &ApiServer) -> Vec<Value> {
    let teams = server.all("Team");
    let (set, inputs) = read_teams(&platform(), &teams);
    palisade_team::render(&set)
        .iter()
        .map(|o| with_owner(o, inputs.iter().find(|t| t.name == o.team)))
        .collect()
}

fn managed(server: &ApiServer) -> Vec<Value> {
    MANAGED
        .iter()
        .flat_map(|k| server.all(k))
        .filter(palisade_team::reconcile::is_managed)
        .collect()
}

/// Every rendered object is in the cluster as rendered, and nothing else is managed.
fn converged(server: &ApiServer) -> bool {
    let want = rendered(server);
    let have = managed(server);
    names(&want) == names(&have)
        && want.iter().all(|w| {
            have.iter().any(|h| {
                names(std::slice::from_ref(h)) == names(std::slice::from_ref(w))
                    && palisade_team::reconcile::in_sync(h, w)
            })
        })
}

fn condition(server: &ApiServer, team: &str, kind: &str) -> Value {
    let team = server.get("Team", "", team).unwrap_or_default();
    team["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind).cloned())
        .unwrap_or_default()
}

fn events(server: &ApiServer, reason: &str) -> Vec<Value> {
    server
        .all("Event")
        .into_iter()
        .filter(|e| e["reason"] == reason)
        .collect()
}

fn ready(server: &ApiServer, team: &str) -> bool {
    condition(server, team, "Ready")["status"] == "True"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_exactly_what_render_prints_with_field_manager_palisade() {
    let server = cluster();
    let controller = start(&server, "a", Duration::from_secs(2), |_| {}).await;
    eventually("the rendered objects", WAIT, || converged(&server)).await;
    eventually("every Team Ready", WAIT, || {
        ["fraud", "recsys", "research", "shared-cache"]
            .iter()
            .all(|t| ready(&server, t))
    })
    .await;
    let want = rendered(&server);
    assert!(want.len() > 20, "{}", want.len());
    // Every write of a managed object is a forced server-side apply by `palisade`.
    let applies: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "PATCH" && !r.path.ends_with("/status") && !r.path.contains("/events")
        })
        .collect();
    assert_eq!(applies.len(), want.len(), "one apply per object");
    for r in &applies {
        assert!(r.is_apply(), "{r:?}");
        assert_eq!(
            r.query.get("fieldManager").map(String::as_str),
            Some("palisade"),
            "{r:?}"
        );
        assert_eq!(
            r.query.get("force").map(String::as_str),
            Some("true"),
            "{r:?}"
        );
    }
    let applied: BTreeSet<String> = applies
        .iter()
        .map(|r| {
            names(std::slice::from_ref(r.body.as_ref().unwrap()))
                .into_iter()
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(applied, names(&want));
    // The stand-in records the field manager.
    let np = server
        .get("NetworkPolicy", "fraud", "default-deny")
        .unwrap();
    assert_eq!(np["metadata"]["managedFields"][0]["manager"], "palisade");
    assert_eq!(np["metadata"]["ownerReferences"][0]["kind"], "Team");
    assert_eq!(
        np["metadata"]["ownerReferences"][0]["uid"],
        server.get("Team", "", "fraud").unwrap()["metadata"]["uid"]
    );
    assert!(server.get("Namespace", "", "fraud").unwrap()["metadata"]
        .get("ownerReferences")
        .is_none());
    // Status: Ready, Degraded False, observedGeneration.
    let team = server.get("Team", "", "fraud").unwrap();
    assert_eq!(
        team["status"]["observedGeneration"],
        team["metadata"]["generation"]
    );
    assert_eq!(condition(&server, "fraud", "Degraded")["status"], "False");
    assert_eq!(condition(&server, "fraud", "Ready")["reason"], "Reconciled");
    // Converged: a further reconcile writes nothing.
    let before = server
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .skip(before)
        .filter(|r| !r.path.contains("/leases/"))
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
    // Health, readiness, metrics.
    assert_eq!(controller.get("/healthz").await.0, 200);
    let (code, body) = controller.get("/readyz").await;
    assert_eq!((code, body.as_str()), (200, "ok: leader, reconciling\n"));
    assert!(
        controller
            .metric("palisade_controller_reconciles_total{result=\"ok\"}")
            .await
            >= 2.0
    );
    assert_eq!(controller.metric("palisade_controller_leader").await, 1.0);
    assert!(
        controller
            .metric("palisade_controller_reconcile_duration_seconds_count")
            .await
            >= 2.0
    );
    let lease = server
        .get("Lease", "palisade", "palisade-controller")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "a");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 2);
    controller.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_or_edited_network_policy_comes_back() {
    let server = cluster();
    let controller = start(&server, "a", Duration::from_secs(2), |_| {}).await;
    eventually("the rendered objects", WAIT, || converged(&server)).await;
    let original = server
        .get("NetworkPolicy", "fraud", "default-deny")
        .unwrap();
    // Deleted behind the controller's back.
    assert!(server.remove("NetworkPolicy", "fraud", "default-deny"));
    eventually("default-deny back", WAIT, || {
        server
            .get("NetworkPolicy", "fraud", "default-deny")
            .is_some()
    })
    .await;
    let back = server
        .get("NetworkPolicy", "fraud", "default-deny")
        .unwrap();
    assert_eq!(back["spec"], original["spec"]);
    eventually("a DriftRepaired event", WAIT, || {
        !events(&server, "DriftRepaired").is_empty()
    })
    .await;
    let event = &events(&server, "DriftRepaired")[0];
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["regarding"]["kind"], "Team");
    assert_eq!(event["regarding"]["name"], "fraud");
    assert_eq!(event["related"]["name"], "default-deny");
    assert_eq!(
        event["note"],
        "NetworkPolicy fraud/default-deny was deleted behind palisade's back: restored as rendered"
    );
    assert_eq!(event["reportingController"], "palisade-controller");
    assert_eq!(event["metadata"]["namespace"], "default");
    assert_eq!(
        controller
            .metric("palisade_controller_drift_repairs_total{kind=\"NetworkPolicy\"}")
            .await,
        1.0
    );

    // Edited: an allow-all ingress rule added to the default-deny (a field the apply does not
    // own), and the team's allow policy opened to every port.
    let mut edited = server
        .get("NetworkPolicy", "fraud", "default-deny")
        .unwrap();
    edited["spec"]["ingress"] = json!([{}]);
    server.put(edited);
    let mut allow = server.get("NetworkPolicy", "fraud", "allow-fraud").unwrap();
    let allow_spec = allow["spec"].clone();
    allow["spec"]["ingress"] = json!([{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]);
    server.put(allow);
    eventually("both restored", WAIT, || {
        let deny = server
            .get("NetworkPolicy", "fraud", "default-deny")
            .unwrap();
        let allow = server.get("NetworkPolicy", "fraud", "allow-fraud").unwrap();
        deny["spec"] == original["spec"] && allow["spec"] == allow_spec
    })
    .await;
    // The added rule was removed by a merge patch before the apply.
    let removal = server
        .requests()
        .into_iter()
        .find(|r| {
            r.method == "PATCH"
                && r.content_type.starts_with("application/merge-patch")
                && r.path.ends_with("/default-deny")
        })
        .expect("a merge patch removing the rule");
    assert_eq!(removal.body, Some(json!({"spec": {"ingress": null}})));
    assert_eq!(
        removal.query.get("fieldManager").map(String::as_str),
        Some("palisade")
    );
    let started = Instant::now();
    while controller
        .metric("palisade_controller_drift_repairs_total{kind=\"NetworkPolicy\"}")
        .await
        < 3.0
    {
        assert!(started.elapsed() < WAIT, "three repairs counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        controller
            .metric("palisade_controller_drift_repairs_total{kind=\"NetworkPolicy\"}")
            .await,
        3.0
    );
    assert!(converged(&server));
    controller.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_team_loses_its_objects_but_not_a_namespace_that_holds_a_pod() {
    let server = cluster();
    let controller = start(&server, "a", Duration::from_secs(2), |_| {}).await;
    eventually("the rendered objects", WAIT, || converged(&server)).await;
    server.put(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "scorer-0", "namespace": "fraud-batch"}, "spec": {}}));
    let unmanaged = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "mine", "namespace": "fraud-batch", "labels": {"app.kubernetes.io/managed-by": "palisade"}}, "spec": {"podSelector": {}}});
    server.put(unmanaged.clone());
    assert!(server.remove("Team", "", "fraud"));
    eventually("fraud's objects gone", WAIT, || {
        managed(&server).iter().all(|o| {
            o["metadata"]["labels"]["palisade.dev/team"] != "fraud"
                || (o["kind"] == "Namespace" && o["metadata"]["name"] == "fraud-batch")
        })
    })
    .await;
    assert!(server.get("Namespace", "", "fraud").is_none());
    let kept = server
        .get("Namespace", "", "fraud-batch")
        .expect("the namespace with a pod is kept");
    assert_eq!(kept["metadata"]["labels"]["palisade.dev/team"], "fraud");
    // What palisade does not manage is untouched (netpol generate's output has no team label).
    assert!(server.get("NetworkPolicy", "fraud-batch", "mine").is_some());
    assert!(server.get("Pod", "fraud-batch", "scorer-0").is_some());
    eventually("a NamespaceKept event", WAIT, || {
        !events(&server, "NamespaceKept").is_empty()
    })
    .await;
    let event = &events(&server, "NamespaceKept")[0];
    assert_eq!(event["regarding"]["kind"], "Namespace");
    assert_eq!(event["regarding"]["name"], "fraud-batch");
    assert_eq!(event["note"], "namespace fraud-batch belonged to team fraud, which was deleted, but it still holds workloads (Pod scorer-0): it is kept until they are removed");
    assert_eq!(
        controller
            .metric("palisade_controller_kept_namespaces")
            .await,
        1.0
    );
    assert!(converged_except(&server, "fraud-batch"));
    // Once the pod is gone, the namespace goes too.
    server.remove("Pod", "fraud-batch", "scorer-0");
    eventually("fraud-batch deleted", WAIT, || {
        server.get("Namespace", "", "fraud-batch").is_none()
    })
    .await;
    assert!(converged(&server));
    assert_eq!(events(&server, "NamespaceKept").len(), 1, "announced once");
    controller.task.abort();
}

fn converged_except(server: &ApiServer, namespace: &str) -> bool {
    let want = names(&rendered(server));
    let have: BTreeSet<String> = names(&managed(server))
        .into_iter()
        .filter(|n| n != &format!("Namespace /{namespace}"))
        .collect();
    want == have
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_team_is_degraded_and_nothing_of_it_is_deleted() {
    let server = cluster();
    let controller = start(&server, "a", Duration::from_secs(2), |_| {}).await;
    eventually("the rendered objects", WAIT, || converged(&server)).await;
    let before: BTreeSet<String> = names(&managed(&server));
    let writes_before = server.requests().len();
    // Looser than the platform's floor: valid for the CRD, invalid for palisade.
    let mut fraud = server.get("Team", "", "fraud").unwrap();
    fraud["spec"]["podSecurity"]["level"] = json!("baseline");
    server.put(fraud);
    eventually("fraud Degraded", WAIT, || {
        condition(&server, "fraud", "Degraded")["status"] == "True"
    })
    .await;
    let degraded = condition(&server, "fraud", "Degraded");
    assert_eq!(degraded["reason"], "InvalidSpec");
    let message = degraded["message"].as_str().unwrap();
    assert!(
        message.starts_with("teams/fraud:")
            && message.contains("baseline is looser than the platform's floor, restricted")
            && message.ends_with("(its objects are left as they are)"),
        "{message}"
    );
    assert_eq!(condition(&server, "fraud", "Ready")["status"], "False");
    assert_eq!(
        server.get("Team", "", "fraud").unwrap()["status"]["observedGeneration"],
        2
    );
    eventually("an InvalidSpec event", WAIT, || {
        !events(&server, "InvalidSpec").is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let deletes: Vec<_> = server
        .requests()
        .into_iter()
        .skip(writes_before)
        .filter(|r| r.method == "DELETE")
        .collect();
    assert!(deletes.is_empty(), "{deletes:#?}");
    assert_eq!(names(&managed(&server)), before);
    // The other teams stay Ready.
    assert!(ready(&server, "shared-cache"));
    // Fixed: Ready again.
    let mut fraud = server.get("Team", "", "fraud").unwrap();
    fraud["spec"]["podSecurity"]["level"] = json!("restricted");
    server.put(fraud);
    eventually("fraud Ready again", WAIT, || ready(&server, "fraud")).await;
    assert!(converged(&server));
    controller.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_applies_and_the_other_takes_over_when_it_stops() {
    let server = cluster();
    let lease: Duration = Duration::from_secs(1);
    let a = start(&server, "a", lease, |_| {}).await;
    eventually("a holds the lease", WAIT, || {
        server
            .get("Lease", "palisade", "palisade-controller")
            .is_some_and(|l| l["spec"]["holderIdentity"] == "a")
    })
    .await;
    let b = start(&server, "b", lease, |_| {}).await;
    eventually("the rendered objects", WAIT, || converged(&server)).await;
    // b reads the lease and is a ready standby, but writes nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (code, body) = b.get("/readyz").await;
    assert_eq!(
        (code, body.as_str()),
        (200, "ok: standby: the lease is held by a\n")
    );
    assert_eq!(b.metric("palisade_controller_leader").await, 0.0);
    let by = |client: usize| {
        server
            .requests()
            .into_iter()
            .filter(move |r| r.client == client)
    };
    assert!(
        by(b.client).all(|r| r.method == "GET"),
        "{:#?}",
        by(b.client)
            .filter(|r| r.method != "GET")
            .collect::<Vec<_>>()
    );
    assert!(by(a.client).any(|r| r.is_apply()));
    // a stops without releasing the lease; a NetworkPolicy is deleted meanwhile.
    a.task.abort();
    let stopped = Instant::now();
    assert!(server.remove("NetworkPolicy", "recsys", "default-deny"));
    eventually("b takes over and repairs", WAIT, || {
        server
            .get("NetworkPolicy", "recsys", "default-deny")
            .is_some()
    })
    .await;
    let repaired = stopped.elapsed();
    let record = server
        .get("Lease", "palisade", "palisade-controller")
        .unwrap();
    assert_eq!(record["spec"]["holderIdentity"], "b");
    assert_eq!(record["spec"]["leaseTransitions"], 1);
    // Not before a's lease expired: a whole lease duration after a's last renewal (as b's
    // clock saw the record unchanged).
    let last_renewal = by(a.client)
        .rfind(|r| r.method == "PUT" && r.path.contains("/leases/"))
        .expect("a renewed the lease");
    let first_b_write = by(b.client).find(|r| r.method != "GET").expect("b writes");
    assert!(first_b_write.path.contains("/leases/"), "{first_b_write:?}");
    assert!(
        first_b_write.at >= last_renewal.at + lease,
        "b took over {:?} after a's last renewal",
        first_b_write.at.duration_since(last_renewal.at)
    );
    assert!(repaired < Duration::from_secs(5), "{repaired:?}");
    assert!(by(a.client).all(|r| r.at <= stopped + Duration::from_millis(100)));
    assert_eq!(b.metric("palisade_controller_leader").await, 1.0);
    assert!(converged(&server));
    b.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_reconcile_is_not_ready_and_says_why() {
    let server = cluster();
    let controller = start(&server, "a", Duration::from_secs(2), |o| {
        o.ready_bound = Duration::from_secs(1)
    })
    .await;
    eventually("the rendered objects", WAIT, || converged(&server)).await;
    server.fail("GET", "/apis/networking.k8s.io/v1/networkpolicies", 500);
    let started = Instant::now();
    loop {
        let (code, body) = controller.get("/readyz").await;
        if code == 503 {
            assert!(
                body.starts_with("not ready: leader, but no reconcile has completed for "),
                "{body}"
            );
            assert!(body.contains("injected failure"), "{body}");
            break;
        }
        assert!(started.elapsed() < WAIT, "still ready: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        controller
            .metric("palisade_controller_reconciles_total{result=\"error\"}")
            .await
            >= 1.0
    );
    assert!(
        controller
            .metric("palisade_controller_errors_total{operation=\"list\"}")
            .await
            >= 1.0
    );
    // Nothing was deleted for want of a list.
    assert!(converged(&server));
    server.clear_faults();
    let started = Instant::now();
    while controller.get("/readyz").await.0 != 200 {
        assert!(started.elapsed() < WAIT);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    controller.task.abort();
}
