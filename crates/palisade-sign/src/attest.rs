//! Scan attestations as cosign stores them: an in-toto statement with cosign's vuln predicate
//! (`https://cosign.sigstore.dev/attestation/vuln/v1`) whose `scanner.result` is palisade's scan
//! report, or with palisade's model-scan predicate (`https://palisade.dev/attestation/model-scan/v1`)
//! whose `scanner.result` is the model scan of an OCI model artifact; signed in a DSSE envelope
//! (ECDSA P-256 over the DSSE pre-authentication encoding), stored as a layer of media type
//! `application/vnd.dsse.envelope.v1+json` with a `predicateType` annotation in an OCI manifest
//! tagged `sha256-<hex>.att` (and as an OCI 1.1 referrer). The statement and the envelope are
//! `palisade_sign_core`'s; this module pushes, pulls and judges them.

use p256::ecdsa::VerifyingKey;
use serde_json::json;

use palisade_core::image_ref::ImageRef;
use palisade_oci::manifest::{Descriptor, ManifestOrIndex, OCI_MANIFEST};
use palisade_oci::referrers::{EMPTY_CONTENT, EMPTY_MEDIA_TYPE};
use palisade_oci::{parse_json, verify_digest, Repository};
use palisade_vuln::severity::Severity;

pub use palisade_sign_core::dsse::DSSE_MEDIA_TYPE;
use palisade_sign_core::dsse::{envelope, open_envelope};
pub use palisade_sign_core::intoto::{
    attestation_tag, model_scan_statement, statement, ModelSeverity, IN_TOTO_PAYLOAD,
    MODEL_SCAN_PREDICATE, STATEMENT_TYPE, VULN_PREDICATE,
};
use palisade_sign_core::keys::KeyPair;

use crate::cosign::{Rejection, SignError, MAX_LAYERS_EXAMINED};

/// Signs and pushes a vulnerability attestation, keeping other attestations already there.
pub fn attest(
    repo: &Repository,
    reference: &ImageRef,
    key: &KeyPair,
    scan: &serde_json::Value,
    started: &str,
    finished: &str,
) -> Result<String, SignError> {
    push_attestation(
        repo,
        reference,
        key,
        VULN_PREDICATE,
        finished,
        |name, digest| Ok(statement(name, digest, scan, started, finished)),
    )
}

/// Signs and pushes a model-scan attestation of the artifact `reference` names; `result` is the
/// report of `palisade scan model oci://...`, whose `digest` must be the artifact's (an attestation
/// states what was scanned, never what a tag points at later).
pub fn attest_model_scan(
    repo: &Repository,
    reference: &ImageRef,
    key: &KeyPair,
    result: &serde_json::Value,
    started: &str,
    finished: &str,
) -> Result<String, SignError> {
    push_attestation(
        repo,
        reference,
        key,
        MODEL_SCAN_PREDICATE,
        finished,
        |name, digest| {
            if result["digest"] != digest {
                return Err(SignError::Invalid(format!(
                    "the model scan is of {}, not of {name}@{digest}",
                    result["digest"]
                )));
            }
            Ok(model_scan_statement(
                name, digest, result, started, finished,
            ))
        },
    )
}

/// Signs the statement `make` writes for the manifest `reference` names (given its name and
/// digest) and pushes it under the `.att` tag and as an OCI 1.1 referrer.
fn push_attestation(
    repo: &Repository,
    reference: &ImageRef,
    key: &KeyPair,
    predicate_type: &str,
    finished: &str,
    make: impl FnOnce(&str, &str) -> Result<serde_json::Value, SignError>,
) -> Result<String, SignError> {
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (manifest, media_type, digest) = repo.manifest(&wanted)?;
    let document = envelope(&make(&reference.full_name(), &digest)?, key);
    let body = serde_json::to_vec(&document).map_err(|e| SignError::Invalid(e.to_string()))?;
    let layer_digest = repo.push_blob(&body)?;
    let layer = json!({
        "mediaType": DSSE_MEDIA_TYPE,
        "size": body.len(),
        "digest": layer_digest,
        "annotations": {"predicateType": predicate_type},
    });
    crate::cosign::append_layer(repo, &attestation_tag(&digest), layer.clone())?;
    // The same envelope as an OCI 1.1 referrer, for clients that look there.
    repo.push_blob(EMPTY_CONTENT)?;
    let referrer = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": DSSE_MEDIA_TYPE,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": palisade_oci::sha256_digest(EMPTY_CONTENT),
            "size": EMPTY_CONTENT.len(),
        },
        "layers": [layer],
        "subject": {"mediaType": media_type, "digest": digest, "size": manifest.len()},
        "annotations": {"org.opencontainers.image.created": finished},
    }))
    .map_err(|e| SignError::Invalid(e.to_string()))?;
    let annotations = [(
        "org.opencontainers.image.created".to_owned(),
        finished.to_owned(),
    )]
    .into();
    repo.push_referrer(&digest, &referrer, DSSE_MEDIA_TYPE, &annotations)?;
    Ok(digest)
}

/// What a scan attestation must show.
#[derive(Debug, Clone)]
pub struct ScanRequirement {
    /// The most severe finding allowed.
    pub max_severity: Severity,
    /// How old the scan may be.
    pub max_age: std::time::Duration,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// The severity of an attested finding, by palisade's own words only (what `palisade scan` writes);
/// any other word counts as the worst, since a report this verifier cannot read must not pass for
/// a clean one.
fn attested_severity(word: &str) -> Severity {
    Severity::ALL
        .into_iter()
        .find(|s| s.as_str() == word)
        .unwrap_or(Severity::Critical)
}

/// How far in the future a signed scan time may lie (clocks of CI and cluster disagree a little).
/// Beyond it the attestation is not valid: one dated ahead would otherwise outrank every later
/// scan until that date.
const CLOCK_SKEW_SECS: i64 = 300;

/// One attestation that verified: signed by a trusted key, a vulnerability scan of the image.
struct Valid {
    layer: String,
    /// Its signed `scanFinishedOn`, in Unix nanoseconds (attestations made within one second
    /// must still be ordered).
    finished: i128,
    finished_text: String,
    statement: serde_json::Value,
}

/// What a model-scan attestation must show.
#[derive(Debug, Clone)]
pub struct ModelScanRequirement {
    /// A finding at least this severe fails (`scan model --fail-on`'s scale).
    pub fail_on: ModelSeverity,
    /// How old the scan may be.
    pub max_age: std::time::Duration,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// Whether a vulnerability attestation of the image, signed by one of `keys`, meets
/// `requirement`. Attestations are read from cosign's `.att` tag, then from OCI 1.1 referrers (the
/// referrers API, or the tag schema where the registry lacks it); the same envelope found both
/// ways counts once. Of the attestations that verify (a trusted signature over a vulnerability
/// scan of this digest), the newest by its signed scan time decides: an older passing scan never
/// outvotes a newer failing one, and a newer passing scan replaces an older failing one at once.
/// `Ok(())`, or why not (the newest scan's failure, or one reason per attestation examined when
/// none verifies).
pub fn verify_scan(
    repo: &Repository,
    digest: &str,
    keys: &[VerifyingKey],
    requirement: &ScanRequirement,
) -> Result<(), Rejection> {
    verify_attested(
        repo,
        digest,
        keys,
        requirement.now,
        VULN_PREDICATE,
        |valid| judge_scan(valid, requirement),
    )
}

/// As [`verify_scan`], for a model-scan attestation of an OCI model artifact
/// ([`MODEL_SCAN_PREDICATE`]): the newest one signed by one of `keys` for exactly `digest` must be
/// fresh and have found nothing at or above `requirement.fail_on`.
pub fn verify_model_scan(
    repo: &Repository,
    digest: &str,
    keys: &[VerifyingKey],
    requirement: &ModelScanRequirement,
) -> Result<(), Rejection> {
    verify_attested(
        repo,
        digest,
        keys,
        requirement.now,
        MODEL_SCAN_PREDICATE,
        |valid| judge_model_scan(valid, requirement),
    )
}

/// The attestations of `digest` with `predicate` that verify, the newest judged by `judge`.
fn verify_attested(
    repo: &Repository,
    digest: &str,
    keys: &[VerifyingKey],
    now: i64,
    predicate: &str,
    judge: impl Fn(&Valid) -> Result<(), String>,
) -> Result<(), Rejection> {
    let denied = |m: String| Rejection::Denied(vec![m]);
    let mut layers: Vec<Descriptor> = Vec::new();
    let tag = attestation_tag(digest);
    match repo.manifest(&tag) {
        Ok((bytes, _, _)) => {
            let manifest =
                parse_json::<ManifestOrIndex>(repo.location(), "attestation manifest", &bytes)
                    .map_err(|e| denied(e.to_string()))?;
            layers.extend(manifest.layers.unwrap_or_default());
        }
        Err(e) if e.not_found => {}
        Err(e) => return Err(e.into()),
    }
    for referrer in repo
        .referrers(digest, DSSE_MEDIA_TYPE)?
        .into_iter()
        .take(MAX_LAYERS_EXAMINED)
    {
        let (bytes, _, _) = repo.manifest(&referrer.digest)?;
        let manifest = parse_json::<ManifestOrIndex>(repo.location(), "referrer", &bytes)
            .map_err(|e| denied(e.to_string()))?;
        layers.extend(manifest.layers.unwrap_or_default());
    }
    let mut seen = std::collections::HashSet::new();
    // A layer annotated as another predicate is not fetched (the annotation is unsigned, so it
    // can only hide an attestation, as deleting it could); one without the annotation is.
    layers.retain(|l| {
        l.media_type == DSSE_MEDIA_TYPE
            && l.annotations
                .get("predicateType")
                .is_none_or(|p| p == predicate)
            && seen.insert(l.digest.clone())
    });
    if layers.is_empty() {
        return Err(denied(format!(
            "no attestation of type {predicate}: no such layer under the {tag} tag nor in an OCI 1.1 referrer of type {DSSE_MEDIA_TYPE}"
        )));
    }

    let mut reasons = Vec::new();
    let mut newest: Vec<Valid> = Vec::new();
    for layer in layers.iter().take(MAX_LAYERS_EXAMINED) {
        match open_attestation(repo, layer, keys, digest, now, predicate)? {
            Ok(valid) => match newest.first().map(|n| valid.finished.cmp(&n.finished)) {
                None | Some(std::cmp::Ordering::Equal) => newest.push(valid),
                Some(std::cmp::Ordering::Greater) => newest = vec![valid],
                Some(std::cmp::Ordering::Less) => {}
            },
            Err(reason) => reasons.push(format!("{}: {reason}", layer.digest)),
        }
    }
    if newest.is_empty() {
        return Err(Rejection::Denied(reasons));
    }
    // Attestations signed at the same instant are all the newest: each must pass.
    let failures: Vec<String> = newest
        .iter()
        .filter_map(|valid| {
            judge(valid)
                .err()
                .map(|reason| format!("{} (the newest attestation): {reason}", valid.layer))
        })
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Rejection::Denied(failures))
    }
}

/// Reads and checks one attestation layer: `Err` if the registry could not be read, `Ok(Err)`
/// with the reason if the attestation is not a valid scan of `digest` by a trusted key.
fn open_attestation(
    repo: &Repository,
    layer: &Descriptor,
    keys: &[VerifyingKey],
    digest: &str,
    now: i64,
    predicate: &str,
) -> Result<Result<Valid, String>, Rejection> {
    let mut body = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(repo.blob(&layer.digest)?, MAX_ENVELOPE),
        &mut body,
    )
    .map_err(|e| Rejection::Unreachable(format!("{}: {e}", repo.location())))?;
    if let Err(e) = verify_digest(repo.location(), &layer.digest, &body) {
        return Ok(Err(format!("tampered attestation: {e}")));
    }
    let envelope: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(envelope) => envelope,
        Err(e) => return Ok(Err(format!("not a DSSE envelope: {e}"))),
    };
    let mut statement = Err(String::new());
    for key in keys {
        statement = open_envelope(&envelope, key);
        if statement.is_ok() {
            break;
        }
    }
    Ok(statement.and_then(|statement| {
        let (finished, finished_text) = validate_statement(&statement, digest, now, predicate)?;
        Ok(Valid {
            layer: layer.digest.clone(),
            finished,
            finished_text,
            statement,
        })
    }))
}

/// The largest attestation envelope read: scan reports of big images run to a few MiB.
const MAX_ENVELOPE: u64 = 16 << 20;

/// Whether a verified statement is a scan of `digest` with `predicate`, with a signed finish
/// time that is not in the future: that time, in Unix nanoseconds and as written.
fn validate_statement(
    statement: &serde_json::Value,
    digest: &str,
    now: i64,
    predicate: &str,
) -> Result<(i128, String), String> {
    if statement["predicateType"] != predicate {
        return Err(format!(
            "predicate {}, not {predicate}",
            statement["predicateType"]
        ));
    }
    let subject = statement["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|s| s["digest"]["sha256"] == digest.trim_start_matches("sha256:"));
    if !subject {
        return Err("the attestation is for another digest".into());
    }
    let finished = statement["predicate"]["metadata"]["scanFinishedOn"]
        .as_str()
        .unwrap_or_default();
    let when =
        time::OffsetDateTime::parse(finished, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("scanFinishedOn {finished:?}: {e}"))?
            .unix_timestamp_nanos();
    if when / 1_000_000_000 - i128::from(now) > i128::from(CLOCK_SKEW_SECS) {
        return Err(format!(
            "scanFinishedOn {finished} is in the future: the attestation cannot be ordered against later scans"
        ));
    }
    Ok((when, finished.to_string()))
}

/// Whether the newest valid scan meets `requirement`: recent enough, nothing it found above the
/// allowed severity, and it covered the image's model files.
fn judge_scan(valid: &Valid, requirement: &ScanRequirement) -> Result<(), String> {
    fresh(valid, requirement.now, requirement.max_age)?;
    let result = &valid.statement["predicate"]["scanner"]["result"];
    // The word as the report wrote it (for the message) and how it ranks.
    let mut worst: Option<(Severity, &str, &str)> = None;
    for finding in result["findings"].as_array().into_iter().flatten() {
        let word = finding["severity"].as_str().unwrap_or("critical");
        let severity = attested_severity(word);
        if worst.is_none_or(|(w, _, _)| severity > w) {
            worst = Some((severity, word, finding["id"].as_str().unwrap_or("")));
        }
    }
    for model in result["models"].as_array().into_iter().flatten() {
        // As `palisade scan image` ranks them: a dangerous model file is critical, any other
        // model finding medium.
        let severity = if model["severity"] == "dangerous" {
            Severity::Critical
        } else {
            Severity::Medium
        };
        if worst.is_none_or(|(w, _, _)| severity > w) {
            worst = Some((
                severity,
                severity.as_str(),
                model["path"].as_str().unwrap_or(""),
            ));
        }
    }
    if let Some((severity, word, id)) = worst {
        if severity > requirement.max_severity {
            return Err(format!(
                "the scan found {word} ({id}), above {}",
                requirement.max_severity
            ));
        }
    }
    if !result["modelScan"].is_object() {
        return Err(
            "the scan did not cover the image's model files (a report made with --no-model-scan, or by a palisade that left them out): attest a scan made by `palisade attest --scan`".into(),
        );
    }
    Ok(())
}

/// Whether the scan finished at most `max_age` before `now`.
fn fresh(valid: &Valid, now: i64, max_age: std::time::Duration) -> Result<(), String> {
    if i128::from(now) - valid.finished / 1_000_000_000 > i128::from(max_age.as_secs()) {
        return Err(format!(
            "stale: the scan finished {}, more than {}s ago; attest a new scan",
            valid.finished_text,
            max_age.as_secs()
        ));
    }
    Ok(())
}

/// Whether the newest valid model scan meets `requirement`: recent enough, complete (no file it
/// could not read), and no finding at or above `fail_on` (a severity word it cannot read counts
/// as dangerous).
fn judge_model_scan(valid: &Valid, requirement: &ModelScanRequirement) -> Result<(), String> {
    fresh(valid, requirement.now, requirement.max_age)?;
    let result = &valid.statement["predicate"]["scanner"]["result"];
    if !result["files"].is_array() {
        return Err("the attestation holds no model scan report (no files scanned)".into());
    }
    if let Some(errors) = result["errors"].as_array().filter(|e| !e.is_empty()) {
        return Err(format!(
            "the scan could not read everything ({} errors, the first: {})",
            errors.len(),
            errors[0]
        ));
    }
    let worst = result["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                ModelSeverity::from_word(f["severity"].as_str().unwrap_or("")),
                f,
            )
        })
        .max_by_key(|(severity, _)| *severity);
    if let Some((severity, finding)) = worst {
        if severity >= requirement.fail_on {
            return Err(format!(
                "the scan found {severity} ({} in {}), at or above {}",
                finding["rule"].as_str().unwrap_or("?"),
                finding["location"]["file"].as_str().unwrap_or("?"),
                requirement.fail_on
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_statement(result: serde_json::Value, finished: &str) -> serde_json::Value {
        super::statement("r/x", "sha256:ab", &result, finished, finished)
    }

    fn requirement(max_severity: &str, now: &str) -> ScanRequirement {
        ScanRequirement {
            max_severity: max_severity.parse().unwrap(),
            max_age: std::time::Duration::from_secs(3600),
            now: time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
                .unwrap()
                .unix_timestamp(),
        }
    }

    fn valid(statement: serde_json::Value, now: i64) -> Valid {
        valid_for(statement, now, VULN_PREDICATE)
    }

    fn valid_for(statement: serde_json::Value, now: i64, predicate: &str) -> Valid {
        let (finished, finished_text) =
            validate_statement(&statement, "sha256:ab", now, predicate).unwrap();
        Valid {
            layer: "sha256:layer".into(),
            finished,
            finished_text,
            statement,
        }
    }

    #[test]
    fn hardening_00_a_scan_that_left_out_model_files_does_not_pass() {
        let now = requirement("high", "2026-01-01T00:10:00Z");
        let clean_without_models = scan_statement(
            json!({"findings": [], "models": []}),
            "2026-01-01T00:00:00Z",
        );
        let reason = judge_scan(&valid(clean_without_models, now.now), &now).unwrap_err();
        assert!(
            reason.contains("did not cover the image's model files"),
            "{reason}"
        );
        let covered = scan_statement(
            json!({"findings": [], "models": [], "modelScan": {"imagePaths": ["/models"], "allowedGlobals": []}}),
            "2026-01-01T00:00:00Z",
        );
        judge_scan(&valid(covered, now.now), &now).unwrap();
        let dangerous = scan_statement(
            json!({"findings": [], "modelScan": {"imagePaths": [], "allowedGlobals": []},
                   "models": [{"severity": "dangerous", "path": "/models/m.pkl"}]}),
            "2026-01-01T00:00:00Z",
        );
        let reason = judge_scan(&valid(dangerous, now.now), &now).unwrap_err();
        assert!(reason.contains("critical (/models/m.pkl)"), "{reason}");
    }

    #[test]
    fn hardening_00_severities_outside_the_scale_count_as_the_worst() {
        let now = requirement("high", "2026-01-01T00:10:00Z");
        for severity in [
            json!("CRITICAL"),
            json!("severe"),
            json!(9.8),
            serde_json::Value::Null,
        ] {
            let statement = scan_statement(
                json!({"findings": [{"id": "X-1", "severity": severity}],
                       "modelScan": {"imagePaths": [], "allowedGlobals": []}}),
                "2026-01-01T00:00:00Z",
            );
            assert!(
                judge_scan(&valid(statement, now.now), &now).is_err(),
                "{severity} passed"
            );
        }
    }

    fn model_requirement(fail_on: &str, now: &str) -> ModelScanRequirement {
        let scan = requirement("high", now);
        ModelScanRequirement {
            fail_on: fail_on.parse().unwrap(),
            max_age: scan.max_age,
            now: scan.now,
        }
    }

    fn valid_model_scan(result: serde_json::Value, finished: &str, now: i64) -> Valid {
        let statement = model_scan_statement("r/m", "sha256:ab", &result, finished, finished);
        valid_for(statement, now, MODEL_SCAN_PREDICATE)
    }

    #[test]
    fn model_scans_are_judged_by_findings_completeness_and_age() {
        let at = "2026-01-01T00:00:00Z";
        let now = model_requirement("dangerous", "2026-01-01T00:10:00Z");
        let finding = |severity: serde_json::Value| {
            json!({"files": [{"path": "model.pkl", "format": "pickle"}], "errors": [],
                   "findings": [{"rule": "model/dangerous-global", "severity": severity,
                                 "location": {"file": "model.pkl", "offset": 3}}]})
        };
        // Below the limit: passes; at it: fails, naming the rule and the file.
        judge_model_scan(
            &valid_model_scan(finding(json!("suspicious")), at, now.now),
            &now,
        )
        .unwrap();
        let reason = judge_model_scan(
            &valid_model_scan(finding(json!("dangerous")), at, now.now),
            &now,
        )
        .unwrap_err();
        assert_eq!(
            reason,
            "the scan found dangerous (model/dangerous-global in model.pkl), at or above dangerous"
        );
        let strict = model_requirement("suspicious", "2026-01-01T00:10:00Z");
        assert!(judge_model_scan(
            &valid_model_scan(finding(json!("suspicious")), at, now.now),
            &strict
        )
        .is_err());
        // A word outside the scale counts as dangerous.
        for word in [
            json!("DANGEROUS"),
            json!("critical"),
            json!(3),
            serde_json::Value::Null,
        ] {
            assert!(
                judge_model_scan(&valid_model_scan(finding(word.clone()), at, now.now), &now)
                    .is_err(),
                "{word}"
            );
        }
        // A scan that could not read everything, or holds no report, does not pass.
        let incomplete =
            json!({"files": [], "findings": [], "errors": ["layer sha256:cd: truncated"]});
        let reason =
            judge_model_scan(&valid_model_scan(incomplete, at, now.now), &now).unwrap_err();
        assert!(reason.contains("could not read everything"), "{reason}");
        assert!(judge_model_scan(&valid_model_scan(json!({}), at, now.now), &now).is_err());
        // Stale.
        let later = model_requirement("dangerous", "2026-01-09T00:00:00Z");
        let reason = judge_model_scan(
            &valid_model_scan(finding(json!("info")), at, later.now),
            &later,
        )
        .unwrap_err();
        assert!(reason.starts_with("stale"), "{reason}");
        // A vulnerability statement is not a model scan, nor the reverse.
        let vuln = statement("r/m", "sha256:ab", &json!({}), at, at);
        assert!(validate_statement(&vuln, "sha256:ab", now.now, MODEL_SCAN_PREDICATE).is_err());
        let model = model_scan_statement("r/m", "sha256:ab", &json!({}), at, at);
        assert!(validate_statement(&model, "sha256:ab", now.now, VULN_PREDICATE).is_err());
        // Nor is a model scan of another digest.
        let reason =
            validate_statement(&model, "sha256:cd", now.now, MODEL_SCAN_PREDICATE).unwrap_err();
        assert_eq!(reason, "the attestation is for another digest");
    }

    #[test]
    fn hardening_00_scans_dated_in_the_future_are_not_valid() {
        let now = requirement("high", "2026-01-01T00:00:00Z").now;
        let ahead = scan_statement(json!({}), "2026-01-01T01:00:00Z");
        let reason = validate_statement(&ahead, "sha256:ab", now, VULN_PREDICATE).unwrap_err();
        assert!(reason.contains("in the future"), "{reason}");
        // A few minutes of clock skew are tolerated.
        let skewed = scan_statement(json!({}), "2026-01-01T00:02:00Z");
        validate_statement(&skewed, "sha256:ab", now, VULN_PREDICATE).unwrap();
        // Scans made within the same second are still ordered.
        let (a, _) = validate_statement(
            &scan_statement(json!({}), "2026-01-01T00:00:00.100Z"),
            "sha256:ab",
            now,
            VULN_PREDICATE,
        )
        .unwrap();
        let (b, _) = validate_statement(
            &scan_statement(json!({}), "2026-01-01T00:00:00.200Z"),
            "sha256:ab",
            now,
            VULN_PREDICATE,
        )
        .unwrap();
        assert!(b > a);
    }
}
