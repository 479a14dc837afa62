//! Helpers for tests that run the real `palisade` binary.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The workspace root, so tests can use the repository's relative paths (as a user would).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

pub fn palisade() -> Command {
    let mut cmd = Command::cargo_bin("palisade").expect("binary");
    cmd.current_dir(root());
    // The environment must not leak settings into tests: every PALISADE_* fallback, and colour.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("PALISADE_") {
            cmd.env_remove(var);
        }
    }
    cmd.env_remove("NO_COLOR");
    cmd
}

/// Runs `palisade audit --format json ARGS`, returning the exit code and the parsed report.
pub fn audit_json(args: &[&str]) -> (i32, serde_json::Value) {
    let output = palisade()
        .arg("audit")
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("runs");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}):\n{stdout}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().expect("exit code"), report)
}

/// Writes `files` (name, content) into a fresh temporary directory.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    dir
}

pub fn path_str(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

pub fn checks(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["check"].as_str().expect("check").to_owned())
        .collect()
}

/// Replaces the values that differ from run to run (temporary directories, registry ports, build
/// times, serial numbers) with placeholders, so that a snapshot pins everything else byte for
/// byte. Only exact values are replaced: nothing else in the text is loosened.
#[derive(Default)]
pub struct Redact {
    rules: Vec<(String, String)>,
}

impl Redact {
    pub fn new() -> Redact {
        Redact::default()
    }

    /// Every occurrence of `value` becomes `placeholder`.
    pub fn value(mut self, value: impl Into<String>, placeholder: &str) -> Redact {
        let value = value.into();
        assert!(
            !value.is_empty(),
            "an empty value to redact as {placeholder}"
        );
        self.rules.push((value, placeholder.to_owned()));
        self
    }

    /// A directory, by the path as given and as canonicalised.
    pub fn dir(self, path: &Path, placeholder: &str) -> Redact {
        let canonical = path.canonicalize().expect("canonical path");
        let redact = self.value(path.display().to_string(), placeholder);
        if canonical != path {
            redact.value(canonical.display().to_string(), placeholder)
        } else {
            redact
        }
    }

    /// The text with every value replaced, the longest first (a path before its prefix).
    pub fn apply(&self, text: &str) -> String {
        let mut rules: Vec<&(String, String)> = self.rules.iter().collect();
        rules.sort_by_key(|(value, _)| std::cmp::Reverse(value.len()));
        let mut text = text.to_owned();
        for (value, placeholder) in rules {
            text = text.replace(value.as_str(), placeholder);
        }
        text
    }
}

/// What a snapshot of a command pins: its exit code and its standard output, redacted. insta
/// ignores trailing newlines and folds CRLF when it compares, so the number of trailing newlines
/// is recorded and a carriage return is shown as `␍`: the snapshot still pins every byte.
pub fn pinned(output: &std::process::Output, redact: &Redact) -> String {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap_or_else(|e| {
        panic!("standard output is not UTF-8: {e}");
    });
    let body = redact.apply(&stdout).replace('\r', "␍");
    let newlines = body.len() - body.trim_end_matches('\n').len();
    format!(
        "exit code: {}\ntrailing newlines: {newlines}\n---\n{body}",
        output
            .status
            .code()
            .map_or_else(|| "none (killed)".to_owned(), |c| c.to_string()),
    )
}
