//! A real registry for tests: the CNCF distribution registry (Debian's docker-registry), started
//! on 127.0.0.1 by ../shared/tools/local-registry.sh or with a password, and skopeo to push.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use crate::common::root;

/// A registry on 127.0.0.1, stopped when dropped.
pub struct Registry {
    pid: i32,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = Command::new("bash")
            .arg(root().join("../shared/tools/local-registry.sh"))
            .arg(port.to_string())
            .arg(dir.path())
            .output()
            .expect("local-registry.sh runs");
        assert!(
            output.status.success(),
            "registry: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let pid = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a PID");
        Registry { pid, port, dir }
    }

    /// `host:port`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps a blob's bytes (the filesystem driver's layout), for tests that
    /// tamper with what it serves.
    pub fn blob_path(&self, digest: &str) -> std::path::PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn stop(&self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn skopeo_push(oci: &Path, destination: &str) {
    skopeo_copy(
        &format!("oci:{}:app", oci.display()),
        &format!("docker://{destination}"),
        &[],
    );
}

/// `skopeo copy` from `source` to `destination` (transport-prefixed), over plain HTTP on both
/// sides, with `extra` options such as `--dest-creds USER:PASSWORD`.
pub fn skopeo_copy(source: &str, destination: &str, extra: &[&str]) {
    let output = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .arg(source)
        .arg(destination)
        .output()
        .expect("skopeo runs (apt install skopeo)");
    assert!(
        output.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A registry that wants a password (htpasswd, answered with a Basic challenge), started here
/// with its own configuration.
pub fn start_registry_with_password(
    dir: &Path,
    user: &str,
    password: &str,
) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hash = bcrypt::hash(password, 5).unwrap();
    std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "version: 0.1\nstorage:\n  filesystem: {{rootdirectory: {data}}}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: palisade-test\n    path: {htpasswd}\nlog: {{level: warn}}\n",
            data = dir.join("data").display(),
            htpasswd = dir.join("htpasswd").display()
        ),
    )
    .unwrap();
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry (apt install docker-registry)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the registry did not start");
}
