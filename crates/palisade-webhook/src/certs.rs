//! A self-signed CA and a serving certificate for running the webhook locally or without
//! cert-manager. The CA goes into the webhook configurations' `caBundle`.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate the certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The files written, for the caller to report.
#[derive(Debug)]
pub struct Written {
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_bundle_base64: String,
}

/// Names a serving certificate for Service `service` in `namespace` must carry.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        format!("{service}.{namespace}"),
        service.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ]
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` into `dir` (the key readable by its owner only).
pub fn generate(dir: &Path, names: Vec<String>, days: u32) -> Result<Written, CertError> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "palisade webhook CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (ca_params.not_before, ca_params.not_after) = validity(days);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;

    let mut params = CertificateParams::new(names.clone())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().cloned().unwrap_or_default(),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    (params.not_before, params.not_after) = validity(days);
    let key = KeyPair::generate()?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer)?;

    let write = |name: &str, contents: String, private: bool| -> Result<PathBuf, CertError> {
        let path = dir.join(name);
        std::fs::create_dir_all(dir).map_err(|source| CertError::Write {
            path: dir.to_owned(),
            source,
        })?;
        std::fs::write(&path, contents).map_err(|source| CertError::Write {
            path: path.clone(),
            source,
        })?;
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| CertError::Write {
                    path: path.clone(),
                    source,
                },
            )?;
        }
        Ok(path)
    };
    let ca_pem = ca_cert.pem();
    use base64::Engine as _;
    let ca_bundle_base64 = base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes());
    Ok(Written {
        ca_cert: write("ca.crt", ca_pem, false)?,
        cert: write("tls.crt", cert.pem(), false)?,
        key: write("tls.key", key.serialize_pem(), true)?,
        ca_bundle_base64,
    })
}

/// From an hour ago (clock skew) to `days` from now.
fn validity(days: u32) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let now = time::OffsetDateTime::now_utc();
    (
        now - time::Duration::hours(1),
        now + time::Duration::days(i64::from(days)),
    )
}
