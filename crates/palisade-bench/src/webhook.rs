//! `palisade webhook` under load (Debian's wrk, keep-alive connections over TLS), beside nginx
//! answering the same requests with a fixed AdmissionReview response: the floor for TLS and HTTP
//! on this machine. Both run with the same certificate, on loopback, in the same run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Measurements of each, alternating floor and palisade so drift in the machine's load hits
    /// both alike; medians are reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// nginx worker processes (one per core is nginx's usual setting).
    #[arg(long, default_value_t = 2)]
    nginx_workers: usize,
    /// The palisade binary [default: target/release/palisade beside this one].
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<PathBuf>,
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SIGTERM, so nginx's master stops its workers too; SIGKILL would orphan them.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug)]
struct WrkResult {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: String,
}

fn parse_duration_ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

fn parse_wrk(output: &str) -> anyhow::Result<WrkResult> {
    let mut result = WrkResult {
        requests_per_second: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: String::new(),
    };
    for line in output.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate] => result.requests_per_second = rate.parse()?,
            ["50%", latency] => result.p50_ms = parse_duration_ms(latency).context("p50")?,
            ["99%", latency] => result.p99_ms = parse_duration_ms(latency).context("p99")?,
            ["Non-2xx", ..] | ["Socket", "errors:", ..] => result.errors.push_str(line.trim()),
            _ => {}
        }
    }
    if result.requests_per_second == 0.0 {
        bail!("no result in wrk's output:\n{output}");
    }
    Ok(result)
}

fn wrk(args: &Args, dir: &Path, url: &str) -> anyhow::Result<WrkResult> {
    let output = Command::new("wrk")
        .current_dir(dir)
        .args([
            "--latency",
            "-t",
            &args.threads.to_string(),
            "-c",
            &args.connections.to_string(),
            "-d",
            &format!("{}s", args.seconds),
            "-s",
            "post.lua",
            url,
        ])
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    parse_wrk(&String::from_utf8_lossy(&output.stdout))
}

fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A realistic request: the bundled model server's pod, as the API server would send it.
fn request_body() -> String {
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "name": "iris-classifier-7d4b9c6f5-x2x7k",
            "namespace": "ml-iris",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "iris-classifier-7d4b9c6f5-x2x7k", "namespace": "ml-iris", "labels": {"app.kubernetes.io/name": "iris-classifier", "team": "data-science", "model": "iris", "pod-template-hash": "7d4b9c6f5"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "iris-classifier-7d4b9c6f5", "uid": "b6f2c0d2-8a11-4c7e-9d55-3f1f8e6a2b10", "controller": true, "blockOwnerDeletion": true}]},
                "spec": {
                    "automountServiceAccountToken": false,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
                    "initContainers": [{"name": "fetch-model", "image": "registry.example.com/ml/model-fetcher@sha256:3b1f7b1c6a6f3e5a2d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e",
                        "args": ["--from", "s3://models/iris/1.3.2/model.joblib", "--to", "/models/model.joblib"],
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "models", "mountPath": "/models"}]}],
                    "containers": [{"name": "server", "image": "registry.example.com/ml/iris-server@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                        "command": ["gunicorn", "--bind", "0.0.0.0:8080", "--workers", "2", "app:app"],
                        "env": [{"name": "MODEL_PATH", "value": "/models/model.joblib"}],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
                        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                        "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": true}, {"name": "tmp", "mountPath": "/tmp"}]}],
                    "volumes": [{"name": "models", "emptyDir": {}}, {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]
                }
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
    .to_string()
}

/// The median of each measure on its own.
fn median_result(results: Vec<WrkResult>) -> WrkResult {
    let median = |mut xs: Vec<f64>| {
        xs.sort_by(f64::total_cmp);
        xs[xs.len() / 2]
    };
    WrkResult {
        requests_per_second: median(results.iter().map(|r| r.requests_per_second).collect()),
        p50_ms: median(results.iter().map(|r| r.p50_ms).collect()),
        p99_ms: median(results.iter().map(|r| r.p99_ms).collect()),
        errors: results
            .iter()
            .map(|r| r.errors.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let palisade = crate::palisade_bin(&args.palisade)?;
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let status = Command::new(&palisade)
        .args(["certs", "--out"])
        .arg(d)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("palisade certs failed");
    }
    let body = request_body();
    std::fs::write(d.join("body.json"), &body)?;
    std::fs::write(
        d.join("post.lua"),
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nlocal f = io.open(\"body.json\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\n",
    )?;

    // What palisade answers, so nginx returns a response of the same size.
    let fixed = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true,"auditAnnotations":{"pod-security.kubernetes.io/enforce-policy":"restricted:latest"}}}"#;
    let nginx_port = free_port()?;
    std::fs::write(
        d.join("nginx.conf"),
        format!(
            "worker_processes {workers};\npid {dir}/nginx.pid;\nerror_log {dir}/nginx-error.log;\nevents {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fastcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n  keepalive_requests 100000000;\n  client_body_buffer_size 64k;\n  server {{\n    listen 127.0.0.1:{nginx_port} ssl;\n    ssl_certificate {dir}/tls.crt;\n    ssl_certificate_key {dir}/tls.key;\n    ssl_protocols TLSv1.2 TLSv1.3;\n    location / {{\n      default_type application/json;\n      return 200 '{fixed}';\n    }}\n  }}\n}}\n",
            workers = args.nginx_workers,
            dir = d.display(),
        ),
    )?;
    let nginx = Killed(
        Command::new("nginx")
            .args(["-e", "stderr", "-p"])
            .arg(d)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start nginx (apt-get install nginx-light)")?,
    );
    wait_for_port(nginx_port)?;
    let port = free_port()?;
    let webhook = Killed(
        Command::new(&palisade)
            .args([
                "webhook",
                "--namespaces",
                "config",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("--tls-cert")
            .arg(d.join("tls.crt"))
            .arg("--tls-key")
            .arg(d.join("tls.key"))
            .stdout(Stdio::null())
            .spawn()?,
    );
    wait_for_port(port)?;
    // Check the answer once before measuring it.
    let check = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(d.join("ca.crt"))
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@body.json",
            &format!("https://localhost:{port}/validate"),
        ])
        .current_dir(d)
        .output();
    if let Ok(out) = check {
        println!("palisade answers: {}", String::from_utf8_lossy(&out.stdout));
    }
    let (mut floors, mut ours) = (Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        let floor = wrk(
            &args,
            d,
            &format!("https://127.0.0.1:{nginx_port}/validate"),
        )?;
        let mine = wrk(&args, d, &format!("https://127.0.0.1:{port}/validate"))?;
        println!(
            "round {}: nginx {:.0}/s p99 {:.2} ms; palisade {:.0}/s p99 {:.2} ms {}{}",
            round + 1,
            floor.requests_per_second,
            floor.p99_ms,
            mine.requests_per_second,
            mine.p99_ms,
            floor.errors,
            mine.errors
        );
        floors.push(floor);
        ours.push(mine);
    }
    drop(webhook);
    drop(nginx);
    let floor = median_result(floors);
    let palisade_result = median_result(ours);
    println!("medians of {} rounds:", args.rounds.max(1));
    println!(
        "{} connections, {} wrk threads, {} s each, request {} bytes, on {} cores",
        args.connections,
        args.threads,
        args.seconds,
        body.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "{:<28} {:>12} {:>10} {:>10}",
        "", "requests/s", "p50 ms", "p99 ms"
    );
    println!(
        "{:<28} {:>12.0} {:>10.2} {:>10.2} {}",
        format!("nginx (floor, {} workers)", args.nginx_workers),
        floor.requests_per_second,
        floor.p50_ms,
        floor.p99_ms,
        floor.errors
    );
    println!(
        "{:<28} {:>12.0} {:>10.2} {:>10.2} {}",
        "palisade webhook",
        palisade_result.requests_per_second,
        palisade_result.p50_ms,
        palisade_result.p99_ms,
        palisade_result.errors
    );
    println!(
        "palisade: {:.2}x the floor's throughput (goal >= 0.5), p99 {:.2}x the floor's (goal <= 2)",
        palisade_result.requests_per_second / floor.requests_per_second,
        palisade_result.p99_ms / floor.p99_ms
    );
    Ok(())
}
