//! `palisade scan model`: scan model files with palisade-model, write the report. Only I/O here.
//! With `--signature`, the model's OMS signature is verified in the same pass: each file is
//! read once, hashed (palisade-model-sign) as the scanner reads it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::bail;
use palisade_model::scan::{scan_read, ScanOutcome};
use palisade_model_sign::serialize::ModelFile;

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
    let trust = super::model_sign::trust(
        args.key.as_deref(),
        &args.certificate_chain,
        keyless,
        &bundle,
    )?;
    let sign_options = super::model_sign::options(
        &crate::cli::ModelPathArgs {
            path: path.clone(),
            ignore_paths: args.ignore_paths.clone(),
            no_ignore_git_paths: args.no_ignore_git_paths,
        },
        signature,
    );
    // Each file is scanned on the hashing worker that reads it.
    let per_file = ScanOptions {
        parallel: false,
        ..options.clone()
    };
    let scanned: Mutex<Vec<(PathBuf, ScanOutcome)>> = Mutex::new(Vec::new());
    let consumer = |file: &ModelFile, reader: &mut dyn std::io::Read| {
        let outcome = scan_read(
            &file.path.display().to_string(),
            reader,
            Some(file.size),
            &per_file,
        );
        scanned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((file.path.clone(), outcome));
    };
    let verification =
        palisade_model_sign::verify(path, &bundle, &trust, &sign_options, Some(&consumer))?;
    let scanned = scanned.into_inner().unwrap_or_else(|e| e.into_inner());
    let seen: HashSet<PathBuf> = scanned.iter().map(|(p, _)| p.clone()).collect();
    let mut outcomes: Vec<ScanOutcome> = scanned.into_iter().map(|(_, o)| o).collect();
    // What the hashing did not read: scanned as a plain scan would (symbolic links reported).
    if seen.is_empty() {
        outcomes.push(scan_path(path, options));
    } else if path.is_dir() {
        let mut rest = ScanOutcome::default();
        let mut others = Vec::new();
        for entry in walkdir::WalkDir::new(path)
            .follow_links(false)
            .sort_by_file_name()
        {
            match entry {
                Ok(e) if e.file_type().is_dir() => {}
                Ok(e) if e.file_type().is_file() && seen.contains(e.path()) => {}
                Ok(e) if e.file_type().is_symlink() && !seen.contains(e.path()) => {
                    rest.files.push(palisade_model::FileReport {
                        path: e.path().display().to_string(),
                        format: "symbolic link outside the signed files: not followed".into(),
                        size: 0,
                        members: 0,
                    })
                }
                Ok(e) if e.file_type().is_symlink() => {}
                Ok(e) => others.push(e.into_path()),
                Err(e) => rest
                    .read_errors
                    .push((path.display().to_string(), e.to_string())),
            }
        }
        outcomes.push(rest);
        outcomes.extend(others.iter().map(|p| scan_path(p, options)));
    }
    Ok((outcomes, (path.clone(), verification)))
}
