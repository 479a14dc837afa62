//! Adding fields to YAML text in place, so a hardened manifest keeps its comments, key order and
//! formatting. Handles the common block style; anything else is reported as not patchable and the
//! caller re-emits the document instead.

use crate::node::{Node, Value};

/// An addition: `value` (JSON) under `key` of the mapping at `parent`, or appended to the
/// sequence at `parent` when `key` is `None`.
#[derive(Debug, Clone)]
pub struct Addition<'a> {
    pub parent: Vec<String>,
    pub key: Option<&'a str>,
    pub value: &'a serde_json::Value,
}

fn resolve<'n>(root: &'n Node, path: &[String]) -> Option<&'n Node> {
    let mut node = root;
    for segment in path {
        node = match &node.value {
            Value::Mapping(_) => node.get(segment)?,
            Value::Sequence(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The first entry's key position of a mapping (1-based line and column), and the entry.
fn first_entry(node: &Node) -> Option<(u32, u32, &Node)> {
    match &node.value {
        Value::Mapping(entries) => entries.first().map(|(_, v)| (v.line, v.col, v)),
        _ => None,
    }
}

/// Applies `additions` to `text`, whose document tree is `root`. `None` when one of them cannot
/// be written in place (flow style, empty collections, block scalars in the way).
pub fn apply(text: &str, root: &Node, additions: &[Addition<'_>]) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    // (line index to insert before, text), in the order given.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    for addition in additions {
        let parent = resolve(root, &addition.parent)?;
        match (addition.key, &parent.value) {
            (Some(key), Value::Mapping(_)) => {
                let (line, col, first_value) = first_entry(parent)?;
                let index = usize::try_from(line).ok()?.checked_sub(1)?;
                let source = lines.get(index)?;
                let indent = usize::try_from(col).ok()?.checked_sub(1)?;
                let before_key = source.get(..indent)?;
                let entry = block_entry(indent, key, addition.value);
                if before_key.trim().is_empty() {
                    if before_key.contains('\t') {
                        return None;
                    }
                    inserts.push((index, entry));
                } else if before_key.trim_end().ends_with('-')
                    && is_plain_scalar_line(first_value, source)
                {
                    // `- name: app`: the new key goes on the next line, at the key's column.
                    inserts.push((index + 1, entry));
                } else {
                    return None;
                }
            }
            (None, Value::Sequence(items)) => {
                let first = items.first()?;
                let index = usize::try_from(first.line).ok()?.checked_sub(1)?;
                let source = lines.get(index)?;
                let dash = source.find("- ")?;
                if !source[..dash].trim().is_empty() {
                    return None;
                }
                inserts.push((index, block_item(dash, addition.value)));
            }
            _ => return None,
        }
    }
    let mut out = String::with_capacity(text.len() + 256);
    for (i, line) in lines.iter().enumerate() {
        for (_, insert) in inserts.iter().filter(|(at, _)| *at == i) {
            out.push_str(insert);
        }
        out.push_str(line);
        if i + 1 == lines.len()
            && !line.ends_with('\n')
            && inserts.iter().any(|(at, _)| *at == i + 1)
        {
            out.push('\n');
        }
    }
    for (_, insert) in inserts.iter().filter(|(at, _)| *at == lines.len()) {
        out.push_str(insert);
    }
    Some(out)
}

/// A scalar value written on its key's line (not a block scalar or a nested collection).
fn is_plain_scalar_line(value: &Node, source: &str) -> bool {
    let scalar = matches!(
        value.value,
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::String(_)
    );
    let trimmed = source.trim_end();
    let block_scalar = trimmed.ends_with('|')
        || trimmed.ends_with('>')
        || trimmed.ends_with("|-")
        || trimmed.ends_with(">-");
    scalar && !block_scalar
}

/// `key: value` at `indent` in block style, the way the rest of a block-style manifest is
/// written: nested mappings and sequences on lines of their own, never JSON-like flow.
fn block_entry(indent: usize, key: &str, value: &serde_json::Value) -> String {
    let pad = " ".repeat(indent);
    let key = yaml_key(key);
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let mut out = format!("{pad}{key}:\n");
            for (k, v) in map {
                out.push_str(&block_entry(indent + 2, k, v));
            }
            out
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            // Items at the key's indentation, as kubectl and most manifests write them.
            let mut out = format!("{pad}{key}:\n");
            for item in items {
                out.push_str(&block_item(indent, item));
            }
            out
        }
        scalar => format!("{pad}{key}: {}\n", yaml_scalar(scalar)),
    }
}

/// `- value` with its dash at column `indent`.
fn block_item(indent: usize, value: &serde_json::Value) -> String {
    let pad = " ".repeat(indent);
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            // The first entry shares the dash's line; the rest line up under it.
            let mut out = String::new();
            for (i, (k, v)) in map.iter().enumerate() {
                let entry = block_entry(indent + 2, k, v);
                if i == 0 {
                    out.push_str(&pad);
                    out.push_str("- ");
                    out.push_str(&entry[indent + 2..]);
                } else {
                    out.push_str(&entry);
                }
            }
            out
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            let mut out = format!("{pad}-\n");
            for item in items {
                out.push_str(&block_item(indent + 2, item));
            }
            out
        }
        scalar => format!("{pad}- {}\n", yaml_scalar(scalar)),
    }
}

/// A scalar (or an empty collection) as YAML: plain where YAML 1.1 and 1.2 both read it back as
/// the same string, double-quoted (JSON's quoting is valid YAML) otherwise.
fn yaml_scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) if plain_string(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Whether a string can be written unquoted without being read as something else: no
/// indicators, and not a word or number that a YAML 1.1 reader (kubectl's) resolves to a bool,
/// null, integer or float.
fn plain_string(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let safe_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
    let special = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ]
    .contains(&s.to_ascii_lowercase().as_str());
    let numeric =
        first.is_ascii_digit() || first == '.' || ((first == '-' || first == '+') && s.len() > 1);
    safe_chars && !special && !numeric && first != '-'
}

/// Keys palisade adds are plain identifiers; quote anything else.
fn yaml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        serde_json::to_string(key).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::documents;
    use serde_json::json;

    fn root(text: &str) -> Node {
        documents(text).next().unwrap().unwrap().root.unwrap()
    }

    #[test]
    fn adds_keys_and_items_keeping_comments() {
        let text = "# a pod\nspec:\n  # the app\n  containers:\n  - name: app # main\n    image: x\n  volumes:\n  - name: v\n    emptyDir: {}\n";
        let sc = json!({"runAsNonRoot": true});
        let ape = json!(false);
        let vol = json!({"name": "tmp", "emptyDir": {}});
        let additions = [
            Addition {
                parent: vec!["spec".into()],
                key: Some("securityContext"),
                value: &sc,
            },
            Addition {
                parent: vec!["spec".into(), "containers".into(), "0".into()],
                key: Some("allowPrivilegeEscalation"),
                value: &ape,
            },
            Addition {
                parent: vec!["spec".into(), "volumes".into()],
                key: None,
                value: &vol,
            },
        ];
        let out = apply(text, &root(text), &additions).unwrap();
        assert_eq!(
            out,
            "# a pod\nspec:\n  # the app\n  securityContext:\n    runAsNonRoot: true\n  containers:\n  - name: app # main\n    allowPrivilegeEscalation: false\n    image: x\n  volumes:\n  - name: tmp\n    emptyDir: {}\n  - name: v\n    emptyDir: {}\n"
        );
        // The result parses to the same tree a JSON patch gives.
        let patched = root(&out).to_json();
        assert_eq!(patched["spec"]["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            patched["spec"]["containers"][0]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(patched["spec"]["volumes"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn refuses_flow_style() {
        let text = "spec: {containers: [{name: a}]}\n";
        let v = json!(true);
        let additions = [Addition {
            parent: vec!["spec".into()],
            key: Some("hostPID"),
            value: &v,
        }];
        assert!(apply(text, &root(text), &additions).is_none());
    }

    #[test]
    fn hardening_11_additions_are_written_in_block_style() {
        let text = "spec:\n  containers:\n  - name: app\n    image: x\n";
        let sc = json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
            "runAsUser": 65532,
        });
        let mounts =
            json!([{"name": "tmp", "mountPath": "/tmp"}, {"name": "yes", "mountPath": "0.5"}]);
        let additions = [
            Addition {
                parent: vec!["spec".into(), "containers".into(), "0".into()],
                key: Some("securityContext"),
                value: &sc,
            },
            Addition {
                parent: vec!["spec".into(), "containers".into(), "0".into()],
                key: Some("volumeMounts"),
                value: &mounts,
            },
        ];
        let out = apply(text, &root(text), &additions).unwrap();
        assert!(!out.contains('{') && !out.contains('['), "{out}");
        assert!(out.contains("\n        drop:\n        - ALL\n"), "{out}");
        assert!(out.contains("type: RuntimeDefault\n"), "{out}");
        // Words and numbers YAML 1.1 would read as other types stay strings.
        assert!(out.contains("name: \"yes\""), "{out}");
        assert!(out.contains("mountPath: \"0.5\""), "{out}");
        let patched = root(&out).to_json();
        assert_eq!(patched["spec"]["containers"][0]["securityContext"], sc);
        assert_eq!(patched["spec"]["containers"][0]["volumeMounts"], mounts);
        assert_eq!(patched["spec"]["containers"][0]["image"], "x");
    }
}
