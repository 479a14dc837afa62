//! palisade-netpol: what a set of manifests lets talk to what (NetworkPolicy, AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy semantics, analysed over equivalence classes of pods), NetworkPolicies
//! generated from a declared intent, and service-mesh L7 policies.
//!
//! Loading ([`load`], [`model`]) builds one [`Cluster`], the ingress controller included as a
//! pod when Ingresses or Routes exist; [`analyze()`] analyses it once; [`report`] (with its
//! [`report::options`]), [`exposure`] and [`verify`] read that one analysis. Port and address
//! sets share one interval algebra ([`rangeset`]).
//!
//! It depends on palisade-core (manifest reading, with file and line) and on no other palisade
//! crate, and does no I/O beyond reading manifests and intent files: no printing (reports go
//! to the caller's writer), no network, no CLI (the `palisade netpol` commands live in the
//! palisade crate and only parse arguments and write what this crate renders).
//!
//! ```no_run
//! let cluster = palisade_netpol::load_dir(std::path::Path::new("manifests"))?;
//! let connectivity = palisade_netpol::analyze(&cluster)?;
//! for (src, dst, conns) in connectivity.connections() {
//!     println!("{src} => {dst} : {conns}");
//! }
//! # Ok::<(), palisade_netpol::NetpolError>(())
//! ```
#![forbid(unsafe_code)]

pub mod analyze;
pub mod connset;
pub mod error;
pub mod exposure;
pub mod generate;
pub mod ingress;
pub mod intent;
pub mod ipblock;
pub mod labels;
pub mod load;
pub mod mesh;
pub mod model;
pub mod rangeset;
pub mod report;
pub mod spec;
pub mod verify;

pub use analyze::{analyze, Connectivity, PeerRef};
pub use connset::{ConnectionSet, PortSet, Protocol};
pub use error::NetpolError;
pub use ipblock::IpSet;
pub use labels::{LabelSelector, Labels};
pub use load::{load_dir, load_str};
pub use model::{Cluster, Workload};
pub use report::{render, render_to, Direction, Format, ReportOptions};
