//! palisade-team: the Team resource (`palisade.dev/v1alpha1`, `kind: Team`), which gives a team its
//! namespaces, guardrails and isolation; the objects a platform manages for a set of teams
//! ([`render()`]); and the proof, over manifests, that those guardrails hold ([`verify()`]).
//!
//! Teams are read with palisade-core's YAML reader and validated with the file, line and key of
//! every error ([`spec`]), then together with the `platform` section of the configuration file
//! ([`TeamSet`]). Their network becomes a palisade-netpol intent ([`network`]), so NetworkPolicies
//! are written by the generator `netpol generate` uses and checked by the analysis `netpol verify`
//! uses. The controller's decision (what to apply, delete and keep, and each Team's status) is
//! [`reconcile::plan`], a pure function of the desired and observed objects.
//!
//! Pure: no I/O (callers hand it Team text and manifest objects), no network, no Kubernetes
//! client. It must not depend on kube-rs, the webhook, a registry client or the CLI; the
//! `palisade team` commands and the controller are front ends over it.
#![forbid(unsafe_code)]

pub mod admission;
pub mod network;
pub mod rbac;
pub mod reconcile;
pub mod render;
pub mod set;
pub mod spec;
pub mod verify;

pub use render::{render, render_with, to_yaml, write_yaml, Rendered};
pub use set::{Connection, Error, TeamSet};
pub use spec::{parse_teams, Team, TeamError};
pub use verify::{verify, Report, Violation, TEAM_RULES};
