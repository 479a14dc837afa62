//! `palisade key generate`, `palisade sign`, `palisade verify`: keys on disk and signatures in
//! registries, as cosign keeps them. The formats live in palisade-sign.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};

use palisade_sign::KeyPair;

use super::shared::{exit_code, write_output};
use crate::cli::{AttestArgs, ImageArgs, KeyGenerateArgs, RegistryImageArgs, SignArgs, VerifyArgs};

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
) -> anyhow::Result<(palisade_oci::Repository, palisade_core::image_ref::ImageRef)> {
    let name = args.name().strip_prefix("registry:").unwrap_or(args.name());
    let reference = palisade_core::image_ref::ImageRef::parse(name)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.name()))?;
    let repo =
        palisade_oci::Repository::new(&reference, args.plain_http, args.docker_config.as_ref())?;
    Ok((repo, reference))
}

pub fn sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    let key_path = args.key.clone().context("--key is required")?;
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let password = password()?;
    let key = KeyPair::from_encrypted_pem(&pem, password.as_bytes())
        .with_context(|| key_path.display().to_string())?;
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
    let key_path = args.key.clone().context("--key is required")?;
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let key =
        palisade_sign::cosign::public_key(&pem).with_context(|| key_path.display().to_string())?;
    let (repo, reference) = repository(&args.image)?;
    let requirement = args
        .require_scan
        .then(|| palisade_sign::attest::ScanRequirement {
            max_severity: args.max_severity,
            max_age: args.max_age.value,
            now: time::OffsetDateTime::now_utc().unix_timestamp(),
        });
    let model_requirement =
        args.require_model_scan
            .then(|| palisade_sign::attest::ModelScanRequirement {
                fail_on: args.model_fail_on,
                max_age: args.max_age.value,
                now: time::OffsetDateTime::now_utc().unix_timestamp(),
            });
    let verdict = palisade_sign::verify::verify_artifact(
        &repo,
        &reference,
        &key,
        requirement.as_ref(),
        model_requirement.as_ref(),
    );
    let mut text = String::new();
    if let Some(digest) = &verdict.signed_digest {
        let image = reference.full_name();
        text += &format!(
            "verified: {image}@{digest} is signed by {}\n",
            key_path.display()
        );
    }
    if verdict.scan_verified {
        text += &format!(
            "verified: a scan no older than {} found nothing above {}\n",
            args.max_age, args.max_severity
        );
    }
    if verdict.model_scan_verified {
        text += &format!(
            "verified: a model scan no older than {} found nothing at or above {}\n",
            args.max_age, args.model_fail_on
        );
    }
    for reason in &verdict.reasons {
        text += &format!("not verified: {reason}\n");
    }
    write_output(args.output.as_deref(), &text)?;
    Ok(exit_code(!verdict.verified()))
}

pub fn attest(args: AttestArgs) -> anyhow::Result<ExitCode> {
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading {}", args.key.display()))?;
    let password = password()?;
    let key = KeyPair::from_encrypted_pem(&pem, password.as_bytes())
        .with_context(|| args.key.display().to_string())?;
    let started = crate::commands::scan::now().1;
    if args.model_scan {
        return attest_model_scan(&args, &key, &started);
    }
    let scan: serde_json::Value = match &args.scan_json {
        Some(path) => serde_json::from_slice(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{} is not JSON", path.display()))?,
        None => {
            let name = args
                .image
                .name()
                .strip_prefix("registry:")
                .unwrap_or(args.image.name());
            let image = ImageArgs {
                target: format!("registry:{name}"),
                plain_http: args.image.plain_http,
                docker_config: args.image.docker_config.clone(),
                platform: "linux/amd64".into(),
                cache_dir: None,
                no_cache: false,
                threads: None,
                no_progress: true,
            };
            // The very scan `palisade scan image` runs with the same options, model files
            // included: what is attested is what that command reports.
            let scanned = crate::commands::scan::run_scan(
                &image,
                &args.db,
                &crate::commands::scan::ScanSettings {
                    config: args.config.as_deref(),
                    ignore_file: args.ignore_file.as_deref(),
                    ignore_unfixed: args.ignore_unfixed,
                    model_scan: true,
                },
            )?;
            palisade_scan::report::json(&scanned.report)
        }
    };
    let finished = crate::commands::scan::now().1;
    let (repo, reference) = repository(&args.image)?;
    let digest =
        palisade_sign::attest::attest(&repo, &reference, &key, &scan, &started, &finished)?;
    eprintln!("attested the scan of {}@{digest}", reference.full_name());
    Ok(ExitCode::SUCCESS)
}

/// `attest --model-scan`: the artifact's model scan (as `scan model oci://` makes it), attested
/// for the digest that was scanned.
fn attest_model_scan(args: &AttestArgs, key: &KeyPair, started: &str) -> anyhow::Result<ExitCode> {
    let config = super::shared::load_config(args.config.as_deref())?;
    let name = args
        .image
        .name()
        .strip_prefix("oci://")
        .or_else(|| args.image.name().strip_prefix("registry:"))
        .unwrap_or(args.image.name());
    let (repo, reference) = super::model::artifact_repository(
        name,
        args.image.plain_http,
        args.image.docker_config.as_ref(),
    )?;
    let options = palisade_scan::artifact::ArtifactOptions {
        scan: palisade_model::scan::ScanOptions {
            policy: palisade_model::policy::Policy {
                extra_allowed: config.models.allowed_globals.clone(),
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let scanned = palisade_scan::artifact::scan_artifact(&repo, &reference, &options)?;
    let finished = crate::commands::scan::now().1;
    let scanned_ref = palisade_core::image_ref::ImageRef {
        digest: Some(scanned.digest.clone()),
        ..reference
    };
    let digest = palisade_sign::attest::attest_model_scan(
        &repo,
        &scanned_ref,
        key,
        &scanned.json(),
        started,
        &finished,
    )?;
    eprintln!(
        "attested the model scan of {}@{digest} ({} files, {} findings)",
        scanned_ref.full_name(),
        scanned.files.len(),
        scanned.findings.len()
    );
    Ok(ExitCode::SUCCESS)
}
