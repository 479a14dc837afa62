//! What a failed check reports: upstream's reason and detail, plus where in the pod it looked.

use palisade_core::path::FieldPath;
use palisade_core::pod::ContainerKind;

/// The part of a pod a location is relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A field of the pod spec.
    PodSpec,
    /// A field of the pod metadata (annotations).
    PodMetadata,
    /// A field of one container.
    Container {
        kind: ContainerKind,
        index: usize,
        name: String,
    },
    /// A field of one volume (`spec.volumes[index]`).
    Volume { index: usize },
}

/// One offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub subject: Subject,
    /// Relative to the subject.
    pub field: FieldPath,
}

impl Location {
    pub fn pod(field: FieldPath) -> Self {
        Self {
            subject: Subject::PodSpec,
            field,
        }
    }

    pub fn metadata(field: FieldPath) -> Self {
        Self {
            subject: Subject::PodMetadata,
            field,
        }
    }

    pub fn container(kind: ContainerKind, index: usize, name: &str, field: FieldPath) -> Self {
        Self {
            subject: Subject::Container {
                kind,
                index,
                name: name.to_owned(),
            },
            field,
        }
    }

    pub fn volume(index: usize, field: FieldPath) -> Self {
        Self {
            subject: Subject::Volume { index },
            field,
        }
    }
}

/// A failed check: `reason` and `detail` are upstream's `ForbiddenReason` and `ForbiddenDetail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub reason: String,
    pub detail: String,
    pub locations: Vec<Location>,
}

/// Shorthand for building a relative field path from dotted notation.
pub(crate) fn path(dotted: &str) -> FieldPath {
    FieldPath::parse_dotted(dotted)
}
