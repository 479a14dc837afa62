//! `palisade verify`'s question as one call: is this image signed by this key, and (when asked)
//! does a scan attestation (of its packages, or of the model files of a model artifact) signed by
//! it meet the requirement?

use p256::ecdsa::VerifyingKey;
use palisade_core::image_ref::ImageRef;
use palisade_oci::Repository;

use crate::attest::{verify_model_scan, verify_scan, ModelScanRequirement, ScanRequirement};
use crate::cosign;

/// What verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    /// The image's digest, when its signature verified.
    pub signed_digest: Option<String>,
    /// Whether a scan attestation was required and met the requirement.
    pub scan_verified: bool,
    /// Whether a model-scan attestation was required and met the requirement.
    pub model_scan_verified: bool,
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
    verify_artifact(repo, reference, key, requirement, None)
}

/// [`verify_image`], with a model-scan requirement too (a model artifact's model files): each
/// required attestation is checked, and every failure is a reason.
pub fn verify_artifact(
    repo: &Repository,
    reference: &ImageRef,
    key: &VerifyingKey,
    requirement: Option<&ScanRequirement>,
    model_requirement: Option<&ModelScanRequirement>,
) -> ImageVerdict {
    let digest = match cosign::verify(repo, reference, key) {
        Ok(digest) => digest,
        Err(reasons) => {
            return ImageVerdict {
                signed_digest: None,
                scan_verified: false,
                model_scan_verified: false,
                reasons,
            }
        }
    };
    let keys = std::slice::from_ref(key);
    let mut reasons = Vec::new();
    let mut check = |outcome: Option<Result<(), crate::cosign::Rejection>>| match outcome {
        None => false,
        Some(Ok(())) => true,
        Some(Err(rejection)) => {
            reasons.extend(rejection.reasons());
            false
        }
    };
    let scan_verified = check(requirement.map(|r| verify_scan(repo, &digest, keys, r)));
    let model_scan_verified =
        check(model_requirement.map(|r| verify_model_scan(repo, &digest, keys, r)));
    ImageVerdict {
        signed_digest: Some(digest),
        scan_verified,
        model_scan_verified,
        reasons,
    }
}
