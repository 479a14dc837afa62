//! The edits the evidence asks for, made on an object's JSON: an `emptyDir` where the app writes
//! under a read-only root, `fsGroup` for a volume it cannot write, a port of 1024 or more where it
//! cannot bind a lower one. Each says what it did, or why a person must decide instead.

use serde_json::{json, Map, Value};

use palisade_policy::harden::volume_name;

/// One pod of an object: where its spec is, and its containers (name, JSON pointer, whether it
/// is one of `spec.containers`, the app's, rather than an init or ephemeral container).
#[derive(Debug, Clone)]
pub struct Pod {
    pub spec: String,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub name: String,
    pub pointer: String,
    pub app: bool,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written into the manifest; the text says what.
    Fixed(String),
    /// Left for a person, and why.
    Person(String),
}

/// Directories an emptyDir must never cover: the app's own programs and libraries live there.
const SYSTEM_DIRS: &[&str] = &[
    "/", "/bin", "/sbin", "/lib", "/lib64", "/usr", "/etc", "/opt", "/var", "/home", "/root",
];

/// The directory to mount an emptyDir at for a write to `path`: `/tmp`-like paths get the
/// temporary directory itself, a file (a name with an extension) its directory.
pub fn writable_dir(path: &str) -> Result<String, String> {
    let path = path.trim_end_matches('/');
    for tmp in ["/tmp", "/var/tmp", "/dev/shm"] {
        if path == tmp || path.starts_with(&format!("{tmp}/")) {
            return Ok(tmp.to_owned());
        }
    }
    let last = path.rsplit('/').next().unwrap_or_default();
    let dir = if last.contains('.') && !last.starts_with('.') {
        path.rsplit_once('/')
            .map_or("/", |(d, _)| if d.is_empty() { "/" } else { d })
    } else {
        path
    };
    if dir.is_empty() || SYSTEM_DIRS.contains(&dir) {
        return Err(format!(
            "the write is to {path}, directly under {}: an emptyDir there would hide the image's own files; make the app write to a directory of its own (a cache or data directory) and run explain again",
            if dir.is_empty() { "/" } else { dir }
        ));
    }
    Ok(dir.to_owned())
}

/// The app's containers a write concerns: those with a read-only root filesystem, else all.
fn app_containers(object: &Value, pod: &Pod) -> Vec<Container> {
    let apps: Vec<Container> = pod.containers.iter().filter(|c| c.app).cloned().collect();
    let read_only: Vec<Container> = apps
        .iter()
        .filter(|c| {
            object.pointer(&format!(
                "{}/securityContext/readOnlyRootFilesystem",
                c.pointer
            )) == Some(&json!(true))
        })
        .cloned()
        .collect();
    if read_only.is_empty() {
        apps
    } else {
        read_only
    }
}

/// The volume mount of `container` that covers `path`: (volume name, mountPath, readOnly).
fn mount_covering(
    object: &Value,
    container: &Container,
    path: &str,
) -> Option<(String, String, bool)> {
    let mounts = object
        .pointer(&format!("{}/volumeMounts", container.pointer))?
        .as_array()?;
    mounts
        .iter()
        .filter_map(|m| {
            let at = m.get("mountPath")?.as_str()?.trim_end_matches('/');
            let covers = path == at || path.starts_with(&format!("{at}/")) || at.is_empty();
            covers.then(|| {
                (
                    m.get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    at.to_owned(),
                    m.get("readOnly") == Some(&json!(true)),
                )
            })
        })
        .max_by_key(|(_, at, _)| at.len())
}

fn object_at<'a>(value: &'a mut Value, pointer: &str) -> Option<&'a mut Map<String, Value>> {
    value.pointer_mut(pointer)?.as_object_mut()
}

/// An `emptyDir` at the directory of `path` in the app's containers.
pub fn empty_dir(object: &mut Value, pod: &Pod, path: &str) -> Outcome {
    let containers = app_containers(object, pod);
    for c in &containers {
        if let Some((volume, at, read_only)) = mount_covering(object, c, path) {
            return Outcome::Person(if read_only {
                format!("{path} is on volume {volume:?}, mounted read-only at {at} in container {:?}: remove readOnly: true from that mount if the app must write there", c.name)
            } else {
                format!("{path} is on volume {volume:?} (mounted at {at} in container {:?}), which its type makes read-only (a configMap, secret or projected volume): write elsewhere, or use an emptyDir or a persistentVolumeClaim", c.name)
            });
        }
    }
    let dir = match writable_dir(path) {
        Ok(dir) => dir,
        Err(why) => return Outcome::Person(why),
    };
    let name = volume_name(&dir);
    let Some(spec) = object_at(object, &pod.spec) else {
        return Outcome::Person(format!("no pod spec at {}", pod.spec));
    };
    let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
    if let Some(volumes) = volumes.as_array_mut() {
        if !volumes.iter().any(|v| v.get("name") == Some(&json!(name))) {
            volumes.push(json!({"name": name, "emptyDir": {}}));
        }
    }
    let mut names = Vec::new();
    for c in &containers {
        if let Some(container) = object_at(object, &c.pointer) {
            let mounts = container.entry("volumeMounts").or_insert_with(|| json!([]));
            if let Some(mounts) = mounts.as_array_mut() {
                mounts.push(json!({"name": name, "mountPath": dir}));
                names.push(format!("{:?}", c.name));
            }
        }
    }
    Outcome::Fixed(format!(
        "--fix mounts an emptyDir (volume {name}) at {dir} in container {}; it starts empty on every start of the pod, so anything the image ships under {dir} is hidden (keep the root read-only: this is the one place the app writes)",
        names.join(", ")
    ))
}

/// `fsGroup`, so the volume mounted where `path` is becomes writable by the pod's group.
pub fn fs_group(object: &mut Value, pod: &Pod, path: &str, gid: i64) -> Option<Outcome> {
    let (volume, at) = pod
        .containers
        .iter()
        .find_map(|c| mount_covering(object, c, path).map(|(v, at, _)| (v, at)))?;
    let kind = object
        .pointer(&format!("{}/volumes", pod.spec))
        .and_then(Value::as_array)
        .and_then(|vs| vs.iter().find(|v| v.get("name") == Some(&json!(volume))))
        .and_then(Value::as_object)
        .and_then(|v| v.keys().find(|k| *k != "name").cloned())
        .unwrap_or_default();
    if matches!(kind.as_str(), "hostPath" | "nfs") {
        return Some(Outcome::Person(format!(
            "{path} is on volume {volume:?} ({kind} at {at}), whose files belong to the node, where fsGroup changes nothing: make them writable by the pod's user there, or move the data to a persistentVolumeClaim"
        )));
    }
    let spec = object_at(object, &pod.spec)?;
    let context = spec
        .entry("securityContext")
        .or_insert_with(|| json!({}))
        .as_object_mut()?;
    if let Some(existing) = context.get("fsGroup").filter(|v| !v.is_null()) {
        return Some(Outcome::Person(format!(
            "{path} is on volume {volume:?} (mounted at {at}) and the pod already sets fsGroup: {existing}: the volume's driver may not support ownership changes (check its fsGroupPolicy), or the files need another group"
        )));
    }
    context.insert("fsGroup".into(), json!(gid));
    Some(Outcome::Fixed(format!(
        "--fix sets the pod's securityContext.fsGroup: {gid}, so the kubelet makes volume {volume:?} (mounted at {at}) writable by that group"
    )))
}

/// The port to use instead of a privileged one: 80 -> 8080, 443 -> 8443, else 8000 + port.
pub fn unprivileged(port: i64) -> i64 {
    match port {
        80 => 8080,
        443 => 8443,
        p => 8000 + p,
    }
}

/// Every `containerPort` below 1024 (or exactly `port`, when the logs name it) moved to one of
/// 1024 or more; the app must listen there too, which is a person's change.
pub fn ports(object: &mut Value, pod: &Pod, port: Option<u16>) -> Outcome {
    let mut changed = Vec::new();
    let mut named = Vec::new();
    for c in pod.containers.iter().filter(|c| c.app) {
        let Some(container) = object_at(object, &c.pointer) else {
            continue;
        };
        let words: Vec<String> = ["command", "args"]
            .iter()
            .filter_map(|k| container.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_owned))
            .collect();
        let Some(list) = container.get_mut("ports").and_then(Value::as_array_mut) else {
            continue;
        };
        for entry in list.iter_mut().filter_map(Value::as_object_mut) {
            let Some(p) = entry.get("containerPort").and_then(Value::as_i64) else {
                continue;
            };
            let wanted = match port {
                Some(port) => p == i64::from(port) && p < 1024,
                None => p > 0 && p < 1024,
            };
            if !wanted {
                continue;
            }
            let new = unprivileged(p);
            entry.insert("containerPort".into(), json!(new));
            changed.push(format!("container {:?}: {p} -> {new}", c.name));
            for word in &words {
                let token = p.to_string();
                let names_it = word == &token
                    || word.ends_with(&format!(":{token}"))
                    || word.ends_with(&format!("={token}"));
                if names_it {
                    named.push(format!("{word:?} (use {new})"));
                }
            }
        }
    }
    let listen = match port {
        Some(p) => format!("port {p}"),
        None => "a port below 1024".to_owned(),
    };
    if changed.is_empty() {
        return Outcome::Person(format!(
            "the app binds {listen}, which a non-root user without NET_BIND_SERVICE cannot: make it listen on 1024 or above (gunicorn --bind 0.0.0.0:8080, uvicorn --port 8080, flask run --port 8080)"
        ));
    }
    let app = if named.is_empty() {
        "then make the app listen there (gunicorn --bind 0.0.0.0:8080, uvicorn --port 8080, flask run --port 8080, or its own setting)".to_owned()
    } else {
        format!(
            "the container's command or args name the old port: change {} too",
            named.join(", ")
        )
    };
    Outcome::Person(format!(
        "--fix moves containerPort ({}); {app}, and point the Service's targetPort at the new port. Adding NET_BIND_SERVICE instead works only where the runtime grants it to non-root processes (ambient capabilities), so a port of 1024 or more is the dependable fix",
        changed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> (Value, Pod) {
        let object = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "server", "args": ["--bind", "0.0.0.0:80"],
                "ports": [{"containerPort": 80}],
                "securityContext": {"readOnlyRootFilesystem": true},
                "volumeMounts": [{"name": "models", "mountPath": "/models"}]}],
            "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "m"}}]}}}});
        let pod = Pod {
            spec: "/spec/template/spec".into(),
            containers: vec![Container {
                name: "server".into(),
                pointer: "/spec/template/spec/containers/0".into(),
                app: true,
            }],
        };
        (object, pod)
    }

    #[test]
    fn writable_directories() {
        assert_eq!(writable_dir("/app/cache"), Ok("/app/cache".into()));
        assert_eq!(
            writable_dir("/app/cache/model.bin"),
            Ok("/app/cache".into())
        );
        assert_eq!(writable_dir("/tmp/tmpa1b2c3/x.lock"), Ok("/tmp".into()));
        assert!(writable_dir("/app.pid").is_err());
        assert!(writable_dir("/usr/lib/x").is_ok());
        assert!(writable_dir("/etc/app.conf").is_err());
    }

    #[test]
    fn an_empty_dir_where_the_app_writes() {
        let (mut object, pod) = deployment();
        let outcome = empty_dir(&mut object, &pod, "/app/cache/x.json");
        assert!(matches!(outcome, Outcome::Fixed(_)), "{outcome:?}");
        let spec = &object["spec"]["template"]["spec"];
        assert_eq!(
            spec["volumes"][1],
            json!({"name": "palisade-app-cache", "emptyDir": {}})
        );
        assert_eq!(
            spec["containers"][0]["volumeMounts"][1],
            json!({"name": "palisade-app-cache", "mountPath": "/app/cache"})
        );
        // A write to a mounted volume is not the root's.
        assert!(matches!(
            empty_dir(&mut object, &pod, "/models/x"),
            Outcome::Person(_)
        ));
    }

    #[test]
    fn fs_group_and_ports() {
        let (mut object, pod) = deployment();
        assert!(fs_group(&mut object, &pod, "/elsewhere", 1000).is_none());
        let outcome = fs_group(&mut object, &pod, "/models/iris.joblib", 1000);
        assert!(matches!(outcome, Some(Outcome::Fixed(_))), "{outcome:?}");
        assert_eq!(
            object["spec"]["template"]["spec"]["securityContext"]["fsGroup"],
            1000
        );
        let Outcome::Person(text) = ports(&mut object, &pod, Some(80)) else {
            panic!("a port change needs the app changed too");
        };
        assert!(text.contains("\"0.0.0.0:80\" (use 8080)"), "{text}");
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
            8080
        );
    }
}
