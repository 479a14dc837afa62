//! palisade's configuration file (`palisade.yaml`), validated when loaded: every error names the
//! offending key and its line. See `docs/configuration.md`.

use std::collections::BTreeMap;
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
    #[serde(default)]
    pub rules: RulesConfig,
    #[serde(default)]
    pub hardening: HardeningConfig,
    #[serde(default)]
    pub models: ModelsConfig,
}

/// `models`: the model-artifact scanner (`palisade scan model`, and model files inside images).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelsConfig {
    /// Globals allowed beyond the built-in allowlist (docs/model-allowlist.md): `module.name`, or
    /// `module.*` for every name in a module.
    #[serde(default)]
    pub allowed_globals: Vec<String>,
    /// Where `palisade scan image` looks for model files inside an image (path prefixes).
    #[serde(default = "default_model_paths")]
    pub image_paths: Vec<String>,
}

fn default_model_paths() -> Vec<String> {
    [
        "/models",
        "/model",
        "/app",
        "/opt/ml",
        "/srv",
        "/mnt/models",
    ]
    .map(str::to_owned)
    .to_vec()
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            allowed_globals: Vec::new(),
            image_paths: default_model_paths(),
        }
    }
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
    /// Per-namespace policy for namespaces whose labels palisade cannot read (offline, or outside a
    /// cluster): the same keys as the `pod-security.kubernetes.io/*` labels.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespaceLabels>,
    /// How the webhook answers workload resources (Deployment, Job, ...) that would create
    /// violating pods: `warn` (as upstream Pod Security Admission does) or `deny`.
    #[serde(default)]
    pub workloads: WorkloadMode,
}

/// The Pod Security labels of a namespace, written in the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NamespaceLabels {
    pub enforce: Option<String>,
    pub enforce_version: Option<String>,
    pub warn: Option<String>,
    pub warn_version: Option<String>,
    pub audit: Option<String>,
    pub audit_version: Option<String>,
}

impl NamespaceLabels {
    /// As the namespace's `pod-security.kubernetes.io/*` labels.
    pub fn to_labels(&self) -> BTreeMap<String, String> {
        let pairs = [
            ("enforce", &self.enforce),
            ("enforce-version", &self.enforce_version),
            ("warn", &self.warn),
            ("warn-version", &self.warn_version),
            ("audit", &self.audit),
            ("audit-version", &self.audit_version),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| {
                v.as_ref()
                    .map(|v| (format!("pod-security.kubernetes.io/{k}"), v.clone()))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadMode {
    #[default]
    Warn,
    Deny,
}

/// What a rule does when it is broken, at admission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleMode {
    /// Deny the request.
    #[default]
    Enforce,
    /// Allow it, with a warning to the client.
    Warn,
    /// Allow it, with an audit annotation.
    Audit,
}

/// ML-serving rules beyond the Pod Security Standards. A rule that is absent is off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RulesConfig {
    /// Labels every pod must carry (`team`, `model`), so network policy and ownership can key on them.
    pub required_labels: Option<RequiredLabels>,
    /// Registries (or registry/path prefixes) images may come from.
    pub allowed_registries: Option<AllowedRegistries>,
    /// Images must be pinned by digest (`@sha256:...`).
    pub image_digest: Option<ModeOnly>,
    /// No `:latest` tag, and no image without a tag or digest (which means latest).
    pub no_latest_tag: Option<ModeOnly>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequiredLabels {
    #[serde(default)]
    pub mode: RuleMode,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedRegistries {
    #[serde(default)]
    pub mode: RuleMode,
    pub registries: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModeOnly {
    #[serde(default)]
    pub mode: RuleMode,
}

/// What `palisade harden` and the mutating webhook may set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HardeningConfig {
    /// The UID given to pods that set no `runAsUser`, so `runAsNonRoot` can hold for images whose
    /// user is root. `null` leaves runAsUser alone.
    #[serde(default = "default_uid")]
    pub run_as_user: Option<i64>,
    /// Paths that get an `emptyDir` in containers with a read-only root filesystem.
    #[serde(default = "default_writable_paths")]
    pub writable_paths: Vec<String>,
}

fn default_uid() -> Option<i64> {
    Some(65532)
}

fn default_writable_paths() -> Vec<String> {
    vec!["/tmp".to_owned()]
}

impl Default for HardeningConfig {
    fn default() -> Self {
        Self {
            run_as_user: default_uid(),
            writable_paths: default_writable_paths(),
        }
    }
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
        for (namespace, labels) in &config.pod_security.namespaces {
            let at = |key: &str| {
                FieldPath::parse_dotted("podSecurity.namespaces")
                    .key(namespace)
                    .field(key)
            };
            let error = |key: &str, message: String| {
                let path = at(key);
                InputError::at(
                    file.clone(),
                    root.line_of(&path),
                    format!("{path}: {message}"),
                )
            };
            for (key, level) in [
                ("enforce", &labels.enforce),
                ("warn", &labels.warn),
                ("audit", &labels.audit),
            ] {
                if let Some(level) = level {
                    level
                        .parse::<Level>()
                        .map_err(|e| error(key, e.to_string()))?;
                }
            }
            for (key, version) in [
                ("enforce-version", &labels.enforce_version),
                ("warn-version", &labels.warn_version),
                ("audit-version", &labels.audit_version),
            ] {
                if let Some(version) = version {
                    version
                        .parse::<Version>()
                        .map_err(|e| error(key, e.to_string()))?;
                }
            }
        }
        if let Some(uid) = config.hardening.run_as_user {
            if uid <= 0 {
                return Err(key_error(
                    "hardening.runAsUser",
                    format!("must be a non-zero UID, not {uid}"),
                ));
            }
        }
        for (i, global) in config.models.allowed_globals.iter().enumerate() {
            let valid = global.rsplit_once('.').is_some_and(|(module, name)| {
                !module.is_empty()
                    && !name.is_empty()
                    && module.split('.').all(|part| {
                        !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                    })
                    && (name == "*" || name.chars().all(|c| c.is_alphanumeric() || c == '_'))
            });
            if !valid {
                let p = FieldPath::parse_dotted("models.allowedGlobals").index(i);
                return Err(InputError::at(
                    file.clone(),
                    root.line_of(&p),
                    format!("{p}: {global:?} is not module.name or module.*"),
                ));
            }
        }
        for (i, path) in config.hardening.writable_paths.iter().enumerate() {
            if !path.starts_with('/') {
                let p = FieldPath::parse_dotted("hardening.writablePaths").index(i);
                return Err(InputError::at(
                    file.clone(),
                    root.line_of(&p),
                    format!("{p}: must be an absolute path, not {path:?}"),
                ));
            }
        }
        if let Some(registries) = &config.rules.allowed_registries {
            if registries.registries.is_empty() {
                return Err(key_error(
                    "rules.allowedRegistries.registries",
                    "must list at least one registry".into(),
                ));
            }
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
    fn reads_rules_namespaces_and_hardening() {
        let config = parse(
            "podSecurity:\n  workloads: deny\n  namespaces:\n    ml-iris: {enforce: restricted, enforce-version: v1.33}\nrules:\n  requiredLabels: {labels: [team, model]}\n  allowedRegistries: {mode: warn, registries: [registry.example.com]}\n  imageDigest: {mode: audit}\n  noLatestTag: {}\nhardening:\n  runAsUser: 10001\n",
        )
        .unwrap();
        assert_eq!(config.pod_security.workloads, WorkloadMode::Deny);
        assert_eq!(
            config.pod_security.namespaces["ml-iris"].to_labels()
                ["pod-security.kubernetes.io/enforce-version"],
            "v1.33"
        );
        assert_eq!(
            config.rules.required_labels.unwrap().mode,
            RuleMode::Enforce
        );
        assert_eq!(
            config.rules.allowed_registries.unwrap().mode,
            RuleMode::Warn
        );
        assert_eq!(config.rules.image_digest.unwrap().mode, RuleMode::Audit);
        assert_eq!(config.hardening.run_as_user, Some(10001));
        assert_eq!(config.hardening.writable_paths, vec!["/tmp"]);
        let err =
            parse("podSecurity:\n  namespaces:\n    a:\n      enforce: strict\n").unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(
            err.message
                .starts_with("podSecurity.namespaces[a].enforce: invalid level"),
            "{err}"
        );
        let err = parse("rules:\n  imageDigest: {mode: block}\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("unknown variant `block`"), "{err}");
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
