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

enum Change {
    Whiteout(String),
    Opaque(String),
    Put(String, Entry),
}

impl MergedFs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one layer (compressed or not). `keep` says which files' contents to hold.
    pub fn apply_layer(
        &mut self,
        layer: &str,
        reader: impl Read,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), LayerError> {
        let invalid = |message: String| LayerError::Invalid {
            layer: layer.into(),
            message,
        };
        let io = |source: std::io::Error| LayerError::Io {
            layer: layer.into(),
            source,
        };
        let stream = decompress(layer, Box::new(reader))?;
        let mut archive = tar::Archive::new(stream);
        let mut changes = Vec::new();
        let entries = archive.entries().map_err(io)?;
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
                changes.push(Change::Opaque(dir.to_owned()));
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                changes.push(Change::Whiteout(if dir.is_empty() {
                    hidden.to_owned()
                } else {
                    format!("{dir}/{hidden}")
                }));
                continue;
            }
            let kind = entry.header().entry_type();
            let item = if kind.is_dir() {
                Entry::Directory
            } else if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .map_err(|e| invalid(format!("bad link in {path}: {e}")))?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Entry::Symlink(target)
            } else if kind.is_hard_link() {
                // A hard link shares its target's content: copy what the merged view holds.
                let target = entry
                    .link_name()
                    .map_err(|e| invalid(format!("bad link in {path}: {e}")))?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let target = clean_path(&target).unwrap_or_default();
                let same_layer = changes.iter().rev().find_map(|c| match c {
                    Change::Put(p, e) if *p == target => Some(e.clone()),
                    _ => None,
                });
                same_layer
                    .or_else(|| self.entries.get(&target).cloned())
                    .unwrap_or(Entry::File(None))
            } else if kind.is_file() {
                if keep(&path) {
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
                    Entry::File(Some(content))
                } else {
                    Entry::File(None)
                }
            } else {
                continue;
            };
            changes.push(Change::Put(path, item));
        }
        // Hide lower layers first, then add this layer's own entries.
        for change in &changes {
            match change {
                Change::Whiteout(path) => self.remove_tree(path),
                Change::Opaque(dir) => {
                    let prefix = format!("{dir}/");
                    self.entries.retain(|p, _| !p.starts_with(&prefix));
                }
                Change::Put(..) => {}
            }
        }
        for change in changes {
            if let Change::Put(path, entry) = change {
                self.entries.insert(path, entry);
            }
        }
        Ok(())
    }

    fn remove_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        self.entries
            .retain(|p, _| p != path && !p.starts_with(&prefix));
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
        fs.apply_layer("1", &gzip(&base)[..], keep).unwrap();
        fs.apply_layer("2", &zstd::encode_all(&venv[..], 1).unwrap()[..], keep)
            .unwrap();
        fs.apply_layer("3", &whiteout[..], keep).unwrap();
        fs.apply_layer("4", &gzip(&opaque)[..], keep).unwrap();
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

    #[test]
    fn path_tricks_are_ignored_and_broken_layers_are_errors() {
        let evil = tar_of(&[Item::File("ok", "1")]);
        let mut fs = MergedFs::new();
        fs.apply_layer("evil", &evil[..], keep).unwrap();
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
            .apply_layer("sha256:abc", &gz[..gz.len() / 2], keep)
            .unwrap_err();
        assert!(err.to_string().starts_with("layer sha256:abc"), "{err}");
        let tar = tar_of(&[Item::File(
            "var/lib/dpkg/status",
            &"Package: a\n".repeat(200),
        )]);
        let err = MergedFs::new()
            .apply_layer("t", &tar[..700], keep)
            .unwrap_err();
        assert!(err.to_string().contains("layer t"), "{err}");
    }
}
