//! The HTTP server (axum): one `router()` per resource, merged here, with the shared
//! state and the problem+json rendering of every error.

pub mod anchor;
mod auth;
pub mod basemap;
pub mod emerging;
mod error;
mod events;
mod export;
mod extract;
mod fast;
mod field_text;
mod health;
mod hotspots;
mod incidents;
mod metrics;
mod negotiate;
mod ogc;
mod openapi;
mod openapi_common;
mod problems;
mod regions;
pub mod risk;
mod risk_scope;
mod security;
mod styles;
mod text;
mod tiles;
pub mod web;
mod workers;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use sqlx::PgPool;

use crate::engine::Engine;
use crate::tiles::{TileConfig, Tiles};
use utoipa_axum::router::OpenApiRouter;

pub use self::error::{ApiError, PROBLEM_JSON};
pub use self::tiles::ATTRIBUTION;

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
    /// Recently checked tokens.
    pub tokens: Arc<auth::TokenCache>,
    /// How long a login's token lives.
    pub token_ttl: chrono::Duration,
    /// This server's identity among several on one database (its own change
    /// notifications are not applied twice).
    pub instance: u64,
    /// Request counts and latency by route, for `/metrics`.
    pub metrics: Arc<metrics::Metrics>,
    /// Whether PostGIS answers (watched in the background while serving).
    pub db: Arc<crate::db::status::DbStatus>,
    /// Cross-origin access, timeouts.
    pub http: Arc<HttpConfig>,
    /// Answers of `/api/risk`, kept until the engine changes.
    pub risk: Arc<risk::RiskCache>,
    /// Answers of `/api/hotspots/emerging`, kept until the engine changes.
    pub emerging: Arc<risk::RiskCache<emerging::EmergingKey>>,
    /// Answers of `/api/hotspots/clusters`, kept until the engine changes.
    pub clusters: Arc<risk::RiskCache<hotspots::ClusterKey>>,
    /// Permits for CPU-bound work moved off the request threads (rendering tiles,
    /// computing risk), two per core (one render waiting on the engine's lock leaves
    /// its core to the other): under load such work queues instead of
    /// time-sharing the cores with dozens of threads, which would slow every write's
    /// database round trips and the bookkeeping of changes as much.
    pub cpu: Arc<tokio::sync::Semaphore>,
    /// The web map's directory and whether this server serves training data.
    pub web: Arc<web::WebConfig>,
    /// Tells the other servers on the database of committed incident changes.
    pub notifier: Arc<crate::db::notify::Notifier>,
}

/// HTTP settings beyond the routes.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Origins allowed to call the API from a browser (CORS); empty: none (the page is
    /// served by this server and needs no CORS).
    pub cors_origins: Vec<String>,
    /// How long a request may take until its response starts (503 `timeout` after it,
    /// see [`security::timeout`]). Streams
    /// (events, exports) only need to start within it.
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers (the connection is
    /// closed after it): trickling clients cannot hold connections.
    pub header_timeout: Duration,
    /// Connections open at once; further ones wait until one closes.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            max_connections: 4096,
        }
    }
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
            tokens: Arc::default(),
            token_ttl: chrono::Duration::hours(12),
            instance: u64::from_le_bytes(instance),
            web: Arc::default(),
            notifier: Arc::default(),
            metrics: Arc::default(),
            db: Arc::default(),
            http: Arc::default(),
            risk: Arc::default(),
            emerging: Arc::default(),
            clusters: Arc::default(),
            cpu: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) * 2,
            )),
        }
    }

    /// Read access to the engine. A panic while writing cannot leave it half-updated in
    /// a way reads could notice (updates are per region), so a poisoned lock is used.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Engine> {
        crate::sync::read(&self.engine)
    }

    /// The service layer of incident writes.
    pub fn incidents(&self) -> crate::incidents::Incidents {
        crate::incidents::Incidents {
            pool: self.pool.clone(),
            engine: Arc::clone(&self.engine),
            tiles: Arc::clone(&self.tiles),
            notifier: Arc::clone(&self.notifier),
        }
    }

    /// Write access to the engine.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Engine> {
        crate::sync::write(&self.engine)
    }
}

/// gzip for the OGC API's answers when the client accepts it (`Accept-Encoding:
/// gzip`): GeoJSON pages shrink about fourfold. (Exports compress their own stream,
/// tiles their own layers.)
fn gzip() -> tower_http::compression::CompressionLayer {
    tower_http::compression::CompressionLayer::new()
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
        .merge(emerging::router())
        .merge(basemap::router())
        .merge(tiles::router())
        .merge(auth::router())
        .merge(incidents::router())
        .merge(events::router())
        .merge(export::router())
        .merge(ogc::router())
        .merge(styles::router())
        .merge(web::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .merge(problems::router())
}

/// The whole application: every resource's routes, a problem+json fallback, and the
/// layers every request passes, outermost first: a request id (taken from
/// `X-Request-Id` or made, echoed in the response and in every log line of the request),
/// tracing, CORS (closed unless origins are configured), security headers, metrics by
/// route, problem+json rendering, the request timeout, refusal of writes while the
/// database is down (503 with Retry-After), and the body limit.
pub fn app(state: AppState) -> Router {
    let (router, _) = routes().split_for_parts();
    let metrics = Arc::clone(&state.metrics);
    let db = Arc::clone(&state.db);
    let http = Arc::clone(&state.http);
    let router = router
        .fallback(|| async { ApiError::NoRoute })
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(incidents::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(db, security::refuse_writes_while_database_down))
        .layer(axum::middleware::from_fn_with_state(http.request_timeout, security::timeout))
        .layer(axum::middleware::from_fn(error::render_problems))
        .layer(axum::middleware::from_fn_with_state(metrics, metrics::count));
    security::outer_layers(router, &http)
}

/// Serves the application on `listen` until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let (db, pool) = (Arc::clone(&state.db), state.pool.clone());
    tokio::spawn(async move { db.watch(pool).await });
    state.notifier.start(state.pool.clone(), crate::service::CHANGES_CHANNEL, state.instance);
    let publisher = state.clone();
    let tokens = Arc::clone(&state.tokens);
    tokio::spawn(crate::service::follow_changes(
        state.pool.clone(),
        Arc::clone(&state.engine),
        Arc::clone(&state.tiles),
        Arc::clone(&state.notifier),
        state.instance,
        move |id, codes, deleted| {
            let action = if deleted { "delete" } else { "update" };
            let _ = publisher.events.send(events::Event::Incident { action, id, version: None, kode: codes });
        },
        move |revoked| tokens.revoke(&revoked),
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
    let limits =
        workers::Limits { header_timeout: state.http.header_timeout, max_connections: state.http.max_connections };
    let router = app(state.clone());
    workers::serve(listener, move || fast::FastTiles::new(router.clone(), &state), limits, shutdown_signal()).await
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
