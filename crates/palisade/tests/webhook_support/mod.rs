//! Starting the real `palisade webhook` with fresh certificates, and an HTTPS client that trusts them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub struct Webhook {
    pub child: Child,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Webhook {
    /// Starts `palisade webhook` with a new CA and certificate and the given configuration.
    pub fn start(config: &str, extra: &[&str]) -> Webhook {
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let config_path = dir.path().join("palisade.yaml");
        std::fs::write(&config_path, config).unwrap();
        let config_path = config_path.display().to_string();
        let mut args = vec!["--namespaces", "config", "--config", &config_path];
        args.extend_from_slice(extra);
        Webhook::start_with(&args, dir)
    }

    /// Starts it with arguments given in full (namespace source included).
    pub fn start_with(args: &[&str], dir: tempfile::TempDir) -> Webhook {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("palisade"))
            .args(["webhook", "--listen", "127.0.0.1:0"])
            .arg("--tls-cert")
            .arg(dir.path().join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.path().join("tls.key"))
            .args(args)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let addr = read_listening(&mut child);
        Webhook { child, addr, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn client(&self) -> reqwest::blocking::Client {
        client_trusting(&self.ca())
    }

    /// GETs `path` and returns the status code.
    pub fn status(&self, path: &str) -> u16 {
        self.client()
            .get(self.url(path))
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    /// GETs `path` and returns the body.
    pub fn text(&self, path: &str) -> String {
        self.client()
            .get(self.url(path))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// POSTs an AdmissionReview and returns the status and parsed body.
    pub fn post(&self, path: &str, review: &Value) -> (u16, Value) {
        let response = self
            .client()
            .post(self.url(path))
            .json(review)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_listening(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    line.trim()
        .rsplit(' ')
        .next()
        .expect("listening line")
        .to_owned()
}

pub fn make_certs(dir: &Path) {
    let status = Command::new(assert_cmd::cargo::cargo_bin("palisade"))
        .args(["certs", "--out"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn client_trusting(ca: &Path) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// An AdmissionReview for `object` (`kind` in `group`, as resource `resource`).
pub fn review(
    uid: &str,
    operation: &str,
    group: &str,
    kind: &str,
    resource: &str,
    namespace: &str,
    object: &Value,
) -> Value {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "requestKind": {"group": group, "version": "v1", "kind": kind},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

pub fn pod_review(uid: &str, namespace: &str, pod: &Value) -> Value {
    review(uid, "CREATE", "", "Pod", "pods", namespace, pod)
}

/// A YAML manifest as JSON, the way the API server would send it.
pub fn yaml_to_json(text: &str) -> Value {
    let doc = palisade_core::yaml::documents(text)
        .next()
        .unwrap()
        .unwrap();
    doc.root.unwrap().to_json()
}
