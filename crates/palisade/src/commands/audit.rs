//! `palisade audit`: read manifests, evaluate them with the policy engine, write a report.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use rayon::prelude::*;

use palisade_core::report::{JsonReporter, Reporter, SarifReporter, Summary, TableReporter};
use palisade_core::{InputError, Severity};
use palisade_policy::{Auditor, Config, StreamAudit};
use palisade_pss::LevelVersion;

use crate::cli::{AuditArgs, ColorChoice, OutputFormat};
use crate::input::{self, Input};
use crate::{EXIT_ERROR, EXIT_FINDINGS};

/// Files audited in parallel before their reports are written, in input order. Bounds memory:
/// only one batch of results is held at a time.
const BATCH: usize = 16;

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => {
            Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration {e}"))?
        }
        None => Config::default(),
    };
    let mut defaults = config.default_level_version();
    if let Some(level) = args.level {
        defaults.level = level;
    }
    if let Some(version) = args.policy_version {
        defaults.version = version;
    }
    let fail_on: Severity = args.fail_on;

    let (inputs, input_errors) = input::collect(&args.paths);
    let auditor = learn_namespaces(&config, defaults, &inputs);
    for (namespace, problem) in auditor.namespace_label_errors() {
        tracing::warn!(
            namespace,
            "invalid Pod Security label, using upstream's fallback: {problem}"
        );
    }

    let out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let version = env!("CARGO_PKG_VERSION");
    let mut reporter: Box<dyn Reporter> = match args.format {
        OutputFormat::Table => Box::new(TableReporter::new(out, color, args.verbose)),
        OutputFormat::Json => Box::new(JsonReporter::new(out, version)),
        OutputFormat::Sarif => Box::new(SarifReporter::new(
            out,
            version,
            palisade_policy::rule_metadata(),
        )),
    };

    // An error inside a report bound for a file, a pipe or a parser is easily missed: standard
    // error says it too, unless the report is the table on this very terminal.
    let echo = !(args.format == OutputFormat::Table
        && args.output.is_none()
        && std::io::stdout().is_terminal());
    let report_error = |reporter: &mut Box<dyn Reporter>, error: &InputError| {
        if echo {
            eprintln!("error: {error}");
        }
        reporter.error(error)
    };
    let mut summary = Summary::default();
    for error in &input_errors {
        summary.errors += 1;
        report_error(&mut reporter, error)?;
    }
    for batch in inputs.chunks(BATCH) {
        let audits: Vec<StreamAudit> = batch
            .par_iter()
            .map(|input| audit_input(&auditor, input))
            .collect();
        for audit in audits {
            summary.files += 1;
            summary.documents += audit.documents;
            summary.objects += audit.objects;
            for kind in audit.skipped {
                *summary.skipped.entry(kind).or_default() += 1;
            }
            for report in &audit.reports {
                summary.record(report);
                reporter.object(report)?;
            }
            for error in &audit.errors {
                summary.errors += 1;
                report_error(&mut reporter, error)?;
            }
        }
    }
    reporter.finish(&summary)?;
    tracing::info!(
        files = summary.files,
        objects = summary.objects,
        findings = summary.findings,
        errors = summary.errors,
        "audit finished"
    );

    Ok(exit_code(&summary, fail_on))
}

fn learn_namespaces(config: &Config, defaults: LevelVersion, inputs: &[Input]) -> Auditor {
    let mut auditor = Auditor::new(config, defaults);
    for input in inputs {
        // Unreadable inputs are reported by the audit pass.
        if let Ok(text) = input.read() {
            auditor.learn_namespaces_from(input.name(), &text);
        }
    }
    auditor
}

fn audit_input(auditor: &Auditor, input: &Input) -> StreamAudit {
    match input.read() {
        Ok(text) => auditor.audit_stream(input.name(), &text),
        Err(e) => StreamAudit {
            errors: vec![e],
            ..Default::default()
        },
    }
}

fn exit_code(summary: &Summary, fail_on: Severity) -> ExitCode {
    if summary.errors > 0 {
        ExitCode::from(EXIT_ERROR)
    } else if summary.max_severity().is_some_and(|s| s >= fail_on) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}
