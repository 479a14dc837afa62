//! Arbitrary bytes as an OpenSSF Model Signing bundle, and as the statement it signs: a bundle,
//! a statement or an error, never a panic (`verify model` reads both before it trusts anything).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_model_sign::{bundle, statement};

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = bundle::parse(data) {
        let _ = statement::parse(&b.payload);
    }
    let _ = statement::parse(data);
});
