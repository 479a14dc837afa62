//! A YAML/JSON document tree that remembers where every node came from.
//!
//! Kubernetes tooling reads manifests through `sigs.k8s.io/yaml` (YAML 1.1 scalars, duplicate keys
//! rejected). We keep line numbers on every node so a finding can point at the field that caused it,
//! not just at the document.

use std::fmt;

use crate::path::{FieldPath, Segment};

/// One node of a parsed document, with its 1-based source line and column.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub line: u32,
    pub col: u32,
    pub value: Value,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Sequence(Vec<Node>),
    /// Entries in source order; keys are unique (the loader rejects duplicates).
    Mapping(Vec<(String, Node)>),
}

impl Node {
    pub fn new(line: u32, col: u32, value: Value) -> Self {
        Self { line, col, value }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Mapping(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_mapping(&self) -> bool {
        matches!(self.value, Value::Mapping(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The node at `path`, if every segment exists.
    pub fn at(&self, path: &FieldPath) -> Option<&Node> {
        let mut node = self;
        for segment in path.segments() {
            node = node.child(segment)?;
        }
        Some(node)
    }

    /// The line of the deepest node along `path` that exists: a missing field is reported at
    /// the object that should have had it.
    pub fn line_of(&self, path: &FieldPath) -> u32 {
        let mut node = self;
        for segment in path.segments() {
            match node.child(segment) {
                Some(next) => node = next,
                None => break,
            }
        }
        node.line
    }

    fn child(&self, segment: &Segment) -> Option<&Node> {
        match (segment, &self.value) {
            (Segment::Field(name) | Segment::Key(name), Value::Mapping(_)) => self.get(name),
            (Segment::Index(i), Value::Sequence(items)) => items.get(*i),
            _ => None,
        }
    }

    /// A tree from JSON (an admission request's object); every node is at line 0, "no source".
    pub fn from_json(value: &serde_json::Value) -> Node {
        let value = match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::Sequence(items.iter().map(Node::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Mapping(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        };
        Node::new(0, 0, value)
    }

    /// Converts to a JSON value, the form the typed Kubernetes structs deserialize from.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Sequence(items) => {
                serde_json::Value::Array(items.iter().map(Node::to_json).collect())
            }
            Value::Mapping(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short name for the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        self.value.type_name()
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Sequence(_) => "sequence",
            Value::Mapping(_) => "mapping",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}
