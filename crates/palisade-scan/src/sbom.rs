//! Software bills of materials for an image's inventory: CycloneDX 1.6 JSON (optionally carrying
//! the scan's vulnerabilities, so one file can be imported into tools such as Dependency-Track)
//! and SPDX 2.3 JSON.
//!
//! Both documents are pure functions of their inputs: the creation time comes from the caller and
//! the identifiers that must be unique per document (CycloneDX `serialNumber`, SPDX
//! `documentNamespace`) are derived from a SHA-256 of the content, so the same image scanned with
//! the same clock reading gives byte-identical output.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use palisade_image::inventory::{os_release::OsRelease, Inventory, Package};

/// What the SBOM describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The image as the user named it, e.g. `registry:127.0.0.1:5000/ml/iris:1`.
    pub name: String,
    /// The manifest digest, `sha256:…`, when known.
    pub digest: Option<String>,
    pub tool_version: String,
    /// RFC 3339 timestamp, given by the caller so output is reproducible.
    pub created: String,
}

/// One vulnerability to embed in a CycloneDX document (the scan report fills these).
#[derive(Debug, Clone, PartialEq)]
pub struct VulnerabilityEntry {
    pub id: String,
    pub source_url: Option<String>,
    pub aliases: Vec<String>,
    /// `critical`, `high`, `medium`, `low` or `unknown`.
    pub severity: String,
    pub score: Option<f64>,
    pub vector: Option<String>,
    /// CycloneDX rating method: `CVSSv31`, `CVSSv3`, `CVSSv4`, `other`…
    pub method: Option<String>,
    pub description: Option<String>,
    /// The version that fixes it, if one is published.
    pub fixed: Option<String>,
    /// The affected component's purl.
    pub purl: String,
    /// An analysis state (e.g. `not_affected`) and its detail (the ignore rule's reason).
    pub analysis: Option<(String, String)>,
}

/// CycloneDX 1.6: the image as the BOM's subject, one component per package (plus the operating
/// system), and the given vulnerabilities attached to the components they affect.
pub fn cyclonedx(
    subject: &Subject,
    inventory: &Inventory,
    vulnerabilities: &[VulnerabilityEntry],
) -> Value {
    cyclonedx_with_models(subject, inventory, vulnerabilities, &[])
}

/// [`cyclonedx`], with the model files the model scan found in the image as
/// `machine-learning-model` components after the packages (path order): the file's SHA-256 as
/// its hash, its path in the image as the evidence of where it occurs, and its path, format,
/// size, the scan's verdict (`clean`, `suspicious`, `dangerous`) and the rules it broke as
/// properties. No `modelCard`: a file scan learns nothing of what one describes (approach, task,
/// datasets, architecture), and the scan's verdict is about the file, so it stays with the
/// component's properties. Without model files the document is exactly [`cyclonedx`]'s.
pub fn cyclonedx_with_models(
    subject: &Subject,
    inventory: &Inventory,
    vulnerabilities: &[VulnerabilityEntry],
    models: &[crate::models::ModelFile],
) -> Value {
    let packages = ordered(inventory);
    let mut refs = RefAllocator::default();
    let container_ref = refs.take(if subject.name.is_empty() {
        "image"
    } else {
        &subject.name
    });

    let mut components = Vec::new();
    if let Some(os) = operating_system(inventory) {
        let bom_ref = refs.take(&format!("os:{}", os_label(os)));
        components.push(object([
            ("type", Some(json!("operating-system"))),
            ("bom-ref", Some(json!(bom_ref))),
            ("name", Some(json!(os.id))),
            ("version", non_empty(&os.version_id)),
            ("description", non_empty(&os.pretty_name)),
        ]));
    }
    let mut refs_by_purl: HashMap<&str, Vec<String>> = HashMap::new();
    for (package, purl) in &packages {
        let bom_ref = refs.take(purl);
        refs_by_purl
            .entry(purl.as_str())
            .or_default()
            .push(bom_ref.clone());
        let mut properties = vec![
            property("palisade:package:kind", &kind_name(package)),
            property("palisade:package:location", &package.location),
        ];
        if let Some(name) = &package.source_name {
            properties.push(property("palisade:package:source-name", name));
        }
        if let Some(version) = &package.source_version {
            properties.push(property("palisade:package:source-version", version));
        }
        components.push(object([
            ("type", Some(json!("library"))),
            ("bom-ref", Some(json!(bom_ref))),
            ("name", Some(json!(package.name))),
            ("version", Some(json!(package.version))),
            ("purl", Some(json!(purl))),
            ("properties", Some(Value::Array(properties))),
        ]));
    }

    for model in models {
        let bom_ref = refs.take(&format!("model:{}", model.path));
        let mut properties = vec![
            property("palisade:model:path", &model.path),
            property("palisade:model:format", &model.format),
            property("palisade:model:size", &model.size.to_string()),
            property("palisade:model:scan-verdict", model.verdict()),
        ];
        let mut rules: Vec<&str> = model.findings.iter().map(|f| f.rule.as_str()).collect();
        rules.sort_unstable();
        rules.dedup();
        properties.extend(
            rules
                .into_iter()
                .map(|rule| property("palisade:model:finding", rule)),
        );
        components.push(object([
            ("type", Some(json!("machine-learning-model"))),
            ("bom-ref", Some(json!(bom_ref))),
            (
                "name",
                Some(json!(model
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or(model.path.as_str()))),
            ),
            (
                "hashes",
                Some(json!([{"alg": "SHA-256", "content": model.sha256}])),
            ),
            ("properties", Some(Value::Array(properties))),
            (
                "evidence",
                Some(json!({"occurrences": [{"location": model.path}]})),
            ),
        ]));
    }

    let metadata = json!({
        "timestamp": subject.created,
        "tools": {"components": [{
            "type": "application",
            "name": "palisade",
            "version": subject.tool_version,
        }]},
        "component": object([
            ("type", Some(json!("container"))),
            ("bom-ref", Some(json!(container_ref))),
            ("name", Some(json!(subject.name))),
            ("version", subject.digest.as_ref().map(|d| json!(d))),
        ]),
    });
    // Only the image's edges are known. The packages' own dependencies are not read, so they are
    // left out of the graph, which CycloneDX reads as "unknown" (an empty `dependsOn` would
    // claim they have none).
    let component_refs: Vec<Value> = components.iter().map(|c| c["bom-ref"].clone()).collect();
    let dependencies = json!([{"ref": container_ref, "dependsOn": component_refs}]);
    let vulnerabilities = cyclonedx_vulnerabilities(vulnerabilities, &refs_by_purl);

    let serial = serial_number(&json!([
        subject_value(subject),
        metadata,
        components,
        dependencies,
        vulnerabilities,
    ]));
    object([
        (
            "$schema",
            Some(json!("http://cyclonedx.org/schema/bom-1.6.schema.json")),
        ),
        ("bomFormat", Some(json!("CycloneDX"))),
        ("specVersion", Some(json!("1.6"))),
        ("serialNumber", Some(json!(serial))),
        ("version", Some(json!(1))),
        ("metadata", Some(metadata)),
        ("components", Some(Value::Array(components))),
        ("dependencies", Some(dependencies)),
        // A plain SBOM has no vulnerabilities; leaving the key out keeps it one.
        (
            "vulnerabilities",
            (!vulnerabilities.is_empty()).then_some(Value::Array(vulnerabilities)),
        ),
    ])
}

/// SPDX 2.3: the image as the described package, containing the operating system and one
/// package per installed package.
pub fn spdx(subject: &Subject, inventory: &Inventory) -> Value {
    let image_name = if subject.name.is_empty() {
        "image"
    } else {
        &subject.name
    };
    let mut packages = vec![object([
        ("name", Some(json!(image_name))),
        ("SPDXID", Some(json!(SPDX_IMAGE))),
        ("versionInfo", subject.digest.as_ref().map(|d| json!(d))),
        ("downloadLocation", Some(json!(NOASSERTION))),
        ("filesAnalyzed", Some(json!(false))),
        (
            "checksums",
            subject
                .digest
                .as_deref()
                .and_then(spdx_checksum)
                .map(|c| json!([c])),
        ),
        ("licenseConcluded", Some(json!(NOASSERTION))),
        ("licenseDeclared", Some(json!(NOASSERTION))),
        ("copyrightText", Some(json!(NOASSERTION))),
        ("primaryPackagePurpose", Some(json!("CONTAINER"))),
    ])];
    let mut relationships = vec![relationship(SPDX_DOCUMENT, "DESCRIBES", SPDX_IMAGE)];

    if let Some(os) = operating_system(inventory) {
        packages.push(object([
            ("name", Some(json!(os.id))),
            ("SPDXID", Some(json!(SPDX_OS))),
            ("versionInfo", non_empty(&os.version_id)),
            ("downloadLocation", Some(json!(NOASSERTION))),
            ("filesAnalyzed", Some(json!(false))),
            ("licenseConcluded", Some(json!(NOASSERTION))),
            ("licenseDeclared", Some(json!(NOASSERTION))),
            ("copyrightText", Some(json!(NOASSERTION))),
            ("description", non_empty(&os.pretty_name)),
            // The spelling of the SPDX 2.3 text (clause 7.24) and of the current JSON schema;
            // the schema published with 2.3 had `OPERATING_SYSTEM`, which strict validators
            // pinned to it still want.
            ("primaryPackagePurpose", Some(json!("OPERATING-SYSTEM"))),
        ]));
        relationships.push(relationship(SPDX_IMAGE, "CONTAINS", SPDX_OS));
    }
    // Numbered rather than named after the package: SPDX IDs allow only `[A-Za-z0-9.-]`, and
    // the same package can be installed twice.
    for (n, (package, purl)) in ordered(inventory).iter().enumerate() {
        let id = format!("SPDXRef-Package-{}", n + 1);
        packages.push(object([
            ("name", Some(json!(package.name))),
            ("SPDXID", Some(json!(id))),
            ("versionInfo", Some(json!(package.version))),
            ("downloadLocation", Some(json!(NOASSERTION))),
            ("filesAnalyzed", Some(json!(false))),
            ("licenseConcluded", Some(json!(NOASSERTION))),
            ("licenseDeclared", Some(json!(NOASSERTION))),
            ("copyrightText", Some(json!(NOASSERTION))),
            ("sourceInfo", source_info(package).map(Value::String)),
            // SPDX 2.3 has no free-form properties; the comment is where a reader looks.
            (
                "comment",
                Some(json!(format!("read from {}", package.location))),
            ),
            (
                "externalRefs",
                Some(json!([{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": purl,
                }])),
            ),
            ("primaryPackagePurpose", Some(json!("LIBRARY"))),
        ]));
        relationships.push(relationship(SPDX_IMAGE, "CONTAINS", &id));
    }

    let hash = hex::encode(sha256(&json!([
        subject_value(subject),
        packages,
        relationships
    ])));
    let namespace = format!(
        "https://palisade.invalid/spdx/{}-{}",
        uri_segment(image_name),
        hash.get(..32).unwrap_or(&hash)
    );
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": SPDX_DOCUMENT,
        "name": image_name,
        "documentNamespace": namespace,
        "creationInfo": {
            "created": spdx_created(&subject.created),
            "creators": [format!("Tool: palisade-{}", subject.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

const NOASSERTION: &str = "NOASSERTION";
const SPDX_DOCUMENT: &str = "SPDXRef-DOCUMENT";
const SPDX_IMAGE: &str = "SPDXRef-Image";
const SPDX_OS: &str = "SPDXRef-OperatingSystem";

/// An object with the given keys in the given order, leaving out the absent ones; the order
/// is kept because the workspace builds serde_json with `preserve_order`, and readers expect
/// `type` and `name` first.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let mut map = Map::new();
    for (key, value) in fields {
        if let Some(value) = value {
            map.insert(key.to_owned(), value);
        }
    }
    Value::Object(map)
}

fn non_empty(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!(text))
}

fn property(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({"spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to})
}

/// The packages in the order both documents list them, each with its purl: by purl, then by
/// where it was read, so a document does not depend on the order the layers were walked in.
fn ordered(inventory: &Inventory) -> Vec<(&Package, String)> {
    let os = inventory.os.as_ref();
    let mut packages: Vec<(&Package, String)> =
        inventory.packages.iter().map(|p| (p, p.purl(os))).collect();
    packages.sort_by(|(a, a_purl), (b, b_purl)| {
        (a_purl, &a.location, &a.name, &a.version).cmp(&(b_purl, &b.location, &b.name, &b.version))
    });
    packages
}

/// The operating system, when os-release named one (an image built `FROM scratch` has none).
fn operating_system(inventory: &Inventory) -> Option<&OsRelease> {
    inventory.os.as_ref().filter(|os| !os.id.is_empty())
}

fn os_label(os: &OsRelease) -> String {
    if os.version_id.is_empty() {
        os.id.clone()
    } else {
        format!("{}@{}", os.id, os.version_id)
    }
}

/// The package manager's name as the JSON report spells it (`deb`, `python`…); going through
/// serde covers kinds added later without a match here.
fn kind_name(package: &Package) -> String {
    match serde_json::to_value(package.kind) {
        Ok(Value::String(name)) => name,
        _ => String::new(),
    }
}

fn source_info(package: &Package) -> Option<String> {
    let name = package.source_name.as_deref()?;
    Some(match &package.source_version {
        Some(version) => format!("built from source package {name} {version}"),
        None => format!("built from source package {name}"),
    })
}

/// Hands out bom-refs, which must be unique in a document: a component's purl, or the purl with
/// `|2`, `|3`… when the same package is installed more than once (two virtualenvs). `|` never
/// occurs in a purl palisade writes, so a suffixed ref cannot take another package's purl.
#[derive(Debug, Default)]
struct RefAllocator {
    taken: HashSet<String>,
}

impl RefAllocator {
    fn take(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_owned();
        let mut n = 1;
        while !self.taken.insert(candidate.clone()) {
            n += 1;
            candidate = format!("{wanted}|{n}");
        }
        candidate
    }
}

/// CycloneDX vulnerabilities, in the order given. The scan reports an advisory once per
/// affected installation; CycloneDX lists it once with every affected component, so entries
/// that differ only in their purl are merged. Entries that differ otherwise (one of them
/// ignored, say) stay apart, since `analysis` belongs to the whole vulnerability.
fn cyclonedx_vulnerabilities(
    entries: &[VulnerabilityEntry],
    refs_by_purl: &HashMap<&str, Vec<String>>,
) -> Vec<Value> {
    let mut merged: Vec<(Value, Vec<String>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for entry in entries {
        let body = vulnerability_body(entry);
        let i = *index.entry(body.to_string()).or_insert_with(|| {
            merged.push((body, Vec::new()));
            merged.len() - 1
        });
        let Some((_, affects)) = merged.get_mut(i) else {
            continue;
        };
        // Every installation with that purl is affected; a purl not in the inventory has no
        // component to point at, and a dangling ref would make the document invalid.
        for bom_ref in refs_by_purl.get(entry.purl.as_str()).into_iter().flatten() {
            if !affects.contains(bom_ref) {
                affects.push(bom_ref.clone());
            }
        }
    }
    merged
        .into_iter()
        .map(|(mut body, affects)| {
            if let (Some(map), false) = (body.as_object_mut(), affects.is_empty()) {
                let affects = affects.into_iter().map(|r| json!({"ref": r})).collect();
                map.insert("affects".into(), Value::Array(affects));
            }
            body
        })
        .collect()
}

fn vulnerability_body(entry: &VulnerabilityEntry) -> Value {
    let (source_name, default_url) = advisory_source(&entry.id);
    let mut aliases: Vec<&str> = Vec::new();
    for alias in &entry.aliases {
        if *alias != entry.id && !aliases.contains(&alias.as_str()) {
            aliases.push(alias);
        }
    }
    let references: Vec<Value> = aliases
        .iter()
        .map(|alias| {
            let (name, url) = advisory_source(alias);
            json!({"id": alias, "source": {"name": name, "url": url}})
        })
        .collect();
    let rating = object([
        (
            "score",
            entry.score.filter(|s| s.is_finite()).map(|s| json!(s)),
        ),
        ("severity", Some(json!(severity(&entry.severity)))),
        (
            "method",
            rating_method(entry.method.as_deref(), entry.vector.as_deref()).map(|m| json!(m)),
        ),
        ("vector", entry.vector.as_ref().map(|v| json!(v))),
    ]);
    object([
        ("id", Some(json!(entry.id))),
        (
            "source",
            Some(json!({
                "name": source_name,
                "url": entry.source_url.clone().unwrap_or(default_url),
            })),
        ),
        (
            "references",
            (!references.is_empty()).then_some(Value::Array(references)),
        ),
        ("ratings", Some(json!([rating]))),
        ("description", entry.description.as_ref().map(|d| json!(d))),
        (
            "recommendation",
            entry
                .fixed
                .as_ref()
                .map(|f| json!(format!("upgrade to {f}"))),
        ),
        (
            "analysis",
            entry
                .analysis
                .as_ref()
                .map(|(state, detail)| json!({"state": state, "detail": detail})),
        ),
    ])
}

/// Who publishes an advisory ID, and where it can be read, from the ID's prefix. IDs from
/// databases palisade does not know are all served by OSV, which palisade's database is built
/// from.
fn advisory_source(id: &str) -> (&'static str, String) {
    let upper = id.to_ascii_uppercase();
    if upper.starts_with("CVE-") {
        ("NVD", format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else if upper.starts_with("GHSA-") {
        (
            "GitHub Advisories",
            format!("https://github.com/advisories/{id}"),
        )
    } else {
        let name = if upper.starts_with("PYSEC-") {
            "PyPA"
        } else if ["DSA-", "DLA-", "DTSA-", "DEBIAN-"]
            .iter()
            .any(|p| upper.starts_with(p))
        {
            "Debian"
        } else {
            "OSV"
        };
        (name, format!("https://osv.dev/vulnerability/{id}"))
    }
}

/// The severity in CycloneDX's vocabulary; anything else is `unknown` rather than a value that
/// fails schema validation.
fn severity(severity: &str) -> &'static str {
    match severity.to_ascii_lowercase().as_str() {
        "critical" => "critical",
        "high" => "high",
        "medium" | "moderate" => "medium",
        "low" => "low",
        "info" => "info",
        "none" => "none",
        _ => "unknown",
    }
}

/// The rating method in CycloneDX's vocabulary. When the caller gives none but a vector, the
/// vector's prefix says which CVSS version it is.
fn rating_method(method: Option<&str>, vector: Option<&str>) -> Option<&'static str> {
    const METHODS: [&str; 7] = [
        "CVSSv2", "CVSSv3", "CVSSv31", "CVSSv4", "OWASP", "SSVC", "other",
    ];
    if let Some(method) = method {
        return Some(
            METHODS
                .into_iter()
                .find(|m| *m == method)
                .unwrap_or("other"),
        );
    }
    let vector = vector?;
    Some(if vector.starts_with("CVSS:3.1/") {
        "CVSSv31"
    } else if vector.starts_with("CVSS:3.0/") {
        "CVSSv3"
    } else if vector.starts_with("CVSS:4.0/") {
        "CVSSv4"
    } else if vector.starts_with("AV:") {
        "CVSSv2"
    } else {
        "other"
    })
}

fn subject_value(subject: &Subject) -> Value {
    json!([
        subject.name,
        subject.digest,
        subject.tool_version,
        subject.created
    ])
}

fn sha256(value: &Value) -> [u8; 32] {
    Sha256::digest(value.to_string().as_bytes()).into()
}

/// An RFC 4122 version-4 UUID URN made from the content's hash instead of random bits, so the
/// serial number is reproducible yet differs whenever the image, the inventory or the time does.
fn serial_number(content: &Value) -> String {
    let hash = sha256(content);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // the RFC 4122 variant
    let h = hex::encode(bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The digest as an SPDX checksum, when its algorithm is one SPDX names and its value is hex.
fn spdx_checksum(digest: &str) -> Option<Value> {
    let (algorithm, value) = digest.split_once(':')?;
    let algorithm = match algorithm {
        "sha256" => "SHA256",
        "sha384" => "SHA384",
        "sha512" => "SHA512",
        _ => return None,
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(json!({"algorithm": algorithm, "checksumValue": value.to_ascii_lowercase()}))
}

/// SPDX 2.3 wants exactly `YYYY-MM-DDThh:mm:ssZ`, while an RFC 3339 clock reading may carry
/// fractions of a second or `+00:00`; those are trimmed. Other offsets are passed on as given,
/// since converting them would need a calendar here for a case palisade's CLI never produces.
fn spdx_created(created: &str) -> String {
    let Some((head, tail)) = created.split_at_checked(19) else {
        return created.to_owned();
    };
    let tail = match tail.strip_prefix('.') {
        Some(fraction) => fraction.trim_start_matches(|c: char| c.is_ascii_digit()),
        None => tail,
    };
    if matches!(tail, "Z" | "z" | "+00:00" | "-00:00") {
        format!("{}Z", head.replace('t', "T"))
    } else {
        created.to_owned()
    }
}

/// The image name as one path segment of the namespace URI: anything but `[A-Za-z0-9._-]`
/// (the registry's `:` and `/`, a tag's `@`) becomes `-`.
fn uri_segment(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_image::inventory::Kind;

    fn subject() -> Subject {
        Subject {
            name: "registry:127.0.0.1:5000/ml/iris:1".into(),
            digest: Some(
                "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945".into(),
            ),
            tool_version: "0.1.0".into(),
            created: "2025-03-04T05:06:07Z".into(),
        }
    }

    fn python(name: &str, location: &str) -> Package {
        Package {
            kind: Kind::Python,
            name: name.into(),
            version: "2.2.2".into(),
            source_name: None,
            source_version: None,
            architecture: None,
            location: location.into(),
        }
    }

    fn inventory() -> Inventory {
        Inventory {
            os: Some(OsRelease {
                id: "debian".into(),
                version_id: "12".into(),
                version_codename: "bookworm".into(),
                pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            }),
            packages: vec![
                Package {
                    kind: Kind::Deb,
                    name: "zlib1g".into(),
                    version: "1:1.2.13.dfsg-1".into(),
                    source_name: Some("zlib".into()),
                    source_version: Some("1:1.2.13.dfsg-1".into()),
                    architecture: Some("amd64".into()),
                    location: "var/lib/dpkg/status".into(),
                },
                python(
                    "Flask",
                    "opt/venv/lib/python3.11/site-packages/Flask-2.2.2.dist-info/METADATA",
                ),
                python(
                    "flask",
                    "usr/lib/python3/dist-packages/flask-2.2.2.dist-info/METADATA",
                ),
            ],
            errors: Vec::new(),
        }
    }

    fn vulnerabilities() -> Vec<VulnerabilityEntry> {
        let flask = |purl: &str| VulnerabilityEntry {
            id: "GHSA-m2qf-hxjv-5gpq".into(),
            source_url: Some("https://osv.dev/vulnerability/GHSA-m2qf-hxjv-5gpq".into()),
            aliases: vec!["CVE-2023-30861".into(), "PYSEC-2023-62".into()],
            severity: "high".into(),
            score: Some(7.5),
            vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N".into()),
            method: Some("CVSSv31".into()),
            description: Some("Possible disclosure of permanent session cookie".into()),
            fixed: Some("2.2.5".into()),
            purl: purl.into(),
            analysis: None,
        };
        vec![
            // Reported once per installation; the document lists it once.
            flask("pkg:pypi/flask@2.2.2"),
            flask("pkg:pypi/flask@2.2.2"),
            VulnerabilityEntry {
                id: "DEBIAN-CVE-2023-45853".into(),
                source_url: None,
                aliases: vec!["CVE-2023-45853".into()],
                severity: "Critical".into(),
                score: Some(9.8),
                vector: Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H".into()),
                method: None,
                description: None,
                fixed: None,
                purl: "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12".into(),
                analysis: Some((
                    "not_affected".into(),
                    "minizip is not shipped in the image".into(),
                )),
            },
        ]
    }

    fn strings(value: &Value) -> Vec<&str> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect()
    }

    #[test]
    fn cyclonedx_document() {
        insta::assert_json_snapshot!(cyclonedx(&subject(), &inventory(), &vulnerabilities()));
    }

    #[test]
    fn spdx_document() {
        insta::assert_json_snapshot!(spdx(&subject(), &inventory()));
    }

    #[test]
    fn cyclonedx_refs_are_unique_and_resolve() {
        let bom = cyclonedx(&subject(), &inventory(), &vulnerabilities());
        let components = bom["components"].as_array().unwrap();
        let mut refs: Vec<&str> = components
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .collect();
        refs.push(bom["metadata"]["component"]["bom-ref"].as_str().unwrap());
        let unique: HashSet<&str> = refs.iter().copied().collect();
        assert_eq!(unique.len(), refs.len(), "{refs:?}");
        assert_eq!(components.len(), 4, "the OS and three packages");

        let vulnerabilities = bom["vulnerabilities"].as_array().unwrap();
        assert_eq!(vulnerabilities.len(), 2, "the Flask entries are merged");
        for vulnerability in vulnerabilities {
            let affects = vulnerability["affects"].as_array().unwrap();
            assert!(!affects.is_empty());
            for affected in affects {
                let r = affected["ref"].as_str().unwrap();
                assert!(components.iter().any(|c| c["bom-ref"] == r), "{r}");
            }
        }
        // Both Flask installations are affected.
        assert_eq!(vulnerabilities[0]["affects"].as_array().unwrap().len(), 2);

        let dependencies = bom["dependencies"].as_array().unwrap();
        assert_eq!(dependencies.len(), 1);
        assert_eq!(
            dependencies[0]["ref"],
            bom["metadata"]["component"]["bom-ref"]
        );
        assert_eq!(
            strings(&dependencies[0]["dependsOn"]).len(),
            components.len()
        );
        for r in strings(&dependencies[0]["dependsOn"]) {
            assert!(unique.contains(r), "{r}");
        }
    }

    #[test]
    fn spdx_relationships_refer_to_declared_ids() {
        let document = spdx(&subject(), &inventory());
        let mut declared: HashSet<&str> = HashSet::from([SPDX_DOCUMENT]);
        for package in document["packages"].as_array().unwrap() {
            let id = package["SPDXID"].as_str().unwrap();
            let rest = id.strip_prefix("SPDXRef-").unwrap();
            assert!(
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
                "{id}"
            );
            assert!(declared.insert(id), "duplicate {id}");
        }
        assert_eq!(declared.len(), 6, "document, image, OS and three packages");
        let relationships = document["relationships"].as_array().unwrap();
        assert_eq!(relationships.len(), 5);
        for relationship in relationships {
            for key in ["spdxElementId", "relatedSpdxElement"] {
                let id = relationship[key].as_str().unwrap();
                assert!(declared.contains(id), "{id}");
            }
        }
        assert_eq!(
            relationships[0],
            relationship(SPDX_DOCUMENT, "DESCRIBES", SPDX_IMAGE)
        );
    }

    #[test]
    fn output_is_reproducible() {
        assert_eq!(
            cyclonedx(&subject(), &inventory(), &vulnerabilities()).to_string(),
            cyclonedx(&subject(), &inventory(), &vulnerabilities()).to_string()
        );
        assert_eq!(
            spdx(&subject(), &inventory()).to_string(),
            spdx(&subject(), &inventory()).to_string()
        );
        // Nor does it depend on the order the packages were found in.
        let mut reversed = inventory();
        reversed.packages.reverse();
        assert_eq!(spdx(&subject(), &inventory()), spdx(&subject(), &reversed));
        assert_eq!(
            cyclonedx(&subject(), &inventory(), &[]),
            cyclonedx(&subject(), &reversed, &[])
        );
    }

    #[test]
    fn identifiers_change_with_the_content() {
        let mut later = subject();
        later.created = "2025-03-04T05:06:08Z".into();
        let a = cyclonedx(&subject(), &inventory(), &[]);
        let b = cyclonedx(&later, &inventory(), &[]);
        assert_ne!(a["serialNumber"], b["serialNumber"]);
        let mut fewer = inventory();
        fewer.packages.pop();
        let c = spdx(&subject(), &fewer);
        assert_ne!(
            spdx(&subject(), &inventory())["documentNamespace"],
            c["documentNamespace"]
        );
    }

    #[test]
    fn serial_number_is_a_version_4_uuid() {
        let serial = serial_number(&json!("anything"));
        let uuid = serial.strip_prefix("urn:uuid:").unwrap();
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(uuid
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert!(groups[2].starts_with('4'));
        assert!(matches!(
            groups[3].chars().next(),
            Some('8' | '9' | 'a' | 'b')
        ));
    }

    #[test]
    fn a_plain_sbom_of_a_bare_image() {
        let bare = Subject {
            digest: None,
            ..subject()
        };
        let inventory = Inventory::default();
        let bom = cyclonedx(&bare, &inventory, &[]);
        assert!(bom.get("vulnerabilities").is_none());
        assert!(bom["metadata"]["component"].get("version").is_none());
        assert_eq!(bom["components"], json!([]));
        let document = spdx(&bare, &inventory);
        assert!(document["packages"][0].get("checksums").is_none());
        assert_eq!(document["packages"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn vulnerabilities_that_differ_stay_apart() {
        let mut entries = vulnerabilities();
        entries[1].analysis = Some(("not_affected".into(), "behind the gateway".into()));
        entries[1].purl = "pkg:pypi/unknown@1.0".into();
        let bom = cyclonedx(&subject(), &inventory(), &entries);
        let vulnerabilities = bom["vulnerabilities"].as_array().unwrap();
        assert_eq!(vulnerabilities.len(), 3);
        // A purl with no component gets no dangling ref.
        assert!(vulnerabilities[1].get("affects").is_none());
        assert_eq!(vulnerabilities[1]["analysis"]["state"], "not_affected");
    }

    #[test]
    fn ratings_use_cyclonedx_vocabulary() {
        assert_eq!(severity("MODERATE"), "medium");
        assert_eq!(severity("important"), "unknown");
        assert_eq!(rating_method(Some("CVSSv4"), None), Some("CVSSv4"));
        assert_eq!(rating_method(Some("cvss3"), None), Some("other"));
        assert_eq!(
            rating_method(None, Some("CVSS:4.0/AV:N/AC:L/AT:N")),
            Some("CVSSv4")
        );
        assert_eq!(
            rating_method(None, Some("AV:N/AC:L/Au:N/C:P/I:P/A:P")),
            Some("CVSSv2")
        );
        assert_eq!(rating_method(None, None), None);
    }

    #[test]
    fn spdx_timestamps_are_whole_seconds_in_utc() {
        assert_eq!(
            spdx_created("2025-03-04T05:06:07.123456789Z"),
            "2025-03-04T05:06:07Z"
        );
        assert_eq!(
            spdx_created("2025-03-04t05:06:07+00:00"),
            "2025-03-04T05:06:07Z"
        );
        assert_eq!(
            spdx_created("2025-03-04T05:06:07+01:00"),
            "2025-03-04T05:06:07+01:00"
        );
        assert_eq!(spdx_created("garbage"), "garbage");
    }

    #[test]
    fn checksums_only_for_known_algorithms() {
        assert_eq!(
            spdx_checksum("sha256:ABCDEF01"),
            Some(json!({"algorithm": "SHA256", "checksumValue": "abcdef01"}))
        );
        assert_eq!(spdx_checksum("md5:abcd"), None);
        assert_eq!(spdx_checksum("sha256:not-hex"), None);
        assert_eq!(spdx_checksum("sha256"), None);
    }

    #[test]
    fn duplicate_refs_get_a_counter() {
        let mut refs = RefAllocator::default();
        assert_eq!(refs.take("pkg:pypi/flask@2.2.2"), "pkg:pypi/flask@2.2.2");
        assert_eq!(refs.take("pkg:pypi/flask@2.2.2"), "pkg:pypi/flask@2.2.2|2");
        assert_eq!(refs.take("pkg:pypi/flask@2.2.2"), "pkg:pypi/flask@2.2.2|3");
    }
}
