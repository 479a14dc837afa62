//! `palisade verify model --trusted-root --identity --issuer`: keyless OMS bundles verified offline.
//!
//! Everything a public-good keyless signature rests on is made here with test keys: a Fulcio CA,
//! a Rekor log key, a CT log key, and the `trusted_root.json` naming them. A model's OMS
//! statement (palisade_model_sign, as `palisade sign model` writes it) is signed in a DSSE
//! envelope with the key of a short-lived certificate the CA issued (an email SAN, the Fulcio
//! issuer extension, an embedded SCT), and logged as a Rekor v1 `dsse` 0.0.1 entry with its SET
//! and an inclusion proof in a two-leaf tree whose checkpoint the log key signs. The real binary
//! must verify it (exit 0), and refuse each attack with exit 1 and its reason. The reference
//! implementation (`model_signing verify sigstore --trust_config`) must agree on both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
    SerialNumber, SigningKey,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const IDENTITY: &str = "model-publisher@example.com";
const ISSUER: &str = "https://oidc.example.com";
/// 2025-06-01T00:00:00Z and a day later: the signing certificate's validity.
const NOT_BEFORE: i64 = 1_748_736_000;
const NOT_AFTER: i64 = NOT_BEFORE + 86_400;
/// 2025-06-01T12:00:00Z: when the entry was logged (in the certificate's validity).
const LOGGED: i64 = NOT_BEFORE + 43_200;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap()
}

fn sign(key: &KeyPair, message: &[u8]) -> Vec<u8> {
    key.sign(message).unwrap()
}

/// A log's ID: the SHA-256 of its key's SubjectPublicKeyInfo.
fn log_id(key: &KeyPair) -> Vec<u8> {
    sha256(&key.subject_public_key_info())
}

/// PEM as Python's `cryptography` writes it (Rekor's `verifier` is compared byte for byte).
fn pem(der: &[u8]) -> String {
    let text = b64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// DER: the length of the element at `der[0..]`, and where its content starts.
fn der_element(der: &[u8]) -> (usize, usize) {
    let first = der[1] as usize;
    if first < 0x80 {
        return (2, first);
    }
    let n = first & 0x7f;
    let len = der[2..2 + n]
        .iter()
        .fold(0usize, |a, &b| (a << 8) | b as usize);
    (2 + n, len)
}

fn der_length(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

/// The TBSCertificate of a certificate, DER.
fn tbs(cert: &[u8]) -> Vec<u8> {
    let (header, _) = der_element(cert);
    let inner = &cert[header..];
    let (h, len) = der_element(inner);
    inner[..h + len].to_vec()
}

struct Ca {
    key: KeyPair,
    params: CertificateParams,
    der: Vec<u8>,
}

fn ca(name: &str) -> Ca {
    let key = key();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "palisade test");
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2035, 1, 1);
    params.serial_number = Some(SerialNumber::from(1u64));
    let der = params.self_signed(&key).unwrap().der().to_vec();
    Ca { key, params, der }
}

/// The test Sigstore: its CA, its log, its CT log, and others an attacker holds.
struct Sigstore {
    fulcio: Ca,
    rekor: KeyPair,
    ct: KeyPair,
}

impl Sigstore {
    fn new() -> Sigstore {
        Sigstore {
            fulcio: ca("palisade test fulcio"),
            rekor: key(),
            ct: key(),
        }
    }

    fn trusted_root(&self) -> Value {
        let start = "2025-01-01T00:00:00Z";
        let log = |key: &KeyPair, url: &str| {
            json!({
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(&key.subject_public_key_info()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": b64(&log_id(key))},
            })
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(&self.rekor, "https://rekor.test")],
            "certificateAuthorities": [{
                "subject": {"organization": "palisade test", "commonName": "palisade test fulcio"},
                "uri": "https://fulcio.test",
                "certChain": {"certificates": [{"rawBytes": b64(&self.fulcio.der)}]},
                "validFor": {"start": start},
            }],
            "ctlogs": [log(&self.ct, "https://ctfe.test")],
            "timestampAuthorities": [],
        })
    }

    /// `model_signing --trust_config`: the trusted root in a client trust configuration.
    fn trust_config(&self) -> Value {
        let start = json!({"start": "2025-01-01T00:00:00Z"});
        json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.trusted_root(),
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [{"url": "https://fulcio.test", "majorApiVersion": 1, "validFor": start, "operator": "test"}],
                "oidcUrls": [{"url": ISSUER, "majorApiVersion": 1, "validFor": start, "operator": "test"}],
                "rekorTlogUrls": [{"url": "https://rekor.test", "majorApiVersion": 1, "validFor": start, "operator": "test"}],
                "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"},
                "tsaConfig": {"selector": "ANY"},
            },
        })
    }
}

/// What a signing does, and what an attacker changes in it.
struct Signing<'a> {
    /// The CA that issues the signing certificate.
    ca: &'a Ca,
    identity: &'a str,
    issuer: &'a str,
    /// The log the entry names (its ID), the key that signs the SET, and the one that signs the
    /// checkpoint.
    log: &'a KeyPair,
    set_key: &'a KeyPair,
    checkpoint_key: &'a KeyPair,
    ct_key: &'a KeyPair,
    integrated_time: i64,
    /// Log the entry at all.
    logged: bool,
}

impl<'a> Signing<'a> {
    fn honest(s: &'a Sigstore) -> Signing<'a> {
        Signing {
            ca: &s.fulcio,
            identity: IDENTITY,
            issuer: ISSUER,
            log: &s.rekor,
            set_key: &s.rekor,
            checkpoint_key: &s.rekor,
            ct_key: &s.ct,
            integrated_time: LOGGED,
            logged: true,
        }
    }

    /// The short-lived signing certificate, with its SCT, DER.
    fn certificate(&self, key: &KeyPair) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::Rfc822Name(self.identity.try_into().unwrap())];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.not_before = rcgen::date_time_ymd(2025, 6, 1);
        params.not_after = rcgen::date_time_ymd(2025, 6, 2);
        params.serial_number = Some(SerialNumber::from(0x5157_u64));
        // Fulcio's issuer (V2) extension: a DER UTF8String.
        let mut issuer = vec![0x0c];
        issuer.extend_from_slice(&der_length(self.issuer.len()));
        issuer.extend_from_slice(self.issuer.as_bytes());
        // Fulcio writes both: the legacy (V1) extension holds the raw string.
        params.custom_extensions = vec![
            CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
                self.issuer.as_bytes().to_vec(),
            ),
            CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, 8], issuer),
        ];
        let issuer = Issuer::from_params(&self.ca.params, &self.ca.key);
        // The precertificate: the same TBS without the SCT list, which the CT log signs.
        let precert = params.signed_by(key, &issuer).unwrap().der().to_vec();
        let timestamp_ms = (NOT_BEFORE as u64) * 1000;
        let issuer_spki = self.ca.key.subject_public_key_info();
        let precert_tbs = tbs(&precert);
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&[0, 1]);
        signed.extend_from_slice(&sha256(&issuer_spki));
        signed.extend_from_slice(&(precert_tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend_from_slice(&precert_tbs);
        signed.extend_from_slice(&[0, 0]);
        let sig = sign(self.ct_key, &signed);
        let mut sct = vec![0u8];
        sct.extend_from_slice(&log_id(self.ct_key));
        sct.extend_from_slice(&timestamp_ms.to_be_bytes());
        sct.extend_from_slice(&[0, 0, 4, 3]);
        sct.extend_from_slice(&(sig.len() as u16).to_be_bytes());
        sct.extend_from_slice(&sig);
        let mut list = ((sct.len() + 2) as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        list.extend_from_slice(&sct);
        let mut octets = vec![0x04];
        octets.extend_from_slice(&der_length(list.len()));
        octets.extend_from_slice(&list);
        params
            .custom_extensions
            .push(CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
                octets,
            ));
        params.signed_by(key, &issuer).unwrap().der().to_vec()
    }

    /// A keyless OMS bundle over `payload` (an in-toto statement).
    fn bundle(&self, payload: &[u8]) -> Value {
        let payload_type = "application/vnd.in-toto+json";
        let leaf = key();
        let cert = self.certificate(&leaf);
        let pae = format!(
            "DSSEv1 {} {payload_type} {} ",
            payload_type.len(),
            payload.len()
        );
        let mut pae = pae.into_bytes();
        pae.extend_from_slice(payload);
        let sig = sign(&leaf, &pae);
        let envelope = json!({
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(&sig)}],
        });
        let mut tlog_entries = Vec::new();
        if self.logged {
            tlog_entries.push(self.log_entry(payload, &sig, &cert, &envelope));
        }
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(&cert)},
                "tlogEntries": tlog_entries,
            },
            "dsseEnvelope": envelope,
        })
    }

    /// The Rekor v1 entry: a `dsse` 0.0.1 body (canonical JSON), its SET, and its inclusion
    /// proof as leaf 0 of a two-leaf tree with a signed checkpoint.
    fn log_entry(&self, payload: &[u8], sig: &[u8], cert: &[u8], envelope: &Value) -> Value {
        // Keys in canonical (sorted) order: serde_json keeps them as written here.
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex::encode(sha256(envelope.to_string().as_bytes()))},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(sha256(payload))},
                "signatures": [{"signature": b64(sig), "verifier": b64(pem(cert).as_bytes())}],
            },
        })
        .to_string();
        let log_index = 1u64;
        let log = log_id(self.log);
        let set_payload = json!({
            "body": b64(body.as_bytes()),
            "integratedTime": self.integrated_time,
            "logID": hex::encode(&log),
            "logIndex": log_index,
        })
        .to_string();
        let set = sign(self.set_key, set_payload.as_bytes());
        // Merkle tree (RFC 6962): our leaf at index 0, another at index 1.
        let leaf_hash = sha256(&[&[0u8][..], body.as_bytes()].concat());
        let sibling = sha256(b"\x00another entry");
        let root = sha256(&[&[1u8][..], &leaf_hash, &sibling].concat());
        let note = format!("rekor.test - 1\n2\n{}\n", b64(&root));
        let mut note_sig = log_id(self.checkpoint_key)[..4].to_vec();
        note_sig.extend_from_slice(&sign(self.checkpoint_key, note.as_bytes()));
        let checkpoint = format!("{note}\n\u{2014} rekor.test {}\n", b64(&note_sig));
        json!({
            "logIndex": log_index.to_string(),
            "logId": {"keyId": b64(&log)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": self.integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": b64(&set)},
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": b64(&root),
                "treeSize": "2",
                "hashes": [b64(&sibling)],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": b64(body.as_bytes()),
        })
    }
}

fn model(dir: &Path) -> PathBuf {
    let m = dir.join("model");
    std::fs::create_dir_all(m.join("sub")).unwrap();
    std::fs::write(m.join("weights.bin"), vec![7u8; 100_000]).unwrap();
    std::fs::write(m.join("config.json"), b"{\"layers\": 2}").unwrap();
    std::fs::write(m.join("sub/tokenizer.json"), b"{}").unwrap();
    m
}

/// The OMS statement of the model, as `palisade sign model` signs it.
fn statement(model: &Path) -> Vec<u8> {
    let manifest =
        palisade_model_sign::manifest(model, &palisade_model_sign::Options::default(), None)
            .unwrap();
    palisade_model_sign::statement::payload(&manifest)
}

struct Case {
    _dir: tempfile::TempDir,
    model: PathBuf,
    signature: PathBuf,
    root: PathBuf,
    trust_config: PathBuf,
}

fn case(sigstore: &Sigstore, bundle: &Value) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let signature = dir.path().join("model.sig");
    let root = dir.path().join("trusted_root.json");
    let trust_config = dir.path().join("trust_config.json");
    std::fs::write(&signature, bundle.to_string()).unwrap();
    std::fs::write(&root, sigstore.trusted_root().to_string()).unwrap();
    std::fs::write(&trust_config, sigstore.trust_config().to_string()).unwrap();
    Case {
        _dir: dir,
        model,
        signature,
        root,
        trust_config,
    }
}

/// Signs the test model as `signing` says.
fn signed(sigstore: &Sigstore, signing: &Signing<'_>) -> Case {
    let dir = tempfile::tempdir().unwrap();
    let payload = statement(&model(dir.path()));
    case(sigstore, &signing.bundle(&payload))
}

fn verify(c: &Case, identity: &str, issuer: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(["verify", "model"])
        .arg(&c.model)
        .arg("--signature")
        .arg(&c.signature)
        .arg("--trusted-root")
        .arg(&c.root)
        .args(["--identity", identity, "--issuer", issuer])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn reference() -> PathBuf {
    if let Ok(cli) = std::env::var("MODEL_SIGNING_CLI") {
        return PathBuf::from(cli);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/venv-model-signing/bin/model_signing");
    if venv.exists() {
        return venv;
    }
    panic!(
        "model_signing is not installed: run scripts/test.sh (it installs it into target/venv-model-signing), or set MODEL_SIGNING_CLI"
    );
}

fn reference_verify(c: &Case, identity: &str, issuer: &str) -> (i32, String) {
    let out = Command::new(reference())
        .args(["verify", "sigstore"])
        .arg(&c.model)
        .arg("--signature")
        .arg(&c.signature)
        .arg("--trust_config")
        .arg(&c.trust_config)
        .args(["--identity", identity, "--identity_provider", issuer])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn refused(result: (i32, String), reason: &str) {
    let (code, text) = result;
    eprintln!("{text}");
    assert_eq!(code, 1, "expected exit 1 ({reason}):\n{text}");
    assert!(text.contains("not verified"), "{text}");
    assert!(text.contains(reason), "expected {reason:?} in:\n{text}");
}

#[test]
fn an_honest_keyless_signature_verifies() {
    let s = Sigstore::new();
    let c = signed(&s, &Signing::honest(&s));
    let (code, text) = verify(&c, IDENTITY, ISSUER);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("verified: "), "{text}");
    assert!(
        text.contains(&format!("signed by {IDENTITY} (issuer {ISSUER})")),
        "{text}"
    );
    assert!(text.contains("logged at 2025-06-01T12:00:00Z"), "{text}");
}

#[test]
fn wrong_identity() {
    let s = Sigstore::new();
    let c = signed(&s, &Signing::honest(&s));
    refused(
        verify(&c, "someone-else@example.com", ISSUER),
        "wrong identity",
    );
}

#[test]
fn wrong_issuer() {
    let s = Sigstore::new();
    let c = signed(&s, &Signing::honest(&s));
    refused(
        verify(&c, IDENTITY, "https://accounts.example.org"),
        "wrong issuer",
    );
}

#[test]
fn a_certificate_from_another_ca() {
    let s = Sigstore::new();
    let other = ca("palisade test fulcio");
    let c = signed(
        &s,
        &Signing {
            ca: &other,
            ..Signing::honest(&s)
        },
    );
    refused(verify(&c, IDENTITY, ISSUER), "untrusted certificate");
}

#[test]
fn a_set_signed_by_another_key() {
    let s = Sigstore::new();
    let other = key();
    let c = signed(
        &s,
        &Signing {
            set_key: &other,
            ..Signing::honest(&s)
        },
    );
    refused(verify(&c, IDENTITY, ISSUER), "inclusion promise");
}

#[test]
fn a_checkpoint_signed_by_another_key() {
    let s = Sigstore::new();
    let other = key();
    let c = signed(
        &s,
        &Signing {
            checkpoint_key: &other,
            ..Signing::honest(&s)
        },
    );
    refused(
        verify(&c, IDENTITY, ISSUER),
        "no valid transparency log entry",
    );
}

#[test]
fn logged_after_the_certificate_expired() {
    let s = Sigstore::new();
    let c = signed(
        &s,
        &Signing {
            integrated_time: NOT_AFTER + 3600,
            ..Signing::honest(&s)
        },
    );
    refused(verify(&c, IDENTITY, ISSUER), "CertExpired");
}

#[test]
fn no_log_entry() {
    let s = Sigstore::new();
    let c = signed(
        &s,
        &Signing {
            logged: false,
            ..Signing::honest(&s)
        },
    );
    refused(verify(&c, IDENTITY, ISSUER), "no transparency log entry");
}

#[test]
fn a_tampered_model_file() {
    let s = Sigstore::new();
    let c = signed(&s, &Signing::honest(&s));
    let mut weights = std::fs::read(c.model.join("weights.bin")).unwrap();
    weights[50_000] ^= 1;
    std::fs::write(c.model.join("weights.bin"), weights).unwrap();
    refused(verify(&c, IDENTITY, ISSUER), "weights.bin: changed");
}

#[test]
fn a_signature_over_other_content() {
    // The envelope's payload is replaced by another model's statement after signing and logging.
    let s = Sigstore::new();
    let c = signed(&s, &Signing::honest(&s));
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&c.signature).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = model(dir.path());
    std::fs::write(other.join("extra.bin"), b"x").unwrap();
    bundle["dsseEnvelope"]["payload"] = json!(b64(&statement(&other)));
    std::fs::write(&c.signature, bundle.to_string()).unwrap();
    refused(
        verify(&c, IDENTITY, ISSUER),
        "the signature does not verify with the signing certificate's key",
    );
}

#[test]
fn an_sct_from_an_untrusted_ct_log() {
    let s = Sigstore::new();
    let other = key();
    let c = signed(
        &s,
        &Signing {
            ct_key: &other,
            ..Signing::honest(&s)
        },
    );
    refused(verify(&c, IDENTITY, ISSUER), "signed certificate timestamp");
}

/// The reference implementation reads the same trusted root (as a client trust configuration)
/// and agrees: the honest signature verifies, and each attack is refused.
#[test]
fn the_reference_implementation_agrees() {
    let s = Sigstore::new();
    let honest = signed(&s, &Signing::honest(&s));
    let (code, text) = reference_verify(&honest, IDENTITY, ISSUER);
    assert_eq!(
        code, 0,
        "model_signing refused the honest signature:\n{text}"
    );
    assert_eq!(verify(&honest, IDENTITY, ISSUER).0, 0);

    let other_ca = ca("palisade test fulcio");
    let other_key = key();
    let attacks: Vec<(&str, Case)> = vec![
        (
            "another CA",
            signed(
                &s,
                &Signing {
                    ca: &other_ca,
                    ..Signing::honest(&s)
                },
            ),
        ),
        (
            "a SET by another key",
            signed(
                &s,
                &Signing {
                    set_key: &other_key,
                    ..Signing::honest(&s)
                },
            ),
        ),
        (
            "a checkpoint by another key",
            signed(
                &s,
                &Signing {
                    checkpoint_key: &other_key,
                    ..Signing::honest(&s)
                },
            ),
        ),
        (
            "logged after expiry",
            signed(
                &s,
                &Signing {
                    integrated_time: NOT_AFTER + 3600,
                    ..Signing::honest(&s)
                },
            ),
        ),
        (
            "an SCT by another log",
            signed(
                &s,
                &Signing {
                    ct_key: &other_key,
                    ..Signing::honest(&s)
                },
            ),
        ),
        (
            "no log entry",
            signed(
                &s,
                &Signing {
                    logged: false,
                    ..Signing::honest(&s)
                },
            ),
        ),
    ];
    for (name, c) in &attacks {
        let (code, text) = reference_verify(c, IDENTITY, ISSUER);
        assert_ne!(code, 0, "model_signing accepted {name}:\n{text}");
        eprintln!("model_signing on {name}: {}", text.trim());
        assert_eq!(verify(c, IDENTITY, ISSUER).0, 1, "palisade accepted {name}");
    }
    for (identity, issuer) in [
        ("someone-else@example.com", ISSUER),
        (IDENTITY, "https://accounts.example.org"),
    ] {
        let (code, text) = reference_verify(&honest, identity, issuer);
        assert_ne!(
            code, 0,
            "model_signing accepted {identity} / {issuer}:\n{text}"
        );
    }
    std::fs::write(honest.model.join("config.json"), b"{\"layers\": 3}").unwrap();
    let (code, text) = reference_verify(&honest, IDENTITY, ISSUER);
    assert_ne!(code, 0, "model_signing accepted a tampered file:\n{text}");
    assert_eq!(verify(&honest, IDENTITY, ISSUER).0, 1);
}

#[test]
fn bad_input_is_exit_2() {
    let s = Sigstore::new();
    let c = signed(&s, &Signing::honest(&s));
    // A trusted root that is not one.
    std::fs::write(&c.root, b"{\"mediaType\": 1}").unwrap();
    let (code, text) = verify(&c, IDENTITY, ISSUER);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("the trusted root cannot be used"), "{text}");
    // A key-based bundle given to keyless verification.
    std::fs::write(&c.root, s.trusted_root().to_string()).unwrap();
    let mut bundle: Value = serde_json::from_slice(&std::fs::read(&c.signature).unwrap()).unwrap();
    bundle["verificationMaterial"] = json!({"publicKey": {"hint": "00"}, "tlogEntries": []});
    std::fs::write(&c.signature, bundle.to_string()).unwrap();
    let (code, text) = verify(&c, IDENTITY, ISSUER);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("signed with a key"), "{text}");
}

#[test]
fn scan_model_verifies_a_keyless_signature_too() {
    let s = Sigstore::new();
    let c = signed(&s, &Signing::honest(&s));
    let scan = |identity: &str| {
        Command::new(env!("CARGO_BIN_EXE_palisade"))
            .args(["scan", "model"])
            .arg(&c.model)
            .arg("--signature")
            .arg(&c.signature)
            .arg("--trusted-root")
            .arg(&c.root)
            .args(["--identity", identity, "--issuer", ISSUER])
            .output()
            .unwrap()
    };
    let out = scan(IDENTITY);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("verified: "), "{err}");
    let out = scan("someone-else@example.com");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("wrong identity"), "{err}");
}
