use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::violation::{path, Location, Violation};

/// v1.0+: no host network, PID or IPC namespace.
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut set = Vec::new();
    let mut locations = Vec::new();
    for (on, field) in [
        (spec.host_network, "hostNetwork"),
        (spec.host_pid, "hostPID"),
        (spec.host_ipc, "hostIPC"),
    ] {
        if on {
            set.push(format!("{field}=true"));
            locations.push(Location::pod(path(field)));
        }
    }
    if set.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "host namespaces".into(),
        detail: set.join(", "),
        locations,
    })
}
