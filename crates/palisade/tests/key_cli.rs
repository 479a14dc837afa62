//! `palisade key generate`: files cosign can read (the format is checked in palisade-sign against a
//! key the cosign CLI generated), permissions, and no silent overwrite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::palisade;

#[test]
fn generates_an_encrypted_key_pair() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("signer");
    let output = palisade()
        .args(["key", "generate", "--out", prefix.to_str().unwrap()])
        .env("PALISADE_PASSWORD", "s3cret")
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let key = std::fs::read_to_string(dir.path().join("signer.key")).unwrap();
    let public = std::fs::read_to_string(dir.path().join("signer.pub")).unwrap();
    let pair = palisade_sign::KeyPair::from_encrypted_pem(&key, b"s3cret").unwrap();
    assert_eq!(pair.public_pem().unwrap(), public);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("signer.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Never overwritten by accident; no password, no key.
    let again = palisade()
        .args(["key", "generate", "--out", prefix.to_str().unwrap()])
        .env("PALISADE_PASSWORD", "x")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let no_password = palisade()
        .args([
            "key",
            "generate",
            "--out",
            dir.path().join("other").to_str().unwrap(),
        ])
        .env_remove("PALISADE_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(no_password.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_password.stderr).contains("PALISADE_PASSWORD"));
}
