//! What every command does the same way: load the configuration file, write its result to `-o`
//! or standard output, and turn "findings at or above the threshold" into the exit code.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use palisade_policy::Config;

use crate::EXIT_FINDINGS;

/// The configuration file, validated once into typed fields; none given is the defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration {e}")),
        None => Ok(Config::default()),
    }
}

/// Writes a whole report to the `-o` file, or to standard output when there is none.
pub fn write_output(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// A streaming report's destination: the `-o` file, or standard output when there is none.
pub fn output_writer(output: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// 1 when there were findings at or above the threshold, else 0.
pub fn exit_code(findings_at_threshold: bool) -> ExitCode {
    if findings_at_threshold {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// A JSON document as the reports print it: pretty, ending in a newline.
pub fn pretty(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}
