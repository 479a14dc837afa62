//! `palisade scan model`: scan model files with palisade-model, write the report. Only I/O here.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use palisade_model::report::{self, ScannedFile};
use palisade_model::scan::{scan_path, ScanOptions};
use palisade_model::{policy::Policy, Severity};
use palisade_policy::Config;

use crate::cli::{ModelFormat, ScanModelArgs};
use crate::{EXIT_ERROR, EXIT_FINDINGS};

pub fn run(args: ScanModelArgs) -> anyhow::Result<ExitCode> {
    let fail_on: Severity = args.fail_on;
    let config = match &args.config {
        Some(path) => {
            Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration {e}"))?
        }
        None => Config::default(),
    };
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
        ModelFormat::Json => serde_json::to_string_pretty(&report::json(&files, &findings))? + "\n",
        ModelFormat::Sarif => {
            serde_json::to_string_pretty(&report::sarif(&findings, env!("CARGO_PKG_VERSION")))?
                + "\n"
        }
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    for (path, message) in &unreadable {
        eprintln!("error: {path}: {message}");
    }
    if !unreadable.is_empty() {
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(if findings.iter().any(|f| f.severity >= fail_on) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}
