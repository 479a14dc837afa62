use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::name_containers;
use crate::violation::{path, Location, Violation};

/// v1.8+: every container must set `allowPrivilegeEscalation: false`.
pub(crate) fn v1_8(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut names = Vec::new();
    let mut locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        if c.security_context
            .as_ref()
            .and_then(|sc| sc.allow_privilege_escalation)
            != Some(false)
        {
            names.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.allowPrivilegeEscalation"),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "allowPrivilegeEscalation != false".into(),
        detail: format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            name_containers(&names)
        ),
        locations,
    })
}

/// v1.25+: Windows pods (`spec.os.name: windows`) are exempt; the field does not apply to them.
pub(crate) fn v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if spec.is_windows() {
        return None;
    }
    v1_8(meta, spec)
}
