//! palisade-image: container images as a scanner reads them. Opening images from registries, OCI
//! layouts and archives, docker-archives and root filesystems; merging their layers in memory; the
//! package inventory (OS, dpkg, apk, RPM, Python) of the merged root.
//!
//! Registry access (the distribution client, authentication, descriptors, digests) is
//! `palisade-oci`'s; this crate only reads images through it. It must not depend on the
//! vulnerability database, the scan, signing, the policy engine or the webhook.
#![forbid(unsafe_code)]

pub mod config;
pub mod image;
pub mod inventory;
pub mod layers;
pub mod source;
pub mod target;

pub use image::{open, ImageError, LayerCache, OpenOptions, OpenedImage, PlatformWanted, Progress};
pub use target::Target;
