//! The serving rules (issue 16, item 5) through the real `palisade webhook` over HTTPS: a model
//! server with `--trust-remote-code` and no pinned revision, NVIDIA GPU visibility in a pod that
//! requests no GPU, and `LD_PRELOAD` in a container's env, each in the mode it is configured in.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod webhook_support;

use serde_json::{json, Value};
use webhook_support::{pod_review, Webhook};

const CONFIG: &str = r#"
podSecurity:
  namespaces:
    serving: {enforce: privileged, warn: privileged, audit: privileged}
rules:
  trustRemoteCode: {}
  gpuVisibility: {mode: warn}
  ldPreload: {mode: audit}
"#;

// Images are on a closed local port: `ldPreload` also reads each image's configuration (that
// reading has its own test, webhook_image_config.rs); here it must fail at once, never reach a
// public registry.
const SHA: &str = "5fd4e9c4d4e06b2f1b8f0b71f1e6c7b8a9d0e1f2";

fn pod(container: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "llm"},
        "spec": {"containers": [container]}})
}

#[test]
fn trust_remote_code_without_a_pinned_revision_is_denied() {
    let webhook = Webhook::start(CONFIG, &[]);
    let vllm = |args: Value| {
        pod(json!({"name": "vllm", "image": "127.0.0.1:9/vllm/vllm-openai:v0.8.5", "args": args}))
    };
    let (status, body) = webhook.post(
        "/validate",
        &pod_review(
            "t1",
            "serving",
            &vllm(json!([
                "--model",
                "org/m",
                "--trust-remote-code",
                "--revision",
                "main"
            ])),
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(body["response"]["allowed"], false, "{body:#}");
    assert_eq!(body["response"]["status"]["code"], 403);
    assert_eq!(
        body["response"]["status"]["message"],
        "pods \"llm\" is forbidden: violates palisade rules: remote model code from an unpinned revision (container \"vllm\" trusts remote code without --revision or --code-revision pinned to a commit)"
    );
    // TGI reads TRUST_REMOTE_CODE from its env: the same.
    let tgi = pod(
        json!({"name": "tgi", "image": "127.0.0.1:9/huggingface/text-generation-inference:3.0",
        "env": [{"name": "MODEL_ID", "value": "org/m"}, {"name": "TRUST_REMOTE_CODE", "value": "true"}]}),
    );
    let (_, body) = webhook.post("/validate", &pod_review("t2", "serving", &tgi));
    assert_eq!(body["response"]["allowed"], false, "{body:#}");
    // Pinned to a commit: allowed, with nothing to say.
    let (_, body) = webhook.post(
        "/validate",
        &pod_review(
            "t3",
            "serving",
            &vllm(json!([
                "--model",
                "org/m",
                "--trust-remote-code",
                "--revision",
                SHA
            ])),
        ),
    );
    assert_eq!(body["response"]["allowed"], true, "{body:#}");
    assert!(body["response"].get("warnings").is_none(), "{body:#}");
}

#[test]
fn gpu_visibility_without_a_gpu_request_is_warned() {
    let webhook = Webhook::start(CONFIG, &[]);
    let (_, body) = webhook.post(
        "/validate",
        &pod_review(
            "g1",
            "serving",
            &pod(json!({"name": "app", "image": "127.0.0.1:9/ml/app:1",
                "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]})),
        ),
    );
    assert_eq!(body["response"]["allowed"], true, "{body:#}");
    assert_eq!(
        body["response"]["warnings"],
        json!(["would violate palisade rules: GPU visibility without a GPU request (container \"app\" must not set NVIDIA_VISIBLE_DEVICES or NVIDIA_DRIVER_CAPABILITIES in a pod that requests no GPU (it would see every GPU on the node))"])
    );
    // With a GPU limit: no warning.
    let (_, body) = webhook.post(
        "/validate",
        &pod_review(
            "g2",
            "serving",
            &pod(json!({"name": "app", "image": "127.0.0.1:9/ml/app:1",
                "env": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}],
                "resources": {"limits": {"nvidia.com/gpu": 1}}})),
        ),
    );
    assert_eq!(body["response"]["allowed"], true, "{body:#}");
    assert!(body["response"].get("warnings").is_none(), "{body:#}");
}

#[test]
fn ld_preload_in_env_is_annotated() {
    let webhook = Webhook::start(CONFIG, &[]);
    let (_, body) = webhook.post(
        "/validate",
        &pod_review(
            "l1",
            "serving",
            &pod(json!({"name": "app", "image": "127.0.0.1:9/ml/app:1",
                "env": [{"name": "LD_PRELOAD", "value": "/tmp/libhook.so"}]})),
        ),
    );
    assert_eq!(
        body["response"],
        json!({
            "uid": "l1",
            "allowed": true,
            "auditAnnotations": {
                "palisade.dev/audit-violations": "would violate palisade rules: LD_PRELOAD set (container \"app\" must not set LD_PRELOAD)",
                "pod-security.kubernetes.io/enforce-policy": "privileged:latest"
            }
        })
    );
}
