//! palisade's configuration file (`palisade.yaml`), validated when loaded: every error names the
//! offending key and its line. See `docs/configuration.md`.
//!
//! The file is read in two steps: serde reads it into the private `file` structs, which hold
//! levels, versions, severities and durations as the text the file writes; `Config::parse` then
//! checks each of them, in file order, and builds the typed [`Config`]. Nothing downstream parses a
//! configuration value again, so no consumer can fall back to a default on a value that the
//! validation would have refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use palisade_core::names::{is_dns_label, is_dns_subdomain, is_label_key, is_label_value};
use palisade_core::object::typed_at;
use palisade_core::path::FieldPath;
use palisade_core::{yaml, InputError};
use palisade_diagnostics::Severity;
use palisade_pss::{Level, LevelVersion, Version};

pub use file::{
    AllowedRegistries, Exemptions, HardeningConfig, ModeOnly, ModelsConfig, RegistryErrorMode,
    RequiredLabels, RuleMode, TrustEntry, WorkloadMode,
};

pub const API_VERSION: &str = "palisade.dev/v1alpha1";
pub const KIND: &str = "PalisadeConfig";

/// The whole configuration file, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub pod_security: PodSecurityConfig,
    pub rules: RulesConfig,
    pub hardening: HardeningConfig,
    pub models: ModelsConfig,
    pub image_verification: ImageVerificationConfig,
    pub platform: PlatformConfig,
    /// `policies`: the custom policies the webhook evaluates at admission (files or directories,
    /// relative paths against the configuration file's directory; docs/custom-policies.md).
    pub policies: Vec<PathBuf>,
}

/// `platform`: what the platform runs for every team (`palisade team render` and `team verify`,
/// docs/teams.md): the Pod Security floor no Team may go below, and where the gateway, the cluster
/// DNS and monitoring run, so that teams' NetworkPolicies can let them in (gateway, monitoring) or
/// out (DNS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    /// The loosest level a Team may ask for (`floor`, default `restricted`).
    pub floor: Level,
    /// The ingress gateway, which Teams may accept connections from (`{platform: gateway}`).
    pub gateway: Option<PlatformComponent>,
    /// The cluster DNS, which every team pod may query (UDP and TCP on its ports; default
    /// `kube-system`, `k8s-app: kube-dns`, port 53).
    pub dns: PlatformComponent,
    /// Monitoring, which may scrape every team pod on its `ports`.
    pub monitoring: Option<PlatformComponent>,
    /// The service account palisade's controller runs as (`controller.serviceAccount`, default
    /// `palisade/palisade-controller`): the one identity the webhook lets change managed objects.
    pub controller: ServiceAccount,
    /// Who else may change them (`administrators.users`, `administrators.groups`).
    pub administrators: Administrators,
}

/// A service account: its namespace and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
}

/// The platform's administrators, by user name and group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Administrators {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl PlatformConfig {
    /// The user name the API server gives the controller's requests.
    pub fn controller_username(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.controller.namespace, self.controller.name
        )
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            floor: Level::Restricted,
            gateway: None,
            dns: PlatformComponent {
                namespace: "kube-system".into(),
                pod_labels: BTreeMap::from([("k8s-app".into(), "kube-dns".into())]),
                ports: vec![53],
            },
            monitoring: None,
            controller: ServiceAccount {
                namespace: "palisade".into(),
                name: "palisade-controller".into(),
            },
            administrators: Administrators::default(),
        }
    }
}

/// Where one platform component runs: its namespace and the labels of its pods
/// (`podSelector.matchLabels`; none selects every pod of the namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformComponent {
    pub namespace: String,
    pub pod_labels: BTreeMap<String, String>,
    /// DNS: the ports it serves (UDP and TCP). Monitoring: the ports it scrapes team pods on
    /// (TCP). Unused for the gateway.
    pub ports: Vec<u16>,
}

/// `imageVerification`: who may sign which images, and how the webhook reaches registries to check
/// signatures and scan attestations (`rules.requireSignature`, `rules.requireScan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerificationConfig {
    /// Trusted public keys per image pattern and namespace. An image that no entry covers has no
    /// trusted signer, so the rules deny it.
    pub trust: Vec<TrustEntry>,
    /// How long a verdict is kept for a digest (and a tag's digest); `cacheTtl`, e.g. `5m`.
    pub cache_ttl: Duration,
    /// Time allowed to verify one image, registry round trips included (`4s`); never zero.
    pub timeout: Duration,
    /// Images verified at once across all requests; others wait (within `timeout`). At least 1.
    pub max_concurrent: usize,
    /// A registry that cannot be reached: `deny` (fail closed) or `allow` (with a warning).
    pub on_registry_error: RegistryErrorMode,
    /// The mutating webhook replaces tags with the digest that was verified (`name:tag@sha256:...`),
    /// so what runs is what was checked.
    pub pin_digests: bool,
    /// Registries spoken to over plain HTTP (a loopback or lab registry), `host:port`.
    pub plain_http_registries: Vec<String>,
    /// A mounted Docker config with registry credentials.
    pub docker_config: Option<String>,
    /// Read credentials from the pod's `imagePullSecrets` (needs `get` on secrets).
    pub pull_secrets: bool,
}

impl Default for ImageVerificationConfig {
    fn default() -> Self {
        Self {
            trust: Vec::new(),
            cache_ttl: file::DEFAULT_CACHE_TTL,
            timeout: file::DEFAULT_VERIFY_TIMEOUT,
            max_concurrent: file::default_max_concurrent(),
            on_registry_error: RegistryErrorMode::default(),
            pin_digests: true,
            plain_http_registries: Vec::new(),
            docker_config: None,
            pull_secrets: true,
        }
    }
}

/// `podSecurity`: the level and version for namespaces that set none, and who is exempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSecurityConfig {
    /// Default level, when the file sets one.
    pub level: Option<Level>,
    /// Default version, when the file sets one.
    pub version: Option<Version>,
    pub exemptions: Exemptions,
    /// Per-namespace policy for namespaces whose labels palisade cannot read (offline, or outside a
    /// cluster): the same keys as the `pod-security.kubernetes.io/*` labels.
    pub namespaces: BTreeMap<String, NamespaceLabels>,
    /// How the webhook answers workload resources (Deployment, Job, ...) that would create
    /// violating pods: `warn` (as upstream Pod Security Admission does) or `deny`.
    pub workloads: WorkloadMode,
}

/// The Pod Security labels of a namespace, written in the configuration file (and valid: unlike a
/// namespace's real labels, which upstream reads with fallbacks, an invalid one stops palisade).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamespaceLabels {
    pub enforce: Option<Level>,
    pub enforce_version: Option<Version>,
    pub warn: Option<Level>,
    pub warn_version: Option<Version>,
    pub audit: Option<Level>,
    pub audit_version: Option<Version>,
}

/// ML-serving rules beyond the Pod Security Standards. A rule that is absent is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Model artifacts (image volumes, KServe `storageUri: oci://`) carry a signed model-scan
    /// attestation (`palisade attest --model-scan`) of their digest, recent enough and with no
    /// finding at or above a severity.
    pub require_model_scan: Option<RequireModelScan>,
    /// No serving container runs with `--trust-remote-code` (or `TRUST_REMOTE_CODE`) unless the
    /// model's revision is pinned to a commit.
    pub trust_remote_code: Option<ModeOnly>,
    /// No container sets `NVIDIA_VISIBLE_DEVICES` or `NVIDIA_DRIVER_CAPABILITIES` in a pod that
    /// requests no GPU.
    pub gpu_visibility: Option<ModeOnly>,
    /// No container sets `LD_PRELOAD` in its environment.
    pub ld_preload: Option<ModeOnly>,
}

/// `rules.requireScan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequireScan {
    pub mode: RuleMode,
    /// The most severe finding allowed (`maxSeverity`, default `high`), on palisade's one scale:
    /// the vulnerability word `unknown` is `info`.
    pub max_severity: Severity,
    /// How old the scan may be (`maxAge`, default `7d`).
    pub max_age: Duration,
}

/// `rules.requireModelScan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequireModelScan {
    pub mode: RuleMode,
    /// A finding at least this severe fails (`failOn`: `info`, `suspicious`, `dangerous`; default
    /// `dangerous`, as `palisade scan model --fail-on`).
    pub fail_on: palisade_sign_core::intoto::ModelSeverity,
    /// How old the scan may be (`maxAge`, default `7d`).
    pub max_age: Duration,
}

/// The file as serde reads it: the sections that need no checking beyond their types are public
/// (and part of [`Config`] as they are); the rest hold text that `Config::parse` checks.
mod file {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct Config {
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
        #[serde(default)]
        pub platform: PlatformConfig,
        #[serde(default)]
        pub policies: Vec<String>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct PlatformConfig {
        #[serde(default)]
        pub floor: Option<String>,
        #[serde(default)]
        pub gateway: Option<PlatformComponent>,
        #[serde(default)]
        pub dns: Option<PlatformComponent>,
        #[serde(default)]
        pub monitoring: Option<PlatformComponent>,
        #[serde(default)]
        pub controller: Option<Controller>,
        #[serde(default)]
        pub administrators: Administrators,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct Controller {
        pub service_account: String,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct Administrators {
        #[serde(default)]
        pub users: Vec<String>,
        #[serde(default)]
        pub groups: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct PlatformComponent {
        pub namespace: String,
        #[serde(default)]
        pub pod_selector: PodSelector,
        #[serde(default)]
        pub ports: Vec<i64>,
    }

    /// A label selector of labels only: what a NetworkPolicy peer and the analysis both read.
    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct PodSelector {
        #[serde(default)]
        pub match_labels: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct ImageVerificationConfig {
        #[serde(default)]
        pub trust: Vec<TrustEntry>,
        #[serde(default)]
        pub cache_ttl: Option<String>,
        #[serde(default)]
        pub timeout: Option<String>,
        #[serde(default = "default_max_concurrent")]
        pub max_concurrent: usize,
        #[serde(default)]
        pub on_registry_error: RegistryErrorMode,
        #[serde(default = "default_true")]
        pub pin_digests: bool,
        #[serde(default)]
        pub plain_http_registries: Vec<String>,
        #[serde(default)]
        pub docker_config: Option<String>,
        #[serde(default = "default_true")]
        pub pull_secrets: bool,
    }

    impl Default for ImageVerificationConfig {
        fn default() -> Self {
            Self {
                trust: Vec::new(),
                cache_ttl: None,
                timeout: None,
                max_concurrent: default_max_concurrent(),
                on_registry_error: RegistryErrorMode::default(),
                pin_digests: true,
                plain_http_registries: Vec::new(),
                docker_config: None,
                pull_secrets: true,
            }
        }
    }

    /// `cacheTtl` when the file leaves it out.
    pub(super) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

    /// `timeout` when the file leaves it out.
    pub(super) const DEFAULT_VERIFY_TIMEOUT: Duration = Duration::from_secs(4);

    pub(super) fn default_max_concurrent() -> usize {
        16
    }

    fn default_true() -> bool {
        true
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
        /// Globals allowed beyond the built-in allowlist (docs/model-allowlist.md): `module.name`,
        /// or `module.*` for every name in a module.
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

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct PodSecurityConfig {
        #[serde(default)]
        pub level: Option<String>,
        #[serde(default)]
        pub version: Option<String>,
        #[serde(default)]
        pub exemptions: Exemptions,
        #[serde(default)]
        pub namespaces: BTreeMap<String, NamespaceLabels>,
        #[serde(default)]
        pub workloads: WorkloadMode,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "kebab-case", deny_unknown_fields)]
    pub(super) struct NamespaceLabels {
        pub enforce: Option<String>,
        pub enforce_version: Option<String>,
        pub warn: Option<String>,
        pub warn_version: Option<String>,
        pub audit: Option<String>,
        pub audit_version: Option<String>,
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

    #[derive(Debug, Default, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct RulesConfig {
        pub required_labels: Option<RequiredLabels>,
        pub allowed_registries: Option<AllowedRegistries>,
        pub image_digest: Option<ModeOnly>,
        pub no_latest_tag: Option<ModeOnly>,
        pub require_signature: Option<ModeOnly>,
        pub require_scan: Option<RequireScan>,
        pub require_model_scan: Option<RequireModelScan>,
        pub trust_remote_code: Option<ModeOnly>,
        pub gpu_visibility: Option<ModeOnly>,
        pub ld_preload: Option<ModeOnly>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct RequireScan {
        #[serde(default)]
        pub mode: RuleMode,
        #[serde(default = "default_max_severity")]
        pub max_severity: String,
        #[serde(default = "default_max_age")]
        pub max_age: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub(super) struct RequireModelScan {
        #[serde(default)]
        pub mode: RuleMode,
        #[serde(default = "default_model_fail_on")]
        pub fail_on: String,
        #[serde(default = "default_max_age")]
        pub max_age: String,
    }

    fn default_model_fail_on() -> String {
        "dangerous".into()
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
        /// The UID given to pods that set no `runAsUser`, so `runAsNonRoot` can hold for images
        /// whose user is root. `null` leaves runAsUser alone.
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
}

/// A vulnerability severity as the file must write it: the five words of `palisade scan image`,
/// exactly (not the advisory databases' synonyms), on palisade's one scale (`unknown`, a
/// vulnerability without a rating, is `info`).
pub fn severity_word(text: &str) -> Option<Severity> {
    match text {
        "unknown" => Some(Severity::Info),
        "low" | "medium" | "high" | "critical" => text.parse().ok(),
        _ => None,
    }
}

/// A configuration file that is invalid: the file, the key and its line.
pub type ConfigError = InputError;

/// Builds errors that name the file, the key and its line.
struct Errors<'a> {
    file: &'a Arc<str>,
    root: &'a palisade_core::Node,
}

impl Errors<'_> {
    fn at(&self, path: FieldPath, message: String) -> ConfigError {
        InputError::at(
            self.file.clone(),
            self.root.line_of(&path),
            format!("{path}: {message}"),
        )
    }

    fn key(&self, key: &str, message: String) -> ConfigError {
        self.at(FieldPath::parse_dotted(key), message)
    }

    /// An optional value read with its type's own parser, its error at `path`.
    fn parsed<T>(&self, path: FieldPath, text: &Option<String>) -> Result<Option<T>, ConfigError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        text.as_deref()
            .map(|t| t.parse::<T>().map_err(|e| self.at(path, e.to_string())))
            .transpose()
    }

    fn duration(&self, path: FieldPath, text: &str) -> Result<Duration, ConfigError> {
        palisade_core::duration::parse_duration(text).map_err(|e| self.at(path, e))
    }
}

/// Checks `imageVerification` and the image rules, reads the trusted keys (relative paths against
/// the configuration file's directory), and returns both typed.
fn validate_image_verification(
    errors: &Errors<'_>,
    iv: file::ImageVerificationConfig,
    require_scan: Option<file::RequireScan>,
    require_signature: bool,
) -> Result<(ImageVerificationConfig, Option<RequireScan>), ConfigError> {
    let at = FieldPath::parse_dotted("imageVerification");
    let cache_ttl = match &iv.cache_ttl {
        Some(text) => errors.duration(at.clone().field("cacheTtl"), text)?,
        None => file::DEFAULT_CACHE_TTL,
    };
    let timeout = match &iv.timeout {
        Some(text) => errors.duration(at.clone().field("timeout"), text)?,
        None => file::DEFAULT_VERIFY_TIMEOUT,
    };
    if timeout.is_zero() {
        return Err(errors.at(at.clone().field("timeout"), "must be more than 0s".into()));
    }
    if iv.max_concurrent == 0 {
        return Err(errors.at(
            at.clone().field("maxConcurrent"),
            "must be at least 1".into(),
        ));
    }
    let require_scan = match require_scan {
        None => None,
        Some(scan) => {
            let at = FieldPath::parse_dotted("rules.requireScan");
            let max_severity = severity_word(&scan.max_severity).ok_or_else(|| {
                errors.at(
                    at.clone().field("maxSeverity"),
                    format!(
                        "{:?} is not one of unknown, low, medium, high, critical",
                        scan.max_severity
                    ),
                )
            })?;
            let max_age = errors.duration(at.field("maxAge"), &scan.max_age)?;
            Some(RequireScan {
                mode: scan.mode,
                max_severity,
                max_age,
            })
        }
    };
    let base = Path::new(&**errors.file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut trust = iv.trust;
    for (i, entry) in trust.iter_mut().enumerate() {
        let at = at.clone().field("trust").index(i);
        if entry.images.is_empty() {
            return Err(errors.at(
                at.field("images"),
                "must list at least one image pattern".into(),
            ));
        }
        if entry.keys.is_empty() {
            return Err(errors.at(at.field("keys"), "must list at least one public key".into()));
        }
        for (k, key) in entry.keys.iter().enumerate() {
            let path = base.join(key);
            let pem = std::fs::read_to_string(&path).map_err(|e| {
                errors.at(
                    at.clone().field("keys").index(k),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            // The verifier's own parser: a key accepted here is one the webhook can use.
            palisade_sign_core::keys::public_key(&pem).map_err(|e| {
                errors.at(
                    at.clone().field("keys").index(k),
                    format!(
                        "{} is not an ECDSA P-256 public key (cosign.pub): {}",
                        path.display(),
                        e.0
                    ),
                )
            })?;
            entry.key_pems.push(pem);
        }
    }
    if (require_signature || require_scan.is_some()) && trust.is_empty() {
        let which = if require_signature {
            "rules.requireSignature"
        } else {
            "rules.requireScan"
        };
        return Err(errors.key(
            which,
            "needs imageVerification.trust: the keys trusted to sign images".into(),
        ));
    }
    Ok((
        ImageVerificationConfig {
            trust,
            cache_ttl,
            timeout,
            max_concurrent: iv.max_concurrent,
            on_registry_error: iv.on_registry_error,
            pin_digests: iv.pin_digests,
            plain_http_registries: iv.plain_http_registries,
            docker_config: iv.docker_config,
            pull_secrets: iv.pull_secrets,
        },
        require_scan,
    ))
}

/// Checks `policies`: each a path (against the configuration file's directory) that exists, a
/// file or a directory; the webhook compiles what they hold when it starts.
fn validate_policies(errors: &Errors<'_>, paths: &[String]) -> Result<Vec<PathBuf>, ConfigError> {
    let base = Path::new(&**errors.file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut out: Vec<PathBuf> = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let at = FieldPath::root().field("policies").index(i);
        if path.trim().is_empty() {
            return Err(errors.at(at, "an empty path".into()));
        }
        let full = base.join(path);
        if let Err(e) = std::fs::metadata(&full) {
            return Err(errors.at(at, format!("cannot read {}: {e}", full.display())));
        }
        if out.contains(&full) {
            return Err(errors.at(at, format!("{path:?} is listed twice")));
        }
        out.push(full);
    }
    Ok(out)
}

/// Checks `platform` and returns it typed.
fn validate_platform(
    errors: &Errors<'_>,
    raw: file::PlatformConfig,
) -> Result<PlatformConfig, ConfigError> {
    let at = FieldPath::root().field("platform");
    let defaults = PlatformConfig::default();
    let floor = errors
        .parsed::<Level>(at.clone().field("floor"), &raw.floor)?
        .unwrap_or(defaults.floor);
    let component = |name: &str,
                     raw: Option<file::PlatformComponent>|
     -> Result<Option<PlatformComponent>, ConfigError> {
        let Some(raw) = raw else { return Ok(None) };
        let at = at.clone().field(name);
        if !is_dns_label(&raw.namespace) {
            return Err(errors.at(
                at.field("namespace"),
                format!("{:?} is not a valid namespace name", raw.namespace),
            ));
        }
        for (key, value) in &raw.pod_selector.match_labels {
            if !is_label_key(key) || !is_label_value(value) {
                return Err(errors.at(
                    at.clone()
                        .field("podSelector")
                        .field("matchLabels")
                        .key(key),
                    format!("{key}={value:?} is not a valid label"),
                ));
            }
        }
        let mut ports = Vec::new();
        for (i, &port) in raw.ports.iter().enumerate() {
            match u16::try_from(port) {
                Ok(p) if p > 0 => ports.push(p),
                _ => {
                    return Err(errors.at(
                        at.clone().field("ports").index(i),
                        format!("{port} is not a port (1-65535)"),
                    ))
                }
            }
        }
        ports.sort_unstable();
        ports.dedup();
        Ok(Some(PlatformComponent {
            namespace: raw.namespace,
            pod_labels: raw.pod_selector.match_labels,
            ports,
        }))
    };
    let gateway = component("gateway", raw.gateway)?;
    let mut dns = component("dns", raw.dns)?.unwrap_or(defaults.dns);
    if dns.ports.is_empty() {
        dns.ports.push(53);
    }
    let monitoring = component("monitoring", raw.monitoring)?;
    if let Some(m) = &monitoring {
        if m.ports.is_empty() {
            return Err(errors.at(
                at.clone().field("monitoring"),
                "must list the ports it scrapes team pods on (ports: [9090])".into(),
            ));
        }
    }
    let controller = match raw.controller {
        None => defaults.controller,
        Some(controller) => {
            let at = at.clone().field("controller").field("serviceAccount");
            match controller.service_account.split_once('/') {
                Some((namespace, name)) if is_dns_label(namespace) && is_dns_subdomain(name) => {
                    ServiceAccount {
                        namespace: namespace.to_owned(),
                        name: name.to_owned(),
                    }
                }
                _ => {
                    return Err(errors.at(
                        at,
                        format!(
                            "{:?} is not NAMESPACE/NAME of a service account",
                            controller.service_account
                        ),
                    ))
                }
            }
        }
    };
    for (key, names) in [
        ("users", &raw.administrators.users),
        ("groups", &raw.administrators.groups),
    ] {
        if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
            return Err(errors.at(
                at.clone().field("administrators").field(key).index(i),
                "an empty name".into(),
            ));
        }
    }
    Ok(PlatformConfig {
        floor,
        gateway,
        dns,
        monitoring,
        controller,
        administrators: Administrators {
            users: raw.administrators.users,
            groups: raw.administrators.groups,
        },
    })
}

/// Checks one `podSecurity.namespaces` entry.
fn validate_namespace(
    errors: &Errors<'_>,
    namespace: &str,
    labels: &file::NamespaceLabels,
) -> Result<NamespaceLabels, ConfigError> {
    let at = |key: &str| {
        FieldPath::parse_dotted("podSecurity.namespaces")
            .key(namespace)
            .field(key)
    };
    let level = |key: &str, text: &Option<String>| errors.parsed::<Level>(at(key), text);
    let version = |key: &str, text: &Option<String>| errors.parsed::<Version>(at(key), text);
    // Levels before versions, as they were always checked (the first error is the one reported).
    let enforce = level("enforce", &labels.enforce)?;
    let warn = level("warn", &labels.warn)?;
    let audit = level("audit", &labels.audit)?;
    Ok(NamespaceLabels {
        enforce,
        warn,
        audit,
        enforce_version: version("enforce-version", &labels.enforce_version)?,
        warn_version: version("warn-version", &labels.warn_version)?,
        audit_version: version("audit-version", &labels.audit_version)?,
    })
}

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
        let raw: file::Config = typed_at(&file, &root, &FieldPath::root(), &root)?;
        let errors = Errors {
            file: &file,
            root: &root,
        };
        if let Some(v) = &raw.api_version {
            if v != API_VERSION {
                return Err(errors.key("apiVersion", format!("must be {API_VERSION:?}, not {v:?}")));
            }
        }
        if let Some(k) = &raw.kind {
            if k != KIND {
                return Err(errors.key("kind", format!("must be {KIND:?}, not {k:?}")));
            }
        }
        let ps = raw.pod_security;
        let level =
            errors.parsed::<Level>(FieldPath::parse_dotted("podSecurity.level"), &ps.level)?;
        let version = errors
            .parsed::<Version>(FieldPath::parse_dotted("podSecurity.version"), &ps.version)?;
        let mut namespaces = BTreeMap::new();
        for (namespace, labels) in &ps.namespaces {
            namespaces.insert(
                namespace.clone(),
                validate_namespace(&errors, namespace, labels)?,
            );
        }
        if let Some(uid) = raw.hardening.run_as_user {
            if uid <= 0 {
                return Err(errors.key(
                    "hardening.runAsUser",
                    format!("must be a non-zero UID, not {uid}"),
                ));
            }
        }
        for (i, global) in raw.models.allowed_globals.iter().enumerate() {
            let valid = global.rsplit_once('.').is_some_and(|(module, name)| {
                !module.is_empty()
                    && !name.is_empty()
                    && module.split('.').all(|part| {
                        !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                    })
                    && (name == "*" || name.chars().all(|c| c.is_alphanumeric() || c == '_'))
            });
            if !valid {
                return Err(errors.at(
                    FieldPath::parse_dotted("models.allowedGlobals").index(i),
                    format!("{global:?} is not module.name or module.*"),
                ));
            }
        }
        for (i, path) in raw.hardening.writable_paths.iter().enumerate() {
            if !path.starts_with('/') {
                return Err(errors.at(
                    FieldPath::parse_dotted("hardening.writablePaths").index(i),
                    format!("must be an absolute path, not {path:?}"),
                ));
            }
        }
        let platform = validate_platform(&errors, raw.platform)?;
        let policies = validate_policies(&errors, &raw.policies)?;
        let rules = raw.rules;
        let (image_verification, require_scan) = validate_image_verification(
            &errors,
            raw.image_verification,
            rules.require_scan,
            rules.require_signature.is_some(),
        )?;
        let require_model_scan = match rules.require_model_scan {
            None => None,
            Some(rule) => {
                let at = FieldPath::parse_dotted("rules.requireModelScan");
                let fail_on = rule
                    .fail_on
                    .parse()
                    .map_err(|e: String| errors.at(at.clone().field("failOn"), e))?;
                let max_age = errors.duration(at.field("maxAge"), &rule.max_age)?;
                if image_verification.trust.is_empty() {
                    return Err(errors.key(
                        "rules.requireModelScan",
                        "needs imageVerification.trust: the keys trusted to attest model scans"
                            .into(),
                    ));
                }
                Some(RequireModelScan {
                    mode: rule.mode,
                    fail_on,
                    max_age,
                })
            }
        };
        if let Some(registries) = &rules.allowed_registries {
            if registries.registries.is_empty() {
                return Err(errors.key(
                    "rules.allowedRegistries.registries",
                    "must list at least one registry".into(),
                ));
            }
        }
        Ok(Config {
            api_version: raw.api_version,
            kind: raw.kind,
            pod_security: PodSecurityConfig {
                level,
                version,
                exemptions: ps.exemptions,
                namespaces,
                workloads: ps.workloads,
            },
            rules: RulesConfig {
                required_labels: rules.required_labels,
                allowed_registries: rules.allowed_registries,
                image_digest: rules.image_digest,
                no_latest_tag: rules.no_latest_tag,
                require_signature: rules.require_signature,
                require_scan,
                require_model_scan,
                trust_remote_code: rules.trust_remote_code,
                gpu_visibility: rules.gpu_visibility,
                ld_preload: rules.ld_preload,
            },
            hardening: raw.hardening,
            models: raw.models,
            image_verification,
            platform,
            policies,
        })
    }

    /// The default level and version: the file's, where it sets them, else `restricted:latest`
    /// (the documented defaults; the file's values were checked when it was loaded).
    pub fn default_level_version(&self) -> LevelVersion {
        let ps = &self.pod_security;
        LevelVersion::new(
            ps.level.unwrap_or(Level::Restricted),
            ps.version.unwrap_or(Version::Latest),
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
    fn reads_the_serving_rules() {
        let config = parse(
            "rules:\n  trustRemoteCode: {}\n  gpuVisibility: {mode: warn}\n  ldPreload: {mode: audit}\n",
        )
        .unwrap();
        assert_eq!(
            config.rules.trust_remote_code.unwrap().mode,
            RuleMode::Enforce
        );
        assert_eq!(config.rules.gpu_visibility.unwrap().mode, RuleMode::Warn);
        assert_eq!(config.rules.ld_preload.unwrap().mode, RuleMode::Audit);
        assert!(parse("").unwrap().rules.trust_remote_code.is_none());
        let err = parse("rules:\n  ldPreload: {mode: deny}\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
    }

    #[test]
    fn reads_rules_namespaces_and_hardening() {
        let config = parse(
            "podSecurity:\n  workloads: deny\n  namespaces:\n    ml-iris: {enforce: restricted, enforce-version: v1.33}\nrules:\n  requiredLabels: {labels: [team, model]}\n  allowedRegistries: {mode: warn, registries: [registry.example.com]}\n  imageDigest: {mode: audit}\n  noLatestTag: {}\nhardening:\n  runAsUser: 10001\n",
        )
        .unwrap();
        assert_eq!(config.pod_security.workloads, WorkloadMode::Deny);
        assert_eq!(
            config.pod_security.namespaces["ml-iris"],
            NamespaceLabels {
                enforce: Some(Level::Restricted),
                enforce_version: Some(Version::Minor(33)),
                ..NamespaceLabels::default()
            }
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
    fn reads_who_may_change_managed_objects() {
        let config = parse("platform:\n  controller: {serviceAccount: platform/teams}\n  administrators: {users: [alice], groups: [platform-admins]}\n").unwrap();
        assert_eq!(
            config.platform.controller_username(),
            "system:serviceaccount:platform:teams"
        );
        assert_eq!(
            config.platform.administrators.groups,
            vec!["platform-admins"]
        );
        assert_eq!(
            Config::default().platform.controller_username(),
            "system:serviceaccount:palisade:palisade-controller"
        );
        let err = parse("platform:\n  controller: {serviceAccount: teams}\n").unwrap_err();
        assert!(
            err.message
                .starts_with("platform.controller.serviceAccount: \"teams\" is not NAMESPACE/NAME"),
            "{}",
            err.message
        );
        assert_eq!(err.line, Some(2));
        let err = parse("platform:\n  administrators: {groups: [\"\"]}\n").unwrap_err();
        assert!(
            err.message
                .starts_with("platform.administrators.groups[0]: an empty name"),
            "{}",
            err.message
        );
    }

    #[test]
    fn reads_the_policies_against_the_files_directory() {
        let dir =
            std::env::temp_dir().join(format!("palisade-config-policies-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("policies")).unwrap();
        std::fs::write(dir.join("one.yaml"), "").unwrap();
        let file: Arc<str> = Arc::from(dir.join("palisade.yaml").display().to_string());
        let config = Config::parse(file.clone(), "policies: [one.yaml, policies]\n").unwrap();
        assert_eq!(
            config.policies,
            vec![dir.join("one.yaml"), dir.join("policies")]
        );
        assert!(Config::default().policies.is_empty());
        let err = Config::parse(
            file.clone(),
            "rules: {}\npolicies:\n- one.yaml\n- missing.yaml\n",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(err.message.starts_with("policies[1]: cannot read"), "{err}");
        let err = Config::parse(file.clone(), "policies: [\"\"]\n").unwrap_err();
        assert!(
            err.message.starts_with("policies[0]: an empty path"),
            "{err}"
        );
        let err = Config::parse(file.clone(), "policies: [one.yaml, one.yaml]\n").unwrap_err();
        assert!(err.message.contains("listed twice"), "{err}");
        let err = Config::parse(file, "policies: one.yaml\n").unwrap_err();
        assert!(err.message.starts_with("policies"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_platform_section() {
        let config = parse(
            "platform:\n  floor: baseline\n  gateway: {namespace: ingress, podSelector: {matchLabels: {app: gateway}}}\n  monitoring:\n    namespace: monitoring\n    podSelector: {matchLabels: {app.kubernetes.io/name: prometheus}}\n    ports: [9090, 8080, 9090]\n",
        )
        .unwrap();
        let platform = &config.platform;
        assert_eq!(platform.floor, Level::Baseline);
        assert_eq!(platform.gateway.as_ref().unwrap().namespace, "ingress");
        assert_eq!(
            platform.monitoring.as_ref().unwrap().ports,
            vec![8080, 9090]
        );
        assert_eq!(platform.dns, PlatformConfig::default().dns);
        assert_eq!(Config::default().platform.floor, Level::Restricted);

        let err = parse("platform:\n  floor: open\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(
            err.message.starts_with("platform.floor: invalid level"),
            "{err}"
        );
        let err = parse("platform:\n  dns:\n    namespace: kube-system\n    ports: [70000]\n")
            .unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(
            err.message
                .starts_with("platform.dns.ports[0]: 70000 is not a port"),
            "{err}"
        );
        let err = parse("platform:\n  monitoring:\n    namespace: monitoring\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.message.contains("must list the ports"), "{err}");
        let err = parse("platform:\n  gateway:\n    namespace: Ingress\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        let err = parse(
            "platform:\n  gateway:\n    namespace: ingress\n    podSelector: {matchExpressions: []}\n",
        )
        .unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(
            err.message.contains("unknown field `matchExpressions`"),
            "{err}"
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
