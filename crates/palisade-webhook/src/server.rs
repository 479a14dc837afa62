//! The HTTPS server: routes, limits, deadlines, metrics, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use palisade_policy::admission::{Admission, Decision};

use crate::images::ImageVerifier;
use crate::metrics::{DecisionLabels, Metrics, RequestLabels, RuleLabels, WebhookLabels};
use crate::namespaces::NamespaceSource;
use crate::review::{respond, AdmissionReview, API_VERSION};
use crate::tls::{CertFiles, TlsError};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub cert: CertFiles,
    /// How often to check the certificate files for a rotation.
    pub reload_every: Duration,
    /// Largest request body accepted (the API server sends at most about 3 MiB).
    pub body_limit: usize,
    /// Time allowed for one request, body included.
    pub deadline: Duration,
    /// On shutdown, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
    /// Serving threads, each with its own listener and single-threaded runtime.
    pub threads: usize,
}

impl ServeOptions {
    pub fn new(listen: SocketAddr, cert: CertFiles) -> Self {
        Self {
            listen,
            cert,
            reload_every: Duration::from_secs(2),
            body_limit: 3 * 1024 * 1024,
            deadline: Duration::from_secs(8),
            shutdown_grace: Duration::from_secs(20),
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

#[derive(Debug)]
struct AppState {
    admission: Admission,
    namespaces: NamespaceSource,
    images: Option<Arc<ImageVerifier>>,
    metrics: Arc<Metrics>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Webhook {
    Validate,
    Mutate,
}

impl Webhook {
    fn name(self) -> &'static str {
        match self {
            Webhook::Validate => "validate",
            Webhook::Mutate => "mutate",
        }
    }
}

/// The router, without TLS: exposed so tests and benchmarks can drive it directly.
pub fn router(
    admission: Admission,
    namespaces: NamespaceSource,
    images: Option<Arc<ImageVerifier>>,
    metrics: Arc<Metrics>,
    options: &ServeOptions,
) -> Router {
    let state = Arc::new(AppState {
        admission,
        namespaces,
        images,
        metrics,
    });
    Router::new()
        .route(
            "/validate",
            post(|State(s): State<Arc<AppState>>, body: Bytes| async move {
                review(&s, Webhook::Validate, &body).await
            }),
        )
        .route(
            "/mutate",
            post(|State(s): State<Arc<AppState>>, body: Bytes| async move {
                review(&s, Webhook::Mutate, &body).await
            }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .layer(DefaultBodyLimit::max(options.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.deadline,
        ))
        .layer(CatchPanicLayer::new())
        .with_state(state)
}

/// Counts every admission request and its latency, including those refused before the handler
/// (oversized bodies, deadlines).
async fn count_requests(
    State(s): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let webhook = match request.uri().path() {
        "/mutate" => Webhook::Mutate,
        _ => Webhook::Validate,
    };
    let start = Instant::now();
    let response = next.run(request).await;
    let code = response.status().as_u16();
    s.metrics
        .requests
        .get_or_create(&RequestLabels {
            webhook: webhook.name(),
            code,
        })
        .inc();
    s.metrics
        .latency
        .get_or_create(&WebhookLabels {
            webhook: webhook.name(),
        })
        .observe(start.elapsed().as_secs_f64());
    response
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if s.namespaces.ready() {
        "ok".into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "namespace cache not synced",
        )
            .into_response()
    }
}

async fn metrics_text(State(s): State<Arc<AppState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn review(state: &AppState, webhook: Webhook, body: &[u8]) -> Response {
    let response = match serde_json::from_slice::<AdmissionReview>(body) {
        Err(e) => bad_request(format!("invalid AdmissionReview JSON: {e}")),
        Ok(review) if review.api_version != API_VERSION || review.kind != "AdmissionReview" => {
            bad_request(format!(
                "unsupported {} {}: palisade answers {API_VERSION} AdmissionReview",
                review.api_version, review.kind
            ))
        }
        Ok(AdmissionReview { request: None, .. }) => {
            bad_request("AdmissionReview has no request".into())
        }
        Ok(AdmissionReview {
            request: Some(mut request),
            ..
        }) => {
            let object = request.take_object();
            let policy_request = request.as_policy_request(object.as_ref());
            let decision: Decision = match webhook {
                Webhook::Validate => {
                    let labels = state.namespaces.labels(policy_request.namespace);
                    let mut decision = state.admission.validate(&policy_request, labels.as_ref());
                    // A request already denied costs no registry work.
                    if decision.allowed() {
                        let checks = state.admission.image_checks(&policy_request);
                        if !checks.is_empty() {
                            // Without a verifier there are no verdicts, which the policy
                            // treats as unverifiable (never as verified).
                            let verdicts = match &state.images {
                                Some(images) => {
                                    images.verify_all(policy_request.namespace, &checks).await
                                }
                                None => Vec::new(),
                            };
                            decision.absorb(state.admission.judge_images(
                                &policy_request,
                                &checks,
                                &verdicts,
                            ));
                        }
                    }
                    decision
                }
                Webhook::Mutate => {
                    let mut decision = state.admission.mutate(&policy_request);
                    if let Some(images) = &state.images {
                        let checks = state.admission.pin_checks(&policy_request);
                        if !checks.is_empty() {
                            let digests =
                                images.resolve_all(policy_request.namespace, &checks).await;
                            let pins = state.admission.pin_images(&checks, &digests);
                            decision.patch.extend(pins);
                        }
                    }
                    decision
                }
            };
            let outcome = match (&decision.denial, decision.patch.is_empty()) {
                (Some(_), _) => "deny",
                (None, false) => "patch",
                (None, true) => "allow",
            };
            state
                .metrics
                .decisions
                .get_or_create(&DecisionLabels {
                    webhook: webhook.name(),
                    decision: outcome,
                })
                .inc();
            for fired in &decision.fired {
                state
                    .metrics
                    .violations
                    .get_or_create(&RuleLabels {
                        rule: fired.rule,
                        mode: fired.mode,
                    })
                    .inc();
            }
            tracing::debug!(
                webhook = webhook.name(),
                uid = %request.uid,
                kind = %request.kind.kind,
                namespace = policy_request.namespace,
                name = policy_request.name,
                outcome,
                "admission review"
            );
            let body = respond(&request, policy_request.name, decision);
            match serde_json::to_vec(&body) {
                Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
                Err(e) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot encode the response: {e}"),
                )
                    .into_response(),
            }
        }
    };
    response
}

/// A listening socket with `SO_REUSEPORT`, so each serving thread can have its own and the kernel
/// spreads connections between them.
fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Serves until `shutdown` completes, then stops accepting and lets requests in flight finish
/// (for up to `shutdown_grace`). Calls `on_listening` with the bound address.
///
/// Each of `options.threads` threads runs its own single-threaded runtime with its own
/// `SO_REUSEPORT` listener, as nginx runs workers: a request never hops between threads, which on
/// a small machine costs more than the policy evaluation itself.
pub async fn serve(
    options: ServeOptions,
    admission: Admission,
    namespaces: NamespaceSource,
    images: Option<Arc<ImageVerifier>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ServeError> {
    let (tls, loaded) = options.cert.load()?;
    let mut metrics = Metrics::new();
    if let Some(images) = &images {
        metrics.registry.register(
            "image_verifications",
            "Image verifications by outcome (cached, verified, denied, unavailable)",
            images.outcomes.clone(),
        );
    }
    let metrics = Arc::new(metrics);
    let reloads = metrics.tls_reloads.clone();
    let router = router(admission, namespaces, images, metrics, &options);
    tokio::spawn(options.cert.clone().watch(
        tls.clone(),
        loaded,
        options.reload_every,
        move || {
            reloads.inc();
        },
    ));
    let listen_error = |source| ServeError::Listen {
        addr: options.listen,
        source,
    };
    let first = reuseport_listener(options.listen).map_err(listen_error)?;
    let addr = first.local_addr().map_err(listen_error)?;
    let mut listeners = vec![first];
    for _ in 1..options.threads.max(1) {
        listeners
            .push(reuseport_listener(addr).map_err(|source| ServeError::Listen { addr, source })?);
    }
    let handle = axum_server::Handle::new();
    let grace = options.shutdown_grace;
    let shutdown_handle = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        shutdown_handle.graceful_shutdown(Some(grace));
    });
    on_listening(addr);
    let mut threads = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let (tls, handle, router) = (tls.clone(), handle.clone(), router.clone());
        let thread = std::thread::Builder::new()
            .name(format!("palisade-serve-{i}"))
            .spawn(move || -> std::io::Result<()> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(
                    axum_server::from_tcp_rustls(listener, tls)
                        .handle(handle)
                        .serve(router.into_make_service()),
                )
            })
            .map_err(|source| ServeError::Listen { addr, source })?;
        threads.push(thread);
    }
    // Wait without blocking this runtime, which runs the certificate watcher and namespace cache.
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            match thread.join() {
                Ok(result) => result?,
                Err(_) => return Err(std::io::Error::other("a serving thread panicked")),
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| ServeError::Listen {
        addr,
        source: std::io::Error::other(e),
    })?
    .map_err(|source| ServeError::Listen { addr, source })
}
