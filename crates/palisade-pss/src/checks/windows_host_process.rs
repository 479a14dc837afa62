use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::name_containers;
use crate::violation::{path, Location, Violation};

/// v1.0+: no Windows HostProcess containers.
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let host_process = |sc: Option<&palisade_core::pod::WindowsOptions>| {
        sc.and_then(|w| w.host_process) == Some(true)
    };
    let mut locations = Vec::new();
    let mut names = Vec::new();
    for (kind, index, c) in spec.all_containers() {
        if host_process(
            c.security_context
                .as_ref()
                .and_then(|sc| sc.windows_options.as_ref()),
        ) {
            names.push(c.name.as_str());
            locations.push(Location::container(
                kind,
                index,
                &c.name,
                path("securityContext.windowsOptions.hostProcess"),
            ));
        }
    }
    let mut setters: Vec<String> = Vec::new();
    if host_process(
        spec.security_context
            .as_ref()
            .and_then(|sc| sc.windows_options.as_ref()),
    ) {
        setters.push("pod".into());
        locations.insert(
            0,
            Location::pod(path("securityContext.windowsOptions.hostProcess")),
        );
    }
    if !names.is_empty() {
        setters.push(name_containers(&names));
    }
    if setters.is_empty() {
        return None;
    }
    Some(Violation {
        reason: "hostProcess".into(),
        detail: format!(
            "{} must not set securityContext.windowsOptions.hostProcess=true",
            setters.join(" and ")
        ),
        locations,
    })
}
