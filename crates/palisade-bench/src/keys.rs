//! What opening a private key costs through the real binary: the scrypt work a key file asks for
//! is bounded before any is spent (issue 12, item 8).
//!
//!     target/release/palisade-bench keys --runs 3
//!
//! `palisade sign` opens its key before it contacts the registry (here an address nothing listens
//! on), so the command's time is the key's cost. The floor is a key with cosign's own parameters
//! (N = 2^16, r = 8, p = 1); beside it, the largest key palisade accepts (N·r·p = 2^22, 256 MiB),
//! and hostile parameters that a review measured at over 120 s and 4.2 GB, which must be refused
//! at once. Each key's ciphertext never opens: the derivation runs in full, then decryption
//! fails, which is what is timed.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use base64::Engine as _;

use crate::image::{measured, Sample};
use crate::palisade_bin;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Timed runs per key; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The palisade binary [default: target/release/palisade beside this one].
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<std::path::PathBuf>,
}

/// A cosign private-key document with these scrypt parameters.
fn key_file(n: u64, r: u32, p: u32) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let json = serde_json::json!({
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": engine.encode([7u8; 32])},
        "cipher": {"name": "nacl/secretbox", "nonce": engine.encode([9u8; 24])},
        "ciphertext": engine.encode([1u8; 64]),
    });
    let body = engine.encode(json.to_string());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// One `palisade sign` with `key`, in a child of its own: its time and peak memory.
fn sign(bin: &Path, key: &Path) -> anyhow::Result<Sample> {
    let command: Vec<String> = [
        bin.to_string_lossy().as_ref(),
        "sign",
        "127.0.0.1:9/bench/key:1",
        "--plain-http",
        "--key",
        key.to_string_lossy().as_ref(),
    ]
    .map(str::to_owned)
    .to_vec();
    measured(&command)
}

/// What `palisade sign` says about `key` (it must fail opening it: exit 2).
fn refusal(bin: &Path, key: &Path) -> anyhow::Result<String> {
    let output = Command::new(bin)
        .args(["sign", "127.0.0.1:9/bench/key:1", "--plain-http", "--key"])
        .arg(key)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if output.status.code() != Some(2) {
        bail!(
            "palisade sign was expected to fail opening the key: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bin = palisade_bin(&args.palisade)?;
    let dir = tempfile::tempdir()?;
    let cases = [
        ("cosign's parameters (floor)", 1u64 << 16, 8u32, 1u32),
        ("largest accepted", 1 << 18, 8, 2),
        ("hostile (refused)", 1 << 20, 8, 16),
    ];
    println!(
        "{:<30} {:>12} {:>12} {:>14}",
        "key", "N·r·p", "median", "peak RSS"
    );
    // `palisade sign` fails opening these keys (exit 2) by design; the password comes from the
    // environment the measuring child inherits.
    std::env::set_var("PALISADE_BENCH_ANY_EXIT", "1");
    std::env::set_var("PALISADE_PASSWORD", "bench");
    let mut floor = None;
    for (name, n, r, p) in cases {
        let path = dir.path().join(format!("{n}-{r}-{p}.key"));
        std::fs::write(&path, key_file(n, r, p))?;
        let error = refusal(&bin, &path)?;
        if name.starts_with("hostile") != error.contains("scrypt") {
            bail!("{name}: unexpected refusal: {error}");
        }
        let mut samples = (0..args.runs.max(1))
            .map(|_| sign(&bin, &path))
            .collect::<anyhow::Result<Vec<Sample>>>()?;
        samples.sort_by_key(|s| s.time);
        let sample = samples.swap_remove(samples.len() / 2);
        let ratio = match floor {
            None => {
                floor = Some(sample.time);
                String::new()
            }
            Some(f) => format!(
                "  ({:.2}x the floor)",
                sample.time.as_secs_f64() / f.as_secs_f64()
            ),
        };
        println!(
            "{name:<30} {:>12} {:>10.1}ms {:>10.0} MiB{ratio}",
            u128::from(n) * u128::from(r) * u128::from(p),
            sample.time.as_secs_f64() * 1000.0,
            sample.rss_mib
        );
    }
    Ok(())
}
