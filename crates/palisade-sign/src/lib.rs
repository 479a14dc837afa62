//! palisade-sign: image signatures and vulnerability attestations in registries, as cosign
//! stores them: signing and attesting (pushes), and verifying what a registry holds (pulls, with
//! bounded work and `Rejection`s that tell a denial from an unreachable registry).
//!
//! The formats themselves (keys, simple-signing payloads, DSSE, in-toto) are
//! `palisade-sign-core`'s, re-exported here; registry access is `palisade-oci`'s. It must not
//! depend on `palisade-image`, the scan, the policy engine or the webhook.
#![forbid(unsafe_code)]

pub mod attest;
pub mod cosign;
pub mod verify;

pub use palisade_sign_core::{dsse, intoto, keys, simple_signing};
pub use palisade_sign_core::{KeyError, KeyPair};
