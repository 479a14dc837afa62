//! `palisade explain`: why a model server was rejected or does not start, and the fix. The
//! reasoning is `palisade_explain::explain`; this reads the evidence (files, the image) and
//! writes the report and the fixed manifest.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use palisade_explain::{explain, Evidence, Explanation, ImageSummary, Options, Text};
use palisade_image::{OpenOptions, Target};

use super::shared::{exit_code, load_config, pretty, write_output};
use crate::cli::{ExplainArgs, ExplainFormat};
use crate::EXIT_ERROR;

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let mut defaults = config.default_level_version();
    defaults.level = args.level.unwrap_or(defaults.level);
    defaults.version = args.policy_version.unwrap_or(defaults.version);
    let evidence = Evidence {
        manifest: read_text(&args.manifest)?,
        events: args.events.as_deref().map(read_text).transpose()?,
        logs: args.logs.as_deref().map(read_text).transpose()?,
        image: args.image.as_deref().map(read_image).transpose()?,
    };
    let explanation = match explain(
        &evidence,
        &Options {
            config: &config,
            defaults,
            policy_given: args.level.is_some() || args.policy_version.is_some(),
        },
    ) {
        Ok(explanation) => explanation,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_ERROR));
        }
    };
    let report = report(&explanation, args.format)?;
    if args.fix {
        if explanation.reemitted {
            tracing::warn!(
                "cannot keep the manifest's formatting: writing it re-emitted, without comments"
            );
        }
        write_output(args.output.as_deref(), &explanation.fixed)?;
        eprint!("{report}");
        Ok(exit_code(explanation.needs_person()))
    } else {
        write_output(args.output.as_deref(), &report)?;
        Ok(exit_code(!explanation.diagnoses.is_empty()))
    }
}

/// The diagnoses as a table, or as JSON with each object's JSON Patch.
fn report(explanation: &Explanation, format: ExplainFormat) -> anyhow::Result<String> {
    Ok(match format {
        ExplainFormat::Table => palisade_diagnostics::report::table(&explanation.diagnoses),
        ExplainFormat::Json => {
            let mut value = palisade_diagnostics::report::json(&explanation.diagnoses);
            value["patches"] = serde_json::to_value(&explanation.patches)?;
            value["needsPerson"] = explanation.needs_person().into();
            pretty(&value)?
        }
    })
}

/// A file as text, or standard input for `-`.
fn read_text(path: &Path) -> anyhow::Result<Text> {
    let (name, text) = if path == Path::new("-") {
        let text = std::io::read_to_string(std::io::stdin()).context("reading standard input")?;
        ("-".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        (path.display().to_string(), text)
    };
    Ok(Text {
        name: Arc::from(name),
        text,
    })
}

/// The image's configuration and its `/etc/passwd` and `/etc/group`, from any source
/// `scan image` reads.
fn read_image(reference: &str) -> anyhow::Result<ImageSummary> {
    let target = Target::parse(reference)?;
    let image = palisade_image::open(&target, &OpenOptions::default())
        .with_context(|| format!("cannot open image {reference}"))?;
    let keep = |path: &str| matches!(path, "etc/passwd" | "etc/group");
    let read = image
        .read(&keep, None, 2, &|_| {})
        .with_context(|| format!("cannot read image {reference}"))?;
    let file = |path: &str| {
        read.fs
            .read(path)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    };
    let run = image.config.config.clone().unwrap_or_default();
    Ok(ImageSummary {
        reference: reference.to_owned(),
        user: run.user,
        workdir: run.working_dir,
        exposed_ports: run.exposed_ports,
        passwd: file("etc/passwd"),
        group: file("etc/group"),
    })
}
