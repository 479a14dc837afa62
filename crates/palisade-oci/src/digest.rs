//! sha256 digests (`sha256:<hex>`, the only algorithm palisade accepts): computing them, checking
//! content against them (whole or as it streams), and the bounded JSON reads of manifests.

use std::io::Read;

use sha2::{Digest as _, Sha256};

use crate::error::OciError;

/// The largest manifest, index or configuration read (they are a few KiB in practice).
pub const MAX_JSON_BLOB: u64 = 4 * 1024 * 1024;

/// The digest of `bytes`: `sha256:<hex>`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:<64 hex>` to its hex part; anything else (other algorithms, path tricks) is refused.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

/// Checks `bytes` against `digest` (`sha256:<hex>`; other algorithms are refused).
pub fn verify_digest(location: &str, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
    let expected = digest.strip_prefix("sha256:").ok_or_else(|| {
        OciError::new(
            location,
            format!("unsupported digest {digest:?} (only sha256)"),
        )
    })?;
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != expected {
        return Err(OciError::new(
            location,
            format!("content of {digest} does not match its digest (sha256:{actual})"),
        ));
    }
    Ok(())
}

/// Parses JSON, naming the location and the line and column of a syntax error.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    location: &str,
    what: &str,
    bytes: &[u8],
) -> Result<T, OciError> {
    serde_json::from_slice(bytes).map_err(|e| OciError::new(location, format!("{what}: {e}")))
}

/// A reader that hashes what passes through and fails at the end if the digest differs, so a
/// tampered or truncated blob is an error, never a silently different inventory.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    expected: String,
    verified: bool,
    /// Verification was asked for a digest algorithm this reader cannot compute: every read
    /// fails (a blob that cannot be checked is not read as if it had been).
    unsupported: Option<String>,
}

impl<R> std::fmt::Debug for VerifyingReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingReader")
            .field("expected", &self.expected)
            .finish()
    }
}

impl<R: Read> VerifyingReader<R> {
    /// Checks the stream against `expected` (`sha256:<hex>`) as it is read; `None` reads it
    /// unverified (a source whose bytes are verified otherwise). Any other algorithm fails the
    /// first read: sha256 is the one palisade computes.
    pub fn new(inner: R, expected: Option<&str>) -> Self {
        let mut unsupported = None;
        let (hasher, expected) = match expected {
            None => (None, String::new()),
            Some(digest) => match digest.strip_prefix("sha256:") {
                Some(hex) => (Some(Sha256::new()), hex.to_owned()),
                None => {
                    unsupported = Some(digest.to_owned());
                    (None, String::new())
                }
            },
        };
        Self {
            inner,
            hasher,
            expected,
            verified: false,
            unsupported,
        }
    }

    /// Whether the whole stream has been read and matched a sha256 digest.
    pub fn verified(&self) -> bool {
        self.verified
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(digest) = &self.unsupported {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("cannot verify digest {digest}: only sha256 digests are checked"),
            ));
        }
        let n = self.inner.read(buf)?;
        if let Some(hasher) = &mut self.hasher {
            if n > 0 {
                hasher.update(&buf[..n]);
            } else if !buf.is_empty() {
                let actual = hex::encode(std::mem::take(hasher).finalize());
                self.hasher = None;
                self.verified = actual == self.expected;
                if !self.verified {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "content does not match digest sha256:{} (got sha256:{actual})",
                            self.expected
                        ),
                    ));
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_whole_and_streamed() {
        let digest = sha256_digest(b"abc");
        assert_eq!(
            digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_hex(&digest), digest.strip_prefix("sha256:"));
        assert_eq!(sha256_hex("sha256:../../etc"), None);
        verify_digest("here", &digest, b"abc").unwrap();
        let err = verify_digest("here", &digest, b"abd").unwrap_err();
        assert!(err.message.contains("does not match"), "{err}");
        assert!(!err.unreachable && !err.not_found);
        assert!(verify_digest("here", "md5:00", b"abc").is_err());
        // A stream asked to be checked against a digest palisade cannot compute is not read.
        let mut other = VerifyingReader::new(&b"abc"[..], Some("sha512:00"));
        let err = std::io::Read::read_to_end(&mut other, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("only sha256"), "{err}");
        assert!(!other.verified());

        let mut good = VerifyingReader::new(&b"abc"[..], Some(&digest));
        std::io::copy(&mut good, &mut std::io::sink()).unwrap();
        assert!(good.verified());
        let mut bad = VerifyingReader::new(&b"abd"[..], Some(&digest));
        assert!(std::io::copy(&mut bad, &mut std::io::sink()).is_err());
    }
}
