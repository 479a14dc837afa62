//! Image signatures as cosign stores them (cosign's SIGNATURE_SPEC): a "simple signing" payload
//! naming the image's manifest digest, signed with ECDSA P-256 over SHA-256, stored as a layer of
//! media type `application/vnd.dev.cosign.simplesigning.v1+json` with the base64 DER signature in
//! the `dev.cosignproject.cosign/signature` annotation, in an OCI image manifest tagged
//! `sha256-<hex>.sig` in the image's repository. Several signatures are several layers.

use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::json;

use palisade_core::image_ref::ImageRef;
use palisade_image::image::{parse_json, verify_digest};
use palisade_image::oci::{ManifestOrIndex, OCI_CONFIG, OCI_MANIFEST};
use palisade_image::source::registry::Repository;
use palisade_image::ImageError;

use crate::keys::KeyPair;

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Registry(#[from] ImageError),
    #[error("{0}")]
    Invalid(String),
}

/// The tag cosign stores an image's signatures under: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The simple-signing payload for `docker_reference` (`host/repo`) at `digest`, as cosign writes it.
pub fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    let value = json!({
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": null,
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// What signing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The manifest digest that was signed.
    pub digest: String,
    /// The signature tag.
    pub tag: String,
}

fn resolve(repo: &Repository, reference: &ImageRef) -> Result<String, SignError> {
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    Ok(repo.manifest(&wanted)?.2)
}

/// The signature manifest of `digest`, if there is one.
fn signature_manifest(
    repo: &Repository,
    digest: &str,
) -> Result<Option<ManifestOrIndex>, SignError> {
    match repo.manifest(&signature_tag(digest)) {
        Ok((bytes, _, _)) => Ok(Some(parse_json(
            repo.location(),
            "signature manifest",
            &bytes,
        )?)),
        Err(e) if e.message.contains("404") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Signs the image's manifest digest (a tag is resolved first: the digest is what is signed) and
/// pushes the signature, keeping any signatures already there.
pub fn sign(repo: &Repository, reference: &ImageRef, key: &KeyPair) -> Result<Signed, SignError> {
    let digest = resolve(repo, reference)?;
    let body = payload(&reference.full_name(), &digest);
    let signature: DerSignature = key.signing_key().sign(&body);
    let encoded = base64::engine::general_purpose::STANDARD.encode(signature.as_bytes());
    let layer_digest = repo.push_blob(&body)?;
    let layer = json!({
        "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
        "size": body.len(),
        "digest": layer_digest,
        "annotations": {SIGNATURE_ANNOTATION: encoded},
    });
    let tag = signature_tag(&digest);
    append_layer(repo, &tag, layer)?;
    Ok(Signed { digest, tag })
}

/// Adds `layer` to the image cosign keeps under `tag` (its signatures or attestations), keeping
/// the layers already there but an identical one, with the configuration cosign writes for such
/// images, and pushes the new manifest under the tag.
pub(crate) fn append_layer(
    repo: &Repository,
    tag: &str,
    layer: serde_json::Value,
) -> Result<(), SignError> {
    let invalid = |e: serde_json::Error| SignError::Invalid(e.to_string());
    let mut layers: Vec<serde_json::Value> = Vec::new();
    match repo.manifest(tag) {
        Ok((bytes, _, _)) => {
            let existing: ManifestOrIndex =
                parse_json(repo.location(), &format!("manifest {tag}"), &bytes)?;
            for old in existing.layers.unwrap_or_default() {
                let old = serde_json::to_value(&old).map_err(invalid)?;
                let same =
                    old["digest"] == layer["digest"] && old["annotations"] == layer["annotations"];
                if !same {
                    layers.push(old);
                }
            }
        }
        Err(e) if e.message.contains("404") => {}
        Err(e) => return Err(e.into()),
    }
    layers.push(layer);
    let diff_ids: Vec<&str> = layers.iter().filter_map(|l| l["digest"].as_str()).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{"created": "0001-01-01T00:00:00Z"}],
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    }))
    .map_err(invalid)?;
    let config_digest = repo.push_blob(&config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": config.len(), "digest": config_digest},
        "layers": layers,
    }))
    .map_err(invalid)?;
    repo.push_manifest(tag, OCI_MANIFEST, &manifest)?;
    Ok(())
}

/// Reads a public key (`cosign.pub`, SPKI PEM).
pub fn public_key(pem: &str) -> Result<VerifyingKey, SignError> {
    VerifyingKey::from_public_key_pem(pem)
        .map_err(|e| SignError::Invalid(format!("not an ECDSA P-256 public key: {e}")))
}

/// Whether the image carries a signature by `key` over its current manifest digest. `Ok(digest)`
/// when one verifies; otherwise `Err` with every reason, one per signature found.
pub fn verify(
    repo: &Repository,
    reference: &ImageRef,
    key: &VerifyingKey,
) -> Result<String, Vec<String>> {
    let digest = resolve(repo, reference).map_err(|e| vec![e.to_string()])?;
    let manifest = match signature_manifest(repo, &digest) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Err(vec![format!(
                "no signature: {} has no {} tag",
                reference.full_name(),
                signature_tag(&digest)
            )])
        }
        Err(e) => return Err(vec![e.to_string()]),
    };
    let mut reasons = Vec::new();
    for layer in manifest.layers.unwrap_or_default() {
        if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
            continue;
        }
        let check = || -> Result<(), String> {
            let signature = layer
                .annotations
                .get(SIGNATURE_ANNOTATION)
                .ok_or("a signature layer without its signature annotation")?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(signature)
                .map_err(|e| format!("the signature is not base64: {e}"))?;
            let signature = Signature::from_der(&raw)
                .or_else(|_| Signature::from_slice(&raw))
                .map_err(|e| format!("not an ECDSA signature: {e}"))?;
            let mut body = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(
                    repo.blob(&layer.digest).map_err(|e| e.to_string())?,
                    1 << 20,
                ),
                &mut body,
            )
            .map_err(|e| e.to_string())?;
            verify_digest(repo.location(), &layer.digest, &body)
                .map_err(|e| format!("tampered payload: {e}"))?;
            key.verify(&body, &signature).map_err(|_| {
                "the signature does not verify with this key (wrong key, or a tampered payload)"
                    .to_owned()
            })?;
            let payload: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("the payload is not JSON: {e}"))?;
            let signed = payload["critical"]["image"]["docker-manifest-digest"]
                .as_str()
                .unwrap_or_default();
            if signed != digest {
                return Err(format!(
                    "the signature is for another digest ({signed}, the image is {digest})"
                ));
            }
            if payload["critical"]["type"] != SIGNATURE_TYPE {
                return Err(format!("the payload's type is not {SIGNATURE_TYPE:?}"));
            }
            Ok(())
        };
        match check() {
            Ok(()) => return Ok(digest),
            Err(reason) => reasons.push(format!("{}: {reason}", layer.digest)),
        }
    }
    if reasons.is_empty() {
        reasons.push("no signature: the signature manifest has no simple-signing layer".into());
    }
    Err(reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_and_tag_have_cosigns_layout() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            signature_tag(digest),
            "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"
        );
        let value: serde_json::Value =
            serde_json::from_slice(&payload("127.0.0.1:5000/ml/iris", digest)).unwrap();
        assert_eq!(
            value,
            json!({"critical": {"identity": {"docker-reference": "127.0.0.1:5000/ml/iris"},
                                "image": {"docker-manifest-digest": digest},
                                "type": "cosign container image signature"},
                   "optional": null})
        );
    }
}
