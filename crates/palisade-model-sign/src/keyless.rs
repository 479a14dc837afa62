//! Keyless bundles (a Fulcio certificate, Rekor transparency log entries, optionally RFC 3161
//! timestamps) verified offline against a Sigstore trusted root (`trusted_root.json`), with the
//! signer's identity and OIDC issuer required, by `sigstore-verify`:
//!
//! - the signing times: each Rekor v1 entry's `integratedTime` authenticated by its inclusion
//!   promise (the SET, signed by a log key of the trusted root valid at that time) and each
//!   RFC 3161 timestamp by a trusted timestamp authority; at least one is required;
//! - the certificate chains to a `certificateAuthorities` entry valid at every signing time, is
//!   itself valid at every signing time, may sign code, and carries an SCT from a trusted CT log;
//! - its SAN (email or URI) equals the identity, its Fulcio issuer extension
//!   (1.3.6.1.4.1.57264.1.8, or the legacy .1.1) the issuer;
//! - every log entry has an inclusion proof whose signed checkpoint verifies with a log key of
//!   the trusted root, and its body is this envelope (payload hash, signature, certificate);
//! - the DSSE signature over the envelope's PAE verifies with the certificate's key, and the
//!   statement's subject is the digest the caller names (the manifest's root digest).
//!
//! What the statement says about the model is checked by the caller, as for every bundle.

use sigstore_verify::trust_root::TrustedRoot;
use sigstore_verify::types::{Artifact, Bundle, Sha256Hash};
use sigstore_verify::{VerificationPolicy, Verifier};

use crate::Error;

/// What a keyless bundle is verified against: the trusted root, and whom it must name.
#[derive(Debug, Clone)]
pub struct Keyless {
    root: TrustedRoot,
    identity: String,
    issuer: String,
}

impl Keyless {
    /// Reads a trusted root (Sigstore `trusted_root.json`). Errors are bad input.
    pub fn new(trusted_root_json: &[u8], identity: &str, issuer: &str) -> Result<Keyless, Error> {
        let text = std::str::from_utf8(trusted_root_json)
            .map_err(|_| Error::TrustedRoot("not UTF-8 text".into()))?;
        let root = TrustedRoot::from_json(text).map_err(|e| Error::TrustedRoot(e.to_string()))?;
        // Refuses a root whose keys or certificates cannot be used, before any bundle is read.
        Verifier::new(&root).map_err(|e| Error::TrustedRoot(e.to_string()))?;
        if identity.is_empty() || issuer.is_empty() {
            return Err(Error::TrustedRoot(
                "the identity and the issuer must not be empty".into(),
            ));
        }
        Ok(Keyless {
            root,
            identity: identity.to_string(),
            issuer: issuer.to_string(),
        })
    }

    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Verifies the bundle (JSON text) whose statement's subject must be `subject` (SHA-256):
    /// who signed, and whether it verifies (or why not).
    pub(crate) fn verify(
        &self,
        bundle_bytes: &[u8],
        subject: [u8; 32],
    ) -> Result<(String, Result<(), String>), Error> {
        let signer = format!("{} (issuer {})", self.identity, self.issuer);
        let text = std::str::from_utf8(bundle_bytes)
            .map_err(|_| Error::Bundle("not UTF-8 text".into()))?;
        let bundle = Bundle::from_json(text).map_err(|e| Error::Bundle(e.to_string()))?;
        if bundle.verification_material.tlog_entries.is_empty() {
            return Ok((
                signer,
                Err("no transparency log entry: the bundle has no tlogEntries, and a keyless signature must be logged".into()),
            ));
        }
        let verifier = Verifier::new(&self.root).map_err(|e| Error::TrustedRoot(e.to_string()))?;
        let policy = VerificationPolicy::new(self.identity.as_str(), self.issuer.as_str());
        let artifact = Artifact::from_digest(Sha256Hash::new(subject));
        match verifier.verify(artifact, &bundle, &policy) {
            Ok(result) => {
                let logged = result
                    .integrated_time()
                    .map(|t| format!(", logged at {t}"))
                    .unwrap_or_default();
                Ok((format!("{signer}{logged}"), Ok(())))
            }
            Err(e) => Ok((signer, Err(reason(&e)))),
        }
    }
}

/// The verifier's error as the reason a model is not verified, naming what failed.
fn reason(e: &sigstore_verify::Error) -> String {
    use sigstore_verify::Error as E;
    let what = match e {
        E::IdentityMismatch { .. } => "wrong identity",
        E::IssuerMismatch { .. } => "wrong issuer",
        E::Certificate(_) | E::TrustedCertificate(_) => "untrusted certificate",
        E::TransparencyLog(_) => "no valid transparency log entry",
        E::Timestamp(_) => "no verified signing time",
        E::Bundle(_) | E::InvalidBundle(_) | E::UnsupportedBundle(_) => "unusable bundle",
        E::SignatureInvalid(_) => {
            "the signature does not verify with the signing certificate's key (a tampered payload)"
        }
        E::ArtifactMismatch(_) => "the signed statement is not over this model's root digest",
        _ => "not verified",
    };
    format!("{what}: {e}")
}
