//! Python packages: `*.dist-info/METADATA` (wheels, pip) and `*.egg-info` / `PKG-INFO` (setuptools).

use super::{Kind, Package, ParseError};

pub use palisade_core::names::normalize_pypi_name as normalize_name;

/// True for the files that hold a Python distribution's metadata.
pub fn is_metadata_path(path: &str) -> bool {
    let mut parts = path.rsplit('/');
    let (file, dir) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    (file == "METADATA" && dir.ends_with(".dist-info"))
        || (file == "PKG-INFO" && dir.ends_with(".egg-info"))
        || (file.ends_with(".egg-info") && !dir.ends_with(".egg-info"))
}

/// Parses core metadata (RFC 822 headers up to the first blank line): `Name` and `Version`.
pub fn parse_metadata(location: &str, text: &str) -> Result<Package, ParseError> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            match key.trim() {
                "Name" if name.is_none() => name = Some(value.trim().to_owned()),
                "Version" if version.is_none() => version = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let missing = |field: &str| ParseError {
        location: location.into(),
        line: 1,
        message: format!("Python metadata without {field}"),
    };
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| missing("Name"))?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("Version"))?;
    Ok(Package {
        kind: Kind::Python,
        name,
        version,
        source_name: None,
        source_version: None,
        architecture: None,
        location: location.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dist_info_metadata() {
        let text = "Metadata-Version: 2.1\nName: Werkzeug\nVersion: 2.2.2\nSummary: The comprehensive WSGI web application library.\n\nLong description with Name: fake\n";
        let p = parse_metadata(
            "opt/venv/lib/python3.11/site-packages/Werkzeug-2.2.2.dist-info/METADATA",
            text,
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("Werkzeug", "2.2.2"));
        assert_eq!(p.purl(None), "pkg:pypi/werkzeug@2.2.2");
        assert!(parse_metadata("x/METADATA", "Name: a\n").is_err());
    }

    #[test]
    fn recognises_metadata_files() {
        assert!(is_metadata_path(
            "usr/lib/python3/dist-packages/flask-2.2.2.dist-info/METADATA"
        ));
        assert!(is_metadata_path(
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"
        ));
        assert!(is_metadata_path(
            "usr/lib/python3/dist-packages/six-1.16.0.egg-info"
        ));
        assert!(!is_metadata_path(
            "usr/lib/python3/dist-packages/flask/METADATA"
        ));
        assert_eq!(normalize_name("Scikit_Learn"), "scikit-learn");
    }
}
