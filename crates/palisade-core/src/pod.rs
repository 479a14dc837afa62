//! The parts of a Pod that security policy reads, typed as the Kubernetes API types them.
//!
//! Only the fields a check needs are modelled; everything else is ignored, as the API server's
//! decoder ignores unknown fields. A field of the wrong type (`privileged: "maybe"`) is an error,
//! never a silent default. JSON `null` means "unset" for every field, as it does in Go.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// Treats `null` like an absent field, as Go's `encoding/json` does for non-pointer fields.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub namespace: String,
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_default")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default, deserialize_with = "null_default")]
    pub volumes: Vec<Volume>,
    #[serde(default, deserialize_with = "null_default")]
    pub init_containers: Vec<Container>,
    #[serde(default, deserialize_with = "null_default")]
    pub containers: Vec<Container>,
    #[serde(default, deserialize_with = "null_default")]
    pub ephemeral_containers: Vec<Container>,
    #[serde(default, deserialize_with = "null_default")]
    pub host_network: bool,
    #[serde(default, rename = "hostPID", deserialize_with = "null_default")]
    pub host_pid: bool,
    #[serde(default, rename = "hostIPC", deserialize_with = "null_default")]
    pub host_ipc: bool,
    #[serde(default)]
    pub host_users: Option<bool>,
    #[serde(default)]
    pub security_context: Option<PodSecurityContext>,
    #[serde(default, rename = "os")]
    pub os: Option<PodOs>,
    #[serde(default)]
    pub runtime_class_name: Option<String>,
}

/// Which list of the pod spec a container comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerKind {
    InitContainers,
    Containers,
    EphemeralContainers,
}

impl ContainerKind {
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::InitContainers => "initContainers",
            ContainerKind::Containers => "containers",
            ContainerKind::EphemeralContainers => "ephemeralContainers",
        }
    }
}

impl PodSpec {
    /// Init containers, then containers, then ephemeral containers: the order upstream visits them
    /// in, which fixes the order of names in messages.
    pub fn all_containers(&self) -> impl Iterator<Item = (ContainerKind, usize, &Container)> {
        let tag = |kind: ContainerKind| move |(i, c)| (kind, i, c);
        self.init_containers
            .iter()
            .enumerate()
            .map(tag(ContainerKind::InitContainers))
            .chain(
                self.containers
                    .iter()
                    .enumerate()
                    .map(tag(ContainerKind::Containers)),
            )
            .chain(
                self.ephemeral_containers
                    .iter()
                    .enumerate()
                    .map(tag(ContainerKind::EphemeralContainers)),
            )
    }

    pub fn is_windows(&self) -> bool {
        self.os.as_ref().is_some_and(|os| os.name == "windows")
    }

    /// Applies the defaults the API server sets before admission plugins see the object, so an
    /// offline verdict matches the admission verdict:
    /// - a volume with no source becomes an `emptyDir` (every pod spec: it is a `Volume` default);
    /// - in a Pod (`is_pod`), with `hostNetwork: true`, a container port's unset `hostPort` becomes
    ///   its `containerPort`. Since Kubernetes 1.28 pod templates are no longer defaulted this way
    ///   (`DefaultHostNetworkHostPortsInPodTemplates` is off); their pods are, when created.
    pub fn apply_api_server_defaults(&mut self, is_pod: bool) {
        for volume in &mut self.volumes {
            if volume.sources.is_empty() {
                volume.sources.push(VolumeSource::EMPTY_DIR.to_owned());
                volume.defaulted_empty_dir = true;
            }
        }
        if is_pod && self.host_network {
            for container in self
                .init_containers
                .iter_mut()
                .chain(self.containers.iter_mut())
            {
                for port in &mut container.ports {
                    if port.host_port == 0 {
                        port.host_port = port.container_port;
                    }
                }
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodOs {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default, rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    #[serde(default)]
    pub seccomp_profile: Option<SeccompProfile>,
    #[serde(default)]
    pub app_armor_profile: Option<AppArmorProfile>,
    #[serde(default, deserialize_with = "null_default")]
    pub sysctls: Vec<Sysctl>,
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub image: String,
    #[serde(default, deserialize_with = "null_default")]
    pub ports: Vec<ContainerPort>,
    #[serde(default)]
    pub security_context: Option<SecurityContext>,
    #[serde(default)]
    pub liveness_probe: Option<Probe>,
    #[serde(default)]
    pub readiness_probe: Option<Probe>,
    #[serde(default)]
    pub startup_probe: Option<Probe>,
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
    /// The entrypoint array (`command`), as written; not shell-split.
    #[serde(default, deserialize_with = "null_default")]
    pub command: Vec<String>,
    /// The arguments (`args`), as written; not shell-split.
    #[serde(default, deserialize_with = "null_default")]
    pub args: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub resources: Option<ResourceRequirements>,
    /// A KServe framework container's `storageUri` (the model it loads), set by
    /// [`crate::workload::pod_templates`] for InferenceService components only: a plain
    /// container has no such field.
    #[serde(skip)]
    pub storage_uri: Option<String>,
}

/// One `env` entry: a literal `value`, or a `valueFrom` whose value is not known before the pod
/// runs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub value_from: Option<serde_json::Value>,
}

/// `resources`: the resource names requested or limited (quantities kept as written: a string
/// or a number), and dynamic resource claims.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    #[serde(default, deserialize_with = "null_default")]
    pub limits: BTreeMap<String, serde_json::Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub requests: BTreeMap<String, serde_json::Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub claims: Vec<serde_json::Value>,
}

impl Container {
    /// The index and entry of the last `env` variable named `name` (the one that wins, as the
    /// kubelet applies them in order).
    pub fn env_var(&self, name: &str) -> Option<(usize, &EnvVar)> {
        self.env
            .iter()
            .enumerate()
            .rev()
            .find(|(_, e)| e.name == name)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    #[serde(default, deserialize_with = "null_default")]
    pub container_port: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub host_port: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    #[serde(default)]
    pub privileged: Option<bool>,
    #[serde(default)]
    pub allow_privilege_escalation: Option<bool>,
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    #[serde(default)]
    pub proc_mount: Option<String>,
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    #[serde(default)]
    pub run_as_user: Option<i64>,
    #[serde(default, rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    #[serde(default)]
    pub seccomp_profile: Option<SeccompProfile>,
    #[serde(default)]
    pub app_armor_profile: Option<AppArmorProfile>,
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
    #[serde(default)]
    pub read_only_root_filesystem: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Capabilities {
    #[serde(default, deserialize_with = "null_default")]
    pub add: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub drop: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SeLinuxOptions {
    #[serde(default, deserialize_with = "null_default")]
    pub user: String,
    #[serde(default, deserialize_with = "null_default")]
    pub role: String,
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub type_: String,
    #[serde(default, deserialize_with = "null_default")]
    pub level: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SeccompProfile {
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub type_: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AppArmorProfile {
    #[serde(default, rename = "type", deserialize_with = "null_default")]
    pub type_: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowsOptions {
    #[serde(default)]
    pub host_process: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Sysctl {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    #[serde(default)]
    pub http_get: Option<HostHandler>,
    #[serde(default)]
    pub tcp_socket: Option<HostHandler>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    #[serde(default)]
    pub post_start: Option<Probe>,
    #[serde(default)]
    pub pre_stop: Option<Probe>,
}

/// The `host` of an `httpGet` or `tcpSocket` handler.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct HostHandler {
    #[serde(default, deserialize_with = "null_default")]
    pub host: String,
}

/// A pod volume: its name and which source fields it sets (non-null), in source order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Volume {
    pub name: String,
    /// The volume-source fields this volume sets, among [`VolumeSource::KNOWN`].
    pub sources: Vec<String>,
    /// True when the API server defaulting gave this volume its `emptyDir`.
    pub defaulted_empty_dir: bool,
    /// An `image` volume's `image.reference` (an OCI image or artifact mounted read-only), when
    /// set.
    pub image_reference: Option<String>,
}

/// `image` volume source: only the reference is read.
#[derive(Debug, Default, Deserialize)]
struct ImageVolumeSource {
    #[serde(default)]
    reference: Option<String>,
}

impl Volume {
    pub fn has(&self, source: &str) -> bool {
        self.sources.iter().any(|s| s == source)
    }
}

/// Names of the volume source fields of `core/v1.Volume`.
#[derive(Debug)]
pub struct VolumeSource;

impl VolumeSource {
    pub const EMPTY_DIR: &'static str = "emptyDir";
    pub const KNOWN: &'static [&'static str] = &[
        "hostPath",
        "emptyDir",
        "gcePersistentDisk",
        "awsElasticBlockStore",
        "gitRepo",
        "secret",
        "nfs",
        "iscsi",
        "glusterfs",
        "persistentVolumeClaim",
        "rbd",
        "flexVolume",
        "cinder",
        "cephfs",
        "flocker",
        "downwardAPI",
        "fc",
        "azureFile",
        "configMap",
        "vsphereVolume",
        "quobyte",
        "azureDisk",
        "photonPersistentDisk",
        "projected",
        "portworxVolume",
        "scaleIO",
        "storageos",
        "csi",
        "ephemeral",
        "image",
    ];
}

impl<'de> Deserialize<'de> for Volume {
    /// Reads the name and which known source fields are set (non-null), without building the
    /// sources themselves: the checks only ask which kind a volume is.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(VolumeVisitor)
    }
}

struct VolumeVisitor;

impl<'de> serde::de::Visitor<'de> for VolumeVisitor {
    type Value = Volume;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a volume (a mapping with a name and a source)")
    }

    fn visit_none<E>(self) -> Result<Volume, E> {
        Ok(Volume::default())
    }

    fn visit_unit<E>(self) -> Result<Volume, E> {
        Ok(Volume::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Volume, D::Error> {
        deserializer.deserialize_map(VolumeVisitor)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Volume, A::Error> {
        let mut volume = Volume::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == "name" {
                volume.name = map.next_value::<Option<String>>()?.unwrap_or_default();
            } else if key == "image" {
                if let Some(image) = map.next_value::<Option<ImageVolumeSource>>()? {
                    volume.image_reference = image.reference;
                    volume.sources.push(key);
                }
            } else if VolumeSource::KNOWN.contains(&key.as_str()) {
                if map.next_value::<Option<serde::de::IgnoredAny>>()?.is_some() {
                    volume.sources.push(key);
                }
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(volume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_fields_are_unset() {
        let spec: PodSpec = serde_json::from_str(
            r#"{"hostNetwork": null, "containers": [{"name": "a", "ports": null, "securityContext": null}]}"#,
        )
        .unwrap();
        assert!(!spec.host_network);
        assert!(spec.containers[0].security_context.is_none());
    }

    #[test]
    fn wrong_types_are_errors() {
        let err = serde_json::from_str::<PodSpec>(
            r#"{"containers": [{"securityContext": {"privileged": "yes"}}]}"#,
        );
        assert!(err.is_err());
    }

    #[test]
    fn reads_command_args_env_resources_and_image_volumes() {
        let spec: PodSpec = serde_json::from_str(
            r#"{"volumes": [{"name": "m", "image": {"reference": "reg.example/m@sha256:ab", "pullPolicy": "IfNotPresent"}}, {"name": "e", "image": null}],
                "containers": [{"name": "a", "command": ["vllm"], "args": ["serve", "m"], "env": [{"name": "A", "value": "1"}, {"name": "A", "valueFrom": {"fieldRef": {}}}],
                "resources": {"limits": {"nvidia.com/gpu": 1}, "requests": {"cpu": "1"}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            spec.volumes[0].image_reference.as_deref(),
            Some("reg.example/m@sha256:ab")
        );
        assert_eq!(spec.volumes[0].sources, vec!["image"]);
        assert!(spec.volumes[1].sources.is_empty());
        let c = &spec.containers[0];
        assert_eq!((c.command.len(), c.args.len()), (1, 2));
        assert_eq!(c.env_var("A").unwrap().0, 1);
        assert!(c
            .resources
            .as_ref()
            .unwrap()
            .limits
            .contains_key("nvidia.com/gpu"));
        assert!(serde_json::from_str::<PodSpec>(
            r#"{"containers": [{"env": [{"name": "A", "value": 1}]}]}"#
        )
        .is_err());
    }

    #[test]
    fn applies_api_server_defaults() {
        let mut spec: PodSpec = serde_json::from_str(
            r#"{"hostNetwork": true, "volumes": [{"name": "v"}, {"name": "s", "secret": {}}],
                "containers": [{"name": "a", "ports": [{"containerPort": 8080}, {"containerPort": 9, "hostPort": 10}]}]}"#,
        )
        .unwrap();
        let mut template = spec.clone();
        template.apply_api_server_defaults(false);
        assert_eq!(template.volumes[0].sources, vec!["emptyDir"]);
        assert_eq!(template.containers[0].ports[0].host_port, 0);
        spec.apply_api_server_defaults(true);
        assert_eq!(spec.volumes[0].sources, vec!["emptyDir"]);
        assert_eq!(spec.volumes[1].sources, vec!["secret"]);
        assert_eq!(spec.containers[0].ports[0].host_port, 8080);
        assert_eq!(spec.containers[0].ports[1].host_port, 10);
    }
}
