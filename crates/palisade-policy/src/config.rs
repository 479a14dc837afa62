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
    #[serde(default)]
    pub image_verification: ImageVerificationConfig,
}

/// `imageVerification`: who may sign which images, and how the webhook reaches registries to check
/// signatures and scan attestations (`rules.requireSignature`, `rules.requireScan`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageVerificationConfig {
    /// Trusted public keys per image pattern and namespace. An image that no entry covers has no
    /// trusted signer, so the rules deny it.
    #[serde(default)]
    pub trust: Vec<TrustEntry>,
    /// How long a verdict is kept for a digest (and a tag's digest), e.g. `5m`.
    #[serde(default = "default_cache_ttl")]
    pub cache_ttl: String,
    /// Time allowed to verify one image, registry round trips included, e.g. `4s`.
    #[serde(default = "default_verify_timeout")]
    pub timeout: String,
    /// Images verified at once across all requests; others wait (within `timeout`).
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
    /// A registry that cannot be reached: `deny` (fail closed) or `allow` (with a warning).
    #[serde(default)]
    pub on_registry_error: RegistryErrorMode,
    /// The mutating webhook replaces tags with the digest that was verified (`name:tag@sha256:...`),
    /// so what runs is what was checked.
    #[serde(default = "default_true")]
    pub pin_digests: bool,
    /// Registries spoken to over plain HTTP (a loopback or lab registry), `host:port`.
    #[serde(default)]
    pub plain_http_registries: Vec<String>,
    /// A mounted Docker config with registry credentials.
    #[serde(default)]
    pub docker_config: Option<String>,
    /// Read credentials from the pod's `imagePullSecrets` (needs `get` on secrets).
    #[serde(default = "default_true")]
    pub pull_secrets: bool,
}

fn default_cache_ttl() -> String {
    "5m".into()
}

fn default_verify_timeout() -> String {
    "4s".into()
}

fn default_max_concurrent() -> usize {
    16
}

fn default_true() -> bool {
    true
}

impl Default for ImageVerificationConfig {
    fn default() -> Self {
        Self {
            trust: Vec::new(),
            cache_ttl: default_cache_ttl(),
            timeout: default_verify_timeout(),
            max_concurrent: default_max_concurrent(),
            on_registry_error: RegistryErrorMode::default(),
            pin_digests: true,
            plain_http_registries: Vec::new(),
            docker_config: None,
            pull_secrets: true,
        }
    }
}

impl ImageVerificationConfig {
    pub fn cache_ttl(&self) -> std::time::Duration {
        palisade_core::duration::parse_duration(&self.cache_ttl).unwrap_or_default()
    }

    pub fn timeout(&self) -> std::time::Duration {
        palisade_core::duration::parse_duration(&self.timeout).unwrap_or_default()
    }
}

/// One `imageVerification.trust` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustEntry {
    /// Image patterns: `registry/path` covers everything under it; `*` matches within one path
    /// segment and `**` across segments.
    pub images: Vec<String>,
    /// Namespace patterns (`*` matches any characters); all namespaces when absent.
    #[serde(default = "all_namespaces")]
    pub namespaces: Vec<String>,
    /// Public key files (cosign's `cosign.pub`, PEM), relative to the configuration file.
    pub keys: Vec<String>,
    /// The keys' PEM text, read and checked when the configuration is loaded.
    #[serde(skip)]
    pub key_pems: Vec<String>,
}

fn all_namespaces() -> Vec<String> {
    vec!["*".into()]
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryErrorMode {
    #[default]
    Deny,
    Allow,
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
    /// Images carry a cosign signature by a key that `imageVerification.trust` trusts for them in
    /// the pod's namespace.
    pub require_signature: Option<ModeOnly>,
    /// Images carry a signed vulnerability attestation, recent enough and with nothing above a
    /// severity.
    pub require_scan: Option<RequireScan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequireScan {
    #[serde(default)]
    pub mode: RuleMode,
    /// The most severe finding allowed: `unknown`, `low`, `medium`, `high` or `critical`.
    #[serde(default = "default_max_severity")]
    pub max_severity: String,
    /// How old the scan may be, e.g. `7d`.
    #[serde(default = "default_max_age")]
    pub max_age: String,
}

fn default_max_severity() -> String {
    "high".into()
}

fn default_max_age() -> String {
    "7d".into()
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

/// Checks `imageVerification` and the image rules, and reads the trusted keys (relative paths
/// against the configuration file's directory).
fn validate_image_verification(
    file: &Arc<str>,
    root: &palisade_core::Node,
    config: &mut Config,
) -> Result<(), ConfigError> {
    let error = |path: FieldPath, message: String| {
        InputError::at(
            file.clone(),
            root.line_of(&path),
            format!("{path}: {message}"),
        )
    };
    let iv = FieldPath::parse_dotted("imageVerification");
    for key in ["cacheTtl", "timeout"] {
        let value = if key == "cacheTtl" {
            &config.image_verification.cache_ttl
        } else {
            &config.image_verification.timeout
        };
        let duration = palisade_core::duration::parse_duration(value)
            .map_err(|e| error(iv.clone().field(key), e))?;
        if key == "timeout" && duration.is_zero() {
            return Err(error(iv.clone().field(key), "must be more than 0s".into()));
        }
    }
    if config.image_verification.max_concurrent == 0 {
        return Err(error(
            iv.clone().field("maxConcurrent"),
            "must be at least 1".into(),
        ));
    }
    if let Some(scan) = &config.rules.require_scan {
        let at = FieldPath::parse_dotted("rules.requireScan");
        if !["unknown", "low", "medium", "high", "critical"].contains(&scan.max_severity.as_str()) {
            return Err(error(
                at.clone().field("maxSeverity"),
                format!(
                    "{:?} is not one of unknown, low, medium, high, critical",
                    scan.max_severity
                ),
            ));
        }
        palisade_core::duration::parse_duration(&scan.max_age)
            .map_err(|e| error(at.field("maxAge"), e))?;
    }
    let base = Path::new(&**file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for (i, entry) in config.image_verification.trust.iter_mut().enumerate() {
        let at = iv.clone().field("trust").index(i);
        if entry.images.is_empty() {
            return Err(error(
                at.field("images"),
                "must list at least one image pattern".into(),
            ));
        }
        if entry.keys.is_empty() {
            return Err(error(
                at.field("keys"),
                "must list at least one public key".into(),
            ));
        }
        for (k, key) in entry.keys.iter().enumerate() {
            let path = base.join(key);
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                error(
                    at.clone().field("keys").index(k),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            use p256::pkcs8::DecodePublicKey as _;
            p256::ecdsa::VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
                error(
                    at.clone().field("keys").index(k),
                    format!(
                        "{} is not an ECDSA P-256 public key (cosign.pub): {e}",
                        path.display()
                    ),
                )
            })?;
            entry.key_pems.push(pem);
        }
    }
    let rules_on = config.rules.require_signature.is_some() || config.rules.require_scan.is_some();
    if rules_on && config.image_verification.trust.is_empty() {
        let which = if config.rules.require_signature.is_some() {
            "rules.requireSignature"
        } else {
            "rules.requireScan"
        };
        return Err(error(
            FieldPath::parse_dotted(which),
            "needs imageVerification.trust: the keys trusted to sign images".into(),
        ));
    }
    Ok(())
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
        let mut config = config;
        validate_image_verification(&file, &root, &mut config)?;
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
