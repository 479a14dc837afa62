//! The scan pipeline, target to report: open the image, read its layers (through the layer
//! cache), take the inventory and inspect the model files, then match the inventory against the
//! database. `palisade scan image`, `sbom` and `attest` all go through it, so what `attest`
//! records is what `scan image` reports.
//!
//! This is the one module of the crate that does I/O (through `palisade-image`); the matching,
//! filtering and reports it feeds stay pure.

use std::path::PathBuf;

use palisade_image::inventory::{self, Inventory};
use palisade_image::{LayerCache, OpenOptions, Progress, Target};
use palisade_vuln::db::Database;

use crate::models::{ModelFile, ModelFinding, ModelInspector};
use crate::scan::{ModelScanCoverage, ScanOptions, ScanReport};

/// Bumped when what is kept from a layer changes (`inventory::wanted`, the model inspection), so
/// cached layers read with an older selection are never used.
const LAYER_CACHE_KEY: &str = "inv2";
/// Bumped when what the model inspection stores changes (v2: every model file, with its digest).
const MODEL_CACHE_KEY: &str = "m2";

/// Where model files are looked for in the image and which pickle globals are allowed in them
/// beyond the built-in list (`models.imagePaths`, `models.allowedGlobals`).
#[derive(Debug, Clone, Default)]
pub struct ModelScan {
    pub image_paths: Vec<String>,
    pub allowed_globals: Vec<String>,
}

/// One scan: which image, how to reach and read it, and what to look for.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub target: Target,
    pub open: OpenOptions,
    /// The layer cache's directory; `None` reads every layer afresh.
    pub cache_dir: Option<PathBuf>,
    /// Layers read at once.
    pub threads: usize,
    /// Model files to inspect; `None` leaves them out (and the report says so).
    pub models: Option<ModelScan>,
    /// How findings are filtered (ignore rules, unfixed, today's date for expiries).
    pub filter: ScanOptions,
}

/// An image's inventory, and the names a report needs.
#[derive(Debug)]
pub struct Inspected {
    /// The target as named (`registry:HOST/REPO:TAG`, `oci-dir:PATH`, ...).
    pub name: String,
    pub digest: Option<String>,
    pub inventory: Inventory,
    /// Model-scanner findings for model files in the image.
    pub models: Vec<ModelFinding>,
    /// The model files found (with or without findings), in path order; empty when models were
    /// not looked for.
    pub model_files: Vec<ModelFile>,
    /// The image's configuration blob (user, env, ports).
    pub config: palisade_image::config::ImageConfig,
    pub layers: usize,
    pub cached_layers: usize,
}

/// A finished scan: the report and the inventory it was made from.
#[derive(Debug)]
pub struct Scanned {
    pub report: ScanReport,
    pub inspected: Inspected,
}

impl Pipeline {
    /// Reads the image: its inventory and, when asked, its model files.
    pub fn inspect(
        &self,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Inspected, palisade_image::ImageError> {
        let image = palisade_image::open(&self.target, &self.open)?;
        let read = match &self.models {
            None => {
                let cache = self.cache(LAYER_CACHE_KEY);
                image.read(&inventory::wanted, cache.as_ref(), self.threads, progress)?
            }
            Some(models) => {
                let inspector = ModelInspector::new(
                    &models.image_paths,
                    palisade_model::scan::ScanOptions {
                        policy: palisade_model::policy::Policy {
                            extra_allowed: models.allowed_globals.clone(),
                        },
                        ..Default::default()
                    },
                );
                // The cached inspections depend on where models are looked for and what is
                // allowed, and on the scanner's version.
                let key = format!(
                    "{LAYER_CACHE_KEY}-{MODEL_CACHE_KEY}-{}-{}",
                    env!("CARGO_PKG_VERSION"),
                    fingerprint(&[&models.image_paths, &models.allowed_globals])
                );
                let cache = self.cache(&key);
                image.read(&inspector, cache.as_ref(), self.threads, progress)?
            }
        };
        Ok(Inspected {
            name: image.name.clone(),
            digest: image.manifest_digest.clone(),
            inventory: inventory::scan(&read.fs),
            models: read
                .fs
                .inspections()
                .flat_map(|(_, bytes)| ModelInspector::decode(bytes))
                .collect(),
            model_files: {
                let mut files: Vec<ModelFile> = read
                    .fs
                    .inspections()
                    .filter_map(|(_, bytes)| ModelInspector::decode_file(bytes))
                    .collect();
                files.sort_by(|a, b| a.path.cmp(&b.path));
                files
            },
            config: image.config.clone(),
            layers: image.layers.len(),
            cached_layers: read.cached_layers,
        })
    }

    /// Reads the image and matches it against `database`.
    pub fn run(
        &self,
        database: &Database,
        progress: &(dyn Fn(Progress) + Sync),
    ) -> Result<Scanned, palisade_image::ImageError> {
        let inspected = self.inspect(progress)?;
        let mut report = crate::scan(
            &inspected.name,
            inspected.digest.as_deref(),
            &inspected.inventory,
            database,
            &self.filter,
        );
        report.image_config = crate::scan::ImageConfigFinding::of(&inspected.config);
        if let Some(models) = &self.models {
            report.models = inspected.models.clone();
            report.model_scan = Some(ModelScanCoverage {
                image_paths: models.image_paths.clone(),
                allowed_globals: models.allowed_globals.clone(),
            });
        }
        Ok(Scanned { report, inspected })
    }

    fn cache(&self, key: &str) -> Option<LayerCache> {
        self.cache_dir
            .as_ref()
            .map(|dir| LayerCache::new(dir.clone(), key))
    }
}

/// A stable hash of configuration lists, for cache keys: the items of each list, then a marker
/// that ends the list (no item holds a NUL, so the marker cannot be one).
fn fingerprint(lists: &[&Vec<String>]) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for list in lists {
        parts.extend(list.iter().map(String::as_str));
        parts.push("\0end of list");
    }
    palisade_diagnostics::sarif::fingerprint(&parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys_change_with_what_the_model_scan_looks_for() {
        let paths = vec!["/models".to_string()];
        let other = vec!["/srv".to_string()];
        let none: Vec<String> = Vec::new();
        assert_ne!(fingerprint(&[&paths, &none]), fingerprint(&[&other, &none]));
        // An item moved from one list to the other is another configuration.
        assert_ne!(fingerprint(&[&paths, &none]), fingerprint(&[&none, &paths]));
    }
}
