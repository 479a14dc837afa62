//! Version order per ecosystem: PEP 440 for PyPI (with a fallback for versions that are not PEP
//! 440), Debian's for Debian and Ubuntu packages (epochs, `~`), apk-tools' for Alpine and its
//! relatives, and rpm's for the RPM-based distributions.

use std::cmp::Ordering;
use std::str::FromStr;

/// The ecosystems whose version order palisade knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    PyPI,
    Debian,
    /// Alpine and the distributions that reuse apk-tools' version order (Wolfi, Chainguard).
    Alpine,
    /// Red Hat, SUSE and the other distributions whose packages are RPMs.
    Rpm,
    /// Anything else: versions compare as dotted numbers where they can, else as text.
    Other,
}

impl Ecosystem {
    /// From an OSV ecosystem name (`PyPI`, `Debian:12`, `Alpine:v3.18`, `Red Hat:...`).
    pub fn from_osv(name: &str) -> Ecosystem {
        match name.split(':').next().unwrap_or_default() {
            "PyPI" => Ecosystem::PyPI,
            "Debian" | "Ubuntu" => Ecosystem::Debian,
            // Wolfi, Chainguard and MinimOS build with apk-tools, so their versions are apk's.
            "Alpine" | "Wolfi" | "Chainguard" | "MinimOS" => Ecosystem::Alpine,
            "Red Hat" | "Rocky Linux" | "AlmaLinux" | "openSUSE" | "SUSE" | "Mageia"
            | "openEuler" | "Photon OS" | "Azure Linux" | "CBL-Mariner" => Ecosystem::Rpm,
            _ => Ecosystem::Other,
        }
    }

    /// A short name for messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Debian => "Debian",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::Rpm => "RPM",
            Ecosystem::Other => "other",
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
            Ecosystem::Alpine => match (apk::tokens(a), apk::tokens(b)) {
                (Some(a), Some(b)) => apk::compare(&a, &b),
                _ => fallback(a, b),
            },
            // rpm orders any string, so there is nothing to fall back from.
            Ecosystem::Rpm => rpm::compare_evr(a, b),
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

/// Compares two runs of ASCII digits as numbers. Done on the text rather than by parsing, so a
/// 20-digit snapshot date cannot overflow.
fn cmp_digits(a: &[u8], b: &[u8]) -> Ordering {
    let strip = |s: &[u8]| -> usize { s.iter().take_while(|&&c| c == b'0').count() };
    let (a, b) = (&a[strip(a)..], &b[strip(b)..]);
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Splits `s` after its longest prefix whose bytes all satisfy `class`.
fn take(s: &[u8], class: impl Fn(&u8) -> bool) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| class(c)).count();
    s.split_at(n)
}

/// apk-tools' version order: `digits{.digits}[letter]{_suffix[digits]}[~hash][-rdigits]`.
///
/// Two versions are compared token by token. Where they agree until one ends or the next tokens
/// are of different kinds, the one whose next token comes earlier in that grammar is the greater
/// (`1.2.1` > `1.2a` > `1.2_p1` > `1.2-r1` > `1.2`), except that a pre-release suffix makes its
/// version the smaller (`1.2_rc1` < `1.2`).
mod apk {
    use std::cmp::Ordering;

    use super::{cmp_digits, take};

    /// Token kinds in grammar order; the order is what decides between versions that diverge in
    /// kind, so it must not be rearranged.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Kind {
        Initial,
        Digit,
        Letter,
        Suffix,
        SuffixNo,
        Hash,
        Revision,
        End,
    }

    /// Suffixes in their order; everything up to `Rc` is a pre-release.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub(super) enum Suffix {
        Alpha,
        Beta,
        Pre,
        Rc,
        Cvs,
        Svn,
        Git,
        Hg,
        P,
    }

    impl Suffix {
        fn from_name(name: &[u8]) -> Option<Suffix> {
            Some(match name {
                b"alpha" => Suffix::Alpha,
                b"beta" => Suffix::Beta,
                b"pre" => Suffix::Pre,
                b"rc" => Suffix::Rc,
                b"cvs" => Suffix::Cvs,
                b"svn" => Suffix::Svn,
                b"git" => Suffix::Git,
                b"hg" => Suffix::Hg,
                b"p" => Suffix::P,
                _ => return None,
            })
        }

        fn is_pre_release(self) -> bool {
            self <= Suffix::Rc
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Token<'a> {
        /// The first number, before any `.`.
        Initial(&'a [u8]),
        /// A number after a `.`.
        Digit(&'a [u8]),
        Letter(u8),
        Suffix(Suffix),
        SuffixNo(&'a [u8]),
        /// `~` and a lowercase hex commit hash (apk-tools 3).
        Hash(&'a [u8]),
        /// The package revision, `-rN`.
        Revision(&'a [u8]),
    }

    impl Token<'_> {
        fn kind(self) -> Kind {
            match self {
                Token::Initial(_) => Kind::Initial,
                Token::Digit(_) => Kind::Digit,
                Token::Letter(_) => Kind::Letter,
                Token::Suffix(_) => Kind::Suffix,
                Token::SuffixNo(_) => Kind::SuffixNo,
                Token::Hash(_) => Kind::Hash,
                Token::Revision(_) => Kind::Revision,
            }
        }
    }

    /// The tokens of a version, or `None` where apk would call the version invalid.
    pub(super) fn tokens(version: &str) -> Option<Vec<Token<'_>>> {
        let (first, mut rest) = take(version.as_bytes(), u8::is_ascii_digit);
        if first.is_empty() {
            return None;
        }
        let mut tokens = vec![Token::Initial(first)];
        let mut last = Kind::Initial;
        while let Some((&c, after)) = rest.split_first() {
            // Each arm's guard is the grammar: which kinds may precede this one.
            let (token, tail) = match c {
                b'.' if last <= Kind::Digit => {
                    let (digits, tail) = non_empty(take(after, u8::is_ascii_digit))?;
                    (Token::Digit(digits), tail)
                }
                b'a'..=b'z' if last <= Kind::Digit => (Token::Letter(c), after),
                b'0'..=b'9' if last == Kind::Suffix => {
                    let (digits, tail) = take(rest, u8::is_ascii_digit);
                    (Token::SuffixNo(digits), tail)
                }
                b'_' if last <= Kind::SuffixNo => {
                    let (name, tail) = take(after, u8::is_ascii_lowercase);
                    (Token::Suffix(Suffix::from_name(name)?), tail)
                }
                b'~' if last < Kind::Hash => {
                    let hex = |c: &u8| matches!(c, b'0'..=b'9' | b'a'..=b'f');
                    let (hash, tail) = non_empty(take(after, hex))?;
                    (Token::Hash(hash), tail)
                }
                b'-' if last < Kind::Revision => {
                    let after = after.strip_prefix(b"r")?;
                    let (digits, tail) = non_empty(take(after, u8::is_ascii_digit))?;
                    (Token::Revision(digits), tail)
                }
                _ => return None,
            };
            last = token.kind();
            tokens.push(token);
            rest = tail;
        }
        Some(tokens)
    }

    fn non_empty<'a>((head, tail): (&'a [u8], &'a [u8])) -> Option<(&'a [u8], &'a [u8])> {
        (!head.is_empty()).then_some((head, tail))
    }

    pub(super) fn compare(a: &[Token<'_>], b: &[Token<'_>]) -> Ordering {
        for (&x, &y) in a.iter().zip(b) {
            let ord = match (x, y) {
                (Token::Initial(p), Token::Initial(q))
                | (Token::SuffixNo(p), Token::SuffixNo(q))
                | (Token::Revision(p), Token::Revision(q)) => cmp_digits(p, q),
                // A leading zero makes the component a decimal fraction, compared as text, so
                // `1.02` < `1.1` and `8.2.0015` < `8.2.002`.
                (Token::Digit(p), Token::Digit(q))
                    if p.starts_with(b"0") || q.starts_with(b"0") =>
                {
                    p.cmp(q)
                }
                (Token::Digit(p), Token::Digit(q)) => cmp_digits(p, q),
                (Token::Letter(p), Token::Letter(q)) => p.cmp(&q),
                (Token::Suffix(p), Token::Suffix(q)) => p.cmp(&q),
                (Token::Hash(p), Token::Hash(q)) => p.cmp(q),
                _ => return diverging(Some(x), Some(y)),
            };
            if ord.is_ne() {
                return ord;
            }
        }
        let n = a.len().min(b.len());
        diverging(a.get(n).copied(), b.get(n).copied())
    }

    /// Versions equal so far whose next tokens are of different kinds (`None`: the version ended).
    fn diverging(x: Option<Token<'_>>, y: Option<Token<'_>>) -> Ordering {
        let pre_release =
            |t: Option<Token<'_>>| matches!(t, Some(Token::Suffix(s)) if s.is_pre_release());
        let kind = |t: Option<Token<'_>>| t.map_or(Kind::End, Token::kind);
        if kind(x) == kind(y) {
            Ordering::Equal
        } else if pre_release(x) {
            Ordering::Less
        } else if pre_release(y) {
            Ordering::Greater
        } else {
            kind(y).cmp(&kind(x))
        }
    }
}

/// rpm's version order: `[epoch:]version[-release]`, the parts compared in that order, version and
/// release with rpmvercmp.
mod rpm {
    use std::cmp::Ordering;

    use super::{cmp_digits, take};

    struct Evr<'a> {
        /// Digits; empty when the version has no epoch, which rpm treats as 0.
        epoch: &'a [u8],
        version: &'a [u8],
        release: Option<&'a [u8]>,
    }

    impl Evr<'_> {
        fn parse(evr: &str) -> Evr<'_> {
            let evr = evr.as_bytes();
            let (epoch, rest) = take(evr, u8::is_ascii_digit);
            // Only digits directly before the first `:` are an epoch; anything else is version.
            let (epoch, rest) = match rest.strip_prefix(b":") {
                Some(rest) => (epoch, rest),
                None => (&b""[..], evr),
            };
            // The release follows the last `-`: versions may not contain one, releases may.
            match rest.iter().rposition(|&c| c == b'-') {
                Some(i) => Evr {
                    epoch,
                    version: &rest[..i],
                    release: Some(&rest[i + 1..]),
                },
                None => Evr {
                    epoch,
                    version: rest,
                    release: None,
                },
            }
        }
    }

    pub(super) fn compare_evr(a: &str, b: &str) -> Ordering {
        let (a, b) = (Evr::parse(a), Evr::parse(b));
        cmp_digits(a.epoch, b.epoch)
            .then_with(|| vercmp(a.version, b.version))
            .then_with(|| match (a.release, b.release) {
                (Some(x), Some(y)) => vercmp(x, y),
                // As rpm orders EVRs: a release, any release, is more than none.
                (x, y) => x.is_some().cmp(&y.is_some()),
            })
    }

    /// rpmvercmp: runs of digits and runs of letters compared in turn, everything else a
    /// separator. `~` sorts before anything, even the end (`1.0~rc1` < `1.0`); `^` sorts after the
    /// end but before anything else (`1.0` < `1.0^git1` < `1.0.1`).
    pub(super) fn vercmp(mut a: &[u8], mut b: &[u8]) -> Ordering {
        let separator = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'~' && *c != b'^';
        loop {
            a = take(a, separator).1;
            b = take(b, separator).1;
            match (a.first(), b.first()) {
                (Some(b'~'), Some(b'~')) | (Some(b'^'), Some(b'^')) => {
                    a = &a[1..];
                    b = &b[1..];
                }
                (Some(b'~'), _) => return Ordering::Less,
                (_, Some(b'~')) => return Ordering::Greater,
                (None, Some(b'^')) | (Some(b'^'), Some(_)) => return Ordering::Less,
                (Some(b'^'), None) | (Some(_), Some(b'^')) => return Ordering::Greater,
                (Some(c), Some(_)) => {
                    let numeric = c.is_ascii_digit();
                    let class = if numeric {
                        u8::is_ascii_digit
                    } else {
                        u8::is_ascii_alphabetic
                    };
                    let ((x, rest_a), (y, rest_b)) = (take(a, class), take(b, class));
                    if y.is_empty() {
                        // The segments are of different types: a number beats letters.
                        return if numeric {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        };
                    }
                    let ord = if numeric { cmp_digits(x, y) } else { x.cmp(y) };
                    if ord.is_ne() {
                        return ord;
                    }
                    (a, b) = (rest_a, rest_b);
                }
                // Equal so far: whichever has something left is the greater.
                (x, y) => return x.is_some().cmp(&y.is_some()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use Ordering::{Equal, Greater, Less};

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

    /// Pairs with apk-tools' own verdicts (its `apk version -t`), each checked both ways round.
    #[rstest]
    #[case("1.2.3", "1.2.3-r1", Less)]
    #[case("1.2.3", "1.2.3-r0", Less)]
    #[case("1.2.3-r10", "1.2.3-r9", Greater)]
    #[case("1.2.3_rc1", "1.2.3", Less)]
    #[case("1.2.3_p1", "1.2.3", Greater)]
    #[case("1.2.3_p1", "1.2.3-r5", Greater)]
    #[case("1.2a", "1.2", Greater)]
    #[case("1.2a", "1.2.1", Less)]
    #[case("1.10", "1.9", Greater)]
    #[case("1.2.3", "1.2.3", Equal)]
    #[case("0.2.0-r1", "0.2.0-r1", Equal)]
    #[case("0.1.0_alpha2", "0.1.0_alpha", Greater)]
    #[case("0.1.0_alpha", "0.1.3_alpha", Less)]
    #[case("0.1.0_alpha_pre2", "0.1.0_alpha", Less)]
    #[case("1.3_pre1-r1", "1.3.2", Less)]
    #[case("1.0_p10-r0", "1.0_p9-r0", Greater)]
    #[case("4.5_p1", "4.5_p1-r1", Less)]
    #[case("2.5.1-r8", "2.5.1a-r1", Less)]
    #[case("2.3.0b-r1", "2.3.0b-r2", Less)]
    #[case("1.7", "1.7b", Less)]
    #[case("0.9.8c-r1", "0.9.8d", Less)]
    #[case("2.9.11_pre20051101-r3", "2.9.11_pre20051101", Greater)]
    #[case("1.0.0_pre20191002222144-r0", "1.0.0_pre20210530193627-r0", Less)]
    #[case("0.20070118", "0.20070207_rc1", Less)]
    #[case("6.0_pre1", "6.0", Less)]
    #[case("6.0_p1", "6.0", Greater)]
    #[case("1.2.11", "1.2.12.1", Less)]
    #[case("22.7-r1", "22.7.3-r1", Less)]
    #[case("7.0.17", "7.0.174", Less)]
    // The first number is a plain number; later ones with a leading zero compare as text.
    #[case("006", "1.0.0", Greater)]
    #[case("013", "014-r1", Less)]
    #[case("087-r1", "103", Less)]
    #[case("1.02", "1.1", Less)]
    #[case("1.07-r1", "1.07.5", Less)]
    #[case("4.01", "4.20", Less)]
    #[case("4.09-r1", "1.3.1", Greater)]
    #[case("1.2.07.8", "1.2.12.04", Less)]
    #[case("8.2.0", "8.2.001", Less)]
    #[case("8.2.0015", "8.2.002", Less)]
    #[case("1.0", "1.00", Less)]
    // apk-tools 3's commit hashes.
    #[case("1.0~1234", "1.0~2345", Less)]
    #[case("1.0~1234-r1", "1.0~2345-r0", Less)]
    #[case("1.0~1234-r1", "1.0~1234-r0", Greater)]
    // Invalid versions take the dotted-number fallback.
    #[case("23_foo", "4_beta", Greater)]
    #[case("1.0-r", "1.1", Less)]
    fn orders_alpine_versions(#[case] a: &str, #[case] b: &str, #[case] expected: Ordering) {
        assert_eq!(Ecosystem::Alpine.compare(a, b), expected, "{a} vs {b}");
        assert_eq!(
            Ecosystem::Alpine.compare(b, a),
            expected.reverse(),
            "{b} vs {a}"
        );
    }

    #[test]
    fn alpine_versions_sort_in_this_order() {
        let sorted = [
            "1.0_alpha",
            "1.0_alpha1",
            "1.0_alpha1_p2",
            "1.0_beta",
            "1.0_pre3",
            "1.0_rc1",
            "1.0_rc2",
            "1.0",
            "1.0-r1",
            "1.0~abc",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git20240101",
            "1.0_hg",
            "1.0_p1",
            "1.0_p1-r2",
            "1.0a",
            "1.0b",
            "1.0.1",
            "1.1",
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(Ecosystem::Alpine.compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[rstest]
    #[case("1.2")]
    #[case("0")]
    #[case("6b-r7")]
    #[case("0.1_pre2")]
    #[case("0.1_pre2~1234abcd")]
    #[case("0.1_pre2~1234abcd-r3")]
    #[case("0.1_p1_pre2")]
    #[case("0.1_alpha1_pre2")]
    #[case("0.1_git20240101_pre1")]
    fn accepts_valid_apk_versions(#[case] version: &str) {
        assert!(apk::tokens(version).is_some(), "{version}");
    }

    #[rstest]
    #[case("")]
    #[case("0.1bc")]
    #[case("0.1bc1")]
    #[case("0.1a1")]
    #[case("0.1a.1")]
    #[case("0.1A")]
    #[case("1..2")]
    #[case("1.")]
    #[case("0.1_pre2~")]
    #[case("0.1_pre2~1234xbcd")]
    #[case("0.1_pre2~1234abcd_pre1")]
    #[case("0.1_pre2-r1~1234abcd")]
    #[case("0.1_foobar")]
    #[case("0.1_foobar1")]
    #[case("0.1-pre1.1")]
    #[case("0.1-r")]
    #[case("0.1-r2_pre1")]
    #[case("0.1-r2_p3_pre1")]
    #[case("0.1-r2-r3")]
    #[case("0.1-r2.1")]
    #[case(".1")]
    #[case("a")]
    #[case("_pre1")]
    #[case("-r1")]
    #[case("0.1_")]
    #[case("0.1_-r0")]
    #[case("0.1__alpha")]
    #[case("0.1_1_alpha")]
    #[case("1.0 ")]
    fn rejects_invalid_apk_versions(#[case] version: &str) {
        assert!(apk::tokens(version).is_none(), "{version}");
    }

    /// Pairs with rpm's own verdicts (its rpmvercmp and EVR tests), each checked both ways round.
    #[rstest]
    #[case("1.0", "1.0", Equal)]
    #[case("1.0", "2.0", Less)]
    #[case("1.0", "1.0.1", Less)]
    #[case("2.0.1a", "2.0.1", Greater)]
    #[case("1.0a", "1.0.1", Less)]
    #[case("5.5p1", "5.5p2", Less)]
    #[case("5.5p1", "5.5p10", Less)]
    #[case("10xyz", "10.1xyz", Less)]
    #[case("xyz10", "xyz10.1", Less)]
    #[case("xyz.4", "8", Less)]
    #[case("xyz.4", "2", Less)]
    #[case("5.5p2", "5.6p1", Less)]
    #[case("5.6p1", "6.5p1", Less)]
    #[case("6.0.rc1", "6.0", Greater)]
    #[case("10b2", "10a1", Greater)]
    #[case("1.0a", "1.0aa", Less)]
    #[case("10.0001", "10.1", Equal)]
    #[case("10.0001", "10.0039", Less)]
    #[case("4.999.9", "5.0", Less)]
    #[case("20101121", "20101122", Less)]
    #[case("2.0", "2_0", Equal)]
    #[case("a+", "a_", Equal)]
    #[case("+a", "_a", Equal)]
    #[case("_+", "+_", Equal)]
    #[case("1b.fc17", "1.fc17", Less)]
    #[case("1g.fc17", "1.fc17", Greater)]
    #[case("1.0~rc1", "1.0", Less)]
    #[case("1.0~rc1", "1.0~rc2", Less)]
    #[case("1.0~rc1~git123", "1.0~rc1", Less)]
    #[case("1.0^", "1.0", Greater)]
    #[case("1.0^git1", "1.0", Greater)]
    #[case("1.0^git1", "1.0^git2", Less)]
    #[case("1.0^git1", "1.01", Less)]
    #[case("1.0^git1", "1.0.1", Less)]
    #[case("1.0^20160101", "1.0.1", Less)]
    #[case("1.0^20160102", "1.0^20160101^git1", Greater)]
    #[case("1.0~rc1^git1", "1.0~rc1", Greater)]
    #[case("1.0^git1~pre", "1.0^git1", Less)]
    #[case("1.0~", "1.0^", Less)]
    // Epochs and releases.
    #[case("2:1.0", "1:9.9", Greater)]
    #[case("1:1.0", "2.0", Greater)]
    #[case("0:1.0", "1.0", Equal)]
    #[case("1.0-1", "1.0-2", Less)]
    #[case("1.0", "1.0-1", Less)]
    #[case("1.2.3-4.el8", "1.2.3-10.el8", Less)]
    #[case("3.0.7-16.el9_2", "3.0.7-18.el9_2", Less)]
    #[case("1.0-1.el9", "1.0-1.el9_1", Less)]
    #[case("1:3.0.7-27.el9", "1:3.0.7-25.el9_3", Greater)]
    #[case("2.28-1.1~rc1", "2.28-1.1", Less)]
    // Not an epoch: the letters are version, and letters sort below digits.
    #[case("x:1.0", "1.0", Less)]
    fn orders_rpm_versions(#[case] a: &str, #[case] b: &str, #[case] expected: Ordering) {
        assert_eq!(Ecosystem::Rpm.compare(a, b), expected, "{a} vs {b}");
        assert_eq!(
            Ecosystem::Rpm.compare(b, a),
            expected.reverse(),
            "{b} vs {a}"
        );
    }

    #[test]
    fn rpm_versions_sort_in_this_order() {
        let sorted = [
            "1.0~rc1~git1",
            "1.0~rc1",
            "1.0~rc1^git1",
            "1.0~rc2",
            "1.0",
            "1.0^git1",
            "1.0^git2",
            "1.0a",
            "1.0.1",
            "1.0.1-1",
            "1.0.1-1.el9",
            "1.0.1-2",
            "1.10",
            "1:0.1",
            "2:0.0.1",
        ];
        for (i, a) in sorted.iter().enumerate() {
            for (j, b) in sorted.iter().enumerate() {
                assert_eq!(Ecosystem::Rpm.compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    #[rstest]
    #[case("PyPI", Ecosystem::PyPI)]
    #[case("Debian:12", Ecosystem::Debian)]
    #[case("Ubuntu:22.04:LTS", Ecosystem::Debian)]
    #[case("Alpine:v3.18", Ecosystem::Alpine)]
    #[case("Wolfi", Ecosystem::Alpine)]
    #[case("Chainguard", Ecosystem::Alpine)]
    #[case("Red Hat:enterprise_linux:9::appstream", Ecosystem::Rpm)]
    #[case("Rocky Linux:9", Ecosystem::Rpm)]
    #[case("AlmaLinux:8", Ecosystem::Rpm)]
    #[case("openSUSE:Leap 15.5", Ecosystem::Rpm)]
    #[case("SUSE:Linux Enterprise Server 15 SP5", Ecosystem::Rpm)]
    #[case("Mageia:9", Ecosystem::Rpm)]
    #[case("openEuler:22.03-LTS", Ecosystem::Rpm)]
    #[case("Photon OS:5.0", Ecosystem::Rpm)]
    #[case("Azure Linux:3", Ecosystem::Rpm)]
    #[case("CBL-Mariner:2.0", Ecosystem::Rpm)]
    #[case("npm", Ecosystem::Other)]
    #[case("alpine", Ecosystem::Other)]
    fn maps_osv_ecosystems(#[case] name: &str, #[case] expected: Ecosystem) {
        assert_eq!(Ecosystem::from_osv(name), expected);
    }

    #[test]
    fn names_ecosystems() {
        assert_eq!(Ecosystem::Alpine.name(), "Alpine");
        assert_eq!(Ecosystem::Rpm.name(), "RPM");
        assert_eq!(Ecosystem::from_osv(Ecosystem::PyPI.name()), Ecosystem::PyPI);
        assert_eq!(
            Ecosystem::from_osv(Ecosystem::Debian.name()),
            Ecosystem::Debian
        );
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
