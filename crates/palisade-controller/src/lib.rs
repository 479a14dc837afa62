//! palisade-controller: reconciles every Team in a cluster to exactly what `palisade team render`
//! prints for the Teams and the platform configuration. One code path: the Teams are read from
//! the cluster ([`palisade_team::reconcile::read_teams`]), rendered with
//! [`palisade_team::render()`], and the decision of what to apply, delete and keep and of each
//! Team's status is [`palisade_team::reconcile::plan`], a pure function. This crate is the I/O
//! around it: kube-rs lists, watches, server-side apply with field manager `palisade`, deletes,
//! status patches and Events ([`reconciler`]); leader election on a coordination.k8s.io Lease
//! ([`lease`], whose decision is pure too); Prometheus metrics, `/healthz` and `/readyz`
//! ([`health`], [`metrics`]).
//!
//! It must not depend on the webhook, a registry client or the CLI; it makes no policy decision
//! of its own (those live in palisade-team).
#![forbid(unsafe_code)]

pub mod health;
pub mod kinds;
pub mod lease;
pub mod metrics;
pub mod reconciler;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use palisade_policy::config::PlatformConfig;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::health::Health;
use crate::lease::Elector;
use crate::metrics::Metrics;
use crate::reconciler::Reconciler;

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "palisade";

/// Why the controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("no longer the leader: nothing more is written")]
    NotLeader,
    #[error("metrics endpoint: {0}")]
    Io(#[from] std::io::Error),
    #[error("the {0} task stopped")]
    Stopped(&'static str),
}

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub platform: PlatformConfig,
    /// This instance's name in the Lease (`holderIdentity`): the pod name in a cluster.
    pub identity: String,
    pub lease_namespace: String,
    pub lease_name: String,
    /// `leaseDurationSeconds`: a holder that has not renewed for this long is replaced. Renewed
    /// every third of it.
    pub lease_duration: Duration,
    /// A full reconcile at least this often, besides the watches.
    pub resync: Duration,
    /// `/readyz` fails for a leader that has not completed a reconcile for this long.
    pub ready_bound: Duration,
    /// Changes arriving within this time are reconciled together.
    pub debounce: Duration,
}

impl Options {
    pub fn new(platform: PlatformConfig, identity: impl Into<String>) -> Options {
        Options {
            platform,
            identity: identity.into(),
            lease_namespace: "palisade".into(),
            lease_name: "palisade-controller".into(),
            lease_duration: Duration::from_secs(15),
            resync: Duration::from_secs(60),
            ready_bound: Duration::from_secs(180),
            debounce: Duration::from_millis(200),
        }
    }
}

/// What the tasks share.
#[derive(Debug)]
struct Shared {
    options: Options,
    metrics: Metrics,
    health: Health,
    trigger: mpsc::Sender<()>,
}

impl Shared {
    fn trigger(&self) {
        let _ = self.trigger.try_send(()); // full: a reconcile is already due
    }
}

/// Runs until `shutdown` completes (or a task fails): the metrics endpoint on `listener`, the
/// lease, the watches and the reconcile loop. Dropping the future stops every task.
pub async fn run(
    options: Options,
    client: Client,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let (trigger, triggers) = mpsc::channel(1);
    let shared = Arc::new(Shared {
        metrics: Metrics::new(),
        health: Health::default(),
        options,
        trigger,
    });
    let mut tasks: JoinSet<Result<(), Error>> = JoinSet::new();
    tasks.spawn(health::serve(listener, shared.clone()));
    tasks.spawn(lease_loop(client.clone(), shared.clone()));
    tasks.spawn(watch(
        Api::all_with(client.clone(), &kinds::TEAM.resource()),
        None,
        shared.clone(),
    ));
    let selector = palisade_team::reconcile::managed_selector();
    for kind in kinds::MANAGED {
        tasks.spawn(watch(
            Api::all_with(client.clone(), &kind.resource()),
            Some(selector.clone()),
            shared.clone(),
        ));
    }
    tasks.spawn(reconcile_loop(client, shared.clone(), triggers));
    tokio::select! {
        () = shutdown => Ok(()),
        Some(done) = tasks.join_next() => match done {
            Ok(Ok(())) => Err(Error::Stopped("controller")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Stopped("controller")),
        },
    }
}

/// Acquires or renews the Lease every third of its duration.
async fn lease_loop(client: Client, shared: Arc<Shared>) -> Result<(), Error> {
    let options = &shared.options;
    let api = Api::namespaced(client, &options.lease_namespace);
    let mut elector = Elector::new(
        api,
        &options.lease_name,
        &options.identity,
        options.lease_duration,
    );
    let every = (options.lease_duration / 3).max(Duration::from_millis(50));
    loop {
        let started = Instant::now();
        let was_leader = shared.health.is_leader();
        match elector.try_acquire_or_renew().await {
            Ok(state) => {
                let leader = state.leader;
                shared.health.lease_checked(
                    started,
                    leader.then(|| started + options.lease_duration),
                    state.holder,
                );
                shared.metrics.leader.set(i64::from(leader));
                if leader && !was_leader {
                    tracing::info!(identity = %options.identity, "acquired the lease: reconciling");
                    shared.trigger();
                } else if !leader && was_leader {
                    tracing::warn!(identity = %options.identity, "lost the lease: no longer reconciling");
                }
            }
            Err(e) => {
                shared.metrics.error("lease");
                tracing::warn!(
                    "lease {}/{}: {e}",
                    options.lease_namespace,
                    options.lease_name
                );
                if was_leader && !shared.health.is_leader() {
                    tracing::warn!("the lease could not be renewed in time: no longer reconciling");
                    shared.metrics.leader.set(0);
                }
            }
        }
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
}

/// Triggers a reconcile on every change of the watched objects.
async fn watch(
    api: Api<DynamicObject>,
    selector: Option<String>,
    shared: Arc<Shared>,
) -> Result<(), Error> {
    let mut config = watcher::Config::default();
    if let Some(selector) = &selector {
        config = config.labels(selector);
    }
    let mut stream = watcher(api, config).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(_) => shared.trigger(),
            Err(e) => {
                shared.metrics.error("watch");
                tracing::warn!("watch: {e}");
            }
        }
    }
    Err(Error::Stopped("watch"))
}

/// Reconciles when triggered (after the debounce) and at least every resync period, while this
/// instance holds the lease.
async fn reconcile_loop(
    client: Client,
    shared: Arc<Shared>,
    mut triggers: mpsc::Receiver<()>,
) -> Result<(), Error> {
    let options = &shared.options;
    let reconciler = Reconciler::new(client, options.platform.clone(), &options.identity);
    loop {
        tokio::select! {
            _ = triggers.recv() => {},
            () = tokio::time::sleep(options.resync) => {},
        }
        tokio::time::sleep(options.debounce).await;
        while triggers.try_recv().is_ok() {}
        if !shared.health.is_leader() {
            continue;
        }
        let started = Instant::now();
        let result = reconciler
            .reconcile(&shared.metrics, &|| shared.health.is_leader())
            .instrument(tracing::info_span!("reconcile"))
            .await;
        shared
            .metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(summary) => {
                shared.metrics.reconcile("ok");
                shared.health.reconciled(started, None);
                tracing::debug!(?summary, "reconciled");
            }
            Err(e) => {
                shared.metrics.reconcile("error");
                tracing::warn!("reconcile failed: {e}");
                shared.health.reconciled(started, Some(e.to_string()));
            }
        }
    }
}
