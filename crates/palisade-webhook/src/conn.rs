//! Connections: the listening socket, accepting within a cap, the TLS handshake within a time, and
//! HTTP/1.1 or HTTP/2 (as ALPN chose) with a bound on how long a connection may go without a
//! request in flight.
//!
//! Every bound here is against a client that holds resources without finishing anything: a
//! connection that trickles its request headers (slowloris), one that never completes the TLS
//! handshake, one kept alive and left idle. Each is closed after its time, and the number of
//! connections open at once is capped, so memory is bounded whatever clients do.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};

/// How long connections may take, and how many there may be.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time for a connection to send complete request headers: from the end of the TLS
    /// handshake, and again from the end of each response (so it also bounds how long a
    /// kept-alive connection may sit idle). Over HTTP/2 it bounds the time with no stream open.
    pub header_timeout: Duration,
    /// Time for the TLS handshake, from the TCP accept.
    pub tls_handshake_timeout: Duration,
    /// Connections open at once in this process; further ones wait in the kernel's listen
    /// backlog until one closes.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(5),
            max_connections: 1024,
        }
    }
}

/// After a graceful close is asked of a connection (GOAWAY over HTTP/2), how long it may take
/// before it is dropped: a client that never answers the GOAWAY's ping must not keep it.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Binds `addr` for this process alone. `SO_REUSEADDR` lets a restart bind while the old
/// process's connections are in TIME_WAIT; on Linux it never lets a second socket listen on a
/// port that one already listens on. `SO_REUSEPORT` is deliberately not set: with it a second
/// `palisade webhook` would bind the same port silently and answer part of the requests with its
/// own policy. The serving threads share this one socket instead.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// What every connection of the process shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub router: Router,
    pub tls: RustlsConfig,
    pub limits: ConnectionLimits,
    /// One permit per connection that may be open.
    pub slots: Arc<Semaphore>,
    pub http1: http1::Builder,
    pub http2: http2::Builder<TokioExecutor>,
}

impl Shared {
    pub fn new(router: Router, tls: RustlsConfig, limits: ConnectionLimits) -> Self {
        let mut h1 = http1::Builder::new();
        // hyper's header timer starts whenever the connection waits for a request head: after
        // the handshake and after each response, so idle keep-alive connections are bounded too.
        h1.timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new());
        Self {
            router,
            tls,
            limits,
            // At most u32::MAX, so that shutdown can wait for all of them at once.
            slots: Arc::new(Semaphore::new(
                limits.max_connections.clamp(1, u32::MAX as usize),
            )),
            http1: h1,
            http2: h2,
        }
    }
}

/// Resolves once shutdown is asked for (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Accepts connections until shutdown, each only once a connection slot is free, and serves each
/// on its own task of the current runtime.
pub(crate) async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        // The slot is taken before accepting, so beyond the cap connections wait in the
        // kernel's backlog (bounded by it) instead of costing memory here.
        let permit = tokio::select! {
            permit = shared.slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            () = stopped(&mut shutdown) => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut shutdown) => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: the next accept may succeed once
                // connections close, so wait a moment instead of spinning.
                tracing::warn!("cannot accept a connection: {e}");
                drop(permit);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (shared, shutdown) = (shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            serve_connection(stream, &shared, shutdown).await;
            drop(permit);
        });
    }
}

async fn serve_connection(stream: TcpStream, shared: &Shared, mut shutdown: watch::Receiver<bool>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.get_inner());
    let handshake = tokio::select! {
        handshake = tokio::time::timeout(shared.limits.tls_handshake_timeout, acceptor.accept(stream)) => handshake,
        () = stopped(&mut shutdown) => return,
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!("TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake not done in time: closing the connection");
            return;
        }
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let activity = Arc::new(Activity::new());
    let service = Tracked {
        inner: TowerToHyperService::new(shared.router.clone()),
        activity: activity.clone(),
    };
    let io = TokioIo::new(tls);
    let timeout = shared.limits.header_timeout;
    // The protocol is the one ALPN chose: sniffing the first bytes instead would wait, without
    // any bound, for a client that sends nothing.
    if h2 {
        let conn = shared.http2.serve_connection(io, service);
        drive(conn, &activity, timeout, shutdown).await;
    } else {
        let conn = shared.http1.serve_connection(io, service);
        drive(conn, &activity, timeout, shutdown).await;
    }
}

/// A hyper connection that can be asked to finish what it has and close.
trait Graceful: Future<Output = hyper::Result<()>> {
    fn close_gracefully(self: Pin<&mut Self>);
}

impl<I, S> Graceful for http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

impl<I, S, E> Graceful for http2::Connection<I, S, E>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: hyper::body::Body + 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, S::ResBody>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Runs a connection to its end, closing it gracefully on shutdown or once it has gone
/// `timeout` without a request in flight, and dropping it if it does not close within
/// [`CLOSE_GRACE`] after an idle close. (On shutdown, the server's grace period bounds it.)
async fn drive<C: Graceful>(
    conn: C,
    activity: &Activity,
    timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut conn = std::pin::pin!(conn);
    let mut closing_since: Option<Instant> = None;
    let mut shutting_down = false;
    loop {
        let wake = match closing_since {
            Some(since) => since + CLOSE_GRACE,
            None => activity.idle_deadline(timeout),
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            () = stopped(&mut shutdown), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().close_gracefully();
            }
            () = tokio::time::sleep_until(wake.into()), if !shutting_down => {
                if closing_since.is_some() {
                    tracing::debug!("connection did not close after an idle close: dropping it");
                    return;
                }
                if activity.idle_for(timeout) {
                    tracing::debug!("no request on the connection in time: closing it");
                    closing_since = Some(Instant::now());
                    conn.as_mut().close_gracefully();
                }
            }
        }
    }
}

/// Whether a connection has requests in flight, and since when it has had none.
struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// When the last request finished (or the connection started), in nanoseconds from `start`.
    idle_since: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
        }
    }

    fn idle_since(&self) -> Instant {
        self.start + Duration::from_nanos(self.idle_since.load(Ordering::Acquire))
    }

    /// When to look again: `timeout` after the connection went idle, or, while a request is in
    /// flight (itself bounded by the request deadline), `timeout` from now.
    fn idle_deadline(&self, timeout: Duration) -> Instant {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            Instant::now() + timeout
        } else {
            self.idle_since() + timeout
        }
    }

    fn idle_for(&self, timeout: Duration) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && self.idle_since().elapsed() >= timeout
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn end(&self) {
        let nanos = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.idle_since.store(nanos, Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Marks a request in flight for as long as it lives (dropped on completion or cancellation).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: Arc<Activity>) -> Self {
        activity.begin();
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The router as a hyper service that records the connection's activity.
struct Tracked {
    inner: TowerToHyperService<Router>,
    activity: Arc<Activity>,
}

type ResponseFuture = Pin<
    Box<dyn Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send>,
>;

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let guard = InFlight::new(self.activity.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(guard);
            response
        })
    }
}
