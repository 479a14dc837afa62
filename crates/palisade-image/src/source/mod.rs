//! The places an image's blobs are read from.

pub mod archive;
pub mod docker_archive;
pub mod oci_dir;
pub mod referrers;
pub mod registry;
pub mod rootfs;

/// `sha256:<64 hex>` to its hex part; anything else (other algorithms, path tricks) is refused.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}
