//! Joining an inventory with the vulnerability database: which advisories affect which installed
//! packages, after the ignore rules.

use serde::Serialize;

use palisade_image::inventory::{os_release::OsRelease, Inventory, Kind, Package};
use palisade_vuln::db::{Database, Metadata};
use palisade_vuln::severity::Severity;

use crate::ignore::IgnoreRule;

/// One advisory affecting one installed package.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnFinding {
    pub id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub package: String,
    pub version: String,
    pub kind: Kind,
    pub purl: String,
    /// The package record's file inside the image.
    pub location: String,
    /// The advisory's package when it is filed against the source package (distro records).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_package: Option<String>,
    /// The lowest version that fixes it; `None` when no fix is published.
    pub fixed: Option<String>,
}

impl VulnFinding {
    /// The finding in the shape every report shares: the advisory is the rule, the package
    /// record's file the place, the package URL the thing in it.
    pub fn diagnostic(&self) -> palisade_diagnostics::Diagnostic {
        let fix = match self.fixed.as_deref() {
            Some(version) => format!("upgrade to {version}"),
            None => "no fix published yet".to_owned(),
        };
        palisade_diagnostics::Diagnostic::new(
            self.id.clone(),
            self.severity.into(),
            format!(
                "{} {} is affected by {} ({}); {fix}",
                self.package, self.version, self.id, self.severity
            ),
        )
        .with_fix(fix)
        .at(palisade_diagnostics::Location::file(self.location.clone())
            .logical(self.purl.clone(), "package"))
        .with_fingerprint(
            "palisadeVulnerability/v1",
            format!("{}|{}|{}", self.id, self.purl, self.location),
        )
    }
}

/// A finding an ignore rule hides, with the rule's reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoredFinding {
    #[serde(flatten)]
    pub finding: VulnFinding,
    pub reason: String,
    pub expires: String,
}

/// An ignore rule that no longer applies: expired (its findings are reported again) or unused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleIgnore {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    pub line: u32,
    pub problem: String,
}

/// The operating system as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OsInfo {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

/// Everything a scan found, ready for a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanReport {
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub os: Option<OsInfo>,
    pub packages: usize,
    pub findings: Vec<VulnFinding>,
    pub ignored: Vec<IgnoredFinding>,
    pub stale_ignores: Vec<StaleIgnore>,
    /// Package records that could not be read (the rest of the inventory stands).
    pub inventory_errors: Vec<String>,
    /// Ecosystems of installed packages the database holds no advisories for: a scan that
    /// cannot see a class of packages says so instead of looking clean.
    pub uncovered_ecosystems: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<Metadata>,
    /// Findings of the model scanner for model files in the image (see [`crate::models`]).
    pub models: Vec<crate::models::ModelFinding>,
    /// Where model files were looked for and what was allowed in them; absent when the scan left
    /// model files out, so that an attestation of such a report is not taken for a clean one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_scan: Option<ModelScanCoverage>,
    /// Findings in the image's configuration (today: `LD_PRELOAD` in its `Env`); absent from
    /// JSON when there are none, so reports of other images are unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image_config: Vec<ImageConfigFinding>,
}

/// A finding in the image's configuration blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageConfigFinding {
    /// Stable rule ID: `palisade/image-ld-preload`.
    pub rule: String,
    pub severity: Severity,
    /// The configuration field, e.g. `config.Env`.
    pub field: String,
    pub message: String,
    pub fix: String,
}

/// The rule of [`ImageConfigFinding`]s for `LD_PRELOAD`.
pub const IMAGE_LD_PRELOAD: &str = "palisade/image-ld-preload";

impl ImageConfigFinding {
    /// The findings for an image configuration: `LD_PRELOAD` set (non-empty) in its `Env`, which
    /// every process of the container, and any hook that runs in its namespaces, loads first
    /// (the CVE-2025-23266 escape from the NVIDIA Container Toolkit's hook).
    pub fn of(config: &palisade_image::config::ImageConfig) -> Vec<ImageConfigFinding> {
        let value = config
            .config
            .as_ref()
            .and_then(|run| run.env_var("LD_PRELOAD"))
            .filter(|v| !v.trim().is_empty());
        value
            .map(|v| ImageConfigFinding {
                rule: IMAGE_LD_PRELOAD.into(),
                severity: Severity::High,
                field: "config.Env".into(),
                message: format!("the image's configuration sets LD_PRELOAD={v}: every process in the container (and a runtime hook run in it, CVE-2025-23266) loads it first"),
                fix: "remove LD_PRELOAD from the image's ENV; load the library explicitly".into(),
            })
            .into_iter()
            .collect()
    }

    /// The finding in the shape every report shares: the image (`target`) is the place, the
    /// configuration field the thing in it.
    pub fn diagnostic(&self, target: &str) -> palisade_diagnostics::Diagnostic {
        palisade_diagnostics::Diagnostic::new(
            self.rule.clone(),
            self.severity.into(),
            self.message.clone(),
        )
        .with_fix(self.fix.clone())
        .at(palisade_diagnostics::Location::file(target).logical(self.field.clone(), "field"))
    }
}

/// What the model scan of an image covered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelScanCoverage {
    /// `models.imagePaths`: the directories searched (an empty list searches the whole image).
    pub image_paths: Vec<String>,
    /// `models.allowedGlobals`: pickle globals allowed beyond the built-in list.
    pub allowed_globals: Vec<String>,
}

/// How to filter findings.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Leave out findings with no published fix.
    pub ignore_unfixed: bool,
    pub ignore_rules: Vec<IgnoreRule>,
    /// Today as (year, month, day), for expiries.
    pub today: (u32, u32, u32),
}

/// The OSV ecosystems whose records apply to a package, most specific first.
pub fn ecosystems_for(package: &Package, os: Option<&OsRelease>) -> Vec<String> {
    let release = os.map(|o| o.version_id.as_str()).unwrap_or_default();
    let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    match package.kind {
        Kind::Python => vec!["PyPI".into()],
        Kind::Cargo => vec!["crates.io".into()],
        Kind::Deb => match os.map(|o| o.id.as_str()) {
            Some("ubuntu") => vec![
                format!("Ubuntu:{release}"),
                format!("Ubuntu:{release}:LTS"),
                format!("Ubuntu:Pro:{release}:LTS"),
            ],
            // Debian's major release: `12`, whatever point release os-release names.
            _ => vec![format!(
                "Debian:{}",
                release.split('.').next().unwrap_or_default()
            )],
        },
        Kind::Apk => match os.map(|o| o.id.as_str()) {
            Some("wolfi") => vec!["Wolfi".into()],
            Some("chainguard") => vec!["Chainguard".into()],
            _ => vec![format!("Alpine:v{}", major_minor(release))],
        },
        Kind::Rpm => {
            let major = release.split('.').next().unwrap_or_default();
            match os.map(|o| o.id.as_str()) {
                Some("rocky") => vec![format!("Rocky Linux:{major}")],
                Some("almalinux") => vec![format!("AlmaLinux:{major}")],
                Some("opensuse-leap") => vec![format!("openSUSE:Leap {release}")],
                Some("mariner") | Some("azurelinux") => vec![
                    format!("Azure Linux:{release}"),
                    format!("Mariner:{release}"),
                ],
                Some(other) => vec![format!("{other}:{major}")],
                None => Vec::new(),
            }
        }
    }
}

/// Matches every package against the database and applies the options.
pub fn scan(
    target: &str,
    digest: Option<&str>,
    inventory: &Inventory,
    database: &Database,
    options: &ScanOptions,
) -> ScanReport {
    let os = inventory.os.as_ref();
    let mut findings = Vec::new();
    let mut uncovered = std::collections::BTreeSet::new();
    let known: std::collections::BTreeSet<&str> = database
        .metadata
        .as_ref()
        .map(|m| m.ecosystems.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for package in &inventory.packages {
        // Distro advisories are filed against the source package, at the source version.
        let (name, version) = match package.kind {
            Kind::Python | Kind::Cargo => (package.name.as_str(), package.version.as_str()),
            _ => (
                package.source_name.as_deref().unwrap_or(&package.name),
                package
                    .source_version
                    .as_deref()
                    .unwrap_or(&package.version),
            ),
        };
        let ecosystems = ecosystems_for(package, os);
        if !ecosystems.iter().any(|e| known.contains(e.as_str())) {
            if let Some(first) = ecosystems.first() {
                uncovered.insert(first.clone());
            }
        }
        let purl = package.purl(os);
        let mut seen = std::collections::BTreeSet::new();
        for ecosystem in &ecosystems {
            for hit in database.lookup(ecosystem, name, version) {
                if !seen.insert(hit.advisory.id.clone()) {
                    continue;
                }
                findings.push(VulnFinding {
                    id: hit.advisory.id.clone(),
                    aliases: hit.advisory.aliases.clone(),
                    severity: hit.advisory.severity,
                    score: hit.advisory.score,
                    vector: hit.advisory.vector.clone(),
                    summary: hit.advisory.summary.clone(),
                    url: hit.advisory.url.clone(),
                    package: package.name.clone(),
                    version: package.version.clone(),
                    kind: package.kind,
                    purl: purl.clone(),
                    location: package.location.clone(),
                    source_package: (name != package.name).then(|| name.to_owned()),
                    fixed: hit.fixed,
                });
            }
        }
    }
    if options.ignore_unfixed {
        findings.retain(|f| f.fixed.is_some());
    }
    let mut used = vec![false; options.ignore_rules.len()];
    let mut kept = Vec::new();
    let mut ignored = Vec::new();
    for finding in findings {
        let rule = options
            .ignore_rules
            .iter()
            .enumerate()
            .find(|(_, r)| r.covers(&finding.id, &finding.aliases, &finding.package));
        match rule {
            Some((i, rule)) => {
                used[i] = true;
                if rule.expired(options.today) {
                    kept.push(finding);
                } else {
                    ignored.push(IgnoredFinding {
                        finding,
                        reason: rule.reason.clone(),
                        expires: rule.expires.clone(),
                    });
                }
            }
            None => kept.push(finding),
        }
    }
    let stale_ignores = options
        .ignore_rules
        .iter()
        .zip(&used)
        .filter_map(|(rule, used)| {
            let problem = if rule.expired(options.today) {
                format!(
                    "expired on {}; its findings are reported again",
                    rule.expires
                )
            } else if !used {
                "matches no finding in this image; remove it".to_owned()
            } else {
                return None;
            };
            Some(StaleIgnore {
                id: rule.id.clone(),
                package: rule.package.clone(),
                line: rule.line,
                problem,
            })
        })
        .collect();
    let order = |f: &VulnFinding| {
        (
            std::cmp::Reverse(f.severity),
            f.package.to_lowercase(),
            f.id.clone(),
        )
    };
    kept.sort_by_key(order);
    ignored.sort_by_key(|i| order(&i.finding));
    ScanReport {
        target: target.to_owned(),
        digest: digest.map(str::to_owned),
        os: os.map(|o| OsInfo {
            id: o.id.clone(),
            version_id: o.version_id.clone(),
            pretty_name: o.pretty_name.clone(),
        }),
        packages: inventory.packages.len(),
        findings: kept,
        ignored,
        stale_ignores,
        inventory_errors: inventory.errors.iter().map(ToString::to_string).collect(),
        uncovered_ecosystems: uncovered.into_iter().collect(),
        database: database.metadata.clone(),
        models: Vec::new(),
        model_scan: None,
        image_config: Vec::new(),
    }
}

impl ScanReport {
    /// The most severe finding reported, if any. A model file that runs code when loaded counts as
    /// critical, a suspicious one as medium: one threshold gates the whole image.
    pub fn worst(&self) -> Option<Severity> {
        let models = self.models.iter().map(|m| match m.rating() {
            palisade_model::Severity::Dangerous => Severity::Critical,
            _ => Severity::Medium,
        });
        self.findings
            .iter()
            .map(|f| f.severity)
            .chain(models)
            .chain(self.image_config.iter().map(|f| f.severity))
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_image::inventory::os_release;
    use std::sync::Arc;

    fn package(kind: Kind, name: &str, version: &str, source: Option<(&str, &str)>) -> Package {
        Package {
            kind,
            name: name.into(),
            version: version.into(),
            source_name: source.map(|s| s.0.into()),
            source_version: source.map(|s| s.1.into()),
            architecture: None,
            location: "var/lib/dpkg/status".into(),
        }
    }

    fn database() -> Database {
        let debian = r#"{"id": "DSA-0000-1", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]}"#;
        let unfixed = r#"{"id": "PYSEC-0000-2", "affected": [{"package": {"ecosystem": "PyPI", "name": "flask"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#;
        let records = [debian, unfixed]
            .map(|t| palisade_vuln::Record::parse(&Arc::from("r.json"), t).unwrap());
        Database::from_records(records, vec![], "now".into())
    }

    #[test]
    fn distro_packages_match_on_their_source_package_and_release() {
        let inventory = Inventory {
            os: Some(os_release::parse("ID=debian\nVERSION_ID=\"12\"\n")),
            packages: vec![
                package(
                    Kind::Deb,
                    "libssl3",
                    "3.0.11-1~deb12u1",
                    Some(("openssl", "3.0.11-1~deb12u1")),
                ),
                package(Kind::Deb, "openssl", "3.0.11-1~deb12u2", None),
                package(Kind::Python, "Flask", "2.2.2", None),
            ],
            errors: vec![],
        };
        let report = scan("t", None, &inventory, &database(), &ScanOptions::default());
        let ids: Vec<(&str, &str)> = report
            .findings
            .iter()
            .map(|f| (f.package.as_str(), f.id.as_str()))
            .collect();
        assert_eq!(ids, [("Flask", "PYSEC-0000-2"), ("libssl3", "DSA-0000-1")]);
        let ssl = &report.findings[1];
        assert_eq!(ssl.source_package.as_deref(), Some("openssl"));
        assert_eq!(ssl.fixed.as_deref(), Some("3.0.11-1~deb12u2"));
        assert!(report.uncovered_ecosystems.is_empty());

        // Unfixed findings can be left out.
        let fixed_only = scan(
            "t",
            None,
            &inventory,
            &database(),
            &ScanOptions {
                ignore_unfixed: true,
                ..Default::default()
            },
        );
        assert_eq!(fixed_only.findings.len(), 1);
        assert_eq!(fixed_only.findings[0].id, "DSA-0000-1");

        // Debian 11 packages are not matched against Debian 12 records, and the gap is reported.
        let bullseye = Inventory {
            os: Some(os_release::parse("ID=debian\nVERSION_ID=\"11\"\n")),
            ..inventory
        };
        let report = scan("t", None, &bullseye, &database(), &ScanOptions::default());
        assert!(report.findings.iter().all(|f| f.kind == Kind::Python));
        assert_eq!(report.uncovered_ecosystems, ["Debian:11"]);
    }
}
