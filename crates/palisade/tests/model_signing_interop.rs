//! `palisade sign model` / `verify model` against the reference implementation, `model_signing`
//! 1.x (installed by scripts/test.sh into target/venv-model-signing, or named by MODEL_SIGNING_CLI).
//! Each implementation signs and the other verifies, with keys (P-256, P-384, a cosign key from
//! `palisade key generate`) and certificate chains made here with openssl; then the model is
//! tampered with (one byte, an extra file, a removed file, a renamed file) and both must refuse
//! it, while a change under an ignored path both must accept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn palisade() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
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
    // An interop test that passes without its peer proves nothing: scripts/test.sh installs it.
    panic!(
        "model_signing is not installed: run scripts/test.sh (it installs it into target/venv-model-signing), or set MODEL_SIGNING_CLI"
    );
}

fn run(cmd: &mut Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn openssl(dir: &Path, args: &[&str]) {
    let (code, text) = run(Command::new("openssl").current_dir(dir).args(args));
    assert_eq!(code, 0, "openssl {args:?}: {text}");
}

/// A P-256 or P-384 key pair: NAME.key (PKCS#8) and NAME.pub.
fn key(dir: &Path, name: &str, curve: &str) {
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            curve,
            "-genkey",
            "-noout",
            "-out",
            &format!("{name}.sec1"),
        ],
    );
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            &format!("{name}.sec1"),
            "-out",
            &format!("{name}.key"),
        ],
    );
    openssl(
        dir,
        &[
            "ec",
            "-in",
            &format!("{name}.key"),
            "-pubout",
            "-out",
            &format!("{name}.pub"),
        ],
    );
}

/// A root CA (P-384), an intermediate CA (P-256) and a leaf (P-256, digitalSignature) it issued.
fn certificates(dir: &Path) {
    key(dir, "root", "secp384r1");
    key(dir, "inter", "prime256v1");
    key(dir, "leaf", "prime256v1");
    std::fs::write(
        dir.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=test root",
            "-days",
            "30",
            "-out",
            "root.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "inter.key",
            "-subj",
            "/CN=test intermediate",
            "-out",
            "inter.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "inter.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "ca",
            "-out",
            "inter.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "leaf.key",
            "-subj",
            "/CN=model signer",
            "-out",
            "leaf.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "inter.pem",
            "-CAkey",
            "inter.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            "ext.cnf",
            "-extensions",
            "leaf",
            "-out",
            "leaf.pem",
        ],
    );
    // A stranger's root, to verify against.
    key(dir, "other", "prime256v1");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "other.key",
            "-subj",
            "/CN=other root",
            "-days",
            "30",
            "-out",
            "other.pem",
        ],
    );
}

fn model(dir: &Path) -> PathBuf {
    let m = dir.join("model");
    std::fs::create_dir_all(m.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(m.join(".git")).unwrap();
    std::fs::write(m.join("weights.bin"), vec![7u8; 300_000]).unwrap();
    std::fs::write(m.join("config.json"), b"{\"layers\": 2}").unwrap();
    std::fs::write(m.join("sub/tokenizer.json"), b"{}").unwrap();
    std::fs::write(m.join("sub/deeper/notes.txt"), b"notes").unwrap();
    std::fs::write(m.join("empty"), b"").unwrap();
    std::fs::write(m.join("README.md"), b"readme").unwrap();
    std::fs::write(m.join(".git/HEAD"), b"ref: refs/heads/main").unwrap();
    m
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Imp {
    Palisade,
    Reference,
}

#[derive(Clone, Copy, Debug)]
enum Material {
    Key(&'static str),
    Cosign,
    Chain,
}

fn sign(
    imp: Imp,
    reference: &Path,
    dir: &Path,
    material: Material,
    sig: &Path,
    ignore: &Path,
) -> (i32, String) {
    let m = dir.join("model");
    match imp {
        Imp::Palisade => {
            let mut cmd = palisade();
            cmd.current_dir(dir)
                .args(["sign", "model"])
                .arg(&m)
                .arg("--signature")
                .arg(sig);
            match material {
                Material::Key(name) => cmd.arg("--key").arg(dir.join(format!("{name}.key"))),
                Material::Cosign => cmd
                    .arg("--key")
                    .arg(dir.join("cosign.key"))
                    .env("PALISADE_PASSWORD", "pw"),
                Material::Chain => cmd
                    .arg("--key")
                    .arg(dir.join("leaf.key"))
                    .arg("--signing-certificate")
                    .arg(dir.join("leaf.pem"))
                    .arg("--certificate-chain")
                    .arg(dir.join("inter.pem")),
            };
            run(cmd.arg("--ignore-paths").arg(ignore))
        }
        Imp::Reference => {
            let mut cmd = Command::new(reference);
            cmd.current_dir(dir).arg("sign");
            match material {
                Material::Key(name) => cmd
                    .arg("key")
                    .arg(&m)
                    .arg("--private_key")
                    .arg(dir.join(format!("{name}.key"))),
                Material::Cosign => unreachable!(),
                Material::Chain => cmd
                    .arg("certificate")
                    .arg(&m)
                    .arg("--private_key")
                    .arg(dir.join("leaf.key"))
                    .arg("--signing_certificate")
                    .arg(dir.join("leaf.pem"))
                    .arg("--certificate_chain")
                    .arg(dir.join("inter.pem")),
            };
            run(cmd
                .arg("--signature")
                .arg(sig)
                .arg("--ignore-paths")
                .arg(ignore))
        }
    }
}

fn verify(
    imp: Imp,
    reference: &Path,
    dir: &Path,
    material: Material,
    sig: &Path,
    ignore: &Path,
    trust: &str,
) -> (i32, String) {
    let m = dir.join("model");
    match imp {
        Imp::Palisade => {
            let mut cmd = palisade();
            cmd.current_dir(dir)
                .args(["verify", "model"])
                .arg(&m)
                .arg("--signature")
                .arg(sig);
            match material {
                Material::Key(_) | Material::Cosign => {
                    cmd.arg("--key").arg(dir.join(format!("{trust}.pub")))
                }
                Material::Chain => cmd
                    .arg("--certificate-chain")
                    .arg(dir.join(format!("{trust}.pem"))),
            };
            run(cmd.arg("--ignore-paths").arg(ignore))
        }
        Imp::Reference => {
            let mut cmd = Command::new(reference);
            cmd.current_dir(dir).arg("verify");
            match material {
                Material::Key(_) | Material::Cosign => cmd
                    .arg("key")
                    .arg(&m)
                    .arg("--public_key")
                    .arg(dir.join(format!("{trust}.pub"))),
                Material::Chain => cmd
                    .arg("certificate")
                    .arg(&m)
                    .arg("--certificate_chain")
                    .arg(dir.join(format!("{trust}.pem"))),
            };
            run(cmd
                .arg("--signature")
                .arg(sig)
                .arg("--ignore-paths")
                .arg(ignore))
        }
    }
}

type Tamper = (&'static str, fn(&Path), bool);

fn tampers() -> Vec<Tamper> {
    vec![
        (
            "one byte",
            |m| {
                let mut bytes = std::fs::read(m.join("weights.bin")).unwrap();
                bytes[123_456] ^= 1;
                std::fs::write(m.join("weights.bin"), bytes).unwrap();
            },
            false,
        ),
        (
            "extra file",
            |m| std::fs::write(m.join("sub/extra.py"), b"import os").unwrap(),
            false,
        ),
        (
            "removed file",
            |m| std::fs::remove_file(m.join("sub/tokenizer.json")).unwrap(),
            false,
        ),
        (
            "renamed file",
            |m| std::fs::rename(m.join("config.json"), m.join("config2.json")).unwrap(),
            false,
        ),
        (
            "emptied file",
            |m| std::fs::write(m.join("sub/deeper/notes.txt"), b"").unwrap(),
            false,
        ),
        (
            "ignored path changed",
            |m| std::fs::write(m.join("README.md"), b"changed").unwrap(),
            true,
        ),
        (
            "git path changed",
            |m| std::fs::write(m.join(".git/HEAD"), b"other").unwrap(),
            true,
        ),
    ]
}

#[test]
fn each_implementation_verifies_the_others_signatures_and_both_refuse_tampering() {
    let reference = reference();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d, "p256", "prime256v1");
    key(d, "p384", "secp384r1");
    certificates(d);
    let (code, text) = run(palisade()
        .args(["key", "generate", "--out"])
        .arg(d.join("cosign"))
        .env("PALISADE_PASSWORD", "pw"));
    assert_eq!(code, 0, "{text}");

    let cases: Vec<(Material, &str, &str)> = vec![
        (Material::Key("p256"), "p256", "p384"),
        (Material::Key("p384"), "p384", "p256"),
        (Material::Cosign, "cosign", "p256"),
        (Material::Chain, "root", "other"),
    ];
    let mut checked = 0;
    for (material, trust, stranger) in cases {
        let signers: &[Imp] = match material {
            Material::Cosign => &[Imp::Palisade],
            _ => &[Imp::Palisade, Imp::Reference],
        };
        for &signer in signers {
            for tamper in tampers() {
                let _ = std::fs::remove_dir_all(d.join("model"));
                let m = model(d);
                let sig = d.join("model.sig");
                let ignore = m.join("README.md");
                let (code, text) = sign(signer, &reference, d, material, &sig, &ignore);
                assert_eq!(code, 0, "{signer:?} signing with {material:?}: {text}");
                for verifier in [Imp::Palisade, Imp::Reference] {
                    let (code, text) =
                        verify(verifier, &reference, d, material, &sig, &ignore, trust);
                    assert_eq!(
                        code, 0,
                        "{verifier:?} verifying {signer:?}'s {material:?} signature: {text}"
                    );
                    let (code, text) =
                        verify(verifier, &reference, d, material, &sig, &ignore, stranger);
                    assert_eq!(code, 1, "{verifier:?} verifying {signer:?}'s {material:?} with the wrong trust: {text}");
                    checked += 2;
                }
                (tamper.1)(&m);
                for verifier in [Imp::Palisade, Imp::Reference] {
                    let (code, text) =
                        verify(verifier, &reference, d, material, &sig, &ignore, trust);
                    let expected = if tamper.2 { 0 } else { 1 };
                    assert_eq!(
                        code, expected,
                        "{verifier:?} on {signer:?}'s {material:?} signature after {}: {text}",
                        tamper.0
                    );
                    if verifier == Imp::Palisade && !tamper.2 {
                        let named = match tamper.0 {
                            "one byte" => "weights.bin: changed",
                            "extra file" => "sub/extra.py: appeared",
                            "removed file" => "sub/tokenizer.json: missing",
                            "renamed file" => "config.json: renamed to config2.json",
                            _ => "sub/deeper/notes.txt: changed",
                        };
                        assert!(text.contains(named), "{}: {text}", tamper.0);
                    }
                    checked += 1;
                }
            }
        }
    }
    eprintln!("{checked} verifications agreed");
}

#[test]
fn a_single_file_and_shards_and_blake2b_and_a_signature_inside_the_model() {
    let reference = reference();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d, "p256", "prime256v1");
    let m = model(d);
    // A single file, signed by the reference, verified here; and the other way.
    let file = m.join("weights.bin");
    let sig = d.join("file.sig");
    let (code, text) = run(Command::new(&reference)
        .args(["sign", "key"])
        .arg(&file)
        .arg("--private_key")
        .arg(d.join("p256.key"))
        .arg("--signature")
        .arg(&sig));
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(palisade()
        .args(["verify", "model"])
        .arg(&file)
        .arg("--signature")
        .arg(&sig)
        .arg("--key")
        .arg(d.join("p256.pub")));
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(palisade()
        .args(["sign", "model"])
        .arg(&file)
        .arg("--signature")
        .arg(&sig)
        .arg("--key")
        .arg(d.join("p256.key")));
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(Command::new(&reference)
        .args(["verify", "key"])
        .arg(&file)
        .arg("--public_key")
        .arg(d.join("p256.pub"))
        .arg("--signature")
        .arg(&sig));
    assert_eq!(code, 0, "{text}");

    // The default signature path, model.sig inside the model: left out by both.
    let (code, text) = run(palisade()
        .current_dir(&m)
        .args(["sign", "model", ".", "--key"])
        .arg(d.join("p256.key")));
    assert_eq!(code, 0, "{text}");
    let (code, text) = run(Command::new(&reference)
        .current_dir(&m)
        .args([
            "verify",
            "key",
            ".",
            "--signature",
            "model.sig",
            "--public_key",
        ])
        .arg(d.join("p256.pub")));
    assert_eq!(code, 0, "{text}");

    // Shards and BLAKE2b, which the reference's CLI does not write: verified here either way.
    for extra in [
        &["--method", "shards", "--shard-size", "4096"][..],
        &["--hash", "blake2b"][..],
        &[
            "--method",
            "shards",
            "--hash",
            "blake2b",
            "--shard-size",
            "1000",
        ][..],
    ] {
        let sig = d.join("x.sig");
        let (code, text) = run(palisade()
            .args(["sign", "model"])
            .arg(&m)
            .arg("--signature")
            .arg(&sig)
            .arg("--key")
            .arg(d.join("p256.key"))
            .args(extra));
        assert_eq!(code, 0, "{text}");
        let (code, text) = run(palisade()
            .args(["verify", "model"])
            .arg(&m)
            .arg("--signature")
            .arg(&sig)
            .arg("--key")
            .arg(d.join("p256.pub")));
        assert_eq!(code, 0, "{extra:?}: {text}");
        std::fs::write(m.join("sub/tokenizer.json"), b"{\"x\":1}").unwrap();
        let (code, text) = run(palisade()
            .args(["verify", "model"])
            .arg(&m)
            .arg("--signature")
            .arg(&sig)
            .arg("--key")
            .arg(d.join("p256.pub")));
        assert_eq!(code, 1, "{extra:?}: {text}");
        assert!(text.contains("sub/tokenizer.json: changed"), "{text}");
        std::fs::write(m.join("sub/tokenizer.json"), b"{}").unwrap();
    }
}

#[test]
fn bad_input_fails_closed_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key(d, "p256", "prime256v1");
    let m = model(d);
    let sig = d.join("model.sig");
    let (code, text) = run(palisade()
        .args(["sign", "model"])
        .arg(&m)
        .arg("--signature")
        .arg(&sig)
        .arg("--key")
        .arg(d.join("p256.key")));
    assert_eq!(code, 0, "{text}");
    let good = std::fs::read_to_string(&sig).unwrap();
    let verify_with = |bundle: &str| {
        std::fs::write(d.join("bad.sig"), bundle).unwrap();
        run(palisade()
            .args(["verify", "model"])
            .arg(&m)
            .arg("--signature")
            .arg(d.join("bad.sig"))
            .arg("--key")
            .arg(d.join("p256.pub")))
    };
    // Truncated, not JSON, wrong media type, no envelope.
    for bundle in [
        &good[..good.len() / 2],
        "",
        "[]",
        &good.replace("bundle.v0.3", "bundle.v9"),
        r#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}}}"#,
    ] {
        let (code, text) = verify_with(bundle);
        assert_eq!(code, 2, "{bundle:.80}: {text}");
    }
    // A forged payload (the signature no longer covers it): not verified.
    let value: serde_json::Value = serde_json::from_str(&good).unwrap();
    let mut forged = value.clone();
    forged["dsseEnvelope"]["payload"] = serde_json::json!("e30=");
    let (code, text) = verify_with(&forged.to_string());
    assert_eq!(code, 1, "{text}");
    // A symbolic link in the model is refused unless allowed.
    std::os::unix::fs::symlink("/etc/passwd", m.join("link")).unwrap();
    let (code, text) = run(palisade()
        .args(["verify", "model"])
        .arg(&m)
        .arg("--signature")
        .arg(&sig)
        .arg("--key")
        .arg(d.join("p256.pub")));
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("symbolic link"), "{text}");
}
