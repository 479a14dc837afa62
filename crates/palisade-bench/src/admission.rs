//! Admission latency with image verification (`rules.requireSignature` and `rules.requireScan`):
//! a real registry on 127.0.0.1 (../shared/tools/local-registry.sh) holding N small images, each
//! signed and attested by the palisade CLI. One request at a time over a keep-alive HTTPS
//! connection, to three servers in the same run:
//! - floor: the same webhook without image rules (policy evaluation alone);
//! - registry: the five registry requests of a cold verification made directly (the registry's
//!   own share of a cold admission);
//! - cold: image rules, each image seen for the first time (tag resolution, the signature and
//!   attestation manifests and blobs: five registry round trips);
//! - warm: the same requests again, answered from the verdict cache.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use palisade_core::image_ref::ImageRef;
use palisade_oci::Repository;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Distinct images (each one cold once, then warm).
    #[arg(long, default_value_t = 40)]
    images: usize,
    /// Warm passes over all images; the median of every warm request is reported.
    #[arg(long, default_value_t = 5)]
    warm_passes: usize,
    /// The palisade binary [default: target/release/palisade beside this one].
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<PathBuf>,
    /// The shared tools directory (local-registry.sh).
    #[arg(long, default_value = "../shared/tools")]
    tools: PathBuf,
}

/// A child process killed when dropped.
pub(crate) struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct StopPid(String);

impl Drop for StopPid {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.0).status();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A one-layer image whose content makes its digest unique.
fn push_image(host: &str, i: usize) -> anyhow::Result<()> {
    let reference =
        ImageRef::parse(&format!("{host}/ml/model-{i}:1")).map_err(anyhow::Error::msg)?;
    let repo = Repository::new(&reference, true, None)?;
    let mut tar = tar::Builder::new(Vec::new());
    let content = format!("model {i}\n");
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "models/model.txt", content.as_bytes())?;
    let layer = tar.into_inner()?;
    let diff_id = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&layer))
    );
    let layer_digest = repo.push_blob(&layer)?;
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }))?;
    let config_digest = repo.push_blob(&config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": config.len(), "digest": config_digest},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": layer.len(), "digest": layer_digest}],
    }))?;
    repo.push_manifest("1", "application/vnd.oci.image.manifest.v1+json", &manifest)?;
    Ok(())
}

fn palisade_ok(palisade: &Path, args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(palisade)
        .args(args)
        .env("PALISADE_PASSWORD", "bench")
        .output()?;
    if !output.status.success() {
        bail!(
            "palisade {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Starts `palisade webhook` with the certificate in `dir` and `config`; returns it and its address.
pub(crate) fn start_webhook(
    palisade: &Path,
    dir: &Path,
    config: &Path,
) -> anyhow::Result<(Stop, String)> {
    let mut child = Command::new(palisade)
        .args([
            "webhook",
            "--namespaces",
            "config",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    if line.is_empty() {
        bail!("palisade webhook did not start with {}", config.display());
    }
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((Stop(child), addr))
}

fn review(image: &str) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "model", "namespace": "ml-iris", "operation": "CREATE",
            "userInfo": {"username": "bench"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "model"},
                       "spec": {"containers": [{"name": "server", "image": image}]}},
        }
    })
}

/// Sends one review and returns its latency; fails unless the pod is admitted.
fn admit(client: &reqwest::blocking::Client, url: &str, image: &str) -> anyhow::Result<Duration> {
    let body = serde_json::to_vec(&review(image))?;
    let start = Instant::now();
    let response: Value = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()?
        .json()?;
    let elapsed = start.elapsed();
    if response["response"]["allowed"] != true {
        bail!("{image} was not admitted: {}", response["response"]);
    }
    Ok(elapsed)
}

fn summary(name: &str, mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<8} n={:<4} median {:>8.3} ms   p90 {:>8.3} ms   max {:>8.3} ms",
        xs.len(),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(at(1.0))
    );
    at(0.5)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let palisade = crate::palisade_bin(&args.palisade)?;
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let port = free_port()?;
    let started = Command::new("bash")
        .arg(args.tools.join("local-registry.sh"))
        .arg(port.to_string())
        .arg(d.join("registry"))
        .output()
        .context("local-registry.sh")?;
    if !started.status.success() {
        bail!("registry: {}", String::from_utf8_lossy(&started.stderr));
    }
    let _registry = StopPid(String::from_utf8_lossy(&started.stdout).trim().to_owned());
    let host = format!("127.0.0.1:{port}");

    eprintln!("pushing, signing and attesting {} images", args.images);
    let prefix = d.join("signer");
    palisade_ok(
        &palisade,
        &["key", "generate", "--out", prefix.to_str().context("path")?],
    )?;
    let key = d.join("signer.key");
    let key = key.to_str().context("path")?;
    let report = d.join("scan.json");
    std::fs::write(&report, r#"{"findings": [], "models": []}"#)?;
    let report = report.to_str().context("path")?;
    let images: Vec<String> = (0..args.images)
        .map(|i| format!("{host}/ml/model-{i}:1"))
        .collect();
    for (i, image) in images.iter().enumerate() {
        push_image(&host, i)?;
        palisade_ok(&palisade, &["sign", image, "--key", key, "--plain-http"])?;
        palisade_ok(
            &palisade,
            &[
                "attest",
                image,
                "--key",
                key,
                "--plain-http",
                "--scan-json",
                report,
            ],
        )?;
    }

    let status = Command::new(&palisade)
        .args(["certs", "--out"])
        .arg(d)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("palisade certs failed");
    }
    let floor_config = d.join("floor.yaml");
    std::fs::write(&floor_config, "podSecurity:\n  level: privileged\n")?;
    let verify_config = d.join("verify.yaml");
    let mut text = String::from("podSecurity:\n  level: privileged\nrules:\n  requireSignature: {}\n  requireScan: {maxSeverity: high, maxAge: 1d}\n");
    text.push_str(&format!(
        "imageVerification:\n  plainHttpRegistries: [\"{host}\"]\n  trust:\n    - images: [\"{host}/ml\"]\n      keys: [\"{}\"]\n",
        d.join("signer.pub").display()
    ));
    std::fs::write(&verify_config, text)?;
    let (_floor, floor_addr) = start_webhook(&palisade, d, &floor_config)?;
    let (_verify, verify_addr) = start_webhook(&palisade, d, &verify_config)?;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join("ca.crt"))?)?;
    let client = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()?;
    let floor_url = format!("https://{floor_addr}/validate");
    let verify_url = format!("https://{verify_addr}/validate");
    // Connections open (TLS handshakes) before anything is timed.
    admit(&client, &floor_url, "docker.io/library/redis:7")?;
    let _ = client
        .get(format!("https://{verify_addr}/healthz"))
        .send()?;

    let mut floor = Vec::new();
    for _ in 0..args.warm_passes.max(1) {
        for image in &images {
            floor.push(admit(&client, &floor_url, image)?);
        }
    }
    // The registry's own share of a cold verification: the same five requests, made directly.
    let http = reqwest::blocking::Client::new();
    let mut registry_floor = Vec::new();
    for i in 0..images.len() {
        let base = format!("http://{host}/v2/ml/model-{i}");
        let start = Instant::now();
        let manifest = http
            .get(format!("{base}/manifests/1"))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()?
            .bytes()?;
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&manifest));
        for suffix in ["sig", "att"] {
            let signature: Value = http
                .get(format!("{base}/manifests/sha256-{digest}.{suffix}"))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .send()?
                .json()?;
            let layer = signature["layers"][0]["digest"].as_str().context("layer")?;
            http.get(format!("{base}/blobs/{layer}")).send()?.bytes()?;
        }
        registry_floor.push(start.elapsed());
    }
    let mut cold = Vec::new();
    for image in &images {
        cold.push(admit(&client, &verify_url, image)?);
    }
    let mut warm = Vec::new();
    for _ in 0..args.warm_passes.max(1) {
        for image in &images {
            warm.push(admit(&client, &verify_url, image)?);
        }
    }
    let _ = std::io::stdout().flush();
    println!("admission latency, one request at a time, registry on loopback:");
    let f = summary("floor", floor);
    let r = summary("registry", registry_floor);
    let c = summary("cold", cold);
    let w = summary("warm", warm);
    println!(
        "cold/registry {:.2}x (1.0: a cold verification costs what the registry takes)",
        c.as_secs_f64() / r.as_secs_f64()
    );
    println!(
        "cold/floor {:.1}x, warm/floor {:.2}x, cold/warm {:.1}x",
        c.as_secs_f64() / f.as_secs_f64(),
        w.as_secs_f64() / f.as_secs_f64(),
        c.as_secs_f64() / w.as_secs_f64()
    );
    Ok(())
}
