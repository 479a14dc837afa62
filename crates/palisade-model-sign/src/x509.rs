//! Certificate-chain verification for `x509CertificateChain` bundles, as `model_signing` checks
//! them: the signing certificate chains, through the bundle's intermediates, to a certificate the
//! verifier trusts; every certificate is valid at the signing certificate's `notBefore` (the
//! moment of signing, as model_signing takes it); issuers are CAs; the signing certificate may
//! sign (key usage digitalSignature, or extended key usage codeSigning). ECDSA (P-256, P-384)
//! signatures over SHA-256/384/512 only.

use palisade_sign_core::{ec_public_key_from_spki_der, EcPublicKey};
use sha2::Digest as _;
use x509_parser::prelude::*;

use crate::Error;

const MAX_DEPTH: usize = 10;

fn parse<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>, Error> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(Error::Bundle(format!(
            "{what}: trailing bytes after the certificate"
        ))),
        Err(e) => Err(Error::Bundle(format!(
            "{what} is not an X.509 certificate: {e}"
        ))),
    }
}

fn public_key(cert: &X509Certificate<'_>) -> Result<EcPublicKey, String> {
    ec_public_key_from_spki_der(cert.public_key().raw).map_err(|e| {
        format!(
            "the key of {} is not ECDSA P-256 or P-384 ({})",
            cert.subject(),
            e.0
        )
    })
}

/// Does `issuer` sign `cert`?
fn signed_by(cert: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> Result<bool, String> {
    let key = public_key(issuer)?;
    let oid = cert.signature_algorithm.algorithm.to_id_string();
    let tbs = cert.tbs_certificate.as_ref();
    let digest: Vec<u8> = match oid.as_str() {
        "1.2.840.10045.4.3.2" => sha2::Sha256::digest(tbs).to_vec(),
        "1.2.840.10045.4.3.3" => sha2::Sha384::digest(tbs).to_vec(),
        "1.2.840.10045.4.3.4" => sha2::Sha512::digest(tbs).to_vec(),
        other => {
            return Err(format!(
                "{} is signed with algorithm {other}: only ECDSA with SHA-2 is supported",
                cert.subject()
            ))
        }
    };
    Ok(key.verify_prehash(&digest, cert.signature_value.data.as_ref()))
}

fn is_ca(cert: &X509Certificate<'_>) -> Option<bool> {
    cert.basic_constraints()
        .ok()
        .flatten()
        .map(|bc| bc.value.ca)
}

fn valid_at(cert: &X509Certificate<'_>, at: ASN1Time) -> bool {
    cert.validity().not_before <= at && at <= cert.validity().not_after
}

/// Verifies `chain` (signing certificate first, DER) against `trusted` (DER) and returns the
/// signing certificate's public key, or why it is not trusted.
pub fn verify_chain(
    chain: &[Vec<u8>],
    trusted: &[Vec<u8>],
) -> Result<Result<EcPublicKey, String>, Error> {
    let Some(leaf_der) = chain.first() else {
        return Err(Error::Bundle("an empty certificate chain".into()));
    };
    let leaf = parse(leaf_der, "the signing certificate")?;
    let intermediates = chain[1..]
        .iter()
        .map(|d| parse(d, "a certificate of the bundle's chain"))
        .collect::<Result<Vec<_>, _>>()?;
    let anchors = trusted
        .iter()
        .map(|d| parse(d, "a trusted certificate"))
        .collect::<Result<Vec<_>, _>>()?;
    let at = leaf.validity().not_before;
    Ok(verify_parsed(&leaf, &intermediates, &anchors, at))
}

fn verify_parsed(
    leaf: &X509Certificate<'_>,
    intermediates: &[X509Certificate<'_>],
    anchors: &[X509Certificate<'_>],
    at: ASN1Time,
) -> Result<EcPublicKey, String> {
    if !may_sign(leaf) {
        return Err(format!(
            "the signing certificate {} may not sign (no digitalSignature key usage or codeSigning extended key usage)",
            leaf.subject()
        ));
    }
    let mut current = leaf;
    for _ in 0..MAX_DEPTH {
        if !valid_at(current, at) {
            return Err(format!(
                "{} is not valid at the signing time {at} (valid {} to {})",
                current.subject(),
                current.validity().not_before,
                current.validity().not_after
            ));
        }
        // A trusted certificate that issued this one (or is this one) ends the path.
        for anchor in anchors {
            if anchor.as_raw() == current.as_raw() {
                return public_key(leaf);
            }
            if anchor.subject().as_raw() == current.issuer().as_raw()
                && is_ca(anchor) != Some(false)
                && signed_by(current, anchor)?
            {
                if !valid_at(anchor, at) {
                    return Err(format!(
                        "the trusted certificate {} is not valid at the signing time {at}",
                        anchor.subject()
                    ));
                }
                return public_key(leaf);
            }
        }
        let next = intermediates.iter().find(|c| {
            c.subject().as_raw() == current.issuer().as_raw()
                && c.as_raw() != current.as_raw()
                && matches!(signed_by(current, c), Ok(true))
        });
        match next {
            Some(issuer) if is_ca(issuer) == Some(true) => current = issuer,
            Some(issuer) => {
                return Err(format!(
                    "{} issued a certificate but is not a CA (basicConstraints)",
                    issuer.subject()
                ))
            }
            None => {
                return Err(format!(
                    "{} (issued by {}) does not chain to a trusted certificate",
                    current.subject(),
                    current.issuer()
                ))
            }
        }
    }
    Err(format!("the chain is longer than {MAX_DEPTH} certificates"))
}

fn may_sign(cert: &X509Certificate<'_>) -> bool {
    let digital_signature = cert
        .key_usage()
        .ok()
        .flatten()
        .is_some_and(|ku| ku.value.digital_signature());
    let code_signing = cert
        .extended_key_usage()
        .ok()
        .flatten()
        .is_some_and(|eku| eku.value.code_signing);
    digital_signature || code_signing
}

/// Every certificate in PEM text (`CERTIFICATE` blocks), DER.
pub fn pem_certificates(text: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::new();
    for pem in Pem::iter_from_buffer(text) {
        let pem = pem.map_err(|e| Error::Bundle(format!("a PEM block does not parse: {e}")))?;
        if pem.label == "CERTIFICATE" {
            out.push(pem.contents);
        }
    }
    Ok(out)
}

/// The public key of a certificate (DER), to check it is the signing key's.
pub fn leaf_public_key(der: &[u8]) -> Result<EcPublicKey, Error> {
    let cert = parse(der, "the signing certificate")?;
    public_key(&cert).map_err(Error::Bundle)
}
