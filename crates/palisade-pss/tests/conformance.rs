//! Upstream Pod Security Admission's own fixtures (`shared/conformance/pod-security`), read
//! through the same path `palisade audit` uses: YAML loader, object model, pod-spec extraction,
//! API server defaults, evaluation. Every `pass` fixture must be allowed at its folder's level and
//! version; every `fail` fixture denied with a message containing upstream's expected substring.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::sync::Arc;

use palisade_core::{pod_templates, yaml, Object, Workload};
use palisade_pss::{evaluate_as_written, Level, LevelVersion, Version};

fn corpus_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PALISADE_CONFORMANCE_DIR") {
        return PathBuf::from(dir).join("pod-security");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/pod-security")
}

struct Fixture {
    level: Level,
    version: Version,
    pass: bool,
    path: String,
    expect: String,
}

fn manifest() -> Vec<Fixture> {
    let dir = corpus_dir();
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap_or_else(|e| {
        panic!(
            "the pod-security corpus is required at {}: {e}",
            dir.display()
        )
    });
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(cols.len() >= 9, "bad manifest row: {line}");
            Fixture {
                level: cols[0].parse().expect("level"),
                version: cols[1].parse().expect("version"),
                pass: match cols[2] {
                    "pass" => true,
                    "fail" => false,
                    other => panic!("bad outcome {other}"),
                },
                path: cols[5].to_owned(),
                expect: cols[8].to_owned(),
            }
        })
        .collect()
}

/// Evaluates a fixture file; returns the PodSecurity message, or `None` when allowed.
fn evaluate_file(fixture: &Fixture) -> Result<Option<String>, String> {
    let file: Arc<str> = Arc::from(fixture.path.as_str());
    let text =
        std::fs::read_to_string(corpus_dir().join(&fixture.path)).map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    for doc in yaml::documents(&text) {
        let doc = doc.map_err(|e| e.to_string())?;
        for object in Object::from_document(&file, doc).map_err(|e| e.to_string())? {
            let Workload::Pods(templates) = pod_templates(&object).map_err(|e| e.to_string())?
            else {
                return Err(format!("{} is not a workload", object.kind));
            };
            for t in templates {
                let eval = evaluate_as_written(
                    LevelVersion::new(fixture.level, fixture.version),
                    &t.metadata,
                    &t.spec,
                );
                if !eval.allowed() {
                    messages.push(eval.message());
                }
            }
        }
    }
    Ok(if messages.is_empty() {
        None
    } else {
        Some(messages.join("; "))
    })
}

#[test]
fn upstream_pod_security_fixtures_all_agree() {
    let fixtures = manifest();
    assert_eq!(
        fixtures.len(),
        4537,
        "the corpus should hold 4,537 fixtures"
    );
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let outcome = evaluate_file(fixture);
        let ok = match (&outcome, fixture.pass) {
            (Ok(None), true) => true,
            (Ok(Some(message)), false) => message.contains(&fixture.expect),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{} (expected {}{}): got {:?}",
                fixture.path,
                if fixture.pass { "pass" } else { "fail" },
                if fixture.pass {
                    String::new()
                } else {
                    format!(" with {:?}", fixture.expect)
                },
                outcome
            ));
        }
    }
    let agreed = fixtures.len() - failures.len();
    println!(
        "pod-security conformance: {agreed} of {} fixtures agree with upstream",
        fixtures.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Whole messages, checked against the format upstream's Go code produces.
#[test]
fn messages_match_upstream_format_exactly() {
    let cases = [
        (
            "restricted/v1.29/fail/allowprivilegeescalation0.yaml",
            Level::Restricted,
            Version::Minor(29),
            "violates PodSecurity \"restricted:v1.29\": allowPrivilegeEscalation != false (container \"container1\" must set securityContext.allowPrivilegeEscalation=false)",
        ),
        (
            "baseline/v1.0/fail/seccompprofile_baseline0.yaml",
            Level::Baseline,
            Version::Minor(0),
            "violates PodSecurity \"baseline:v1.0\": seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")",
        ),
    ];
    for (path, level, version, expected) in cases {
        let fixture = Fixture {
            level,
            version,
            pass: false,
            path: path.to_owned(),
            expect: String::new(),
        };
        let message = evaluate_file(&fixture).expect("readable").expect("denied");
        assert_eq!(message, expected, "{path}");
    }
}

/// Several failures at once: check order (baseline sorted, then restricted sorted), container order
/// (init containers first), and the hostPort that hostNetwork implies, derived by hand from upstream's Go.
#[test]
fn aggregates_in_upstream_order() {
    let spec: palisade_core::pod::PodSpec = serde_json::from_value(serde_json::json!({
        "hostNetwork": true,
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "app", "image": "flask", "ports": [{"containerPort": 8080}],
                        "securityContext": {"privileged": true}}]
    }))
    .expect("valid spec");
    let eval = evaluate_as_written(
        LevelVersion::new(Level::Restricted, Version::Latest),
        &Default::default(),
        &spec,
    );
    assert_eq!(
        eval.message(),
        concat!(
            "violates PodSecurity \"restricted:latest\": host namespaces (hostNetwork=true), ",
            "hostPort (container \"app\" uses hostPort 8080), ",
            "privileged (container \"app\" must not set securityContext.privileged=true), ",
            "allowPrivilegeEscalation != false (containers \"init\", \"app\" must set securityContext.allowPrivilegeEscalation=false), ",
            "unrestricted capabilities (containers \"init\", \"app\" must set securityContext.capabilities.drop=[\"ALL\"]), ",
            "runAsNonRoot != true (pod or containers \"init\", \"app\" must set securityContext.runAsNonRoot=true), ",
            "seccompProfile (pod or containers \"init\", \"app\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        )
    );
    assert_eq!(eval.forbidden_reason(), "host namespaces, hostPort, privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile");
}
