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
