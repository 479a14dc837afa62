//! The configuration's levels, versions, severities and durations are parsed once, when the file
//! is loaded: an invalid value stops the load with the file, the key and its line, and a valid one
//! reaches the engines already typed (nothing downstream parses it again or falls back).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::time::Duration;

use palisade_core::node::Node;
use palisade_diagnostics::Severity;
use palisade_policy::admission::{parse_object, Admission, Request};
use palisade_policy::config::{NamespaceLabels, RequireScan, RuleMode};
use palisade_policy::image_verification::ScanPolicy;
use palisade_policy::{Config, NamespacePolicy};
use palisade_pss::{Level, LevelVersion, Version};
use serde_json::json;

/// A P-256 public key (SPKI PEM), as `cosign.pub`.
const KEY: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2uMP4GXpcwFZwJPHjxHB1IWYOLXM\nlncmJ357oCw6MLL6YcXPo+p52vijdXiX7idb7e55L4AvIEDpx3AEGiSuOA==\n-----END PUBLIC KEY-----\n";

const TRUST: &str =
    "imageVerification:\n  trust:\n    - images: [registry.example.com/ml]\n      keys: [ci.pub]\n";

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("ci.pub"), KEY).unwrap();
    let path = dir.join("palisade.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn config_typed_values_are_parsed_once_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &format!(
            "podSecurity:\n  level: baseline\n  version: v1.29\n  namespaces:\n    ml-iris: {{enforce: restricted, enforce-version: v1.33}}\nrules:\n  requireScan: {{mode: warn, maxSeverity: medium, maxAge: 90m}}\n{TRUST}  cacheTtl: 2h\n  timeout: 30s\n"
        ),
    );
    let config = Config::load(&path).unwrap();

    // Typed in the validated configuration.
    assert_eq!(config.pod_security.level, Some(Level::Baseline));
    assert_eq!(config.pod_security.version, Some(Version::Minor(29)));
    assert_eq!(
        config.default_level_version(),
        LevelVersion::new(Level::Baseline, Version::Minor(29))
    );
    assert_eq!(
        config.pod_security.namespaces["ml-iris"],
        NamespaceLabels {
            enforce: Some(Level::Restricted),
            enforce_version: Some(Version::Minor(33)),
            ..NamespaceLabels::default()
        }
    );
    assert_eq!(
        config.rules.require_scan,
        Some(RequireScan {
            mode: RuleMode::Warn,
            max_severity: Severity::Medium,
            max_age: Duration::from_secs(5400),
        })
    );
    assert_eq!(
        config.image_verification.cache_ttl,
        Duration::from_secs(7200)
    );
    assert_eq!(config.image_verification.timeout, Duration::from_secs(30));

    // The namespace entry's typed levels resolve as the same labels on a Namespace would.
    let policy = NamespacePolicy::from_config(
        &config.pod_security.namespaces["ml-iris"],
        config.default_level_version(),
    );
    let labels = [
        ("pod-security.kubernetes.io/enforce", "restricted"),
        ("pod-security.kubernetes.io/enforce-version", "v1.33"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    assert_eq!(
        policy,
        NamespacePolicy::from_labels(&labels, config.default_level_version())
    );
    assert_eq!(policy.warn.to_string(), "restricted:v1.33");

    // The webhook's scan requirement: 90m arrives as 5400 s, medium as the typed severity.
    let defaults = config.default_level_version();
    let admission = Admission::new(config, defaults);
    let object = parse_object(
        Node::from_json(&json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "registry.example.com/ml/iris:1"}]}
        })),
        "ml-iris",
        "p",
    );
    let request = Request {
        operation: "CREATE",
        group: "",
        kind: "Pod",
        resource: "pods",
        resource_group: "",
        sub_resource: "",
        name: "p",
        namespace: "ml-iris",
        username: "",
        object: Some(&object),
        groups: &[],
        old_object: None,
    };
    let checks = admission.image_checks(&request);
    assert_eq!(checks.len(), 1);
    assert_eq!(
        checks[0].scan,
        Some(ScanPolicy {
            max_severity: Severity::Medium,
            max_age: Duration::from_secs(5400),
        })
    );
}

#[test]
fn config_typed_values_are_rejected_at_load_with_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, u32, &str); 9] = [
        (
            "podSecurity:\n  level: strict\n",
            2,
            "podSecurity.level: invalid level \"strict\"",
        ),
        (
            "podSecurity:\n  version: \"1.29\"\n",
            2,
            "podSecurity.version: invalid version \"1.29\"",
        ),
        (
            "podSecurity:\n  namespaces:\n    a:\n      warn-version: v2.0\n",
            4,
            "podSecurity.namespaces[a].warn-version: invalid version \"v2.0\"",
        ),
        (
            "rules:\n  requireScan:\n    maxSeverity: moderate\n",
            3,
            "rules.requireScan.maxSeverity: \"moderate\" is not one of unknown, low, medium, high, critical",
        ),
        (
            "rules:\n  requireScan:\n    maxSeverity: HIGH\n",
            3,
            "rules.requireScan.maxSeverity: \"HIGH\" is not one of",
        ),
        (
            "rules:\n  requireScan:\n    maxAge: \"90\"\n",
            3,
            "rules.requireScan.maxAge: \"90\" is not a duration",
        ),
        (
            "imageVerification:\n  cacheTtl: 5 minutes\n",
            2,
            "imageVerification.cacheTtl: \"5 minutes\" is not a duration",
        ),
        (
            "imageVerification:\n  timeout: 0s\n",
            2,
            "imageVerification.timeout: must be more than 0s",
        ),
        (
            "podSecurity:\n  workloads: block\n",
            2,
            "podSecurity.workloads: unknown variant `block`",
        ),
    ];
    for (text, line, message) in cases {
        let path = write_config(dir.path(), text);
        let err = Config::load(&path).unwrap_err();
        assert_eq!(&*err.file, path.display().to_string(), "{text}");
        assert_eq!(err.line, Some(line), "{text}: {err}");
        assert!(err.message.starts_with(message), "{text}: {err}");
    }
}

/// What the file leaves out takes the documented defaults, typed as if the file had written them.
#[test]
fn config_typed_values_defaults_are_the_documented_ones() {
    let dir = tempfile::tempdir().unwrap();
    let written = Config::load(&write_config(
        dir.path(),
        &format!(
            "rules:\n  requireScan: {{maxSeverity: high, maxAge: 7d}}\n{TRUST}  cacheTtl: 5m\n  timeout: 4s\n"
        ),
    ))
    .unwrap();
    let defaulted = Config::load(&write_config(
        dir.path(),
        &format!("rules:\n  requireScan: {{}}\n{TRUST}"),
    ))
    .unwrap();
    assert_eq!(written, defaulted);
    assert_eq!(
        Config::parse("palisade.yaml".into(), "imageVerification: {}\n").unwrap(),
        Config::default()
    );
}
