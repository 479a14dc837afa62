//! Arbitrary layer bytes (gzip, zstd or tar): changes, or an error naming the layer; never a
//! panic or a hang. Both readers: streamed, and seekable for local archives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_image::{inventory, layers};

fuzz_target!(|data: &[u8]| {
    if let Err(e) = layers::read_layer("fuzz", data, &inventory::wanted) {
        assert!(e.to_string().starts_with("layer fuzz"), "{e}");
    }
    if let Err(e) = layers::read_plain_layer_seekable("fuzz", std::io::Cursor::new(data), &inventory::wanted) {
        assert!(e.to_string().starts_with("layer fuzz"), "{e}");
    }
});
