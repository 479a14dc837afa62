//! `palisade scan image`, `palisade sbom` and `palisade db` on real images the tests build
//! themselves (tests/images), in every input form, with the real PyPA advisories from
//! ../shared/vulndata, and against a real registry (../shared/tools/local-registry.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{palisade, root};
use images::{Built, Compression};

fn advisories_dir() -> PathBuf {
    root().join("../shared/vulndata/pypa-advisories/vulns")
}

fn run(args: &[&str]) -> Output {
    palisade().args(args).output().expect("runs")
}

fn stdout_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every form of the same image, written into `dir`: (target, description).
fn all_forms(dir: &Path, built: &Built) -> Vec<String> {
    images::write_oci_dir(&dir.join("oci"), built);
    images::write_oci_archive(&dir.join("image.oci.tar"), built);
    images::write_docker_archive_legacy(&dir.join("legacy.docker.tar"), built);
    images::write_docker_archive_oci(&dir.join("oci-based.docker.tar"), built);
    images::write_rootfs(&dir.join("rootfs"));
    vec![
        format!("oci-dir:{}", dir.join("oci").display()),
        format!("oci-dir:{}:app", dir.join("oci").display()),
        format!("oci-archive:{}", dir.join("image.oci.tar").display()),
        format!("docker-archive:{}", dir.join("legacy.docker.tar").display()),
        format!(
            "docker-archive:{}",
            dir.join("oci-based.docker.tar").display()
        ),
        format!("dir:{}", dir.join("rootfs").display()),
    ]
}

#[test]
fn every_input_form_gives_the_same_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let built = images::build(&[
        Compression::Gzip,
        Compression::Zstd,
        Compression::None,
        Compression::Gzip,
    ]);
    let cache = dir.path().join("cache");
    for target in all_forms(dir.path(), &built) {
        // Twice: the second run reads the layers from the cache.
        for round in 0..2 {
            let output = run(&["sbom", &target, "--cache-dir", cache.to_str().unwrap()]);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{target}: {}",
                stderr(&output)
            );
            let bom = stdout_json(&output);
            assert_eq!(
                images::components(&bom),
                images::expected_packages(),
                "{target} round {round}"
            );
            let os = bom["components"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["type"] == "operating-system")
                .unwrap();
            assert_eq!(
                (os["name"].as_str(), os["version"].as_str()),
                (Some("debian"), Some("12")),
                "{target}"
            );
        }
    }
    assert!(
        std::fs::read_dir(&cache).unwrap().count() >= 4,
        "one cache entry per layer"
    );
    // SPDX from the same image.
    let output = run(&[
        "sbom",
        &format!("oci-dir:{}", dir.path().join("oci").display()),
        "--no-cache",
        "-f",
        "spdx",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let spdx = stdout_json(&output);
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let mut names: Vec<(String, String)> = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "LIBRARY")
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["versionInfo"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(names, images::expected_packages());
}

/// Versions as numeric tuples: enough for the plain `X.Y.Z` versions in this test.
fn numeric(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0)
        })
        .collect()
}

/// Which advisories in the PyPA data affect `name` at `version`, read straight from the YAML:
/// listed in `versions`, or inside an ECOSYSTEM range of `introduced`/`fixed` events. Written
/// independently of palisade's matcher so the two check each other.
fn expected_from_data(name: &str, version: &str) -> BTreeMap<String, Option<String>> {
    let normalize = |n: &str| n.to_lowercase().replace(['_', '.'], "-");
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(advisories_dir()) {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let node = palisade_core::yaml::single_document(&text)
            .unwrap()
            .unwrap();
        let record = node.to_json();
        if record.get("withdrawn").is_some_and(|w| !w.is_null()) {
            continue;
        }
        for affected in record["affected"].as_array().into_iter().flatten() {
            if affected["package"]["ecosystem"] != "PyPI"
                || normalize(affected["package"]["name"].as_str().unwrap()) != normalize(name)
            {
                continue;
            }
            let listed = affected["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v == version);
            let mut hit = None;
            for range in affected["ranges"].as_array().into_iter().flatten() {
                // GIT ranges name commits, not releases.
                if range["type"] != "ECOSYSTEM" {
                    continue;
                }
                let mut events: Vec<(Vec<u64>, bool, String)> = range["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|e| {
                        if let Some(v) = e["introduced"].as_str() {
                            Some((numeric(v), true, v.to_owned()))
                        } else {
                            e["fixed"]
                                .as_str()
                                .map(|v| (numeric(v), false, v.to_owned()))
                        }
                    })
                    .collect();
                events.sort();
                let mut open = false;
                let v = numeric(version);
                for (at, introduced, text) in &events {
                    if *at > v {
                        if open {
                            hit = Some(if *introduced {
                                None
                            } else {
                                Some(text.clone())
                            });
                        }
                        break;
                    }
                    open = *introduced;
                }
                if hit.is_none() && open && events.last().is_some_and(|(at, _, _)| *at <= v) {
                    hit = Some(None);
                }
                if hit.is_some() {
                    break;
                }
            }
            if let Some(fixed) = hit {
                out.insert(record["id"].as_str().unwrap().to_owned(), fixed);
            } else if listed {
                out.insert(record["id"].as_str().unwrap().to_owned(), None);
            }
        }
    }
    out
}

fn import_db(db: &Path) {
    let output = run(&[
        "db",
        "import",
        advisories_dir().to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn pypa_advisories_are_matched_as_the_data_says() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db);
    let info = run(&["db", "info", "--json", "--db", db.to_str().unwrap()]);
    assert_eq!(info.status.code(), Some(0), "{}", stderr(&info));
    let meta = stdout_json(&info);
    // Every record but the withdrawn ones.
    let live = walkdir::WalkDir::new(advisories_dir())
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            !std::fs::read_to_string(e.path())
                .unwrap()
                .lines()
                .any(|l| l.starts_with("withdrawn:"))
        })
        .count();
    assert!(live > 100);
    assert_eq!(
        meta["advisories"].as_u64().unwrap() as usize,
        live,
        "every live record imported"
    );
    assert_eq!(meta["schemaVersion"], 1);

    let built = images::build(&[Compression::Gzip]);
    images::write_oci_dir(&dir.path().join("oci"), &built);
    let target = format!("oci-dir:{}", dir.path().join("oci").display());
    let output = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "-f",
        "json",
    ]);
    let report = stdout_json(&output);
    let mut found: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for f in report["findings"].as_array().unwrap() {
        found
            .entry(f["package"].as_str().unwrap().to_owned())
            .or_default()
            .insert(
                f["id"].as_str().unwrap().to_owned(),
                f["fixed"].as_str().map(str::to_owned),
            );
    }
    let mut expected: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for (name, version) in [
        ("Flask", "2.2.2"),
        ("Werkzeug", "2.2.2"),
        ("Jinja2", "3.1.2"),
        ("newplugin", "1.0"),
    ] {
        let hits = expected_from_data(name, version);
        if !hits.is_empty() {
            expected.insert(name.to_owned(), hits);
        }
    }
    assert!(
        expected.contains_key("Werkzeug") && expected.contains_key("Flask"),
        "the data has advisories for both"
    );
    assert_eq!(found, expected);
    assert_eq!(
        output.status.code(),
        Some(1),
        "findings at or above --fail-on (any) exit 1"
    );
    assert_eq!(report["digest"], built.manifest.0.as_str());

    // The thresholds.
    let worst = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap().to_owned())
        .collect::<BTreeSet<_>>();
    let never = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "--fail-on",
        "never",
    ]);
    assert_eq!(never.status.code(), Some(0));
    if !worst.contains("critical") {
        let critical = run(&[
            "scan",
            "image",
            &target,
            "--db",
            db.to_str().unwrap(),
            "--no-cache",
            "--fail-on",
            "critical",
        ]);
        assert_eq!(critical.status.code(), Some(0), "{worst:?}");
    }

    // The table's upgrade advice for Werkzeug: the highest fixed version, and how many it fixes.
    let table = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    let werkzeug = &expected["Werkzeug"];
    let highest = werkzeug
        .values()
        .flatten()
        .max_by_key(|v| numeric(v))
        .unwrap();
    let fixes = werkzeug.values().flatten().count();
    assert!(
        text.contains(&format!(
            "upgrade Werkzeug 2.2.2 -> {highest}: fixes all {fixes}"
        )),
        "{text}"
    );

    // SARIF and CycloneDX carry the same findings.
    let sarif = stdout_json(&run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "-f",
        "sarif",
    ]));
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        report["findings"].as_array().unwrap().len()
    );
    let bom = stdout_json(&run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "-f",
        "cyclonedx",
    ]));
    assert_eq!(
        bom["vulnerabilities"].as_array().unwrap().len(),
        report["findings"].as_array().unwrap().len()
    );
}

#[test]
fn ignore_files_hide_with_a_reason_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db);
    let built = images::build(&[Compression::Gzip]);
    images::write_oci_dir(&dir.path().join("oci"), &built);
    let target = format!("oci-dir:{}", dir.path().join("oci").display());
    let flask = expected_from_data("Flask", "2.2.2");
    let flask_id = flask.keys().next().unwrap().clone();
    let ignore = dir.path().join("ignore.yaml");
    std::fs::write(
        &ignore,
        format!(
            "ignore:\n- id: {flask_id}\n  package: flask\n  reason: cookies are not used\n  expires: 2999-01-01\n\
             - id: PYSEC-2023-221\n  reason: old decision\n  expires: 2001-01-01\n\
             - id: CVE-0000-0000\n  reason: nothing has it\n  expires: 2999-01-01\n"
        ),
    )
    .unwrap();
    let output = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "-f",
        "json",
        "--ignore-file",
        ignore.to_str().unwrap(),
    ]);
    let report = stdout_json(&output);
    let ids: BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(flask_id.as_str()), "hidden");
    assert_eq!(report["ignored"][0]["id"], flask_id.as_str());
    assert_eq!(report["ignored"][0]["reason"], "cookies are not used");
    let stale: Vec<(u64, String)> = report["staleIgnores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["line"].as_u64().unwrap(),
                s["problem"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(stale[0].1.contains("expired"), "{stale:?}");
    assert!(stale[1].1.contains("matches no finding"), "{stale:?}");
    // The expired rule hides nothing.
    if expected_from_data("Werkzeug", "2.2.2").contains_key("PYSEC-2023-221") {
        assert!(ids.contains("PYSEC-2023-221"));
    }
    // A broken ignore file is an error naming the key and line, before any image is read.
    std::fs::write(&ignore, "ignore:\n- id: CVE-1\n  expires: 2999-01-01\n").unwrap();
    let output = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--ignore-file",
        ignore.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("ignore.yaml") && stderr(&output).contains("reason"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn broken_images_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let built = images::build(&[Compression::Gzip]);
    let mut cases: Vec<(String, String)> = Vec::new();

    // A truncated archive.
    images::write_oci_archive(&dir.path().join("whole.tar"), &built);
    let whole = std::fs::read(dir.path().join("whole.tar")).unwrap();
    std::fs::write(dir.path().join("truncated.tar"), &whole[..whole.len() / 2]).unwrap();
    cases.push((
        format!("oci-archive:{}", dir.path().join("truncated.tar").display()),
        "truncated".to_owned(),
    ));
    // Not a tar at all.
    std::fs::write(
        dir.path().join("junk.tar"),
        b"this is not a tar archive at all, just text",
    )
    .unwrap();
    cases.push((
        format!("docker-archive:{}", dir.path().join("junk.tar").display()),
        "tar".to_owned(),
    ));
    // A tampered layer: its bytes no longer match the digest the manifest names.
    images::write_oci_dir(&dir.path().join("tampered"), &built);
    let layer = dir
        .path()
        .join("tampered/blobs/sha256")
        .join(built.layers[1].0.strip_prefix("sha256:").unwrap());
    let mut bytes = std::fs::read(&layer).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();
    cases.push((
        format!("oci-dir:{}", dir.path().join("tampered").display()),
        "does not match digest".to_owned(),
    ));
    // A corrupt gzip stream whose digest is right (built that way).
    let mut corrupt = images::build(&[Compression::Gzip]);
    let mut gz = corrupt.layers[0].1.clone();
    gz.truncate(gz.len() / 2);
    let digest = images::sha256(&gz);
    let manifest = String::from_utf8(corrupt.manifest.1.clone())
        .unwrap()
        .replace(&corrupt.layers[0].0, &digest);
    corrupt.blobs.retain(|(d, _)| *d != corrupt.manifest.0);
    corrupt.blobs.push((digest.clone(), gz));
    corrupt.manifest = (images::sha256(manifest.as_bytes()), manifest.into_bytes());
    corrupt.blobs.push(corrupt.manifest.clone());
    images::write_oci_dir(&dir.path().join("corrupt-gzip"), &corrupt);
    cases.push((
        format!("oci-dir:{}", dir.path().join("corrupt-gzip").display()),
        format!("layer {digest}"),
    ));
    // A broken index.json.
    images::write_oci_dir(&dir.path().join("bad-index"), &built);
    std::fs::write(
        dir.path().join("bad-index/index.json"),
        b"{\"schemaVersion\": 2, \"manifests\": [",
    )
    .unwrap();
    cases.push((
        format!("oci-dir:{}", dir.path().join("bad-index").display()),
        "index.json".to_owned(),
    ));
    // A manifest.json that lists a layer the archive lacks.
    images::write_docker_archive_legacy(&dir.path().join("legacy.tar"), &built);
    let legacy = std::fs::read(dir.path().join("legacy.tar")).unwrap();
    let mut archive = tar::Archive::new(&legacy[..]);
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if !name.ends_with("0000000000000000000000000000000002/layer.tar") {
            members.push((name, data));
        }
    }
    let items: Vec<images::Item> = members
        .into_iter()
        .map(|(n, d)| images::Item::File(n, d))
        .collect();
    std::fs::write(dir.path().join("missing-layer.tar"), images::tar_of(&items)).unwrap();
    cases.push((
        format!(
            "docker-archive:{}",
            dir.path().join("missing-layer.tar").display()
        ),
        "missing from the archive".to_owned(),
    ));

    for (target, expected) in cases {
        let output = run(&["sbom", &target, "--no-cache"]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{target}: {}",
            stderr(&output)
        );
        let err = stderr(&output);
        assert!(
            err.contains(&expected),
            "{target}: expected {expected:?} in:\n{err}"
        );
        assert!(
            err.lines().count() <= 3,
            "one clear error, not a trace: {err}"
        );
        assert!(output.stdout.is_empty(), "{target}: no partial SBOM");
    }
}

#[test]
fn model_files_in_the_image_are_scanned_as_the_merged_image_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db);
    // Protocol-0 pickles: one calls os.system when loaded (never loaded here), one is a plain dict.
    let evil = b"cos\nsystem\n(S'echo pwned'\ntR.".to_vec();
    let benign = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.".to_vec();
    let file = |p: &str, c: &[u8]| images::Item::File(p.to_owned(), c.to_vec());
    let mut layers = images::layers();
    layers.push(vec![
        file("models/iris.pkl", &evil),
        file("models/old.pkl", &evil),
        file("models/replaced.pkl", &evil),
        file("app/benign.pkl", &benign),
        file("tmp/elsewhere.pkl", &evil),
    ]);
    layers.push(vec![
        file("models/.wh.old.pkl", b""),
        file("models/replaced.pkl", &benign),
    ]);
    let built = images::build_layers(&layers, &[Compression::Gzip]);
    images::write_oci_dir(&dir.path().join("oci"), &built);
    let target = format!("oci-dir:{}", dir.path().join("oci").display());
    let cache = dir.path().join("cache");
    for round in 0..2 {
        let output = run(&[
            "scan",
            "image",
            &target,
            "--db",
            db.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
            "-f",
            "json",
            "--fail-on",
            "critical",
        ]);
        let report = stdout_json(&output);
        let paths: Vec<(&str, &str)> = report["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["path"].as_str().unwrap(), m["severity"].as_str().unwrap()))
            .collect();
        assert_eq!(
            paths,
            [("/models/iris.pkl", "dangerous")],
            "round {round}: {}",
            stderr(&output)
        );
        assert_eq!(report["models"][0]["global"], "os.system");
        // The advisories in the data top out at high: only the model file makes this critical.
        assert_eq!(output.status.code(), Some(1));
    }
    let no_models = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "--fail-on",
        "critical",
        "--no-model-scan",
    ]);
    assert_eq!(no_models.status.code(), Some(0), "{}", stderr(&no_models));
    // Model paths come from the configuration.
    let config = dir.path().join("palisade.yaml");
    std::fs::write(&config, "models:\n  imagePaths: [/tmp]\n").unwrap();
    let output = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "-f",
        "json",
        "-c",
        config.to_str().unwrap(),
    ]);
    let report = stdout_json(&output);
    let paths: Vec<&str> = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/tmp/elsewhere.pkl"]);
    // And can be turned off.
    let output = run(&[
        "scan",
        "image",
        &target,
        "--db",
        db.to_str().unwrap(),
        "--no-cache",
        "-f",
        "json",
        "--no-model-scan",
    ]);
    assert!(stdout_json(&output)["models"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn ld_preload_in_the_image_configuration_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    import_db(&db);
    let scan = |env: serde_json::Value, format: &str| {
        let built = images::build_configured(
            &images::layers(),
            &[Compression::Gzip],
            None,
            serde_json::json!({"User": "65532", "Env": env}),
        );
        let oci = dir
            .path()
            .join(format!("oci-{}", built.manifest.0.replace(':', "-")));
        images::write_oci_dir(&oci, &built);
        let target = format!("oci-dir:{}", oci.display());
        run(&[
            "scan",
            "image",
            &target,
            "--db",
            db.to_str().unwrap(),
            "--no-cache",
            "-f",
            format,
            "--fail-on",
            "high",
        ])
    };
    let preload = serde_json::json!(["PATH=/usr/bin", "LD_PRELOAD=/usr/lib/libhook.so"]);
    let output = scan(preload.clone(), "json");
    let report = stdout_json(&output);
    assert_eq!(
        report["imageConfig"],
        serde_json::json!([{
            "rule": "palisade/image-ld-preload",
            "severity": "high",
            "field": "config.Env",
            "message": "the image's configuration sets LD_PRELOAD=/usr/lib/libhook.so: every process in the container (and a runtime hook run in it, CVE-2025-23266) loads it first",
            "fix": "remove LD_PRELOAD from the image's ENV; load the library explicitly"
        }])
    );
    assert_eq!(output.status.code(), Some(1), "high fails --fail-on high");
    let sarif = stdout_json(&scan(preload.clone(), "sarif"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "palisade/image-ld-preload"),
        "{sarif:#}"
    );
    let table = String::from_utf8(scan(preload, "table").stdout).unwrap();
    assert!(table.contains("Image configuration\n  HIGH     palisade/image-ld-preload config.Env: the image's configuration sets LD_PRELOAD=/usr/lib/libhook.so"), "{table}");
    // Unset, empty or another variable: nothing, and no imageConfig key at all.
    for env in [
        serde_json::json!(["PATH=/usr/bin"]),
        serde_json::json!(["LD_PRELOAD="]),
        serde_json::Value::Null,
    ] {
        let report = stdout_json(&scan(env.clone(), "json"));
        assert!(report.get("imageConfig").is_none(), "{env}: {report:#}");
    }
}

#[test]
fn sbom_lists_model_files_with_digests_and_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    // Protocol-0 pickles: one runs os.system when loaded (never loaded here), one is a dict; a
    // safetensors file; and files that are not models (text, a zip of sources).
    let evil = b"cos\nsystem\n(S'echo pwned'\ntR.".to_vec();
    let benign = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.".to_vec();
    let header = br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut safetensors = (header.len() as u64).to_le_bytes().to_vec();
    safetensors.extend_from_slice(header);
    safetensors.extend_from_slice(&[0, 0, 128, 63]);
    let file = |p: &str, c: &[u8]| images::Item::File(p.to_owned(), c.to_vec());
    let mut layers = images::layers();
    layers.push(vec![
        file("models/evil.pkl", &evil),
        file("models/iris.pkl", &benign),
        file("models/weights.safetensors", &safetensors),
        file("models/README.md", b"# iris\n"),
        file("tmp/elsewhere.pkl", &evil),
    ]);
    let built = images::build_layers(&layers, &[Compression::Gzip]);
    images::write_oci_dir(&dir.path().join("oci"), &built);
    let target = format!("oci-dir:{}", dir.path().join("oci").display());
    let sbom = |extra: &[&str]| {
        let mut args = vec!["sbom", target.as_str(), "--no-cache"];
        args.extend_from_slice(extra);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        stdout_json(&output)
    };
    let bom = sbom(&[]);
    let models: Vec<(String, String, String)> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "machine-learning-model")
        .map(|c| {
            let property = |name: &str| {
                c["properties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == name)
                    .map(|p| p["value"].as_str().unwrap().to_owned())
                    .unwrap_or_default()
            };
            assert_eq!(c["hashes"][0]["alg"], "SHA-256");
            (
                property("palisade:model:path"),
                c["hashes"][0]["content"].as_str().unwrap().to_owned(),
                property("palisade:model:scan-verdict"),
            )
        })
        .collect();
    let sha = |b: &[u8]| {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(b))
    };
    assert_eq!(
        models,
        [
            ("/models/evil.pkl".into(), sha(&evil), "dangerous".into()),
            ("/models/iris.pkl".into(), sha(&benign), "clean".into()),
            (
                "/models/weights.safetensors".into(),
                sha(&safetensors),
                "clean".into()
            ),
        ]
    );
    // Each model is a dependency of the image, as the packages are.
    let depends = bom["dependencies"][0]["dependsOn"].as_array().unwrap();
    assert!(depends.contains(&serde_json::json!("model:/models/evil.pkl")));
    // --no-model-scan: no model components, and otherwise the same document.
    let plain = sbom(&["--no-model-scan"]);
    assert!(plain["components"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["type"] != "machine-learning-model"));
    let packages = |b: &serde_json::Value| {
        b["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] != "machine-learning-model")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(packages(&bom), packages(&plain));
}
