//! `palisade-bench teams`: `palisade team render` for a platform of many teams (three namespaces
//! each, every team declaring both ends of a connection to its neighbours, a gateway, monitoring,
//! an external CIDR, a quota and image rules), end to end with the real binary, beside its floor
//! in the same run:
//!
//!     cargo build --release -p palisade -p palisade-bench
//!     target/release/palisade-bench teams
//!
//! - floor: `palisade audit` over the same Team files, which reads and parses every document with
//!   the same YAML reader and evaluates nothing (a Team runs no pods): the least work render does;
//! - render: `palisade team render --config C TEAMS -o OUT`, every object written;
//! - memory: peak RSS of render at each size, each in a child process of its own; per team it
//!   must stay about constant as the platform grows, or render is not linear in memory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::image::{measured, Sample};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Platform sizes, in teams (three namespaces each).
    #[arg(long, value_delimiter = ',', default_value = "1000,2000,4000")]
    teams: Vec<usize>,
    /// Timed runs per size; medians are reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The palisade binary [default: target/release/palisade beside this one].
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<PathBuf>,
}

const PLATFORM: &str = "platform:\n  floor: restricted\n  gateway: {namespace: ingress, podSelector: {matchLabels: {app: gateway}}}\n  monitoring: {namespace: monitoring, podSelector: {matchLabels: {app: prometheus}}, ports: [9090]}\n";

/// Team `i` of `n`: it accepts its predecessor on 8080 and reaches its successor on 8080, so
/// every connection is declared on both sides.
pub fn team_yaml(i: usize, n: usize) -> String {
    let (previous, next) = ((i + n - 1) % n, (i + 1) % n);
    let mut out = String::new();
    let _ = write!(
        out,
        "apiVersion: palisade.dev/v1alpha1\nkind: Team\nmetadata:\n  name: t{i}\nspec:\n  namespaces: [t{i}-serve, t{i}-batch, t{i}-dev]\n  owners:\n    - {{kind: Group, name: t{i}-ds}}\n    - {{kind: ServiceAccount, name: deployer, namespace: ci}}\n  podSecurity: {{level: restricted}}\n  network:\n    ingress:\n      - {{from: {{platform: gateway}}, ports: [8080]}}\n      - {{from: {{team: t{previous}}}, ports: [8080]}}\n    egress:\n      - {{to: {{team: t{next}}}, ports: [8080]}}\n      - {{to: {{cidr: 10.{}.0.0/16}}, ports: [443]}}\n  quota: {{requests.cpu: \"16\", requests.memory: 64Gi, pods: \"100\"}}\n  images: {{registries: [registry.example.com/t{i}/], requireScan: {{maxSeverity: high, maxAge: 7d}}}}\n",
        i % 250
    );
    out
}

fn write_platform(dir: &Path, n: usize) -> anyhow::Result<(PathBuf, PathBuf)> {
    let config = dir.join("palisade.yaml");
    std::fs::write(&config, PLATFORM)?;
    let teams = dir.join("teams");
    std::fs::create_dir_all(&teams)?;
    for i in 0..n {
        std::fs::write(teams.join(format!("t{i}.yaml")), team_yaml(i, n))?;
    }
    Ok((config, teams))
}

fn median(command: &[String], runs: usize) -> anyhow::Result<Sample> {
    measured(command)?; // untimed: the page cache
    let mut samples: Vec<Sample> = (0..runs.max(1))
        .map(|_| measured(command))
        .collect::<anyhow::Result<_>>()?;
    samples.sort_by_key(|s| s.time);
    let rss = samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let mid = samples.swap_remove(samples.len() / 2);
    Ok(Sample {
        time: mid.time,
        rss_mib: rss,
    })
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let palisade = match &args.palisade {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("palisade"),
    };
    let bin = palisade.display().to_string();
    println!("| teams | namespaces | objects | floor (audit) | render | render / floor | peak RSS | RSS per team |");
    println!("|---|---|---|---|---|---|---|---|");
    for &n in &args.teams {
        let dir = tempfile::tempdir()?;
        let (config, teams) = write_platform(dir.path(), n)?;
        let out = dir.path().join("rendered.yaml");
        let (config, teams, out_s) = (
            config.display().to_string(),
            teams.display().to_string(),
            out.display().to_string(),
        );
        let floor = median(
            &[
                bin.clone(),
                "audit".into(),
                "-o".into(),
                "/dev/null".into(),
                teams.clone(),
            ],
            args.runs,
        )?;
        let render = median(
            &[
                bin.clone(),
                "team".into(),
                "render".into(),
                "--config".into(),
                config,
                teams,
                "-o".into(),
                out_s,
            ],
            args.runs,
        )?;
        let rendered = std::fs::read_to_string(&out).context("render wrote nothing")?;
        let objects = rendered.matches("\napiVersion: ").count()
            + usize::from(rendered.starts_with("apiVersion: "));
        println!(
            "| {n} | {} | {objects} | {:.3} s | {:.3} s | {:.2}x | {:.1} MiB | {:.1} KiB |",
            n * 3,
            floor.time.as_secs_f64(),
            render.time.as_secs_f64(),
            render.time.as_secs_f64() / floor.time.as_secs_f64().max(1e-9),
            render.rss_mib,
            render.rss_mib * 1024.0 / n as f64,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated platform is one `render` accepts, with every declaration answered.
    #[test]
    fn the_generated_teams_render_without_warnings() {
        let config = palisade_policy::Config::parse("palisade.yaml".into(), PLATFORM).unwrap();
        let n = 12;
        let teams: Vec<palisade_team::Team> = (0..n)
            .flat_map(|i| {
                palisade_team::parse_teams(format!("t{i}.yaml").into(), &team_yaml(i, n)).unwrap()
            })
            .collect();
        let set = palisade_team::TeamSet::new(&config.platform, teams).unwrap();
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);
        let objects = palisade_team::render(&set);
        assert!(objects.len() >= n * 3 * 5, "{}", objects.len());
    }
}
