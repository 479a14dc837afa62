//! palisade-webhook: the admission server. The policy engine (palisade-policy) decides; this crate
//! speaks AdmissionReview over HTTPS, keeps the namespace and Team caches, and runs the operational
//! parts. Custom policies are evaluated by palisade-policy-engine, compiled once and reloaded on
//! change ([`policies`]).
//! Image verification reaches registries through `palisade-oci` (client, pull-secret credentials)
//! and `palisade-sign` (signatures, attestations, the key parser); it must not depend on
//! `palisade-image`, the scan or the CLI.
#![forbid(unsafe_code)]

pub mod certs;
pub mod conn;
pub mod images;
pub mod metrics;
pub mod namespaces;
pub mod policies;
pub mod review;
pub mod server;
pub mod teams;
pub mod tls;

pub use conn::ConnectionLimits;
pub use images::ImageVerifier;
pub use namespaces::NamespaceSource;
pub use policies::CustomPolicies;
pub use server::{router, serve, Runtime, ServeError, ServeOptions};
pub use teams::TeamSource;
pub use tls::CertFiles;
