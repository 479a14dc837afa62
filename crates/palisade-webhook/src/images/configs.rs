//! Image configurations for `rules.ldPreload`: each container image's config blob
//! (`config.Env`) read from the registry by digest, through an index to every platform's, with
//! the verifier's credentials, concurrency bound and timeout. What was read is cached by the
//! digest it was read from (the manifest or index digest, checked against the bytes as every
//! blob under it), never by tag; a tag resolves to a digest first, as for verification.

use std::io::Read as _;

use palisade_core::image_ref::ImageRef;
use palisade_oci::manifest::{ManifestOrIndex, DOCKER_MANIFEST, OCI_MANIFEST};
use palisade_oci::registry::{RegistryOptions, Repository};
use palisade_oci::{parse_json, sha256_hex, verify_digest, OciError, MAX_JSON_BLOB};
use palisade_policy::image_config::{ConfigCheck, ConfigFailure, ConfigVerdict, PlatformEnv};

use super::{prune, Cached, ImageVerifier, NEGATIVE_TTL};

/// The most platforms of one index whose configurations are read.
const MAX_PLATFORMS: usize = 64;

/// What the cache keeps for a digest: every configuration's environment, or why the content
/// under the digest cannot be read (content does not change, but a missing manifest may be
/// pushed later, so that is kept only briefly).
pub(super) type CachedConfigs = Cached<Result<Vec<PlatformEnv>, String>>;

impl ImageVerifier {
    /// The configurations of each check's image, in order, read concurrently.
    pub async fn read_configs(
        &self,
        namespace: &str,
        checks: &[ConfigCheck],
    ) -> Vec<ConfigVerdict> {
        futures::future::join_all(checks.iter().map(|c| self.read_config(namespace, c))).await
    }

    async fn read_config(&self, namespace: &str, check: &ConfigCheck) -> ConfigVerdict {
        let Some(reference) = &check.reference else {
            return failed(None, "not a valid image reference".into(), false);
        };
        let digest = reference
            .digest
            .clone()
            .or_else(|| self.cached_tag(reference));
        if let Some(digest) = &digest {
            if let Some(cached) = self.cached_configs(&config_key(reference, digest)) {
                return verdict(digest.clone(), cached);
            }
        }
        match tokio::time::timeout(
            self.timeout,
            self.read_uncached(namespace, check, reference, digest),
        )
        .await
        {
            Ok(verdict) => verdict,
            Err(_) => failed(
                None,
                format!(
                    "reading the image configuration did not finish within {}s (imageVerification.timeout)",
                    self.timeout.as_secs_f64()
                ),
                true,
            ),
        }
    }

    async fn read_uncached(
        &self,
        namespace: &str,
        check: &ConfigCheck,
        reference: &ImageRef,
        digest: Option<String>,
    ) -> ConfigVerdict {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return failed(None, "the verifier is shutting down".into(), true);
        };
        let options = self
            .options(namespace, &check.pull_secrets, reference)
            .await;
        let job_reference = reference.clone();
        let read = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            read_image_configs(&job_reference, digest, &options)
        })
        .await;
        let (digest, result) = match read {
            Ok(Ok(read)) => read,
            Ok(Err((digest, e))) if e.unreachable => return failed(digest, e.to_string(), true),
            Ok(Err((digest, e))) => (digest, Err(e.to_string())),
            Err(e) => return failed(None, format!("reading the configuration failed: {e}"), true),
        };
        let Some(digest) = digest else {
            // Not even the manifest was read: nothing to key a cache entry by.
            return failed(None, result.err().unwrap_or_default(), false);
        };
        if reference.digest.is_none() {
            self.remember_tag(reference, &digest);
        }
        let ttl = if result.is_ok() {
            self.ttl
        } else {
            self.ttl.min(NEGATIVE_TTL)
        };
        self.remember_configs(config_key(reference, &digest), &result, ttl);
        verdict(digest, result)
    }

    fn cached_configs(&self, key: &str) -> Option<Result<Vec<PlatformEnv>, String>> {
        let configs = self.configs.lock().ok()?;
        let cached = configs.get(key)?;
        (cached.until > std::time::Instant::now()).then(|| cached.value.clone())
    }

    fn remember_configs(
        &self,
        key: String,
        value: &Result<Vec<PlatformEnv>, String>,
        ttl: std::time::Duration,
    ) {
        if let Ok(mut configs) = self.configs.lock() {
            prune(&mut configs);
            configs.insert(
                key,
                Cached {
                    value: value.clone(),
                    until: std::time::Instant::now() + ttl,
                },
            );
        }
    }
}

fn config_key(reference: &ImageRef, digest: &str) -> String {
    format!("{}@{digest}", reference.full_name())
}

fn verdict(digest: String, read: Result<Vec<PlatformEnv>, String>) -> ConfigVerdict {
    match read {
        Ok(configs) => ConfigVerdict {
            digest: Some(digest),
            configs,
            failure: None,
        },
        Err(message) => failed(Some(digest), message, false),
    }
}

fn failed(digest: Option<String>, message: String, unreachable: bool) -> ConfigVerdict {
    ConfigVerdict {
        digest,
        configs: Vec::new(),
        failure: Some(ConfigFailure {
            message,
            unreachable,
        }),
    }
}

/// The digest the reference resolved to (once known) with an error.
type ReadError = (Option<String>, OciError);

/// Reads the image's manifest (by `digest` when known, else by its tag) and every
/// configuration under it: `(digest, configurations)`, where a failure after the manifest was
/// read is the second half's `Err` (unreadable content); a failure to reach the registry, or
/// before the digest is known, is `Err`.
#[allow(clippy::type_complexity)]
fn read_image_configs(
    reference: &ImageRef,
    digest: Option<String>,
    options: &RegistryOptions,
) -> Result<(Option<String>, Result<Vec<PlatformEnv>, String>), ReadError> {
    let repo = Repository::with_options(reference, options).map_err(|e| (None, e))?;
    let wanted = digest
        .or_else(|| reference.digest.clone())
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    // Only what can be checked against its digest is read (palisade-oci checks sha256 alone).
    if wanted.contains(':') && sha256_hex(&wanted).is_none() {
        return Err((
            None,
            OciError::new(
                repo.location(),
                format!("{wanted} is not a sha256 digest, the only kind whose content is checked"),
            ),
        ));
    }
    let (bytes, _, digest) = repo.manifest(&wanted).map_err(|e| (None, e))?;
    let read = || -> Result<Vec<PlatformEnv>, OciError> {
        let manifest: ManifestOrIndex = parse_json(repo.location(), "manifest", &bytes)?;
        let Some(entries) = &manifest.manifests else {
            return Ok(vec![PlatformEnv {
                platform: None,
                env: config_env(&repo, &manifest)?,
            }]);
        };
        // Every platform's image (attestation manifests, platform unknown/unknown, are not
        // run): the node that pulls it is not known here.
        let images: Vec<_> = entries
            .iter()
            .filter(|d| matches!(d.media_type.as_str(), OCI_MANIFEST | DOCKER_MANIFEST | ""))
            .filter(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown"))
            .collect();
        if images.len() > MAX_PLATFORMS {
            return Err(OciError::new(
                repo.location(),
                format!(
                    "index {digest} lists {} images, more than the {MAX_PLATFORMS} read",
                    images.len()
                ),
            ));
        }
        let mut configs = Vec::new();
        for entry in images {
            if sha256_hex(&entry.digest).is_none() {
                return Err(OciError::new(
                    repo.location(),
                    format!(
                        "index {digest} lists {:?}, not a sha256 digest",
                        entry.digest
                    ),
                ));
            }
            let (bytes, _, _) = repo.manifest(&entry.digest)?;
            let manifest: ManifestOrIndex = parse_json(repo.location(), "manifest", &bytes)?;
            if manifest.manifests.is_some() {
                return Err(OciError::new(
                    repo.location(),
                    format!("index {digest} lists another index ({})", entry.digest),
                ));
            }
            configs.push(PlatformEnv {
                platform: entry.platform.as_ref().map(|p| match &p.variant {
                    Some(variant) => format!("{}/{}/{variant}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                }),
                env: config_env(&repo, &manifest)?,
            });
        }
        Ok(configs)
    };
    match read() {
        Ok(configs) => Ok((Some(digest), Ok(configs))),
        Err(e) if e.unreachable => Err((Some(digest), e)),
        Err(e) => Ok((Some(digest), Err(e.to_string()))),
    }
}

/// `config.Env` of a manifest's configuration blob, its bytes checked against the digest the
/// manifest names.
fn config_env(repo: &Repository, manifest: &ManifestOrIndex) -> Result<Vec<String>, OciError> {
    let Some(config) = &manifest.config else {
        return Err(OciError::new(
            repo.location(),
            "the manifest names no configuration",
        ));
    };
    if config.size > MAX_JSON_BLOB {
        return Err(OciError::new(
            repo.location(),
            format!("configuration {} is over the size limit", config.digest),
        ));
    }
    let mut bytes = Vec::new();
    repo.blob(&config.digest)?
        .take(MAX_JSON_BLOB + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| OciError::unreachable(repo.location(), format!("{}: {e}", config.digest)))?;
    if bytes.len() as u64 > MAX_JSON_BLOB {
        return Err(OciError::new(
            repo.location(),
            format!("configuration {} is over the size limit", config.digest),
        ));
    }
    verify_digest(repo.location(), &config.digest, &bytes)?;
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(default)]
        config: Option<Run>,
    }
    #[derive(serde::Deserialize)]
    struct Run {
        #[serde(rename = "Env", default)]
        env: Option<Vec<String>>,
    }
    let parsed: Config = parse_json(repo.location(), "image configuration", &bytes)?;
    Ok(parsed.config.and_then(|c| c.env).unwrap_or_default())
}
