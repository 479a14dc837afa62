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
