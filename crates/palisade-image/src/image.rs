//! Opening an image from any of its sources and reading its layers into one merged view.
//!
//! Layers are read in parallel (each is its own gzip or zstd stream), verified against their
//! digests as they stream, and cached by diffID, so a rescan of an image that shares its base
//! with one scanned before reads only what changed. Nothing is extracted to disk.

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use palisade_oci::manifest::{Descriptor, ManifestOrIndex};
use palisade_oci::{parse_json, sha256_hex, verify_digest, VerifyingReader, MAX_JSON_BLOB};

use crate::config::ImageConfig;
use crate::layers::{LayerChanges, MergedFs};
use crate::target::Target;

/// An error opening or reading an image: where (the image, and the file or blob inside it) and
/// what. The registry client's error, so that its `unreachable` and `not_found` reach callers.
pub use palisade_oci::OciError as ImageError;

/// One layer of an opened image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    /// The blob as stored (compressed or not), with its digest when the source names one.
    pub blob: Descriptor,
    /// The digest of the uncompressed tar, from the image configuration: the cache key.
    pub diff_id: Option<String>,
    /// Whether the blob is checked against its digest as it streams. Only verified layers are
    /// cached by diffID: a cache filled from unverified bytes could be poisoned by a doctored
    /// archive and then answer for the genuine image.
    pub verify: bool,
}

/// Reads blobs from wherever the image lives.
pub trait BlobSource: Send + Sync + std::fmt::Debug {
    /// A reader of the blob's raw bytes. The caller verifies the digest.
    fn open_blob(&self, blob: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError>;

    /// The blob as a seekable reader, where the source can give one (local archives), so an
    /// uncompressed layer's file contents can be skipped instead of read.
    fn open_blob_seekable(
        &self,
        _blob: &Descriptor,
    ) -> Result<Option<Box<dyn ReadSeek + '_>>, ImageError> {
        Ok(None)
    }
}

/// `Read + Seek`, as one object type.
pub trait ReadSeek: Read + std::io::Seek + Send {}
impl<T: Read + std::io::Seek + Send> ReadSeek for T {}

/// An image whose manifest and configuration have been read, ready to have its layers read.
#[derive(Debug)]
pub struct OpenedImage {
    /// The target as the user named it.
    pub name: String,
    /// The manifest's digest, where the image has a manifest.
    pub manifest_digest: Option<String>,
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
    content: Content,
}

#[derive(Debug)]
enum Content {
    Blobs(Box<dyn BlobSource>),
    RootFs(PathBuf),
}

/// Which platform to take from a multi-platform image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformWanted {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for PlatformWanted {
    fn default() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            other => other,
        };
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }
}

impl std::str::FromStr for PlatformWanted {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
                Ok(Self {
                    os: os.into(),
                    architecture: arch.into(),
                    variant: variant.map(str::to_owned),
                })
            }
            _ => Err(format!(
                "invalid platform {s:?}: expected OS/ARCH[/VARIANT]"
            )),
        }
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub platform: PlatformWanted,
    /// Speak plain HTTP to registries (only for a loopback or lab registry).
    pub plain_http: bool,
    /// The Docker config file with registry credentials; `None` looks in the usual places.
    pub docker_config: Option<PathBuf>,
}

/// Opens an image: reads its index, manifest and configuration, but no layer yet.
pub fn open(target: &Target, options: &OpenOptions) -> Result<OpenedImage, ImageError> {
    let name = target.to_string();
    match target {
        Target::Dir(path) => {
            if !path.is_dir() {
                return Err(ImageError::new(&name, "not a directory"));
            }
            Ok(OpenedImage {
                name,
                manifest_digest: None,
                config: ImageConfig::default(),
                layers: Vec::new(),
                content: Content::RootFs(path.clone()),
            })
        }
        Target::OciDir { path, tag } => {
            let source = crate::source::oci_dir::OciDir::new(&name, path)?;
            let index = source.index()?;
            from_index(name, source, index, tag.as_deref(), options)
        }
        Target::OciArchive { path, tag } => {
            let source = crate::source::archive::TarArchive::open(&name, path)?;
            let index = source.read_json::<ManifestOrIndex>("index.json")?;
            from_index(name, source, index, tag.as_deref(), options)
        }
        Target::DockerArchive { path, tag } => {
            let source = crate::source::archive::TarArchive::open(&name, path)?;
            crate::source::docker_archive::open(name, source, tag.as_deref())
        }
        Target::Registry(reference) => crate::source::registry::open(name, reference, options),
    }
}

/// What an index-based source (OCI layout, OCI archive) holds for a source that can read a
/// manifest by digest.
pub(crate) trait ManifestSource: BlobSource {
    fn location(&self) -> &str;
    fn read_blob_verified(&self, blob: &Descriptor, limit: u64) -> Result<Vec<u8>, ImageError> {
        if blob.size > limit {
            return Err(ImageError::new(
                self.location(),
                format!(
                    "{} is {} bytes, over the {limit}-byte limit for manifests and configurations",
                    blob.digest, blob.size
                ),
            ));
        }
        let mut reader = self.open_blob(blob)?;
        let mut bytes = Vec::new();
        reader
            .by_ref()
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                ImageError::new(self.location(), format!("reading {}: {e}", blob.digest))
            })?;
        if bytes.len() as u64 > limit {
            return Err(ImageError::new(
                self.location(),
                format!("{} is over the {limit}-byte limit", blob.digest),
            ));
        }
        verify_digest(self.location(), &blob.digest, &bytes)?;
        Ok(bytes)
    }
}

fn from_index<S: ManifestSource + 'static>(
    name: String,
    source: S,
    index: ManifestOrIndex,
    tag: Option<&str>,
    options: &OpenOptions,
) -> Result<OpenedImage, ImageError> {
    let location = source.location().to_owned();
    let manifests = index.manifests.unwrap_or_default();
    let candidates: Vec<&Descriptor> = match tag {
        Some(tag) => manifests
            .iter()
            .filter(|d| {
                d.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(String::as_str)
                    == Some(tag)
                    || d.annotations
                        .get("io.containerd.image.name")
                        .is_some_and(|n| n.ends_with(&format!(":{tag}")))
            })
            .collect(),
        None => manifests.iter().collect(),
    };
    let chosen = match candidates.as_slice() {
        [] => {
            return Err(ImageError::new(
                &location,
                match tag {
                    Some(tag) => format!("index.json names no image tagged {tag:?}"),
                    None => "index.json lists no image".into(),
                },
            ))
        }
        [one] => (*one).clone(),
        several => {
            let tags: Vec<&str> = several
                .iter()
                .filter_map(|d| {
                    d.annotations
                        .get("org.opencontainers.image.ref.name")
                        .map(String::as_str)
                })
                .collect();
            return Err(ImageError::new(
                &location,
                format!(
                    "index.json lists {} images; name one with PATH:TAG (tags: {})",
                    several.len(),
                    tags.join(", ")
                ),
            ));
        }
    };
    let (digest, manifest) = resolve_manifest(&source, chosen, &options.platform)?;
    let config_desc = manifest
        .config
        .clone()
        .ok_or_else(|| ImageError::new(&location, format!("manifest {digest} has no config")))?;
    let config_bytes = source.read_blob_verified(&config_desc, MAX_JSON_BLOB)?;
    let config: ImageConfig = parse_json(
        &location,
        &format!("config {}", config_desc.digest),
        &config_bytes,
    )?;
    let layers = layers_of(&location, &manifest, &config)?;
    Ok(OpenedImage {
        name,
        manifest_digest: Some(digest),
        config,
        layers,
        content: Content::Blobs(Box::new(source)),
    })
}

/// Follows an index down to the manifest for the wanted platform.
pub(crate) fn resolve_manifest<S: ManifestSource + ?Sized>(
    source: &S,
    mut descriptor: Descriptor,
    platform: &PlatformWanted,
) -> Result<(String, ManifestOrIndex), ImageError> {
    for _ in 0..4 {
        let bytes = source.read_blob_verified(&descriptor, MAX_JSON_BLOB)?;
        let parsed: ManifestOrIndex = parse_json(
            source.location(),
            &format!("manifest {}", descriptor.digest),
            &bytes,
        )?;
        match parsed.manifests {
            Some(manifests) => descriptor = pick_platform(source.location(), &manifests, platform)?,
            None => return Ok((descriptor.digest, parsed)),
        }
    }
    Err(ImageError::new(
        source.location(),
        "indexes nested more than 4 deep",
    ))
}

pub(crate) fn pick_platform(
    location: &str,
    manifests: &[Descriptor],
    wanted: &PlatformWanted,
) -> Result<Descriptor, ImageError> {
    let images: Vec<&Descriptor> = manifests
        .iter()
        // Attestation manifests (buildkit's unknown/unknown) are not images.
        .filter(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"))
        .collect();
    if let [one] = images.as_slice() {
        if one.platform.is_none() {
            return Ok((*one).clone());
        }
    }
    images
        .iter()
        .find(|d| {
            d.platform.as_ref().is_some_and(|p| {
                p.os == wanted.os
                    && p.architecture == wanted.architecture
                    && (wanted.variant.is_none() || p.variant == wanted.variant)
            })
        })
        .map(|d| (*d).clone())
        .ok_or_else(|| {
            let offered: Vec<String> = images
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .map(|p| format!("{}/{}", p.os, p.architecture))
                .collect();
            ImageError::new(
                location,
                format!(
                    "no image for {}/{} (offered: {})",
                    wanted.os,
                    wanted.architecture,
                    offered.join(", ")
                ),
            )
        })
}

pub(crate) fn layers_of(
    location: &str,
    manifest: &ManifestOrIndex,
    config: &ImageConfig,
) -> Result<Vec<LayerRef>, ImageError> {
    let blobs = manifest.layers.clone().unwrap_or_default();
    let diff_ids = &config.rootfs.diff_ids;
    if !diff_ids.is_empty() && diff_ids.len() != blobs.len() {
        return Err(ImageError::new(
            location,
            format!(
                "the manifest lists {} layers but the configuration {} diff_ids",
                blobs.len(),
                diff_ids.len()
            ),
        ));
    }
    for blob in &blobs {
        if !is_layer_media_type(&blob.media_type) {
            return Err(ImageError::new(
                location,
                format!(
                    "layer {} has media type {:?}, not a container image layer",
                    blob.digest, blob.media_type
                ),
            ));
        }
    }
    Ok(blobs
        .into_iter()
        .enumerate()
        .map(|(i, blob)| LayerRef {
            blob,
            diff_id: diff_ids.get(i).cloned(),
            verify: true,
        })
        .collect())
}

fn is_layer_media_type(media_type: &str) -> bool {
    media_type.is_empty()
        || media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.")
}

/// Progress of a scan, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Layers to read, and their total stored size.
    Start { layers: usize, bytes: u64 },
    /// A layer is done (read, or found in the cache).
    LayerDone { bytes: u64, cached: bool },
}

/// Where per-layer results are kept between scans.
///
/// An entry is named by the digest of the blob it was read from, and written only once palisade
/// has hashed every byte of that blob and found that digest: an entry under a name can only come
/// from bytes with that digest, so looking one up by an image's claim is safe. An image that
/// claims another image's blob cannot fill its entry (its bytes do not hash to the claim), and
/// an image that claims another layer's diffID is refused (the entry records the diffID computed
/// from the uncompressed bytes, and the claim is checked against it on every read).
#[derive(Debug, Clone)]
pub struct LayerCache {
    dir: PathBuf,
    /// Changes whenever what is kept from a layer changes, so old entries are never misread.
    key: String,
}

/// A cache entry: the layer's changes and the diffID hashed from its uncompressed bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedLayer {
    diff_id: String,
    changes: LayerChanges,
}

impl LayerCache {
    pub fn new(dir: impl Into<PathBuf>, key: &str) -> Self {
        Self {
            dir: dir.into(),
            key: key.to_owned(),
        }
    }

    /// The default location: `$XDG_CACHE_HOME/palisade/layers`, or `~/.cache/palisade/layers`.
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
            .map(|base| base.join("palisade").join("layers"))
    }

    fn path(&self, blob_digest: &str) -> Option<PathBuf> {
        let hex = sha256_hex(blob_digest)?;
        Some(self.dir.join(format!("blob-sha256-{hex}.{}", self.key)))
    }

    /// The diffID and changes of the layer read from the blob `blob_digest`.
    fn get(&self, blob_digest: &str) -> Option<(String, LayerChanges)> {
        let bytes = std::fs::read(self.path(blob_digest)?).ok()?;
        let body = bytes.strip_prefix(CACHE_MAGIC)?;
        // A damaged entry is a miss, not an error: the layer is simply read again.
        let entry: CachedLayer = postcard::from_bytes(body).ok()?;
        Some((entry.diff_id, entry.changes))
    }

    /// Stores what `blob` produced. `blob` must have been hashed whole and found to match its
    /// digest, and `diff_id` hashed from its uncompressed bytes: [`Verified`] carries both.
    fn put(&self, verified: &Verified, changes: &LayerChanges) {
        let Some(path) = self.path(&verified.blob_digest) else {
            return;
        };
        let entry = CachedLayer {
            diff_id: verified.diff_id.clone(),
            changes: changes.clone(),
        };
        let Ok(body) = postcard::to_stdvec(&entry) else {
            return;
        };
        // Written beside and renamed into place, so a concurrent scan never reads half an entry.
        // A cache that cannot be written only costs speed.
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
            std::io::Write::write_all(&mut file, CACHE_MAGIC)?;
            std::io::Write::write_all(&mut file, &body)?;
            file.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::debug!(error = %e, "layer cache not written");
        }
    }
}

/// v2 entries were named by the diffID an image claimed, unchecked, so any of them may have been
/// planted by a crafted image: they are never read.
const CACHE_MAGIC: &[u8] = b"palisade-layer-v3\n";

/// Digests palisade computed from a layer's bytes as it read them.
struct Verified {
    /// The stored blob's digest, hashed from every byte of it.
    blob_digest: String,
    /// The uncompressed tar's digest.
    diff_id: String,
}

/// What reading an image's layers produced.
#[derive(Debug)]
pub struct ReadImage {
    pub fs: MergedFs,
    /// Layers served from the cache.
    pub cached_layers: usize,
}

impl OpenedImage {
    pub(crate) fn from_parts(
        name: String,
        manifest_digest: Option<String>,
        config: ImageConfig,
        layers: Vec<LayerRef>,
        source: Box<dyn BlobSource>,
    ) -> Self {
        Self {
            name,
            manifest_digest,
            config,
            layers,
            content: Content::Blobs(source),
        }
    }

    /// Reads every layer (in parallel, up to `threads` at once) and merges them in order.
    pub fn read(
        &self,
        keep: &(dyn crate::layers::Select + Sync),
        cache: Option<&LayerCache>,
        threads: usize,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<ReadImage, ImageError> {
        match &self.content {
            Content::RootFs(root) => {
                progress(Progress::Start {
                    layers: 1,
                    bytes: 0,
                });
                let changes = crate::source::rootfs::read(&self.name, root, keep)?;
                progress(Progress::LayerDone {
                    bytes: 0,
                    cached: false,
                });
                let mut fs = MergedFs::new();
                fs.apply(changes);
                for (layer, paths) in fs.uninspected(keep) {
                    let only = crate::layers::Only {
                        inner: keep,
                        paths: &paths,
                    };
                    let again = crate::source::rootfs::read(&self.name, root, &only)?;
                    fs.add_inspections(layer, &paths, again.inspections);
                }
                fs.finish_inspections(keep);
                Ok(ReadImage {
                    fs,
                    cached_layers: 0,
                })
            }
            Content::Blobs(source) => {
                let total: u64 = self.layers.iter().map(|l| l.blob.size).sum();
                progress(Progress::Start {
                    layers: self.layers.len(),
                    bytes: total,
                });
                let next = AtomicUsize::new(0);
                let cached = AtomicUsize::new(0);
                // Largest layers first: the scan takes as long as its biggest layer at least.
                let mut order: Vec<usize> = (0..self.layers.len()).collect();
                order.sort_by_key(|&i| std::cmp::Reverse(self.layers[i].blob.size));
                let workers = threads.clamp(1, self.layers.len().max(1));
                let mut results: Vec<Option<Result<LayerChanges, ImageError>>> =
                    (0..self.layers.len()).map(|_| None).collect();
                std::thread::scope(|scope| {
                    let handles: Vec<_> = (0..workers)
                        .map(|_| {
                            scope.spawn(|| {
                                let mut done = Vec::new();
                                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed))
                                {
                                    let layer = &self.layers[i];
                                    let result = self.read_layer(
                                        source.as_ref(),
                                        layer,
                                        keep,
                                        cache,
                                        &cached,
                                    );
                                    progress(Progress::LayerDone {
                                        bytes: layer.blob.size,
                                        cached: matches!(&result, Ok((_, true))),
                                    });
                                    done.push((i, result.map(|(c, _)| c)));
                                }
                                done
                            })
                        })
                        .collect();
                    for handle in handles {
                        // A panic in a worker is a bug; it surfaces as a missing layer below.
                        for (i, result) in handle.join().unwrap_or_default() {
                            results[i] = Some(result);
                        }
                    }
                });
                let mut fs = MergedFs::new();
                for result in results {
                    let changes = result
                        .ok_or_else(|| ImageError::new(&self.name, "a layer was not read"))??;
                    fs.apply(changes);
                }
                // Files reached under the inspected paths only through a link came in under
                // another path, so the first read did not inspect them: the layers holding their
                // bytes are read again for exactly those files (rare, so neither parallel nor
                // cached).
                for (index, paths) in fs.uninspected(keep) {
                    let layer = self
                        .layers
                        .get(index)
                        .ok_or_else(|| ImageError::new(&self.name, format!("no layer {index}")))?;
                    let only = crate::layers::Only {
                        inner: keep,
                        paths: &paths,
                    };
                    let (again, _) = self.read_uncached(source.as_ref(), layer, &only)?;
                    fs.add_inspections(index, &paths, again.inspections);
                }
                fs.finish_inspections(keep);
                Ok(ReadImage {
                    fs,
                    cached_layers: cached.load(Ordering::Relaxed),
                })
            }
        }
    }

    fn read_layer(
        &self,
        source: &dyn BlobSource,
        layer: &LayerRef,
        keep: &(dyn crate::layers::Select + Sync),
        cache: Option<&LayerCache>,
        cached: &AtomicUsize,
    ) -> Result<(LayerChanges, bool), ImageError> {
        let cache = cache.filter(|_| layer.verify);
        if let Some(cache) = cache {
            // The entry under this blob digest was written from bytes with this digest, so it is
            // this blob's content whoever names it; the diffID it records was hashed from them.
            if let Some((diff_id, changes)) = cache.get(&layer.blob.digest) {
                self.check_diff_id(layer, &diff_id)?;
                cached.fetch_add(1, Ordering::Relaxed);
                return Ok((changes, true));
            }
        }
        let (changes, verified) = self.read_uncached(source, layer, keep)?;
        if let (Some(cache), Some(verified)) = (cache, verified) {
            cache.put(&verified, &changes);
        }
        Ok((changes, false))
    }

    /// Fails when the configuration's diffID for `layer` is not the one hashed from its bytes: a
    /// runtime refuses such an image, and a scan must not take the claim for the content.
    fn check_diff_id(&self, layer: &LayerRef, computed: &str) -> Result<(), ImageError> {
        match &layer.diff_id {
            // Only sha256 diffIDs are hashed; another algorithm is not compared.
            Some(claimed) if claimed.starts_with("sha256:") && claimed != computed => {
                Err(ImageError::new(
                    &self.name,
                    format!(
                        "layer {}: its uncompressed content has diffID {computed}, but the image configuration claims {claimed}",
                        layer.blob.digest
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Reads a layer from its source (never the cache), checking the blob's digest and the
    /// configuration's diffID where they are hashed. Returns the digests computed when both were,
    /// which is what a cache entry may be written under.
    fn read_uncached(
        &self,
        source: &dyn BlobSource,
        layer: &LayerRef,
        keep: &(dyn crate::layers::Select + Sync),
    ) -> Result<(LayerChanges, Option<Verified>), ImageError> {
        if !layer.verify {
            if let Some(mut section) = source.open_blob_seekable(&layer.blob)? {
                let mut magic = [0u8; 4];
                let n = section
                    .read(&mut magic)
                    .map_err(|e| ImageError::new(&self.name, e.to_string()))?;
                section
                    .seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| ImageError::new(&self.name, e.to_string()))?;
                let compressed =
                    magic[..n].starts_with(&[0x1f, 0x8b]) || magic[..n] == [0x28, 0xb5, 0x2f, 0xfd];
                if !compressed {
                    // Skipping contents by seeking is what makes a local archive fast, so this
                    // layer's diffID is not hashed; it is never cached either.
                    let changes =
                        crate::layers::read_plain_layer_seekable(&layer.blob.digest, section, keep)
                            .map_err(|e| ImageError::new(&self.name, e.to_string()))?;
                    return Ok((changes, None));
                }
            }
        }
        let raw = source.open_blob(&layer.blob)?;
        let expected = layer.verify.then_some(layer.blob.digest.as_str());
        let mut verifying = VerifyingReader::new(raw, expected);
        let read = crate::layers::read_layer_digest(&layer.blob.digest, &mut verifying, keep);
        // Whatever the tar reader stopped at, the rest is read: a blob that does not match its
        // digest usually breaks the decompressor first, and the digest is the real finding.
        let drained = std::io::copy(&mut verifying, &mut std::io::sink());
        if let Err(digest) = drained {
            if digest.kind() == std::io::ErrorKind::InvalidData {
                return Err(ImageError::new(
                    &self.name,
                    format!(
                        "layer {}: {}",
                        layer.blob.digest,
                        digest
                            .into_inner()
                            .map(|e| e.to_string())
                            .unwrap_or_default()
                    ),
                ));
            }
            if read.is_ok() {
                return Err(ImageError::new(
                    &self.name,
                    format!("layer {}: {digest}", layer.blob.digest),
                ));
            }
        }
        let (changes, diff_id) = read.map_err(|e| ImageError::new(&self.name, e.to_string()))?;
        self.check_diff_id(layer, &diff_id)?;
        let verified = verifying.verified().then(|| Verified {
            blob_digest: layer.blob.digest.clone(),
            diff_id,
        });
        Ok((changes, verified))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest as _, Sha256};
    use std::collections::HashMap;
    use std::io::Write as _;

    /// Blobs served from memory, by digest, whatever bytes the test puts under a digest.
    #[derive(Debug, Default)]
    struct Blobs(HashMap<String, Vec<u8>>);

    impl BlobSource for Blobs {
        fn open_blob(&self, blob: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
            let bytes = self
                .0
                .get(&blob.digest)
                .ok_or_else(|| ImageError::new("mem", "no blob"))?;
            Ok(Box::new(std::io::Cursor::new(bytes.clone())))
        }
    }

    fn sha256(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    fn tar_of(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, path, content.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A one-layer image: the blob as stored under `digest` (its own unless the test lies), and
    /// the diffID its configuration claims.
    fn image(blob: &[u8], digest: &str, claimed_diff_id: &str) -> OpenedImage {
        let mut blobs = Blobs::default();
        blobs.0.insert(digest.to_owned(), blob.to_vec());
        let mut config = ImageConfig::default();
        config.rootfs.diff_ids = vec![claimed_diff_id.to_owned()];
        let layer = LayerRef {
            blob: Descriptor {
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                digest: digest.to_owned(),
                size: blob.len() as u64,
                platform: None,
                annotations: Default::default(),
                artifact_type: None,
            },
            diff_id: Some(claimed_diff_id.to_owned()),
            verify: true,
        };
        OpenedImage::from_parts("mem".into(), None, config, vec![layer], Box::new(blobs))
    }

    const STATUS: &str = "var/lib/dpkg/status";

    fn read(image: &OpenedImage, cache: &LayerCache) -> Result<ReadImage, ImageError> {
        image.read(&crate::inventory::wanted, Some(cache), 1, &|_| {})
    }

    fn status(read: &ReadImage) -> String {
        String::from_utf8_lossy(read.fs.read(STATUS).unwrap_or_default()).into_owned()
    }

    #[test]
    fn hardening_03_an_image_claiming_a_victims_diff_id_neither_scans_nor_fills_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path(), "t");
        let victim_tar = tar_of(&[(STATUS, "Package: openssl\nVersion: 1.0\n")]);
        let victim_blob = gzip(&victim_tar);
        let victim = image(&victim_blob, &sha256(&victim_blob), &sha256(&victim_tar));
        let clean_tar = tar_of(&[(STATUS, "Package: nothing\nVersion: 9\n")]);
        let attacker_blob = gzip(&clean_tar);
        // Its own blob, honestly digested, but the victim layer's diffID in its configuration.
        let attacker = image(
            &attacker_blob,
            &sha256(&attacker_blob),
            &sha256(&victim_tar),
        );
        let err = read(&attacker, &cache).unwrap_err();
        assert!(
            err.message.contains(&format!(
                "has diffID {}, but the image configuration claims {}",
                sha256(&clean_tar),
                sha256(&victim_tar)
            )),
            "{err}"
        );
        // The same with no cache at all: the claim is checked on every read, fail closed.
        let err = attacker
            .read(&crate::inventory::wanted, None, 1, &|_| {})
            .unwrap_err();
        assert!(err.message.contains("configuration claims"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // An uncompressed layer whose blob digest is the diffID: the attacker names the victim's
        // digest for its own bytes, which fail the digest check, so nothing is cached either.
        let liar = image(&clean_tar, &sha256(&victim_tar), &sha256(&victim_tar));
        let err = read(&liar, &cache).unwrap_err();
        assert!(err.message.contains("does not match digest"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // The genuine image, scanned next with the same cache, shows its own content, and then
        // comes from the cache with the same content.
        for round in 0..2 {
            let read = read(&victim, &cache).unwrap();
            assert_eq!(read.cached_layers, round, "round {round}");
            assert!(status(&read).contains("openssl"), "round {round}");
        }
    }

    #[test]
    fn hardening_03_a_cache_hit_is_checked_against_the_claimed_diff_id() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path(), "t");
        let tar = tar_of(&[(STATUS, "Package: openssl\nVersion: 1.0\n")]);
        let blob = gzip(&tar);
        let genuine = image(&blob, &sha256(&blob), &sha256(&tar));
        read(&genuine, &cache).unwrap();
        assert_eq!(read(&genuine, &cache).unwrap().cached_layers, 1);
        // The same blob under a configuration that claims another diffID: a runtime refuses it,
        // and so does the scan, from the cache as from the blob.
        let other = sha256(b"another layer");
        let claims_other = image(&blob, &sha256(&blob), &other);
        let err = read(&claims_other, &cache).unwrap_err();
        assert!(err.message.contains(&format!("claims {other}")), "{err}");
        // A cache entry can only be named by a blob digest that palisade hashed: an entry planted
        // under a digest by hand (as the old, claim-keyed cache allowed) is a different name.
        let entries: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries,
            [format!(
                "blob-sha256-{}.t",
                sha256_hex(&sha256(&blob)).unwrap()
            )]
        );
    }

    /// Inspects under `models/`, recording each file's content.
    struct Models;
    impl crate::layers::Select for Models {
        fn keep(&self, _: &str) -> bool {
            false
        }
        fn inspects(&self, path: &str) -> bool {
            path.starts_with("models/")
        }
        fn inspect(&self, _: &str, _: u64, content: &mut dyn Read) -> Option<Vec<u8>> {
            let mut bytes = Vec::new();
            content.read_to_end(&mut bytes).ok()?;
            Some(bytes)
        }
        fn inspected_roots(&self) -> Vec<String> {
            vec!["models".into()]
        }
    }

    #[test]
    fn hardening_06_a_root_filesystem_is_read_again_for_models_behind_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("opt/hidden")).unwrap();
        std::fs::write(root.join("opt/hidden/a.pkl"), "A").unwrap();
        // Absolute: resolved inside the root, never on the host.
        std::os::unix::fs::symlink("/opt/hidden", root.join("models")).unwrap();
        let image = open(&Target::Dir(root.to_owned()), &OpenOptions::default()).unwrap();
        let read = image.read(&Models, None, 1, &|_| {}).unwrap();
        let seen: Vec<(&str, &[u8])> = read.fs.inspections().collect();
        assert_eq!(seen, [("models/a.pkl", &b"A"[..])]);
    }
}
