use std::collections::BTreeSet;

use palisade_core::pod::{ObjectMeta, PodSpec};

use crate::format::{join_quote, pluralize};
use crate::violation::{path, Location, Violation};

/// Volume sources restricted allows: no host access and no network storage wired in by the pod.
const ALLOWED: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// The restricted sources, in the order upstream tests them (which decides the reported type when
/// a volume sets several).
const RESTRICTED: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
];

/// v1.0+: only the allowed volume types.
pub(crate) fn v1_0(_: &ObjectMeta, spec: &PodSpec) -> Option<Violation> {
    let mut names = Vec::new();
    let mut types = BTreeSet::new();
    let mut locations = Vec::new();
    for (index, volume) in spec.volumes.iter().enumerate() {
        if ALLOWED.iter().any(|s| volume.has(s)) {
            continue;
        }
        names.push(volume.name.as_str());
        let kind = RESTRICTED
            .iter()
            .copied()
            .find(|s| volume.has(s))
            .unwrap_or("unknown");
        types.insert(kind);
        let field = if kind == "unknown" {
            path("")
        } else {
            path(kind)
        };
        locations.push(Location::volume(index, field));
    }
    if names.is_empty() {
        return None;
    }
    let types: Vec<&str> = types.into_iter().collect();
    Some(Violation {
        reason: "restricted volume types".into(),
        detail: format!(
            "{} {} {} {} {}",
            pluralize("volume", "volumes", names.len()),
            join_quote(&names),
            pluralize("uses", "use", names.len()),
            pluralize(
                "restricted volume type",
                "restricted volume types",
                types.len()
            ),
            join_quote(&types)
        ),
        locations,
    })
}
