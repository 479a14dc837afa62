//! Version order per ecosystem: PEP 440 for PyPI (with a fallback for versions that are not PEP
//! 440), Debian's for Debian and Ubuntu packages (epochs, `~`).

use std::cmp::Ordering;
use std::str::FromStr;

/// The ecosystems whose version order palisade knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    PyPI,
    Debian,
    /// Anything else: versions compare as dotted numbers where they can, else as text.
    Other,
}

impl Ecosystem {
    /// From an OSV ecosystem name (`PyPI`, `Debian:12`, ...).
    pub fn from_osv(name: &str) -> Ecosystem {
        match name.split(':').next().unwrap_or_default() {
            "PyPI" => Ecosystem::PyPI,
            "Debian" | "Ubuntu" => Ecosystem::Debian,
            _ => Ecosystem::Other,
        }
    }

    /// Compares two versions. Unparseable versions fall back to a dotted-number comparison, so
    /// a record is never silently dropped because one version string is odd.
    pub fn compare(self, a: &str, b: &str) -> Ordering {
        match self {
            Ecosystem::PyPI => match (
                pep440_rs::Version::from_str(a),
                pep440_rs::Version::from_str(b),
            ) {
                (Ok(a), Ok(b)) => a.cmp(&b),
                _ => fallback(a, b),
            },
            Ecosystem::Debian => match (
                debversion::Version::from_str(a),
                debversion::Version::from_str(b),
            ) {
                (Ok(a), Ok(b)) => a.cmp(&b),
                _ => fallback(a, b),
            },
            Ecosystem::Other => fallback(a, b),
        }
    }

    /// Package names as the ecosystem compares them (PEP 503 for PyPI).
    pub fn normalize_name(self, name: &str) -> String {
        match self {
            Ecosystem::PyPI => palisade_core::names::normalize_pypi_name(name),
            _ => name.to_owned(),
        }
    }
}

/// Dotted numeric comparison with text tie-breaks: `1.10` > `1.9`, `2.0rc1` < `2.0.1`.
fn fallback(a: &str, b: &str) -> Ordering {
    let parts = |s: &str| -> Vec<(u64, String)> {
        s.split(['.', '-', '_', '+'])
            .map(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                (digits.parse().unwrap_or(0), p[digits.len()..].to_owned())
            })
            .collect()
    };
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).cloned().unwrap_or_default();
        let y = pb.get(i).cloned().unwrap_or_default();
        let ord =
            x.0.cmp(&y.0)
                .then_with(|| match (x.1.is_empty(), y.1.is_empty()) {
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => x.1.cmp(&y.1),
                });
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Ecosystem::PyPI, "2.2.2", "2.2.3", Ordering::Less)]
    #[case(Ecosystem::PyPI, "2.3.0rc1", "2.3.0", Ordering::Less)]
    #[case(Ecosystem::PyPI, "1.0.post1", "1.0", Ordering::Greater)]
    #[case(Ecosystem::PyPI, "0.10", "0.9", Ordering::Greater)]
    #[case(Ecosystem::PyPI, "1.0", "1.0.0", Ordering::Equal)]
    #[case(Ecosystem::PyPI, "1!0.1", "2.0", Ordering::Greater)]
    #[case(Ecosystem::Debian, "1:1.0", "2.0", Ordering::Greater)]
    #[case(Ecosystem::Debian, "1.0~rc1", "1.0", Ordering::Less)]
    #[case(Ecosystem::Debian, "3.0.11-1~deb12u2", "3.0.11-1", Ordering::Less)]
    #[case(Ecosystem::Debian, "2.36-9+deb12u4", "2.36-9+deb12u10", Ordering::Less)]
    #[case(Ecosystem::Other, "1.10", "1.9", Ordering::Greater)]
    fn orders_versions(
        #[case] eco: Ecosystem,
        #[case] a: &str,
        #[case] b: &str,
        #[case] expected: Ordering,
    ) {
        assert_eq!(eco.compare(a, b), expected, "{a} vs {b}");
    }

    #[test]
    fn normalizes_pypi_names() {
        assert_eq!(
            Ecosystem::PyPI.normalize_name("Scikit_Learn"),
            "scikit-learn"
        );
        assert_eq!(
            Ecosystem::PyPI.normalize_name("zope..interface"),
            "zope-interface"
        );
    }
}
