use std::collections::BTreeSet;

use palisade_core::pod::{ObjectMeta, PodSpec};

use super::in_user_namespace;
use crate::format::{join_quote, name_containers};
use crate::violation::{path, Location, Violation};

/// v1.0+ (and restricted v1.35+): procMount must be unset or `Default`.
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        let Some(proc_mount) = c
            .security_context
            .as_ref()
            .and_then(|sc| sc.proc_mount.as_deref())
        else {
            continue;
        };
        if proc_mount != "Default" {
            names.push(c.name.as_str());
            types.insert(proc_mount);
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.procMount"),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    let types: Vec<&str> = types.into_iter().collect();
    Some(Violation {
        reason: "procMount".into(),
        detail: format!(
            "{} must not set securityContext.procMount to {}",
            name_containers(&names),
            join_quote(&types)
        ),
        locations,
    })
}

/// Baseline v1.35+: any procMount is allowed in a user namespace.
pub(crate) fn baseline_v1_35(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if in_user_namespace(spec) {
        return None;
    }
    v1_0(meta, spec)
}
