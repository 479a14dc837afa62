//! Scanning files and directories: every file is recognised by its content, containers are
//! opened recursively (bounded in depth, entry count and expanded size), every pickle stream found
//! is handed to [`pickle::scan_stream`], and the formats that cannot carry code have their headers
//! validated.
//!
//! Memory does not grow with file size: archives are read member by member, compressed data is
//! decompressed as a stream, and only small bounded prefixes (for sniffing) and headers (JSON,
//! protobuf fields, names) are held.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::finding::{Finding, Location, Severity};
use crate::formats::{self, Kind, SNIFF_LEN};
use crate::pickle::{self, Limits, Summary};
use crate::policy::Policy;
use crate::stream::{self, ReadSeek, Tracked};

/// What to scan for and how far to go.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub policy: Policy,
    pub limits: Limits,
    /// Archives nested in archives (zip in tar in zip...) are opened this deep; deeper ones are
    /// reported (`model/limit`) and not inspected.
    pub max_archive_depth: usize,
    /// Compression layers wrapped around each other (gzip of xz of ...) are undone this deep.
    pub max_compression_depth: usize,
    /// Archive members examined per file, across all nesting levels.
    pub max_entries: u64,
    /// Decompressed bytes produced per file, across all nesting levels and members.
    pub max_expanded_bytes: u64,
    /// Zip-bomb guard: a file may expand to at most this many times its own size ...
    pub max_expansion_ratio: u64,
    /// ... or to this many bytes, whichever is more (small files of zeros compress very well).
    pub expansion_floor: u64,
    /// Bytes an archive member may be copied to a temporary file (a nested zip or 7z inside a
    /// compressed container needs random access).
    pub max_spool_bytes: u64,
    /// Headers read into memory to be parsed (safetensors JSON, Keras config.json).
    pub max_header_bytes: u64,
    /// Scan the files of a directory in parallel.
    pub parallel: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            policy: Policy::default(),
            limits: Limits::default(),
            max_archive_depth: 4,
            max_compression_depth: 4,
            max_entries: 100_000,
            max_expanded_bytes: 16 << 30,
            max_expansion_ratio: 1024,
            expansion_floor: 1 << 30,
            max_spool_bytes: 16 << 30,
            max_header_bytes: 100_000_000,
            parallel: true,
        }
    }
}

/// One file that was scanned, and what it was recognised as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub path: String,
    /// What the content was recognised as, e.g. `PyTorch zip`, `gzip: pickle (protocol 4)`.
    pub format: String,
    pub size: u64,
    /// Archive members examined inside it (all nesting levels).
    pub members: u64,
}

/// The result of [`scan_path`].
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    pub findings: Vec<Finding>,
    pub files: Vec<FileReport>,
    /// Files (or directories) that could not be read at all: permissions, I/O errors. Damaged
    /// content is a finding instead.
    pub read_errors: Vec<(String, String)>,
}

impl ScanOutcome {
    /// The highest severity among the findings, if there are any.
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Scans a file, or every file under a directory (recursively, in name order). Symbolic links are
/// not followed out of the directory: one that points outside is reported instead of read.
pub fn scan_path(path: &Path, options: &ScanOptions) -> ScanOutcome {
    let mut outcome = ScanOutcome::default();
    let display = path.display().to_string();
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) => {
            outcome.read_errors.push((display, e.to_string()));
            return outcome;
        }
    };
    if !metadata.is_dir() {
        if metadata.is_file() {
            merge(&mut outcome, scan_file(path, display, options));
        } else {
            outcome.files.push(FileReport {
                path: display,
                format: "not a regular file".into(),
                size: 0,
                members: 0,
            });
        }
        return outcome;
    }

    let root = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for entry in walkdir::WalkDir::new(path)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let at = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| display.clone());
                outcome.read_errors.push((at, e.to_string()));
                continue;
            }
        };
        let entry_display = entry.path().display().to_string();
        let file_type = entry.file_type();
        if file_type.is_file() {
            files.push((entry.path().to_path_buf(), entry_display));
        } else if file_type.is_symlink() {
            match std::fs::canonicalize(entry.path()) {
                // Inside the directory: its target is walked (and scanned) under its own name.
                Ok(target) if target.starts_with(&root) => outcome.files.push(FileReport {
                    path: entry_display,
                    format: format!("symbolic link to {}", target.display()),
                    size: 0,
                    members: 0,
                }),
                Ok(target) => outcome.findings.push(Finding {
                    rule: crate::rules::SYMLINK.code,
                    severity: Severity::Suspicious,
                    location: Location { file: entry_display, members: Vec::new(), offset: 0 },
                    global: None,
                    message: format!(
                        "symbolic link to {}, outside the scanned directory: not followed, so what a loader would read through it was not inspected",
                        target.display()
                    ),
                }),
                Err(_) => outcome.files.push(FileReport {
                    path: entry_display,
                    format: "dangling symbolic link".into(),
                    size: 0,
                    members: 0,
                }),
            }
        } else if !file_type.is_dir() {
            outcome.files.push(FileReport {
                path: entry_display,
                format: "not a regular file".into(),
                size: 0,
                members: 0,
            });
        }
    }
    let results: Vec<FileResult> = if options.parallel {
        files
            .into_par_iter()
            .map(|(path, display)| scan_file(&path, display, options))
            .collect()
    } else {
        files
            .into_iter()
            .map(|(path, display)| scan_file(&path, display, options))
            .collect()
    };
    for result in results {
        merge(&mut outcome, result);
    }
    outcome.files.sort_by(|a, b| a.path.cmp(&b.path));
    outcome
}

/// Scans bytes already in memory as if they were a file called `name`.
pub fn scan_bytes(name: &str, bytes: &[u8], options: &ScanOptions) -> ScanOutcome {
    let mut outcome = ScanOutcome::default();
    merge(
        &mut outcome,
        scan_source(
            Cursor::new(bytes),
            bytes.len() as u64,
            name.to_string(),
            options,
        ),
    );
    outcome
}

/// Scans a stream that can only be read forwards (a file inside a container image layer, say),
/// as a file called `name` of `len` bytes if known. Nothing is copied out unless the content needs
/// random access (a zip or 7z archive is spooled to a temporary file, within
/// [`ScanOptions::max_spool_bytes`]). Errors from `reader` are read errors, as for a file.
pub fn scan_read(
    name: &str,
    reader: &mut dyn Read,
    len: Option<u64>,
    options: &ScanOptions,
) -> ScanOutcome {
    // Without a length, the expansion ratio cannot be applied: only the absolute bound is.
    let budget_len = len.unwrap_or(u64::MAX);
    let ctx = Ctx::new(options, name.to_string(), budget_len);
    let mut source = Tracked::new(reader, &ctx.root_failed);
    let scanned = scan_reader(
        &ctx,
        &Trail::default(),
        &mut source,
        len,
        Depth::default(),
        Hints::default(),
    );
    let read_error = source.error();
    let mut outcome = ScanOutcome::default();
    merge(
        &mut outcome,
        FileResult {
            report: FileReport {
                path: name.to_string(),
                format: if read_error.is_some() {
                    "unreadable".into()
                } else {
                    scanned.format
                },
                size: len.unwrap_or(0),
                members: ctx.entries.get(),
            },
            findings: ctx.findings.into_inner(),
            read_error,
        },
    );
    outcome
}

struct FileResult {
    report: FileReport,
    findings: Vec<Finding>,
    read_error: Option<String>,
}

fn merge(outcome: &mut ScanOutcome, result: FileResult) {
    if let Some(error) = result.read_error {
        outcome
            .read_errors
            .push((result.report.path.clone(), error));
    }
    outcome.findings.extend(result.findings);
    outcome.files.push(result.report);
}

fn scan_file(path: &Path, display: String, options: &ScanOptions) -> FileResult {
    let opened = File::open(path).and_then(|file| {
        let len = file.metadata()?.len();
        Ok((file, len))
    });
    match opened {
        Ok((file, len)) => scan_source(file, len, display, options),
        Err(e) => FileResult {
            report: FileReport {
                path: display,
                format: "unreadable".into(),
                size: 0,
                members: 0,
            },
            findings: Vec::new(),
            read_error: Some(e.to_string()),
        },
    }
}

fn scan_source<R: Read + Seek>(
    source: R,
    len: u64,
    display: String,
    options: &ScanOptions,
) -> FileResult {
    let ctx = Ctx::new(options, display.clone(), len);
    let mut root = Tracked::new(source, &ctx.root_failed);
    let scanned = scan_seekable(
        &ctx,
        &Trail::default(),
        &mut root,
        len,
        Depth::default(),
        Hints::default(),
    );
    let read_error = root.error();
    let members = ctx.entries.get();
    let findings = ctx.findings.into_inner();
    FileResult {
        report: FileReport {
            path: display,
            format: if read_error.is_some() {
                "unreadable".into()
            } else {
                scanned.format
            },
            size: len,
            members,
        },
        findings,
        read_error,
    }
}

/// The members leading to a stream, outermost first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Trail(pub(crate) Vec<String>);

impl Trail {
    pub(crate) fn child(&self, name: &str) -> Trail {
        let mut members = self.0.clone();
        members.push(name.to_string());
        Trail(members)
    }
    pub(crate) fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

/// How deep the current stream is nested.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Depth {
    pub(crate) archives: usize,
    pub(crate) layers: usize,
}

impl Depth {
    /// The depth inside one more archive of `kind`; past the limit, a limit finding is reported
    /// and the archive is not opened (`Err` is what the caller returns).
    pub(crate) fn enter_archive(
        self,
        ctx: &Ctx<'_>,
        trail: &Trail,
        kind: &'static str,
    ) -> Result<Depth, Scanned> {
        if self.archives >= ctx.opts.max_archive_depth {
            ctx.limit(
                trail,
                0,
                format!(
                    "archives nested more than {} deep",
                    ctx.opts.max_archive_depth
                ),
            );
            return Err(Scanned::new(kind, State::Stopped));
        }
        Ok(self.inside_archive())
    }

    /// One archive deeper.
    pub(crate) fn inside_archive(self) -> Depth {
        Depth {
            archives: self.archives + 1,
            ..self
        }
    }
}

/// What the container knows about a member that its bytes may not show.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hints {
    /// The loader unpickles this member whatever it looks like (`data.pkl` in a PyTorch zip).
    pub(crate) pickle: bool,
    /// The archive marks this member encrypted: what follows may be ciphertext, which is expected
    /// not to parse.
    pub(crate) ciphertext: bool,
    /// The stream is a raw storage a loader never interprets; not worth a finding if unrecognised.
    pub(crate) quiet: bool,
    /// The stream has already been run through the pickle scanner as `pickle.load` would read
    /// it (a forward-only stream does that before its format's parser reads it).
    pub(crate) pickle_scanned: bool,
}

/// How a stream fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Recognised and parsed.
    Parsed,
    /// Not recognised as anything.
    Unrecognised,
    /// Recognised, but damaged (a finding says so).
    Damaged,
    /// The scan was cut short by a limit or a read error.
    Stopped,
}

/// What a stream was recognised as, and how parsing it went.
#[derive(Debug, Clone)]
pub(crate) struct Scanned {
    pub(crate) format: String,
    pub(crate) state: State,
}

impl Scanned {
    pub(crate) fn new(format: impl Into<String>, state: State) -> Self {
        Self {
            format: format.into(),
            state,
        }
    }
    /// The same outcome under the format the caller knows the stream to be.
    pub(crate) fn named(mut self, format: &str) -> Self {
        self.format = format.to_string();
        self
    }
    fn unrecognised() -> Self {
        Self::new(Kind::Unknown.name(), State::Unrecognised)
    }
}

/// Per-file scanning state, shared (by reference) by every reader and parser working on the file.
pub(crate) struct Ctx<'o> {
    pub(crate) opts: &'o ScanOptions,
    file: String,
    findings: RefCell<Vec<Finding>>,
    /// Decompressed bytes produced so far, and the most allowed.
    expanded: Cell<u64>,
    expanded_limit: u64,
    /// A limit stopped the scan (reported once).
    stopped: Cell<bool>,
    /// Reading the file itself failed: a read error, not a finding.
    root_failed: Cell<bool>,
    entries: Cell<u64>,
}

impl<'o> Ctx<'o> {
    fn new(opts: &'o ScanOptions, file: String, len: u64) -> Self {
        let ratio_bound = len
            .saturating_mul(opts.max_expansion_ratio)
            .max(opts.expansion_floor);
        Self {
            opts,
            file,
            findings: RefCell::new(Vec::new()),
            expanded: Cell::new(0),
            expanded_limit: opts.max_expanded_bytes.min(ratio_bound),
            stopped: Cell::new(false),
            root_failed: Cell::new(false),
            entries: Cell::new(0),
        }
    }

    /// Reports a `format` stream whose structure is broken (a loader refuses it, so it is
    /// suspicious, not dangerous) and returns its outcome.
    pub(crate) fn damaged(
        &self,
        format: &str,
        trail: &Trail,
        offset: u64,
        message: impl Into<String>,
    ) -> Scanned {
        self.report(
            crate::rules::UNPARSEABLE.code,
            Severity::Suspicious,
            trail,
            offset,
            message,
        );
        Scanned::new(format, State::Damaged)
    }

    pub(crate) fn location(&self, trail: &Trail, offset: u64) -> Location {
        Location {
            file: self.file.clone(),
            members: trail.0.clone(),
            offset,
        }
    }

    pub(crate) fn report(
        &self,
        rule: &'static str,
        severity: Severity,
        trail: &Trail,
        offset: u64,
        message: impl Into<String>,
    ) {
        let finding = Finding {
            rule,
            severity,
            location: self.location(trail, offset),
            global: None,
            message: message.into(),
        };
        self.findings.borrow_mut().push(finding);
    }

    pub(crate) fn extend(&self, findings: Vec<Finding>) {
        self.findings.borrow_mut().extend(findings);
    }

    /// Reports that a limit stopped the scan (once per file) and stops everything after it.
    pub(crate) fn limit(&self, trail: &Trail, offset: u64, message: impl Into<String>) {
        if !self.stopped.replace(true) {
            self.report(
                crate::rules::LIMIT.code,
                Severity::Suspicious,
                trail,
                offset,
                format!("{}; the rest of the file was not inspected", message.into()),
            );
        }
    }

    /// Whether a limit or a failing disk has stopped the scan: everything after that point is
    /// left alone, and the failures it causes are not damage.
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.get() || self.root_failed.get()
    }

    /// Counts one archive member; false (with a limit finding) once there are too many.
    pub(crate) fn count_entry(&self, trail: &Trail) -> bool {
        let n = self.entries.get() + 1;
        self.entries.set(n);
        if n > self.opts.max_entries {
            self.limit(
                trail,
                0,
                format!("more than {} archive members", self.opts.max_entries),
            );
            return false;
        }
        true
    }

    /// Wraps a decompressed stream so that its bytes count against the file's budget.
    pub(crate) fn meter<R: Read>(&self, inner: R, trail: &Trail) -> Metered<'_, 'o, R> {
        Metered {
            inner,
            ctx: self,
            trail: trail.clone(),
            pos: 0,
        }
    }
}

/// Counts decompressed bytes against the file's budget; past it, reads fail (and the limit is
/// reported once).
pub(crate) struct Metered<'c, 'o, R> {
    inner: R,
    ctx: &'c Ctx<'o>,
    trail: Trail,
    pos: u64,
}

impl<R: Read> Read for Metered<'_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ctx.stopped() {
            return Err(io::Error::other("scan stopped by a limit"));
        }
        let n = self.inner.read(buf)?;
        let total = self.ctx.expanded.get().saturating_add(n as u64);
        self.ctx.expanded.set(total);
        self.pos += n as u64;
        if total > self.ctx.expanded_limit {
            self.ctx.limit(
                &self.trail,
                self.pos,
                format!(
                    "decompressed data exceeds {} bytes (the smaller of the size limit and {} times the file's size)",
                    self.ctx.expanded_limit, self.ctx.opts.max_expansion_ratio
                ),
            );
            return Err(io::Error::other("expanded-size limit"));
        }
        Ok(n)
    }
}

/// Scans a seekable stream of known length (the file itself, a stored zip member, a spooled copy).
pub(crate) fn scan_seekable(
    ctx: &Ctx<'_>,
    trail: &Trail,
    source: &mut dyn ReadSeek,
    len: u64,
    depth: Depth,
    hints: Hints,
) -> Scanned {
    let head = match source
        .seek(SeekFrom::Start(0))
        .and_then(|_| stream::read_up_to(source, SNIFF_LEN))
    {
        Ok(head) => head,
        Err(e) => return io_failure(ctx, trail, 0, &e),
    };
    let kind = effective_kind(&head, hints);
    let scanned = match kind {
        Kind::Zip => crate::zipfile::scan(ctx, trail, source, len, depth),
        Kind::SevenZip => crate::archive::scan_7z(ctx, trail, source, depth),
        _ => {
            if let Err(e) = source.seek(SeekFrom::Start(0)) {
                return io_failure(ctx, trail, 0, &e);
            }
            let mut buffered = BufReader::with_capacity(1 << 16, (&mut *source).take(len));
            scan_kind(ctx, trail, kind, &mut buffered, Some(len), depth, hints)
        }
    };
    let scanned = if needs_pickle_pass(kind, &head, hints) && !ctx.stopped() {
        if let Err(e) = source.seek(SeekFrom::Start(0)) {
            return io_failure(ctx, trail, 0, &e);
        }
        let mut buffered = BufReader::with_capacity(1 << 16, (&mut *source).take(len));
        also_as_pickle(ctx, trail, &mut buffered, scanned)
    } else {
        scanned
    };
    // A zip appended to another format: loaders that find a zip by its end record (Python's
    // zipfile.is_zipfile, which Keras uses) open it, while a scanner that stops at the first
    // format would not look.
    if kind != Kind::Zip && !ctx.stopped() && len >= 22 {
        if let Ok(Some(_)) = crate::zipfile::find_end(source, len, true) {
            ctx.report(
                crate::rules::POLYGLOT.code,
                Severity::Suspicious,
                trail,
                0,
                format!(
                    "the file is {} at the start and also a zip archive at the end: loaders disagree on what it is, so both were scanned",
                    scanned.format
                ),
            );
            let inner = crate::zipfile::scan(ctx, trail, source, len, depth);
            return Scanned::new(
                format!("{} + {}", scanned.format, inner.format),
                scanned.state,
            );
        }
    }
    scanned
}

/// Scans a stream that can only be read forwards (a decompressed stream, a tar or 7z member).
pub(crate) fn scan_reader(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn Read,
    len: Option<u64>,
    depth: Depth,
    hints: Hints,
) -> Scanned {
    let head = match stream::read_up_to(reader, SNIFF_LEN) {
        Ok(head) => head,
        Err(e) => return stream_failure(ctx, trail, 0, &e, "reading it"),
    };
    let kind = effective_kind(&head, hints);
    if needs_pickle_pass(kind, &head, hints) {
        return scan_reader_as_pickle_too(ctx, trail, kind, head, reader, len, depth, hints);
    }
    if kind.needs_seek() {
        return spool_and_scan(ctx, trail, head, reader, depth, hints);
    }
    let mut buffered = BufReader::with_capacity(1 << 16, Cursor::new(head).chain(reader));
    scan_kind(ctx, trail, kind, &mut buffered, len, depth, hints)
}

/// Whether a stream sniffed as `kind` must also be read as a pickle: CPython's unpickler would
/// execute its first opcodes, and its format's parser does not already read it as one. Raw
/// storages are never handed to a loader as a stream of their own.
fn needs_pickle_pass(kind: Kind, head: &[u8], hints: Hints) -> bool {
    !matches!(
        kind,
        Kind::Pickle { .. } | Kind::TorchLegacy | Kind::PickleCandidate
    ) && !hints.pickle_scanned
        && !hints.quiet
        && formats::opens_pickle(head)
}

/// A forward-only stream that is both some format and the start of a pickle: the pickle scanner
/// reads it first while every byte it takes is kept (in memory, then a temporary file, within
/// [`ScanOptions::max_spool_bytes`]), then the format's parser reads the kept bytes and the rest.
/// The scanner usually gives up within a few bytes of a stream that is not a pickle, so little
/// is kept; a stream that is a long pickle is kept as long as the scanner reads it.
#[allow(clippy::too_many_arguments)]
fn scan_reader_as_pickle_too(
    ctx: &Ctx<'_>,
    trail: &Trail,
    kind: Kind,
    head: Vec<u8>,
    reader: &mut dyn Read,
    len: Option<u64>,
    depth: Depth,
    hints: Hints,
) -> Scanned {
    let mut kept = tempfile::SpooledTempFile::new(1 << 20);
    let over_cap = Cell::new(false);
    let read_failed = Cell::new(None);
    let pickle_state = {
        let mut tee = Tee {
            inner: Cursor::new(&head[..]).chain(&mut *reader),
            kept: &mut kept,
            kept_len: 0,
            cap: ctx.opts.max_spool_bytes,
            over_cap: &over_cap,
            read_failed: &read_failed,
        };
        let mut buffered = BufReader::with_capacity(1 << 16, &mut tee);
        scan_pickle(
            ctx,
            trail,
            &mut buffered,
            0,
            Strength::Candidate,
            Hints::default(),
        )
    };
    if over_cap.get() {
        ctx.limit(
            trail,
            0,
            format!(
                "a stream read as a pickle ran past {} bytes",
                ctx.opts.max_spool_bytes
            ),
        );
        return Scanned::new(kind.name(), State::Stopped);
    }
    if let Some(error) = read_failed.take() {
        return stream_failure(ctx, trail, 0, &error, "reading it");
    }
    if let Err(e) = kept.seek(SeekFrom::Start(0)) {
        return stream_failure(
            ctx,
            trail,
            0,
            &e,
            "reading back what the pickle scanner read",
        );
    }
    // Whatever the tee read past `head` was taken from `reader`: the format's parser reads the
    // kept bytes, then the rest of `reader`.
    let mut replay = kept.chain(reader);
    let hints = Hints {
        pickle_scanned: true,
        ..hints
    };
    let scanned = scan_reader(ctx, trail, &mut replay, len, depth, hints);
    pickle_outcome(ctx, trail, pickle_state, scanned)
}

/// Reads `inner`, keeping a copy of every byte read in `kept` (up to `cap` bytes).
struct Tee<'a, R> {
    inner: R,
    kept: &'a mut tempfile::SpooledTempFile,
    kept_len: u64,
    cap: u64,
    over_cap: &'a Cell<bool>,
    read_failed: &'a Cell<Option<io::Error>>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                // The stream itself failed: the caller reports that, not a damaged pickle.
                let message = e.to_string();
                self.read_failed.set(Some(e));
                return Err(io::Error::other(message));
            }
        };
        self.kept_len += n as u64;
        if self.kept_len > self.cap {
            self.over_cap.set(true);
            return Err(io::Error::other("stream too long to keep"));
        }
        self.kept.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Runs the pickle scanner over a seekable stream that its format's parser has already read.
fn also_as_pickle(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn BufRead,
    scanned: Scanned,
) -> Scanned {
    let state = scan_pickle(ctx, trail, reader, 0, Strength::Candidate, Hints::default());
    pickle_outcome(ctx, trail, state, scanned)
}

/// What a pickle pass over a stream of another format adds: a stream that is a complete pickle
/// and also another format is a polyglot (its Dangerous findings, if any, are already reported).
fn pickle_outcome(ctx: &Ctx<'_>, trail: &Trail, pickle: State, scanned: Scanned) -> Scanned {
    match pickle {
        State::Parsed => {
            ctx.report(
                crate::rules::POLYGLOT.code,
                Severity::Suspicious,
                trail,
                0,
                format!(
                    "the stream is {} and also a complete pickle: pickle.load executes it as a pickle whatever it looks like, so it was scanned as both",
                    scanned.format
                ),
            );
            Scanned::new(format!("{} + pickle", scanned.format), scanned.state)
        }
        State::Damaged if scanned.state == State::Parsed => {
            Scanned::new(scanned.format, State::Damaged)
        }
        _ => scanned,
    }
}

/// A zip or 7z found inside a stream needs random access: copy it to an anonymous temporary
/// file (bounded) and scan that.
fn spool_and_scan(
    ctx: &Ctx<'_>,
    trail: &Trail,
    head: Vec<u8>,
    reader: &mut dyn Read,
    depth: Depth,
    hints: Hints,
) -> Scanned {
    let mut spool = match tempfile::tempfile() {
        Ok(file) => file,
        Err(e) => {
            ctx.report(
                crate::rules::LIMIT.code,
                Severity::Suspicious,
                trail,
                0,
                format!("a nested archive could not be copied to a temporary file to be opened ({e}); it was not inspected"),
            );
            return Scanned::new("archive (not inspected)", State::Stopped);
        }
    };
    let cap = ctx.opts.max_spool_bytes;
    let copied = spool.write_all(&head).and_then(|_| {
        io::copy(
            &mut reader.take(cap.saturating_sub(head.len() as u64).saturating_add(1)),
            &mut spool,
        )
    });
    let len = match copied {
        Ok(rest) => head.len() as u64 + rest,
        Err(e) => return stream_failure(ctx, trail, 0, &e, "copying it out to open it"),
    };
    if len > cap {
        ctx.limit(
            trail,
            0,
            format!("a nested archive is larger than {cap} bytes"),
        );
        return Scanned::new("archive (not inspected)", State::Stopped);
    }
    // A failing temporary file is not the scanned file failing: it stops this member only.
    let spool_failed = Cell::new(false);
    let mut spool = Tracked::new(spool, &spool_failed);
    let scanned = scan_seekable(ctx, trail, &mut spool, len, depth, hints);
    if let Some(error) = spool.error() {
        ctx.report(
            crate::rules::LIMIT.code,
            Severity::Suspicious,
            trail,
            0,
            format!("the temporary copy of a nested archive could not be read back ({error})"),
        );
    }
    scanned
}

fn effective_kind(head: &[u8], hints: Hints) -> Kind {
    let kind = formats::sniff(head);
    match kind {
        // The loader unpickles it whatever it is, so it is scanned as the pickle it will be
        // treated as.
        Kind::Pickle { .. } | Kind::TorchLegacy => kind,
        _ if hints.pickle => Kind::Pickle {
            protocol: head
                .get(1)
                .copied()
                .filter(|_| head.first() == Some(&0x80))
                .unwrap_or(0),
        },
        _ => kind,
    }
}

/// Dispatches a buffered stream of a known kind to its parser.
fn scan_kind(
    ctx: &Ctx<'_>,
    trail: &Trail,
    kind: Kind,
    reader: &mut dyn BufRead,
    len: Option<u64>,
    depth: Depth,
    hints: Hints,
) -> Scanned {
    match kind {
        Kind::Empty => {
            if trail.is_root() {
                ctx.report(
                    crate::rules::UNRECOGNISED.code,
                    Severity::Info,
                    trail,
                    0,
                    "empty file",
                );
            }
            Scanned::new("empty", State::Unrecognised)
        }
        k if k.is_compression() => crate::compress::scan(ctx, trail, k, reader, depth, hints),
        Kind::Tar => crate::archive::scan_tar(ctx, trail, reader, depth),
        Kind::Pickle { protocol } => {
            let state = scan_pickle(ctx, trail, reader, 0, Strength::Header, hints);
            let format = if protocol >= 2 {
                format!("pickle (protocol {protocol})")
            } else {
                "pickle".to_string()
            };
            finish_pickle(ctx, trail, format, state, hints)
        }
        Kind::TorchLegacy => {
            let state = scan_pickle(ctx, trail, reader, 0, Strength::Header, hints);
            finish_pickle(
                ctx,
                trail,
                "PyTorch legacy (stacked pickles)".into(),
                state,
                hints,
            )
        }
        Kind::PickleCandidate => {
            let state = scan_pickle(ctx, trail, reader, 0, Strength::Candidate, hints);
            finish_pickle(
                ctx,
                trail,
                Kind::PickleCandidate.name().into(),
                state,
                hints,
            )
        }
        Kind::Npy => crate::numpy::scan_npy(ctx, trail, reader, len, hints),
        Kind::Hdf5 => crate::keras::scan_hdf5(ctx, trail, reader),
        Kind::Gguf => crate::gguf::scan(ctx, trail, reader, len),
        Kind::Safetensors => crate::safetensors::scan(ctx, trail, reader, len),
        Kind::ProtobufCandidate(hint) => match crate::protobuf::scan(ctx, trail, reader, hint) {
            Ok(scanned) => scanned,
            Err(why) => unrecognised(
                ctx,
                trail,
                hints,
                &format!("it starts like a protobuf model but is not one: {why}"),
            ),
        },
        _ => unrecognised(ctx, trail, hints, ""),
    }
}

/// Reports content that is none of the known formats: Info (nothing known to run), except for a
/// member marked encrypted, which is Suspicious because it could not be inspected at all.
pub(crate) fn unrecognised(ctx: &Ctx<'_>, trail: &Trail, hints: Hints, why: &str) -> Scanned {
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" ({why})")
    };
    if hints.ciphertext {
        ctx.report(
            crate::rules::ENCRYPTED.code,
            Severity::Suspicious,
            trail,
            0,
            format!("the member is encrypted and could not be inspected{why}"),
        );
    } else if !hints.quiet {
        ctx.report(
            crate::rules::UNRECOGNISED.code,
            Severity::Info,
            trail,
            0,
            format!("not a recognised model format{why}; nothing in it is known to run on load"),
        );
    }
    Scanned::unrecognised()
}

fn finish_pickle(
    ctx: &Ctx<'_>,
    trail: &Trail,
    format: String,
    state: State,
    hints: Hints,
) -> Scanned {
    match state {
        State::Unrecognised => unrecognised(
            ctx,
            trail,
            hints,
            "it starts like a protocol 0/1 pickle but does not parse as one",
        ),
        _ => Scanned::new(format, state),
    }
}

/// How sure the caller is that the stream is a pickle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strength {
    /// It has a PROTO header, or its container says the loader unpickles it.
    Header,
    /// Only its first byte suggests it (protocol 0/1 has no header).
    Candidate,
}

/// Runs the pickle scanner over a stream and decides what its result means.
///
/// Severity of a stream that does not parse:
/// * A stream known to be a pickle (PROTO header, or unpickled by its loader regardless) that does
///   not parse is Dangerous (`model/unparseable`): the scanner and the loader might disagree on
///   where the damage is, so it cannot be shown safe.
/// * A headerless candidate (protocol 0/1) is only a pickle if it parses: one that does not is
///   unrecognised content, not a damaged pickle. Whatever Dangerous findings the attempt made are
///   kept (the loader would have executed the opcodes before the damage too); the rest of the
///   noise (globals "found" in text that is not a pickle) is dropped.
/// * A member the archive marks encrypted is expected not to parse (it is ciphertext): that is
///   `model/encrypted` (Suspicious), reported by the caller.
/// * A failure caused by a limit or a read error is neither; those are reported on their own.
pub(crate) fn scan_pickle(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn BufRead,
    offset: u64,
    strength: Strength,
    hints: Hints,
) -> State {
    let location = ctx.location(trail, offset);
    let mut found = Vec::new();
    let result = pickle::scan_stream(
        reader,
        &location,
        &ctx.opts.policy,
        &ctx.opts.limits,
        &mut found,
    );
    match result {
        Ok(Summary { pickles, .. }) if pickles > 0 || strength == Strength::Header => {
            ctx.extend(found);
            State::Parsed
        }
        Ok(_) => {
            ctx.extend(
                found
                    .into_iter()
                    .filter(|f| f.severity == Severity::Dangerous)
                    .collect(),
            );
            State::Unrecognised
        }
        Err(error) => {
            if ctx.stopped() {
                ctx.extend(found);
                return State::Stopped;
            }
            let dangerous_seen = found.iter().any(|f| f.severity == Severity::Dangerous);
            match strength {
                Strength::Candidate if !dangerous_seen => State::Unrecognised,
                _ if hints.ciphertext => {
                    ctx.extend(found);
                    ctx.report(
                        crate::rules::ENCRYPTED.code,
                        Severity::Suspicious,
                        trail,
                        offset,
                        format!("the member is marked encrypted and its bytes do not parse as a pickle in the clear ({error}); it could not be inspected"),
                    );
                    State::Damaged
                }
                _ => {
                    ctx.extend(found);
                    ctx.report(
                        crate::rules::UNPARSEABLE.code,
                        Severity::Dangerous,
                        trail,
                        // The scanner's offsets already include `offset` (the location's).
                        error.offset,
                        format!("pickle stream does not parse ({error}): a pickle that cannot be parsed cannot be shown safe"),
                    );
                    State::Damaged
                }
            }
        }
    }
}

/// An I/O error from a seekable source: the file itself failing is a read error (reported by
/// the caller from [`Tracked`]); a limit is already reported.
fn io_failure(ctx: &Ctx<'_>, trail: &Trail, offset: u64, error: &io::Error) -> Scanned {
    stream_failure(ctx, trail, offset, error, "reading it")
}

/// A stream failed while being read. Past a limit the failure is expected; otherwise the stream
/// (a decompressor, an archive member) is damaged, which is worth a Suspicious finding: nothing in
/// it was inspected.
pub(crate) fn stream_failure(
    ctx: &Ctx<'_>,
    trail: &Trail,
    offset: u64,
    error: &io::Error,
    doing: &str,
) -> Scanned {
    if ctx.stopped() {
        return Scanned::new("not inspected", State::Stopped);
    }
    ctx.report(
        crate::rules::UNPARSEABLE.code,
        Severity::Suspicious,
        trail,
        offset,
        format!("the data failed while {doing} ({error}); it could not be inspected"),
    );
    Scanned::new("damaged", State::Damaged)
}

/// Checks an archive member's name for the tricks that make extraction write outside its
/// directory or make tools disagree about which member is which.
pub(crate) fn check_member_name(ctx: &Ctx<'_>, trail: &Trail, raw: &[u8]) {
    let mut problems = Vec::new();
    if raw.contains(&0) {
        problems.push("contains a NUL byte (tools disagree on where the name ends)");
    }
    if raw.contains(&b'\\') {
        problems.push("contains a backslash (a directory separator on Windows)");
    }
    if raw.first() == Some(&b'/')
        || raw.first() == Some(&b'\\')
        || matches!(raw, [letter, b':', ..] if letter.is_ascii_alphabetic())
    {
        problems.push("is an absolute path");
    }
    if raw
        .split(|b| *b == b'/' || *b == b'\\')
        .any(|part| part == b"..")
    {
        problems.push("climbs out of the extraction directory with '..'");
    }
    if raw.iter().any(|b| b.is_ascii_control() && *b != 0) {
        problems.push("contains control characters");
    }
    if !problems.is_empty() {
        ctx.report(
            crate::rules::ARCHIVE_PATH.code,
            Severity::Suspicious,
            trail,
            0,
            format!("the member name {}", problems.join(", ")),
        );
    }
}

/// Reports a duplicate member name: loaders pick one copy (Python's tarfile the last, others the
/// first), so every copy is scanned, but a second copy has no honest purpose.
pub(crate) fn check_duplicate(
    ctx: &Ctx<'_>,
    trail: &Trail,
    seen: &mut HashSet<Vec<u8>>,
    raw: &[u8],
) {
    if !seen.insert(raw.to_vec()) {
        ctx.report(
            crate::rules::DUPLICATE_MEMBER.code,
            Severity::Suspicious,
            trail,
            0,
            "another member has the same name: loaders pick different copies, so each was scanned",
        );
    }
}

/// A member name fit for reports: lossy UTF-8 with control characters escaped.
pub(crate) fn display_name(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_for_display() {
        assert_eq!(display_name(b"a\0b\n"), "a\\u{0}b\\n");
        assert_eq!(display_name(b"ok/data.pkl"), "ok/data.pkl");
    }

    #[test]
    fn member_name_tricks_are_reported() {
        let options = ScanOptions::default();
        let ctx = Ctx::new(&options, "f".into(), 0);
        for (name, expected) in [
            (&b"../x.pkl"[..], true),
            (b"/etc/passwd", true),
            (b"C:evil", true),
            (b"a\\b", true),
            (b"a\0b", true),
            (b"model/data.pkl", false),
            (b"..data", false),
        ] {
            let before = ctx.findings.borrow().len();
            check_member_name(&ctx, &Trail::default(), name);
            assert_eq!(ctx.findings.borrow().len() > before, expected, "{name:?}");
        }
    }

    #[test]
    fn expansion_budget_is_the_smaller_of_size_and_ratio_bounds() {
        let options = ScanOptions {
            max_expanded_bytes: 1000,
            max_expansion_ratio: 10,
            expansion_floor: 50,
            ..ScanOptions::default()
        };
        assert_eq!(Ctx::new(&options, "f".into(), 2).expanded_limit, 50);
        assert_eq!(Ctx::new(&options, "f".into(), 20).expanded_limit, 200);
        assert_eq!(Ctx::new(&options, "f".into(), 2000).expanded_limit, 1000);
    }

    #[test]
    fn metered_reads_stop_at_the_budget() {
        let options = ScanOptions {
            max_expanded_bytes: 10,
            expansion_floor: 10,
            ..ScanOptions::default()
        };
        let ctx = Ctx::new(&options, "f".into(), 1);
        let data = [7u8; 64];
        let mut metered = ctx.meter(&data[..], &Trail::default().child("m"));
        let mut out = Vec::new();
        assert!(metered.read_to_end(&mut out).is_err());
        assert!(ctx.stopped());
        let findings = ctx.findings.into_inner();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].rule, crate::rules::LIMIT.code);
        assert_eq!(findings[0].location.members, vec!["m".to_string()]);
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn raw_pickles() {
        let p2 = scan(EVIL_P2);
        assert_eq!(format(&p2), "pickle (protocol 2)");
        assert_routed(&p2, &[]);
        let p0 = scan(EVIL_P0);
        if pickle_scanner_is_live() {
            assert_eq!(format(&p0), "pickle (protocol 0/1)");
            assert_eq!(format(&scan(BENIGN_P0)), "pickle (protocol 0/1)");
            assert!(dangerous(&scan(BENIGN_P0)).is_empty());
        }
        assert_routed(&p0, &[]);
    }

    #[test]
    fn things_that_are_not_pickles_are_never_dangerous() {
        for bytes in [
            &b"\x89PNG\r\n\x1a\n"[..],
            b"cmod\n\xf8\n",
            b"(this is a sentence in parentheses)",
            b"Notes: nothing here",
            b"feature1,feature2\n0.1,0.2\n",
            b"{\"a\": 1}",
        ] {
            let outcome = scan(bytes);
            assert_eq!(format(&outcome), "unrecognised", "{bytes:?}");
            assert!(
                dangerous(&outcome).is_empty(),
                "{bytes:?}: {:?}",
                outcome.findings
            );
            assert_eq!(
                rules(&outcome),
                [crate::rules::UNRECOGNISED.code],
                "{bytes:?}"
            );
        }
        let empty = scan(b"");
        assert_eq!(format(&empty), "empty");
        assert_eq!(empty.findings[0].severity, Severity::Info);
    }

    #[test]
    fn damaged_pickle_with_a_header_is_dangerous() {
        let mut truncated = EVIL_P2[..EVIL_P2.len() - 4].to_vec();
        truncated.extend_from_slice(b"\xff\xff");
        let outcome = scan(&truncated);
        if pickle_scanner_is_live() {
            let damaged = with_rule(&outcome, crate::rules::UNPARSEABLE.code);
            assert_eq!(damaged.len(), 1, "{:?}", outcome.findings);
            assert_eq!(damaged[0].severity, Severity::Dangerous);
        }
    }

    #[test]
    fn directories_are_walked_in_order_and_links_out_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("evil.pkl"), EVIL_P2).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.pkl"), EVIL_P2).unwrap();
        std::fs::write(
            dir.path().join("a.safetensors"),
            b"\x02\x00\x00\x00\x00\x00\x00\x00{}",
        )
        .unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("evil.pkl"),
            dir.path().join("link-out.pkl"),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.path().join("sub/b.pkl"), dir.path().join("link-in.pkl"))
            .unwrap();

        let outcome = scan_path(dir.path(), &ScanOptions::default());
        assert!(outcome.read_errors.is_empty());
        let names: Vec<String> = outcome
            .files
            .iter()
            .map(|f| {
                Path::new(&f.path)
                    .strip_prefix(dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["a.safetensors", "link-in.pkl", "sub/b.pkl"]);
        assert_eq!(outcome.files[0].format, "safetensors");
        assert!(outcome.files[1].format.starts_with("symbolic link to"));
        let links = with_rule(&outcome, crate::rules::SYMLINK.code);
        assert_eq!(links.len(), 1);
        assert!(links[0].location.file.ends_with("link-out.pkl"));
        if pickle_scanner_is_live() {
            let found = dangerous(&outcome);
            assert!(
                found.iter().all(|f| f.location.file.ends_with("sub/b.pkl")),
                "{found:?}"
            );
        }
    }

    #[test]
    fn forward_only_streams_spool_only_archives() {
        let zip = lib_zip(&[("data.pkl", EVIL_P2)], true);
        let outcome = scan_read(
            "layer/model.pt",
            &mut &zip[..],
            Some(zip.len() as u64),
            &ScanOptions::default(),
        );
        assert_eq!(outcome.files[0].format, "PyTorch zip");
        assert_routed(&outcome, &["data.pkl"]);
        let outcome = scan_read(
            "layer/model.pkl.gz",
            &mut &gzip(EVIL_P2)[..],
            None,
            &ScanOptions::default(),
        );
        assert_eq!(outcome.files[0].format, "gzip: pickle (protocol 2)");
        assert_routed(&outcome, &[]);
    }

    #[test]
    fn missing_paths_are_read_errors() {
        let outcome = scan_path(
            Path::new("/nonexistent/palisade/model.pkl"),
            &ScanOptions::default(),
        );
        assert_eq!(outcome.read_errors.len(), 1);
        assert!(outcome.findings.is_empty());
    }

    #[test]
    fn read_failures_are_read_errors_not_findings() {
        struct Flaky(Cursor<Vec<u8>>);
        impl Read for Flaky {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.position() > 4 {
                    return Err(io::Error::other("disk on fire"));
                }
                let n = buf.len().min(3);
                self.0.read(&mut buf[..n])
            }
        }
        impl Seek for Flaky {
            fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
                self.0.seek(pos)
            }
        }
        let data = lib_zip(&[("data.pkl", EVIL_P2)], true);
        let len = data.len() as u64;
        let result = scan_source(
            Flaky(Cursor::new(data)),
            len,
            "flaky".into(),
            &ScanOptions::default(),
        );
        assert_eq!(result.read_error.as_deref(), Some("disk on fire"));
        assert_eq!(result.report.format, "unreadable");
        assert!(result.findings.is_empty(), "{:?}", result.findings);
    }
}
