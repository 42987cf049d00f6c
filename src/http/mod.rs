//! The HTTP server (axum): one `router()` per resource, merged here, with the shared
//! state and the problem+json rendering of every error.

mod error;
mod extract;
mod health;
mod regions;

use std::net::SocketAddr;

use axum::Router;
use sqlx::PgPool;
use tower_http::trace::TraceLayer;

pub use self::error::{ApiError, PROBLEM_JSON};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The PostGIS connection pool.
    pub pool: PgPool,
}

/// The whole application: every resource's routes, a problem+json fallback, and the
/// error rendering.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(regions::router())
        .fallback(|| async { ApiError::NoRoute })
        .with_state(state)
        .layer(axum::middleware::from_fn(error::render_problems))
        .layer(TraceLayer::new_for_http())
}

/// Serves the application on `listen` until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, "serving");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
