//! `palisade sign model` and `palisade verify model`: OpenSSF Model Signing on
//! palisade-model-sign (docs/model-signing.md).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use palisade_model_sign::{
    serialize::relative_to_model, HashAlgorithm, Method, Options, Rejection, Trust, Verification,
};
use serde_json::json;

use super::shared::{pretty, write_output};
use crate::cli::{
    ModelPathArgs, ModelSignHash, ModelSignMethod, SignModelArgs, VerifyModelArgs,
    VerifyModelFormat,
};
use crate::EXIT_FINDINGS;

pub(crate) fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The paths to leave out, relative to the model, as model_signing's CLI resolves them (the
/// signature file among them when it lies inside the model).
pub(crate) fn options(model: &ModelPathArgs, signature: &Path) -> Options {
    let mut ignore: Vec<String> = model
        .ignore_paths
        .iter()
        .chain(std::iter::once(&signature.to_path_buf()))
        .filter_map(|p| relative_to_model(&model.path, p))
        .filter(|p| p != ".")
        .collect();
    ignore.sort();
    ignore.dedup();
    Options {
        ignore_paths: ignore,
        ignore_git_paths: !model.no_ignore_git_paths,
        ..Options::default()
    }
}

fn private_key(path: &Path) -> anyhow::Result<palisade_sign_core::EcSigningKey> {
    let pem = String::from_utf8(read(path)?).context("the key is not PEM text")?;
    let password = if pem.contains("ENCRYPTED SIGSTORE") || pem.contains("ENCRYPTED COSIGN") {
        Some(match std::env::var("PALISADE_PASSWORD") {
            Ok(password) => password,
            Err(_) => rpassword::prompt_password("Password for the private key: ").context(
                "no password: set PALISADE_PASSWORD (it may be empty) or run on a terminal",
            )?,
        })
    } else {
        None
    };
    palisade_sign_core::ec_private_key(&pem, password.as_deref().map(str::as_bytes))
        .with_context(|| path.display().to_string())
}

fn certificates(paths: &[impl AsRef<Path>]) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let certs = palisade_model_sign::x509::pem_certificates(&read(path)?)
            .with_context(|| path.display().to_string())?;
        if certs.is_empty() {
            bail!("{}: no CERTIFICATE in it", path.display());
        }
        out.extend(certs);
    }
    Ok(out)
}

pub fn sign(args: SignModelArgs) -> anyhow::Result<ExitCode> {
    let key = private_key(&args.key)?;
    let mut options = options(&args.model, &args.signature);
    options.allow_symlinks = args.allow_symlinks;
    options.hash = match args.hash {
        ModelSignHash::Sha256 => HashAlgorithm::Sha256,
        ModelSignHash::Blake2b => HashAlgorithm::Blake2b,
    };
    options.method = match args.method {
        ModelSignMethod::Files => Method::Files,
        ModelSignMethod::Shards => Method::Shards {
            shard_size: args.shard_size,
        },
    };
    let chain = match &args.signing_certificate {
        Some(cert) => {
            let mut chain = certificates(&[cert])?;
            chain.truncate(1);
            chain.extend(certificates(&args.certificate_chain)?);
            Some(chain)
        }
        None => None,
    };
    if let Some(chain) = &chain {
        let leaf = palisade_model_sign::x509::leaf_public_key(&chain[0])?;
        if leaf != key.public_key() {
            bail!("the signing certificate's public key is not the key's");
        }
    }
    let (manifest, bundle) =
        palisade_model_sign::sign(&args.model.path, &options, &key, chain.as_deref())?;
    std::fs::write(&args.signature, bundle)
        .with_context(|| format!("writing {}", args.signature.display()))?;
    eprintln!(
        "signed {} ({} items, {}) into {}",
        args.model.path.display(),
        manifest.items.len(),
        manifest.serialization.item_algorithm(),
        args.signature.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What `verify model` (and `scan model --signature`) trusts, from the flags.
pub fn trust(
    key: Option<&Path>,
    chain: &[std::path::PathBuf],
    keyless: Option<(&Path, &str, &str)>,
) -> anyhow::Result<Trust> {
    if let Some(path) = key {
        let pem = String::from_utf8(read(path)?).context("the public key is not PEM text")?;
        let key =
            palisade_sign_core::ec_public_key(&pem).with_context(|| path.display().to_string())?;
        return Ok(Trust::Key(key));
    }
    if !chain.is_empty() {
        return Ok(Trust::Certificates(certificates(chain)?));
    }
    let Some((root, identity, issuer)) = keyless else {
        bail!("give --key, --certificate-chain, or --trusted-root with --identity and --issuer");
    };
    super::model_keyless::verify(&read(root)?, identity, issuer)
}

pub fn verify(args: VerifyModelArgs) -> anyhow::Result<ExitCode> {
    let bundle = read(&args.signature)?;
    let keyless = args
        .trusted_root
        .as_deref()
        .zip(args.identity.as_deref())
        .zip(args.issuer.as_deref())
        .map(|((r, id), is)| (r, id, is));
    let trust = trust(args.key.as_deref(), &args.certificate_chain, keyless)?;
    let options = options(&args.model, &args.signature);
    let verification =
        palisade_model_sign::verify(&args.model.path, &bundle, &trust, &options, None)?;
    let text = match args.format {
        VerifyModelFormat::Text => verdict_text(&args.model.path, &verification),
        VerifyModelFormat::Json => pretty(&verdict_json(&args.model.path, &verification))?,
    };
    write_output(args.output.as_deref(), &text)?;
    Ok(if verification.outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FINDINGS)
    })
}

/// The verdict as lines of text: `verified: ...`, or `not verified: ...` and one line per reason.
pub fn verdict_text(model: &Path, v: &Verification) -> String {
    let model = model.display();
    match (&v.outcome, &v.signed) {
        (Ok(()), Some(signed)) => format!(
            "verified: {model}: {} items ({}), root digest sha256:{}, signed by {}\n",
            signed.manifest.items.len(),
            signed.manifest.serialization.item_algorithm(),
            signed
                .root_digest
                .map(|d| palisade_model_sign::to_hex(&d))
                .unwrap_or_else(|| "none (v0.2 signature)".into()),
            v.signer
        ),
        (Ok(()), None) => format!("verified: {model}, signed by {}\n", v.signer),
        (Err(Rejection::Signature(reason)), _) => {
            format!("not verified: {model}: {reason}\n")
        }
        (Err(Rejection::Content(differences)), _) => {
            let mut out = format!(
                "not verified: {model} differs from what {} signed ({} differences)\n",
                v.signer,
                differences.len()
            );
            for d in differences {
                out.push_str(&format!("  {d}\n"));
            }
            out
        }
    }
}

pub fn verdict_json(model: &Path, v: &Verification) -> serde_json::Value {
    let (reason, differences) = match &v.outcome {
        Ok(()) => (None, Vec::new()),
        Err(Rejection::Signature(r)) => (Some(r.clone()), Vec::new()),
        Err(Rejection::Content(d)) => (
            Some("the model differs from the signed manifest".into()),
            d.clone(),
        ),
    };
    json!({
        "model": model.display().to_string(),
        "verified": v.outcome.is_ok(),
        "signer": v.signer,
        "rootDigest": v.signed.as_ref().and_then(|s| s.root_digest).map(|d| format!("sha256:{}", palisade_model_sign::to_hex(&d))),
        "predicateType": v.signed.as_ref().map(|s| s.predicate_type.clone()),
        "items": v.signed.as_ref().map(|s| s.manifest.items.len()),
        "reason": reason,
        "differences": differences,
    })
}
