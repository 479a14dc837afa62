//! A deterministic mutation fuzzer over what `verify model` reads before it trusts anything: the
//! bundle (JSON, base64, DSSE envelope) and the statement it signs. Every mutant must parse or be
//! refused with an error, never panic; and a mutant that still verifies under the signing key
//! must carry exactly the payload that was signed. `cargo fuzz run model_signature` (fuzz/)
//! explores further.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use palisade_model_sign::{bundle, statement, Options};

/// A test key (P-256, PKCS#8), for signing the seeds only.
const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgutXVY/if6ZtCW3y5
fFH/IVQXTqhjcgIPhCh/6QOcLBqhRANCAASrn9icY/eJJfPO9g3APPoEMIEb7XGm
KOwdwbT6ksbrEKrDOHGmCVUry52FuehVvV5Pl4pJggKwn1Em8OXwfhGw
-----END PRIVATE KEY-----
";

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"\"\"",
    b"\\u0000",
    b"\\ud800",
    b"=",
    b"==",
    b"+/",
    b"-_",
    b"AAAA",
    b"../",
    b"/",
    b"sha256",
    b"blake2b",
    b"\"mediaType\"",
    b"\"payload\"",
    b"\"signatures\"",
    b"\"resources\"",
    b"\"digest\"",
    b"\"name\"",
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 => out.truncate(at),
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            3 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            _ => {
                // A copy of another stretch of the seed: repeated keys, fields out of place.
                let from = rng.below(seed.len());
                let end = (from + rng.below(64)).min(seed.len());
                out.splice(at..at, seed[from..end].iter().copied());
            }
        }
    }
    out
}

/// A signed bundle, its payload, and the key that verifies it.
fn seeds() -> (Vec<u8>, Vec<u8>, palisade_sign_core::EcPublicKey) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weights.bin"), vec![7u8; 3000]).unwrap();
    std::fs::create_dir(dir.path().join("tokenizer")).unwrap();
    std::fs::write(dir.path().join("tokenizer/vocab.json"), b"{\"a\": 1}").unwrap();
    let key = palisade_sign_core::ec_private_key(KEY, None).unwrap();
    let (manifest, signed) =
        palisade_model_sign::sign(dir.path(), &Options::default(), &key, None).unwrap();
    (
        signed.into_bytes(),
        statement::payload(&manifest),
        key.public_key(),
    )
}

#[test]
fn mutated_bundles_are_parsed_or_refused_and_never_verify_another_payload() {
    let (seed, payload, public) = seeds();
    let original = bundle::parse(&seed).unwrap();
    assert!(bundle::verify_envelope(&original, &public));
    assert!(statement::parse(&original.payload).is_ok());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut parsed, mut refused) = (0, 0);
    for i in 0..6_000 {
        let mutant = mutate(&seed, &mut rng);
        match bundle::parse(&mutant) {
            Ok(b) => {
                parsed += 1;
                let _ = statement::parse(&b.payload);
                if bundle::verify_envelope(&b, &public) {
                    assert_eq!(
                        b.payload, payload,
                        "mutant {i} verifies with another payload"
                    );
                }
            }
            Err(e) => {
                refused += 1;
                assert!(!e.to_string().is_empty(), "mutant {i}: an empty error");
            }
        }
    }
    // Both sides are reached: mutations that keep a valid bundle and ones that break it.
    assert!(
        parsed > 100 && refused > 100,
        "parsed {parsed}, refused {refused}"
    );
}

#[test]
fn mutated_statements_are_parsed_or_refused() {
    let (_, payload, _) = seeds();
    assert!(statement::parse(&payload).is_ok());
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..20_000 {
        match statement::parse(&mutate(&payload, &mut rng)) {
            Ok(_) => parsed += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(refused > 100, "parsed {parsed}, refused {refused}");
}
