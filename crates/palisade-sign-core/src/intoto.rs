//! in-toto statements (v0.1) with cosign's vulnerability predicate, whose `scanner.result` is
//! palisade's scan report; palisade's model-scan predicate for OCI model artifacts; and the tag
//! cosign keeps attestations under.

use serde_json::json;

pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v0.1";
pub const VULN_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
pub const IN_TOTO_PAYLOAD: &str = "application/vnd.in-toto+json";
/// palisade's predicate for a model scan of an OCI model artifact (docs/model-scanning.md): the
/// shape of cosign's vuln predicate (`scanner.result`, `metadata.scanFinishedOn`), with
/// `scanner.result` the report of `palisade scan model oci://...`.
pub const MODEL_SCAN_PREDICATE: &str = "https://palisade.dev/attestation/model-scan/v1";

/// The model scanner's severity words as a model-scan predicate records them, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelSeverity {
    Info,
    Suspicious,
    Dangerous,
}

impl ModelSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSeverity::Info => "info",
            ModelSeverity::Suspicious => "suspicious",
            ModelSeverity::Dangerous => "dangerous",
        }
    }

    /// A word as the predicate writes it; any other word is the worst, since a report that
    /// cannot be read must not pass for a clean one.
    pub fn from_word(word: &str) -> ModelSeverity {
        word.parse().unwrap_or(ModelSeverity::Dangerous)
    }
}

impl std::fmt::Display for ModelSeverity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelSeverity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "info" => Ok(ModelSeverity::Info),
            "suspicious" => Ok(ModelSeverity::Suspicious),
            "dangerous" => Ok(ModelSeverity::Dangerous),
            other => Err(format!(
                "{other:?} is not one of info, suspicious, dangerous"
            )),
        }
    }
}

/// The in-toto statement for a model scan of the artifact `name` at `digest`: `result` is the
/// report of `palisade scan model oci://...` (`-f json`).
pub fn model_scan_statement(
    name: &str,
    digest: &str,
    result: &serde_json::Value,
    started: &str,
    finished: &str,
) -> serde_json::Value {
    json!({
        "_type": STATEMENT_TYPE,
        "predicateType": MODEL_SCAN_PREDICATE,
        "subject": [{"name": name, "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicate": {
            "scanner": {
                "uri": "https://example.invalid/palisade",
                "version": env!("CARGO_PKG_VERSION"),
                "result": result,
            },
            "metadata": {"scanStartedOn": started, "scanFinishedOn": finished},
        },
    })
}

/// The attestation tag: `sha256-<hex>.att`.
pub fn attestation_tag(digest: &str) -> String {
    format!("{}.att", digest.replacen(':', "-", 1))
}

/// The in-toto statement for a scan of `name` at `digest`.
pub fn statement(
    name: &str,
    digest: &str,
    scan: &serde_json::Value,
    started: &str,
    finished: &str,
) -> serde_json::Value {
    let database = &scan["database"];
    json!({
        "_type": STATEMENT_TYPE,
        "predicateType": VULN_PREDICATE,
        "subject": [{"name": name, "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicate": {
            "invocation": {"parameters": null, "uri": "", "event_id": "", "builder.id": ""},
            "scanner": {
                "uri": "https://example.invalid/palisade",
                "version": env!("CARGO_PKG_VERSION"),
                "db": {
                    "uri": database["sources"].as_array().and_then(|s| s.first()).and_then(|s| s.as_str()).unwrap_or(""),
                    "version": database["built"].as_str().unwrap_or(""),
                },
                "result": scan,
            },
            "metadata": {"scanStartedOn": started, "scanFinishedOn": finished},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn fixture(path: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/cosign/cosign")
            .join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn cosigns_vuln_envelope_reads_as_ours_writes() {
        let theirs: serde_json::Value =
            serde_json::from_str(&fixture("pkg/policy/testdata/valid/vuln")).unwrap();
        let payload = base64::engine::general_purpose::STANDARD
            .decode(theirs["payload"].as_str().unwrap())
            .unwrap();
        let statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(statement["predicateType"], VULN_PREDICATE);
        assert_eq!(statement["_type"], STATEMENT_TYPE);
        // Ours has the same keys at every level of the predicate.
        let ours = statement_keys(&super::statement("r/x", "sha256:ab", &json!({}), "t", "t"));
        assert_eq!(ours, statement_keys(&statement));
        let predicate: serde_json::Value =
            serde_json::from_str(&fixture("test/testdata/attestations/vuln-predicate.json"))
                .unwrap();
        let mut keys: Vec<&String> = predicate.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["invocation", "metadata", "scanner"]);
    }

    fn statement_keys(statement: &serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
            if let Some(map) = v.as_object() {
                for (k, v) in map {
                    let path = format!("{prefix}/{k}");
                    if path != "/predicate/scanner/result" && !path.starts_with("/subject") {
                        walk(&path, v, out);
                    }
                    out.push(path);
                }
            }
        }
        walk("", statement, &mut out);
        out.sort();
        out
    }
}
