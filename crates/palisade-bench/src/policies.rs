//! Custom policies (docs/custom-policies.md) at scale: the Kyverno pod-security and
//! best-practices libraries in ValidatingPolicy form (../shared/conformance/policies), run by
//! the real binary, each beside its floor in the same run:
//! - audit: `palisade audit --policy DIR` over a generated corpus of Deployments, Pods and
//!   Services (a third of them breaking a policy), beside `palisade audit` without `--policy`
//!   over the same files;
//! - admission: one request at a time over a keep-alive HTTPS connection to two webhooks, one
//!   configured with `policies:` and one without, requests alternating between them so drift in
//!   the machine's load hits both alike; the added latency is the difference of their
//!   percentiles.
//!
//!     target/release/palisade-bench policies --documents 10000 --requests 4000

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::admission::start_webhook;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Documents in the audited corpus.
    #[arg(long, default_value_t = 10_000)]
    documents: usize,
    /// Documents per file.
    #[arg(long, default_value_t = 50)]
    per_file: usize,
    /// Timed audit runs of each; medians are reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Admission requests to each webhook (after a warm-up of a tenth as many).
    #[arg(long, default_value_t = 4000)]
    requests: usize,
    /// The Kyverno policy library (its pod-security-vpol and best-practices-vpol directories).
    #[arg(
        long,
        default_value = "../shared/conformance/policies/kyverno-policies"
    )]
    library: PathBuf,
    /// Write the policies and the corpus here and keep them (to profile `palisade audit` on
    /// them) [default: a temporary directory].
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// The palisade binary [default: target/release/palisade beside this one].
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<PathBuf>,
}

/// The library's ValidatingPolicies: `DIR/NAME/NAME.yaml` holding `kind: ValidatingPolicy`
/// (test resources beside them are left out).
fn library_policies(library: &Path) -> anyhow::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "yaml")
                && p.file_stem() == p.parent().and_then(|d| d.file_name())
                && std::fs::read_to_string(&p)?
                    .lines()
                    .any(|l| l.trim() == "kind: ValidatingPolicy")
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for sub in ["pod-security-vpol", "best-practices-vpol"] {
        walk(&library.join(sub), &mut out)
            .with_context(|| format!("reading {}", library.join(sub).display()))?;
    }
    Ok(out)
}

/// One document of the corpus: a Deployment, a Pod or a Service; every third one breaks a
/// policy (a privileged or root container, a latest tag, no resource limits, a host port, a
/// NodePort or external IPs).
fn document(i: usize) -> Value {
    let ns = format!("team-{:03}", i % 100);
    let violating = i % 3 == 1;
    let name = format!("model-{i}");
    let mut security = json!({
        "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
        "runAsNonRoot": true, "runAsUser": 10001,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}
    });
    let mut image = format!("registry.example.com/ml/model-{i}:1.{}", i % 7);
    let mut container = json!({
        "name": "server",
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": true}]
    });
    if violating {
        match (i / 3) % 4 {
            0 => security["privileged"] = json!(true),
            1 => {
                security["runAsUser"] = json!(0);
                security["capabilities"] = json!({"add": ["SYS_ADMIN"]});
            }
            2 => image = format!("registry.example.com/ml/model-{i}:latest"),
            _ => container["ports"][0]["hostPort"] = json!(8080),
        }
    }
    container["image"] = json!(image);
    container["securityContext"] = security;
    let labels = json!({"app.kubernetes.io/name": name, "team": ns});
    let pod_spec = json!({
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "models", "emptyDir": {}}]
    });
    match i % 3 {
        0 => json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
        }),
        1 => json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": pod_spec
        }),
        _ => {
            let mut spec = json!({"selector": {"app.kubernetes.io/name": name},
                                  "ports": [{"name": "http", "port": 80, "targetPort": "http"}]});
            if i % 9 == 5 {
                spec["type"] = json!("NodePort");
            } else if i % 9 == 8 {
                spec["externalIPs"] = json!(["203.0.113.7"]);
            }
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": spec})
        }
    }
}

/// Writes the corpus as multi-document YAML files (JSON is YAML), `per_file` to a file.
fn write_corpus(dir: &Path, documents: usize, per_file: usize) -> anyhow::Result<u64> {
    let mut bytes = 0u64;
    let mut text = String::new();
    let mut files = 0usize;
    for i in 0..documents {
        if !text.is_empty() {
            text.push_str("---\n");
        }
        let _ = writeln!(text, "{}", serde_json::to_string_pretty(&document(i))?);
        if (i + 1) % per_file.max(1) == 0 || i + 1 == documents {
            let path = dir.join(format!("workloads-{files:05}.yaml"));
            bytes += text.len() as u64;
            std::fs::write(path, &text)?;
            files += 1;
            text.clear();
        }
    }
    Ok(bytes)
}

fn audit(palisade: &Path, corpus: &Path, policies: Option<&Path>) -> anyhow::Result<Duration> {
    let mut cmd = Command::new(palisade);
    cmd.args(["audit", "--format", "json", "--output", "/dev/null"]);
    if let Some(p) = policies {
        cmd.arg("--policy").arg(p);
    }
    cmd.arg(corpus);
    let start = Instant::now();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let elapsed = start.elapsed();
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "{cmd:?} failed: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(elapsed)
}

/// Findings by rule id prefix in one `--policy` run, to show the policies did the work.
fn custom_findings(palisade: &Path, corpus: &Path, policies: &Path) -> anyhow::Result<usize> {
    let out = Command::new(palisade)
        .args(["audit", "--format", "json", "--policy"])
        .arg(policies)
        .arg(corpus)
        .output()?;
    let report: Value = serde_json::from_slice(&out.stdout).context("audit's JSON report")?;
    let mut n = 0;
    let mut walk = vec![&report];
    while let Some(v) = walk.pop() {
        match v {
            Value::Object(m) => {
                if m.get("level").and_then(Value::as_str) == Some("custom") {
                    n += 1;
                }
                walk.extend(m.values());
            }
            Value::Array(a) => walk.extend(a),
            _ => {}
        }
    }
    Ok(n)
}

fn review(i: usize, object: &Value) -> Value {
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, resource) = match kind {
        "Deployment" => ("apps", "deployments"),
        "Pod" => ("", "pods"),
        _ => ("", "services"),
    };
    json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": format!("bench-{i}"),
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "bench", "groups": ["system:authenticated"]},
            "object": object, "dryRun": false
        }
    })
}

fn percentile(xs: &[Duration], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort();
    v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let palisade = crate::palisade_bin(&args.palisade)?;
    let policies = library_policies(&args.library)?;
    println!(
        "policies: {} Kyverno ValidatingPolicies (pod-security-vpol, best-practices-vpol){}",
        policies.len(),
        if policies.len() == 31 {
            ""
        } else {
            " - not the 31 expected"
        }
    );
    let dir = tempfile::tempdir()?;
    let d = args.work_dir.as_deref().unwrap_or(dir.path());
    let policy_dir = d.join("policies");
    std::fs::create_dir_all(&policy_dir)?;
    for p in &policies {
        let name = p.file_name().context("policy file name")?;
        std::fs::copy(p, policy_dir.join(name))?;
    }
    let corpus = d.join("corpus");
    std::fs::create_dir_all(&corpus)?;
    let bytes = write_corpus(&corpus, args.documents, args.per_file)?;
    println!(
        "corpus: {} documents (Deployments, Pods, Services; a third violating) in {:.1} MiB",
        args.documents,
        bytes as f64 / 1048576.0
    );

    // (a) audit, alternating floor and policies; the first run of each warms the page cache.
    audit(&palisade, &corpus, None)?;
    audit(&palisade, &corpus, Some(&policy_dir))?;
    let (mut floor, mut with) = (Vec::new(), Vec::new());
    for _ in 0..args.runs.max(1) {
        floor.push(audit(&palisade, &corpus, None)?);
        with.push(audit(&palisade, &corpus, Some(&policy_dir))?);
    }
    let (f, w) = (crate::median(floor), crate::median(with));
    let findings = custom_findings(&palisade, &corpus, &policy_dir)?;
    println!(
        "audit, median of {} runs on {} cores:",
        args.runs.max(1),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "  palisade audit                 {:>8.3} s  (the floor)",
        f.as_secs_f64()
    );
    println!(
        "  palisade audit --policy DIR    {:>8.3} s  (+{:.3} s; {findings} custom-policy findings; goal < 1 s)",
        w.as_secs_f64(),
        w.as_secs_f64() - f.as_secs_f64()
    );

    // (b) admission latency with and without the policies.
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
    let policy_config = d.join("policies.yaml");
    std::fs::write(
        &policy_config,
        format!(
            "podSecurity:\n  level: privileged\npolicies: [\"{}\"]\n",
            policy_dir.display()
        ),
    )?;
    let (_floor, floor_addr) = start_webhook(&palisade, d, &floor_config)?;
    let (_with, with_addr) = start_webhook(&palisade, d, &policy_config)?;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join("ca.crt"))?)?;
    let client = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .build()?;
    let bodies: Vec<Vec<u8>> = (0..args.documents.clamp(1, 3000))
        .map(|i| serde_json::to_vec(&review(i, &document(i))))
        .collect::<Result<_, _>>()?;
    let send = |url: &str, body: &[u8]| -> anyhow::Result<(Duration, Value)> {
        let start = Instant::now();
        let response: Value = client
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .send()?
            .json()?;
        Ok((start.elapsed(), response))
    };
    let floor_url = format!("https://{floor_addr}/validate");
    let with_url = format!("https://{with_addr}/validate");
    let warmup = (args.requests / 10).max(10);
    let (mut lf, mut lw) = (Vec::new(), Vec::new());
    let (mut denied, mut warned, mut audited) = (0usize, 0usize, 0usize);
    for i in 0..warmup + args.requests {
        let body = &bodies[i % bodies.len()];
        // Alternate which goes first, so neither always follows the other.
        let order = if i % 2 == 0 {
            [(&floor_url, true), (&with_url, false)]
        } else {
            [(&with_url, false), (&floor_url, true)]
        };
        for (url, is_floor) in order {
            let (t, response) = send(url, body)?;
            if i < warmup {
                continue;
            }
            if is_floor {
                lf.push(t);
            } else {
                lw.push(t);
                let r = &response["response"];
                denied += usize::from(r["allowed"] == false);
                warned += usize::from(r["warnings"].is_array());
                audited += usize::from(
                    r["auditAnnotations"]
                        .get("validation.policy.admission.k8s.io/validation_failure")
                        .is_some(),
                );
            }
        }
    }
    let (f50, f99) = (percentile(&lf, 0.5), percentile(&lf, 0.99));
    let (w50, w99) = (percentile(&lw, 0.5), percentile(&lw, 0.99));
    println!(
        "admission, {} requests each, one at a time over keep-alive HTTPS:",
        args.requests
    );
    println!("  without policies   p50 {f50:>7.3} ms   p99 {f99:>7.3} ms");
    println!(
        "  with {} policies   p50 {w50:>7.3} ms   p99 {w99:>7.3} ms   ({denied} denied, {warned} warned, {audited} audited)",
        policies.len()
    );
    println!(
        "  added latency      p50 {:>7.3} ms   p99 {:>7.3} ms   (goal: p99 < 1 ms)",
        w50 - f50,
        w99 - f99
    );
    Ok(())
}
