//! `/api/risk` and `/api/regions/{kode}/risk`: every region's level for a window, and
//! one region's explanation and daily history.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::extract::Query;
use super::AppState;
use crate::engine::risk::DAY;
use crate::engine::store::Window;
use crate::engine::{day_string, Engine};
use crate::incident::{Category, Status};
use crate::region::{RegionCode, RegionLevel};

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/risk", get(all)).route("/api/regions/{kode}/risk", get(one))
}

/// Longest window and history, in days.
const MAX_DAYS: u32 = 3660;

/// Parses a window in days (`30` or `30d`), 1..=3660.
pub(super) fn parse_days(param: &str, value: Option<&str>) -> Result<Option<u32>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    value.trim_end_matches('d').parse::<u32>().ok().filter(|d| (1..=MAX_DAYS).contains(d)).map(Some).ok_or_else(|| {
        ApiError::InvalidParameter {
            param: param.into(),
            detail: format!("{value:?} is not a number of days from 1 to {MAX_DAYS}"),
        }
    })
}

/// The window asked for: `days` (default: the model's) ending now.
pub(super) fn window(engine: &Engine, days: Option<u32>) -> Window {
    Window { as_of: chrono::Utc::now().timestamp(), days: days.unwrap_or(engine.model().window_days) }
}

pub(super) fn parse_level(value: Option<&str>, default: RegionLevel) -> Result<RegionLevel, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e: crate::region::UnknownLevel| ApiError::InvalidParameter {
            param: "level".into(),
            detail: e.to_string(),
        }),
    }
}

fn counts(stats: &crate::engine::store::RegionStats) -> Value {
    let by_category: Map<String, Value> =
        Category::ALL.iter().map(|c| (c.as_str().to_owned(), json!(stats.by_category[c.index()]))).collect();
    let by_status: Map<String, Value> =
        Status::ALL.iter().map(|s| (s.as_str().to_owned(), json!(stats.by_status[s.index()]))).collect();
    json!({ "total": stats.count, "kategori": by_category, "status": by_status, "keparahan_maks": stats.max_severity() })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllQuery {
    level: Option<String>,
    window: Option<String>,
}

/// `GET /api/risk?level=&window=`: every region of a level with its level, score and
/// counts for the window (default: the model's window, ending now).
async fn all(State(state): State<AppState>, Query(q): Query<AllQuery>) -> Result<Json<Value>, ApiError> {
    let level = parse_level(q.level.as_deref(), RegionLevel::KabupatenKota)?;
    let days = parse_days("window", q.window.as_deref())?;
    // Another window means a pass over every incident: off the async threads.
    tokio::task::spawn_blocking(move || risk_of_level(&state, level, days))
        .await
        .map_err(|_| ApiError::Internal("risk task failed".into()))?
}

fn risk_of_level(state: &AppState, level: RegionLevel, days: Option<u32>) -> Result<Json<Value>, ApiError> {
    let engine = state.read();
    let window = window(&engine, days);
    let fresh;
    let snapshot = if window.days == engine.current().window.days && window.as_of - engine.current().window.as_of < 60 {
        engine.current()
    } else {
        fresh = engine.snapshot(window);
        &fresh
    };
    let index = engine.index();
    let regions: Vec<Value> = index
        .level_ids(level)
        .into_iter()
        .map(|id| {
            let region = index.region(id);
            let standing = snapshot.standings[id as usize];
            json!({
                "kode": region.code,
                "nama": region.name,
                "risk_level": standing.level,
                "score": standing.score,
                "counts": counts(&snapshot.stats[id as usize]),
            })
        })
        .collect();
    Ok(Json(json!({
        "level": level,
        "window": { "days": snapshot.window.days, "as_of": rfc3339(snapshot.window.as_of) },
        "count": regions.len(),
        "regions": regions,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneQuery {
    window: Option<String>,
    history_days: Option<String>,
}

/// `GET /api/regions/{kode}/risk?window=&history_days=`: the explanation of a region's
/// level (every contributing incident and indicator, every rule; the parts sum to the
/// score) and its daily level history (default 90 days).
async fn one(
    State(state): State<AppState>,
    Path(kode): Path<String>,
    Query(q): Query<OneQuery>,
) -> Result<Json<Value>, ApiError> {
    let code: RegionCode = kode.parse().map_err(|e: crate::region::MalformedCode| ApiError::InvalidParameter {
        param: "kode".into(),
        detail: e.to_string(),
    })?;
    let days = parse_days("window", q.window.as_deref())?;
    let history_days = parse_days("history_days", q.history_days.as_deref())?.unwrap_or(90);
    let body = tokio::task::spawn_blocking(move || {
        let engine = state.read();
        let id = engine.index().id(&code).ok_or_else(|| ApiError::RegionNotFound(code.clone()))?;
        let window = window(&engine, days);
        let explanation = engine.explain(id, window);
        let history = engine.history(id, history_days, window.as_of);
        let region = engine.index().region(id);
        Ok::<_, ApiError>(json!({
            "kode": region.code,
            "nama": region.name,
            "level": region.level,
            "window": { "days": window.days, "as_of": rfc3339(window.as_of) },
            "risk_level": explanation.assessment.level,
            "score": explanation.assessment.score,
            "counts": counts(&explanation.stats),
            "explanation": explanation,
            "history": history,
        }))
    })
    .await
    .map_err(|_| ApiError::Internal("risk explanation task failed".into()))??;
    Ok(Json(body))
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_else(|| day_string(t / DAY * DAY))
}
