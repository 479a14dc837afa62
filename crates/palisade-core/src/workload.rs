//! Finding the pod specs inside workload objects.
//!
//! Upstream Pod Security Admission evaluates the pod template of every built-in workload kind; we
//! do the same, plus KServe `InferenceService`, whose predictor, transformer and explainer each
//! become a Deployment (or Knative Service) with a pod spec made from the component.

use crate::error::InputError;
use crate::object::Object;
use crate::path::FieldPath;
use crate::pod::{Container, ContainerKind, ObjectMeta, PodSpec};

/// The container name KServe gives the model-server container it builds from a framework spec.
pub const KSERVE_CONTAINER_NAME: &str = "kserve-container";

/// KServe predictor framework fields; each inlines a `core/v1.Container`.
const KSERVE_PREDICTOR_FRAMEWORKS: &[&str] = &[
    "model",
    "sklearn",
    "xgboost",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "lightgbm",
    "paddle",
];
/// KServe explainer framework fields.
const KSERVE_EXPLAINER_FRAMEWORKS: &[&str] = &["art"];

/// A pod spec found in an object, with the metadata that applies to its pods.
#[derive(Debug, Clone)]
pub struct PodTemplate {
    /// For objects with several pod specs (KServe components): which one, e.g. `predictor`.
    pub component: Option<&'static str>,
    /// Where the pod metadata lives in the object (`spec.template.metadata`).
    pub metadata_path: FieldPath,
    /// Where the pod spec lives in the object (`spec.template.spec`).
    pub spec_path: FieldPath,
    pub metadata: ObjectMeta,
    /// As written, before API server defaults.
    pub spec: PodSpec,
    /// The object is a Pod (not a template), which the API server defaults a little further.
    pub is_pod: bool,
    /// Where each of `spec.containers` is written, when not at `spec_path.containers[i]`
    /// (KServe framework containers).
    pub container_paths: Vec<FieldPath>,
}

impl PodTemplate {
    fn new(
        component: Option<&'static str>,
        metadata_path: FieldPath,
        spec_path: FieldPath,
        metadata: ObjectMeta,
        spec: PodSpec,
    ) -> Self {
        let container_paths = (0..spec.containers.len())
            .map(|i| spec_path.clone().field("containers").index(i))
            .collect();
        Self {
            component,
            metadata_path,
            spec_path,
            metadata,
            spec,
            is_pod: false,
            container_paths,
        }
    }

    /// The path of a container in the object.
    pub fn container_path(&self, kind: ContainerKind, index: usize) -> FieldPath {
        match kind {
            ContainerKind::Containers => self
                .container_paths
                .get(index)
                .cloned()
                .unwrap_or_else(|| self.spec_path.clone().field("containers").index(index)),
            other => self.spec_path.clone().field(other.field()).index(index),
        }
    }
}

/// What an object holds for pod security purposes.
#[derive(Debug)]
pub enum Workload {
    /// A kind that runs pods, with its pod specs (KServe: one per component present).
    Pods(Vec<PodTemplate>),
    /// A kind that does not run pods (Service, ConfigMap, ...).
    NotAWorkload,
}

/// Extracts the pod specs of `object`. A workload kind without its pod spec is an error: the API
/// server would reject it, and passing it would hide a broken manifest.
pub fn pod_templates(object: &Object) -> Result<Workload, InputError> {
    let template_at = |path: &str| -> Result<Workload, InputError> {
        let base = FieldPath::parse_dotted(path);
        Ok(Workload::Pods(vec![template(
            object,
            None,
            base.clone().field("metadata"),
            base.field("spec"),
        )?]))
    };
    match (object.group(), object.kind.as_str()) {
        ("", "Pod") => {
            let mut pod = template(
                object,
                None,
                FieldPath::root().field("metadata"),
                FieldPath::root().field("spec"),
            )?;
            pod.is_pod = true;
            Ok(Workload::Pods(vec![pod]))
        }
        ("", "PodTemplate") => template_at("template"),
        ("", "ReplicationController")
        | ("apps" | "extensions", "ReplicaSet" | "Deployment" | "DaemonSet")
        | ("apps", "StatefulSet")
        | ("batch", "Job") => template_at("spec.template"),
        ("batch", "CronJob") => template_at("spec.jobTemplate.spec.template"),
        ("serving.kserve.io", "InferenceService") => inference_service(object),
        _ => Ok(Workload::NotAWorkload),
    }
}

fn template(
    object: &Object,
    component: Option<&'static str>,
    metadata_path: FieldPath,
    spec_path: FieldPath,
) -> Result<PodTemplate, InputError> {
    let spec: PodSpec = object.typed(&spec_path)?.ok_or_else(|| {
        object.error_at(
            object.node.line_of(&spec_path),
            format!("{} has no pod spec at {spec_path}", object.kind),
        )
    })?;
    let mut metadata: ObjectMeta = object.typed(&metadata_path)?.unwrap_or_default();
    if metadata.namespace.is_empty() {
        metadata.namespace = object.metadata.namespace.clone();
    }
    Ok(PodTemplate::new(
        component,
        metadata_path,
        spec_path,
        metadata,
        spec,
    ))
}

fn inference_service(object: &Object) -> Result<Workload, InputError> {
    let mut templates = Vec::new();
    for (component, frameworks) in [
        ("predictor", KSERVE_PREDICTOR_FRAMEWORKS),
        ("transformer", &[][..]),
        ("explainer", KSERVE_EXPLAINER_FRAMEWORKS),
    ] {
        let path = FieldPath::root().field("spec").field(component);
        let Some(node) = object.node.at(&path) else {
            continue;
        };
        if node.is_null() {
            continue;
        }
        // The component inlines PodSpec fields next to its own (minReplicas, ...), so it reads as a PodSpec.
        let mut spec: PodSpec = object.typed(&path)?.unwrap_or_default();
        let mut container_paths: Vec<FieldPath> = (0..spec.containers.len())
            .map(|i| path.clone().field("containers").index(i))
            .collect();
        // KServe builds its model-server container from the framework spec and puts it first.
        let mut framework_containers = Vec::new();
        for framework in frameworks {
            let framework_path = path.clone().field(framework);
            if let Some(mut container) = object.typed::<Container>(&framework_path)? {
                if container.name.is_empty() {
                    container.name = KSERVE_CONTAINER_NAME.to_owned();
                }
                container.storage_uri =
                    object.typed::<String>(&framework_path.clone().field("storageUri"))?;
                framework_containers.push((container, framework_path));
            }
        }
        for (container, framework_path) in framework_containers.into_iter().rev() {
            spec.containers.insert(0, container);
            container_paths.insert(0, framework_path);
        }
        // Pods carry the InferenceService's labels and annotations plus the component's own.
        let mut metadata = object.metadata.clone();
        let extra: ObjectMeta = object.typed(&path)?.unwrap_or_default();
        metadata.labels.extend(extra.labels);
        metadata.annotations.extend(extra.annotations);
        let mut template = PodTemplate::new(Some(component), path.clone(), path, metadata, spec);
        template.container_paths = container_paths;
        templates.push(template);
    }
    if templates.is_empty() {
        return Err(object.error_at(object.source.line, "InferenceService has no spec.predictor"));
    }
    Ok(Workload::Pods(templates))
}
