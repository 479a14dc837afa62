//! Admission for models (issue 16, item 4): a pod's `image` volume (`spec.volumes[].image.reference`)
//! and a KServe predictor's `storageUri: oci://...` are checked like container images: allowed
//! registries, and signatures verified against a real registry on 127.0.0.1 through the real
//! webhook over HTTPS; the mutating webhook pins them where they are written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;
mod registry_support;
mod webhook_support;

use std::path::Path;
use std::process::Output;

use serde_json::{json, Value};

use common::palisade;
use images::Compression;
use registry_support::{skopeo_push, Registry};
use webhook_support::{json_patch, pod_review, review, Webhook};

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

fn with_password(args: &[&str]) -> Output {
    palisade()
        .args(args)
        .env("PALISADE_PASSWORD", "pw")
        .output()
        .unwrap()
}

fn manifest_digest(oci: &Path) -> String {
    let index: Value =
        serde_json::from_slice(&std::fs::read(oci.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// A pod running the signed server image and mounting `model` as an image volume.
fn pod(server: &str, model: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "iris"},
        "spec": {
            "containers": [{"name": "server", "image": server,
                "volumeMounts": [{"name": "model", "mountPath": "/models"}]}],
            "volumes": [{"name": "model", "image": {"reference": model, "pullPolicy": "IfNotPresent"}}]
        }
    })
}

/// (allowed, message) of a `/validate` answer.
fn decide(webhook: &Webhook, review: &Value) -> (bool, String) {
    let (status, body) = webhook.post("/validate", review);
    assert_eq!(status, 200, "{body:#}");
    (
        body["response"]["allowed"].as_bool().unwrap(),
        body["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
    )
}

#[test]
fn image_volumes_and_oci_storage_uris_are_verified_like_images() {
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let oci = work.path().join("oci");
    images::write_oci_dir(&oci, &images::build(&[Compression::Gzip]));
    let digest = manifest_digest(&oci);
    for repo in ["server", "models/signed", "models/unsigned"] {
        skopeo_push(&oci, &format!("{host}/ml/{repo}:1"));
    }
    let keys = work.path().join("signer");
    ok(with_password(&[
        "key",
        "generate",
        "--out",
        keys.to_str().unwrap(),
    ]));
    let key = work.path().join("signer.key");
    for repo in ["server", "models/signed"] {
        ok(with_password(&[
            "sign",
            &format!("{host}/ml/{repo}:1"),
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ]));
    }
    let config = format!(
        "podSecurity:\n  level: privileged\nrules:\n  allowedRegistries: {{registries: [\"{host}/ml\"]}}\n  requireSignature: {{}}\nimageVerification:\n  plainHttpRegistries: [\"{host}\"]\n  trust:\n    - images: [\"{host}/ml/**\"]\n      namespaces: [\"ml-*\"]\n      keys: [\"{}\"]\n",
        work.path().join("signer.pub").display()
    );
    let webhook = Webhook::start(&config, &[]);
    let server = format!("{host}/ml/server:1");

    // A signed model from the allowed registry: admitted.
    let signed = format!("{host}/ml/models/signed:1");
    let (allowed, message) = decide(
        &webhook,
        &pod_review("v1", "ml-iris", &pod(&server, &signed)),
    );
    assert!(allowed, "{message}");

    // From a registry that is not allowed: denied, naming the volume.
    let (allowed, message) = decide(
        &webhook,
        &pod_review(
            "v2",
            "ml-iris",
            &pod(&server, "evil.example.com/models/iris:1"),
        ),
    );
    assert!(!allowed);
    assert!(
        message.contains(&format!(
            "disallowed image registry (volume \"model\" must reference \"{host}/ml\", not \"evil.example.com/models/iris:1\")"
        )),
        "{message}"
    );

    // Unsigned, with requireSignature: denied.
    let unsigned = format!("{host}/ml/models/unsigned:1");
    let (allowed, message) = decide(
        &webhook,
        &pod_review("v3", "ml-iris", &pod(&server, &unsigned)),
    );
    assert!(!allowed);
    assert!(
        message.starts_with(&format!(
            "pods \"iris\" is forbidden: images not verified: image \"{unsigned}\" ({digest}) of volume \"model\": "
        )),
        "{message}"
    );
    assert!(message.contains("no signature"), "{message}");

    // A tag that does not exist cannot be verified: denied (fail closed).
    let missing = format!("{host}/ml/models/signed:nosuchtag");
    let (allowed, message) = decide(
        &webhook,
        &pod_review("v4", "ml-iris", &pod(&server, &missing)),
    );
    assert!(!allowed, "{message}");
    assert!(message.contains("of volume \"model\""), "{message}");

    // The mutating webhook pins the volume's reference to the verified digest.
    let (status, body) = webhook.post(
        "/mutate",
        &pod_review("m1", "ml-iris", &pod(&server, &signed)),
    );
    assert_eq!(status, 200);
    let patch = json_patch(&body);
    assert!(
        patch.as_array().unwrap().contains(&json!({
            "op": "replace",
            "path": "/spec/volumes/0/image/reference",
            "value": format!("{signed}@{digest}"),
        })),
        "{patch:#}"
    );

    // KServe: the predictor's storageUri oci://... is verified too.
    let isvc = |uri: &str| {
        json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "iris"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                "image": server, "storageUri": uri}}}
        })
    };
    let isvc_review = |uid: &str, uri: &str| {
        review(
            uid,
            "CREATE",
            "serving.kserve.io",
            "InferenceService",
            "inferenceservices",
            "ml-iris",
            &isvc(uri),
        )
    };
    let (allowed, message) = decide(&webhook, &isvc_review("k1", &format!("oci://{signed}")));
    assert!(allowed, "{message}");
    let (allowed, message) = decide(&webhook, &isvc_review("k2", &format!("oci://{unsigned}")));
    assert!(!allowed);
    assert!(
        message.contains(&format!(
            "image \"{unsigned}\" ({digest}) of storageUri of container \"kserve-container\""
        )),
        "{message}"
    );
}
