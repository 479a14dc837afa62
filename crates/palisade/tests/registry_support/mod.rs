//! A real registry for tests: the CNCF distribution registry (Debian's docker-registry), started
//! on 127.0.0.1 by ../shared/tools/local-registry.sh or with a password, and skopeo to push.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

use crate::common::root;

/// A registry on 127.0.0.1, stopped when dropped.
pub struct Registry {
    pid: i32,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let output = Command::new("bash")
            .arg(root().join("../shared/tools/local-registry.sh"))
            .arg(port.to_string())
            .arg(dir.path())
            .output()
            .expect("local-registry.sh runs");
        assert!(
            output.status.success(),
            "registry: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let pid = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .expect("a PID");
        Registry { pid, port, dir }
    }

    /// `host:port`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Where the registry keeps a blob's bytes (the filesystem driver's layout), for tests that
    /// tamper with what it serves.
    pub fn blob_path(&self, digest: &str) -> std::path::PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn stop(&self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn skopeo_push(oci: &Path, destination: &str) {
    skopeo_copy(
        &format!("oci:{}:app", oci.display()),
        &format!("docker://{destination}"),
        &[],
    );
}

/// Pushes `blobs`, then `manifest` (any OCI manifest: an artifact such as a ModelPack model, which
/// skopeo does not copy) as `host/repository:tag`, over plain HTTP as the distribution API has it
/// (a monolithic upload per blob, then a manifest PUT). Returns the manifest's digest.
pub fn push_artifact(
    host: &str,
    repository: &str,
    tag: &str,
    blobs: &[&[u8]],
    manifest: &serde_json::Value,
) -> String {
    use sha2::Digest as _;
    let digest = |bytes: &[u8]| format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
    let http = reqwest::blocking::Client::new();
    for blob in blobs {
        let started = http
            .post(format!("http://{host}/v2/{repository}/blobs/uploads/"))
            .send()
            .unwrap();
        assert_eq!(started.status().as_u16(), 202, "{:?}", started.text());
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("http://{host}{location}")
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = http
            .put(format!("{location}{separator}digest={}", digest(blob)))
            .header("content-type", "application/octet-stream")
            .body(blob.to_vec())
            .send()
            .unwrap();
        assert_eq!(put.status().as_u16(), 201, "{:?}", put.text());
    }
    let body = serde_json::to_vec(manifest).unwrap();
    let put = http
        .put(format!("http://{host}/v2/{repository}/manifests/{tag}"))
        .header(
            "content-type",
            manifest["mediaType"]
                .as_str()
                .unwrap_or("application/vnd.oci.image.manifest.v1+json"),
        )
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(put.status().as_u16(), 201, "{:?}", put.text());
    digest(&body)
}

/// `skopeo copy` from `source` to `destination` (transport-prefixed), over plain HTTP on both
/// sides, with `extra` options such as `--dest-creds USER:PASSWORD`.
pub fn skopeo_copy(source: &str, destination: &str, extra: &[&str]) {
    let output = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "-q",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
        ])
        .args(extra)
        .arg(source)
        .arg(destination)
        .output()
        .expect("skopeo runs (apt install skopeo)");
    assert!(
        output.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A registry that wants a password (htpasswd, answered with a Basic challenge), started here
/// with its own configuration.
pub fn start_registry_with_password(
    dir: &Path,
    user: &str,
    password: &str,
) -> (std::process::Child, u16) {
    let hash = bcrypt::hash(password, 5).unwrap();
    std::fs::write(dir.join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
    start_registry_with_auth(
        dir,
        &format!(
            "auth:\n  htpasswd:\n    realm: palisade-test\n    path: {}\n",
            dir.join("htpasswd").display()
        ),
    )
}

/// The registry with storage in `dir/data` and `auth` (a YAML `auth:` block) as its access
/// control, on a free port; its log goes to `dir/registry.log`.
pub fn start_registry_with_auth(dir: &Path, auth: &str) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("config.yml"),
        format!(
            "version: 0.1\nstorage:\n  filesystem: {{rootdirectory: {data}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}log: {{level: info}}\n",
            data = dir.join("data").display(),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("docker-registry (apt install docker-registry)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, port);
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the registry exited ({status}): {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the registry did not start");
}

/// What the token issuer grants: the actions `user` (`None`: anonymous) may take on a
/// repository. The issuer grants the requested actions that are also in this list, as Docker
/// Hub and Harbor do (a token with less than was asked for, never a refusal).
pub type Grants = dyn Fn(Option<&str>, &str) -> Vec<&'static str> + Send + Sync;

/// One request to the token issuer, as it saw it.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The Basic user, `None` for an anonymous request.
    pub user: Option<String>,
    pub service: String,
    /// The `scope` parameters, in order (`repository:ml/iris:pull,push`).
    pub scopes: Vec<String>,
    /// The HTTP status it answered.
    pub status: u16,
    /// What the token it returned grants, as scopes.
    pub granted: Vec<String>,
}

/// The issuer's name in its tokens (`iss`) and the registry's name for itself (`service`, the
/// tokens' `aud`).
pub const TOKEN_ISSUER: &str = "palisade-test-issuer";
pub const TOKEN_SERVICE: &str = "palisade-test-registry";

#[derive(Default)]
struct IssuerState {
    log: Vec<TokenRequest>,
    /// When set, every token names this repository instead of the one asked for (a broken or
    /// hostile issuer): the registry must refuse it, and so must the client's answer.
    misdirect: Option<String>,
    /// `expires_in` of the tokens, seconds.
    expires_in: u64,
    jti: u64,
}

/// A Docker token service (<https://distribution.github.io/distribution/spec/auth/token/>) on
/// 127.0.0.1: checks Basic credentials, grants scopes by `Grants`, and signs ES256 JWTs with a
/// key made here, its certificate in the `x5c` header and in the registry's rootcertbundle.
#[derive(Clone)]
pub struct TokenIssuer {
    pub port: u16,
    state: std::sync::Arc<std::sync::Mutex<IssuerState>>,
}

impl TokenIssuer {
    /// Starts the issuer; writes its certificate to `bundle` for the registry to trust.
    pub fn start(
        users: &[(&str, &str)],
        grants: std::sync::Arc<Grants>,
        bundle: &Path,
    ) -> TokenIssuer {
        use p256::pkcs8::DecodePrivateKey as _;
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec![TOKEN_ISSUER.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, TOKEN_ISSUER);
        let cert = params.self_signed(&key_pair).unwrap();
        std::fs::write(bundle, cert.pem()).unwrap();
        let signing = p256::ecdsa::SigningKey::from_pkcs8_der(&key_pair.serialize_der()).unwrap();
        let x5c = base64::engine::general_purpose::STANDARD.encode(cert.der());
        let users: Vec<(String, String)> = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(std::sync::Mutex::new(IssuerState {
            expires_in: 300,
            ..IssuerState::default()
        }));
        let issuer = TokenIssuer {
            port,
            state: state.clone(),
        };
        let signer = std::sync::Arc::new((signing, x5c, users, grants));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = state.clone();
                let signer = signer.clone();
                std::thread::spawn(move || {
                    let (signing, x5c, users, grants) = &*signer;
                    serve_token_request(stream, &state, signing, x5c, users, grants.as_ref());
                });
            }
        });
        issuer
    }

    /// The URL the registry names as its realm.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The requests so far, and forgets them.
    pub fn take_log(&self) -> Vec<TokenRequest> {
        std::mem::take(&mut self.state.lock().unwrap().log)
    }

    /// From now on, tokens name `repository` whatever was asked for (`None`: honest again).
    pub fn misdirect(&self, repository: Option<&str>) {
        self.state.lock().unwrap().misdirect = repository.map(str::to_owned);
    }

    pub fn set_expires_in(&self, seconds: u64) {
        self.state.lock().unwrap().expires_in = seconds;
    }
}

/// Answers one HTTP/1.1 request (`Connection: close`).
fn serve_token_request(
    mut stream: std::net::TcpStream,
    state: &std::sync::Mutex<IssuerState>,
    signing: &p256::ecdsa::SigningKey,
    x5c: &str,
    users: &[(String, String)],
    grants: &Grants,
) {
    use std::io::{BufRead as _, Write as _};
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_owned());
            }
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let mut service = String::new();
    let mut scopes = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        match key {
            "service" => service = value,
            "scope" => scopes.extend(value.split(' ').map(str::to_owned)),
            _ => {}
        }
    }
    // Basic credentials, checked; a request without any is anonymous.
    let user = match authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
    {
        None => Ok(None),
        Some(encoded) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .unwrap_or_default();
            let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
            if users.iter().any(|(u, p)| u == user && p == password) {
                Ok(Some(user.to_owned()))
            } else {
                Err(user.to_owned())
            }
        }
    };
    let mut state = state.lock().unwrap();
    let (status, body, user, granted) = match user {
        Err(user) => (
            401,
            r#"{"details":"incorrect username or password"}"#.to_owned(),
            Some(user),
            Vec::new(),
        ),
        Ok(user) => {
            let mut access = Vec::new();
            let mut granted = Vec::new();
            for scope in &scopes {
                let mut parts = scope.splitn(3, ':');
                let (Some("repository"), Some(name), Some(actions)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let allowed = grants(user.as_deref(), name);
                let actions: Vec<&str> =
                    actions.split(',').filter(|a| allowed.contains(a)).collect();
                let name = state.misdirect.clone().unwrap_or_else(|| name.to_owned());
                if !actions.is_empty() {
                    granted.push(format!("repository:{name}:{}", actions.join(",")));
                }
                access.push(
                    serde_json::json!({"type": "repository", "name": name, "actions": actions}),
                );
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            state.jti += 1;
            let claims = serde_json::json!({
                "iss": TOKEN_ISSUER,
                "sub": user.clone().unwrap_or_default(),
                "aud": service,
                "exp": now + state.expires_in,
                "nbf": now - 1,
                "iat": now,
                "jti": format!("token-{}", state.jti),
                "access": access,
            });
            let token = sign_jwt(signing, x5c, &claims);
            let body = serde_json::json!({
                "token": token,
                "access_token": token,
                "expires_in": state.expires_in,
            })
            .to_string();
            (200, body, user, granted)
        }
    };
    state.log.push(TokenRequest {
        user,
        service,
        scopes,
        status,
        granted,
    });
    drop(state);
    let reason = if status == 200 { "OK" } else { "Unauthorized" };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A compact JWS: ES256 over `header.claims`, the signature as r‖s (RFC 7518 §3.4).
fn sign_jwt(signing: &p256::ecdsa::SigningKey, x5c: &str, claims: &serde_json::Value) -> String {
    use p256::ecdsa::signature::Signer as _;
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
    let signed = format!(
        "{}.{}",
        url.encode(header.to_string()),
        url.encode(claims.to_string())
    );
    let signature: p256::ecdsa::Signature = signing.sign(signed.as_bytes());
    format!("{signed}.{}", url.encode(signature.to_bytes()))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The distribution registry with token authentication (`auth: token`), trusting the issuer
/// started beside it; both stop when dropped.
pub struct TokenRegistry {
    child: std::process::Child,
    pub port: u16,
    pub issuer: TokenIssuer,
    pub dir: tempfile::TempDir,
}

impl TokenRegistry {
    pub fn start(users: &[(&str, &str)], grants: std::sync::Arc<Grants>) -> TokenRegistry {
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("token-issuer.crt");
        let issuer = TokenIssuer::start(users, grants, &bundle);
        let (child, port) = start_registry_with_auth(
            dir.path(),
            &format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {bundle}\n",
                realm = issuer.realm(),
                bundle = bundle.display()
            ),
        );
        TokenRegistry {
            child,
            port,
            issuer,
            dir,
        }
    }

    /// `host:port`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What the registry logged (why it refused a token, for failing tests).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for TokenRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
