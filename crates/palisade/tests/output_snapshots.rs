//! Every output format users parse, pinned byte for byte through the real binary before the
//! report layer is redesigned (issue 13): `scan image` and `sbom` on an image built here, `scan
//! model` on files written here, `audit` on the bundled examples, `netpol list` on the example
//! cluster, and `verify` against a real registry. Each snapshot holds the exit code and standard
//! output; only values that differ from run to run are redacted (common::Redact): temporary
//! directories, the registry's port, the database's build time, the SBOMs' times and the
//! serial number and namespace hash derived from them, and the digests of the signature payload
//! (it names the registry's port) and of the attestation (signed with a key made per run).
//! Test-built images are deterministic, so image digests are pinned as they are.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;
mod images;
mod registry_support;

use std::io::Write;
use std::path::Path;
use std::process::Output;

use common::{palisade, pinned, root, Redact};
use images::{Compression, Item};
use registry_support::{skopeo_push, Registry};

/// A protocol-0 pickle that calls os.system when loaded (never loaded here): dangerous.
const SYSTEM: &[u8] = b"cos\nsystem\n(S'echo pwned'\ntR.";
/// A protocol-2 pickle of {'f': mylib.jobs.run}: a global off the allowlist, only referenced, so
/// suspicious.
const REFERENCED: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00fcmylib.jobs\nrun\ns.";
/// A protocol-2 pickle that calls posix.system through REDUCE: dangerous.
const POSIX_SYSTEM: &[u8] =
    b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";

fn run(args: &[&str]) -> Output {
    palisade().args(args).output().expect("runs")
}

/// Fails with the command's standard error when its exit code is not `code`.
fn expect_code(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8")
}

/// The database from ../shared/vulndata (the PyPA advisories; there is no Debian data), and its
/// build time, which differs on every import. The database records the path it was imported
/// from, so the path is given relative to the workspace root: the same in every checkout.
fn import_db(db: &Path) -> String {
    assert!(root()
        .join("../shared/vulndata/pypa-advisories/vulns")
        .is_dir());
    let import = run(&[
        "db",
        "import",
        "../shared/vulndata/pypa-advisories/vulns",
        "--db",
        db.to_str().unwrap(),
    ]);
    expect_code(&import, 0, "db import");
    let info = run(&["db", "info", "--json", "--db", db.to_str().unwrap()]);
    expect_code(&info, 0, "db info");
    let meta: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    meta["built"].as_str().unwrap().to_owned()
}

/// The example image (Debian 12's dpkg status, Flask and its dependencies) with a model layer:
/// a pickle that runs os.system, and one that references a global off the allowlist.
fn model_server_image() -> images::Built {
    let mut layers = images::layers();
    layers.push(vec![
        Item::Dir("models".into()),
        Item::File("models/iris.pkl".into(), SYSTEM.to_vec()),
        Item::File("models/custom.pkl".into(), REFERENCED.to_vec()),
    ]);
    images::build_layers(&layers, &[Compression::Gzip])
}

#[test]
fn scan_image_and_sbom() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let built_at = import_db(&db);
    let built = model_server_image();
    images::write_oci_dir(&dir.path().join("oci"), &built);
    let target = format!("oci-dir:{}", dir.path().join("oci").display());
    let redact = || {
        Redact::new()
            .dir(dir.path(), "[TMP]")
            .value(built_at.clone(), "[DB-BUILT]")
    };

    for format in ["table", "json", "sarif", "cyclonedx"] {
        let output = run(&[
            "scan",
            "image",
            &target,
            "--db",
            db.to_str().unwrap(),
            "--no-cache",
            "-f",
            format,
        ]);
        expect_code(&output, 1, format);
        let redact = if format == "cyclonedx" {
            cyclonedx_volatile(&stdout(&output), redact())
        } else {
            redact()
        };
        insta::assert_snapshot!(format!("scan_image_{format}"), pinned(&output, &redact));
    }

    for format in ["cyclonedx", "spdx"] {
        let output = run(&["sbom", &target, "--no-cache", "-f", format]);
        expect_code(&output, 0, format);
        let redact = if format == "cyclonedx" {
            cyclonedx_volatile(&stdout(&output), redact())
        } else {
            spdx_volatile(&stdout(&output), dir.path(), redact())
        };
        insta::assert_snapshot!(format!("sbom_{format}"), pinned(&output, &redact));
    }
}

/// Whether `text` is an RFC 3339 time in UTC, `YYYY-MM-DDTHH:MM:SS[.fraction]Z`: what a redacted
/// time must still look like.
fn is_utc_timestamp(text: &str) -> bool {
    let shape: String = text
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect();
    let Some(rest) = shape.strip_prefix("0000-00-00T00:00:00") else {
        return false;
    };
    let rest = rest
        .strip_prefix('.')
        .map_or(rest, |fraction| fraction.trim_start_matches('0'));
    rest == "Z"
}

fn json_string(json: &str, pointer: &str) -> String {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap();
    doc.pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no string at {pointer} in:\n{json}"))
        .to_owned()
}

/// CycloneDX: the time of the scan, and the serial number (a UUID from a hash of the content,
/// time and temporary path included). The serial's `urn:uuid:` prefix stays pinned.
fn cyclonedx_volatile(json: &str, redact: Redact) -> Redact {
    let timestamp = json_string(json, "/metadata/timestamp");
    assert!(is_utc_timestamp(&timestamp), "{timestamp}");
    let serial = json_string(json, "/serialNumber");
    let uuid = serial.strip_prefix("urn:uuid:").expect("urn:uuid:");
    assert_eq!(uuid.len(), 36, "{serial}");
    redact.value(timestamp, "[TIMESTAMP]").value(uuid, "[UUID]")
}

/// SPDX: the time of the scan, and the document namespace's hash (of the content, time and
/// temporary path included) and its segment made of the temporary path (`/` as `-`). The rest
/// of the namespace stays pinned.
fn spdx_volatile(json: &str, tmp: &Path, redact: Redact) -> Redact {
    let created = json_string(json, "/creationInfo/created");
    assert!(is_utc_timestamp(&created), "{created}");
    let namespace = json_string(json, "/documentNamespace");
    let (_, hash) = namespace.rsplit_once('-').unwrap();
    assert!(
        hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{namespace}"
    );
    let segment: String = tmp
        .display()
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    assert!(namespace.contains(&segment), "{namespace}");
    redact
        .value(created, "[TIMESTAMP]")
        .value(format!("-{hash}\""), "-[HASH]\"")
        .value(segment, "[TMP-SEGMENT]")
}

/// A PyTorch-like archive (`torch.save`'s zip layout) whose data.pkl calls posix.system.
fn torch_like_zip(path: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::from_date_and_time(2024, 1, 1, 0, 0, 0).unwrap());
    for (name, content) in [
        ("classifier/data.pkl", POSIX_SYSTEM),
        ("classifier/version", b"3\n".as_slice()),
        ("classifier/data/0", &[0u8; 16]),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap();
}

/// A safetensors file: the header's length (u64, little-endian), the JSON header, the tensor.
fn safetensors() -> Vec<u8> {
    let header = br#"{"weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0u8; 8]);
    bytes
}

#[test]
fn scan_model() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::write(models.join("iris.pkl"), SYSTEM).unwrap();
    std::fs::write(models.join("custom.pkl"), REFERENCED).unwrap();
    torch_like_zip(&models.join("classifier.pt"));
    std::fs::write(models.join("weights.safetensors"), safetensors()).unwrap();
    std::fs::write(
        models.join("README.md"),
        "# iris\n\nA scikit-learn classifier.\n",
    )
    .unwrap();
    let redact = Redact::new().dir(dir.path(), "[TMP]");
    for format in ["table", "json", "sarif"] {
        let output = run(&["scan", "model", models.to_str().unwrap(), "-f", format]);
        expect_code(&output, 1, format);
        insta::assert_snapshot!(format!("scan_model_{format}"), pinned(&output, &redact));
    }
}

#[test]
fn audit() {
    let config = "examples/iris-model-server/palisade.yaml";
    for (name, path, code) in [
        ("restricted", "examples/iris-model-server/manifests", 0),
        ("insecure", "examples/iris-model-server-insecure", 1),
    ] {
        for format in ["table", "json", "sarif"] {
            let output = run(&[
                "audit", "--color", "never", "--config", config, "--format", format, path,
            ]);
            expect_code(&output, code, &format!("{name} {format}"));
            insta::assert_snapshot!(
                format!("audit_{name}_{format}"),
                pinned(&output, &Redact::new())
            );
        }
    }
}

#[test]
fn netpol_list() {
    for exposure in [false, true] {
        for format in ["txt", "json", "csv", "md", "dot"] {
            let mut args = vec![
                "netpol",
                "list",
                "--dirpath",
                "examples/netpol/cluster",
                "-o",
                format,
            ];
            if exposure {
                args.push("--exposure");
            }
            let output = run(&args);
            expect_code(&output, 0, &args.join(" "));
            let name = if exposure {
                format!("netpol_list_exposure_{format}")
            } else {
                format!("netpol_list_{format}")
            };
            insta::assert_snapshot!(name, pinned(&output, &Redact::new()));
        }
    }
}

#[test]
fn verify() {
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let push = |name: &str, built: &images::Built| {
        images::write_oci_dir(&work.path().join(name), built);
        skopeo_push(&work.path().join(name), &format!("{host}/ml/{name}:1"));
    };
    // The example image; the same with the model layer (a pickle that runs os.system); and an
    // image nobody signs.
    let iris = images::build(&[Compression::Gzip]);
    let evil = model_server_image();
    let other = images::build(&[Compression::Zstd]);
    push("iris", &iris);
    push("evil", &evil);
    push("other", &other);
    // Test-built images are deterministic: their digests need no redaction.
    assert_eq!(
        iris.manifest.0,
        images::build(&[Compression::Gzip]).manifest.0
    );
    assert_eq!(evil.manifest.0, model_server_image().manifest.0);

    let db = work.path().join("db");
    import_db(&db);
    let with_password = |args: &[&str]| {
        let output = palisade()
            .args(args)
            .env("PALISADE_PASSWORD", "pw")
            .output()
            .unwrap();
        expect_code(&output, 0, &args.join(" "));
    };
    for name in ["signer", "stranger"] {
        let prefix = work.path().join(name);
        with_password(&["key", "generate", "--out", prefix.to_str().unwrap()]);
    }
    let key = work.path().join("signer.key");
    let public = work.path().join("signer.pub");
    let stranger = work.path().join("stranger.pub");
    let image = |name: &str| format!("registry:{host}/ml/{name}:1");
    for name in ["iris", "evil"] {
        with_password(&[
            "sign",
            &image(name),
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ]);
    }

    let redact = Redact::new()
        .dir(work.path(), "[TMP]")
        .value(host.clone(), "[REGISTRY]");
    let verify = |name: &str, key: &Path, require_scan: bool| {
        let image = image(name);
        let mut args = vec![
            "verify",
            &image,
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ];
        if require_scan {
            args.push("--require-scan");
        }
        pinned(&run(&args), &redact)
    };

    // Signed, and not yet attested.
    insta::assert_snapshot!("verify_signed", verify("iris", &public, false));
    insta::assert_snapshot!("verify_signed_not_attested", verify("evil", &public, true));
    for name in ["iris", "evil"] {
        with_password(&[
            "attest",
            &image(name),
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
            "--scan",
            "--db",
            db.to_str().unwrap(),
        ]);
    }
    // What differs between runs in verify's messages, beside the port: the digest of the
    // signature's payload (which names the registry, port included) and of the attestation (an
    // envelope signed by a key made for this run, with the scan's times).
    let http = reqwest::blocking::Client::new();
    let layers = |name: &str, built: &images::Built, suffix: &str| -> Vec<String> {
        let tag = format!("{}.{suffix}", built.manifest.0.replace(':', "-"));
        let manifest: serde_json::Value = http
            .get(format!("http://{host}/v2/ml/{name}/manifests/{tag}"))
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .unwrap()
            .json()
            .unwrap();
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect()
    };
    let [payload] = &layers("iris", &iris, "sig")[..] else {
        panic!("one signature")
    };
    let [attestation] = &layers("evil", &evil, "att")[..] else {
        panic!("one attestation")
    };
    let redact = redact
        .value(payload.clone(), "[PAYLOAD-DIGEST]")
        .value(attestation.clone(), "[ATTESTATION-DIGEST]");
    let verify = |name: &str, key: &Path, require_scan: bool| {
        let image = image(name);
        let mut args = vec![
            "verify",
            &image,
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ];
        if require_scan {
            args.push("--require-scan");
        }
        pinned(&run(&args), &redact)
    };
    // The PyPA data rates Werkzeug's worst advisory high, the default --max-severity.
    insta::assert_snapshot!("verify_signed_and_attested", verify("iris", &public, true));
    insta::assert_snapshot!("verify_no_signature", verify("other", &public, true));
    insta::assert_snapshot!("verify_wrong_key", verify("iris", &stranger, true));
    // The model file makes the scan critical.
    insta::assert_snapshot!("verify_critical_finding", verify("evil", &public, true));
}
