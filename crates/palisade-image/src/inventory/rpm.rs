//! RPM's database (Fedora, RHEL, Rocky, Alma, openSUSE, Amazon Linux, Azure Linux).
//!
//! Only the SQLite rpmdb is read (rpm 4.16 and later: Fedora 33+, RHEL/Rocky/Alma 9): a table
//! `Packages (hnum, blob)` whose blobs are RPM headers. The older Berkeley DB `Packages` and the
//! NDB `Packages.db` (SUSE) are recognised and reported as unsupported, so an image using them
//! never passes as one without packages.
//!
//! A header, as rpmdb stores it (without the 8-byte magic a package file has), is big-endian:
//! `il` (u32, index entries), `dl` (u32, data bytes), `il` entries of 16 bytes (tag, type, offset
//! into the data, count), then the `dl` bytes of data. Everything in it is bounds-checked: an image
//! is untrusted input, and a bad header costs its own package, never the rest of the database.
//!
//! Errors about one header carry its row (`hnum`) in [`ParseError::line`]; errors about the whole
//! database carry line 0.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Kind, Package, ParseError};

/// Where the SQLite rpmdb lives, the newer location first: from Fedora 36 `var/lib/rpm` is a
/// symlink to `usr/lib/sysimage/rpm`, and a database a lower layer left at the old place is stale.
pub const SQLITE_PATHS: [&str; 2] = [
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
    "var/lib/rpm/rpmdb.sqlite",
];

/// rpmdb formats that are recognised but not read yet, with the name to report them by. Their
/// contents are not kept (a Berkeley DB `Packages` can be larger than the layer reader's limit for
/// kept files): that the path exists is enough to report it.
pub const UNSUPPORTED_PATHS: [(&str, &str); 4] = [
    ("usr/lib/sysimage/rpm/Packages.db", "NDB"),
    ("var/lib/rpm/Packages.db", "NDB"),
    ("usr/lib/sysimage/rpm/Packages", "Berkeley DB"),
    ("var/lib/rpm/Packages", "Berkeley DB"),
];

/// The suffix of the write-ahead log beside a SQLite database in WAL mode, which rpm uses: its
/// committed transactions are part of the database until they are checkpointed into it.
pub const WAL_SUFFIX: &str = "-wal";

/// True for the files the rpm inventory reads: a SQLite rpmdb and its write-ahead log.
pub fn is_database_path(path: &str) -> bool {
    let db = path.strip_suffix(WAL_SUFFIX).unwrap_or(path);
    SQLITE_PATHS.contains(&db)
}

/// The error for an rpmdb in a format palisade does not read yet.
pub fn unsupported(location: &str, format: &str) -> ParseError {
    ParseError {
        location: location.into(),
        line: 0,
        message: format!(
            "{format} rpmdb is not supported yet (only the SQLite rpmdb, rpmdb.sqlite, is read): \
             this image's RPM packages are not inventoried"
        ),
    }
}

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm's name for the pseudo-packages that hold imported signing keys; they are not software.
const GPG_PUBKEY: &str = "gpg-pubkey";

/// Reads a SQLite rpmdb (and its write-ahead log, when the image has one). The outer error is for
/// a database that cannot be read at all; each inner result is one `Packages` row, so one bad
/// header does not hide the others. Signing-key pseudo-packages (`gpg-pubkey`) are left out.
pub fn parse_sqlite(
    location: &str,
    db: &[u8],
    wal: Option<&[u8]>,
) -> Result<Vec<Result<Package, ParseError>>, ParseError> {
    let whole = |message: String| ParseError {
        location: location.into(),
        line: 0,
        message,
    };
    // An empty file is what SQLite itself takes for an empty database: rpm knows no packages.
    if db.is_empty() {
        return Ok(Vec::new());
    }
    // rusqlite 0.32 offers no safe way to hand SQLite a buffer (`deserialize` takes memory that
    // must come from sqlite3_malloc, which needs `unsafe`), so the database is copied to a private
    // temporary directory. SQLite can then also create the `-shm` index a WAL-mode database needs
    // even when opened read-only, and find the `-wal` log beside it.
    let dir =
        tempfile::tempdir().map_err(|e| whole(format!("cannot make a temporary copy: {e}")))?;
    let path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&path, db).map_err(|e| whole(format!("cannot make a temporary copy: {e}")))?;
    if let Some(wal) = wal.filter(|w| !w.is_empty()) {
        std::fs::write(dir.path().join(format!("rpmdb.sqlite{WAL_SUFFIX}")), wal)
            .map_err(|e| whole(format!("cannot make a temporary copy: {e}")))?;
    }
    let packages =
        read_rows(location, &path).map_err(|e| whole(format!("not a readable SQLite rpmdb: {e}")));
    // `dir` outlives the connection, which `read_rows` has closed by now.
    drop(dir);
    packages
}

/// Opens the copy read-only and parses every row of `Packages`, in `hnum` order.
fn read_rows(
    location: &str,
    path: &std::path::Path,
) -> Result<Vec<Result<Package, ParseError>>, String> {
    let sql = |e: rusqlite::Error| e.to_string();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql)?;
    // A database from an image is hostile input: do not let its schema call functions with side
    // effects, and have SQLite check page cells as it reads them rather than trust them.
    conn.execute_batch("PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON;")
        .map_err(sql)?;
    // `Packages` must be a real table: a view could make the query below arbitrarily expensive.
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .map_err(sql)?;
    if tables == 0 {
        return Err("no `Packages` table".into());
    }
    let mut statement = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(sql)?;
    let mut rows = statement.query([]).map_err(sql)?;
    let mut packages = Vec::new();
    loop {
        // Corruption found part-way through still leaves the rows read before it.
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => {
                packages.push(Err(ParseError {
                    location: location.into(),
                    line: 0,
                    message: format!("rpmdb unreadable after {} rows: {e}", packages.len()),
                }));
                break;
            }
        };
        let hnum = match row.get_ref(0).map_err(sql)? {
            ValueRef::Integer(n) => usize::try_from(n).unwrap_or(0),
            _ => 0,
        };
        let parsed = match row.get_ref(1).map_err(sql)? {
            ValueRef::Blob(blob) => parse_header(location, hnum, blob),
            other => Err(ParseError {
                location: location.into(),
                line: hnum,
                message: format!(
                    "package row {hnum}: header is a {}, not a blob",
                    other.data_type()
                ),
            }),
        };
        match parsed {
            Ok(Some(package)) => packages.push(Ok(package)),
            Ok(None) => {}
            Err(e) => packages.push(Err(e)),
        }
    }
    Ok(packages)
}

/// Parses one header blob as rpmdb stores it; `row` is its `hnum`, for errors. `None` for the
/// `gpg-pubkey` pseudo-packages.
///
/// The version is `epoch:version-release` whenever the header has an epoch (even 0), as
/// `rpm -q --qf '%{EVR}'` and syft show it, and `version-release` otherwise. The epoch is part of
/// how RPM orders versions, and the advisories of RHEL and its rebuilds name it in fixed versions
/// (`1:3.0.7-28.el9`); dropping it would make every epoch-1 package look older than its fix.
/// The source version carries the same epoch: the source RPM's file name has none, and an epoch
/// is set in the spec file, shared by the source package and every package built from it.
pub fn parse_header(
    location: &str,
    row: usize,
    blob: &[u8],
) -> Result<Option<Package>, ParseError> {
    let error = |message: String| ParseError {
        location: location.into(),
        line: row,
        message: format!("package row {row}: {message}"),
    };
    let header = Header::new(blob).map_err(error)?;
    let required = |tag: u32, what: &str| -> Result<String, ParseError> {
        header
            .string(tag)
            .map_err(error)?
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| error(format!("header without {what} (tag {tag})")))
    };
    let name = required(TAG_NAME, "NAME")?;
    if name == GPG_PUBKEY {
        return Ok(None);
    }
    let version = required(TAG_VERSION, "VERSION")?;
    let release = required(TAG_RELEASE, "RELEASE")?;
    let epoch = header.int32(TAG_EPOCH).map_err(error)?;
    let architecture = header
        .string(TAG_ARCH)
        .map_err(error)?
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    let with_epoch = |vr: &str| match epoch {
        Some(e) => format!("{e}:{vr}"),
        None => vr.to_owned(),
    };
    let full_version = with_epoch(&format!("{version}-{release}"));
    let (source_name, source_version) = match header.string(TAG_SOURCERPM).map_err(error)? {
        Some(file) if !file.is_empty() => {
            let (n, vr) = split_source_rpm(file).ok_or_else(|| {
                error(format!(
                    "SOURCERPM {file:?} is not name-version-release.src.rpm"
                ))
            })?;
            (n.to_owned(), with_epoch(vr))
        }
        // Without a source RPM (packages made by hand), the package is its own source.
        _ => (name.clone(), full_version.clone()),
    };
    Ok(Some(Package {
        kind: Kind::Rpm,
        name,
        version: full_version,
        source_name: Some(source_name),
        source_version: Some(source_version),
        architecture,
        location: location.into(),
    }))
}

/// `openssl-3.0.7-27.el9.src.rpm` -> (`openssl`, `3.0.7-27.el9`). RPM forbids `-` in versions and
/// releases, so the last two dashes separate them, whatever dashes the name has.
pub fn split_source_rpm(file: &str) -> Option<(&str, &str)> {
    let nvr = file
        .strip_suffix(".src.rpm")
        .or_else(|| file.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = nvr.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    // The version-release is everything after the name's dash.
    Some((name, nvr.get(name.len() + 1..)?))
}

/// A header's index and data store, checked to fit the blob.
struct Header<'a> {
    index: &'a [u8],
    store: &'a [u8],
}

/// One index entry's type, offset into the store and count.
struct Entry {
    kind: u32,
    offset: usize,
    count: usize,
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let word: [u8; 4] = bytes.get(at..end)?.try_into().ok()?;
    Some(u32::from_be_bytes(word))
}

impl<'a> Header<'a> {
    fn new(blob: &'a [u8]) -> Result<Self, String> {
        let (Some(il), Some(dl)) = (be32(blob, 0), be32(blob, 4)) else {
            return Err(format!(
                "header of {} bytes, too short for its sizes",
                blob.len()
            ));
        };
        // u64 arithmetic cannot overflow here: il * 16 + dl + 8 < 2^37.
        let (il64, dl64) = (u64::from(il), u64::from(dl));
        let needed = 8 + il64 * 16 + dl64;
        if needed > blob.len() as u64 {
            return Err(format!(
                "header claims {il} index entries and {dl} data bytes ({needed} bytes), but has {}",
                blob.len()
            ));
        }
        // Both fit in the blob, so in usize. Bytes past the store are ignored: only the data the
        // index points into matters.
        let index_end = 8 + il as usize * 16;
        Ok(Header {
            index: &blob[8..index_end],
            store: &blob[index_end..index_end + dl as usize],
        })
    }

    /// The first index entry for `tag` (rpm writes each tag once; the first is the one it reads).
    fn entry(&self, tag: u32) -> Option<Entry> {
        self.index.chunks_exact(16).find_map(|e| {
            (be32(e, 0)? == tag).then_some(())?;
            Some(Entry {
                kind: be32(e, 4)?,
                offset: usize::try_from(be32(e, 8)?).ok()?,
                count: usize::try_from(be32(e, 12)?).ok()?,
            })
        })
    }

    /// A string tag's value; for string arrays and translated strings, the first one.
    fn string(&self, tag: u32) -> Result<Option<&'a str>, String> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        match entry.kind {
            TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {}
            other => return Err(format!("tag {tag} has type {other}, not a string")),
        }
        if entry.count == 0 {
            return Err(format!("tag {tag} holds no strings"));
        }
        let rest = self.store.get(entry.offset..).ok_or_else(|| {
            format!(
                "tag {tag} points at byte {} of a {}-byte data store",
                entry.offset,
                self.store.len()
            )
        })?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("tag {tag}'s string runs past the data store"))?;
        std::str::from_utf8(&rest[..end])
            .map(Some)
            .map_err(|_| format!("tag {tag} is not UTF-8"))
    }

    /// An INT32 tag's first value.
    fn int32(&self, tag: u32) -> Result<Option<u32>, String> {
        let Some(entry) = self.entry(tag) else {
            return Ok(None);
        };
        if entry.kind != TYPE_INT32 {
            return Err(format!("tag {tag} has type {}, not INT32", entry.kind));
        }
        // All `count` values must be inside the store, though only the first is read.
        let fits = entry
            .count
            .checked_mul(4)
            .and_then(|len| entry.offset.checked_add(len))
            .is_some_and(|end| end <= self.store.len());
        if entry.count == 0 || !fits {
            return Err(format!(
                "tag {tag}: {} INT32 values at byte {} do not fit a {}-byte data store",
                entry.count,
                entry.offset,
                self.store.len()
            ));
        }
        Ok(be32(self.store, entry.offset))
    }
}

/// Builders for rpmdb test data, shared with the inventory's own tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A tag's value, as a header builder writes it.
    pub enum Value<'a> {
        Str(&'a str),
        I18n(&'a [&'a str]),
        Int(&'a [u32]),
        Bin(&'a [u8]),
    }

    /// Builds a header blob as rpmdb stores it, the tags in the order given.
    pub fn header(tags: &[(u32, Value<'_>)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut store: Vec<u8> = Vec::new();
        for (tag, value) in tags {
            let (kind, count, bytes): (u32, usize, Vec<u8>) = match value {
                Value::Str(s) => (6, 1, [s.as_bytes(), b"\0"].concat()),
                Value::I18n(list) => (
                    9,
                    list.len(),
                    list.iter()
                        .flat_map(|s| [s.as_bytes(), b"\0"].concat())
                        .collect(),
                ),
                Value::Int(list) => {
                    // rpm aligns INT32 data to 4 bytes.
                    while !store.len().is_multiple_of(4) {
                        store.push(0);
                    }
                    (
                        4,
                        list.len(),
                        list.iter().flat_map(|v| v.to_be_bytes()).collect(),
                    )
                }
                Value::Bin(b) => (7, b.len(), b.to_vec()),
            };
            for word in [*tag, kind, store.len() as u32, count as u32] {
                index.extend_from_slice(&word.to_be_bytes());
            }
            store.extend_from_slice(&bytes);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&((index.len() / 16) as u32).to_be_bytes());
        blob.extend_from_slice(&(store.len() as u32).to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&store);
        blob
    }

    /// A typical installed package's header: a region tag first, as rpm writes it, then the tags
    /// palisade reads among some it does not.
    pub fn package(
        name: &str,
        version: &str,
        release: &str,
        epoch: Option<u32>,
        arch: &str,
        source: &str,
    ) -> Vec<u8> {
        let epoch = epoch.map(|e| [e]);
        let mut tags = vec![
            (63, Value::Bin(&[0u8; 16][..])),
            (1000, Value::Str(name)),
            (1001, Value::Str(version)),
            (1002, Value::Str(release)),
            (1004, Value::I18n(&["a summary", "ein Résumé"])),
            (1022, Value::Str(arch)),
            (1044, Value::Str(source)),
        ];
        if let Some(epoch) = &epoch {
            tags.push((1003, Value::Int(epoch)));
        }
        header(&tags)
    }

    /// A SQLite rpmdb with these header blobs, as the bytes of its file.
    pub fn database(blobs: &[Vec<u8>]) -> Vec<u8> {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
             CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);",
        )
        .unwrap();
        for blob in blobs {
            conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
                .unwrap();
        }
        conn.serialize(rusqlite::DatabaseName::Main)
            .unwrap()
            .to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{database, header, package, Value};
    use super::*;
    use crate::inventory::os_release;

    fn openssl() -> Vec<u8> {
        package(
            "openssl",
            "3.0.7",
            "27.el9",
            Some(1),
            "x86_64",
            "openssl-3.0.7-27.el9.src.rpm",
        )
    }

    #[test]
    fn reads_packages_from_a_sqlite_rpmdb() {
        let db = database(&[
            openssl(),
            package("gpg-pubkey", "350d275d", "6395ef6a", None, "", ""),
            package(
                "python3-pip-wheel",
                "21.2.3",
                "7.el9",
                None,
                "noarch",
                "python-pip-21.2.3-7.el9.src.rpm",
            ),
            package(
                "bash",
                "5.1.8",
                "9.el9",
                Some(0),
                "x86_64",
                "bash-5.1.8-9.el9.src.rpm",
            ),
        ]);
        let rows = parse_sqlite("var/lib/rpm/rpmdb.sqlite", &db, None).unwrap();
        let packages: Vec<Package> = rows.into_iter().map(Result::unwrap).collect();
        let summary: Vec<(&str, &str, &str, &str, &str)> = packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source_name.as_deref().unwrap(),
                    p.source_version.as_deref().unwrap(),
                    p.architecture.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "openssl",
                    "1:3.0.7-27.el9",
                    "openssl",
                    "1:3.0.7-27.el9",
                    "x86_64"
                ),
                (
                    "python3-pip-wheel",
                    "21.2.3-7.el9",
                    "python-pip",
                    "21.2.3-7.el9",
                    "noarch"
                ),
                ("bash", "0:5.1.8-9.el9", "bash", "0:5.1.8-9.el9", "x86_64"),
            ]
        );
        assert!(packages
            .iter()
            .all(|p| p.kind == Kind::Rpm && p.location == "var/lib/rpm/rpmdb.sqlite"));
        let rocky = os_release::parse("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n");
        assert_eq!(
            packages[0].purl(Some(&rocky)),
            "pkg:rpm/rocky/openssl@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1"
        );
        assert_eq!(
            packages[1].purl(Some(&rocky)),
            "pkg:rpm/rocky/python3-pip-wheel@21.2.3-7.el9?arch=noarch&distro=rocky-9.3"
        );
        assert_eq!(
            packages[2].purl(None),
            "pkg:rpm/bash@5.1.8-9.el9?arch=x86_64&epoch=0"
        );
    }

    #[test]
    fn a_bad_row_costs_only_itself() {
        let mut truncated = openssl();
        truncated.truncate(truncated.len() - 3);
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&truncated])
            .unwrap();
        // The BLOB column has no type of its own in SQLite: a hostile database can hold text there.
        conn.execute("INSERT INTO Packages (blob) VALUES ('text')", [])
            .unwrap();
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&openssl()])
            .unwrap();
        let db = conn
            .serialize(rusqlite::DatabaseName::Main)
            .unwrap()
            .to_vec();
        let rows = parse_sqlite("rpmdb.sqlite", &db, None).unwrap();
        assert_eq!(rows.len(), 3);
        let first = rows[0].as_ref().unwrap_err();
        assert_eq!((first.location.as_str(), first.line), ("rpmdb.sqlite", 1));
        assert!(first.message.contains("row 1"), "{first}");
        let second = rows[1].as_ref().unwrap_err();
        assert_eq!(second.line, 2);
        assert!(second.message.contains("not a blob"), "{second}");
        assert_eq!(rows[2].as_ref().unwrap().name, "openssl");
    }

    #[test]
    fn a_file_that_is_not_an_rpmdb_is_one_error() {
        let err = parse_sqlite(
            "var/lib/rpm/rpmdb.sqlite",
            b"this is not a database at all, just text",
            None,
        )
        .unwrap_err();
        assert_eq!(
            (err.location.as_str(), err.line),
            ("var/lib/rpm/rpmdb.sqlite", 0)
        );
        assert!(err.message.contains("SQLite"), "{err}");
        // SQLite's header with garbage pages behind it.
        let mut corrupt = database(&[openssl()]);
        for b in corrupt.iter_mut().skip(100) {
            *b = 0xa5;
        }
        assert!(parse_sqlite("db", &corrupt, None).is_err());
        // A SQLite database without the table, or with a view in its place.
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE Other (x); CREATE VIEW Packages AS SELECT 1 AS hnum, x'00' AS blob;",
        )
        .unwrap();
        let db = conn
            .serialize(rusqlite::DatabaseName::Main)
            .unwrap()
            .to_vec();
        let err = parse_sqlite("db", &db, None).unwrap_err();
        assert!(err.message.contains("Packages"), "{err}");
        assert!(parse_sqlite("db", &[], None).unwrap().is_empty());
    }

    #[test]
    fn reads_transactions_still_in_the_write_ahead_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);",
        )
        .unwrap();
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&openssl()])
            .unwrap();
        // Copied while the connection is open, before any checkpoint: as an image layer would
        // capture a database that rpm had not closed.
        let db = std::fs::read(&path).unwrap();
        let wal = std::fs::read(dir.path().join("rpmdb.sqlite-wal")).unwrap();
        assert!(!wal.is_empty());
        // The table itself is still only in the log.
        assert!(parse_sqlite("db", &db, None).is_err());
        let rows = parse_sqlite("db", &db, Some(&wal)).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].as_ref().unwrap().name, "openssl");
        // Once checkpointed, the file alone is readable though still in WAL mode, as rpm leaves
        // it: SQLite makes its `-shm` index beside the private copy.
        drop(conn);
        let checkpointed = std::fs::read(&path).unwrap();
        assert_eq!(checkpointed[18], 2, "a WAL-mode database file");
        let rows = parse_sqlite("db", &checkpointed, None).unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn hostile_headers_are_errors_not_panics() {
        let good = openssl();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("empty", Vec::new(), "too short"),
            (
                "huge counts",
                [u32::MAX.to_be_bytes(), u32::MAX.to_be_bytes()].concat(),
                "claims",
            ),
            ("truncated store", good[..good.len() - 1].to_vec(), "claims"),
            (
                "offset past the store",
                header(&[(1000, Value::Str("a"))])
                    .into_iter()
                    .enumerate()
                    .map(|(i, b)| if i == 8 + 11 { 0xff } else { b })
                    .collect(),
                "points at byte",
            ),
            (
                "no NUL",
                {
                    let mut h = header(&[(1000, Value::Str("abc"))]);
                    h.pop();
                    // Shrink `dl` so the store ends at the last letter.
                    h[7] -= 1;
                    h
                },
                "runs past",
            ),
            (
                "name is an integer",
                header(&[(1000, Value::Int(&[7]))]),
                "not a string",
            ),
            (
                "no name",
                header(&[(1001, Value::Str("1")), (1002, Value::Str("1"))]),
                "without NAME",
            ),
            (
                "no release",
                header(&[(1000, Value::Str("a")), (1001, Value::Str("1"))]),
                "without RELEASE",
            ),
            (
                "epoch is a string",
                header(&[
                    (1000, Value::Str("a")),
                    (1001, Value::Str("1")),
                    (1002, Value::Str("1")),
                    (1003, Value::Str("1")),
                ]),
                "not INT32",
            ),
            (
                "epoch count past the store",
                {
                    let mut h = header(&[
                        (1000, Value::Str("a")),
                        (1001, Value::Str("1")),
                        (1002, Value::Str("1")),
                        (1003, Value::Int(&[1])),
                    ]);
                    // The fourth entry's count: 2^30 values.
                    let at = 8 + 3 * 16 + 12;
                    h[at..at + 4].copy_from_slice(&(1u32 << 30).to_be_bytes());
                    h
                },
                "do not fit",
            ),
            (
                "a string with no strings",
                {
                    let mut h = header(&[(1000, Value::Str("a"))]);
                    h[8 + 12..8 + 16].copy_from_slice(&0u32.to_be_bytes());
                    h
                },
                "no strings",
            ),
            (
                "not UTF-8",
                header(&[(1000, Value::Bin(b"\xff\xfe\0"))])
                    .into_iter()
                    .enumerate()
                    .map(|(i, b)| if i == 8 + 7 { 6 } else { b })
                    .collect(),
                "UTF-8",
            ),
            (
                "bad source rpm",
                header(&[
                    (1000, Value::Str("a")),
                    (1001, Value::Str("1")),
                    (1002, Value::Str("1")),
                    (1044, Value::Str("a.rpm")),
                ]),
                "SOURCERPM",
            ),
        ];
        for (what, blob, expected) in cases {
            let err = parse_header("db", 9, &blob).expect_err(what);
            assert_eq!(err.line, 9, "{what}");
            assert!(err.message.contains(expected), "{what}: {err}");
        }
    }

    #[test]
    fn every_truncation_and_byte_flip_is_handled() {
        let good = openssl();
        for len in 0..good.len() {
            assert!(parse_header("db", 1, &good[..len]).is_err(), "length {len}");
        }
        for at in 0..good.len() {
            for value in [0x00, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[at] = value;
                // Ok or Err both do: only a panic would fail.
                let _ = parse_header("db", 1, &bad);
            }
        }
    }

    #[test]
    fn splits_source_rpm_names() {
        assert_eq!(
            split_source_rpm("openssl-3.0.7-27.el9.src.rpm"),
            Some(("openssl", "3.0.7-27.el9"))
        );
        assert_eq!(
            split_source_rpm("python-pip-21.2.3-7.el9.src.rpm"),
            Some(("python-pip", "21.2.3-7.el9"))
        );
        assert_eq!(
            split_source_rpm("kernel-5.14.0-362.el9.nosrc.rpm"),
            Some(("kernel", "5.14.0-362.el9"))
        );
        assert_eq!(split_source_rpm("openssl-3.0.7.src.rpm"), None);
        assert_eq!(split_source_rpm("openssl-3.0.7-27.el9.x86_64.rpm"), None);
        assert_eq!(split_source_rpm("-1-2.src.rpm"), None);
    }

    #[test]
    fn knows_its_paths() {
        assert!(is_database_path("var/lib/rpm/rpmdb.sqlite"));
        assert!(is_database_path("usr/lib/sysimage/rpm/rpmdb.sqlite-wal"));
        assert!(!is_database_path("var/lib/rpm/rpmdb.sqlite-shm"));
        assert!(!is_database_path("var/lib/rpm/Packages"));
        let err = unsupported("var/lib/rpm/Packages", "Berkeley DB");
        assert!(err
            .to_string()
            .starts_with("var/lib/rpm/Packages:0: Berkeley DB rpmdb is not supported yet"));
    }
}
