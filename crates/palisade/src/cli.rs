//! Command-line arguments. Every option has a `PALISADE_*` environment fallback.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about = "Defense in depth for machine-learning model serving on Kubernetes"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit Kubernetes manifests against the Pod Security Standards, offline, with the verdicts
    /// and messages of the API server's Pod Security Admission.
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "PALISADE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `palisade=debug`.
    #[arg(long, global = true, default_value = "warn", env = "PALISADE_LOG")]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Findings grouped by object, for people.
    Table,
    /// palisade's stable JSON schema (docs/output.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Files or directories (searched recursively for .yaml, .yml and .json); `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Level for objects whose namespace sets none [default: the config file's, else restricted].
    #[arg(long, env = "PALISADE_LEVEL", value_parser = ["privileged", "baseline", "restricted"])]
    pub level: Option<String>,
    /// Policy version, `v1.N` or `latest` [default: the config file's, else latest].
    #[arg(long = "version", env = "PALISADE_VERSION", value_name = "VERSION")]
    pub policy_version: Option<String>,
    /// The configuration file (docs/configuration.md).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table, env = "PALISADE_FORMAT")]
    pub format: OutputFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, default_value = "low", env = "PALISADE_FAIL_ON", value_parser = ["low", "medium", "high", "critical"])]
    pub fail_on: String,
    /// Colour in the table report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, env = "PALISADE_COLOR")]
    pub color: ColorChoice,
    /// Also list objects that pass or are exempt (table format).
    #[arg(long, short = 'v')]
    pub verbose: bool,
}
