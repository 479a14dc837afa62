//! `palisade audit`: read manifests, evaluate them with the policy engine, write a report.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;

use palisade_core::report::{JsonReporter, Reporter, SarifReporter, TableReporter};
use palisade_policy::Config;

use crate::cli::{AuditArgs, ColorChoice, OutputFormat};
use crate::input::{self, Input};
use crate::{EXIT_ERROR, EXIT_FINDINGS};

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
    let (inputs, input_errors) = input::collect(&args.paths);
    let mut reporter = reporter(&args)?;
    // An error inside a report bound for a file, a pipe or a parser is easily missed: standard
    // error says it too, unless the report is the table on this very terminal.
    let echo = !(args.format == OutputFormat::Table
        && args.output.is_none()
        && std::io::stdout().is_terminal());
    let summary = palisade_policy::audit_inputs(
        &config,
        defaults,
        &inputs,
        &input_errors,
        reporter.as_mut(),
        &|error| {
            if echo {
                eprintln!("error: {error}");
            }
        },
    )?;
    tracing::info!(
        files = summary.files,
        objects = summary.objects,
        findings = summary.findings,
        errors = summary.errors,
        "audit finished"
    );
    Ok(if summary.errors > 0 {
        ExitCode::from(EXIT_ERROR)
    } else if summary.max_severity().is_some_and(|s| s >= args.fail_on) {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

/// The report writer the arguments ask for, on the output they name.
fn reporter(args: &AuditArgs) -> anyhow::Result<Box<dyn Reporter>> {
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
    Ok(match args.format {
        OutputFormat::Table => Box::new(TableReporter::new(out, color, args.verbose)),
        OutputFormat::Json => Box::new(JsonReporter::new(out, version)),
        OutputFormat::Sarif => Box::new(SarifReporter::new(
            out,
            version,
            palisade_policy::rule_metadata(),
        )),
    })
}

impl palisade_policy::AuditInput for Input {
    fn name(&self) -> &std::sync::Arc<str> {
        Input::name(self)
    }

    fn read(&self) -> Result<String, palisade_core::InputError> {
        Input::read(self)
    }
}
