//! The pieces of a SARIF 2.1.0 log that every palisade report shares: how a severity becomes a
//! level and GitHub's `security-severity`, how a path becomes an artifact URI, stable
//! fingerprints, the tool's driver and the document around the results. Each report (audit,
//! image scan, model scan) adds only its own rules and results.

use serde_json::{json, Value};

use crate::{Diagnostic, Rule, Severity};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const VERSION: &str = "2.1.0";
/// Where the tool's documentation lives, for `tool.driver.informationUri`.
pub const TOOL_URI: &str = "https://example.invalid/palisade";

/// The result level of a severity: `error` for high and critical, `warning` for medium, `note`
/// below.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's numeric `security-severity` (a CVSS-like score) for a severity, when the finding has
/// no score of its own.
pub fn security_severity(severity: Severity) -> f64 {
    match severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 3.0,
        Severity::Info => 0.0,
    }
}

/// `security-severity` as SARIF writes it: a string with one decimal.
pub fn security_severity_text(score: f64) -> String {
    format!("{score:.1}")
}

/// SARIF wants URIs: relative paths stay relative (GitHub resolves them against the repository),
/// standard input is `stdin`, and the characters a URI reserves are escaped.
pub fn artifact_uri(file: &str) -> String {
    let file = file.strip_prefix("./").unwrap_or(file);
    if file == "-" {
        return "stdin".to_owned();
    }
    file.chars()
        .map(|c| match c {
            ' ' => "%20".to_owned(),
            '%' => "%25".to_owned(),
            '#' => "%23".to_owned(),
            '?' => "%3F".to_owned(),
            '\\' => "/".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// FNV-1a over the parts (each ended by a NUL, so `["ab", ""]` is not `["a", "b"]`), as 16 hex
/// digits: stable across runs and platforms, unlike `DefaultHasher`. SARIF's partial fingerprints
/// and the layer cache's keys both use it.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// A finding as a SARIF result: its rule (with the rule's index in `tool.driver.rules`, where
/// the caller knows it), level, message, where it is and its fingerprint. Every report writes its
/// results with this one function.
pub fn result(diagnostic: &Diagnostic, rule_index: Option<usize>) -> Value {
    let mut result = json!({"ruleId": diagnostic.code});
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    result["level"] = json!(level(diagnostic.severity));
    result["message"] = json!({"text": diagnostic.message});
    let place = &diagnostic.location;
    let mut physical = json!({"artifactLocation": {"uri": artifact_uri(&place.file)}});
    if let Some(line) = place.line {
        physical["region"] = json!({"startLine": line.max(1)});
    } else if let Some(offset) = place.offset {
        physical["region"] = json!({"byteOffset": offset});
    }
    let mut location = json!({"physicalLocation": physical});
    if let Some(logical) = &place.logical {
        let key = if logical.fully_qualified {
            "fullyQualifiedName"
        } else {
            "name"
        };
        location["logicalLocations"] = json!([{key: logical.name, "kind": logical.kind}]);
    }
    result["locations"] = json!([location]);
    if let Some((name, value)) = &diagnostic.fingerprint {
        result["partialFingerprints"] = json!({*name: value});
    }
    if !diagnostic.properties.is_empty() {
        let properties: serde_json::Map<String, Value> = diagnostic
            .properties
            .iter()
            .map(|(name, value)| ((*name).to_owned(), json!(value)))
            .collect();
        result["properties"] = Value::Object(properties);
    }
    result
}

/// A rule as `tool.driver.rules` lists it, in the short form: its id, title and tags.
pub fn rule(id: &str, title: &str, tags: &[&str]) -> Value {
    json!({
        "id": id,
        "shortDescription": {"text": title},
        "properties": {"tags": tags},
    })
}

/// A rule of a domain's table in the short form.
pub fn table_rule(rule: &Rule, tags: &[&str]) -> Value {
    self::rule(rule.code, rule.title, tags)
}

/// `tool.driver`: palisade at `version`, documented at `information_uri`, with its rules.
/// `semantic_version` also states the version as SemVer (GitHub code scanning shows it).
pub fn driver(
    version: &str,
    semantic_version: bool,
    information_uri: &str,
    rules: Vec<Value>,
) -> Value {
    let mut driver = json!({"name": "palisade", "version": version});
    if semantic_version {
        driver["semanticVersion"] = json!(version);
    }
    driver["informationUri"] = json!(information_uri);
    driver["rules"] = Value::Array(rules);
    driver
}

/// A whole log of one run: the driver, an optional `automationDetails.id` (which run of which
/// target, so code scanning keeps separate targets apart), and the results.
pub fn document(driver: Value, automation_id: Option<&str>, results: Vec<Value>) -> Value {
    let mut run = json!({"tool": {"driver": driver}});
    if let Some(id) = automation_id {
        run["automationDetails"] = json!({"id": id});
    }
    run["results"] = Value::Array(results);
    json!({
        "$schema": SCHEMA,
        "version": VERSION,
        "runs": [run],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_fingerprints() {
        assert_eq!(artifact_uri("./a b/c#1?.yaml"), "a%20b/c%231%3F.yaml");
        assert_eq!(artifact_uri("-"), "stdin");
        assert_eq!(fingerprint(&["a", "b"]), fingerprint(&["a", "b"]));
        assert_ne!(fingerprint(&["ab", ""]), fingerprint(&["a", "b"]));
    }

    #[test]
    fn levels_follow_the_scale() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Info), "note");
        assert_eq!(
            security_severity_text(security_severity(Severity::High)),
            "8.0"
        );
    }

    #[test]
    fn a_result_says_what_the_diagnostic_knows_and_nothing_else() {
        use crate::Location;
        let bare = Diagnostic::new("x/a", Severity::Low, "found").at(Location::file("a b.pkl"));
        assert_eq!(
            serde_json::to_string(&result(&bare, None)).unwrap_or_default(),
            r#"{"ruleId":"x/a","level":"note","message":{"text":"found"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a%20b.pkl"}}}]}"#
        );
        let full = Diagnostic::new("x/b", Severity::High, "found")
            .with_fix("fix it")
            .at(Location::file("./m.yaml")
                .line(0)
                .fully_qualified("Pod/ns/p/spec", "object"))
            .with_fingerprint("x/v1", "abc")
            .with_property("policy", "restricted:latest");
        assert_eq!(
            serde_json::to_string(&result(&full, Some(3))).unwrap_or_default(),
            r#"{"ruleId":"x/b","ruleIndex":3,"level":"error","message":{"text":"found"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"m.yaml"},"region":{"startLine":1}},"logicalLocations":[{"fullyQualifiedName":"Pod/ns/p/spec","kind":"object"}]}],"partialFingerprints":{"x/v1":"abc"},"properties":{"policy":"restricted:latest"}}"#
        );
        let inside =
            Diagnostic::new("x/c", Severity::Critical, "found")
                .at(Location::file("m.zip").offset(7).logical("a!b", "member"));
        let text = serde_json::to_string(&result(&inside, None)).unwrap_or_default();
        assert!(
            text.contains(
                r#""region":{"byteOffset":7}},"logicalLocations":[{"name":"a!b","kind":"member"}]"#
            ),
            "{text}"
        );
    }

    #[test]
    fn a_document_keeps_sarifs_key_order() {
        let doc = document(
            driver(
                "1.0",
                false,
                TOOL_URI,
                vec![rule("x/a", "A.", &["security"])],
            ),
            Some("palisade/test"),
            Vec::new(),
        );
        let text = serde_json::to_string(&doc).unwrap_or_default();
        assert!(text.starts_with("{\"$schema\""), "{text}");
        assert!(
            text.contains("\"runs\":[{\"tool\":{\"driver\":{\"name\":\"palisade\",\"version\":\"1.0\",\"informationUri\""),
            "{text}"
        );
        assert!(
            text.contains("\"automationDetails\":{\"id\":\"palisade/test\"},\"results\":[]"),
            "{text}"
        );
    }
}
