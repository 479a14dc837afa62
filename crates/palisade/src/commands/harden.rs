//! `palisade harden`: the mutating webhook's hardening, offline.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;

use palisade_core::text_patch::{self, Addition};
use palisade_core::{source, yaml, Object};
use palisade_policy::harden::{apply, harden, PatchOp};
use palisade_policy::Config;

use crate::cli::HardenArgs;
use crate::EXIT_ERROR;

/// One document and the operations that harden it.
struct Hardened {
    root: palisade_core::Node,
    object: Option<Object>,
    ops: Vec<PatchOp>,
}

pub fn run(args: HardenArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => {
            Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration {e}"))?
        }
        None => Config::default(),
    };
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (n, path) in args.files.iter().enumerate() {
        let name: Arc<str> = Arc::from(path.display().to_string());
        let text = match std::fs::read(path)
            .map_err(|e| palisade_core::InputError::file(name.clone(), format!("cannot read: {e}")))
            .and_then(|b| source::decode(&name, b))
        {
            Ok(text) => text,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        let documents = match harden_documents(&name, &text, &config) {
            Ok(documents) => documents,
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
                continue;
            }
        };
        if args.patch {
            for d in documents.iter().filter(|d| !d.ops.is_empty()) {
                let object = d.object.as_ref();
                let line = json!({
                    "file": &*name,
                    "document": object.map(|o| o.source.document),
                    "kind": object.map(|o| o.kind.as_str()),
                    "namespace": object.map(|o| o.metadata.namespace.as_str()),
                    "name": object.map(|o| o.metadata.name.as_str()),
                    "patch": d.ops,
                });
                writeln!(out, "{line}")?;
            }
            continue;
        }
        let rewritten = rewrite(&name, &text, &documents)?;
        if args.in_place {
            if rewritten != text {
                std::fs::write(path, &rewritten)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("hardened {}", path.display());
            }
        } else {
            if n > 0 {
                writeln!(out, "---")?;
            }
            out.write_all(rewritten.as_bytes())?;
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

fn harden_documents(
    name: &Arc<str>,
    text: &str,
    config: &Config,
) -> Result<Vec<Hardened>, palisade_core::InputError> {
    let mut documents = Vec::new();
    for document in yaml::documents(text) {
        let document =
            document.map_err(|e| palisade_core::InputError::from_yaml(name.clone(), e))?;
        let Some(root) = document.root.clone() else {
            continue;
        };
        let objects = Object::from_document(name, document)?;
        // Lists are left as they are: their items have no document of their own to rewrite.
        let object = objects.into_iter().next().filter(|o| o.node == root);
        let ops = match &object {
            Some(o) => harden(&root.to_json(), o.group(), &o.kind, &config.hardening),
            None => Vec::new(),
        };
        documents.push(Hardened { root, object, ops });
    }
    Ok(documents)
}

/// The file with every document hardened: in place where the YAML allows, else re-emitted.
fn rewrite(name: &str, text: &str, documents: &[Hardened]) -> anyhow::Result<String> {
    let mut current = text.to_owned();
    // Later documents first, so earlier line numbers stay valid.
    for d in documents.iter().rev().filter(|d| !d.ops.is_empty()) {
        let values: Vec<(Vec<String>, Option<String>, &serde_json::Value)> = d
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
                let key = (last != "-").then_some(last);
                (segments, key, &op.value)
            })
            .collect();
        let additions: Vec<Addition<'_>> = values
            .iter()
            .map(|(parent, key, value)| Addition {
                parent: parent.clone(),
                key: key.as_deref(),
                value,
            })
            .collect();
        match text_patch::apply(&current, &d.root, &additions) {
            Some(patched) => current = patched,
            None => {
                tracing::warn!(
                    file = name,
                    "cannot keep this file's formatting: writing it re-emitted, without comments"
                );
                return reemit(documents);
            }
        }
    }
    Ok(current)
}

/// Every document, hardened, as plain YAML.
fn reemit(documents: &[Hardened]) -> anyhow::Result<String> {
    let mut out = String::new();
    for d in documents {
        let mut value = d.root.to_json();
        apply(&mut value, &d.ops).map_err(anyhow::Error::msg)?;
        let yaml = to_yaml(&value);
        let mut emitted = String::new();
        yaml_rust2::YamlEmitter::new(&mut emitted)
            .dump(&yaml)
            .context("cannot write YAML")?;
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
