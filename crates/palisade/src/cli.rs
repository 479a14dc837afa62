//! Command-line arguments. Every option has a `PALISADE_*` environment fallback.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use palisade_pss::{Level, Version};

#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("PALISADE_GIT_COMMIT"), ")"),
    about = "Defense in depth for machine-learning model serving on Kubernetes"
)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit Kubernetes manifests against the Pod Security Standards, offline, with the verdicts
    /// and messages of the API server's Pod Security Admission.
    Audit(AuditArgs),
    /// Make manifests pass the restricted Pod Security Standard where that is safe: set what is
    /// unset, never override a value, keep comments and key order where the YAML allows.
    Harden(HardenArgs),
    /// Explain why a pod was rejected or does not start (from the manifest, its events or the
    /// admission denial, its logs, its image) and fix what can be fixed without a person.
    Explain(ExplainArgs),
    /// Serve the validating and mutating admission webhook (AdmissionReview v1 over HTTPS).
    Webhook(WebhookArgs),
    /// Write a self-signed CA and a serving certificate for the webhook (local use, or clusters
    /// without cert-manager).
    Certs(CertsArgs),
    /// Scan container images for vulnerable OS and Python packages.
    #[command(subcommand)]
    Scan(ScanCommand),
    /// Write an image's software bill of materials (CycloneDX 1.6 or SPDX 2.3 JSON).
    Sbom(SbomArgs),
    /// Manage the local vulnerability database (OSV records).
    #[command(subcommand)]
    Db(DbCommand),
    /// Signing keys, in cosign's formats.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign an image's manifest digest as cosign does, and push the signature to its registry;
    /// `sign model`: sign a model's files (OpenSSF Model Signing).
    Sign(SignCommandArgs),
    /// Check that an image carries a signature by a key: exit 0 when one verifies, 1 with every
    /// reason when none does; `verify model`: verify a model's signature (OpenSSF Model Signing).
    Verify(VerifyCommandArgs),
    /// Attest an image's vulnerability scan: an in-toto statement with cosign's vuln predicate in
    /// a signed DSSE envelope, pushed as cosign pushes attestations (the `.att` tag).
    Attest(AttestArgs),
    /// Network segmentation: what manifests let talk to what, NetworkPolicies generated from an
    /// intent, and a check that manifests allow exactly the intent.
    #[command(subcommand)]
    Netpol(NetpolCommand),
    /// Teams (docs/teams.md): every object the platform manages for them, and the proof that
    /// their guardrails hold.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Reconcile every Team in the cluster to what `team render` prints (server-side apply,
    /// drift repair, Team status, Events), with leader election on a Lease; metrics, /healthz
    /// and /readyz on --metrics-addr.
    Controller(ControllerArgs),
    /// Custom admission policies (ValidatingAdmissionPolicy, Kyverno, Gatekeeper;
    /// docs/custom-policies.md).
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run every Gatekeeper suite.yaml (gator verify) and Kyverno kyverno-test.yaml found under
    /// each PATH (a PATH may be one test file). Exit 0 when every expectation holds, 1 when one
    /// does not, 2 when a suite cannot be read or its policies compiled.
    Test(PolicyTestArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyTestFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    /// Test files, or directories searched recursively for them (hidden ones included, as
    /// Kyverno keeps its tests in .kyverno-test/).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Report format: a table of what did not hold, or JSON with every expectation.
    #[arg(long, short = 'f', value_enum, default_value_t = PolicyTestFormat::Table, env = "PALISADE_FORMAT")]
    pub format: PolicyTestFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    #[command(flatten)]
    pub image: RegistryImageArgs,
    /// The private key (cosign's encrypted format; the password from PALISADE_PASSWORD or a prompt).
    #[arg(long, env = "PALISADE_KEY", value_name = "FILE")]
    pub key: PathBuf,
    /// Scan the image now (with the local vulnerability database).
    #[arg(
        long,
        conflicts_with_all = ["scan_json", "model_scan"],
        required_unless_present_any = ["scan_json", "model_scan"]
    )]
    pub scan: bool,
    /// Scan the OCI model artifact IMAGE names (ModelPack, or any artifact whose layers are model
    /// files) as `palisade scan model oci://IMAGE` does, and attest that model scan
    /// (predicate https://palisade.dev/attestation/model-scan/v1; docs/model-scanning.md).
    #[arg(long, conflicts_with_all = ["scan_json", "ignore_file", "ignore_unfixed"])]
    pub model_scan: bool,
    /// Attest this report of `palisade scan image -f json` instead of scanning (a report made
    /// with `--no-model-scan` is refused at verification).
    #[arg(long, value_name = "FILE")]
    pub scan_json: Option<PathBuf>,
    #[command(flatten)]
    pub db: DbLocation,
    /// With --scan: the configuration file (`models.imagePaths`, `models.allowedGlobals`), as
    /// `palisade scan image --config` reads it; with --model-scan, `models.allowedGlobals`.
    #[arg(
        long,
        short = 'c',
        env = "PALISADE_CONFIG",
        conflicts_with = "scan_json"
    )]
    pub config: Option<PathBuf>,
    /// With --scan: accepted findings, as `palisade scan image --ignore-file` reads them.
    #[arg(
        long,
        env = "PALISADE_IGNORE_FILE",
        value_name = "FILE",
        conflicts_with = "scan_json"
    )]
    pub ignore_file: Option<PathBuf>,
    /// With --scan: leave out vulnerabilities with no published fix.
    #[arg(long, env = "PALISADE_IGNORE_UNFIXED", conflicts_with = "scan_json")]
    pub ignore_unfixed: bool,
}

/// A registry image and how to reach it.
#[derive(Debug, Args)]
pub struct RegistryImageArgs {
    // An Option only so that `sign model` / `verify model` parse; clap requires it otherwise.
    /// `registry:HOST/REPO:TAG`, `registry:HOST/REPO@sha256:...` (the `registry:` prefix is optional).
    #[arg(value_name = "IMAGE", required = true)]
    pub image: Option<String>,
    /// Speak plain HTTP to the registry (a loopback or lab registry only).
    #[arg(long, env = "PALISADE_PLAIN_HTTP")]
    pub plain_http: bool,
    /// The Docker config file with registry credentials.
    #[arg(long, env = "PALISADE_DOCKER_CONFIG", value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
}

impl RegistryImageArgs {
    /// The image as given (clap requires it unless a `model` subcommand is given).
    pub fn name(&self) -> &str {
        self.image.as_deref().unwrap_or_default()
    }
}

/// `palisade sign IMAGE` or `palisade sign model PATH`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SignCommandArgs {
    #[command(subcommand)]
    pub model: Option<SignModelCommand>,
    #[command(flatten)]
    pub image: SignArgs,
}

/// `palisade verify IMAGE` or `palisade verify model PATH`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct VerifyCommandArgs {
    #[command(subcommand)]
    pub model: Option<VerifyModelCommand>,
    #[command(flatten)]
    pub image: VerifyArgs,
}

#[derive(Debug, Subcommand)]
pub enum SignModelCommand {
    /// Sign a model (a directory or one file) in the OpenSSF Model Signing format, as
    /// `model_signing sign key|certificate` does: a Sigstore bundle with a DSSE envelope over the
    /// manifest of every file's digest (docs/model-signing.md).
    Model(SignModelArgs),
}

#[derive(Debug, Subcommand)]
pub enum VerifyModelCommand {
    /// Verify a model's OpenSSF Model Signing signature and that every file matches it: exit 0
    /// verified, 1 not (each reason named), 2 bad input (docs/model-signing.md).
    Model(VerifyModelArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelSignMethod {
    /// One digest per file.
    Files,
    /// One digest per shard of --shard-size bytes.
    Shards,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelSignHash {
    Sha256,
    Blake2b,
}

/// What `sign model` and `verify model` share: which files make up the model.
#[derive(Debug, Args)]
pub struct ModelPathArgs {
    /// The model: a directory (every file under it) or a single file.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Paths to leave out, relative to the current directory (or absolute) as model_signing
    /// reads them; those outside the model are dropped. The signature file is always left out.
    #[arg(long = "ignore-paths", value_name = "P", num_args = 1.., env = "PALISADE_IGNORE_PATHS", value_delimiter = ',')]
    pub ignore_paths: Vec<PathBuf>,
    /// Include .git, .gitattributes, .github and .gitignore (left out by default).
    #[arg(long, env = "PALISADE_NO_IGNORE_GIT_PATHS")]
    pub no_ignore_git_paths: bool,
}

#[derive(Debug, Args)]
pub struct SignModelArgs {
    #[command(flatten)]
    pub model: ModelPathArgs,
    /// The private key: cosign's encrypted format (password from PALISADE_PASSWORD or a prompt),
    /// or an unencrypted PKCS#8 / SEC1 PEM; ECDSA P-256 or P-384.
    #[arg(long, env = "PALISADE_KEY", value_name = "FILE")]
    pub key: PathBuf,
    /// Where to write the signature.
    #[arg(
        long,
        env = "PALISADE_SIGNATURE",
        value_name = "FILE",
        default_value = "model.sig"
    )]
    pub signature: PathBuf,
    /// Sign as this certificate (PEM) whose key is --key: the bundle carries the certificate chain.
    #[arg(long, env = "PALISADE_SIGNING_CERTIFICATE", value_name = "PEM")]
    pub signing_certificate: Option<PathBuf>,
    /// With --signing-certificate: the rest of the chain (intermediates, root), PEM.
    #[arg(long, value_name = "PEM", num_args = 1.., requires = "signing_certificate")]
    pub certificate_chain: Vec<PathBuf>,
    /// Hash whole files, or shards of files.
    #[arg(long, value_enum, default_value_t = ModelSignMethod::Files, env = "PALISADE_MODEL_METHOD")]
    pub method: ModelSignMethod,
    /// With --method shards: the shard size in bytes.
    #[arg(long, default_value_t = 1_000_000_000, env = "PALISADE_SHARD_SIZE", value_parser = clap::value_parser!(u64).range(1..))]
    pub shard_size: u64,
    #[arg(long, value_enum, default_value_t = ModelSignHash::Sha256, env = "PALISADE_MODEL_HASH")]
    pub hash: ModelSignHash,
    /// Hash the targets of symbolic links (refused by default).
    #[arg(long, env = "PALISADE_ALLOW_SYMLINKS")]
    pub allow_symlinks: bool,
}

#[derive(Debug, Args)]
pub struct VerifyModelArgs {
    #[command(flatten)]
    pub model: ModelPathArgs,
    /// The signature (a Sigstore bundle).
    #[arg(long, env = "PALISADE_SIGNATURE", value_name = "FILE")]
    pub signature: PathBuf,
    /// The signer's public key (PEM; ECDSA P-256 or P-384).
    #[arg(long, env = "PALISADE_PUBLIC_KEY", value_name = "PUB",
          conflicts_with_all = ["certificate_chain", "trusted_root"],
          required_unless_present_any = ["certificate_chain", "trusted_root"])]
    pub key: Option<PathBuf>,
    /// Certificates (PEM) the signing certificate must chain to.
    #[arg(long, value_name = "PEM", num_args = 1.., conflicts_with = "trusted_root")]
    pub certificate_chain: Vec<PathBuf>,
    /// A Sigstore trusted_root.json: verify a keyless bundle offline against it.
    #[arg(long, env = "PALISADE_TRUSTED_ROOT", value_name = "FILE", requires_all = ["identity", "issuer"])]
    pub trusted_root: Option<PathBuf>,
    /// With --trusted-root: the signer's identity (the certificate's SAN: an email or URI).
    #[arg(long, env = "PALISADE_IDENTITY", value_name = "ID")]
    pub identity: Option<String>,
    /// With --trusted-root: the OIDC issuer of the identity.
    #[arg(long, env = "PALISADE_ISSUER", value_name = "URL")]
    pub issuer: Option<String>,
    #[arg(long, short = 'f', value_enum, default_value_t = VerifyModelFormat::Text, env = "PALISADE_FORMAT")]
    pub format: VerifyModelFormat,
    /// Write the verdict to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyModelFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub image: RegistryImageArgs,
    /// The private key (cosign's encrypted format; the password from PALISADE_PASSWORD or a prompt).
    #[arg(long, env = "PALISADE_KEY", value_name = "FILE", required = true)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub image: RegistryImageArgs,
    /// The public key (`cosign.pub`).
    #[arg(
        long,
        env = "PALISADE_PUBLIC_KEY",
        value_name = "FILE",
        required = true
    )]
    pub key: Option<PathBuf>,
    /// Also require a vulnerability-scan attestation signed by the same key.
    #[arg(long)]
    pub require_scan: bool,
    /// With --require-scan: the most severe finding the scan may have.
    #[arg(long, default_value = "high", value_parser = vuln_severity())]
    pub max_severity: palisade_vuln::severity::Severity,
    /// With --require-scan or --require-model-scan: how old the scan may be (`90m`, `24h`, `7d`).
    #[arg(long, default_value = "7d", value_parser = DurationArg::parse)]
    pub max_age: DurationArg,
    /// Also require a model-scan attestation (`palisade attest --model-scan`) of this very digest,
    /// signed by the same key: for an OCI model artifact.
    #[arg(long, env = "PALISADE_REQUIRE_MODEL_SCAN")]
    pub require_model_scan: bool,
    /// With --require-model-scan: a finding at least this severe fails.
    #[arg(long, default_value = "dangerous", env = "PALISADE_MODEL_FAIL_ON",
          value_parser = PossibleValuesParser::new(["info", "suspicious", "dangerous"])
              .try_map(|s| s.parse::<palisade_sign::attest::ModelSeverity>()))]
    pub model_fail_on: palisade_sign::attest::ModelSeverity,
    /// Write the verdict to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write an ECDSA P-256 key pair: PREFIX.key (encrypted as cosign encrypts it; the password
    /// from PALISADE_PASSWORD, else asked for on the terminal) and PREFIX.pub.
    Generate(KeyGenerateArgs),
}

#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// Where to write: PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub out: PathBuf,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Scan an image: `registry:HOST/REPO:TAG` (or `@sha256:...`), `oci-dir:PATH[:TAG]`,
    /// `oci-archive:PATH`, `docker-archive:PATH` or `dir:PATH`.
    Image(ScanImageArgs),
    /// Scan model files (pickle, joblib, PyTorch, NumPy, Keras, safetensors, ONNX, GGUF, and
    /// archives of them) for code-executing payloads, without loading them.
    Model(ScanModelArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelFormat {
    Table,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
pub struct ScanModelArgs {
    /// Files or directories (searched recursively); formats are recognised by content. Or one
    /// OCI model artifact in its registry, `oci://HOST/REPO@sha256:...` (or `:TAG`): a ModelPack
    /// artifact, or any artifact whose layers are model files (docs/model-scanning.md).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// With oci://: speak plain HTTP to the registry (a loopback or lab registry only).
    #[arg(long, env = "PALISADE_PLAIN_HTTP")]
    pub plain_http: bool,
    /// With oci://: the Docker config file with registry credentials.
    #[arg(long, env = "PALISADE_DOCKER_CONFIG", value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
    /// The configuration file: `models.allowedGlobals` extends the allowlist (docs/configuration.md).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// A global to allow beyond the built-in allowlist: `module.name` or `module.*` (repeatable).
    #[arg(
        long = "allow-global",
        value_name = "MODULE.NAME",
        env = "PALISADE_ALLOW_GLOBALS",
        value_delimiter = ','
    )]
    pub allow_globals: Vec<String>,
    #[arg(long, short = 'f', value_enum, default_value_t = ModelFormat::Table, env = "PALISADE_FORMAT")]
    pub format: ModelFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, default_value = "dangerous", env = "PALISADE_MODEL_FAIL_ON",
          value_parser = PossibleValuesParser::new(["info", "suspicious", "dangerous"])
              .try_map(|s| s.parse::<palisade_model::Severity>()))]
    pub fail_on: palisade_model::Severity,
    /// Also verify the model's OMS signature (a Sigstore bundle, as `verify model` does) in the
    /// same pass: each file is read once, hashed while it is scanned. One PATH only.
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// With --signature: the signer's public key (PEM; ECDSA P-256 or P-384).
    #[arg(long, value_name = "PUB", requires = "signature",
          conflicts_with_all = ["certificate_chain", "trusted_root"])]
    pub key: Option<PathBuf>,
    /// With --signature: certificates (PEM) the signing certificate must chain to.
    #[arg(long, value_name = "PEM", num_args = 1.., requires = "signature", conflicts_with = "trusted_root")]
    pub certificate_chain: Vec<PathBuf>,
    /// With --signature: a Sigstore trusted_root.json for a keyless bundle.
    #[arg(long, value_name = "FILE", requires_all = ["signature", "identity", "issuer"])]
    pub trusted_root: Option<PathBuf>,
    /// With --trusted-root: the signer's identity (the certificate's SAN).
    #[arg(long, value_name = "ID", requires = "trusted_root")]
    pub identity: Option<String>,
    /// With --trusted-root: the OIDC issuer of the identity.
    #[arg(long, value_name = "URL", requires = "trusted_root")]
    pub issuer: Option<String>,
    /// With --signature: paths the signature need not cover (they are still scanned), as for
    /// `verify model`.
    #[arg(long = "ignore-paths", value_name = "P", num_args = 1.., requires = "signature", value_delimiter = ',')]
    pub ignore_paths: Vec<PathBuf>,
    /// With --signature: .git, .gitattributes, .github and .gitignore must be signed too.
    #[arg(long, requires = "signature")]
    pub no_ignore_git_paths: bool,
}

/// Where images come from and how layers are read.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// The image: a registry reference (`HOST/REPO:TAG`, `HOST/REPO@sha256:...`, optionally
    /// prefixed `registry:`), `oci-dir:PATH[:TAG]`, `oci-archive:PATH[:TAG]`,
    /// `docker-archive:PATH[:REPO:TAG]` or `dir:PATH`.
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Speak plain HTTP to the registry (a loopback or lab registry only).
    #[arg(long, env = "PALISADE_PLAIN_HTTP")]
    pub plain_http: bool,
    /// The Docker config file with registry credentials [default: $DOCKER_CONFIG/config.json, else ~/.docker/config.json].
    #[arg(long, env = "PALISADE_DOCKER_CONFIG", value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
    /// The platform to take from a multi-platform image.
    #[arg(
        long,
        env = "PALISADE_PLATFORM",
        default_value = "linux/amd64",
        value_name = "OS/ARCH[/VARIANT]"
    )]
    pub platform: String,
    /// Where per-layer results are cached [default: $XDG_CACHE_HOME/palisade/layers, else ~/.cache/palisade/layers].
    #[arg(long, env = "PALISADE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Read every layer, neither using nor filling the layer cache.
    #[arg(long, env = "PALISADE_NO_CACHE")]
    pub no_cache: bool,
    /// Layers read at once [default: the number of CPUs].
    #[arg(long, env = "PALISADE_THREADS")]
    pub threads: Option<usize>,
    /// Never draw a progress bar (it is drawn only on a terminal anyway).
    #[arg(long, env = "PALISADE_NO_PROGRESS")]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct DbLocation {
    /// The vulnerability database directory [default: $XDG_CACHE_HOME/palisade/db, else ~/.cache/palisade/db].
    #[arg(long, env = "PALISADE_DB", value_name = "DIR", global = true)]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    Table,
    Json,
    Sarif,
    /// CycloneDX 1.6 with the packages and their vulnerabilities.
    Cyclonedx,
}

#[derive(Debug, Args)]
pub struct ScanImageArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    #[command(flatten)]
    pub db: DbLocation,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = ScanFormat::Table, env = "PALISADE_FORMAT")]
    pub format: ScanFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a reported vulnerability is at least this severe (`unknown` means any; `never` never).
    #[arg(long, default_value = "unknown", env = "PALISADE_FAIL_ON", value_parser = ScanFailOn::parser())]
    pub fail_on: ScanFailOn,
    /// Leave out vulnerabilities with no published fix.
    #[arg(long, env = "PALISADE_IGNORE_UNFIXED")]
    pub ignore_unfixed: bool,
    /// Accepted findings, each with a reason and an expiry (docs/configuration.md).
    #[arg(long, env = "PALISADE_IGNORE_FILE", value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// The configuration file: `models.imagePaths` (where model files are looked for) and
    /// `models.allowedGlobals` (docs/configuration.md).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Do not scan model files inside the image.
    #[arg(long, env = "PALISADE_NO_MODEL_SCAN")]
    pub no_model_scan: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.6 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
}

#[derive(Debug, Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long, short = 'f', value_enum, default_value_t = SbomFormat::Cyclonedx, env = "PALISADE_SBOM_FORMAT")]
    pub format: SbomFormat,
    /// Write the SBOM to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT")]
    pub output: Option<PathBuf>,
    /// The configuration file: `models.imagePaths` (where model files are looked for) and
    /// `models.allowedGlobals` (docs/configuration.md).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Do not look for model files in the image (CycloneDX then lists no
    /// `machine-learning-model` components).
    #[arg(long, env = "PALISADE_NO_MODEL_SCAN")]
    pub no_model_scan: bool,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Build the database from OSV records: files (.json, .yaml), directories, and OSV's `all.zip`
    /// exports. Replaces the database atomically, and only when every record was read.
    Import(DbImportArgs),
    /// Show what the database holds.
    Info(DbInfoArgs),
    /// Push the database to an OCI registry as an artifact (`HOST/REPO:TAG`).
    Push(DbTransferArgs),
    /// Pull the database from an OCI registry artifact (`HOST/REPO:TAG` or `@sha256:...`).
    Pull(DbTransferArgs),
}

#[derive(Debug, Args)]
pub struct DbImportArgs {
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub db: DbLocation,
}

#[derive(Debug, Args)]
pub struct DbInfoArgs {
    #[command(flatten)]
    pub db: DbLocation,
    /// Print the metadata as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DbTransferArgs {
    /// The artifact reference, e.g. `registry.example.com/security/palisade-db:latest`.
    #[arg(value_name = "REF")]
    pub reference: String,
    #[command(flatten)]
    pub db: DbLocation,
    /// Speak plain HTTP to the registry (a loopback or lab registry only).
    #[arg(long, env = "PALISADE_PLAIN_HTTP")]
    pub plain_http: bool,
    /// The Docker config file with registry credentials.
    #[arg(long, env = "PALISADE_DOCKER_CONFIG", value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "PALISADE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `palisade=debug`.
    #[arg(
        long,
        global = true,
        default_value = "warn,rustls=error",
        env = "PALISADE_LOG"
    )]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Findings grouped by object, for people.
    Table,
    /// palisade's stable JSON schema (docs/output.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Files or directories (searched recursively for .yaml, .yml and .json); `-` reads standard input.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Level for objects whose namespace sets none [default: the config file's, else restricted].
    #[arg(long, env = "PALISADE_LEVEL", value_parser = level())]
    pub level: Option<Level>,
    /// Policy version, `v1.N` or `latest` [default: the config file's, else latest].
    #[arg(long = "version", env = "PALISADE_VERSION", value_name = "VERSION", value_parser = str::parse::<Version>)]
    pub policy_version: Option<Version>,
    /// The configuration file (docs/configuration.md).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table, env = "PALISADE_FORMAT")]
    pub format: OutputFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, default_value = "low", env = "PALISADE_FAIL_ON",
          value_parser = PossibleValuesParser::new(palisade_core::Severity::ALL.map(palisade_core::Severity::as_str))
              .try_map(|s| s.parse::<palisade_core::Severity>()))]
    pub fail_on: palisade_core::Severity,
    /// Colour in the table report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, env = "PALISADE_COLOR")]
    pub color: ColorChoice,
    /// Also list objects that pass or are exempt (table format).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Custom policies to evaluate too (ValidatingAdmissionPolicy and bindings, Kyverno,
    /// Gatekeeper templates and constraints): files or directories. Their findings have the
    /// policy (and rule) name as rule id.
    #[arg(
        long = "policy",
        value_name = "PATH",
        env = "PALISADE_POLICY",
        value_delimiter = ','
    )]
    pub policies: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NamespaceSourceChoice {
    /// The cluster's Namespaces when running in a cluster (KUBERNETES_SERVICE_HOST is set), else the file.
    Auto,
    /// Watch the cluster's Namespaces (in-cluster config, kubeconfig, or --kube-api-url).
    Cluster,
    /// Only the configuration file's podSecurity.namespaces and the defaults.
    Config,
}

#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Address to serve HTTPS on.
    #[arg(long, default_value = "0.0.0.0:8443", env = "PALISADE_LISTEN")]
    pub listen: std::net::SocketAddr,
    /// PEM serving certificate (chain); reloaded when it changes.
    #[arg(long, env = "PALISADE_TLS_CERT")]
    pub tls_cert: PathBuf,
    /// PEM private key; reloaded when it changes.
    #[arg(long, env = "PALISADE_TLS_KEY")]
    pub tls_key: PathBuf,
    /// The configuration file (docs/configuration.md).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Level for namespaces with no labels and no entry in the config [default: the config file's, else restricted].
    #[arg(long, env = "PALISADE_DEFAULT_LEVEL", value_parser = level())]
    pub default_level: Option<Level>,
    /// Version for namespaces with no labels and no entry in the config [default: the config file's, else latest].
    #[arg(long, env = "PALISADE_DEFAULT_VERSION", value_parser = str::parse::<Version>)]
    pub default_version: Option<Version>,
    /// Where namespace Pod Security labels come from.
    #[arg(long, value_enum, default_value_t = NamespaceSourceChoice::Auto, env = "PALISADE_NAMESPACE_SOURCE")]
    pub namespaces: NamespaceSourceChoice,
    /// Kubernetes API server URL, for `--namespaces cluster` outside a cluster (e.g. `kubectl proxy`).
    #[arg(long, env = "PALISADE_KUBE_API_URL")]
    pub kube_api_url: Option<String>,
    /// The Teams whose guardrails and image rules the webhook enforces (docs/teams.md): `cluster`
    /// watches the cluster's Team objects (needs the Team CRD and a cluster connection); else
    /// Team files or directories of them. None by default.
    #[arg(
        long,
        env = "PALISADE_TEAMS",
        value_name = "cluster|PATH",
        value_delimiter = ','
    )]
    pub teams: Vec<PathBuf>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 3 * 1024 * 1024, env = "PALISADE_BODY_LIMIT")]
    pub body_limit: usize,
    /// Time allowed for one request, in milliseconds.
    #[arg(long, default_value_t = 8000, env = "PALISADE_DEADLINE_MS")]
    pub deadline_ms: u64,
    /// On SIGTERM, how long requests in flight may take to finish, in seconds.
    #[arg(long, default_value_t = 20, env = "PALISADE_SHUTDOWN_GRACE_SECONDS")]
    pub shutdown_grace_seconds: u64,
    /// Serving threads [default: one per core].
    #[arg(long, env = "PALISADE_THREADS")]
    pub threads: Option<usize>,
    /// Time for a connection to send complete request headers, in milliseconds: counted from the
    /// TLS handshake and again after each response, so it also closes idle kept-alive connections
    /// (over HTTP/2: a connection with no request open).
    #[arg(long, default_value_t = 10_000, env = "PALISADE_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: u64,
    /// Time for a connection's TLS handshake, in milliseconds.
    #[arg(
        long,
        default_value_t = 5_000,
        env = "PALISADE_TLS_HANDSHAKE_TIMEOUT_MS"
    )]
    pub tls_handshake_timeout_ms: u64,
    /// Connections open at once; further ones wait in the listen backlog until one closes.
    #[arg(long, default_value_t = 1024, env = "PALISADE_MAX_CONNECTIONS")]
    pub max_connections: usize,
    /// How the serving threads share connections: `work-stealing` (a connection's requests run
    /// on whichever thread is free: the lowest tail latency when the node's cores are busy) or
    /// `per-thread` (a single-threaded runtime per thread: more throughput on an idle machine).
    #[arg(long, default_value = "work-stealing", env = "PALISADE_RUNTIME", value_parser = ["work-stealing", "per-thread"])]
    pub runtime: String,
    /// How often to check the certificate files for rotation, in milliseconds.
    #[arg(long, default_value_t = 2000, env = "PALISADE_CERT_RELOAD_MS")]
    pub cert_reload_ms: u64,
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory for ca.crt, tls.crt and tls.key.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// The webhook's Service name.
    #[arg(long, default_value = "palisade-webhook")]
    pub service: String,
    /// The webhook's namespace.
    #[arg(long, default_value = "palisade")]
    pub namespace: String,
    /// Extra DNS names or IP addresses for the serving certificate.
    #[arg(long = "name")]
    pub names: Vec<String>,
    /// Validity, in days.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
}

#[derive(Debug, Args)]
pub struct HardenArgs {
    /// Manifest files and directories (read recursively: .yaml, .yml, .json), or `-`.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The configuration file (its `hardening` section: default UID, writable paths).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Rewrite the files instead of printing the hardened manifests.
    #[arg(long, short = 'i', conflicts_with = "patch")]
    pub in_place: bool,
    /// Print a JSON Patch per object (JSON lines) instead of manifests.
    #[arg(long)]
    pub patch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// Diagnoses grouped by evidence file, with their fixes.
    Table,
    /// The diagnoses (docs/output.md's diagnostics schema) and a JSON Patch per object.
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The manifest of the pod or workload (any kind `audit` evaluates), or `-`.
    #[arg(value_name = "MANIFEST")]
    pub manifest: PathBuf,
    /// Level for objects whose namespace sets none [default: the config file's, else restricted].
    #[arg(long, env = "PALISADE_LEVEL", value_parser = level())]
    pub level: Option<Level>,
    /// Policy version, `v1.N` or `latest` [default: the config file's, else latest].
    #[arg(long = "version", env = "PALISADE_VERSION", value_name = "VERSION", value_parser = str::parse::<Version>)]
    pub policy_version: Option<Version>,
    /// The configuration file (its `hardening` section: the UID for images without a non-root user).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The image, to read its USER, /etc/passwd and /etc/group: any source `scan image` takes.
    #[arg(long, env = "PALISADE_EXPLAIN_IMAGE", value_name = "REF")]
    pub image: Option<String>,
    /// `kubectl describe pod`, `kubectl get events -o yaml|json`, or an admission denial as printed.
    #[arg(long, env = "PALISADE_EXPLAIN_EVENTS", value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// The container's logs (`kubectl logs`).
    #[arg(long, env = "PALISADE_EXPLAIN_LOGS", value_name = "FILE")]
    pub logs: Option<PathBuf>,
    /// Print the fixed manifest (the explanation goes to standard error).
    #[arg(long)]
    pub fix: bool,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = ExplainFormat::Table, env = "PALISADE_FORMAT")]
    pub format: ExplainFormat,
    /// Write the report (with --fix: the fixed manifest) to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum NetpolCommand {
    /// List the connections that the manifests in a directory allow (np-guard netpol-analyzer's
    /// output formats).
    List(NetpolListArgs),
    /// Generate NetworkPolicies (and service-mesh L7 policies) from an intent file.
    Generate(NetpolGenerateArgs),
    /// Exit 0 when the manifests allow exactly the intent, 1 with every missing and excess
    /// connection.
    Verify(NetpolVerifyArgs),
}

#[derive(Debug, Args)]
pub struct NetpolListArgs {
    /// The directory of manifests (read recursively: .yaml, .yml, .json).
    #[arg(long, env = "PALISADE_NETPOL_DIRPATH", value_name = "DIR")]
    pub dirpath: PathBuf,
    /// Report format.
    #[arg(
        long,
        short = 'f',
        value_enum,
        env = "PALISADE_NETPOL_FORMAT",
        conflicts_with = "file"
    )]
    pub format: Option<NetpolListFormat>,
    /// Write the report to this file instead of standard output. As np-guard's netpol-analyzer
    /// reads `-o`, a value that is a format name (`txt`, `json`, `csv`, `md`, `dot`) sets the
    /// format instead (write `./json` for a file of that name).
    #[arg(long, short = 'o', value_name = "FILE|FORMAT")]
    pub output: Option<String>,
    /// Write the report to this file (np-guard's `--file`).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Also report what the policies expose to peers that are not in the manifests.
    #[arg(long)]
    pub exposure: bool,
    /// Only connections of these workloads (`name` or `namespace/name`, comma-separated).
    #[arg(long = "focusworkload", value_delimiter = ',', value_name = "WORKLOAD")]
    pub focus_workloads: Vec<String>,
    /// With --focusworkload: only connections whose other end is one of these workloads.
    #[arg(
        long = "focusworkload-peer",
        value_delimiter = ',',
        value_name = "WORKLOAD"
    )]
    pub focus_workload_peers: Vec<String>,
    /// With --focusworkload: only this direction of their connections.
    #[arg(long = "focus-direction", value_enum, value_name = "DIRECTION")]
    pub focus_direction: Option<NetpolFocusDirection>,
    /// Only pairs that allow this connection, `protocol-port` (e.g. `tcp-8080`).
    #[arg(long = "focus-conn", value_name = "PROTOCOL-PORT")]
    pub focus_conn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetpolListFormat {
    Txt,
    Json,
    Csv,
    Md,
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetpolFocusDirection {
    Ingress,
    Egress,
}

#[derive(Debug, Args)]
pub struct NetpolGenerateArgs {
    /// The intent file (docs/netpol-intent.md).
    #[arg(long, env = "PALISADE_NETPOL_INTENT", value_name = "FILE")]
    pub intent: PathBuf,
    /// Also write the service-mesh L7 policies for the services with HTTP rules: istio,
    /// linkerd, or both (repeat the flag or separate with commas).
    #[arg(long, value_enum, value_delimiter = ',', env = "PALISADE_NETPOL_MESH")]
    pub mesh: Vec<MeshKind>,
    /// Write one file per namespace (NAMESPACE.yaml) into this directory instead of printing
    /// everything to standard output.
    #[arg(long, short = 'o', env = "PALISADE_NETPOL_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MeshKind {
    Istio,
    Linkerd,
}

impl MeshKind {
    /// The meshes named by `--mesh`, each once, in a fixed order.
    pub fn meshes(kinds: &[MeshKind]) -> Vec<palisade_netpol::mesh::Mesh> {
        let mut meshes: Vec<palisade_netpol::mesh::Mesh> = kinds
            .iter()
            .map(|kind| match kind {
                MeshKind::Istio => palisade_netpol::mesh::Mesh::Istio,
                MeshKind::Linkerd => palisade_netpol::mesh::Mesh::Linkerd,
            })
            .collect();
        meshes.sort_unstable();
        meshes.dedup();
        meshes
    }
}

#[derive(Debug, Args)]
pub struct NetpolVerifyArgs {
    /// The intent file (docs/netpol-intent.md).
    #[arg(long, env = "PALISADE_NETPOL_INTENT", value_name = "FILE")]
    pub intent: PathBuf,
    /// The manifests: workloads, namespaces and policies (a directory, read recursively, or a
    /// file).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Write the differences to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Write every object the platform manages for the teams (Namespaces, quotas, limits, the
    /// owners' Role and RoleBinding, NetworkPolicies), the same bytes on every run.
    Render(TeamRenderArgs),
    /// Exit 0 when the manifests in DIR keep every team's guardrails, 1 with every violation.
    Verify(TeamVerifyArgs),
}

#[derive(Debug, Args)]
pub struct TeamRenderArgs {
    /// The configuration file, with its `platform` section (docs/configuration.md).
    #[arg(long, env = "PALISADE_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    /// Team files, or directories of them (read recursively: .yaml, .yml, .json).
    #[arg(required = true, value_name = "TEAMS")]
    pub teams: Vec<PathBuf>,
    /// Write one file per team (TEAM.yaml) into this directory instead of standard output.
    #[arg(
        long,
        env = "PALISADE_TEAM_OUT",
        value_name = "DIR",
        conflicts_with = "output"
    )]
    pub out: Option<PathBuf>,
    /// Write everything to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write the service mesh's policies: STRICT mTLS in every team namespace and, for
    /// every connection another team or the platform may open, an allow by the caller's
    /// namespace identity: istio, linkerd, or both.
    #[arg(long, value_enum, value_delimiter = ',', env = "PALISADE_TEAM_MESH")]
    pub mesh: Vec<MeshKind>,
}

#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// The configuration file, with its `platform` section (docs/configuration.md).
    #[arg(long, short = 'c', env = "PALISADE_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    /// Address to serve /metrics, /healthz and /readyz on (plain HTTP).
    #[arg(long, default_value = "0.0.0.0:8080", env = "PALISADE_METRICS_ADDR")]
    pub metrics_addr: std::net::SocketAddr,
    /// This instance's name in the Lease [default: POD_NAME, else HOSTNAME].
    #[arg(long, env = "PALISADE_IDENTITY", value_name = "NAME")]
    pub identity: Option<String>,
    /// The namespace of the Lease (the controller's own).
    #[arg(
        long,
        default_value = "palisade",
        env = "PALISADE_LEASE_NAMESPACE",
        value_name = "NS"
    )]
    pub lease_namespace: String,
    /// The Lease's name.
    #[arg(
        long,
        default_value = "palisade-controller",
        env = "PALISADE_LEASE_NAME"
    )]
    pub lease_name: String,
    /// A holder that has not renewed the Lease for this long is replaced; renewed every third.
    #[arg(long, default_value_t = 15, env = "PALISADE_LEASE_DURATION_SECONDS")]
    pub lease_duration_seconds: u64,
    /// A full reconcile at least this often, besides the watches.
    #[arg(long, default_value_t = 60, env = "PALISADE_RESYNC_SECONDS")]
    pub resync_seconds: u64,
    /// /readyz fails for the leader when no reconcile has completed for this long.
    #[arg(long, default_value_t = 180, env = "PALISADE_READY_BOUND_SECONDS")]
    pub ready_bound_seconds: u64,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// How to reach the Kubernetes API.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// Kubernetes API server URL (e.g. `kubectl proxy`'s) [default: the in-cluster config or
    /// the kubeconfig].
    #[arg(long, env = "PALISADE_KUBE_API_URL", conflicts_with = "kubeconfig")]
    pub kube_api_url: Option<String>,
    /// The kubeconfig file [default: KUBECONFIG, else ~/.kube/config, in a pod the in-cluster config].
    #[arg(long, env = "PALISADE_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context [default: its current context].
    #[arg(long, env = "PALISADE_KUBE_CONTEXT", conflicts_with = "kube_api_url")]
    pub context: Option<String>,
}

#[derive(Debug, Args)]
pub struct TeamVerifyArgs {
    /// The configuration file, with its `platform` section (docs/configuration.md).
    #[arg(long, env = "PALISADE_CONFIG", value_name = "FILE")]
    pub config: PathBuf,
    /// Team files, or directories of them, then the manifests to check (rendered, or exported
    /// from a cluster, with the teams' workloads): a directory, read recursively, or a file.
    #[arg(required = true, num_args = 2.., value_name = "TEAMS... DIR")]
    pub paths: Vec<PathBuf>,
    /// Report format (JSON and SARIF: docs/output.md, "Diagnostics reports").
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Table, env = "PALISADE_FORMAT")]
    pub format: OutputFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', env = "PALISADE_OUTPUT", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

// Typed value parsers: each flag is parsed once, here, into the type the library takes. Each one
// accepts exactly the words it always did (listed in --help), not the looser spellings the types'
// `FromStr` may also take (advisory databases' `moderate`, upper case).

/// `--level`, `--default-level`.
fn level() -> impl TypedValueParser<Value = Level> {
    PossibleValuesParser::new(
        [Level::Privileged, Level::Baseline, Level::Restricted].map(Level::as_str),
    )
    .try_map(|s| s.parse::<Level>())
}

/// A vulnerability severity: `unknown`, `low`, `medium`, `high` or `critical`.
fn vuln_severity() -> impl TypedValueParser<Value = palisade_vuln::severity::Severity> {
    use palisade_vuln::severity::Severity;
    PossibleValuesParser::new(Severity::ALL.map(Severity::as_str))
        .try_map(|s| s.parse::<Severity>())
}

/// `scan image --fail-on`: the least severe vulnerability that fails the scan, or `never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanFailOn(pub Option<palisade_vuln::severity::Severity>);

impl ScanFailOn {
    fn parser() -> impl TypedValueParser<Value = ScanFailOn> {
        use palisade_vuln::severity::Severity;
        let words = Severity::ALL
            .map(Severity::as_str)
            .into_iter()
            .chain(["never"]);
        PossibleValuesParser::new(words).try_map(|s| match s.as_str() {
            "never" => Ok(ScanFailOn(None)),
            word => word.parse::<Severity>().map(|s| ScanFailOn(Some(s))),
        })
    }
}

/// A duration flag (`90m`, `24h`, `7d`), with the text it was given as, which messages repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationArg {
    pub value: std::time::Duration,
    pub text: String,
}

impl DurationArg {
    fn parse(text: &str) -> Result<DurationArg, String> {
        palisade_core::duration::parse_duration(text).map(|value| DurationArg {
            value,
            text: text.to_owned(),
        })
    }
}

impl std::fmt::Display for DurationArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
