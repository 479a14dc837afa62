//! palisade-sign: signing, attestations and their verification, compatible with cosign. This first
//! part holds the keys: ECDSA P-256 key pairs, the private key in cosign's encrypted format.
#![forbid(unsafe_code)]

pub mod attest;
pub mod cosign;
pub mod keys;

pub use keys::{KeyError, KeyPair};
