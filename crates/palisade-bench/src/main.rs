//! Benchmarks that run the real palisade binary beside a peer or a floor in the same run.
//!
//!     cargo build --release -p palisade -p palisade-bench
//!     target/release/palisade-bench audit --documents 10000
//!     target/release/palisade-bench webhook --connections 64 --seconds 10
//!     target/release/palisade-bench admission --images 40
//!     target/release/palisade-bench netpol
//!     target/release/palisade-bench keys
//!     target/release/palisade-bench policies --documents 10000 --requests 4000
//!
//! `audit`: documents per second and peak memory on a generated corpus (and on four times it:
//! memory must not grow), and the throughput ratio to checkov when it is installed.
//! `image`: image scan time and peak memory beside syft and a plain decompression (src/image.rs).
//! `admission`: admission latency with image verification, cold and warm cache (src/admission.rs).
//! `webhook`: throughput and p50/p99 latency of `palisade webhook` under wrk, beside nginx serving
//! a fixed AdmissionReview response over the same TLS as the floor.
//! `netpol`: `palisade netpol list`'s analysis on a generated cluster of 10,000 pods, 500
//! namespaces and 2,000 NetworkPolicies beside loading the manifests (the floor), its peak memory
//! at 1, 2 and 4 times that cluster (must grow linearly), and the binary end to end
//! (src/netpol.rs).
//! `policies`: `palisade audit --policy` with the Kyverno ValidatingPolicies beside `palisade
//! audit`, and the webhook's added admission latency for them (src/policies.rs).
#![forbid(unsafe_code)]

mod admission;
mod corpus;
mod image;
mod keys;
mod model;
mod netpol;
mod policies;
mod teams;
mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use nix::sys::resource::{getrusage, UsageWho};

#[derive(Debug, Parser)]
enum Bench {
    /// Audit throughput and memory, beside checkov.
    Audit(Args),
    /// Webhook throughput and latency, beside nginx as the floor.
    Webhook(webhook::Args),
    /// Admission latency with image verification against a real registry: cold and warm cache,
    /// beside the same webhook without image rules.
    Admission(admission::Args),
    /// Image scan time and memory, beside syft and a plain decompression of the layers.
    Image(image::Args),
    /// Model scan time beside picklescan and modelscan.
    Model(model::Args),
    /// NetworkPolicy connectivity analysis time beside loading the manifests, and its memory at
    /// growing cluster sizes.
    Netpol(netpol::Args),
    /// What opening a private key costs: cosign's parameters (the floor), the largest accepted,
    /// and hostile ones (refused before any derivation).
    Keys(keys::Args),
    /// `palisade team render` for a platform of 1,000 to 4,000 teams, beside reading the Teams.
    Teams(teams::Args),
    /// Custom policies: `palisade audit --policy` with the 31 Kyverno ValidatingPolicies beside
    /// `palisade audit`, and the webhook's admission latency with and without them.
    Policies(policies::Args),
    /// (internal) Run a command and print its time and peak memory.
    #[command(hide = true)]
    Measure {
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// (internal) Load and analyse the generated cluster at a scale; print its peak memory.
    #[command(hide = true)]
    NetpolMeasure {
        #[arg(long, default_value_t = 1)]
        factor: usize,
    },
    /// (internal) Decompress files to nowhere: the floor of the image benchmark.
    #[command(hide = true)]
    Floor { files: Vec<PathBuf> },
}

#[derive(Debug, clap::Args)]
struct Args {
    /// Workload documents in the corpus.
    #[arg(long, default_value_t = 10_000)]
    documents: usize,
    /// Documents per file (multi-document YAML).
    #[arg(long, default_value_t = 50)]
    per_file: usize,
    /// Timed palisade runs; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The palisade binary [default: target/release/palisade beside this one].
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<PathBuf>,
    /// The checkov executable [default: `checkov` on PATH, then /opt/checkov-venv/bin/checkov].
    #[arg(long, env = "CHECKOV")]
    checkov: Option<PathBuf>,
    /// Skip checkov even when it is installed.
    #[arg(long)]
    no_checkov: bool,
}

struct Run {
    elapsed: Duration,
    /// Peak resident set of the largest child so far, in KiB (Linux `ru_maxrss`).
    max_rss_kib: i64,
}

fn run(cmd: &mut Command) -> anyhow::Result<Run> {
    run_to(cmd, Stdio::null())
}

fn run_to(cmd: &mut Command, stdout: Stdio) -> anyhow::Result<Run> {
    let start = Instant::now();
    let status = cmd
        .stdout(stdout)
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let elapsed = start.elapsed();
    // Exit 1 means findings, which the corpus has on purpose.
    if !matches!(status.code(), Some(0 | 1)) {
        bail!("{cmd:?} failed: {status}");
    }
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN)?;
    Ok(Run {
        elapsed,
        max_rss_kib: usage.max_rss(),
    })
}

fn palisade_audit(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["audit", "--format", "json", "--output", "/dev/null"])
        .arg(dir);
    cmd
}

pub(crate) fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn find_checkov(args: &Args) -> Option<PathBuf> {
    if args.no_checkov {
        return None;
    }
    if let Some(path) = &args.checkov {
        return Some(path.clone());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("checkov"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from("/opt/checkov-venv/bin/checkov")).filter(|p| p.is_file()))
}

fn main() -> anyhow::Result<()> {
    match Bench::parse() {
        Bench::Audit(args) => audit(args),
        Bench::Webhook(args) => webhook::run(args),
        Bench::Admission(args) => admission::run(args),
        Bench::Image(args) => image::run(args),
        Bench::Model(args) => model::run(args),
        Bench::Netpol(args) => netpol::run(args),
        Bench::Keys(args) => keys::run(args),
        Bench::Teams(args) => teams::run(args),
        Bench::Policies(args) => policies::run(args),
        Bench::NetpolMeasure { factor } => netpol::measure(factor),
        Bench::Measure { command } => image::measure(&command),
        Bench::Floor { files } => image::floor(&files),
    }
}

/// The palisade binary to measure: the one given, else `palisade` beside this benchmark (both
/// built by `cargo build --release -p palisade -p palisade-bench`).
pub(crate) fn palisade_bin(given: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let palisade = match given {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("palisade"),
    };
    if !palisade.is_file() {
        bail!(
            "no palisade binary at {}: build it with `cargo build --release -p palisade`",
            palisade.display()
        );
    }
    Ok(palisade)
}

fn audit(args: Args) -> anyhow::Result<()> {
    let palisade = palisade_bin(&args.palisade)?;
    let small = tempfile::Builder::new()
        .prefix("palisade-bench")
        .disable_cleanup(std::env::var_os("PALISADE_BENCH_KEEP").is_some())
        .tempdir()?;
    println!("corpus directory: {}", small.path().display());
    let large = tempfile::tempdir()?;
    let stats = corpus::write(small.path(), args.documents, args.per_file)?;
    corpus::write(large.path(), args.documents * 4, args.per_file)?;
    println!(
        "corpus: {} workload documents in {} files ({:.1} MiB), {} of them violating restricted",
        stats.documents,
        stats.files,
        stats.bytes as f64 / 1048576.0,
        stats.violating
    );

    // Warm the page cache, then time.
    run(&mut palisade_audit(&palisade, small.path()))?;
    let mut times = Vec::new();
    let mut rss_small = 0;
    for _ in 0..args.runs.max(1) {
        let r = run(&mut palisade_audit(&palisade, small.path()))?;
        times.push(r.elapsed);
        rss_small = r.max_rss_kib;
    }
    let t = median(times);
    let palisade_rate = stats.documents as f64 / t.as_secs_f64();
    println!(
        "palisade: {:>10.0} documents/s  (median of {} runs: {:.3} s)  peak RSS {:.1} MiB",
        palisade_rate,
        args.runs,
        t.as_secs_f64(),
        rss_small as f64 / 1024.0
    );

    let r = run(&mut palisade_audit(&palisade, large.path()))?;
    println!(
        "palisade: {:>10.0} documents/s  on {} documents ({:.3} s)  peak RSS {:.1} MiB  (x{:.2} of the {}-document run)",
        (stats.documents * 4) as f64 / r.elapsed.as_secs_f64(),
        stats.documents * 4,
        r.elapsed.as_secs_f64(),
        r.max_rss_kib as f64 / 1024.0,
        r.max_rss_kib as f64 / rss_small as f64,
        stats.documents
    );

    match find_checkov(&args) {
        None => {
            println!("checkov:  not installed (pip install checkov, or set CHECKOV) - no ratio")
        }
        Some(checkov) => {
            let mut cmd = Command::new(&checkov);
            cmd.args([
                "--framework",
                "kubernetes",
                "--quiet",
                "--compact",
                "--skip-download",
                "-o",
                "json",
                "-d",
            ])
            .arg(small.path());
            let report_dir = tempfile::tempdir()?;
            let report_path = report_dir.path().join("checkov-report.json");
            let r = run_to(&mut cmd, Stdio::from(std::fs::File::create(&report_path)?))?;
            let rate = stats.documents as f64 / r.elapsed.as_secs_f64();
            println!(
                "checkov:  {:>10.1} documents/s  ({:.1} s, {})",
                rate,
                r.elapsed.as_secs_f64(),
                checkov.display()
            );
            // A ratio means nothing unless the peer did the work: show what it says it scanned.
            let report: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&report_path)?)
                    .context("checkov's JSON report")?;
            let reports = match report {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            for r in &reports {
                let s = &r["summary"];
                println!("          checkov {}: {} resources, {} passed, {} failed checks, {} parsing errors", r["check_type"].as_str().unwrap_or("?"), s["resource_count"], s["passed"], s["failed"], s["parsing_errors"]);
            }
            println!(
                "ratio:    palisade is {:.0}x checkov's throughput",
                palisade_rate / rate
            );
        }
    }
    Ok(())
}
