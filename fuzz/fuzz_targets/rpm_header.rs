//! Arbitrary RPM header blobs (as the sqlite rpmdb stores them): a package or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_image::inventory::rpm;

fuzz_target!(|data: &[u8]| {
    let _ = rpm::parse_header("rpmdb.sqlite", 1, data);
});
