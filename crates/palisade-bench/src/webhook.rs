//! `palisade webhook` under load (Debian's wrk, keep-alive connections over TLS), beside nginx
//! answering the same requests with a fixed AdmissionReview response: the floor for TLS and HTTP
//! on this machine. Both run with the same certificate, on loopback, in the same run.
//!
//! Each is measured with the machine otherwise idle and again with a busy process spinning
//! beside it (`--load`): on a small machine the tail latency is decided by how the server copes
//! with a core it does not have to itself.
//!
//!     target/release/palisade-bench webhook --load idle,spin,pinned --seconds 10 --rounds 3

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
    /// Load beside the servers, each measured in turn: `idle` (nothing else), `spin` (one busy
    /// process, placed by the scheduler), `pinned` (one busy process pinned to CPU 0).
    #[arg(long, value_delimiter = ',', default_value = "idle,spin")]
    load: Vec<Load>,
    /// Also measure palisade with one single-threaded runtime per serving thread (the layout
    /// before the work-stealing runtime), to compare.
    #[arg(long)]
    per_thread: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Load {
    Idle,
    Spin,
    Pinned,
}

impl Load {
    fn describe(self) -> &'static str {
        match self {
            Load::Idle => "idle: nothing else running",
            Load::Spin => "spin: one busy process beside, placed by the scheduler",
            Load::Pinned => "pinned: one busy process beside, pinned to CPU 0",
        }
    }

    /// The busy process: a shell loop, which never sleeps or makes a system call.
    fn start(self) -> anyhow::Result<Option<Killed>> {
        let spin = ["sh", "-c", "while :; do :; done"];
        let command = match self {
            Load::Idle => return Ok(None),
            Load::Spin => Command::new(spin[0]).args(&spin[1..]).spawn(),
            Load::Pinned => Command::new("taskset").args(["-c", "0"]).args(spin).spawn(),
        };
        let child = command.context("cannot start the busy process (taskset: util-linux)")?;
        // Let the scheduler settle it before measuring.
        std::thread::sleep(Duration::from_millis(300));
        Ok(Some(Killed(child)))
    }
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

#[derive(Debug, Clone)]
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
    let mut servers: Vec<(String, String, Killed)> = Vec::new();
    let mut variants = vec![("palisade webhook".to_owned(), None)];
    if args.per_thread {
        variants.push((
            "palisade, per-thread".to_owned(),
            Some("per-thread".to_owned()),
        ));
    }
    for (name, runtime) in variants {
        let port = free_port()?;
        let mut command = Command::new(&palisade);
        command
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
            .stdout(Stdio::null());
        if let Some(runtime) = runtime {
            command.args(["--runtime", &runtime]);
        }
        let child = Killed(command.spawn()?);
        wait_for_port(port)?;
        servers.push((name, format!("https://127.0.0.1:{port}/validate"), child));
    }
    // Check the answer once before measuring it.
    let check = Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(d.join("ca.crt"))
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "@body.json",
            &servers[0].1.replace("127.0.0.1", "localhost"),
        ])
        .current_dir(d)
        .output();
    if let Ok(out) = check {
        println!("palisade answers: {}", String::from_utf8_lossy(&out.stdout));
    }
    let floor_name = format!("nginx ({} workers)", args.nginx_workers);
    let floor_url = format!("https://127.0.0.1:{nginx_port}/validate");
    let mut tables = Vec::new();
    for &load in &args.load {
        let busy = load.start()?;
        // Alternating floor and palisade in each round, so drift in the machine's load (other
        // processes) hits both alike; medians are reported.
        let mut results: Vec<Vec<WrkResult>> = vec![Vec::new(); servers.len() + 1];
        for round in 0..args.rounds.max(1) {
            let mut line = format!("{load:?} round {}:", round + 1);
            for (i, (name, url)) in std::iter::once((&floor_name, &floor_url))
                .chain(servers.iter().map(|(n, u, _)| (n, u)))
                .enumerate()
            {
                let result = wrk(&args, d, url)?;
                line.push_str(&format!(
                    " {name} {:.0}/s p99 {:.2} ms {};",
                    result.requests_per_second, result.p99_ms, result.errors
                ));
                results[i].push(result);
            }
            println!("{line}");
        }
        drop(busy);
        tables.push((
            load,
            results.into_iter().map(median_result).collect::<Vec<_>>(),
        ));
    }
    let names: Vec<String> = std::iter::once(floor_name)
        .chain(servers.iter().map(|(name, _, _)| name.clone()))
        .collect();
    drop(servers);
    drop(nginx);
    println!();
    println!(
        "medians of {} rounds; {} connections, {} wrk threads, {} s each, request {} bytes, on {} cores",
        args.rounds.max(1),
        args.connections,
        args.threads,
        args.seconds,
        body.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    for (load, results) in &tables {
        println!();
        println!("load {}", load.describe());
        println!(
            "{:<28} {:>12} {:>10} {:>10} {:>12}",
            "", "requests/s", "p50 ms", "p99 ms", "p99 / nginx"
        );
        let floor_p99 = results[0].p99_ms;
        for (name, result) in names.iter().zip(results) {
            println!(
                "{:<28} {:>12.0} {:>10.2} {:>10.2} {:>12.2} {}",
                name,
                result.requests_per_second,
                result.p50_ms,
                result.p99_ms,
                result.p99_ms / floor_p99,
                result.errors
            );
        }
    }
    println!();
    for (load, results) in &tables {
        println!(
            "{load:?}: palisade {:.2}x the floor's throughput (goal >= 0.5), p99 {:.2}x the floor's (goal <= 2)",
            results[1].requests_per_second / results[0].requests_per_second,
            results[1].p99_ms / results[0].p99_ms
        );
    }
    Ok(())
}
