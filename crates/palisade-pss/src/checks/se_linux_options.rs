use std::collections::BTreeSet;

use palisade_core::pod::{ObjectMeta, PodSpec, SeLinuxOptions};

use crate::format::{join_quote, name_containers, pluralize};
use crate::violation::{path, Location, Violation};

const ALLOWED_TYPES_V1_0: &[&str] = &["", "container_t", "container_init_t", "container_kvm_t"];
const ALLOWED_TYPES_V1_31: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

pub(crate) fn v1_0(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(meta, spec, ALLOWED_TYPES_V1_0)
}

/// v1.31 adds `container_engine_t`.
pub(crate) fn v1_31(meta: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    check(meta, spec, ALLOWED_TYPES_V1_31)
}

#[derive(Default)]
struct Bad<'a> {
    types: BTreeSet<&'a str>,
    user: bool,
    role: bool,
}

impl<'a> Bad<'a> {
    /// True when `opts` is allowed; records what is wrong otherwise.
    fn valid(&mut self, opts: &'a SeLinuxOptions, allowed: &[&str]) -> bool {
        let mut valid = true;
        if !allowed.contains(&opts.type_.as_str()) {
            valid = false;
            self.types.insert(&opts.type_);
        }
        if !opts.user.is_empty() {
            valid = false;
            self.user = true;
        }
        if !opts.role.is_empty() {
            valid = false;
            self.role = true;
        }
        valid
    }
}

fn check(_: &ObjectMeta, spec: &PodSpec, allowed: &[&str]) -> Option<Violation> {
    let mut bad = Bad::default();
    let mut setters: Vec<String> = Vec::new();
    let mut locations = Vec::new();
    if let Some(opts) = spec
        .security_context
        .as_ref()
        .and_then(|sc| sc.se_linux_options.as_ref())
    {
        if !bad.valid(opts, allowed) {
            setters.push("pod".into());
            locations.push(Location::pod(path("securityContext.seLinuxOptions")));
        }
    }
    let mut names = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        if let Some(opts) = c
            .security_context
            .as_ref()
            .and_then(|sc| sc.se_linux_options.as_ref())
        {
            if !bad.valid(opts, allowed) {
                names.push(c.name.as_str());
                locations.push(Location::container(
                    kind,
                    index,
                    &c.name,
                    path("securityContext.seLinuxOptions"),
                ));
            }
        }
    }
    if !names.is_empty() {
        setters.push(name_containers(&names));
    }
    if setters.is_empty() {
        return None;
    }
    let mut data = Vec::new();
    if !bad.types.is_empty() {
        let types: Vec<&str> = bad.types.iter().copied().collect();
        data.push(format!(
            "{} {}",
            pluralize("type", "types", types.len()),
            join_quote(&types)
        ));
    }
    if bad.user {
        data.push("user may not be set".to_owned());
    }
    if bad.role {
        data.push("role may not be set".to_owned());
    }
    Some(Violation {
        reason: "seLinuxOptions".into(),
        detail: format!(
            "{} set forbidden securityContext.seLinuxOptions: {}",
            setters.join(" and "),
            data.join("; ")
        ),
        locations,
    })
}
