//! palisade's CycloneDX documents (`sbom` and `scan image -f cyclonedx`, packages, vulnerabilities
//! and `machine-learning-model` components) are valid CycloneDX 1.6: checked with check-jsonschema
//! against the specification's own schema, kept in tests/fixtures/cyclonedx-1.6 with the two
//! schemas it references so that nothing is fetched (installed by .ci/run in CI, and by
//! scripts/test.sh into target/venv-model-signing; or named by CHECK_JSONSCHEMA).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use common::{palisade, root};
use images::{Compression, Item};

/// A protocol-0 pickle that calls os.system when loaded (never loaded here): dangerous.
const SYSTEM: &[u8] = b"cos\nsystem\n(S'echo pwned'\ntR.";
/// A protocol-2 pickle of a plain dict: clean.
const CLEAN: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.";

fn check_jsonschema() -> PathBuf {
    if let Ok(cli) = std::env::var("CHECK_JSONSCHEMA") {
        return PathBuf::from(cli);
    }
    let venv = root().join("target/venv-model-signing/bin/check-jsonschema");
    if venv.exists() {
        return venv;
    }
    let on_path = Command::new("check-jsonschema").arg("--version").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return PathBuf::from("check-jsonschema");
    }
    // A schema test that passes without its validator proves nothing.
    panic!("check-jsonschema is not installed: run scripts/test.sh (it installs it into target/venv-model-signing), pip install check-jsonschema, or set CHECK_JSONSCHEMA");
}

/// check-jsonschema's verdict on `document` against the vendored CycloneDX 1.6 schema, its
/// references resolved to the files beside it (`--base-uri`), never to cyclonedx.org.
fn validate(document: &Path) -> Output {
    let schema = root().join("crates/palisade/tests/fixtures/cyclonedx-1.6/bom-1.6.schema.json");
    Command::new(check_jsonschema())
        .arg("--base-uri")
        .arg(format!("file://{}", schema.display()))
        .arg("--schemafile")
        .arg(&schema)
        .arg(document)
        .output()
        .expect("check-jsonschema runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn cyclonedx_output_is_valid_cyclonedx_1_6() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let import = palisade()
        .args([
            "db",
            "import",
            "../shared/vulndata/pypa-advisories/vulns",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", text(&import));
    // The example image (Debian's dpkg status, Flask 2.2.2 with known vulnerabilities) with a
    // model layer: a dangerous pickle, a clean one, and a file that is no model.
    let mut layers = images::layers();
    layers.push(vec![
        Item::Dir("models".into()),
        Item::File("models/iris.pkl".into(), SYSTEM.to_vec()),
        Item::File("models/clean.pkl".into(), CLEAN.to_vec()),
        Item::File("models/README.md".into(), b"# models\n".to_vec()),
    ]);
    let built = images::build_layers(&layers, &[Compression::Gzip]);
    let oci = dir.path().join("oci");
    images::write_oci_dir(&oci, &built);
    let target = format!("oci-dir:{}", oci.display());

    let sbom = dir.path().join("sbom.cdx.json");
    let output = palisade()
        .args(["sbom", &target, "--no-cache", "-f", "cyclonedx", "-o"])
        .arg(&sbom)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let scan = dir.path().join("scan.cdx.json");
    let output = palisade()
        .args([
            "scan",
            "image",
            &target,
            "--no-cache",
            "-f",
            "cyclonedx",
            "--db",
        ])
        .arg(&db)
        .arg("-o")
        .arg(&scan)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));

    for document in [&sbom, &scan] {
        let bom: Value = serde_json::from_slice(&std::fs::read(document).unwrap()).unwrap();
        assert_eq!(bom["specVersion"], "1.6");
        assert_eq!(
            bom["$schema"],
            "http://cyclonedx.org/schema/bom-1.6.schema.json"
        );
        let models: Vec<&Value> = bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == "machine-learning-model")
            .collect();
        assert_eq!(models.len(), 2, "{bom:#}");
        assert_eq!(
            models[1]["evidence"]["occurrences"][0]["location"],
            "/models/iris.pkl"
        );
        let verdict = |c: &Value| {
            c["properties"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == "palisade:model:scan-verdict")
                .map(|p| p["value"].clone())
        };
        assert_eq!(verdict(models[0]), Some("clean".into()));
        assert_eq!(verdict(models[1]), Some("dangerous".into()));
        let checked = validate(document);
        assert!(
            checked.status.success(),
            "{} is not valid CycloneDX 1.6:\n{}",
            document.display(),
            text(&checked)
        );
    }
    let scanned: Value = serde_json::from_slice(&std::fs::read(&scan).unwrap()).unwrap();
    assert!(
        !scanned["vulnerabilities"].as_array().unwrap().is_empty(),
        "the scan's document carries vulnerabilities for the schema to check"
    );

    // The validator does reject what 1.6 does not allow: a component type it does not list, and
    // a model component's hash that is not hex.
    let mut bad: Value = serde_json::from_slice(&std::fs::read(&sbom).unwrap()).unwrap();
    let components = bad["components"].as_array_mut().unwrap();
    let model = components
        .iter_mut()
        .find(|c| c["type"] == "machine-learning-model")
        .unwrap();
    model["type"] = "ml-model".into();
    model["hashes"][0]["content"] = "not-a-digest".into();
    let broken = dir.path().join("broken.cdx.json");
    std::fs::write(&broken, serde_json::to_vec(&bad).unwrap()).unwrap();
    let checked = validate(&broken);
    assert!(!checked.status.success(), "{}", text(&checked));
    let report = text(&checked);
    assert!(report.contains("ml-model"), "{report}");
}
