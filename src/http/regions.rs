//! `/api/regions`: the administrative regions, listed without geometry or one by one
//! as a GeoJSON Feature.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::error::ApiError;
use super::extract::Query;
use super::AppState;
use crate::db;
use crate::region::{RegionCode, RegionLevel};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/regions", get(list)).route("/api/regions/{kode}", get(feature))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    level: Option<String>,
    parent: Option<String>,
}

/// `GET /api/regions?level=&parent=`: regions of a level, or within a parent's
/// subtree. With a parent and no level, the level just below the parent.
async fn list(State(state): State<AppState>, Query(query): Query<ListQuery>) -> Result<Response, ApiError> {
    let level = query
        .level
        .filter(|l| !l.is_empty())
        .map(|l| l.parse::<RegionLevel>())
        .transpose()
        .map_err(|e| ApiError::InvalidParameter { param: "level".into(), detail: e.to_string() })?;
    let parent = query
        .parent
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<RegionCode>())
        .transpose()
        .map_err(|e| ApiError::InvalidParameter { param: "parent".into(), detail: e.to_string() })?;
    let level = match (&parent, level) {
        (Some(parent), None) => match parent.level() {
            RegionLevel::Provinsi => Some(RegionLevel::KabupatenKota),
            RegionLevel::KabupatenKota | RegionLevel::Kecamatan => Some(RegionLevel::Kecamatan),
        },
        (_, level) => level,
    };
    if let Some(parent) = &parent {
        if !db::regions::exists(&state.pool, parent).await? {
            return Err(ApiError::RegionNotFound(parent.clone()));
        }
    }
    let regions = db::regions::list(&state.pool, level, parent.as_ref()).await?;
    Ok(Json(json!({ "count": regions.len(), "regions": regions })).into_response())
}

/// `GET /api/regions/{kode}`: one region as a GeoJSON Feature with its geometry.
async fn feature(State(state): State<AppState>, Path(kode): Path<String>) -> Result<Response, ApiError> {
    let code: RegionCode = kode.parse().map_err(|e: crate::region::MalformedCode| ApiError::InvalidParameter {
        param: "kode".into(),
        detail: e.to_string(),
    })?;
    let (summary, geometry) =
        db::regions::get(&state.pool, &code).await?.ok_or_else(|| ApiError::RegionNotFound(code.clone()))?;
    let geometry = RawValue::from_string(geometry).map_err(|e| ApiError::Database(sqlx::Error::Decode(e.into())))?;
    let body = json!({
        "type": "Feature",
        "id": summary.kode,
        "bbox": summary.bbox,
        "geometry": geometry,
        "properties": summary,
    });
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], Json(body)).into_response())
}
