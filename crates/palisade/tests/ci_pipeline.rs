//! examples/ci/model-pipeline.yml cannot rot: its `palisade` steps run here, in the file's order,
//! as GitHub Actions would run them (bash -eo pipefail, the workflow's and the step's env,
//! `$GITHUB_ENV` carried between steps), against a real registry (../shared/tools/local-registry.sh)
//! holding the image the tests build, the vulnerability database pushed as the platform team
//! would, and a key generated here with `palisade key generate`. The steps that need what a
//! runner has and a test does not (checkout, the Debian + PyPI image build, the GHCR push, the
//! SARIF upload, the cluster deploy) are replaced by their equivalent: the image is pushed here
//! and `DIGEST` set as the push step sets it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod images;
mod registry_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use images::Compression;
use registry_support::{skopeo_copy, Registry};
use serde_json::Value;

use common::{palisade, root};

fn pipeline() -> Value {
    let path = root().join("examples/ci/model-pipeline.yml");
    let text = std::fs::read_to_string(path).unwrap();
    palisade_core::yaml::documents(&text)
        .next()
        .unwrap()
        .unwrap()
        .root
        .unwrap()
        .to_json()
}

fn ok(output: &std::process::Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `KEY=VALUE` lines, as steps append them to `$GITHUB_ENV`.
fn read_github_env(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn the_example_model_pipeline_runs_against_a_real_registry() {
    let workflow = pipeline();
    let registry = Registry::start();
    let host = registry.host();
    let work = tempfile::tempdir().unwrap();
    let build = work.path().join("build");
    let temp = work.path().join("runner-temp");
    std::fs::create_dir_all(build.join("model")).unwrap();
    std::fs::create_dir_all(&temp).unwrap();

    // The model files the build step leaves in $BUILD/model: a plain (benign) pickle,
    // pickle.dumps({'iris': 3}, protocol=4).
    std::fs::write(
        build.join("model/model.pkl"),
        b"\x80\x04\x95\r\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x04iris\x94K\x03s.",
    )
    .unwrap();

    // What the build and push steps do: the image, pushed, its digest kept. The image is the
    // real one of examples/iris-model-server/build-image.sh when PALISADE_IRIS_IMAGE_DIR names
    // its output (.ci/run builds it), else the small image the tests build.
    let iris = std::env::var_os("PALISADE_IRIS_IMAGE_DIR").map(std::path::PathBuf::from);
    let source = match &iris {
        Some(dir) => {
            for entry in std::fs::read_dir(dir.join("model")).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), build.join("model").join(entry.file_name())).unwrap();
            }
            format!("oci:{}:latest", dir.join("oci").display())
        }
        None => {
            let built = images::build(&[Compression::Gzip]);
            images::write_oci_dir(&work.path().join("oci"), &built);
            format!("oci:{}:app", work.path().join("oci").display())
        }
    };
    let image = format!("{host}/ml/iris-server");
    let digest_file = work.path().join("pushed.digest");
    skopeo_copy(
        &source,
        &format!("docker://{image}:1"),
        &["--digestfile", digest_file.to_str().unwrap()],
    );
    let digest = std::fs::read_to_string(&digest_file)
        .unwrap()
        .trim()
        .to_owned();
    let github_env = work.path().join("github-env");
    std::fs::write(&github_env, format!("DIGEST={digest}\n")).unwrap();

    // What the platform team does: the vulnerability database, pushed to the registry.
    let db = work.path().join("db");
    let import = palisade()
        .args(["db", "import"])
        .arg(root().join("../shared/vulndata/pypa-advisories/vulns"))
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    ok(&import, "db import");
    let db_ref = format!("{host}/security/palisade-db:latest");
    let push = palisade()
        .args(["db", "push", &db_ref, "--plain-http", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    ok(&push, "db push");

    // The team's key, as the pipeline's settings hold it.
    let prefix = work.path().join("cosign");
    let key = palisade()
        .args(["key", "generate", "--out"])
        .arg(&prefix)
        .env("PALISADE_PASSWORD", "pipeline-password")
        .output()
        .unwrap();
    ok(&key, "key generate");
    let expressions: BTreeMap<&str, String> = [
        (
            "${{ secrets.COSIGN_PRIVATE_KEY }}",
            std::fs::read_to_string(prefix.with_extension("key")).unwrap(),
        ),
        (
            "${{ secrets.COSIGN_PASSWORD }}",
            "pipeline-password".to_owned(),
        ),
        (
            "${{ vars.COSIGN_PUBLIC_KEY }}",
            std::fs::read_to_string(prefix.with_extension("pub")).unwrap(),
        ),
    ]
    .into_iter()
    .collect();

    // The workflow's env, with what points at GitHub pointed here. A new variable must be
    // given a value here, or the test fails.
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in workflow["env"].as_object().unwrap() {
        let value = match name.as_str() {
            "IMAGE" => image.clone(),
            "VULN_DB_REF" => db_ref.clone(),
            "BUILD" => build.display().to_string(),
            "MANIFESTS" | "AUDIT_CONFIG" => value.as_str().unwrap().to_owned(),
            other => panic!("model-pipeline.yml: env {other} has no value in this test"),
        };
        env.insert(name.clone(), value);
    }

    let bin = Path::new(env!("CARGO_BIN_EXE_palisade")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut ran = Vec::new();
    let mut others = Vec::new();
    let jobs = workflow["jobs"].as_object().unwrap();
    assert_eq!(jobs.len(), 1);
    let steps = jobs.values().next().unwrap()["steps"].as_array().unwrap();
    for step in steps {
        let name = step["name"].as_str().unwrap_or_default().to_owned();
        let Some(script) = step["run"].as_str() else {
            others.push(name);
            continue;
        };
        let runs_palisade = script
            .lines()
            .any(|l| l.trim_start().starts_with("palisade "));
        if !runs_palisade {
            others.push(name);
            continue;
        }
        assert!(
            !script.contains("${{"),
            "step {name:?}: expressions in run scripts are not run here; use env"
        );
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
            .current_dir(root());
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("PALISADE_") {
                command.env_remove(var);
            }
        }
        command
            .envs(&env)
            .envs(read_github_env(&github_env))
            .env("PATH", &path)
            .env("GITHUB_ENV", &github_env)
            .env("RUNNER_TEMP", &temp)
            .env("PALISADE_PLAIN_HTTP", "true")
            .env("NO_COLOR", "1");
        if let Some(step_env) = step["env"].as_object() {
            for (var, value) in step_env {
                let value = value.as_str().unwrap();
                let value = expressions
                    .get(value.trim())
                    .unwrap_or_else(|| panic!("step {name:?}: env {var}: {value} unknown here"));
                command.env(var, value);
            }
        }
        let output = command.output().unwrap();
        ok(&output, &format!("step {name:?}"));
        ran.push(name);
    }

    assert_eq!(
        ran,
        [
            "Vulnerability database",
            "Scan the image (fail on critical)",
            "Scan the model files (fail on code-executing payloads)",
            "SBOM",
            "Sign the image and attest its scan",
            "Audit the manifests (Pod Security restricted and the platform's rules)",
            "Network policies allow exactly the intent",
            "Verify what is about to be deployed",
        ]
    );
    assert_eq!(
        others.last().map(String::as_str),
        Some("Deploy, pinned by digest")
    );

    // What the steps left behind: the SBOM lists the image's packages, both SARIF files are
    // SARIF 2.1.0, and the audit's upload step names the file the audit wrote.
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(build.join("sbom.spdx.json")).unwrap()).unwrap();
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    assert!(sbom["packages"].as_array().unwrap().len() > 5, "{sbom:#}");
    for sarif in ["image.sarif", "audit.sarif"] {
        let report: Value =
            serde_json::from_slice(&std::fs::read(build.join(sarif)).unwrap()).unwrap();
        assert_eq!(report["version"], "2.1.0", "{sarif}");
    }
    let upload = steps
        .iter()
        .find(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("github/codeql-action/upload-sarif"))
        })
        .expect("the audit is uploaded to code scanning");
    assert_eq!(upload["with"]["sarif_file"], "build/iris/audit.sarif");
    assert_eq!(workflow["env"]["BUILD"], "build/iris");

    // The real image runs as the UID the manifests run as (which pass restricted, above).
    if let Some(dir) = iris {
        let index: Value =
            serde_json::from_slice(&std::fs::read(dir.join("oci/index.json")).unwrap()).unwrap();
        let blob = |digest: &str| {
            std::fs::read(
                dir.join("oci/blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
            .unwrap()
        };
        let manifest: Value =
            serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap()))
                .unwrap();
        let config: Value =
            serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
        let text = std::fs::read_to_string(root().join(&env["MANIFESTS"]).join("deployment.yaml"))
            .unwrap();
        let deployment = palisade_core::yaml::documents(&text)
            .next()
            .unwrap()
            .unwrap()
            .root
            .unwrap()
            .to_json();
        let pod = &deployment["spec"]["template"]["spec"]["securityContext"];
        assert_eq!(
            config["config"]["User"],
            format!("{}:{}", pod["runAsUser"], pod["runAsGroup"]),
            "the image's USER and the manifests' runAsUser"
        );
    }
}
