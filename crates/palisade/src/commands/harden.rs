//! `palisade harden`: the mutating webhook's hardening, offline. The work is in
//! `palisade_policy::harden_text`; this reads files and writes results.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;

use palisade_core::report::{count, ObjectReport};
use palisade_policy::harden_text::{harden_file, remaining};

use super::shared::load_config;
use crate::cli::HardenArgs;
use crate::input::{self, Input};
use crate::EXIT_ERROR;

pub fn run(args: HardenArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    // Directories are read as `audit` reads them: recursively, .yaml, .yml and .json.
    let (inputs, input_errors) = input::collect(&args.files);
    let mut failed = !input_errors.is_empty();
    for error in &input_errors {
        eprintln!("error: {error}");
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut written = 0;
    for input in &inputs {
        let name = input.name().clone();
        // The same reading as `audit`: size limit, UTF-8 check, errors naming the file.
        let hardened = match input
            .read()
            .and_then(|text| Ok((harden_file(&name, &text, &config.hardening)?, text)))
        {
            Ok(result) => result,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        let (file, original) = hardened;
        if args.patch {
            for d in file.documents.iter().filter(|d| !d.ops.is_empty()) {
                let object = d.object.as_ref();
                let line = json!({
                    "file": &*name,
                    "document": object.map(|o| o.source.document),
                    "kind": object.map(|o| o.kind.as_str()),
                    "namespace": object.map(|o| o.metadata.namespace.as_str()),
                    "name": object.map(|o| o.metadata.name.as_str()),
                    "patch": d.ops,
                });
                writeln!(out, "{line}")?;
            }
        } else {
            if file.reemitted {
                tracing::warn!(
                    file = &*name,
                    "cannot keep this file's formatting: writing it re-emitted, without comments"
                );
            }
            match (args.in_place, input) {
                (true, Input::File { path, .. }) => {
                    if file.text != original {
                        std::fs::write(path, &file.text)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        eprintln!("hardened {}", path.display());
                    }
                }
                (true, Input::Stdin { .. }) => {
                    anyhow::bail!("--in-place cannot rewrite standard input")
                }
                (false, _) => {
                    if written > 0 {
                        writeln!(out, "---")?;
                    }
                    out.write_all(file.text.as_bytes())?;
                    written += 1;
                }
            }
        }
        report_remaining(&remaining(&config, &name, &file.text));
    }
    Ok(if failed {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

/// Says on standard error what hardening left: each object that still fails, and why, so that
/// a hardened manifest is never taken for a passing one.
fn report_remaining(reports: &[ObjectReport]) {
    for report in reports {
        let object = &report.object;
        eprintln!(
            "{}:{}: {} still fails {} after hardening ({}; harden sets only unset fields and never overrides a value the manifest chose):",
            object.file,
            object.line,
            object.display_name(),
            report.policy,
            count(report.findings.len(), "finding", "findings"),
        );
        for finding in &report.findings {
            eprintln!(
                "  {:<8} {} at {} (line {}): fix: {}",
                finding.severity.to_string().to_uppercase(),
                finding.check,
                finding.field,
                finding.line,
                finding.hint
            );
        }
    }
}
