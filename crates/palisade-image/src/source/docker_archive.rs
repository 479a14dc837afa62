//! What `docker save` (and `skopeo copy docker-archive:`) writes: a `manifest.json` listing each
//! image's configuration and layer files. Layers are `ID/layer.tar` in the legacy layout,
//! `<diffID hex>.tar` from skopeo, and `blobs/sha256/<hex>` in the OCI-based layout of Docker 25+.

use std::collections::HashMap;
use std::io::Read;

use serde::Deserialize;

use palisade_oci::manifest::Descriptor;
use palisade_oci::{parse_json, verify_digest};

use crate::config::ImageConfig;
use crate::image::{BlobSource, ImageError, LayerRef, OpenedImage};

use super::archive::TarArchive;

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// Blobs named by digest, read from the archive members they map to.
#[derive(Debug)]
struct Members {
    archive: TarArchive,
    by_digest: HashMap<String, String>,
}

impl BlobSource for Members {
    fn open_blob(&self, blob: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let name = self.by_digest.get(&blob.digest).ok_or_else(|| {
            ImageError::new(
                self.archive.location(),
                format!("no member for {}", blob.digest),
            )
        })?;
        Ok(self.archive.open_member(name)?.0)
    }

    fn open_blob_seekable(
        &self,
        blob: &Descriptor,
    ) -> Result<Option<Box<dyn crate::image::ReadSeek + '_>>, ImageError> {
        let name = self.by_digest.get(&blob.digest).ok_or_else(|| {
            ImageError::new(
                self.archive.location(),
                format!("no member for {}", blob.digest),
            )
        })?;
        Ok(Some(Box::new(self.archive.open_member_section(name)?)))
    }
}

pub fn open(
    name: String,
    archive: TarArchive,
    tag: Option<&str>,
) -> Result<OpenedImage, ImageError> {
    let location = archive.location().to_owned();
    let entries: Vec<Entry> = archive.read_json("manifest.json")?;
    let chosen = match tag {
        Some(tag) => entries
            .iter()
            .find(|e| {
                e.repo_tags
                    .iter()
                    .flatten()
                    .any(|t| t == tag || t.ends_with(&format!("/{tag}")))
            })
            .ok_or_else(|| {
                ImageError::new(
                    &location,
                    format!("manifest.json names no image tagged {tag:?}"),
                )
            })?,
        None => match entries.as_slice() {
            [one] => one,
            [] => return Err(ImageError::new(&location, "manifest.json lists no image")),
            several => {
                let tags: Vec<&str> = several
                    .iter()
                    .flat_map(|e| e.repo_tags.iter().flatten())
                    .map(String::as_str)
                    .collect();
                return Err(ImageError::new(
                    &location,
                    format!(
                        "manifest.json lists {} images; name one with PATH:REPO:TAG (tags: {})",
                        several.len(),
                        tags.join(", ")
                    ),
                ));
            }
        },
    };
    let config_bytes = archive.read_small(&chosen.config)?;
    // The configuration's file name is its digest (the image ID) in every layout docker writes.
    if let Some(hex) = content_address(&chosen.config) {
        verify_digest(&location, &format!("sha256:{hex}"), &config_bytes)?;
    }
    let config: ImageConfig = parse_json(&location, &chosen.config, &config_bytes)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != chosen.layers.len() {
        return Err(ImageError::new(
            &location,
            format!(
                "manifest.json lists {} layers but the configuration {} diff_ids",
                chosen.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let mut by_digest = HashMap::new();
    let mut layers = Vec::new();
    for (file, diff_id) in chosen.layers.iter().zip(diff_ids) {
        let size = archive.open_member(file)?.1;
        // OCI-based archives name blobs by their digest; the legacy layer.tar is the uncompressed
        // layer itself, so its digest is the diffID.
        let digest = match content_address(file) {
            Some(hex) if file.starts_with("blobs/") => format!("sha256:{hex}"),
            _ => diff_id.clone(),
        };
        by_digest.insert(digest.clone(), file.clone());
        layers.push(LayerRef {
            blob: Descriptor {
                media_type: String::new(),
                digest,
                size,
                platform: None,
                annotations: Default::default(),
                artifact_type: None,
            },
            diff_id: Some(diff_id.clone()),
            // docker save writes layers uncompressed, so hashing them costs as much as reading
            // them (several times the scan). A local archive is what the user hands in; its
            // configuration is still verified, its layers are read as they are and not cached.
            verify: false,
        });
    }
    Ok(OpenedImage::from_parts(
        name,
        None,
        config,
        layers,
        Box::new(Members { archive, by_digest }),
    ))
}

/// The 64-hex digest a member's name carries (`blobs/sha256/<hex>`, `<hex>.json`, `<hex>.tar`).
fn content_address(name: &str) -> Option<&str> {
    let last = name.rsplit('/').next().unwrap_or(name);
    let stem = last
        .strip_suffix(".json")
        .or_else(|| last.strip_suffix(".tar"))
        .unwrap_or(last);
    (stem.len() == 64 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then_some(stem)
}
