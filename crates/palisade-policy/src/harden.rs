//! Hardening: the changes that make a pod pass `restricted` where that is safe, as JSON Patch
//! `add` operations. Only unset fields are set, so a value the user chose is never overridden,
//! and hardening twice changes nothing the second time. The mutating webhook and
//! `palisade harden` share this code.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::config::HardeningConfig;

/// One JSON Patch (RFC 6902) operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    pub op: &'static str,
    pub path: String,
    pub value: Value,
}

/// JSON pointers (RFC 6901) to the pod specs of an object of `kind` in API `group`.
pub fn pod_spec_pointers(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &["/spec"],
        ("", "PodTemplate") => &["/template/spec"],
        ("", "ReplicationController")
        | ("apps" | "extensions", "ReplicaSet" | "Deployment" | "DaemonSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job") => &["/spec/template/spec"],
        ("batch", "CronJob") => &["/spec/jobTemplate/spec/template/spec"],
        _ => &[],
    }
}

/// The patch that hardens every pod spec of `object` (an object of `kind` in `group`).
pub fn harden(object: &Value, group: &str, kind: &str, config: &HardeningConfig) -> Vec<PatchOp> {
    let mut hardened = object.clone();
    for pointer in pod_spec_pointers(group, kind) {
        if let Some(spec) = hardened.pointer_mut(pointer).and_then(Value::as_object_mut) {
            harden_pod_spec(spec, config);
        }
    }
    let mut ops = Vec::new();
    diff(object, &hardened, &mut String::new(), &mut ops);
    ops
}

/// Sets `value` at `path` under `root` when nothing is set there, creating parents as needed.
/// A `null` counts as unset, as it does to the API server.
fn set_default(root: &mut Map<String, Value>, path: &[&str], value: Value) -> bool {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut node = root;
    for key in parents {
        let entry = node
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if entry.is_null() {
            *entry = Value::Object(Map::new());
        }
        match entry.as_object_mut() {
            Some(map) => node = map,
            None => return false,
        }
    }
    match node.get(*last) {
        Some(v) if !v.is_null() => false,
        _ => {
            node.insert(last.to_string(), value);
            true
        }
    }
}

fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(value, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

fn harden_pod_spec(spec: &mut Map<String, Value>, config: &HardeningConfig) {
    // The containers are taken out, hardened beside the pod's own fields, and put back in order.
    let mut taken: Vec<(&str, Vec<Value>)> = Vec::new();
    for key in ["initContainers", "containers"] {
        if let Some(Value::Array(items)) = spec.get_mut(key) {
            taken.push((key, std::mem::take(items)));
        }
    }
    let mut containers: Vec<Map<String, Value>> = taken
        .iter()
        .flat_map(|(_, items)| items.iter().filter_map(Value::as_object).cloned())
        .collect();
    harden_pod(spec, &mut containers, config);
    let mut hardened = containers.into_iter();
    for (key, items) in taken {
        let items: Vec<Value> = items
            .into_iter()
            .map(|item| match item {
                Value::Object(_) => hardened.next().map_or(Value::Null, Value::Object),
                other => other,
            })
            .collect();
        spec.insert(key.to_owned(), Value::Array(items));
    }
}

/// Hardens one pod: its spec's own fields and its containers (given apart from the spec, since a
/// KServe framework container is not written inside it).
fn harden_pod(
    spec: &mut Map<String, Value>,
    containers: &mut [Map<String, Value>],
    config: &HardeningConfig,
) {
    // Linux security fields are invalid on Windows pods; leave them to their owners.
    if is_windows(spec) {
        return;
    }
    let spec_value = Value::Object(spec.clone());
    let container_sets = |path: &[&str], predicate: &dyn Fn(&Value) -> bool| {
        containers
            .iter()
            .any(|c| get(&Value::Object(c.clone()), path).is_some_and(predicate))
    };
    let any_container_root = container_sets(&["securityContext", "runAsUser"], &|v| {
        v.as_i64() == Some(0)
    });
    let any_container_root_allowed = container_sets(&["securityContext", "runAsNonRoot"], &|v| {
        v == &json!(false)
    });
    let any_container_user = container_sets(&["securityContext", "runAsUser"], &|_| true);
    let pod_user = get(&spec_value, &["securityContext", "runAsUser"]).and_then(Value::as_i64);

    set_default(
        spec,
        &["securityContext", "seccompProfile"],
        json!({"type": "RuntimeDefault"}),
    );
    // runAsNonRoot only where nothing asks for root: setting it would stop such a pod from starting.
    if !any_container_root && !any_container_root_allowed && pod_user != Some(0) {
        set_default(spec, &["securityContext", "runAsNonRoot"], json!(true));
        if let Some(uid) = config.run_as_user {
            if pod_user.is_none() && !any_container_user {
                set_default(spec, &["securityContext", "runAsUser"], json!(uid));
            }
        }
    }

    let mut new_volumes: Vec<Value> = Vec::new();
    let existing_volumes: Vec<String> = spec
        .get("volumes")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for container in containers.iter_mut() {
        harden_container(container, config, &existing_volumes, &mut new_volumes);
    }
    if !new_volumes.is_empty() {
        set_default(spec, &["volumes"], json!([]));
        if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
            volumes.extend(new_volumes);
        }
    }
}

fn is_windows(spec: &Map<String, Value>) -> bool {
    spec.get("os")
        .and_then(|os| os.get("name"))
        .and_then(Value::as_str)
        == Some("windows")
}

/// Where one pod of an object is written: its spec and each of its containers (init, regular and
/// ephemeral), as JSON pointers. `palisade_core::pod_templates` gives them for every kind the
/// audit evaluates, KServe's framework containers included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodPointers {
    pub spec: String,
    pub containers: Vec<String>,
}

/// The object as it passes `level`: the values the level forbids that a UID or a profile can
/// replace are replaced (`runAsUser: 0` and `runAsNonRoot: false` by the configured UID and
/// `true`, `allowPrivilegeEscalation: true` by `false`, a `drop` list without `ALL` gets `ALL`,
/// an `Unconfined` seccomp profile becomes `RuntimeDefault`), then at `restricted` whatever is
/// unset is hardened as [`harden`] does. What needs a person is left as written: privileged
/// containers, added capabilities (and `allowPrivilegeEscalation` beside `SYS_ADMIN`, which
/// the API server requires), host namespaces and volumes, Windows pods.
pub fn harden_overriding(
    object: &Value,
    pods: &[PodPointers],
    config: &HardeningConfig,
    level: palisade_pss::Level,
) -> Value {
    use palisade_pss::Level;
    let mut out = object.clone();
    if level == Level::Privileged {
        return out;
    }
    let restricted = level == Level::Restricted;
    let uid = config.run_as_user.unwrap_or(DEFAULT_NON_ROOT_UID);
    for pod in pods {
        let mut containers: Vec<Map<String, Value>> = pod
            .containers
            .iter()
            .map(|p| {
                out.pointer(p)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        let Some(spec) = out.pointer_mut(&pod.spec).and_then(Value::as_object_mut) else {
            continue;
        };
        if is_windows(spec) {
            continue;
        }
        override_context(spec, restricted, uid);
        for container in containers.iter_mut() {
            if get(
                &Value::Object(container.clone()),
                &["securityContext", "privileged"],
            ) == Some(&json!(true))
            {
                continue;
            }
            override_context(container, restricted, uid);
            if restricted {
                override_container(container);
            }
        }
        if restricted {
            harden_pod(spec, &mut containers, config);
        }
        for (pointer, container) in pod.containers.iter().zip(containers) {
            if let Some(slot) = out.pointer_mut(pointer) {
                if slot.is_object() {
                    *slot = Value::Object(container);
                }
            }
        }
    }
    out
}

/// The UID [`harden_overriding`] gives when the configuration sets none (distroless `nonroot`).
pub const DEFAULT_NON_ROOT_UID: i64 = 65532;

/// A pod's or a container's `securityContext` values that the level forbids and that have a
/// safe replacement.
fn override_context(holder: &mut Map<String, Value>, restricted: bool, uid: i64) {
    let Some(context) = holder
        .get_mut("securityContext")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(profile) = context
        .get_mut("seccompProfile")
        .and_then(Value::as_object_mut)
    {
        if profile.get("type") == Some(&json!("Unconfined")) {
            profile.insert("type".into(), json!("RuntimeDefault"));
        }
    }
    if !restricted {
        return;
    }
    if context.get("runAsNonRoot") == Some(&json!(false)) {
        context.insert("runAsNonRoot".into(), json!(true));
    }
    if context.get("runAsUser").and_then(Value::as_i64) == Some(0) {
        context.insert("runAsUser".into(), json!(uid));
    }
}

/// A container's values `restricted` forbids beyond the pod's: privilege escalation and a
/// `drop` list without `ALL`.
fn override_container(container: &mut Map<String, Value>) {
    let c = Value::Object(container.clone());
    let adds_sys_admin = get(&c, &["securityContext", "capabilities", "add"])
        .and_then(Value::as_array)
        .is_some_and(|caps| {
            caps.iter()
                .any(|cap| matches!(cap.as_str(), Some("SYS_ADMIN" | "CAP_SYS_ADMIN")))
        });
    let Some(context) = container
        .get_mut("securityContext")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if !adds_sys_admin && context.get("allowPrivilegeEscalation") == Some(&json!(true)) {
        context.insert("allowPrivilegeEscalation".into(), json!(false));
    }
    if let Some(drop) = context
        .get_mut("capabilities")
        .and_then(|c| c.get_mut("drop"))
        .and_then(Value::as_array_mut)
    {
        if !drop.iter().any(|d| d == "ALL") {
            drop.push(json!("ALL"));
        }
    }
}

/// The operations that turn `old` into `new`, where `new` only adds keys and list items or
/// changes scalars (as [`harden_overriding`] and evidence-driven fixes do).
pub fn patch_between(old: &Value, new: &Value) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    diff(old, new, &mut String::new(), &mut ops);
    ops
}

fn harden_container(
    container: &mut Map<String, Value>,
    config: &HardeningConfig,
    existing_volumes: &[String],
    new_volumes: &mut Vec<Value>,
) {
    let c = Value::Object(container.clone());
    // A privileged container asked for everything; changing it is not safe.
    if get(&c, &["securityContext", "privileged"]) == Some(&json!(true)) {
        return;
    }
    let adds_sys_admin = get(&c, &["securityContext", "capabilities", "add"])
        .and_then(Value::as_array)
        .is_some_and(|caps| {
            caps.iter()
                .any(|cap| matches!(cap.as_str(), Some("SYS_ADMIN" | "CAP_SYS_ADMIN")))
        });
    // The API server rejects allowPrivilegeEscalation=false beside CAP_SYS_ADMIN.
    if !adds_sys_admin {
        set_default(
            container,
            &["securityContext", "allowPrivilegeEscalation"],
            json!(false),
        );
    }
    set_default(
        container,
        &["securityContext", "capabilities", "drop"],
        json!(["ALL"]),
    );

    if get(&c, &["securityContext", "readOnlyRootFilesystem"]) == Some(&json!(true)) {
        let mounted: Vec<String> = c
            .get("volumeMounts")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| {
                        m.get("mountPath")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for path in &config.writable_paths {
            if mounted
                .iter()
                .any(|m| m.trim_end_matches('/') == path.trim_end_matches('/'))
            {
                continue;
            }
            let name = volume_name(path);
            let known = existing_volumes.contains(&name)
                || new_volumes
                    .iter()
                    .any(|v| v.get("name").and_then(Value::as_str) == Some(&name));
            if !known {
                new_volumes.push(json!({"name": name, "emptyDir": {}}));
            }
            set_default(container, &["volumeMounts"], json!([]));
            if let Some(mounts) = container
                .get_mut("volumeMounts")
                .and_then(Value::as_array_mut)
            {
                mounts.push(json!({"name": name, "mountPath": path}));
            }
        }
    }
}

/// A DNS-label volume name for a writable path: `/tmp` -> `palisade-tmp`.
pub fn volume_name(path: &str) -> String {
    let slug: String = path
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = format!("palisade-{}", slug.trim_matches('-'));
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The `add` operations that turn `old` into `new`, where `new` only adds keys and list items.
fn diff(old: &Value, new: &Value, path: &mut String, ops: &mut Vec<PatchOp>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, vb) in b {
                let len = path.len();
                path.push('/');
                path.push_str(&escape(key));
                match a.get(key) {
                    Some(va) if !va.is_null() => diff(va, vb, path, ops),
                    Some(_) if vb.is_null() => {}
                    Some(_) => ops.push(PatchOp {
                        op: "replace",
                        path: path.clone(),
                        value: vb.clone(),
                    }),
                    None => ops.push(PatchOp {
                        op: "add",
                        path: path.clone(),
                        value: vb.clone(),
                    }),
                }
                path.truncate(len);
            }
        }
        (Value::Array(a), Value::Array(b)) if b.len() >= a.len() => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                diff(va, vb, path, ops);
                path.truncate(len);
            }
            for vb in &b[a.len()..] {
                ops.push(PatchOp {
                    op: "add",
                    path: format!("{path}/-"),
                    value: vb.clone(),
                });
            }
        }
        _ if old != new => ops.push(PatchOp {
            op: "replace",
            path: path.clone(),
            value: new.clone(),
        }),
        _ => {}
    }
}

/// Applies `add`/`replace` operations as produced here (for `palisade harden` and tests).
pub fn apply(object: &mut Value, ops: &[PatchOp]) -> Result<(), String> {
    for op in ops {
        let (parent, last) = op
            .path
            .rsplit_once('/')
            .ok_or_else(|| format!("bad path {}", op.path))?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = object
            .pointer_mut(parent)
            .ok_or_else(|| format!("no parent for {}", op.path))?;
        match target {
            Value::Object(map) => {
                map.insert(last, op.value.clone());
            }
            Value::Array(items) if last == "-" => items.push(op.value.clone()),
            Value::Array(items) => {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("bad index in {}", op.path))?;
                *items
                    .get_mut(i)
                    .ok_or_else(|| format!("no item at {}", op.path))? = op.value.clone();
            }
            _ => return Err(format!("cannot add under a scalar at {}", op.path)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::pod::{ObjectMeta, PodSpec};
    use palisade_pss::{evaluate_as_written, Level, LevelVersion, Version};

    fn restricted_ok(spec: &Value) -> Vec<String> {
        let spec: PodSpec = serde_json::from_value(spec.clone()).unwrap();
        let eval = evaluate_as_written(
            LevelVersion::new(Level::Restricted, Version::Latest),
            &ObjectMeta::default(),
            &spec,
        );
        eval.failures
            .iter()
            .map(|f| f.check.id.to_owned())
            .collect()
    }

    #[test]
    fn makes_a_plain_pod_pass_restricted_and_is_idempotent() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "app", "image": "flask", "securityContext": {"readOnlyRootFilesystem": true}}],
                     "initContainers": [{"name": "init", "image": "busybox"}]}});
        assert!(!restricted_ok(&pod["spec"]).is_empty());
        let ops = harden(&pod, "", "Pod", &HardeningConfig::default());
        let mut hardened = pod.clone();
        apply(&mut hardened, &ops).unwrap();
        assert_eq!(restricted_ok(&hardened["spec"]), Vec::<String>::new());
        assert_eq!(hardened["spec"]["securityContext"]["runAsUser"], 65532);
        assert_eq!(
            hardened["spec"]["volumes"][0],
            json!({"name": "palisade-tmp", "emptyDir": {}})
        );
        assert_eq!(
            hardened["spec"]["containers"][0]["volumeMounts"][0],
            json!({"name": "palisade-tmp", "mountPath": "/tmp"})
        );
        assert!(harden(&hardened, "", "Pod", &HardeningConfig::default()).is_empty());
    }

    #[test]
    fn never_overrides_what_the_user_set() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
        "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}},
        "containers": [
            {"name": "root", "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": true, "capabilities": {"drop": ["NET_RAW"]}}},
            {"name": "priv", "securityContext": {"privileged": true}},
            {"name": "admin", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}
        ]}}}});
        let ops = harden(
            &deployment,
            "apps",
            "Deployment",
            &HardeningConfig::default(),
        );
        let paths: Vec<&str> = ops.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/spec/template/spec/containers/2/securityContext/capabilities/drop"]
        );
        assert!(ops.iter().all(|o| o.op == "add"));
    }

    #[test]
    fn leaves_windows_pods_and_other_kinds_alone() {
        let pod = json!({"spec": {"os": {"name": "windows"}, "containers": [{"name": "c"}]}});
        assert!(harden(&pod, "", "Pod", &HardeningConfig::default()).is_empty());
        assert!(harden(
            &json!({"spec": {}}),
            "",
            "Service",
            &HardeningConfig::default()
        )
        .is_empty());
    }

    fn pods_of(spec: &str, containers: usize) -> Vec<PodPointers> {
        vec![PodPointers {
            spec: spec.to_owned(),
            containers: (0..containers)
                .map(|i| format!("{spec}/containers/{i}"))
                .collect(),
        }]
    }

    #[test]
    fn overriding_replaces_what_restricted_forbids_and_nothing_that_needs_a_person() {
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
        "securityContext": {"runAsNonRoot": false, "seccompProfile": {"type": "Unconfined"}},
        "containers": [
            {"name": "root", "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": true, "capabilities": {"drop": ["NET_RAW"]}}},
            {"name": "priv", "securityContext": {"privileged": true, "runAsUser": 0}},
            {"name": "admin", "securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"add": ["SYS_ADMIN"]}}}
        ]}}}});
        let config = HardeningConfig {
            run_as_user: Some(1000),
            ..HardeningConfig::default()
        };
        let fixed = harden_overriding(
            &deployment,
            &pods_of("/spec/template/spec", 3),
            &config,
            Level::Restricted,
        );
        let spec = &fixed["spec"]["template"]["spec"];
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(spec["containers"][0]["securityContext"]["runAsUser"], 1000);
        assert_eq!(
            spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            spec["containers"][0]["securityContext"]["capabilities"]["drop"],
            json!(["NET_RAW", "ALL"])
        );
        // Privileged stays privileged, and root; SYS_ADMIN keeps its escalation (the API server
        // requires it).
        assert_eq!(
            spec["containers"][1],
            deployment["spec"]["template"]["spec"]["containers"][1]
        );
        assert_eq!(
            spec["containers"][2]["securityContext"]["allowPrivilegeEscalation"],
            true
        );
        assert_eq!(
            spec["containers"][2]["securityContext"]["capabilities"]["add"],
            json!(["SYS_ADMIN"])
        );
        // Baseline forbids only the unconfined profile of these.
        let baseline = harden_overriding(
            &deployment,
            &pods_of("/spec/template/spec", 3),
            &config,
            Level::Baseline,
        );
        let ops = patch_between(&deployment, &baseline);
        assert_eq!(
            ops,
            vec![PatchOp {
                op: "replace",
                path: "/spec/template/spec/securityContext/seccompProfile/type".into(),
                value: json!("RuntimeDefault"),
            }]
        );
        assert_eq!(
            harden_overriding(
                &deployment,
                &pods_of("/spec/template/spec", 3),
                &config,
                Level::Privileged
            ),
            deployment
        );
    }

    #[test]
    fn escapes_pointer_keys() {
        let mut ops = Vec::new();
        diff(
            &json!({}),
            &json!({"a/b~c": 1}),
            &mut String::new(),
            &mut ops,
        );
        assert_eq!(ops[0].path, "/a~1b~0c");
    }
}
