//! `palisade scan image` and `palisade sbom`: open the image, read its layers, take the inventory,
//! match it against the database, write the report. The work lives in palisade-image,
//! palisade-vuln and palisade-scan; this is only I/O.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use palisade_image::inventory::{self, Inventory};
use palisade_image::{LayerCache, OpenOptions, Progress, Target};
use palisade_scan::ignore::IgnoreFile;
use palisade_scan::models::ModelInspector;
use palisade_scan::{report, ScanOptions};
use palisade_vuln::db::Database;
use palisade_vuln::severity::Severity;

use crate::cli::{DbLocation, ImageArgs, SbomArgs, SbomFormat, ScanFormat, ScanImageArgs};
use crate::EXIT_FINDINGS;

/// Bumped when what is kept from a layer changes (`inventory::wanted`), so cached layers read with
/// an older selection are never used.
const LAYER_CACHE_KEY: &str = "inv2";

/// An image's inventory, and the names a report needs.
pub struct Inspected {
    pub name: String,
    pub digest: Option<String>,
    pub inventory: Inventory,
    /// Model-scanner findings for model files in the image.
    pub models: Vec<palisade_scan::models::ModelFinding>,
}

pub fn inspect(args: &ImageArgs) -> anyhow::Result<Inspected> {
    inspect_with(args, &inventory::wanted, LAYER_CACHE_KEY)
}

/// Reads the image, keeping and inspecting files as `select` says; `cache_key` must change
/// whenever what `select` does changes.
pub fn inspect_with(
    args: &ImageArgs,
    select: &(dyn palisade_image::layers::Select + Sync),
    cache_key: &str,
) -> anyhow::Result<Inspected> {
    let target = Target::parse(&args.target)?;
    let options = OpenOptions {
        platform: args
            .platform
            .parse()
            .map_err(|e: String| anyhow::anyhow!("--platform: {e}"))?,
        plain_http: args.plain_http,
        docker_config: args.docker_config.clone(),
    };
    let image = palisade_image::open(&target, &options)?;
    let cache = if args.no_cache {
        None
    } else {
        args.cache_dir
            .clone()
            .or_else(LayerCache::default_dir)
            .map(|dir| LayerCache::new(dir, cache_key))
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let bar = (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading layers {bar:30} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |event: Progress| {
        if let Some(bar) = &bar {
            match event {
                Progress::Start { bytes, .. } => bar.set_length(bytes),
                Progress::LayerDone { bytes, cached } => {
                    bar.inc(bytes);
                    if cached {
                        bar.set_message("(cached)");
                    }
                }
            }
        }
    };
    let read = image.read(select, cache.as_ref(), threads, &progress)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    tracing::info!(
        layers = image.layers.len(),
        cached = read.cached_layers,
        "layers read"
    );
    Ok(Inspected {
        name: image.name.clone(),
        digest: image.manifest_digest.clone(),
        inventory: inventory::scan(&read.fs),
        models: read
            .fs
            .inspections()
            .flat_map(|(_, bytes)| ModelInspector::decode(bytes))
            .collect(),
    })
}

pub fn db_dir(location: &DbLocation) -> anyhow::Result<PathBuf> {
    location
        .db
        .clone()
        .or_else(palisade_vuln::db::default_dir)
        .context("no database location: set --db or PALISADE_DB (HOME is not set)")
}

pub fn load_db(location: &DbLocation) -> anyhow::Result<Database> {
    let path = db_dir(location)?.join(palisade_vuln::db::FILE_NAME);
    if !path.exists() {
        anyhow::bail!(
            "no vulnerability database at {}; build one with `palisade db import PATH...` or `palisade db pull REF`",
            path.display()
        );
    }
    Ok(Database::load(&path)?)
}

/// Today (UTC) as (year, month, day) and an RFC 3339 timestamp.
pub fn now() -> ((u32, u32, u32), String) {
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (
        (
            now.year().max(0) as u32,
            u8::from(now.month()) as u32,
            now.day() as u32,
        ),
        stamp,
    )
}

fn write_output(output: &Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// What a scan of an image looks at and leaves out. `scan image` and `attest --scan` both scan
/// through [`run_scan`] with it, so an attestation records exactly what `scan image` reports.
pub struct ScanSettings<'a> {
    /// `models.imagePaths` and `models.allowedGlobals` come from this configuration file.
    pub config: Option<&'a Path>,
    pub ignore_file: Option<&'a Path>,
    pub ignore_unfixed: bool,
    /// Whether model files in the image are scanned (the report records it when they are).
    pub model_scan: bool,
}

/// A finished scan: the report, the inventory it was made from, and when it was made.
pub struct Scanned {
    pub report: palisade_scan::ScanReport,
    pub inspected: Inspected,
    pub stamp: String,
}

/// Scans an image: its packages against the database and, unless left out, its model files.
pub fn run_scan(
    image: &ImageArgs,
    db: &DbLocation,
    settings: &ScanSettings<'_>,
) -> anyhow::Result<Scanned> {
    // Everything that can be wrong with the configuration is found before the image is read.
    let (today, stamp) = now();
    let ignore_rules = match settings.ignore_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let name: Arc<str> = path.display().to_string().into();
            IgnoreFile::parse(&name, &text)
                .map_err(|e| anyhow::anyhow!("invalid ignore file {e}"))?
                .ignore
        }
        None => Vec::new(),
    };
    let config = match settings.config {
        Some(path) => palisade_policy::Config::load(path)
            .map_err(|e| anyhow::anyhow!("invalid configuration {e}"))?,
        None => palisade_policy::Config::default(),
    };
    let database = load_db(db)?;
    let models = &config.models;
    let inspected = if settings.model_scan {
        let inspector = ModelInspector::new(
            &models.image_paths,
            palisade_model::scan::ScanOptions {
                policy: palisade_model::policy::Policy {
                    extra_allowed: models.allowed_globals.clone(),
                },
                ..Default::default()
            },
        );
        // The cached inspections depend on where models are looked for and what is allowed.
        let key = format!(
            "{LAYER_CACHE_KEY}-m{}-{:016x}",
            env!("CARGO_PKG_VERSION"),
            fingerprint(&[&models.image_paths, &models.allowed_globals])
        );
        inspect_with(image, &inspector, &key)?
    } else {
        inspect(image)?
    };
    let options = ScanOptions {
        ignore_unfixed: settings.ignore_unfixed,
        ignore_rules,
        today,
    };
    let mut report = palisade_scan::scan(
        &inspected.name,
        inspected.digest.as_deref(),
        &inspected.inventory,
        &database,
        &options,
    );
    if settings.model_scan {
        report.models = inspected.models.clone();
        report.model_scan = Some(palisade_scan::ModelScanCoverage {
            image_paths: models.image_paths.clone(),
            allowed_globals: models.allowed_globals.clone(),
        });
    }
    Ok(Scanned {
        report,
        inspected,
        stamp,
    })
}

pub fn scan_image(args: ScanImageArgs) -> anyhow::Result<ExitCode> {
    let fail_on: Option<Severity> = args.fail_on.0;
    let Scanned {
        report: result,
        inspected,
        stamp,
    } = run_scan(
        &args.image,
        &args.db,
        &ScanSettings {
            config: args.config.as_deref(),
            ignore_file: args.ignore_file.as_deref(),
            ignore_unfixed: args.ignore_unfixed,
            model_scan: !args.no_model_scan,
        },
    )?;
    let text = match args.format {
        ScanFormat::Table => report::table(&result),
        ScanFormat::Json => pretty(&report::json(&result))?,
        ScanFormat::Sarif => pretty(&report::sarif(&result, env!("CARGO_PKG_VERSION")))?,
        ScanFormat::Cyclonedx => pretty(&palisade_scan::sbom::cyclonedx(
            &subject(&inspected, stamp),
            &inspected.inventory,
            &report::cyclonedx_entries(&result),
        ))?,
    };
    write_output(&args.output, &text)?;
    for stale in &result.stale_ignores {
        tracing::warn!(id = %stale.id, line = stale.line, "ignore rule: {}", stale.problem);
    }
    let failed = match (fail_on, result.worst()) {
        (Some(threshold), Some(worst)) => worst >= threshold,
        _ => false,
    };
    Ok(if failed {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

fn pretty(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

fn subject(inspected: &Inspected, created: String) -> palisade_scan::sbom::Subject {
    palisade_scan::sbom::Subject {
        name: inspected.name.clone(),
        digest: inspected.digest.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created,
    }
}

pub fn sbom(args: SbomArgs) -> anyhow::Result<ExitCode> {
    let inspected = inspect(&args.image)?;
    let (_, stamp) = now();
    let subject = subject(&inspected, stamp);
    let document = match args.format {
        SbomFormat::Cyclonedx => {
            palisade_scan::sbom::cyclonedx(&subject, &inspected.inventory, &[])
        }
        SbomFormat::Spdx => palisade_scan::sbom::spdx(&subject, &inspected.inventory),
    };
    write_output(&args.output, &pretty(&document)?)?;
    for error in &inspected.inventory.errors {
        tracing::warn!("unreadable package record: {error}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A stable hash of configuration lists (FNV-1a), for cache keys.
fn fingerprint(lists: &[&Vec<String>]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for list in lists {
        for item in list.iter() {
            for byte in item.bytes().chain([0u8]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
