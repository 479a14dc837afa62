//! Arbitrary bytes through decode, YAML, objects, workloads and evaluation.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use palisade_core::source::decode;
use palisade_policy::{Auditor, Config};
use palisade_pss::{Level, LevelVersion, Version};

fuzz_target!(|data: &[u8]| {
    let file: Arc<str> = Arc::from("fuzz.yaml");
    let Ok(text) = decode(&file, data.to_vec()) else { return };
    let mut auditor = Auditor::new(&Config::default(), LevelVersion::new(Level::Restricted, Version::Latest));
    auditor.learn_namespaces_from(&file, &text);
    let audit = auditor.audit_stream(&file, &text);
    for error in &audit.errors {
        assert_eq!(&*error.file, "fuzz.yaml");
    }
});
