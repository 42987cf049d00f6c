//! `/api/hotspots` (Gi* per region) and `/api/hotspots/clusters` (DBSCAN clusters of
//! incident locations as GeoJSON).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use axum::Json;
use geo::Polygon;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::extract::Query;
use super::negotiate::accepts_gzip;
use super::openapi_common::ComputeFailure;
use super::risk::{kept_answer, parse_days, parse_level, window};
use super::AppState;
use crate::engine::hotspots::DEFAULT_K;
use crate::engine::WeightsKind;
use crate::incident::Category;
use crate::region::{RegionCode, RegionLevel};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(gi)).routes(routes!(clusters))
}

fn invalid(param: &str, detail: String) -> ApiError {
    ApiError::InvalidParameter { param: param.into(), detail }
}

/// `weights=` and `k=`: queen contiguity, or the `k` nearest centroids.
pub(super) fn parse_weights(weights: Option<&str>, k: Option<&str>) -> Result<WeightsKind, ApiError> {
    let k = match k.filter(|k| !k.is_empty()) {
        None => DEFAULT_K,
        Some(k) => k
            .parse()
            .ok()
            .filter(|k| (1..=50).contains(k))
            .ok_or_else(|| invalid("k", format!("{k:?} is not a whole number from 1 to 50")))?,
    };
    match weights.unwrap_or("queen") {
        "queen" | "" => Ok(WeightsKind::Queen),
        "knn" => Ok(WeightsKind::Knn(k)),
        other => Err(invalid("weights", format!("{other:?} is not queen or knn"))),
    }
}

/// `fdr=`: `true`/`1` or `false`/`0`.
pub(super) fn parse_fdr(fdr: Option<&str>) -> Result<bool, ApiError> {
    match fdr.unwrap_or("false") {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        other => Err(invalid("fdr", format!("{other:?} is not true or false"))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct GiQuery {
    /// Level of the regions.
    #[param(value_type = Option<RegionLevel>, inline, default = "kabupaten_kota")]
    level: Option<String>,
    /// Length of the window in days, ending now; `30d` is read as 30. Default: the risk
    /// model's `window_days` (90 unless the model file changes it).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660, default = 90, example = 30)]
    window: Option<String>,
    /// Spatial weights: `queen` contiguity (boundaries touching within 1e-4 degrees) or
    /// the `k` nearest centroids (`knn`).
    #[param(value_type = Option<WeightsName>, inline, default = "queen")]
    weights: Option<String>,
    /// Number of neighbours with `weights=knn`.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50, default = json!(DEFAULT_K))]
    k: Option<String>,
    /// Benjamini-Hochberg false-discovery-rate correction of the bins (`1` and `0` are
    /// read as true and false).
    #[param(value_type = Option<bool>, default = false)]
    fdr: Option<String>,
}

/// Spatial weights by name, as `weights=` takes them and `weights.type` reports them.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "describes the names the handler reads and writes, for the OpenAPI document")]
pub(super) enum WeightsName {
    /// Queen contiguity.
    Queen,
    /// k nearest neighbours.
    Knn,
}

/// The window of a hotspot analysis.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct HotspotWindow {
    /// Length in days, ending now.
    days: u32,
}

/// The spatial weights used.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct Weights {
    r#type: WeightsName,
    /// Number of neighbours, with `knn` only.
    #[schema(nullable = false)]
    k: Option<usize>,
}

/// A region's Gi* result.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct HotspotRegion {
    kode: RegionCode,
    /// Official name.
    nama: String,
    /// The value analysed: the region's risk score in the window.
    value: f64,
    /// Gi* standard score: positive where high scores cluster, negative where low ones do.
    z: f64,
    /// Two-sided p-value of `z`.
    #[schema(minimum = 0, maximum = 1)]
    p: f64,
    /// +3/+2/+1: hot spot at 99/95/90 % confidence; -3/-2/-1: cold spot; 0: not significant.
    #[schema(minimum = -3, maximum = 3)]
    bin: i8,
}

/// The answer of `GET /api/hotspots`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct Hotspots {
    level: RegionLevel,
    window: HotspotWindow,
    weights: Weights,
    /// Whether the bins were corrected for the false-discovery rate.
    fdr: bool,
    /// What was computed, in words.
    statistic: String,
    /// Number of regions.
    count: usize,
    /// Every region of the level.
    regions: Vec<HotspotRegion>,
}

/// A GeoJSON Polygon, EPSG:4326 `[lon, lat]` to 7 decimals, exterior counter-clockwise.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct PolygonGeometry {
    /// `Polygon`.
    #[schema(pattern = "^Polygon$", example = "Polygon")]
    r#type: String,
    /// Rings (exterior first), each a list of `[lon, lat]`.
    coordinates: Vec<Vec<[f64; 2]>>,
}

/// What a cluster holds.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct ClusterProperties {
    /// Number of incidents.
    count: usize,
    /// The most frequent category among them.
    dominant_category: Category,
    /// The highest severity among them.
    #[schema(minimum = 1, maximum = 5)]
    max_severity: u8,
    /// Mean position `[lon, lat]`, degrees.
    #[schema(min_items = 2, max_items = 2)]
    centroid: [f64; 2],
}

/// A DBSCAN cluster as a GeoJSON Feature: the hull of its incidents.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct ClusterFeature {
    /// `Feature`.
    #[schema(pattern = "^Feature$", example = "Feature")]
    r#type: String,
    /// Cluster number, from 1.
    #[schema(minimum = 1)]
    id: usize,
    /// Convex hull of the incidents, or a small square around a degenerate cluster.
    geometry: PolygonGeometry,
    properties: ClusterProperties,
}

/// The parameters a clustering ran with.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct ClusterParameters {
    /// Window in days, ending now.
    window_days: u32,
    /// Neighbourhood radius, metres.
    eps_m: f64,
    /// Least number of incidents within `eps_m` of a core point.
    min_points: usize,
}

/// The answer of `GET /api/hotspots/clusters`: a GeoJSON FeatureCollection.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct ClusterCollection {
    /// `FeatureCollection`.
    #[schema(pattern = "^FeatureCollection$", example = "FeatureCollection")]
    r#type: String,
    features: Vec<ClusterFeature>,
    parameters: ClusterParameters,
}

/// Hot and cold spots of regions (Getis-Ord Gi*)
///
/// Getis-Ord Gi* of every region of a level on its risk score (binary weights including
/// the region itself): z, two-sided p, and a bin from -3 (cold spot, 99 %) to +3 (hot
/// spot, 99 %), 0 when not significant.
#[utoipa::path(
    get,
    path = "/api/hotspots",
    operation_id = "getHotspots",
    tag = "hotspots",
    params(GiQuery),
    responses(
        (status = 200, description = "Gi* of every region of the level.", body = Hotspots),
        (status = 400, description = "Malformed `level`, `window`, `weights`, `k` or `fdr`, or an unknown query \
            parameter.", body = Problem, content_type = PROBLEM_JSON),
        ComputeFailure,
    )
)]
async fn gi(State(state): State<AppState>, Query(q): Query<GiQuery>) -> Result<Json<Value>, ApiError> {
    let level = parse_level(q.level.as_deref(), RegionLevel::KabupatenKota)?;
    let days = parse_days("window", q.window.as_deref())?;
    let kind = parse_weights(q.weights.as_deref(), q.k.as_deref())?;
    let fdr = parse_fdr(q.fdr.as_deref())?;
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ClusterQuery {
    /// Length of the window in days, ending now; `30d` is read as 30. Default: the risk
    /// model's `window_days` (90 unless the model file changes it).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660, default = 90, example = 30)]
    window: Option<String>,
    /// DBSCAN neighbourhood radius in metres (above 0).
    #[param(value_type = Option<f64>, exclusive_minimum = 0, maximum = 100_000, default = 5000)]
    eps_m: Option<String>,
    /// DBSCAN: least number of incidents within `eps_m` of a core point.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100_000, default = 5)]
    min_points: Option<String>,
}

/// Clusters of incidents (DBSCAN)
///
/// DBSCAN clusters of the locations of the incidents (kejadian) in the window, as a
/// GeoJSON FeatureCollection (`application/geo+json`) of hull polygons with their
/// count, dominant category and highest severity. Kept for each window and parameters
/// until the engine changes; gzip when the client accepts it.
#[utoipa::path(
    get,
    path = "/api/hotspots/clusters",
    operation_id = "getHotspotClusters",
    tag = "hotspots",
    params(ClusterQuery),
    responses(
        (status = 200, description = "The clusters.", body = ClusterCollection, content_type = "application/geo+json"),
        (status = 400, description = "Malformed `window`, `eps_m` or `min_points`, or an unknown query parameter.",
            body = Problem, content_type = PROBLEM_JSON),
        ComputeFailure,
    )
)]
async fn clusters(
    State(state): State<AppState>,
    Query(q): Query<ClusterQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
    let key = ClusterKey { days, eps_bits: eps_m.to_bits(), min_points };
    let gzip = accepts_gzip(&headers);
    // Computed once per key until the engine changes.
    let answer = kept_answer(state, |s| &s.clusters, key, clusters_json).await?;
    let mut response = answer.response(gzip);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    Ok(response)
}

/// What an answer of `/api/hotspots/clusters` depends on besides the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterKey {
    days: Option<u32>,
    eps_bits: u64,
    min_points: usize,
}

/// The clusters of `key` as the GeoJSON of `/api/hotspots/clusters`.
fn clusters_json(state: &AppState, key: ClusterKey) -> Vec<u8> {
    let (eps_m, min_points) = (f64::from_bits(key.eps_bits), key.min_points);
    let engine = state.read();
    let window = window(&engine, key.days);
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
    let body = json!({
        "type": "FeatureCollection",
        "features": features,
        "parameters": { "window_days": window.days, "eps_m": eps_m, "min_points": min_points },
    });
    serde_json::to_vec(&body).unwrap_or_default()
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
