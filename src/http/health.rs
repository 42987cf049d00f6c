//! `/healthz`: whether the server and its database answer, with the region counts.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::AppState;
use crate::db;
use crate::region::RegionLevel;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

/// The answer of a healthy server.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    status: String,
    /// Always `ok`: the database answered.
    #[schema(example = "ok")]
    database: String,
    /// Regions stored per level.
    #[schema(example = json!({"provinsi": 38, "kabupaten_kota": 514, "kecamatan": 7285}))]
    regions: BTreeMap<RegionLevel, u64>,
    /// The server's version.
    #[schema(example = "0.1.0")]
    version: String,
}

/// Health of the server and its database
///
/// Whether the server answers and reaches PostGIS, with the number of regions (wilayah)
/// stored per level.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "getHealth",
    tag = "health",
    responses(
        (status = 200, description = "The server and its database answer.", body = Health),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).",
            body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let counts = db::regions::count_by_level(&state.pool).await?;
    let regions: Map<String, Value> = counts.into_iter().map(|(level, n)| (level.to_string(), json!(n))).collect();
    Ok(Json(json!({ "status": "ok", "database": "ok", "regions": regions, "version": env!("CARGO_PKG_VERSION") })))
}
