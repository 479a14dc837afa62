//! `palisade key generate`: a cosign-compatible key pair on disk.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};

use palisade_sign::KeyPair;

use crate::cli::KeyGenerateArgs;

/// The password: PALISADE_PASSWORD (may be empty, as cosign allows), else asked twice on a terminal.
fn password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("PALISADE_PASSWORD") {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: set PALISADE_PASSWORD (it may be empty) or run on a terminal");
    }
    let first = rpassword::prompt_password("Password for the private key: ")?;
    let again = rpassword::prompt_password("Again: ")?;
    if first != again {
        bail!("the passwords differ");
    }
    Ok(first)
}

pub fn generate(args: KeyGenerateArgs) -> anyhow::Result<ExitCode> {
    let private = args.out.with_extension("key");
    let public = args.out.with_extension("pub");
    for path in [&private, &public] {
        if path.exists() && !args.force {
            bail!("{} exists; use --force to replace it", path.display());
        }
    }
    let password = password()?;
    let pair = KeyPair::generate();
    let pem = pair.encrypted_pem(password.as_bytes())?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&private)
        .with_context(|| format!("writing {}", private.display()))?;
    file.write_all(pem.as_bytes())?;
    std::fs::write(&public, pair.public_pem()?)
        .with_context(|| format!("writing {}", public.display()))?;
    eprintln!("wrote {} and {}", private.display(), public.display());
    Ok(ExitCode::SUCCESS)
}
