//! The Pod Security Standards checks, one module per upstream check, each a pure function of the
//! pod's metadata and (defaulted) spec. Versioned behaviour is wired up in [`crate::registry`].

pub(crate) mod allow_privilege_escalation;
pub(crate) mod app_armor_profile;
pub(crate) mod capabilities;
pub(crate) mod host_namespaces;
pub(crate) mod host_path_volumes;
pub(crate) mod host_ports;
pub(crate) mod host_probes_and_host_lifecycle;
pub(crate) mod privileged;
pub(crate) mod proc_mount;
pub(crate) mod restricted_volumes;
pub(crate) mod run_as_non_root;
pub(crate) mod run_as_user;
pub(crate) mod se_linux_options;
pub(crate) mod seccomp_profile;
pub(crate) mod sysctls;
pub(crate) mod windows_host_process;

use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::violation::Violation;

/// A check at one version: `None` when the pod is allowed.
pub(crate) type CheckFn = fn(&ObjectMeta, &PodSpec) -> Option<Violation>;

/// The pod is in a user namespace (`hostUsers: false`), which relaxes some checks from v1.35.
pub(crate) fn in_user_namespace(spec: &PodSpec) -> bool {
    spec.host_users == Some(false)
}
