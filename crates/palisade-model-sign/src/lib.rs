//! palisade-model-sign: OpenSSF Model Signing (OMS), the format of `model_signing` 1.x
//! (sigstore/model-transparency), without network access.
//!
//! - [`serialize`]: which files make up a model and how they are hashed into a manifest (files or
//!   shards; SHA-256 or BLAKE2b; ignored paths; symbolic links), in parallel, each byte read once;
//! - [`statement`]: the in-toto statement v1 with the `https://model_signing/signature/v1.0`
//!   predicate (resources, root digest, serialization parameters), and the v0.2 predicate;
//! - [`bundle`]: the Sigstore bundle v0.3 holding the DSSE envelope, for managed keys and
//!   certificate chains;
//! - [`x509`]: certificate-chain verification against given trusted certificates;
//! - [`keyless`]: keyless (Fulcio, Rekor, timestamps) bundles against a Sigstore trusted root;
//! - [`verify`]: the verdict, every difference between the signed manifest and the model named.
//!
//! Keyless bundles are verified offline (`sigstore-verify`, without its TUF client); this crate
//! reads files only to hash a model.
//! It must not depend on `palisade-oci`, `palisade-sign` or anything that does network I/O; it
//! uses the model scanner (`palisade-model`) only to scan while it hashes (`scan`).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use palisade_sign_core::{EcPublicKey, EcSigningKey};

pub mod bundle;
pub mod keyless;
pub mod scan;
pub mod serialize;
pub mod statement;
pub mod verify;
pub mod x509;

pub use serialize::{HashAlgorithm, Manifest, Method, Serialization};
pub use verify::Difference;

/// Bad input: the signature, the model directory or a key could not be used. Not a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the signature is not a model signature bundle: {0}")]
    Bundle(String),
    #[error("the signed statement is not a model signature: {0}")]
    Statement(String),
    #[error("the model cannot be serialized: {0}")]
    Model(String),
    #[error("the trusted root cannot be used: {0}")]
    TrustedRoot(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// How to sign or verify which paths of a model: the paths are already relative to the model
/// (see [`serialize::relative_to_model`] for command-line paths).
#[derive(Debug, Clone)]
pub struct Options {
    pub method: Method,
    pub hash: HashAlgorithm,
    pub allow_symlinks: bool,
    /// Paths relative to the model to leave out (the signature file among them).
    pub ignore_paths: Vec<String>,
    /// Also leave out `.git`, `.gitattributes`, `.github` and `.gitignore` (model_signing's default).
    pub ignore_git_paths: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            method: Method::Files,
            hash: HashAlgorithm::Sha256,
            allow_symlinks: false,
            ignore_paths: Vec::new(),
            ignore_git_paths: true,
        }
    }
}

fn all_ignored(options: &Options, extra: &[String]) -> Vec<String> {
    let mut ignore: Vec<String> = options.ignore_paths.clone();
    if options.ignore_git_paths {
        ignore.extend(serialize::GIT_PATHS.iter().map(|s| s.to_string()));
    }
    ignore.extend(extra.iter().cloned());
    ignore.sort();
    ignore.dedup();
    ignore
}

/// Hashes the model at `model` into its manifest.
pub fn manifest(
    model: &Path,
    options: &Options,
    consumer: Option<&serialize::Consumer<'_>>,
) -> Result<Manifest, Error> {
    let ignore = all_ignored(options, &[]);
    let files = serialize::plan(model, options.allow_symlinks, &ignore)?;
    let serialization = Serialization {
        method: options.method,
        hash: options.hash,
        allow_symlinks: options.allow_symlinks,
        ignore_paths: ignore,
    };
    serialize::hash(
        &serialize::model_name(model),
        &files,
        &serialization,
        consumer,
    )
}

/// Signs the model: its manifest, as a bundle (JSON text). With `chain` (the signing certificate
/// first, DER) the bundle carries the certificate chain, else the key's hint.
pub fn sign(
    model: &Path,
    options: &Options,
    key: &EcSigningKey,
    chain: Option<&[Vec<u8>]>,
) -> Result<(Manifest, String), Error> {
    let manifest = manifest(model, options, None)?;
    let payload = statement::payload(&manifest);
    let bundle = match chain {
        Some(chain) => bundle::certificate_bundle(&payload, key, chain),
        None => bundle::key_bundle(&payload, key),
    };
    Ok((manifest, bundle))
}

/// What the signature must be verified with.
#[derive(Debug, Clone)]
pub enum Trust {
    /// A managed public key.
    Key(EcPublicKey),
    /// Trusted certificates (DER) the bundle's chain must lead to.
    Certificates(Vec<Vec<u8>>),
    /// A keyless bundle: its Fulcio certificate, log entries and timestamps against a trusted
    /// root, naming this identity and issuer.
    Keyless(Box<keyless::Keyless>),
}

/// Why a model is not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The signature does not verify: wrong key, untrusted certificate, tampered payload.
    Signature(String),
    /// The model differs from what was signed.
    Content(Vec<Difference>),
}

/// The verdict on a model.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Who signed: the key's hint, or the signing certificate's subject.
    pub signer: String,
    /// The signed manifest (after the signature verified), if it did.
    pub signed: Option<statement::Signed>,
    pub outcome: Result<(), Rejection>,
}

/// Verifies the signature in `bundle_bytes`, then hashes the model as the signature's
/// serialization says (its hash, method, shard size, symbolic links and ignored paths, plus
/// `options.ignore_paths` and, with `ignore_git_paths`, the git paths) and compares. `consumer`
/// sees each file's bytes while they are hashed. Errors are bad input, not verdicts.
pub fn verify(
    model: &Path,
    bundle_bytes: &[u8],
    trust: &Trust,
    options: &Options,
    consumer: Option<&serialize::Consumer<'_>>,
) -> Result<Verification, Error> {
    let bundle = bundle::parse(bundle_bytes)?;
    let (signer, verdict) = check_signature(&bundle, bundle_bytes, trust)?;
    if let Err(reason) = verdict {
        return Ok(Verification {
            signer,
            signed: None,
            outcome: Err(Rejection::Signature(reason)),
        });
    }
    if bundle.payload_type != statement::IN_TOTO_PAYLOAD_TYPE {
        return Err(Error::Statement(format!(
            "payloadType {:?}, expected {}",
            bundle.payload_type,
            statement::IN_TOTO_PAYLOAD_TYPE
        )));
    }
    let signed = statement::parse(&bundle.payload)?;
    let s = &signed.manifest.serialization;
    let extra_ignored = all_ignored(options, &s.ignore_paths);
    let files = serialize::plan(model, s.allow_symlinks, &extra_ignored)?;
    let actual = serialize::hash(&serialize::model_name(model), &files, s, consumer)?;
    let differences = verify::compare(&signed.manifest, &actual);
    let outcome = if differences.is_empty() {
        Ok(())
    } else {
        Err(Rejection::Content(differences))
    };
    Ok(Verification {
        signer,
        signed: Some(signed),
        outcome,
    })
}

fn check_signature(
    bundle: &bundle::Bundle,
    bundle_bytes: &[u8],
    trust: &Trust,
) -> Result<(String, Result<(), String>), Error> {
    use bundle::Material;
    match (trust, &bundle.material) {
        (Trust::Key(key), Material::PublicKey { hint }) => {
            let expected = bundle::key_hint(key);
            let signer = format!("{} key {}", key.curve(), &expected[..16]);
            if let Some(hint) = hint {
                if *hint != expected {
                    return Ok((signer, Err(format!(
                        "wrong key: the signature names key {hint}, the given key is {expected}"
                    ))));
                }
            }
            let ok = bundle::verify_envelope(bundle, key);
            Ok((signer, ok.then_some(()).ok_or_else(|| {
                "the signature does not verify with the given key (wrong key, or a tampered payload)".to_string()
            })))
        }
        (Trust::Certificates(trusted), Material::CertificateChain(chain)) => {
            let subject = leaf_subject(&chain[0]);
            let key = match x509::verify_chain(chain, trusted)? {
                Ok(key) => key,
                Err(reason) => return Ok((subject, Err(format!("untrusted certificate: {reason}")))),
            };
            let ok = bundle::verify_envelope(bundle, &key);
            Ok((subject, ok.then_some(()).ok_or_else(|| {
                "the signature does not verify with the signing certificate's key (a tampered payload)".to_string()
            })))
        }
        (Trust::Keyless(keyless), Material::Certificate(_) | Material::CertificateChain(_)) => {
            // The statement's subject must be the root digest of the manifest it carries (v1),
            // or a subject it names (v0.2, one per file): the manifest is then compared with
            // the model as for any bundle.
            if bundle.payload_type != statement::IN_TOTO_PAYLOAD_TYPE {
                return Err(Error::Statement(format!(
                    "payloadType {:?}, expected {}",
                    bundle.payload_type,
                    statement::IN_TOTO_PAYLOAD_TYPE
                )));
            }
            let signed = statement::parse(&bundle.payload)?;
            let subject = match signed.root_digest {
                Some(root) => root,
                None => signed
                    .manifest
                    .items
                    .first()
                    .and_then(|item| <[u8; 32]>::try_from(item.digest.as_slice()).ok())
                    .ok_or_else(|| Error::Statement("no subject with a SHA-256 digest".into()))?,
            };
            keyless.verify(bundle_bytes, subject)
        }
        (Trust::Key(_), _) => Err(Error::Bundle(
            "the bundle carries a certificate, not a public key: verify with --certificate-chain or --trusted-root".into(),
        )),
        (Trust::Certificates(_), Material::PublicKey { .. }) => Err(Error::Bundle(
            "the bundle was signed with a key, not a certificate: verify with --key".into(),
        )),
        (Trust::Certificates(_), Material::Certificate(_)) => Err(Error::Bundle(
            "a keyless (Fulcio) bundle: verify with --trusted-root, --identity and --issuer".into(),
        )),
        (Trust::Keyless(_), Material::PublicKey { .. }) => Err(Error::Bundle(
            "the bundle was signed with a key, not a certificate: verify with --key".into(),
        )),
    }
}

fn leaf_subject(der: &[u8]) -> String {
    use x509_parser::prelude::FromDer as _;
    x509_parser::certificate::X509Certificate::from_der(der)
        .map(|(_, c)| c.subject().to_string())
        .unwrap_or_else(|_| "an unreadable certificate".into())
}

/// Lower-case hex, as digests are written.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}
