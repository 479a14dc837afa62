//! Starting the real `palisade webhook` with fresh certificates, and an HTTPS client that trusts them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub struct Webhook {
    pub child: Child,
    pub addr: String,
    pub dir: tempfile::TempDir,
}

impl Webhook {
    /// Starts `palisade webhook` with a new CA and certificate and the given configuration.
    pub fn start(config: &str, extra: &[&str]) -> Webhook {
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let config_path = dir.path().join("palisade.yaml");
        std::fs::write(&config_path, config).unwrap();
        let config_path = config_path.display().to_string();
        let mut args = vec!["--namespaces", "config", "--config", &config_path];
        args.extend_from_slice(extra);
        Webhook::start_with(&args, dir)
    }

    /// Starts it with arguments given in full (namespace source included).
    pub fn start_with(args: &[&str], dir: tempfile::TempDir) -> Webhook {
        let mut child = command(dir.path(), "127.0.0.1:0")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let addr = read_listening(&mut child);
        Webhook { child, addr, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn client(&self) -> reqwest::blocking::Client {
        client_trusting(&self.ca())
    }

    /// GETs `path` and returns the status code.
    pub fn status(&self, path: &str) -> u16 {
        self.client()
            .get(self.url(path))
            .send()
            .unwrap()
            .status()
            .as_u16()
    }

    /// GETs `path` and returns the body.
    pub fn text(&self, path: &str) -> String {
        self.client()
            .get(self.url(path))
            .send()
            .unwrap()
            .text()
            .unwrap()
    }

    /// POSTs an AdmissionReview and returns the status and parsed body.
    pub fn post(&self, path: &str, review: &Value) -> (u16, Value) {
        let response = self
            .client()
            .post(self.url(path))
            .json(review)
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `palisade webhook --listen LISTEN` with the certificate in `dir`, outside any cluster.
pub fn command(dir: &Path, listen: &str) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("palisade"));
    command
        .args(["webhook", "--listen", listen])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .env_remove("KUBERNETES_SERVICE_HOST");
    command
}

fn read_listening(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    line.trim()
        .rsplit(' ')
        .next()
        .expect("listening line")
        .to_owned()
}

pub fn make_certs(dir: &Path) {
    let status = Command::new(assert_cmd::cargo::cargo_bin("palisade"))
        .args(["certs", "--out"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

pub fn client_trusting(ca: &Path) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A client that speaks only HTTP/2 (ALPN h2).
pub fn http2_client(ca: &Path) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A client that speaks only HTTP/1.1.
pub fn http1_client(ca: &Path) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .http1_only()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A raw TLS connection to `addr` (as `localhost`) offering `alpn`, for writing bytes by hand.
pub type RawTls = rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>;

pub fn raw_tls(addr: &str, ca: &Path, alpn: &[u8]) -> RawTls {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject as _;
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    // Finish the handshake now, so that the time measured after is the server's header wait.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    stream
}

/// Whether the peer has closed `stream`: a read that ends (or fails) within `wait`, rather than
/// timing out with nothing to read.
pub fn closed_within<S: std::io::Read>(
    stream: &mut S,
    socket: &std::net::TcpStream,
    wait: Duration,
) -> bool {
    let deadline = std::time::Instant::now() + wait;
    let mut buf = [0u8; 4096];
    while std::time::Instant::now() < deadline {
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// An AdmissionReview for `object` (`kind` in `group`, as resource `resource`).
pub fn review(
    uid: &str,
    operation: &str,
    group: &str,
    kind: &str,
    resource: &str,
    namespace: &str,
    object: &Value,
) -> Value {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "requestKind": {"group": group, "version": "v1", "kind": kind},
            "name": name,
            "namespace": namespace,
            "operation": operation,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

/// The JSON Patch of an admission response (`response.patch`, base64).
pub fn json_patch(body: &Value) -> Value {
    use base64::Engine as _;
    let encoded = body["response"]["patch"].as_str().expect("a patch");
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap()
}

pub fn pod_review(uid: &str, namespace: &str, pod: &Value) -> Value {
    review(uid, "CREATE", "", "Pod", "pods", namespace, pod)
}

/// A YAML manifest as JSON, the way the API server would send it.
pub fn yaml_to_json(text: &str) -> Value {
    let doc = palisade_core::yaml::documents(text)
        .next()
        .unwrap()
        .unwrap();
    doc.root.unwrap().to_json()
}

/// An HTTP/2 client written frame by frame, to see exactly what the server sends on a stream
/// (a response, a reset, in which order) while the client is still sending its body. Clients
/// such as reqwest's blocking one report an error as soon as the body cannot be sent, hiding the
/// response that came first.
pub struct RawH2 {
    pub tls: RawTls,
}

/// What came on a stream, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum H2Event {
    /// Response headers, with their `:status`.
    Status(u16),
    /// A DATA frame and its length.
    Data(usize),
    /// The END_STREAM flag, on the HEADERS or DATA frame just before.
    End,
    /// RST_STREAM with its error code (0 is NO_ERROR, 8 CANCEL).
    Reset(u32),
    /// The connection closed (or GOAWAY).
    Closed,
}

impl RawH2 {
    /// Connects with ALPN h2, sends the preface and empty SETTINGS, and reads the server's
    /// SETTINGS and connection window update, so that bodies up to its windows may be sent.
    pub fn connect(addr: &str, ca: &Path) -> RawH2 {
        use std::io::Write as _;
        let mut tls = raw_tls(addr, ca, b"h2");
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
        let mut h2 = RawH2 { tls };
        h2.frame(0x4, 0, 0, &[]);
        // hyper sends SETTINGS then WINDOW_UPDATE on the connection; wait for the latter.
        loop {
            let (kind, _, stream, _) = h2.read_frame().unwrap();
            if kind == 0x8 && stream == 0 {
                break;
            }
        }
        h2
    }

    pub fn frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        use std::io::Write as _;
        let len = payload.len() as u32;
        let mut head = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        head.extend_from_slice(&stream.to_be_bytes());
        self.tls.write_all(&head).unwrap();
        self.tls.write_all(payload).unwrap();
        self.tls.flush().unwrap();
    }

    /// Reads one frame (kind, flags, stream, payload), acknowledging SETTINGS and PING.
    pub fn read_frame(&mut self) -> std::io::Result<(u8, u8, u32, Vec<u8>)> {
        use std::io::Read as _;
        let mut head = [0u8; 9];
        self.tls.read_exact(&mut head)?;
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        let (kind, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let mut payload = vec![0u8; len];
        self.tls.read_exact(&mut payload)?;
        if kind == 0x4 && flags & 0x1 == 0 {
            self.frame(0x4, 0x1, 0, &[]);
        }
        if kind == 0x6 && flags & 0x1 == 0 {
            self.frame(0x6, 0x1, 0, &payload);
        }
        Ok((kind, flags, stream, payload))
    }

    /// Opens `stream` with a POST to `path`, headers complete, body to follow.
    pub fn post(&mut self, stream: u32, path: &str) {
        // HPACK: :method POST (static 3), :scheme https (static 7), then :path (static name 4)
        // and :authority (static name 1) as literals without indexing.
        let mut block = vec![0x83, 0x87, 0x04, path.len() as u8];
        block.extend_from_slice(path.as_bytes());
        block.extend_from_slice(&[0x01, 9]);
        block.extend_from_slice(b"localhost");
        self.frame(0x1, 0x4, stream, &block);
    }

    /// Sends `len` bytes of body on `stream` in DATA frames, ending it or not.
    pub fn data(&mut self, stream: u32, len: usize, end: bool) {
        let chunk = vec![b' '; 16_384];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            left -= n;
            let flags = if left == 0 && end { 0x1 } else { 0 };
            self.frame(0x0, flags, stream, &chunk[..n]);
        }
    }

    /// What comes on `stream` until it is reset, the connection closes, or `wait` passes
    /// without a frame after the stream has ended.
    pub fn events(&mut self, stream: u32, wait: Duration) -> Vec<H2Event> {
        let mut events = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut ended_at: Option<std::time::Instant> = None;
        self.tls
            .sock
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        loop {
            assert!(std::time::Instant::now() < deadline, "{events:?}");
            if ended_at.is_some_and(|t| t.elapsed() >= wait) {
                return events;
            }
            let (kind, flags, on, payload) = match self.read_frame() {
                Ok(frame) => frame,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => {
                    events.push(H2Event::Closed);
                    return events;
                }
            };
            if kind == 0x7 {
                events.push(H2Event::Closed);
                return events;
            }
            if on != stream {
                continue;
            }
            match kind {
                0x1 => events.push(H2Event::Status(status_of(&payload))),
                0x0 => events.push(H2Event::Data(payload.len())),
                0x3 => {
                    events.push(H2Event::Reset(u32::from_be_bytes([
                        payload[0], payload[1], payload[2], payload[3],
                    ])));
                    return events;
                }
                _ => {}
            }
            if flags & 0x1 != 0 && matches!(kind, 0x0 | 0x1) {
                events.push(H2Event::End);
                ended_at = Some(std::time::Instant::now());
            }
        }
    }
}

/// The `:status` of a response's first HEADERS block, which hyper encodes first: indexed from
/// the static table, or a literal (plain or Huffman-coded digits) with the static name 8.
fn status_of(block: &[u8]) -> u16 {
    let first = block[0];
    if first & 0x80 != 0 {
        return match first & 0x7f {
            8 => 200,
            9 => 204,
            10 => 206,
            11 => 304,
            12 => 400,
            13 => 404,
            14 => 500,
            other => panic!("static index {other} is not a status"),
        };
    }
    let name = if first & 0xc0 == 0x40 {
        first & 0x3f
    } else {
        first & 0x0f
    };
    assert_eq!(name, 8, "the first header is not :status: {block:?}");
    let (huffman, len) = (block[1] & 0x80 != 0, usize::from(block[1] & 0x7f));
    let value = &block[2..2 + len];
    let digits: String = if huffman {
        // RFC 7541 appendix B: '0'..'2' are the 5-bit codes 0..2, '3'..'9' the 6-bit codes
        // 0x19..0x1f.
        let bits: Vec<u8> = value
            .iter()
            .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
            .collect();
        let read = |at: usize, n: usize| {
            bits[at..at + n]
                .iter()
                .fold(0u8, |acc, bit| (acc << 1) | bit)
        };
        let mut at = 0;
        let mut out = String::new();
        while out.len() < 3 {
            let five = read(at, 5);
            if five <= 2 {
                out.push(char::from(b'0' + five));
                at += 5;
            } else {
                let six = read(at, 6);
                assert!((0x19..=0x1f).contains(&six), "not a digit: {block:?}");
                out.push(char::from(b'3' + (six - 0x19)));
                at += 6;
            }
        }
        out
    } else {
        String::from_utf8(value.to_vec()).unwrap()
    };
    digits.parse().unwrap()
}
