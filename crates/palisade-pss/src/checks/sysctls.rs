use palisade_core::path::FieldPath;
use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::violation::{Location, Violation};

/// Namespaced sysctls isolated from other pods, by the version that allowed them.
const SAFE_V1_0: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
];
const SAFE_V1_27: &[&str] = &["net.ipv4.ip_local_reserved_ports"];
const SAFE_V1_29: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SAFE_V1_32: &[&str] = &["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"];
const SAFE_V1_37: &[&str] = &[
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
];

fn check(spec: &PodSpec, allowed: &[&[&str]]) -> Option<Violation> {
    let sysctls = spec
        .security_context
        .as_ref()
        .map(|sc| sc.sysctls.as_slice())
        .unwrap_or_default();
    let mut forbidden = Vec::new();
    let mut locations = Vec::new();
    for (i, sysctl) in sysctls.iter().enumerate() {
        if !allowed
            .iter()
            .any(|set| set.contains(&sysctl.name.as_str()))
        {
            forbidden.push(sysctl.name.as_str());
            locations.push(Location::pod(
                FieldPath::root()
                    .field("securityContext")
                    .field("sysctls")
                    .index(i)
                    .field("name"),
            ));
        }
    }
    if forbidden.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "forbidden sysctls".into(),
        detail: forbidden.join(", "),
        locations,
    })
}

pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &[SAFE_V1_0])
}

pub(crate) fn v1_27(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &[SAFE_V1_0, SAFE_V1_27])
}

pub(crate) fn v1_29(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &[SAFE_V1_0, SAFE_V1_27, SAFE_V1_29])
}

pub(crate) fn v1_32(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(spec, &[SAFE_V1_0, SAFE_V1_27, SAFE_V1_29, SAFE_V1_32])
}

pub(crate) fn v1_37(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(
        spec,
        &[SAFE_V1_0, SAFE_V1_27, SAFE_V1_29, SAFE_V1_32, SAFE_V1_37],
    )
}
