//! Keyless (Fulcio certificate, Rekor entry) model signatures, verified offline against a
//! Sigstore trusted root.

use anyhow::bail;
use palisade_model_sign::Trust;

pub fn verify(
    _trusted_root: &[u8],
    _bundle: &[u8],
    _identity: &str,
    _issuer: &str,
) -> anyhow::Result<Trust> {
    bail!("keyless model signatures (--trusted-root) are not supported yet: verify with --key or --certificate-chain")
}
