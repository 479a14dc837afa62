//! `palisade controller`: a thin wrapper over palisade-controller. Reads the configuration (its
//! `platform` section), connects to the cluster, binds the metrics endpoint and runs until
//! SIGTERM or SIGINT.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use palisade_controller::Options;

use super::shared::{kube_client, load_config, shutdown_signal};
use crate::cli::ControllerArgs;

pub fn run(args: ControllerArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(Some(&args.config))?;
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("POD_NAME").ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|name| !name.is_empty())
        .context("no identity for the lease: set --identity (or POD_NAME)")?;
    let mut options = Options::new(config.platform, identity);
    options.lease_namespace = args.lease_namespace.clone();
    options.lease_name = args.lease_name.clone();
    options.lease_duration = Duration::from_secs(args.lease_duration_seconds.max(1));
    options.resync = Duration::from_secs(args.resync_seconds.max(1));
    options.ready_bound = Duration::from_secs(args.ready_bound_seconds.max(1));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let kube = &args.kube;
        let client = kube_client(
            kube.kube_api_url.as_deref(),
            kube.kubeconfig.as_deref(),
            kube.context.as_deref(),
        )
        .await?;
        let listener = tokio::net::TcpListener::bind(args.metrics_addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.metrics_addr))?;
        // One line on standard output, so scripts (and tests) can find the port.
        println!("palisade controller metrics on {}", listener.local_addr()?);
        tracing::info!(
            identity = %options.identity,
            lease = %format!("{}/{}", options.lease_namespace, options.lease_name),
            "starting the Team controller"
        );
        palisade_controller::run(options, client, listener, shutdown_signal())
            .await
            .map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}
