//! Serializing a model into a manifest, as `model_signing` 1.x does: which files are part of the
//! model (ignored paths, symbolic links, special files), how they are split (whole files or
//! shards), how each piece is hashed, and the order and names of the manifest's items.
//!
//! Files are hashed in parallel (rayon), each read once, front to back, through one reusable
//! buffer per worker: memory stays flat whatever the model's size.

use std::cmp::Ordering;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use sha2::Digest as _;

use crate::Error;

/// The paths `model_signing` ignores by default (its `ignore_git_paths`), relative to the model.
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];

/// `model_signing`'s default shard size (1 GB).
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

const READ_BUFFER: usize = 1 << 20;

/// A hash the manifest's items are computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlgorithm {
    Sha256,
    /// BLAKE2b-512, `model_signing`'s `blake2` (named `blake2b` in signatures).
    Blake2b,
}

impl HashAlgorithm {
    /// The name in `hash_type` and in each resource's `algorithm`.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Blake2b => "blake2b",
        }
    }

    /// Reads a `hash_type` (or a `--hash` flag): `sha256`, `blake2b` (or `blake2`).
    pub fn parse(name: &str) -> Result<HashAlgorithm, Error> {
        match name {
            "sha256" => Ok(HashAlgorithm::Sha256),
            "blake2b" | "blake2" => Ok(HashAlgorithm::Blake2b),
            "blake3" => Err(Error::Unsupported(
                "hash_type blake3 is not supported (sha256 and blake2b are)".into(),
            )),
            other => Err(Error::Statement(format!("unknown hash_type {other:?}"))),
        }
    }

    fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Blake2b => Hasher::Blake2b(blake2::Blake2b512::new()),
        }
    }
}

enum Hasher {
    Sha256(sha2::Sha256),
    Blake2b(blake2::Blake2b512),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Blake2b(h) => h.update(data),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake2b(h) => h.finalize().to_vec(),
        }
    }
}

/// Whole files, or fixed-size shards of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Files,
    Shards { shard_size: u64 },
}

/// The serialization parameters a signature records (its predicate's `serialization`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    pub method: Method,
    pub hash: HashAlgorithm,
    pub allow_symlinks: bool,
    /// Paths relative to the model, as recorded (never absolute, never `..`).
    pub ignore_paths: Vec<String>,
}

impl Serialization {
    /// The `algorithm` each resource carries: `sha256`, or `sha256-sharded-1000000000`.
    pub fn item_algorithm(&self) -> String {
        match self.method {
            Method::Files => self.hash.name().to_string(),
            Method::Shards { shard_size } => format!("{}-sharded-{shard_size}", self.hash.name()),
        }
    }
}

/// One item of a manifest: a file (`name` its POSIX path relative to the model, `.` when the
/// model is a single file) or a shard (`path:start:end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub algorithm: String,
    pub digest: Vec<u8>,
}

impl Item {
    /// The file this item belongs to (its name without a shard's `:start:end`).
    pub fn path<'a>(&'a self, method: &Method) -> &'a str {
        match method {
            Method::Files => &self.name,
            Method::Shards { .. } => shard_parts(&self.name).map_or(&self.name, |(p, _, _)| p),
        }
    }
}

/// Splits `path:start:end` (as `model_signing` does: exactly three `:`-separated parts).
pub fn shard_parts(name: &str) -> Option<(&str, u64, u64)> {
    let mut parts = name.split(':');
    let (path, start, end) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((path, start.parse().ok()?, end.parse().ok()?))
}

/// A model's manifest: its name (informative only) and its items in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub model_name: String,
    pub serialization: Serialization,
    pub items: Vec<Item>,
}

/// A file of the model, found by [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    /// POSIX path relative to the model (`.` for a single-file model).
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
}

/// Normalizes a relative path as Python's `pathlib.PurePosixPath` does (`a//b/./c/` is `a/b/c`)
/// and refuses what could leave the model: absolute paths and `..`.
pub fn normalize_relative(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return None;
    }
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Orders names as `pathlib` orders paths: component by component.
fn compare_paths(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

fn compare_items(a: &Item, b: &Item, method: &Method) -> Ordering {
    match (method, shard_parts(&a.name), shard_parts(&b.name)) {
        (Method::Shards { .. }, Some((pa, sa, ea)), Some((pb, sb, eb))) => {
            compare_paths(pa, pb).then(sa.cmp(&sb)).then(ea.cmp(&eb))
        }
        _ => compare_paths(&a.name, &b.name),
    }
}

/// Sorts items into the order `model_signing` writes them (and hashes the root digest over).
pub fn sort_items(items: &mut [Item], method: &Method) {
    items.sort_by(|a, b| compare_items(a, b, method));
}

fn is_ignored(name: &str, ignore: &[String]) -> bool {
    ignore.iter().any(|i| {
        i == "." || name == i || (name.starts_with(i.as_str()) && name[i.len()..].starts_with('/'))
    })
}

/// Lists the files of the model at `root`, as `model_signing` would hash them: every regular file
/// under it (hidden ones too), not those under an ignored path; a symbolic link is an error unless
/// `allow_symlinks`, and then a link to a file is that file's content and a link to a directory is
/// not descended; sockets, pipes, devices and dangling links are errors. A single file is the
/// model itself, named `.`.
pub fn plan(root: &Path, allow_symlinks: bool, ignore: &[String]) -> Result<Vec<ModelFile>, Error> {
    let meta = std::fs::symlink_metadata(root).map_err(|e| Error::io(root, e))?;
    check_entry(root, &meta, allow_symlinks)?;
    let target = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if target.is_file() {
        return Ok(vec![ModelFile {
            name: ".".into(),
            path: root.to_path_buf(),
            size: target.len(),
        }]);
    }
    let mut files = Vec::new();
    walk(root, "", allow_symlinks, ignore, &mut files)?;
    Ok(files)
}

fn check_entry(path: &Path, meta: &std::fs::Metadata, allow_symlinks: bool) -> Result<(), Error> {
    if meta.file_type().is_symlink() && !allow_symlinks {
        return Err(Error::Model(format!(
            "{} is a symbolic link: refused (allow it with --allow-symlinks; its target is then hashed)",
            path.display()
        )));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() || m.is_dir() => Ok(()),
        Ok(_) => Err(Error::Model(format!(
            "{} is neither a file nor a directory (a socket, pipe or device)",
            path.display()
        ))),
        Err(e) => Err(Error::Model(format!(
            "{} cannot be read ({e}): a dangling link, or no permission",
            path.display()
        ))),
    }
}

fn walk(
    dir: &Path,
    prefix: &str,
    allow_symlinks: bool,
    ignore: &[String],
    out: &mut Vec<ModelFile>,
) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            return Err(Error::Model(format!(
                "{} has a name that is not UTF-8",
                entry.path().display()
            )));
        };
        let name = if prefix.is_empty() {
            file_name.to_string()
        } else {
            format!("{prefix}/{file_name}")
        };
        // Ignored paths are not looked into (model_signing also checks inside them, and fails
        // on a symbolic link in .git; the manifest is the same).
        if is_ignored(&name, ignore) {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        check_entry(&path, &meta, allow_symlinks)?;
        let is_link = meta.file_type().is_symlink();
        let target = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if target.is_file() {
            out.push(ModelFile {
                name,
                path,
                size: target.len(),
            });
        } else if target.is_dir() && !is_link {
            walk(&path, &name, allow_symlinks, ignore, out)?;
        }
    }
    Ok(())
}

/// What a caller may do with each file's bytes while it is hashed (scan it, say): it gets a
/// reader that hashes what it reads; whatever it leaves unread is hashed after it returns.
pub type Consumer<'a> = dyn Fn(&ModelFile, &mut dyn Read) + Sync + 'a;

/// Hashes `files` with `serialization` into a manifest named `model_name`.
pub fn hash(
    model_name: &str,
    files: &[ModelFile],
    serialization: &Serialization,
    consumer: Option<&Consumer<'_>>,
) -> Result<Manifest, Error> {
    struct Unit<'f> {
        file: &'f ModelFile,
        start: u64,
        end: u64,
    }
    if serialization.method == (Method::Shards { shard_size: 0 }) {
        return Err(Error::Model("a shard size of 0".into()));
    }
    let mut units: Vec<Unit<'_>> = Vec::new();
    for file in files {
        match serialization.method {
            Method::Files => units.push(Unit {
                file,
                start: 0,
                end: file.size,
            }),
            Method::Shards { shard_size } => {
                // As model_signing: an empty file has no shard, so it is not in the manifest.
                let mut start = 0;
                while start < file.size {
                    let end = file.size.min(start.saturating_add(shard_size));
                    units.push(Unit { file, start, end });
                    start = end;
                }
            }
        }
    }
    let algorithm = serialization.item_algorithm();
    let sharded = matches!(serialization.method, Method::Shards { .. });
    let mut items = match consumer {
        // Each file read once, by the consumer: its bytes (whole, or shard by shard) are hashed
        // as they go by, and whatever the consumer leaves unread is read and hashed after it.
        Some(consumer) => {
            let mut largest_first: Vec<&ModelFile> = files.iter().collect();
            largest_first.sort_by_key(|f| std::cmp::Reverse(f.size));
            largest_first
                .par_iter()
                .with_max_len(1)
                .map(|file| {
                    with_buffer(|buffer| {
                        hash_consumed(file, serialization, &algorithm, buffer, consumer)
                    })
                })
                .collect::<Result<Vec<Vec<Item>>, Error>>()?
                .into_iter()
                .flatten()
                .collect::<Vec<Item>>()
        }
        None => {
            // Largest first, one unit per task, so no worker is left with a big file at the
            // end (rayon would otherwise hand out runs of adjacent units).
            units.sort_by_key(|u| std::cmp::Reverse(u.end - u.start));
            units
                .par_iter()
                .with_max_len(1)
                .map(|unit| {
                    with_buffer(|buffer| {
                        let digest = hash_range(
                            unit.file,
                            unit.start,
                            unit.end,
                            serialization.hash,
                            buffer,
                        )?;
                        let name = if sharded {
                            format!("{}:{}:{}", unit.file.name, unit.start, unit.end)
                        } else {
                            unit.file.name.clone()
                        };
                        Ok(Item {
                            name,
                            algorithm: algorithm.clone(),
                            digest,
                        })
                    })
                })
                .collect::<Result<Vec<Item>, Error>>()?
        }
    };
    sort_items(&mut items, &serialization.method);
    Ok(Manifest {
        model_name: model_name.to_string(),
        serialization: serialization.clone(),
        items,
    })
}

thread_local! {
    /// One read buffer per worker thread, allocated once (not once per file or shard).
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn with_buffer<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => {
            if buffer.len() < READ_BUFFER {
                buffer.resize(READ_BUFFER, 0);
            }
            f(&mut buffer)
        }
        // Re-entered (a consumer that hashes a model itself): a buffer of its own.
        Err(_) => f(&mut vec![0u8; READ_BUFFER]),
    })
}

fn hash_range(
    file: &ModelFile,
    start: u64,
    end: u64,
    algorithm: HashAlgorithm,
    buffer: &mut [u8],
) -> Result<Vec<u8>, Error> {
    let mut f = File::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
    if start > 0 {
        f.seek(SeekFrom::Start(start))
            .map_err(|e| Error::io(&file.path, e))?;
    }
    let mut hasher = algorithm.hasher();
    let mut left = end - start;
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = f
            .read(&mut buffer[..want])
            .map_err(|e| Error::io(&file.path, e))?;
        if n == 0 {
            return Err(Error::Model(format!(
                "{} shrank while it was hashed",
                file.path.display()
            )));
        }
        hasher.update(&buffer[..n]);
        left -= n as u64;
    }
    if matches!(start, 0) && end == file.size {
        // A whole file: it must not have grown either.
        if f.read(&mut buffer[..1])
            .map_err(|e| Error::io(&file.path, e))?
            != 0
        {
            return Err(Error::Model(format!(
                "{} grew while it was hashed",
                file.path.display()
            )));
        }
    }
    Ok(hasher.finish())
}

/// A reader that hashes what is read through it: the whole file, or shard by shard (a new hash
/// at every `shard_size` bytes), so a consumer reading the file is the only pass over it.
struct HashingReader<R> {
    inner: R,
    algorithm: HashAlgorithm,
    shard_size: Option<u64>,
    hasher: Hasher,
    /// Bytes read so far, and where the current shard began.
    offset: u64,
    shard_start: u64,
    /// Finished shards: (start, end, digest).
    shards: Vec<(u64, u64, Vec<u8>)>,
    error: Option<std::io::Error>,
}

impl<R: Read> HashingReader<R> {
    fn absorb(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = match self.shard_size {
                Some(size) => {
                    let left = self.shard_start.saturating_add(size) - self.offset;
                    data.len().min(usize::try_from(left).unwrap_or(usize::MAX))
                }
                None => data.len(),
            };
            self.hasher.update(&data[..take]);
            self.offset += take as u64;
            data = &data[take..];
            if let Some(size) = self.shard_size {
                if self.offset - self.shard_start >= size {
                    self.finish_shard();
                }
            }
        }
    }

    fn finish_shard(&mut self) {
        let done = std::mem::replace(&mut self.hasher, self.algorithm.hasher());
        self.shards
            .push((self.shard_start, self.offset, done.finish()));
        self.shard_start = self.offset;
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.absorb(&buf[..n]);
                Ok(n)
            }
            Err(e) => {
                let kind = e.kind();
                let message = e.to_string();
                self.error.get_or_insert(e);
                Err(std::io::Error::new(kind, message))
            }
        }
    }
}

/// Hashes one file while `consumer` reads it (then reads and hashes the rest): its item, or its
/// shards' items.
fn hash_consumed(
    file: &ModelFile,
    serialization: &Serialization,
    algorithm: &str,
    buffer: &mut [u8],
    consumer: &Consumer<'_>,
) -> Result<Vec<Item>, Error> {
    let f = File::open(&file.path).map_err(|e| Error::io(&file.path, e))?;
    let shard_size = match serialization.method {
        Method::Files => None,
        Method::Shards { shard_size } => Some(shard_size),
    };
    let mut reader = HashingReader {
        inner: f,
        algorithm: serialization.hash,
        shard_size,
        hasher: serialization.hash.hasher(),
        offset: 0,
        shard_start: 0,
        shards: Vec::new(),
        error: None,
    };
    consumer(file, &mut reader);
    if let Some(e) = reader.error.take() {
        return Err(Error::io(&file.path, e));
    }
    loop {
        let n = reader.read(buffer).map_err(|e| Error::io(&file.path, e))?;
        if n == 0 {
            break;
        }
    }
    if reader.offset != file.size {
        return Err(Error::Model(format!(
            "{} {} while it was hashed",
            file.path.display(),
            if reader.offset < file.size {
                "shrank"
            } else {
                "grew"
            }
        )));
    }
    Ok(match shard_size {
        None => vec![Item {
            name: file.name.clone(),
            algorithm: algorithm.to_string(),
            digest: reader.hasher.finish(),
        }],
        Some(_) => {
            // The last, short shard (an empty file has none, as in model_signing).
            if reader.offset > reader.shard_start {
                reader.finish_shard();
            }
            reader
                .shards
                .into_iter()
                .map(|(start, end, digest)| Item {
                    name: format!("{}:{start}:{end}", file.name),
                    algorithm: algorithm.to_string(),
                    digest,
                })
                .collect()
        }
    })
}

/// Where a path given on the command line falls inside the model, as `model_signing`'s CLI reads
/// `--ignore-paths` and `--signature`: relative to the current directory (or absolute), resolved,
/// and kept only when inside the model directory.
pub fn relative_to_model(model: &Path, path: &Path) -> Option<String> {
    let root = resolve(model)?;
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let resolved = resolve(&absolute)?;
    let rel = resolved.strip_prefix(&root).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let parts = parts?;
    Some(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// `Path.resolve()` (not strict): the longest existing prefix canonicalized, the rest normalized.
fn resolve(path: &Path) -> Option<PathBuf> {
    let mut existing = path.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(canonical) = std::fs::canonicalize(&existing) {
            let mut out = canonical;
            for part in rest.iter().rev() {
                if part == ".." {
                    out.pop();
                } else if part != "." {
                    out.push(part);
                }
            }
            return Some(out);
        }
        rest.push(existing.file_name()?.to_os_string());
        if !existing.pop() {
            return None;
        }
    }
}

/// The model's name as `model_signing` records it: the last component of its path.
pub fn model_name(model: &Path) -> String {
    match model.file_name().and_then(|n| n.to_str()) {
        Some(name) if name != ".." => name.to_string(),
        _ => resolve(model)
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .unwrap_or_default(),
    }
}

/// The root digest: SHA-256 over the items' digests in order (the statement's subject).
pub fn root_digest(items: &[Item]) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    for item in items {
        h.update(&item.digest);
    }
    h.finalize().into()
}

/// Is `name` (normalized) under one of `ignore`?
pub fn ignored(name: &str, ignore: &[String]) -> bool {
    is_ignored(name, ignore)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(dir.path().join("a.bin"), &bytes).expect("write");
        std::fs::write(dir.path().join("empty"), b"").expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/b"), &bytes[..4096]).expect("write");
        dir
    }

    /// The single pass (a consumer reading some or all of each file) gives exactly the manifest
    /// of the plain, range-by-range hashing, for whole files and for shards of every size.
    #[test]
    fn consumed_hashing_equals_plain_hashing() {
        let dir = model();
        let files = plan(dir.path(), false, &[]).expect("plan");
        let methods = [
            Method::Files,
            Method::Shards { shard_size: 1 },
            Method::Shards { shard_size: 1000 },
            Method::Shards { shard_size: 4096 },
            Method::Shards { shard_size: 10_000 },
            Method::Shards {
                shard_size: u64::MAX,
            },
        ];
        for method in methods {
            for hash_alg in [HashAlgorithm::Sha256, HashAlgorithm::Blake2b] {
                let s = Serialization {
                    method,
                    hash: hash_alg,
                    allow_symlinks: false,
                    ignore_paths: Vec::new(),
                };
                let plain = hash("m", &files, &s, None).expect("plain");
                for read in [0usize, 1, 3000, usize::MAX] {
                    let seen = std::sync::Mutex::new(0u64);
                    let consumer = |_: &ModelFile, r: &mut dyn Read| {
                        let mut buf = vec![0u8; 777];
                        let mut total = 0usize;
                        while total < read {
                            let n = r.read(&mut buf).expect("read");
                            if n == 0 {
                                break;
                            }
                            total += n;
                        }
                        *seen.lock().expect("lock") += total as u64;
                    };
                    let consumed = hash("m", &files, &s, Some(&consumer)).expect("consumed");
                    assert_eq!(
                        plain, consumed,
                        "{method:?} {hash_alg:?}, consumer reads {read}"
                    );
                }
            }
        }
    }
}
