//! dpkg's database: `var/lib/dpkg/status`, and distroless images' `var/lib/dpkg/status.d/*`.

use super::{Kind, Package, ParseError};

/// Parses a dpkg status file (paragraphs of `Field: value`, continuation lines indented). Only
/// installed packages are returned (not `deinstall ok config-files` remnants).
pub fn parse_status(location: &str, text: &str) -> Result<Vec<Package>, ParseError> {
    let mut packages = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut start = 1;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().chain(std::iter::once(&"")).enumerate() {
        let number = i + 1;
        if line.trim().is_empty() {
            if !fields.is_empty() {
                if let Some(p) = paragraph(location, start, &fields)? {
                    packages.push(p);
                }
                fields.clear();
            }
            start = number + 1;
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match fields.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                None => {
                    return Err(ParseError {
                        location: location.into(),
                        line: number,
                        message: "continuation line before any field".into(),
                    })
                }
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError {
                location: location.into(),
                line: number,
                message: format!("not a `Field: value` line: {line:?}"),
            });
        };
        fields.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(packages)
}

fn paragraph(
    location: &str,
    line: usize,
    fields: &[(String, String)],
) -> Result<Option<Package>, ParseError> {
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    // status.d files carry no Status field: what is there is installed.
    if let Some(status) = get("Status") {
        if status.split_whitespace().last() != Some("installed") {
            return Ok(None);
        }
    }
    let missing = |field: &str| ParseError {
        location: location.into(),
        line,
        message: format!("package record without {field}"),
    };
    let name = get("Package").ok_or_else(|| missing("Package"))?.to_owned();
    let version = get("Version").ok_or_else(|| missing("Version"))?.to_owned();
    // `Source: name (version)` when the source differs in name or version.
    let (source_name, source_version) = match get("Source") {
        Some(source) => match source.split_once('(') {
            Some((n, v)) => (
                n.trim().to_owned(),
                v.trim_end_matches(')').trim().to_owned(),
            ),
            None => (source.trim().to_owned(), version.clone()),
        },
        None => (name.clone(), version.clone()),
    };
    Ok(Some(Package {
        kind: Kind::Deb,
        name,
        version,
        source_name: Some(source_name),
        source_version: Some(source_version),
        architecture: get("Architecture").map(str::to_owned),
        location: location.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.15-1~deb12u1
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation.

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14

Package: old-thing
Status: deinstall ok config-files
Version: 1.0

Package: python3.11-minimal
Status: install ok installed
Architecture: amd64
Version: 3.11.2-6+deb12u3
";

    #[test]
    fn reads_installed_packages_with_their_sources() {
        let packages = parse_status("var/lib/dpkg/status", STATUS).unwrap();
        let summary: Vec<(&str, &str, &str, &str)> = packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.source_name.as_deref().unwrap(),
                    p.source_version.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("libssl3", "3.0.15-1~deb12u1", "openssl", "3.0.15-1~deb12u1"),
                ("libgcc-s1", "12.2.0-14", "gcc-12", "12.2.0-14"),
                (
                    "python3.11-minimal",
                    "3.11.2-6+deb12u3",
                    "python3.11-minimal",
                    "3.11.2-6+deb12u3"
                ),
            ]
        );
        let distro = crate::inventory::os_release::parse("ID=debian\nVERSION_ID=\"12\"\n");
        assert_eq!(
            packages[0].purl(Some(&distro)),
            "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"
        );
    }

    #[test]
    fn distroless_status_d_and_errors() {
        let packages = parse_status(
            "var/lib/dpkg/status.d/base",
            "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        )
        .unwrap();
        assert_eq!(packages.len(), 1);
        let err = parse_status("status", "Package: a\nVersion 1\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse_status("status", "Package: a\n\nVersion: 1\n").unwrap_err();
        assert!(
            err.message.contains("without Package") || err.message.contains("without Version"),
            "{err}"
        );
    }
}
