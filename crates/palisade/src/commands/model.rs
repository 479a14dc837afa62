//! `palisade scan model`: scan model files with palisade-model (or an OCI model artifact in its
//! registry with palisade-scan's artifact module), write the report. Only I/O here.
//! With `--signature`, the model's OMS signature is verified in the same pass: each file is
//! read once, hashed (palisade-model-sign) as the scanner reads it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use palisade_model::scan::ScanOutcome;

use palisade_model::policy::Policy;
use palisade_model::report::{self, ScannedFile};
use palisade_model::scan::{scan_path, ScanOptions};

use super::shared::{exit_code, load_config, pretty, write_output};
use crate::cli::{ModelFormat, ScanModelArgs};
use crate::EXIT_ERROR;

pub fn run(args: ScanModelArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let mut extra_allowed = config.models.allowed_globals.clone();
    extra_allowed.extend(args.allow_globals.iter().cloned());
    let options = ScanOptions {
        policy: Policy { extra_allowed },
        ..ScanOptions::default()
    };
    if let Some(artifact) = oci_reference(&args.paths)? {
        if args.signature.is_some() {
            bail!("--signature verifies a model on disk, not an oci:// artifact");
        }
        return run_artifact(&args, artifact, options);
    }
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let mut unreadable = Vec::new();
    let (outcomes, verdict) = match &args.signature {
        Some(signature) => {
            let (outcomes, verdict) = verify_and_scan(&args, signature, &options)?;
            (outcomes, Some(verdict))
        }
        None => (
            args.paths.iter().map(|p| scan_path(p, &options)).collect(),
            None,
        ),
    };
    for outcome in outcomes {
        files.extend(outcome.files.into_iter().map(|f| ScannedFile {
            path: f.path,
            format: f.format,
        }));
        findings.extend(outcome.findings);
        unreadable.extend(outcome.read_errors);
    }
    if verdict.is_some() {
        files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    let text = match args.format {
        ModelFormat::Table => report::table(&files, &findings),
        ModelFormat::Json => pretty(&report::json(&files, &findings))?,
        ModelFormat::Sarif => pretty(&report::sarif(&findings, env!("CARGO_PKG_VERSION")))?,
    };
    write_output(args.output.as_deref(), &text)?;
    if let Some((path, verification)) = &verdict {
        // The verdict goes to standard error, so that the report on standard output stays JSON
        // or SARIF when asked for.
        eprint!("{}", super::model_sign::verdict_text(path, verification));
    }
    for (path, message) in &unreadable {
        eprintln!("error: {path}: {message}");
    }
    if !unreadable.is_empty() {
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let diagnostics: Vec<_> = findings.iter().map(|f| f.diagnostic()).collect();
    let failed_scan = palisade_diagnostics::fails(&diagnostics, args.fail_on.into());
    let not_verified = verdict.is_some_and(|(_, v)| v.outcome.is_err());
    Ok(exit_code(failed_scan || not_verified))
}

/// The artifact an `oci://` PATH names; it must be the only PATH.
fn oci_reference(paths: &[PathBuf]) -> anyhow::Result<Option<&str>> {
    let artifacts: Vec<&str> = paths
        .iter()
        .filter_map(|p| p.to_str()?.strip_prefix("oci://"))
        .collect();
    match (artifacts.as_slice(), paths.len()) {
        ([], _) => Ok(None),
        ([one], 1) => Ok(Some(one)),
        _ => bail!("an oci:// artifact is scanned alone: give exactly one PATH"),
    }
}

/// `scan model oci://...`: the artifact's layers streamed from the registry and scanned
/// (palisade-scan's artifact module); the report as for files, with the artifact's digest.
fn run_artifact(args: &ScanModelArgs, name: &str, scan: ScanOptions) -> anyhow::Result<ExitCode> {
    let (repo, reference) =
        artifact_repository(name, args.plain_http, args.docker_config.as_ref())?;
    let options = palisade_scan::artifact::ArtifactOptions {
        scan,
        ..Default::default()
    };
    let scanned = palisade_scan::artifact::scan_artifact(&repo, &reference, &options)?;
    let text = match args.format {
        ModelFormat::Table => format!(
            "{}@{} ({}, {} layers)\n{}",
            scanned.name,
            scanned.digest,
            scanned.kind.as_str(),
            scanned.layers.len(),
            report::table(&scanned.files, &scanned.findings)
        ),
        ModelFormat::Json => pretty(&scanned.json())?,
        ModelFormat::Sarif => pretty(&report::sarif(&scanned.findings, env!("CARGO_PKG_VERSION")))?,
    };
    write_output(args.output.as_deref(), &text)?;
    let diagnostics: Vec<_> = scanned.findings.iter().map(|f| f.diagnostic()).collect();
    Ok(exit_code(palisade_diagnostics::fails(
        &diagnostics,
        args.fail_on.into(),
    )))
}

/// The registry repository of an artifact reference (`HOST/REPO@sha256:...`, `:TAG`).
pub(crate) fn artifact_repository(
    name: &str,
    plain_http: bool,
    docker_config: Option<&PathBuf>,
) -> anyhow::Result<(palisade_oci::Repository, palisade_core::image_ref::ImageRef)> {
    let reference = palisade_core::image_ref::ImageRef::parse(name)
        .map_err(|e| anyhow::anyhow!("oci://{name}: {e}"))?;
    let repo = palisade_oci::Repository::new(&reference, plain_http, docker_config)?;
    Ok((repo, reference))
}

type Verdict = (PathBuf, palisade_model_sign::Verification);

/// Verifies the signature of the one model in `args.paths` while scanning it: the hashing reads
/// each file once and hands the scanner a reader that hashes what it reads. Files the signature
/// does not cover (ignored paths, git paths, the signature itself) are scanned too, and so is
/// every file when the signature itself does not verify (nothing is hashed then).
fn verify_and_scan(
    args: &ScanModelArgs,
    signature: &Path,
    options: &ScanOptions,
) -> anyhow::Result<(Vec<ScanOutcome>, Verdict)> {
    let [path] = args.paths.as_slice() else {
        bail!("--signature verifies one model: give exactly one PATH");
    };
    let bundle = super::model_sign::read(signature)?;
    let keyless = args
        .trusted_root
        .as_deref()
        .zip(args.identity.as_deref())
        .zip(args.issuer.as_deref())
        .map(|((r, id), is)| (r, id, is));
    let trust = super::model_sign::trust(args.key.as_deref(), &args.certificate_chain, keyless)?;
    let sign_options = super::model_sign::options(
        &crate::cli::ModelPathArgs {
            path: path.clone(),
            ignore_paths: args.ignore_paths.clone(),
            no_ignore_git_paths: args.no_ignore_git_paths,
        },
        signature,
    );
    let (outcomes, verification) =
        palisade_model_sign::scan::verify_and_scan(path, &bundle, &trust, &sign_options, options)?;
    Ok((outcomes, (path.clone(), verification)))
}
