//! `/ogc`: OGC API - Features - Part 1: Core (with the GeoJSON and OpenAPI 3.0
//! conformance classes) over the export layers: one collection per region level, the
//! incidents (within the caller's scope; none without a token) and the Gi* hotspots of
//! the regencies. JSON only (`f=json`). Pages with `limit` (default 10, at most 10,000)
//! and `offset`, linked by `next` and `prev`.

mod collections;
mod openapi30;
mod query;

use collections::{collection_of, Collection, COLLECTIONS};

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use geo::BoundingRect;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::extract::Query;
use super::openapi_common::problem_responses;
use super::tiles::origin;
use super::AppState;
use crate::auth::read_scope;
use crate::export::{self, Collected, Feature, Filter, FilterText, Layer, Page, Sources, ATTRIBUTION};
use crate::region::RegionLevel;

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "ogc", description = "OGC API - Features - Part 1: Core: regions of each level with their \
    risk, incidents and Gi* hotspots as feature collections for GIS clients (QGIS, ArcGIS, GDAL's OAPIF driver).")))]
struct OgcDoc;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<OgcDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(landing))
        .routes(routes!(landing_slash))
        .routes(routes!(conformance))
        .routes(routes!(api))
        .routes(routes!(collections))
        .routes(routes!(collection))
        .routes(routes!(items))
        .routes(routes!(item))
        .routes(routes!(queryables))
        .layer(super::gzip())
}

const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
const OPENAPI_30: &str = "application/vnd.oai.openapi+json;version=3.0";

/// The conformance classes this service meets.
const CONFORMANCE: [&str; 3] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

fn bad(param: &str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidParameter { param: param.into(), detail: detail.into() }
}

/// Only JSON is served: `f` may be absent or `json`.
fn check_f(f: Option<&str>) -> Result<(), ApiError> {
    match f {
        None | Some("" | "json" | "geojson" | "application/json" | "application/geo+json") => Ok(()),
        Some(other) => Err(bad("f", format!("{other:?} is not offered; this service answers json only"))),
    }
}

fn json_response(content_type: &'static str, body: &Value) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body.to_string()).into_response()
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

fn sources(state: &AppState, auth: &Auth) -> Sources {
    Sources { pool: state.pool.clone(), engine: Some(state.engine.clone()), scope: read_scope(auth.0.as_ref()) }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct FormatQuery {
    /// Output format: `json` only.
    #[param(value_type = Option<String>, default = "json")]
    f: Option<String>,
}

problem_responses!(
    /// A format other than JSON asked for, or a parameter the operation does not take.
    FormatRefusal {
        "400" => "`f` other than json, or an unknown query parameter.",
    }
);

problem_responses!(
    /// A token given that does not hold (none is needed to read the regions).
    TokenRefusal {
        "401" => "A token that is unknown, expired or revoked.",
    }
);

problem_responses!(
    /// A collection id that names none.
    NoCollection {
        "404" => "No collection has this id.",
    }
);

/// OGC API - Features landing page
///
/// Links to the OpenAPI description of the service (`service-desc`, OpenAPI 3.0), the
/// conformance classes (`conformance`) and the collections (`data`).
#[utoipa::path(
    get,
    path = "/ogc",
    operation_id = "ogcLandingPage",
    tag = "ogc",
    params(FormatQuery),
    responses(
        (status = 200, description = "The landing page.", body = Object, content_type = "application/json"),
        FormatRefusal,
    )
)]
async fn landing(headers: HeaderMap, Query(q): Query<FormatQuery>) -> Result<Response, ApiError> {
    check_f(q.f.as_deref())?;
    let base = format!("{}/ogc", origin(&headers)?);
    Ok(json_response(
        JSON,
        &json!({
            "title": "SIPKS: peta risiko konflik sosial / social-conflict risk map",
            "description": format!(
                "OGC API - Features of SIPKS (Sistem Informasi Penanganan Konflik Sosial): regions of Indonesia \
                 with their risk level, incidents and Gi* hotspots. {ATTRIBUTION}."
            ),
            "attribution": ATTRIBUTION,
            "links": [
                link(base.clone(), "self", JSON, "This document"),
                link(format!("{base}/api"), "service-desc", OPENAPI_30, "The API definition (OpenAPI 3.0)"),
                link(format!("{}/openapi.json", origin(&headers)?), "service-desc",
                    super::openapi::OPENAPI_31, "The whole server's API definition (OpenAPI 3.1)"),
                link(format!("{base}/conformance"), "conformance", JSON, "Conformance classes"),
                link(format!("{base}/collections"), "data", JSON, "The collections"),
            ],
        }),
    ))
}

/// OGC API - Features landing page (with a trailing slash)
///
/// The landing page at `/ogc/`, which clients such as OWSLib ask for: the same document
/// as `/ogc`, its links naming the same addresses.
#[utoipa::path(
    get,
    path = "/ogc/",
    operation_id = "ogcLandingPageSlash",
    tag = "ogc",
    params(FormatQuery),
    responses(
        (status = 200, description = "The landing page.", body = Object, content_type = "application/json"),
        FormatRefusal,
    )
)]
async fn landing_slash(headers: HeaderMap, query: Query<FormatQuery>) -> Result<Response, ApiError> {
    landing(headers, query).await
}

/// OGC API - Features conformance classes
///
/// The conformance classes this service implements: Part 1 Core, GeoJSON and OpenAPI 3.0.
#[utoipa::path(
    get,
    path = "/ogc/conformance",
    operation_id = "ogcConformance",
    tag = "ogc",
    params(FormatQuery),
    responses(
        (status = 200, description = "The conformance classes.", body = Object, content_type = "application/json"),
        FormatRefusal,
    )
)]
async fn conformance(Query(q): Query<FormatQuery>) -> Result<Response, ApiError> {
    check_f(q.f.as_deref())?;
    Ok(json_response(JSON, &json!({ "conformsTo": CONFORMANCE })))
}

/// The API definition as OpenAPI 3.0
///
/// This server's OpenAPI document (`/openapi.json`, OpenAPI 3.1) rewritten as OpenAPI
/// 3.0.3, for OGC API clients that read 3.0 (the conformance class "OpenAPI 3.0").
#[utoipa::path(
    get,
    path = "/ogc/api",
    operation_id = "ogcApiDefinition",
    tag = "ogc",
    params(FormatQuery),
    responses(
        (status = 200, description = "The OpenAPI 3.0.3 document.", body = Object,
            content_type = "application/vnd.oai.openapi+json"),
        FormatRefusal,
    )
)]
async fn api(Query(q): Query<FormatQuery>) -> Result<Response, ApiError> {
    check_f(q.f.as_deref())?;
    Ok(json_response(OPENAPI_30, &openapi30::DOCUMENT))
}

/// Indonesia's extent from the provinces' boundaries (what incidents can reach, 12
/// nautical miles at sea aside), or that of the regions of `level`.
fn spatial_extent(state: &AppState, level: RegionLevel) -> [f64; 4] {
    let engine = state.read();
    let index = engine.index();
    let mut extent = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for id in index.level_ids(level) {
        if let Some(rect) = index.region(id).shape.bounding_rect() {
            extent = [
                extent[0].min(rect.min().x),
                extent[1].min(rect.min().y),
                extent[2].max(rect.max().x),
                extent[3].max(rect.max().y),
            ];
        }
    }
    if extent[0].is_finite() {
        extent.map(|v| (v * 1e7).round() / 1e7)
    } else {
        [-180.0, -90.0, 180.0, 90.0]
    }
}

async fn collection_json(state: &AppState, auth: &Auth, c: Collection, base: &str) -> Result<Value, ApiError> {
    let (id, layer) = (c.id, c.layer);
    let level = match layer {
        Layer::Regions(level) => level,
        Layer::Hotspots => export::HOTSPOT_LEVEL,
        _ => RegionLevel::Provinsi,
    };
    let mut extent = json!({ "spatial": { "bbox": [spatial_extent(state, level)], "crs": CRS84 } });
    if layer == Layer::Incidents {
        let filter = Filter { shape: c.shape, ..Filter::default() };
        let (first, last) = export::incident_time_span(&sources(state, auth), &filter).await?;
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        extent["temporal"] = json!({
            "interval": [[time(first), time(last)]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        });
    }
    let href = format!("{base}/collections/{id}");
    Ok(json!({
        "id": id,
        "title": c.title(),
        "description": c.description(),
        "attribution": ATTRIBUTION,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": extent,
        "links": [
            link(href.clone(), "self", JSON, "This collection"),
            link(format!("{href}/items"), "items", GEOJSON, "The features"),
            link(format!("{href}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json", "The properties of the features"),
            link("https://github.com/cahyadsn/wilayah_boundaries/blob/main/LICENSE".to_owned(), "license",
                "text/html", "Boundary data: MIT licence, Copyright (c) 2024 Cahya DSN"),
        ],
    }))
}

/// The collections
///
/// Every collection: `provinsi`, `kabupaten_kota`, `kecamatan` (regions with their
/// risk), `incidents`, `hotspots` (Gi* of the regencies), with extents and links.
#[utoipa::path(
    get,
    path = "/ogc/collections",
    operation_id = "ogcCollections",
    tag = "ogc",
    params(FormatQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The collections.", body = Object, content_type = "application/json"),
        FormatRefusal,
        TokenRefusal,
    )
)]
async fn collections(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    check_f(q.f.as_deref())?;
    let base = format!("{}/ogc", origin(&headers)?);
    let mut all = Vec::new();
    for c in COLLECTIONS {
        all.push(collection_json(&state, &auth, c, &base).await?);
    }
    Ok(json_response(
        JSON,
        &json!({
            "links": [link(format!("{base}/collections"), "self", JSON, "The collections")],
            "collections": all,
        }),
    ))
}

/// One collection
///
/// A collection's description, extent (spatial, and temporal for incidents), CRS
/// (CRS84) and links to its items and queryables.
#[utoipa::path(
    get,
    path = "/ogc/collections/{collectionId}",
    operation_id = "ogcCollection",
    tag = "ogc",
    params(
        ("collectionId" = String, Path, description = "provinsi, kabupaten_kota, kecamatan, incidents, incidents_point, incidents_line, incidents_polygon or hotspots.",
            example = "kabupaten_kota"),
        FormatQuery,
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The collection.", body = Object, content_type = "application/json"),
        FormatRefusal,
        TokenRefusal,
        NoCollection,
    )
)]
async fn collection(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let c = collection_of(&id)?;
    check_f(q.f.as_deref())?;
    let base = format!("{}/ogc", origin(&headers)?);
    Ok(json_response(JSON, &collection_json(&state, &auth, c, &base).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ItemsQuery {
    /// Only features intersecting the box `west,south,east,north` (CRS84 degrees; six
    /// numbers with heights are read as the same box). West greater than east is a box
    /// across the antimeridian.
    #[param(value_type = Option<Vec<f64>>, style = Form, explode = false, min_items = 4, max_items = 6,
        example = json!([94.9, -11.1, 141.1, 6.1]))]
    bbox: Option<String>,
    /// Incidents: an instant, a date or an interval (`start/end`, `..` or nothing for an
    /// open end) of `occurred_at`, RFC 3339. A date is the whole day in UTC (`2026-11-01`
    /// is 2026-11-01T00:00:00Z up to 2026-11-02T00:00:00Z); both ends of an interval are
    /// included. Ignored by collections without a temporal extent.
    #[param(value_type = Option<String>, style = Form, explode = false, example = "2020-01-01T00:00:00Z/..")]
    datetime: Option<String>,
    /// Most features in the page; a larger value is served as 10,000.
    #[param(value_type = Option<i64>, style = Form, explode = false, minimum = 1, maximum = 10000,
        default = 1000, example = 100)]
    limit: Option<String>,
    /// Features to skip (the `next` and `prev` links set it).
    #[param(value_type = Option<i64>, minimum = 0, default = 0)]
    offset: Option<String>,
    /// Output format: `json` only.
    #[param(value_type = Option<String>, default = "json")]
    f: Option<String>,
}

/// The query with `offset` replaced: for the `next` and `prev` links.
fn with_offset(uri: &Uri, offset: i64) -> String {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let mut kept: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "offset").collect();
    kept.push(("offset".into(), offset.to_string()));
    serde_urlencoded::to_string(kept).unwrap_or_default()
}

fn feature_json(layer: Layer, feature: &Feature) -> Vec<u8> {
    let mut out = Vec::new();
    export::write_feature(&mut out, layer.columns(), feature);
    out
}

/// The features of a collection
///
/// A page of the collection's features as a GeoJSON FeatureCollection with
/// `numberMatched`, `numberReturned`, `timeStamp` and links (`self`, `next`, `prev`,
/// `collection`). Incidents are those of the caller's scope (none without a token).
#[utoipa::path(
    get,
    path = "/ogc/collections/{collectionId}/items",
    operation_id = "ogcItems",
    tag = "ogc",
    params(
        ("collectionId" = String, Path, description = "provinsi, kabupaten_kota, kecamatan, incidents, incidents_point, incidents_line, incidents_polygon or hotspots.",
            example = "kabupaten_kota"),
        ItemsQuery,
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of features.", body = Object, content_type = "application/geo+json"),
        (status = 400, description = "Malformed `bbox`, `datetime` (or an interval ending before it starts), `limit` \
            below 1, a negative `offset`, `f` other than json, or an unknown query parameter.", body = Problem,
            content_type = PROBLEM_JSON),
        TokenRefusal,
        NoCollection,
    )
)]
async fn items(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(q): Query<ItemsQuery>,
) -> Result<Response, ApiError> {
    let c = collection_of(&id)?;
    let layer = c.layer;
    check_f(q.f.as_deref())?;
    let limit = query::parse_limit(q.limit.as_deref())?;
    let offset = query::parse_offset(q.offset.as_deref())?;
    let mut filter: Filter = FilterText { bbox: q.bbox, ..FilterText::default() }.parse()?;
    filter.shape = c.shape;
    if let Some(text) = q.datetime.as_deref().filter(|v| !v.is_empty()) {
        let (from, to) = query::parse_datetime(text)?;
        if layer == Layer::Incidents {
            (filter.from, filter.to) = (from, to);
        }
    }
    let sources = sources(&state, &auth);
    let matched = export::count(&sources, layer, &filter).await?;
    let mut page = Collected::default();
    export::each_feature(&sources, layer, &filter, Some(Page { offset, limit }), None, &mut page).await?;
    let returned = page.0.len() as i64;

    let base = format!("{}/ogc/collections/{id}", origin(&headers)?);
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let mut links = vec![
        link(format!("{base}/items{query}"), "self", GEOJSON, "This page"),
        link(base.clone(), "collection", JSON, "The collection"),
    ];
    if offset + returned < matched {
        links.push(link(
            format!("{base}/items?{}", with_offset(&uri, offset + returned)),
            "next",
            GEOJSON,
            "Next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            format!("{base}/items?{}", with_offset(&uri, (offset - limit).max(0))),
            "prev",
            GEOJSON,
            "Previous page",
        ));
    }
    let mut body = Vec::with_capacity(1024 + page.0.len() * 512);
    body.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, feature) in page.0.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&feature_json(layer, feature));
    }
    body.extend_from_slice(b"],");
    let tail = json!({
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "links": links,
    })
    .to_string();
    body.extend_from_slice(&tail.as_bytes()[1..]);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON))], body).into_response())
}

/// One feature
///
/// One feature of a collection by its id (a region code, an incident id) as a GeoJSON
/// Feature with links to itself and its collection. An incident outside the caller's
/// scope is not found.
#[utoipa::path(
    get,
    path = "/ogc/collections/{collectionId}/items/{featureId}",
    operation_id = "ogcItem",
    tag = "ogc",
    params(
        ("collectionId" = String, Path, description = "provinsi, kabupaten_kota, kecamatan, incidents, incidents_point, incidents_line, incidents_polygon or hotspots.",
            example = "kabupaten_kota"),
        ("featureId" = String, Path, description = "A region code, or an incident id.", example = "73.71"),
        FormatQuery,
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The feature.", body = Object, content_type = "application/geo+json"),
        (status = 404, description = "No collection has this id, or the collection no such feature.", body = Problem,
            content_type = PROBLEM_JSON),
        FormatRefusal,
        TokenRefusal,
    )
)]
async fn item(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path((id, feature_id)): Path<(String, String)>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let c = collection_of(&id)?;
    let layer = c.layer;
    check_f(q.f.as_deref())?;
    let mut found = Collected::default();
    let filter = Filter { shape: c.shape, ..Filter::default() };
    export::each_feature(&sources(&state, &auth), layer, &filter, None, Some(&feature_id), &mut found).await?;
    let Some(feature) = found.0.first() else {
        return Err(ApiError::client(
            StatusCode::NOT_FOUND,
            "not-found",
            ("Fitur tidak ditemukan", "Feature not found"),
            (
                format!("Koleksi {id} tidak memiliki fitur {feature_id:?} (atau di luar wilayah Anda)."),
                format!("Collection {id} has no feature {feature_id:?} (or it lies outside your region)."),
            ),
        )
        .with("parameter", json!("featureId")));
    };
    let base = format!("{}/ogc/collections/{id}", origin(&headers)?);
    let mut body = feature_json(layer, feature);
    body.pop();
    let links = json!([
        link(format!("{base}/items/{feature_id}"), "self", GEOJSON, "This feature"),
        link(base, "collection", JSON, "The collection"),
    ]);
    body.extend_from_slice(format!(",\"links\":{links}}}").as_bytes());
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(GEOJSON))], body).into_response())
}

/// The properties of a collection's features
///
/// A JSON Schema (2020-12) of the features' properties and geometry.
#[utoipa::path(
    get,
    path = "/ogc/collections/{collectionId}/queryables",
    operation_id = "ogcQueryables",
    tag = "ogc",
    params(
        ("collectionId" = String, Path, description = "provinsi, kabupaten_kota, kecamatan, incidents, incidents_point, incidents_line, incidents_polygon or hotspots.",
            example = "incidents"),
        FormatQuery,
    ),
    responses(
        (status = 200, description = "The JSON Schema.", body = Object, content_type = "application/schema+json"),
        FormatRefusal,
        NoCollection,
    )
)]
async fn queryables(
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let c = collection_of(&id)?;
    check_f(q.f.as_deref())?;
    let body = c.queryables(&format!("{}/ogc/collections/{id}/queryables", origin(&headers)?));
    Ok(json_response("application/schema+json", &body))
}
