//! How bad an advisory is: a CVSS base score computed from the record's vectors where it has a
//! usable one, else the severity word its database declares.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::osv;

/// An advisory's severity, ordered so that `--fail-on high` can compare.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No usable rating, or a CVSS score of 0.0 (CVSS's "None").
    #[default]
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

/// A threshold on palisade's one scale as a vulnerability rating (`info` is `unknown`), for
/// requirements written on the one scale and compared with ratings.
impl From<palisade_diagnostics::Severity> for Severity {
    fn from(severity: palisade_diagnostics::Severity) -> Self {
        match severity {
            palisade_diagnostics::Severity::Info => Severity::Unknown,
            palisade_diagnostics::Severity::Low => Severity::Low,
            palisade_diagnostics::Severity::Medium => Severity::Medium,
            palisade_diagnostics::Severity::High => Severity::High,
            palisade_diagnostics::Severity::Critical => Severity::Critical,
        }
    }
}

/// Vulnerability ratings on palisade's one scale: `unknown` (no rating published) is `info`,
/// the rest keep their names.
impl From<Severity> for palisade_diagnostics::Severity {
    fn from(severity: Severity) -> Self {
        match severity {
            Severity::Unknown => palisade_diagnostics::Severity::Info,
            Severity::Low => palisade_diagnostics::Severity::Low,
            Severity::Medium => palisade_diagnostics::Severity::Medium,
            Severity::High => palisade_diagnostics::Severity::High,
            Severity::Critical => palisade_diagnostics::Severity::Critical,
        }
    }
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The CVSS qualitative rating of a base score (the bands are the same in v3 and v4). Scores
    /// outside 0.0..=10.0 are no CVSS score, so they rate as unknown.
    pub fn from_score(score: f64) -> Severity {
        if !(score > 0.0 && score <= 10.0) {
            Severity::Unknown
        } else if score < 4.0 {
            Severity::Low
        } else if score < 7.0 {
            Severity::Medium
        } else if score < 9.0 {
            Severity::High
        } else {
            Severity::Critical
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}: expected one of unknown, low, medium, high, critical")]
pub struct ParseSeverityError(String);

impl FromStr for Severity {
    type Err = ParseSeverityError;

    /// Besides palisade's own words, takes the ones advisory databases use: GitHub's `MODERATE`,
    /// Red Hat's `Important`, Ubuntu's `negligible` and `untriaged`, Debian's `unimportant`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = s.trim().to_ascii_lowercase();
        Ok(match word.as_str() {
            "unknown" | "none" | "untriaged" => Severity::Unknown,
            "low" | "negligible" | "unimportant" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" => Severity::Critical,
            _ => return Err(ParseSeverityError(s.to_owned())),
        })
    }
}

/// Where a rating came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingSource {
    /// Computed from a CVSS 4.0 vector.
    CvssV4,
    /// Computed from a CVSS 3.0 or 3.1 vector.
    CvssV3,
    /// The severity word the database declares.
    Declared,
    /// The record has nothing palisade can rate it by.
    Unrated,
}

/// An advisory's severity and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    pub severity: Severity,
    /// The CVSS base score, when the rating was computed from a vector.
    pub score: Option<f64>,
    /// The vector the score was computed from, as the record gives it.
    pub vector: Option<String>,
    pub source: RatingSource,
}

impl Rating {
    fn unrated() -> Rating {
        Rating {
            severity: Severity::Unknown,
            score: None,
            vector: None,
            source: RatingSource::Unrated,
        }
    }
}

/// Rates an OSV record from its `severity` entries and the severity its database declares
/// (`database_specific.severity`).
///
/// A CVSS 4.0 vector wins over a 3.x one, since it is the newer assessment where a database
/// gives both; among vectors of one version the first usable one counts. Vectors that do not
/// parse are skipped. Without a usable vector the declared severity counts, then the value of an
/// `Ubuntu` entry (Ubuntu's priority word).
pub fn rate(entries: &[osv::Severity], declared: Option<&str>) -> Rating {
    let mut best: Option<Rating> = None;
    for entry in entries {
        let kind = entry.kind.as_str();
        if !(kind.eq_ignore_ascii_case("CVSS_V4") || kind.eq_ignore_ascii_case("CVSS_V3")) {
            continue;
        }
        let vector = entry.score.trim();
        let Some((source, score)) = base_score(vector) else {
            continue;
        };
        let better =
            |b: &Rating| source == RatingSource::CvssV4 && b.source == RatingSource::CvssV3;
        if best.as_ref().is_none_or(better) {
            best = Some(Rating {
                severity: Severity::from_score(score),
                score: Some(score),
                vector: Some(vector.to_owned()),
                source,
            });
        }
    }
    if let Some(rating) = best {
        return rating;
    }
    let ubuntu = entries
        .iter()
        .filter(|e| e.kind.eq_ignore_ascii_case("Ubuntu"))
        .map(|e| e.score.as_str());
    declared
        .into_iter()
        .chain(ubuntu)
        .filter_map(|word| word.parse::<Severity>().ok())
        .find(|&severity| severity != Severity::Unknown)
        .map_or_else(Rating::unrated, |severity| Rating {
            severity,
            score: None,
            vector: None,
            source: RatingSource::Declared,
        })
}

/// The base score of a CVSS 3.x or 4.0 vector, or `None` if it is not one palisade can score.
fn base_score(vector: &str) -> Option<(RatingSource, f64)> {
    let (source, score) = match vector.parse::<cvss::Cvss>().ok()? {
        cvss::Cvss::CvssV40(v) => (RatingSource::CvssV4, v.score().value()),
        cvss::Cvss::CvssV30(base) | cvss::Cvss::CvssV31(base) => {
            // The v3 parser accepts a vector with base metrics missing and scores the gaps as
            // zero; such a score would be made up, so the vector is not used.
            let complete = base.av.is_some()
                && base.ac.is_some()
                && base.pr.is_some()
                && base.ui.is_some()
                && base.s.is_some()
                && base.c.is_some()
                && base.i.is_some()
                && base.a.is_some();
            if !complete {
                return None;
            }
            (RatingSource::CvssV3, base.score().value())
        }
        // The enum is non-exhaustive: a version this code does not know is not scored.
        _ => return None,
    };
    (0.0..=10.0).contains(&score).then_some((source, score))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn entry(kind: &str, score: &str) -> osv::Severity {
        osv::Severity {
            kind: kind.to_owned(),
            score: score.to_owned(),
        }
    }

    const V3_CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    const V4_CRITICAL: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
    const V4_HIGH: &str = "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";

    /// Vectors and the scores FIRST's calculators give for them. The PYSEC ones are from the PyPA
    /// advisory database (werkzeug PYSEC-2023-221, urllib3 PYSEC-2023-192 and -212, pip
    /// PYSEC-2023-228).
    #[rstest]
    #[case(V3_CRITICAL, 9.8, Severity::Critical)]
    #[case("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, Severity::Low)]
    #[case("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, Severity::Medium)]
    #[case(
        "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        9.8,
        Severity::Critical
    )]
    #[case("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, Severity::High)]
    #[case("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N", 8.1, Severity::High)]
    #[case("CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", 4.2, Severity::Medium)]
    #[case("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:L/A:N", 3.3, Severity::Low)]
    #[case(V4_CRITICAL, 9.3, Severity::Critical)]
    #[case(V4_HIGH, 8.5, Severity::High)]
    fn scores_vectors(#[case] vector: &str, #[case] score: f64, #[case] severity: Severity) {
        let (kind, source) = if vector.starts_with("CVSS:4.0/") {
            ("CVSS_V4", RatingSource::CvssV4)
        } else {
            ("CVSS_V3", RatingSource::CvssV3)
        };
        let rating = rate(&[entry(kind, vector)], Some("LOW"));
        let got = rating.score.unwrap();
        assert!((got - score).abs() < 1e-9, "{vector}: {got} != {score}");
        assert_eq!(rating.severity, severity);
        assert_eq!(rating.source, source);
        assert_eq!(rating.vector.as_deref(), Some(vector));
    }

    #[test]
    fn prefers_v4_over_v3_in_either_order() {
        let v3 = entry("CVSS_V3", V3_CRITICAL);
        let v4 = entry("CVSS_V4", V4_HIGH);
        for entries in [[v3.clone(), v4.clone()], [v4, v3]] {
            let rating = rate(&entries, None);
            assert_eq!(rating.source, RatingSource::CvssV4);
            assert_eq!(rating.severity, Severity::High);
            assert_eq!(rating.vector.as_deref(), Some(V4_HIGH));
        }
    }

    #[test]
    fn the_first_usable_vector_of_a_version_counts() {
        let low = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N";
        let rating = rate(
            &[entry("CVSS_V3", low), entry("CVSS_V3", V3_CRITICAL)],
            None,
        );
        assert_eq!(rating.severity, Severity::Low);
    }

    #[rstest]
    #[case("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X")]
    #[case("CVSS_V3", "CVSS:3.1/AV:N/AC:L")]
    #[case("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/")]
    #[case("CVSS_V3", "CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]
    #[case("CVSS_V3", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")]
    #[case("CVSS_V4", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H")]
    #[case(
        "CVSS_V4",
        "CVSS:4.0/AV:N/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    )]
    #[case("CVSS_V4", "")]
    #[case("CVSS_V4", "CVSS:4.0")]
    #[case("CVSS_V4", "CVSS:4.0/AV:N:X")]
    #[case("CVSS_V4", "🙂/:")]
    #[case("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:P/A:P")]
    fn a_broken_or_unscorable_vector_falls_through_to_declared(
        #[case] kind: &str,
        #[case] vector: &str,
    ) {
        let rating = rate(&[entry(kind, vector)], Some("MODERATE"));
        assert_eq!(
            rating,
            Rating {
                severity: Severity::Medium,
                score: None,
                vector: None,
                source: RatingSource::Declared,
            }
        );
    }

    #[test]
    fn a_broken_v4_vector_leaves_a_good_v3_one() {
        let broken = entry("CVSS_V4", "CVSS:4.0/AV:N/AC:L");
        let rating = rate(&[broken, entry("CVSS_V3", V3_CRITICAL)], Some("low"));
        assert_eq!(rating.source, RatingSource::CvssV3);
        assert_eq!(rating.severity, Severity::Critical);
    }

    #[test]
    fn a_zero_score_is_kept_but_unknown() {
        let none = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N";
        let rating = rate(&[entry("CVSS_V3", none)], Some("high"));
        assert_eq!(rating.score, Some(0.0));
        assert_eq!(rating.severity, Severity::Unknown);
        assert_eq!(rating.source, RatingSource::CvssV3);
    }

    #[test]
    fn uses_an_ubuntu_priority_without_vectors() {
        let rating = rate(&[entry("Ubuntu", "medium")], None);
        assert_eq!(rating.severity, Severity::Medium);
        assert_eq!(rating.source, RatingSource::Declared);
        // The database's own word comes first.
        let rating = rate(&[entry("Ubuntu", "medium")], Some("CRITICAL"));
        assert_eq!(rating.severity, Severity::Critical);
        // An unusable declared word does not hide a usable Ubuntu one.
        let rating = rate(&[entry("Ubuntu", "low")], Some("whatever"));
        assert_eq!(rating.severity, Severity::Low);
    }

    #[test]
    fn without_anything_to_go_by_is_unknown() {
        assert_eq!(rate(&[], None), Rating::unrated());
        assert_eq!(rate(&[], Some("untriaged")), Rating::unrated());
        assert_eq!(
            rate(&[entry("CVSS_V3", "junk")], Some("")),
            Rating::unrated()
        );
    }

    #[rstest]
    #[case(0.0, Severity::Unknown)]
    #[case(0.1, Severity::Low)]
    #[case(3.9, Severity::Low)]
    #[case(4.0, Severity::Medium)]
    #[case(6.9, Severity::Medium)]
    #[case(7.0, Severity::High)]
    #[case(8.9, Severity::High)]
    #[case(9.0, Severity::Critical)]
    #[case(10.0, Severity::Critical)]
    #[case(10.1, Severity::Unknown)]
    #[case(-1.0, Severity::Unknown)]
    #[case(f64::NAN, Severity::Unknown)]
    fn bands_scores(#[case] score: f64, #[case] expected: Severity) {
        assert_eq!(Severity::from_score(score), expected);
    }

    #[rstest]
    #[case("LOW", Severity::Low)]
    #[case("moderate", Severity::Medium)]
    #[case("MODERATE", Severity::Medium)]
    #[case("Medium", Severity::Medium)]
    #[case("Important", Severity::High)]
    #[case(" high ", Severity::High)]
    #[case("CRITICAL", Severity::Critical)]
    #[case("none", Severity::Unknown)]
    #[case("unknown", Severity::Unknown)]
    #[case("negligible", Severity::Low)]
    fn parses_severity_words(#[case] word: &str, #[case] expected: Severity) {
        assert_eq!(word.parse::<Severity>().unwrap(), expected);
    }

    #[test]
    fn rejects_unknown_words() {
        let err = "severe".parse::<Severity>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown severity \"severe\": expected one of unknown, low, medium, high, critical"
        );
    }

    #[test]
    fn orders_and_names_severities() {
        assert!(Severity::Unknown < Severity::Low);
        assert!(Severity::High < Severity::Critical);
        for severity in Severity::ALL {
            assert_eq!(severity.to_string().parse::<Severity>().unwrap(), severity);
            let json = serde_json::to_string(&severity).unwrap();
            assert_eq!(json, format!("\"{severity}\""));
            assert_eq!(serde_json::from_str::<Severity>(&json).unwrap(), severity);
        }
    }

    #[test]
    fn serializes_ratings() {
        let rating = rate(&[entry("CVSS_V4", V4_HIGH)], None);
        let json = serde_json::to_value(&rating).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "severity": "high",
                "score": 8.5,
                "vector": V4_HIGH,
                "source": "cvss_v4",
            })
        );
        let sources: Vec<_> = [
            RatingSource::CvssV4,
            RatingSource::CvssV3,
            RatingSource::Declared,
            RatingSource::Unrated,
        ]
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
        assert_eq!(
            sources,
            ["\"cvss_v4\"", "\"cvss_v3\"", "\"declared\"", "\"unrated\""]
        );
    }

    /// Every CVSS 4.0 base vector scores within 0..=10 without panicking: the scoring code is the
    /// cvss crate's, and `rate` must not take a scan down with it.
    #[test]
    fn every_v4_base_vector_scores() {
        let hln: &[&str] = &["H", "L", "N"];
        let metrics: [(&str, &[&str]); 11] = [
            ("AV", &["N", "A", "L", "P"]),
            ("AC", &["L", "H"]),
            ("AT", &["N", "P"]),
            ("PR", &["N", "L", "H"]),
            ("UI", &["N", "P", "A"]),
            ("VC", hln),
            ("VI", hln),
            ("VA", hln),
            ("SC", hln),
            ("SI", hln),
            ("SA", hln),
        ];
        let total: usize = metrics.iter().map(|(_, values)| values.len()).product();
        for mut n in 0..total {
            let mut vector = String::from("CVSS:4.0");
            for (metric, values) in metrics {
                vector.push_str(&format!("/{metric}:{}", values[n % values.len()]));
                n /= values.len();
            }
            let (source, score) = base_score(&vector).unwrap();
            assert_eq!(source, RatingSource::CvssV4);
            assert!((0.0..=10.0).contains(&score), "{vector}: {score}");
        }
    }
}
