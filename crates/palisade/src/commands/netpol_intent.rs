//! `palisade netpol generate` and `palisade netpol verify`: NetworkPolicies from an intent file,
//! and the check that manifests allow exactly the intent. The rules live in palisade-netpol.

use std::process::ExitCode;

use anyhow::Context;

use palisade_netpol::generate::{by_namespace, generate as generate_manifests, to_yaml};
use palisade_netpol::intent::Intent;
use palisade_netpol::verify;

use super::shared::{exit_code, write_output};
use crate::cli::{MeshKind, NetpolGenerateArgs, NetpolVerifyArgs};

pub fn generate(args: NetpolGenerateArgs) -> anyhow::Result<ExitCode> {
    let intent = Intent::load(&args.intent)?;
    let meshes = MeshKind::meshes(&args.mesh);
    let manifests = generate_manifests(&intent, &meshes);
    let source = args.intent.display().to_string();
    match &args.out {
        None => write_output(None, &to_yaml(&manifests, &source))?,
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (ns, objects) in by_namespace(&manifests) {
                let path = dir.join(format!("{ns}.yaml"));
                std::fs::write(&path, to_yaml(&objects, &source))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("{}: {} objects", path.display(), objects.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify(args: NetpolVerifyArgs) -> anyhow::Result<ExitCode> {
    let intent = Intent::load(&args.intent)?;
    let report = verify::verify_dir(&intent, &args.dir)?;
    for warning in &report.warnings {
        tracing::warn!("{warning}");
    }
    write_output(args.output.as_deref(), &report.to_string())?;
    Ok(exit_code(!report.is_exact()))
}
