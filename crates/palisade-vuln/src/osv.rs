//! OSV records (https://ossf.github.io/osv-schema/), read from JSON or YAML with errors that name
//! the file and line.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use palisade_core::object::typed_at;
use palisade_core::path::FieldPath;
use palisade_core::{yaml, InputError};

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub severity: Vec<Severity>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub modified: Option<String>,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Option<DatabaseSpecific>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub url: String,
}

/// The one database-specific field palisade reads: a severity the database declares itself
/// (GitHub's `MODERATE`, ...), used when no CVSS vector is given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DatabaseSpecific {
    #[serde(default)]
    pub severity: Option<palisade_core::node::Node>,
}

impl Record {
    /// The severity the database declares, where it is text.
    pub fn declared_severity(&self) -> Option<&str> {
        self.database_specific
            .as_ref()
            .and_then(|d| d.severity.as_ref())
            .and_then(|n| n.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Severity {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Affected {
    pub package: Option<Package>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    #[serde(default)]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One range event; exactly one field is set.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
pub struct Event {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
    pub limit: Option<String>,
}

impl Record {
    /// Parses one OSV record from JSON or YAML text; `file` names it in errors.
    pub fn parse(file: &Arc<str>, text: &str) -> Result<Record, InputError> {
        let root = yaml::single_document(text)
            .map_err(|e| InputError::from_yaml(file.clone(), e))?
            .ok_or_else(|| InputError::file(file.clone(), "empty OSV record".into()))?;
        let record: Record = typed_at(file, &root, &FieldPath::root(), &root)?;
        if record.id.is_empty() {
            return Err(InputError::at(
                file.clone(),
                root.line,
                "OSV record has an empty id".into(),
            ));
        }
        for (i, affected) in record.affected.iter().enumerate() {
            for (j, range) in affected.ranges.iter().enumerate() {
                for (k, event) in range.events.iter().enumerate() {
                    let set = [
                        &event.introduced,
                        &event.fixed,
                        &event.last_affected,
                        &event.limit,
                    ]
                    .iter()
                    .filter(|e| e.is_some())
                    .count();
                    if set != 1 {
                        let path = FieldPath::root()
                            .field("affected")
                            .index(i)
                            .field("ranges")
                            .index(j)
                            .field("events")
                            .index(k);
                        return Err(InputError::at(file.clone(), root.line_of(&path), format!("{path}: an event sets exactly one of introduced, fixed, last_affected, limit")));
                    }
                }
            }
        }
        Ok(record)
    }
}
