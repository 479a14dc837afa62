//! Zip archives, read by their central directory as the model loaders read them (PyTorch's miniz,
//! Python's zipfile for NumPy and Keras). Our own reader rather than the zip crate's: that one
//! keys members by name, so of two members called `data.pkl` it would show only one, and it
//! refuses members flagged encrypted that a loader ignoring the flag reads in the clear.
//!
//! Local headers are read only to find where each member's data starts; where they disagree with
//! the central directory (name, method, flags), that is reported and the directory wins, as it
//! does for the loaders.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufReader, Read, SeekFrom};

use crate::finding::Severity;
use crate::scan::{self, Ctx, Depth, Hints, Scanned, State, Trail};
use crate::stream::{self, ReadSeek, Window};

const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const ZIP64_LOCATOR_SIG: &[u8; 4] = b"PK\x06\x07";
const ZIP64_EOCD_SIG: &[u8; 4] = b"PK\x06\x06";
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";

/// The end-of-central-directory record's fixed size, and how far from the end it can be (a
/// comment of up to 65535 bytes may follow it).
const EOCD_LEN: u64 = 22;
const EOCD_SEARCH: u64 = EOCD_LEN + 65535;

/// Total bytes of member names held at once: names are kept for the whole archive (duplicates,
/// layout), and 100,000 names of 64 KiB each would be 6 GB.
const MAX_NAME_BYTES: usize = 64 << 20;

/// Where the central directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct End {
    /// Offset of the first central directory record.
    cd_start: u64,
    /// Offset just past the central directory (where the zip64 or plain end record starts).
    cd_end: u64,
    /// What to add to the offsets stored in the archive: data prepended to a zip shifts them all.
    shift: u64,
}

/// One central-directory entry.
#[derive(Debug, Clone)]
struct Entry {
    raw_name: Vec<u8>,
    name: String,
    flags: u16,
    method: u16,
    compressed: u64,
    uncompressed: u64,
    /// Absolute offset of the local header (shift applied).
    header: u64,
}

impl Entry {
    fn is_dir(&self) -> bool {
        self.raw_name.ends_with(b"/") && self.uncompressed == 0
    }
    /// Bit 0 (traditional or AES encryption) or bit 6 (strong encryption).
    fn encrypted(&self) -> bool {
        self.flags & 0x0041 != 0 || self.method == 99
    }
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

fn read_exact_at(source: &mut dyn ReadSeek, at: u64, buf: &mut [u8]) -> io::Result<()> {
    source.seek(SeekFrom::Start(at))?;
    source.read_exact(buf)
}

fn signature_at(source: &mut dyn ReadSeek, at: u64, len: u64, sig: &[u8; 4]) -> io::Result<bool> {
    if at.checked_add(4).is_none_or(|end| end > len) {
        return Ok(false);
    }
    let mut found = [0u8; 4];
    read_exact_at(source, at, &mut found)?;
    Ok(&found == sig)
}

/// Finds the end record and from it the central directory. With `exact`, the end record must end
/// the file (its comment reaching exactly to the end), as for a zip appended to another format;
/// otherwise the last end record wins, as in Python's zipfile. `Ok(None)`: no zip here.
pub(crate) fn find_end(
    source: &mut dyn ReadSeek,
    len: u64,
    exact: bool,
) -> io::Result<Option<End>> {
    if len < EOCD_LEN {
        return Ok(None);
    }
    let tail_start = len.saturating_sub(EOCD_SEARCH);
    source.seek(SeekFrom::Start(tail_start))?;
    let tail = stream::read_up_to(
        source,
        usize::try_from(len - tail_start).unwrap_or(usize::MAX),
    )?;
    let mut candidates = (0..=tail.len().saturating_sub(EOCD_LEN as usize))
        .rev()
        .filter(|&i| &tail[i..i + 4] == EOCD_SIG);
    let found = if exact {
        candidates
            .find(|&i| i + EOCD_LEN as usize + usize::from(u16_at(&tail, i + 20)) == tail.len())
    } else {
        candidates.next()
    };
    let Some(i) = found else {
        return Ok(None);
    };
    let record = &tail[i..i + EOCD_LEN as usize];
    let eocd_at = tail_start + i as u64;
    let mut cd_size = u64::from(u32_at(record, 12));
    let mut cd_offset = u64::from(u32_at(record, 16));
    let mut directory_end = eocd_at;

    // Zip64: a locator right before the end record points at the zip64 end record, which holds
    // the 64-bit directory size and offset.
    if eocd_at >= 20 && signature_at(source, eocd_at - 20, len, ZIP64_LOCATOR_SIG)? {
        let mut locator = [0u8; 20];
        read_exact_at(source, eocd_at - 20, &mut locator)?;
        let stated = u64_at(&locator, 8);
        // The zip64 record is 56 bytes and sits right before the locator; if the stated offset
        // is off (prepended data), that is where to look.
        let expected = (eocd_at - 20).saturating_sub(56);
        let at = if signature_at(source, stated, len, ZIP64_EOCD_SIG)? {
            stated
        } else {
            expected
        };
        if signature_at(source, at, len, ZIP64_EOCD_SIG)? {
            let mut record64 = [0u8; 56];
            read_exact_at(source, at, &mut record64)?;
            cd_size = u64_at(&record64, 40);
            cd_offset = u64_at(&record64, 48);
            directory_end = at;
        }
    }

    let Some(actual_start) = directory_end.checked_sub(cd_size) else {
        return Ok(None);
    };
    let empty = cd_size == 0;
    let (cd_start, shift) = if empty || signature_at(source, cd_offset, len, CENTRAL_SIG)? {
        (cd_offset.min(directory_end), 0)
    } else if actual_start >= cd_offset && signature_at(source, actual_start, len, CENTRAL_SIG)? {
        (actual_start, actual_start - cd_offset)
    } else {
        return Ok(None);
    };
    if exact && empty {
        // An empty zip appended to something else has nothing to scan.
        return Ok(None);
    }
    Ok(Some(End {
        cd_start,
        cd_end: directory_end.max(cd_start),
        shift,
    }))
}

/// Reads the central directory. Stops (with `truncated`) at the entry limit or the name budget.
fn read_directory(
    source: &mut dyn ReadSeek,
    end: End,
    max_entries: u64,
) -> io::Result<(Vec<Entry>, Option<String>)> {
    let mut entries = Vec::new();
    let mut name_bytes = 0usize;
    source.seek(SeekFrom::Start(end.cd_start))?;
    let mut reader = BufReader::new(Window::new(source, end.cd_start, end.cd_end - end.cd_start));
    loop {
        let mut fixed = [0u8; 46];
        match reader.read_exact(&mut fixed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
        if &fixed[..4] != CENTRAL_SIG {
            break;
        }
        if entries.len() as u64 >= max_entries {
            return Ok((
                entries,
                Some(format!(
                    "more than {max_entries} members in the central directory"
                )),
            ));
        }
        let name_len = usize::from(u16_at(&fixed, 28));
        let extra_len = usize::from(u16_at(&fixed, 30));
        let comment_len = u64::from(u16_at(&fixed, 32));
        name_bytes += name_len;
        if name_bytes > MAX_NAME_BYTES {
            return Ok((
                entries,
                Some(format!("member names exceed {MAX_NAME_BYTES} bytes")),
            ));
        }
        let mut raw_name = vec![0u8; name_len];
        reader.read_exact(&mut raw_name)?;
        let mut extra = vec![0u8; extra_len];
        reader.read_exact(&mut extra)?;
        io::copy(&mut (&mut reader).take(comment_len), &mut io::sink())?;

        let mut uncompressed = u64::from(u32_at(&fixed, 24));
        let mut compressed = u64::from(u32_at(&fixed, 20));
        let mut header = u64::from(u32_at(&fixed, 42));
        apply_zip64_extra(&extra, &mut uncompressed, &mut compressed, &mut header);
        entries.push(Entry {
            name: scan::display_name(&raw_name),
            raw_name,
            flags: u16_at(&fixed, 8),
            method: u16_at(&fixed, 10),
            compressed,
            uncompressed,
            header: header.saturating_add(end.shift),
        });
    }
    Ok((entries, None))
}

/// The zip64 extended-information extra field (0x0001) holds, in this order, whichever of the
/// uncompressed size, compressed size and header offset were too large for their 32-bit fields.
fn apply_zip64_extra(extra: &[u8], uncompressed: &mut u64, compressed: &mut u64, header: &mut u64) {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let id = u16_at(extra, at);
        let size = usize::from(u16_at(extra, at + 2));
        let body = &extra[at + 4..(at + 4 + size).min(extra.len())];
        if id == 0x0001 {
            let mut values = body.chunks_exact(8).map(|c| u64_at(c, 0));
            for field in [uncompressed, compressed, header] {
                if *field == 0xffff_ffff {
                    match values.next() {
                        Some(value) => *field = value,
                        None => break,
                    }
                }
            }
            return;
        }
        at += 4 + size;
    }
}

/// What the local header says, where it disagrees with the directory.
struct Local {
    data_start: u64,
    disagreements: Vec<String>,
}

fn read_local(source: &mut dyn ReadSeek, len: u64, entry: &Entry) -> io::Result<Option<Local>> {
    if entry.header.checked_add(30).is_none_or(|end| end > len) {
        return Ok(None);
    }
    let mut fixed = [0u8; 30];
    read_exact_at(source, entry.header, &mut fixed)?;
    if &fixed[..4] != LOCAL_SIG {
        return Ok(None);
    }
    let name_len = u16_at(&fixed, 26);
    let extra_len = u16_at(&fixed, 28);
    let mut local_name = vec![0u8; usize::from(name_len)];
    source.read_exact(&mut local_name).or_else(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Ok(())
        } else {
            Err(e)
        }
    })?;
    let mut disagreements = Vec::new();
    if local_name != entry.raw_name {
        disagreements.push(format!(
            "its local header names it {:?} (Python's zipfile refuses such a member, PyTorch reads it by the directory's name)",
            scan::display_name(&local_name)
        ));
    }
    let local_method = u16_at(&fixed, 8);
    if local_method != entry.method {
        disagreements.push(format!(
            "its local header says compression method {local_method}, the directory {}",
            entry.method
        ));
    }
    let local_flags = u16_at(&fixed, 6);
    if (local_flags ^ entry.flags) & 0x0041 != 0 {
        disagreements.push(
            "its local header and the directory disagree on whether it is encrypted".to_string(),
        );
    }
    Ok(Some(Local {
        data_start: entry.header + 30 + u64::from(name_len) + u64::from(extra_len),
        disagreements,
    }))
}

/// What kind of model a zip is, from its member names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// `torch.save`: `<prefix>/data.pkl`, `<prefix>/data/<storage>`, ...; TorchScript adds
    /// `<prefix>/code/` and `<prefix>/constants.pkl`.
    Torch {
        prefix: String,
        torchscript: Option<String>,
    },
    Npz,
    Keras,
    Plain,
}

fn layout(entries: &[Entry]) -> Layout {
    let torch_prefix = entries.iter().find_map(|e| {
        let name = e.name.as_str();
        if name == "data.pkl" {
            Some(String::new())
        } else {
            name.strip_suffix("/data.pkl")
                .filter(|p| !p.contains('/'))
                .map(|p| format!("{p}/"))
        }
    });
    if let Some(prefix) = torch_prefix {
        let torchscript = entries
            .iter()
            .find(|e| {
                e.name.starts_with(&format!("{prefix}code/"))
                    || e.name == format!("{prefix}constants.pkl")
            })
            .map(|e| e.name.clone());
        return Layout::Torch {
            prefix,
            torchscript,
        };
    }
    let files: Vec<&Entry> = entries.iter().filter(|e| !e.is_dir()).collect();
    if !files.is_empty() && files.iter().all(|e| e.name.ends_with(".npy")) {
        return Layout::Npz;
    }
    let has = |name: &str| entries.iter().any(|e| e.name == name);
    if has("config.json") && (has("metadata.json") || has("model.weights.h5")) {
        return Layout::Keras;
    }
    Layout::Plain
}

/// Scans a zip archive.
pub(crate) fn scan(
    ctx: &Ctx<'_>,
    trail: &Trail,
    source: &mut dyn ReadSeek,
    len: u64,
    depth: Depth,
) -> Scanned {
    if let Err(stopped) = depth.enter_archive(ctx, trail, "zip") {
        return stopped;
    }
    let end = match find_end(source, len, false) {
        Ok(Some(end)) => end,
        Ok(None) => {
            ctx.report(
                crate::rules::UNPARSEABLE.code,
                Severity::Suspicious,
                trail,
                0,
                "zip archive without a readable central directory (truncated or damaged): loaders refuse it, and its members were not inspected",
            );
            return Scanned::new("zip", State::Damaged);
        }
        Err(e) => {
            return scan::stream_failure(ctx, trail, 0, &e, "reading the zip directory")
                .named("zip")
        }
    };
    let (entries, truncated) = match read_directory(source, end, ctx.opts.max_entries) {
        Ok(read) => read,
        Err(e) => {
            if ctx.stopped() {
                return Scanned::new("zip", State::Stopped);
            }
            ctx.report(
                crate::rules::UNPARSEABLE.code,
                Severity::Suspicious,
                trail,
                end.cd_start,
                format!(
                    "the zip central directory is damaged ({e}); its members were not inspected"
                ),
            );
            return Scanned::new("zip", State::Damaged);
        }
    };
    let layout = layout(&entries);
    let mut format = match &layout {
        Layout::Torch {
            torchscript: Some(_),
            ..
        } => "TorchScript zip",
        Layout::Torch { .. } => "PyTorch zip",
        Layout::Npz => "NumPy .npz",
        Layout::Keras => "Keras .keras",
        Layout::Plain => "zip",
    }
    .to_string();
    if let Layout::Torch {
        torchscript: Some(member),
        ..
    } = &layout
    {
        ctx.report(
            crate::rules::TORCHSCRIPT.code,
            Severity::Suspicious,
            &trail.child(member),
            0,
            "TorchScript archive: its compiled code runs when the model is loaded (torch.jit.load), beyond what a pickle scan can vet",
        );
    }

    let mut state = State::Parsed;
    let mut seen = HashSet::new();
    let mut scanned_at: HashMap<u64, String> = HashMap::new();
    let mut ranges: Vec<(u64, u64, String)> = Vec::new();
    for entry in &entries {
        if ctx.stopped() {
            state = State::Stopped;
            break;
        }
        let child = trail.child(&entry.name);
        if !ctx.count_entry(&child) {
            state = State::Stopped;
            break;
        }
        scan::check_member_name(ctx, &child, &entry.raw_name);
        scan::check_duplicate(ctx, &child, &mut seen, &entry.raw_name);
        if entry.is_dir() {
            continue;
        }
        let local = match read_local(source, len, entry) {
            Ok(Some(local)) => local,
            Ok(None) => {
                ctx.report(
                    crate::rules::UNPARSEABLE.code,
                    Severity::Suspicious,
                    &child,
                    0,
                    "the directory points at no local header for this member: it could not be inspected",
                );
                state = State::Damaged;
                continue;
            }
            Err(e) => {
                scan::stream_failure(ctx, &child, 0, &e, "reading its local header");
                state = State::Damaged;
                continue;
            }
        };
        for disagreement in &local.disagreements {
            ctx.report(
                crate::rules::ZIP_INCONSISTENT.code,
                Severity::Suspicious,
                &child,
                0,
                disagreement.clone(),
            );
        }
        if let Some(first) = scanned_at.get(&entry.header) {
            // Several directory entries sharing one member's bytes: scanned once. Sharing is how
            // overlapping-entry zip bombs multiply their output.
            ctx.report(
                crate::rules::ZIP_INCONSISTENT.code,
                Severity::Suspicious,
                &child,
                0,
                format!("shares its data with member {first:?}"),
            );
            continue;
        }
        scanned_at.insert(entry.header, entry.name.clone());
        let available = len.saturating_sub(local.data_start);
        if entry.compressed > available {
            ctx.report(
                crate::rules::UNPARSEABLE.code,
                Severity::Suspicious,
                &child,
                0,
                format!("the member claims {} bytes but the archive ends {available} bytes after its start (truncated)", entry.compressed),
            );
            state = State::Damaged;
        }
        let data_len = entry.compressed.min(available);
        ranges.push((
            entry.header,
            local.data_start + data_len,
            entry.name.clone(),
        ));

        let member_hints = member_hints(&layout, entry);
        if member_hints.quiet && !entry.encrypted() {
            // Raw tensor storage: torch reads these bytes as numbers, never as a format.
            continue;
        }
        if layout == Layout::Keras && entry.name == "config.json" && !entry.encrypted() {
            let mut window = Window::new(source, local.data_start, data_len);
            match open_member(entry, &mut window) {
                Ok(Some(reader)) => {
                    let mut metered = ctx.meter(reader, &child);
                    crate::keras::scan_config(ctx, &child, &mut metered);
                }
                Ok(None) => unsupported_method(ctx, &child, entry),
                Err(e) => {
                    scan::stream_failure(ctx, &child, 0, &e, "decompressing it");
                }
            }
            continue;
        }
        let member = scan_member(
            ctx,
            &child,
            source,
            entry,
            local.data_start,
            data_len,
            depth,
            member_hints,
        );
        if member.state == State::Damaged && state == State::Parsed {
            state = State::Damaged;
        }
        if entry.flags & 0x0041 != 0 && entry.method != 99 && member.state == State::Parsed {
            ctx.report(
                crate::rules::ZIP_INCONSISTENT.code,
                Severity::Suspicious,
                &child,
                0,
                format!("marked encrypted, yet it is a {} in the clear: loaders that ignore the flag read it, tools that honour it skip it", member.format),
            );
        }
        if entry.flags & 0x0020 != 0 {
            ctx.report(
                crate::rules::ZIP_INCONSISTENT.code,
                Severity::Suspicious,
                &child,
                0,
                "flagged as compressed patched data (bit 5), which Python's zipfile refuses and other readers ignore",
            );
        }
    }
    if let Some(reason) = truncated {
        ctx.limit(trail, end.cd_start, reason);
        state = State::Stopped;
    }
    report_overlaps(ctx, trail, &mut ranges);
    if entries.is_empty() {
        format.push_str(" (empty)");
    }
    Scanned::new(format, state)
}

fn member_hints(layout: &Layout, entry: &Entry) -> Hints {
    let mut hints = Hints {
        ciphertext: entry.encrypted(),
        ..Hints::default()
    };
    if let Layout::Torch { prefix, .. } = layout {
        let rest = entry.name.strip_prefix(prefix.as_str()).unwrap_or("");
        // torch.load and torch.jit.load unpickle these whatever their bytes look like.
        hints.pickle = rest == "data.pkl" || rest == "constants.pkl";
        // Storages, and the small text records beside them.
        hints.quiet = rest.starts_with("data/")
            || rest.starts_with(".data/")
            || rest == "version"
            || rest == "byteorder";
    }
    hints
}

/// Opens a member's decompressed bytes, or `None` for a method we cannot decompress.
fn open_member<'w>(
    entry: &Entry,
    window: &'w mut Window<'_>,
) -> io::Result<Option<Box<dyn Read + 'w>>> {
    let raw = BufReader::new(window);
    Ok(Some(match entry.method {
        0 => Box::new(raw),
        8 => Box::new(flate2::bufread::DeflateDecoder::new(raw)),
        12 => Box::new(bzip2::bufread::BzDecoder::new(raw)),
        93 => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(raw)?;
            decoder.window_log_max(27)?;
            Box::new(decoder)
        }
        14 => Box::new(zip_lzma(raw)?),
        95 => Box::new(lzma_rust2::XzReader::new_mem_limit(
            raw,
            true,
            crate::compress::LZMA_MEMORY_LIMIT_KIB,
        )),
        _ => return Ok(None),
    }))
}

/// Zip's LZMA (method 14): a 2-byte version, a 2-byte properties length, the 5 properties bytes,
/// then a raw LZMA stream (ended by an end marker or by the member's size).
fn zip_lzma<R: Read>(mut raw: R) -> io::Result<lzma_rust2::LzmaReader<R>> {
    let mut header = [0u8; 4];
    raw.read_exact(&mut header)?;
    let props_len = u16_at(&header, 2);
    if props_len != 5 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "LZMA properties are not 5 bytes",
        ));
    }
    let mut props = [0u8; 5];
    raw.read_exact(&mut props)?;
    let dict = u32_at(&props, 1);
    let need = lzma_rust2::lzma_get_memory_usage_by_props(dict, props[0])?;
    if need > crate::compress::LZMA_MEMORY_LIMIT_KIB {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "LZMA dictionary larger than the memory limit",
        ));
    }
    lzma_rust2::LzmaReader::new_with_props(raw, u64::MAX, props[0], dict, None)
}

fn unsupported_method(ctx: &Ctx<'_>, trail: &Trail, entry: &Entry) {
    ctx.report(
        crate::rules::UNSUPPORTED_ARCHIVE.code,
        Severity::Suspicious,
        trail,
        0,
        format!(
            "compression method {} is not supported here: the member could not be inspected",
            entry.method
        ),
    );
}

#[allow(clippy::too_many_arguments)]
fn scan_member(
    ctx: &Ctx<'_>,
    trail: &Trail,
    source: &mut dyn ReadSeek,
    entry: &Entry,
    data_start: u64,
    data_len: u64,
    depth: Depth,
    hints: Hints,
) -> Scanned {
    let inner_depth = depth.inside_archive();
    if entry.method == 99 {
        return scan::unrecognised(ctx, trail, hints, "AES-encrypted");
    }
    let mut window = Window::new(source, data_start, data_len);
    if entry.method == 0 {
        // Stored: the member's bytes are in place and seekable; no copy needed even for a nested
        // archive.
        return scan::scan_seekable(ctx, trail, &mut window, data_len, inner_depth, hints);
    }
    let opened = open_member(entry, &mut window);
    let scanned = match opened {
        Ok(Some(reader)) => {
            let mut metered = ctx.meter(reader, trail);
            scan::scan_reader(ctx, trail, &mut metered, None, inner_depth, hints)
        }
        Ok(None) => {
            if hints.ciphertext {
                return scan::unrecognised(ctx, trail, hints, "unsupported compression method");
            }
            unsupported_method(ctx, trail, entry);
            Scanned::new("unsupported", State::Damaged)
        }
        Err(e) if hints.ciphertext => scan::unrecognised(ctx, trail, hints, &e.to_string()),
        Err(e) => scan::stream_failure(ctx, trail, data_start, &e, "opening its compressed data"),
    };
    scanned
}

/// Members whose bytes overlap: no writer produces them; overlapping-entry zip bombs do.
fn report_overlaps(ctx: &Ctx<'_>, trail: &Trail, ranges: &mut [(u64, u64, String)]) {
    ranges.sort();
    for pair in ranges.windows(2) {
        let (_, first_end, first) = &pair[0];
        let (second_start, _, second) = &pair[1];
        if second_start < first_end {
            ctx.report(
                crate::rules::ZIP_INCONSISTENT.code,
                Severity::Suspicious,
                &trail.child(second),
                0,
                format!("its bytes overlap those of member {first:?} (a zip-bomb construction)"),
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    fn zip_of(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, data) in members {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_the_directory_of_a_plain_zip() {
        let bytes = zip_of(
            &[("a.txt", b"hello"), ("dir/b.bin", b"\x00\x01")],
            zip::CompressionMethod::Deflated,
        );
        let mut source = Cursor::new(bytes.clone());
        let end = find_end(&mut source, bytes.len() as u64, false)
            .unwrap()
            .unwrap();
        assert_eq!(end.shift, 0);
        let (entries, truncated) = read_directory(&mut source, end, 10).unwrap();
        assert!(truncated.is_none());
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "dir/b.bin"]);
        assert_eq!(entries[0].uncompressed, 5);
        assert_eq!(entries[0].method, 8);
        let (limited, truncated) = read_directory(&mut source, end, 1).unwrap();
        assert_eq!(limited.len(), 1);
        assert!(truncated.is_some());
    }

    #[test]
    fn prepended_data_shifts_offsets() {
        let zip = zip_of(&[("a.txt", b"hello")], zip::CompressionMethod::Stored);
        let mut bytes = b"#!/bin/sh\nexit 0\n".to_vec();
        let shift = bytes.len() as u64;
        bytes.extend_from_slice(&zip);
        let mut source = Cursor::new(bytes.clone());
        let end = find_end(&mut source, bytes.len() as u64, false)
            .unwrap()
            .unwrap();
        assert_eq!(end.shift, shift);
        let (entries, _) = read_directory(&mut source, end, 10).unwrap();
        assert_eq!(entries[0].header, shift);
        let local = read_local(&mut source, bytes.len() as u64, &entries[0])
            .unwrap()
            .unwrap();
        assert!(local.disagreements.is_empty());
    }

    #[test]
    fn an_exact_end_is_required_for_appended_zips() {
        let mut bytes = zip_of(&[("a.txt", b"hello")], zip::CompressionMethod::Stored);
        let len = bytes.len() as u64;
        assert!(find_end(&mut Cursor::new(bytes.clone()), len, true)
            .unwrap()
            .is_some());
        bytes.extend_from_slice(&[0u8; 1024]);
        let len = bytes.len() as u64;
        assert!(find_end(&mut Cursor::new(bytes.clone()), len, true)
            .unwrap()
            .is_none());
        assert!(find_end(&mut Cursor::new(bytes), len, false)
            .unwrap()
            .is_some());
        assert!(find_end(
            &mut Cursor::new(b"PK\x05\x06 not really".to_vec()),
            18,
            false
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn zip64_extra_replaces_saturated_fields_in_order() {
        let mut extra = vec![0x01, 0x00, 16, 0];
        extra.extend_from_slice(&(5u64 << 32).to_le_bytes());
        extra.extend_from_slice(&(7u64 << 32).to_le_bytes());
        let (mut uncompressed, mut compressed, mut header) = (0xffff_ffff, 100, 0xffff_ffff);
        apply_zip64_extra(&extra, &mut uncompressed, &mut compressed, &mut header);
        assert_eq!((uncompressed, compressed, header), (5 << 32, 100, 7 << 32));
    }

    #[test]
    fn layouts() {
        let entry = |name: &str| Entry {
            raw_name: name.as_bytes().to_vec(),
            name: name.to_string(),
            flags: 0,
            method: 0,
            compressed: 1,
            uncompressed: 1,
            header: 0,
        };
        let torch = layout(&[
            entry("archive/data.pkl"),
            entry("archive/data/0"),
            entry("archive/version"),
        ]);
        assert_eq!(
            torch,
            Layout::Torch {
                prefix: "archive/".into(),
                torchscript: None
            }
        );
        let script = layout(&[
            entry("m/data.pkl"),
            entry("m/code/__torch__/m.py"),
            entry("m/constants.pkl"),
        ]);
        assert!(matches!(
            script,
            Layout::Torch {
                torchscript: Some(_),
                ..
            }
        ));
        assert_eq!(
            layout(&[entry("data.pkl")]),
            Layout::Torch {
                prefix: String::new(),
                torchscript: None
            }
        );
        assert_eq!(layout(&[entry("a.npy"), entry("b.npy")]), Layout::Npz);
        assert_eq!(
            layout(&[
                entry("config.json"),
                entry("metadata.json"),
                entry("model.weights.h5")
            ]),
            Layout::Keras
        );
        assert_eq!(layout(&[entry("a/b/data.pkl")]), Layout::Plain);
    }
}

#[cfg(test)]
mod container_tests {
    use crate::finding::Severity;
    use crate::scan::ScanOptions;
    use crate::testutil::*;

    #[test]
    fn pytorch_zip_scans_data_pkl_and_skips_storages() {
        // The storage starts like a pickle header; torch never reads it as one.
        let storage = b"\x80\x02\x00\x00garbage that is no pickle";
        let zip = raw_zip(&[
            Member::new("archive/data.pkl", EVIL_P2),
            Member::new("archive/data/0", storage),
            Member::new("archive/version", b"3\n"),
        ]);
        let outcome = scan(&zip);
        assert_eq!(format(&outcome), "PyTorch zip");
        assert_eq!(outcome.files[0].members, 3);
        assert!(
            with_rule(&outcome, crate::rules::UNRECOGNISED.code).is_empty(),
            "{:?}",
            outcome.findings
        );
        assert_routed(&outcome, &["archive/data.pkl"]);
    }

    #[test]
    fn other_pickles_in_a_pytorch_zip_are_scanned_too() {
        let zip = lib_zip(
            &[("m/data.pkl", BENIGN_P2), ("m/extra/state.pkl", EVIL_P2)],
            true,
        );
        let outcome = scan(&zip);
        assert_eq!(format(&outcome), "PyTorch zip");
        assert_routed(&outcome, &["m/extra/state.pkl"]);
    }

    #[test]
    fn data_pkl_is_a_pickle_whatever_it_looks_like() {
        let zip = raw_zip(&[Member::new("archive/data.pkl", b"hello, not a pickle")]);
        let outcome = scan(&zip);
        if pickle_scanner_is_live() {
            let found = with_rule(&outcome, crate::rules::UNPARSEABLE.code);
            assert_eq!(found.len(), 1, "{:?}", outcome.findings);
            assert_eq!(found[0].severity, Severity::Dangerous);
            assert_eq!(found[0].location.members, ["archive/data.pkl"]);
        }
        assert!(with_rule(&outcome, crate::rules::UNRECOGNISED.code).is_empty());
    }

    #[test]
    fn torchscript_is_suspicious() {
        let zip = raw_zip(&[
            Member::new("m/data.pkl", BENIGN_P2),
            Member::new("m/code/__torch__/m.py", b"def forward(self):\n  return 1\n"),
            Member::new("m/constants.pkl", EVIL_P2),
        ]);
        let outcome = scan(&zip);
        assert_eq!(format(&outcome), "TorchScript zip");
        let script = with_rule(&outcome, crate::rules::TORCHSCRIPT.code);
        assert_eq!(script.len(), 1);
        assert_eq!(script[0].severity, Severity::Suspicious);
        assert_routed(&outcome, &["m/constants.pkl"]);
    }

    #[test]
    fn name_tricks() {
        let zip = raw_zip(&[
            Member::new("../x.pkl", EVIL_P2),
            Member::new("a\\b.txt", b"hi"),
        ]);
        let outcome = scan(&zip);
        assert_eq!(
            with_rule(&outcome, crate::rules::ARCHIVE_PATH.code).len(),
            2
        );
        assert_routed(&outcome, &["../x.pkl"]);
    }

    #[test]
    fn duplicate_names_are_all_scanned() {
        // The zip crate would show only one of these; torch and zipfile pick different ones.
        let zip = raw_zip(&[
            Member::new("data.pkl", EVIL_P2),
            Member::new("data.pkl", BENIGN_P2),
        ]);
        let outcome = scan(&zip);
        assert_eq!(format(&outcome), "PyTorch zip");
        assert_eq!(
            with_rule(&outcome, crate::rules::DUPLICATE_MEMBER.code).len(),
            1
        );
        assert_routed(&outcome, &["data.pkl"]);
        let reversed = raw_zip(&[
            Member::new("data.pkl", BENIGN_P2),
            Member::new("data.pkl", EVIL_P2),
        ]);
        assert_routed(&scan(&reversed), &["data.pkl"]);
    }

    #[test]
    fn local_headers_that_disagree_are_reported_and_the_directory_wins() {
        let member = Member {
            local_name: Some(b"datap.kl"),
            ..Member::new("data.pkl", EVIL_P2)
        };
        let outcome = scan(&raw_zip(&[member]));
        assert_eq!(
            with_rule(&outcome, crate::rules::ZIP_INCONSISTENT.code).len(),
            1
        );
        assert_routed(&outcome, &["data.pkl"]);
    }

    #[test]
    fn encryption_flag_over_clear_data_is_scanned() {
        let member = Member {
            flags: 0x0001,
            ..Member::new("model/config.pkl", EVIL_P2)
        };
        let outcome = scan(&raw_zip(&[member]));
        assert_routed(&outcome, &["model/config.pkl"]);
        if pickle_scanner_is_live() {
            assert_eq!(
                with_rule(&outcome, crate::rules::ZIP_INCONSISTENT.code).len(),
                1
            );
        }
        assert!(with_rule(&outcome, crate::rules::ENCRYPTED.code).is_empty());
    }

    #[test]
    fn encrypted_members_are_suspicious_never_dangerous() {
        // Ciphertext, including ciphertext that happens to start like a pickle header.
        for data in [
            &b"\xa6\x24\x23\xad\xad\xd3\xda\x99\x54\xd8\x4e\x5b"[..],
            b"\x80\x04\x95\xff\x13\x00\x01\xfe\xee",
        ] {
            let member = Member {
                flags: 0x0001,
                ..Member::new("test.txt", data)
            };
            let outcome = scan(&raw_zip(&[member]));
            assert!(dangerous(&outcome).is_empty(), "{:?}", outcome.findings);
            if data[0] == 0x80 && !pickle_scanner_is_live() {
                // The stub scanner accepts anything that starts like a pickle.
                continue;
            }
            let encrypted = with_rule(&outcome, crate::rules::ENCRYPTED.code);
            assert_eq!(encrypted.len(), 1, "{:?}", outcome.findings);
            assert_eq!(encrypted[0].severity, Severity::Suspicious);
        }
    }

    #[test]
    fn nested_zips_are_opened_up_to_the_depth_limit() {
        let mut archive = lib_zip(&[("data.pkl", EVIL_P2)], false);
        let mut names = vec!["data.pkl".to_string()];
        for level in 0..2 {
            let name = format!("level{level}.zip");
            archive = lib_zip(&[(name.as_str(), &archive)], level % 2 == 0);
            names.insert(0, name);
        }
        let outcome = scan(&archive);
        assert!(with_rule(&outcome, crate::rules::LIMIT.code).is_empty());
        let expected: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_routed(&outcome, &expected);

        for level in 2..6 {
            let name = format!("level{level}.zip");
            archive = lib_zip(&[(name.as_str(), &archive)], true);
        }
        let outcome = scan(&archive);
        let limits = with_rule(&outcome, crate::rules::LIMIT.code);
        assert_eq!(limits.len(), 1, "{:?}", outcome.findings);
        assert_eq!(limits[0].location.members.len(), 4);
        assert!(dangerous(&outcome).is_empty());
    }

    #[test]
    fn zip_bomb_member_stops_at_the_budget() {
        let zeros = npy("<f8", "(4194304,)", &vec![0u8; 32 << 20]);
        let zip = lib_zip(&[("big.npy", &zeros)], true);
        // Deflate tops out near 1032:1, so this bomb needs a tighter ratio than the default.
        let options = ScanOptions {
            max_expansion_ratio: 100,
            expansion_floor: 1 << 20,
            parallel: false,
            ..ScanOptions::default()
        };
        let outcome = scan_with(&zip, options);
        let limits = with_rule(&outcome, crate::rules::LIMIT.code);
        assert_eq!(limits.len(), 1, "{:?}", outcome.findings);
        assert_eq!(limits[0].location.members, ["big.npy"]);
        assert!(dangerous(&outcome).is_empty());
    }

    #[test]
    fn directory_entries_sharing_data_are_scanned_once() {
        // Two directory records pointing at the same local header: the overlapping-entry bomb.
        let zip = raw_zip(&[Member::new("a.pkl", EVIL_P2)]);
        let eocd = zip.len() - 22;
        let cd_start = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        let record = zip[cd_start..eocd].to_vec();
        let mut second = record.clone();
        let name_at = 46;
        second[name_at] = b'b';
        let mut out = zip[..eocd].to_vec();
        out.extend_from_slice(&second);
        let mut end = zip[eocd..].to_vec();
        end[8..10].copy_from_slice(&2u16.to_le_bytes());
        end[10..12].copy_from_slice(&2u16.to_le_bytes());
        end[12..16].copy_from_slice(&((record.len() * 2) as u32).to_le_bytes());
        out.extend_from_slice(&end);
        let outcome = scan(&out);
        // b.pkl's record also disagrees with the local header's name, which is a.pkl's.
        let shared: Vec<_> = with_rule(&outcome, crate::rules::ZIP_INCONSISTENT.code)
            .into_iter()
            .filter(|f| f.message.contains("shares its data"))
            .collect();
        assert_eq!(shared.len(), 1, "{:?}", outcome.findings);
        assert_eq!(shared[0].location.members, ["b.pkl"]);
        assert_routed(&outcome, &["a.pkl"]);
    }

    #[test]
    fn entry_limit() {
        let members: Vec<(String, Vec<u8>)> = (0..5)
            .map(|i| (format!("{i}.txt"), b"x".to_vec()))
            .collect();
        let refs: Vec<(&str, &[u8])> = members
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let options = ScanOptions {
            max_entries: 2,
            parallel: false,
            ..ScanOptions::default()
        };
        let outcome = scan_with(&lib_zip(&refs, false), options);
        assert_eq!(with_rule(&outcome, crate::rules::LIMIT.code).len(), 1);
    }

    #[test]
    fn truncated_zip_is_suspicious() {
        let zip = lib_zip(&[("data.pkl", EVIL_P2)], false);
        let outcome = scan(&zip[..zip.len() - 30]);
        assert_eq!(format(&outcome), "zip");
        let damaged = with_rule(&outcome, crate::rules::UNPARSEABLE.code);
        assert_eq!(damaged.len(), 1);
        assert_eq!(damaged[0].severity, Severity::Suspicious);
    }

    #[test]
    fn npz_object_arrays_are_pickles() {
        let numbers = npy("<i4", "(2, 2)", &[0u8; 16]);
        let objects = npy("|O", "(1,)", EVIL_P2);
        let outcome = scan(&lib_zip(&[("a.npy", &numbers), ("b.npy", &objects)], true));
        assert_eq!(format(&outcome), "NumPy .npz");
        assert!(
            outcome
                .findings
                .iter()
                .all(|f| f.rule != crate::rules::UNPARSEABLE.code),
            "{:?}",
            outcome.findings
        );
        assert_routed(&outcome, &["b.npy"]);
    }

    #[test]
    fn keras_lambda_layers() {
        let config = br#"{"class_name": "Functional", "config": {"layers": [
            {"class_name": "InputLayer", "config": {"name": "in"}},
            {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "sneaky", "function": "..."}}]}}]}}"#;
        let zip = lib_zip(
            &[
                ("metadata.json", b"{}"),
                ("config.json", config),
                ("model.weights.h5", b"\x89HDF\r\n\x1a\n"),
            ],
            true,
        );
        let outcome = scan(&zip);
        assert_eq!(format(&outcome), "Keras .keras");
        let lambdas = with_rule(&outcome, crate::rules::KERAS_LAMBDA.code);
        assert_eq!(lambdas.len(), 1, "{:?}", outcome.findings);
        assert_eq!(lambdas[0].severity, Severity::Dangerous);
        assert_eq!(lambdas[0].location.members, ["config.json"]);
        assert!(lambdas[0].message.contains("sneaky"));

        let fine = br#"{"class_name": "Functional", "config": {"layers": [{"class_name": "TFOpLambda", "config": {}}]}}"#;
        let outcome = scan(&lib_zip(
            &[("metadata.json", b"{}"), ("config.json", fine)],
            false,
        ));
        assert!(dangerous(&outcome).is_empty(), "{:?}", outcome.findings);
    }

    #[test]
    fn zip_appended_to_a_pickle_is_scanned_too() {
        let mut file = BENIGN_P2.to_vec();
        file.extend_from_slice(&raw_zip(&[Member::new("data.pkl", EVIL_P2)]));
        let outcome = scan(&file);
        assert_eq!(
            with_rule(&outcome, crate::rules::POLYGLOT.code).len(),
            1,
            "{:?}",
            outcome.findings
        );
        assert!(
            format(&outcome).ends_with("+ PyTorch zip"),
            "{}",
            format(&outcome)
        );
        assert_routed(&outcome, &["data.pkl"]);
    }
}
