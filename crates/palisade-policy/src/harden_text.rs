//! Hardening manifests as text: the patch of every document written into the YAML in place, so
//! comments, key order and formatting stay; where that cannot be done (flow style), the file is
//! re-emitted. Pure: text in, text out. `palisade harden` is its front end.

use std::sync::Arc;

use palisade_core::report::ObjectReport;
use palisade_core::text_patch::{self, Addition};
use palisade_core::{yaml, InputError, Node, Object};

use crate::audit::{Auditor, StreamAudit};
use crate::config::{Config, HardeningConfig};
use crate::harden::{apply, harden, PatchOp};

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
    let mut out = String::new();
    for d in documents {
        let mut value = d.root.to_json();
        apply(&mut value, &d.ops)?;
        let mut emitted = String::new();
        yaml_rust2::YamlEmitter::new(&mut emitted)
            .dump(&to_yaml(&value))
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
