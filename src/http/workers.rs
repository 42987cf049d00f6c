//! Serving on one single-threaded runtime per core. An acceptor on the main runtime
//! hands connections round-robin to the workers; each worker reads, answers and writes
//! its connections on its own thread, without the hand-offs between threads that a
//! shared work-stealing runtime makes for every request (the shape of actix and of
//! Martin). Background work (listening to PostgreSQL, recomputation) stays on the main
//! runtime.
//!
//! Slow clients cannot hold the server: a connection must send a request's headers
//! within the header timeout (hyper closes it otherwise, also when it idles between
//! keep-alive requests), and at most `max_connections` are open at once (further ones
//! wait in the listen backlog until one closes).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tower::{Service, ServiceExt as _};

/// Limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    /// The server's defaults (`SIPKS_HEADER_TIMEOUT`, `SIPKS_MAX_CONNECTIONS`).
    fn default() -> Self {
        let http = super::HttpConfig::default();
        Limits { header_timeout: http.header_timeout, max_connections: http.max_connections }
    }
}

/// What the workers serve: an application that answers every request (one clone per
/// connection).
pub trait App:
    Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
}

impl<S> App for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
}

/// A connection handed to a worker, with its place among the open ones.
type Handed = (std::net::TcpStream, SocketAddr, OwnedSemaphorePermit);

/// Serves the application `make_app` makes (one for each worker) on `listener` until
/// `shutdown` resolves, then lets the workers finish their requests in flight.
pub async fn serve<S: App>(
    listener: tokio::net::TcpListener,
    make_app: impl Fn() -> S,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let (stop, stopped) = watch::channel(false);
    let mut senders = Vec::with_capacity(cores);
    let mut workers = Vec::with_capacity(cores);
    for i in 0..cores {
        let (sender, connections) = mpsc::unbounded_channel::<Handed>();
        senders.push(sender);
        let (app, stopped) = (make_app(), stopped.clone());
        let worker = std::thread::Builder::new().name(format!("http-{i}")).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(work(connections, app, limits.header_timeout, stopped));
            Ok::<(), io::Error>(())
        })?;
        workers.push(worker);
    }
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let accept = async {
        let mut next = 0;
        loop {
            // At the cap, no accept: new connections wait in the backlog.
            let Ok(permit) = Arc::clone(&open).acquire_owned().await else { return };
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match stream.into_std() {
                        Ok(stream) => {
                            let _ = senders[next].send((stream, peer, permit));
                            next = (next + 1) % senders.len();
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot hand over a connection"),
                    }
                }
                // Out of file descriptors and the like: wait, as axum::serve does.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    let _ = stop.send(true);
    drop(senders);
    tokio::task::spawn_blocking(move || {
        for worker in workers {
            worker.join().unwrap_or_else(|_| Err(io::Error::other("an HTTP worker panicked")))?;
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|e| Err(io::Error::other(e)))
}

/// One worker: serves the connections handed to it until told to stop, then waits for
/// their requests in flight.
async fn work<S: App>(
    mut connections: mpsc::UnboundedReceiver<Handed>,
    app: S,
    header_timeout: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut open = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            handed = connections.recv() => {
                let Some((stream, peer, permit)) = handed else { break };
                // Registers the connection with this worker's own reactor.
                match tokio::net::TcpStream::from_std(stream) {
                    Ok(io) => {
                        open.spawn(connection(io, peer, permit, app.clone(), header_timeout, stopped.clone()));
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot take over a connection"),
                }
            }
            Some(_) = open.join_next(), if !open.is_empty() => {}
            () = until_stopped(&mut stopped) => break,
        }
    }
    while open.join_next().await.is_some() {}
}

/// Serves one HTTP/1.1 connection (its peer's address in each request's extensions, as
/// axum's `ConnectInfo`); on stop, finishes the request in flight and closes.
async fn connection<S: App>(
    io: tokio::net::TcpStream,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
    app: S,
    header_timeout: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request.map(Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = until_stopped(&mut stopped) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
    drop(permit);
}

/// Resolves once the server is told to stop (or the sender is gone).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}
