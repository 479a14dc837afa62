//! `palisade audit`: read manifests, evaluate them with the policy engine, write a report.

use std::io::IsTerminal;
use std::process::ExitCode;

use palisade_core::report::{JsonReporter, Reporter, SarifReporter, TableReporter};

use super::shared::{exit_code, load_config, output_writer};
use crate::cli::{AuditArgs, ColorChoice, OutputFormat};
use crate::input::{self, Input};
use crate::EXIT_ERROR;

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let mut defaults = config.default_level_version();
    if let Some(level) = args.level {
        defaults.level = level;
    }
    if let Some(version) = args.policy_version {
        defaults.version = version;
    }
    let (inputs, input_errors) = input::collect(&args.paths);
    let mut reporter = reporter(&args, &config)?;
    // Custom policies (--policy): their findings join the Pod Security ones in every format.
    let custom = if args.policies.is_empty() {
        None
    } else {
        Some(super::policy::CustomPolicies {
            set: super::policy::load_policies(&args.policies)?,
        })
    };
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
        custom
            .as_ref()
            .map(|c| c as &dyn palisade_policy::ObjectChecks),
    )?;
    tracing::info!(
        files = summary.files,
        objects = summary.objects,
        findings = summary.findings,
        errors = summary.errors,
        "audit finished"
    );
    if summary.errors > 0 {
        return Ok(ExitCode::from(EXIT_ERROR));
    }
    Ok(exit_code(
        summary.max_severity().is_some_and(|s| s >= args.fail_on),
    ))
}

/// The report writer the arguments ask for, on the output they name.
fn reporter(
    args: &AuditArgs,
    config: &palisade_policy::Config,
) -> anyhow::Result<Box<dyn Reporter>> {
    let out = output_writer(args.output.as_deref())?;
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
            palisade_policy::rule_metadata_for(&config.rules),
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
