use std::collections::BTreeSet;

use palisade_core::path::FieldPath;
use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::{go_quote, join_quote, name_containers, pluralize};
use crate::violation::{path, Location, Violation};

const ANNOTATION_POD: &str = "seccomp.security.alpha.kubernetes.io/pod";
const ANNOTATION_CONTAINER_PREFIX: &str = "container.seccomp.security.alpha.kubernetes.io/";

fn valid_type(t: &str) -> bool {
    t == "Localhost" || t == "RuntimeDefault"
}

fn valid_annotation(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

/// Baseline v1.0-v1.18: the alpha annotations may only name the runtime default or a localhost profile.
pub(crate) fn baseline_v1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut forbidden = BTreeSet::new();
    let mut locations = Vec::new();
    let mut check = |key: &str| {
        if let Some(value) = meta.annotations.get(key) {
            if !valid_annotation(value) {
                forbidden.insert(format!("{key}={}", go_quote(value)));
                locations.push(Location::metadata(
                    FieldPath::root().field("annotations").key(key),
                ));
            }
        }
    };
    check(ANNOTATION_POD);
    for (_, _, c) in spec.all_containers() {
        check(&format!("{ANNOTATION_CONTAINER_PREFIX}{}", c.name));
    }
    if forbidden.is_empty() {
        return None;
    }
    let forbidden: Vec<String> = forbidden.into_iter().collect();
    Some(Violation {
        reason: "seccompProfile".into(),
        detail: format!(
            "forbidden {} {}",
            pluralize("annotation", "annotations", forbidden.len()),
            forbidden.join(", ")
        ),
        locations,
    })
}

/// What the pod and its containers set, shared by the baseline and restricted checks.
struct Scan<'a> {
    setters: Vec<String>,
    bad_values: BTreeSet<&'a str>,
    pod_valid: bool,
    /// Containers that set nothing, with no valid pod-level profile to inherit.
    implicit: Vec<&'a str>,
    explicit_locations: Vec<Location>,
    implicit_locations: Vec<Location>,
}

fn scan(spec: &PodSpec) -> Scan<'_> {
    let mut s = Scan {
        setters: Vec::new(),
        bad_values: BTreeSet::new(),
        pod_valid: false,
        implicit: Vec::new(),
        explicit_locations: Vec::new(),
        implicit_locations: Vec::new(),
    };
    if let Some(profile) = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.seccomp_profile.as_ref())
    {
        if valid_type(&profile.type_) {
            s.pod_valid = true;
        } else {
            s.setters.push("pod".into());
            s.bad_values.insert(&profile.type_);
            s.explicit_locations
                .push(Location::pod(path("securityContext.seccompProfile.type")));
        }
    }
    let mut explicit = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        match c
            .security_context
            .as_ref()
            .and_then(|sc| sc.seccomp_profile.as_ref())
        {
            Some(profile) if !valid_type(&profile.type_) => {
                explicit.push(c.name.as_str());
                s.bad_values.insert(&profile.type_);
                s.explicit_locations.push(Location::container(
                    kind,
                    index,
                    &c.name,
                    path("securityContext.seccompProfile.type"),
                ));
            }
            Some(_) => {}
            None if !s.pod_valid => {
                s.implicit.push(c.name.as_str());
                s.implicit_locations.push(Location::container(
                    kind,
                    index,
                    &c.name,
                    path("securityContext.seccompProfile"),
                ));
            }
            None => {}
        }
    }
    if !explicit.is_empty() {
        s.setters.push(name_containers(&explicit));
    }
    s
}

fn explicit_violation(s: Scan<'_>) -> Violation {
    let values: Vec<&str> = s.bad_values.into_iter().collect();
    Violation {
        reason: "seccompProfile".into(),
        detail: format!(
            "{} must not set securityContext.seccompProfile.type to {}",
            s.setters.join(" and "),
            join_quote(&values)
        ),
        locations: s.explicit_locations,
    }
}

/// Baseline v1.19+: a profile that is set must be RuntimeDefault or Localhost.
pub(crate) fn baseline_v1_19(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let s = scan(spec);
    if s.setters.is_empty() {
        return None;
    }
    Some(explicit_violation(s))
}

/// Restricted v1.19+: a profile must be set, at pod level or on every container.
pub(crate) fn restricted_v1_19(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let s = scan(spec);
    if !s.setters.is_empty() {
        return Some(explicit_violation(s));
    }
    if s.implicit.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "seccompProfile".into(),
        detail: format!(
            "pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
            name_containers(&s.implicit)
        ),
        locations: s.implicit_locations,
    })
}

/// Restricted v1.25+: Windows pods are exempt.
pub(crate) fn restricted_v1_25(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    if spec.is_windows() {
        return None;
    }
    restricted_v1_19(meta, spec)
}
