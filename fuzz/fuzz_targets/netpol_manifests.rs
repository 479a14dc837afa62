//! Arbitrary manifests for `palisade netpol list`: analysed, or an error naming the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_netpol::NetpolError;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match palisade_netpol::load_str("cluster.yaml", text) {
        Ok(cluster) => {
            if let Ok(connectivity) = palisade_netpol::analyze(&cluster) {
                for (src, dst, conns) in connectivity.connections() {
                    let _ = (src.to_string(), dst.to_string(), conns.to_string());
                }
            }
        }
        Err(NetpolError::Input(e)) => assert_eq!(&*e.file, "cluster.yaml"),
        Err(NetpolError::Invalid { file, .. }) => assert_eq!(file, "cluster.yaml"),
        Err(_) => {}
    }
});
