//! What every command does the same way: load the configuration file, write its result to `-o`
//! or standard output, and turn "findings at or above the threshold" into the exit code; and what
//! the servers share: the Kubernetes client and the shutdown signal.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use palisade_policy::Config;

use crate::EXIT_FINDINGS;

/// The configuration file, validated once into typed fields; none given is the defaults.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Config::load(path).map_err(|e| anyhow::anyhow!("invalid configuration {e}")),
        None => Ok(Config::default()),
    }
}

/// Writes a whole report to the `-o` file, or to standard output when there is none.
pub fn write_output(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// A streaming report's destination: the `-o` file, or standard output when there is none.
pub fn output_writer(output: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// 1 when there were findings at or above the threshold, else 0.
pub fn exit_code(findings_at_threshold: bool) -> ExitCode {
    if findings_at_threshold {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

/// A JSON document as the reports print it: pretty, ending in a newline.
pub fn pretty(value: &serde_json::Value) -> anyhow::Result<String> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(text)
}

/// The Kubernetes API client: `url` (e.g. `kubectl proxy`'s), else `kubeconfig` (with `context`),
/// else the in-cluster configuration or the default kubeconfig (`KUBECONFIG`, `~/.kube/config`).
pub async fn kube_client(
    url: Option<&str>,
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<kube::Client> {
    let config = if let Some(url) = url {
        let url = url
            .parse()
            .with_context(|| format!("--kube-api-url {url:?}"))?;
        kube::Config::new(url)
    } else if let Some(path) = kubeconfig {
        let file = kube::config::Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read the kubeconfig {}", path.display()))?;
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_owned),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(file, &options)
            .await
            .with_context(|| format!("invalid kubeconfig {}", path.display()))?
    } else if let Some(context) = context {
        let options = kube::config::KubeConfigOptions {
            context: Some(context.to_owned()),
            ..Default::default()
        };
        kube::Config::from_kubeconfig(&options)
            .await
            .with_context(|| format!("cannot use kubeconfig context {context:?}"))?
    } else {
        kube::Config::infer()
            .await
            .context("cannot reach the Kubernetes API (in-cluster config or kubeconfig)")?
    };
    kube::Client::try_from(config).context("cannot build the Kubernetes client")
}

/// SIGTERM (the kubelet) or SIGINT (a terminal).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
