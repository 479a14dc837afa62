//! Keyless (Fulcio certificate, Rekor entry) model signatures, verified offline against a
//! Sigstore trusted root by palisade_model_sign::keyless.

use palisade_model_sign::keyless::Keyless;
use palisade_model_sign::Trust;

pub fn verify(trusted_root: &[u8], identity: &str, issuer: &str) -> anyhow::Result<Trust> {
    Ok(Trust::Keyless(Box::new(Keyless::new(
        trusted_root,
        identity,
        issuer,
    )?)))
}
