use palisade_core::pod::{ObjectMeta, PodSpec};

use super::in_user_namespace;
use crate::format::name_containers;
use crate::violation::{path, Location, Violation};

/// v1.23+: nothing may set runAsUser=0.
pub(crate) fn v1_23(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut setters: Vec<String> = Vec::new();
    let mut locations = Vec::new();
    if spec.security_context.as_ref().and_then(|sc| sc.run_as_user) == Some(0) {
        setters.push("pod".into());
        locations.push(Location::pod(path("securityContext.runAsUser")));
    }
    let mut names = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        if c.security_context.as_ref().and_then(|sc| sc.run_as_user) == Some(0) {
            names.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.runAsUser"),
            ));
        }
    }
    if !names.is_empty() {
        setters.push(name_containers(&names));
    }
    if setters.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "runAsUser=0".into(),
        detail: format!("{} must not set runAsUser=0", setters.join(" and ")),
        locations,
    })
}

/// v1.35+: UID 0 is allowed in a user namespace.
pub(crate) fn v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if in_user_namespace(spec) {
        return None;
    }
    v1_23(meta, spec)
}
