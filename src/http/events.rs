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

use super::auth::Auth;
use super::error::{Problem, PROBLEM_JSON};
use super::AppState;
use crate::auth::Scope;
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
/// were missed: reload. A comment every 15 s keeps the connection open.
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
    let scope = crate::auth::read_scope(auth.0.as_ref());
    let receiver = state.events.subscribe();
    let stream = futures::stream::unfold((receiver, scope), |(mut receiver, scope)| async move {
        loop {
            match receiver.recv().await {
                Ok(event) if event.visible_to(&scope) => {
                    let sse = SseEvent::default()
                        .event(event.name())
                        .json_data(&event)
                        .unwrap_or_else(|_| SseEvent::default().comment("unserialisable event"));
                    return Some((Ok(sse), (receiver, scope)));
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some((Ok(SseEvent::default().event("resync").data("{}")), (receiver, scope)));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
