//! Admission with image verification (`rules.requireSignature`, `rules.requireScan`) end to end:
//! images pushed by skopeo to a real registry on 127.0.0.1, signed and attested by the palisade
//! CLI, and AdmissionReviews sent over HTTPS to the real webhook. Each denial reason is its own
//! case; so are the digest pinning of the mutating webhook, the cache, and a registry that is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;
mod kube_api_support;
mod registry_support;
mod webhook_support;

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use serde_json::{json, Value};

use common::{palisade, root};
use images::Compression;
use kube_api_support::Reply;
use registry_support::{skopeo_push, Registry};
use webhook_support::{json_patch, pod_review, Webhook};

fn with_password(args: &[&str]) -> Output {
    palisade()
        .args(args)
        .env("PALISADE_PASSWORD", "pw")
        .output()
        .unwrap()
}

fn ok(output: Output) -> Output {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The manifest digest of the image in an OCI layout written by `images::write_oci_dir`.
fn manifest_digest(oci: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

fn pod(image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "iris", "labels": {"app": "iris"}},
        "spec": {"containers": [{"name": "server", "image": image}]}
    })
}

fn config(host: &str, public: &Path, max_age: &str, extra: &str) -> String {
    format!(
        "podSecurity:\n  level: privileged\nrules:\n  requireSignature: {{}}\n  requireScan: {{maxSeverity: high, maxAge: {max_age}}}\nimageVerification:\n  plainHttpRegistries: [\"{host}\"]\n  trust:\n    - images: [\"{host}/ml\"]\n      namespaces: [\"ml-*\"]\n      keys: [\"{key}\"]\n{extra}",
        key = public.display(),
    )
}

/// Sends a pod review to `/validate`: (allowed, message, warnings).
fn admit(webhook: &Webhook, namespace: &str, image: &str) -> (bool, String, Vec<String>) {
    let (status, body) = webhook.post("/validate", &pod_review("uid-1", namespace, &pod(image)));
    assert_eq!(status, 200, "{body:#}");
    let response = &body["response"];
    let warnings = response["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect();
    (
        response["allowed"].as_bool().unwrap(),
        response["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        warnings,
    )
}

fn assert_denied(webhook: &Webhook, image: &str, reason: &str) {
    let (allowed, message, _) = admit(webhook, "ml-iris", image);
    assert!(!allowed, "{image} was admitted");
    assert!(
        message.starts_with("pods \"iris\" is forbidden: images not verified: image"),
        "{message}"
    );
    assert!(message.contains(reason), "{image}: {message}");
}

#[test]
fn admits_only_signed_and_scanned_images_and_says_why_not() {
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let dir = |name: &str| work.path().join(name);
    // Two distinct images (their layers differ in compression, so their digests differ).
    for (name, compression) in [("gzip", Compression::Gzip), ("zstd", Compression::Zstd)] {
        images::write_oci_dir(&dir(name), &images::build(&[compression]));
    }
    let (gzip, zstd) = (manifest_digest(&dir("gzip")), manifest_digest(&dir("zstd")));
    for (repo, source) in [
        ("iris", "gzip"),
        ("unsigned", "gzip"),
        ("wrongkey", "gzip"),
        ("tampered", "zstd"),
        ("otherdigest", "zstd"),
        ("noatt", "zstd"),
        ("critical", "zstd"),
    ] {
        skopeo_push(&dir(source), &format!("{host}/ml/{repo}:1"));
    }
    let db = dir("db");
    ok(palisade()
        .args(["db", "import"])
        .arg(root().join("../shared/vulndata/pypa-advisories/vulns"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap());
    for signer in ["signer", "other"] {
        ok(with_password(&[
            "key",
            "generate",
            "--out",
            dir(signer).to_str().unwrap(),
        ]));
    }
    let (key, other_key, public) = (dir("signer.key"), dir("other.key"), dir("signer.pub"));
    let image = |repo: &str| format!("{host}/ml/{repo}:1");
    let sign = |repo: &str, key: &Path| {
        ok(with_password(&[
            "sign",
            &image(repo),
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ]))
    };
    let attest = |repo: &str, how: &[&str]| {
        let mut args = vec![
            "attest".to_owned(),
            image(repo),
            "--key".into(),
            key.display().to_string(),
            "--plain-http".into(),
        ];
        args.extend(how.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(with_password(&args))
    };
    for repo in ["iris", "tampered", "noatt", "critical"] {
        sign(repo, &key);
    }
    sign("wrongkey", &other_key);
    let scan = ["--scan", "--db", db.to_str().unwrap()];
    attest("iris", &scan);
    attest("tampered", &scan);
    attest("otherdigest", &scan);
    let critical = dir("critical.json");
    std::fs::write(
        &critical,
        r#"{"findings": [{"id": "CVE-2099-1", "severity": "critical"}], "models": []}"#,
    )
    .unwrap();
    attest("critical", &["--scan-json", critical.to_str().unwrap()]);
    // otherdigest (zstd) gets iris's signature manifest, which signs the gzip digest.
    registry_support::skopeo_copy(
        &format!("docker://{host}/ml/iris:{}.sig", gzip.replace(':', "-")),
        &format!(
            "docker://{host}/ml/otherdigest:{}.sig",
            zstd.replace(':', "-")
        ),
        &[],
    );
    // tampered: the registry now serves other bytes for the signed payload.
    let client = reqwest::blocking::Client::new();
    let signature_manifest: Value = client
        .get(format!(
            "http://{host}/v2/ml/tampered/manifests/{}.sig",
            zstd.replace(':', "-")
        ))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    let payload_digest = signature_manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = registry.blob_path(payload_digest);
    let original = std::fs::read_to_string(&blob).unwrap();
    assert!(original.contains(&zstd));
    std::fs::write(&blob, original.replace("ml/tampered", "ml/tampereD")).unwrap();

    let webhook = Webhook::start(&config(&host, &public, "1d", ""), &[]);

    // Signed by the trusted key, attested, findings no worse than high: admitted.
    let (allowed, message, _) = admit(&webhook, "ml-iris", &image("iris"));
    assert!(allowed, "{message}");
    // By digest too.
    let (allowed, message, _) = admit(&webhook, "ml-iris", &format!("{host}/ml/iris@{gzip}"));
    assert!(allowed, "{message}");

    // Each denial with its own reason.
    assert_denied(&webhook, &image("unsigned"), "no signature");
    assert_denied(
        &webhook,
        &image("wrongkey"),
        "the signature does not verify with a trusted key",
    );
    assert_denied(&webhook, &image("tampered"), "tampered payload");
    assert_denied(
        &webhook,
        &image("otherdigest"),
        &format!("the signature is for another digest ({gzip}, the image is {zstd})"),
    );
    assert_denied(&webhook, &image("noatt"), "no attestation");
    assert_denied(
        &webhook,
        &image("critical"),
        "the scan found critical (CVE-2099-1), above high",
    );
    assert_denied(&webhook, &format!("{host}/ml/iris:nosuchtag"), "404");
    let (allowed, message, _) = admit(&webhook, "web", &image("iris"));
    assert!(!allowed);
    assert!(
        message.contains(
            "no key in imageVerification.trust is trusted for this image in namespace \"web\""
        ),
        "{message}"
    );
    let (allowed, message, _) = admit(&webhook, "ml-iris", "docker.io/library/redis:7");
    assert!(!allowed);
    assert!(
        message.contains("no key in imageVerification.trust"),
        "{message}"
    );

    // The mutating webhook pins the tag to the digest that was verified.
    let (status, body) = webhook.post(
        "/mutate",
        &pod_review("uid-2", "ml-iris", &pod(&image("iris"))),
    );
    assert_eq!(status, 200);
    let patch = json_patch(&body);
    assert!(
        patch.as_array().unwrap().contains(&json!({
            "op": "replace",
            "path": "/spec/containers/0/image",
            "value": format!("{host}/ml/iris:1@{gzip}"),
        })),
        "{patch:#}"
    );

    // A stale attestation, for a policy that wants scans no older than a second.
    let strict = Webhook::start(&config(&host, &public, "1s", ""), &[]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_denied(&strict, &image("iris"), "stale: the scan finished");

    // The registry goes down. The warm cache still answers for what it verified...
    registry.stop();
    let (allowed, message, _) = admit(&webhook, "ml-iris", &image("iris"));
    assert!(allowed, "cached verdict: {message}");
    let metrics = webhook.text("/metrics");
    for outcome in ["cached", "verified", "denied"] {
        assert!(
            metrics.contains(&format!(
                "palisade_webhook_image_verifications_total{{outcome=\"{outcome}\"}}"
            )),
            "{metrics}"
        );
    }
    // ...a cold server fails closed, with the reason...
    let cold = Webhook::start(&config(&host, &public, "1d", ""), &[]);
    assert_denied(&cold, &image("iris"), "cannot be verified: registry:");
    let (_, message, _) = admit(&cold, "ml-iris", &image("iris"));
    assert!(message.contains("cannot reach the registry"), "{message}");
    // ...unless configured to fail open, which admits with a warning.
    let open = Webhook::start(
        &config(&host, &public, "1d", "  onRegistryError: allow\n"),
        &[],
    );
    let (allowed, _, warnings) = admit(&open, "ml-iris", &image("iris"));
    assert!(allowed);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("allowed because imageVerification.onRegistryError is allow"),
        "{warnings:?}"
    );
}

#[test]
fn configuration_errors_name_the_key() {
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("palisade.yaml");
    std::fs::write(
        &config,
        "rules:\n  requireSignature: {}\nimageVerification:\n  trust:\n    - images: [r.example/ml]\n      keys: [missing.pub]\n",
    )
    .unwrap();
    let output = palisade()
        .args([
            "webhook",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            "x",
            "--tls-key",
            "y",
            "--config",
        ])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("palisade.yaml:6")
            && stderr.contains("imageVerification.trust[0].keys[0]: cannot read"),
        "{stderr}"
    );
    std::fs::write(&config, "rules:\n  requireScan: {maxSeverity: severe}\n").unwrap();
    let output = palisade()
        .args(["audit", "--config"])
        .arg(&config)
        .arg(root().join("examples"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rules.requireScan.maxSeverity"), "{stderr}");
}

/// The Kubernetes API with recorded responses: an empty Namespace list and an idle watch (the
/// namespace cache), and the Secrets in `secrets` by name in `ml-iris`.
fn kube_api(secrets: Vec<(String, String)>) -> String {
    kube_api_support::serve(move |path| {
        if path.contains("watch=") {
            Reply::Watch(String::new())
        } else if path.starts_with("/api/v1/namespaces?") || path == "/api/v1/namespaces" {
            Reply::Json(
                "200 OK",
                r#"{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[]}"#.to_owned(),
            )
        } else if let Some(name) = path.strip_prefix("/api/v1/namespaces/ml-iris/secrets/") {
            match secrets.iter().find(|(n, _)| n == name) {
                Some((_, body)) => Reply::Json("200 OK", body.clone()),
                None => kube_api_support::not_found("secrets", name),
            }
        } else {
            kube_api_support::not_found("path", path)
        }
    })
}

#[test]
fn registry_credentials_come_from_pull_secrets_or_a_mounted_docker_config() {
    let work = tempfile::tempdir().unwrap();
    let (registry, port) =
        registry_support::start_registry_with_password(work.path(), "ci", "s3cret");
    let _registry = KillOnDrop(registry);
    let host = format!("127.0.0.1:{port}");
    images::write_oci_dir(
        &work.path().join("oci"),
        &images::build(&[Compression::Gzip]),
    );
    registry_support::skopeo_copy(
        &format!("oci:{}:app", work.path().join("oci").display()),
        &format!("docker://{host}/ml/iris:1"),
        &["--dest-creds", "ci:s3cret"],
    );
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
    let docker_config = work.path().join("config.json");
    let docker_config_text = format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#);
    std::fs::write(&docker_config, &docker_config_text).unwrap();
    let prefix = work.path().join("signer");
    ok(with_password(&[
        "key",
        "generate",
        "--out",
        prefix.to_str().unwrap(),
    ]));
    let key = work.path().join("signer.key");
    let public = work.path().join("signer.pub");
    let image = format!("{host}/ml/iris:1");
    for (command, extra) in [("sign", &[][..]), ("attest", &["--scan-json", "-"][..])] {
        let mut args = vec![
            command,
            image.as_str(),
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
            "--docker-config",
            docker_config.to_str().unwrap(),
        ];
        let report = work.path().join("clean.json");
        // A clean report as `scan image -f json` writes it, model scan included.
        std::fs::write(
                &report,
                r#"{"findings": [], "models": [], "modelScan": {"imagePaths": ["/models"], "allowedGlobals": []}}"#,
            )
            .unwrap();
        if !extra.is_empty() {
            args.extend(["--scan-json", report.to_str().unwrap()]);
        }
        ok(with_password(&args));
    }

    // The pull secret, as the API server returns it.
    let engine = base64::engine::general_purpose::STANDARD;
    let secret = format!(
        r#"{{"kind":"Secret","apiVersion":"v1","metadata":{{"name":"regcred","namespace":"ml-iris","uid":"0b1f6a52-6f54-4c36-9d43-6f1e2a3b4c5d","resourceVersion":"4242","creationTimestamp":"2026-11-27T08:00:00Z"}},"data":{{".dockerconfigjson":"{}"}},"type":"kubernetes.io/dockerconfigjson"}}"#,
        engine.encode(&docker_config_text)
    );
    let api = kube_api(vec![("regcred".into(), secret)]);
    let dir = tempfile::tempdir().unwrap();
    webhook_support::make_certs(dir.path());
    let config_path = dir.path().join("palisade.yaml");
    std::fs::write(&config_path, config(&host, &public, "1d", "")).unwrap();
    let config_arg = config_path.display().to_string();
    let webhook = Webhook::start_with(
        &[
            "--namespaces",
            "cluster",
            "--kube-api-url",
            &api,
            "--config",
            &config_arg,
        ],
        dir,
    );
    let with_secrets = |names: &[&str]| {
        let mut pod = pod(&image);
        pod["spec"]["imagePullSecrets"] =
            json!(names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>());
        let (status, body) = webhook.post("/validate", &pod_review("uid-3", "ml-iris", &pod));
        assert_eq!(status, 200);
        (
            body["response"]["allowed"].as_bool().unwrap(),
            body["response"]["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    // Without credentials the registry refuses; the kubelet skips a pull secret it cannot read,
    // and so does verification. (Refusals have no digest, so nothing is cached.)
    let (allowed, message) = with_secrets(&["missing"]);
    assert!(!allowed);
    assert!(
        message.contains("the registry wants credentials"),
        "{message}"
    );
    let (allowed, message) = with_secrets(&[]);
    assert!(!allowed, "{message}");
    let (allowed, message) = with_secrets(&["missing", "regcred"]);
    assert!(allowed, "{message}");

    // A mounted Docker config serves every namespace.
    let mounted = Webhook::start(
        &config(
            &host,
            &public,
            "1d",
            &format!("  dockerConfig: \"{}\"\n", docker_config.display()),
        ),
        &[],
    );
    let (allowed, message, _) = admit(&mounted, "ml-iris", &image);
    assert!(allowed, "{message}");
}

/// Stops a child process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_registry_that_never_answers_costs_a_bounded_denial() {
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let work = tempfile::tempdir().unwrap();
    let prefix = work.path().join("signer");
    ok(with_password(&[
        "key",
        "generate",
        "--out",
        prefix.to_str().unwrap(),
    ]));
    let webhook = Webhook::start(
        &config(
            &host,
            &work.path().join("signer.pub"),
            "1d",
            "  timeout: 1s\n  maxConcurrent: 1\n",
        ),
        &[],
    );
    // Three images at once through one verification slot: each answered within its timeout,
    // while the server keeps serving.
    let answers: Vec<(bool, String, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let webhook = &webhook;
                let host = &host;
                scope.spawn(move || admit(webhook, "ml-iris", &format!("{host}/ml/model-{i}:1")))
            })
            .collect();
        assert_eq!(webhook.status("/healthz"), 200);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (allowed, message, _) in answers {
        assert!(!allowed);
        assert!(
            message.contains("cannot be verified: verification did not finish within 1s (imageVerification.timeout)"),
            "{message}"
        );
    }
}
