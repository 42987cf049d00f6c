//! `/healthz` and `/readyz`: whether the server runs, and whether it can take writes
//! (its database answers). A server whose database is down keeps serving tiles, risk
//! and hotspots from memory: it is alive (healthz 200, `degraded`) but not ready.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::AppState;
use crate::region::RegionLevel;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// The database as the server last saw it.
#[derive(ToSchema)]
#[schema(as = DatabaseState)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct DatabaseBody {
    /// `ok` or `unavailable`.
    #[schema(example = "ok")]
    state: String,
    /// Since when (RFC 3339).
    #[schema(format = DateTime)]
    since: String,
    /// Why it is unavailable (absent when ok).
    reason: Option<String>,
}

/// The state of a running server.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct Health {
    /// `ok`, or `degraded` while the database is unavailable (served from memory,
    /// writes refused).
    #[schema(example = "ok")]
    status: String,
    database: DatabaseBody,
    /// Regions held in memory per level.
    #[schema(example = json!({"provinsi": 38, "kabupaten_kota": 514, "kecamatan": 7285}))]
    regions: BTreeMap<RegionLevel, u64>,
    /// Incidents held in memory.
    incidents: u64,
    /// Whether the tile geometry of every zoom is prepared (done in the background in
    /// the first seconds after start-up; until then tiles render more slowly).
    tiles_ready: bool,
    /// The server's version.
    #[schema(example = "0.1.0")]
    version: String,
}

fn health(state: &AppState) -> (bool, Value) {
    let db = state.db.state();
    let (regions, incidents) = {
        let engine = state.read();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for region in engine.index().regions() {
            *counts.entry(region.level.to_string()).or_default() += 1;
        }
        (counts, engine.incidents().len())
    };
    let regions: Map<String, Value> = regions.into_iter().map(|(level, n)| (level, json!(n))).collect();
    let mut database = json!({ "state": if db.up { "ok" } else { "unavailable" }, "since": db.since.to_rfc3339() });
    if !db.up {
        database["reason"] = json!(db.reason);
    }
    let body = json!({
        "status": if db.up { "ok" } else { "degraded" },
        "database": database,
        "regions": regions,
        "incidents": incidents,
        "tiles_ready": state.tiles.warm(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (db.up, body)
}

/// Health of the server
///
/// Whether the server runs: always 200 while it does, with the regions and incidents it
/// holds in memory and the state of its database. `status` is `degraded` while the
/// database is unavailable: tiles, risk and hotspots are still served, writes are
/// refused (503).
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "getHealth",
    tag = "health",
    responses(
        (status = 200, description = "The server runs.", body = Health),
    )
)]
async fn healthz(State(state): State<AppState>) -> Json<Value> {
    Json(health(&state).1)
}

/// Readiness for writes
///
/// 200 when the server can take writes (its database answers); 503 with Retry-After
/// while the database is unavailable, for a load balancer to send writes elsewhere.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "getReadiness",
    tag = "health",
    responses(
        (status = 200, description = "Ready: the database answers.", body = Health),
        (status = 503, description = "The database is unavailable; reads are served from memory.",
            body = Problem, content_type = PROBLEM_JSON,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))),
    )
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (up, body) = health(&state);
    if !up {
        return Err(super::security::database_down());
    }
    Ok(Json(body))
}
