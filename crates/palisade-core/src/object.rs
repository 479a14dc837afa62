//! Kubernetes objects as read from a file: where each came from, and its tree.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::error::InputError;
use crate::node::{Node, Value};
use crate::path::{FieldPath, Segment};
use crate::pod::ObjectMeta;
use crate::yaml::Document;

/// Where an object was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// The path as given (`-` for standard input).
    pub file: Arc<str>,
    /// 1-based document position in the file's YAML stream.
    pub document: usize,
    /// 1-based line of the object's first field.
    pub line: u32,
}

/// One Kubernetes object, with the identifying fields read and the tree kept for the checks.
#[derive(Debug, Clone)]
pub struct Object {
    pub source: SourceRef,
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub node: Node,
}

impl Object {
    /// The objects of one document: the document itself, or the items of a `List` (and of
    /// `*List` kinds such as `DeploymentList`), recursively. An empty document gives none.
    pub fn from_document(file: &Arc<str>, document: Document) -> Result<Vec<Object>, InputError> {
        let Some(root) = document.root else {
            return Ok(Vec::new());
        };
        let mut objects = Vec::new();
        let mut pending = vec![root];
        while let Some(node) = pending.pop() {
            let source = SourceRef {
                file: file.clone(),
                document: document.index,
                line: node.line,
            };
            let mut object = Object::from_node(source, node)?;
            if object.is_list() {
                // The items are moved out, not copied: a List of 300,000 pods is most of its file.
                let items_line = object
                    .node
                    .get("items")
                    .map_or(object.node.line, |n| n.line);
                let taken = match &mut object.node.value {
                    Value::Mapping(entries) => entries
                        .iter_mut()
                        .find(|(k, _)| k == "items")
                        .map(|(_, v)| std::mem::replace(&mut v.value, Value::Null)),
                    _ => None,
                };
                let items = match taken {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Sequence(items)) => items,
                    Some(other) => {
                        return Err(object.error_at(
                            items_line,
                            format!(
                                "{}.items must be a list, not a {}",
                                object.kind,
                                other.type_name()
                            ),
                        ))
                    }
                };
                // Reverse so that popping keeps the items in file order.
                pending.extend(items.into_iter().rev());
            } else {
                objects.push(object);
            }
        }
        Ok(objects)
    }

    /// An object from a parsed tree (a document, or a list item).
    pub fn from_node(source: SourceRef, node: Node) -> Result<Object, InputError> {
        let error = |line: u32, message: String| InputError::at(source.file.clone(), line, message);
        if !node.is_mapping() {
            return Err(error(
                node.line,
                format!("document {} is a {}, not a Kubernetes object (a mapping with apiVersion and kind)", source.document, node.type_name()),
            ));
        }
        let text_field = |name: &str| -> Result<String, InputError> {
            match node.get(name) {
                Some(Node {
                    value: Value::String(s),
                    ..
                }) if !s.is_empty() => Ok(s.clone()),
                Some(Node {
                    value: Value::String(_) | Value::Null,
                    line,
                    ..
                }) => Err(error(*line, format!("object has an empty {name}"))),
                Some(other) => Err(error(
                    other.line,
                    format!("{name} must be a string, not a {}", other.type_name()),
                )),
                None => Err(error(
                    node.line,
                    format!("object has no {name}: not a Kubernetes object"),
                )),
            }
        };
        let kind = text_field("kind")?;
        let api_version = text_field("apiVersion")?;
        let metadata = match node.get("metadata") {
            None => ObjectMeta::default(),
            Some(meta) => typed_at(
                &source.file,
                meta,
                &FieldPath::root().field("metadata"),
                &node,
            )?,
        };
        Ok(Object {
            source,
            api_version,
            kind,
            metadata,
            node,
        })
    }

    pub fn is_list(&self) -> bool {
        self.kind == "List" || (self.kind.ends_with("List") && self.node.get("items").is_some())
    }

    /// The API group of `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("")
    }

    pub fn error_at(&self, line: u32, message: impl Into<String>) -> InputError {
        InputError::at(self.source.file.clone(), line, message.into())
    }

    /// Deserializes the node at `path` into `T`, reporting a type error at the offending field's line.
    pub fn typed<T: DeserializeOwned>(&self, path: &FieldPath) -> Result<Option<T>, InputError> {
        match self.node.at(path) {
            None => Ok(None),
            Some(node) if node.is_null() => Ok(None),
            Some(node) => typed_at(&self.source.file, node, path, &self.node).map(Some),
        }
    }

    /// A short `Kind namespace/name` for messages.
    pub fn display_name(&self) -> String {
        match (
            self.metadata.namespace.as_str(),
            self.metadata.name.as_str(),
        ) {
            ("", "") => self.kind.clone(),
            ("", name) => format!("{} {name}", self.kind),
            (ns, name) => format!("{} {ns}/{name}", self.kind),
        }
    }
}

/// Deserializes `node` (found at `path` under `root`) into `T`; a failure names the field and line.
pub fn typed_at<T: DeserializeOwned>(
    file: &Arc<str>,
    node: &Node,
    path: &FieldPath,
    root: &Node,
) -> Result<T, InputError> {
    // The happy path without path tracking; on failure, read again to name the field.
    if let Ok(value) = T::deserialize(node) {
        return Ok(value);
    }
    serde_path_to_error::deserialize(node).map_err(|err| {
        let mut field = path.clone();
        for segment in err.path().iter() {
            field = match segment {
                serde_path_to_error::Segment::Seq { index } => field.index(*index),
                serde_path_to_error::Segment::Map { key } => field.field(key),
                serde_path_to_error::Segment::Enum { variant } => field.field(variant),
                serde_path_to_error::Segment::Unknown => field,
            };
        }
        let line = root.line_of(&field);
        let inner = err.into_inner();
        InputError::at(file.clone(), line, format!("{field}: {inner}"))
    })
}

impl Segment {
    pub fn name(&self) -> Option<&str> {
        match self {
            Segment::Field(n) | Segment::Key(n) => Some(n),
            Segment::Index(_) => None,
        }
    }
}
