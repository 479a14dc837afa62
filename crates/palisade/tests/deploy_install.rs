//! Installing palisade can never lock a cluster: deploy/ (applied first) holds no admission
//! webhook configuration, they are in deploy/webhooks/ (applied once palisade is ready), and
//! without cert-manager a kustomize component sets every webhook's caBundle from `palisade certs`
//! output. The kustomize logic runs through `kubectl kustomize` when kubectl is installed; the
//! structure is checked either way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use common::{palisade, root};

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    palisade_core::yaml::documents(&text)
        .filter_map(|d| d.unwrap().root.map(|r| r.to_json()))
        .collect()
}

fn resources(kustomization: &Path) -> Vec<String> {
    let doc = documents(kustomization).remove(0);
    doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn kubectl() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "kubectl is not installed: kustomize output not rendered, structure checked only"
        );
    }
    found
}

fn kustomize(dir: &Path) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubectl kustomize {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    palisade_core::yaml::documents(&text)
        .filter_map(|d| d.unwrap().root.map(|r| r.to_json()))
        .collect()
}

/// deploy/ copied into a temporary directory (as `DIR/deploy`).
fn copy_of_deploy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in walkdir::WalkDir::new(root().join("deploy")) {
        let entry = entry.unwrap();
        let relative = entry.path().strip_prefix(root()).unwrap();
        let target = dir.path().join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    dir
}

const WEBHOOK_KINDS: [&str; 2] = [
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
];

#[test]
fn the_first_apply_registers_no_webhook_and_the_second_registers_them_all() {
    let deploy = root().join("deploy");
    for resource in resources(&deploy.join("kustomization.yaml")) {
        for doc in documents(&deploy.join(&resource)) {
            assert!(
                !WEBHOOK_KINDS.contains(&doc["kind"].as_str().unwrap_or_default()),
                "deploy/{resource} registers {} before palisade is ready",
                doc["kind"]
            );
        }
    }
    let webhooks = deploy.join("webhooks");
    let mut kinds: Vec<String> = resources(&webhooks.join("kustomization.yaml"))
        .iter()
        .flat_map(|r| documents(&webhooks.join(r)))
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration"
        ]
    );

    // The README's install order: deploy/, rollout status, then webhooks/.
    let readme = std::fs::read_to_string(deploy.join("README.md")).unwrap();
    let first = readme
        .find("kubectl apply -k deploy/ ")
        .expect("apply deploy/");
    let wait = readme
        .find("kubectl -n palisade rollout status deployment/palisade-webhook")
        .expect("rollout status");
    let second = readme
        .find("kubectl apply -k deploy/webhooks/")
        .expect("apply webhooks");
    assert!(
        first < wait && wait < second,
        "install order in deploy/README.md"
    );

    if kubectl() {
        let base = kustomize(&deploy);
        assert!(base
            .iter()
            .all(|d| !WEBHOOK_KINDS.contains(&d["kind"].as_str().unwrap())));
        let hooks = kustomize(&webhooks);
        assert_eq!(hooks.len(), 2);
        let count: usize = hooks
            .iter()
            .map(|d| d["webhooks"].as_array().unwrap().len())
            .sum();
        assert_eq!(count, 7);
    }
}

#[test]
fn without_cert_manager_a_component_sets_every_ca_bundle_from_palisade_certs() {
    // A copy of deploy/, so the test writes no key into the repository.
    let dir = copy_of_deploy();
    let ca_dir = dir.path().join("deploy/webhooks/ca-bundle");
    let _ = std::fs::remove_file(ca_dir.join("ca.crt"));
    let output = palisade()
        .args(["certs", "--out"])
        .arg(&ca_dir)
        .args(["--service", "palisade-webhook", "--namespace", "palisade"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let printed = printed
        .lines()
        .find_map(|l| l.trim().strip_prefix("caBundle:"))
        .expect("palisade certs prints the caBundle")
        .trim()
        .to_owned();
    let ca = std::fs::read(ca_dir.join("ca.crt")).unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&printed)
            .unwrap(),
        ca
    );

    // The component: a local-config Secret from ca.crt, replaced into every webhook.
    let component = documents(&ca_dir.join("kustomization.yaml")).remove(0);
    assert_eq!(component["kind"], "Component");
    assert_eq!(
        component["secretGenerator"][0]["files"][0],
        "caBundle=ca.crt"
    );
    assert_eq!(
        component["secretGenerator"][0]["options"]["annotations"]
            ["config.kubernetes.io/local-config"],
        "true"
    );
    let targets: Vec<_> = component["replacements"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["select"]["kind"].as_str().unwrap().to_owned(),
                t["fieldPaths"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        WEBHOOK_KINDS
            .iter()
            .map(|k| (k.to_string(), "webhooks.*.clientConfig.caBundle".to_owned()))
            .collect::<Vec<_>>()
    );

    if kubectl() {
        let docs = kustomize(&dir.path().join("deploy/webhooks-without-cert-manager"));
        // Only the two configurations: the generated Secret is never applied.
        assert_eq!(docs.len(), 2, "{docs:#?}");
        let mut webhooks = 0;
        for doc in &docs {
            assert!(WEBHOOK_KINDS.contains(&doc["kind"].as_str().unwrap()));
            for webhook in doc["webhooks"].as_array().unwrap() {
                // kustomize wraps the Secret's base64 at 76 columns; the API server decodes
                // caBundle with Go's base64, which skips line breaks, so only they may differ.
                let bundle: String = webhook["clientConfig"]["caBundle"]
                    .as_str()
                    .unwrap()
                    .split_whitespace()
                    .collect();
                assert_eq!(bundle, printed, "{}", webhook["name"]);
                webhooks += 1;
            }
        }
        assert_eq!(webhooks, 7);
    }
}

#[test]
fn the_image_is_pinned_by_digest_through_kustomize_images() {
    let deploy = root().join("deploy");
    let kustomization = documents(&deploy.join("kustomization.yaml")).remove(0);
    let image = &kustomization["images"][0];
    assert_eq!(image["name"], "registry.example.com/palisade/palisade");
    // Both Deployments name the image the `images:` entry rewrites.
    for file in ["deployment.yaml", "controller.yaml"] {
        let named = documents(&deploy.join(file))
            .iter()
            .filter(|d| d["kind"] == "Deployment")
            .flat_map(|d| {
                d["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .all(|c| {
                c["image"]
                    .as_str()
                    .unwrap()
                    .starts_with("registry.example.com/palisade/palisade:")
            });
        assert!(named, "{file}");
    }
    if kubectl() {
        // As deploy/README.md says: newTag replaced by the digest of the pushed image.
        let dir = copy_of_deploy();
        let digest = format!("sha256:{}", "ab".repeat(32));
        std::fs::create_dir(dir.path().join("pinned")).unwrap();
        std::fs::write(
            dir.path().join("pinned/kustomization.yaml"),
            format!(
                "resources: [../deploy]\nimages:\n  - name: registry.example.com/palisade/palisade\n    newName: registry.local:5000/palisade\n    digest: {digest}\n"
            ),
        )
        .unwrap();
        let docs = kustomize(&dir.path().join("pinned"));
        let images: Vec<_> = docs
            .iter()
            .filter(|d| d["kind"] == "Deployment")
            .map(|d| d["spec"]["template"]["spec"]["containers"][0]["image"].clone())
            .collect();
        assert_eq!(
            images,
            vec![Value::from(format!("registry.local:5000/palisade@{digest}")); 2]
        );
    }
}
