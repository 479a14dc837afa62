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

fn containers_of(spec: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(|k| spec.get(k).and_then(Value::as_array).into_iter().flatten())
}

fn harden_pod_spec(spec: &mut Map<String, Value>, config: &HardeningConfig) {
    // Linux security fields are invalid on Windows pods; leave them to their owners.
    if spec
        .get("os")
        .and_then(|os| os.get("name"))
        .and_then(Value::as_str)
        == Some("windows")
    {
        return;
    }
    let spec_value = Value::Object(spec.clone());
    let container_sets = |path: &[&str], predicate: &dyn Fn(&Value) -> bool| {
        containers_of(spec).any(|c| get(c, path).is_some_and(predicate))
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
    for key in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            harden_container(container, config, &existing_volumes, &mut new_volumes);
        }
    }
    if !new_volumes.is_empty() {
        set_default(spec, &["volumes"], json!([]));
        if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
            volumes.extend(new_volumes);
        }
    }
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
fn volume_name(path: &str) -> String {
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
