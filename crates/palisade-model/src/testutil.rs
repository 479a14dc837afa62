//! Builders for the small files the tests scan. The pickles here are hand-written opcode strings:
//! they are only ever read by the scanner, never unpickled.

use std::io::{Cursor, Write};

use crate::finding::{Finding, Severity};
use crate::scan::{scan_bytes, ScanOptions, ScanOutcome};

/// Protocol 0: `os.system('echo hi')`.
pub(crate) const EVIL_P0: &[u8] = b"cos\nsystem\n(S'echo hi'\ntR.";
/// Protocol 2: `os.system('echo hi')` (GLOBAL, BINUNICODE, TUPLE1, REDUCE).
pub(crate) const EVIL_P2: &[u8] =
    b"\x80\x02cos\nsystem\nq\x00X\x07\x00\x00\x00echo hiq\x01\x85q\x02Rq\x03.";
/// Protocol 2: an empty dict.
pub(crate) const BENIGN_P2: &[u8] = b"\x80\x02}q\x00.";
/// Protocol 0: a list of two ints.
pub(crate) const BENIGN_P0: &[u8] = b"(lp0\nI1\naI2\na.";

pub(crate) fn scan(bytes: &[u8]) -> ScanOutcome {
    scan_bytes(
        "test",
        bytes,
        &ScanOptions {
            parallel: false,
            ..ScanOptions::default()
        },
    )
}

pub(crate) fn scan_with(bytes: &[u8], options: ScanOptions) -> ScanOutcome {
    scan_bytes("test", bytes, &options)
}

pub(crate) fn format(outcome: &ScanOutcome) -> &str {
    &outcome.files[0].format
}

pub(crate) fn rules(outcome: &ScanOutcome) -> Vec<&'static str> {
    outcome.findings.iter().map(|f| f.rule).collect()
}

pub(crate) fn with_rule<'a>(outcome: &'a ScanOutcome, rule: &str) -> Vec<&'a Finding> {
    outcome.findings.iter().filter(|f| f.rule == rule).collect()
}

pub(crate) fn dangerous(outcome: &ScanOutcome) -> Vec<&Finding> {
    outcome
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Dangerous)
        .collect()
}

/// Whether the pickle scanner reports globals yet: while it is a stub, tests can check only how
/// streams are recognised and routed, not what it finds in them.
pub(crate) fn pickle_scanner_is_live() -> bool {
    !dangerous(&scan(EVIL_P2)).is_empty()
}

/// Checks that the evil pickle's findings arrived with this member trail (when the pickle scanner
/// is live; otherwise that nothing Dangerous was made up on the way).
pub(crate) fn assert_routed(outcome: &ScanOutcome, members: &[&str]) {
    let found = dangerous(outcome);
    if pickle_scanner_is_live() {
        assert!(
            !found.is_empty(),
            "no Dangerous finding; findings: {:?}",
            outcome.findings
        );
        for finding in found {
            assert_eq!(finding.location.members, members, "{finding:?}");
        }
    } else {
        assert!(found.is_empty(), "{found:?}");
    }
}

/// A zip member for [`raw_zip`]: stored, with whatever the test wants to lie about.
#[derive(Clone)]
pub(crate) struct Member<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) data: &'a [u8],
    pub(crate) flags: u16,
    /// A different name in the local header.
    pub(crate) local_name: Option<&'a [u8]>,
}

impl<'a> Member<'a> {
    pub(crate) fn new(name: &'a str, data: &'a [u8]) -> Self {
        Self {
            name: name.as_bytes(),
            data,
            flags: 0,
            local_name: None,
        }
    }
}

/// A stored zip written byte by byte, so that tests can make archives no zip library would:
/// duplicate names, traversal names, lying flags and local headers.
pub(crate) fn raw_zip(members: &[Member<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for member in members {
        let offset = out.len() as u32;
        let crc = {
            let mut crc = flate2::Crc::new();
            crc.update(member.data);
            crc.sum()
        };
        let local_name = member.local_name.unwrap_or(member.name);
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&member.flags.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(member.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(member.data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(local_name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(local_name);
        out.extend_from_slice(member.data);

        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&member.flags.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&[0u8; 4]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(member.data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(member.data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(member.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0u8; 8]);
        central.extend_from_slice(&[0u8; 4]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(member.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A zip written by the zip crate (deflated or stored).
pub(crate) fn lib_zip(members: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in members {
        writer.start_file(*name, options).expect("start member");
        writer.write_all(data).expect("write member");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// A GNU tar of regular files.
pub(crate) fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, *data)
            .expect("append");
    }
    builder.into_inner().expect("finish tar")
}

/// A `.npy` file (version 1) with the given dtype and shape literal, followed by `data`.
pub(crate) fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

pub(crate) fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("zlib");
    encoder.finish().expect("zlib")
}

pub(crate) fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    encoder.write_all(data).expect("bzip2");
    encoder.finish().expect("bzip2")
}

pub(crate) fn xz(data: &[u8]) -> Vec<u8> {
    let mut writer =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).expect("xz");
    writer.write_all(data).expect("xz");
    writer.finish().expect("xz")
}

pub(crate) fn lzma_alone(data: &[u8]) -> Vec<u8> {
    let options = lzma_rust2::LzmaOptions::with_preset(6);
    let mut writer =
        lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &options, None).expect("lzma");
    writer.write_all(data).expect("lzma");
    writer.finish().expect("lzma")
}

pub(crate) fn lz4(data: &[u8]) -> Vec<u8> {
    let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
    encoder.write_all(data).expect("lz4");
    encoder.finish().expect("lz4")
}

pub(crate) fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("zstd")
}

/// joblib's pre-0.10 container: "ZF", the length in hex padded to 19 characters, zlib data.
pub(crate) fn joblib_zfile(data: &[u8]) -> Vec<u8> {
    let mut out = b"ZF".to_vec();
    out.extend_from_slice(format!("{:<19}", format!("{:#x}", data.len())).as_bytes());
    out.extend_from_slice(&zlib(data));
    out
}

pub(crate) fn sevenz(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).expect("7z");
    for (name, data) in members {
        writer
            .push_archive_entry(sevenz_rust2::ArchiveEntry::new_file(name), Some(*data))
            .expect("7z entry");
    }
    writer.finish().expect("7z").into_inner()
}
