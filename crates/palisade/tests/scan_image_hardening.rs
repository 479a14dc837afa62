//! `palisade scan image` against images built to slip past it (issue 12): a layer cache poisoned
//! by an image that claims another image's diffIDs (item 3), and model files and Python packages
//! hidden behind symlinks, hard links and `..` names (item 6). Every image is built here, with the
//! shared helpers in tests/images; the advisories are the real PyPA data in ../shared/vulndata.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;

use std::path::Path;
use std::process::Output;

use common::{palisade, root};
use images::{Compression, Item};

/// A protocol-0 pickle that calls os.system when loaded (never loaded here).
const EVIL: &[u8] = b"cos\nsystem\n(S'echo pwned'\ntR.";

fn run(args: &[&str]) -> Output {
    palisade().args(args).output().expect("runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

fn import_db(db: &Path) {
    let advisories = root().join("../shared/vulndata/pypa-advisories/vulns");
    let output = run(&[
        "db",
        "import",
        advisories.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

fn scan(target: &str, db: &Path, cache: &Path) -> Output {
    run(&[
        "scan",
        "image",
        target,
        "--db",
        db.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "-f",
        "json",
        "--fail-on",
        "critical",
    ])
}

/// (path, severity) of every model finding.
fn models(report: &serde_json::Value) -> Vec<(String, String)> {
    report["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_owned(),
                m["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Names of the packages with findings.
fn vulnerable(report: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["package"].as_str().unwrap().to_owned())
        .collect();
    names.dedup();
    names
}

fn file(path: &str, content: &[u8]) -> Item {
    Item::File(path.to_owned(), content.to_vec())
}

#[test]
fn hardening_06_scan_image_reports_models_and_packages_hidden_by_links_and_dot_dot_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db);
    let mut layers = images::layers();
    layers.push(vec![
        file("opt/hidden/sym.pkl", EVIL),
        file("data/target.pkl", EVIL),
    ]);
    layers.push(vec![
        // `/models` (a default model path) is a symlink to a directory no model path names.
        Item::Symlink("models".into(), "/opt/hidden".into()),
        // `/srv/linked.pkl` is a hard link to a pickle outside the model paths.
        Item::Dir("srv".into()),
        Item::HardLink("srv/linked.pkl".into(), "data/target.pkl".into()),
        // Runtimes clean these names and extract the files where the cleaned name says.
        Item::RawFile("app/../app/x.pkl".into(), EVIL.to_vec()),
        Item::RawFile(
            format!(
                "{}/../site-packages/PyYAML-5.1.dist-info/METADATA",
                images::SITE
            ),
            b"Metadata-Version: 2.1\nName: PyYAML\nVersion: 5.1\n".to_vec(),
        ),
    ]);
    for compression in [Compression::Gzip, Compression::None] {
        let built = images::build_layers(&layers, &[compression]);
        let oci = dir.path().join(format!("oci-{compression:?}"));
        images::write_oci_dir(&oci, &built);
        let archive = dir.path().join(format!("{compression:?}.docker.tar"));
        images::write_docker_archive_oci(&archive, &built);
        let cache = dir.path().join(format!("cache-{compression:?}"));
        for target in [
            format!("oci-dir:{}", oci.display()),
            format!("docker-archive:{}", archive.display()),
        ] {
            // Twice: the second time the first pass comes from the cache, and the second look
            // at the layers that hold linked files still happens.
            for round in 0..2 {
                let output = scan(&target, &db, &cache);
                let report = json(&output);
                let what = format!("{target} round {round}: {}", stderr(&output));
                assert_eq!(
                    models(&report),
                    [
                        ("/app/x.pkl".to_owned(), "dangerous".to_owned()),
                        ("/models/sym.pkl".to_owned(), "dangerous".to_owned()),
                        ("/srv/linked.pkl".to_owned(), "dangerous".to_owned()),
                    ],
                    "{what}"
                );
                let linked = &report["models"][2];
                assert_eq!(linked["global"], "os.system", "{what}");
                assert!(
                    linked["message"]
                        .as_str()
                        .unwrap()
                        .contains("through a link to /data/target.pkl"),
                    "{what}"
                );
                assert!(
                    vulnerable(&report).iter().any(|p| p == "PyYAML"),
                    "{what}: {:?}",
                    vulnerable(&report)
                );
                assert_eq!(output.status.code(), Some(1), "{what}");
            }
        }
    }
}

#[test]
fn hardening_06_scan_image_refuses_a_name_that_climbs_out_of_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db);
    let mut layers = images::layers();
    layers.push(vec![Item::RawFile(
        "models/../../x.pkl".into(),
        EVIL.to_vec(),
    )]);
    let built = images::build_layers(&layers, &[Compression::Gzip]);
    let oci = dir.path().join("oci");
    images::write_oci_dir(&oci, &built);
    let output = scan(
        &format!("oci-dir:{}", oci.display()),
        &db,
        &dir.path().join("cache"),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("climbs out of the image root"),
        "{}",
        stderr(&output)
    );
    assert!(output.stdout.is_empty(), "no report for an image not read");
}

#[test]
fn hardening_03_an_image_claiming_the_victims_diff_ids_cannot_poison_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db);
    let cache = dir.path().join("cache");
    let mut victim_layers = images::layers();
    victim_layers.push(vec![file("models/iris.pkl", EVIL)]);
    let victim = images::build_layers(&victim_layers, &[Compression::Gzip]);
    // As many harmless layers, under a configuration that claims the victim's diffIDs.
    let harmless: Vec<Vec<Item>> = (0..victim_layers.len())
        .map(|i| vec![file(&format!("etc/motd{i}"), b"hello\n")])
        .collect();
    let attacker = images::build_claiming(&harmless, &[Compression::Gzip], Some(&victim.diff_ids));
    let victim_dir = dir.path().join("victim");
    images::write_oci_dir(&victim_dir, &victim);
    let attacker_dir = dir.path().join("attacker");
    images::write_oci_dir(&attacker_dir, &attacker);
    // The attacker's image first: refused (fail closed), nothing cached.
    let output = scan(&format!("oci-dir:{}", attacker_dir.display()), &db, &cache);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("but the image configuration claims"),
        "{}",
        stderr(&output)
    );
    assert!(
        !cache.exists() || std::fs::read_dir(&cache).unwrap().count() == 0,
        "a refused image leaves nothing in the cache"
    );
    // The genuine image, with the same cache: its vulnerable packages and its dangerous model
    // are reported, read from its blobs and then from the cache it filled itself.
    for round in 0..2 {
        let output = scan(&format!("oci-dir:{}", victim_dir.display()), &db, &cache);
        let report = json(&output);
        let what = format!("round {round}: {}", stderr(&output));
        assert_eq!(
            models(&report),
            [("/models/iris.pkl".to_owned(), "dangerous".to_owned())],
            "{what}"
        );
        assert!(
            vulnerable(&report).iter().any(|p| p == "Flask"),
            "{what}: {:?}",
            vulnerable(&report)
        );
        assert_eq!(output.status.code(), Some(1), "{what}");
    }
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        victim_layers.len(),
        "one entry per layer of the genuine image"
    );
}
