//! The local vulnerability database: OSV records imported into one compact file, indexed by
//! ecosystem and package name.
//!
//! The file is a header (magic, schema version, metadata as JSON, so `db info` reads a few bytes)
//! followed by the advisories, postcard-encoded and zstd-compressed. It is written beside its final
//! path and renamed into place, so a reader sees the old database or the new one, never a mix.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::matcher::affected_version;
use crate::osv::{Affected, Record};
use crate::severity::{rate, Severity};
use crate::version::Ecosystem;

/// Bumped whenever the stored layout changes; an older or newer file is refused with a clear error.
pub const SCHEMA_VERSION: u32 = 1;
const MAGIC: &[u8; 12] = b"PALISADE-DB\n";
/// The file name inside the database directory.
pub const FILE_NAME: &str = "palisade.db";
/// The most bytes one OSV record may have (real ones are a few KiB; the largest about 1 MiB).
pub const MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;
/// The most members read from one zip export (OSV's largest ecosystem has ~100k records).
pub const MAX_ZIP_ENTRIES: usize = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Record(#[from] palisade_core::InputError),
}

fn invalid(path: &Path, message: impl Into<String>) -> DbError {
    DbError::Invalid {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What `db info` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub schema_version: u32,
    /// When the database was built (RFC 3339, UTC).
    pub built: String,
    pub advisories: usize,
    /// Advisories per ecosystem (`PyPI`, `Debian:12`, ...).
    pub ecosystems: BTreeMap<String, usize>,
    /// The newest `modified` time among the records: how current the data is.
    #[serde(default)]
    pub newest_record: Option<String>,
    /// Where the records came from, as given to `db import`.
    pub sources: Vec<String>,
}

/// One advisory as stored: what matching and reporting need, nothing more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Severity,
    pub score: Option<f64>,
    pub vector: Option<String>,
    pub modified: Option<String>,
    pub published: Option<String>,
    /// The first advisory or web reference, for the report.
    pub url: Option<String>,
    pub affected: Vec<Affected>,
}

impl Advisory {
    pub fn from_record(record: &Record) -> Advisory {
        let rating = rate(&record.severity, record.declared_severity());
        let url = record
            .references
            .iter()
            .find(|r| r.kind.as_deref() == Some("ADVISORY"))
            .or_else(|| {
                record
                    .references
                    .iter()
                    .find(|r| r.kind.as_deref() == Some("WEB"))
            })
            .or_else(|| record.references.first())
            .map(|r| r.url.clone());
        Advisory {
            id: record.id.clone(),
            aliases: record.aliases.clone(),
            summary: record
                .summary
                .clone()
                .or_else(|| record.details.as_ref().map(|d| first_sentence(d))),
            severity: rating.severity,
            score: rating.score,
            vector: rating.vector,
            modified: record.modified.clone(),
            published: record.published.clone(),
            url,
            affected: record.affected.clone(),
        }
    }
}

fn first_sentence(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim();
    let mut sentence: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        sentence.push('…');
    }
    sentence
}

/// A package version that an advisory affects.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub advisory: &'a Advisory,
    /// The lowest fixed version above the installed one, where the advisory names one.
    pub fixed: Option<String>,
}

/// The database in memory.
#[derive(Debug, Default)]
pub struct Database {
    pub metadata: Option<Metadata>,
    advisories: Vec<Advisory>,
    /// (ecosystem as OSV names it, normalised package name) -> (advisory, affected entry).
    index: HashMap<(String, String), Vec<(usize, usize)>>,
}

impl Database {
    /// Builds a database from records; withdrawn records are left out.
    pub fn from_records(
        records: impl IntoIterator<Item = Record>,
        sources: Vec<String>,
        built: String,
    ) -> Database {
        let mut advisories: Vec<Advisory> = records
            .into_iter()
            .filter(|r| r.withdrawn.is_none())
            .map(|r| Advisory::from_record(&r))
            .collect();
        advisories.sort_by(|a, b| a.id.cmp(&b.id));
        // The same record imported twice (a directory and a zip of it) is kept once.
        advisories.dedup_by(|a, b| a.id == b.id);
        let mut ecosystems: BTreeMap<String, usize> = BTreeMap::new();
        for advisory in &advisories {
            let mut seen: Vec<&str> = advisory
                .affected
                .iter()
                .filter_map(|a| a.package.as_ref().map(|p| p.ecosystem.as_str()))
                .collect();
            seen.sort_unstable();
            seen.dedup();
            for ecosystem in seen {
                *ecosystems.entry(ecosystem.to_owned()).or_default() += 1;
            }
        }
        let newest_record = advisories.iter().filter_map(|a| a.modified.clone()).max();
        let metadata = Metadata {
            schema_version: SCHEMA_VERSION,
            built,
            advisories: advisories.len(),
            ecosystems,
            newest_record,
            sources,
        };
        Self::with(advisories, Some(metadata))
    }

    fn with(advisories: Vec<Advisory>, metadata: Option<Metadata>) -> Database {
        let mut index: HashMap<(String, String), Vec<(usize, usize)>> = HashMap::new();
        for (i, advisory) in advisories.iter().enumerate() {
            for (j, affected) in advisory.affected.iter().enumerate() {
                if let Some(package) = &affected.package {
                    let ecosystem = Ecosystem::from_osv(&package.ecosystem);
                    index
                        .entry((
                            package.ecosystem.clone(),
                            ecosystem.normalize_name(&package.name),
                        ))
                        .or_default()
                        .push((i, j));
                }
            }
        }
        Database {
            metadata,
            advisories,
            index,
        }
    }

    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// The advisories that affect `version` of `name` in `ecosystem` (`PyPI`, `Debian:12`, ...).
    pub fn lookup(&self, ecosystem: &str, name: &str, version: &str) -> Vec<Hit<'_>> {
        let order = Ecosystem::from_osv(ecosystem);
        let key = (ecosystem.to_owned(), order.normalize_name(name));
        let mut hits: Vec<Hit<'_>> = Vec::new();
        for &(i, j) in self.index.get(&key).map(Vec::as_slice).unwrap_or_default() {
            let advisory = &self.advisories[i];
            if hits.iter().any(|h| std::ptr::eq(h.advisory, advisory)) {
                continue;
            }
            if let Some(fixed) = affected_version(&advisory.affected[j], order, version) {
                hits.push(Hit { advisory, fixed });
            }
        }
        hits
    }

    /// Writes the database to `dir/palisade.db`, replacing any database there atomically.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, DbError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(FILE_NAME);
        let metadata = self
            .metadata
            .as_ref()
            .ok_or_else(|| invalid(&path, "a database without metadata cannot be saved"))?;
        let meta = serde_json::to_vec(metadata).map_err(|e| invalid(&path, e.to_string()))?;
        let body =
            postcard::to_stdvec(&self.advisories).map_err(|e| invalid(&path, e.to_string()))?;
        let body = zstd::encode_all(&body[..], 9).map_err(io(&path))?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
        let mut header = Vec::with_capacity(20 + meta.len());
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&SCHEMA_VERSION.to_le_bytes());
        header.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        header.extend_from_slice(&meta);
        file.write_all(&header).map_err(io(&path))?;
        file.write_all(&body).map_err(io(&path))?;
        file.as_file().sync_all().map_err(io(&path))?;
        file.persist(&path).map_err(|e| DbError::Io {
            path: path.display().to_string(),
            source: e.error,
        })?;
        Ok(path)
    }

    /// Reads only the header of a database file.
    pub fn read_metadata(path: &Path) -> Result<Metadata, DbError> {
        let mut file = std::fs::File::open(path).map_err(io(path))?;
        read_header(path, &mut file)
    }

    /// Loads a database file.
    pub fn load(path: &Path) -> Result<Database, DbError> {
        let mut file = std::fs::File::open(path).map_err(io(path))?;
        let metadata = read_header(path, &mut file)?;
        let mut body = Vec::new();
        zstd::stream::read::Decoder::new(file)
            .map_err(io(path))?
            .read_to_end(&mut body)
            .map_err(|e| invalid(path, format!("damaged database body: {e}")))?;
        let advisories: Vec<Advisory> = postcard::from_bytes(&body)
            .map_err(|e| invalid(path, format!("damaged database body: {e}")))?;
        if advisories.len() != metadata.advisories {
            return Err(invalid(
                path,
                format!(
                    "the header promises {} advisories, the body holds {}",
                    metadata.advisories,
                    advisories.len()
                ),
            ));
        }
        Ok(Self::with(advisories, Some(metadata)))
    }

    /// Checks that bytes are a database this build can read (before they replace the local one).
    pub fn validate_bytes(path: &Path, bytes: &[u8]) -> Result<Metadata, DbError> {
        let mut reader = bytes;
        read_header(path, &mut reader)
    }
}

fn read_header(path: &Path, reader: &mut impl Read) -> Result<Metadata, DbError> {
    let mut fixed = [0u8; 20];
    reader
        .read_exact(&mut fixed)
        .map_err(|_| invalid(path, "not a palisade database (too short)"))?;
    if &fixed[..12] != MAGIC {
        return Err(invalid(path, "not a palisade database (bad magic)"));
    }
    let version = u32::from_le_bytes([fixed[12], fixed[13], fixed[14], fixed[15]]);
    if version != SCHEMA_VERSION {
        return Err(invalid(
            path,
            format!("database schema version {version}, this palisade reads version {SCHEMA_VERSION}; run `palisade db import` or `palisade db pull` again"),
        ));
    }
    let len = u32::from_le_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]) as usize;
    if len > 16 * 1024 * 1024 {
        return Err(invalid(path, "damaged header"));
    }
    let mut meta = vec![0u8; len];
    reader
        .read_exact(&mut meta)
        .map_err(|_| invalid(path, "truncated header"))?;
    serde_json::from_slice(&meta).map_err(|e| invalid(path, format!("damaged header: {e}")))
}

/// The default database directory: `$XDG_CACHE_HOME/palisade/db`, or `~/.cache/palisade/db`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .map(|base| base.join("palisade").join("db"))
}

/// Reads OSV records from files (`.json`, `.yaml`, `.yml`), directories (recursively) and OSV's
/// per-ecosystem `all.zip` exports. Any unreadable record fails the import, naming it: a
/// database silently missing advisories would be worse than none.
pub fn read_records(paths: &[PathBuf]) -> Result<Vec<Record>, DbError> {
    let mut records = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(io(path))?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = Vec::new();
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.map_err(|e| invalid(path, e.to_string()))?;
                let p = entry.path();
                if entry.file_type().is_file() && (is_record_file(p) || has_extension(p, "zip")) {
                    files.push(p.to_owned());
                }
            }
            for file in files {
                read_file(&file, &mut records)?;
            }
        } else {
            read_file(path, &mut records)?;
        }
    }
    Ok(records)
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn is_record_file(path: &Path) -> bool {
    ["json", "yaml", "yml"]
        .iter()
        .any(|e| has_extension(path, e))
}

fn read_file(path: &Path, records: &mut Vec<Record>) -> Result<(), DbError> {
    if has_extension(path, "zip") {
        return read_zip(path, records);
    }
    if !is_record_file(path) {
        return Err(invalid(
            path,
            "not an OSV record (.json, .yaml, .yml) or an OSV zip export",
        ));
    }
    let size = std::fs::metadata(path).map_err(io(path))?.len();
    if size > MAX_RECORD_BYTES {
        return Err(invalid(
            path,
            format!("{size} bytes, over the {MAX_RECORD_BYTES}-byte limit for one record"),
        ));
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let name: Arc<str> = path.display().to_string().into();
    let text = std::str::from_utf8(&bytes).map_err(|e| invalid(path, format!("not UTF-8: {e}")))?;
    records.push(Record::parse(&name, text)?);
    Ok(())
}

fn read_zip(path: &Path, records: &mut Vec<Record>) -> Result<(), DbError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| invalid(path, format!("not a readable zip archive: {e}")))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(invalid(
            path,
            format!(
                "{} entries, over the limit of {MAX_ZIP_ENTRIES}",
                archive.len()
            ),
        ));
    }
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| invalid(path, format!("entry {i}: {e}")))?;
        let member = entry.name().to_owned();
        if entry.is_dir() || !is_record_file(Path::new(&member)) {
            continue;
        }
        let location = format!("{}!{member}", path.display());
        if entry.size() > MAX_RECORD_BYTES {
            return Err(DbError::Invalid {
                path: location,
                message: format!("{} bytes, over the limit for one record", entry.size()),
            });
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        // The declared size is not trusted: reading stops at the limit whatever the header says.
        (&mut entry)
            .take(MAX_RECORD_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| DbError::Invalid {
                path: location.clone(),
                message: format!("damaged entry: {e}"),
            })?;
        if bytes.len() as u64 > MAX_RECORD_BYTES {
            return Err(DbError::Invalid {
                path: location,
                message: "over the size limit for one record".into(),
            });
        }
        let text = std::str::from_utf8(&bytes).map_err(|e| DbError::Invalid {
            path: location.clone(),
            message: format!("not UTF-8: {e}"),
        })?;
        let name: Arc<str> = location.into();
        records.push(Record::parse(&name, text)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = r#"{"id": "DSA-0000-1", "aliases": ["CVE-2099-0001"], "modified": "2024-01-02T00:00:00Z",
      "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
      "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]}"#;
    const PYPI: &str = "id: PYSEC-0000-1\naffected:\n- package: {ecosystem: PyPI, name: Flask}\n  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: '0'}, {fixed: 2.2.5}]\n";

    fn parse(name: &str, text: &str) -> Record {
        Record::parse(&Arc::from(name), text).unwrap()
    }

    #[test]
    fn saves_loads_and_looks_up_by_ecosystem_and_name() {
        let db = Database::from_records(
            [parse("a.json", DEBIAN), parse("b.yaml", PYPI)],
            vec!["test".into()],
            "now".into(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = db.save(dir.path()).unwrap();
        let loaded = Database::load(&path).unwrap();
        assert_eq!(loaded.advisories(), db.advisories());
        let meta = Database::read_metadata(&path).unwrap();
        assert_eq!(meta.advisories, 2);
        assert_eq!(meta.ecosystems.get("Debian:12"), Some(&1));
        assert_eq!(meta.newest_record.as_deref(), Some("2024-01-02T00:00:00Z"));
        // Debian order: ~ sorts before the release.
        let hits = loaded.lookup("Debian:12", "openssl", "3.0.11-1~deb12u1");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].fixed.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(hits[0].advisory.severity, Severity::Critical);
        assert!(loaded
            .lookup("Debian:12", "openssl", "3.0.11-1~deb12u2")
            .is_empty());
        assert!(
            loaded.lookup("Debian:11", "openssl", "1.0").is_empty(),
            "another release"
        );
        // PEP 503 names.
        assert_eq!(loaded.lookup("PyPI", "flask", "2.2.2").len(), 1);
    }

    #[test]
    fn refuses_other_schema_versions_and_damage() {
        let db = Database::from_records([parse("b.yaml", PYPI)], vec![], "now".into());
        let dir = tempfile::tempdir().unwrap();
        let path = db.save(dir.path()).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] = 99;
        let err = Database::validate_bytes(&path, &bytes)
            .unwrap_err()
            .to_string();
        assert!(err.contains("schema version 99"), "{err}");
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() - 10]).unwrap();
        let err = Database::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("palisade.db") && err.contains("damaged"),
            "{err}"
        );
        std::fs::write(&path, b"hello").unwrap();
        assert!(Database::load(&path)
            .unwrap_err()
            .to_string()
            .contains("not a palisade database"));
    }

    #[test]
    fn imports_osv_zip_exports_and_names_bad_members() {
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("all.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("DSA-0000-1.json", options).unwrap();
        zip.write_all(DEBIAN.as_bytes()).unwrap();
        zip.start_file("PYSEC-0000-1.yaml", options).unwrap();
        zip.write_all(PYPI.as_bytes()).unwrap();
        zip.finish().unwrap();
        let records = read_records(std::slice::from_ref(&zip_path)).unwrap();
        assert_eq!(records.len(), 2);

        let bad = dir.path().join("bad.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&bad).unwrap());
        zip.start_file("GHSA-bad.json", options).unwrap();
        zip.write_all(br#"{"id": "GHSA-bad", "affected": [{"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]}]}"#).unwrap();
        zip.finish().unwrap();
        let err = read_records(&[bad]).unwrap_err().to_string();
        assert!(
            err.contains("bad.zip!GHSA-bad.json") && err.contains("exactly one"),
            "{err}"
        );

        let junk = dir.path().join("junk.zip");
        std::fs::write(&junk, b"PK\x03\x04 not really").unwrap();
        let err = read_records(&[junk]).unwrap_err().to_string();
        assert!(err.contains("junk.zip") && err.contains("zip"), "{err}");
    }
}
