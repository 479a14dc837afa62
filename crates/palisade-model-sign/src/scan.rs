//! Verifying a model and scanning it for code that runs on load in one read of each file
//! (`palisade scan model --signature`): the model scanner reads every signed file through the
//! hasher, on the hashing worker that reads it. What the signature does not cover (ignored paths,
//! git metadata) is scanned as a plain scan would scan it, so nothing escapes the scan.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use palisade_model::scan::{scan_path, scan_read, ScanOptions, ScanOutcome};
use palisade_model::FileReport;

use crate::serialize::ModelFile;
use crate::{verify, Error, Options, Trust, Verification};

/// Verifies `model` against the bundle and scans every file of it: the verification, and one
/// scan outcome per part of the model read.
pub fn verify_and_scan(
    model: &Path,
    bundle: &[u8],
    trust: &Trust,
    options: &Options,
    scan: &ScanOptions,
) -> Result<(Vec<ScanOutcome>, Verification), Error> {
    // Each file is scanned on the hashing worker that reads it.
    let per_file = ScanOptions {
        parallel: false,
        ..scan.clone()
    };
    let scanned: Mutex<Vec<(PathBuf, ScanOutcome)>> = Mutex::new(Vec::new());
    let consumer = |file: &ModelFile, reader: &mut dyn std::io::Read| {
        let outcome = scan_read(
            &file.path.display().to_string(),
            reader,
            Some(file.size),
            &per_file,
        );
        scanned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((file.path.clone(), outcome));
    };
    let verification = verify(model, bundle, trust, options, Some(&consumer))?;
    let scanned = scanned.into_inner().unwrap_or_else(|e| e.into_inner());
    let seen: HashSet<PathBuf> = scanned.iter().map(|(p, _)| p.clone()).collect();
    let mut outcomes: Vec<ScanOutcome> = scanned.into_iter().map(|(_, o)| o).collect();
    // What the hashing did not read: scanned as a plain scan would (symbolic links reported).
    if seen.is_empty() {
        outcomes.push(scan_path(model, scan));
    } else if model.is_dir() {
        let mut rest = ScanOutcome::default();
        let mut others = Vec::new();
        for entry in walkdir::WalkDir::new(model)
            .follow_links(false)
            .sort_by_file_name()
        {
            match entry {
                Ok(e) if e.file_type().is_dir() => {}
                Ok(e) if e.file_type().is_file() && seen.contains(e.path()) => {}
                Ok(e) if e.file_type().is_symlink() && !seen.contains(e.path()) => {
                    rest.files.push(FileReport {
                        path: e.path().display().to_string(),
                        format: "symbolic link outside the signed files: not followed".into(),
                        size: 0,
                        members: 0,
                    })
                }
                Ok(e) if e.file_type().is_symlink() => {}
                Ok(e) => others.push(e.into_path()),
                Err(e) => rest
                    .read_errors
                    .push((model.display().to_string(), e.to_string())),
            }
        }
        outcomes.push(rest);
        outcomes.extend(others.iter().map(|p| scan_path(p, scan)));
    }
    Ok((outcomes, verification))
}
