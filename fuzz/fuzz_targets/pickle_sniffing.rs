//! Format sniffing never hides a pickle: for any prefix, followed by a call of `os.system`, if the
//! pickle scanner alone (reading the bytes from the start, as `pickle.load` does) finds the call
//! dangerous, then scanning the same bytes as a file, seekable and forward-only, must too,
//! whatever format the prefix makes them look like (tar, lzma, safetensors, zip, compressed...).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_model::pickle::{scan_stream, Limits};
use palisade_model::policy::Policy;
use palisade_model::{formats, scan_bytes, scan_read, Location, ScanOptions, Severity};

const CALL: &[u8] = b"cos\nsystem\n(S'echo hi'\ntR.";

fn dangerous(findings: &[palisade_model::Finding]) -> bool {
    findings
        .iter()
        .any(|f| f.severity == Severity::Dangerous)
}

fuzz_target!(|prefix: &[u8]| {
    let mut data = prefix.to_vec();
    data.extend_from_slice(CALL);
    let location = Location {
        file: "fuzz.bin".into(),
        members: Vec::new(),
        offset: 0,
    };
    let mut raw = Vec::new();
    let _ = scan_stream(
        &mut &data[..],
        &location,
        &Policy::default(),
        &Limits::default(),
        &mut raw,
    );
    let runs_the_call = raw
        .iter()
        .any(|f| f.severity == Severity::Dangerous && f.message.contains("os.system"));
    if !runs_the_call || !formats::opens_pickle(&data) {
        return;
    }
    let options = ScanOptions::default();
    let seekable = scan_bytes("fuzz.bin", &data, &options);
    assert!(
        dangerous(&seekable.findings),
        "seekable scan lost the call: {:?}",
        seekable.findings
    );
    for len in [Some(data.len() as u64), None] {
        let forward = scan_read("fuzz.bin", &mut &data[..], len, &options);
        assert!(
            dangerous(&forward.findings),
            "forward-only scan lost the call: {:?}",
            forward.findings
        );
    }
});
