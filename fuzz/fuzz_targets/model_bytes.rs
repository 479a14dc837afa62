//! Arbitrary bytes as a model file: findings, never a panic or a hang (every format, archive and
//! compressor the model scanner recognises is reachable from here).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_model::{scan_bytes, ScanOptions};

fuzz_target!(|data: &[u8]| {
    let options = ScanOptions::default();
    let _ = scan_bytes("fuzz.bin", data, &options);
});
