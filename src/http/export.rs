//! `/api/export/{layer}`: a layer as a file to download (GeoJSON, NDJSON, CSV with WKT,
//! FlatGeobuf), streamed as it is encoded. Regions, hotspots and clusters are public
//! like `/api/risk`; incidents need a token and are those of the caller's scope.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::extract::Query;
use super::AppState;
use crate::auth::read_scope;
use crate::export::{self, ExportError, FilterText, Format, Layer, Sources};

#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "export", description = "Layers as files for GIS tools (QGIS, ArcGIS, GDAL, Python): \
    GeoJSON, newline-delimited GeoJSON, CSV with WKT and FlatGeobuf, streamed.")))]
struct ExportDoc;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<ExportDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(download))
        .layer(super::gzip())
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> ApiError {
        match e {
            ExportError::UnknownLayer(name) => ApiError::client(
                StatusCode::NOT_FOUND,
                "not-found",
                ("Lapisan tidak ditemukan", "Layer not found"),
                (
                    format!(
                        "Tidak ada lapisan {name:?}; yang ada: provinsi, kabupaten_kota, kecamatan, incidents, \
                         hotspots, clusters, emerging."
                    ),
                    format!(
                        "There is no layer {name:?}; the layers are: provinsi, kabupaten_kota, kecamatan, \
                         incidents, hotspots, clusters, emerging."
                    ),
                ),
            )
            .with("parameter", json!("layer")),
            ExportError::UnknownFormat(name) => ApiError::InvalidParameter {
                param: "format".into(),
                detail: format!("{name:?} is not a format: geojson, ndjson, csv, fgb or gpkg"),
            },
            ExportError::InvalidFilter { param, detail } => ApiError::InvalidParameter { param, detail },
            ExportError::NotApplicable { param, layer } => ApiError::InvalidParameter {
                param,
                detail: format!(
                    "does not apply to layer {layer}, whose figures count every incident of the window \
                     (it filters incidents and clusters)"
                ),
            },
            ExportError::RegionNotFound(code) => ApiError::RegionNotFound(code),
            ExportError::Database(e) => ApiError::Database(e),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// The filters of the exports, as query parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// File format: `geojson` (one FeatureCollection, RFC 7946), `ndjson` (one GeoJSON
    /// Feature per line), `csv` (geometry as WKT in the first column, `WKT`), `fgb`
    /// (FlatGeobuf with its spatial index) or `gpkg` (GeoPackage 1.3, one table).
    #[param(value_type = Option<String>, pattern = "^(geojson|ndjson|csv|fgb|gpkg)$", default = "geojson")]
    format: Option<String>,
    /// Only within this region (the region and its subtree). Unknown code: 404.
    #[param(value_type = Option<String>, pattern = r"^[0-9]{2}(\.[0-9]{2}){0,2}$", example = "73.71")]
    region: Option<String>,
    /// Only features intersecting this box: `west,south,east,north` in degrees (CRS84).
    #[param(value_type = Option<String>, example = "119.3,-5.3,119.6,-5.0")]
    bbox: Option<String>,
    /// Incidents and clusters: incidents that occurred from this time (RFC 3339, or a
    /// date: midnight WIB), inclusive.
    #[param(value_type = Option<String>, example = "2025-01-01")]
    from: Option<String>,
    /// Incidents and clusters: incidents that occurred before this time (RFC 3339,
    /// exclusive), or up to the end of this date (YYYY-MM-DD: the whole day included,
    /// up to the next midnight WIB).
    #[param(value_type = Option<String>, example = "2030-01-01")]
    to: Option<String>,
    /// Incidents and clusters: only these categories (comma-separated).
    #[param(value_type = Option<String>, example = "agraria,pemilu")]
    category: Option<String>,
    /// Incidents and clusters: only these statuses (comma-separated).
    #[param(value_type = Option<String>, example = "potensi,terjadi")]
    status: Option<String>,
    /// Window in days ending now (`30d` is read as 30): of the risk figures of region
    /// layers and hotspots, and of the clustered incidents (default: the risk model's
    /// `window_days`, 90); for incidents, only those of the last `window` days.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660, example = 365)]
    window: Option<String>,
}

/// A GeoJSON export: one FeatureCollection.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the export writes, for the OpenAPI document")]
struct ExportCollection {
    /// `FeatureCollection`.
    #[schema(pattern = "^FeatureCollection$")]
    r#type: String,
    /// `sipks_` and the layer.
    name: String,
    /// Attribution of the boundary data (upstream and licence).
    attribution: String,
    /// The layer, its filters, when it was made, the CRS and the boundary data's licence.
    #[schema(value_type = Object)]
    metadata: serde_json::Value,
    features: Vec<ExportFeature>,
}

/// A feature of an export.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the export writes, for the OpenAPI document")]
struct ExportFeature {
    /// `Feature`.
    #[schema(pattern = "^Feature$")]
    r#type: String,
    /// Incident id or cluster number (integer), region code (string).
    id: serde_json::Value,
    /// GeoJSON geometry, CRS84 to 7 decimals; polygons wound by the right-hand rule.
    #[schema(value_type = Object)]
    geometry: serde_json::Value,
    /// The layer's columns.
    #[schema(value_type = Object)]
    properties: serde_json::Value,
}

/// A layer as a file
///
/// Every feature of a layer that passes the filters, as a file to download
/// (`Content-Disposition: attachment` with a name saying layer, region and date), streamed
/// as it is encoded. Layers: `provinsi`, `kabupaten_kota`, `kecamatan` (each region's
/// boundary with its risk level, score and counts in the window), `incidents` (within
/// the caller's scope; a token is needed), `hotspots` (Gi* of the regencies and
/// cities: z, p, bin), `clusters` (DBSCAN hulls of the window's incidents, 5 km, 5
/// incidents), `emerging` (the emerging hot spot class of the regencies and cities over
/// the last 52 weeks, with its Mann-Kendall trend). Coordinates are longitude, latitude (CRS84) to 7 decimals. GeoJSON
/// carries the attribution of the boundary data and the export's metadata as members
/// of the FeatureCollection; FlatGeobuf in its header.
#[utoipa::path(
    get,
    path = "/api/export/{layer}",
    operation_id = "exportLayer",
    tag = "export",
    params(
        ("layer" = String, Path, description = "provinsi, kabupaten_kota, kecamatan, incidents, hotspots, clusters or emerging.",
            example = "incidents"),
        ExportQuery,
    ),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The file.",
            content((ExportCollection = "application/geo+json"), (String = "application/x-ndjson"),
                (String = "text/csv"), (Vec<u8> = "application/flatgeobuf")),
            headers(("Content-Disposition" = String, description = "`attachment` and the file name, e.g. \
                `sipks_incidents_73.71_2026-11-28.geojson`."))),
        (status = 400, description = "Unknown format, malformed filter, a filter of incidents on a region layer, \
            or an unknown query parameter.", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "Incidents without a token, or a token that is unknown, expired or revoked.",
            body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "Unknown layer, or no region has the `region` code.", body = Problem,
            content_type = PROBLEM_JSON),
        (status = 500, description = "The export could not start (logged).", body = Problem,
            content_type = PROBLEM_JSON),
    )
)]
async fn download(
    State(state): State<AppState>,
    auth: Auth,
    headers: axum::http::HeaderMap,
    Path(layer): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let layer = Layer::parse(&layer)?;
    let format = Format::parse(q.format.as_deref().filter(|f| !f.is_empty()).unwrap_or("geojson"))?;
    let filter = FilterText {
        region: q.region,
        bbox: q.bbox,
        from: q.from,
        to: q.to,
        category: q.category,
        status: q.status,
        window: q.window,
    }
    .parse()?;
    filter.check_for(layer)?;
    if layer == Layer::Incidents {
        auth.clone().required()?;
    }
    export::check_region(&state.pool, &filter).await?;
    let sources =
        Sources { pool: state.pool.clone(), engine: Some(state.engine.clone()), scope: read_scope(auth.0.as_ref()) };
    let name = export::file_name(layer, format, &filter, chrono::Utc::now());
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| coding.split(';').next().is_some_and(|c| c.trim().eq_ignore_ascii_case("gzip")));
    let body =
        stream(gzip, move |chunks| async move { export::export(&sources, layer, format, &filter, chunks).await });
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| ApiError::Internal(format!("file name {name:?}: {e}")))?;
    let mut response = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(format.media_type())),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ],
        body,
    )
        .into_response();
    if gzip {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// Compresses the chunks of an export as one gzip member, chunk by chunk (each
/// compressed chunk is handed on as soon as the encoder gives it out).
struct Gzip(flate2::write::GzEncoder<Vec<u8>>);

impl Gzip {
    fn new() -> Gzip {
        Gzip(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()))
    }

    fn chunk(&mut self, chunk: &[u8]) -> std::io::Result<Bytes> {
        std::io::Write::write_all(&mut self.0, chunk)?;
        Ok(Bytes::from(std::mem::take(self.0.get_mut())))
    }

    fn finish(self) -> std::io::Result<Bytes> {
        self.0.finish().map(Bytes::from)
    }
}

/// A body streamed from `produce`, which writes chunks into a bounded channel on a task
/// of its own (the response waits for nothing but the first chunk). A failure after
/// the start ends the body with an error, so that the client sees a broken transfer
/// rather than a short file. With `gzip`, the chunks are compressed (`Content-Encoding:
/// gzip`).
fn stream<F, Fut>(gzip: bool, produce: F) -> Body
where
    F: FnOnce(mpsc::Sender<Bytes>) -> Fut,
    Fut: std::future::Future<Output = Result<u64, ExportError>> + Send + 'static,
{
    let (chunks, received) = mpsc::channel(export::CHANNEL_CHUNKS);
    let (done, outcome) = oneshot::channel();
    let work = produce(chunks);
    tokio::spawn(async move {
        let result = work.await;
        match &result {
            Ok(features) => tracing::debug!(features, "export done"),
            Err(ExportError::ReaderGone) => tracing::debug!("export reader went away"),
            Err(e) => tracing::error!(error = %e, "export failed"),
        }
        let _ = done.send(result.map(|_| ()));
    });
    enum State {
        Chunks(mpsc::Receiver<Bytes>, oneshot::Receiver<Result<(), ExportError>>, Option<Gzip>),
        Done,
    }
    let start = State::Chunks(received, outcome, gzip.then(Gzip::new));
    let body = futures::stream::unfold(start, |state| async move {
        let State::Chunks(mut received, outcome, mut gzip) = state else { return None };
        while let Some(chunk) = received.recv().await {
            let chunk = match gzip.as_mut() {
                None => chunk,
                Some(encoder) => match encoder.chunk(&chunk) {
                    Ok(compressed) if compressed.is_empty() => continue,
                    Ok(compressed) => compressed,
                    Err(e) => return Some((Err(e), State::Done)),
                },
            };
            return Some((Ok(chunk), State::Chunks(received, outcome, gzip)));
        }
        match outcome.await {
            Ok(Ok(())) => gzip.map(|encoder| (encoder.finish(), State::Done)),
            Ok(Err(e)) => Some((Err(std::io::Error::other(e.to_string())), State::Done)),
            Err(_) => Some((Err(std::io::Error::other("the export stopped")), State::Done)),
        }
    });
    Body::from_stream(body)
}
