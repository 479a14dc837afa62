//! `/healthz`, `/readyz` and `/metrics`. Readiness says whether this instance does its job: it
//! has read or renewed the Lease within the lease duration (else the API server is unreachable,
//! or the lease was lost), and, when it holds the lease, it has completed a reconcile within the
//! bound. A standby instance that reads the lease is ready: it takes over when the holder stops.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::{Error, Shared};

/// What readiness is decided from.
#[derive(Debug, Clone, Default)]
pub struct HealthState {
    /// This instance holds the lease until then (the time of its last successful write plus the
    /// lease duration).
    pub leader_until: Option<Instant>,
    /// When it became the leader.
    pub leader_since: Option<Instant>,
    /// The last time the lease was read or written successfully, and who held it.
    pub lease_seen: Option<Instant>,
    pub holder: Option<String>,
    /// The last completed reconcile, and the error of the last failed one since.
    pub last_success: Option<Instant>,
    pub last_error: Option<String>,
}

impl HealthState {
    pub fn is_leader(&self, now: Instant) -> bool {
        self.leader_until.is_some_and(|until| now < until)
    }
}

/// Readiness, with the reason either way. Pure.
pub fn readiness(
    state: &HealthState,
    now: Instant,
    lease_duration: Duration,
    bound: Duration,
) -> Result<String, String> {
    let Some(seen) = state.lease_seen else {
        return Err("the lease has not been read yet".into());
    };
    if now.duration_since(seen) > lease_duration {
        return Err(format!(
            "the lease has not been read or renewed for {}s (lease duration {}s): the API server is unreachable or the lease was lost",
            now.duration_since(seen).as_secs(),
            lease_duration.as_secs()
        ));
    }
    if !state.is_leader(now) {
        let holder = state.holder.as_deref().unwrap_or("nobody");
        return Ok(format!("standby: the lease is held by {holder}"));
    }
    let since = match (state.last_success, state.leader_since) {
        (Some(s), Some(l)) => s.max(l),
        (s, l) => s.or(l).unwrap_or(now),
    };
    let idle = now.duration_since(since);
    if idle > bound {
        let why = state
            .last_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(format!(
            "leader, but no reconcile has completed for {}s (bound {}s){why}",
            idle.as_secs(),
            bound.as_secs()
        ));
    }
    Ok("leader, reconciling".into())
}

/// The shared state behind the endpoints.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<HealthState>,
}

impl Health {
    fn lock(&self) -> MutexGuard<'_, HealthState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> HealthState {
        self.lock().clone()
    }

    pub fn is_leader(&self) -> bool {
        self.lock().is_leader(Instant::now())
    }

    /// The lease was read (or written) at `at`; `leader_until` when this instance holds it.
    pub fn lease_checked(
        &self,
        at: Instant,
        leader_until: Option<Instant>,
        holder: Option<String>,
    ) {
        let mut state = self.lock();
        let was = state.is_leader(at);
        state.lease_seen = Some(at);
        state.holder = holder;
        match leader_until {
            Some(until) => {
                if !was {
                    state.leader_since = Some(at);
                }
                state.leader_until = Some(until);
            }
            None => {
                state.leader_until = None;
                state.leader_since = None;
            }
        }
    }

    /// A reconcile that started at `started` completed, or failed with `error`.
    pub fn reconciled(&self, started: Instant, error: Option<String>) {
        let mut state = self.lock();
        match error {
            None => {
                state.last_success = Some(started);
                state.last_error = None;
            }
            Some(e) => state.last_error = Some(e),
        }
    }
}

pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
) -> Result<(), Error> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(shared);
    axum::serve(listener, router).await?;
    Err(Error::Stopped("metrics endpoint"))
}

async fn ready(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let options = &shared.options;
    match readiness(
        &shared.health.snapshot(),
        Instant::now(),
        options.lease_duration,
        options.ready_bound,
    ) {
        Ok(why) => (StatusCode::OK, format!("ok: {why}\n")),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);
    const BOUND: Duration = Duration::from_secs(60);

    #[test]
    fn readiness_needs_the_lease_and_for_a_leader_a_recent_reconcile() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut state = HealthState::default();
        assert_eq!(
            readiness(&state, at(0), LEASE, BOUND),
            Err("the lease has not been read yet".into())
        );
        // A standby that reads the lease is ready; one that cannot is not.
        state.lease_seen = Some(at(0));
        state.holder = Some("other".into());
        assert_eq!(
            readiness(&state, at(10), LEASE, BOUND),
            Ok("standby: the lease is held by other".into())
        );
        let stale = readiness(&state, at(16), LEASE, BOUND).unwrap_err();
        assert!(
            stale.starts_with("the lease has not been read or renewed for 16s"),
            "{stale}"
        );
        // A new leader has the bound to complete its first reconcile.
        state.leader_since = Some(at(100));
        state.leader_until = Some(at(115));
        state.lease_seen = Some(at(100));
        assert!(readiness(&state, at(101), LEASE, BOUND).is_ok());
        state.leader_until = Some(at(300));
        state.lease_seen = Some(at(170));
        state.last_error = Some("Kubernetes API: forbidden".into());
        assert_eq!(
            readiness(&state, at(171), LEASE, BOUND),
            Err("leader, but no reconcile has completed for 71s (bound 60s): Kubernetes API: forbidden".into())
        );
        state.last_success = Some(at(150));
        state.last_error = None;
        assert_eq!(
            readiness(&state, at(171), LEASE, BOUND),
            Ok("leader, reconciling".into())
        );
        // A leader whose lease ran out is not the leader.
        assert!(!state.is_leader(at(300)));
    }

    #[test]
    fn health_tracks_leadership_terms() {
        let health = Health::default();
        let t0 = Instant::now();
        health.lease_checked(t0, Some(t0 + LEASE), Some("me".into()));
        assert!(health.is_leader());
        let first = health.snapshot().leader_since;
        health.lease_checked(
            t0 + Duration::from_secs(5),
            Some(t0 + LEASE * 2),
            Some("me".into()),
        );
        assert_eq!(health.snapshot().leader_since, first);
        health.lease_checked(t0, None, Some("other".into()));
        assert!(!health.is_leader());
        assert_eq!(health.snapshot().leader_since, None);
        health.reconciled(t0, Some("x".into()));
        assert_eq!(health.snapshot().last_error.as_deref(), Some("x"));
        health.reconciled(t0, None);
        assert_eq!(health.snapshot().last_success, Some(t0));
    }
}
