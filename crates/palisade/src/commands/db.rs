//! `palisade db`: import OSV records, show the database, move it through an OCI registry.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;

use palisade_core::image_ref::ImageRef;
use palisade_oci::Repository;
use palisade_vuln::db::{self, Database};

use crate::cli::{DbCommand, DbImportArgs, DbInfoArgs, DbTransferArgs};
use crate::commands::scan::{db_dir, now};

/// The artifact type of a database pushed to a registry, and its one layer's media type.
pub const ARTIFACT_TYPE: &str = "application/vnd.palisade.vulnerability-db.v1";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.palisade.vulnerability-db.layer.v1";
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The largest database accepted from a registry.
const MAX_DB_BYTES: u64 = 2 * 1024 * 1024 * 1024;

pub fn run(command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Import(args) => import(args),
        DbCommand::Info(args) => info(args),
        DbCommand::Push(args) => push(args),
        DbCommand::Pull(args) => pull(args),
    }
}

fn import(args: DbImportArgs) -> anyhow::Result<ExitCode> {
    let dir = db_dir(&args.db)?;
    let records = db::read_records(&args.paths)?;
    let sources = args.paths.iter().map(|p| p.display().to_string()).collect();
    let database = Database::from_records(records, sources, now().1);
    let path = database.save(&dir)?;
    let meta = database.metadata.as_ref().context("metadata")?;
    eprintln!(
        "imported {} advisories into {}",
        meta.advisories,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn info(args: DbInfoArgs) -> anyhow::Result<ExitCode> {
    let path = db_dir(&args.db)?.join(db::FILE_NAME);
    let meta = Database::read_metadata(&path)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&meta)?);
        return Ok(ExitCode::SUCCESS);
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("database       {}", path.display());
    println!("schema version {}", meta.schema_version);
    println!("built          {}", meta.built);
    println!("size           {size} bytes");
    println!("advisories     {}", meta.advisories);
    if let Some(newest) = &meta.newest_record {
        println!("newest record  {newest}");
    }
    for (ecosystem, n) in &meta.ecosystems {
        println!("  {ecosystem:<20} {n}");
    }
    println!("sources        {}", meta.sources.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn repository(args: &DbTransferArgs) -> anyhow::Result<(Repository, String)> {
    let reference =
        ImageRef::parse(&args.reference).map_err(|e| anyhow::anyhow!("{}: {e}", args.reference))?;
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    Ok((
        Repository::new(&reference, args.plain_http, args.docker_config.as_ref())?,
        wanted,
    ))
}

fn push(args: DbTransferArgs) -> anyhow::Result<ExitCode> {
    let path = db_dir(&args.db)?.join(db::FILE_NAME);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let meta = Database::validate_bytes(&path, &bytes)?;
    let (repo, tag) = repository(&args)?;
    let layer = repo.push_blob(&bytes)?;
    let config = repo.push_blob(b"{}")?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": palisade_oci::manifest::OCI_MANIFEST,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": config, "size": 2, "data": "e30="},
        "layers": [{
            "mediaType": LAYER_MEDIA_TYPE,
            "digest": layer,
            "size": bytes.len(),
            "annotations": {"org.opencontainers.image.title": db::FILE_NAME},
        }],
        "annotations": {
            "org.opencontainers.image.created": meta.built,
            "dev.palisade.db.schema-version": meta.schema_version.to_string(),
            "dev.palisade.db.advisories": meta.advisories.to_string(),
        },
    });
    let manifest = serde_json::to_vec(&manifest)?;
    let digest = repo.push_manifest(&tag, palisade_oci::manifest::OCI_MANIFEST, &manifest)?;
    eprintln!(
        "pushed {} advisories to {} ({digest})",
        meta.advisories, args.reference
    );
    Ok(ExitCode::SUCCESS)
}

fn pull(args: DbTransferArgs) -> anyhow::Result<ExitCode> {
    let (repo, wanted) = repository(&args)?;
    let (bytes, _, digest) = repo.manifest(&wanted)?;
    let manifest: palisade_oci::ManifestOrIndex =
        palisade_oci::parse_json(repo.location(), &format!("manifest {wanted}"), &bytes)?;
    if manifest.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        anyhow::bail!(
            "{}: {digest} is not a palisade database (artifactType {:?}, expected {ARTIFACT_TYPE})",
            args.reference,
            manifest.artifact_type
        );
    }
    let layer = manifest
        .layers
        .as_deref()
        .and_then(|l| l.iter().find(|d| d.media_type == LAYER_MEDIA_TYPE))
        .with_context(|| {
            format!(
                "{}: the artifact has no {LAYER_MEDIA_TYPE} layer",
                args.reference
            )
        })?;
    if layer.size > MAX_DB_BYTES {
        anyhow::bail!(
            "{}: the database layer is {} bytes, over the limit",
            args.reference,
            layer.size
        );
    }
    let mut data = Vec::with_capacity(layer.size as usize);
    repo.blob(&layer.digest)?
        .take(MAX_DB_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("downloading {}", layer.digest))?;
    palisade_oci::verify_digest(repo.location(), &layer.digest, &data)?;
    let dir = db_dir(&args.db)?;
    let path = dir.join(db::FILE_NAME);
    // Checked before it replaces anything: a database this build cannot read is refused.
    let meta = Database::validate_bytes(&path, &data)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut file = tempfile::NamedTempFile::new_in(&dir)?;
    std::io::Write::write_all(&mut file, &data)?;
    file.as_file().sync_all()?;
    file.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Database::load(&path)?;
    eprintln!(
        "pulled {} advisories (built {}) into {}",
        meta.advisories,
        meta.built,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
