//! The real `palisade webhook` binary over real HTTPS on 127.0.0.1, answering AdmissionReview
//! requests as the API server sends them; whole responses are asserted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod webhook_support;

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use webhook_support::{
    client_trusting, closed_within, command, http1_client, http2_client, make_certs, pod_review,
    raw_tls, review, yaml_to_json, H2Event, RawH2, Webhook,
};

const CONFIG: &str = r#"
podSecurity:
  level: restricted
  version: latest
  exemptions:
    namespaces: [kube-system]
    usernames: [system:serviceaccount:kube-system:replicaset-controller-exempt]
    runtimeClasses: [kata]
  namespaces:
    pss-baseline-v1-37: {enforce: baseline, enforce-version: v1.37, warn: baseline, warn-version: v1.37}
    pss-restricted-v1-37: {enforce: restricted, enforce-version: v1.37}
    pss-restricted-v1-25: {enforce: restricted, enforce-version: v1.25}
    warn-only: {enforce: privileged, warn: restricted}
    rules: {enforce: privileged, warn: privileged, audit: privileged}
rules:
  requiredLabels: {mode: enforce, labels: [team, model]}
  allowedRegistries: {mode: warn, registries: [registry.example.com/ml]}
  imageDigest: {mode: audit}
  noLatestTag: {mode: enforce}
hardening:
  runAsUser: 10001
  writablePaths: [/tmp]
"#;

fn corpus() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/pod-security")
}

/// Pods whose only rule problems are absent: labelled and pinned.
fn compliant_labels(pod: &mut Value) {
    pod["metadata"]["labels"] = json!({"team": "ds", "model": "iris"});
    for key in ["containers", "initContainers"] {
        if let Some(cs) = pod["spec"].get_mut(key).and_then(Value::as_array_mut) {
            for c in cs {
                c["image"] = json!("registry.example.com/ml/iris@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
            }
        }
    }
}

#[test]
fn pod_security_fixtures_are_enforced_over_https() {
    let webhook = Webhook::start(CONFIG, &[]);
    let manifest = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (level, version, outcome, path, expect) = (cols[0], cols[1], cols[2], cols[5], cols[8]);
        let namespace = format!("pss-{level}-{}", version.replace('.', "-"));
        if !matches!(
            namespace.as_str(),
            "pss-baseline-v1-37" | "pss-restricted-v1-37" | "pss-restricted-v1-25"
        ) {
            continue;
        }
        let mut pod = yaml_to_json(&std::fs::read_to_string(corpus().join(path)).unwrap());
        compliant_labels(&mut pod);
        let uid = format!("uid-{checked}");
        let (status, body) = webhook.post("/validate", &pod_review(&uid, &namespace, &pod));
        assert_eq!(status, 200);
        let response = &body["response"];
        assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(body["kind"], "AdmissionReview");
        assert_eq!(response["uid"], uid, "{path}");
        let name = pod["metadata"]["name"].as_str().unwrap();
        if outcome == "pass" {
            assert_eq!(response["allowed"], true, "{path}: {body:#}");
        } else {
            assert_eq!(response["allowed"], false, "{path}: {body:#}");
            let status = &response["status"];
            assert_eq!(status["code"], 403);
            assert_eq!(status["reason"], "Forbidden");
            assert_eq!(status["status"], "Failure");
            let message = status["message"].as_str().unwrap();
            let prefix = format!(
                "pods \"{name}\" is forbidden: violates PodSecurity \"{level}:{version}\": "
            );
            assert!(message.starts_with(&prefix), "{path}: {message}");
            assert!(message.contains(expect), "{path}: {message} lacks {expect}");
            assert!(
                response.get("warnings").is_none(),
                "no warnings on a denial: {body:#}"
            );
        }
        checked += 1;
    }
    assert!(checked > 200, "checked {checked} fixtures");
}

#[test]
fn a_denial_is_a_complete_admission_response() {
    let webhook = Webhook::start(CONFIG, &[]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "iris", "namespace": "pss-baseline-v1-37", "labels": {"team": "ds", "model": "iris"}},
        "spec": {"hostPID": true, "containers": [{"name": "app", "image": "registry.example.com/ml/iris:1.0"}]}});
    let (status, body) = webhook.post(
        "/validate",
        &pod_review(
            "705ab4f5-6393-11e8-b7cc-42010a800002",
            "pss-baseline-v1-37",
            &pod,
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "allowed": false,
                "status": {
                    "metadata": {},
                    "status": "Failure",
                    "message": "pods \"iris\" is forbidden: violates PodSecurity \"baseline:v1.37\": host namespaces (hostPID=true)",
                    "reason": "Forbidden",
                    "details": {"name": "iris", "kind": "pods"},
                    "code": 403
                },
                "auditAnnotations": {
                    "pod-security.kubernetes.io/audit-violations": "would violate PodSecurity \"restricted:latest\": host namespaces (hostPID=true), allowPrivilegeEscalation != false (container \"app\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"app\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"app\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"app\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
                    "pod-security.kubernetes.io/enforce-policy": "baseline:v1.37",
                    "palisade.dev/audit-violations": "would violate palisade rules: image not pinned by digest (container \"app\" must reference its image by digest (image@sha256:...))"
                }
            }
        })
    );
}

#[test]
fn workloads_get_warnings_and_exemptions_apply() {
    let webhook = Webhook::start(CONFIG, &[]);
    let deployment = yaml_to_json(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../examples/iris-model-server-insecure/deployment.yaml"),
        )
        .unwrap(),
    );
    let (_, body) = webhook.post(
        "/validate",
        &review(
            "d1",
            "CREATE",
            "apps",
            "Deployment",
            "deployments",
            "ml-iris",
            &deployment,
        ),
    );
    let response = &body["response"];
    assert_eq!(response["allowed"], true, "{body:#}");
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{body:#}");
    assert!(warnings[0].starts_with("would violate PodSecurity \"restricted:latest\": host namespaces (hostNetwork=true), allowPrivilegeEscalation != false"));
    // Enforce-mode rules warn on workloads (the pods they create are denied at admission).
    assert!(warnings[1].starts_with("would violate palisade rules: missing required labels (pod must carry labels \"team\", \"model\"), latest image tag"), "{}", warnings[1]);

    // Exempt namespace, user and runtime class.
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostPID": true, "containers": [{"name": "c", "image": "x"}]}});
    let (_, body) = webhook.post("/validate", &pod_review("e1", "kube-system", &pod));
    assert_eq!(
        body["response"],
        json!({"uid": "e1", "allowed": true, "auditAnnotations": {"pod-security.kubernetes.io/exempt": "namespace"}})
    );
    let mut request = pod_review("e2", "ml", &pod);
    request["request"]["userInfo"]["username"] =
        json!("system:serviceaccount:kube-system:replicaset-controller-exempt");
    let (_, body) = webhook.post("/validate", &request);
    assert_eq!(
        body["response"]["auditAnnotations"]["pod-security.kubernetes.io/exempt"],
        "user"
    );
    pod["spec"]["runtimeClassName"] = json!("kata");
    let (_, body) = webhook.post("/validate", &pod_review("e3", "ml", &pod));
    assert_eq!(
        body["response"]["auditAnnotations"]["pod-security.kubernetes.io/exempt"],
        "runtimeClass"
    );
    assert_eq!(body["response"]["allowed"], true);
}

#[test]
fn every_ml_rule_in_its_mode() {
    let webhook = Webhook::start(CONFIG, &[]);
    let pod = |labels: Value, image: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "m", "labels": labels}, "spec": {"containers": [{"name": "app", "image": image}]}});
    let pinned = "registry.example.com/ml/iris@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let labels = json!({"team": "ds", "model": "iris"});
    // All good.
    let (_, body) = webhook.post(
        "/validate",
        &pod_review("r0", "rules", &pod(labels.clone(), pinned)),
    );
    assert_eq!(
        body["response"],
        json!({"uid": "r0", "allowed": true, "auditAnnotations": {"pod-security.kubernetes.io/enforce-policy": "privileged:latest"}})
    );
    // requiredLabels (enforce): denied.
    let (_, body) = webhook.post(
        "/validate",
        &pod_review("r1", "rules", &pod(json!({"team": "ds"}), pinned)),
    );
    assert_eq!(body["response"]["status"]["message"], "pods \"m\" is forbidden: violates palisade rules: missing required labels (pod must carry label \"model\")");
    // noLatestTag (enforce): denied.
    let (_, body) = webhook.post(
        "/validate",
        &pod_review(
            "r2",
            "rules",
            &pod(labels.clone(), "registry.example.com/ml/iris:latest"),
        ),
    );
    let message = body["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "latest image tag (container \"app\" must not use the latest tag (or no tag))"
        ),
        "{message}"
    );
    // allowedRegistries (warn) and imageDigest (audit): allowed, with a warning and an audit annotation.
    let (_, body) = webhook.post(
        "/validate",
        &pod_review("r3", "rules", &pod(labels, "docker.io/library/python:3.11")),
    );
    assert_eq!(
        body["response"],
        json!({
            "uid": "r3",
            "allowed": true,
            "warnings": ["would violate palisade rules: disallowed image registry (container \"app\" must use images from \"registry.example.com/ml\", not \"docker.io/library/python:3.11\")"],
            "auditAnnotations": {
                "palisade.dev/audit-violations": "would violate palisade rules: image not pinned by digest (container \"app\" must reference its image by digest (image@sha256:...))",
                "pod-security.kubernetes.io/enforce-policy": "privileged:latest"
            }
        })
    );
}

#[test]
fn mutations_harden_pods_with_a_json_patch() {
    let webhook = Webhook::start(CONFIG, &[]);
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "h"},
        "spec": {"containers": [{"name": "app", "image": "x", "securityContext": {"readOnlyRootFilesystem": true}}]}});
    let (status, body) = webhook.post("/mutate", &pod_review("m1", "ml", &pod));
    assert_eq!(status, 200);
    let response = &body["response"];
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(response["patch"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        patch,
        json!([
            {"op": "add", "path": "/spec/containers/0/securityContext/allowPrivilegeEscalation", "value": false},
            {"op": "add", "path": "/spec/containers/0/securityContext/capabilities", "value": {"drop": ["ALL"]}},
            {"op": "add", "path": "/spec/containers/0/volumeMounts", "value": [{"name": "palisade-tmp", "mountPath": "/tmp"}]},
            {"op": "add", "path": "/spec/securityContext", "value": {"seccompProfile": {"type": "RuntimeDefault"}, "runAsNonRoot": true, "runAsUser": 10001}},
            {"op": "add", "path": "/spec/volumes", "value": [{"name": "palisade-tmp", "emptyDir": {}}]}
        ])
    );
    // The hardened pod is admitted at restricted.
    let mut hardened = pod.clone();
    palisade_policy::harden::apply(
        &mut hardened,
        &serde_json::from_value::<Vec<PatchOpIn>>(patch)
            .unwrap()
            .into_iter()
            .map(PatchOpIn::into_op)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    compliant_labels(&mut hardened);
    let (_, body) = webhook.post(
        "/validate",
        &pod_review("m2", "pss-restricted-v1-37", &hardened),
    );
    assert_eq!(body["response"]["allowed"], true, "{body:#}");
    // Hardening twice changes nothing.
    let (_, body) = webhook.post("/mutate", &pod_review("m3", "ml", &hardened));
    assert_eq!(body["response"], json!({"uid": "m3", "allowed": true}));
}

#[derive(serde::Deserialize)]
struct PatchOpIn {
    op: String,
    path: String,
    value: Value,
}

impl PatchOpIn {
    fn into_op(self) -> palisade_policy::harden::PatchOp {
        assert_eq!(self.op, "add");
        palisade_policy::harden::PatchOp {
            op: "add",
            path: self.path,
            value: self.value,
        }
    }
}

#[test]
fn malformed_oversized_and_unsupported_requests() {
    let webhook = Webhook::start(CONFIG, &["--body-limit", "65536"]);
    let client = webhook.client();
    let response = client
        .post(webhook.url("/validate"))
        .body("{\"apiVersion\": ")
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(response
        .text()
        .unwrap()
        .starts_with("invalid AdmissionReview JSON: EOF while parsing"));
    let response = client
        .post(webhook.url("/validate"))
        .body(vec![b' '; 100_000])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let (status, body) = webhook.post("/validate", &json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}));
    assert_eq!(status, 400);
    assert!(body
        .as_str()
        .unwrap()
        .starts_with("unsupported admission.k8s.io/v1beta1 AdmissionReview"));
    let (status, _) = webhook.post(
        "/validate",
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
    );
    assert_eq!(status, 400);
    // A request whose object is not a pod is refused, not passed.
    let (status, body) = webhook.post("/validate", &pod_review("bad", "ml", &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": "x"}})));
    assert_eq!(status, 200);
    assert_eq!(body["response"]["allowed"], false);
    assert_eq!(body["response"]["status"]["code"], 400);
    // Health, readiness, metrics.
    assert_eq!(webhook.text("/healthz"), "ok");
    assert_eq!(webhook.status("/readyz"), 200);
    let metrics = webhook.text("/metrics");
    assert!(
        metrics.contains("palisade_webhook_requests_total{webhook=\"validate\",code=\"413\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("palisade_webhook_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn certificates_are_reloaded_when_rotated() {
    let webhook = Webhook::start(CONFIG, &["--cert-reload-ms", "200"]);
    let old_ca = webhook.dir.path().join("old-ca.crt");
    std::fs::copy(webhook.ca(), &old_ca).unwrap();
    assert_eq!(
        client_trusting(&old_ca)
            .get(webhook.url("/healthz"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    // Rotate: a new CA and certificate written over the same files.
    make_certs(webhook.dir.path());
    let new_client = client_trusting(&webhook.ca());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if new_client.get(webhook.url("/healthz")).send().is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served within 10 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        client_trusting(&old_ca)
            .get(webhook.url("/healthz"))
            .send()
            .is_err(),
        "the old certificate is still served"
    );
    let metrics = new_client
        .get(webhook.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("palisade_webhook_tls_reloads_total 1"),
        "{metrics}"
    );
}

/// A body that arrives slowly, so the request is in flight when SIGTERM arrives.
struct SlowBody {
    parts: Vec<Vec<u8>>,
    delay: Duration,
}

impl std::io::Read for SlowBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.parts.is_empty() {
            return Ok(0);
        }
        std::thread::sleep(self.delay);
        let part = self.parts.remove(0);
        buf[..part.len()].copy_from_slice(&part);
        Ok(part.len())
    }
}

#[test]
fn shutdown_finishes_requests_in_flight() {
    let mut webhook = Webhook::start(CONFIG, &[]);
    let body = serde_json::to_vec(&pod_review("inflight", "ml", &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}))).unwrap();
    let half = body.len() / 2;
    let parts = vec![body[..half].to_vec(), body[half..].to_vec()];
    let client = webhook.client();
    let url = webhook.url("/validate");
    let length = body.len() as u64;
    let in_flight = std::thread::spawn(move || {
        let body = reqwest::blocking::Body::sized(
            SlowBody {
                parts,
                delay: Duration::from_millis(700),
            },
            length,
        );
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().unwrap(),
        )
    });
    std::thread::sleep(Duration::from_millis(1000));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(webhook.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["response"]["uid"], "inflight");
    let exit = webhook.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    // Nothing listens any more.
    assert!(client_trusting(&webhook.ca())
        .get(webhook.url("/healthz"))
        .send()
        .is_err());
}

#[test]
fn a_request_slower_than_the_deadline_is_cut_off() {
    let webhook = Webhook::start(CONFIG, &["--deadline-ms", "500"]);
    let body = serde_json::to_vec(&pod_review("slow", "ml", &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}))).unwrap();
    let half = body.len() / 2;
    let length = body.len() as u64;
    let slow = SlowBody {
        parts: vec![body[..half].to_vec(), body[half..].to_vec()],
        delay: Duration::from_millis(1500),
    };
    let response = webhook
        .client()
        .post(webhook.url("/validate"))
        .header("content-type", "application/json")
        .body(reqwest::blocking::Body::sized(slow, length))
        .send();
    // Either the server answers 408 or it closes the connection on the late body; never 200.
    if let Ok(response) = response {
        assert_eq!(response.status().as_u16(), 408);
    }
    // And it keeps serving.
    assert_eq!(webhook.status("/healthz"), 200);
}

fn small_pod_review(uid: &str) -> Value {
    pod_review(
        uid,
        "ml",
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )
}

/// Connections that trickle their headers, never start TLS, sit idle after a response, or open
/// HTTP/2 and send no request are all closed within their timeouts, and while they are held the
/// webhook keeps answering others at once.
#[test]
fn hardening_07_slow_headers_are_cut_off_and_do_not_block_others() {
    use std::io::Write as _;
    let timeout = Duration::from_millis(1500);
    let webhook = Webhook::start(
        CONFIG,
        &[
            "--header-timeout-ms",
            "1500",
            "--tls-handshake-timeout-ms",
            "1500",
        ],
    );
    let (addr, ca) = (webhook.addr.clone(), webhook.ca());
    // Slowloris: a request head that grows by one header every 200 ms and never ends.
    let trickles: Vec<_> = (0..16)
        .map(|i| {
            let (addr, ca) = (addr.clone(), ca.clone());
            std::thread::spawn(move || {
                let mut tls = raw_tls(&addr, &ca, b"http/1.1");
                let start = Instant::now();
                tls.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\n")
                    .unwrap();
                let mut n = 0;
                loop {
                    let socket = tls.sock.try_clone().unwrap();
                    if closed_within(&mut tls, &socket, Duration::from_millis(200)) {
                        return start.elapsed();
                    }
                    if tls
                        .write_all(format!("X-Slow-{i}-{n}: y\r\n").as_bytes())
                        .is_err()
                    {
                        return start.elapsed();
                    }
                    n += 1;
                    assert!(start.elapsed() < Duration::from_secs(20), "never closed");
                }
            })
        })
        .collect();
    // A TCP connection that never starts TLS.
    let mut silent = std::net::TcpStream::connect(&addr).unwrap();
    let silent_start = Instant::now();
    // A kept-alive HTTP/1.1 connection left idle after one response.
    let mut idle = raw_tls(&addr, &ca, b"http/1.1");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut response = [0u8; 512];
    let n = std::io::Read::read(&mut idle, &mut response).unwrap();
    assert!(response[..n].starts_with(b"HTTP/1.1 200"));
    let idle_start = Instant::now();
    // An HTTP/2 connection that sends its preface and settings and then no request.
    let mut h2 = raw_tls(&addr, &ca, b"h2");
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .unwrap();
    let h2_start = Instant::now();

    // Meanwhile, others are answered at once.
    for i in 0..10 {
        let start = Instant::now();
        let (status, body) = webhook.post("/validate", &small_pod_review(&format!("u{i}")));
        assert_eq!(status, 200);
        assert_eq!(body["response"]["uid"], format!("u{i}"));
        assert!(
            start.elapsed() < Duration::from_millis(1000),
            "a request waited {:?} behind slow connections",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let bound = timeout + Duration::from_secs(3);
    let socket = silent.try_clone().unwrap();
    assert!(
        closed_within(&mut silent, &socket, bound),
        "a connection without a TLS handshake was held"
    );
    assert!(silent_start.elapsed() >= timeout - Duration::from_millis(200));
    let socket = idle.sock.try_clone().unwrap();
    assert!(
        closed_within(&mut idle, &socket, bound),
        "an idle kept-alive connection was held"
    );
    assert!(idle_start.elapsed() >= timeout - Duration::from_millis(200));
    let socket = h2.sock.try_clone().unwrap();
    assert!(
        closed_within(&mut h2, &socket, bound),
        "an HTTP/2 connection without a request was held"
    );
    assert!(h2_start.elapsed() >= timeout - Duration::from_millis(200));
    for trickle in trickles {
        let held = trickle.join().unwrap();
        assert!(
            held >= timeout - Duration::from_millis(200) && held < bound,
            "a trickling connection was held {held:?}"
        );
    }
    // And it still serves.
    assert_eq!(webhook.status("/healthz"), 200);
}

/// Beyond --max-connections, a connection waits (in the listen backlog) for one to close: it is
/// served once the held ones time out, not refused and not held in memory.
#[test]
fn hardening_07_connections_beyond_the_cap_wait_for_a_slot() {
    let webhook = Webhook::start(
        CONFIG,
        &[
            "--max-connections",
            "3",
            "--tls-handshake-timeout-ms",
            "1500",
        ],
    );
    let held: Vec<_> = (0..3)
        .map(|_| std::net::TcpStream::connect(&webhook.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let (status, body) = webhook.post("/validate", &small_pod_review("after-cap"));
    assert_eq!(status, 200);
    assert_eq!(body["response"]["uid"], "after-cap");
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "served at once despite the cap: {:?}",
        start.elapsed()
    );
    drop(held);
}

/// A second webhook on a port that one already serves exits 2, naming the address; the first
/// keeps answering every request.
#[test]
fn hardening_07_a_second_webhook_on_the_same_port_is_refused() {
    let webhook = Webhook::start(CONFIG, &[]);
    let config = webhook.dir.path().join("palisade.yaml");
    let mut second = command(webhook.dir.path(), &webhook.addr)
        .args(["--namespaces", "config", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second webhook is still running on {}", webhook.addr);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {}", webhook.addr)) && stderr.contains("in use"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    // Every request, each on a new connection, reaches the first.
    for i in 0..30 {
        let response = client_trusting(&webhook.ca())
            .post(webhook.url("/validate"))
            .json(&small_pod_review(&format!("first-{i}")))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body: Value = response.json().unwrap();
        assert_eq!(body["response"]["uid"], format!("first-{i}"));
    }
    let metrics = webhook.text("/metrics");
    assert!(
        metrics.contains("palisade_webhook_requests_total{webhook=\"validate\",code=\"200\"} 30"),
        "{metrics}"
    );
}

/// Asserts that `events` are a response with `status` whose stream is ended, and that any reset
/// comes after it and is NO_ERROR ("stop sending"), never CANCEL in place of the response.
fn assert_answered(events: &[H2Event], status: u16) {
    assert_eq!(events.first(), Some(&H2Event::Status(status)), "{events:?}");
    let end = events
        .iter()
        .position(|e| *e == H2Event::End)
        .unwrap_or_else(|| panic!("the response is not complete: {events:?}"));
    for (i, event) in events.iter().enumerate() {
        if let H2Event::Reset(code) = event {
            assert!(*code == 0 && i > end, "{events:?}");
        }
    }
}

/// Reads an HTTP/1.1 response's status line from a raw connection.
fn http1_status(tls: &mut webhook_support::RawTls) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        let n = std::io::Read::read(tls, &mut byte).unwrap();
        assert_eq!(n, 1, "closed before a status line: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap().trim().to_owned()
}

/// A body over --body-limit is answered 413 over HTTP/2 as over HTTP/1.1, whether its length is
/// declared or not, while the client is still sending it (past the flow-control windows).
#[test]
fn hardening_07_an_oversize_body_is_413_over_http2_too() {
    use std::io::Write as _;
    let webhook = Webhook::start(CONFIG, &["--body-limit", "65536"]);
    // Declared length, 8 MiB: far past HTTP/2's 1 MiB windows, so the client is blocked sending.
    let big = vec![b' '; 8 * 1024 * 1024];
    for (client, version) in [
        (http2_client(&webhook.ca()), reqwest::Version::HTTP_2),
        (http1_client(&webhook.ca()), reqwest::Version::HTTP_11),
    ] {
        let declared = client
            .post(webhook.url("/validate"))
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .unwrap_or_else(|e| panic!("{version:?}: {e:?}"));
        assert_eq!(declared.version(), version);
        assert_eq!(declared.status().as_u16(), 413, "{version:?}");
        assert_eq!(
            declared.text().unwrap(),
            "request body larger than 65536 bytes"
        );
        // The client goes on working.
        let response = client
            .post(webhook.url("/validate"))
            .json(&small_pod_review("after-413"))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    // Undeclared length over HTTP/2: 80 KiB sent, the stream left open.
    let mut h2 = RawH2::connect(&webhook.addr, &webhook.ca());
    h2.post(1, "/mutate");
    h2.data(1, 80 * 1024, false);
    assert_answered(&h2.events(1, Duration::from_millis(500)), 413);
    // Chunked over HTTP/1.1.
    let mut h1 = raw_tls(&webhook.addr, &webhook.ca(), b"http/1.1");
    h1.write_all(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    for _ in 0..5 {
        h1.write_all(b"4000\r\n").unwrap();
        h1.write_all(&[b' '; 0x4000]).unwrap();
        h1.write_all(b"\r\n").unwrap();
    }
    assert_eq!(http1_status(&mut h1), "HTTP/1.1 413 Payload Too Large");
    let metrics = webhook.text("/metrics");
    for (hook, n) in [("validate", 2), ("mutate", 2)] {
        let line =
            format!("palisade_webhook_requests_total{{webhook=\"{hook}\",code=\"413\"}} {n}");
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}

/// Requests cut off by the deadline (408) and refused as too large (413) are in the request
/// metrics by code, and the 408 reaches the client as a response over both protocols.
#[test]
fn hardening_07_408_and_413_are_counted_in_metrics() {
    use std::io::Write as _;
    let webhook = Webhook::start(CONFIG, &["--deadline-ms", "500", "--body-limit", "65536"]);
    // HTTP/2: headers and part of the body, then nothing.
    let mut h2 = RawH2::connect(&webhook.addr, &webhook.ca());
    h2.post(1, "/validate");
    h2.data(1, 100, false);
    let start = Instant::now();
    assert_answered(&h2.events(1, Duration::from_millis(500)), 408);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // HTTP/1.1: a declared length never reached.
    let mut h1 = raw_tls(&webhook.addr, &webhook.ca(), b"http/1.1");
    h1.write_all(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{")
        .unwrap();
    assert_eq!(http1_status(&mut h1), "HTTP/1.1 408 Request Timeout");
    let response = webhook
        .client()
        .post(webhook.url("/validate"))
        .body(vec![b' '; 100_000])
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let metrics = webhook.text("/metrics");
    for line in [
        "palisade_webhook_requests_total{webhook=\"validate\",code=\"408\"} 1",
        "palisade_webhook_requests_total{webhook=\"mutate\",code=\"408\"} 1",
        "palisade_webhook_requests_total{webhook=\"validate\",code=\"413\"} 1",
        // The latency histogram counts them too.
        "palisade_webhook_request_duration_seconds_count{webhook=\"mutate\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
