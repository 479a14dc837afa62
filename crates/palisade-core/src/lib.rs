//! palisade-core: Kubernetes objects as read from YAML and JSON (with file and line, as kubectl
//! reads them), pod-spec extraction from every workload kind, findings and the audit's report
//! formats (on `palisade-diagnostics`' severity scale and SARIF pieces).
//!
//! The base of the Kubernetes wing: it must depend on no other palisade crate but
//! `palisade-diagnostics`, and do no I/O but what its callers hand it.
#![forbid(unsafe_code)]

pub mod de;
pub mod duration;
pub mod error;
pub mod finding;
pub mod image_ref;
pub mod names;
pub mod node;
pub mod object;
pub mod path;
pub mod pod;
pub mod report;
pub mod source;
pub mod text_patch;
pub mod workload;
pub mod yaml;

pub use error::InputError;
pub use finding::{Finding, ObjectRef, Severity};
pub use node::Node;
pub use object::{Object, SourceRef};
pub use path::FieldPath;
pub use workload::{pod_templates, PodTemplate, Workload};
