//! Arbitrary bytes as an OCI manifest that may be a model artifact (ModelPack or layers named
//! like model files): recognised or not, each layer's path safe or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_oci::manifest::ManifestOrIndex;
use palisade_oci::modelpack;

fuzz_target!(|data: &[u8]| {
    let Ok(manifest) = serde_json::from_slice::<ManifestOrIndex>(data) else {
        return;
    };
    let _ = modelpack::model_artifact(&manifest);
    for layer in manifest.layers.iter().flatten() {
        if let Some(path) = modelpack::layer_path(layer) {
            let _ = modelpack::is_safe_path(&path);
        }
        let _ = modelpack::layer_packing(&layer.media_type);
    }
});
