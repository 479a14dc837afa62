//! Tar and 7z archives: every member is scanned by its content, as it streams past.

use std::collections::HashSet;
use std::io::{self, BufRead, Read};

use crate::finding::Severity;
use crate::scan::{self, Ctx, Depth, Hints, Scanned, State, Trail};
use crate::stream::ReadSeek;

/// A GNU long name or a pax header longer than this is not a name: it is read no further.
const MAX_META_BYTES: u64 = 1 << 20;

/// The members of a legacy (pre-1.6 tar) `torch.save` file.
const TORCH_TAR_MEMBERS: [&str; 4] = ["sys_info", "pickle", "storages", "tensors"];

/// Scans a tar stream. The tar crate runs in raw mode so that GNU long names and pax headers
/// reach us as entries and are read with a bound, instead of into memory whatever their size.
pub(crate) fn scan_tar(
    ctx: &Ctx<'_>,
    trail: &Trail,
    reader: &mut dyn BufRead,
    depth: Depth,
) -> Scanned {
    let inner_depth = match depth.enter_archive(ctx, trail, "tar") {
        Ok(inner) => inner,
        Err(stopped) => return stopped,
    };
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(entries) => entries.raw(true),
        Err(e) => {
            return scan::stream_failure(ctx, trail, 0, &e, "reading the tar archive").named("tar")
        }
    };
    let mut state = State::Parsed;
    let mut seen = HashSet::new();
    let mut names: Vec<String> = Vec::new();
    let mut long_name: Option<Vec<u8>> = None;
    for entry in entries {
        if ctx.stopped() {
            state = State::Stopped;
            break;
        }
        let mut entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                if !ctx.stopped() {
                    ctx.report(
                        crate::rules::UNPARSEABLE.code,
                        Severity::Suspicious,
                        trail,
                        0,
                        format!("the tar archive is damaged ({e}); members after the damage were not inspected"),
                    );
                }
                state = if ctx.stopped() {
                    State::Stopped
                } else {
                    State::Damaged
                };
                break;
            }
        };
        let header_at = entry.raw_header_position();
        let entry_type = entry.header().entry_type();
        if entry_type.is_gnu_longname() || entry_type.is_pax_local_extensions() {
            match read_meta(&mut entry) {
                Ok(Some(data)) if entry_type.is_gnu_longname() => {
                    long_name = Some(data.split(|b| *b == 0).next().unwrap_or_default().to_vec());
                }
                Ok(Some(data)) => {
                    if let Some(path) = pax_path(&data) {
                        long_name = Some(path);
                    }
                }
                Ok(None) => {
                    ctx.report(
                        crate::rules::UNPARSEABLE.code,
                        Severity::Suspicious,
                        trail,
                        header_at,
                        format!("a tar name or pax header longer than {MAX_META_BYTES} bytes: no name is that long"),
                    );
                    state = State::Damaged;
                }
                Err(e) => {
                    scan::stream_failure(ctx, trail, header_at, &e, "reading a tar name record");
                    state = if ctx.stopped() {
                        State::Stopped
                    } else {
                        State::Damaged
                    };
                    break;
                }
            }
            continue;
        }
        if entry_type.is_pax_global_extensions() || entry_type.is_gnu_longlink() {
            continue;
        }
        let raw_name = long_name
            .take()
            .unwrap_or_else(|| entry.path_bytes().into_owned());
        let name = scan::display_name(&raw_name);
        let child = trail.child(&name);
        if !ctx.count_entry(&child) {
            state = State::Stopped;
            break;
        }
        scan::check_member_name(ctx, &child, &raw_name);
        // Only regular files carry content; links, directories and devices are names only (a
        // hard link's content is its target's, scanned where that member is).
        if !(entry_type.is_file() || entry_type.is_contiguous() || entry_type.is_gnu_sparse()) {
            continue;
        }
        scan::check_duplicate(ctx, &child, &mut seen, &raw_name);
        names.push(name.clone());
        let size = entry.header().size().ok();
        // torch.load's legacy tar path unpickles the `pickle` member whatever it looks like.
        let hints = Hints {
            pickle: name == "pickle" || name == "sys_info",
            ..Hints::default()
        };
        let member = scan::scan_reader(ctx, &child, &mut entry, size, inner_depth, hints);
        if member.state == State::Damaged && state == State::Parsed {
            state = State::Damaged;
        }
        if member.state == State::Stopped {
            state = State::Stopped;
            break;
        }
    }
    let torch = TORCH_TAR_MEMBERS
        .iter()
        .filter(|m| names.iter().any(|n| n == *m))
        .count()
        >= 3;
    Scanned::new(if torch { "PyTorch legacy tar" } else { "tar" }, state)
}

/// Reads a long-name or pax record, or `None` if it is implausibly long.
fn read_meta(entry: &mut dyn Read) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    entry.take(MAX_META_BYTES + 1).read_to_end(&mut data)?;
    Ok((data.len() as u64 <= MAX_META_BYTES).then_some(data))
}

/// The `path` record of a pax header ("<len> path=<value>\n" records).
fn pax_path(data: &[u8]) -> Option<Vec<u8>> {
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return None;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(value) = record.strip_prefix(b"path=") {
            return Some(value.to_vec());
        }
        rest = &rest[len..];
    }
    None
}

/// Dictionary and header memory a 7z archive may ask for.
const SEVENZ_MEMORY_LIMIT_KIB: usize = 256 * 1024;

/// Scans a 7z archive. Members are decoded one block at a time by sevenz-rust2, under its memory
/// limit, and streamed to the scanner.
pub(crate) fn scan_7z(
    ctx: &Ctx<'_>,
    trail: &Trail,
    source: &mut dyn ReadSeek,
    depth: Depth,
) -> Scanned {
    let inner_depth = match depth.enter_archive(ctx, trail, "7z") {
        Ok(inner) => inner,
        Err(stopped) => return stopped,
    };
    let mut reader = match sevenz_rust2::ArchiveReader::new_with_memory_limit(
        &mut *source,
        sevenz_rust2::Password::empty(),
        SEVENZ_MEMORY_LIMIT_KIB,
    ) {
        Ok(reader) => reader,
        Err(e) => return sevenz_failure(ctx, trail, e),
    };
    reader.set_thread_count(1);
    let mut state = State::Parsed;
    let mut seen = HashSet::new();
    let result = reader.for_each_entries_with_decision(|entry, data| {
        if ctx.stopped() {
            return Ok(sevenz_rust2::EntryDecision::Stop);
        }
        let raw_name = entry.name().as_bytes().to_vec();
        let child = trail.child(&scan::display_name(&raw_name));
        if !ctx.count_entry(&child) {
            return Ok(sevenz_rust2::EntryDecision::Stop);
        }
        scan::check_member_name(ctx, &child, &raw_name);
        if entry.is_directory() {
            return Ok(sevenz_rust2::EntryDecision::Continue);
        }
        scan::check_duplicate(ctx, &child, &mut seen, &raw_name);
        let mut metered = ctx.meter(data, &child);
        let member = scan::scan_reader(
            ctx,
            &child,
            &mut metered,
            Some(entry.size()),
            inner_depth,
            Hints::default(),
        );
        if member.state == State::Damaged {
            state = State::Damaged;
        }
        Ok(if ctx.stopped() {
            sevenz_rust2::EntryDecision::Stop
        } else {
            sevenz_rust2::EntryDecision::Continue
        })
    });
    if let Err(e) = result {
        if ctx.stopped() {
            return Scanned::new("7z", State::Stopped);
        }
        let failed = sevenz_failure(ctx, trail, e);
        return Scanned::new("7z", failed.state);
    }
    Scanned::new("7z", if ctx.stopped() { State::Stopped } else { state })
}

fn sevenz_failure(ctx: &Ctx<'_>, trail: &Trail, error: sevenz_rust2::Error) -> Scanned {
    use sevenz_rust2::Error as E;
    match &error {
        E::PasswordRequired | E::MaybeBadPassword(_) => {
            ctx.report(
                crate::rules::ENCRYPTED.code,
                Severity::Suspicious,
                trail,
                0,
                "the 7z archive is encrypted: its members could not be inspected",
            );
            Scanned::new("7z (encrypted)", State::Damaged)
        }
        E::UnsupportedCompressionMethod(method)
            if method.contains("AES") || method.contains("6, 241, 7, 1") =>
        {
            ctx.report(
                crate::rules::ENCRYPTED.code,
                Severity::Suspicious,
                trail,
                0,
                "the 7z archive is encrypted: its members could not be inspected",
            );
            Scanned::new("7z (encrypted)", State::Damaged)
        }
        E::UnsupportedCompressionMethod(method) => {
            ctx.report(
                crate::rules::UNSUPPORTED_ARCHIVE.code,
                Severity::Suspicious,
                trail,
                0,
                format!("the 7z archive uses a compression method not supported here ({method}): its members could not be inspected"),
            );
            Scanned::new("7z", State::Damaged)
        }
        E::MaxMemLimited { .. } => {
            ctx.limit(
                trail,
                0,
                format!("the 7z archive needs more decoder memory than allowed ({error})"),
            );
            Scanned::new("7z", State::Stopped)
        }
        _ => {
            ctx.report(
                crate::rules::UNPARSEABLE.code,
                Severity::Suspicious,
                trail,
                0,
                format!("the 7z archive is damaged ({error}): members after the damage were not inspected"),
            );
            Scanned::new("7z", State::Damaged)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_path_records() {
        let data = b"30 mtime=1700000000.123456789\n20 path=../../x.pkl\n";
        assert_eq!(pax_path(data).as_deref(), Some(&b"../../x.pkl"[..]));
        assert_eq!(pax_path(b"9 a=b\n"), None);
        assert_eq!(pax_path(b"999 path=x\n"), None);
        assert_eq!(pax_path(b"garbage"), None);
    }
}

#[cfg(test)]
mod container_tests {
    use crate::finding::Severity;
    use crate::testutil::*;

    #[test]
    fn tar_members_are_scanned_by_content() {
        let tar = tar_of(&[("notes.txt", b"hello"), ("model.bin", EVIL_P2)]);
        let outcome = scan(&tar);
        assert_eq!(format(&outcome), "tar");
        assert_eq!(outcome.files[0].members, 2);
        assert_routed(&outcome, &["model.bin"]);
    }

    #[test]
    fn compressed_tars() {
        let tar = tar_of(&[("model.pkl", EVIL_P2)]);
        for (compressed, name) in [
            (gzip(&tar), "gzip: tar"),
            (bzip2(&tar), "bzip2: tar"),
            (xz(&tar), "xz: tar"),
        ] {
            let outcome = scan(&compressed);
            assert_eq!(format(&outcome), name);
            assert_routed(&outcome, &["model.pkl"]);
        }
    }

    #[test]
    fn legacy_torch_tar() {
        let tar = tar_of(&[
            ("sys_info", BENIGN_P2),
            ("pickle", EVIL_P2),
            ("storages", BENIGN_P2),
            ("tensors", BENIGN_P2),
        ]);
        let outcome = scan(&tar);
        assert_eq!(format(&outcome), "PyTorch legacy tar");
        assert_routed(&outcome, &["pickle"]);
    }

    #[test]
    fn long_and_traversal_names() {
        let long = format!("{}/model.pkl", "d".repeat(150));
        let tar = tar_of(&[(long.as_str(), EVIL_P2)]);
        let outcome = scan(&tar);
        assert_routed(&outcome, &[long.as_str()]);

        // tar::Builder refuses "..", so the name is patched into the header afterwards.
        let mut tar = tar_of(&[("aa/x.pkl", EVIL_P2)]);
        tar[..8].copy_from_slice(b"../x.pkl");
        let mut header = tar::Header::new_old();
        header.as_mut_bytes().copy_from_slice(&tar[..512]);
        header.set_cksum();
        tar[..512].copy_from_slice(header.as_bytes());
        let outcome = scan(&tar);
        assert_eq!(
            with_rule(&outcome, crate::rules::ARCHIVE_PATH.code).len(),
            1,
            "{:?}",
            outcome.findings
        );
        assert_routed(&outcome, &["../x.pkl"]);
    }

    #[test]
    fn duplicate_tar_members_are_all_scanned() {
        let tar = tar_of(&[("model.pkl", BENIGN_P2), ("model.pkl", EVIL_P2)]);
        let outcome = scan(&tar);
        assert_eq!(
            with_rule(&outcome, crate::rules::DUPLICATE_MEMBER.code).len(),
            1
        );
        assert_routed(&outcome, &["model.pkl"]);
    }

    #[test]
    fn damaged_tar_is_suspicious() {
        let mut tar = tar_of(&[("a.txt", b"hello"), ("b.txt", b"world")]);
        tar[1024 + 148] ^= 0x01;
        let outcome = scan(&tar);
        assert_eq!(format(&outcome), "tar");
        let damaged = with_rule(&outcome, crate::rules::UNPARSEABLE.code);
        assert_eq!(damaged.len(), 1, "{:?}", outcome.findings);
        assert_eq!(damaged[0].severity, Severity::Suspicious);
    }

    #[test]
    fn zip_inside_tar_is_spooled_and_scanned() {
        let inner = lib_zip(&[("archive/data.pkl", EVIL_P2)], true);
        let outcome = scan(&gzip(&tar_of(&[("model.pt", &inner)])));
        assert_eq!(format(&outcome), "gzip: tar");
        assert_routed(&outcome, &["model.pt", "archive/data.pkl"]);
    }

    #[test]
    fn sevenz_members_are_scanned() {
        let archive = sevenz(&[("readme.txt", b"hi"), ("a.pkl", EVIL_P2)]);
        let outcome = scan(&archive);
        assert_eq!(format(&outcome), "7z");
        assert_routed(&outcome, &["a.pkl"]);
        let mut damaged = archive.clone();
        let len = damaged.len();
        damaged.truncate(len - 10);
        let outcome = scan(&damaged);
        assert!(!outcome.findings.is_empty());
        assert!(dangerous(&outcome).is_empty(), "{:?}", outcome.findings);
    }
}
