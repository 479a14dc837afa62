//! The HTTPS server: routes, limits, deadlines, metrics, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use palisade_policy::admission::{Admission, Decision, ParsedObject};

use crate::conn::{self, ConnectionLimits, Shared};
use crate::images::ImageVerifier;
use crate::metrics::{DecisionLabels, Metrics, RequestLabels, RuleLabels, WebhookLabels};
use crate::namespaces::NamespaceSource;
use crate::policies::{self, CustomPolicies, PolicyRequest};
use crate::review::{respond, AdmissionRequest, AdmissionReview, API_VERSION};
use crate::teams::TeamSource;
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
    /// Serving threads.
    pub threads: usize,
    /// How the serving threads share the work.
    pub runtime: Runtime,
    /// Timeouts and the connection cap.
    pub limits: ConnectionLimits,
    /// Custom policies evaluated by the validating webhook (reloaded every `reload_every` when
    /// their files change).
    pub policies: CustomPolicies,
}

/// How connections are spread over the serving threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// One single-threaded runtime per serving thread, all accepting from the one socket: a
    /// connection stays on the thread that accepted it.
    PerThread,
    /// The caller's multi-threaded runtime: a connection's work runs on whichever worker is free,
    /// so a thread that the OS has descheduled does not hold up its connections.
    WorkStealing,
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
            runtime: Runtime::WorkStealing,
            limits: ConnectionLimits::default(),
            policies: CustomPolicies::none(),
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
    teams: TeamSource,
    images: Option<Arc<ImageVerifier>>,
    metrics: Arc<Metrics>,
    policies: CustomPolicies,
    body_limit: usize,
    deadline: Duration,
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
    teams: TeamSource,
    images: Option<Arc<ImageVerifier>>,
    metrics: Arc<Metrics>,
    options: &ServeOptions,
) -> Router {
    let state = Arc::new(AppState {
        admission,
        namespaces,
        teams,
        images,
        metrics,
        policies: options.policies.clone(),
        body_limit: options.body_limit,
        deadline: options.deadline,
    });
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        // Only for the routes above: the admission routes, added after, keep their own deadline
        // (see `admit`), which must not race with this one.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            options.deadline,
        ))
        .route(
            "/validate",
            post(
                |State(s): State<Arc<AppState>>, request: Request| async move {
                    admit(&s, Webhook::Validate, request).await
                },
            ),
        )
        .route(
            "/mutate",
            post(
                |State(s): State<Arc<AppState>>, request: Request| async move {
                    admit(&s, Webhook::Mutate, request).await
                },
            ),
        )
        .layer(CatchPanicLayer::new())
        // Outermost, so that every answer to an admission request is counted, whatever layer
        // made it.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// Counts every admission request and its latency, including those refused before the review
/// (oversized bodies, deadlines, panics).
async fn count_requests(
    State(s): State<Arc<AppState>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let webhook = match request.uri().path() {
        "/validate" => Webhook::Validate,
        "/mutate" => Webhook::Mutate,
        _ => return next.run(request).await,
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

/// One admission request: its body read within the size limit, then reviewed, all within the
/// deadline.
///
/// An answer given before the whole body has arrived (too large, too slow) keeps the unread body
/// until the answer has been sent ([`HoldingBody`]): over HTTP/2, dropping it earlier resets the
/// stream (CANCEL) and the client sees a reset instead of 413 or 408.
async fn admit(state: &AppState, webhook: Webhook, request: Request) -> Response {
    let deadline = tokio::time::Instant::now() + state.deadline;
    let limit = state.body_limit;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let http1 = request.version() < Version::HTTP_2;
    let mut body = request.into_body();
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit, http1, deadline, body).await;
    }
    let bytes = match tokio::time::timeout_at(deadline, read_limited(&mut body, limit)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(ReadError::TooLarge)) => return too_large(limit, http1, deadline, body).await,
        Ok(Err(ReadError::Body(e))) => {
            return bad_request(format!("cannot read the request body: {e}"))
        }
        Err(_) => return timed_out(state.deadline, body),
    };
    drop(body);
    match tokio::time::timeout_at(deadline, review(state, webhook, &bytes)).await {
        Ok(response) => response,
        Err(_) => timed_out(state.deadline, Body::empty()),
    }
}

enum ReadError {
    TooLarge,
    Body(axum::Error),
}

/// Reads the body, stopping as soon as it passes `limit`.
async fn read_limited(body: &mut Body, limit: usize) -> Result<Bytes, ReadError> {
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(ReadError::Body)?.into_data() else {
            continue; // trailers
        };
        len += data.len();
        if len > limit {
            return Err(ReadError::TooLarge);
        }
        // The API server's request usually arrives in one frame: keep it without a copy.
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            None => joined.extend_from_slice(&data),
            Some(previous) => {
                joined.reserve(len);
                joined.extend_from_slice(&previous);
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| joined.into()))
}

/// How much of an oversize body is read and thrown away over HTTP/1.1 before the 413.
const DISCARD_LIMIT: usize = 16 << 20;

/// Answers 413 Payload Too Large. Over HTTP/1.1 a body can only be refused unread by closing the connection, and a client
/// still writing it then gets a broken pipe instead of the answer; so, as nginx does, the rest of
/// the body is first read and thrown away, up to [`DISCARD_LIMIT`] and within the deadline. (Over
/// HTTP/2 the stream is ended after the answer instead: see [`HoldingBody`].)
async fn too_large(
    limit: usize,
    http1: bool,
    deadline: tokio::time::Instant,
    mut unread: Body,
) -> Response {
    if http1 {
        let discard = async {
            let mut seen = 0usize;
            while let Some(Ok(frame)) = unread.frame().await {
                seen += frame.data_ref().map_or(0, Bytes::len);
                if seen > DISCARD_LIMIT {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout_at(deadline, discard).await;
    }
    held(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than {limit} bytes"),
        unread,
    )
}

fn timed_out(deadline: Duration, unread: Body) -> Response {
    held(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "request not answered within the {} ms deadline",
            deadline.as_millis()
        ),
        unread,
    )
}

fn held(status: StatusCode, message: String, unread: Body) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::new(HoldingBody {
            message: Some(Bytes::from(message)),
            _unread: unread,
        }),
    )
        .into_response()
}

/// A short response body that owns the request's unread body, so that it is dropped only with
/// the response, after the response's last frame. HTTP/2 then ends the request stream with
/// RST_STREAM(NO_ERROR), which RFC 9113 section 8.1 tells clients to take as "stop sending" while
/// keeping the response; over HTTP/1.1 hyper closes the connection after the response.
struct HoldingBody {
    message: Option<Bytes>,
    _unread: Body,
}

impl http_body::Body for HoldingBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().message.take().map(|m| Ok(Frame::data(m))))
    }

    fn is_end_stream(&self) -> bool {
        self.message.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.message.as_ref().map_or(0, |m| m.len() as u64))
    }
}

async fn readyz(State(s): State<Arc<AppState>>) -> Response {
    if !s.namespaces.ready() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "namespace cache not synced",
        )
            .into_response()
    } else if !s.teams.ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "team cache not synced").into_response()
    } else {
        "ok".into_response()
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
                    let teams = state.teams.index();
                    let labels = state.namespaces.labels(policy_request.namespace);
                    // The guardrails first: every operation, every kind the webhooks send.
                    let mut decision = state.admission.guard(&policy_request, &teams);
                    if decision.allowed() {
                        decision.absorb(state.admission.validate(&policy_request, labels.as_ref()));
                    }
                    if decision.allowed() {
                        decision.absorb(state.admission.team_registries(&policy_request, &teams));
                    }
                    // The platform team's own policies (configuration `policies:`).
                    if decision.allowed() && !state.policies.is_empty() {
                        decision.absorb(custom_policies(
                            &state.policies,
                            &request,
                            object.as_ref(),
                            policy_request.name,
                            labels.as_ref(),
                        ));
                    }
                    // A request already denied costs no registry work. The images' signatures
                    // and scans, and their configurations (rules.ldPreload: what each container
                    // inherits from its image), are read at once: each within
                    // imageVerification.timeout, together well within the request's deadline.
                    if decision.allowed() {
                        let checks = state
                            .admission
                            .image_checks_with_teams(&policy_request, &teams);
                        let config_checks = state.admission.image_config_checks(&policy_request);
                        // Without a verifier there are no verdicts, which the policy treats as
                        // unverifiable (never as verified).
                        let (verdicts, config_verdicts) = match &state.images {
                            Some(images) => {
                                let namespace = policy_request.namespace;
                                tokio::join!(
                                    async {
                                        if checks.is_empty() {
                                            Vec::new()
                                        } else {
                                            images.verify_all(namespace, &checks).await
                                        }
                                    },
                                    async {
                                        if config_checks.is_empty() {
                                            Vec::new()
                                        } else {
                                            images.read_configs(namespace, &config_checks).await
                                        }
                                    }
                                )
                            }
                            None => (Vec::new(), Vec::new()),
                        };
                        if !checks.is_empty() {
                            decision.absorb(state.admission.judge_images(
                                &policy_request,
                                &checks,
                                &verdicts,
                            ));
                        }
                        if !config_checks.is_empty() {
                            decision.absorb(state.admission.judge_image_configs(
                                &policy_request,
                                &config_checks,
                                &config_verdicts,
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

/// The custom policies' decision on a request: the object and old object as JSON once, shared
/// by every policy (the engine converts them once more, also once per request).
fn custom_policies(
    policies: &CustomPolicies,
    request: &AdmissionRequest,
    object: Option<&ParsedObject>,
    name: &str,
    namespace_labels: Option<&std::collections::BTreeMap<String, String>>,
) -> Decision {
    let set = policies.current();
    if set.is_empty() {
        return Decision::default();
    }
    let object = object
        .and_then(|o| o.as_ref().ok())
        .map(|o| o.node.to_json());
    let old_object = request.old_object.as_ref().map(|o| o.to_json());
    let namespace = request.namespace.as_deref().unwrap_or("");
    let namespace_object = namespace_labels
        .filter(|_| !namespace.is_empty())
        .map(|labels| policies::namespace_object(namespace, labels));
    let user_info = serde_json::json!({
        "username": request.user_info.username,
        "groups": request.user_info.groups,
    });
    let info = palisade_policy_engine::RequestInfo {
        group: request.kind.group.clone(),
        version: request.kind.version.clone(),
        kind: request.kind.kind.clone(),
        resource: request.resource.resource.clone(),
        sub_resource: request.sub_resource.clone().unwrap_or_default(),
        operation: request.operation.clone(),
        name: name.to_string(),
        namespace: namespace.to_string(),
        cluster_scoped: namespace.is_empty(),
    };
    policies::decide(
        &set,
        &PolicyRequest {
            info,
            object: object.as_ref(),
            old_object: old_object.as_ref(),
            namespace_object: namespace_object.as_ref(),
            user_info: &user_info,
            dry_run: request.dry_run.unwrap_or(false),
        },
    )
}

/// Serves until `shutdown` completes, then stops accepting and lets requests in flight finish
/// (for up to `shutdown_grace`). Calls `on_listening` with the bound address.
///
/// The port is bound by this process alone ([`conn::bind`]): a second server on the same port
/// fails here, before serving anything.
pub async fn serve(
    options: ServeOptions,
    admission: Admission,
    namespaces: NamespaceSource,
    teams: TeamSource,
    images: Option<Arc<ImageVerifier>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ServeError> {
    let (tls, loaded) = options.cert.load()?;
    let listen_error = |source| ServeError::Listen {
        addr: options.listen,
        source,
    };
    let listener = conn::bind(options.listen).map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
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
    let policy_reloads = metrics.policy_reloads.clone();
    tokio::spawn(
        options
            .policies
            .clone()
            .watch(options.reload_every, move |ok| {
                policy_reloads
                    .get_or_create(&crate::metrics::ReloadLabels {
                        outcome: if ok { "ok" } else { "error" },
                    })
                    .inc();
            }),
    );
    let router = router(admission, namespaces, teams, images, metrics, &options);
    tokio::spawn(options.cert.clone().watch(
        tls.clone(),
        loaded,
        options.reload_every,
        move || {
            reloads.inc();
        },
    ));
    let shared = Arc::new(Shared::new(router, tls, options.limits));
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing requests in flight");
        let _ = stop.send(true);
    });
    on_listening(addr);
    let grace = options.shutdown_grace;
    let io_error = |source| ServeError::Listen { addr, source };
    match options.runtime {
        Runtime::WorkStealing => {
            let listener = tokio::net::TcpListener::from_std(listener).map_err(io_error)?;
            conn::accept_loop(listener, shared.clone(), stopped).await;
            finish(&shared, grace).await;
            Ok(())
        }
        Runtime::PerThread => {
            let mut threads = Vec::new();
            for i in 0..options.threads.max(1) {
                // Each thread accepts from a duplicate of the one socket: whichever thread is
                // running takes the next connection.
                let listener = listener.try_clone().map_err(io_error)?;
                let (shared, stopped) = (shared.clone(), stopped.clone());
                let thread = std::thread::Builder::new()
                    .name(format!("palisade-serve-{i}"))
                    .spawn(move || -> std::io::Result<()> {
                        let runtime = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()?;
                        runtime.block_on(async move {
                            let listener = tokio::net::TcpListener::from_std(listener)?;
                            conn::accept_loop(listener, shared.clone(), stopped).await;
                            finish(&shared, grace).await;
                            Ok(())
                        })
                    })
                    .map_err(io_error)?;
                threads.push(thread);
            }
            drop(listener);
            // Wait without blocking this runtime, which runs the certificate watcher and
            // namespace cache.
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
            .map_err(|e| io_error(std::io::Error::other(e)))?
            .map_err(io_error)
        }
    }
}

/// After shutdown: waits until every connection has closed (all slots are back), or `grace` has
/// passed; connections still open then are dropped with their runtime.
async fn finish(shared: &Shared, grace: Duration) {
    let all = u32::try_from(shared.limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(grace, shared.slots.acquire_many(all)).await;
}
