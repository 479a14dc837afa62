//! Embeds the git commit for `palisade --version`: `PALISADE_GIT_COMMIT` when set (release
//! builds from a tarball, reproducible image builds), else `git rev-parse --short HEAD`, else
//! "unknown" (not a git checkout, or git is not installed).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PALISADE_GIT_COMMIT");
    let commit = std::env::var("PALISADE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(git_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PALISADE_GIT_COMMIT={}", commit.trim());
}

fn git_commit() -> Option<String> {
    let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let output = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(&dir)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    // Rebuild when HEAD moves (a commit or a checkout), so the version never names a stale commit.
    if let Ok(git_dir) = Command::new("git")
        .args(["rev-parse", "--absolute-git-dir"])
        .current_dir(&dir)
        .output()
    {
        let git_dir = String::from_utf8_lossy(&git_dir.stdout).trim().to_owned();
        if !git_dir.is_empty() {
            println!("cargo:rerun-if-changed={git_dir}/HEAD");
            let head = std::fs::read_to_string(format!("{git_dir}/HEAD")).unwrap_or_default();
            if let Some(reference) = head.trim().strip_prefix("ref: ") {
                println!("cargo:rerun-if-changed={git_dir}/{reference}");
            }
            println!("cargo:rerun-if-changed={git_dir}/packed-refs");
        }
    }
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
