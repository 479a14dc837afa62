//! Rust crates linked into a binary, from a cargo-auditable JSON record shipped beside it
//! (`*.cargo-auditable.json`: `{"packages": [{"name", "version", "source", "kind", "root"}]}`,
//! the format cargo-auditable embeds in a binary's `.dep-v0` section). palisade's own image
//! ships one for /usr/bin/palisade (scripts/build-image.sh); binaries without such a record are
//! not inventoried.

use serde::Deserialize;

use super::{Kind, Package, ParseError};

/// The suffix of a cargo-auditable record.
pub const SUFFIX: &str = ".cargo-auditable.json";

/// True for a cargo-auditable record.
pub fn is_record_path(path: &str) -> bool {
    path.ends_with(SUFFIX) && path.len() > SUFFIX.len()
}

#[derive(Deserialize)]
struct Record {
    packages: Vec<Crate>,
}

#[derive(Deserialize)]
struct Crate {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

/// The record's runtime crates (build-time ones are not in the binary).
pub fn parse_record(location: &str, text: &str) -> Result<Vec<Package>, ParseError> {
    let record: Record = serde_json::from_str(text).map_err(|e| ParseError {
        location: location.into(),
        line: e.line(),
        message: format!("cargo-auditable record: {e}"),
    })?;
    Ok(record
        .packages
        .into_iter()
        .filter(|c| c.kind.as_deref().unwrap_or("runtime") == "runtime")
        .map(|c| Package {
            kind: Kind::Cargo,
            name: c.name,
            version: c.version,
            source_name: None,
            source_version: None,
            architecture: None,
            location: location.into(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runtime_crates() {
        let text = r#"{"packages":[{"name":"palisade","version":"0.1.0","source":"local","kind":"runtime","root":true},
            {"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"},
            {"name":"serde","version":"1.0.200","source":"crates.io"}]}"#;
        let packages = parse_record("usr/share/palisade/palisade.cargo-auditable.json", text)
            .expect("a valid record");
        let names: Vec<_> = packages
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names, [("palisade", "0.1.0"), ("serde", "1.0.200")]);
        assert!(is_record_path(
            "usr/share/palisade/palisade.cargo-auditable.json"
        ));
        assert!(!is_record_path(".cargo-auditable.json"));
        let error = parse_record("x.cargo-auditable.json", "{").expect_err("truncated");
        assert!(error.message.contains("cargo-auditable record"), "{error}");
    }
}
