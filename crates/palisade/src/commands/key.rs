//! `palisade key generate`, `palisade sign`, `palisade verify`: keys on disk and signatures in
//! registries, as cosign keeps them. The formats live in palisade-sign.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};

use palisade_sign::KeyPair;

use crate::cli::{KeyGenerateArgs, RegistryImageArgs, SignArgs, VerifyArgs};
use crate::EXIT_FINDINGS;

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

fn repository(
    args: &RegistryImageArgs,
) -> anyhow::Result<(
    palisade_image::source::registry::Repository,
    palisade_core::image_ref::ImageRef,
)> {
    let name = args.image.strip_prefix("registry:").unwrap_or(&args.image);
    let reference = palisade_core::image_ref::ImageRef::parse(name)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.image))?;
    let repo = palisade_image::source::registry::Repository::new(
        &reference,
        args.plain_http,
        args.docker_config.as_ref(),
    )?;
    Ok((repo, reference))
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading {}", args.key.display()))?;
    let password = password()?;
    let key = KeyPair::from_encrypted_pem(&pem, password.as_bytes())
        .with_context(|| args.key.display().to_string())?;
    let (repo, reference) = repository(&args.image)?;
    let signed = palisade_sign::cosign::sign(&repo, &reference, &key)?;
    eprintln!(
        "signed {}@{} (signature: {}:{})",
        reference.full_name(),
        signed.digest,
        reference.full_name(),
        signed.tag
    );
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading {}", args.key.display()))?;
    let key =
        palisade_sign::cosign::public_key(&pem).with_context(|| args.key.display().to_string())?;
    let (repo, reference) = repository(&args.image)?;
    match palisade_sign::cosign::verify(&repo, &reference, &key) {
        Ok(digest) => {
            println!(
                "verified: {}@{digest} is signed by {}",
                reference.full_name(),
                args.key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(reasons) => {
            for reason in reasons {
                println!("not verified: {reason}");
            }
            Ok(ExitCode::from(EXIT_FINDINGS))
        }
    }
}
