//! Admission with image verification (`rules.requireSignature`, `rules.requireScan`) end to end:
//! images pushed by skopeo to a real registry on 127.0.0.1, signed and attested by the palisade
//! CLI, and AdmissionReviews sent over HTTPS to the real webhook. Each denial reason is its own
//! case; so are the digest pinning of the mutating webhook, the cache, and a registry that is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;
mod registry_support;
mod webhook_support;

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use serde_json::{json, Value};

use common::{palisade, root};
use images::Compression;
use registry_support::{skopeo_push, Registry};
use webhook_support::{pod_review, Webhook};

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
    let copied = std::process::Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .arg(format!(
            "docker://{host}/ml/iris:{}.sig",
            gzip.replace(':', "-")
        ))
        .arg(format!(
            "docker://{host}/ml/otherdigest:{}.sig",
            zstd.replace(':', "-")
        ))
        .output()
        .unwrap();
    assert!(
        copied.status.success(),
        "{}",
        String::from_utf8_lossy(&copied.stderr)
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
    let patch: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(body["response"]["patch"].as_str().expect("a patch"))
            .unwrap(),
    )
    .unwrap();
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
