//! An in-process stand-in of the Kubernetes API server, for tests of kube-rs clients (no
//! kube-apiserver binary can be obtained on these machines): HTTP/1.1 on 127.0.0.1, objects kept
//! in memory, every request recorded (which listener it came through, method, path, query with
//! `fieldManager` and `force`, content type, body). It answers GET, LIST (label selectors:
//! `k=v`, `k!=v`, `k`, `!k`), POST, PUT (optimistic: a stale `resourceVersion` is a 409), PATCH
//! (`application/apply-patch+yaml`: server-side apply as create-or-merge, recording the field
//! manager in `managedFields`; `application/merge-patch+json`, `null` removing a key; the
//! `status` subresource), DELETE, and watches (chunked JSON lines of ADDED, MODIFIED and DELETED
//! events as objects change, from the `resourceVersion` asked for).
//!
//! Not emulated: field ownership (an apply merges; it never removes fields another manager
//! owns or conflicts), admission, validation, the garbage collector, pagination.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// The resources the stand-in serves: kind, group, version, plural.
const RESOURCES: &[(&str, &str, &str, &str)] = &[
    ("Team", "palisade.dev", "v1alpha1", "teams"),
    ("Namespace", "", "v1", "namespaces"),
    ("ResourceQuota", "", "v1", "resourcequotas"),
    ("LimitRange", "", "v1", "limitranges"),
    ("Pod", "", "v1", "pods"),
    ("Role", "rbac.authorization.k8s.io", "v1", "roles"),
    (
        "RoleBinding",
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
    ),
    (
        "NetworkPolicy",
        "networking.k8s.io",
        "v1",
        "networkpolicies",
    ),
    ("Deployment", "apps", "v1", "deployments"),
    ("StatefulSet", "apps", "v1", "statefulsets"),
    ("DaemonSet", "apps", "v1", "daemonsets"),
    ("ReplicaSet", "apps", "v1", "replicasets"),
    ("Job", "batch", "v1", "jobs"),
    ("CronJob", "batch", "v1", "cronjobs"),
    ("Lease", "coordination.k8s.io", "v1", "leases"),
    ("Event", "events.k8s.io", "v1", "events"),
];

fn resource_of_kind(kind: &str) -> (&'static str, &'static str, &'static str, &'static str) {
    *RESOURCES
        .iter()
        .find(|r| r.0 == kind)
        .unwrap_or_else(|| panic!("the stand-in does not serve {kind}"))
}

fn resource_key(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.into()
    } else {
        format!("{group}/{plural}")
    }
}

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Which `url()` it came through.
    pub client: usize,
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub content_type: String,
    pub body: Option<Value>,
    pub at: Instant,
}

impl Request {
    pub fn is_apply(&self) -> bool {
        self.method == "PATCH" && self.content_type.starts_with("application/apply-patch")
    }
}

#[derive(Debug, Clone)]
struct Change {
    rv: u64,
    resource: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

type ObjectKey = (String, String, String); // resource, namespace, name

#[derive(Default)]
struct Inner {
    objects: BTreeMap<ObjectKey, Value>,
    rv: u64,
    uid: u64,
    changes: Vec<Change>,
    requests: Vec<Request>,
    /// Failures to inject: (method, path prefix) answered with this code.
    faults: Vec<(String, String, u16)>,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
    listeners: Mutex<usize>,
}

/// The stand-in. Cloning shares it.
#[derive(Clone)]
pub struct ApiServer {
    shared: Arc<Shared>,
}

struct Reply {
    code: u16,
    body: Value,
}

fn status(code: u16, reason: &str, message: String) -> Reply {
    Reply {
        code,
        body: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": message, "reason": reason, "code": code}),
    }
}

fn ok(code: u16, body: Value) -> Reply {
    Reply { code, body }
}

/// What a path names.
struct Target {
    group: String,
    version: String,
    resource: String,
    namespace: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match *segs.first()? {
        "api" => ("", *segs.get(1)?, &segs[2..]),
        "apis" => (*segs.get(1)?, *segs.get(2)?, &segs[3.min(segs.len())..]),
        _ => return None,
    };
    let (namespace, rest) = if rest.len() >= 3 && rest[0] == "namespaces" {
        (rest[1], &rest[2..])
    } else {
        ("", rest)
    };
    let plural = rest.first()?;
    Some(Target {
        group: group.into(),
        version: version.into(),
        resource: resource_key(group, plural),
        namespace: namespace.into(),
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    })
}

fn kind_of(resource: &str) -> Option<&'static str> {
    RESOURCES
        .iter()
        .find(|r| resource_key(r.1, r.3) == resource)
        .map(|r| r.0)
}

/// A label selector as the API server reads it (equality and existence terms).
pub fn selects(selector: &str, labels: &Value) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k.trim()] != json!(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels[k.trim()] == json!(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            labels.get(k.trim()).is_none()
        } else {
            labels.get(term.trim()).is_some()
        }
    })
}

/// JSON merge patch (RFC 7386).
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn without_meta(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(m) = v["metadata"].as_object_mut() {
        for k in [
            "resourceVersion",
            "managedFields",
            "generation",
            "uid",
            "creationTimestamp",
        ] {
            m.remove(k);
        }
    }
    v
}

fn body_of(value: &Value) -> Value {
    let mut v = value.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

impl ApiServer {
    pub fn start() -> ApiServer {
        ApiServer {
            shared: Arc::new(Shared {
                inner: Mutex::default(),
                changed: Condvar::new(),
                listeners: Mutex::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new listener on 127.0.0.1 sharing the objects; its requests are recorded with its
    /// index (the first is 0), so that tests can tell clients apart.
    pub fn url(&self) -> String {
        self.listener().0
    }

    /// A new listener, and the index its requests are recorded with.
    pub fn listener(&self) -> (String, usize) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let client = {
            let mut n = self.shared.listeners.lock().unwrap();
            *n += 1;
            *n - 1
        };
        let server = self.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.connection(stream, client));
            }
        });
        (url, client)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Answers requests of `method` whose path starts with `prefix` with `code` until cleared.
    pub fn fail(&self, method: &str, prefix: &str, code: u16) {
        self.lock()
            .faults
            .push((method.into(), prefix.into(), code));
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Creates or replaces an object as a client would (events are sent to watches).
    pub fn put(&self, object: Value) {
        let (kind, group, _, plural) = resource_of_kind(object["kind"].as_str().unwrap());
        let _ = kind;
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let mut inner = self.lock();
        let key = (resource_key(group, plural), namespace, name);
        let mut object = object;
        let old = inner.objects.get(&key).cloned();
        if let Some(old) = &old {
            object["metadata"]["uid"] = old["metadata"]["uid"].clone();
            object["metadata"]["generation"] = old["metadata"]["generation"].clone();
            if body_of(old) != body_of(&object) {
                object["metadata"]["generation"] =
                    json!(old["metadata"]["generation"].as_i64().unwrap_or(1) + 1);
            }
        }
        self.store(&mut inner, key, object, old.is_none());
        drop(inner);
        self.shared.changed.notify_all();
    }

    /// Deletes an object as a client would.
    pub fn remove(&self, kind: &str, namespace: &str, name: &str) -> bool {
        let (_, group, _, plural) = resource_of_kind(kind);
        let key = (
            resource_key(group, plural),
            namespace.to_owned(),
            name.to_owned(),
        );
        let mut inner = self.lock();
        let removed = Self::delete_locked(&mut inner, &key);
        drop(inner);
        self.shared.changed.notify_all();
        removed
    }

    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let (_, group, _, plural) = resource_of_kind(kind);
        self.lock()
            .objects
            .get(&(
                resource_key(group, plural),
                namespace.to_owned(),
                name.to_owned(),
            ))
            .cloned()
    }

    /// Every object of a kind.
    pub fn all(&self, kind: &str) -> Vec<Value> {
        let (_, group, _, plural) = resource_of_kind(kind);
        let resource = resource_key(group, plural);
        self.lock()
            .objects
            .iter()
            .filter(|((r, _, _), _)| *r == resource)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn delete_locked(inner: &mut Inner, key: &ObjectKey) -> bool {
        let Some(mut object) = inner.objects.remove(key) else {
            return false;
        };
        inner.rv += 1;
        object["metadata"]["resourceVersion"] = json!(inner.rv.to_string());
        let change = Change {
            rv: inner.rv,
            resource: key.0.clone(),
            namespace: key.1.clone(),
            kind: "DELETED",
            object,
        };
        inner.changes.push(change);
        true
    }

    /// Stores an object with a new resourceVersion (and uid on creation) and records the event.
    fn store(&self, inner: &mut Inner, key: ObjectKey, mut object: Value, created: bool) -> Value {
        inner.rv += 1;
        let rv = inner.rv;
        let (kind, group, version, _) = RESOURCES
            .iter()
            .find(|r| resource_key(r.1, r.3) == key.0)
            .copied()
            .unwrap();
        object["kind"] = json!(kind);
        object["apiVersion"] = json!(if group.is_empty() {
            version.to_owned()
        } else {
            format!("{group}/{version}")
        });
        let metadata = object["metadata"].as_object_mut().unwrap();
        metadata.insert("resourceVersion".into(), json!(rv.to_string()));
        if !key.1.is_empty() {
            metadata.insert("namespace".into(), json!(key.1));
        }
        if created {
            inner.uid += 1;
            metadata.insert("uid".into(), json!(format!("uid-{}", inner.uid)));
            metadata.insert("generation".into(), json!(1));
            metadata.insert("creationTimestamp".into(), json!("2025-01-01T00:00:00Z"));
        }
        inner.changes.push(Change {
            rv,
            resource: key.0.clone(),
            namespace: key.1.clone(),
            kind: if created { "ADDED" } else { "MODIFIED" },
            object: object.clone(),
        });
        inner.objects.insert(key, object.clone());
        object
    }

    fn connection(&self, stream: TcpStream, client: usize) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut stream = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let mut length = 0usize;
            let mut chunked = false;
            let mut content_type = String::new();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 {
                    return;
                }
                if header == "\r\n" {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap_or((&header, ""));
                let value = value.trim();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.parse().unwrap_or(0),
                    "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                    "content-type" => content_type = value.to_owned(),
                    _ => {}
                }
            }
            let mut body = Vec::new();
            if chunked {
                loop {
                    let mut size = String::new();
                    reader.read_line(&mut size).unwrap();
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    let mut chunk = vec![0; n + 2];
                    reader.read_exact(&mut chunk).unwrap();
                    if n == 0 {
                        break;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
            } else {
                body.resize(length, 0);
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
            }
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let query: BTreeMap<String, String> = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect();
            let body: Option<Value> =
                (!body.is_empty()).then(|| serde_json::from_slice(&body).unwrap_or(Value::Null));
            let request = Request {
                client,
                method: method.clone(),
                path: path.to_owned(),
                query: query.clone(),
                content_type,
                body,
                at: Instant::now(),
            };
            self.lock().requests.push(request.clone());
            let watch = matches!(query.get("watch").map(String::as_str), Some("true" | "1"));
            if method == "GET" && watch {
                self.watch(stream, &request);
                return;
            }
            let reply = self.answer(&request);
            let text = reply.body.to_string();
            let response = format!(
                "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                reply.code,
                text.len()
            );
            if stream.write_all(response.as_bytes()).is_err() {
                return;
            }
        }
    }

    fn answer(&self, request: &Request) -> Reply {
        let Some(target) = parse_target(&request.path) else {
            return status(404, "NotFound", format!("no resource at {}", request.path));
        };
        let Some(kind) = kind_of(&target.resource) else {
            return status(
                404,
                "NotFound",
                format!(
                    "the server could not find the requested resource ({})",
                    target.resource
                ),
            );
        };
        let mut inner = self.lock();
        if let Some((_, _, code)) = inner
            .faults
            .iter()
            .find(|(m, p, _)| *m == request.method && request.path.starts_with(p.as_str()))
        {
            return status(
                *code,
                "InternalError",
                format!("injected failure for {} {}", request.method, request.path),
            );
        }
        let body = request.body.clone().unwrap_or(Value::Null);
        let name = target
            .name
            .clone()
            .or_else(|| body["metadata"]["name"].as_str().map(str::to_owned));
        let key = |name: &str| {
            (
                target.resource.clone(),
                target.namespace.clone(),
                name.to_owned(),
            )
        };
        let not_found = |name: &str| {
            status(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", target.resource),
            )
        };
        let reply = match (request.method.as_str(), &target.name) {
            ("GET", None) => {
                let selector = request
                    .query
                    .get("labelSelector")
                    .cloned()
                    .unwrap_or_default();
                let items: Vec<Value> = inner
                    .objects
                    .iter()
                    .filter(|((r, ns, _), v)| {
                        *r == target.resource
                            && (target.namespace.is_empty() || *ns == target.namespace)
                            && selects(&selector, &v["metadata"]["labels"])
                    })
                    .map(|(_, v)| v.clone())
                    .collect();
                let api_version = if target.group.is_empty() {
                    target.version.clone()
                } else {
                    format!("{}/{}", target.group, target.version)
                };
                ok(
                    200,
                    json!({"apiVersion": api_version, "kind": format!("{kind}List"),
                               "metadata": {"resourceVersion": inner.rv.to_string()}, "items": items}),
                )
            }
            ("GET", Some(name)) => match inner.objects.get(&key(name)) {
                Some(v) => ok(200, v.clone()),
                None => not_found(name),
            },
            ("POST", _) => {
                let name = name.unwrap_or_else(|| format!("generated-{}", inner.rv + 1));
                if inner.objects.contains_key(&key(&name)) {
                    status(
                        409,
                        "AlreadyExists",
                        format!("{} \"{name}\" already exists", target.resource),
                    )
                } else {
                    let mut object = body;
                    object["metadata"]["name"] = json!(name);
                    ok(201, self.store(&mut inner, key(&name), object, true))
                }
            }
            ("PUT", Some(name)) => match inner.objects.get(&key(name)).cloned() {
                None => not_found(name),
                Some(old) => {
                    let sent = body["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or_default();
                    if !sent.is_empty()
                        && sent
                            != old["metadata"]["resourceVersion"]
                                .as_str()
                                .unwrap_or_default()
                    {
                        status(409, "Conflict", format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", target.resource))
                    } else {
                        let mut object = body;
                        object["metadata"]["uid"] = old["metadata"]["uid"].clone();
                        object["metadata"]["generation"] = old["metadata"]["generation"].clone();
                        ok(200, self.store(&mut inner, key(name), object, false))
                    }
                }
            },
            ("PATCH", Some(name)) => {
                let apply = request.content_type.starts_with("application/apply-patch");
                let manager = request
                    .query
                    .get("fieldManager")
                    .cloned()
                    .unwrap_or_default();
                let old = inner.objects.get(&key(name)).cloned();
                match (old, apply) {
                    (None, false) => not_found(name),
                    (old, _) => {
                        let created = old.is_none();
                        let mut object = old
                            .clone()
                            .unwrap_or_else(|| json!({"metadata": {"name": name}}));
                        if target.subresource.as_deref() == Some("status") {
                            merge(&mut object["status"], &body["status"]);
                        } else {
                            merge(&mut object, &body);
                        }
                        let entry = json!({"manager": manager, "operation": if apply { "Apply" } else { "Update" }});
                        let mut fields: Vec<Value> = object["metadata"]["managedFields"]
                            .as_array()
                            .cloned()
                            .unwrap_or_default();
                        fields.retain(|f| {
                            f["manager"] != entry["manager"] || f["operation"] != entry["operation"]
                        });
                        fields.push(entry);
                        object["metadata"]["managedFields"] = Value::Array(fields);
                        match &old {
                            Some(old) if without_meta(old) == without_meta(&object) => {
                                ok(200, old.clone())
                            }
                            _ => {
                                if let Some(old) = &old {
                                    let generation =
                                        old["metadata"]["generation"].as_i64().unwrap_or(1);
                                    let bump = i64::from(body_of(old) != body_of(&object));
                                    object["metadata"]["generation"] = json!(generation + bump);
                                }
                                let code = if created { 201 } else { 200 };
                                ok(code, self.store(&mut inner, key(name), object, created))
                            }
                        }
                    }
                }
            }
            ("DELETE", Some(name)) => match inner.objects.get(&key(name)).cloned() {
                None => not_found(name),
                Some(old) => {
                    Self::delete_locked(&mut inner, &key(name));
                    ok(200, old)
                }
            },
            _ => status(
                405,
                "MethodNotAllowed",
                format!("{} {}", request.method, request.path),
            ),
        };
        drop(inner);
        self.shared.changed.notify_all();
        reply
    }

    fn watch(&self, mut stream: TcpStream, request: &Request) {
        let Some(target) = parse_target(&request.path) else {
            return;
        };
        let selector = request
            .query
            .get("labelSelector")
            .cloned()
            .unwrap_or_default();
        let timeout = request
            .query
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(290));
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let matches = |c: &Change| {
            c.resource == target.resource
                && (target.namespace.is_empty() || c.namespace == target.namespace)
                && selects(&selector, &c.object["metadata"]["labels"])
        };
        let mut inner = self.lock();
        let mut from: u64 = request
            .query
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut pending: Vec<Value> = Vec::new();
        if from == 0 {
            // No version: the current objects as ADDED, then changes.
            for ((r, ns, _), v) in &inner.objects {
                let c = Change {
                    rv: 0,
                    resource: r.clone(),
                    namespace: ns.clone(),
                    kind: "ADDED",
                    object: v.clone(),
                };
                if matches(&c) {
                    pending.push(json!({"type": "ADDED", "object": v}));
                }
            }
            from = inner.rv;
        }
        let started = Instant::now();
        loop {
            for c in inner.changes.iter().filter(|c| c.rv > from) {
                if matches(c) {
                    pending.push(json!({"type": c.kind, "object": c.object}));
                }
            }
            from = inner.rv;
            if !pending.is_empty() {
                drop(inner);
                for event in pending.drain(..) {
                    let line = format!("{event}\n");
                    let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                    if stream.write_all(chunk.as_bytes()).is_err() {
                        return;
                    }
                }
                inner = self.lock();
                continue;
            }
            if started.elapsed() > timeout {
                drop(inner);
                let _ = stream.write_all(b"0\r\n\r\n");
                return;
            }
            inner = self
                .shared
                .changed
                .wait_timeout(inner, Duration::from_millis(200))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex =
                    std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every document of a YAML file as JSON.
pub fn yaml_documents(text: &str) -> Vec<Value> {
    palisade_core::yaml::documents(text)
        .filter_map(|d| d.unwrap().root.map(|r| r.to_json()))
        .collect()
}

/// Waits until `check` holds (polling), or panics with `what` after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The labels of the objects the stand-in holds, by kind and name, for messages.
pub fn names(objects: &[Value]) -> BTreeSet<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{} {}/{}",
                o["kind"].as_str().unwrap_or_default(),
                o["metadata"]["namespace"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}
