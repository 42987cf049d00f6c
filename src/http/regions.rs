//! `/api/regions`: the administrative regions, listed without geometry or one by one
//! as a GeoJSON Feature.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::extract::Query;
use super::AppState;
use crate::db;
use crate::export;
use crate::region::{RegionCode, RegionLevel};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(feature))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Level of the regions listed. Without it: every level, or with `parent` the level
    /// just below the parent.
    #[param(value_type = Option<RegionLevel>, inline, example = "kabupaten_kota")]
    level: Option<String>,
    /// A region code: only regions within this region are listed.
    #[param(value_type = Option<RegionCode>, inline, example = "73")]
    parent: Option<String>,
}

/// A region without its geometry.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handlers write, for the OpenAPI document")]
struct RegionSummary {
    kode: RegionCode,
    /// Official name (nama wilayah).
    #[schema(example = "Kota Makassar")]
    nama: String,
    level: RegionLevel,
    /// Code of the parent region (induk); null for a provinsi.
    #[schema(value_type = Option<RegionCode>, example = "73")]
    induk: Option<String>,
    /// Stable integer id of the region's map features: the code's digits (73.71 -> 7371).
    #[schema(example = 7371)]
    feature_id: i64,
    /// Bounding box `[west, south, east, north]`, degrees (EPSG:4326).
    #[schema(min_items = 4, max_items = 4)]
    bbox: [f64; 4],
    /// A point inside the region `[lon, lat]`, degrees (EPSG:4326), for labels.
    #[schema(min_items = 2, max_items = 2)]
    label_point: [f64; 2],
    /// Bounding box of the region's largest polygon `[west, south, east, north]`,
    /// degrees: its main part, without far islands (the map fits a region to it).
    #[schema(min_items = 4, max_items = 4)]
    main_bbox: [f64; 4],
    /// Area on the WGS 84 spheroid (luas), km².
    luas_km2: f64,
    /// Autonomous region (daerah otonom); false for Jakarta's six administrative units.
    otonom: bool,
    /// Elects its head (pilkada).
    pilkada: bool,
}

/// The answer of `GET /api/regions`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct RegionList {
    /// Number of regions listed.
    count: usize,
    /// The regions, in code order.
    regions: Vec<RegionSummary>,
}

/// A region as a GeoJSON Feature (RFC 7946).
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct RegionFeature {
    /// `Feature`.
    #[schema(pattern = "^Feature$", example = "Feature")]
    r#type: String,
    /// The region code.
    id: RegionCode,
    /// Bounding box `[west, south, east, north]`, degrees.
    #[schema(min_items = 4, max_items = 4)]
    bbox: [f64; 4],
    geometry: MultiPolygon,
    properties: RegionSummary,
}

/// A GeoJSON MultiPolygon, EPSG:4326 `[lon, lat]` to 7 decimals.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct MultiPolygon {
    /// `MultiPolygon`.
    #[schema(pattern = "^MultiPolygon$", example = "MultiPolygon")]
    r#type: String,
    /// Polygons, each a list of rings (exterior first), each a list of `[lon, lat]`.
    coordinates: Vec<Vec<Vec<[f64; 2]>>>,
}

/// List regions
///
/// Regions (wilayah) of a level, or within a parent region, without geometry, in code
/// order. With a parent and no level, the level just below the parent: the
/// kabupaten_kota of a provinsi, the kecamatan of a kabupaten_kota.
#[utoipa::path(
    get,
    path = "/api/regions",
    operation_id = "listRegions",
    tag = "regions",
    params(ListQuery),
    responses(
        (status = 200, description = "The regions.", body = RegionList),
        (status = 400, description = "Malformed `level` or `parent`, or an unknown query parameter.",
            body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No region has the `parent` code.", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).",
            body = Problem, content_type = PROBLEM_JSON),
    )
)]
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

/// One region with its boundary
///
/// The region as a GeoJSON Feature (`application/geo+json`): its boundary in EPSG:4326
/// to 7 decimals, its summary as properties.
#[utoipa::path(
    get,
    path = "/api/regions/{kode}",
    operation_id = "getRegion",
    tag = "regions",
    params(("kode" = inline(RegionCode), Path, description = "The region's code (kode wilayah).", example = "73.71")),
    responses(
        (status = 200, description = "The region.", body = RegionFeature, content_type = "application/geo+json"),
        (status = 400, description = "Malformed code.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No region has this code.", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).",
            body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn feature(State(state): State<AppState>, Path(kode): Path<String>) -> Result<Response, ApiError> {
    let code: RegionCode = kode.parse().map_err(|e: crate::region::MalformedCode| ApiError::InvalidParameter {
        param: "kode".into(),
        detail: e.to_string(),
    })?;
    let (summary, wkb) =
        db::regions::get(&state.pool, &code).await?.ok_or_else(|| ApiError::RegionNotFound(code.clone()))?;
    let geometry = db::wkb::read(&wkb).map_err(|e| ApiError::Internal(format!("boundary of {code}: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], region_feature(&summary, &geometry)).into_response())
}

/// The region as a GeoJSON Feature, written by the exports' writer (RFC 7946: right-hand
/// rule, 7 decimals without exponents, no repeated points), with the `bbox` of the
/// coordinates as written and the summary's degrees written the same way.
fn region_feature(summary: &db::regions::RegionSummary, geometry: &geo::Geometry<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * 1024);
    let json = |out: &mut Vec<u8>, value: &serde_json::Value| out.extend_from_slice(value.to_string().as_bytes());
    out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
    json(&mut out, &json!(summary.kode));
    let bbox = export::geojson_bbox(geometry).unwrap_or(summary.bbox);
    out.extend_from_slice(b",\"bbox\":");
    export::write_degrees(&mut out, &bbox);
    out.extend_from_slice(b",\"geometry\":");
    export::write_geojson_geometry(&mut out, geometry);
    out.extend_from_slice(b",\"properties\":{");
    let properties = serde_json::to_value(summary).unwrap_or_default();
    for (i, (key, value)) in properties.as_object().into_iter().flatten().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json(&mut out, &json!(key));
        out.push(b':');
        match key.as_str() {
            "bbox" => export::write_degrees(&mut out, &bbox),
            "label_point" => export::write_degrees(&mut out, &summary.label_point),
            _ => json(&mut out, value),
        }
    }
    out.extend_from_slice(b"}}");
    out
}
