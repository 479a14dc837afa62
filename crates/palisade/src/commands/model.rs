//! `palisade scan model`: scan model files with palisade-model, write the report. Only I/O here.

use std::process::ExitCode;

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
    for path in &args.paths {
        let outcome = scan_path(path, &options);
        files.extend(outcome.files.into_iter().map(|f| ScannedFile {
            path: f.path,
            format: f.format,
        }));
        findings.extend(outcome.findings);
        unreadable.extend(outcome.read_errors);
    }
    let text = match args.format {
        ModelFormat::Table => report::table(&files, &findings),
        ModelFormat::Json => pretty(&report::json(&files, &findings))?,
        ModelFormat::Sarif => pretty(&report::sarif(&findings, env!("CARGO_PKG_VERSION")))?,
    };
    write_output(args.output.as_deref(), &text)?;
    for (path, message) in &unreadable {
        eprintln!("error: {path}: {message}");
    }
    if !unreadable.is_empty() {
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    let diagnostics: Vec<_> = findings.iter().map(|f| f.diagnostic()).collect();
    Ok(exit_code(palisade_diagnostics::fails(
        &diagnostics,
        args.fail_on.into(),
    )))
}
