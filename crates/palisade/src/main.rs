//! palisade: defense in depth for machine-learning model serving on Kubernetes.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod input;
mod logging;

use std::process::ExitCode;

use clap::Parser;
use mimalloc::MiMalloc;

use cli::{Cli, Command};

/// Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 error.
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// The webhook allocates for every request it parses; mimalloc makes that markedly cheaper than
/// glibc's allocator under concurrency (see the webhook benchmark in the README).
#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = logging::init(&cli.log) {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_ERROR);
    }
    let result = match cli.command {
        Command::Audit(args) => commands::audit::run(args),
        Command::Harden(args) => commands::harden::run(args),
        Command::Webhook(args) => commands::webhook::run(args),
        Command::Certs(args) => commands::webhook::certs(args),
        Command::Scan(cli::ScanCommand::Image(args)) => commands::scan::scan_image(args),
        Command::Scan(cli::ScanCommand::Model(args)) => commands::model::run(args),
        Command::Sbom(args) => commands::scan::sbom(args),
        Command::Db(command) => commands::db::run(command),
        Command::Key(cli::KeyCommand::Generate(args)) => commands::key::generate(args),
        Command::Sign(args) => commands::key::sign(args),
        Command::Verify(args) => commands::key::verify(args),
        Command::Attest(args) => commands::key::attest(args),
        Command::Netpol(cli::NetpolCommand::List(args)) => commands::netpol_list::run(args),
        Command::Netpol(cli::NetpolCommand::Generate(args)) => {
            commands::netpol_intent::generate(args)
        }
        Command::Netpol(cli::NetpolCommand::Verify(args)) => commands::netpol_intent::verify(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
