//! An OCI image layout directory (<https://github.com/opencontainers/image-spec/blob/main/image-layout.md>).

use std::io::Read;
use std::path::{Path, PathBuf};

use palisade_oci::manifest::{Descriptor, ManifestOrIndex};
use palisade_oci::{parse_json, MAX_JSON_BLOB};

use crate::image::{BlobSource, ImageError, ManifestSource};

#[derive(Debug)]
pub struct OciDir {
    location: String,
    root: PathBuf,
}

impl OciDir {
    pub fn new(location: &str, root: &Path) -> Result<Self, ImageError> {
        if !root.join("oci-layout").is_file() || !root.join("index.json").is_file() {
            return Err(ImageError::new(
                location,
                "not an OCI image layout (no oci-layout or index.json file)",
            ));
        }
        Ok(Self {
            location: location.to_owned(),
            root: root.to_owned(),
        })
    }

    pub fn index(&self) -> Result<ManifestOrIndex, ImageError> {
        let path = self.root.join("index.json");
        let meta = std::fs::metadata(&path)
            .map_err(|e| ImageError::new(&self.location, format!("index.json: {e}")))?;
        if meta.len() > MAX_JSON_BLOB {
            return Err(ImageError::new(
                &self.location,
                "index.json is over the size limit",
            ));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| ImageError::new(&self.location, format!("index.json: {e}")))?;
        parse_json(&self.location, "index.json", &bytes)
    }
}

impl BlobSource for OciDir {
    fn open_blob(&self, blob: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let hex = palisade_oci::sha256_hex(&blob.digest).ok_or_else(|| {
            ImageError::new(&self.location, format!("invalid digest {:?}", blob.digest))
        })?;
        let path = self.root.join("blobs").join("sha256").join(hex);
        let file = std::fs::File::open(&path)
            .map_err(|e| ImageError::new(&self.location, format!("blob {}: {e}", blob.digest)))?;
        Ok(Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            file,
        )))
    }
}

impl ManifestSource for OciDir {
    fn location(&self) -> &str {
        &self.location
    }
}
