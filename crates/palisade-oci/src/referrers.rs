//! OCI 1.1 referrers (distribution-spec v1.1): artifacts whose manifest names an image as its
//! `subject`. A registry that has the referrers API lists them at `/v2/<name>/referrers/<digest>`;
//! for one that does not, the spec's fallback is the referrers tag schema: an image index tagged
//! `sha256-<hex>` that whoever pushes a referrer keeps up to date.

use serde_json::json;

use crate::digest::{parse_json, sha256_digest};
use crate::error::OciError;
use crate::manifest::{Descriptor, ManifestOrIndex, OCI_INDEX, OCI_MANIFEST};
use crate::registry::Repository;

/// The empty descriptor's media type and content, the config of an artifact that needs none.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONTENT: &[u8] = b"{}";

/// The referrers tag schema's tag for `digest`: `sha256-<hex>`.
pub fn referrers_tag(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

/// How a referrer was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferrersMode {
    /// The registry's referrers API lists it (it saw the manifest's subject).
    Api,
    /// The registry has no referrers API; it was added to the `sha256-<hex>` index.
    TagSchema,
}

impl Repository {
    /// The referrers API's list for `digest`, or `None` when the registry does not offer the
    /// API (it answers 404, or something that is not an image index).
    pub fn referrers_api(&self, digest: &str) -> Result<Option<Vec<Descriptor>>, OciError> {
        let response = self.get_path(&format!("referrers/{digest}"), OCI_INDEX)?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(self.fail(&format!("referrers of {digest}"), response));
        }
        let bytes = self.read_json_body(&format!("referrers of {digest}"), response)?;
        let Ok(index) = serde_json::from_slice::<ManifestOrIndex>(&bytes) else {
            return Ok(None);
        };
        Ok(index.manifests)
    }

    /// The `sha256-<hex>` index of the referrers tag schema (empty when there is none).
    pub fn referrers_by_tag(&self, digest: &str) -> Result<Vec<Descriptor>, OciError> {
        match self.manifest(&referrers_tag(digest)) {
            Ok((bytes, _, _)) => {
                let index: ManifestOrIndex =
                    parse_json(self.location(), "referrers index", &bytes)?;
                Ok(index.manifests.unwrap_or_default())
            }
            Err(e) if e.not_found => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Every referrer of `digest` with `artifact_type`: from the referrers API where the registry
    /// has it, else from the tag schema.
    pub fn referrers(
        &self,
        digest: &str,
        artifact_type: &str,
    ) -> Result<Vec<Descriptor>, OciError> {
        let all = match self.referrers_api(digest)? {
            Some(listed) => listed,
            None => self.referrers_by_tag(digest)?,
        };
        Ok(all
            .into_iter()
            .filter(|d| d.artifact_type.as_deref() == Some(artifact_type))
            .collect())
    }

    /// Pushes an artifact manifest (`manifest`, which names `subject` as its subject) by its
    /// digest; where the registry has no referrers API, adds it to the tag-schema index too.
    pub fn push_referrer(
        &self,
        subject: &str,
        manifest: &[u8],
        artifact_type: &str,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Result<ReferrersMode, OciError> {
        let supported = self.referrers_api(subject)?.is_some();
        let digest = sha256_digest(manifest);
        self.push_manifest(&digest, OCI_MANIFEST, manifest)?;
        if supported {
            return Ok(ReferrersMode::Api);
        }
        let mut listed = self.referrers_by_tag(subject)?;
        if listed.iter().all(|d| d.digest != digest) {
            listed.push(Descriptor {
                media_type: OCI_MANIFEST.into(),
                digest,
                size: manifest.len() as u64,
                platform: None,
                annotations: annotations.clone(),
                artifact_type: Some(artifact_type.into()),
            });
        }
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": listed,
        }))
        .map_err(|e| OciError::new(self.location(), e.to_string()))?;
        self.push_manifest(&referrers_tag(subject), OCI_INDEX, &index)?;
        Ok(ReferrersMode::TagSchema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::{Arc, Mutex};

    use palisade_core::image_ref::ImageRef;

    /// The referrers API's answer in the shape of the distribution spec's example.
    const LISTED: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234,"digest":"sha256:a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1","artifactType":"application/vnd.example.sbom.v1","annotations":{"org.opencontainers.image.created":"2022-01-01T14:42:55Z"}},
      {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234,"digest":"sha256:a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2","artifactType":"application/vnd.dsse.envelope.v1+json","annotations":{"org.opencontainers.image.created":"2022-01-01T07:21:33Z"}}]}"#;

    /// A registry that has the referrers API: answers it with `LISTED`, accepts manifest PUTs
    /// (recording their references), and 404s the rest.
    fn registry_with_referrers_api() -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let puts = Arc::new(Mutex::new(Vec::new()));
        let recorded = puts.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:")
                        {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    let mut parts = line.split_whitespace();
                    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                    let response = if method == "GET" && path.starts_with("/v2/ml/iris/referrers/")
                    {
                        format!("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.index.v1+json\r\nContent-Length: {}\r\n\r\n{LISTED}", LISTED.len())
                    } else if method == "PUT" && path.starts_with("/v2/ml/iris/manifests/") {
                        recorded
                            .lock()
                            .unwrap()
                            .push(path.trim_start_matches("/v2/ml/iris/manifests/").to_owned());
                        "HTTP/1.1 201 Created\r\nOCI-Subject: sha256:b0\r\nContent-Length: 0\r\n\r\n".to_owned()
                    } else {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_owned()
                    };
                    if stream.write_all(response.as_bytes()).is_err() {
                        break;
                    }
                }
            }
        });
        (host, puts)
    }

    #[test]
    fn the_referrers_api_is_used_where_the_registry_has_it() {
        let (host, puts) = registry_with_referrers_api();
        let reference = ImageRef::parse(&format!("{host}/ml/iris:1")).unwrap();
        let repo = Repository::new(&reference, true, None).unwrap();
        let subject = "sha256:b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
        let listed = repo
            .referrers(subject, "application/vnd.dsse.envelope.v1+json")
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert!(listed[0].digest.starts_with("sha256:a2a2"));
        let manifest = br#"{"schemaVersion":2}"#;
        let mode = repo
            .push_referrer(
                subject,
                manifest,
                "application/vnd.dsse.envelope.v1+json",
                &Default::default(),
            )
            .unwrap();
        assert_eq!(mode, ReferrersMode::Api);
        // Pushed by digest only: no tag-schema index beside the API.
        let puts = puts.lock().unwrap().clone();
        assert_eq!(puts.len(), 1, "{puts:?}");
        assert!(puts[0].starts_with("sha256:"));
    }
}
