//! `palisade-bench netpol`: the connectivity analysis of `palisade netpol list` on a generated
//! cluster (10,000 pods in 500 namespaces with 2,000 NetworkPolicies at `--factor 1`), beside
//! its floor, in the same run:
//!
//!     cargo build --release -p palisade -p palisade-bench
//!     target/release/palisade-bench netpol
//!
//! - floor: reading and parsing the manifests (`load_dir`), which every analysis must do;
//! - analysis: `analyze` plus iterating (counting) every allowed connection, without rendering;
//! - memory: the same load and analysis at factors 1, 2 and 4, each in a child process of its own
//!   (`palisade-bench netpol-measure`), so that each peak RSS is its own: peak RSS per pod must
//!   stay about constant when the input grows, or the analysis is not linear in memory;
//! - end to end: `palisade netpol list -o json` (the real binary) on the factor-1 cluster.
//!
//! With `--ipblocks 10000,30000,100000`, instead: `netpol list` at growing numbers of policies that
//! each name a distinct ipBlock (see [`ipblock_yaml`]), end to end with time and peak RSS, beside
//! loading the same manifests: every doubling of the input must about double both.
//!
//! Pods differ within a namespace only by labels no policy reads (`id`), so the equivalence classes
//! are far fewer than the pods; the egress rule to every `db` pod of every namespace makes the
//! number of allowed connections grow with the square of the pods, which is the report's size,
//! not the analysis' memory.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::resource::{getrusage, UsageWho};

use crate::median;

/// The cluster at factor 1.
const NAMESPACES: usize = 500;
const PODS: usize = 10_000;
const POLICIES: usize = 2_000;
/// Apps and teams do not scale: a larger cluster has more namespaces per team.
const APPS: usize = 20;
const TEAMS: usize = 20;
/// Distinct egress `ipBlock`s (10.N.0.0/16): the second octet bounds them.
const BLOCKS: usize = 250;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scale of the cluster: pods, namespaces and policies are multiplied by it.
    #[arg(long, default_value_t = 1)]
    factor: usize,
    /// Timed runs of the floor and of the analysis; medians are reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Factors of the memory measurement, each in a child process.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    memory_factors: Vec<usize>,
    /// Instead of the cluster above: policy counts for the ipBlock scaling mode (each policy
    /// names a distinct ipBlock), e.g. `10000,30000,100000`.
    #[arg(long, value_delimiter = ',')]
    ipblocks: Vec<usize>,
    /// The palisade binary [default: target/release/palisade beside this one].
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<PathBuf>,
}

/// The generated cluster as multi-document YAML.
pub fn cluster_yaml(factor: usize) -> String {
    let (namespaces, pods, policies) = (NAMESPACES * factor, PODS * factor, POLICIES * factor);
    let mut out = String::new();
    for i in 0..namespaces {
        let env = if i % 2 == 1 { "prod" } else { "dev" };
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns{i}\n  labels:\n    team: t{}\n    env: {env}\n",
            i % TEAMS
        );
    }
    for p in 0..pods {
        let tier = ["web", "api", "db"][p % 3];
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod{p}\n  namespace: ns{}\n  labels:\n    app: app{}\n    tier: {tier}\n    id: p{p}\nspec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 8080\n      name: http\n",
            p % namespaces,
            p % APPS
        );
    }
    for k in 0..policies {
        let _ = write!(
            out,
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np{k}\n  namespace: ns{}\nspec:\n  podSelector:\n    matchLabels:\n      app: app{}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          app: app{}\n    - namespaceSelector:\n        matchLabels:\n          team: t{}\n      podSelector:\n        matchLabels:\n          tier: web\n    ports:\n    - port: http\n    - port: 9000\n      endPort: 9100\n  egress:\n  - to:\n    - namespaceSelector: {{}}\n      podSelector:\n        matchLabels:\n          tier: db\n  - to:\n    - ipBlock:\n        cidr: 10.{}.0.0/16\n",
            k % namespaces,
            k % APPS,
            (k * 7) % APPS,
            k % TEAMS,
            k % BLOCKS
        );
    }
    out
}

/// Pods per policy in the ipBlock mode: each pod's class carries 20 policies.
const POLICIES_PER_POD: usize = 20;

/// `policies` NetworkPolicies, each naming its own /28 ipBlock (every eighth with an `except`)
/// for ingress (TCP 8080) and egress (TCP 443), over one pod per 20 policies in namespaces of
/// 50 pods. Every pod is isolated both ways, so the report has two lines per policy and its
/// size grows linearly: what grows faster is the analysis, not the output.
pub fn ipblock_yaml(policies: usize) -> String {
    let pods = policies.div_ceil(POLICIES_PER_POD).max(1);
    let namespaces = pods.div_ceil(50);
    let mut out = String::new();
    for i in 0..namespaces {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns{i}\n"
        );
    }
    for p in 0..pods {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod{p}\n  namespace: ns{}\n  labels:\n    app: a{p}\nspec:\n  containers:\n  - name: c\n",
            p % namespaces
        );
    }
    for k in 0..policies {
        // 10.0.0.0/8 holds 2^20 disjoint /28s.
        let base = (10u32 << 24) + (k as u32 % (1 << 20)) * 16;
        let addr = std::net::Ipv4Addr::from(base);
        let except = if k % 8 == 0 {
            format!("\n        except: [{addr}/30]")
        } else {
            String::new()
        };
        let block = format!("ipBlock:\n        cidr: {addr}/28{except}");
        let p = k % pods;
        let _ = write!(
            out,
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np{k}\n  namespace: ns{}\nspec:\n  podSelector:\n    matchLabels:\n      app: a{p}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - {block}\n    ports:\n    - port: 8080\n  egress:\n  - to:\n    - {block}\n    ports:\n    - port: 443\n",
            p % namespaces
        );
    }
    out
}

/// The ipBlock scaling mode: per policy count, loading the manifests (in this process, median of
/// `runs`) beside `palisade netpol list -o json` end to end (one run, in a child of its own so
/// its peak RSS is its own).
fn run_ipblocks(args: &Args, palisade: &std::path::Path) -> anyhow::Result<()> {
    let me = std::env::current_exe()?;
    println!("ipBlock scaling: each policy names a distinct ipBlock; {POLICIES_PER_POD} policies per pod");
    for &policies in &args.ipblocks {
        let dir = tempfile::Builder::new()
            .prefix("palisade-bench-ipblocks")
            .tempdir()?;
        let file = dir.path().join("cluster.yaml");
        std::fs::write(&file, ipblock_yaml(policies))?;
        let bytes = std::fs::metadata(&file)?.len();
        let mut cluster = palisade_netpol::load_dir(dir.path())?;
        let mut loads = Vec::new();
        for _ in 0..args.runs.max(1) {
            let started = Instant::now();
            cluster = palisade_netpol::load_dir(dir.path())?;
            loads.push(started.elapsed());
        }
        if cluster.network_policies.len() != policies {
            bail!(
                "the generated manifests loaded as {} policies",
                cluster.network_policies.len()
            );
        }
        drop(cluster);
        let out = Command::new(&me)
            .arg("measure")
            .arg("--")
            .arg(palisade)
            .args(["netpol", "list", "--dirpath"])
            .arg(dir.path())
            .args(["-o", "json"])
            .stderr(Stdio::inherit())
            .output()
            .context("running palisade-bench measure")?;
        if !out.status.success() {
            bail!("netpol list on {policies} policies failed: {}", out.status);
        }
        let m: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("measure output {:?}", out.stdout))?;
        let list_ms = m["ms"].as_f64().unwrap_or(f64::NAN);
        let load_ms = ms(median(loads));
        println!(
            "  {policies:>7} policies ({:.1} MiB of YAML): floor load_dir {load_ms:>8.1} ms  netpol list -o json {list_ms:>9.1} ms ({:.1}x the floor), peak RSS {:.1} MiB",
            bytes as f64 / 1048576.0,
            list_ms / load_ms,
            m["rssKib"].as_f64().unwrap_or(f64::NAN) / 1024.0
        );
    }
    Ok(())
}

/// Writes the cluster into a new temporary directory.
fn write_cluster(factor: usize) -> anyhow::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("palisade-bench-netpol")
        .tempdir()?;
    std::fs::write(dir.path().join("cluster.yaml"), cluster_yaml(factor))?;
    Ok(dir)
}

/// What one analysis found.
struct Analysed {
    workloads: usize,
    policies: usize,
    classes: usize,
    connections: usize,
}

/// Analyses a loaded cluster and counts the allowed connections (what `netpol list` does before
/// rendering).
fn analyse(cluster: &palisade_netpol::Cluster) -> anyhow::Result<Analysed> {
    let connectivity = palisade_netpol::analyze(cluster)?;
    Ok(Analysed {
        workloads: cluster.workloads.len(),
        policies: cluster.network_policies.len(),
        classes: connectivity.class_count(),
        connections: connectivity.connections().count(),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let palisade = crate::palisade_bin(&args.palisade)?;
    if !args.ipblocks.is_empty() {
        return run_ipblocks(&args, &palisade);
    }
    let dir = write_cluster(args.factor)?;
    let bytes = std::fs::metadata(dir.path().join("cluster.yaml"))?.len();
    println!(
        "cluster: {} pods, {} namespaces, {} NetworkPolicies ({:.1} MiB of YAML)",
        PODS * args.factor,
        NAMESPACES * args.factor,
        POLICIES * args.factor,
        bytes as f64 / 1048576.0
    );

    // Untimed first run: the page cache holds the file for every timed one.
    let runs = args.runs.max(1);
    let mut cluster = palisade_netpol::load_dir(dir.path())?;
    let mut loads = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        cluster = palisade_netpol::load_dir(dir.path())?;
        loads.push(started.elapsed());
    }
    let mut analyses = Vec::new();
    let mut found = analyse(&cluster)?;
    for _ in 0..runs {
        let started = Instant::now();
        found = analyse(&cluster)?;
        analyses.push(started.elapsed());
    }
    if found.workloads != PODS * args.factor || found.policies != POLICIES * args.factor {
        bail!(
            "the generated cluster loaded as {} workloads and {} policies",
            found.workloads,
            found.policies
        );
    }
    let (load, analysis) = (median(loads), median(analyses));
    println!(
        "floor:    load_dir {:>9.1} ms  (median of {runs})",
        ms(load)
    );
    println!(
        "analysis: {:>18.1} ms  (median of {runs}; analyze + iterate every connection)  = {:.2}x the floor",
        ms(analysis),
        analysis.as_secs_f64() / load.as_secs_f64()
    );
    println!(
        "          {} classes, {} connections",
        found.classes, found.connections
    );

    // End to end: the real binary, rendering JSON to nowhere; once untimed. Before the memory
    // children, since a child's peak (RUSAGE_CHILDREN) is the largest of all children so far.
    let list = || {
        let mut cmd = Command::new(&palisade);
        cmd.args(["netpol", "list", "--dirpath"])
            .arg(dir.path())
            .args(["-o", "json"]);
        cmd
    };
    crate::run(&mut list())?;
    let mut times = Vec::new();
    let mut rss = 0;
    for _ in 0..runs {
        let r = crate::run(&mut list())?;
        times.push(r.elapsed);
        rss = r.max_rss_kib;
    }
    println!(
        "end to end: palisade netpol list -o json > /dev/null {:>9.1} ms  (median of {runs}), peak RSS {:.1} MiB",
        ms(median(times)),
        rss as f64 / 1024.0
    );
    println!("memory (each factor in a child process: load + analysis, peak RSS):");
    let me = std::env::current_exe()?;
    for &factor in &args.memory_factors {
        let out = Command::new(&me)
            .args(["netpol-measure", "--factor", &factor.to_string()])
            .stderr(Stdio::inherit())
            .output()
            .context("running netpol-measure")?;
        if !out.status.success() {
            bail!("netpol-measure --factor {factor} failed: {}", out.status);
        }
        let m: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("netpol-measure output {:?}", out.stdout))?;
        let kib = |key: &str| m[key].as_f64().unwrap_or(f64::NAN);
        let pods = (PODS * factor) as f64;
        println!(
            "  x{factor}: {:>6} pods {:>5} classes {:>10} connections  peak RSS {:>7.1} MiB ({:.1} KiB/pod)  after load {:>7.1} MiB, analysis peak {:>7.1} MiB ({:.2} KiB/pod above the loaded cluster)",
            PODS * factor,
            m["classes"],
            m["connections"],
            kib("peakKib") / 1024.0,
            kib("peakKib") / pods,
            kib("loadedKib") / 1024.0,
            kib("analysisPeakKib") / 1024.0,
            (kib("analysisPeakKib") - kib("loadedKib")) / pods,
        );
    }

    Ok(())
}

/// A field of /proc/self/status in KiB (`VmRSS`, `VmHWM`).
fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// `palisade-bench netpol-measure --factor N`: writes the cluster, loads and analyses it, and
/// prints as JSON the peak RSS of the process (getrusage), its RSS once the cluster is loaded, and
/// the peak during the analysis alone. The high-water mark is reset after loading (Linux
/// `clear_refs`), because parsing the YAML may peak higher than the analysis and would hide it.
pub fn measure(factor: usize) -> anyhow::Result<()> {
    let dir = write_cluster(factor)?;
    let cluster = palisade_netpol::load_dir(dir.path())?;
    let loaded = status_kib("VmRSS").unwrap_or(f64::NAN);
    // Resetting the high-water mark resets getrusage's peak too: keep the loading peak.
    let load_peak = getrusage(UsageWho::RUSAGE_SELF)?.max_rss();
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let found = analyse(&cluster)?;
    let analysis_peak = if reset {
        status_kib("VmHWM").unwrap_or(f64::NAN)
    } else {
        f64::NAN
    };
    let peak = load_peak.max(getrusage(UsageWho::RUSAGE_SELF)?.max_rss());
    println!(
        "{}",
        serde_json::json!({
            "factor": factor,
            "classes": found.classes,
            "connections": found.connections,
            "peakKib": peak,
            "loadedKib": loaded,
            "analysisPeakKib": analysis_peak,
        })
    );
    drop(cluster);
    Ok(())
}
