//! What is installed in a root filesystem, read from the package managers' own records.

pub mod apk;
pub mod cargo;
pub mod dpkg;
pub mod os_release;
pub mod python;
pub mod rpm;

use serde::Serialize;

/// Which package manager a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deb,
    Python,
    Apk,
    Rpm,
    /// Rust crates linked into a binary, from a cargo-auditable record ([`cargo`]).
    Cargo,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    /// The source package, for distro packages (advisories are filed against it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The file it was read from, inside the image.
    pub location: String,
}

impl Package {
    /// A package URL (https://github.com/package-url/purl-spec).
    pub fn purl(&self, distro: Option<&os_release::OsRelease>) -> String {
        match self.kind {
            Kind::Python => format!(
                "pkg:pypi/{}@{}",
                python::normalize_name(&self.name),
                self.version
            ),
            Kind::Deb => {
                let namespace = distro
                    .map(|d| d.id.as_str())
                    .filter(|id| !id.is_empty())
                    .unwrap_or("debian");
                let mut qualifiers = Vec::new();
                if let Some(arch) = &self.architecture {
                    qualifiers.push(format!("arch={arch}"));
                }
                if let Some(d) = distro {
                    if !d.version_id.is_empty() {
                        qualifiers.push(format!("distro={}-{}", d.id, d.version_id));
                    }
                }
                let version = self.version.replace(':', "%3A");
                let q = if qualifiers.is_empty() {
                    String::new()
                } else {
                    format!("?{}", qualifiers.join("&"))
                };
                format!("pkg:deb/{namespace}/{}@{version}{q}", self.name)
            }
            Kind::Apk => {
                // apk is Alpine's, as dpkg is Debian's: Wolfi and Chainguard name themselves.
                let namespace = distro
                    .map(|d| d.id.as_str())
                    .filter(|id| !id.is_empty())
                    .unwrap_or("alpine");
                let arch = self.architecture.as_deref().map(|a| ("arch", a.to_owned()));
                let q = qualifiers([arch, distro_qualifier(distro)]);
                format!(
                    "pkg:apk/{}/{}@{}{q}",
                    purl_encode(namespace),
                    purl_encode(&self.name),
                    purl_encode(&self.version)
                )
            }
            Kind::Cargo => format!(
                "pkg:cargo/{}@{}",
                purl_encode(&self.name),
                purl_encode(&self.version)
            ),
            Kind::Rpm => {
                // The purl spec puts the epoch in a qualifier, not in the version.
                let (epoch, version) = split_epoch(&self.version);
                let arch = self.architecture.as_deref().map(|a| ("arch", a.to_owned()));
                let epoch = epoch.map(|e| ("epoch", e.to_owned()));
                let q = qualifiers([arch, distro_qualifier(distro), epoch]);
                // No namespace rather than a guessed vendor: many distributions use rpm.
                let namespace = distro
                    .map(|d| d.id.as_str())
                    .filter(|id| !id.is_empty())
                    .map(|id| format!("{}/", purl_encode(id)))
                    .unwrap_or_default();
                format!(
                    "pkg:rpm/{namespace}{}@{}{q}",
                    purl_encode(&self.name),
                    purl_encode(version)
                )
            }
        }
    }
}

/// `distro=<id>-<version_id>`, when the image says which release it is.
fn distro_qualifier(distro: Option<&os_release::OsRelease>) -> Option<(&'static str, String)> {
    distro
        .filter(|d| !d.id.is_empty() && !d.version_id.is_empty())
        .map(|d| ("distro", format!("{}-{}", d.id, d.version_id)))
}

/// A purl's `?key=value&...`, or nothing; the keys must be given in the spec's sorted order.
fn qualifiers<const N: usize>(pairs: [Option<(&str, String)>; N]) -> String {
    let parts: Vec<String> = pairs
        .into_iter()
        .flatten()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", purl_encode(&value)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes a purl component: everything but ASCII letters, digits and `.-_~`, so that
/// `libstdc++` reads `libstdc%2B%2B` (a `+` would otherwise be taken for a space by some readers).
fn purl_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `1:3.0.7-27.el9` -> (`Some("1")`, `3.0.7-27.el9`); a version without an all-digit epoch
/// prefix is returned whole.
fn split_epoch(version: &str) -> (Option<&str>, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(epoch), rest)
        }
        _ => (None, version),
    }
}

/// A record that could not be read: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}:{line}: {message}")]
pub struct ParseError {
    pub location: String,
    pub line: usize,
    pub message: String,
}

/// What a merged root filesystem holds.
#[derive(Debug, Default)]
pub struct Inventory {
    pub os: Option<os_release::OsRelease>,
    pub packages: Vec<Package>,
    /// Package records that could not be read; the rest of the inventory still stands.
    pub errors: Vec<ParseError>,
}

/// The files an inventory reads; pass this to [`crate::layers::MergedFs::apply_layer`].
pub fn wanted(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release" | "usr/lib/os-release" | "var/lib/dpkg/status"
    ) || path.starts_with("var/lib/dpkg/status.d/")
        || apk::DATABASE_PATHS.contains(&path)
        || rpm::is_database_path(path)
        || python::is_metadata_path(path)
        || cargo::is_record_path(path)
}

/// Reads the OS and the packages of a merged filesystem.
pub fn scan(fs: &crate::layers::MergedFs) -> Inventory {
    let mut inventory = Inventory {
        os: fs
            .read("etc/os-release")
            .or_else(|| fs.read("usr/lib/os-release"))
            .map(|b| os_release::parse(&String::from_utf8_lossy(b))),
        ..Inventory::default()
    };
    for (path, content) in fs.kept() {
        let text = String::from_utf8_lossy(content);
        let result = if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/")
        {
            dpkg::parse_status(path, &text)
        } else if python::is_metadata_path(path) {
            python::parse_metadata(path, &text).map(|p| vec![p])
        } else if cargo::is_record_path(path) {
            cargo::parse_record(path, &text)
        } else {
            continue;
        };
        match result {
            Ok(packages) => inventory.packages.extend(packages),
            Err(e) => inventory.errors.push(e),
        }
    }
    scan_apk(fs, &mut inventory);
    scan_rpm(fs, &mut inventory);
    inventory
        .packages
        .sort_by(|a, b| (a.kind, &a.name, &a.version).cmp(&(b.kind, &b.name, &b.version)));
    inventory
}

/// apk's database, read once: in a usr-merged image the same file can be reached (or a stale copy
/// found) under both locations, so the first location that has one wins.
fn scan_apk(fs: &crate::layers::MergedFs, inventory: &mut Inventory) {
    let Some((path, content)) = apk::DATABASE_PATHS
        .iter()
        .find_map(|path| Some((*path, fs.read(path)?)))
    else {
        return;
    };
    match apk::parse_installed(path, &String::from_utf8_lossy(content)) {
        Ok(packages) => inventory.packages.extend(packages),
        Err(e) => inventory.errors.push(e),
    }
}

/// rpm's database, read once like apk's; an rpmdb in a format not read yet is reported, so an
/// RPM-based image never looks like one without packages.
fn scan_rpm(fs: &crate::layers::MergedFs, inventory: &mut Inventory) {
    let sqlite = rpm::SQLITE_PATHS
        .iter()
        .find_map(|path| Some((*path, fs.read(path)?)));
    if let Some((path, content)) = sqlite {
        let wal = fs.read(&format!("{path}{}", rpm::WAL_SUFFIX));
        match rpm::parse_sqlite(path, content, wal) {
            Ok(rows) => {
                for row in rows {
                    match row {
                        Ok(package) => inventory.packages.push(package),
                        Err(e) => inventory.errors.push(e),
                    }
                }
            }
            Err(e) => inventory.errors.push(e),
        }
        return;
    }
    // Not kept (see `rpm::UNSUPPORTED_PATHS`), so look for the path rather than the content.
    let present: std::collections::BTreeSet<&str> = fs.paths().collect();
    if let Some((path, format)) = rpm::UNSUPPORTED_PATHS
        .iter()
        .find(|(path, _)| present.contains(path))
    {
        inventory.errors.push(rpm::unsupported(path, format));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::MergedFs;

    /// A merged filesystem of one layer holding these files.
    fn merged(files: &[(&str, &[u8])]) -> MergedFs {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, *content).unwrap();
        }
        let layer = builder.into_inner().unwrap();
        let mut fs = MergedFs::new();
        fs.apply_layer("1", &layer[..], &wanted).unwrap();
        fs
    }

    #[test]
    fn scans_an_alpine_root() {
        let fs = merged(&[
            ("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n"),
            (
                "lib/apk/db/installed",
                b"P:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\n\nP:ssl_client\nV:1.36.1-r29\nA:x86_64\no:busybox\n",
            ),
        ]);
        let inventory = scan(&fs);
        assert!(inventory.errors.is_empty(), "{:?}", inventory.errors);
        let purls: Vec<String> = inventory
            .packages
            .iter()
            .map(|p| p.purl(inventory.os.as_ref()))
            .collect();
        assert_eq!(
            purls,
            [
                "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3",
                "pkg:apk/alpine/ssl_client@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"
            ]
        );
    }

    #[test]
    fn reads_apk_once_in_a_usr_merged_root() {
        // A stale copy under `lib` (left by a lower layer) is ignored in favour of `usr/lib`.
        let fs = merged(&[
            ("etc/os-release", b"ID=wolfi\nVERSION_ID=20230201\n"),
            ("usr/lib/apk/db/installed", b"P:glibc\nV:2.40-r3\n"),
            ("lib/apk/db/installed", b"P:glibc\nV:2.39-r1\n"),
        ]);
        let inventory = scan(&fs);
        let versions: Vec<&str> = inventory
            .packages
            .iter()
            .map(|p| p.version.as_str())
            .collect();
        assert_eq!(versions, ["2.40-r3"]);
        assert_eq!(inventory.packages[0].location, "usr/lib/apk/db/installed");
    }

    #[test]
    fn scans_an_rpm_root() {
        use rpm::testing::{database, package};
        let mut truncated = package(
            "bash",
            "5.1.8",
            "9.el9",
            None,
            "x86_64",
            "bash-5.1.8-9.el9.src.rpm",
        );
        truncated.truncate(20);
        let db = database(&[
            package(
                "libstdc++",
                "11.4.1",
                "2.1.el9",
                None,
                "x86_64",
                "gcc-11.4.1-2.1.el9.src.rpm",
            ),
            truncated,
            package(
                "openssl-libs",
                "3.0.7",
                "27.el9",
                Some(1),
                "x86_64",
                "openssl-3.0.7-27.el9.src.rpm",
            ),
        ]);
        let fs = merged(&[
            (
                "etc/os-release",
                b"NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
            ),
            ("usr/lib/sysimage/rpm/rpmdb.sqlite", &db),
        ]);
        let inventory = scan(&fs);
        assert_eq!(inventory.os.as_ref().unwrap().id, "rocky");
        let purls: Vec<String> = inventory
            .packages
            .iter()
            .map(|p| p.purl(inventory.os.as_ref()))
            .collect();
        assert_eq!(
            purls,
            [
                "pkg:rpm/rocky/libstdc%2B%2B@11.4.1-2.1.el9?arch=x86_64&distro=rocky-9.3",
                "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1"
            ]
        );
        assert_eq!(
            inventory.packages[1].source_name.as_deref(),
            Some("openssl")
        );
        assert_eq!(inventory.errors.len(), 1);
        assert_eq!(
            (
                inventory.errors[0].location.as_str(),
                inventory.errors[0].line
            ),
            ("usr/lib/sysimage/rpm/rpmdb.sqlite", 2)
        );
    }

    #[test]
    fn an_rpmdb_not_read_yet_is_reported() {
        for (path, format) in [
            ("var/lib/rpm/Packages", "Berkeley DB"),
            ("usr/lib/sysimage/rpm/Packages.db", "NDB"),
        ] {
            let fs = merged(&[
                ("etc/os-release", b"ID=centos\nVERSION_ID=7\n"),
                (path, b"\0\x06\x15\x61 not read"),
            ]);
            assert!(fs.read(path).is_none(), "{path} is not kept");
            let inventory = scan(&fs);
            assert!(inventory.packages.is_empty());
            assert_eq!(inventory.errors.len(), 1, "{path}");
            assert_eq!(inventory.errors[0].location, path);
            assert!(
                inventory.errors[0].message.contains(format),
                "{}",
                inventory.errors[0]
            );
        }
        // An rpmdb.sqlite beside a stale Berkeley DB file is the one rpm uses: no error.
        let db = rpm::testing::database(&[]);
        let fs = merged(&[
            ("var/lib/rpm/rpmdb.sqlite", &db),
            ("var/lib/rpm/Packages", b"old"),
        ]);
        let inventory = scan(&fs);
        assert!(inventory.errors.is_empty(), "{:?}", inventory.errors);
    }

    #[test]
    fn wants_the_package_databases() {
        for path in [
            "lib/apk/db/installed",
            "usr/lib/apk/db/installed",
            "var/lib/rpm/rpmdb.sqlite",
            "var/lib/rpm/rpmdb.sqlite-wal",
            "usr/lib/sysimage/rpm/rpmdb.sqlite",
        ] {
            assert!(wanted(path), "{path}");
        }
        for path in [
            "var/lib/rpm/Packages",
            "var/lib/rpm/rpmdb.sqlite-shm",
            "lib/apk/db/scripts.tar",
        ] {
            assert!(!wanted(path), "{path}");
        }
    }

    #[test]
    fn purl_parts() {
        assert_eq!(purl_encode("libstdc++"), "libstdc%2B%2B");
        assert_eq!(purl_encode("1.2_rc1~b-r0"), "1.2_rc1~b-r0");
        assert_eq!(split_epoch("1:3.0.7-27.el9"), (Some("1"), "3.0.7-27.el9"));
        assert_eq!(split_epoch("3.0.7-27.el9"), (None, "3.0.7-27.el9"));
        assert_eq!(split_epoch("a:1"), (None, "a:1"));
    }

    #[test]
    fn scans_a_merged_root() {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in [
            ("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            ("var/lib/dpkg/status", "Package: zlib1g\nStatus: install ok installed\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n"),
            ("opt/venv/lib/python3.11/site-packages/Flask-2.2.2.dist-info/METADATA", "Name: Flask\nVersion: 2.2.2\n"),
            ("opt/venv/lib/python3.11/site-packages/broken-1.0.dist-info/METADATA", "Summary: no name\n"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, content.as_bytes()).unwrap();
        }
        let layer = builder.into_inner().unwrap();
        let mut fs = MergedFs::new();
        fs.apply_layer("1", &layer[..], &wanted).unwrap();
        let inventory = scan(&fs);
        assert_eq!(inventory.os.as_ref().unwrap().version_id, "12");
        let names: Vec<(&str, &str)> = inventory
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, [("zlib1g", "1:1.2.13.dfsg-1"), ("Flask", "2.2.2")]);
        assert_eq!(
            inventory.packages[0].purl(inventory.os.as_ref()),
            "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12"
        );
        assert_eq!(inventory.errors.len(), 1);
        assert!(inventory.errors[0]
            .location
            .contains("broken-1.0.dist-info"));
    }
}
