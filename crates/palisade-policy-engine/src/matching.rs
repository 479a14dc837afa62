//! Matching requests to policies: resource rules (group, version, plural resource, operation,
//! scope), label selectors, Kyverno resource filters and Gatekeeper constraint matches.

use serde_json::Value as Json;

/// The plural resource name of a kind, as the API server's RESTMapper guesses it for the
/// built-in kinds (lowercase; `y` → `ies`; `s`, `x`, `ch`, `sh` → `es`; `Endpoints` stays).
pub fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    match lower.as_str() {
        "" => String::new(),
        "endpoints" => lower,
        _ if lower.ends_with('y')
            && !lower.ends_with("ay")
            && !lower.ends_with("ey")
            && !lower.ends_with("oy")
            && !lower.ends_with("uy") =>
        {
            format!("{}ies", &lower[..lower.len() - 1])
        }
        _ if lower.ends_with('s')
            || lower.ends_with('x')
            || lower.ends_with("ch")
            || lower.ends_with("sh") =>
        {
            format!("{lower}es")
        }
        _ => format!("{lower}s"),
    }
}

/// Kinds the API server serves cluster-scoped (the common built-in ones).
pub fn cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "PersistentVolume"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "StorageClass"
            | "PriorityClass"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "APIService"
            | "CSIDriver"
            | "CSINode"
            | "IngressClass"
            | "RuntimeClass"
            | "VolumeAttachment"
            | "CertificateSigningRequest"
            | "ClusterPolicy"
            | "ConstraintTemplate"
            | "PodSecurityPolicy"
    )
}

/// `group/version` split of an apiVersion (the core group is empty).
pub fn group_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// A Kubernetes label selector (matchLabels and matchExpressions).
#[derive(Debug, Clone, Default)]
pub struct LabelSelector {
    match_labels: Vec<(String, String)>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl LabelSelector {
    pub fn from_json(v: &Json) -> Result<LabelSelector, String> {
        let mut s = LabelSelector::default();
        if let Some(m) = v.get("matchLabels").and_then(Json::as_object) {
            for (k, v) in m {
                s.match_labels
                    .push((k.clone(), v.as_str().unwrap_or_default().to_string()));
            }
        }
        if let Some(exprs) = v.get("matchExpressions").and_then(Json::as_array) {
            for e in exprs {
                let key = e.get("key").and_then(Json::as_str).unwrap_or_default();
                let op = e.get("operator").and_then(Json::as_str).unwrap_or_default();
                if !matches!(op, "In" | "NotIn" | "Exists" | "DoesNotExist") {
                    return Err(format!("invalid label selector operator {op:?}"));
                }
                let values = e
                    .get("values")
                    .and_then(Json::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                s.expressions
                    .push((key.to_string(), op.to_string(), values));
            }
        }
        Ok(s)
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.expressions.is_empty()
    }

    pub fn matches(&self, labels: Option<&Json>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Json::as_str);
        self.match_labels
            .iter()
            .all(|(k, v)| get(k) == Some(v.as_str()))
            && self
                .expressions
                .iter()
                .all(|(k, op, values)| match op.as_str() {
                    "In" => get(k).is_some_and(|v| values.iter().any(|x| x == v)),
                    "NotIn" => get(k).is_none_or(|v| !values.iter().any(|x| x == v)),
                    "Exists" => get(k).is_some(),
                    _ => get(k).is_none(),
                })
    }
}

/// One `resourceRules` entry of a ValidatingAdmissionPolicy's matchConstraints.
#[derive(Debug, Clone, Default)]
pub struct ResourceRule {
    pub groups: Vec<String>,
    pub versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<String>,
    pub scope: String,
    pub names: Vec<String>,
}

fn strings(v: Option<&Json>) -> Vec<String> {
    v.and_then(Json::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn any_or(list: &[String], value: &str) -> bool {
    list.iter().any(|x| x == "*" || x == value)
}

impl ResourceRule {
    pub fn from_json(v: &Json) -> ResourceRule {
        ResourceRule {
            groups: strings(v.get("apiGroups")),
            versions: strings(v.get("apiVersions")),
            resources: strings(v.get("resources")),
            operations: strings(v.get("operations")),
            scope: v
                .get("scope")
                .and_then(Json::as_str)
                .unwrap_or("*")
                .to_string(),
            names: strings(v.get("resourceNames")),
        }
    }

    pub fn matches(&self, req: &RequestInfo) -> bool {
        self.matches_type(req)
            && (self.names.is_empty() || self.names.iter().any(|n| n == &req.name))
    }

    /// [`ResourceRule::matches`] but for resourceNames: whether a request of this type may match.
    pub fn matches_type(&self, req: &RequestInfo) -> bool {
        let resource_ok = self.resources.iter().any(|r| {
            if r == "*/*" {
                return true;
            }
            let (res, sub) = r.split_once('/').unwrap_or((r.as_str(), ""));
            let sub_ok = if sub.is_empty() {
                req.sub_resource.is_empty()
            } else {
                sub == "*" || sub == req.sub_resource
            };
            (res == "*" || res == req.resource) && sub_ok
        });
        let scope_ok = match self.scope.as_str() {
            "Cluster" => req.cluster_scoped,
            "Namespaced" => !req.cluster_scoped,
            _ => true,
        };
        any_or(&self.groups, &req.group)
            && any_or(&self.versions, &req.version)
            && resource_ok
            && (self.operations.is_empty() || any_or(&self.operations, &req.operation))
            && scope_ok
    }
}

/// What a request is about, for matching.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub resource: String,
    pub sub_resource: String,
    pub operation: String,
    pub name: String,
    pub namespace: String,
    pub cluster_scoped: bool,
}

/// Gatekeeper-style and Kyverno-style wildcard match (`*` anywhere, `?` one character).
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut pi, mut vi, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
