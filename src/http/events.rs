//! `/api/events`: server-sent events of incident and risk-level changes, each reader
//! getting only what its scope lets it see (risk levels are for everyone; incidents
//! only within the reader's region), so that open maps update without reloading.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Auth, Token};
use super::error::{Problem, PROBLEM_JSON};
use super::AppState;
use crate::auth::{Revocation, Scope};
use crate::engine::regions::RegionId;
use crate::engine::risk::RiskLevel;
use crate::region::{RegionCode, RegionLevel};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(events))
}

/// A change, as streamed.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An incident was created, edited or deleted.
    Incident {
        /// create, update or delete.
        action: &'static str,
        /// The incident.
        id: i64,
        /// Its version after the change (unknown for a change relayed from another
        /// server).
        version: Option<i32>,
        /// Its district, regency/city and province codes.
        kode: [Option<RegionCode>; 3],
    },
    /// A region's risk level changed.
    Risk {
        /// The region.
        kode: RegionCode,
        /// Its name.
        nama: String,
        /// Its level.
        level: RegionLevel,
        /// The new risk level.
        risk_level: RiskLevel,
        /// The one before.
        previous: RiskLevel,
    },
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Incident { .. } => "incident",
            Event::Risk { .. } => "risk",
        }
    }

    fn visible_to(&self, scope: &Scope) -> bool {
        match self {
            Event::Incident { kode, .. } => scope.covers(&[kode[0].as_ref(), kode[1].as_ref(), kode[2].as_ref()]),
            Event::Risk { .. } => true,
        }
    }
}

/// Publishes risk-level changes as `risk` events.
pub fn level_listener(events: broadcast::Sender<Event>) -> crate::tiles::LevelListener {
    Box::new(move |engine: &crate::engine::Engine, levels: &[(RegionId, RiskLevel, RiskLevel)]| {
        for &(id, before, after) in levels {
            let region = engine.index().region(id);
            let _ = events.send(Event::Risk {
                kode: region.code.clone(),
                nama: region.name.clone(),
                level: region.level,
                risk_level: after,
                previous: before,
            });
        }
    })
}

/// Live changes
///
/// Server-sent events (`text/event-stream`): `incident` (`{"type":"incident","action":
/// "create|update|delete","id","version","kode":[district,regency,province]}`) within
/// the reader's scope (none without a token), and `risk` (`{"type":"risk","kode","nama",
/// "level","risk_level","previous"}`) for every reader. A `resync` event means events
/// were missed: reload. A `revoked` event ends the stream when its token stops working
/// (logged out or its user disabled, on any server, or expired): log in again. A
/// comment every 15 s keeps the connection open.
#[utoipa::path(
    get,
    path = "/api/events",
    operation_id = "events",
    tag = "events",
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The event stream.", content_type = "text/event-stream", body = String),
        (status = 401, description = "An invalid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn events(State(state): State<AppState>, auth: Auth) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let reader = Reader {
        scope: crate::auth::read_scope(auth.0.as_ref()),
        token: auth.0.as_ref().zip(auth.1).map(|(caller, token)| (caller.id, token)),
        events: state.events.subscribe(),
        revocations: state.tokens.revocations(),
        pool: state.pool.clone(),
        ended: false,
    };
    let stream = futures::stream::unfold(reader, |mut reader| async move {
        let event = reader.next().await?;
        Some((Ok(event), reader))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// One reader's stream: the events its scope lets it see, until its token stops
/// working (revoked on any server, its user disabled, or expired), when a last
/// `revoked` event ends it.
struct Reader {
    scope: Scope,
    /// The reader's user and token, if it has one.
    token: Option<(i64, Token)>,
    events: broadcast::Receiver<Event>,
    revocations: broadcast::Receiver<Revocation>,
    pool: sqlx::PgPool,
    ended: bool,
}

impl Reader {
    async fn next(&mut self) -> Option<SseEvent> {
        if self.ended {
            return None;
        }
        loop {
            let expiry = self.token.as_ref().map(|(_, t)| t.expires_at);
            let expires = async {
                match expiry.and_then(|at| (at - chrono::Utc::now()).to_std().ok()) {
                    Some(left) => tokio::time::sleep(left).await,
                    None if expiry.is_some() => {}
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = self.events.recv() => match event {
                    Ok(event) if event.visible_to(&self.scope) => {
                        return Some(
                            SseEvent::default()
                                .event(event.name())
                                .json_data(&event)
                                .unwrap_or_else(|_| SseEvent::default().comment("unserialisable event")),
                        );
                    }
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some(SseEvent::default().event("resync").data("{}"));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                revoked = self.revocations.recv(), if self.token.is_some() => {
                    let revoked = revoked.unwrap_or(Revocation::Unknown);
                    if self.still_valid(&revoked).await {
                        continue;
                    }
                    return Some(self.end());
                }
                () = expires => return Some(self.end()),
            }
        }
    }

    /// Whether the reader's token survives a revocation (asking the database when the
    /// revocation does not say).
    async fn still_valid(&self, revoked: &Revocation) -> bool {
        let Some((user, token)) = &self.token else { return true };
        match revoked.covers(&token.hash, *user) {
            Some(covered) => !covered,
            // A database that cannot answer now says nothing about the token: it is
            // checked again at the next revocation or when the stream reconnects.
            None => !matches!(crate::db::users::caller_for_token(&self.pool, &token.hash).await, Ok(None)),
        }
    }

    fn end(&mut self) -> SseEvent {
        self.ended = true;
        SseEvent::default().event("revoked").data(r#"{"type":"revoked"}"#)
    }
}
