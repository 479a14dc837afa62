//! The error of every registry and digest operation.

/// An error reaching a registry or reading what it holds: where (the image, and the manifest or
/// blob inside it) and what, with two facts callers decide on that must never be read off the
/// message. `palisade-image` uses the same type for every image source (as `ImageError`), so a
/// registry's answer reaches a scan unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct OciError {
    pub location: String,
    pub message: String,
    /// The registry could not be reached or failed (connection, timeout, 5xx), as opposed to an
    /// answer about the image: admission treats the two differently (fail-closed or open).
    pub unreachable: bool,
    /// The registry answered 404 for what was asked: the manifest, tag or blob does not exist.
    /// Set from the status code, never read off the message (whose text may hold "404" in a
    /// port, digest or realm).
    pub not_found: bool,
}

impl OciError {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
            unreachable: false,
            not_found: false,
        }
    }

    /// The registry answered that what was asked does not exist (404).
    pub fn not_found(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            not_found: true,
            ..Self::new(location, message)
        }
    }

    /// An error reaching the registry rather than an answer from it.
    pub fn unreachable(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            unreachable: true,
            ..Self::new(location, message)
        }
    }
}
