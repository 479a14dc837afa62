//! Pod Security levels and policy versions, parsed and compared as upstream does.

use std::fmt;
use std::str::FromStr;

/// The newest policy version this engine knows: `latest` evaluates as this one.
pub const NEWEST_MINOR: u32 = 37;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid level {0:?}: must be one of privileged, baseline, restricted")]
pub struct InvalidLevel(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version {0:?}: must be \"latest\" or \"v1.x\"")]
pub struct InvalidVersion(pub String);

impl FromStr for Level {
    type Err = InvalidLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(InvalidLevel(s.to_owned())),
        }
    }
}

/// A policy version: `v1.N` or `latest`. Only major version 1 exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    Minor(u32),
    Latest,
}

impl Version {
    /// The minor version whose checks apply: `latest` and versions newer than this engine knows
    /// evaluate with the newest checks, as upstream's registry does.
    pub fn effective_minor(self) -> u32 {
        match self {
            Version::Latest => NEWEST_MINOR,
            Version::Minor(m) => m.min(NEWEST_MINOR),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Latest => f.write_str("latest"),
            Version::Minor(m) => write!(f, "v1.{m}"),
        }
    }
}

impl FromStr for Version {
    type Err = InvalidVersion;

    /// Accepts exactly what upstream's `^v1\.([0-9]|[1-9][0-9]*)$` accepts, plus `latest`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let digits = s
            .strip_prefix("v1.")
            .ok_or_else(|| InvalidVersion(s.to_owned()))?;
        let valid = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !valid {
            return Err(InvalidVersion(s.to_owned()));
        }
        digits
            .parse()
            .map(Version::Minor)
            .map_err(|_| InvalidVersion(s.to_owned()))
    }
}

/// A level at a version, written as upstream writes it: `restricted:v1.29`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: Level,
    pub version: Version,
}

impl LevelVersion {
    pub fn new(level: Level, version: Version) -> Self {
        Self { level, version }
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions_like_upstream() {
        assert_eq!("latest".parse(), Ok(Version::Latest));
        assert_eq!("v1.0".parse(), Ok(Version::Minor(0)));
        assert_eq!("v1.29".parse(), Ok(Version::Minor(29)));
        assert_eq!(
            "v1.99".parse::<Version>().map(Version::effective_minor),
            Ok(NEWEST_MINOR)
        );
        for bad in ["v1.01", "1.29", "v2.0", "v1.", "v1.2a", "", "Latest"] {
            assert!(bad.parse::<Version>().is_err(), "{bad}");
        }
    }

    #[test]
    fn prints_level_versions_like_upstream() {
        assert_eq!(
            LevelVersion::new(Level::Restricted, Version::Minor(29)).to_string(),
            "restricted:v1.29"
        );
        assert_eq!(
            LevelVersion::new(Level::Baseline, Version::Latest).to_string(),
            "baseline:latest"
        );
    }
}
