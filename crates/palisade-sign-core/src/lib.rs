//! palisade-sign-core: the formats of signing, as cosign writes them, without registry access.
//! Keys (ECDSA P-256; the private key in cosign's encrypted format, its scrypt cost bounded; the
//! one parser of public keys), simple-signing payloads, DSSE envelopes and their PAE, in-toto
//! statements.
//!
//! Its own crate so that the policy engine (pure, no I/O) checks keys with the very parser the
//! verifier uses without pulling in a registry client. It must not depend on `palisade-oci`,
//! `palisade-sign` or anything that does I/O; pushing and pulling signatures is `palisade-sign`'s.
#![forbid(unsafe_code)]

pub mod dsse;
pub mod ec;
pub mod intoto;
pub mod keys;
pub mod simple_signing;

pub use ec::{
    ec_private_key, ec_public_key, ec_public_key_from_spki_der, EcPublicKey, EcSigningKey,
};
pub use keys::{public_key, KeyError, KeyPair, PublicKeyError};
