use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::{join_quote, pluralize};
use crate::violation::{path, Location, Violation};

/// v1.0+: no hostPath volumes.
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut names = Vec::new();
    let mut locations = Vec::new();
    for (index, volume) in spec.volumes.iter().enumerate() {
        if volume.has("hostPath") {
            names.push(volume.name.as_str());
            locations.push(Location::volume(index, path("hostPath")));
        }
    }
    if names.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "hostPath volumes".into(),
        detail: format!(
            "{} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names)
        ),
        locations,
    })
}
