use std::collections::BTreeSet;

use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::{name_containers, pluralize};
use crate::violation::{Location, Violation};
use palisade_core::path::FieldPath;

/// v1.0+: no host ports (after defaulting, which gives host-network pods host ports).
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut names = Vec::new();
    // Upstream collects the ports as strings in a sorted set, so "8080" sorts before "90".
    let mut ports = BTreeSet::new();
    let mut locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        let mut valid = true;
        for (p, port) in c.ports.iter().enumerate() {
            if port.host_port != 0 {
                valid = false;
                ports.insert(port.host_port.to_string());
                locations.push(Location::container(
                    kind,
                    index,
                    &c.name,
                    FieldPath::root().field("ports").index(p).field("hostPort"),
                ));
            }
        }
        if !valid {
            names.push(c.name.as_str());
        }
    }
    if names.is_empty() {
        return None;
    }
    let ports: Vec<String> = ports.into_iter().collect();
    Some(Violation {
        reason: "hostPort".into(),
        detail: format!(
            "{} {} {} {}",
            name_containers(&names),
            pluralize("uses", "use", names.len()),
            pluralize("hostPort", "hostPorts", ports.len()),
            ports.join(", ")
        ),
        locations,
    })
}
