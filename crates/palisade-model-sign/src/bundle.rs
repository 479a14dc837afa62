//! The Sigstore bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`) a model signature is:
//! verification material (a public key hint, an X.509 certificate chain, or a Fulcio certificate
//! with transparency log entries) and a DSSE envelope over the statement.

use base64::Engine as _;
use palisade_sign_core::dsse::pae;
use palisade_sign_core::{EcPublicKey, EcSigningKey};
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::statement::IN_TOTO_PAYLOAD_TYPE;
use crate::Error;

pub const BUNDLE_V0_3: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const KNOWN_MEDIA_TYPES: [&str; 5] = [
    BUNDLE_V0_3,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle.v0.3.1+json",
];

/// The largest signature file read (a manifest of a million shards is about 200 MB).
pub const MAX_BUNDLE_BYTES: u64 = 512 << 20;

/// What the bundle offers to verify the signature with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// A managed key: `publicKey.hint` is the hex SHA-256 of the key's SPKI PEM (absent in
    /// signatures before `model_signing` 1.0).
    PublicKey { hint: Option<String> },
    /// `x509CertificateChain`: the signing certificate first, then intermediates (DER).
    CertificateChain(Vec<Vec<u8>>),
    /// `certificate` (bundle v0.3, keyless): a Fulcio certificate; checked with the log entries.
    Certificate(Vec<u8>),
}

/// A parsed bundle. Nothing in it is trusted until verified.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub media_type: String,
    pub material: Material,
    pub tlog_entries: usize,
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

fn b64(text: &Value, what: &str) -> Result<Vec<u8>, Error> {
    let text = text
        .as_str()
        .ok_or_else(|| Error::Bundle(format!("{what} is missing or not a string")))?;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Error::Bundle(format!("{what} is not base64: {e}")))
}

/// Parses a bundle, refusing anything that is not one (wrong media type, no DSSE envelope, no
/// signature, undecodable fields). A message-signature bundle is not a model signature.
pub fn parse(bytes: &[u8]) -> Result<Bundle, Error> {
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(Error::Bundle(format!(
            "{} bytes, more than the {MAX_BUNDLE_BYTES} a signature may have",
            bytes.len()
        )));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Bundle(format!("not JSON (truncated?): {e}")))?;
    let media_type = value["mediaType"]
        .as_str()
        .ok_or_else(|| Error::Bundle("no mediaType: not a Sigstore bundle".into()))?;
    if !KNOWN_MEDIA_TYPES.contains(&media_type) {
        return Err(Error::Bundle(format!(
            "mediaType {media_type:?}, expected {BUNDLE_V0_3}"
        )));
    }
    let vm = &value["verificationMaterial"];
    if !vm.is_object() {
        return Err(Error::Bundle("no verificationMaterial".into()));
    }
    let material = if let Some(pk) = vm.get("publicKey") {
        let hint = match pk.get("hint") {
            None | Some(Value::Null) => None,
            Some(Value::String(h)) if h.is_empty() => None,
            Some(Value::String(h)) => Some(h.clone()),
            Some(other) => return Err(Error::Bundle(format!("publicKey.hint is {other}"))),
        };
        Material::PublicKey { hint }
    } else if let Some(chain) = vm.get("x509CertificateChain") {
        let certs = chain["certificates"].as_array().ok_or_else(|| {
            Error::Bundle("x509CertificateChain.certificates is not a list".into())
        })?;
        if certs.is_empty() || certs.len() > 10 {
            return Err(Error::Bundle(format!(
                "x509CertificateChain has {} certificates (1 to 10 expected)",
                certs.len()
            )));
        }
        let ders = certs
            .iter()
            .map(|c| b64(&c["rawBytes"], "a certificate's rawBytes"))
            .collect::<Result<Vec<_>, _>>()?;
        Material::CertificateChain(ders)
    } else if let Some(cert) = vm.get("certificate") {
        Material::Certificate(b64(&cert["rawBytes"], "certificate.rawBytes")?)
    } else {
        return Err(Error::Bundle(
            "verificationMaterial has no publicKey, x509CertificateChain or certificate".into(),
        ));
    };
    let tlog_entries = vm["tlogEntries"].as_array().map_or(0, Vec::len);
    let envelope = &value["dsseEnvelope"];
    if !envelope.is_object() {
        return Err(Error::Bundle(
            "no dsseEnvelope (a message signature is not a model signature)".into(),
        ));
    }
    let payload_type = envelope["payloadType"]
        .as_str()
        .ok_or_else(|| Error::Bundle("dsseEnvelope.payloadType is missing".into()))?
        .to_string();
    let payload = b64(&envelope["payload"], "dsseEnvelope.payload")?;
    let signatures = envelope["signatures"]
        .as_array()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Bundle("dsseEnvelope has no signatures".into()))?
        .iter()
        .map(|s| b64(&s["sig"], "a signature's sig"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Bundle {
        media_type: media_type.to_string(),
        material,
        tlog_entries,
        payload_type,
        payload,
        signatures,
    })
}

/// The hint `model_signing` records for a public key: hex SHA-256 of its SPKI PEM.
pub fn key_hint(key: &EcPublicKey) -> String {
    hex::encode(sha2::Sha256::digest(key.spki_pem().as_bytes()))
}

/// `model_signing` 0.2's PAE, kept to verify its signatures: `DSSEV1`, and the payload as Python
/// prints a `bytes` object (`b'...'`), a bug its 1.x verifier also accepts.
pub fn pae_v0_2(payload: &[u8]) -> Vec<u8> {
    let quote = if payload.contains(&b'\'') && !payload.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut repr = format!("b{quote}");
    for &b in payload {
        match b {
            b'\\' => repr.push_str("\\\\"),
            b'\t' => repr.push_str("\\t"),
            b'\n' => repr.push_str("\\n"),
            b'\r' => repr.push_str("\\r"),
            b if b as char == quote => {
                repr.push('\\');
                repr.push(quote);
            }
            0x20..=0x7e => repr.push(b as char),
            _ => repr.push_str(&format!("\\x{b:02x}")),
        }
    }
    repr.push(quote);
    format!(
        "DSSEV1 {} {IN_TOTO_PAYLOAD_TYPE} {} {repr}",
        IN_TOTO_PAYLOAD_TYPE.len(),
        payload.len()
    )
    .into_bytes()
}

/// Verifies the envelope's first signature (the one `model_signing` reads) with `key`, over the
/// DSSE PAE (or, for `model_signing` 0.2 signatures, its PAE with SHA-256).
pub fn verify_envelope(bundle: &Bundle, key: &EcPublicKey) -> bool {
    let Some(sig) = bundle.signatures.first() else {
        return false;
    };
    if key.verify(&pae(&bundle.payload_type, &bundle.payload), sig) {
        return true;
    }
    let compat = pae_v0_2(&bundle.payload);
    key.verify(&compat, sig) || key.verify_prehash(&sha2::Sha256::digest(&compat), sig)
}

fn envelope(payload: &[u8], key: &EcSigningKey) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    let sig = key.sign_der(&pae(IN_TOTO_PAYLOAD_TYPE, payload));
    json!({
        "payload": engine.encode(payload),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [{"sig": engine.encode(sig), "keyid": ""}],
    })
}

/// A bundle signed with a managed key, as `model_signing sign key` writes it.
pub fn key_bundle(payload: &[u8], key: &EcSigningKey) -> String {
    json!({
        "mediaType": BUNDLE_V0_3,
        "verificationMaterial": {
            "publicKey": {"hint": key_hint(&key.public_key())},
            "tlogEntries": [],
        },
        "dsseEnvelope": envelope(payload, key),
    })
    .to_string()
}

/// A bundle signed with a certificate's key, as `model_signing sign certificate` writes it: the
/// signing certificate then the rest of the chain, DER.
pub fn certificate_bundle(payload: &[u8], key: &EcSigningKey, chain: &[Vec<u8>]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let certificates: Vec<Value> = chain
        .iter()
        .map(|der| json!({"rawBytes": engine.encode(der)}))
        .collect();
    json!({
        "mediaType": BUNDLE_V0_3,
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": certificates},
            "tlogEntries": [],
        },
        "dsseEnvelope": envelope(payload, key),
    })
    .to_string()
}
