//! palisade-netpol: what a set of manifests lets talk to what (NetworkPolicy, AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy semantics, analysed over equivalence classes of pods), NetworkPolicies
//! generated from a declared intent, and service-mesh L7 policies.
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
