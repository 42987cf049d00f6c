//! The incident list: `GET /api/incidents`, filtered, scoped and cursor-paginated.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::schema::IncidentPage;
use super::MAX_LIMIT;
use crate::engine::risk::RiskLevel;
use crate::http::auth::Auth;
use crate::http::error::{ApiError, Problem, PROBLEM_JSON};
use crate::http::extract::Query;
use crate::http::AppState;
use crate::incidents::geojson::feature;
use crate::incidents::Filter;
use crate::ingest::incidents::parse_time;
use crate::region::RegionCode;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// `west,south,east,north` in degrees.
    #[param(example = "119.3,-5.3,119.6,-5.0")]
    bbox: Option<String>,
    /// A region code: incidents within it (its whole subtree).
    #[param(value_type = Option<RegionCode>, inline, example = "73.71")]
    kode: Option<String>,
    /// Only incidents in regencies/cities at this risk level now.
    #[param(value_type = Option<RiskLevel>, inline, example = "kuning")]
    level: Option<String>,
    /// Categories, comma-separated.
    #[param(example = "antar_kelompok,agraria")]
    category: Option<String>,
    /// Statuses, comma-separated.
    #[param(example = "potensi,terjadi")]
    status: Option<String>,
    /// Lowest severity.
    #[param(value_type = Option<u8>, minimum = 1, maximum = 5, example = 2)]
    severity_min: Option<String>,
    /// Highest severity.
    #[param(value_type = Option<u8>, minimum = 1, maximum = 5, example = 5)]
    severity_max: Option<String>,
    /// Occurred at or after: an RFC 3339 time or a date (midnight WIB).
    #[param(example = "2026-11-01")]
    from: Option<String>,
    /// Occurred before: an RFC 3339 time or a date (midnight WIB).
    #[param(example = "2026-12-01T00:00:00+07:00")]
    to: Option<String>,
    /// Text in the description (case-insensitive), at most 200 characters.
    #[param(max_length = 200, example = "lahan")]
    q: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(example = "1234")]
    cursor: Option<String>,
}

fn bad(param: &str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidParameter { param: param.into(), detail: detail.into() }
}

fn list_of<T: std::str::FromStr<Err = String>>(param: &str, v: Option<&str>) -> Result<Vec<T>, ApiError> {
    v.filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(|s| s.trim().parse::<T>().map_err(|e| bad(param, e))).collect())
        .unwrap_or(Ok(Vec::new()))
}

fn severity_param(param: &str, v: Option<&str>) -> Result<Option<u8>, ApiError> {
    v.filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u8>()
                .ok()
                .filter(|s| (1..=5).contains(s))
                .ok_or_else(|| bad(param, format!("{v:?} is not 1 to 5")))
        })
        .transpose()
}

/// List incidents
///
/// Incidents within the caller's scope, newest first, as a GeoJSON FeatureCollection of
/// at most `limit` (maximum 1000) with `next_cursor` for the next page (stable: by id,
/// descending).
#[utoipa::path(
    get,
    path = "/api/incidents",
    operation_id = "listIncidents",
    tag = "incidents",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of incidents.", body = IncidentPage, content_type = "application/geo+json"),
        (status = 400, description = "A malformed filter, or an unknown query parameter.", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
pub(super) async fn list(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let mut filter = Filter::default();
    if let Some(bbox) = q.bbox.as_deref().filter(|v| !v.is_empty()) {
        let n: Vec<f64> = bbox.split(',').filter_map(|v| v.trim().parse::<f64>().ok()).collect();
        match n.as_slice() {
            &[w, s, e, n]
                if [w, s, e, n].iter().all(|v| v.is_finite())
                    && w <= e
                    && s <= n
                    && (-180.0..=180.0).contains(&w)
                    && (-180.0..=180.0).contains(&e)
                    && (-90.0..=90.0).contains(&s)
                    && (-90.0..=90.0).contains(&n) =>
            {
                filter.bbox = Some([w, s, e, n]);
            }
            _ => return Err(bad("bbox", format!("{bbox:?} is not west,south,east,north in degrees"))),
        }
    }
    if let Some(code) = q.kode.as_deref().filter(|v| !v.is_empty()) {
        filter.region = Some(code.parse().map_err(|e: crate::region::MalformedCode| bad("kode", e.to_string()))?);
    }
    if let Some(level) = q.level.as_deref().filter(|v| !v.is_empty()) {
        let wanted = match level {
            "hijau" => crate::engine::risk::RiskLevel::Hijau,
            "kuning" => crate::engine::risk::RiskLevel::Kuning,
            "merah" => crate::engine::risk::RiskLevel::Merah,
            _ => return Err(bad("level", format!("{level:?} is not hijau, kuning or merah"))),
        };
        let engine = state.read();
        let current = engine.current();
        filter.regencies = Some(
            engine
                .index()
                .level_ids(crate::region::RegionLevel::KabupatenKota)
                .into_iter()
                .filter(|&id| current.standings[id as usize].level == wanted)
                .map(|id| engine.index().region(id).code.to_string())
                .collect(),
        );
    }
    filter.categories = list_of("category", q.category.as_deref())?;
    filter.statuses = list_of("status", q.status.as_deref())?;
    filter.severity_min = severity_param("severity_min", q.severity_min.as_deref())?;
    filter.severity_max = severity_param("severity_max", q.severity_max.as_deref())?;
    let time = |param: &str, v: Option<&str>| {
        // A date as `to` includes that whole day.
        let parse = if param == "to" { crate::ingest::incidents::parse_time_end } else { parse_time };
        v.filter(|v| !v.is_empty()).map(|v| parse(v).map_err(|e| bad(param, e))).transpose()
    };
    filter.from = time("from", q.from.as_deref())?;
    filter.to = time("to", q.to.as_deref())?;
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(bad("from", "from lies after to"));
        }
    }
    filter.text = q.q.filter(|v| !v.is_empty());
    if filter.text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(bad("q", "at most 200 characters"));
    }
    let limit = match q.limit.as_deref().filter(|v| !v.is_empty()) {
        None => 100,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| bad("limit", format!("{v:?} is not 1 to {MAX_LIMIT}")))?,
    };
    filter.before_id = match q.cursor.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>().ok().filter(|&c| c > 0).ok_or_else(|| bad("cursor", "not a cursor this server gave"))?,
        ),
    };
    let scope = caller.read_scope();
    let records = state.incidents().list(&scope, &filter, limit + 1).await?;
    let more = records.len() as i64 > limit;
    let page = &records[..records.len().min(limit as usize)];
    let next = if more { page.last().map(|r| r.id.to_string()) } else { None };
    let body = json!({
        "type": "FeatureCollection",
        "features": page.iter().map(feature).collect::<Vec<_>>(),
        "count": page.len(),
        "next_cursor": next,
    });
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], Json(body)).into_response())
}
