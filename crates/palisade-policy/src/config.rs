//! palisade's configuration file (`palisade.yaml`), validated when loaded: every error names the
//! offending key and its line. See `docs/configuration.md`.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use palisade_core::object::typed_at;
use palisade_core::path::FieldPath;
use palisade_core::{yaml, InputError};
use palisade_pss::{Level, LevelVersion, Version};

pub const API_VERSION: &str = "palisade.dev/v1alpha1";
pub const KIND: &str = "PalisadeConfig";

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub pod_security: PodSecurityConfig,
}

/// `podSecurity`: the level and version for namespaces that set none, and who is exempt.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSecurityConfig {
    /// Default level: `privileged`, `baseline` or `restricted`.
    #[serde(default)]
    pub level: Option<String>,
    /// Default version: `latest` or `v1.N`.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub exemptions: Exemptions,
}

/// Exemptions, as upstream's `PodSecurityConfiguration` has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exemptions {
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub runtime_classes: Vec<String>,
    #[serde(default)]
    pub usernames: Vec<String>,
}

/// A configuration file that is invalid: the file, the key and its line.
pub type ConfigError = InputError;

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file: Arc<str> = Arc::from(path.display().to_string());
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputError::file(file.clone(), format!("cannot read configuration: {e}"))
        })?;
        Config::parse(file, &text)
    }

    /// Parses and validates configuration text; `file` names it in errors.
    pub fn parse(file: Arc<str>, text: &str) -> Result<Config, ConfigError> {
        let Some(root) =
            yaml::single_document(text).map_err(|e| InputError::from_yaml(file.clone(), e))?
        else {
            return Ok(Config::default());
        };
        if !root.is_mapping() {
            return Err(InputError::at(
                file,
                root.line,
                format!(
                    "configuration must be a mapping, not a {}",
                    root.type_name()
                ),
            ));
        }
        let config: Config = typed_at(&file, &root, &FieldPath::root(), &root)?;
        let key_error = |key: &str, message: String| {
            let path = FieldPath::parse_dotted(key);
            InputError::at(
                file.clone(),
                root.line_of(&path),
                format!("{key}: {message}"),
            )
        };
        if let Some(v) = &config.api_version {
            if v != API_VERSION {
                return Err(key_error(
                    "apiVersion",
                    format!("must be {API_VERSION:?}, not {v:?}"),
                ));
            }
        }
        if let Some(k) = &config.kind {
            if k != KIND {
                return Err(key_error("kind", format!("must be {KIND:?}, not {k:?}")));
            }
        }
        if let Some(level) = &config.pod_security.level {
            level
                .parse::<Level>()
                .map_err(|e| key_error("podSecurity.level", e.to_string()))?;
        }
        if let Some(version) = &config.pod_security.version {
            version
                .parse::<Version>()
                .map_err(|e| key_error("podSecurity.version", e.to_string()))?;
        }
        Ok(config)
    }

    /// The default level and version: the file's, where it sets them, else `restricted:latest`.
    pub fn default_level_version(&self) -> LevelVersion {
        let ps = &self.pod_security;
        LevelVersion::new(
            ps.level
                .as_deref()
                .and_then(|l| l.parse().ok())
                .unwrap_or(Level::Restricted),
            ps.version
                .as_deref()
                .and_then(|v| v.parse().ok())
                .unwrap_or(Version::Latest),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Arc::from("palisade.yaml"), text)
    }

    #[test]
    fn reads_a_full_file() {
        let config = parse(
            "apiVersion: palisade.dev/v1alpha1\nkind: PalisadeConfig\npodSecurity:\n  level: baseline\n  version: v1.29\n  exemptions:\n    namespaces: [kube-system]\n    runtimeClasses: [kata]\n",
        )
        .unwrap();
        assert_eq!(
            config.default_level_version(),
            LevelVersion::new(Level::Baseline, Version::Minor(29))
        );
        assert_eq!(
            config.pod_security.exemptions.namespaces,
            vec!["kube-system"]
        );
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(parse("# nothing\n").unwrap(), Config::default());
        assert_eq!(
            Config::default().default_level_version().to_string(),
            "restricted:latest"
        );
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = parse("podSecurity:\n  level: baseline\n  exemption:\n    namespaces: []\n")
            .unwrap_err();
        assert!(err.message.contains("exemption"), "{err}");
        assert_eq!(err.line, Some(3), "{err}");
    }

    #[test]
    fn invalid_values_are_named_with_their_line() {
        let err = parse("podSecurity:\n  level: strict\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(
            err.message
                .starts_with("podSecurity.level: invalid level \"strict\""),
            "{err}"
        );
        let err = parse("podSecurity:\n  exemptions:\n    namespaces: kube-system\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(
            err.message.contains("podSecurity.exemptions.namespaces"),
            "{err}"
        );
    }
}
