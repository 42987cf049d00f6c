//! The HTTP server (axum): one `router()` per resource, merged here, with the shared
//! state and the problem+json rendering of every error.

mod auth;
mod error;
mod events;
mod extract;
mod health;
mod hotspots;
mod incidents;
mod openapi;
mod regions;
mod risk;
mod styles;
mod tiles;
mod workers;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use sqlx::PgPool;

use crate::engine::Engine;
use crate::tiles::{TileConfig, Tiles};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

pub use self::error::{ApiError, PROBLEM_JSON};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The PostGIS connection pool.
    pub pool: PgPool,
    /// The in-memory engine. Handlers hold the lock only while computing, never across
    /// an await.
    pub engine: Arc<RwLock<Engine>>,
    /// Vector tiles rendered from the engine, and their cache.
    pub tiles: Arc<Tiles>,
    /// Live events for `/api/events`.
    pub events: tokio::sync::broadcast::Sender<events::Event>,
    /// Failed logins, for slowing them down.
    pub logins: Arc<auth::Logins>,
    /// Recently checked tokens.
    pub tokens: Arc<auth::TokenCache>,
    /// How long a login's token lives.
    pub token_ttl: chrono::Duration,
    /// This server's identity among several on one database (its own change
    /// notifications are not applied twice).
    pub instance: u64,
}

/// How often the default window is recomputed in full, so that decay and the window
/// follow the clock (incident changes update it in between).
const REFRESH_EVERY: Duration = Duration::from_secs(60);

impl AppState {
    /// State over a pool and an engine, with the default tile settings.
    pub fn new(pool: PgPool, engine: Engine) -> AppState {
        AppState::with_tiles(pool, engine, TileConfig::default())
    }

    /// State over a pool and an engine, with these tile settings.
    pub fn with_tiles(pool: PgPool, engine: Engine, tiles: TileConfig) -> AppState {
        let engine = Arc::new(RwLock::new(engine));
        let mut instance = [0u8; 8];
        let _ = getrandom::fill(&mut instance);
        let events = tokio::sync::broadcast::channel(4096).0;
        let tiles = Tiles::new(Arc::clone(&engine), tiles);
        tiles.on_levels(events::level_listener(events.clone()));
        AppState {
            pool,
            tiles,
            engine,
            events,
            logins: Arc::default(),
            tokens: Arc::default(),
            token_ttl: chrono::Duration::hours(12),
            instance: u64::from_le_bytes(instance),
        }
    }

    /// Read access to the engine. A panic while writing cannot leave it half-updated in
    /// a way reads could notice (updates are per region), so a poisoned lock is used.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Engine> {
        self.engine.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write access to the engine.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Engine> {
        self.engine.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Every route with its OpenAPI documentation. Handlers are routed only through
/// `utoipa_axum::routes!`, which registers a handler and its `#[utoipa::path]` at once,
/// so that `/openapi.json` (read off this router) describes exactly what is served.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(health::router())
        .merge(regions::router())
        .merge(risk::router())
        .merge(hotspots::router())
        .merge(tiles::router())
        .merge(auth::router())
        .merge(incidents::router())
        .merge(events::router())
        .merge(styles::router())
        .merge(openapi::router())
}

/// The whole application: every resource's routes, a problem+json fallback, and the
/// error rendering.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(|| async { ApiError::NoRoute })
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(incidents::MAX_BODY))
        .layer(axum::middleware::from_fn(error::render_problems))
        .layer(TraceLayer::new_for_http())
}

/// Serves the application on `listen` until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let publisher = state.clone();
    tokio::spawn(crate::service::follow_changes(
        state.pool.clone(),
        Arc::clone(&state.engine),
        Arc::clone(&state.tiles),
        state.instance,
        move |id, codes, deleted| {
            let action = if deleted { "delete" } else { "update" };
            let _ = publisher.events.send(events::Event::Incident { action, id, version: None, kode: codes });
        },
    ));
    let tiles = Arc::clone(&state.tiles);
    tokio::task::spawn_blocking(move || tiles.warm_up());
    let tiles = Arc::clone(&state.tiles);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let tiles = Arc::clone(&tiles);
            // Off the async threads: a full pass over a million incidents takes a while.
            let _ = tokio::task::spawn_blocking(move || crate::service::refresh(&tiles)).await;
        }
    });
    tracing::info!(address = %listener.local_addr()?, "serving");
    workers::serve(listener, app(state), shutdown_signal()).await
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
