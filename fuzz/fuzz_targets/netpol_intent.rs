//! Arbitrary intent files: an error naming the file, or policies the analyzer reads back.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use palisade_netpol::intent::Intent;
use palisade_netpol::mesh::Mesh;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Intent::parse(Arc::from("intent.yaml"), text) {
        Ok(intent) => {
            let manifests = palisade_netpol::generate::generate(&intent, &[Mesh::Istio, Mesh::Linkerd]);
            let yaml = palisade_netpol::generate::to_yaml(&manifests, "intent.yaml");
            if let Err(e) = palisade_netpol::load_str("generated.yaml", &yaml) {
                panic!("the generator wrote what the analyzer refuses: {e}\n{yaml}");
            }
        }
        Err(e) => assert_eq!(&*e.file, "intent.yaml"),
    }
});
