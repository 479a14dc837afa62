//! Bearer token authentication (what Docker Hub, GHCR, Harbor and ECR use) against the real
//! CNCF distribution registry configured with `auth: token`, and a token issuer run by the test
//! (registry_support::TokenIssuer): its signing key and certificate, the registry's
//! configuration and every token are made here. Through the real binary: scan image, sign,
//! verify, attest and the webhook's image verification, with good credentials, wrong ones, none,
//! and a token for another repository; the issuer's log shows the scopes palisade asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;
mod registry_support;
mod webhook_support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;

use common::{palisade, root};
use images::Compression;
use registry_support::{skopeo_copy, TokenRegistry, TokenRequest, TOKEN_SERVICE};
use webhook_support::{pod_review, Webhook};

/// `ci` may pull and push under `ml/` and `public/`; `reader` may only pull under `ml/`; anyone
/// may pull `public/`.
/// Nobody may touch `vault/`.
fn start_registry() -> TokenRegistry {
    TokenRegistry::start(
        &[("ci", "s3cret"), ("reader", "r3ad")],
        Arc::new(|user: Option<&str>, repository: &str| {
            match (user, repository.split('/').next()) {
                (Some("ci"), Some("ml" | "public")) => vec!["pull", "push"],
                (_, Some("public")) => vec!["pull"],
                (Some("reader"), Some("ml")) => vec!["pull"],
                _ => vec![],
            }
        }),
    )
}

/// A Docker config with `user:password` for `host`.
fn docker_config(dir: &Path, name: &str, host: &str, user: &str, password: &str) -> PathBuf {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json!({"auths": {host: {"auth": auth}}}).to_string()).unwrap();
    path
}

fn run(args: &[&str]) -> Output {
    palisade()
        .args(args)
        .env("PALISADE_PASSWORD", "pw")
        // Credentials come only from the config each test names.
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap()
}

fn ok(registry: &TokenRegistry, args: &[&str]) -> Output {
    let output = run(args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}\n{}{}\nregistry log:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        registry.log()
    );
    output
}

/// Runs a command that must fail, and returns its standard error.
fn refused(args: &[&str]) -> String {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_ne!(output.status.code(), Some(0), "{args:?} passed: {stderr}");
    stderr
}

/// The scopes of each token request, and who asked (`-` for anonymous).
fn scopes(log: &[TokenRequest]) -> Vec<String> {
    log.iter()
        .map(|r| {
            format!(
                "{} {}",
                r.user.as_deref().unwrap_or("-"),
                r.scopes.join(" ")
            )
        })
        .collect()
}

/// Pushes a fresh image to `host/repository:1` as `ci`.
fn push(work: &Path, host: &str, repository: &str) {
    let oci = work.join("oci");
    if !oci.exists() {
        images::write_oci_dir(&oci, &images::build(&[Compression::Gzip]));
    }
    skopeo_copy(
        &format!("oci:{}:app", oci.display()),
        &format!("docker://{host}/{repository}:1"),
        &["--dest-creds", "ci:s3cret"],
    );
}

fn vulnerability_db(work: &Path, registry: &TokenRegistry) -> PathBuf {
    let db = work.join("db");
    let vulns = root().join("../shared/vulndata/pypa-advisories/vulns");
    ok(
        registry,
        &[
            "db",
            "import",
            vulns.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ],
    );
    db
}

#[test]
fn hardening_10_scan_sign_verify_attest_through_registry_tokens() {
    let registry = start_registry();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    push(work, &host, "ml/iris");
    let config = docker_config(work, "ci", &host, "ci", "s3cret");
    let config = config.to_str().unwrap();
    let db = vulnerability_db(work, &registry);
    let db = db.to_str().unwrap();
    ok(
        &registry,
        &[
            "key",
            "generate",
            "--out",
            work.join("signer").to_str().unwrap(),
        ],
    );
    let (key, public) = (work.join("signer.key"), work.join("signer.pub"));
    let (key, public) = (key.to_str().unwrap(), public.to_str().unwrap());
    let image = format!("{host}/ml/iris:1");
    let registry_flags = ["--plain-http", "--docker-config", config];
    registry.issuer.take_log();

    // Each process asks once per scope (the token is cached for the repository and scope), for
    // only what the command needs: pull to read, pull and push to write.
    let scan = ok(
        &registry,
        &[
            &[
                "scan",
                "image",
                &format!("registry:{image}"),
                "--db",
                db,
                "-f",
                "json",
                "--fail-on",
                "never",
            ][..],
            &registry_flags,
        ]
        .concat(),
    );
    let report: serde_json::Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert!(report["digest"].as_str().unwrap().starts_with("sha256:"));
    let log = registry.issuer.take_log();
    assert_eq!(scopes(&log), ["ci repository:ml/iris:pull"]);
    assert!(log
        .iter()
        .all(|r| r.status == 200 && r.service == TOKEN_SERVICE));

    ok(
        &registry,
        &[&["sign", &image, "--key", key][..], &registry_flags].concat(),
    );
    assert_eq!(
        scopes(&registry.issuer.take_log()),
        [
            "ci repository:ml/iris:pull",
            "ci repository:ml/iris:pull,push"
        ]
    );

    ok(
        &registry,
        &[
            &["attest", &image, "--key", key, "--scan", "--db", db][..],
            &registry_flags,
        ]
        .concat(),
    );
    assert_eq!(
        scopes(&registry.issuer.take_log()),
        [
            "ci repository:ml/iris:pull",
            "ci repository:ml/iris:pull,push"
        ]
    );

    let verified = ok(
        &registry,
        &[
            &[
                "verify",
                &image,
                "--key",
                public,
                "--require-scan",
                "--max-severity",
                "critical",
            ][..],
            &registry_flags,
        ]
        .concat(),
    );
    assert!(
        String::from_utf8_lossy(&verified.stdout).contains("verified"),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    assert_eq!(
        scopes(&registry.issuer.take_log()),
        ["ci repository:ml/iris:pull"]
    );

    // No credentials: an anonymous token, which the issuer grants for public images only.
    push(work, &host, "public/iris");
    registry.issuer.take_log();
    let empty = work.join("empty.json");
    std::fs::write(&empty, "{}").unwrap();
    let public_image = format!("{host}/public/iris:1");
    ok(
        &registry,
        &[
            "scan",
            "image",
            &format!("registry:{public_image}"),
            "--db",
            db,
            "--fail-on",
            "never",
            "--plain-http",
            "--docker-config",
            empty.to_str().unwrap(),
        ],
    );
    assert_eq!(
        scopes(&registry.issuer.take_log()),
        ["- repository:public/iris:pull"]
    );
    let stderr = refused(&[
        "scan",
        "image",
        &format!("registry:{image}"),
        "--db",
        db,
        "--plain-http",
        "--docker-config",
        empty.to_str().unwrap(),
    ]);
    assert!(stderr.contains(&host), "{stderr}");
    assert!(
        stderr.contains("no credentials") && stderr.contains("pull access to ml/iris"),
        "{stderr}"
    );
}

#[test]
fn hardening_10_wrong_credentials_and_foreign_scopes_are_refused() {
    let registry = start_registry();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    push(work, &host, "ml/iris");
    ok(
        &registry,
        &[
            "key",
            "generate",
            "--out",
            work.join("signer").to_str().unwrap(),
        ],
    );
    let key = work.join("signer.key");
    let key = key.to_str().unwrap();
    let image = format!("{host}/ml/iris:1");
    let sbom = |config: &Path, image: &str| {
        refused(&[
            "sbom",
            &format!("registry:{image}"),
            "--plain-http",
            "--docker-config",
            config.to_str().unwrap(),
        ])
    };

    // A wrong password: the token service refuses it, and palisade says so, naming the registry
    // and the user; it never falls back to an anonymous token.
    let wrong = docker_config(work, "wrong", &host, "ci", "guess");
    registry.issuer.take_log();
    let stderr = sbom(&wrong, &image);
    assert!(stderr.contains(&host), "{stderr}");
    assert!(
        stderr.contains("refused the credentials of user \"ci\""),
        "{stderr}"
    );
    let log = registry.issuer.take_log();
    assert_eq!(scopes(&log), ["ci repository:ml/iris:pull"]);
    assert_eq!(log[0].status, 401);
    let stderr = refused(&[
        "sign",
        &image,
        "--key",
        key,
        "--plain-http",
        "--docker-config",
        wrong.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains(&host) && stderr.contains("refused the credentials"),
        "{stderr}"
    );

    // Good credentials for a repository they do not cover: the issuer grants nothing there.
    let ci = docker_config(work, "ci", &host, "ci", "s3cret");
    let vault = format!("{host}/vault/model:1");
    let stderr = sbom(&ci, &vault);
    assert!(stderr.contains(&host), "{stderr}");
    assert!(
        stderr.contains("did not grant user \"ci\" pull access to vault/model"),
        "{stderr}"
    );

    // A reader may scan but not sign: the token it gets for pull,push grants only pull.
    let reader = docker_config(work, "reader", &host, "reader", "r3ad");
    registry.issuer.take_log();
    let stderr = refused(&[
        "sign",
        &image,
        "--key",
        key,
        "--plain-http",
        "--docker-config",
        reader.to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("did not grant user \"reader\" pull,push access to ml/iris"),
        "{stderr}"
    );
    let log = registry.issuer.take_log();
    assert!(
        log.iter()
            .any(|r| r.scopes == ["repository:ml/iris:pull,push"]
                && r.granted == ["repository:ml/iris:pull"]),
        "{log:?}"
    );

    // A token for another repository than the one asked for: the registry refuses it, and so
    // does palisade, with the same clear error (never a pass, never a loop).
    registry.issuer.misdirect(Some("ml/other"));
    registry.issuer.take_log();
    let stderr = sbom(&ci, &image);
    assert!(
        stderr.contains(&host)
            && stderr.contains("did not grant user \"ci\" pull access to ml/iris"),
        "{stderr}"
    );
    assert_eq!(
        scopes(&registry.issuer.take_log()),
        ["ci repository:ml/iris:pull"],
        "one token request, no retry loop"
    );
    registry.issuer.misdirect(None);
    ok(
        &registry,
        &[
            "sbom",
            &format!("registry:{image}"),
            "--plain-http",
            "--docker-config",
            ci.to_str().unwrap(),
        ],
    );
}

#[test]
fn hardening_10_webhook_verifies_images_through_registry_tokens() {
    let registry = start_registry();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    push(work, &host, "ml/iris");
    let ci = docker_config(work, "ci", &host, "ci", "s3cret");
    let wrong = docker_config(work, "wrong", &host, "ci", "guess");
    ok(
        &registry,
        &[
            "key",
            "generate",
            "--out",
            work.join("signer").to_str().unwrap(),
        ],
    );
    let (key, public) = (work.join("signer.key"), work.join("signer.pub"));
    let image = format!("{host}/ml/iris:1");
    let db = vulnerability_db(work, &registry);
    for extra in [&[][..], &["--scan", "--db", db.to_str().unwrap()][..]] {
        let command = if extra.is_empty() { "sign" } else { "attest" };
        ok(
            &registry,
            &[
                &[
                    command,
                    &image,
                    "--key",
                    key.to_str().unwrap(),
                    "--plain-http",
                    "--docker-config",
                    ci.to_str().unwrap(),
                ][..],
                extra,
            ]
            .concat(),
        );
    }
    let config = |docker_config: &Path| {
        format!(
            "podSecurity:\n  level: privileged\nrules:\n  requireSignature: {{}}\n  requireScan: {{maxSeverity: high, maxAge: 1d}}\nimageVerification:\n  plainHttpRegistries: [\"{host}\"]\n  dockerConfig: \"{}\"\n  trust:\n    - images: [\"{host}/ml\"]\n      namespaces: [\"ml-*\"]\n      keys: [\"{}\"]\n",
            docker_config.display(),
            public.display()
        )
    };
    let admit = |webhook: &Webhook| {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "iris"},
            "spec": {"containers": [{"name": "server", "image": image}]}
        });
        let (status, body) = webhook.post("/validate", &pod_review("uid-10", "ml-iris", &pod));
        assert_eq!(status, 200, "{body:#}");
        (
            body["response"]["allowed"].as_bool().unwrap(),
            body["response"]["status"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };

    registry.issuer.take_log();
    let webhook = Webhook::start(&config(&ci), &[]);
    let (allowed, message) = admit(&webhook);
    assert!(allowed, "{message}\nregistry log:\n{}", registry.log());
    // Verification only reads: one pull token, reused for the signature and the attestation.
    assert_eq!(
        scopes(&registry.issuer.take_log()),
        ["ci repository:ml/iris:pull"]
    );

    let refusing = Webhook::start(&config(&wrong), &[]);
    let (allowed, message) = admit(&refusing);
    assert!(!allowed, "wrong credentials admitted the image");
    assert!(
        message.contains(&host) && message.contains("refused the credentials of user \"ci\""),
        "{message}"
    );
}

#[test]
fn hardening_10_expired_tokens_are_fetched_again() {
    let registry = start_registry();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    push(work, &host, "ml/iris");
    let ci = docker_config(work, "ci", &host, "ci", "s3cret");
    let sbom = || {
        ok(
            &registry,
            &[
                "sbom",
                &format!("registry:{host}/ml/iris:1"),
                "--no-cache",
                "--plain-http",
                "--docker-config",
                ci.to_str().unwrap(),
            ],
        )
    };
    // A token that lives five minutes serves the whole pull (manifest, config, layers).
    registry.issuer.take_log();
    sbom();
    assert_eq!(
        scopes(&registry.issuer.take_log()),
        ["ci repository:ml/iris:pull"]
    );
    // One the issuer says has expired on arrival is never reused, though this registry would
    // still take it (distribution allows 60 s of clock skew): a new one for every request.
    registry.issuer.set_expires_in(0);
    sbom();
    let log = registry.issuer.take_log();
    assert!(log.len() >= 3, "{log:?}");
    assert!(log
        .iter()
        .all(|r| r.status == 200 && r.scopes == ["repository:ml/iris:pull"]));
}
