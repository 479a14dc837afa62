use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::name_containers;
use crate::violation::{path, Location, Violation};

/// v1.0+: no privileged containers.
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut names = Vec::new();
    let mut locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        if c.security_context.as_ref().and_then(|sc| sc.privileged) == Some(true) {
            names.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.privileged"),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "privileged".into(),
        detail: format!(
            "{} must not set securityContext.privileged=true",
            name_containers(&names)
        ),
        locations,
    })
}
