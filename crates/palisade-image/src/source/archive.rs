//! A tar file read in place: its member list is indexed once, and each member is then read by
//! seeking to it, so layers in one archive are read in parallel without unpacking anything.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use palisade_oci::{parse_json, MAX_JSON_BLOB};

use crate::image::{BlobSource, ImageError, ManifestSource};
use crate::layers::clean_path;
use palisade_oci::manifest::Descriptor;

/// The most members an image archive may have (an image has a few dozen).
const MAX_MEMBERS: usize = 100_000;

#[derive(Debug)]
pub struct TarArchive {
    location: String,
    path: PathBuf,
    members: HashMap<String, Member>,
}

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

impl TarArchive {
    pub fn open(location: &str, path: &Path) -> Result<Self, ImageError> {
        let err = |m: String| ImageError::new(location, m);
        let mut file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let mut magic = [0u8; 4];
        let n = file.read(&mut magic).map_err(|e| err(e.to_string()))?;
        if n >= 2 && magic[..2] == [0x1f, 0x8b] || n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            return Err(err(
                "the archive is compressed; decompress it first (gunzip or unzstd)".into(),
            ));
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| err(e.to_string()))?;
        let total = file.metadata().map_err(|e| err(e.to_string()))?.len();
        // Seeking past members: indexing reads the headers only, not the layers.
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let entries = archive
            .entries_with_seek()
            .map_err(|e| err(format!("not a tar archive: {e}")))?;
        for entry in entries {
            let entry = entry.map_err(|e| err(format!("not a tar archive, or truncated: {e}")))?;
            if members.len() >= MAX_MEMBERS {
                return Err(err(format!(
                    "more than {MAX_MEMBERS} members; not an image archive"
                )));
            }
            let raw = entry
                .path()
                .map_err(|e| err(format!("bad member name: {e}")))?
                .to_string_lossy()
                .into_owned();
            let Some(name) = clean_path(&raw) else {
                continue;
            };
            let kind = entry.header().entry_type();
            if kind.is_file() {
                let offset = entry.raw_file_position();
                let size = entry.size();
                if offset.saturating_add(size) > total {
                    return Err(err(format!("{name}: truncated (needs {size} bytes at offset {offset}, the file has {total})")));
                }
                members.insert(name, Member::File { offset, size });
            } else if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .map_err(|e| err(format!("bad link {name}: {e}")))?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // Symlinks are relative to their directory, hard links to the archive root.
                let base = if kind.is_symlink() {
                    name.rsplit_once('/').map(|(d, _)| d).unwrap_or("")
                } else {
                    ""
                };
                let joined = if base.is_empty() {
                    target
                } else {
                    format!("{base}/{target}")
                };
                if let Some(target) = resolve(&joined) {
                    members.insert(name, Member::Link(target));
                }
            }
        }
        if members.is_empty() {
            return Err(err("not a tar archive, or an empty one".into()));
        }
        Ok(Self {
            location: location.to_owned(),
            path: path.to_owned(),
            members,
        })
    }

    fn find(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = clean_path(name)?;
        for _ in 0..8 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(target) => name = target.clone(),
            }
        }
        None
    }

    /// One member as a seekable section of the archive file, read with positioned reads (so
    /// several layers of one archive are read at once without sharing a file offset).
    pub fn open_member_section(&self, name: &str) -> Result<Section, ImageError> {
        let (offset, size) = self.find(name).ok_or_else(|| {
            ImageError::new(
                &self.location,
                format!("{name} is missing from the archive"),
            )
        })?;
        let file = std::fs::File::open(&self.path)
            .map_err(|e| ImageError::new(&self.location, e.to_string()))?;
        Ok(Section {
            file,
            start: offset,
            len: size,
            pos: 0,
        })
    }

    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// A reader of one member.
    pub fn open_member(&self, name: &str) -> Result<(Box<dyn Read + Send + '_>, u64), ImageError> {
        let (offset, size) = self.find(name).ok_or_else(|| {
            ImageError::new(
                &self.location,
                format!("{name} is missing from the archive"),
            )
        })?;
        let mut file = std::fs::File::open(&self.path)
            .map_err(|e| ImageError::new(&self.location, e.to_string()))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| ImageError::new(&self.location, e.to_string()))?;
        Ok((
            Box::new(std::io::BufReader::with_capacity(256 * 1024, file).take(size)),
            size,
        ))
    }

    /// Reads and parses a small JSON member.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, ImageError> {
        let bytes = self.read_small(name)?;
        parse_json(&self.location, name, &bytes)
    }

    pub fn read_small(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let (mut reader, size) = self.open_member(name)?;
        if size > MAX_JSON_BLOB {
            return Err(ImageError::new(
                &self.location,
                format!("{name} is {size} bytes, over the {MAX_JSON_BLOB}-byte limit"),
            ));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::new(&self.location, format!("{name}: {e}")))?;
        Ok(bytes)
    }

    pub fn location(&self) -> &str {
        &self.location
    }
}

/// `a/../b` to `b`; `None` when it climbs out of the archive.
fn resolve(path: &str) -> Option<String> {
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

impl BlobSource for TarArchive {
    fn open_blob(&self, blob: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let hex = palisade_oci::sha256_hex(&blob.digest).ok_or_else(|| {
            ImageError::new(&self.location, format!("invalid digest {:?}", blob.digest))
        })?;
        Ok(self.open_member(&format!("blobs/sha256/{hex}"))?.0)
    }
}

impl ManifestSource for TarArchive {
    fn location(&self) -> &str {
        &self.location
    }
}

/// A byte range of a file, readable and seekable on its own.
#[derive(Debug)]
pub struct Section {
    file: std::fs::File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Section {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = self.len.saturating_sub(self.pos);
        let want = (buf.len() as u64).min(left) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.start + self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Section {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start")
        })?;
        self.pos = target;
        Ok(target)
    }
}
