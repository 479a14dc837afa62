//! Issue 12, item 1: any byte stream that CPython's `pickle.load` would execute is analysed as a
//! pickle, whatever else it also looks like, in a file and inside gzip, zip and tar.
//!
//! Each case is a prefix that CPython's unpickler accepts as the opening of a pickle, followed by
//! a call. The same prefixes are checked against CPython itself (with a harmless call, so the
//! test proves the bytes really run) before palisade is asked about the dangerous variant.

use std::process::Command;

use crate::finding::Severity;
use crate::scan::{scan_bytes, scan_read, ScanOptions};
use crate::testutil::{gzip, lib_zip, tar_of};

/// The dangerous call every case ends with: `os.system('echo hi')`, protocol 0.
const EVIL_TAIL: &[u8] = b"cos\nsystem\n(S'echo hi'\ntR.";
/// The same shape with a harmless callable: `len('abc')`, which CPython returns as 3.
const BENIGN_TAIL: &[u8] = b"cbuiltins\nlen\n(S'abc'\ntR.";

/// What the loader must be given for the prefix to run (beyond a plain `pickle.loads`).
#[derive(Debug, Clone, Copy)]
enum Needs {
    Nothing,
    /// PERSID: an unpickler with `persistent_load` (as torch.load has).
    PersistentLoad,
    /// EXT1/2/4: the extension code 240 registered for `builtins.len` (copyreg.add_extension).
    Extension,
    /// NEXT_BUFFER: out-of-band buffers passed to the loader.
    Buffers,
}

/// One prefix per opcode that can open a pickle, each leaving the stack as it found it.
fn openers() -> Vec<(&'static str, Vec<u8>, Needs)> {
    let le8 = |n: u64| n.to_le_bytes().to_vec();
    let mut cases: Vec<(&'static str, Vec<u8>, Needs)> = vec![
        ("MARK", b"(1".to_vec(), Needs::Nothing),
        ("FLOAT", b"F1.5\n0".to_vec(), Needs::Nothing),
        ("INT", b"I1\n0".to_vec(), Needs::Nothing),
        ("BININT", b"J\x01\x00\x00\x000".to_vec(), Needs::Nothing),
        ("BININT1", b"K\x010".to_vec(), Needs::Nothing),
        ("LONG", b"L1L\n0".to_vec(), Needs::Nothing),
        ("BININT2", b"M\x01\x000".to_vec(), Needs::Nothing),
        ("NONE", b"N0".to_vec(), Needs::Nothing),
        ("PERSID", b"Pid\n0".to_vec(), Needs::PersistentLoad),
        ("STRING", b"S'a'\n0".to_vec(), Needs::Nothing),
        ("BINSTRING", b"T\x01\x00\x00\x00a0".to_vec(), Needs::Nothing),
        ("SHORT_BINSTRING", b"U\x01a0".to_vec(), Needs::Nothing),
        ("UNICODE", b"Va\n0".to_vec(), Needs::Nothing),
        (
            "BINUNICODE",
            b"X\x01\x00\x00\x00a0".to_vec(),
            Needs::Nothing,
        ),
        ("EMPTY_DICT", b"}0".to_vec(), Needs::Nothing),
        ("EMPTY_LIST", b"]0".to_vec(), Needs::Nothing),
        ("EMPTY_TUPLE", b")0".to_vec(), Needs::Nothing),
        ("GLOBAL", b"cbuiltins\nint\n0".to_vec(), Needs::Nothing),
        (
            "BINFLOAT",
            b"G?\xf8\x00\x00\x00\x00\x00\x000".to_vec(),
            Needs::Nothing,
        ),
        ("BINBYTES", b"B\x01\x00\x00\x00a0".to_vec(), Needs::Nothing),
        ("SHORT_BINBYTES", b"C\x01a0".to_vec(), Needs::Nothing),
        ("EXT1", b"\x82\xf00".to_vec(), Needs::Extension),
        ("EXT2", b"\x83\xf0\x000".to_vec(), Needs::Extension),
        ("EXT4", b"\x84\xf0\x00\x00\x000".to_vec(), Needs::Extension),
        ("NEWTRUE", b"\x880".to_vec(), Needs::Nothing),
        ("NEWFALSE", b"\x890".to_vec(), Needs::Nothing),
        ("LONG1", b"\x8a\x01\x010".to_vec(), Needs::Nothing),
        (
            "LONG4",
            b"\x8b\x01\x00\x00\x00\x010".to_vec(),
            Needs::Nothing,
        ),
        ("SHORT_BINUNICODE", b"\x8c\x01a0".to_vec(), Needs::Nothing),
        ("EMPTY_SET", b"\x8f0".to_vec(), Needs::Nothing),
        ("NEXT_BUFFER", b"\x970".to_vec(), Needs::Buffers),
    ];
    let mut unicode8 = b"\x8d".to_vec();
    unicode8.extend(le8(1));
    unicode8.extend(b"a0");
    cases.push(("BINUNICODE8", unicode8, Needs::Nothing));
    let mut bytes8 = b"\x8e".to_vec();
    bytes8.extend(le8(1));
    bytes8.extend(b"a0");
    cases.push(("BINBYTES8", bytes8, Needs::Nothing));
    let mut bytearray8 = b"\x96".to_vec();
    bytearray8.extend(le8(1));
    bytearray8.extend(b"a0");
    cases.push(("BYTEARRAY8", bytearray8, Needs::Nothing));
    // FRAME's length covers the rest of this prefix only; the tail follows outside any frame.
    let mut frame = b"\x95".to_vec();
    frame.extend(le8(2));
    frame.extend(b"N0");
    cases.push(("FRAME", frame, Needs::Nothing));
    for protocol in 0..=5u8 {
        cases.push(("PROTO", vec![0x80, protocol], Needs::Nothing));
    }
    cases
}

/// Pickles that other formats' sniffers claim: the bytes a loader unpickles are the same.
fn look_alikes() -> Vec<(&'static str, Vec<u8>)> {
    // `.lzma`: BININT2 0, PROTO 0 (the dictionary size reads 8 MiB), POP, NONE/POP pairs, then
    // BININT2 0 whose argument makes the declared size plausible, and POP.
    let lzma = b"M\x00\x00\x80\x000N0N0M\x00\x000".to_vec();
    // tar: a BINUNICODE string holding `ustar` where the tar magic sits (offset 257).
    let mut tar = b"X".to_vec();
    let mut text = vec![b'a'; 600];
    text[252..257].copy_from_slice(b"ustar");
    tar.extend((text.len() as u32).to_le_bytes());
    tar.extend(&text);
    tar.push(b'0');
    // safetensors: BINBYTES of 4 bytes makes the first 8 bytes a small header length and puts
    // `{` at offset 8.
    let safetensors = b"B\x04\x00\x00\x00\x00\x00\x00{0".to_vec();
    // A string longer than the sniffer's window before the call, so a forward-only reader must
    // read past what it sniffed.
    let mut long = b"X".to_vec();
    let mut text = vec![b'b'; 20_000];
    text[252..257].copy_from_slice(b"ustar");
    long.extend((text.len() as u32).to_le_bytes());
    long.extend(&text);
    long.push(b'0');
    vec![
        ("lzma", lzma),
        ("tar", tar),
        ("safetensors", safetensors),
        ("tar, past the sniffed window", long),
    ]
}

/// Asks CPython what each stream loads as; every case must return `len('abc')`.
fn cpython_loads(cases: &[(String, Vec<u8>, Needs)]) -> Vec<String> {
    let script = r#"
import copyreg, io, pickle, sys
copyreg.add_extension('builtins', 'len', 240)
class P(pickle.Unpickler):
    def persistent_load(self, pid):
        return pid
for line in sys.stdin.read().split():
    needs, data = line.split(':')
    data = bytes.fromhex(data)
    try:
        if needs == 'Buffers':
            value = pickle.loads(data, buffers=[b'x'])
        else:
            value = P(io.BytesIO(data)).load()
        print(repr(value))
    except Exception as e:
        print('error: %r' % e)
"#;
    let input: String = cases
        .iter()
        .map(|(_, data, needs)| format!("{needs:?}:{}\n", hex(data)))
        .collect();
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs (CPython is the reference for what a pickle executes)");
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin is piped"),
        input.as_bytes(),
    )
    .expect("writing to python3");
    let output = child.wait_with_output().expect("python3 finishes");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn with_tail(prefix: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut data = prefix.to_vec();
    data.extend_from_slice(tail);
    data
}

/// Every way a stream reaches the scanner: a file, and a member of gzip, zip and tar, both
/// seekable and forward-only.
fn assert_dangerous_everywhere(what: &str, data: &[u8]) {
    let options = ScanOptions::default();
    let wrapped: Vec<(&str, Vec<u8>)> = vec![
        ("file", data.to_vec()),
        ("gzip", gzip(data)),
        ("zip", lib_zip(&[("model.bin", data)], true)),
        ("tar", tar_of(&[("model.bin", data)])),
    ];
    for (container, bytes) in wrapped {
        let seekable = scan_bytes("model.bin", &bytes, &options);
        let forward = scan_read(
            "model.bin",
            &mut &bytes[..],
            Some(bytes.len() as u64),
            &options,
        );
        for (how, outcome) in [("seekable", seekable), ("forward-only", forward)] {
            assert!(
                outcome
                    .findings
                    .iter()
                    .any(|f| f.severity == Severity::Dangerous && f.message.contains("os.system")),
                "{what} in a {container} ({how}) was not found dangerous: format {:?}, findings {:#?}",
                outcome.files.first().map(|f| &f.format),
                outcome.findings
            );
        }
    }
}

#[test]
fn hardening_01_every_opcode_that_opens_a_pickle_is_scanned_as_one() {
    let cases = openers();
    // Every prefix really runs in CPython, up to the call at its end.
    let benign: Vec<(String, Vec<u8>, Needs)> = cases
        .iter()
        .map(|(name, prefix, needs)| (name.to_string(), with_tail(prefix, BENIGN_TAIL), *needs))
        .collect();
    let loaded = cpython_loads(&benign);
    assert_eq!(loaded.len(), benign.len(), "{loaded:?}");
    for ((name, data, _), value) in benign.iter().zip(&loaded) {
        assert_eq!(
            value,
            "3",
            "CPython did not run {name} ({}): {value}",
            hex(data)
        );
    }
    for (name, prefix, _) in &cases {
        assert_dangerous_everywhere(name, &with_tail(prefix, EVIL_TAIL));
    }
}

#[test]
fn hardening_01_a_pickle_that_looks_like_another_format_is_still_a_pickle() {
    let cases = look_alikes();
    let benign: Vec<(String, Vec<u8>, Needs)> = cases
        .iter()
        .map(|(name, prefix)| {
            (
                name.to_string(),
                with_tail(prefix, BENIGN_TAIL),
                Needs::Nothing,
            )
        })
        .collect();
    for ((name, data, _), value) in benign.iter().zip(cpython_loads(&benign)) {
        assert_eq!(value, "3", "CPython did not run {name} ({})", hex(data));
    }
    for (name, prefix) in &cases {
        let data = with_tail(prefix, EVIL_TAIL);
        // The sniffer does take it for the other format: the pickle pass is what finds it.
        let sniffed = crate::formats::sniff(&data[..data.len().min(crate::formats::SNIFF_LEN)]);
        assert!(
            !matches!(
                sniffed,
                crate::formats::Kind::Pickle { .. } | crate::formats::Kind::PickleCandidate
            ),
            "{name}: sniffed as {sniffed:?}, so this case tests nothing"
        );
        assert_dangerous_everywhere(name, &data);
    }
}

#[test]
fn hardening_01_streams_that_cannot_open_a_pickle_stay_unrecognised() {
    // Opcodes that pop or read the memo fail on an empty stack in CPython: nothing runs.
    for first in [
        b'R', b't', b'.', b'0', b'b', b'g', b'h', b'j', b'p', b'q', 0x93, 0x94,
    ] {
        let data = with_tail(&[first], EVIL_TAIL);
        assert!(!crate::formats::opens_pickle(&data), "{first:#x}");
    }
    let benign: Vec<(String, Vec<u8>, Needs)> = [b'R', b't', b'.', b'0', 0x93]
        .iter()
        .map(|b| {
            (
                format!("{b:#x}"),
                with_tail(&[*b], BENIGN_TAIL),
                Needs::Nothing,
            )
        })
        .collect();
    for ((name, _, _), value) in benign.iter().zip(cpython_loads(&benign)) {
        assert!(value.starts_with("error"), "{name}: CPython loaded {value}");
    }
    // An unknown protocol stops CPython at PROTO.
    assert!(!crate::formats::opens_pickle(b"\x80\x06N."));
}

#[test]
fn hardening_01_a_pickle_pass_over_real_formats_adds_nothing() {
    // A zstd frame starts with MARK, then a byte that is no opcode: CPython stops at once, and
    // the pass must not turn the archive into a finding.
    let options = ScanOptions::default();
    let zstd = crate::testutil::zstd(b"\x80\x02}q\x00.");
    assert!(crate::formats::opens_pickle(&zstd));
    let outcome = scan_bytes("x.zst", &zstd, &options);
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.severity == Severity::Info),
        "{:?}",
        outcome.findings
    );
    let tar = tar_of(&[("config.json", b"{}")]);
    let outcome = scan_read("m.tar", &mut &tar[..], None, &options);
    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.severity != Severity::Dangerous),
        "{:?}",
        outcome.findings
    );
}

/// The fuzz target `pickle_sniffing`'s property, on deterministic inputs at every `cargo test`:
/// whenever the pickle scanner alone, reading from the first byte, finds the call, the file scan
/// finds it too, seekable and forward-only, whatever format the prefix makes the bytes look like.
#[test]
fn hardening_01_no_prefix_that_keeps_the_call_running_hides_it() {
    let mut prefixes: Vec<Vec<u8>> = openers().into_iter().map(|(_, p, _)| p).collect();
    prefixes.extend(look_alikes().into_iter().map(|(_, p)| p));
    // Format magics and pickle openers spliced together, from a fixed-seed generator.
    let pieces: [&[u8]; 14] = [
        b"M\x00\x00\x80\x000",
        b"N0",
        b"(1",
        b"PK\x03\x04",
        b"\x1f\x8b\x08",
        b"B\x04\x00\x00\x00\x00\x00\x00{0",
        b"\x5d\x00\x00\x80\x00",
        b"X\x05\x00\x00\x00ustar0",
        b"\x95\x02\x00\x00\x00\x00\x00\x00\x00N0",
        b"\x80\x05",
        b"GGUF",
        b"\x93NUMPY",
        b"K\x010",
        b"\x8c\x01a0",
    ];
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for _ in 0..1500 {
        let mut prefix = Vec::new();
        for _ in 0..1 + next() % 4 {
            prefix.extend_from_slice(pieces[next() % pieces.len()]);
        }
        if next() % 3 == 0 {
            let at = next() % (prefix.len() + 1);
            prefix.insert(at, (next() % 256) as u8);
        }
        prefixes.push(prefix);
    }
    let options = ScanOptions::default();
    let location = crate::finding::Location {
        file: "f".into(),
        members: Vec::new(),
        offset: 0,
    };
    let mut checked = 0;
    for prefix in prefixes {
        let data = with_tail(&prefix, EVIL_TAIL);
        let mut raw = Vec::new();
        let _ = crate::pickle::scan_stream(
            &mut &data[..],
            &location,
            &crate::policy::Policy::default(),
            &crate::pickle::Limits::default(),
            &mut raw,
        );
        let runs = raw
            .iter()
            .any(|f| f.severity == Severity::Dangerous && f.message.contains("os.system"));
        if !runs || !crate::formats::opens_pickle(&data) {
            continue;
        }
        checked += 1;
        let seekable = scan_bytes("f", &data, &options);
        let forward = scan_read("f", &mut &data[..], None, &options);
        for (how, outcome) in [("seekable", seekable), ("forward-only", forward)] {
            assert!(
                outcome
                    .findings
                    .iter()
                    .any(|f| f.severity == Severity::Dangerous),
                "{how} scan of {} lost the call: {:?}",
                hex(&data),
                outcome.findings
            );
        }
    }
    // The property must have been exercised, not skipped.
    assert!(checked > 300, "only {checked} inputs ran the call");
}
