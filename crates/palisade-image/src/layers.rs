//! Merging image layers into the files an inventory needs, without extracting anything to disk.
//!
//! Layers apply in order. A layer's whiteouts (`.wh.<name>`) and opaque markers (`.wh..wh..opq`)
//! hide what *lower* layers put there, whatever their position in the layer's own tar stream; so a
//! layer is read whole before it is applied. Layers are gzip, zstd or plain tar, told apart by
//! their magic bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::io::Read;

use sha2::{Digest as _, Sha256};

/// The largest file kept in memory; package databases are a few MiB at most.
pub const MAX_KEPT_FILE: u64 = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {layer}: {message}")]
    Invalid { layer: String, message: String },
    #[error("layer {layer}: {source}")]
    Io {
        layer: String,
        source: std::io::Error,
    },
}

/// A file in the merged view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file; its content when the selector asked for it.
    File(Option<Vec<u8>>),
    Symlink(String),
    Directory,
}

/// The merged view of an image's layers: every path, with content for the selected files.
///
/// Entries are applied as a runtime extracts them: a name is cleaned, and its parent directories
/// are resolved through the symlinks already in the view (so `link/x`, where `link -> /opt`, lands
/// at `opt/x`, as containerd writes it).
#[derive(Debug, Default)]
pub struct MergedFs {
    entries: BTreeMap<String, Entry>,
    /// Where each regular file's bytes came from: a hard link shares its target's origin.
    origins: BTreeMap<String, Origin>,
    /// What [`Select::inspect`] said of each file a layer carried, by origin.
    results: HashMap<Origin, Vec<u8>>,
    /// Origins inspected in a later look, beyond what [`Select::inspects`] chose as they streamed.
    inspected_later: HashSet<Origin>,
    /// Layers applied so far.
    layers: usize,
    /// The results as reported, once [`MergedFs::finish_inspections`] has run.
    reported: Option<BTreeMap<String, Vec<u8>>>,
}

/// Where a file's bytes are in the image: the layer (counted from 0 in the order applied) and the
/// entry's cleaned path in that layer's tar.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub layer: usize,
    pub path: String,
}

/// Symlinks followed in one path resolution before it is taken for a loop (Linux's MAXSYMLINKS).
const MAX_SYMLINKS: usize = 40;

/// Normalises a tar path as Docker and containerd do before they extract an entry (Go's
/// `filepath.Clean`): no leading `./` or `/`, no `.` segments, and `..` drops the segment before
/// it, so `models/../models/x.pkl` is `models/x.pkl`, the file a container sees there. `None` for a
/// path that climbs out of the root (`../x`, `a/../../x`): Docker refuses such a layer.
pub fn clean_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn decompress<'a>(
    layer: &str,
    mut reader: Box<dyn Read + 'a>,
) -> Result<Box<dyn Read + 'a>, LayerError> {
    let mut magic = [0u8; 4];
    let mut filled = 0;
    while filled < magic.len() {
        let n = reader
            .read(&mut magic[filled..])
            .map_err(|source| LayerError::Io {
                layer: layer.into(),
                source,
            })?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    let head = std::io::Cursor::new(magic[..filled].to_vec());
    let chained: Box<dyn Read + 'a> = Box::new(head.chain(reader));
    Ok(match &magic[..filled] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(chained)),
        [0x28, 0xb5, 0x2f, 0xfd] => {
            Box::new(zstd::stream::read::Decoder::new(chained).map_err(|source| {
                LayerError::Io {
                    layer: layer.into(),
                    source,
                }
            })?)
        }
        _ => chained,
    })
}

/// What a scan takes from a layer's files as they stream past.
pub trait Select {
    /// Hold this file's content in memory (package databases: small).
    fn keep(&self, path: &str) -> bool;
    /// Whether [`Select::inspect`] wants to see this file.
    fn inspects(&self, _path: &str) -> bool {
        false
    }
    /// Look at a file that is not kept, as it streams (model files: possibly large). The result,
    /// opaque to this crate, is stored with the layer (and cached with it); only results for files
    /// that survive into the merged image are handed back.
    fn inspect(&self, _path: &str, _size: u64, _content: &mut dyn Read) -> Option<Vec<u8>> {
        None
    }
    /// The directories (or files), without a leading `/`, under which [`Select::inspects`] holds.
    /// After the layers are merged, every file a process reaches there is inspected, whatever
    /// path its bytes came in under: through a symlinked directory or file, or as a hard link to
    /// a file elsewhere. Empty: only files streamed under an inspected path are.
    fn inspected_roots(&self) -> Vec<String> {
        Vec::new()
    }
    /// An [`Select::inspect`] result for the file whose bytes came in as `origin`, restated for
    /// the same bytes reached at `path` (a link); `None` drops it.
    fn relabel(&self, result: &[u8], _path: &str, _origin: &str) -> Option<Vec<u8>> {
        Some(result.to_vec())
    }
}

/// A selector that keeps nothing and inspects exactly `paths` (tar paths of one layer, from
/// [`MergedFs::uninspected`]) for its inner selector: the second look at a layer, for files
/// reached only through links.
pub struct Only<'a> {
    pub inner: &'a (dyn Select + Sync),
    pub paths: &'a BTreeSet<String>,
}

impl std::fmt::Debug for Only<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Only").field("paths", &self.paths).finish()
    }
}

impl Select for Only<'_> {
    fn keep(&self, _: &str) -> bool {
        false
    }
    fn inspects(&self, path: &str) -> bool {
        self.paths.contains(path)
    }
    fn inspect(&self, path: &str, size: u64, content: &mut dyn Read) -> Option<Vec<u8>> {
        self.inner.inspect(path, size, content)
    }
}

impl<F: Fn(&str) -> bool> Select for F {
    fn keep(&self, path: &str) -> bool {
        self(path)
    }
}

/// What one layer does to the layers below it. Read independently of the other layers (so layers
/// are read in parallel and cached by diffID), then applied in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerChanges {
    /// Paths this layer's whiteouts hide in lower layers.
    pub whiteouts: Vec<String>,
    /// Directories this layer makes opaque (hiding everything lower layers put inside).
    pub opaque: Vec<String>,
    /// This layer's own entries, in stream order.
    pub entries: Vec<(String, LayerEntry)>,
    /// What [`Select::inspect`] said of this layer's files.
    pub inspections: Vec<(String, Vec<u8>)>,
}

/// An entry as a layer states it; hard links are resolved when the layer is applied, because
/// their target may come from a lower layer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LayerEntry {
    File(Option<Vec<u8>>),
    Symlink(String),
    HardLink(String),
    Directory,
}

/// Reads one layer (gzip, zstd or plain tar) into its changes. `keep` says which files' contents
/// to hold; every other file is recorded by path only.
pub fn read_layer(
    layer: &str,
    reader: impl Read,
    keep: &dyn Select,
) -> Result<LayerChanges, LayerError> {
    read_layer_digest(layer, reader, keep).map(|(changes, _)| changes)
}

/// [`read_layer`], also returning the layer's diffID as read: `sha256:<hex>` of the uncompressed
/// tar, hashed as it streamed. Only a digest computed from the bytes read may name what they
/// produced (a cache entry, a check against the configuration's claim).
pub fn read_layer_digest(
    layer: &str,
    reader: impl Read,
    keep: &dyn Select,
) -> Result<(LayerChanges, String), LayerError> {
    let hashed = HashingReader {
        inner: decompress(layer, Box::new(reader))?,
        hasher: Sha256::new(),
    };
    let stream = PadAtEnd::new(hashed);
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(|source| LayerError::Io {
        layer: layer.into(),
        source,
    })?;
    let (changes, content_end, last_path) = collect(layer, entries, keep)?;
    // Reading to the end of the stream catches a truncated or corrupt tail (a gzip trailer, the
    // tar end blocks) that the entry iterator alone would not notice, and hashes every byte.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| LayerError::Invalid {
        layer: layer.into(),
        message: format!("corrupt data after the last entry: {e}"),
    })?;
    truncated(layer, rest.real_len, content_end, &last_path)?;
    let diff_id = format!("sha256:{}", hex::encode(rest.inner.hasher.finalize()));
    Ok((changes, diff_id))
}

/// Hashes what passes through (the real bytes only: [`PadAtEnd`] wraps it).
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads an uncompressed layer that can be seeked (a member of a local archive): file contents
/// that are not kept are skipped by seeking, so only the headers and the kept files are read.
pub fn read_plain_layer_seekable<R: Read + std::io::Seek>(
    layer: &str,
    mut reader: R,
    keep: &dyn Select,
) -> Result<LayerChanges, LayerError> {
    let io = |source: std::io::Error| LayerError::Io {
        layer: layer.into(),
        source,
    };
    let len = reader.seek(std::io::SeekFrom::End(0)).map_err(io)?;
    reader.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries_with_seek().map_err(io)?;
    let (changes, content_end, last_path) = collect(layer, entries, keep)?;
    truncated(layer, len, content_end, &last_path)?;
    Ok(changes)
}

fn truncated(layer: &str, len: u64, content_end: u64, last_path: &str) -> Result<(), LayerError> {
    if len < content_end {
        return Err(LayerError::Invalid {
            layer: layer.into(),
            message: format!(
                "truncated: the stream ends at byte {len} inside {last_path}, whose content runs to byte {content_end}"
            ),
        });
    }
    Ok(())
}

/// The changes a layer's entries make; also where the last entry's content ends in the stream and
/// its path, to tell a layer that only lacks its end-of-archive blocks from one cut short.
fn collect<R: Read>(
    layer: &str,
    entries: tar::Entries<'_, R>,
    keep: &dyn Select,
) -> Result<(LayerChanges, u64, String), LayerError> {
    let invalid = |message: String| LayerError::Invalid {
        layer: layer.into(),
        message,
    };
    let mut changes = LayerChanges::default();
    let mut content_end = 0u64;
    let mut last_path = String::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| invalid(format!("unreadable tar entry: {e}")))?;
        let raw = entry
            .path()
            .map_err(|e| invalid(format!("bad path: {e}")))?
            .to_string_lossy()
            .into_owned();
        // Cleaned as the runtime cleans it, so `models/../models/x.pkl` is seen where it lands.
        let Some(path) = clean_path(&raw) else {
            return Err(invalid(format!(
                "entry {raw:?} climbs out of the image root (Docker refuses such a layer)"
            )));
        };
        if path.is_empty() {
            continue;
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if name == ".wh..wh..opq" {
            changes.opaque.push(dir.to_owned());
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            changes.whiteouts.push(if dir.is_empty() {
                hidden.to_owned()
            } else {
                format!("{dir}/{hidden}")
            });
            continue;
        }
        let kind = entry.header().entry_type();
        content_end = entry.raw_file_position() + entry.size();
        last_path.clone_from(&path);
        let link_target = |entry: &tar::Entry<'_, _>| -> Result<String, LayerError> {
            Ok(entry
                .link_name()
                .map_err(|e| invalid(format!("bad link in {path}: {e}")))?
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default())
        };
        let item = if kind.is_dir() {
            LayerEntry::Directory
        } else if kind.is_symlink() {
            LayerEntry::Symlink(link_target(&entry)?)
        } else if kind.is_hard_link() {
            let target = link_target(&entry)?;
            LayerEntry::HardLink(clean_path(&target).ok_or_else(|| {
                invalid(format!(
                    "hard link {path} to {target:?} climbs out of the image root"
                ))
            })?)
        } else if kind.is_file() {
            if keep.keep(&path) {
                let size = entry
                    .header()
                    .size()
                    .map_err(|e| invalid(format!("bad size for {path}: {e}")))?;
                if size > MAX_KEPT_FILE {
                    return Err(invalid(format!("{path} is {size} bytes, over the {MAX_KEPT_FILE}-byte limit for package databases")));
                }
                let mut content = Vec::with_capacity(size as usize);
                entry
                    .read_to_end(&mut content)
                    .map_err(|e| invalid(format!("truncated content of {path}: {e}")))?;
                LayerEntry::File(Some(content))
            } else {
                if keep.inspects(&path) {
                    let size = entry.size();
                    if let Some(result) = keep.inspect(&path, size, &mut entry) {
                        changes.inspections.push((path.clone(), result));
                    }
                }
                LayerEntry::File(None)
            }
        } else {
            continue;
        };
        changes.entries.push((path, item));
    }
    Ok((changes, content_end, last_path))
}

/// Some image builders (umoci 0.4's `insert`, seen here) end a layer right after the last file's
/// content, without the padding and end-of-archive blocks. The content is complete and the diffID
/// covers exactly those bytes, so such a layer is read: at the end of the real stream this supplies
/// zero padding and the end blocks. Whether real content was cut short is checked separately,
/// against where the last entry's content ends (`real_len`), so a truncated layer is still an error.
struct PadAtEnd<R> {
    inner: R,
    real_len: u64,
    /// Synthetic zero bytes left to serve once the real stream has ended.
    pad_left: Option<u64>,
}

impl<R: Read> PadAtEnd<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            real_len: 0,
            pad_left: None,
        }
    }
}

impl<R: Read> Read for PadAtEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pad_left.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 {
                self.real_len += n as u64;
                return Ok(n);
            }
            let to_block = (512 - self.real_len % 512) % 512;
            self.pad_left = Some(to_block + 1024);
        }
        let left = self.pad_left.unwrap_or(0);
        let n = (left.min(buf.len() as u64)) as usize;
        buf[..n].fill(0);
        self.pad_left = Some(left - n as u64);
        Ok(n)
    }
}

impl MergedFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads and applies one layer (compressed or not). `keep` says which files' contents to hold.
    pub fn apply_layer(
        &mut self,
        layer: &str,
        reader: impl Read,
        keep: &dyn Select,
    ) -> Result<(), LayerError> {
        let changes = read_layer(layer, reader, keep)?;
        self.apply(changes);
        Ok(())
    }

    /// Applies a layer's changes on top of the layers applied so far.
    pub fn apply(&mut self, changes: LayerChanges) {
        let layer = self.layers;
        self.layers += 1;
        self.reported = None;
        // Hide lower layers first, then add this layer's own entries. A whiteout names a path
        // as the layer's tar does; the runtime resolves its directory in the image as it stands.
        for path in &changes.whiteouts {
            if let Some(real) = self.resolve(path, false) {
                self.remove_tree(&real);
            }
        }
        for dir in &changes.opaque {
            if let Some(real) = self.resolve(dir, true) {
                self.remove_children(&real);
            }
        }
        for (path, result) in changes.inspections {
            self.results.insert(Origin { layer, path }, result);
        }
        // Where each parent directory resolves to, as long as no symlink changes: a layer's
        // entries share a few directories, and resolving each path afresh would cost a lookup
        // per component per entry.
        let mut parents: HashMap<String, Option<String>> = HashMap::new();
        for (path, entry) in changes.entries {
            let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            let real_dir = match parents.get(dir) {
                Some(real) => real.clone(),
                None => {
                    let real = self.resolve(dir, true);
                    parents.insert(dir.to_owned(), real.clone());
                    real
                }
            };
            // A loop in the parent directories: the runtime fails to extract the layer, so there
            // is nothing to place.
            let Some(real_dir) = real_dir else {
                continue;
            };
            let real = if real_dir.is_empty() {
                name.to_owned()
            } else {
                format!("{real_dir}/{name}")
            };
            let (entry, origin) = match entry {
                LayerEntry::File(content) => (Entry::File(content), Some(Origin { layer, path })),
                LayerEntry::Symlink(target) => (Entry::Symlink(target), None),
                LayerEntry::Directory => (Entry::Directory, None),
                // A hard link shares its target's bytes: this layer's entries are applied in
                // stream order, so the target is already in the view whichever layer it came
                // from. Its directory resolves like any path; the link itself is not followed.
                LayerEntry::HardLink(target) => match self.resolve(&target, false) {
                    Some(target) => (
                        self.entries
                            .get(&target)
                            .cloned()
                            .unwrap_or(Entry::File(None)),
                        self.origins.get(&target).cloned(),
                    ),
                    None => (Entry::File(None), None),
                },
            };
            if self.insert(real, entry, origin) {
                parents.clear();
            }
        }
    }

    /// Places an entry, replacing what was there; a directory over a directory merges with it.
    /// Returns whether a symlink came or went, which changes where paths resolve.
    fn insert(&mut self, path: String, entry: Entry, origin: Option<Origin>) -> bool {
        use std::collections::btree_map::Entry as Slot;
        let is_dir = matches!(entry, Entry::Directory);
        let is_link = matches!(entry, Entry::Symlink(_));
        match origin {
            Some(origin) => self.origins.insert(path.clone(), origin),
            None => self.origins.remove(&path),
        };
        match self.entries.entry(path) {
            Slot::Vacant(slot) => {
                // No entry, but perhaps a directory implied by paths under it, which the runtime
                // removes before it writes anything else there.
                let path = slot.key().clone();
                slot.insert(entry);
                let implied = !is_dir && self.remove_children(&path);
                is_link || implied
            }
            Slot::Occupied(mut slot) => {
                let old = slot.insert(entry);
                match old {
                    Entry::Directory if is_dir => false,
                    Entry::Directory => {
                        let path = slot.key().clone();
                        self.remove_children(&path);
                        true
                    }
                    Entry::Symlink(_) => true,
                    Entry::File(_) => is_link,
                }
            }
        }
    }

    fn remove_tree(&mut self, path: &str) {
        self.entries.remove(path);
        self.origins.remove(path);
        self.remove_children(path);
    }

    /// Removes everything under `dir`, by range: a layer that replaces many directories costs
    /// what it removes, not a pass over the whole view each time. Returns whether there was any.
    fn remove_children(&mut self, dir: &str) -> bool {
        if dir.is_empty() {
            let any = !self.entries.is_empty();
            self.entries.clear();
            self.origins.clear();
            return any;
        }
        let prefix = format!("{dir}/");
        let under: Vec<String> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect();
        let any = !under.is_empty();
        for path in under {
            self.entries.remove(&path);
            self.origins.remove(&path);
        }
        any
    }

    /// `path` with the symlinks in it followed inside the image root, as the kernel follows them
    /// under chroot: an absolute target starts at the root, `..` at the root stays there, and
    /// `..` after a symlink climbs from where the link points. `follow_last`: whether a symlink
    /// in the last component is followed too. `None` for a loop (over [`MAX_SYMLINKS`] links).
    pub fn resolve(&self, path: &str, follow_last: bool) -> Option<String> {
        let mut todo: VecDeque<&str> = path.split('/').collect();
        let mut done: Vec<&str> = Vec::new();
        let mut followed = 0;
        while let Some(part) = todo.pop_front() {
            match part {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => done.push(part),
            }
            let last = todo.iter().all(|p| p.is_empty() || *p == ".");
            if last && !follow_last {
                continue;
            }
            if let Some(Entry::Symlink(target)) = self.entries.get(&done.join("/")) {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    return None;
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                for part in target.split('/').rev() {
                    todo.push_front(part);
                }
            }
        }
        Some(done.join("/"))
    }

    /// Every regular file a process in the image reaches at or under each of `roots`, following
    /// symlinks inside the image root: (the path it is reached at, where its bytes came from).
    /// Each real directory is walked once, also when a walk of a directory above it already
    /// covered it, so links that loop, fan out or point into subdirectories cannot multiply it.
    pub fn reachable(&self, roots: &[String]) -> Vec<(String, Option<Origin>)> {
        let mut found = Vec::new();
        let mut walked = HashSet::new();
        let mut queue: Vec<(String, String)> = roots
            .iter()
            .filter_map(|root| {
                let view = clean_path(root)?;
                let real = self.resolve(&view, true)?;
                Some((view, real))
            })
            .collect();
        queue.reverse();
        while let Some((view, real)) = queue.pop() {
            match self.entries.get(&real) {
                Some(Entry::File(_)) => {
                    found.push((view, self.origins.get(&real).cloned()));
                    continue;
                }
                Some(Entry::Symlink(_)) => continue,
                // A directory, or one implied by the paths under it.
                Some(Entry::Directory) | None => {}
            }
            if !walked.insert(real.clone()) {
                continue;
            }
            let prefix = if real.is_empty() {
                String::new()
            } else {
                format!("{real}/")
            };
            let mut links = Vec::new();
            for (path, entry) in self
                .entries
                .range(prefix.clone()..)
                .take_while(|(p, _)| p.starts_with(&prefix))
            {
                // Every directory under this one is walked by this walk: a link into it later
                // must not walk it again (links to subdirectories, nested, would multiply it).
                let mut dir = match entry {
                    Entry::Directory => Some(path.as_str()),
                    _ => path.rsplit_once('/').map(|(parent, _)| parent),
                };
                while let Some(d) = dir.filter(|d| d.len() > real.len()) {
                    if !walked.insert(d.to_owned()) {
                        break;
                    }
                    dir = d.rsplit_once('/').map(|(parent, _)| parent);
                }
                let rest = &path[prefix.len()..];
                let at = if view.is_empty() {
                    rest.to_owned()
                } else {
                    format!("{view}/{rest}")
                };
                match entry {
                    Entry::File(_) => found.push((at, self.origins.get(path).cloned())),
                    Entry::Symlink(_) => {
                        if let Some(target) = self.resolve(path, true) {
                            links.push((at, target));
                        }
                    }
                    Entry::Directory => {}
                }
            }
            // Depth first, in path order.
            queue.extend(links.into_iter().rev());
        }
        found
    }

    /// The files reached under the selector's inspected roots whose bytes it has not seen (they
    /// came in under another path): by layer, the tar paths to inspect in a second look.
    pub fn uninspected(&self, select: &dyn Select) -> BTreeMap<usize, BTreeSet<String>> {
        let mut wanted: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
        for (_, origin) in self.reachable(&select.inspected_roots()) {
            let Some(origin) = origin else { continue };
            if !select.inspects(&origin.path) && !self.inspected_later.contains(&origin) {
                wanted.entry(origin.layer).or_default().insert(origin.path);
            }
        }
        wanted
    }

    /// Records a second look at `layer`: every path in `paths` was inspected, with these results.
    pub fn add_inspections(
        &mut self,
        layer: usize,
        paths: &BTreeSet<String>,
        results: Vec<(String, Vec<u8>)>,
    ) {
        for path in paths {
            self.inspected_later.insert(Origin {
                layer,
                path: path.clone(),
            });
        }
        for (path, result) in results {
            self.results.insert(Origin { layer, path }, result);
        }
        self.reported = None;
    }

    /// Settles what [`MergedFs::inspections`] reports: with inspected roots, every file reached
    /// under them, under the path it is reached at (a link's own path, restated by
    /// [`Select::relabel`]); without, the inspected files where they are.
    pub fn finish_inspections(&mut self, select: &dyn Select) {
        let roots = select.inspected_roots();
        if roots.is_empty() {
            self.reported = None;
            return;
        }
        let mut reported = BTreeMap::new();
        for (at, origin) in self.reachable(&roots) {
            let Some(origin) = origin else { continue };
            let Some(result) = self.results.get(&origin) else {
                continue;
            };
            let result = if at == origin.path {
                Some(result.clone())
            } else {
                select.relabel(result, &at, &origin.path)
            };
            if let Some(result) = result {
                reported.insert(at, result);
            }
        }
        self.reported = Some(reported);
    }

    /// What [`Select::inspect`] said of the files in the merged view, by path.
    pub fn inspections(&self) -> Box<dyn Iterator<Item = (&str, &[u8])> + '_> {
        match &self.reported {
            Some(reported) => Box::new(reported.iter().map(|(p, r)| (p.as_str(), r.as_slice()))),
            None => Box::new(self.origins.iter().filter_map(|(p, origin)| {
                Some((p.as_str(), self.results.get(origin)?.as_slice()))
            })),
        }
    }

    /// The content of a kept file, following symlinks inside the image root.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let real = self.resolve(path, true)?;
        match self.entries.get(&real)? {
            Entry::File(Some(content)) => Some(content),
            _ => None,
        }
    }

    /// Every path in the merged view.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The kept files, with their contents.
    pub fn kept(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().filter_map(|(p, e)| match e {
            Entry::File(Some(content)) => Some((p.as_str(), content.as_slice())),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    enum Item<'a> {
        File(&'a str, &'a str),
        Dir(&'a str),
        Link(&'a str, &'a str),
        HardLink(&'a str, &'a str),
        /// A file whose name is written into the header as is (the tar crate refuses `..`).
        RawName(&'a str, &'a str),
    }

    fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for item in items {
            let mut header = tar::Header::new_gnu();
            match item {
                Item::File(path, content) => {
                    header.set_size(content.len() as u64);
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    builder
                        .append_data(&mut header, path, content.as_bytes())
                        .unwrap();
                }
                Item::Dir(path) => {
                    header.set_size(0);
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    builder.append_data(&mut header, path, &[][..]).unwrap();
                }
                Item::Link(path, target) => {
                    header.set_size(0);
                    header.set_entry_type(tar::EntryType::Symlink);
                    builder.append_link(&mut header, path, target).unwrap();
                }
                Item::HardLink(path, target) => {
                    header.set_size(0);
                    header.set_entry_type(tar::EntryType::Link);
                    set_raw_name(&mut header, path);
                    header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
                    header.set_cksum();
                    builder.append(&header, &[][..]).unwrap();
                }
                Item::RawName(path, content) => {
                    header.set_size(content.len() as u64);
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    set_raw_name(&mut header, path);
                    header.set_cksum();
                    builder.append(&header, content.as_bytes()).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    fn set_raw_name(header: &mut tar::Header, name: &str) {
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    const SITE: &str = "opt/venv/lib/python3.11/site-packages";

    fn keep(path: &str) -> bool {
        path.ends_with("/METADATA") || path.ends_with("os-release") || path == "var/lib/dpkg/status"
    }

    #[test]
    fn whiteouts_and_opaque_directories_hide_lower_layers_in_any_entry_order() {
        let base = tar_of(&[
            Item::File("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            Item::Link("etc/os-release", "../usr/lib/os-release"),
            Item::File(
                "var/lib/dpkg/status",
                "Package: base-files\nStatus: install ok installed\nVersion: 12.4\n",
            ),
        ]);
        let venv = tar_of(&[
            Item::Dir(SITE),
            Item::File(
                &format!("{SITE}/flask-2.2.2.dist-info/METADATA"),
                "Name: Flask\nVersion: 2.2.2\n",
            ),
            Item::File(
                &format!("{SITE}/itsdangerous-2.1.2.dist-info/METADATA"),
                "Name: itsdangerous\nVersion: 2.1.2\n",
            ),
            Item::File("opt/cache/a", "x"),
        ]);
        let whiteout = tar_of(&[Item::File(
            &format!("{SITE}/.wh.itsdangerous-2.1.2.dist-info"),
            "",
        )]);
        // The new content comes before the opaque marker: it must survive it.
        let opaque = tar_of(&[
            Item::File("opt/cache/b", "y"),
            Item::File("opt/cache/.wh..wh..opq", ""),
        ]);
        let mut fs = MergedFs::new();
        fs.apply_layer("1", &gzip(&base)[..], &keep).unwrap();
        fs.apply_layer("2", &zstd::encode_all(&venv[..], 1).unwrap()[..], &keep)
            .unwrap();
        fs.apply_layer("3", &whiteout[..], &keep).unwrap();
        fs.apply_layer("4", &gzip(&opaque)[..], &keep).unwrap();
        let kept: Vec<&str> = fs.kept().map(|(p, _)| p).collect();
        assert_eq!(
            kept,
            [
                &*format!("{SITE}/flask-2.2.2.dist-info/METADATA"),
                "usr/lib/os-release",
                "var/lib/dpkg/status"
            ]
        );
        assert_eq!(
            fs.read("etc/os-release"),
            Some(&b"ID=debian\nVERSION_ID=\"12\"\n"[..])
        );
        let cache: Vec<&str> = fs.paths().filter(|p| p.starts_with("opt/cache/")).collect();
        assert_eq!(cache, ["opt/cache/b"]);
    }

    /// Records the size and first byte of every file under `models/`.
    struct Peek;
    impl Select for Peek {
        fn keep(&self, _: &str) -> bool {
            false
        }
        fn inspects(&self, path: &str) -> bool {
            path.starts_with("models/")
        }
        fn inspect(&self, _: &str, size: u64, content: &mut dyn Read) -> Option<Vec<u8>> {
            let mut first = [0u8; 1];
            content.read_exact(&mut first).ok()?;
            Some(format!("{size}:{}", first[0] as char).into_bytes())
        }
    }

    #[test]
    fn inspections_follow_the_files_through_the_layers() {
        let one = tar_of(&[
            Item::File("models/a.pkl", "AAAA"),
            Item::File("models/b.pkl", "BB"),
            Item::File("models/gone/c.pkl", "C"),
            Item::File("models/opaque/d.pkl", "D"),
            Item::File("other/e.pkl", "E"),
        ]);
        let two = tar_of(&[
            Item::File("models/b.pkl", "bbb"),
            Item::File("models/.wh.gone", ""),
            Item::File("models/opaque/.wh..wh..opq", ""),
        ]);
        let mut fs = MergedFs::new();
        fs.apply_layer("1", &one[..], &Peek).unwrap();
        fs.apply_layer("2", &gzip(&two)[..], &Peek).unwrap();
        let seen: Vec<(&str, &[u8])> = fs.inspections().collect();
        assert_eq!(
            seen,
            [("models/a.pkl", &b"4:A"[..]), ("models/b.pkl", &b"3:b"[..])]
        );
        // The seekable reader inspects too.
        let changes =
            read_plain_layer_seekable("1", std::io::Cursor::new(&one[..]), &Peek).unwrap();
        assert_eq!(changes.inspections.len(), 4);
    }

    #[test]
    fn a_layer_without_end_blocks_is_read_but_cut_content_is_an_error() {
        let tar = tar_of(&[
            Item::File("var/lib/dpkg/status", "Package: a\nVersion: 1\n"),
            Item::File("opt/venv/pyvenv.cfg", "home = /usr/bin\n"),
        ]);
        // The last file's content ends here: no padding, no end-of-archive blocks.
        let content_end = 512 * 3 + "home = /usr/bin\n".len();
        let changes = read_layer("umoci", &gzip(&tar[..content_end])[..], &keep).unwrap();
        assert_eq!(changes.entries.len(), 2);
        assert_eq!(
            changes.entries[0].1,
            LayerEntry::File(Some(b"Package: a\nVersion: 1\n".to_vec()))
        );
        let seekable =
            read_plain_layer_seekable("umoci", std::io::Cursor::new(&tar[..content_end]), &keep)
                .unwrap();
        assert_eq!(seekable, changes);
        assert_eq!(
            read_plain_layer_seekable("whole", std::io::Cursor::new(&tar[..]), &keep).unwrap(),
            changes
        );
        for cut in [content_end - 1, 512 * 3 + 1, 512 * 2 + 100] {
            let err = read_layer("cut", &tar[..cut], &keep).unwrap_err();
            assert!(err.to_string().contains("layer cut"), "{cut}: {err}");
            let err = read_plain_layer_seekable("cut", std::io::Cursor::new(&tar[..cut]), &keep)
                .unwrap_err();
            assert!(
                err.to_string().contains("layer cut"),
                "seekable {cut}: {err}"
            );
        }
    }

    #[test]
    fn path_tricks_are_ignored_and_broken_layers_are_errors() {
        let evil = tar_of(&[Item::File("ok", "1")]);
        let mut fs = MergedFs::new();
        fs.apply_layer("evil", &evil[..], &keep).unwrap();
        assert_eq!(clean_path("../../etc/passwd"), None);
        assert_eq!(clean_path("./a//b/./c"), Some("a/b/c".into()));
        let links = tar_of(&[Item::Link("etc/os-release", "../../../usr/lib/os-release")]);
        let mut fs = MergedFs::new();
        fs.apply_layer("links", &links[..], &keep).unwrap();
        assert_eq!(
            fs.resolve("etc/os-release", true),
            Some("usr/lib/os-release".into())
        );
        let gz = gzip(&tar_of(&[Item::File(
            "var/lib/dpkg/status",
            &"Package: a\n".repeat(2000),
        )]));
        let err = MergedFs::new()
            .apply_layer("sha256:abc", &gz[..gz.len() / 2], &keep)
            .unwrap_err();
        assert!(err.to_string().starts_with("layer sha256:abc"), "{err}");
        let tar = tar_of(&[Item::File(
            "var/lib/dpkg/status",
            &"Package: a\n".repeat(200),
        )]);
        let err = MergedFs::new()
            .apply_layer("t", &tar[..700], &keep)
            .unwrap_err();
        assert!(err.to_string().contains("layer t"), "{err}");
    }

    /// Inspects under `models/` (and says so), recording each file's content; relabels with the
    /// path it is reached at.
    struct Models;
    impl Select for Models {
        fn keep(&self, path: &str) -> bool {
            keep(path)
        }
        fn inspects(&self, path: &str) -> bool {
            path.starts_with("models/")
        }
        fn inspect(&self, path: &str, _: u64, content: &mut dyn Read) -> Option<Vec<u8>> {
            let mut text = String::new();
            content.read_to_string(&mut text).ok()?;
            Some(format!("{path}={text}").into_bytes())
        }
        fn inspected_roots(&self) -> Vec<String> {
            vec!["models".into()]
        }
        fn relabel(&self, result: &[u8], path: &str, origin: &str) -> Option<Vec<u8>> {
            Some(format!("{path}<-{origin}:{}", String::from_utf8_lossy(result)).into_bytes())
        }
    }

    /// Merges `layers` as an image read does: a first pass, a second look at the layers for
    /// files reached only through links, then the report.
    fn merged_with_second_look(layers: &[Vec<u8>]) -> MergedFs {
        let mut fs = MergedFs::new();
        for (i, layer) in layers.iter().enumerate() {
            fs.apply_layer(&i.to_string(), &layer[..], &Models).unwrap();
        }
        for (layer, paths) in fs.uninspected(&Models) {
            let only = Only {
                inner: &Models,
                paths: &paths,
            };
            let again = read_layer("again", &layers[layer][..], &only).unwrap();
            fs.add_inspections(layer, &paths, again.inspections);
        }
        fs.finish_inspections(&Models);
        fs
    }

    fn reported(fs: &MergedFs) -> Vec<(String, String)> {
        fs.inspections()
            .map(|(p, r)| (p.to_owned(), String::from_utf8_lossy(r).into_owned()))
            .collect()
    }

    #[test]
    fn hardening_06_dot_dot_names_are_cleaned_as_the_runtime_cleans_them() {
        assert_eq!(
            clean_path("models/../models/x.pkl"),
            Some("models/x.pkl".into())
        );
        assert_eq!(clean_path("a/b/../../c"), Some("c".into()));
        assert_eq!(clean_path("a/../../c"), None);
        assert_eq!(clean_path("/../c"), None);
        let layer = tar_of(&[
            Item::RawName("models/../models/x.pkl", "evil"),
            Item::RawName("./models/./sub/../y.pkl", "evil2"),
            Item::RawName(
                &format!("{SITE}/../site-packages/evil-1.0.dist-info/METADATA"),
                "Name: evil\nVersion: 1.0\n",
            ),
        ]);
        let fs = merged_with_second_look(std::slice::from_ref(&layer));
        assert_eq!(
            reported(&fs),
            [
                ("models/x.pkl".into(), "models/x.pkl=evil".into()),
                ("models/y.pkl".into(), "models/y.pkl=evil2".into()),
            ]
        );
        // The same trick hides no Python package: the metadata is kept where pip would find it.
        assert_eq!(
            fs.read(&format!("{SITE}/evil-1.0.dist-info/METADATA")),
            Some(&b"Name: evil\nVersion: 1.0\n"[..])
        );
        // Seekable reading cleans the same way.
        let seekable =
            read_plain_layer_seekable("s", std::io::Cursor::new(&layer[..]), &Models).unwrap();
        assert_eq!(seekable, read_layer("s", &layer[..], &Models).unwrap());
        // A name (or a hard link target) that climbs out of the root is an error, not skipped.
        for layer in [
            tar_of(&[Item::RawName("../models/x.pkl", "evil")]),
            tar_of(&[Item::RawName("models/../../x.pkl", "evil")]),
            tar_of(&[Item::HardLink("models/x.pkl", "../etc/x.pkl")]),
        ] {
            let err = read_layer("up", &layer[..], &Models).unwrap_err();
            assert!(
                err.to_string().contains("climbs out of the image root"),
                "{err}"
            );
            let err = read_plain_layer_seekable("up", std::io::Cursor::new(&layer[..]), &Models)
                .unwrap_err();
            assert!(
                err.to_string().contains("climbs out of the image root"),
                "{err}"
            );
        }
    }

    #[test]
    fn hardening_06_links_into_subdirectories_cannot_multiply_the_walk() {
        // A chain of nested directories, and beside them a link to each: a walk that walked
        // each link's target again would list every file once per level above it.
        let depth = 40;
        let mut dir = String::from("models");
        let mut files = Vec::new();
        let mut links = Vec::new();
        for i in 0..depth {
            files.push((format!("{dir}/f{i}.pkl"), "x"));
            dir = format!("{dir}/d{i}");
            links.push((format!("models/l{i}"), format!("/{dir}")));
        }
        let items: Vec<Item<'_>> = files
            .iter()
            .map(|(p, c)| Item::File(p, c))
            .chain(links.iter().map(|(p, t)| Item::Link(p, t)))
            .collect();
        let fs = merged_with_second_look(&[tar_of(&items)]);
        let got = reported(&fs);
        assert_eq!(got.len(), depth, "{got:?}");
    }

    #[test]
    fn hardening_06_model_paths_are_followed_through_symlinks_inside_the_root() {
        let hidden = tar_of(&[
            Item::File("opt/hidden/a.pkl", "A"),
            Item::File("opt/hidden/deep/b.pkl", "B"),
            Item::File("srv/c.pkl", "C"),
            Item::File("srv/elsewhere.pkl", "E"),
        ]);
        let links = tar_of(&[
            // The directory itself is a link, absolute; inside it, a relative link that climbs
            // past the root (chroot keeps it inside), a file link, and links that loop.
            Item::Link("models", "/opt/hidden"),
            Item::Link("opt/hidden/srv", "../../../../srv"),
            Item::Link("opt/hidden/c-link.pkl", "srv/c.pkl"),
            Item::Link("opt/hidden/self", "."),
            Item::Link("opt/hidden/up", "../hidden"),
            Item::Link("opt/hidden/ping", "pong"),
            Item::Link("opt/hidden/pong", "ping"),
        ]);
        let fs = merged_with_second_look(&[hidden, links]);
        let got = reported(&fs);
        let at: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            at,
            [
                "models/a.pkl",
                "models/c-link.pkl",
                "models/deep/b.pkl",
                "models/srv/c.pkl",
                "models/srv/elsewhere.pkl"
            ]
        );
        assert_eq!(
            got[0].1,
            "models/a.pkl<-opt/hidden/a.pkl:opt/hidden/a.pkl=A"
        );
        assert_eq!(got[1].1, "models/c-link.pkl<-srv/c.pkl:srv/c.pkl=C");
        assert_eq!(fs.resolve("opt/hidden/ping", true), None, "a loop");
        assert_eq!(
            fs.resolve("models/up/up/up/a.pkl", true),
            Some("opt/hidden/a.pkl".into())
        );
    }

    #[test]
    fn hardening_06_entries_under_a_symlinked_directory_land_where_the_runtime_writes_them() {
        // `opt/link -> /models` first; then a layer (and later the same layer) writes through it.
        let first = tar_of(&[Item::Link("opt/link", "/models"), Item::Dir("models")]);
        let second = tar_of(&[
            Item::File("opt/link/x.pkl", "X"),
            Item::Link("tmp/l2", "../models/sub"),
            Item::Dir("models/sub"),
            Item::File("tmp/l2/y.pkl", "Y"),
        ]);
        let fs = merged_with_second_look(&[first, second]);
        let paths: Vec<&str> = fs.paths().collect();
        assert_eq!(
            paths,
            [
                "models",
                "models/sub",
                "models/sub/y.pkl",
                "models/x.pkl",
                "opt/link",
                "tmp/l2"
            ]
        );
        assert_eq!(
            reported(&fs),
            [
                (
                    "models/sub/y.pkl".into(),
                    "models/sub/y.pkl<-tmp/l2/y.pkl:tmp/l2/y.pkl=Y".into()
                ),
                (
                    "models/x.pkl".into(),
                    "models/x.pkl<-opt/link/x.pkl:opt/link/x.pkl=X".into()
                ),
            ]
        );
        // A symlink written over a directory (here one only implied by a file under it) replaces
        // it, and what follows in the same layer goes through the new link.
        let replaced = tar_of(&[
            Item::File("d/old.pkl", "OLD"),
            Item::Link("d", "/models"),
            Item::File("d/new.pkl", "NEW"),
        ]);
        let fs = merged_with_second_look(&[replaced]);
        assert_eq!(fs.paths().collect::<Vec<_>>(), ["d", "models/new.pkl"]);
        // A whiteout through the link removes the real file.
        let third = tar_of(&[Item::File("opt/link/.wh.x.pkl", "")]);
        let mut fs = MergedFs::new();
        for (i, layer) in [
            tar_of(&[
                Item::Link("opt/link", "/models"),
                Item::File("models/x.pkl", "X"),
            ]),
            third,
        ]
        .iter()
        .enumerate()
        {
            fs.apply_layer(&i.to_string(), &layer[..], &Models).unwrap();
        }
        assert_eq!(fs.paths().collect::<Vec<_>>(), ["opt/link"]);
    }

    #[test]
    fn hardening_06_a_hard_link_is_reported_under_its_own_path_with_its_targets_content() {
        let base = tar_of(&[
            Item::File("opt/hidden/evil.pkl", "EVIL"),
            Item::File("models/good.pkl", "GOOD"),
        ]);
        let links = tar_of(&[
            // To a file outside the model paths (a lower layer), and to one inside.
            Item::HardLink("models/x.pkl", "opt/hidden/evil.pkl"),
            Item::HardLink("models/y.pkl", "models/good.pkl"),
            // Written later over the target's path: the link keeps the bytes it was made with.
            Item::File("opt/hidden/evil.pkl", "replaced"),
        ]);
        let fs = merged_with_second_look(&[base, links]);
        assert_eq!(
            reported(&fs),
            [
                ("models/good.pkl".into(), "models/good.pkl=GOOD".into()),
                (
                    "models/x.pkl".into(),
                    "models/x.pkl<-opt/hidden/evil.pkl:opt/hidden/evil.pkl=EVIL".into()
                ),
                (
                    "models/y.pkl".into(),
                    "models/y.pkl<-models/good.pkl:models/good.pkl=GOOD".into()
                ),
            ]
        );
    }
}
