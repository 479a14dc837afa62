use palisade_core::pod::{ObjectMeta, PodSpec};

use super::in_user_namespace;
use crate::format::name_containers;
use crate::violation::{path, Location, Violation};

/// v1.0+: runAsNonRoot must be true, at pod level or on every container; none may set it false.
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut setters: Vec<String> = Vec::new();
    let mut explicit_locations = Vec::new();
    let mut pod_non_root = false;
    match spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.run_as_non_root)
    {
        Some(false) => {
            setters.push("pod".into());
            explicit_locations.push(Location::pod(path("securityContext.runAsNonRoot")));
        }
        Some(true) => pod_non_root = true,
        None => {}
    }
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    let mut implicit_locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        match c
            .security_context
            .as_ref()
            .and_then(|sc| sc.run_as_non_root)
        {
            Some(false) => {
                explicit.push(c.name.as_str());
                explicit_locations.push(Location::container(
                    kind,
                    index,
                    &c.name,
                    path("securityContext.runAsNonRoot"),
                ));
            }
            Some(true) => {}
            None if !pod_non_root => {
                implicit.push(c.name.as_str());
                implicit_locations.push(Location::container(
                    kind,
                    index,
                    &c.name,
                    path("securityContext.runAsNonRoot"),
                ));
            }
            None => {}
        }
    }
    if !explicit.is_empty() {
        setters.push(name_containers(&explicit));
    }
    if !setters.is_empty() {
        return Some(Violation {
            reason: "runAsNonRoot != true".into(),
            detail: format!(
                "{} must not set securityContext.runAsNonRoot=false",
                setters.join(" and ")
            ),
            locations: explicit_locations,
        });
    }
    if !implicit.is_empty() {
        return Some(Violation {
            reason: "runAsNonRoot != true".into(),
            detail: format!(
                "pod or {} must set securityContext.runAsNonRoot=true",
                name_containers(&implicit)
            ),
            locations: implicit_locations,
        });
    }
    None
}

/// v1.35+: pods in a user namespace may run as root inside it.
pub(crate) fn v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if in_user_namespace(spec) {
        return None;
    }
    v1_0(meta, spec)
}
