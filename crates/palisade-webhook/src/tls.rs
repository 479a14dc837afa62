//! Serving certificates: loaded with clear errors, and reloaded when the files change (cert-manager
//! rotates them in place), without dropping connections.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: no PEM certificate found")]
    NoCertificate { path: PathBuf },
    #[error("{path}: no PEM private key found")]
    NoKey { path: PathBuf },
    #[error("{path}: invalid PEM: {source}")]
    Pem {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate {cert} and key {key} do not make a TLS configuration: {source}")]
    Config {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
}

/// The certificate and key files, and what was last loaded from them.
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

impl CertFiles {
    fn contents(&self) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
        Ok((read(&self.cert)?, read(&self.key)?))
    }

    /// Builds a rustls server configuration (TLS 1.2 and 1.3, HTTP/2 and HTTP/1.1) from PEM.
    pub fn server_config(
        &self,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Arc<ServerConfig>, TlsError> {
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &cert_pem[..])
            .collect::<Result<_, _>>()
            .map_err(|source| TlsError::Pem {
                path: self.cert.clone(),
                source,
            })?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate {
                path: self.cert.clone(),
            });
        }
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
            .map_err(|source| TlsError::Pem {
                path: self.key.clone(),
                source,
            })?
            .ok_or_else(|| TlsError::NoKey {
                path: self.key.clone(),
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|source| TlsError::Config {
                cert: self.cert.clone(),
                key: self.key.clone(),
                source,
            })?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|source| TlsError::Config {
                cert: self.cert.clone(),
                key: self.key.clone(),
                source,
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Loads the files for the first time.
    pub fn load(&self) -> Result<(RustlsConfig, Vec<u8>), TlsError> {
        let (cert, key) = self.contents()?;
        let config = self.server_config(&cert, &key)?;
        let fingerprint = [cert, key].concat();
        Ok((RustlsConfig::from_config(config), fingerprint))
    }

    /// Polls the files and swaps in a new configuration when their contents change. A bad new
    /// pair (half-written, mismatched) is logged and the old one kept: serving never stops.
    pub async fn watch(
        self,
        config: RustlsConfig,
        mut loaded: Vec<u8>,
        every: Duration,
        on_reload: impl Fn() + Send + 'static,
    ) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let files = self.clone();
            let Ok(Ok((cert, key))) = tokio::task::spawn_blocking(move || files.contents()).await
            else {
                continue;
            };
            let fingerprint = [cert.clone(), key.clone()].concat();
            if fingerprint == loaded {
                continue;
            }
            match self.server_config(&cert, &key) {
                Ok(server_config) => {
                    config.reload_from_config(server_config);
                    loaded = fingerprint;
                    on_reload();
                    tracing::info!(cert = %self.cert.display(), "reloaded the serving certificate");
                }
                Err(e) => tracing::error!("keeping the current serving certificate: {e}"),
            }
        }
    }
}
