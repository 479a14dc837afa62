//! Model files inside images: the layer reader hands each regular file under the configured
//! model paths to [`ModelInspector`] as it streams past; palisade-model scans it by content. Only
//! the results for files that survive into the merged image are reported (a model deleted or
//! replaced by a later layer is not), and they are cached with the layer. After the merge, the
//! model paths are walked as a process in the image sees them, through symlinks and hard links:
//! a file reached there whose bytes came in under another path is inspected in a second look at
//! its layer, and reported at the path it is reached at. Archive-based formats
//! (zip, 7z) need seeking, so the scanner copies those, and only those, to a temporary file.

use std::io::Read;

use serde::{Deserialize, Serialize};

use palisade_image::inventory;
use palisade_image::layers::Select;
use palisade_model::scan::{scan_read, ScanOptions as ModelOptions};
use palisade_model::Severity as ModelSeverity;

/// The largest file inspected.
pub const MAX_MODEL_BYTES: u64 = 8 * 1024 * 1024 * 1024;

/// A model-scanner finding for a file inside an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelFinding {
    pub rule: String,
    /// `dangerous` or `suspicious` (informational findings are not reported for images).
    pub severity: String,
    /// The file in the image (absolute path).
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<String>,
    pub message: String,
}

impl ModelFinding {
    /// The finding in the shape every report shares; the file is named relative to the image's
    /// root, as the package records are.
    pub fn diagnostic(&self) -> palisade_diagnostics::Diagnostic {
        let members: String = self.members.iter().map(|m| format!(" > {m}")).collect();
        let mut diagnostic = palisade_diagnostics::Diagnostic::new(
            self.rule.clone(),
            self.rating().into(),
            format!("{}{members}: {}", self.path, self.message),
        )
        .at(palisade_diagnostics::Location::file(
            self.path.trim_start_matches('/'),
        ));
        if let Some(rule) = palisade_model::rules::TABLE.get(&self.rule) {
            diagnostic = diagnostic.with_fix(rule.help);
        }
        diagnostic
    }

    /// The finding's severity as the model scanner rates it. A word it does not know counts as
    /// dangerous: a report this reader cannot read must not pass for a clean one.
    pub fn rating(&self) -> palisade_model::Severity {
        self.severity
            .parse()
            .unwrap_or(palisade_model::Severity::Dangerous)
    }
}

/// A model file found in an image: what the layer cache stores for it, and what `palisade sbom`
/// lists as a `machine-learning-model` component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelFile {
    /// The file in the image (absolute path), where a process reaches it.
    pub path: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// What the model scanner recognised it as (`pickle (protocol 4)`, `PyTorch zip`, ...).
    pub format: String,
    /// Its dangerous and suspicious findings.
    pub findings: Vec<ModelFinding>,
}

impl ModelFile {
    /// The scan's verdict on the file: `dangerous`, `suspicious` or `clean`.
    pub fn verdict(&self) -> &'static str {
        match self.findings.iter().map(ModelFinding::rating).max() {
            Some(palisade_model::Severity::Dangerous) => "dangerous",
            Some(palisade_model::Severity::Suspicious) => "suspicious",
            _ => "clean",
        }
    }
}

/// Words of the formats that are models (or hold them): a file recognised only as an archive or
/// compressed stream (a wheel, a tarball) is not listed as a model unless it has findings.
const MODEL_FORMATS: &[&str] = &[
    "pickle",
    "pytorch",
    "numpy",
    "hdf5",
    "keras",
    "gguf",
    "safetensors",
    "onnx",
    "tensorflow",
    "protobuf",
    "joblib",
];

fn is_model_format(format: &str) -> bool {
    let format = format.to_ascii_lowercase();
    MODEL_FORMATS.iter().any(|word| format.contains(word))
}

/// A reader that hashes what passes through it.
struct Hashing<'a> {
    inner: &'a mut dyn Read,
    hasher: sha2::Sha256,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }
}

/// Keeps the package databases and inspects model files under `paths`.
#[derive(Debug)]
pub struct ModelInspector {
    /// Path prefixes inside the image, without the leading `/`.
    paths: Vec<String>,
    options: ModelOptions,
}

impl ModelInspector {
    pub fn new(paths: &[String], options: ModelOptions) -> Self {
        Self {
            paths: paths
                .iter()
                .map(|p| p.trim_matches('/').to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            options,
        }
    }

    /// Decodes what [`Select::inspect`] stored: the findings.
    pub fn decode(bytes: &[u8]) -> Vec<ModelFinding> {
        Self::decode_file(bytes)
            .map(|f| f.findings)
            .unwrap_or_default()
    }

    /// Decodes what [`Select::inspect`] stored: the model file.
    pub fn decode_file(bytes: &[u8]) -> Option<ModelFile> {
        serde_json::from_slice(bytes).ok()
    }

    /// The file's findings and what it is, hashing every byte of it (`None`: not a model file
    /// and nothing found).
    fn scan_file(&self, path: &str, size: u64, content: &mut dyn Read) -> Option<ModelFile> {
        let mut limited = content.take(size);
        let mut hashing = Hashing {
            inner: &mut limited,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
        };
        let (format, findings) = self.scan(path, size, &mut hashing);
        // The scanner stops where the format ends; the digest is of the whole file.
        std::io::copy(&mut hashing, &mut std::io::sink()).ok()?;
        if findings.is_empty() && !is_model_format(&format) {
            return None;
        }
        Some(ModelFile {
            path: format!("/{path}"),
            sha256: hex::encode(sha2::Digest::finalize(hashing.hasher)),
            size,
            format,
            findings,
        })
    }

    fn scan(&self, path: &str, size: u64, content: &mut dyn Read) -> (String, Vec<ModelFinding>) {
        let image_path = format!("/{path}");
        let finding = |rule: &str, severity: &str, message: String| ModelFinding {
            rule: rule.into(),
            severity: severity.into(),
            path: image_path.clone(),
            members: Vec::new(),
            offset: 0,
            global: None,
            message,
        };
        if size > MAX_MODEL_BYTES {
            return (
                "not inspected".into(),
                vec![finding("model/limit", "suspicious", format!("{size} bytes, over the {MAX_MODEL_BYTES}-byte limit for model files; not inspected"))],
            );
        }
        // Streamed; the scanner copies to a temporary file only what needs seeking (zip, 7z).
        let outcome = scan_read(&image_path, content, Some(size), &self.options);
        let format = outcome
            .files
            .first()
            .map(|f| f.format.clone())
            .unwrap_or_default();
        let mut found: Vec<ModelFinding> = outcome
            .findings
            .into_iter()
            .filter(|f| f.severity >= ModelSeverity::Suspicious)
            .map(|f| ModelFinding {
                rule: f.rule.to_owned(),
                severity: f.severity.to_string(),
                path: image_path.clone(),
                members: f.location.members,
                offset: f.location.offset,
                global: f.global,
                message: f.message,
            })
            .collect();
        for (_, message) in outcome.read_errors {
            found.push(finding(
                "model/unparseable",
                "suspicious",
                format!("could not be read: {message}"),
            ));
        }
        (format, found)
    }
}

impl Select for ModelInspector {
    fn keep(&self, path: &str) -> bool {
        inventory::wanted(path)
    }

    fn inspects(&self, path: &str) -> bool {
        self.paths.iter().any(|prefix| {
            path.strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    fn inspect(&self, path: &str, size: u64, content: &mut dyn Read) -> Option<Vec<u8>> {
        let file = self.scan_file(path, size, content)?;
        serde_json::to_vec(&file).ok()
    }

    /// A model server opens what `models.imagePaths` name through whatever links the image has
    /// there (`/models -> /opt/hidden`, a hard-linked pickle), so those are scanned as reached.
    fn inspected_roots(&self) -> Vec<String> {
        self.paths.clone()
    }

    /// The findings of a file reached through a link, reported at the path it is reached at
    /// (where the server opens it), naming where its bytes came in.
    fn relabel(&self, result: &[u8], path: &str, origin: &str) -> Option<Vec<u8>> {
        let mut file = Self::decode_file(result)?;
        file.path = format!("/{path}");
        for finding in &mut file.findings {
            finding.path = format!("/{path}");
            finding.message = format!("{} (through a link to /{origin})", finding.message);
        }
        serde_json::to_vec(&file).ok()
    }
}
