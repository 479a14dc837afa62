//! Finding and reading inputs: files, directories (recursively), standard input.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use palisade_core::source::{decode, MAX_INPUT_BYTES};
use palisade_core::InputError;

/// One input stream.
#[derive(Debug, Clone)]
pub enum Input {
    File {
        name: Arc<str>,
        path: PathBuf,
    },
    /// Standard input, read once up front (it cannot be read twice).
    Stdin {
        name: Arc<str>,
        text: Result<String, InputError>,
    },
}

impl Input {
    pub fn name(&self) -> &Arc<str> {
        match self {
            Input::File { name, .. } | Input::Stdin { name, .. } => name,
        }
    }

    /// The input's text, decoded and size-checked.
    pub fn read(&self) -> Result<String, InputError> {
        match self {
            Input::Stdin { text, .. } => text.clone(),
            Input::File { name, path } => read_file(name, path),
        }
    }
}

fn read_file(name: &Arc<str>, path: &Path) -> Result<String, InputError> {
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::file(name.clone(), format!("cannot read: {e}")))?;
    // Sized from the metadata when it has one (bounded: it is only a hint), so that a large file
    // is not copied at every doubling of the buffer.
    let hint = file
        .metadata()
        .map_or(0, |m| m.len().min(MAX_INPUT_BYTES) as usize);
    let mut bytes = Vec::with_capacity(hint + 1);
    // Read one byte past the limit to tell "at the limit" from "over it" without trusting metadata
    // (a FIFO or /proc file reports no size).
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError::file(name.clone(), format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::file(
            name.clone(),
            format!(
                "larger than {} MiB: not a manifest",
                MAX_INPUT_BYTES / (1024 * 1024)
            ),
        ));
    }
    decode(name, bytes)
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Expands the paths given on the command line. Directories are walked in name order, skipping
/// hidden entries and symbolic links (which could loop or leave the tree); a path that does not
/// exist is an error.
pub fn collect(paths: &[PathBuf]) -> (Vec<Input>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut stdin_used = false;
    for path in paths {
        let name: Arc<str> = Arc::from(path.display().to_string());
        if path.as_os_str() == "-" {
            if stdin_used {
                errors.push(InputError::file(
                    name,
                    "standard input given more than once".into(),
                ));
                continue;
            }
            stdin_used = true;
            let mut bytes = Vec::new();
            let text = std::io::stdin()
                .lock()
                .take(MAX_INPUT_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| InputError::file(name.clone(), format!("cannot read: {e}")))
                .and_then(|_| {
                    if bytes.len() as u64 > MAX_INPUT_BYTES {
                        Err(InputError::file(
                            name.clone(),
                            "input larger than 64 MiB".into(),
                        ))
                    } else {
                        decode(&name, bytes)
                    }
                });
            inputs.push(Input::Stdin { name, text });
            continue;
        }
        match std::fs::metadata(path) {
            Err(e) => errors.push(InputError::file(name, format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() => {
                let walker = walkdir::WalkDir::new(path)
                    .follow_links(false)
                    .sort_by_file_name()
                    .into_iter()
                    .filter_entry(|entry| {
                        entry.depth() == 0
                            || !entry
                                .file_name()
                                .to_str()
                                .is_some_and(|n| n.starts_with('.'))
                    });
                for entry in walker {
                    match entry {
                        Ok(entry)
                            if entry.file_type().is_file() && is_manifest_name(entry.path()) =>
                        {
                            let path = entry.into_path();
                            inputs.push(Input::File {
                                name: Arc::from(path.display().to_string()),
                                path,
                            });
                        }
                        Ok(entry) if entry.file_type().is_symlink() => {
                            tracing::debug!(path = %entry.path().display(), "skipping symbolic link in directory");
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let at = e
                                .path()
                                .map(|p| p.display().to_string())
                                .unwrap_or_else(|| name.to_string());
                            errors
                                .push(InputError::file(Arc::from(at), format!("cannot read: {e}")));
                        }
                    }
                }
            }
            Ok(_) => inputs.push(Input::File {
                name,
                path: path.clone(),
            }),
        }
    }
    (inputs, errors)
}
