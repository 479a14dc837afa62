//! Hardening manifests as text: the patch of every document written into the YAML in place, so
//! comments, key order and formatting stay; where that cannot be done (flow style), the file is
//! re-emitted. Pure: text in, text out. `palisade harden` is its front end.

use std::sync::Arc;

use palisade_core::report::ObjectReport;
use palisade_core::text_patch::{self, Addition};
use palisade_core::{yaml, InputError, Node, Object};

use crate::audit::{Auditor, StreamAudit};
use crate::config::{Config, HardeningConfig};
use crate::harden::{apply, harden, patch_between, PatchOp};

/// One document of a file and the operations that harden it.
#[derive(Debug)]
pub struct HardenedDocument {
    pub root: Node,
    /// The object, when the document is one (lists are left as they are: their items have no
    /// document of their own to rewrite).
    pub object: Option<Object>,
    pub ops: Vec<PatchOp>,
}

/// A hardened file.
#[derive(Debug)]
pub struct HardenedFile {
    pub documents: Vec<HardenedDocument>,
    /// The file's new text.
    pub text: String,
    /// True when the file had to be re-emitted, losing its comments.
    pub reemitted: bool,
}

/// Hardens every document of `text` (named `file` in errors).
pub fn harden_file(
    file: &Arc<str>,
    text: &str,
    config: &HardeningConfig,
) -> Result<HardenedFile, InputError> {
    let mut documents = Vec::new();
    for document in yaml::documents(text) {
        let document = document.map_err(|e| InputError::from_yaml(file.clone(), e))?;
        let Some(root) = document.root.clone() else {
            continue;
        };
        let object = Object::from_document(file, document)?
            .into_iter()
            .next()
            .filter(|o| o.node == root);
        let ops = match &object {
            Some(o) => harden(&root.to_json(), o.group(), &o.kind, config),
            None => Vec::new(),
        };
        documents.push(HardenedDocument { root, object, ops });
    }
    let (text, reemitted) = match rewrite_in_place(text, &documents) {
        Some(text) => (text, false),
        None => (
            reemit(&documents).map_err(|e| InputError::file(file.clone(), e))?,
            true,
        ),
    };
    Ok(HardenedFile {
        documents,
        text,
        reemitted,
    })
}

/// What hardening leaves for a person: the objects of the hardened text that still fail the
/// policy `config` sets (its default level and version, its rules), with their findings.
/// Hardening only sets fields that are unset and never overrides a value the manifest chose
/// (`privileged: true`, `hostNetwork`, a root UID), so each of these needs a decision.
pub fn remaining(config: &Config, file: &Arc<str>, hardened: &str) -> Vec<ObjectReport> {
    let auditor = Auditor::new(config, config.default_level_version());
    let StreamAudit { reports, .. } = auditor.audit_stream(file, hardened);
    reports
        .into_iter()
        .filter(|r| !r.findings.is_empty())
        .collect()
}

/// `None` when one document's changes cannot be written into its text.
fn rewrite_in_place(text: &str, documents: &[HardenedDocument]) -> Option<String> {
    let mut current = text.to_owned();
    // Later documents first, so earlier line numbers stay valid.
    for d in documents.iter().rev().filter(|d| !d.ops.is_empty()) {
        let targets: Vec<(Vec<String>, Option<String>)> = d
            .ops
            .iter()
            .map(|op| {
                let mut segments: Vec<String> = op
                    .path
                    .split('/')
                    .skip(1)
                    .map(|s| s.replace("~1", "/").replace("~0", "~"))
                    .collect();
                let last = segments.pop().unwrap_or_default();
                (segments, (last != "-").then_some(last))
            })
            .collect();
        let additions: Vec<Addition<'_>> = targets
            .iter()
            .zip(&d.ops)
            .map(|((parent, key), op)| Addition {
                parent: parent.clone(),
                key: key.as_deref(),
                value: &op.value,
            })
            .collect();
        current = text_patch::apply(&current, &d.root, &additions)?;
    }
    Some(current)
}

/// Every document, hardened, as plain YAML.
fn reemit(documents: &[HardenedDocument]) -> Result<String, String> {
    let mut values = Vec::new();
    for d in documents {
        let mut value = d.root.to_json();
        apply(&mut value, &d.ops)?;
        values.push(value);
    }
    emit(&values)
}

/// Documents as plain YAML, one after another.
fn emit(values: &[serde_json::Value]) -> Result<String, String> {
    let mut out = String::new();
    for value in values {
        let mut emitted = String::new();
        yaml_rust2::YamlEmitter::new(&mut emitted)
            .dump(&to_yaml(value))
            .map_err(|e| format!("cannot write YAML: {e}"))?;
        out.push_str(&emitted);
        out.push('\n');
    }
    Ok(out)
}

fn to_yaml(value: &serde_json::Value) -> yaml_rust2::Yaml {
    use yaml_rust2::Yaml;
    match value {
        serde_json::Value::Null => Yaml::Null,
        serde_json::Value::Bool(b) => Yaml::Boolean(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        serde_json::Value::String(s) => Yaml::String(s.clone()),
        serde_json::Value::Array(items) => Yaml::Array(items.iter().map(to_yaml).collect()),
        serde_json::Value::Object(map) => Yaml::Hash(
            map.iter()
                .map(|(k, v)| (Yaml::String(k.clone()), to_yaml(v)))
                .collect(),
        ),
    }
}

/// One document of a file and the value it should have: the tree as read, and the JSON it must
/// become (a value that only adds keys and list items to it, or changes its scalars).
#[derive(Debug)]
pub struct WantedDocument<'a> {
    pub root: &'a Node,
    pub wanted: &'a serde_json::Value,
}

/// A file rewritten to the wanted values.
#[derive(Debug)]
pub struct Rewritten {
    pub text: String,
    /// The JSON Patch of each document, in the order given.
    pub ops: Vec<Vec<PatchOp>>,
    /// True when the text could not be edited in place and was re-emitted without comments.
    pub reemitted: bool,
}

/// Rewrites `text` (whose documents are `documents`, every one of the file's documents in order)
/// so that each document reads as its wanted value, editing the text in place as [`harden_file`]
/// does: new keys and items are written in block style at the right indentation, and changed
/// scalars (`runAsUser: 0`, `allowPrivilegeEscalation: true`, `type: Unconfined`) are replaced
/// where they stand, keeping comments, key order and formatting. An empty flow collection that
/// gains entries (`capabilities: {}`) is rewritten in flow style where it stands. Every edit is
/// checked by reading the result back; when it does not read as wanted (or cannot be made: flow
/// style, multi-line scalars), the file is re-emitted instead.
pub fn rewrite(
    file: &Arc<str>,
    text: &str,
    documents: &[WantedDocument<'_>],
) -> Result<Rewritten, InputError> {
    let ops: Vec<Vec<PatchOp>> = documents
        .iter()
        .map(|d| patch_between(&d.root.to_json(), d.wanted))
        .collect();
    let edited = edit_in_place(text, documents, &ops).filter(|edited| reads_as(edited, documents));
    let (text, reemitted) = match edited {
        Some(edited) => (edited, false),
        None if ops.iter().all(Vec::is_empty) => (text.to_owned(), false),
        None => {
            let values: Vec<serde_json::Value> =
                documents.iter().map(|d| d.wanted.clone()).collect();
            (
                emit(&values).map_err(|e| InputError::file(file.clone(), e))?,
                true,
            )
        }
    };
    Ok(Rewritten {
        text,
        ops,
        reemitted,
    })
}

/// Whether `text` reads back as the wanted documents. Items appended to a list are written
/// before its first item (as [`harden_file`] writes them), so lists compare as sets of items.
fn reads_as(text: &str, documents: &[WantedDocument<'_>]) -> bool {
    let mut read = Vec::new();
    for document in yaml::documents(text) {
        match document {
            Ok(document) => {
                if let Some(root) = document.root {
                    read.push(root.to_json());
                }
            }
            Err(_) => return false,
        }
    }
    read.len() == documents.len()
        && read
            .iter()
            .zip(documents)
            .all(|(got, d)| same_ignoring_list_order(got, d.wanted))
}

fn same_ignoring_list_order(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_ignoring_list_order(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            let mut unmatched: Vec<&Value> = y.iter().collect();
            x.len() == y.len()
                && x.iter().all(|v| {
                    match unmatched
                        .iter()
                        .position(|w| same_ignoring_list_order(v, w))
                    {
                        Some(i) => {
                            unmatched.remove(i);
                            true
                        }
                        None => false,
                    }
                })
        }
        _ => a == b,
    }
}

/// One replacement: the value written at `line` from character column `col` (both 1-based) by
/// `value`.
struct Replacement<'a> {
    line: u32,
    col: u32,
    value: &'a serde_json::Value,
}

fn edit_in_place(
    text: &str,
    documents: &[WantedDocument<'_>],
    ops: &[Vec<PatchOp>],
) -> Option<String> {
    let mut current = text.to_owned();
    // Later documents first, so earlier line numbers stay valid.
    for (d, ops) in documents.iter().zip(ops).rev() {
        if ops.is_empty() {
            continue;
        }
        let mut replacements: Vec<Replacement<'_>> = Vec::new();
        let mut replaced: Vec<String> = Vec::new();
        let mut additions: Vec<(Vec<String>, Option<String>, &serde_json::Value)> = Vec::new();
        for op in ops {
            let mut segments = pointer_segments(&op.path);
            let last = segments.pop().unwrap_or_default();
            if replaced
                .iter()
                .any(|r| op.path == *r || op.path.starts_with(&format!("{r}/")))
            {
                continue;
            }
            let parent = resolve(d.root, &segments)?;
            if is_empty_collection(parent) {
                // `capabilities: {}` gaining `drop`: the whole collection is rewritten.
                let pointer = op.path[..op.path.len() - last.len() - 1].to_owned();
                let value = d.wanted.pointer(&pointer)?;
                replacements.push(Replacement {
                    line: parent.line,
                    col: parent.col,
                    value,
                });
                replaced.push(pointer);
                continue;
            }
            let existing = if last == "-" {
                None
            } else {
                child(parent, &last)
            };
            match (op.op, existing) {
                ("replace", Some(node)) if is_scalar(node) || is_empty_collection(node) => {
                    replacements.push(Replacement {
                        line: node.line,
                        col: node.col,
                        value: &op.value,
                    });
                    replaced.push(op.path.clone());
                }
                ("add", None) => {
                    additions.push((segments, (last != "-").then_some(last), &op.value))
                }
                _ => return None,
            }
        }
        current = replace_values(&current, &replacements)?;
        let additions: Vec<Addition<'_>> = additions
            .iter()
            .map(|(parent, key, value)| Addition {
                parent: parent.clone(),
                key: key.as_deref(),
                value,
            })
            .collect();
        if !additions.is_empty() {
            current = text_patch::apply(&current, d.root, &additions)?;
        }
    }
    Some(current)
}

fn pointer_segments(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn resolve<'n>(root: &'n Node, path: &[String]) -> Option<&'n Node> {
    path.iter()
        .try_fold(root, |node, segment| child(node, segment))
}

fn child<'n>(node: &'n Node, segment: &str) -> Option<&'n Node> {
    use palisade_core::node::Value;
    match &node.value {
        Value::Mapping(_) => node.get(segment),
        Value::Sequence(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    }
}

fn is_scalar(node: &Node) -> bool {
    use palisade_core::node::Value;
    !matches!(node.value, Value::Mapping(_) | Value::Sequence(_))
}

fn is_empty_collection(node: &Node) -> bool {
    use palisade_core::node::Value;
    match &node.value {
        Value::Mapping(entries) => entries.is_empty(),
        Value::Sequence(items) => items.is_empty(),
        _ => false,
    }
}

/// Writes each replacement over the value it replaces. A value must sit on one line: a plain or
/// quoted scalar, or an empty flow collection (`{}`, `[]`); `None` otherwise.
fn replace_values(text: &str, replacements: &[Replacement<'_>]) -> Option<String> {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    // Right to left within a line, so earlier columns stay valid.
    let mut order: Vec<&Replacement<'_>> = replacements.iter().collect();
    order.sort_by_key(|r| std::cmp::Reverse((r.line, r.col)));
    for r in order {
        let line = lines.get_mut(usize::try_from(r.line).ok()?.checked_sub(1)?)?;
        let at = line
            .char_indices()
            .nth(usize::try_from(r.col).ok()?.checked_sub(1)?)
            .map(|(i, _)| i)?;
        // A mapping's value is placed at its key: the value starts after `key:`.
        let start = at + after_key(&line[at..]).unwrap_or(0);
        let len = token_len(&line[start..])?;
        let written = flow(r.value);
        line.replace_range(start..start + len, &written);
    }
    Some(lines.concat())
}

/// Where the value starts in `rest` when `rest` starts with a mapping key (`key: value`,
/// `"key": value`): the byte offset after the colon and the blanks that follow it.
fn after_key(rest: &str) -> Option<usize> {
    let key_len = match rest.chars().next()? {
        '"' | '\'' => token_len(rest)?,
        _ => rest.find(':')?,
    };
    let after = rest.get(key_len..)?.strip_prefix(':')?;
    if !(after.is_empty() || after.starts_with([' ', '\t', '\n', '\r'])) {
        return None;
    }
    let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
    Some(key_len + 1 + blanks)
}

/// The length in bytes of the one-line value at the start of `rest`.
fn token_len(rest: &str) -> Option<usize> {
    let body = rest.trim_end_matches(['\n', '\r']);
    match body.chars().next()? {
        '"' => {
            let mut escaped = false;
            for (i, c) in body.char_indices().skip(1) {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => return Some(i + 1),
                    _ => escaped = false,
                }
            }
            None
        }
        '\'' => {
            let mut chars = body.char_indices().skip(1).peekable();
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().map(|(_, c)| *c) == Some('\'') {
                        chars.next();
                        continue;
                    }
                    return Some(i + 1);
                }
            }
            None
        }
        open @ ('{' | '[') => {
            let close = if open == '{' { '}' } else { ']' };
            let end = body.find(close)?;
            body[1..end].trim().is_empty().then_some(end + 1)
        }
        '|' | '>' | '&' | '*' | '!' => None,
        _ => {
            let end = body.find(" #").unwrap_or(body.len());
            let token = body[..end].trim_end();
            (!token.is_empty()).then_some(token.len())
        }
    }
}

/// A value in YAML flow style, for writing where a one-line value stood: scalars plain where
/// kubectl reads them back as the same value, JSON-quoted otherwise.
fn flow(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", flow(&Value::String(k.clone())), flow(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(flow).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) if plain_word(s) => s.clone(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// A string YAML 1.1 and 1.2 both read back, unquoted, as the same string.
fn plain_word(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let reserved = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
    ]
    .contains(&s.to_ascii_lowercase().as_str());
    first.is_ascii_alphabetic()
        && !reserved
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rewrite_one(text: &str, edit: impl Fn(&mut serde_json::Value)) -> Rewritten {
        let root = yaml::documents(text).next().unwrap().unwrap().root.unwrap();
        let mut wanted = root.to_json();
        edit(&mut wanted);
        let file: Arc<str> = Arc::from("t.yaml");
        rewrite(
            &file,
            text,
            &[WantedDocument {
                root: &root,
                wanted: &wanted,
            }],
        )
        .unwrap()
    }

    #[test]
    fn replaces_values_in_place_keeping_comments() {
        let text = "spec:\n  securityContext:\n    runAsUser: 0 # root, from the notebook\n    seccompProfile:\n      type: 'Unconfined'\n  containers:\n  - name: app\n    securityContext:\n      allowPrivilegeEscalation: \"true\"\n      capabilities: {}\n      runAsNonRoot: no\n";
        let out = rewrite_one(text, |v| {
            let sc = &mut v["spec"]["securityContext"];
            sc["runAsUser"] = json!(10001);
            sc["seccompProfile"]["type"] = json!("RuntimeDefault");
            let c = &mut v["spec"]["containers"][0]["securityContext"];
            c["allowPrivilegeEscalation"] = json!(false);
            c["capabilities"] = json!({"drop": ["ALL"]});
            c["runAsNonRoot"] = json!(true);
            v["spec"]["securityContext"]["fsGroup"] = json!(10001);
        });
        assert!(!out.reemitted, "{}", out.text);
        assert_eq!(
            out.text,
            "spec:\n  securityContext:\n    fsGroup: 10001\n    runAsUser: 10001 # root, from the notebook\n    seccompProfile:\n      type: RuntimeDefault\n  containers:\n  - name: app\n    securityContext:\n      allowPrivilegeEscalation: false\n      capabilities: {drop: [ALL]}\n      runAsNonRoot: true\n"
        );
        let ops: Vec<&str> = out.ops[0].iter().map(|o| o.op).collect();
        assert_eq!(
            ops,
            ["replace", "replace", "add", "replace", "add", "replace"]
        );
    }

    #[test]
    fn appends_to_lists_and_falls_back_to_reemitting() {
        let text = "spec:\n  containers:\n  - name: app\n    securityContext:\n      capabilities:\n        drop:\n        - NET_RAW\n";
        let out = rewrite_one(text, |v| {
            v["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"]
                .as_array_mut()
                .unwrap()
                .push(json!("ALL"));
        });
        assert!(!out.reemitted);
        assert!(
            out.text.contains("        - ALL\n        - NET_RAW\n"),
            "{}",
            out.text
        );
        // A multi-line scalar cannot be replaced where it stands.
        let text = "spec:\n  user: |\n    0\n";
        let out = rewrite_one(text, |v| v["spec"]["user"] = json!(5));
        assert!(out.reemitted);
        assert_eq!(out.text, "---\nspec:\n  user: 5\n");
        // Nothing wanted, nothing changed.
        let out = rewrite_one(text, |_| {});
        assert_eq!(out.text, text);
    }
}
