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
        eprintln!("error: {}", error_chain(&e));
        return ExitCode::from(EXIT_ERROR);
    }
    let result = match cli.command {
        Command::Audit(args) => commands::audit::run(args),
        Command::Harden(args) => commands::harden::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Webhook(args) => commands::webhook::run(args),
        Command::Certs(args) => commands::webhook::certs(args),
        Command::Scan(cli::ScanCommand::Image(args)) => commands::scan::scan_image(args),
        Command::Scan(cli::ScanCommand::Model(args)) => commands::model::run(args),
        Command::Sbom(args) => commands::scan::sbom(args),
        Command::Db(command) => commands::db::run(command),
        Command::Key(cli::KeyCommand::Generate(args)) => commands::key::generate(args),
        Command::Sign(cli::SignCommandArgs {
            model: Some(cli::SignModelCommand::Model(args)),
            ..
        }) => commands::model_sign::sign(args),
        Command::Sign(cli::SignCommandArgs { image, .. }) => commands::key::sign(image),
        Command::Verify(cli::VerifyCommandArgs {
            model: Some(cli::VerifyModelCommand::Model(args)),
            ..
        }) => commands::model_sign::verify(args),
        Command::Verify(cli::VerifyCommandArgs { image, .. }) => commands::key::verify(image),
        Command::Attest(args) => commands::key::attest(args),
        Command::Netpol(cli::NetpolCommand::List(args)) => commands::netpol_list::run(args),
        Command::Netpol(cli::NetpolCommand::Generate(args)) => {
            commands::netpol_intent::generate(args)
        }
        Command::Netpol(cli::NetpolCommand::Verify(args)) => commands::netpol_intent::verify(args),
        Command::Team(cli::TeamCommand::Render(args)) => commands::team::render(args),
        Command::Team(cli::TeamCommand::Verify(args)) => commands::team::verify(args),
        Command::Controller(args) => commands::controller::run(args),
        Command::Policy(cli::PolicyCommand::Test(args)) => commands::policy::test(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose text the message before it
/// already ends with (library errors often print their source as part of their own message, and
/// `No such file or directory (os error 2)` twice helps nobody).
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) || (!text.is_empty() && part.is_empty()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that prints its source in its own message and also returns it as its source.
    #[derive(Debug)]
    struct Wrapping(std::io::Error);

    impl std::fmt::Display for Wrapping {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "reading model.pkl: {}", self.0)
        }
    }

    impl std::error::Error for Wrapping {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let io_text = io.to_string();
        let error = anyhow::Error::new(Wrapping(io)).context("scanning /models");
        let text = error_chain(&error);
        assert_eq!(text.matches(&io_text).count(), 1, "{text}");
        assert_eq!(
            text,
            format!("scanning /models: reading model.pkl: {io_text}")
        );
        // A cause that adds something is kept.
        let error = anyhow::anyhow!("disk full").context("writing report.json");
        assert_eq!(error_chain(&error), "writing report.json: disk full");
    }
}
