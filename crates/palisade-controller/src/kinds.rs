//! The resources the controller reads and writes.

use kube::discovery::ApiResource;

/// A resource: its group, version, kind and plural.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub namespaced: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.into()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn resource(&self) -> ApiResource {
        ApiResource {
            group: self.group.into(),
            version: self.version.into(),
            api_version: self.api_version(),
            kind: self.kind.into(),
            plural: self.plural.into(),
        }
    }
}

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
        namespaced,
    }
}

pub const TEAM: Kind = kind("palisade.dev", "v1alpha1", "Team", "teams", false);

/// The kinds `team render` writes (palisade_team::render::KIND_ORDER).
pub const MANAGED: [Kind; 6] = [
    kind("", "v1", "Namespace", "namespaces", false),
    kind("", "v1", "ResourceQuota", "resourcequotas", true),
    kind("", "v1", "LimitRange", "limitranges", true),
    kind("rbac.authorization.k8s.io", "v1", "Role", "roles", true),
    kind(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        true,
    ),
    kind(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
    ),
];

/// What counts as a workload in a namespace that would be deleted. A kind the cluster does not
/// serve (KServe not installed) holds none.
pub const WORKLOADS: [Kind; 8] = [
    kind("", "v1", "Pod", "pods", true),
    kind("apps", "v1", "Deployment", "deployments", true),
    kind("apps", "v1", "StatefulSet", "statefulsets", true),
    kind("apps", "v1", "DaemonSet", "daemonsets", true),
    kind("apps", "v1", "ReplicaSet", "replicasets", true),
    kind("batch", "v1", "Job", "jobs", true),
    kind("batch", "v1", "CronJob", "cronjobs", true),
    kind(
        "serving.kserve.io",
        "v1beta1",
        "InferenceService",
        "inferenceservices",
        true,
    ),
];

/// The managed kind called `kind`.
pub fn managed(kind: &str) -> Option<&'static Kind> {
    MANAGED.iter().find(|k| k.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_managed_kinds_are_the_ones_render_writes() {
        let kinds: Vec<&str> = MANAGED.iter().map(|k| k.kind).collect();
        assert_eq!(kinds, palisade_team::render::KIND_ORDER);
        assert_eq!(
            managed("Role").map(Kind::api_version).as_deref(),
            Some("rbac.authorization.k8s.io/v1")
        );
        assert_eq!(TEAM.api_version(), palisade_team::spec::API_VERSION);
    }
}
