//! palisade-oci: the OCI distribution client and the formats it speaks. A registry's repository
//! (manifests and blobs by tag or digest, pushes, Basic and Bearer authentication with a
//! process-wide token cache, Docker config credentials), descriptors, manifests, indexes and their
//! media types, sha256 digests and their verification, OCI 1.1 referrers (the API and the tag
//! schema), and how a model artifact (ModelPack or model files) is told from an image.
//!
//! It sits below everything that talks to a registry (`palisade-image`, `palisade-sign`,
//! `palisade-webhook`, the CLI's `db push`/`db pull`), so that there is one client. It must not
//! depend on any of them, nor on the policy engine: only on `palisade-core` (image references).
#![forbid(unsafe_code)]

pub mod digest;
pub mod error;
pub mod manifest;
pub mod modelpack;
pub mod referrers;
pub mod registry;

pub use digest::{
    parse_json, sha256_digest, sha256_hex, verify_digest, VerifyingReader, MAX_JSON_BLOB,
};
pub use error::OciError;
pub use manifest::{Descriptor, ManifestOrIndex, Platform};
pub use referrers::ReferrersMode;
pub use registry::{Credentials, RegistryOptions, Repository};
