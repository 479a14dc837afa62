//! Scanning an OCI model artifact in its registry: a ModelPack artifact
//! (`application/vnd.cncf.model.manifest.v1+json`) or any artifact whose layers are model files.
//! Each layer is streamed once from the registry, checked against its descriptor (size and
//! sha256 digest) as it passes, and its files handed to the model scanner: a raw layer is one file
//! (named by its `org.cncf.model.filepath` or `org.opencontainers.image.title` annotation), a tar
//! layer (plain, gzip or zstd) holds regular files and directories only, at paths that stay inside
//! the model directory. Anything else (a truncated or oversized blob, a wrong digest, a link or
//! a `..` path in a tar, an unreadable file) is an [`ArtifactError`] naming the layer and the byte
//! offset, never a partial report.

use std::io::Read;

use serde_json::json;
use sha2::{Digest as _, Sha256};

use palisade_core::image_ref::ImageRef;
use palisade_model::finding::Finding;
use palisade_model::report::{self, ScannedFile};
use palisade_model::scan::{scan_read, ScanOptions};
use palisade_oci::manifest::{
    manifest_kind, Descriptor, ManifestOrIndex, DOCKER_MANIFEST_LIST, OCI_INDEX,
};
use palisade_oci::modelpack::{self, LayerPacking, ModelArtifact};
use palisade_oci::{parse_json, OciError, Repository};

/// Bounds on what an artifact may make the scanner read.
#[derive(Debug, Clone)]
pub struct ArtifactOptions {
    pub scan: ScanOptions,
    /// Layers in one manifest.
    pub max_layers: usize,
    /// Bytes one layer's descriptor may declare (the blob is streamed, never held).
    pub max_layer_bytes: u64,
    /// Entries in one tar layer.
    pub max_tar_entries: u64,
    /// Bytes of file content one tar layer's headers may declare in all.
    pub max_tar_bytes: u64,
}

impl Default for ArtifactOptions {
    fn default() -> Self {
        Self {
            scan: ScanOptions::default(),
            max_layers: 4096,
            max_layer_bytes: 1 << 40,
            max_tar_entries: 100_000,
            max_tar_bytes: 1 << 40,
        }
    }
}

/// Why an artifact was not scanned.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The registry could not be reached, or refused or lacks what was asked.
    #[error(transparent)]
    Registry(#[from] OciError),
    /// The manifest is not a model artifact's.
    #[error("{reference}: not a model artifact: {why}")]
    NotAModel { reference: String, why: String },
    /// A layer's content is not what its descriptor states, or holds what a model must not.
    #[error("{reference}: layer {layer}, at byte {offset}: {message}")]
    Layer {
        reference: String,
        layer: String,
        offset: u64,
        message: String,
    },
}

impl ArtifactError {
    /// The registry could not be reached (no verdict, as opposed to a bad artifact).
    pub fn unreachable(&self) -> bool {
        matches!(self, ArtifactError::Registry(e) if e.unreachable)
    }
}

/// One layer as scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerScan {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// The files it held, as paths in the model directory.
    pub files: Vec<String>,
}

/// The model scan of one artifact.
#[derive(Debug, Clone)]
pub struct ArtifactScan {
    /// `registry/repository`.
    pub name: String,
    /// The manifest digest scanned.
    pub digest: String,
    pub kind: ModelArtifact,
    pub artifact_type: Option<String>,
    pub layers: Vec<LayerScan>,
    pub files: Vec<ScannedFile>,
    pub findings: Vec<Finding>,
}

impl ArtifactScan {
    /// `scan model -f json`'s report, with the artifact: what an attestation's
    /// `scanner.result` holds.
    pub fn json(&self) -> serde_json::Value {
        let mut value = report::json(&self.files, &self.findings);
        value["name"] = json!(self.name);
        value["digest"] = json!(self.digest);
        value["artifact"] = json!({
            "kind": self.kind.as_str(),
            "artifactType": self.artifact_type,
            "layers": self.layers.iter().map(|l| json!({
                "digest": l.digest, "mediaType": l.media_type, "size": l.size, "files": l.files,
            })).collect::<Vec<_>>(),
        });
        value["errors"] = json!([]);
        value
    }
}

/// Fetches the manifest `reference` names (a digest, or a tag resolved once), recognises a model
/// artifact, and scans every layer's files.
pub fn scan_artifact(
    repo: &Repository,
    reference: &ImageRef,
    options: &ArtifactOptions,
) -> Result<ArtifactScan, ArtifactError> {
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let name = reference.full_name();
    let (bytes, _, digest) = repo.manifest(&wanted)?;
    let manifest: ManifestOrIndex = parse_json(repo.location(), "manifest", &bytes)?;
    let at = format!("{name}@{digest}");
    let not_a_model = |why: String| ArtifactError::NotAModel {
        reference: at.clone(),
        why,
    };
    if matches!(manifest_kind(&manifest), OCI_INDEX | DOCKER_MANIFEST_LIST) {
        return Err(not_a_model(
            "an image index: give the digest of one of its manifests".into(),
        ));
    }
    let Some(kind) = modelpack::model_artifact(&manifest) else {
        return Err(not_a_model(format!(
            "no ModelPack artifactType or config ({}) and no layer titled as a model file ({}); a container image is scanned by `palisade scan image`",
            modelpack::MODEL_ARTIFACT_TYPE,
            modelpack::MODEL_FILE_SUFFIXES.join(", ")
        )));
    };
    let layers = manifest.layers.clone().unwrap_or_default();
    if layers.len() > options.max_layers {
        return Err(not_a_model(format!(
            "{} layers, over the limit of {}",
            layers.len(),
            options.max_layers
        )));
    }
    let mut scan = ArtifactScan {
        name,
        digest,
        kind,
        artifact_type: manifest.artifact_type.clone(),
        layers: Vec::new(),
        files: Vec::new(),
        findings: Vec::new(),
    };
    for layer in &layers {
        let fail = |offset: u64, message: String| ArtifactError::Layer {
            reference: at.clone(),
            layer: layer.digest.clone(),
            offset,
            message,
        };
        if layer.size > options.max_layer_bytes {
            return Err(fail(
                0,
                format!(
                    "its descriptor declares {} bytes, over the limit of {}",
                    layer.size, options.max_layer_bytes
                ),
            ));
        }
        let mut blob = BlobReader::new(repo.blob(&layer.digest)?, layer)
            .map_err(|message| fail(0, message))?;
        let files = match modelpack::layer_packing(&layer.media_type) {
            LayerPacking::Raw => scan_raw(&mut scan, layer, &mut blob, options),
            packing => scan_tar(&mut scan, packing, &mut blob, options),
        };
        // The blob's own failure (truncated, too long, wrong digest) explains a read error the
        // scanner saw, so it goes first; a layer refused for what it holds is not read further.
        let checked = match files {
            Ok(files) => blob.finish().map(|()| files),
            Err(refused) => Err(blob.failure.take().unwrap_or(refused)),
        };
        let files = checked.map_err(|(offset, message)| fail(offset, message))?;
        scan.layers.push(LayerScan {
            digest: layer.digest.clone(),
            media_type: layer.media_type.clone(),
            size: layer.size,
            files,
        });
    }
    scan.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(scan)
}

type LayerFailure = (u64, String);

/// A raw layer: one file, at its annotated path (else named by its digest).
fn scan_raw(
    scan: &mut ArtifactScan,
    layer: &Descriptor,
    blob: &mut BlobReader<impl Read>,
    options: &ArtifactOptions,
) -> Result<Vec<String>, LayerFailure> {
    let path = match modelpack::layer_path(layer) {
        Some(path) if modelpack::is_safe_path(&path) => path,
        Some(path) => {
            return Err((
                0,
                format!("its path {path:?} leaves the model directory (absolute, or with a `..`)"),
            ))
        }
        None => layer.digest.clone(),
    };
    let outcome = scan_read(&path, blob, Some(layer.size), &options.scan);
    if let Some((_, message)) = outcome.read_errors.first() {
        return Err((blob.offset(), format!("{path}: {message}")));
    }
    scan.files
        .extend(outcome.files.into_iter().map(|f| ScannedFile {
            path: f.path,
            format: f.format,
        }));
    scan.findings.extend(outcome.findings);
    Ok(vec![path])
}

/// A tar layer: every regular file, at its path; directories are skipped; anything else refused.
fn scan_tar(
    scan: &mut ArtifactScan,
    packing: LayerPacking,
    blob: &mut BlobReader<impl Read>,
    options: &ArtifactOptions,
) -> Result<Vec<String>, LayerFailure> {
    let stream: Box<dyn Read + '_> = match packing {
        LayerPacking::TarGzip => Box::new(flate2::read::MultiGzDecoder::new(&mut *blob)),
        LayerPacking::TarZstd => Box::new(
            zstd::stream::read::Decoder::new(&mut *blob)
                .map_err(|e| (0, format!("not zstd: {e}")))?,
        ),
        _ => Box::new(&mut *blob),
    };
    let mut archive = tar::Archive::new(stream);
    let entries = archive
        .entries()
        .map_err(|e| (0, format!("not a tar archive: {e}")))?;
    let mut files = Vec::new();
    let mut count = 0u64;
    let mut declared = 0u64;
    // Where the last header began: an entry that cannot be read is reported after it.
    let mut last_header = 0u64;
    for entry in entries {
        let mut entry = entry.map_err(|e| (last_header, format!("unreadable tar entry: {e}")))?;
        let header_at = entry.raw_header_position();
        last_header = header_at;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        count += 1;
        if count > options.max_tar_entries {
            return Err((
                header_at,
                format!("more than {} entries", options.max_tar_entries),
            ));
        }
        if kind.is_dir() || matches!(kind, tar::EntryType::XGlobalHeader) {
            continue;
        }
        if !modelpack::is_safe_path(&raw) {
            return Err((
                header_at,
                format!("tar entry {raw:?} leaves the model directory (absolute, or with a `..`)"),
            ));
        }
        if !kind.is_file() {
            let what = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_hard_link() {
                "a hard link"
            } else {
                "not a regular file"
            };
            return Err((
                header_at,
                format!("tar entry {raw:?} is {what}: a model artifact's layers hold regular files and directories only"),
            ));
        }
        let size = entry.size();
        declared = declared.saturating_add(size);
        if declared > options.max_tar_bytes {
            return Err((
                header_at,
                format!(
                    "its entries declare more than {} bytes of content",
                    options.max_tar_bytes
                ),
            ));
        }
        let path = raw.trim_start_matches("./").to_owned();
        let outcome = scan_read(&path, &mut entry, Some(size), &options.scan);
        if let Some((_, message)) = outcome.read_errors.first() {
            return Err((
                entry.raw_file_position(),
                format!("tar entry {path:?}: {message}"),
            ));
        }
        scan.files
            .extend(outcome.files.into_iter().map(|f| ScannedFile {
                path: f.path,
                format: f.format,
            }));
        scan.findings.extend(outcome.findings);
        files.push(path);
    }
    Ok(files)
}

/// A blob as it streams from the registry, held to its descriptor: at most `size` bytes, exactly
/// `size` by the end, and their sha256 the digest. The first failure sticks (every later read
/// repeats it), so a scanner that saw only "read error" can be told exactly what went wrong.
struct BlobReader<R> {
    inner: R,
    hasher: Sha256,
    expected: String,
    size: u64,
    read: u64,
    done: bool,
    failure: Option<LayerFailure>,
}

impl<R: Read> BlobReader<R> {
    fn new(inner: R, layer: &Descriptor) -> Result<Self, String> {
        let expected = palisade_oci::sha256_hex(&layer.digest)
            .ok_or_else(|| format!("unsupported digest {:?} (only sha256)", layer.digest))?
            .to_owned();
        Ok(Self {
            inner,
            hasher: Sha256::new(),
            expected,
            size: layer.size,
            read: 0,
            done: false,
            failure: None,
        })
    }

    fn offset(&self) -> u64 {
        self.failure.as_ref().map_or(self.read, |(at, _)| *at)
    }

    fn fail(&mut self, at: u64, message: String) -> std::io::Error {
        self.failure.get_or_insert((at, message.clone()));
        std::io::Error::new(std::io::ErrorKind::InvalidData, message)
    }

    /// Reads what is left, then whether the blob was exactly what its descriptor states.
    fn finish(&mut self) -> Result<(), LayerFailure> {
        let _ = std::io::copy(self, &mut std::io::sink());
        match self.failure.take() {
            Some(failure) => Err(failure),
            None if self.done => Ok(()),
            None => Err((self.read, "the blob was not read to its end".into())),
        }
    }
}

impl<R: Read> Read for BlobReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some((_, message)) = &self.failure {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                message.clone(),
            ));
        }
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        // One byte beyond the declared size is asked for, to tell a longer blob from a complete one.
        let room = (self.size - self.read).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = match self.inner.read(&mut buf[..want]) {
            Ok(n) => n,
            Err(e) => {
                let at = self.read;
                return Err(self.fail(at, format!("reading the blob failed: {e}")));
            }
        };
        if n == 0 {
            if self.read < self.size {
                let (at, size) = (self.read, self.size);
                return Err(self.fail(
                    at,
                    format!("truncated: the blob ends at byte {at} of the {size} its descriptor declares"),
                ));
            }
            let actual = hex::encode(std::mem::take(&mut self.hasher).finalize());
            if actual != self.expected {
                let at = self.read;
                return Err(self.fail(
                    at,
                    format!(
                        "content does not match the digest sha256:{} (it is sha256:{actual})",
                        self.expected
                    ),
                ));
            }
            self.done = true;
            return Ok(0);
        }
        if self.read + n as u64 > self.size {
            let size = self.size;
            return Err(self.fail(
                size,
                format!("the blob is longer than the {size} bytes its descriptor declares"),
            ));
        }
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.cncf.model.weight.v1.raw".into(),
            digest: palisade_oci::sha256_digest(bytes),
            size: bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
            artifact_type: None,
        }
    }

    fn read_all(reader: &mut BlobReader<&[u8]>) -> Result<(), LayerFailure> {
        let _ = std::io::copy(reader, &mut std::io::sink());
        reader.finish()
    }

    #[test]
    fn blobs_are_held_to_their_descriptor() {
        let content = b"model bytes".as_slice();
        let good = descriptor(content);
        read_all(&mut BlobReader::new(content, &good).unwrap()).unwrap();
        // Truncated: named with the offset where it ends.
        let (at, message) =
            read_all(&mut BlobReader::new(&content[..4], &good).unwrap()).unwrap_err();
        assert_eq!(at, 4);
        assert!(
            message.contains("truncated: the blob ends at byte 4 of the 11"),
            "{message}"
        );
        // Longer than declared.
        let longer = b"model bytes and more".as_slice();
        let (at, message) = read_all(&mut BlobReader::new(longer, &good).unwrap()).unwrap_err();
        assert_eq!(at, 11);
        assert!(message.contains("longer than the 11 bytes"), "{message}");
        // Same length, other bytes.
        let (at, message) =
            read_all(&mut BlobReader::new(b"model BYTES".as_slice(), &good).unwrap()).unwrap_err();
        assert_eq!(at, 11);
        assert!(message.contains("does not match the digest"), "{message}");
        // A descriptor that declares less than the blob holds cannot make it pass.
        let short = Descriptor {
            size: 0,
            ..good.clone()
        };
        assert!(read_all(&mut BlobReader::new(content, &short).unwrap()).is_err());
        // Not sha256: refused before reading.
        let md5 = Descriptor {
            digest: "md5:00".into(),
            ..good
        };
        assert!(BlobReader::new(content, &md5).is_err());
    }

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, content) in entries {
            let mut header = tar::Header::new_gnu();
            // Written raw, so that hostile paths reach the reader as they are.
            let name = path.as_bytes();
            header.as_old_mut().name[..name.len()].copy_from_slice(name);
            header.set_entry_type(*kind);
            header.set_size(content.len() as u64);
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_link_name("target").unwrap();
            }
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn scan_tar_bytes(bytes: &[u8]) -> Result<ArtifactScan, LayerFailure> {
        scan_packed(bytes, LayerPacking::Tar)
    }

    fn scan_packed(bytes: &[u8], packing: LayerPacking) -> Result<ArtifactScan, LayerFailure> {
        let mut scan = ArtifactScan {
            name: "r/m".into(),
            digest: "sha256:00".into(),
            kind: ModelArtifact::ModelPack,
            artifact_type: None,
            layers: Vec::new(),
            files: Vec::new(),
            findings: Vec::new(),
        };
        let layer = descriptor(bytes);
        let mut blob = BlobReader::new(bytes, &layer).unwrap();
        scan_tar(&mut scan, packing, &mut blob, &ArtifactOptions::default())?;
        blob.finish()?;
        Ok(scan)
    }

    /// `os.system("echo pwned")` pickled (protocol 2).
    const MALICIOUS_PICKLE: &[u8] =
        b"\x80\x02cposix\nsystem\nq\x00X\x0a\x00\x00\x00echo pwnedq\x01\x85q\x02Rq\x03.";

    #[test]
    fn tar_layers_are_scanned_file_by_file_and_path_tricks_refused() {
        let ok = tar_of(&[
            ("model", tar::EntryType::Directory, b""),
            ("model/README.md", tar::EntryType::Regular, b"# a model\n"),
            (
                "./model/weights.pkl",
                tar::EntryType::Regular,
                MALICIOUS_PICKLE,
            ),
        ]);
        let scan = scan_tar_bytes(&ok).unwrap();
        let paths: Vec<&str> = scan.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["model/README.md", "model/weights.pkl"]);
        // The same tar gzipped and zstd-compressed reads the same; a gzip layer that is not
        // gzip is an error, not an empty layer.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &ok).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(ok.as_slice(), 1).unwrap();
        for (bytes, packing) in [(&gz, LayerPacking::TarGzip), (&zst, LayerPacking::TarZstd)] {
            let packed = scan_packed(bytes, packing).unwrap();
            assert_eq!(packed.files, scan.files, "{packing:?}");
            assert_eq!(packed.findings, scan.findings, "{packing:?}");
        }
        assert!(scan_packed(&ok, LayerPacking::TarGzip).is_err());
        assert!(
            scan.findings
                .iter()
                .any(|f| f.location.file == "model/weights.pkl"
                    && f.severity == palisade_model::Severity::Dangerous),
            "{:?}",
            scan.findings
        );
        for (path, kind, why) in [
            (
                "../evil.pkl",
                tar::EntryType::Regular,
                "leaves the model directory",
            ),
            (
                "/etc/cron.d/x",
                tar::EntryType::Regular,
                "leaves the model directory",
            ),
            (
                "model/../../x",
                tar::EntryType::Regular,
                "leaves the model directory",
            ),
            ("model/link", tar::EntryType::Symlink, "is a symbolic link"),
            ("model/hard", tar::EntryType::Link, "is a hard link"),
            ("model/fifo", tar::EntryType::Fifo, "not a regular file"),
        ] {
            let bytes = tar_of(&[
                ("model/a.txt", tar::EntryType::Regular, b"ok"),
                (path, kind, b""),
            ]);
            let (at, message) = scan_tar_bytes(&bytes).unwrap_err();
            assert!(message.contains(why), "{path}: {message}");
            assert_eq!(
                at, 1024,
                "{path}: the second header, after one header and one block"
            );
        }
    }
}
