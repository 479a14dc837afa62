//! Image signatures as cosign stores them (cosign's SIGNATURE_SPEC): a "simple signing" payload
//! naming the image's manifest digest, signed with ECDSA P-256 over SHA-256, stored as a layer of
//! media type `application/vnd.dev.cosign.simplesigning.v1+json` with the base64 DER signature in
//! the `dev.cosignproject.cosign/signature` annotation, in an OCI image manifest tagged
//! `sha256-<hex>.sig` in the image's repository. Several signatures are several layers. The
//! payload and its layout are `palisade_sign_core::simple_signing`'s; this module pushes and
//! pulls them.

use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use serde_json::json;

use palisade_core::image_ref::ImageRef;
use palisade_oci::manifest::{ManifestOrIndex, OCI_CONFIG, OCI_MANIFEST};
use palisade_oci::{parse_json, verify_digest, OciError, Repository};

use palisade_sign_core::keys::KeyPair;
pub use palisade_sign_core::simple_signing::{
    payload, signature_tag, SIGNATURE_ANNOTATION, SIGNATURE_TYPE, SIMPLE_SIGNING_MEDIA_TYPE,
};

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Registry(#[from] OciError),
    #[error("{0}")]
    Invalid(String),
}

/// What signing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The manifest digest that was signed.
    pub digest: String,
    /// The signature tag.
    pub tag: String,
}

/// Signs the image's manifest digest (a tag is resolved first: the digest is what is signed) and
/// pushes the signature, keeping any signatures already there.
pub fn sign(repo: &Repository, reference: &ImageRef, key: &KeyPair) -> Result<Signed, SignError> {
    let digest = resolve_digest(repo, reference)?;
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
        Err(e) if e.not_found => {}
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

/// Reads a public key (`cosign.pub`, SPKI PEM) with the one parser
/// ([`palisade_sign_core::keys::public_key`]), as a [`SignError`].
pub fn public_key(pem: &str) -> Result<VerifyingKey, SignError> {
    palisade_sign_core::keys::public_key(pem).map_err(|e| SignError::Invalid(e.to_string()))
}

/// Why an image fails verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// What the registry holds does not satisfy the policy, with every reason.
    Denied(Vec<String>),
    /// The registry could not be reached or failed, so there is no verdict.
    Unreachable(String),
}

impl Rejection {
    pub fn reasons(&self) -> Vec<String> {
        match self {
            Rejection::Denied(reasons) => reasons.clone(),
            Rejection::Unreachable(message) => vec![format!("registry unreachable: {message}")],
        }
    }
}

impl From<OciError> for Rejection {
    fn from(e: OciError) -> Self {
        if e.unreachable {
            Rejection::Unreachable(e.to_string())
        } else {
            Rejection::Denied(vec![e.to_string()])
        }
    }
}

/// The most signature (or attestation) layers examined for one image: each costs a blob fetch,
/// and admission must stay bounded however many a repository has accumulated.
pub const MAX_LAYERS_EXAMINED: usize = 32;

/// The manifest digest a reference names: its digest, else what its tag points at now.
pub fn resolve_digest(repo: &Repository, reference: &ImageRef) -> Result<String, OciError> {
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    Ok(repo.manifest(&wanted)?.2)
}

/// Whether the image carries a signature by `key` over its current manifest digest. `Ok(digest)`
/// when one verifies; otherwise `Err` with every reason, one per signature found.
pub fn verify(
    repo: &Repository,
    reference: &ImageRef,
    key: &VerifyingKey,
) -> Result<String, Vec<String>> {
    let digest = resolve_digest(repo, reference).map_err(|e| vec![e.to_string()])?;
    verify_signature(repo, &digest, std::slice::from_ref(key))
        .map(|_| digest)
        .map_err(|r| r.reasons())
}

/// Whether a signature over `digest` verifies with one of `keys`: the index of the key, or why
/// none does (one reason per signature examined).
pub fn verify_signature(
    repo: &Repository,
    digest: &str,
    keys: &[VerifyingKey],
) -> Result<usize, Rejection> {
    let tag = signature_tag(digest);
    let manifest = match repo.manifest(&tag) {
        Ok((bytes, _, _)) => {
            parse_json::<ManifestOrIndex>(repo.location(), "signature manifest", &bytes)
                .map_err(|e| Rejection::Denied(vec![e.to_string()]))?
        }
        Err(e) if e.not_found => {
            return Err(Rejection::Denied(vec![format!(
                "no signature: {} has no {tag} tag",
                repo.location()
            )]))
        }
        Err(e) => return Err(e.into()),
    };
    let mut reasons = Vec::new();
    let layers = manifest.layers.unwrap_or_default();
    for layer in layers
        .iter()
        .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .take(MAX_LAYERS_EXAMINED)
    {
        let check = || -> Result<usize, Rejection> {
            let denied = |m: String| Rejection::Denied(vec![m]);
            let signature = layer.annotations.get(SIGNATURE_ANNOTATION).ok_or_else(|| {
                denied("a signature layer without its signature annotation".into())
            })?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(signature)
                .map_err(|e| denied(format!("the signature is not base64: {e}")))?;
            let signature = Signature::from_der(&raw)
                .or_else(|_| Signature::from_slice(&raw))
                .map_err(|e| denied(format!("not an ECDSA signature: {e}")))?;
            let mut body = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(repo.blob(&layer.digest)?, 1 << 20),
                &mut body,
            )
            .map_err(|e| Rejection::Unreachable(format!("{}: {e}", repo.location())))?;
            verify_digest(repo.location(), &layer.digest, &body)
                .map_err(|e| denied(format!("tampered payload: {e}")))?;
            let key = keys
                .iter()
                .position(|key| key.verify(&body, &signature).is_ok())
                .ok_or_else(|| {
                    denied("the signature does not verify with a trusted key (wrong key, or a tampered payload)".into())
                })?;
            let payload: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| denied(format!("the payload is not JSON: {e}")))?;
            let signed = payload["critical"]["image"]["docker-manifest-digest"]
                .as_str()
                .unwrap_or_default();
            if signed != digest {
                return Err(denied(format!(
                    "the signature is for another digest ({signed}, the image is {digest})"
                )));
            }
            if payload["critical"]["type"] != SIGNATURE_TYPE {
                return Err(denied(format!(
                    "the payload's type is not {SIGNATURE_TYPE:?}"
                )));
            }
            Ok(key)
        };
        match check() {
            Ok(key) => return Ok(key),
            Err(Rejection::Unreachable(m)) => return Err(Rejection::Unreachable(m)),
            Err(Rejection::Denied(r)) => {
                reasons.extend(r.into_iter().map(|r| format!("{}: {r}", layer.digest)))
            }
        }
    }
    if reasons.is_empty() {
        reasons.push("no signature: the signature manifest has no simple-signing layer".into());
    }
    Err(Rejection::Denied(reasons))
}
