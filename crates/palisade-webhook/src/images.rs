//! Image verification for the webhook: the registry work behind `rules.requireSignature`,
//! `rules.requireScan` and (for model artifacts) `rules.requireModelScan`. Tags resolve to digests; verdicts are cached by digest (and tags by name)
//! for `imageVerification.cacheTtl`; credentials come from the pod's imagePullSecrets or a
//! mounted Docker config; and the work is bounded: at most `maxConcurrent` images are verified at
//! once, each within `timeout`, so a slow registry costs a denial, never the server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use p256::ecdsa::VerifyingKey;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tokio::sync::Semaphore;

use palisade_core::image_ref::ImageRef;
use palisade_oci::registry::{credentials_in, Credentials, RegistryOptions, Repository};
use palisade_policy::config::ImageVerificationConfig;
use palisade_policy::image_verification::{ImageCheck, ImageVerdict, ModelScanPolicy, ScanPolicy};
use palisade_sign::attest::{
    verify_model_scan, verify_scan, ModelScanRequirement, ScanRequirement,
};
use palisade_sign::cosign::{resolve_digest, verify_signature, Rejection};
use palisade_sign::keys::public_key;

mod configs;

/// Failed verdicts are kept at most this long, so an image signed after a denial is admitted
/// soon, without waiting out the whole TTL.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

struct Cached<T> {
    value: T,
    until: Instant,
}

/// What became of an image verification, for metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `cached`, `verified`, `denied` or `unavailable`.
    pub outcome: &'static str,
}

/// Verifies images against the registry, with a cache and bounded concurrency.
pub struct ImageVerifier {
    plain_http: Vec<String>,
    docker_config: Option<PathBuf>,
    timeout: Duration,
    ttl: Duration,
    permits: Arc<Semaphore>,
    client: Option<Client>,
    pull_secrets: bool,
    tags: Mutex<HashMap<String, Cached<String>>>,
    verdicts: Mutex<HashMap<String, Cached<ImageVerdict>>>,
    /// Image configurations read for `rules.ldPreload`, by digest.
    configs: Mutex<HashMap<String, configs::CachedConfigs>>,
    /// Verifications by outcome (`palisade_webhook_image_verifications_total`).
    pub outcomes: Family<OutcomeLabels, Counter>,
}

impl std::fmt::Debug for ImageVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageVerifier")
            .field("timeout", &self.timeout)
            .field("ttl", &self.ttl)
            .field("cluster", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl ImageVerifier {
    /// `client` reads imagePullSecrets; without one only the Docker config is used.
    pub fn new(config: &ImageVerificationConfig, client: Option<Client>) -> Self {
        Self {
            plain_http: config.plain_http_registries.clone(),
            docker_config: config.docker_config.as_ref().map(PathBuf::from),
            timeout: config.timeout,
            ttl: config.cache_ttl,
            permits: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            client,
            pull_secrets: config.pull_secrets,
            tags: Mutex::new(HashMap::new()),
            verdicts: Mutex::new(HashMap::new()),
            configs: Mutex::new(HashMap::new()),
            outcomes: Family::default(),
        }
    }

    /// A verdict for each check, in order, verified concurrently.
    pub async fn verify_all(&self, namespace: &str, checks: &[ImageCheck]) -> Vec<ImageVerdict> {
        futures::future::join_all(checks.iter().map(|c| self.verify(namespace, c))).await
    }

    /// The digest each check's tag points at (from the cache when fresh), for pinning; `None`
    /// where it cannot be resolved in time or the image is not covered by a trusted key.
    pub async fn resolve_all(&self, namespace: &str, checks: &[ImageCheck]) -> Vec<Option<String>> {
        futures::future::join_all(checks.iter().map(|c| async move {
            let reference = c.reference.as_ref()?;
            if c.keys.is_empty() {
                return None;
            }
            if let Some(digest) = &reference.digest {
                return Some(digest.clone());
            }
            if let Some(digest) = self.cached_tag(reference) {
                return Some(digest);
            }
            let work = async {
                let permit = self.permits.clone().acquire_owned().await.ok()?;
                let options = self.options(namespace, &c.pull_secrets, reference).await;
                let reference = reference.clone();
                let resolved = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let repo = Repository::with_options(&reference, &options).ok()?;
                    resolve_digest(&repo, &reference).ok()
                })
                .await
                .ok()??;
                self.remember_tag(c.reference.as_ref()?, &resolved);
                Some(resolved)
            };
            tokio::time::timeout(self.timeout, work).await.ok()?
        }))
        .await
    }

    async fn verify(&self, namespace: &str, check: &ImageCheck) -> ImageVerdict {
        let Some(reference) = &check.reference else {
            return ImageVerdict::default();
        };
        if check.keys.is_empty() {
            return ImageVerdict::default();
        }
        let digest = reference
            .digest
            .clone()
            .or_else(|| self.cached_tag(reference));
        if let Some(digest) = &digest {
            if let Some(verdict) = self.cached_verdict(&verdict_key(reference, digest, check)) {
                self.count("cached");
                return verdict;
            }
        }
        let verdict = match tokio::time::timeout(
            self.timeout,
            self.verify_uncached(namespace, check, reference, digest),
        )
        .await
        {
            Ok(verdict) => verdict,
            Err(_) => ImageVerdict {
                unavailable: Some(format!(
                    "verification did not finish within {}s (imageVerification.timeout)",
                    self.timeout.as_secs_f64()
                )),
                ..ImageVerdict::default()
            },
        };
        let outcome = if verdict.unavailable.is_some() {
            "unavailable"
        } else if failed(&verdict) {
            "denied"
        } else {
            "verified"
        };
        self.count(outcome);
        verdict
    }

    fn count(&self, outcome: &'static str) {
        self.outcomes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    async fn verify_uncached(
        &self,
        namespace: &str,
        check: &ImageCheck,
        reference: &ImageRef,
        digest: Option<String>,
    ) -> ImageVerdict {
        // Waiting for a permit counts against the timeout: under a flood of slow verifications,
        // requests are denied (or allowed, fail-open) in bounded time rather than queued.
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            return unavailable("the verifier is shutting down".into());
        };
        let options = self
            .options(namespace, &check.pull_secrets, reference)
            .await;
        let keys: Vec<VerifyingKey> = check
            .keys
            .iter()
            .filter_map(|pem| public_key(pem).ok())
            .collect();
        let job = Job {
            reference: reference.clone(),
            digest,
            options,
            keys,
            signature: check.signature,
            scan: check.scan.clone(),
            model_scan: check.model_scan.clone(),
        };
        // The permit moves into the blocking task: capacity is held for as long as a thread
        // actually talks to the registry, even after this request has given up on it.
        let verdict = match tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job.run()
        })
        .await
        {
            Ok(verdict) => verdict,
            Err(e) => unavailable(format!("verification failed: {e}")),
        };
        if let Some(digest) = &verdict.digest {
            if reference.digest.is_none() {
                self.remember_tag(reference, digest);
            }
            if verdict.unavailable.is_none() {
                let ttl = if failed(&verdict) {
                    self.ttl.min(NEGATIVE_TTL)
                } else {
                    self.ttl
                };
                self.remember_verdict(verdict_key(reference, digest, check), &verdict, ttl);
            }
        }
        verdict
    }

    /// How to reach the image's registry: plain HTTP where configured, credentials from the first
    /// imagePullSecret that has some for the registry, else the mounted Docker config.
    async fn options(
        &self,
        namespace: &str,
        pull_secrets: &[String],
        reference: &ImageRef,
    ) -> RegistryOptions {
        RegistryOptions {
            plain_http: self.plain_http.contains(&reference.registry),
            credentials: self
                .pull_secret_credentials(namespace, pull_secrets, &reference.registry)
                .await,
            docker_config: self.docker_config.clone(),
            timeout: Some(self.timeout),
        }
    }

    async fn pull_secret_credentials(
        &self,
        namespace: &str,
        names: &[String],
        registry: &str,
    ) -> Option<Credentials> {
        let client = self.client.as_ref().filter(|_| self.pull_secrets)?;
        let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
        for name in names {
            let secret = match api.get(name).await {
                Ok(secret) => secret,
                Err(e) => {
                    // The kubelet skips pull secrets it cannot read; so does verification.
                    let reason = match &e {
                        kube::Error::Api(status) => status.message.clone(),
                        other => other.to_string(),
                    };
                    tracing::warn!(namespace, secret = %name, "image pull secret skipped: {reason}");
                    continue;
                }
            };
            let origin = format!("secret {namespace}/{name}");
            match docker_config_text(&secret) {
                Some(text) => match credentials_in(registry, &text, &origin, false) {
                    Ok(Some(credentials)) => return Some(credentials),
                    Ok(None) => {}
                    Err(e) => tracing::warn!("{e}"),
                },
                None => tracing::warn!("{origin} holds no Docker config"),
            }
        }
        None
    }

    fn cached_tag(&self, reference: &ImageRef) -> Option<String> {
        let tags = self.tags.lock().ok()?;
        let cached = tags.get(&tag_key(reference))?;
        (cached.until > Instant::now()).then(|| cached.value.clone())
    }

    fn remember_tag(&self, reference: &ImageRef, digest: &str) {
        if let Ok(mut tags) = self.tags.lock() {
            prune(&mut tags);
            tags.insert(
                tag_key(reference),
                Cached {
                    value: digest.to_owned(),
                    until: Instant::now() + self.ttl,
                },
            );
        }
    }

    fn cached_verdict(&self, key: &str) -> Option<ImageVerdict> {
        let verdicts = self.verdicts.lock().ok()?;
        let cached = verdicts.get(key)?;
        (cached.until > Instant::now()).then(|| cached.value.clone())
    }

    fn remember_verdict(&self, key: String, verdict: &ImageVerdict, ttl: Duration) {
        if let Ok(mut verdicts) = self.verdicts.lock() {
            prune(&mut verdicts);
            verdicts.insert(
                key,
                Cached {
                    value: verdict.clone(),
                    until: Instant::now() + ttl,
                },
            );
        }
    }
}

/// The most entries a cache keeps; past it, expired entries are dropped, then the oldest half.
const MAX_CACHE_ENTRIES: usize = 10_000;

fn prune<T>(map: &mut HashMap<String, Cached<T>>) {
    if map.len() < MAX_CACHE_ENTRIES {
        return;
    }
    let now = Instant::now();
    map.retain(|_, c| c.until > now);
    if map.len() >= MAX_CACHE_ENTRIES {
        let mut expiries: Vec<Instant> = map.values().map(|c| c.until).collect();
        expiries.sort();
        let cut = expiries[expiries.len() / 2];
        map.retain(|_, c| c.until > cut);
    }
}

fn tag_key(reference: &ImageRef) -> String {
    format!(
        "{}:{}",
        reference.full_name(),
        reference.tag.as_deref().unwrap_or("latest")
    )
}

fn verdict_key(reference: &ImageRef, digest: &str, check: &ImageCheck) -> String {
    format!(
        "{}@{digest}|{}",
        reference.full_name(),
        check.requirement_key()
    )
}

/// Whether a requirement was checked and not met.
fn failed(verdict: &ImageVerdict) -> bool {
    [&verdict.signature, &verdict.scan, &verdict.model_scan]
        .iter()
        .any(|check| matches!(check, Some(Err(_))))
}

fn unavailable(message: String) -> ImageVerdict {
    ImageVerdict {
        unavailable: Some(message),
        ..ImageVerdict::default()
    }
}

/// The Docker config in a pull secret: `.dockerconfigjson`, or the older `.dockercfg` (the
/// `auths` map alone).
fn docker_config_text(secret: &Secret) -> Option<String> {
    let data = secret.data.as_ref()?;
    if let Some(bytes) = data.get(".dockerconfigjson") {
        return Some(String::from_utf8_lossy(&bytes.0).into_owned());
    }
    let legacy = data.get(".dockercfg")?;
    let auths: serde_json::Value = serde_json::from_slice(&legacy.0).ok()?;
    Some(serde_json::json!({ "auths": auths }).to_string())
}

/// One image's registry work, run on a blocking thread.
struct Job {
    reference: ImageRef,
    digest: Option<String>,
    options: RegistryOptions,
    keys: Vec<VerifyingKey>,
    signature: bool,
    scan: Option<ScanPolicy>,
    model_scan: Option<ModelScanPolicy>,
}

impl Job {
    fn run(self) -> ImageVerdict {
        let mut verdict = ImageVerdict::default();
        let fail = |verdict: &mut ImageVerdict, reasons: Vec<String>| {
            if self.signature {
                verdict.signature = Some(Err(reasons));
            } else if self.scan.is_some() {
                verdict.scan = Some(Err(reasons));
            } else {
                verdict.model_scan = Some(Err(reasons));
            }
        };
        let repo = match Repository::with_options(&self.reference, &self.options) {
            Ok(repo) => repo,
            Err(e) => return unavailable(e.to_string()),
        };
        let digest = match self.digest.clone() {
            Some(digest) => digest,
            None => match resolve_digest(&repo, &self.reference) {
                Ok(digest) => digest,
                Err(e) if e.unreachable => return unavailable(e.to_string()),
                Err(e) => {
                    fail(&mut verdict, vec![e.to_string()]);
                    return verdict;
                }
            },
        };
        verdict.digest = Some(digest.clone());
        if self.signature {
            match verify_signature(&repo, &digest, &self.keys) {
                Ok(_) => verdict.signature = Some(Ok(())),
                Err(Rejection::Denied(reasons)) => verdict.signature = Some(Err(reasons)),
                Err(Rejection::Unreachable(m)) => {
                    verdict.unavailable = Some(m);
                    return verdict;
                }
            }
        }
        if let Some(scan) = self.scan {
            let requirement = ScanRequirement {
                max_severity: scan.max_severity.into(),
                max_age: scan.max_age,
                now: time::OffsetDateTime::now_utc().unix_timestamp(),
            };
            match verify_scan(&repo, &digest, &self.keys, &requirement) {
                Ok(()) => verdict.scan = Some(Ok(())),
                Err(Rejection::Denied(reasons)) => verdict.scan = Some(Err(reasons)),
                Err(Rejection::Unreachable(m)) => {
                    verdict.unavailable = Some(m);
                    return verdict;
                }
            }
        }
        if let Some(model_scan) = self.model_scan {
            let requirement = ModelScanRequirement {
                fail_on: model_scan.fail_on,
                max_age: model_scan.max_age,
                now: time::OffsetDateTime::now_utc().unix_timestamp(),
            };
            match verify_model_scan(&repo, &digest, &self.keys, &requirement) {
                Ok(()) => verdict.model_scan = Some(Ok(())),
                Err(Rejection::Denied(reasons)) => verdict.model_scan = Some(Err(reasons)),
                Err(Rejection::Unreachable(m)) => verdict.unavailable = Some(m),
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use k8s_openapi::ByteString;

    #[test]
    fn pull_secrets_of_both_formats_give_credentials() {
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        let config = format!(r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#);
        let legacy = format!(r#"{{"127.0.0.1:5000":{{"auth":"{auth}"}}}}"#);
        for (key, text) in [(".dockerconfigjson", config), (".dockercfg", legacy)] {
            let secret = Secret {
                data: Some([(key.to_owned(), ByteString(text.into_bytes()))].into()),
                ..Secret::default()
            };
            let text = docker_config_text(&secret).unwrap();
            let credentials = credentials_in("127.0.0.1:5000", &text, "secret", false)
                .unwrap()
                .unwrap();
            assert_eq!(credentials.username, "ci");
            assert_eq!(credentials.password, "s3cret");
        }
        assert!(docker_config_text(&Secret::default()).is_none());
    }

    #[test]
    fn a_pull_secret_never_runs_a_credential_helper() {
        let text = r#"{"credHelpers":{"127.0.0.1:5000":"evil"},"credsStore":"evil"}"#;
        assert_eq!(
            credentials_in("127.0.0.1:5000", text, "secret", false),
            Ok(None)
        );
    }

    #[test]
    fn caches_prune_expired_then_oldest() {
        let mut map = HashMap::new();
        let now = Instant::now();
        for i in 0..MAX_CACHE_ENTRIES {
            let until = if i % 2 == 0 {
                now - Duration::from_secs(1)
            } else {
                now + Duration::from_secs(i as u64)
            };
            map.insert(i.to_string(), Cached { value: (), until });
        }
        prune(&mut map);
        assert_eq!(map.len(), MAX_CACHE_ENTRIES / 2);
        assert!(map.values().all(|c| c.until > now));
    }
}
