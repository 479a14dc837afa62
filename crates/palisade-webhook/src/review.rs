//! The AdmissionReview `admission.k8s.io/v1` wire format, and turning decisions into responses.

use std::collections::BTreeMap;

use base64::Engine as _;
use palisade_core::Node;
use serde::{Deserialize, Serialize};

use palisade_policy::admission::{parse_object, Decision, ParsedObject, Request};

pub const API_VERSION: &str = "admission.k8s.io/v1";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionReview {
    pub api_version: String,
    pub kind: String,
    pub request: Option<AdmissionRequest>,
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct GroupVersionResource {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub resource: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct UserInfo {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionRequest {
    pub uid: String,
    #[serde(default)]
    pub kind: GroupVersionKind,
    #[serde(default)]
    pub resource: GroupVersionResource,
    #[serde(default)]
    pub sub_resource: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub operation: String,
    #[serde(default)]
    pub user_info: UserInfo,
    /// Read straight into palisade's tree: one pass, no intermediate JSON value.
    #[serde(default)]
    pub object: Option<Node>,
    #[serde(default)]
    pub old_object: Option<Node>,
    #[serde(default)]
    pub dry_run: Option<bool>,
}

impl AdmissionRequest {
    /// Takes the object out of the request and reads it, once, without copying the tree.
    pub fn take_object(&mut self) -> Option<ParsedObject> {
        let (namespace, name) = (
            self.namespace.clone().unwrap_or_default(),
            self.name.clone().unwrap_or_default(),
        );
        self.object
            .take()
            .map(|node| parse_object(node, &namespace, &name))
    }

    /// The view of this request the policy engine takes. A request without a name (generateName)
    /// is named by its object's metadata, as the API server names it in messages.
    pub fn as_policy_request<'a>(&'a self, object: Option<&'a ParsedObject>) -> Request<'a> {
        let name = self
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or_else(|| {
                object
                    .and_then(|o| o.as_ref().ok())
                    .map(|o| o.metadata.name.as_str())
            })
            .unwrap_or("");
        Request {
            operation: &self.operation,
            group: &self.kind.group,
            kind: &self.kind.kind,
            resource: &self.resource.resource,
            resource_group: &self.resource.group,
            sub_resource: self.sub_resource.as_deref().unwrap_or(""),
            name,
            namespace: self.namespace.as_deref().unwrap_or(""),
            username: &self.user_info.username,
            groups: &self.user_info.groups,
            object,
            old_object: self.old_object.as_ref(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewResponse {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub response: AdmissionResponse,
}

#[derive(Debug, Serialize)]
pub struct StatusDetails {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// `metav1.Status`, as the API server forwards it to the client.
#[derive(Debug, Serialize)]
pub struct Status {
    pub metadata: BTreeMap<String, String>,
    pub status: &'static str,
    pub message: String,
    pub reason: &'static str,
    pub details: StatusDetails,
    pub code: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub audit_annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
}

/// The AdmissionReview answering `request` with `decision`.
pub fn respond(request: &AdmissionRequest, name: &str, decision: Decision) -> ReviewResponse {
    let status = decision.denial.as_ref().map(|denial| Status {
        metadata: BTreeMap::new(),
        status: "Failure",
        message: denial.message.clone(),
        reason: denial.reason,
        details: StatusDetails {
            name: name.to_owned(),
            group: request.resource.group.clone(),
            kind: request.resource.resource.clone(),
        },
        code: denial.code,
    });
    let patch = (!decision.patch.is_empty()).then(|| {
        let json = serde_json::to_vec(&decision.patch).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    });
    ReviewResponse {
        api_version: API_VERSION,
        kind: "AdmissionReview",
        response: AdmissionResponse {
            uid: request.uid.clone(),
            allowed: decision.denial.is_none(),
            status,
            warnings: decision.warnings,
            audit_annotations: decision.audit_annotations,
            patch_type: patch.as_ref().map(|_| "JSONPatch"),
            patch,
        },
    }
}
