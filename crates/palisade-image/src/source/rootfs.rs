//! An unpacked root filesystem, read as one layer. Symlinks are recorded, never followed out of
//! the root.

use std::io::Read;
use std::path::Path;

use crate::image::ImageError;
use crate::layers::{LayerChanges, LayerEntry, MAX_KEPT_FILE};

pub fn read(
    location: &str,
    root: &Path,
    keep: &(dyn crate::layers::Select + Sync),
) -> Result<LayerChanges, ImageError> {
    let mut changes = LayerChanges::default();
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(e) => e,
            // An unreadable directory is skipped with a warning, as `find` would: a root
            // filesystem often holds root-only corners that package databases never live in.
            Err(e) => {
                tracing::warn!(%location, error = %e, "skipped");
                continue;
            }
        };
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        let path = relative.to_string_lossy().replace('\\', "/");
        if path.is_empty() {
            continue;
        }
        let kind = entry.file_type();
        let item = if kind.is_symlink() {
            let target = std::fs::read_link(entry.path())
                .map_err(|e| ImageError::new(location, format!("{path}: {e}")))?;
            LayerEntry::Symlink(target.to_string_lossy().into_owned())
        } else if kind.is_dir() {
            LayerEntry::Directory
        } else if kind.is_file() {
            if keep.keep(&path) {
                let file = std::fs::File::open(entry.path())
                    .map_err(|e| ImageError::new(location, format!("{path}: {e}")))?;
                let mut content = Vec::new();
                file.take(MAX_KEPT_FILE + 1)
                    .read_to_end(&mut content)
                    .map_err(|e| ImageError::new(location, format!("{path}: {e}")))?;
                if content.len() as u64 > MAX_KEPT_FILE {
                    return Err(ImageError::new(
                        location,
                        format!(
                            "{path} is over the {MAX_KEPT_FILE}-byte limit for package databases"
                        ),
                    ));
                }
                LayerEntry::File(Some(content))
            } else {
                if keep.inspects(&path) {
                    let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    if let Ok(mut file) = std::fs::File::open(entry.path()) {
                        if let Some(result) = keep.inspect(&path, size, &mut file) {
                            changes.inspections.push((path.clone(), result));
                        }
                    }
                }
                LayerEntry::File(None)
            }
        } else {
            continue;
        };
        changes.entries.push((path, item));
    }
    Ok(changes)
}
