//! The places an image's blobs are read from. A registry is reached through `palisade-oci`;
//! `registry` here reads an image from it.

pub mod archive;
pub mod docker_archive;
pub mod oci_dir;
pub mod registry;
pub mod rootfs;
