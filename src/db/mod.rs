//! PostGIS access: the connection pool, the embedded migrations, and one module per
//! table family.

pub mod export;
pub mod incident_rows;
mod incident_sql;
pub mod incidents;
pub mod notify;
pub mod regions;
pub mod status;
pub mod users;
pub mod wkb;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// The SQL migrations under `migrations/`, built into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for a connection before it fails (503 over HTTP): short,
/// so that a request does not hang while the database is down.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a connection pool to `url` (a `postgres://` URL).
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    // Imports run statements of several seconds on purpose; only log the truly slow.
    let options = PgConnectOptions::from_str(url)?
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(60))
        // PostgreSQL compiles a query it expects to be costly (an export of a million
        // incidents, the engine's start-up read) before its first row: half a second
        // spent before anything streams, to speed up expressions that are not where
        // these queries spend their time.
        .options([("jit", "off")]);
    PgPoolOptions::new().max_connections(max_connections).acquire_timeout(ACQUIRE_TIMEOUT).connect_with(options).await
}

/// Applies the migrations that have not been applied yet.
pub async fn migrate(pool: &PgPool) -> Result<(), MigrateError> {
    MIGRATOR.run(pool).await
}
