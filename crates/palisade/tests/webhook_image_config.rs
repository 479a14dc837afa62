//! `rules.ldPreload` at admission for what a container inherits from its image (issue 16, item
//! 5): the real `palisade webhook` over HTTPS reads each image's configuration from a real
//! registry on 127.0.0.1, by digest, and applies the rule in its mode; a container whose env sets
//! `LD_PRELOAD` (even to an empty value) overrides the image's, as the runtime does; a registry
//! that cannot be reached denies under enforce.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;
mod registry_support;
mod webhook_support;

use std::path::Path;

use serde_json::{json, Value};

use images::{Built, Compression, Item};
use registry_support::{skopeo_push, Registry};
use webhook_support::{pod_review, review, Webhook};

const HOOK: &str = "/usr/lib/x86_64-linux-gnu/libhook.so";

/// A one-layer image whose configuration's `Env` is `env`.
fn image(env: &[&str]) -> Built {
    images::build_configured(
        &[vec![Item::File(
            "srv/app.py".into(),
            b"print('hi')\n".to_vec(),
        )]],
        &[Compression::Gzip],
        None,
        json!({"User": "65532", "Env": env, "Cmd": ["python3", "/srv/app.py"]}),
    )
}

fn push(work: &Path, built: &Built, destination: &str) {
    let oci = work.join(built.manifest.0.replace(':', "-"));
    if !oci.exists() {
        images::write_oci_dir(&oci, built);
    }
    skopeo_push(&oci, destination);
}

fn pod(container: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "llm"},
        "spec": {"containers": [container]}})
}

fn server(image: &str) -> Value {
    pod(json!({"name": "server", "image": image}))
}

/// The `response` of a `/validate` answer.
fn validate(webhook: &Webhook, uid: &str, object: &Value) -> Value {
    let (status, body) = webhook.post("/validate", &pod_review(uid, "serving", object));
    assert_eq!(status, 200, "{body:#}");
    body["response"].clone()
}

fn config(host: &str, mode: &str) -> String {
    format!(
        "podSecurity:\n  level: privileged\nrules:\n  ldPreload: {{mode: {mode}}}\nimageVerification:\n  plainHttpRegistries: [\"{host}\"]\n"
    )
}

#[test]
fn an_image_whose_configuration_sets_ld_preload_is_judged_by_the_rules_mode() {
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let preload = image(&[
        "PATH=/usr/local/bin:/usr/bin:/bin",
        &format!("LD_PRELOAD={HOOK}"),
    ]);
    let clean = image(&["PATH=/usr/local/bin:/usr/bin:/bin"]);
    let (preload_digest, clean_digest) = (preload.manifest.0.clone(), clean.manifest.0.clone());
    push(work.path(), &preload, &format!("{host}/ml/preload:1"));
    push(work.path(), &clean, &format!("{host}/ml/clean:1"));
    push(work.path(), &clean, &format!("{host}/ml/clean:2"));
    // The same repository also holds the preloading image, under another tag.
    push(work.path(), &preload, &format!("{host}/ml/clean:old"));

    let enforce = Webhook::start(&config(&host, "enforce"), &[]);
    let warn = Webhook::start(&config(&host, "warn"), &[]);

    // Enforce: denied, naming the container, the image and its digest, the value and the fix.
    let response = validate(&enforce, "e1", &server(&format!("{host}/ml/preload:1")));
    assert_eq!(response["allowed"], false, "{response:#}");
    assert_eq!(response["status"]["code"], 403);
    assert_eq!(
        response["status"]["message"],
        format!(
            "pods \"llm\" is forbidden: violates palisade rules: LD_PRELOAD set in the image configuration (container \"server\" runs image \"{host}/ml/preload:1\" ({preload_digest}), whose configuration sets LD_PRELOAD={HOOK}) (to fix palisade/ld-preload: {})",
            palisade_policy::image_config::IMAGE_LD_PRELOAD_FIX
        )
    );

    // Warn: allowed, with the same finding as a warning.
    let response = validate(&warn, "w1", &server(&format!("{host}/ml/preload:1")));
    assert_eq!(response["allowed"], true, "{response:#}");
    let warnings = response["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{response:#}");
    assert!(
        warnings[0].as_str().unwrap().starts_with(&format!(
            "would violate palisade rules: LD_PRELOAD set in the image configuration (container \"server\" runs image \"{host}/ml/preload:1\" ({preload_digest}), whose configuration sets LD_PRELOAD={HOOK})"
        )),
        "{response:#}"
    );

    // The same image with LD_PRELOAD set to an empty value in the container's env, which the
    // runtime applies over the image's: allowed, nothing to say.
    let overridden = pod(
        json!({"name": "server", "image": format!("{host}/ml/preload:1"),
        "env": [{"name": "LD_PRELOAD", "value": ""}]}),
    );
    for webhook in [&enforce, &warn] {
        let response = validate(webhook, "o1", &overridden);
        assert_eq!(response["allowed"], true, "{response:#}");
        assert!(response.get("warnings").is_none(), "{response:#}");
    }

    // An image without it: allowed, nothing to say.
    let response = validate(&enforce, "c1", &server(&format!("{host}/ml/clean:1")));
    assert_eq!(response["allowed"], true, "{response:#}");
    assert!(response.get("warnings").is_none(), "{response:#}");

    // What is read is what the digest names, whatever the tag says: a reference whose tag
    // holds the clean image but whose digest is the preloading one is denied (the runtime pulls
    // the digest).
    let response = validate(
        &enforce,
        "d1",
        &server(&format!("{host}/ml/clean:1@{preload_digest}")),
    );
    assert_eq!(response["allowed"], false, "{response:#}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("sets LD_PRELOAD={HOOK}")),
        "{message}"
    );
    // The clean digest in a repository that does not hold it: unreadable, so denied; in one that
    // does, whatever its tag: allowed.
    let response = validate(
        &enforce,
        "d2",
        &server(&format!("{host}/ml/preload:1@{clean_digest}")),
    );
    assert_eq!(response["allowed"], false, "{response:#}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("image configuration not read, which rules.ldPreload needs"),
        "{message}"
    );
    let response = validate(
        &enforce,
        "d3",
        &server(&format!("{host}/ml/clean:old@{clean_digest}")),
    );
    assert_eq!(response["allowed"], true, "{response:#}");

    // A Deployment is warned about (podSecurity.workloads: warn, the default), as for every rule.
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm"},
        "spec": {"template": {"spec": {"containers": [{"name": "server", "image": format!("{host}/ml/preload:1")}]}}}});
    let (_, body) = enforce.post(
        "/validate",
        &review(
            "dep1",
            "CREATE",
            "apps",
            "Deployment",
            "deployments",
            "serving",
            &deployment,
        ),
    );
    assert_eq!(body["response"]["allowed"], true, "{body:#}");
    assert!(
        body["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains(&format!("sets LD_PRELOAD={HOOK}")),
        "{body:#}"
    );

    // The registry goes away. A digest already read is still judged (from the cache, by
    // digest); an image not read before cannot be, which enforce denies with the reason and warn
    // reports.
    registry.stop();
    let response = validate(
        &enforce,
        "r1",
        &server(&format!("{host}/ml/preload@{preload_digest}")),
    );
    assert_eq!(response["allowed"], false, "{response:#}");
    assert!(
        response["status"]["message"]
            .as_str()
            .unwrap()
            .contains(&format!("sets LD_PRELOAD={HOOK}")),
        "{response:#}"
    );
    let response = validate(&enforce, "r2", &server(&format!("{host}/ml/clean:2")));
    assert_eq!(response["allowed"], false, "{response:#}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "pods \"llm\" is forbidden: violates palisade rules: image configuration not read, which rules.ldPreload needs (image \"{host}/ml/clean:2\" of container \"server\": "
        )),
        "{message}"
    );
    let response = validate(&warn, "r3", &server(&format!("{host}/ml/clean:2")));
    assert_eq!(response["allowed"], true, "{response:#}");
    assert!(
        response["warnings"][0]
            .as_str()
            .unwrap()
            .contains("image configuration not read"),
        "{response:#}"
    );
}

#[test]
fn every_platform_of_an_index_is_read() {
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let clean = image(&["PATH=/usr/bin:/bin"]);
    let preload = image(&["PATH=/usr/bin:/bin", &format!("LD_PRELOAD={HOOK}")]);
    push(work.path(), &clean, &format!("{host}/ml/multi:amd64"));
    push(work.path(), &preload, &format!("{host}/ml/multi:arm64"));
    let entry = |built: &Built, os: &str, architecture: &str| {
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": built.manifest.0, "size": built.manifest.1.len(),
            "platform": {"os": os, "architecture": architecture}})
    };
    let put_index = |tag: &str, manifests: Vec<Value>| {
        let index = json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        let response = reqwest::blocking::Client::new()
            .put(format!("http://{host}/v2/ml/multi/manifests/{tag}"))
            .header("Content-Type", "application/vnd.oci.image.index.v1+json")
            .body(serde_json::to_vec(&index).unwrap())
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{:?}", response.text());
    };
    put_index(
        "1",
        vec![
            entry(&clean, "linux", "amd64"),
            entry(&preload, "linux", "arm64"),
        ],
    );
    // The preloading image only as an attestation-style entry (unknown/unknown), never run.
    put_index(
        "2",
        vec![
            entry(&clean, "linux", "amd64"),
            entry(&preload, "unknown", "unknown"),
        ],
    );
    let webhook = Webhook::start(&config(&host, "enforce"), &[]);
    let response = validate(&webhook, "i1", &server(&format!("{host}/ml/multi:1")));
    assert_eq!(response["allowed"], false, "{response:#}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("sets LD_PRELOAD={HOOK} on linux/arm64)")),
        "{message}"
    );
    let response = validate(&webhook, "i2", &server(&format!("{host}/ml/multi:2")));
    assert_eq!(response["allowed"], true, "{response:#}");
}

#[test]
fn signatures_and_configurations_are_checked_together() {
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let preload = image(&[&format!("LD_PRELOAD={HOOK}")]);
    let clean = image(&["PATH=/usr/bin:/bin"]);
    push(work.path(), &preload, &format!("{host}/ml/preload:1"));
    push(work.path(), &clean, &format!("{host}/ml/clean:1"));
    push(work.path(), &clean, &format!("{host}/ml/unsigned:1"));
    let keys = work.path().join("signer");
    let sign = |args: &[&str]| {
        let output = common::palisade()
            .args(args)
            .env("PALISADE_PASSWORD", "pw")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    sign(&["key", "generate", "--out", keys.to_str().unwrap()]);
    let key = work.path().join("signer.key");
    for repo in ["preload", "clean"] {
        sign(&[
            "sign",
            &format!("{host}/ml/{repo}:1"),
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ]);
    }
    let config = format!(
        "{}  requireSignature: {{}}\nimageVerification:\n  plainHttpRegistries: [\"{host}\"]\n  trust:\n    - images: [\"{host}/ml/**\"]\n      namespaces: [\"*\"]\n      keys: [\"{}\"]\n",
        "podSecurity:\n  level: privileged\nrules:\n  ldPreload: {}\n",
        work.path().join("signer.pub").display()
    );
    let webhook = Webhook::start(&config, &[]);
    // Signed and clean: admitted.
    let response = validate(&webhook, "s1", &server(&format!("{host}/ml/clean:1")));
    assert_eq!(response["allowed"], true, "{response:#}");
    // Signed, but its configuration preloads a library: denied by ldPreload.
    let response = validate(&webhook, "s2", &server(&format!("{host}/ml/preload:1")));
    assert_eq!(response["allowed"], false, "{response:#}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("pods \"llm\" is forbidden: violates palisade rules: LD_PRELOAD set in the image configuration"),
        "{message}"
    );
    // Clean but unsigned: denied by requireSignature.
    let response = validate(&webhook, "s3", &server(&format!("{host}/ml/unsigned:1")));
    assert_eq!(response["allowed"], false, "{response:#}");
    let message = response["status"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("pods \"llm\" is forbidden: images not verified"),
        "{message}"
    );
}
