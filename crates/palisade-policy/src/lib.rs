//! palisade-policy: configuration, namespace policy resolution and policy evaluation, shared by
//! every front end (`palisade audit`, the admission webhook).
#![forbid(unsafe_code)]

pub mod audit;
pub mod config;
pub mod namespace;

pub use audit::{is_namespace, AuditOutcome, Auditor, StreamAudit};
pub use config::{Config, Exemptions, PodSecurityConfig};
pub use namespace::NamespacePolicy;
