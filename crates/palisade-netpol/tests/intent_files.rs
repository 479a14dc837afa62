//! The bundled intents and the documentation's example are valid; invalid files are reported
//! with their file, line and key.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::sync::Arc;

use palisade_netpol::intent::{Endpoint, Intent};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

#[test]
fn bundled_intents_load() {
    let serving = Intent::load(&repo("examples/netpol/intent.yaml")).unwrap();
    assert_eq!(serving.services.len(), 3);
    let platform = Intent::load(&repo("examples/netpol/platform-intent.yaml")).unwrap();
    let teams: std::collections::BTreeSet<&str> = platform
        .namespaces
        .values()
        .map(|n| n.team.as_str())
        .collect();
    assert_eq!(teams.len(), 4, "three teams and the platform: {teams:?}");
    // The cross-team call is the only edge between two teams' namespaces.
    let cross: Vec<_> = platform
        .edges()
        .into_iter()
        .filter(|e| {
            let team = |ep: &Endpoint| match ep {
                Endpoint::Workload(n) => platform
                    .services
                    .get(n)
                    .map(|s| platform.namespaces[&s.namespace].clone()),
                _ => None,
            };
            matches!((team(&e.from), team(&e.to)), (Some(a), Some(b)) if a.team != b.team && !a.shared && !b.shared)
        })
        .collect();
    assert_eq!(cross.len(), 1, "{cross:?}");
    assert_eq!(cross[0].from, Endpoint::Workload("recommender".into()));
}

#[test]
fn the_documented_example_is_valid() {
    let doc = std::fs::read_to_string(repo("docs/netpol-intent.md")).unwrap();
    let start = doc.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let intent = Intent::parse(Arc::from("docs/netpol-intent.md"), &doc[start..end]).unwrap();
    assert!(intent.peers.contains_key("otel-collector"));
    assert!(intent.services["iris-classifier"].has_l7());
}

#[test]
fn errors_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("intent.yaml");
    let text = std::fs::read_to_string(repo("examples/netpol/intent.yaml"))
        .unwrap()
        .replace("    reaches: [iris-classifier]\n", "");
    std::fs::write(&path, &text).unwrap();
    let err = Intent::load(&path).unwrap_err();
    let line = text
        .lines()
        .position(|l| l.contains("- from: [model-gateway]"))
        .unwrap()
        + 1;
    assert_eq!(err.line, Some(line as u32), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:{line}: services.iris-classifier.accepts[0].from[0]: iris-classifier accepts model-gateway, but services.model-gateway.reaches does not name iris-classifier: a connection is declared on both sides",
            path.display()
        )
    );
    let missing = Intent::load(&dir.path().join("absent.yaml")).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("absent.yaml: cannot read intent"),
        "{missing}"
    );
}
