//! Errors: input that cannot be read, and objects that the API server would reject or that make
//! the analysis ambiguous. Every error names the file and the object.

use std::path::PathBuf;

use palisade_core::InputError;

/// Why a directory of manifests could not be analysed.
#[derive(Debug, thiserror::Error)]
pub enum NetpolError {
    /// A file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is not valid YAML/JSON (the message has the file and line).
    #[error(transparent)]
    Input(#[from] InputError),
    /// An object is invalid, or conflicts with another one.
    #[error("{file}:{line}: {object}: {message}")]
    Invalid {
        /// The file the object was read from.
        file: String,
        /// The line of the object (or of the offending field).
        line: u32,
        /// `Kind namespace/name`.
        object: String,
        /// What is wrong.
        message: String,
    },
    /// The directory holds no Kubernetes objects at all.
    #[error("{}: no Kubernetes objects found (expected YAML or JSON manifests)", path.display())]
    NoObjects {
        /// The directory.
        path: PathBuf,
    },
}
