//! Serving on one single-threaded runtime per core. An acceptor on the main runtime
//! hands connections round-robin to the workers; each worker reads, answers and writes
//! its connections on its own thread, without the hand-offs between threads that a
//! shared work-stealing runtime makes for every request (the shape of actix and of
//! Martin). Background work (listening to PostgreSQL, recomputation) stays on the main
//! runtime.

use std::io;
use std::net::SocketAddr;

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::Response;
use axum::ServiceExt as _;
use tokio::sync::{mpsc, watch};
use tower_service::Service;

/// Connections handed to one worker.
struct Handed {
    connections: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    address: SocketAddr,
}

impl axum::serve::Listener for Handed {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some((stream, peer)) = self.connections.recv().await else {
                // The acceptor is gone: the server is stopping.
                return std::future::pending().await;
            };
            // Registers the connection with this worker's own reactor.
            match tokio::net::TcpStream::from_std(stream) {
                Ok(io) => return (io, peer),
                Err(e) => tracing::warn!(error = %e, "cannot take over a connection"),
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.address)
    }
}

/// Serves the application `make_app` makes (one for each worker) on `listener` until
/// `shutdown` resolves, then lets the workers finish their requests in flight.
pub async fn serve<S>(
    listener: tokio::net::TcpListener,
    make_app: impl Fn() -> S,
    shutdown: impl std::future::Future<Output = ()>,
) -> io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    let address = listener.local_addr()?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let (stop, stopped) = watch::channel(false);
    let mut senders = Vec::with_capacity(cores);
    let mut workers = Vec::with_capacity(cores);
    for i in 0..cores {
        let (sender, connections) = mpsc::unbounded_channel();
        senders.push(sender);
        let (app, mut stopped) = (make_app(), stopped.clone());
        let worker = std::thread::Builder::new().name(format!("http-{i}")).spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async move {
                axum::serve(Handed { connections, address }, app.into_make_service())
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            })
        })?;
        workers.push(worker);
    }
    let accept = async {
        let mut next = 0;
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match stream.into_std() {
                        Ok(stream) => {
                            let _ = senders[next].send((stream, peer));
                            next = (next + 1) % senders.len();
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot hand over a connection"),
                    }
                }
                // Out of file descriptors and the like: wait, as axum::serve does.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    };
    tokio::select! {
        () = accept => {}
        () = shutdown => {}
    }
    let _ = stop.send(true);
    tokio::task::spawn_blocking(move || {
        for worker in workers {
            worker.join().unwrap_or_else(|_| Err(io::Error::other("an HTTP worker panicked")))?;
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|e| Err(io::Error::other(e)))
}
