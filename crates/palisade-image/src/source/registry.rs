//! Images from a registry: the manifest (through an index, for the wanted platform), the
//! configuration and the layers, read through `palisade-oci`'s distribution client.

use std::io::Read;

use palisade_core::image_ref::ImageRef;
use palisade_oci::manifest::{is_manifest, manifest_kind, Descriptor, ManifestOrIndex};
use palisade_oci::{parse_json, verify_digest, Repository, MAX_JSON_BLOB};

use crate::config::ImageConfig;
use crate::image::{
    layers_of, resolve_manifest, BlobSource, ImageError, ManifestSource, OpenOptions, OpenedImage,
};

impl BlobSource for Repository {
    fn open_blob(&self, blob: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        Ok(Box::new(self.blob(&blob.digest)?))
    }
}

impl ManifestSource for Repository {
    fn location(&self) -> &str {
        Repository::location(self)
    }

    fn read_blob_verified(&self, blob: &Descriptor, limit: u64) -> Result<Vec<u8>, ImageError> {
        if is_manifest(&blob.media_type) {
            let (bytes, _, _) = self.manifest(&blob.digest)?;
            return Ok(bytes);
        }
        if blob.size > limit {
            return Err(ImageError::new(
                self.location(),
                format!("{} is over the {limit}-byte limit", blob.digest),
            ));
        }
        let mut bytes = Vec::new();
        self.blob(&blob.digest)?
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| ImageError::new(self.location(), format!("{}: {e}", blob.digest)))?;
        verify_digest(self.location(), &blob.digest, &bytes)?;
        Ok(bytes)
    }
}

pub fn open(
    name: String,
    reference: &ImageRef,
    options: &OpenOptions,
) -> Result<OpenedImage, ImageError> {
    let repository = Repository::new(
        reference,
        options.plain_http,
        options.docker_config.as_ref(),
    )?;
    let wanted = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (bytes, media_type, digest) = repository.manifest(&wanted)?;
    let top: ManifestOrIndex =
        parse_json(repository.location(), &format!("manifest {wanted}"), &bytes)?;
    let (digest, manifest) = if top.manifests.is_some() {
        let media_type = if media_type.is_empty() {
            manifest_kind(&top).to_owned()
        } else {
            media_type
        };
        let descriptor = Descriptor {
            media_type,
            digest,
            size: bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
            artifact_type: None,
        };
        resolve_manifest(&repository, descriptor, &options.platform)?
    } else {
        (digest, top)
    };
    let config_desc = manifest.config.clone().ok_or_else(|| {
        ImageError::new(
            repository.location(),
            format!("manifest {digest} has no config"),
        )
    })?;
    let config_bytes = repository.read_blob_verified(&config_desc, MAX_JSON_BLOB)?;
    let config: ImageConfig = parse_json(
        repository.location(),
        &format!("config {}", config_desc.digest),
        &config_bytes,
    )?;
    let layers = layers_of(repository.location(), &manifest, &config)?;
    Ok(OpenedImage::from_parts(
        name,
        Some(digest),
        config,
        layers,
        Box::new(repository),
    ))
}
