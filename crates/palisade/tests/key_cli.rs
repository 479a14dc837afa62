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

#[test]
fn hardening_08_hostile_scrypt_parameters_are_refused_at_once_naming_the_file() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // What a review found: N = 2^20, r = 32, p = 16 (4 GiB, over 120 s), in cosign's layout.
    let json = serde_json::json!({
        "kdf": {"name": "scrypt", "params": {"N": 1u64 << 20, "r": 32, "p": 16}, "salt": b64.encode([0u8; 32])},
        "cipher": {"name": "nacl/secretbox", "nonce": b64.encode([0u8; 24])},
        "ciphertext": b64.encode([0u8; 64]),
    });
    let body = b64.encode(serde_json::to_vec(&json).unwrap());
    let pem = format!(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{body}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("hostile.key");
    std::fs::write(&key, pem).unwrap();
    // Both commands that open a private key refuse it before deriving anything.
    for (command, extra) in [("sign", None), ("attest", Some("--scan"))] {
        let started = std::time::Instant::now();
        let output = palisade()
            .args([
                command,
                "--key",
                key.to_str().unwrap(),
                "registry.invalid/ml/iris:1",
            ])
            .args(extra)
            .env("PALISADE_PASSWORD", "x")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{command}"
        );
        assert!(
            stderr.contains(key.to_str().unwrap()),
            "{command}: {stderr}"
        );
        assert!(
            stderr.contains("N = 1048576, r = 32, p = 16"),
            "{command}: {stderr}"
        );
    }
}
