//! `palisade harden`: the mutating webhook's hardening, offline. The work is in
//! `palisade_policy::harden_text`; this reads files and writes results.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;

use palisade_policy::harden_text::harden_file;
use palisade_policy::Config;

use crate::cli::HardenArgs;
use crate::input::Input;
use crate::EXIT_ERROR;

pub fn run(args: HardenArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => {
            Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration {e}"))?
        }
        None => Config::default(),
    };
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, path) in args.files.iter().enumerate() {
        let name: Arc<str> = Arc::from(path.display().to_string());
        // The same reading as `audit`: size limit, UTF-8 check, errors naming the file.
        let input = Input::File {
            name: name.clone(),
            path: path.clone(),
        };
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
            continue;
        }
        if file.reemitted {
            tracing::warn!(
                file = &*name,
                "cannot keep this file's formatting: writing it re-emitted, without comments"
            );
        }
        if args.in_place {
            if file.text != original {
                std::fs::write(path, &file.text)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("hardened {}", path.display());
            }
        } else {
            if n > 0 {
                writeln!(out, "---")?;
            }
            out.write_all(file.text.as_bytes())?;
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}
