//! ECDSA keys on either curve Sigstore bundles use for managed keys: P-256 (signatures over
//! SHA-256) and P-384 (over SHA-384), as OpenSSF Model Signing and X.509 certificates need them.
//! P-256 public keys go through [`crate::public_key`], the one parser the rest of palisade uses;
//! cosign's encrypted private keys through [`KeyPair::from_encrypted_pem`].

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use sha2::Digest as _;

use crate::keys::{public_key, KeyError, KeyPair, PublicKeyError};

/// An ECDSA public key, P-256 or P-384.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcPublicKey {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

/// An ECDSA private key, P-256 or P-384.
#[derive(Clone)]
pub enum EcSigningKey {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
}

impl std::fmt::Debug for EcSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_tuple("EcSigningKey")
            .field(&self.public_key().curve())
            .finish()
    }
}

/// Reads an SPKI `PUBLIC KEY` PEM of an ECDSA P-256 or P-384 key.
pub fn ec_public_key(pem: &str) -> Result<EcPublicKey, PublicKeyError> {
    match public_key(pem) {
        Ok(key) => Ok(EcPublicKey::P256(key)),
        Err(p256_error) => p384::ecdsa::VerifyingKey::from_public_key_pem(pem)
            .map(EcPublicKey::P384)
            .map_err(|_| {
                PublicKeyError(format!(
                    "{} (nor an ECDSA P-384 key)",
                    p256_error.0.trim_end_matches('.')
                ))
            }),
    }
}

/// Reads the DER SubjectPublicKeyInfo of an ECDSA P-256 or P-384 key (as X.509 certificates
/// hold it).
pub fn ec_public_key_from_spki_der(der: &[u8]) -> Result<EcPublicKey, PublicKeyError> {
    p256::ecdsa::VerifyingKey::from_public_key_der(der)
        .map(EcPublicKey::P256)
        .or_else(|_| p384::ecdsa::VerifyingKey::from_public_key_der(der).map(EcPublicKey::P384))
        .map_err(|e| PublicKeyError(format!("neither P-256 nor P-384: {e}")))
}

/// Reads a private key: cosign's encrypted format (with `password`), or an unencrypted PKCS#8
/// `PRIVATE KEY` or SEC1 `EC PRIVATE KEY` PEM (as `openssl` writes them).
pub fn ec_private_key(pem: &str, password: Option<&[u8]>) -> Result<EcSigningKey, KeyError> {
    if pem.contains("ENCRYPTED SIGSTORE PRIVATE KEY")
        || pem.contains("ENCRYPTED COSIGN PRIVATE KEY")
    {
        let Some(password) = password else {
            return Err(KeyError::Format(
                "a cosign key is encrypted: a password is needed".into(),
            ));
        };
        return KeyPair::from_encrypted_pem(pem, password)
            .map(|pair| EcSigningKey::P256(pair.signing_key().clone()));
    }
    if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return Err(KeyError::Format(
            "an encrypted PKCS#8 key: decrypt it first (openssl pkcs8 -in KEY -out PLAIN)".into(),
        ));
    }
    if pem.contains("-----BEGIN EC PRIVATE KEY-----") {
        return p256::SecretKey::from_sec1_pem(pem)
            .map(|k| EcSigningKey::P256(k.into()))
            .or_else(|_| p384::SecretKey::from_sec1_pem(pem).map(|k| EcSigningKey::P384(k.into())))
            .map_err(|e| KeyError::Key(format!("an EC key on neither P-256 nor P-384: {e}")));
    }
    if pem.contains("-----BEGIN PRIVATE KEY-----") {
        return p256::ecdsa::SigningKey::from_pkcs8_pem(pem)
            .map(EcSigningKey::P256)
            .or_else(|_| p384::ecdsa::SigningKey::from_pkcs8_pem(pem).map(EcSigningKey::P384))
            .map_err(|e| KeyError::Key(format!("not an ECDSA P-256 or P-384 key: {e}")));
    }
    Err(KeyError::Format(
        "no PRIVATE KEY, EC PRIVATE KEY or ENCRYPTED SIGSTORE PRIVATE KEY PEM block".into(),
    ))
}

impl EcPublicKey {
    /// `P-256` or `P-384`.
    pub fn curve(&self) -> &'static str {
        match self {
            EcPublicKey::P256(_) => "P-256",
            EcPublicKey::P384(_) => "P-384",
        }
    }

    /// The SPKI `PUBLIC KEY` PEM, LF line endings, as OpenSSL and Python's cryptography write it.
    pub fn spki_pem(&self) -> String {
        let pem = match self {
            EcPublicKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            EcPublicKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
        };
        pem.unwrap_or_default()
    }

    /// Verifies a signature (ASN.1 DER, or the fixed-size r||s form) over `message`, hashed with
    /// the curve's own hash: SHA-256 for P-256, SHA-384 for P-384.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            EcPublicKey::P256(_) => self.verify_prehash(&sha2::Sha256::digest(message), signature),
            EcPublicKey::P384(_) => self.verify_prehash(&sha2::Sha384::digest(message), signature),
        }
    }

    /// Verifies a signature over a digest computed by the caller (any SHA-2 length; X.509
    /// signatures name their hash independently of the curve).
    pub fn verify_prehash(&self, digest: &[u8], signature: &[u8]) -> bool {
        match self {
            EcPublicKey::P256(k) => p256::ecdsa::Signature::from_der(signature)
                .or_else(|_| p256::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify_prehash(digest, &s).is_ok()),
            EcPublicKey::P384(k) => p384::ecdsa::Signature::from_der(signature)
                .or_else(|_| p384::ecdsa::Signature::from_slice(signature))
                .is_ok_and(|s| k.verify_prehash(digest, &s).is_ok()),
        }
    }
}

impl EcSigningKey {
    pub fn public_key(&self) -> EcPublicKey {
        match self {
            EcSigningKey::P256(k) => EcPublicKey::P256(*k.verifying_key()),
            EcSigningKey::P384(k) => EcPublicKey::P384(*k.verifying_key()),
        }
    }

    /// Signs `message` with the curve's own hash; the signature in ASN.1 DER.
    pub fn sign_der(&self, message: &[u8]) -> Vec<u8> {
        match self {
            EcSigningKey::P256(k) => {
                let s: p256::ecdsa::DerSignature = k.sign(message);
                s.as_bytes().to_vec()
            }
            EcSigningKey::P384(k) => {
                let s: p384::ecdsa::DerSignature = k.sign(message);
                s.as_bytes().to_vec()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_curves_sign_and_verify_and_parse_back() {
        let p256 = EcSigningKey::P256(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng));
        let p384 = EcSigningKey::P384(p384::ecdsa::SigningKey::random(&mut rand_core::OsRng));
        for key in [p256, p384] {
            let public = key.public_key();
            let sig = key.sign_der(b"message");
            assert!(public.verify(b"message", &sig));
            assert!(!public.verify(b"messagf", &sig));
            assert_eq!(ec_public_key(&public.spki_pem()).unwrap(), public);
        }
        assert!(ec_public_key("nonsense").is_err());
        assert!(ec_private_key("nonsense", None).is_err());
        let pair = KeyPair::generate();
        let pem = pair.encrypted_pem(b"pw").unwrap();
        assert!(ec_private_key(&pem, None).is_err());
        let key = ec_private_key(&pem, Some(b"pw")).unwrap();
        assert_eq!(key.public_key(), EcPublicKey::P256(pair.verifying_key()));
    }
}
