//! A deterministic mutation fuzzer over the whole input path (decode, YAML, objects, workloads,
//! evaluation), seeded with upstream's fixtures and the bundled examples. Every mutant must give
//! findings or errors that name the file; none may panic. `cargo fuzz` (fuzz/) explores further.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade_core::source::decode;
use palisade_policy::{Auditor, Config};
use palisade_pss::{Level, LevelVersion, Version};

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "<<: ",
    "<<: *a\n",
    "---\n",
    "...\n",
    "!!str ",
    "!!int ",
    "\t",
    "\"",
    "'",
    "|\n",
    ">-\n",
    "null",
    "~",
    "0x",
    "0777",
    "99999999999999999999",
    "-1",
    ".inf",
    "yes",
    "no",
    "\n",
    "\n  ",
    "#",
    "%YAML 1.2\n",
    "? ",
    "\u{feff}",
    "\u{0}",
    "kind: List\nitems:\n",
    "apiVersion: apps/v1\nkind: Deployment\n",
    "securityContext:\n  privileged: true\n",
    "hostNetwork: true\n",
    "volumes:\n- name: v\n",
    "containers: []\n",
    "metadata: []\n",
    "spec: 1\n",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let end = (at + rng.below(32)).min(data.len());
                data.drain(at.min(end)..end);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, token.bytes());
            }
            3 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + rng.below(64)).min(data.len());
                let chunk = data[start..end].to_vec();
                data.splice(at..at, chunk);
            }
            4 => data.truncate(at),
            _ => {
                let i = rng.below(data.len().max(1));
                if i < data.len() {
                    data[i] = rng.next() as u8;
                }
            }
        }
    }
    data
}

fn seeds() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![
        root.join("examples/iris-model-server/manifests/deployment.yaml"),
        root.join("examples/iris-model-server-insecure/deployment.yaml"),
        root.join("examples/iris-model-server/manifests/namespace.yaml"),
    ];
    let corpus = root.join("../shared/conformance/pod-security/restricted/v1.37");
    for dir in ["pass", "fail"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus.join(dir))
            .unwrap_or_else(|e| {
                panic!(
                    "the pod-security corpus is required at {}: {e}",
                    corpus.display()
                )
            })
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    files
        .iter()
        .map(|p: &PathBuf| std::fs::read(Path::new(p)).unwrap())
        .collect()
}

#[test]
fn mutants_never_panic_and_errors_name_the_file() {
    let seeds = seeds();
    let file: Arc<str> = Arc::from("mutant.yaml");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut with_findings, mut with_errors) = (0, 0);
    for iteration in 0..20_000 {
        let seed = &seeds[rng.below(seeds.len())];
        let data = mutate(&mut rng, seed);
        let text = match decode(&file, data) {
            Ok(text) => text,
            Err(e) => {
                assert_eq!(&*e.file, "mutant.yaml");
                continue;
            }
        };
        let mut auditor = Auditor::new(
            &Config::default(),
            LevelVersion::new(Level::Restricted, Version::Latest),
        );
        auditor.learn_namespaces_from(&file, &text);
        let audit = auditor.audit_stream(&file, &text);
        for error in &audit.errors {
            assert_eq!(&*error.file, "mutant.yaml", "iteration {iteration}");
            assert!(
                error.line.is_none_or(|l| l >= 1),
                "iteration {iteration}: {error}"
            );
            assert!(!error.message.is_empty(), "iteration {iteration}");
        }
        if !audit.errors.is_empty() {
            with_errors += 1;
        }
        if audit.reports.iter().any(|r| !r.findings.is_empty()) {
            with_findings += 1;
        }
    }
    // The mutants must exercise both sides, or the fuzzer is not reaching the engine.
    assert!(
        with_findings > 1000 && with_errors > 1000,
        "findings in {with_findings}, errors in {with_errors}"
    );
}

/// The admission path: mutated JSON objects through parse, validate and mutate, as the webhook
/// runs them. Every answer must be a decision (allow, deny with a status, or a patch); none may panic.
#[test]
fn admission_mutants_never_panic() {
    use palisade_core::Node;
    use palisade_policy::admission::{parse_object, Admission, Request};

    let seeds: Vec<Vec<u8>> = seeds()
        .iter()
        .filter_map(|seed| {
            let text = String::from_utf8(seed.clone()).ok()?;
            let root = palisade_core::yaml::documents(&text).next()?.ok()?.root?;
            serde_json::to_vec(&root.to_json()).ok()
        })
        .collect();
    let admission = Admission::new(
        Config::default(),
        LevelVersion::new(Level::Restricted, Version::Latest),
    );
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut decided = 0;
    // Most byte mutations break JSON; enough survive to reach the engine thousands of times.
    for _ in 0..40_000 {
        let seed = &seeds[rng.below(seeds.len())];
        let data = mutate(&mut rng, seed);
        let Ok(node) = serde_json::from_slice::<Node>(&data) else {
            continue;
        };
        let object = parse_object(node, "ml", "mutant");
        for (kind, group, resource) in [("Pod", "", "pods"), ("Deployment", "apps", "deployments")]
        {
            let request = Request {
                operation: "CREATE",
                group,
                kind,
                resource,
                resource_group: group,
                sub_resource: "",
                name: "mutant",
                namespace: "ml",
                username: "fuzz",
                object: Some(&object),
                groups: &[],
                old_object: None,
            };
            let decision = admission.validate(&request, None);
            if let Some(denial) = &decision.denial {
                assert!(matches!(denial.code, 400 | 403) && !denial.message.is_empty());
            }
            let _ = admission.mutate(&request);
            decided += 1;
        }
    }
    assert!(decided > 5_000, "only {decided} mutants parsed as JSON");
}
