//! cosign's "simple signing" payload (cosign's SIGNATURE_SPEC): the JSON document naming an
//! image's manifest digest that an image signature covers, its media type and annotation, and the
//! tag cosign keeps signatures under. Pushing and verifying against a registry is
//! `palisade_sign::cosign`'s.

use serde_json::json;

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

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
