//! The namespace watch cache against recorded Kubernetes API responses: a list and a watch event,
//! served over HTTP on 127.0.0.1 exactly as the API server frames them. The webhook must wait for
//! the first list before it reports ready, then decide by each namespace's labels.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod kube_api_support;
mod webhook_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_api_support::Reply;
use serde_json::json;
use webhook_support::{make_certs, pod_review, Webhook};

const NAMESPACE_LIST: &str = r#"{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"1000"},"items":[
{"metadata":{"name":"team-baseline","uid":"6a1f7c1e-1b0e-4f9a-9a4e-0c6a4b1f0001","resourceVersion":"900","creationTimestamp":"2026-11-01T10:00:00Z","labels":{"kubernetes.io/metadata.name":"team-baseline","pod-security.kubernetes.io/enforce":"baseline","pod-security.kubernetes.io/enforce-version":"v1.33"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}},
{"metadata":{"name":"team-restricted","uid":"6a1f7c1e-1b0e-4f9a-9a4e-0c6a4b1f0002","resourceVersion":"901","creationTimestamp":"2026-11-01T10:00:00Z","labels":{"kubernetes.io/metadata.name":"team-restricted","pod-security.kubernetes.io/enforce":"restricted"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}
]}"#;

const WATCH_EVENT: &str = r#"{"type":"ADDED","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"team-late","uid":"6a1f7c1e-1b0e-4f9a-9a4e-0c6a4b1f0003","resourceVersion":"1001","creationTimestamp":"2026-11-27T10:00:00Z","labels":{"kubernetes.io/metadata.name":"team-late","pod-security.kubernetes.io/enforce":"privileged"}},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}}"#;

/// Serves the recorded list (after `list_delay`, the first time) and, to watches, the recorded
/// event.
fn api_server(list_delay: Duration) -> (String, Arc<AtomicUsize>) {
    let lists = Arc::new(AtomicUsize::new(0));
    let counter = lists.clone();
    let url = kube_api_support::serve(move |path| {
        if !path.starts_with("/api/v1/namespaces") {
            return kube_api_support::not_found("namespaces", path);
        }
        if path.contains("watch=true") || path.contains("watch=1") {
            return Reply::Watch(format!("{WATCH_EVENT}\n"));
        }
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            std::thread::sleep(list_delay);
        }
        Reply::Json("200 OK", NAMESPACE_LIST.to_owned())
    });
    (url, lists)
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn namespace_labels_come_from_the_cluster() {
    let (url, lists) = api_server(Duration::from_millis(1500));
    let dir = tempfile::tempdir().unwrap();
    make_certs(dir.path());
    let webhook = Webhook::start_with(&["--namespaces", "cluster", "--kube-api-url", &url], dir);
    let client = webhook.client();
    // Not ready until the first list has arrived.
    assert_eq!(webhook.status("/readyz"), 503);
    wait_until("readiness", || {
        client
            .get(webhook.url("/readyz"))
            .send()
            .is_ok_and(|r| r.status().as_u16() == 200)
    });
    assert!(lists.load(Ordering::SeqCst) >= 1);

    let host_pid = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostPID": true, "containers": [{"name": "c", "image": "x"}]}});
    let plain = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}});
    // team-baseline enforces baseline:v1.33 by its labels.
    let (_, body) = webhook.post("/validate", &pod_review("a", "team-baseline", &host_pid));
    assert_eq!(body["response"]["status"]["message"], "pods \"p\" is forbidden: violates PodSecurity \"baseline:v1.33\": host namespaces (hostPID=true)");
    let (_, body) = webhook.post("/validate", &pod_review("b", "team-baseline", &plain));
    assert_eq!(body["response"]["allowed"], true, "{body:#}");
    // team-restricted enforces restricted.
    let (_, body) = webhook.post("/validate", &pod_review("c", "team-restricted", &plain));
    assert_eq!(body["response"]["allowed"], false);
    // team-late arrived through the watch and is privileged.
    wait_until("the watch event", || {
        webhook
            .post("/validate", &pod_review("d", "team-late", &host_pid))
            .1["response"]["allowed"]
            == true
    });
    // A namespace the cluster does not have gets the default.
    let (_, body) = webhook.post("/validate", &pod_review("e", "elsewhere", &plain));
    assert!(body["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("violates PodSecurity \"restricted:latest\""));
}
