//! `palisade scan image` and `palisade sbom`: typed arguments into a [`Pipeline`], its report to
//! the output. The work lives in palisade-scan's pipeline; this is argument handling and I/O.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use palisade_image::{OpenOptions, Progress, Target};
use palisade_scan::ignore::IgnoreFile;
use palisade_scan::{report, ModelScan, Pipeline, ScanOptions, Scanned};
use palisade_vuln::db::Database;
use palisade_vuln::severity::Severity;

use super::shared::{exit_code, load_config, pretty, write_output};
use crate::cli::{DbLocation, ImageArgs, SbomArgs, SbomFormat, ScanFormat, ScanImageArgs};

/// The pipeline for an image named on the command line, with the given model scan and filter.
fn pipeline(
    args: &ImageArgs,
    models: Option<ModelScan>,
    filter: ScanOptions,
) -> anyhow::Result<Pipeline> {
    Ok(Pipeline {
        target: Target::parse(&args.target)?,
        open: OpenOptions {
            platform: args
                .platform
                .parse()
                .map_err(|e: String| anyhow::anyhow!("--platform: {e}"))?,
            plain_http: args.plain_http,
            docker_config: args.docker_config.clone(),
        },
        cache_dir: if args.no_cache {
            None
        } else {
            args.cache_dir
                .clone()
                .or_else(palisade_image::LayerCache::default_dir)
        },
        threads: args.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }),
        models,
        filter,
    })
}

/// A progress bar on a terminal (none otherwise, or with --no-progress), fed by the pipeline.
struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    fn new(args: &ImageArgs) -> Self {
        Bar(
            (!args.no_progress && std::io::stderr().is_terminal()).then(|| {
                let bar = indicatif::ProgressBar::new(0);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} reading layers {bar:30} {bytes}/{total_bytes} {msg}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            }),
        )
    }

    fn update(&self, event: Progress) {
        if let Some(bar) = &self.0 {
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
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
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

/// Scans an image: its packages against the database and, unless left out, its model files.
pub fn run_scan(
    image: &ImageArgs,
    db: &DbLocation,
    settings: &ScanSettings<'_>,
) -> anyhow::Result<Scanned> {
    // Everything that can be wrong with the configuration is found before the image is read.
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
    let config = load_config(settings.config)?;
    let database = load_db(db)?;
    let models = settings.model_scan.then(|| ModelScan {
        image_paths: config.models.image_paths.clone(),
        allowed_globals: config.models.allowed_globals.clone(),
    });
    let filter = ScanOptions {
        ignore_unfixed: settings.ignore_unfixed,
        ignore_rules,
        today: now().0,
    };
    let pipeline = pipeline(image, models, filter)?;
    let bar = Bar::new(image);
    let scanned = pipeline.run(&database, &|event| bar.update(event))?;
    tracing::info!(
        layers = scanned.inspected.layers,
        cached = scanned.inspected.cached_layers,
        "layers read"
    );
    Ok(scanned)
}

pub fn scan_image(args: ScanImageArgs) -> anyhow::Result<ExitCode> {
    let fail_on: Option<Severity> = args.fail_on.0;
    let stamp = now().1;
    let Scanned {
        report: result,
        inspected,
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
        ScanFormat::Cyclonedx => pretty(&palisade_scan::sbom::cyclonedx_with_models(
            &subject(&inspected, stamp),
            &inspected.inventory,
            &report::cyclonedx_entries(&result),
            &inspected.model_files,
        ))?,
    };
    write_output(args.output.as_deref(), &text)?;
    for stale in &result.stale_ignores {
        tracing::warn!(id = %stale.id, line = stale.line, "ignore rule: {}", stale.problem);
    }
    let failed = match (fail_on, result.worst()) {
        (Some(threshold), Some(worst)) => worst >= threshold,
        _ => false,
    };
    Ok(exit_code(failed))
}

fn subject(inspected: &palisade_scan::Inspected, created: String) -> palisade_scan::sbom::Subject {
    palisade_scan::sbom::Subject {
        name: inspected.name.clone(),
        digest: inspected.digest.clone(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        created,
    }
}

pub fn sbom(args: SbomArgs) -> anyhow::Result<ExitCode> {
    // Model files are looked for as `scan image` looks for them (models.imagePaths), so the
    // SBOM lists them with their digests and verdicts; --no-model-scan leaves them out.
    let models = if args.no_model_scan || args.format != SbomFormat::Cyclonedx {
        None
    } else {
        let config = load_config(args.config.as_deref())?;
        Some(ModelScan {
            image_paths: config.models.image_paths.clone(),
            allowed_globals: config.models.allowed_globals.clone(),
        })
    };
    let pipeline = pipeline(&args.image, models, ScanOptions::default())?;
    let bar = Bar::new(&args.image);
    let inspected = pipeline.inspect(&|event| bar.update(event))?;
    drop(bar);
    let (_, stamp) = now();
    let subject = subject(&inspected, stamp);
    let document = match args.format {
        SbomFormat::Cyclonedx => palisade_scan::sbom::cyclonedx_with_models(
            &subject,
            &inspected.inventory,
            &[],
            &inspected.model_files,
        ),
        SbomFormat::Spdx => palisade_scan::sbom::spdx(&subject, &inspected.inventory),
    };
    write_output(args.output.as_deref(), &pretty(&document)?)?;
    for error in &inspected.inventory.errors {
        tracing::warn!("unreadable package record: {error}");
    }
    Ok(ExitCode::SUCCESS)
}
