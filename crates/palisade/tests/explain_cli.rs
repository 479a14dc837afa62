//! `palisade explain` end to end: the real binary on the bundled insecure example with a real
//! image whose USER is a name, every diagnosis from its evidence, and upstream's Pod Security
//! fixtures that fail `restricted` only through securityContext fields, fixed by `--fix`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;
mod images;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{palisade, pinned, root, Redact};
use images::{Compression, Item};
use palisade_policy::{Auditor, Config};
use palisade_pss::{Level, LevelVersion, Version};
use rstest::rstest;

const INSECURE: &str = "examples/iris-model-server-insecure/deployment.yaml";

/// An OCI layout of a model-server image whose USER is the name `appuser` (UID 10001 in its
/// /etc/passwd), as `pip install` images built `RUN useradd appuser` / `USER appuser` are.
fn named_user_image(dir: &Path) -> String {
    let file = |p: &str, c: &str| Item::File(p.to_owned(), c.as_bytes().to_vec());
    let layers = vec![vec![
        Item::Dir("etc".into()),
        file(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nappuser:x:10001:10001::/home/appuser:/bin/sh\n",
        ),
        file("etc/group", "root:x:0:\nnogroup:x:65534:\nappuser:x:10001:\n"),
        Item::Dir("app".into()),
        file("app/server.py", "print('iris')\n"),
    ]];
    let built = images::build_configured(
        &layers,
        &[Compression::Gzip],
        None,
        serde_json::json!({"User": "appuser", "WorkingDir": "/app", "ExposedPorts": {"8080/tcp": {}}, "Cmd": ["python", "server.py"]}),
    );
    let oci = dir.join("oci");
    images::write_oci_dir(&oci, &built);
    format!("oci-dir:{}", oci.display())
}

/// The Pod Security findings of `text` at `restricted:version`, as `palisade audit` finds them.
fn restricted_checks(text: &str, version: Version) -> Vec<String> {
    let auditor = Auditor::new(
        &Config::default(),
        LevelVersion::new(Level::Restricted, version),
    );
    let file: Arc<str> = Arc::from("fixed.yaml");
    let audit = auditor.audit_stream(&file, text);
    assert!(audit.errors.is_empty(), "{:?}\n{text}", audit.errors);
    audit
        .reports
        .iter()
        .flat_map(|r| &r.findings)
        .map(|f| format!("{}@{}", f.check, f.field))
        .collect()
}

fn explain_fix(args: &[&str]) -> (i32, String, String) {
    let output = palisade()
        .arg("explain")
        .arg("--fix")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn the_insecure_iris_example_runs_as_the_images_named_user_and_passes_restricted() {
    let dir = tempfile::tempdir().unwrap();
    let image = named_user_image(dir.path());
    // First pass: everything that is safe is fixed, with the image's own user's UID; what needs
    // a person (host network, the node's disk, SYS_ADMIN) is left as it is and explained.
    let (code, fixed, explanation) = explain_fix(&["--image", &image, INSECURE]);
    assert_eq!(code, 1, "{explanation}");
    assert!(fixed.contains("runAsUser: 10001\n"), "{fixed}");
    assert!(
        fixed.starts_with("# The same model server"),
        "comments stay:\n{fixed}"
    );
    assert!(
        explanation.contains("the image's user appuser, UID 10001 in its /etc/passwd"),
        "{explanation}"
    );
    assert!(
        explanation
            .contains("image has non-numeric user (appuser), cannot verify user is non-root"),
        "{explanation}"
    );
    let left = restricted_checks(&fixed, Version::Latest);
    let mut checks: Vec<&str> = left.iter().map(|c| c.split('@').next().unwrap()).collect();
    checks.dedup();
    assert_eq!(
        checks,
        [
            "hostNamespaces",
            "allowPrivilegeEscalation",
            "capabilities_restricted",
            "restrictedVolumes"
        ],
        "{left:?}"
    );
    for left_for_a_person in ["hostNetwork", "SYS_ADMIN", "hostPath"] {
        assert!(explanation.contains(left_for_a_person), "{explanation}");
    }
    // The person's three decisions, as the explanation words them: no host network, no
    // SYS_ADMIN, the model from a claim instead of the node's disk. Then explain --fix again.
    let original = std::fs::read_to_string(root().join(INSECURE)).unwrap();
    let decided = original
        .replace("      hostNetwork: true\n", "")
        .replace(
            "            capabilities:\n              add: [\"SYS_ADMIN\"]\n",
            "",
        )
        .replace(
            "          hostPath:\n            path: /var/lib/models\n",
            "          persistentVolumeClaim:\n            claimName: iris-models\n",
        );
    assert_ne!(decided, original);
    let decided_file = dir.path().join("deployment.yaml");
    std::fs::write(&decided_file, &decided).unwrap();
    let (code, fixed, explanation) =
        explain_fix(&["--image", &image, decided_file.to_str().unwrap()]);
    assert_eq!(code, 0, "{explanation}\n{fixed}");
    assert_eq!(
        restricted_checks(&fixed, Version::Latest),
        Vec::<String>::new(),
        "{fixed}"
    );
    assert!(fixed.contains("runAsUser: 10001\n"), "{fixed}");
    // And `palisade audit --level restricted` agrees.
    std::fs::write(&decided_file, &fixed).unwrap();
    let audit = palisade()
        .args([
            "audit",
            "--level",
            "restricted",
            decided_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        audit.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
}

fn evidence_dir() -> tempfile::TempDir {
    common::tree(&[
        (
            "describe.txt",
            "Name:         iris-classifier-7d9c5b\nNamespace:    ml-iris\nEvents:\n  Type     Reason  Age                From     Message\n  ----     ------  ----               ----     -------\n  Warning  Failed  12s (x3 over 30s)  kubelet  Error: container has runAsNonRoot and image has non-numeric user (appuser), cannot verify user is non-root (pod: \"iris-classifier-7d9c5b_ml-iris(1c5e2d)\", container: server)\n",
        ),
        (
            "logs.txt",
            "Traceback (most recent call last):\n  File \"/app/server.py\", line 9, in <module>\n    os.makedirs(\"/app/cache\", exist_ok=True)\nOSError: [Errno 30] Read-only file system: '/app/cache'\n",
        ),
    ])
}

#[test]
fn table_and_json_reports() {
    let dir = tempfile::tempdir().unwrap();
    let image = named_user_image(dir.path());
    let evidence = evidence_dir();
    let redact = Redact::new()
        .dir(evidence.path(), "[EVIDENCE]")
        .value(image.clone(), "[IMAGE]");
    for (format, name) in [("table", "explain_table"), ("json", "explain_json")] {
        let output = palisade()
            .args(["explain", "-f", format, "--image", &image])
            .args(["--events", &common::path_str(&evidence, "describe.txt")])
            .args(["--logs", &common::path_str(&evidence, "logs.txt")])
            .arg(INSECURE)
            .output()
            .unwrap();
        insta::assert_snapshot!(name, pinned(&output, &redact));
    }
}

#[test]
fn bad_input_exits_2() {
    let dir = common::tree(&[(
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n",
    )]);
    let output = palisade()
        .args(["explain", &common::path_str(&dir, "svc.yaml")])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no workload to explain"));
    let output = palisade()
        .args(["explain", "--events", "/nonexistent/events", INSECURE])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

fn corpus() -> PathBuf {
    root().join("../shared/conformance/pod-security")
}

/// The checks `--fix` settles without a person: securityContext fields only.
const SECURITY_CONTEXT_CHECKS: &[&str] = &[
    "allowPrivilegeEscalation",
    "capabilities_restricted",
    "runAsNonRoot",
    "runAsUser",
    "seccompProfile_restricted",
    "seccompProfile_baseline",
];

/// Whether a fixture fails `restricted` only through securityContext fields (privilege
/// escalation, capabilities, runAsNonRoot, runAsUser, seccomp). Added capabilities are a
/// person's decision (the rule), and so are seccomp annotations (metadata, not a
/// securityContext), so fixtures failing through those do not count.
fn fails_only_through_security_context(failures: &[String]) -> bool {
    !failures.is_empty()
        && failures.iter().all(|f| {
            let (check, field) = f.split_once('@').unwrap();
            SECURITY_CONTEXT_CHECKS.contains(&check)
                && field.contains("securityContext")
                && !field.ends_with("capabilities.add")
        })
}

/// Every fixture of a folder kind (`restricted/*/fail`, ...) evaluated at `restricted` at its
/// folder's version; those failing only through securityContext fields go through
/// `palisade explain --fix` and must pass `restricted` afterwards.
#[rstest]
#[case::restricted_fail("restricted", "fail", 517)]
#[case::restricted_pass("restricted", "pass", 0)]
#[case::baseline_fail("baseline", "fail", 57)]
#[case::baseline_pass("baseline", "pass", 414)]
fn upstream_fixtures_failing_only_through_security_context_pass_restricted_after_fix(
    #[case] level_dir: &str,
    #[case] outcome: &str,
    #[case] expected: usize,
) {
    let mut fixed = 0;
    let mut versions: Vec<PathBuf> = std::fs::read_dir(corpus().join(level_dir))
        .unwrap_or_else(|e| {
            panic!(
                "the pod-security corpus is required at {}: {e}",
                corpus().display()
            )
        })
        .map(|e| e.unwrap().path())
        .collect();
    versions.sort();
    for version_dir in versions {
        let version: Version = version_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(version_dir.join(outcome))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            if !fails_only_through_security_context(&restricted_checks(&text, version)) {
                continue;
            }
            let (code, out, explanation) = explain_fix(&[
                "--level",
                "restricted",
                "--version",
                &version.to_string(),
                file.to_str().unwrap(),
            ]);
            let left = restricted_checks(&out, version);
            assert!(
                left.is_empty() && code == 0,
                "{} still fails restricted:{version} after --fix (exit {code}): {left:?}\n{out}\n{explanation}",
                file.display()
            );
            assert!(
                !out.contains('{') || text.contains('{'),
                "{}: flow style appeared:\n{out}",
                file.display()
            );
            fixed += 1;
        }
    }
    println!("{level_dir}/*/{outcome}: {fixed} fixtures fail restricted only through securityContext fields; all pass after --fix");
    assert_eq!(fixed, expected, "{level_dir}/*/{outcome}");
}
