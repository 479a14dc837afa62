//! `palisade verify`'s question as one call: is this image signed by this key, and (when asked)
//! does a scan attestation signed by it meet the requirement?

use p256::ecdsa::VerifyingKey;
use palisade_core::image_ref::ImageRef;
use palisade_oci::Repository;

use crate::attest::{verify_scan, ScanRequirement};
use crate::cosign;

/// What verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    /// The image's digest, when its signature verified.
    pub signed_digest: Option<String>,
    /// Whether a scan attestation was required and met the requirement.
    pub scan_verified: bool,
    /// Why the image is not verified; empty when it is.
    pub reasons: Vec<String>,
}

impl ImageVerdict {
    pub fn verified(&self) -> bool {
        self.signed_digest.is_some() && self.reasons.is_empty()
    }
}

/// Verifies the signature of the image `reference` names, then, with a requirement, its newest
/// scan attestation. The attestation is not looked at when the signature fails: an unsigned
/// image is not verified whatever its scan says.
pub fn verify_image(
    repo: &Repository,
    reference: &ImageRef,
    key: &VerifyingKey,
    requirement: Option<&ScanRequirement>,
) -> ImageVerdict {
    let digest = match cosign::verify(repo, reference, key) {
        Ok(digest) => digest,
        Err(reasons) => {
            return ImageVerdict {
                signed_digest: None,
                scan_verified: false,
                reasons,
            }
        }
    };
    let (scan_verified, reasons) = match requirement {
        None => (false, Vec::new()),
        Some(requirement) => {
            match verify_scan(repo, &digest, std::slice::from_ref(key), requirement) {
                Ok(()) => (true, Vec::new()),
                Err(rejection) => (false, rejection.reasons()),
            }
        }
    };
    ImageVerdict {
        signed_digest: Some(digest),
        scan_verified,
        reasons,
    }
}
