//! Keys as cosign writes and reads them: an ECDSA P-256 key pair; the private key is PKCS#8 DER,
//! encrypted with a key derived by scrypt from the password and sealed with NaCl secretbox
//! (XSalsa20-Poly1305), in a JSON document inside a PEM block `ENCRYPTED SIGSTORE PRIVATE KEY`
//! (also `ENCRYPTED COSIGN PRIVATE KEY`, the older label); the public key is an SPKI `PUBLIC KEY`.

use base64::Engine as _;
use crypto_secretbox::aead::{Aead, AeadCore, KeyInit, OsRng};
use crypto_secretbox::XSalsa20Poly1305;
use p256::ecdsa::{SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};

/// The PEM label cosign writes (it also reads the older `ENCRYPTED COSIGN PRIVATE KEY`).
pub const PRIVATE_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
const OLD_PRIVATE_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The scrypt parameters palisade writes: N = 2^16, r = 8, p = 1, as in a key the cosign CLI
/// generated (`cosign_generated_encrypted_empty_private.key`); older cosign and go-tuf wrote
/// N = 2^15.
const SCRYPT_LOG_N: u8 = 16;
/// The most scrypt work a key file may ask for, as N·r·p: scrypt's time is proportional to it.
/// 2^22 is 8x what cosign writes (2^16·8·1), about a second here; what a review found
/// (N = 2^20, r = 32, p = 16: 2^29) took over 120 s.
const MAX_SCRYPT_WORK: u64 = 1 << 22;
/// The most memory a key file may make scrypt allocate, 128·N·r bytes: 256 MiB, 4x cosign's
/// 64 MiB (the file above asked for 4 GiB).
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not a cosign private key: {0}")]
    Format(String),
    #[error("wrong password, or a damaged key (the sealed key does not open)")]
    Decrypt,
    #[error("the decrypted key is not an ECDSA P-256 PKCS#8 key: {0}")]
    Key(String),
}

/// A public key that does not parse: the parser's own words, which callers place in their message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ECDSA P-256 public key: {0}")]
pub struct PublicKeyError(pub String);

/// Reads a public key (`cosign.pub`: an SPKI `PUBLIC KEY` PEM of an ECDSA P-256 key). The one
/// parser: the configuration's check at load, the webhook's verifier and `palisade verify` all
/// call it, so a key accepted at load is a key the verifier can use.
pub fn public_key(pem: &str) -> Result<VerifyingKey, PublicKeyError> {
    VerifyingKey::from_public_key_pem(pem).map_err(|e| PublicKeyError(e.to_string()))
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
        self.encrypted_pem_with(password, SCRYPT_LOG_N, 8, 1)
    }

    /// The private key encrypted with the given scrypt parameters (N = 2^log_n).
    fn encrypted_pem_with(
        &self,
        password: &[u8],
        log_n: u8,
        r: u32,
        p: u32,
    ) -> Result<String, KeyError> {
        let der = self
            .signing
            .to_pkcs8_der()
            .map_err(|e| KeyError::Key(e.to_string()))?;
        let mut salt = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut OsRng, &mut salt);
        let key = derive(password, &salt, log_n, r, p)?;
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
                    n: 1 << log_n,
                    r,
                    p,
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
        let (r, p) = (envelope.kdf.params.r, envelope.kdf.params.p);
        check_scrypt_cost(n, r, p)?;
        let log_n = n.trailing_zeros() as u8;
        let salt = b64(&envelope.kdf.salt, "the salt")?;
        let nonce = b64(&envelope.cipher.nonce, "the nonce")?;
        if nonce.len() != 24 {
            return Err(KeyError::Format(format!(
                "the nonce is {} bytes, not 24",
                nonce.len()
            )));
        }
        let sealed = b64(&envelope.ciphertext, "the ciphertext")?;
        let key = derive(password, &salt, log_n, r, p)?;
        let cipher = XSalsa20Poly1305::new(&key.into());
        let nonce = crypto_secretbox::Nonce::from_slice(&nonce);
        let der = cipher
            .decrypt(nonce, sealed.as_slice())
            .map_err(|_| KeyError::Decrypt)?;
        let signing = SigningKey::from_pkcs8_der(&der).map_err(|e| KeyError::Key(e.to_string()))?;
        Ok(KeyPair { signing })
    }
}

/// Refuses scrypt parameters whose work (N·r·p) or memory (128·N·r bytes) exceeds
/// [`MAX_SCRYPT_WORK`] or [`MAX_SCRYPT_MEMORY`], before any is spent: the parameters come from the
/// key file, so without a bound a file can make a run allocate gigabytes and spin for minutes.
/// The products are taken in u128 so no parameter can overflow them into acceptance.
fn check_scrypt_cost(n: u64, r: u32, p: u32) -> Result<(), KeyError> {
    if r == 0 || p == 0 {
        return Err(KeyError::Format(format!(
            "scrypt r = {r}, p = {p}: both must be at least 1"
        )));
    }
    let work = u128::from(n) * u128::from(r) * u128::from(p);
    let memory = 128 * u128::from(n) * u128::from(r);
    if work > u128::from(MAX_SCRYPT_WORK) || memory > u128::from(MAX_SCRYPT_MEMORY) {
        return Err(KeyError::Format(format!(
            "scrypt parameters N = {n}, r = {r}, p = {p} ask for {work} units of work and \
             {} MiB of memory; palisade accepts at most N·r·p = {MAX_SCRYPT_WORK} and {} MiB \
             (cosign writes N = 65536, r = 8, p = 1)",
            memory >> 20,
            MAX_SCRYPT_MEMORY >> 20
        )));
    }
    Ok(())
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

    /// A key document with the given scrypt parameters and a ciphertext that never opens: the
    /// parameters must be refused before any derivation, so nothing else matters.
    fn with_params(n: u64, r: u32, p: u32) -> String {
        let json = serde_json::json!({
            "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": "AAAA"},
            "cipher": {"name": "nacl/secretbox", "nonce": "A".repeat(32)},
            "ciphertext": "AAAA",
        });
        pem_encode(PRIVATE_LABEL, &serde_json::to_vec(&json).unwrap())
    }

    #[test]
    fn hardening_08_scrypt_cost_is_bounded_before_deriving() {
        // What cosign and sigstore write opens: N = 2^15 (go-tuf, older cosign) and 2^16.
        let pair = KeyPair::generate();
        for log_n in [15, 16] {
            let pem = pair.encrypted_pem_with(b"pw", log_n, 8, 1).unwrap();
            let back = KeyPair::from_encrypted_pem(&pem, b"pw").unwrap();
            assert_eq!(back.verifying_key(), pair.verifying_key(), "N = 2^{log_n}");
        }
        // The bound itself, on both sides of each product.
        assert!(check_scrypt_cost(1 << 18, 8, 2).is_ok()); // work 2^22, memory 256 MiB
        assert!(check_scrypt_cost(1 << 17, 8, 4).is_ok()); // work 2^22, memory 128 MiB
        assert!(check_scrypt_cost(1 << 18, 8, 3).is_err()); // work over 2^22
        assert!(check_scrypt_cost(1 << 19, 8, 1).is_err()); // memory 512 MiB
        assert!(check_scrypt_cost(1 << 12, 8, 1 << 10).is_err()); // work 2^25, little memory
                                                                  // Hostile files are refused at once, whatever the password: the review's file (4 GiB,
                                                                  // 2^29 work), huge r or p alone, products that overflow 64 bits, and zeros.
        for (n, r, p) in [
            (1u64 << 20, 32, 16),
            (1 << 16, u32::MAX, 1),
            (1 << 16, 8, u32::MAX),
            (1 << 62, u32::MAX, u32::MAX),
            (1 << 2, 1, 1 << 30),
            (1 << 16, 0, 1),
            (1 << 16, 8, 0),
        ] {
            let started = std::time::Instant::now();
            let err = KeyPair::from_encrypted_pem(&with_params(n, r, p), b"").unwrap_err();
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
            let KeyError::Format(text) = &err else {
                panic!("N = {n}, r = {r}, p = {p}: {err}");
            };
            assert!(text.contains("scrypt"), "{text}");
        }
        let text = KeyPair::from_encrypted_pem(&with_params(1 << 20, 32, 16), b"")
            .unwrap_err()
            .to_string();
        assert!(text.contains("N = 1048576, r = 32, p = 16"), "{text}");
        assert!(text.contains("4096 MiB"), "{text}");
    }
}
