//! palisade's own image (scripts/build-image.sh): built twice, one digest; what is in it (the
//! binary, CA certificates, user 65532, no shell); `palisade sbom` lists the binary and its
//! crates; `palisade scan image` finds nothing in the shipped vulnerability data; pushed with
//! skopeo, as deploy/README.md says, it keeps its digest.
//!
//! The binary is the static release one when PALISADE_IMAGE_BINARY names it (.ci/run and the CI
//! workflow build it once with scripts/build-image.sh and pass it here), else this build's own
//! palisade (dynamically linked, but the image assembly is the same).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod registry_support;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use registry_support::{skopeo_copy, Registry};
use serde_json::Value;

use common::{palisade, root};

fn binary() -> PathBuf {
    match std::env::var_os("PALISADE_IMAGE_BINARY") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_palisade")),
    }
}

/// Assembles the image from `binary`. The commit and its time are fixed for both builds: other
/// work may commit (or rebuild the test binary) between them, and the same source is the point.
fn build(binary: &Path, out: &Path) -> String {
    let output = Command::new("bash")
        .arg(root().join("scripts/build-image.sh"))
        .arg("--binary")
        .arg(binary)
        .arg(out)
        .current_dir(root())
        .env("SOURCE_DATE_EPOCH", "1764633600")
        .env("PALISADE_GIT_COMMIT", "0000000")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "build-image.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read_to_string(out.join("digest"))
        .unwrap()
        .trim()
        .to_owned()
}

fn blob(oci: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        oci.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

#[test]
fn palisades_own_image_is_reproducible_minimal_inventoried_and_clean() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("palisade");
    std::fs::copy(binary(), &copy).unwrap();
    let (first, second) = (work.path().join("one"), work.path().join("two"));
    let digest = build(&copy, &first);
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(build(&copy, &second), digest, "two builds, two digests");
    for file in ["palisade.oci.tar", "palisade.docker.tar"] {
        assert!(
            std::fs::read(first.join(file)).unwrap() == std::fs::read(second.join(file)).unwrap(),
            "{file} differs between builds"
        );
    }

    // What is in it.
    let oci = first.join("oci");
    let manifest: Value = serde_json::from_slice(&blob(&oci, &digest)).unwrap();
    let config: Value =
        serde_json::from_slice(&blob(&oci, manifest["config"]["digest"].as_str().unwrap()))
            .unwrap();
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/bin/palisade"])
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let gz = blob(&oci, layers[0]["digest"].as_str().unwrap());
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut entries = Vec::new();
    let mut passwd = String::new();
    let mut mtimes = std::collections::BTreeSet::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let header = entry.header();
        mtimes.insert(header.mtime().unwrap());
        if path == "usr/bin/palisade" {
            assert_eq!(header.mode().unwrap(), 0o755);
            assert_eq!(header.uid().unwrap(), 0);
        }
        if path == "etc/passwd" {
            entry.read_to_string(&mut passwd).unwrap();
        }
        entries.push(path.trim_end_matches('/').to_owned());
    }
    assert_eq!(mtimes.len(), 1, "one timestamp: {mtimes:?}");
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(entries, sorted, "tar entries are sorted");
    for needed in [
        "usr/bin/palisade",
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
        "etc/group",
        "usr/share/palisade/palisade.cargo-auditable.json",
    ] {
        assert!(entries.iter().any(|e| e == needed), "{needed}: {entries:?}");
    }
    assert!(
        !entries
            .iter()
            .any(|e| e.ends_with("/sh") || e.ends_with("bash") || e.starts_with("bin")),
        "no shell: {entries:?}"
    );
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    assert!(!passwd.contains("/bin/sh"), "{passwd}");

    // The SBOM lists the binary and its crates.
    let target = format!("oci-dir:{}:latest", oci.display());
    let sbom = palisade()
        .args(["sbom", &target, "--no-cache"])
        .output()
        .unwrap();
    assert!(
        sbom.status.success(),
        "{}",
        String::from_utf8_lossy(&sbom.stderr)
    );
    let bom: Value = serde_json::from_slice(&sbom.stdout).unwrap();
    let purls: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        purls.contains(&format!("pkg:cargo/palisade@{version}").as_str()),
        "{purls:?}"
    );
    assert!(purls.iter().any(|p| p.starts_with("pkg:cargo/rustls@")));
    assert!(purls.len() > 100, "{}", purls.len());
    assert!(
        purls.iter().all(|p| p.starts_with("pkg:cargo/")),
        "{purls:?}"
    );

    // The scan: nothing known in the shipped data (the PyPA advisories); the crates are reported
    // as not covered by this database, never as checked.
    let db = work.path().join("db");
    let import = palisade()
        .args(["db", "import"])
        .arg(root().join("../shared/vulndata/pypa-advisories/vulns"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(import.status.success(), "{import:?}");
    let scan = palisade()
        .args([
            "scan",
            "image",
            &target,
            "--no-progress",
            "--no-cache",
            "-f",
            "json",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&scan.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&scan.stderr));
    });
    assert_eq!(scan.status.code(), Some(0), "{report:#}");
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    assert_eq!(
        report["uncoveredEcosystems"],
        serde_json::json!(["crates.io"]),
        "{report:#}"
    );

    // Pushed as deploy/README.md says, it keeps its digest (what kustomize `images:` pins).
    let registry = Registry::start();
    let pushed = work.path().join("pushed.digest");
    skopeo_copy(
        &format!("oci:{}:latest", oci.display()),
        &format!("docker://{}/palisade/palisade:{version}", registry.host()),
        &["--digestfile", pushed.to_str().unwrap()],
    );
    assert_eq!(std::fs::read_to_string(pushed).unwrap().trim(), digest);

    // The static binary (when given) needs no libc and names its commit.
    if std::env::var_os("PALISADE_IMAGE_BINARY").is_some() {
        let elf = std::fs::read(binary()).unwrap();
        assert!(
            !elf.windows(b"/lib64/ld-linux".len())
                .any(|w| w == b"/lib64/ld-linux"),
            "the image's binary is dynamically linked"
        );
        let version_output = Command::new(binary()).arg("--version").output().unwrap();
        let text = String::from_utf8_lossy(&version_output.stdout);
        assert!(text.starts_with(&format!("palisade {version} (")), "{text}");
    }
}
