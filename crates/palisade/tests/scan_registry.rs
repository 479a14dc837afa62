//! Pulls from a real registry: the CNCF distribution registry started by the test
//! (../shared/tools/local-registry.sh), the image pushed into it by skopeo, and the vulnerability
//! database moved through it as an OCI artifact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;
mod registry_support;

use std::process::Output;

use common::{palisade, root};
use images::Compression;
use registry_support::{skopeo_copy, skopeo_push, start_registry_with_password, Registry};

fn run(args: &[&str]) -> Output {
    palisade().args(args).output().expect("runs")
}

fn components(output: &Output) -> Vec<(String, String)> {
    let bom: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    images::components(&bom)
}

#[test]
fn scans_and_moves_the_database_through_a_real_registry() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let built = images::build(&[Compression::Gzip, Compression::Zstd]);
    images::write_oci_dir(&work.path().join("oci"), &built);
    let host = format!("127.0.0.1:{}", registry.port);
    skopeo_push(&work.path().join("oci"), &format!("{host}/ml/iris:1"));

    // By tag and by digest; skopeo keeps the manifest as built, so the digest is ours.
    let by_tag = run(&[
        "sbom",
        &format!("registry:{host}/ml/iris:1"),
        "--plain-http",
        "--no-cache",
    ]);
    assert_eq!(
        by_tag.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&by_tag.stderr)
    );
    assert_eq!(components(&by_tag), images::expected_packages());
    let bom: serde_json::Value = serde_json::from_slice(&by_tag.stdout).unwrap();
    let digest = bom["metadata"]["component"]["version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");
    let by_digest = run(&[
        "sbom",
        &format!("registry:{host}/ml/iris@{digest}"),
        "--plain-http",
        "--no-cache",
    ]);
    assert_eq!(
        by_digest.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&by_digest.stderr)
    );
    assert_eq!(components(&by_digest), images::expected_packages());

    // HTTPS is the default: a plain-HTTP registry is an error unless asked for.
    let https = run(&["sbom", &format!("registry:{host}/ml/iris:1"), "--no-cache"]);
    assert_eq!(https.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&https.stderr).contains("cannot reach the registry"),
        "{}",
        String::from_utf8_lossy(&https.stderr)
    );
    // An unknown tag names what is missing.
    let missing = run(&[
        "sbom",
        &format!("registry:{host}/ml/iris:nope"),
        "--plain-http",
        "--no-cache",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("manifest nope"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );

    // The database, pushed as an artifact and pulled into an empty location.
    let db = work.path().join("db");
    let import = run(&[
        "db",
        "import",
        root()
            .join("../shared/vulndata/pypa-advisories/vulns")
            .to_str()
            .unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(
        import.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let reference = format!("{host}/security/palisade-db:1");
    let push = run(&[
        "db",
        "push",
        &reference,
        "--plain-http",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(
        push.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&push.stderr)
    );
    let pulled = work.path().join("pulled");
    let pull = run(&[
        "db",
        "pull",
        &reference,
        "--plain-http",
        "--db",
        pulled.to_str().unwrap(),
    ]);
    assert_eq!(
        pull.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pull.stderr)
    );
    assert_eq!(
        std::fs::read(db.join("palisade.db")).unwrap(),
        std::fs::read(pulled.join("palisade.db")).unwrap(),
        "the same bytes"
    );
    // The artifact's manifest, as the registry holds it.
    let manifest: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("http://{host}/v2/security/palisade-db/manifests/1"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.palisade.vulnerability-db.v1"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    // An image is not a database: pulling it is refused and the local database is kept.
    let wrong = run(&[
        "db",
        "pull",
        &format!("{host}/ml/iris:1"),
        "--plain-http",
        "--db",
        pulled.to_str().unwrap(),
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not a palisade database"));
    let info = run(&["db", "info", "--db", pulled.to_str().unwrap()]);
    assert_eq!(info.status.code(), Some(0));

    // The registry goes away: a clear error, not a hang.
    registry.stop();
    let down = run(&[
        "sbom",
        &format!("registry:{host}/ml/iris:1"),
        "--plain-http",
        "--no-cache",
    ]);
    assert_eq!(down.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("cannot reach the registry"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
}

#[test]
fn registry_credentials_come_from_the_docker_config() {
    let work = tempfile::tempdir().unwrap();
    let (mut registry, port) = start_registry_with_password(work.path(), "ci", "s3cret:with-colon");
    let host = format!("127.0.0.1:{port}");
    let built = images::build(&[Compression::Gzip]);
    images::write_oci_dir(&work.path().join("oci"), &built);
    skopeo_copy(
        &format!("oci:{}:app", work.path().join("oci").display()),
        &format!("docker://{host}/ml/iris:1"),
        &["--dest-creds", "ci:s3cret:with-colon"],
    );

    let config = |auth: &str| {
        let path = work.path().join(format!("config-{}.json", auth.len()));
        std::fs::write(
            &path,
            format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        path
    };
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let target = format!("registry:{host}/ml/iris:1");
    let good = config(&b64("ci:s3cret:with-colon"));
    let ok = run(&[
        "sbom",
        &target,
        "--plain-http",
        "--no-cache",
        "--docker-config",
        good.to_str().unwrap(),
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(components(&ok), images::expected_packages());

    let wrong = config(&b64("ci:wrong"));
    let refused = run(&[
        "sbom",
        &target,
        "--plain-http",
        "--no-cache",
        "--docker-config",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refused the credentials"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let empty = work.path().join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let none = run(&[
        "sbom",
        &target,
        "--plain-http",
        "--no-cache",
        "--docker-config",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("wants credentials"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    let _ = registry.kill();
    let _ = registry.wait();
}

#[test]
fn signs_and_verifies_as_cosign_lays_signatures_out() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let built = images::build(&[Compression::Gzip]);
    images::write_oci_dir(&work.path().join("oci"), &built);
    let host = format!("127.0.0.1:{}", registry.port);
    skopeo_push(&work.path().join("oci"), &format!("{host}/ml/iris:1"));
    // A second image, never signed.
    let other = images::build(&[Compression::Zstd]);
    images::write_oci_dir(&work.path().join("other"), &other);
    skopeo_push(&work.path().join("other"), &format!("{host}/ml/other:1"));

    let keys = |name: &str| {
        let prefix = work.path().join(name);
        let output = palisade()
            .args(["key", "generate", "--out", prefix.to_str().unwrap()])
            .env("PALISADE_PASSWORD", "pw")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (
            work.path().join(format!("{name}.key")),
            work.path().join(format!("{name}.pub")),
        )
    };
    let (key, public) = keys("signer");
    let (_, stranger) = keys("stranger");
    let image = format!("registry:{host}/ml/iris:1");
    let sign = palisade()
        .args([
            "sign",
            &image,
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ])
        .env("PALISADE_PASSWORD", "pw")
        .output()
        .unwrap();
    assert_eq!(
        sign.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sign.stderr)
    );

    // Exactly cosign's layout: the tag, the media types, the annotation, the payload.
    let digest = &built.manifest.0;
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let http = reqwest::blocking::Client::new();
    let manifest: serde_json::Value = http
        .get(format!("http://{host}/v2/ml/iris/manifests/{tag}"))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert!(layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    let payload: serde_json::Value = http
        .get(format!(
            "http://{host}/v2/ml/iris/blobs/{}",
            layer["digest"].as_str().unwrap()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        format!("{host}/ml/iris")
    );
    assert_eq!(
        payload["critical"]["type"],
        "cosign container image signature"
    );

    let verify = |image: &str, key: &std::path::Path| {
        palisade()
            .args([
                "verify",
                image,
                "--key",
                key.to_str().unwrap(),
                "--plain-http",
            ])
            .output()
            .unwrap()
    };
    let ok = verify(&image, &public);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let by_digest = verify(&format!("registry:{host}/ml/iris@{digest}"), &public);
    assert_eq!(by_digest.status.code(), Some(0));
    let wrong_key = verify(&image, &stranger);
    assert_eq!(wrong_key.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&wrong_key.stdout).contains("does not verify with a trusted key")
    );
    let unsigned = verify(&format!("registry:{host}/ml/other:1"), &public);
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unsigned.stdout).contains("no signature"));

    // A signature moved to another image is for another digest.
    let other_tag = format!("{}.sig", other.manifest.0.replace(':', "-"));
    skopeo_copy(
        &format!("docker://{host}/ml/iris:{tag}"),
        &format!("docker://{host}/ml/other:{other_tag}"),
        &[],
    );
    let moved = verify(&format!("registry:{host}/ml/other:1"), &public);
    assert_eq!(moved.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&moved.stdout).contains("another digest"),
        "{}",
        String::from_utf8_lossy(&moved.stdout)
    );

    // Registry down: an error, not a pass.
    registry.stop();
    let down = verify(&image, &public);
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stdout).contains("cannot reach the registry"));
}

#[test]
fn attests_scans_and_verifies_them_with_their_age_and_severity() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let host = format!("127.0.0.1:{}", registry.port);
    for (name, compression) in [("iris", Compression::Gzip), ("bare", Compression::Zstd)] {
        let built = images::build(&[compression]);
        images::write_oci_dir(&work.path().join(name), &built);
        skopeo_push(&work.path().join(name), &format!("{host}/ml/{name}:1"));
    }
    let db = work.path().join("db");
    let import = run(&[
        "db",
        "import",
        root()
            .join("../shared/vulndata/pypa-advisories/vulns")
            .to_str()
            .unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(import.status.code(), Some(0));
    let prefix = work.path().join("signer");
    let with_password = |args: &[&str]| {
        palisade()
            .args(args)
            .env("PALISADE_PASSWORD", "pw")
            .output()
            .unwrap()
    };
    assert_eq!(
        with_password(&["key", "generate", "--out", prefix.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let key = work.path().join("signer.key");
    let public = work.path().join("signer.pub");
    let iris = format!("registry:{host}/ml/iris:1");
    let bare = format!("registry:{host}/ml/bare:1");
    for image in [&iris, &bare] {
        let signed = with_password(&[
            "sign",
            image,
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
        ]);
        assert_eq!(
            signed.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&signed.stderr)
        );
    }
    let attest = with_password(&[
        "attest",
        &iris,
        "--key",
        key.to_str().unwrap(),
        "--plain-http",
        "--scan",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(
        attest.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&attest.stderr)
    );

    let verify = |image: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            image,
            "--key",
            public.to_str().unwrap(),
            "--plain-http",
            "--require-scan",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    // The PyPA data rates Werkzeug's worst advisory high (7.5).
    let ok = verify(&iris, &["--max-severity", "high"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    let strict = verify(&iris, &["--max-severity", "medium"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        text(&strict).contains("the scan found high"),
        "{}",
        text(&strict)
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    let stale = verify(&iris, &["--max-age", "1s"]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(text(&stale).contains("stale"), "{}", text(&stale));
    let none = verify(&bare, &[]);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none).contains("no attestation"), "{}", text(&none));

    // A report with a critical finding, attested as given.
    let report = work.path().join("critical.json");
    std::fs::write(
        &report,
        r#"{"findings": [{"id": "CVE-2099-1", "severity": "critical"}], "models": []}"#,
    )
    .unwrap();
    let attest = with_password(&[
        "attest",
        &bare,
        "--key",
        key.to_str().unwrap(),
        "--plain-http",
        "--scan-json",
        report.to_str().unwrap(),
    ]);
    assert_eq!(
        attest.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&attest.stderr)
    );
    let critical = verify(&bare, &[]);
    assert_eq!(critical.status.code(), Some(1));
    assert!(
        text(&critical).contains("critical (CVE-2099-1)"),
        "{}",
        text(&critical)
    );

    // The attestation manifest as cosign lays it out.
    let digest = images::sha256(
        &std::fs::read(
            work.path().join("iris/blobs/sha256").join(
                serde_json::from_slice::<serde_json::Value>(
                    &std::fs::read(work.path().join("iris/index.json")).unwrap(),
                )
                .unwrap()["manifests"][0]["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:"),
            ),
        )
        .unwrap(),
    );
    let manifest: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!(
            "http://{host}/v2/ml/iris/manifests/{}.att",
            digest.replace(':', "-")
        ))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.dsse.envelope.v1+json"
    );
    assert_eq!(
        manifest["layers"][0]["annotations"]["predicateType"],
        "https://cosign.sigstore.dev/attestation/vuln/v1"
    );

    // The same envelope as an OCI 1.1 referrer. This registry (distribution 2.8) has no referrers
    // API, so it is listed by the referrers tag schema: an index tagged sha256-<hex>.
    let http = reqwest::blocking::Client::new();
    let get = |path: &str, accept: &str| -> reqwest::blocking::Response {
        http.get(format!("http://{host}/v2/ml/iris/{path}"))
            .header("Accept", accept)
            .send()
            .unwrap()
    };
    assert_eq!(
        get(
            &format!("referrers/{digest}"),
            "application/vnd.oci.image.index.v1+json"
        )
        .status()
        .as_u16(),
        404
    );
    let index: serde_json::Value = get(
        &format!("manifests/{}", digest.replace(':', "-")),
        "application/vnd.oci.image.index.v1+json",
    )
    .json()
    .unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{index:#}");
    assert_eq!(
        listed[0]["artifactType"],
        "application/vnd.dsse.envelope.v1+json"
    );
    let referrer: serde_json::Value = get(
        &format!("manifests/{}", listed[0]["digest"].as_str().unwrap()),
        "application/vnd.oci.image.manifest.v1+json",
    )
    .json()
    .unwrap();
    assert_eq!(referrer["subject"]["digest"], digest.as_str());
    assert_eq!(
        referrer["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(
        referrer["config"]["digest"],
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    assert_eq!(referrer["layers"][0], manifest["layers"][0]);

    // Without cosign's tag, verification finds the attestation through the referrer.
    let att = get(
        &format!("manifests/{}.att", digest.replace(':', "-")),
        "application/vnd.oci.image.manifest.v1+json",
    );
    let att_digest = att.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_owned();
    let deleted = http
        .delete(format!("http://{host}/v2/ml/iris/manifests/{att_digest}"))
        .send()
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 202);
    let ok = verify(&iris, &["--max-severity", "high"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
}

/// The statements attested for `digest` under cosign's `.att` tag, newest layer last.
fn attested_results(host: &str, repo: &str, digest: &str) -> Vec<serde_json::Value> {
    use base64::Engine as _;
    let http = reqwest::blocking::Client::new();
    let manifest: serde_json::Value = http
        .get(format!(
            "http://{host}/v2/{repo}/manifests/{}.att",
            digest.replace(':', "-")
        ))
        .header("Accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .unwrap()
        .json()
        .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| {
            let envelope: serde_json::Value = http
                .get(format!(
                    "http://{host}/v2/{repo}/blobs/{}",
                    layer["digest"].as_str().unwrap()
                ))
                .send()
                .unwrap()
                .json()
                .unwrap();
            let payload = base64::engine::general_purpose::STANDARD
                .decode(envelope["payload"].as_str().unwrap())
                .unwrap();
            let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            statement["predicate"]["scanner"]["result"].clone()
        })
        .collect()
}

#[test]
fn hardening_00_attest_records_the_model_scan_and_the_newest_attestation_decides() {
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    // The example image with a pickle that runs os.system in /models.
    let mut layers = images::layers();
    layers.push(vec![images::Item::File(
        "models/model.pkl".into(),
        b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.".to_vec(),
    )]);
    let built = images::build_layers(&layers, &[Compression::Gzip]);
    images::write_oci_dir(&work.path().join("evil"), &built);
    skopeo_push(&work.path().join("evil"), &format!("{host}/ml/evil:1"));
    let image = format!("registry:{host}/ml/evil:1");

    let db = work.path().join("db");
    let vulns = root().join("../shared/vulndata/pypa-advisories/vulns");
    let import = run(&[
        "db",
        "import",
        vulns.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(import.status.code(), Some(0));
    let with_password = |args: &[&str]| {
        let output = palisade()
            .args(args)
            .env("PALISADE_PASSWORD", "pw")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let prefix = work.path().join("signer");
    with_password(&["key", "generate", "--out", prefix.to_str().unwrap()]);
    let key = work.path().join("signer.key");
    let public = work.path().join("signer.pub");
    with_password(&[
        "sign",
        &image,
        "--key",
        key.to_str().unwrap(),
        "--plain-http",
    ]);
    let verify = || {
        let output = run(&[
            "verify",
            &image,
            "--key",
            public.to_str().unwrap(),
            "--plain-http",
            "--require-scan",
            "--max-severity",
            "high",
        ]);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };

    // attest --scan records what scan image reports, the model file included.
    with_password(&[
        "attest",
        &image,
        "--key",
        key.to_str().unwrap(),
        "--plain-http",
        "--scan",
        "--db",
        db.to_str().unwrap(),
    ]);
    let scanned = run(&[
        "scan",
        "image",
        &image,
        "--plain-http",
        "--db",
        db.to_str().unwrap(),
        "-f",
        "json",
        "--fail-on",
        "never",
    ]);
    let reported: serde_json::Value = serde_json::from_slice(&scanned.stdout).unwrap();
    let digest = reported["digest"].as_str().unwrap().to_owned();
    let attested = attested_results(&host, "ml/evil", &digest);
    assert_eq!(attested.len(), 1);
    for key in [
        "findings",
        "models",
        "modelScan",
        "packages",
        "target",
        "digest",
    ] {
        assert_eq!(attested[0][key], reported[key], "{key}");
    }
    assert!(
        reported["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["severity"] == "dangerous" && m["path"] == "/models/model.pkl"),
        "{reported:#}"
    );
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("critical (/models/model.pkl)"), "{text}");

    // A newer passing attestation decides at once, and a newer failing one after it too.
    let clean = work.path().join("clean.json");
    std::fs::write(
        &clean,
        r#"{"findings": [], "models": [], "modelScan": {"imagePaths": ["/models"], "allowedGlobals": []}}"#,
    )
    .unwrap();
    let critical = work.path().join("critical.json");
    std::fs::write(
        &critical,
        r#"{"findings": [{"id": "CVE-2099-1", "severity": "critical"}], "models": [], "modelScan": {"imagePaths": ["/models"], "allowedGlobals": []}}"#,
    )
    .unwrap();
    let no_models = work.path().join("no-models.json");
    std::fs::write(&no_models, r#"{"findings": [], "models": []}"#).unwrap();
    let attest_report = |report: &std::path::Path| {
        with_password(&[
            "attest",
            &image,
            "--key",
            key.to_str().unwrap(),
            "--plain-http",
            "--scan-json",
            report.to_str().unwrap(),
        ])
    };
    attest_report(&clean);
    let (code, text) = verify();
    assert_eq!(code, Some(0), "{text}");
    attest_report(&critical);
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("critical (CVE-2099-1)"), "{text}");
    assert!(
        !text.contains("/models/model.pkl"),
        "only the newest decides: {text}"
    );
    attest_report(&no_models);
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("did not cover the image's model files"),
        "{text}"
    );
    attest_report(&clean);
    let (code, text) = verify();
    assert_eq!(code, Some(0), "{text}");
    // One envelope is reachable through both the .att tag and the referrers index: it is
    // examined (and reported) once.
    attest_report(&critical);
    let (_, text) = verify();
    assert_eq!(text.matches("CVE-2099-1").count(), 1, "{text}");
}

#[test]
fn hardening_11_a_plain_http_registry_reached_over_tls_gets_the_plain_http_hint() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let output = run(&[
        "sbom",
        &format!("{}/ml/iris:1", registry.host()),
        "--cache-dir",
        work.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pass --plain-http"), "{stderr}");
    assert_eq!(stderr.matches("error:").count(), 1, "{stderr}");
}
