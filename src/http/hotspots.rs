//! `/api/hotspots` (Gi* per region) and `/api/hotspots/clusters` (DBSCAN clusters of
//! incident locations as GeoJSON).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use geo::Polygon;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::Query;
use super::risk::{parse_days, parse_level, window};
use super::AppState;
use crate::engine::hotspots::DEFAULT_K;
use crate::engine::WeightsKind;
use crate::incident::Category;
use crate::region::RegionLevel;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/hotspots", get(gi)).route("/api/hotspots/clusters", get(clusters))
}

fn invalid(param: &str, detail: String) -> ApiError {
    ApiError::InvalidParameter { param: param.into(), detail }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GiQuery {
    level: Option<String>,
    window: Option<String>,
    weights: Option<String>,
    k: Option<String>,
    fdr: Option<String>,
}

/// `GET /api/hotspots?level=&window=&weights=queen|knn&k=&fdr=`: Getis-Ord Gi* of every
/// region of a level on its score: z, two-sided p, and a bin from -3 (cold, 99 %) to +3
/// (hot, 99 %).
async fn gi(State(state): State<AppState>, Query(q): Query<GiQuery>) -> Result<Json<Value>, ApiError> {
    let level = parse_level(q.level.as_deref(), RegionLevel::KabupatenKota)?;
    let days = parse_days("window", q.window.as_deref())?;
    let k = match q.k.as_deref().filter(|k| !k.is_empty()) {
        None => DEFAULT_K,
        Some(k) => k
            .parse()
            .ok()
            .filter(|k| (1..=50).contains(k))
            .ok_or_else(|| invalid("k", format!("{k:?} is not a whole number from 1 to 50")))?,
    };
    let kind = match q.weights.as_deref().unwrap_or("queen") {
        "queen" | "" => WeightsKind::Queen,
        "knn" => WeightsKind::Knn(k),
        other => return Err(invalid("weights", format!("{other:?} is not queen or knn"))),
    };
    let fdr = match q.fdr.as_deref().unwrap_or("false") {
        "true" | "1" => true,
        "false" | "0" | "" => false,
        other => return Err(invalid("fdr", format!("{other:?} is not true or false"))),
    };
    let body = tokio::task::spawn_blocking(move || {
        let engine = state.read();
        let window = window(&engine, days);
        let snapshot = engine.snapshot(window);
        let results = engine.hotspots(level, &snapshot, kind, fdr);
        let regions: Vec<Value> = results
            .iter()
            .map(|h| {
                let region = engine.index().region(h.id);
                json!({ "kode": region.code, "nama": region.name, "value": h.value, "z": h.gi.z, "p": h.gi.p, "bin": h.gi.bin })
            })
            .collect();
        json!({
            "level": level,
            "window": { "days": window.days },
            "weights": match kind { WeightsKind::Queen => json!({"type": "queen"}), WeightsKind::Knn(k) => json!({"type": "knn", "k": k}) },
            "fdr": fdr,
            "statistic": "Getis-Ord Gi* (binary weights including the region itself) on the risk score",
            "count": regions.len(),
            "regions": regions,
        })
    })
    .await
    .map_err(|_| ApiError::Internal("hotspot task failed".into()))?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterQuery {
    window: Option<String>,
    eps_m: Option<String>,
    min_points: Option<String>,
}

/// `GET /api/hotspots/clusters?window=&eps_m=&min_points=`: DBSCAN clusters of the
/// incidents in the window as a GeoJSON FeatureCollection of hull polygons with their
/// count, dominant category and highest severity.
async fn clusters(State(state): State<AppState>, Query(q): Query<ClusterQuery>) -> Result<Response, ApiError> {
    let days = parse_days("window", q.window.as_deref())?;
    let eps_m = match q.eps_m.as_deref().filter(|v| !v.is_empty()) {
        None => 5_000.0,
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|e| e.is_finite() && *e > 0.0 && *e <= 100_000.0)
            .ok_or_else(|| invalid("eps_m", format!("{v:?} is not a distance in metres from 0 to 100000")))?,
    };
    let min_points = match q.min_points.as_deref().filter(|v| !v.is_empty()) {
        None => 5,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=100_000).contains(m))
            .ok_or_else(|| invalid("min_points", format!("{v:?} is not a whole number from 1 to 100000")))?,
    };
    let body = tokio::task::spawn_blocking(move || {
        let engine = state.read();
        let window = window(&engine, days);
        let features: Vec<Value> = engine
            .clusters(window, eps_m, min_points)
            .into_iter()
            .enumerate()
            .map(|(i, (cluster, members))| {
                let mut per_category = [0u32; 7];
                for m in &members {
                    per_category[m.category.index()] += 1;
                }
                let dominant = Category::dominant(&per_category);
                let max_severity = members.iter().map(|m| m.severity.get()).max().unwrap_or(0);
                json!({
                    "type": "Feature",
                    "id": i + 1,
                    "geometry": polygon_json(&cluster.hull),
                    "properties": {
                        "count": cluster.count,
                        "dominant_category": dominant,
                        "max_severity": max_severity,
                        "centroid": [cluster.centroid.x(), cluster.centroid.y()],
                    }
                })
            })
            .collect();
        json!({
            "type": "FeatureCollection",
            "features": features,
            "parameters": { "window_days": window.days, "eps_m": eps_m, "min_points": min_points },
        })
    })
    .await
    .map_err(|_| ApiError::Internal("cluster task failed".into()))?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], Json(body)).into_response())
}

/// A polygon as GeoJSON, counter-clockwise exterior (RFC 7946 right-hand rule), 7
/// decimals.
fn polygon_json(polygon: &Polygon<f64>) -> Value {
    use geo::orient::{Direction, Orient};
    let oriented = polygon.orient(Direction::Default);
    let ring = |r: &geo::LineString<f64>| -> Vec<[f64; 2]> { r.0.iter().map(|c| [round7(c.x), round7(c.y)]).collect() };
    let mut rings = vec![ring(oriented.exterior())];
    rings.extend(oriented.interiors().iter().map(ring));
    json!({ "type": "Polygon", "coordinates": rings })
}

fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}
