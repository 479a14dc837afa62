use std::collections::BTreeSet;

use palisade_core::path::FieldPath;
use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::{go_quote, join_quote, name_containers, pluralize};
use crate::violation::{path, Location, Violation};

const ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

fn allowed_type(t: &str) -> bool {
    t == "RuntimeDefault" || t == "Localhost"
}

fn allowed_annotation(value: &str) -> bool {
    value.is_empty() || value == "runtime/default" || value.starts_with("localhost/")
}

/// v1.0+: AppArmor may be the runtime default or a localhost profile, never unconfined.
pub(crate) fn v1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut setters: Vec<String> = Vec::new();
    let mut bad_values = BTreeSet::new();
    let mut locations = Vec::new();
    if let Some(profile) = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.app_armor_profile.as_ref())
    {
        if !allowed_type(&profile.type_) {
            setters.push("pod".into());
            bad_values.insert(profile.type_.clone());
            locations.push(Location::pod(path("securityContext.appArmorProfile.type")));
        }
    }
    let mut containers = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        if let Some(profile) = c
            .security_context
            .as_ref()
            .and_then(|sc| sc.app_armor_profile.as_ref())
        {
            if !allowed_type(&profile.type_) {
                containers.push(c.name.as_str());
                bad_values.insert(profile.type_.clone());
                locations.push(Location::container(
                    kind,
                    index,
                    &c.name,
                    path("securityContext.appArmorProfile.type"),
                ));
            }
        }
    }
    if !containers.is_empty() {
        setters.push(name_containers(&containers));
    }
    let mut annotations = Vec::new();
    for (key, value) in &meta.annotations {
        if key.starts_with(ANNOTATION_PREFIX) && !allowed_annotation(value) {
            annotations.push(format!("{key}={}", go_quote(value)));
            locations.push(Location::metadata(
                FieldPath::root().field("annotations").key(key),
            ));
        }
    }
    let mut bad_list: Vec<String> = bad_values.into_iter().collect();
    if !annotations.is_empty() {
        annotations.sort();
        setters.push(pluralize("annotation", "annotations", annotations.len()).into());
        bad_list.extend(annotations);
    }
    if setters.is_empty() {
        return None;
    }
    Some(Violation {
        reason: pluralize(
            "forbidden AppArmor profile",
            "forbidden AppArmor profiles",
            bad_list.len(),
        )
        .into(),
        detail: format!(
            "{} must not set AppArmor profile type to {}",
            setters.join(" and "),
            join_quote(&bad_list)
        ),
        locations,
    })
}
