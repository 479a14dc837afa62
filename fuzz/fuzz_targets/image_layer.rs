//! Arbitrary layer bytes (gzip, zstd or tar): changes, or an error naming the layer; never a
//! panic or a hang. Both readers: streamed, and seekable for local archives. Every name a layer
//! yields is clean as a runtime cleans it (no `.`, `..` or empty segment), and merging the changes
//! and walking model paths through their symlinks ends (links stay in the root, loops are bounded).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_image::{inventory, layers};

fn assert_clean(path: &str) {
    assert!(
        path.split('/').all(|s| !s.is_empty() && s != "." && s != ".."),
        "unclean name {path:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    match layers::read_layer("fuzz", data, &inventory::wanted) {
        Ok(changes) => {
            for (path, entry) in &changes.entries {
                assert_clean(path);
                if let layers::LayerEntry::HardLink(target) = entry {
                    assert!(target.split('/').all(|s| s != ".." && s != "."), "{target:?}");
                }
            }
            let mut fs = layers::MergedFs::new();
            fs.apply(changes.clone());
            fs.apply(changes);
            for (at, _) in fs.reachable(&["models".into(), String::new()]) {
                assert!(!at.split('/').any(|s| s == ".."), "{at:?}");
            }
        }
        Err(e) => assert!(e.to_string().starts_with("layer fuzz"), "{e}"),
    }
    if let Err(e) = layers::read_plain_layer_seekable("fuzz", std::io::Cursor::new(data), &inventory::wanted) {
        assert!(e.to_string().starts_with("layer fuzz"), "{e}");
    }
    // The bytes as a tar name: cleaning is idempotent and leaves no `.`, `..` or empty segment.
    if let Ok(name) = std::str::from_utf8(data) {
        if let Some(clean) = layers::clean_path(name) {
            if !clean.is_empty() {
                assert_clean(&clean);
            }
            assert_eq!(layers::clean_path(&clean).as_deref(), Some(clean.as_str()));
        }
    }
});
