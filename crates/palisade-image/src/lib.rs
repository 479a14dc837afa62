//! palisade-image: container images as a scanner reads them. Opening images from registries, OCI
//! layouts and archives, docker-archives and root filesystems; merging their layers in memory; the
//! package inventory (OS, dpkg, apk, RPM, Python) of the merged root.
#![forbid(unsafe_code)]

pub mod image;
pub mod inventory;
pub mod layers;
pub mod oci;
pub mod source;
pub mod target;

pub use image::{open, ImageError, LayerCache, OpenOptions, OpenedImage, PlatformWanted, Progress};
pub use target::Target;
