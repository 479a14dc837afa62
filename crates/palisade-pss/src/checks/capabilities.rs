use std::collections::BTreeSet;

use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::{join_quote, name_containers};
use crate::violation::{path, Location, Violation};

/// The container runtime's default capability set, which baseline allows adding back.
const BASELINE_ALLOWED: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Baseline v1.0+: no capabilities beyond the default set may be added.
pub(crate) fn baseline_v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut names = Vec::new();
    let mut forbidden = BTreeSet::new();
    let mut locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        let Some(caps) = c
            .security_context
            .as_ref()
            .and_then(|sc| sc.capabilities.as_ref())
        else {
            continue;
        };
        let mut valid = true;
        for cap in &caps.add {
            if !BASELINE_ALLOWED.contains(&cap.as_str()) {
                valid = false;
                forbidden.insert(cap.as_str());
            }
        }
        if !valid {
            names.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.capabilities.add"),
            ));
        }
    }
    if names.is_empty() {
        return None;
    }
    let forbidden: Vec<&str> = forbidden.into_iter().collect();
    Some(Violation {
        reason: "non-default capabilities".into(),
        detail: format!(
            "{} must not include {} in securityContext.capabilities.add",
            name_containers(&names),
            join_quote(&forbidden)
        ),
        locations,
    })
}

/// Restricted v1.22+: every container drops ALL and adds nothing but NET_BIND_SERVICE.
pub(crate) fn restricted_v1_22(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut missing_drop = Vec::new();
    let mut adding = Vec::new();
    let mut forbidden = BTreeSet::new();
    let mut locations = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        let Some(caps) = c
            .security_context
            .as_ref()
            .and_then(|sc| sc.capabilities.as_ref())
        else {
            missing_drop.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.capabilities.drop"),
            ));
            continue;
        };
        if !caps.drop.iter().any(|d| d == "ALL") {
            missing_drop.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.capabilities.drop"),
            ));
        }
        let mut added_forbidden = false;
        for cap in &caps.add {
            if cap != "NET_BIND_SERVICE" {
                added_forbidden = true;
                forbidden.insert(cap.as_str());
            }
        }
        if added_forbidden {
            adding.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.capabilities.add"),
            ));
        }
    }
    let mut details = Vec::new();
    if !missing_drop.is_empty() {
        details.push(format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"]",
            name_containers(&missing_drop)
        ));
    }
    if !adding.is_empty() {
        let forbidden: Vec<&str> = forbidden.into_iter().collect();
        details.push(format!(
            "{} must not include {} in securityContext.capabilities.add",
            name_containers(&adding),
            join_quote(&forbidden)
        ));
    }
    if details.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "unrestricted capabilities".into(),
        detail: details.join("; "),
        locations,
    })
}

/// Restricted v1.25+: Windows pods are exempt.
pub(crate) fn restricted_v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if spec.is_windows() {
        return None;
    }
    restricted_v1_22(meta, spec)
}
