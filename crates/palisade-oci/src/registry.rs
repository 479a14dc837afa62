//! A client of the OCI distribution API (<https://github.com/opencontainers/distribution-spec>):
//! manifests and blobs by digest, token and basic authentication with credentials from the Docker
//! config file, and the pushes an artifact needs. Blocking: layers stream straight into their
//! decompressors on the scan's worker threads. Reading an image from a repository (index,
//! platform, configuration, layers) is `palisade-image`'s.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use palisade_core::image_ref::ImageRef;

use crate::digest::{sha256_digest, sha256_hex, verify_digest, MAX_JSON_BLOB};
use crate::error::OciError;
use crate::manifest;

/// A repository on a registry, with the session's credentials. Bearer tokens live in the
/// process's token cache, shared by every `Repository` of the same registry, repository and
/// credentials (the webhook opens one per verification).
#[derive(Debug)]
pub struct Repository {
    location: String,
    http: reqwest::blocking::Client,
    base: String,
    /// The registry as the user named it (`host[:port]`), for messages.
    registry: String,
    repository: String,
    credentials: Option<Credentials>,
    /// The registry answered a Basic challenge: send the credentials with every request.
    basic: AtomicBool,
    timeout: Option<Duration>,
}

/// What a Bearer token was issued for. The credentials are part of the key (as a digest): the
/// webhook verifies images of one registry with the pull secrets of many namespaces, and a token
/// fetched with one namespace's secret must never serve another's request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    base: String,
    repository: String,
    actions: String,
    identity: [u8; 32],
}

impl TokenKey {
    fn new(base: &str, repository: &str, actions: &str, credentials: Option<&Credentials>) -> Self {
        use sha2::Digest as _;
        let mut identity = [0u8; 32];
        if let Some(c) = credentials {
            let mut hasher = sha2::Sha256::new();
            hasher.update(c.username.as_bytes());
            hasher.update([0]);
            hasher.update(c.password.as_bytes());
            identity.copy_from_slice(&hasher.finalize());
        }
        Self {
            base: base.to_owned(),
            repository: repository.to_owned(),
            actions: actions.to_owned(),
            identity,
        }
    }
}

/// Bearer tokens by registry, repository, scope and credentials, each until it expires.
#[derive(Debug, Default)]
struct TokenCache {
    tokens: HashMap<TokenKey, (String, Instant)>,
}

/// A long-running webhook meets many repositories; past this many live tokens the cache starts
/// over rather than grow.
const MAX_CACHED_TOKENS: usize = 4096;

/// The token lifetime the distribution spec tells clients to assume when `expires_in` is absent.
const DEFAULT_TOKEN_LIFETIME: u64 = 60;

impl TokenCache {
    /// The `Authorization` value for `key`, or for a wider scope of the same repository (a push
    /// token also pulls), while it has not expired.
    fn get(&self, key: &TokenKey, now: Instant) -> Option<String> {
        let live = |k: &TokenKey| {
            self.tokens
                .get(k)
                .filter(|(_, until)| now < *until)
                .map(|(auth, _)| auth.clone())
        };
        live(key).or_else(|| {
            (key.actions == "pull")
                .then(|| {
                    let mut wider = key.clone();
                    wider.actions = "pull,push".into();
                    live(&wider)
                })
                .flatten()
        })
    }

    fn insert(&mut self, key: TokenKey, authorization: String, until: Instant, now: Instant) {
        if self.tokens.len() >= MAX_CACHED_TOKENS {
            self.tokens.retain(|_, (_, until)| now < *until);
            if self.tokens.len() >= MAX_CACHED_TOKENS {
                self.tokens.clear();
            }
        }
        self.tokens.insert(key, (authorization, until));
    }

    fn remove(&mut self, key: &TokenKey) {
        self.tokens.remove(key);
    }
}

fn token_cache() -> &'static Mutex<TokenCache> {
    static CACHE: std::sync::OnceLock<Mutex<TokenCache>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// How long to keep a token that the service says lives `expires_in` seconds from `fetched`
/// (the moment its request was sent): a margin short of that, so that a request never leaves
/// with a token about to lapse.
fn token_deadline(fetched: Instant, expires_in: u64) -> Instant {
    // A day at most: a service's `expires_in` is no reason to overflow the clock.
    let expires_in = expires_in.min(24 * 3600);
    let margin = (expires_in / 2).min(10);
    fetched + Duration::from_secs(expires_in - margin)
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// `error=` of RFC 6750: `invalid_token` or `insufficient_scope` on a refused token.
        error: Option<String>,
    },
    Other(String),
}

impl Challenge {
    fn parse(header: &str) -> Challenge {
        let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Challenge::Basic;
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Challenge::Other(header.to_owned());
        }
        let params = challenge_params(params);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        match get("realm") {
            Some(realm) => Challenge::Bearer {
                realm,
                service: get("service"),
                error: get("error"),
            },
            None => Challenge::Other(header.to_owned()),
        }
    }
}

/// One HTTP client for the process: building one loads the system's root certificates and starts
/// a runtime thread (milliseconds), and a shared one keeps connections to registries alive between
/// repositories (the webhook verifies many images of few registries).
fn shared_client() -> Result<reqwest::blocking::Client, String> {
    static CLIENT: std::sync::OnceLock<Result<reqwest::blocking::Client, String>> =
        std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::blocking::Client::builder()
                .connect_timeout(Duration::from_secs(15))
                .timeout(None)
                .user_agent(concat!("palisade/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("HTTP client: {e}"))
        })
        .clone()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// How to reach a registry, beyond the image reference.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain HTTP (a loopback or lab registry); HTTPS otherwise.
    pub plain_http: bool,
    /// Credentials to use; when `None`, they come from the Docker config.
    pub credentials: Option<Credentials>,
    /// The Docker config to read credentials from (default: `$DOCKER_CONFIG` or `~/.docker`).
    pub docker_config: Option<PathBuf>,
    /// Time allowed for each request, body included; `None` waits as long as data flows (large
    /// layers), with only the connection bounded.
    pub timeout: Option<Duration>,
}

impl Repository {
    pub fn new(
        reference: &ImageRef,
        plain_http: bool,
        docker_config: Option<&PathBuf>,
    ) -> Result<Self, OciError> {
        Self::with_options(
            reference,
            &RegistryOptions {
                plain_http,
                docker_config: docker_config.cloned(),
                ..RegistryOptions::default()
            },
        )
    }

    pub fn with_options(reference: &ImageRef, options: &RegistryOptions) -> Result<Self, OciError> {
        let location = format!("registry:{}", reference.full_name());
        let host = match reference.registry.as_str() {
            "docker.io" => "registry-1.docker.io",
            other => other,
        };
        let scheme = if options.plain_http { "http" } else { "https" };
        let http = shared_client().map_err(|e| OciError::new(&location, e))?;
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => docker_credentials(&reference.registry, options.docker_config.as_ref())
                .map_err(|m| OciError::new(&location, m))?,
        };
        Ok(Self {
            location,
            http,
            base: format!("{scheme}://{host}"),
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            credentials,
            basic: AtomicBool::new(false),
            timeout: options.timeout,
        })
    }

    /// Who palisade is to the registry, for messages: `user "NAME"`, or anonymous.
    fn who(&self) -> String {
        match &self.credentials {
            Some(c) => format!("user {:?}", c.username),
            None => "an anonymous client".into(),
        }
    }

    fn basic_authorization(&self) -> Option<String> {
        self.credentials.as_ref().map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.password))
            )
        })
    }

    fn token_key(&self, actions: &str) -> TokenKey {
        TokenKey::new(
            &self.base,
            &self.repository,
            actions,
            self.credentials.as_ref(),
        )
    }

    /// Sends a request for `actions` (`pull`, or `pull,push`) on the repository, authenticating
    /// as the registry's challenge asks: Basic with the credentials, or a Bearer token for exactly
    /// this repository and these actions (from the cache, else from the token service).
    fn send(
        &self,
        build: &dyn Fn() -> reqwest::blocking::RequestBuilder,
        actions: &str,
    ) -> Result<reqwest::blocking::Response, OciError> {
        let attempt = |auth: Option<&str>| {
            let mut request = build();
            if let Some(timeout) = self.timeout {
                request = request.timeout(timeout);
            }
            if let Some(auth) = auth {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            request.send().map_err(|e| {
                OciError::unreachable(
                    &self.location,
                    format!(
                        "cannot reach the registry: {}{}",
                        error_chain(&e),
                        plain_http_hint(&self.base, &error_chain(&e))
                    ),
                )
            })
        };
        let key = self.token_key(actions);
        let sent = if self.basic.load(Ordering::Relaxed) {
            self.basic_authorization()
        } else {
            token_cache()
                .lock()
                .ok()
                .and_then(|cache| cache.get(&key, Instant::now()))
        };
        let response = attempt(sent.as_deref())?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        match Challenge::parse(&challenge_of(&response)) {
            Challenge::Basic => {
                let Some(basic) = self.basic_authorization() else {
                    return Err(OciError::new(
                        &self.location,
                        "the registry wants credentials; none found in the Docker config",
                    ));
                };
                if sent.as_deref() == Some(basic.as_str()) {
                    return Err(
                        self.refused_credentials(&format!("the registry {}", self.registry))
                    );
                }
                self.basic.store(true, Ordering::Relaxed);
                let response = attempt(Some(&basic))?;
                if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                    return Err(
                        self.refused_credentials(&format!("the registry {}", self.registry))
                    );
                }
                Ok(response)
            }
            Challenge::Bearer { realm, service, .. } => {
                // Whatever was sent (a cached token, possibly revoked or narrower than the
                // service now grants) is no good: ask the token service afresh, once.
                if let Ok(mut cache) = token_cache().lock() {
                    cache.remove(&key);
                }
                let fetched = Instant::now();
                let (token, expires_in) = self.fetch_token(&realm, service.as_deref(), actions)?;
                let response = attempt(Some(&token))?;
                if response.status() != reqwest::StatusCode::UNAUTHORIZED {
                    if let Ok(mut cache) = token_cache().lock() {
                        let now = Instant::now();
                        cache.insert(key, token, token_deadline(fetched, expires_in), now);
                    }
                    return Ok(response);
                }
                Err(self.refused_token(&realm, actions, &challenge_of(&response)))
            }
            Challenge::Other(challenge) => Err(OciError::new(
                &self.location,
                format!("unsupported authentication challenge {challenge:?}"),
            )),
        }
    }

    fn refused_credentials(&self, by: &str) -> OciError {
        OciError::new(
            &self.location,
            format!(
                "{by} refused the credentials of {} for {} (401); check the Docker config or pull secret",
                self.who(),
                self.registry
            ),
        )
    }

    /// The registry answered 401 to a token just issued for this request: the token service
    /// granted less than was asked (`insufficient_scope`), or issued a token the registry does
    /// not trust (`invalid_token`).
    fn refused_token(&self, realm: &str, actions: &str, challenge: &str) -> OciError {
        let error = match Challenge::parse(challenge) {
            Challenge::Bearer { error, .. } => error,
            _ => None,
        };
        let hint = if self.credentials.is_none() {
            format!(
                " (no credentials for {} in the Docker config)",
                self.registry
            )
        } else {
            String::new()
        };
        let message = match error.as_deref() {
            Some("insufficient_scope") => format!(
                "the registry {} refused the token for repository:{}:{actions} (insufficient_scope): the token service {realm} did not grant {} {actions} access to {}{hint}",
                self.registry,
                self.repository,
                self.who(),
                self.repository,
            ),
            Some(other) => format!(
                "the registry {} refused the token from {realm} for {} ({other}): it does not accept that service's tokens",
                self.registry,
                self.who()
            ),
            None => format!(
                "the registry {} refused the token from {realm} for {} (401){hint}",
                self.registry,
                self.who()
            ),
        };
        OciError::new(&self.location, message)
    }

    /// A token for `actions` on the repository from the token service at `realm`, with the
    /// seconds it lives. Credentials go as Basic; without any, the token is anonymous (public
    /// images on Docker Hub, GHCR and Harbor need one too).
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        actions: &str,
    ) -> Result<(String, u64), OciError> {
        // The realm is the registry's to name: one reached over HTTPS must not have the
        // credentials sent in clear text to a plain-HTTP token service.
        if self.credentials.is_some()
            && self.base.starts_with("https://")
            && !realm
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            return Err(OciError::new(
                &self.location,
                format!(
                    "the registry {} sends credentials to the token service {realm}, which is not HTTPS; palisade will not send them there",
                    self.registry
                ),
            ));
        }
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(service) = service {
            query.push(("service", service.to_owned()));
        }
        query.push(("scope", format!("repository:{}:{actions}", self.repository)));
        let mut request = self.http.get(realm).query(&query);
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        if let Some(basic) = self.basic_authorization() {
            request = request.header(reqwest::header::AUTHORIZATION, basic);
        }
        let response = request.send().map_err(|e| {
            OciError::unreachable(
                &self.location,
                format!("token service {realm}: {}", error_chain(&e)),
            )
        })?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(OciError::unreachable(
                &self.location,
                format!("token service {realm} answered {status}"),
            ));
        }
        if matches!(
            status,
            reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
        ) {
            if self.credentials.is_none() {
                return Err(OciError::new(
                    &self.location,
                    format!(
                        "the registry wants credentials; none found in the Docker config (its token service {realm} refused an anonymous token: {status})"
                    ),
                ));
            }
            return Err(OciError::new(
                &self.location,
                format!(
                    "the token service {realm} refused the credentials of {} for {} ({status}); check the Docker config or pull secret",
                    self.who(),
                    self.registry
                ),
            ));
        }
        if !status.is_success() {
            return Err(OciError::new(
                &self.location,
                format!("token service {realm} answered {status}"),
            ));
        }
        #[derive(Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let body = self.read_json_body(&format!("token service {realm}"), response)?;
        let token: Token = serde_json::from_slice(&body).map_err(|e| {
            OciError::new(
                &self.location,
                format!("token service {realm} answered no token: {e}"),
            )
        })?;
        // The spec names `token`; OAuth 2 clients read `access_token`; either may be empty.
        let value = token
            .token
            .filter(|t| !t.is_empty())
            .or(token.access_token.filter(|t| !t.is_empty()))
            .ok_or_else(|| {
                OciError::new(
                    &self.location,
                    format!("token service {realm} returned no token"),
                )
            })?;
        Ok((
            format!("Bearer {value}"),
            token.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME),
        ))
    }

    pub(crate) fn fail(&self, what: &str, response: reqwest::blocking::Response) -> OciError {
        let status = response.status();
        let body: String = response
            .text()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let message = format!("{what}: the registry answered {status} {}", body.trim());
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            OciError::unreachable(&self.location, message)
        } else if status == reqwest::StatusCode::NOT_FOUND {
            OciError::not_found(&self.location, message)
        } else {
            OciError::new(&self.location, message)
        }
    }

    /// A manifest or index by tag or digest: its bytes, media type and digest (verified when the
    /// reference is a digest).
    pub fn manifest(&self, reference: &str) -> Result<(Vec<u8>, String, String), OciError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let response = self.send(
            &|| {
                self.http.get(&url).header(
                    reqwest::header::ACCEPT,
                    manifest::ACCEPTED_MANIFESTS.join(", "),
                )
            },
            "pull",
        )?;
        if !response.status().is_success() {
            return Err(self.fail(&format!("manifest {reference}"), response));
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = self.read_json_body(&format!("manifest {reference}"), response)?;
        let digest = sha256_digest(&bytes);
        if reference.starts_with("sha256:") {
            verify_digest(&self.location, reference, &bytes)?;
        }
        Ok((bytes, media_type, digest))
    }

    /// Whether a manifest exists (`HEAD`), and its digest.
    pub fn manifest_digest(&self, reference: &str) -> Result<Option<String>, OciError> {
        match self.manifest(reference) {
            Ok((_, _, digest)) => Ok(Some(digest)),
            Err(e) if e.not_found => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A blob's bytes as a stream; the caller verifies the digest.
    pub fn blob(&self, digest: &str) -> Result<reqwest::blocking::Response, OciError> {
        if sha256_hex(digest).is_none() {
            return Err(OciError::new(
                &self.location,
                format!("invalid digest {digest:?}"),
            ));
        }
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let response = self.send(&|| self.http.get(&url), "pull")?;
        if !response.status().is_success() {
            return Err(self.fail(&format!("blob {digest}"), response));
        }
        Ok(response)
    }

    /// Uploads a blob (monolithic POST then PUT), unless the registry already has it.
    pub fn push_blob(&self, bytes: &[u8]) -> Result<String, OciError> {
        let digest = sha256_digest(bytes);
        let head = format!("{}/v2/{}/blobs/{digest}", self.base, self.repository);
        let response = self.send(&|| self.http.head(&head), "pull,push")?;
        if response.status().is_success() {
            return Ok(digest);
        }
        let start = format!("{}/v2/{}/blobs/uploads/", self.base, self.repository);
        let response = self.send(
            &|| {
                self.http
                    .post(&start)
                    .header(reqwest::header::CONTENT_LENGTH, 0)
            },
            "pull,push",
        )?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            return Err(self.fail("starting a blob upload", response));
        }
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| OciError::new(&self.location, "blob upload without a Location"))?
            .to_owned();
        let mut url = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location
        };
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("digest={digest}"));
        let body = bytes.to_vec();
        let response = self.send(
            &|| {
                self.http
                    .put(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(body.clone())
            },
            "pull,push",
        )?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(self.fail(&format!("uploading blob {digest}"), response));
        }
        Ok(digest)
    }

    /// Puts a manifest under a tag (or its digest); returns its digest.
    pub fn push_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, OciError> {
        let digest = sha256_digest(bytes);
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let body = bytes.to_vec();
        let response = self.send(
            &|| {
                self.http
                    .put(&url)
                    .header(reqwest::header::CONTENT_TYPE, media_type)
                    .body(body.clone())
            },
            "pull,push",
        )?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(self.fail(&format!("pushing manifest {reference}"), response));
        }
        Ok(digest)
    }

    /// A GET of `path` under the repository (`referrers/sha256:...`), authenticated as for pulls.
    pub(crate) fn get_path(
        &self,
        path: &str,
        accept: &str,
    ) -> Result<reqwest::blocking::Response, OciError> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repository);
        self.send(
            &|| self.http.get(&url).header(reqwest::header::ACCEPT, accept),
            "pull",
        )
    }

    /// Reads a JSON answer, bounded like every manifest.
    pub(crate) fn read_json_body(
        &self,
        what: &str,
        response: reqwest::blocking::Response,
    ) -> Result<Vec<u8>, OciError> {
        let mut bytes = Vec::new();
        response
            .take(MAX_JSON_BLOB + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| OciError::unreachable(&self.location, format!("{what}: {e}")))?;
        if bytes.len() as u64 > MAX_JSON_BLOB {
            return Err(OciError::new(
                &self.location,
                format!("{what} is over the size limit"),
            ));
        }
        Ok(bytes)
    }

    pub fn location(&self) -> &str {
        &self.location
    }
}

/// The `WWW-Authenticate` header of a 401, or nothing.
fn challenge_of(response: &reqwest::blocking::Response) -> String {
    response
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A hint when a TLS handshake met a server that speaks plain HTTP (rustls reads the HTTP
/// response as a TLS record of an invalid content type): a lab or loopback registry without TLS.
fn plain_http_hint(base: &str, error: &str) -> &'static str {
    let plain_answer = [
        "InvalidContentType",
        "corrupt message",
        "wrong version number",
    ]
    .iter()
    .any(|sign| error.contains(sign));
    if base.starts_with("https://") && plain_answer {
        "; the registry seems to speak plain HTTP: for a loopback or lab registry, pass --plain-http (PALISADE_PLAIN_HTTP=1)"
    } else {
        ""
    }
}

/// `realm="https://auth",service="registry",scope="..."` into pairs.
fn challenge_params(text: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v.to_owned(), n),
                None => (quoted.to_owned(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v.trim().to_owned(), n),
                None => (after.trim().to_owned(), ""),
            }
        };
        params.push((key, value));
        rest = next.trim_start_matches(',').trim();
    }
    params
}

/// The credentials for `registry` from the Docker config file (`auths`, `credHelpers`, `credsStore`).
pub fn docker_credentials(
    registry: &str,
    config: Option<&PathBuf>,
) -> Result<Option<Credentials>, String> {
    let path = match config {
        Some(p) => p.clone(),
        None => match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) => PathBuf::from(dir).join("config.json"),
            None => match std::env::var_os("HOME") {
                Some(home) => PathBuf::from(home).join(".docker").join("config.json"),
                None => return Ok(None),
            },
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.is_none() => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    credentials_in(registry, &text, &path.display().to_string(), true)
}

/// The credentials for `registry` in the text of a Docker config, such as the `.dockerconfigjson`
/// of an image pull secret. Credential helpers run only when `run_helpers`: a config that came
/// from the cluster must never choose a program for the webhook to execute.
pub fn credentials_in(
    registry: &str,
    text: &str,
    origin: &str,
    run_helpers: bool,
) -> Result<Option<Credentials>, String> {
    #[derive(Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Config {
        #[serde(default)]
        auths: std::collections::BTreeMap<String, Auth>,
        #[serde(default)]
        cred_helpers: std::collections::BTreeMap<String, String>,
        creds_store: Option<String>,
    }
    #[derive(Deserialize, Default)]
    struct Auth {
        auth: Option<String>,
        username: Option<String>,
        password: Option<String>,
    }
    let config: Config = serde_json::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
    let names: Vec<String> = if registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![
            registry.into(),
            format!("https://{registry}"),
            format!("http://{registry}"),
            format!("https://{registry}/v1/"),
        ]
    };
    if let Some(helper) = names.iter().find_map(|n| config.cred_helpers.get(n)) {
        if run_helpers {
            return credential_helper(helper, &names[0]).map(Some);
        }
    }
    for name in &names {
        if let Some(auth) = config.auths.get(name) {
            if let (Some(username), Some(password)) = (&auth.username, &auth.password) {
                return Ok(Some(Credentials {
                    username: username.clone(),
                    password: password.clone(),
                }));
            }
            if let Some(encoded) = &auth.auth {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|e| format!("{origin}: auths.{name}.auth is not base64: {e}"))?;
                let decoded = String::from_utf8_lossy(&decoded).into_owned();
                let (username, password) = decoded
                    .split_once(':')
                    .ok_or_else(|| format!("{origin}: auths.{name}.auth is not USER:PASSWORD"))?;
                return Ok(Some(Credentials {
                    username: username.into(),
                    password: password.into(),
                }));
            }
        }
    }
    match &config.creds_store {
        Some(store) if run_helpers && !store.is_empty() => {
            credential_helper(store, &names[0]).map(Some)
        }
        _ => Ok(None),
    }
}

/// Asks `docker-credential-<helper> get` for a registry's credentials.
fn credential_helper(helper: &str, server: &str) -> Result<Credentials, String> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{program} get {server}: {}",
            String::from_utf8_lossy(&output.stdout).trim()
        ));
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let answer: Answer =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("{program}: {e}"))?;
    Ok(Credentials {
        username: answer.username,
        password: answer.secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_challenges_and_docker_configs() {
        let params = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(
            params[0],
            ("realm".into(), "https://auth.example/token".into())
        );
        assert_eq!(params[1], ("service".into(), "registry.example".into()));
        assert_eq!(params.len(), 3);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"registry.example:5000":{"auth":"dXNlcjpwYTpzcw=="},"https://index.docker.io/v1/":{"username":"hub","password":"secret"}}}"#,
        )
        .unwrap();
        let creds = docker_credentials("registry.example:5000", Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(
            (creds.username.as_str(), creds.password.as_str()),
            ("user", "pa:ss")
        );
        let hub = docker_credentials("docker.io", Some(&path))
            .unwrap()
            .unwrap();
        assert_eq!(hub.username, "hub");
        assert_eq!(
            docker_credentials("other.example", Some(&path)).unwrap(),
            None
        );
        std::fs::write(&path, r#"{"auths":{"other.example":{"auth":"%%%"}}}"#).unwrap();
        let err = docker_credentials("other.example", Some(&path)).unwrap_err();
        assert!(err.contains("auths.other.example.auth"), "{err}");
    }

    #[test]
    fn bearer_challenges_carry_their_error() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="registry""#),
            Challenge::Basic
        );
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push",error="insufficient_scope""#
            ),
            Challenge::Bearer {
                realm: "http://127.0.0.1:1/token".into(),
                service: Some("reg".into()),
                error: Some("insufficient_scope".into()),
            }
        );
        assert!(matches!(
            Challenge::parse(r#"Bearer service="reg""#),
            Challenge::Other(_)
        ));
        assert!(matches!(
            Challenge::parse("Negotiate abc"),
            Challenge::Other(_)
        ));
    }

    #[test]
    fn tokens_are_kept_per_registry_repository_scope_and_credentials_until_they_expire() {
        let ci = Credentials {
            username: "ci".into(),
            password: "s3cret".into(),
        };
        let other = Credentials {
            username: "ci".into(),
            password: "other".into(),
        };
        let key = |base: &str, repo: &str, actions: &str, c: Option<&Credentials>| {
            TokenKey::new(base, repo, actions, c)
        };
        let now = Instant::now();
        let mut cache = TokenCache::default();
        let pull = key("http://r:5000", "ml/iris", "pull", Some(&ci));
        cache.insert(
            pull.clone(),
            "Bearer pull".into(),
            token_deadline(now, 300),
            now,
        );
        assert_eq!(cache.get(&pull, now).as_deref(), Some("Bearer pull"));
        for miss in [
            key("http://r:5000", "ml/iris", "pull,push", Some(&ci)),
            key("http://r:5000", "ml/other", "pull", Some(&ci)),
            key("http://r:5001", "ml/iris", "pull", Some(&ci)),
            key("http://r:5000", "ml/iris", "pull", Some(&other)),
            key("http://r:5000", "ml/iris", "pull", None),
        ] {
            assert_eq!(cache.get(&miss, now), None, "{miss:?}");
        }
        // A push token also pulls; a pull token never pushes.
        let push = key("http://r:5000", "ml/model", "pull,push", Some(&ci));
        cache.insert(push, "Bearer push".into(), token_deadline(now, 300), now);
        let pull_model = key("http://r:5000", "ml/model", "pull", Some(&ci));
        assert_eq!(cache.get(&pull_model, now).as_deref(), Some("Bearer push"));

        // Expiry, with a margin: a 300 s token is dropped 10 s early, a 4 s one 2 s early.
        assert_eq!(token_deadline(now, 300), now + Duration::from_secs(290));
        assert_eq!(token_deadline(now, 4), now + Duration::from_secs(2));
        assert_eq!(token_deadline(now, 0), now);
        assert_eq!(
            cache.get(&pull, now + Duration::from_secs(289)).as_deref(),
            Some("Bearer pull")
        );
        assert_eq!(cache.get(&pull, now + Duration::from_secs(290)), None);
        // A service's absurd lifetime neither overflows nor lasts past a day.
        assert!(token_deadline(now, u64::MAX) <= now + Duration::from_secs(86_400));
        cache.remove(&pull);
        assert_eq!(cache.get(&pull, now), None);
    }

    #[test]
    fn credentials_never_go_to_a_plain_http_token_service_of_an_https_registry() {
        let reference = ImageRef::parse("registry.example/ml/iris:1").unwrap();
        let options = RegistryOptions {
            credentials: Some(Credentials {
                username: "ci".into(),
                password: "s3cret".into(),
            }),
            ..RegistryOptions::default()
        };
        let repo = Repository::with_options(&reference, &options).unwrap();
        let err = repo
            .fetch_token("http://127.0.0.1:9/token", None, "pull")
            .unwrap_err();
        assert!(!err.unreachable);
        assert!(err.message.contains("not HTTPS"), "{}", err.message);
    }
}
