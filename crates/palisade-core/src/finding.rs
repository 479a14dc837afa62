//! Findings: diagnostics with a stable rule ID, a severity, the object, the field and a fix hint.

use std::sync::Arc;

use serde::Serialize;

/// How bad a finding is: palisade's one scale (`palisade-diagnostics`), ordered so that
/// `--fail-on high` can compare. Pod Security checks and the ML-serving rules use `low` to
/// `critical`.
pub use palisade_diagnostics::Severity;

/// The object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub file: Arc<str>,
    /// Line of the object's first field.
    #[serde(rename = "objectLine")]
    pub line: u32,
    pub document: usize,
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn from_object(object: &crate::Object) -> Self {
        Self {
            file: object.source.file.clone(),
            line: object.source.line,
            document: object.source.document,
            api_version: object.api_version.clone(),
            kind: object.kind.clone(),
            namespace: object.metadata.namespace.clone(),
            name: object.metadata.name.clone(),
        }
    }

    pub fn display_name(&self) -> String {
        match (self.namespace.as_str(), self.name.as_str()) {
            (_, "") => self.kind.clone(),
            ("", name) => format!("{} {name}", self.kind),
            (ns, name) => format!("{} {ns}/{name}", self.kind),
        }
    }
}

/// One violation at one place. The JSON form is palisade's stable output schema (see
/// `docs/output.md`): fields are only ever added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable rule identifier, e.g. `pss/runAsNonRoot`.
    pub rule_id: String,
    /// The upstream check ID, e.g. `runAsNonRoot`.
    pub check: String,
    pub severity: Severity,
    #[serde(flatten)]
    pub object: ObjectRef,
    /// Line of the offending field (or of the nearest enclosing field that exists).
    pub line: u32,
    /// For objects with several pod specs (KServe components): which one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The container the finding is about, where one applies.
    pub container: Option<String>,
    /// Path of the offending field in the object, in Kubernetes notation.
    pub field: String,
    /// Policy level and version the object was evaluated at.
    pub level: String,
    pub version: String,
    /// Upstream's reason for this check (`allowPrivilegeEscalation != false`).
    pub reason: String,
    /// Upstream's detail for this check.
    pub detail: String,
    /// The object's whole PodSecurity message, as the API server would word it.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl Finding {
    /// The finding in the shape every report shares. The fingerprint leaves the line out so that
    /// an alert survives edits above it; the message names the object, as a SARIF viewer shows
    /// no object of its own.
    pub fn diagnostic(&self) -> palisade_diagnostics::Diagnostic {
        let object = &self.object;
        let namespace = if object.namespace.is_empty() {
            "-"
        } else {
            &object.namespace
        };
        let place = format!("{}/{namespace}/{}/{}", object.kind, object.name, self.field);
        palisade_diagnostics::Diagnostic::new(
            self.rule_id.clone(),
            self.severity,
            format!(
                "{}: {} ({}). Fix: {}",
                object.display_name(),
                self.reason,
                self.detail,
                self.hint
            ),
        )
        .with_fix(self.hint.clone())
        .at(palisade_diagnostics::Location::file(object.file.as_ref())
            .line(self.line)
            .fully_qualified(place, "object"))
        .with_fingerprint(
            "palisadeFinding/v1",
            palisade_diagnostics::sarif::fingerprint(&[
                &self.rule_id,
                &object.kind,
                &object.namespace,
                &object.name,
                &self.field,
            ]),
        )
        .with_property("policy", format!("{}:{}", self.level, self.version))
        .with_property("podSecurityMessage", self.message.clone())
    }
}
