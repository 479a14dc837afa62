//! Keys as cosign writes and reads them: an ECDSA P-256 key pair; the private key is PKCS#8 DER,
//! encrypted with a key derived by scrypt from the password and sealed with NaCl secretbox
//! (XSalsa20-Poly1305), in a JSON document inside a PEM block `ENCRYPTED SIGSTORE PRIVATE KEY`
//! (also `ENCRYPTED COSIGN PRIVATE KEY`, the older label); the public key is an SPKI `PUBLIC KEY`.

use base64::Engine as _;
use crypto_secretbox::aead::{Aead, AeadCore, KeyInit, OsRng};
use crypto_secretbox::XSalsa20Poly1305;
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::{Deserialize, Serialize};

/// The PEM label cosign writes (it also reads the older `ENCRYPTED COSIGN PRIVATE KEY`).
pub const PRIVATE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
const OLD_PRIVATE_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// cosign's scrypt parameters: N = 2^16, r = 8, p = 1.
const SCRYPT_LOG_N: u8 = 16;
/// The most work a key file may ask of scrypt (N = 2^20), so a hostile file cannot stall a run.
const MAX_SCRYPT_LOG_N: u8 = 20;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a cosign private key: {0}")]
    Format(String),
    #[error("wrong password, or a damaged key (the sealed key does not open)")]
    Decrypt,
    #[error("the decrypted key is not an ECDSA P-256 PKCS#8 key: {0}")]
    Key(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    kdf: Kdf,
    cipher: Cipher,
    ciphertext: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Kdf {
    name: String,
    params: ScryptParams,
    salt: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct ScryptParams {
    n: u64,
    #[serde(rename = "r")]
    r: u32,
    #[serde(rename = "p")]
    p: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cipher {
    name: String,
    nonce: String,
}

/// An ECDSA P-256 key pair.
#[derive(Clone)]
pub struct KeyPair {
    signing: SigningKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        f.debug_struct("KeyPair")
            .field("public", &self.public_pem().ok())
            .finish()
    }
}

fn b64(text: &str, what: &str) -> Result<Vec<u8>, KeyError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| KeyError::Format(format!("{what} is not base64: {e}")))
}

fn derive(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Result<[u8; 32], KeyError> {
    let params = scrypt::Params::new(log_n, r, p, 32)
        .map_err(|e| KeyError::Format(format!("scrypt parameters: {e}")))?;
    let mut key = [0u8; 32];
    scrypt::scrypt(password, salt, &params, &mut key)
        .map_err(|e| KeyError::Format(format!("scrypt: {e}")))?;
    Ok(key)
}

impl KeyPair {
    /// A new random key pair.
    pub fn generate() -> KeyPair {
        KeyPair {
            signing: SigningKey::random(&mut OsRng),
        }
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        *self.signing.verifying_key()
    }

    /// The public key as an SPKI `PUBLIC KEY` PEM, as `cosign.pub` holds it.
    pub fn public_pem(&self) -> Result<String, KeyError> {
        self.verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| KeyError::Key(e.to_string()))
    }

    /// The private key encrypted as cosign encrypts it, as PEM.
    pub fn encrypted_pem(&self, password: &[u8]) -> Result<String, KeyError> {
        let der = self
            .signing
            .to_pkcs8_der()
            .map_err(|e| KeyError::Key(e.to_string()))?;
        let mut salt = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt);
        let key = derive(password, &salt, SCRYPT_LOG_N, 8, 1)?;
        let cipher = XSalsa20Poly1305::new(&key.into());
        let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, der.as_bytes())
            .map_err(|_| KeyError::Decrypt)?;
        let engine = base64::engine::general_purpose::STANDARD;
        let envelope = Envelope {
            kdf: Kdf {
                name: "scrypt".into(),
                params: ScryptParams {
                    n: 1 << SCRYPT_LOG_N,
                    r: 8,
                    p: 1,
                },
                salt: engine.encode(salt),
            },
            cipher: Cipher {
                name: "nacl/secretbox".into(),
                nonce: engine.encode(nonce),
            },
            ciphertext: engine.encode(sealed),
        };
        let json = serde_json::to_vec(&envelope).map_err(|e| KeyError::Format(e.to_string()))?;
        Ok(pem_encode(PRIVATE_LABEL, &json))
    }

    /// Reads an encrypted private key as cosign writes it.
    pub fn from_encrypted_pem(pem: &str, password: &[u8]) -> Result<KeyPair, KeyError> {
        let body = pem_decode(pem, &[PRIVATE_LABEL, OLD_PRIVATE_LABEL])?;
        let envelope: Envelope = serde_json::from_slice(&body)
            .map_err(|e| KeyError::Format(format!("the key document: {e}")))?;
        if envelope.kdf.name != "scrypt" {
            return Err(KeyError::Format(format!(
                "key derivation {:?}, expected scrypt",
                envelope.kdf.name
            )));
        }
        if envelope.cipher.name != "nacl/secretbox" {
            return Err(KeyError::Format(format!(
                "cipher {:?}, expected nacl/secretbox",
                envelope.cipher.name
            )));
        }
        let n = envelope.kdf.params.n;
        if !n.is_power_of_two() || n < 2 {
            return Err(KeyError::Format(format!(
                "scrypt N = {n} is not a power of two"
            )));
        }
        let log_n = n.trailing_zeros() as u8;
        if log_n > MAX_SCRYPT_LOG_N || envelope.kdf.params.r > 32 || envelope.kdf.params.p > 16 {
            return Err(KeyError::Format(
                "scrypt parameters beyond what palisade accepts".into(),
            ));
        }
        let salt = b64(&envelope.kdf.salt, "the salt")?;
        let nonce = b64(&envelope.cipher.nonce, "the nonce")?;
        if nonce.len() != 24 {
            return Err(KeyError::Format(format!(
                "the nonce is {} bytes, not 24",
                nonce.len()
            )));
        }
        let sealed = b64(&envelope.ciphertext, "the ciphertext")?;
        let key = derive(
            password,
            &salt,
            log_n,
            envelope.kdf.params.r,
            envelope.kdf.params.p,
        )?;
        let cipher = XSalsa20Poly1305::new(&key.into());
        let nonce = crypto_secretbox::Nonce::from_slice(&nonce);
        let der = cipher
            .decrypt(nonce, sealed.as_slice())
            .map_err(|_| KeyError::Decrypt)?;
        let signing = SigningKey::from_pkcs8_der(&der).map_err(|e| KeyError::Key(e.to_string()))?;
        Ok(KeyPair { signing })
    }
}

fn pem_encode(label: &str, body: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(body);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn pem_decode(pem: &str, labels: &[&str]) -> Result<Vec<u8>, KeyError> {
    for label in labels {
        let begin = format!("-----BEGIN {label}-----");
        let end = format!("-----END {label}-----");
        if let Some(start) = pem.find(&begin) {
            let rest = &pem[start + begin.len()..];
            let stop = rest
                .find(&end)
                .ok_or_else(|| KeyError::Format(format!("no {end} line")))?;
            let text: String = rest[..stop]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            return b64(&text, "the PEM body");
        }
    }
    Err(KeyError::Format(format!(
        "no PEM block labelled {}",
        labels.join(" or ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::{Signer, Verifier};
    use p256::ecdsa::Signature;

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/cosign/sigstore-rs/tests/data/keys")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn reads_a_key_the_cosign_cli_generated() {
        let pem = fixture("cosign_generated_encrypted_empty_private.key");
        let pair = KeyPair::from_encrypted_pem(&pem, b"").unwrap();
        let signature: Signature = pair.signing_key().sign(b"payload");
        pair.verifying_key().verify(b"payload", &signature).unwrap();
        assert!(matches!(
            KeyPair::from_encrypted_pem(&pem, b"wrong"),
            Err(KeyError::Decrypt)
        ));
    }

    #[test]
    fn writes_what_it_reads_in_cosigns_layout() {
        let pair = KeyPair::generate();
        let pem = pair.encrypted_pem(b"s3cret").unwrap();
        assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        let body = pem_decode(&pem, &[PRIVATE_LABEL]).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["kdf"]["name"], "scrypt");
        assert_eq!(
            json["kdf"]["params"],
            serde_json::json!({"N": 65536, "r": 8, "p": 1})
        );
        assert_eq!(json["cipher"]["name"], "nacl/secretbox");
        let back = KeyPair::from_encrypted_pem(&pem, b"s3cret").unwrap();
        assert_eq!(back.verifying_key(), pair.verifying_key());
        assert!(pair
            .public_pem()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n"));
    }

    #[test]
    fn refuses_damaged_and_hostile_key_files() {
        let pem = fixture("cosign_generated_encrypted_empty_private.key");
        let body = pem_decode(&pem, &[PRIVATE_LABEL]).unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json["kdf"]["params"]["N"] = serde_json::json!(1u64 << 30);
        let hostile = pem_encode(PRIVATE_LABEL, &serde_json::to_vec(&json).unwrap());
        assert!(matches!(
            KeyPair::from_encrypted_pem(&hostile, b""),
            Err(KeyError::Format(_))
        ));
        assert!(KeyPair::from_encrypted_pem("not a key", b"").is_err());
        let truncated = &pem[..pem.len() / 2];
        assert!(KeyPair::from_encrypted_pem(truncated, b"").is_err());
    }
}
