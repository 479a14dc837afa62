//! What is installed in a root filesystem, read from the package managers' own records.

pub mod dpkg;
pub mod os_release;
pub mod python;

use serde::Serialize;

/// Which package manager a package belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deb,
    Python,
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
        }
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
        || python::is_metadata_path(path)
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
        } else {
            continue;
        };
        match result {
            Ok(packages) => inventory.packages.extend(packages),
            Err(e) => inventory.errors.push(e),
        }
    }
    inventory
        .packages
        .sort_by(|a, b| (a.kind, &a.name, &a.version).cmp(&(b.kind, &b.name, &b.version)));
    inventory
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::MergedFs;

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
        fs.apply_layer("1", &layer[..], wanted).unwrap();
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
