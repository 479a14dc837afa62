//! Arbitrary configuration files: valid, or an error naming the file.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use palisade_policy::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = Config::parse(Arc::from("palisade.yaml"), text) {
        assert_eq!(&*e.file, "palisade.yaml");
    }
});
