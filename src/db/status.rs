//! Whether PostGIS answers, watched in the background, so that a server whose database
//! is down keeps serving from its engine and refuses writes at once (503 with
//! Retry-After) instead of letting each one wait for a connection.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// How often the database is asked while it answers, and while it does not.
const EVERY_UP: Duration = Duration::from_secs(2);
const EVERY_DOWN: Duration = Duration::from_millis(500);
/// How long one check may take before the database counts as down.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The database's state as last seen.
#[derive(Debug)]
pub struct DbStatus {
    up: AtomicBool,
    /// Since when it is in its current state (unix milliseconds).
    since: AtomicI64,
    /// Why it is down, when it is.
    reason: Mutex<String>,
}

impl Default for DbStatus {
    fn default() -> DbStatus {
        DbStatus {
            up: AtomicBool::new(true),
            since: AtomicI64::new(Utc::now().timestamp_millis()),
            reason: Mutex::default(),
        }
    }
}

/// What `/healthz` and `/readyz` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbState {
    /// Whether it answered the last check.
    pub up: bool,
    /// Since when it is (or is not).
    pub since: DateTime<Utc>,
    /// Why it is down (empty when up).
    pub reason: String,
}

impl DbStatus {
    /// Whether the database answered the last check (or the last statement).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// The state, for reports.
    pub fn state(&self) -> DbState {
        DbState {
            up: self.is_up(),
            since: DateTime::from_timestamp_millis(self.since.load(Ordering::Acquire)).unwrap_or_default(),
            reason: crate::sync::lock(&self.reason).clone(),
        }
    }

    /// Records the outcome of a check or of a statement.
    pub fn set(&self, up: bool, reason: &str) {
        if self.up.swap(up, Ordering::AcqRel) != up {
            self.since.store(Utc::now().timestamp_millis(), Ordering::Release);
            if up {
                tracing::info!("database reachable again");
            } else {
                tracing::warn!(reason, "database unreachable: serving from memory, refusing writes");
            }
        }
        *crate::sync::lock(&self.reason) = if up { String::new() } else { reason.to_owned() };
    }

    /// Checks the database for ever: `select 1` every 2 s while it answers, every
    /// 0.5 s while it does not.
    pub async fn watch(&self, pool: PgPool) {
        loop {
            let check = tokio::time::timeout(CHECK_TIMEOUT, sqlx::query_scalar::<_, i32>("select 1").fetch_one(&pool));
            match check.await {
                Ok(Ok(_)) => self.set(true, ""),
                Ok(Err(e)) => self.set(false, &e.to_string()),
                Err(_) => self.set(false, "no answer within 2 s"),
            }
            tokio::time::sleep(if self.is_up() { EVERY_UP } else { EVERY_DOWN }).await;
        }
    }
}

/// Whether an error means the database cannot be reached (rather than a statement
/// failing): the connection failed or broke, the pool has no connection to give, or
/// the server is shutting down, starting or out of connections.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            // 08: connection exception; 57P01-57P03: admin or crash shutdown, cannot
            // connect now; 53300: too many connections.
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// Whether PostgreSQL refused text a client sent: a NUL character (SQLSTATE 22021,
/// character_not_in_repertoire) or one the encoding lacks (22P05).
pub fn is_untextual(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().is_some_and(|c| matches!(c.as_ref(), "22021" | "22P05")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_changes_are_dated_and_explained() {
        let status = DbStatus::default();
        assert!(status.is_up());
        let before = status.state().since;
        std::thread::sleep(Duration::from_millis(5));
        status.set(false, "connection refused");
        let down = status.state();
        assert!(!down.up);
        assert_eq!(down.reason, "connection refused");
        assert!(down.since > before);
        status.set(false, "still refused");
        assert_eq!(status.state().since, down.since, "staying down keeps the time it went down");
        status.set(true, "");
        assert!(status.is_up());
        assert_eq!(status.state().reason, "");
    }

    #[test]
    fn unreachable_is_told_from_a_failed_statement() {
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        assert!(!is_unavailable(&sqlx::Error::ColumnNotFound("x".into())));
    }
}
