use std::collections::BTreeSet;

use palisade_core::path::FieldPath;
use palisade_core::pod::{ObjectMeta, PodSpec, Probe};

use crate::format::{join_quote, name_containers, pluralize};
use crate::violation::{Location, Violation};

/// The hosts a probe or lifecycle handler sets, with the field each is in.
fn hosts<'a>(handler: Option<&'a Probe>, field: &str) -> Vec<(&'a str, FieldPath)> {
    let Some(handler) = handler else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (h, name) in [
        (&handler.http_get, "httpGet"),
        (&handler.tcp_socket, "tcpSocket"),
    ] {
        if let Some(h) = h {
            if !h.host.is_empty() {
                found.push((
                    h.host.as_str(),
                    FieldPath::parse_dotted(field).field(name).field("host"),
                ));
            }
        }
    }
    found
}

/// v1.34+: probes and lifecycle handlers may not target another host.
pub(crate) fn v1_34(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    // Upstream keeps both containers and hosts in sorted sets.
    let mut containers = BTreeSet::new();
    let mut forbidden = BTreeSet::new();
    let mut locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        let lifecycle = c.lifecycle.as_ref();
        let handlers = [
            (c.liveness_probe.as_ref(), "livenessProbe"),
            (c.readiness_probe.as_ref(), "readinessProbe"),
            (c.startup_probe.as_ref(), "startupProbe"),
            (
                lifecycle.and_then(|l| l.post_start.as_ref()),
                "lifecycle.postStart",
            ),
            (
                lifecycle.and_then(|l| l.pre_stop.as_ref()),
                "lifecycle.preStop",
            ),
        ];
        for (handler, field) in handlers {
            for (host, path) in hosts(handler, field) {
                containers.insert(c.name.as_str());
                forbidden.insert(host);
                locations.push(Location::container(kind, index, &c.name, path));
            }
        }
    }
    if containers.is_empty() {
        return None;
    }
    let containers: Vec<&str> = containers.into_iter().collect();
    let forbidden: Vec<&str> = forbidden.into_iter().collect();
    Some(Violation {
        reason: "probe or lifecycle host".into(),
        detail: format!(
            "{} {} {} {}",
            name_containers(&containers),
            pluralize("uses", "use", containers.len()),
            pluralize(
                "probe or lifecycle host",
                "probe or lifecycle hosts",
                forbidden.len()
            ),
            join_quote(&forbidden)
        ),
        locations,
    })
}
