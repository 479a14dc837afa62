//! Merging image layers into the files an inventory needs, without extracting anything to disk.
//!
//! Layers apply in order. A layer's whiteouts (`.wh.<name>`) and opaque markers (`.wh..wh..opq`)
//! hide what *lower* layers put there, whatever their position in the layer's own tar stream; so a
//! layer is read whole before it is applied. Layers are gzip, zstd or plain tar, told apart by
//! their magic bytes.

use std::collections::BTreeMap;
use std::io::Read;

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
#[derive(Debug, Default)]
pub struct MergedFs {
    entries: BTreeMap<String, Entry>,
    /// Inspection results of the files that are still in the view, as the layer that last wrote
    /// each file left them.
    inspections: BTreeMap<String, Vec<u8>>,
}

/// Normalises a tar path: no leading `./` or `/`, no `.` segments; `None` for paths that climb out
/// of the root (`..`), which are ignored rather than trusted.
pub fn clean_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
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
    let stream = PadAtEnd::new(decompress(layer, Box::new(reader))?);
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(|source| LayerError::Io {
        layer: layer.into(),
        source,
    })?;
    let (changes, content_end, last_path) = collect(layer, entries, keep)?;
    // Reading to the end of the stream catches a truncated or corrupt tail (a gzip trailer, the
    // tar end blocks) that the entry iterator alone would not notice.
    let mut rest = archive.into_inner();
    std::io::copy(&mut rest, &mut std::io::sink()).map_err(|e| LayerError::Invalid {
        layer: layer.into(),
        message: format!("corrupt data after the last entry: {e}"),
    })?;
    truncated(layer, rest.real_len, content_end, &last_path)?;
    Ok(changes)
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
        let Some(path) = clean_path(&raw) else {
            continue;
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
            LayerEntry::HardLink(clean_path(&link_target(&entry)?).unwrap_or_default())
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
        // Hide lower layers first, then add this layer's own entries.
        for path in &changes.whiteouts {
            self.remove_tree(path);
        }
        for dir in &changes.opaque {
            let prefix = format!("{dir}/");
            self.entries.retain(|p, _| !p.starts_with(&prefix));
            self.inspections.retain(|p, _| !p.starts_with(&prefix));
        }
        for (path, _) in &changes.entries {
            // Rewritten by this layer: what a lower layer's copy looked like no longer matters.
            self.inspections.remove(path);
        }
        self.inspections.extend(changes.inspections);
        for (path, entry) in changes.entries {
            let entry = match entry {
                LayerEntry::File(content) => Entry::File(content),
                LayerEntry::Symlink(target) => Entry::Symlink(target),
                LayerEntry::Directory => Entry::Directory,
                // A hard link shares its target's content: this layer's entries are applied in
                // stream order, so the target is already in the view whichever layer it came from.
                LayerEntry::HardLink(target) => self
                    .entries
                    .get(&target)
                    .cloned()
                    .unwrap_or(Entry::File(None)),
            };
            self.entries.insert(path, entry);
        }
    }

    fn remove_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        self.entries
            .retain(|p, _| p != path && !p.starts_with(&prefix));
        self.inspections
            .retain(|p, _| p != path && !p.starts_with(&prefix));
    }

    /// What [`Select::inspect`] said of the files in the merged view, by path.
    pub fn inspections(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.inspections
            .iter()
            .map(|(p, r)| (p.as_str(), r.as_slice()))
    }

    /// The content of a kept file, following symlinks (at most 16 hops).
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let mut path = clean_path(path)?;
        for _ in 0..16 {
            match self.entries.get(&path)? {
                Entry::File(Some(content)) => return Some(content),
                Entry::File(None) | Entry::Directory => return None,
                Entry::Symlink(target) => {
                    let base = if target.starts_with('/') {
                        String::new()
                    } else {
                        path.rsplit_once('/')
                            .map(|(d, _)| d.to_owned())
                            .unwrap_or_default()
                    };
                    path = resolve_relative(&base, target)?;
                }
            }
        }
        None
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

/// `base/target` with `..` resolved inside the root (symlinks cannot escape the image).
fn resolve_relative(base: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    enum Item<'a> {
        File(&'a str, &'a str),
        Dir(&'a str),
        Link(&'a str, &'a str),
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
            }
        }
        builder.into_inner().unwrap()
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
        assert_eq!(
            resolve_relative("etc", "../../../usr/lib/os-release"),
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
}
