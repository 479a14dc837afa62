//! `palisade team render` and `palisade team verify`: read the configuration, the Team files and
//! (verify) the manifests, call palisade-team, write what it returns. The rules live there.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use palisade_team::render::by_team;
use palisade_team::{parse_teams, render_with, to_yaml, write_yaml, Team, TeamSet};

use palisade_diagnostics::report as diagnostics;

use super::shared::{exit_code, load_config, output_writer, pretty, write_output};
use crate::cli::{MeshKind, OutputFormat, TeamRenderArgs, TeamVerifyArgs};
use crate::input;

pub fn render(args: TeamRenderArgs) -> anyhow::Result<ExitCode> {
    let set = team_set(&args.config, &args.teams)?;
    let objects = render_with(&set, &MeshKind::meshes(&args.mesh));
    match &args.out {
        None => {
            let mut out = output_writer(args.output.as_deref())?;
            write_yaml(&objects, &mut out)
                .and_then(|()| out.flush())
                .context("writing the rendered objects")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (team, objects) in by_team(&objects) {
                let path = dir.join(format!("{team}.yaml"));
                std::fs::write(&path, to_yaml(objects.iter().copied()))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("{}: {} objects", path.display(), objects.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: TeamVerifyArgs) -> anyhow::Result<ExitCode> {
    let Some((dir, teams)) = args.paths.split_last() else {
        anyhow::bail!("give the Team files and then the manifests' directory");
    };
    let set = team_set(&args.config, teams)?;
    let (objects, warnings) = palisade_netpol::load::read_objects(dir)?;
    let report = palisade_team::verify(&set, objects, warnings)?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    let text = match args.format {
        OutputFormat::Table => report.to_string(),
        OutputFormat::Json => pretty(&diagnostics::json(&report.diagnostics()))?,
        OutputFormat::Sarif => pretty(&diagnostics::sarif_document(
            env!("CARGO_PKG_VERSION"),
            &[&palisade_team::verify::TEAM_RULES],
            &["security", "kubernetes", "team"],
            Some("palisade/team-verify"),
            &report.diagnostics(),
        ))?,
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(exit_code(!report.is_clean()))
}

/// The configuration's platform and the Teams under `paths`, checked together; declarations that
/// make no connection are logged as warnings.
fn team_set(config: &Path, paths: &[PathBuf]) -> anyhow::Result<TeamSet> {
    let config = load_config(Some(config))?;
    let teams = read_teams(paths)?;
    if teams.is_empty() {
        anyhow::bail!("no Team in {}", display(paths));
    }
    let set = TeamSet::new(&config.platform, teams)?;
    for warning in &set.warnings {
        tracing::warn!("{warning}");
    }
    Ok(set)
}

/// Every Team in the files and directories `paths` name, each validated with file and line.
pub fn read_teams(paths: &[PathBuf]) -> anyhow::Result<Vec<Team>> {
    let (inputs, errors) = input::collect(paths);
    if let Some(e) = errors.into_iter().next() {
        return Err(e.into());
    }
    let mut teams: Vec<Team> = Vec::new();
    for input in &inputs {
        let text = input.read()?;
        teams.extend(parse_teams(input.name().clone(), &text)?);
    }
    Ok(teams)
}

fn display(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    names.join(", ")
}
