//! OCI model artifacts: the CNCF ModelPack format (<https://github.com/modelpack/model-spec>,
//! `application/vnd.cncf.model.manifest.v1+json`) and any other artifact whose layers are model
//! files, told apart from container images by their manifest alone.

use crate::manifest::{Descriptor, ManifestOrIndex};

/// A ModelPack manifest's `artifactType`.
pub const MODEL_ARTIFACT_TYPE: &str = "application/vnd.cncf.model.manifest.v1+json";
/// A ModelPack manifest's config media type.
pub const MODEL_CONFIG: &str = "application/vnd.cncf.model.config.v1+json";
/// Every ModelPack media type starts so (`...weight.v1.raw`, `...weight.config.v1.tar+gzip`,
/// `...doc.v1.tar+zstd`); the pre-CNCF drafts wrote `application/vnd.cnai.model.`.
pub const MODEL_MEDIA_PREFIXES: [&str; 2] =
    ["application/vnd.cncf.model.", "application/vnd.cnai.model."];
/// The path a ModelPack raw layer is extracted to.
pub const FILEPATH_ANNOTATION: &str = "org.cncf.model.filepath";
/// A layer's file name, as ORAS and most artifact tools write it.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// File name endings of model formats: a layer titled so makes an artifact a model artifact.
pub const MODEL_FILE_SUFFIXES: [&str; 18] = [
    ".safetensors",
    ".pkl",
    ".pickle",
    ".joblib",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".onnx",
    ".gguf",
    ".ggml",
    ".h5",
    ".hdf5",
    ".keras",
    ".npy",
    ".npz",
    ".pb",
    ".tflite",
];

/// How a model artifact was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelArtifact {
    /// A ModelPack manifest (its `artifactType` or config media type).
    ModelPack,
    /// Another artifact with at least one layer titled as a model file.
    ModelFiles,
}

impl ModelArtifact {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelArtifact::ModelPack => "modelpack",
            ModelArtifact::ModelFiles => "model-files",
        }
    }
}

fn is_modelpack_type(media_type: &str) -> bool {
    MODEL_MEDIA_PREFIXES
        .iter()
        .any(|p| media_type.starts_with(p) && media_type.ends_with(".manifest.v1+json"))
        || MODEL_MEDIA_PREFIXES
            .iter()
            .any(|p| media_type.starts_with(p) && media_type.ends_with(".config.v1+json"))
}

/// Whether (and how) a manifest is a model artifact; `None` for a container image or another
/// kind of artifact (and for an index, which names manifests rather than layers).
pub fn model_artifact(manifest: &ManifestOrIndex) -> Option<ModelArtifact> {
    if manifest.manifests.is_some() {
        return None;
    }
    let modelpack = manifest
        .artifact_type
        .as_deref()
        .is_some_and(is_modelpack_type)
        || manifest
            .config
            .as_ref()
            .is_some_and(|c| is_modelpack_type(&c.media_type));
    if modelpack {
        return Some(ModelArtifact::ModelPack);
    }
    let layers = manifest.layers.as_deref().unwrap_or_default();
    layers
        .iter()
        .any(|l| layer_path(l).is_some_and(|p| is_model_file_name(&p)))
        .then_some(ModelArtifact::ModelFiles)
}

/// Whether a file name ends as a model format's does (case-insensitively).
pub fn is_model_file_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    MODEL_FILE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The path a layer is written to, as its annotations give it (ModelPack's filepath, else the
/// title); `None` when it has neither.
pub fn layer_path(layer: &Descriptor) -> Option<String> {
    layer
        .annotations
        .get(FILEPATH_ANNOTATION)
        .or_else(|| layer.annotations.get(TITLE_ANNOTATION))
        .filter(|p| !p.is_empty())
        .cloned()
}

/// How a layer's bytes hold its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerPacking {
    /// The layer is one file (ModelPack `.raw`, or any media type not a tar).
    Raw,
    Tar,
    TarGzip,
    TarZstd,
}

/// The packing a layer's media type states: `...tar`, `...tar+gzip` (or Docker's `.tar.gzip`),
/// `...tar+zstd`; anything else is one raw file.
pub fn layer_packing(media_type: &str) -> LayerPacking {
    if media_type.ends_with(".tar") {
        LayerPacking::Tar
    } else if media_type.ends_with(".tar+gzip") || media_type.ends_with(".tar.gzip") {
        LayerPacking::TarGzip
    } else if media_type.ends_with(".tar+zstd") || media_type.ends_with(".tar.zstd") {
        LayerPacking::TarZstd
    } else {
        LayerPacking::Raw
    }
}

/// Whether a path inside a model artifact stays inside the directory it is extracted to:
/// relative, with no `..` segment, not empty. A tool that extracts a model writes each file at
/// this path, so anything else is refused rather than cleaned.
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path.split('/').all(|s| s != "..")
        && path.split('/').any(|s| !s.is_empty() && s != ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(json: serde_json::Value) -> ManifestOrIndex {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn modelpack_and_model_file_artifacts_are_recognised_and_images_are_not() {
        let layer = |media: &str, title: &str| {
            serde_json::json!({"mediaType": media, "digest": "sha256:00", "size": 1,
                "annotations": {TITLE_ANNOTATION: title}})
        };
        let modelpack = manifest(serde_json::json!({
            "schemaVersion": 2, "artifactType": MODEL_ARTIFACT_TYPE,
            "config": {"mediaType": MODEL_CONFIG, "digest": "sha256:00", "size": 2},
            "layers": [layer("application/vnd.cncf.model.weight.v1.raw", "README")]}));
        assert_eq!(model_artifact(&modelpack), Some(ModelArtifact::ModelPack));
        // The config media type alone (artifactType is optional in OCI 1.1) is enough.
        let config_only = manifest(serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": MODEL_CONFIG, "digest": "sha256:00", "size": 2},
            "layers": []}));
        assert_eq!(model_artifact(&config_only), Some(ModelArtifact::ModelPack));
        let oras = manifest(serde_json::json!({
            "schemaVersion": 2, "artifactType": "application/vnd.example.model",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:00", "size": 2},
            "layers": [layer("application/octet-stream", "weights/Model.SafeTensors")]}));
        assert_eq!(model_artifact(&oras), Some(ModelArtifact::ModelFiles));
        let image = manifest(serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:00", "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:00", "size": 1}]}));
        assert_eq!(model_artifact(&image), None);
        let index = manifest(serde_json::json!({"schemaVersion": 2, "manifests": []}));
        assert_eq!(model_artifact(&index), None);
    }

    #[test]
    fn packings_and_paths() {
        assert_eq!(
            layer_packing("application/vnd.cncf.model.weight.v1.raw"),
            LayerPacking::Raw
        );
        assert_eq!(
            layer_packing("application/vnd.cncf.model.weight.config.v1.tar"),
            LayerPacking::Tar
        );
        assert_eq!(
            layer_packing("application/vnd.cncf.model.weight.v1.tar+gzip"),
            LayerPacking::TarGzip
        );
        assert_eq!(
            layer_packing("application/vnd.cncf.model.doc.v1.tar+zstd"),
            LayerPacking::TarZstd
        );
        assert_eq!(
            layer_packing("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            LayerPacking::TarGzip
        );
        for good in ["model.safetensors", "a/b.pkl", "./a/b.pkl", "a/./b"] {
            assert!(is_safe_path(good), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/..",
            ".",
            "./",
            "a\\..\\x",
            "a\0b",
        ] {
            assert!(!is_safe_path(bad), "{bad:?}");
        }
    }
}
