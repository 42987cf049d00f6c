//! `/healthz`: whether the server and its database answer, with the region counts.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::AppState;
use crate::db;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let counts = db::regions::count_by_level(&state.pool).await?;
    let regions: Map<String, Value> = counts.into_iter().map(|(level, n)| (level.to_string(), json!(n))).collect();
    Ok(Json(json!({ "status": "ok", "database": "ok", "regions": regions, "version": env!("CARGO_PKG_VERSION") })))
}
