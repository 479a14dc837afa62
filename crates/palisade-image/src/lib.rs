//! palisade-image: package inventory of container images. This first part holds the pure parsers
//! of the package databases (dpkg, Python metadata) and of `os-release`; image access (registry,
//! OCI layout and archive, docker-archive, layer merging) builds on them.
#![forbid(unsafe_code)]

pub mod inventory;
pub mod layers;
