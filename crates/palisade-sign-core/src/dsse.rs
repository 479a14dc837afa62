//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse>): a payload signed over its
//! pre-authentication encoding (PAE) with ECDSA P-256, as cosign signs attestations.

use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use serde_json::json;

use crate::intoto::IN_TOTO_PAYLOAD;
use crate::keys::KeyPair;

pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

/// DSSE's pre-authentication encoding, what the signature covers.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Signs `statement` into a DSSE envelope.
pub fn envelope(statement: &serde_json::Value, key: &KeyPair) -> serde_json::Value {
    let payload = serde_json::to_vec(statement).unwrap_or_default();
    let signature: DerSignature = key.signing_key().sign(&pae(IN_TOTO_PAYLOAD, &payload));
    let engine = base64::engine::general_purpose::STANDARD;
    json!({
        "payloadType": IN_TOTO_PAYLOAD,
        "payload": engine.encode(&payload),
        "signatures": [{"keyid": "", "sig": engine.encode(signature.as_bytes())}],
    })
}

/// Opens an envelope: the statement, when a signature verifies with `key`.
pub fn open_envelope(
    envelope: &serde_json::Value,
    key: &VerifyingKey,
) -> Result<serde_json::Value, String> {
    let engine = base64::engine::general_purpose::STANDARD;
    if envelope["payloadType"] != IN_TOTO_PAYLOAD {
        return Err(format!(
            "payload type {}, expected {IN_TOTO_PAYLOAD}",
            envelope["payloadType"]
        ));
    }
    let payload = engine
        .decode(envelope["payload"].as_str().unwrap_or_default())
        .map_err(|e| format!("the payload is not base64: {e}"))?;
    let message = pae(IN_TOTO_PAYLOAD, &payload);
    let verified = envelope["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| {
            let Some(raw) = s["sig"].as_str().and_then(|sig| engine.decode(sig).ok()) else {
                return false;
            };
            Signature::from_der(&raw)
                .or_else(|_| Signature::from_slice(&raw))
                .is_ok_and(|sig| key.verify(&message, &sig).is_ok())
        });
    if !verified {
        return Err("no signature on the attestation verifies with this key (wrong key, or a tampered payload)".into());
    }
    serde_json::from_slice(&payload).map_err(|e| format!("the statement is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_verify_only_with_their_key_and_payload() {
        let key = KeyPair::generate();
        let statement = crate::intoto::statement(
            "r/x",
            "sha256:ab",
            &json!({"findings": []}),
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
        );
        let mut envelope = envelope(&statement, &key);
        assert_eq!(
            open_envelope(&envelope, &key.verifying_key()).unwrap(),
            statement
        );
        assert!(open_envelope(&envelope, &KeyPair::generate().verifying_key()).is_err());
        let engine = base64::engine::general_purpose::STANDARD;
        let mut tampered = statement.clone();
        tampered["predicate"]["scanner"]["result"] = json!({"findings": [{"severity": "low"}]});
        envelope["payload"] = json!(engine.encode(serde_json::to_vec(&tampered).unwrap()));
        assert!(open_envelope(&envelope, &key.verifying_key())
            .unwrap_err()
            .contains("tampered"));
        assert_eq!(pae("t", b"ab"), b"DSSEv1 1 t 2 ab".to_vec());
    }
}
