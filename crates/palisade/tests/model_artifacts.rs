//! OCI model artifacts (issue 16, item 4): a ModelPack artifact in a real registry on 127.0.0.1
//! is scanned by `palisade scan model oci://...`, attested by `palisade attest --model-scan`,
//! checked by `palisade verify --require-model-scan`, and at admission by `rules.requireModelScan`
//! through the real webhook over HTTPS: one AdmissionReview per outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod registry_support;
mod webhook_support;

use std::io::Write as _;
use std::process::Output;

use serde_json::{json, Value};
use sha2::Digest as _;

use common::{palisade, root};
use registry_support::{push_artifact, Registry};
use webhook_support::{pod_review, review, Webhook};

const MODEL_MANIFEST: &str = "application/vnd.cncf.model.manifest.v1+json";
const MODEL_CONFIG: &str = "application/vnd.cncf.model.config.v1+json";
const WEIGHT_RAW: &str = "application/vnd.cncf.model.weight.v1.raw";
const WEIGHT_CONFIG_TAR_GZIP: &str = "application/vnd.cncf.model.weight.config.v1.tar+gzip";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn conformance(name: &str) -> Vec<u8> {
    std::fs::read(
        root()
            .join("../shared/conformance/model/mmaitre314+picklescan/tests/data")
            .join(name),
    )
    .unwrap()
}

/// A gzipped tar holding `files` (path, content).
fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, *content).unwrap();
    }
    let mut gz = builder.into_inner().unwrap();
    gz.flush().unwrap();
    gz.finish().unwrap()
}

/// A minimal safetensors file: one F32 tensor of one element.
fn safetensors() -> Vec<u8> {
    let header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1.0f32.to_le_bytes());
    bytes
}

/// A tar whose one entry has `path` exactly as given (`..` included: the tar crate's own
/// builder refuses to write such a path).
fn hostile_tar(path: &str, content: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, content).unwrap();
    builder.into_inner().unwrap()
}

/// Pushes a ModelPack artifact: its weights as a raw layer at `weights_path`, and a tar+gzip
/// weight-config layer with config.json. Returns (manifest digest, weights layer digest).
fn push_modelpack(
    host: &str,
    repository: &str,
    tag: &str,
    weights_path: &str,
    weights: &[u8],
) -> (String, String) {
    let config = serde_json::to_vec(&json!({
        "descriptor": {"name": tag, "version": "1"},
        "config": {"format": "pickle"},
        "modelfs": {"type": "layers", "diffIds": []}
    }))
    .unwrap();
    let weight_config = tar_gz(&[("config.json", br#"{"architectures": ["Iris"]}"#)]);
    let layer = |media: &str, bytes: &[u8], path: &str| {
        json!({"mediaType": media, "digest": sha256(bytes), "size": bytes.len(),
               "annotations": {"org.cncf.model.filepath": path,
                               "org.opencontainers.image.title": path}})
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": MODEL_MANIFEST,
        "config": {"mediaType": MODEL_CONFIG, "digest": sha256(&config), "size": config.len()},
        "layers": [
            layer(WEIGHT_RAW, weights, weights_path),
            layer(WEIGHT_CONFIG_TAR_GZIP, &weight_config, "config.tar.gz"),
        ]
    });
    let digest = push_artifact(
        host,
        repository,
        tag,
        &[&config, weights, &weight_config],
        &manifest,
    );
    (digest, sha256(weights))
}

fn run(args: &[&str]) -> Output {
    palisade()
        .args(args)
        .env("PALISADE_PASSWORD", "pw")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn expect(output: Output, code: i32) -> Output {
    assert_eq!(output.status.code(), Some(code), "{}", text(&output));
    output
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

/// A pod mounting `model` as an image volume.
fn pod(server: &str, model: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "iris"},
        "spec": {
            "containers": [{"name": "server", "image": server,
                "volumeMounts": [{"name": "model", "mountPath": "/models"}]}],
            "volumes": [{"name": "model", "image": {"reference": model}}]
        }
    })
}

#[test]
fn model_artifacts_are_scanned_attested_verified_and_admitted_only_when_clean() {
    let registry = Registry::start();
    let host = registry.host();
    let repo = "ml/models/iris";
    let (clean, _) = push_modelpack(
        &host,
        repo,
        "clean",
        "model.pkl",
        &conformance("benign0_v4.pkl"),
    );
    let (evil, evil_weights) = push_modelpack(
        &host,
        repo,
        "evil",
        "model.pkl",
        &conformance("malicious0.pkl"),
    );
    let (unattested, _) = push_modelpack(
        &host,
        repo,
        "unattested",
        "weights/model.pkl",
        &conformance("benign0_v3.pkl"),
    );
    let (forged, _) = push_modelpack(
        &host,
        repo,
        "forged",
        "weights/model.pkl",
        &conformance("benign0_v0.pkl"),
    );
    let at = |digest: &str| format!("{host}/{repo}@{digest}");

    // scan model oci://: the clean artifact passes, with every layer's files in the report.
    let output = expect(
        run(&[
            "scan",
            "model",
            &format!("oci://{}", at(&clean)),
            "--plain-http",
            "-f",
            "json",
        ]),
        0,
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["digest"], clean);
    assert_eq!(report["artifact"]["kind"], "modelpack");
    let files: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["config.json", "model.pkl"], "{report:#}");
    assert_eq!(report["summary"]["dangerous"], 0, "{report:#}");
    // The malicious pickle is found, in its layer, by tag as well as by digest.
    let output = expect(
        run(&[
            "scan",
            "model",
            &format!("oci://{host}/{repo}:evil"),
            "--plain-http",
        ]),
        1,
    );
    let table = text(&output);
    assert!(
        table.contains(&format!("{host}/{repo}@{evil} (modelpack, 2 layers)")),
        "{table}"
    );
    assert!(table.contains("model/dangerous-global"), "{table}");

    // Not ModelPack: any artifact with a layer titled as a model file (an `oras push` of a
    // safetensors file) is a model artifact too.
    let weights = safetensors();
    let empty = b"{}".as_slice();
    let oras = push_artifact(
        &host,
        "ml/models/oras",
        "1",
        &[empty, &weights],
        &json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example.model",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": sha256(&weights),
                "size": weights.len(), "annotations": {"org.opencontainers.image.title": "model.safetensors"}}]
        }),
    );
    let output = expect(
        run(&[
            "scan",
            "model",
            &format!("oci://{host}/ml/models/oras@{oras}"),
            "--plain-http",
            "-f",
            "json",
        ]),
        0,
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["artifact"]["kind"], "model-files", "{report:#}");
    assert_eq!(
        report["files"][0]["path"], "model.safetensors",
        "{report:#}"
    );
    // An artifact with no model layer is not scanned as if it were clean.
    let readme = b"# notes\n".as_slice();
    push_artifact(
        &host,
        "ml/docs",
        "1",
        &[empty, readme],
        &json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example.docs",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256(empty), "size": 2},
            "layers": [{"mediaType": "text/markdown", "digest": sha256(readme), "size": readme.len(),
                "annotations": {"org.opencontainers.image.title": "README.md"}}]
        }),
    );
    let output = expect(
        run(&[
            "scan",
            "model",
            &format!("oci://{host}/ml/docs:1"),
            "--plain-http",
        ]),
        2,
    );
    assert!(
        text(&output).contains("not a model artifact"),
        "{}",
        text(&output)
    );
    // A tar layer with an entry that climbs out of the model directory: refused, at its header.
    let climbing = hostile_tar("../../etc/cron.d/model", b"* * * * * root sh\n");
    let config = b"{}".as_slice();
    push_artifact(
        &host,
        repo,
        "climbing",
        &[config, &climbing],
        &json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": MODEL_MANIFEST,
            "config": {"mediaType": MODEL_CONFIG, "digest": sha256(config), "size": 2},
            "layers": [{"mediaType": "application/vnd.cncf.model.weight.v1.tar", "digest": sha256(&climbing), "size": climbing.len()}]
        }),
    );
    let output = expect(
        run(&[
            "scan",
            "model",
            &format!("oci://{host}/{repo}:climbing"),
            "--plain-http",
        ]),
        2,
    );
    assert!(
        text(&output).contains(&format!(
            "layer {}, at byte 0: tar entry \"../../etc/cron.d/model\" leaves the model directory",
            sha256(&climbing)
        )),
        "{}",
        text(&output)
    );

    // Descriptors that lie about a blob's size: shorter than the blob (the scan stops at the
    // declared end) and absurdly large (refused before anything is read).
    let pickle = conformance("benign0_v4.pkl");
    for (tag, size, error) in [
        (
            "short",
            4u64,
            format!(
                "layer {}, at byte 4: the blob is longer than the 4 bytes its descriptor declares",
                sha256(&pickle)
            ),
        ),
        (
            "huge",
            1 << 50,
            format!(
                "layer {}, at byte 0: its descriptor declares 1125899906842624 bytes, over the limit",
                sha256(&pickle)
            ),
        ),
    ] {
        push_artifact(
            &host,
            repo,
            tag,
            &[config, &pickle],
            &json!({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": MODEL_MANIFEST,
                "config": {"mediaType": MODEL_CONFIG, "digest": sha256(config), "size": 2},
                "layers": [{"mediaType": WEIGHT_RAW, "digest": sha256(&pickle), "size": size,
                    "annotations": {"org.cncf.model.filepath": "model.pkl"}}]
            }),
        );
        let output = expect(
            run(&["scan", "model", &format!("oci://{host}/{repo}:{tag}"), "--plain-http"]),
            2,
        );
        assert!(text(&output).contains(&error), "{tag}: {}", text(&output));
    }

    // Keys; every artifact signed, so that `verify` fails only for the model scan.
    let work = tempfile::tempdir().unwrap();
    let prefix = work.path().join("ci");
    expect(
        run(&["key", "generate", "--out", prefix.to_str().unwrap()]),
        0,
    );
    let key = work.path().join("ci.key");
    let public = work.path().join("ci.pub");
    for digest in [&clean, &evil, &unattested, &forged] {
        expect(
            run(&[
                "sign",
                &at(digest),
                "--key",
                key.to_str().unwrap(),
                "--plain-http",
            ]),
            0,
        );
    }
    // attest --model-scan: the clean and the malicious artifact (an attestation states what the
    // scan found; verification judges it).
    for tag in ["clean", "evil"] {
        let output = expect(
            run(&[
                "attest",
                "--model-scan",
                &format!("{host}/{repo}:{tag}"),
                "--key",
                key.to_str().unwrap(),
                "--plain-http",
            ]),
            0,
        );
        assert!(
            text(&output).contains("attested the model scan of"),
            "{}",
            text(&output)
        );
    }
    let verify = |digest: &str| {
        run(&[
            "verify",
            &at(digest),
            "--key",
            public.to_str().unwrap(),
            "--plain-http",
            "--require-model-scan",
        ])
    };
    let output = expect(verify(&clean), 0);
    assert!(
        text(&output).contains(
            "verified: a model scan no older than 7d found nothing at or above dangerous"
        ),
        "{}",
        text(&output)
    );
    let output = expect(verify(&evil), 1);
    assert!(
        text(&output).contains("the scan found dangerous (model/dangerous-global in model.pkl)"),
        "{}",
        text(&output)
    );
    let output = expect(verify(&unattested), 1);
    assert!(
        text(&output)
            .contains("no attestation of type https://palisade.dev/attestation/model-scan/v1"),
        "{}",
        text(&output)
    );
    // A vulnerability-scan requirement is not met by a model-scan attestation.
    let output = expect(
        run(&[
            "verify",
            &at(&clean),
            "--key",
            public.to_str().unwrap(),
            "--plain-http",
            "--require-scan",
        ]),
        1,
    );
    assert!(
        text(&output)
            .contains("no attestation of type https://cosign.sigstore.dev/attestation/vuln/v1"),
        "{}",
        text(&output)
    );

    // Forged: the clean artifact's attestation copied under the forged artifact's .att tag.
    let http = reqwest::blocking::Client::new();
    let tag_of = |digest: &str| format!("{}.att", digest.replacen(':', "-", 1));
    let copied = http
        .get(format!(
            "http://{host}/v2/{repo}/manifests/{}",
            tag_of(&clean)
        ))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap();
    assert_eq!(copied.status().as_u16(), 200);
    let media = copied.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = copied.bytes().unwrap();
    let put = http
        .put(format!(
            "http://{host}/v2/{repo}/manifests/{}",
            tag_of(&forged)
        ))
        .header("content-type", media)
        .body(body.to_vec())
        .send()
        .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    let output = expect(verify(&forged), 1);
    assert!(
        text(&output).contains("the attestation is for another digest"),
        "{}",
        text(&output)
    );

    // Admission: rules.requireModelScan over HTTPS, one review per outcome.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "podSecurity:\n  level: privileged\nrules:\n  requireModelScan: {{failOn: dangerous}}\nimageVerification:\n  plainHttpRegistries: [\"{host}\", \"127.0.0.1:{dead}\"]\n  trust:\n    - images: [\"{host}/ml/**\", \"127.0.0.1:{dead}/ml/**\"]\n      namespaces: [\"ml-*\"]\n      keys: [\"{}\"]\n",
        public.display()
    );
    let webhook = Webhook::start(&config, &[]);
    let server = format!("{host}/ml/server:1");
    let admit = |uid: &str, model: &str| {
        decide(&webhook, &pod_review(uid, "ml-iris", &pod(&server, model)))
    };
    let fix = "(to fix palisade/require-model-scan: scan and attest the model artifact with `palisade attest --model-scan REF --key KEY`";

    // Clean and attested: admitted (by tag too: the tag resolves to the attested digest).
    let (allowed, message) = admit("a1", &at(&clean));
    assert!(allowed, "{message}");
    let (allowed, message) = admit("a2", &format!("{host}/{repo}:clean"));
    assert!(allowed, "{message}");
    // Attested, but the scan found a code-executing pickle: denied, naming what and how to fix.
    let (allowed, message) = admit("a3", &at(&evil));
    assert!(!allowed);
    assert!(
        message.starts_with(&format!(
            "pods \"iris\" is forbidden: images not verified: image \"{}\" of volume \"model\": model scan: ",
            at(&evil)
        )),
        "{message}"
    );
    assert!(
        message.contains(
            "the scan found dangerous (model/dangerous-global in model.pkl), at or above dangerous"
        ),
        "{message}"
    );
    assert!(message.contains(fix), "{message}");
    // No attestation: denied.
    let (allowed, message) = admit("a4", &at(&unattested));
    assert!(!allowed);
    assert!(
        message.contains("no attestation of type https://palisade.dev/attestation/model-scan/v1"),
        "{message}"
    );
    assert!(message.contains(fix), "{message}");
    // Another digest's attestation: denied.
    let (allowed, message) = admit("a5", &at(&forged));
    assert!(!allowed);
    assert!(
        message.contains("the attestation is for another digest"),
        "{message}"
    );
    // The registry cannot be reached: denied (fail closed).
    let (allowed, message) = admit("a6", &format!("127.0.0.1:{dead}/ml/models/iris:1"));
    assert!(!allowed, "{message}");
    assert!(message.contains("cannot be verified"), "{message}");
    assert!(message.contains(fix), "{message}");
    // KServe: the predictor's storageUri oci:// is held to the same rule.
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
    let (allowed, message) = decide(
        &webhook,
        &isvc_review("k1", &format!("oci://{}", at(&clean))),
    );
    assert!(allowed, "{message}");
    let (allowed, message) = decide(
        &webhook,
        &isvc_review("k2", &format!("oci://{}", at(&evil))),
    );
    assert!(!allowed);
    assert!(
        message.contains("of storageUri of container \"kserve-container\": model scan: "),
        "{message}"
    );

    // A tampered blob (same length, other bytes) is an error naming the layer and the offset,
    // never a scan of what the manifest does not describe.
    let path = registry.blob_path(&evil_weights);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let output = expect(
        run(&[
            "scan",
            "model",
            &format!("oci://{}", at(&evil)),
            "--plain-http",
        ]),
        2,
    );
    assert!(
        text(&output).contains(&format!(
            "layer {evil_weights}, at byte {}: content does not match the digest",
            bytes.len()
        )),
        "{}",
        text(&output)
    );
    // ... and so is attesting it.
    expect(
        run(&[
            "attest",
            "--model-scan",
            &at(&evil),
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ]),
        2,
    );
}
