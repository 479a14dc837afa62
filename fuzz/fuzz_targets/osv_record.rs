//! Arbitrary OSV records: a record, or an error naming the file.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use palisade_vuln::Record;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file: Arc<str> = Arc::from("record.json");
    match Record::parse(&file, text) {
        Ok(record) => {
            let _ = palisade_vuln::db::Advisory::from_record(&record);
        }
        Err(e) => assert_eq!(&*e.file, "record.json"),
    }
});
