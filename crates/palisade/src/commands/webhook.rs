//! `palisade webhook` and `palisade certs`: thin wrappers over palisade-webhook.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use palisade_policy::admission::Admission;
use palisade_webhook::{
    CertFiles, ConnectionLimits, CustomPolicies, ImageVerifier, NamespaceSource, Runtime,
    ServeOptions, TeamSource,
};

use super::shared::{kube_client, load_config, shutdown_signal};
use crate::cli::{CertsArgs, NamespaceSourceChoice, WebhookArgs};

pub fn run(args: WebhookArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let mut defaults = config.default_level_version();
    if let Some(level) = args.default_level {
        defaults.level = level;
    }
    if let Some(version) = args.default_version {
        defaults.version = version;
    }
    // Custom policies (configuration `policies:`): compiled now, so that one that does not
    // compile stops the webhook before it serves, naming the file, line, policy and expression.
    let policies = CustomPolicies::load(&config.policies)
        .map_err(|e| anyhow::anyhow!("invalid policy:\n  {e}"))?;
    let admission = Admission::new(config, defaults);
    let mut options = serve_options(&args);
    options.policies = policies;
    // With the work-stealing runtime this runtime serves the requests: one worker per serving
    // thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let client = cluster_client(&args).await?;
        let namespaces = match &client {
            Some(client) => NamespaceSource::watch(client.clone()),
            None => NamespaceSource::Config,
        };
        let teams = if args.teams.iter().any(|t| t.as_os_str() == "cluster") {
            let Some(client) = &client else {
                anyhow::bail!("--teams cluster needs a cluster connection (--namespaces cluster or auto in a pod)");
            };
            TeamSource::watch(client.clone())
        } else {
            TeamSource::fixed(&super::team::read_teams(&args.teams)?)
        };
        let rules = &admission.config().rules;
        // Teams bring image rules of their own, so a webhook that enforces Teams verifies images.
        // ldPreload reads each image's configuration from its registry.
        let image_rules = rules.require_signature.is_some()
            || rules.require_scan.is_some()
            || rules.require_model_scan.is_some()
            || rules.ld_preload.is_some();
        let images = (image_rules || !args.teams.is_empty()).then(|| {
            std::sync::Arc::new(ImageVerifier::new(
                &admission.config().image_verification,
                client.clone(),
            ))
        });
        tracing::info!(policy = %defaults, namespaces = ?namespaces, teams = ?teams, custom_policies = ?options.policies, "starting the admission webhook");
        palisade_webhook::serve(options, admission, namespaces, teams, images, shutdown_signal(), |addr| {
            // One line on standard output, so scripts (and tests) can find the port.
            println!("palisade webhook listening on {addr}");
        })
        .await
        .map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The server's options from the flags.
fn serve_options(args: &WebhookArgs) -> ServeOptions {
    let mut options = ServeOptions::new(
        args.listen,
        CertFiles {
            cert: args.tls_cert.clone(),
            key: args.tls_key.clone(),
        },
    );
    options.body_limit = args.body_limit;
    options.deadline = Duration::from_millis(args.deadline_ms);
    options.shutdown_grace = Duration::from_secs(args.shutdown_grace_seconds);
    options.reload_every = Duration::from_millis(args.cert_reload_ms.max(100));
    if let Some(threads) = args.threads {
        options.threads = threads.max(1);
    }
    options.limits = ConnectionLimits {
        header_timeout: Duration::from_millis(args.header_timeout_ms.max(1)),
        tls_handshake_timeout: Duration::from_millis(args.tls_handshake_timeout_ms.max(1)),
        max_connections: args.max_connections.max(1),
    };
    if args.runtime == "per-thread" {
        options.runtime = Runtime::PerThread;
    }
    options
}

/// The Kubernetes API client, when Namespaces are read from a cluster (`--namespaces cluster`,
/// or `auto` in a pod or with `--kube-api-url`).
async fn cluster_client(args: &WebhookArgs) -> anyhow::Result<Option<kube::Client>> {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let use_cluster = match args.namespaces {
        NamespaceSourceChoice::Cluster => true,
        NamespaceSourceChoice::Config => false,
        NamespaceSourceChoice::Auto => in_cluster || args.kube_api_url.is_some(),
    };
    if !use_cluster {
        return Ok(None);
    }
    Ok(Some(
        kube_client(args.kube_api_url.as_deref(), None, None).await?,
    ))
}

pub fn certs(args: CertsArgs) -> anyhow::Result<ExitCode> {
    let mut names = palisade_webhook::certs::service_names(&args.service, &args.namespace);
    names.extend(args.names);
    let written = palisade_webhook::certs::generate(&args.out, names, args.days)?;
    println!(
        "wrote {}, {} and {}",
        written.ca_cert.display(),
        written.cert.display(),
        written.key.display()
    );
    println!("caBundle: {}", written.ca_bundle_base64);
    Ok(ExitCode::SUCCESS)
}
