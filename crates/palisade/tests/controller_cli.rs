//! `palisade controller` as the real binary, against the in-process stand-in of the API server
//! (palisade-controller's tests/support): it takes the lease, applies the example Teams' objects,
//! reports Ready, serves /readyz and /metrics, and exits 0 on SIGTERM; a bad configuration exits 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../palisade-controller/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{palisade, root};
use support::{yaml_documents, ApiServer};

fn wait(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_controller_applies_the_teams_and_stops_on_sigterm() {
    let server = ApiServer::start();
    for entry in std::fs::read_dir(root().join("examples/teams/teams")).unwrap() {
        for team in yaml_documents(&std::fs::read_to_string(entry.unwrap().path()).unwrap()) {
            server.put(team);
        }
    }
    let mut child = std::process::Command::new(palisade().get_program())
        .current_dir(root())
        .args([
            "controller",
            "--config",
            "examples/teams/palisade.yaml",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .args([
            "--identity",
            "cli",
            "--lease-duration-seconds",
            "2",
            "--resync-seconds",
            "1",
        ])
        .args(["--kube-api-url", &server.url()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("palisade controller metrics on ")
        .expect(&line)
        .to_owned();
    wait("every Team Ready", || {
        ["fraud", "recsys", "research", "shared-cache"]
            .iter()
            .all(|t| {
                server.get("Team", "", t).is_some_and(|team| {
                    team["status"]["conditions"][0]["type"] == "Ready"
                        && team["status"]["conditions"][0]["status"] == "True"
                })
            })
    });
    let np = server
        .get("NetworkPolicy", "fraud", "default-deny")
        .expect("applied");
    assert_eq!(np["metadata"]["managedFields"][0]["manager"], "palisade");
    let lease = server
        .get("Lease", "palisade", "palisade-controller")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "cli");
    let get = |path: &str| {
        let response = reqwest::blocking::get(format!("http://{addr}{path}")).unwrap();
        (response.status().as_u16(), response.text().unwrap())
    };
    wait("ready", || get("/readyz").0 == 200);
    assert_eq!(get("/healthz").0, 200);
    assert!(get("/metrics")
        .1
        .contains("palisade_controller_reconciles_total{result=\"ok\"}"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_configuration_that_cannot_be_read_exits_2() {
    let output = palisade()
        .args([
            "controller",
            "--config",
            "does-not-exist.yaml",
            "--identity",
            "x",
            "--kube-api-url",
            "http://127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: invalid configuration"),
        "{stderr}"
    );
}
