//! `/tiles`: vector tiles of every source, their TileJSON, and the list of sources.
//! Tiles carry a strong ETag (a hash of their content) and are revalidated by clients
//! (`Cache-Control: no-cache`), since risk changes as incidents arrive.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::extract::Query;
use super::negotiate::{accepts_gzip, matches};
use super::risk::parse_days;
use super::AppState;
use crate::tiles::cache::EncodedTile;
use crate::tiles::{Source, TileCoord};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(tilejson)).routes(routes!(tile))
}

/// Media type of Mapbox Vector Tiles.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";

/// Indonesia's extent (longitude, latitude) for TileJSON `bounds`.
const BOUNDS: [f64; 4] = [94.9, -11.1, 141.1, 6.1];

pub use crate::boundaries::ATTRIBUTION;

pub(super) fn source(name: &str) -> Result<Source, ApiError> {
    Source::parse(name).ok_or_else(|| ApiError::UnknownTileSource(name.to_owned()))
}

/// The origin clients reach us at, for absolute URLs in TileJSON, styles and OGC links.
/// A `Host` that is not a host name or address with an optional port is refused (400):
/// it would be written into the URLs, and the JSON, we answer with.
pub(super) fn origin(headers: &HeaderMap) -> Result<String, ApiError> {
    let host = match headers.get(header::HOST) {
        None => "127.0.0.1:8080",
        Some(value) => value
            .to_str()
            .ok()
            .filter(|h| {
                (1..=255).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
            })
            .ok_or_else(|| ApiError::InvalidParameter {
                param: "Host".into(),
                detail: "not a host name or address with an optional port".into(),
            })?,
    };
    let https = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) == Some("https");
    Ok(format!("{}://{host}", if https { "https" } else { "http" }))
}

/// TileJSON 3.0.0 of a source.
fn tilejson_of(source: Source, origin: &str) -> Value {
    let zooms = source.zooms();
    let layers: Vec<Value> = source
        .layers()
        .into_iter()
        .map(|(layer, z)| {
            let fields: Map<String, Value> = layer.fields().iter().map(|(k, t)| ((*k).to_owned(), json!(t))).collect();
            json!({
                "id": layer.name(),
                "description": layer.description(),
                "minzoom": z.start(),
                "maxzoom": z.end(),
                "fields": fields,
            })
        })
        .collect();
    json!({
        "tilejson": "3.0.0",
        "name": format!("SIPKS {}", source.name()),
        "description": "Peta risiko konflik sosial SIPKS / SIPKS social-conflict risk map",
        "version": env!("CARGO_PKG_VERSION"),
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": [format!("{origin}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt", source.name())],
        "minzoom": zooms.start(),
        "maxzoom": zooms.end(),
        "bounds": BOUNDS,
        "center": [118.0, -2.5, 4],
        "vector_layers": layers,
    })
}

/// A tile source as listed.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct TileSourceEntry {
    name: Source,
    /// Absolute URL of the source's TileJSON.
    #[schema(format = "uri", example = "http://127.0.0.1:8080/tiles/sipks")]
    tilejson: String,
    /// Lowest zoom served.
    minzoom: u8,
    /// Highest zoom served.
    maxzoom: u8,
    /// Names of the source's layers.
    layers: Vec<String>,
}

/// The answer of `GET /tiles`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct TileSources {
    /// Every tile source.
    sources: Vec<TileSourceEntry>,
}

/// A layer of a tile source.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct VectorLayer {
    /// The layer's name in the tiles.
    #[schema(example = "kabupaten_kota")]
    id: String,
    /// What the layer holds.
    description: String,
    /// Lowest zoom the layer is in.
    minzoom: u8,
    /// Highest zoom the layer is in.
    maxzoom: u8,
    /// The features' attributes and their types (String, Number, Boolean).
    #[schema(example = json!({"kode": "String", "score": "Number"}))]
    fields: BTreeMap<String, String>,
}

/// TileJSON 3.0.0 of a tile source.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct TileJson {
    /// `3.0.0`.
    #[schema(pattern = "^3\\.0\\.0$", example = "3.0.0")]
    tilejson: String,
    /// `SIPKS` and the source's name.
    name: String,
    /// What the map shows.
    description: String,
    /// The server's version.
    version: String,
    /// Attribution of the boundary data and region codes.
    attribution: String,
    /// `xyz`: y = 0 is north.
    #[schema(pattern = "^xyz$", example = "xyz")]
    scheme: String,
    /// Absolute URL templates of the tiles (`{z}/{x}/{y}.mvt`), at the origin the client reached.
    #[schema(example = json!(["http://127.0.0.1:8080/tiles/sipks/{z}/{x}/{y}.mvt"]))]
    tiles: Vec<String>,
    /// Lowest zoom served.
    minzoom: u8,
    /// Highest zoom served.
    maxzoom: u8,
    /// Indonesia's extent `[west, south, east, north]`, degrees.
    #[schema(min_items = 4, max_items = 4)]
    bounds: [f64; 4],
    /// Initial view `[lon, lat, zoom]`.
    #[schema(min_items = 3, max_items = 3)]
    center: [f64; 3],
    vector_layers: Vec<VectorLayer>,
}

/// List the tile sources
///
/// Every vector tile source with its zooms, layers and the URL of its TileJSON.
#[utoipa::path(
    get,
    path = "/tiles",
    operation_id = "listTileSources",
    tag = "tiles",
    responses(
        (status = 200, description = "The tile sources.", body = TileSources),
        (status = 400, description = "A malformed Host header.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn list(headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let origin = origin(&headers)?;
    let sources: Vec<Value> = Source::ALL
        .iter()
        .map(|s| {
            json!({
                "name": s.name(),
                "tilejson": format!("{origin}/tiles/{}", s.name()),
                "minzoom": s.zooms().start(),
                "maxzoom": s.zooms().end(),
                "layers": s.layers().iter().map(|(l, _)| l.name()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "sources": sources })))
}

/// TileJSON of a tile source
///
/// TileJSON 3.0.0 of a source: the URL template of its tiles (absolute, at the origin
/// the client reached), zooms, Indonesia's bounds, attribution, and every layer with its
/// attributes and zooms.
#[utoipa::path(
    get,
    path = "/tiles/{source}",
    operation_id = "getTileJson",
    tag = "tiles",
    params(("source" = inline(Source), Path, description = "The tile source.", example = "sipks")),
    responses(
        (status = 200, description = "The TileJSON.", body = TileJson),
        (status = 400, description = "A malformed Host header.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No tile source has this name.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn tilejson(Path(name): Path<String>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    Ok(Json(tilejson_of(source(&name)?, &origin(&headers)?)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct TileQuery {
    /// Length of the window in days, ending now; `30d` is read as 30. Default: the risk
    /// model's `window_days` (90 unless the model file changes it).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660, default = 90, example = 30)]
    pub(super) window: Option<String>,
    /// The end of the window, for the map as it stood then (the time slider): an
    /// RFC 3339 time, or a date (that whole day: up to the next midnight WIB; today is
    /// now). Default: now.
    #[param(value_type = Option<String>, example = "2026-11-01")]
    pub(super) at: Option<String>,
    /// A version token clients may add to refetch after a live change; ignored.
    #[serde(rename = "v")]
    #[param(example = "1")]
    _version: Option<String>,
}

fn coordinate(param: &str, value: &str) -> Result<u64, ApiError> {
    value.parse::<u64>().map_err(|_| ApiError::InvalidParameter {
        param: param.into(),
        detail: format!("{value:?} is not a whole number"),
    })
}

/// The request headers a tile answer depends on (read by [`accepts_gzip`] and
/// [`matches`]).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "describes the headers the handler reads, for the OpenAPI document")]
struct TileHeaders {
    /// `gzip` (or `*`) without `q=0`: the tile is sent gzip-compressed, with
    /// `Content-Encoding: gzip`.
    #[param(rename = "Accept-Encoding", nullable = false, example = "gzip")]
    accept_encoding: Option<String>,
    /// Entity tags of the client's copy (or `*`): 304 when one is the tile's current tag
    /// (weak comparison).
    #[param(rename = "If-None-Match", nullable = false, example = "\"00c0ffee00c0ffee-gz\"")]
    if_none_match: Option<String>,
}

/// Parses and checks a tile address against the source's zooms.
pub(super) fn tile_coord(source: Source, z: &str, x: &str, y: &str) -> Result<TileCoord, ApiError> {
    let y = y.strip_suffix(".mvt").or_else(|| y.strip_suffix(".pbf")).unwrap_or(y);
    let (z, x, y) = (coordinate("z", z)?, coordinate("x", x)?, coordinate("y", y)?);
    let zooms = source.zooms();
    if z < u64::from(*zooms.start()) || z > u64::from(*zooms.end()) {
        return Err(ApiError::InvalidParameter {
            param: "z".into(),
            detail: format!(
                "zoom {z} is outside the zooms of source {} ({} to {})",
                source.name(),
                zooms.start(),
                zooms.end()
            ),
        });
    }
    TileCoord::new(z, x, y).map_err(|e| ApiError::InvalidParameter { param: "x/y".into(), detail: e.to_string() })
}

/// A vector tile
///
/// A Mapbox Vector Tile (XYZ, Web Mercator, y = 0 north; extent 4096, buffer 64) of a
/// source: regions (wilayah) with their risk level, score, incident counts and Gi* bin;
/// incidents (kejadian), clustered below the cluster zoom; hotspot regions and clusters.
/// Gzip-compressed when `Accept-Encoding` allows it. Every answer but an error carries a
/// strong `ETag`, `Cache-Control: no-cache` (store, but revalidate) and
/// `Vary: Accept-Encoding`; 304 when `If-None-Match` names the current tag, 204 when the
/// tile has no features.
#[utoipa::path(
    get,
    path = "/tiles/{source}/{z}/{x}/{y}",
    operation_id = "getTile",
    tag = "tiles",
    description = "A vector tile. The `incidents` layer holds only the incidents within the caller's scope (none without a token); every other layer is the same for everyone.",
    security((), ("bearer" = [])),
    params(
        ("source" = inline(Source), Path, description = "The tile source.", example = "provinsi"),
        ("z" = u8, Path, minimum = 0, maximum = 14,
            description = "Zoom, within the source's zooms (kecamatan: 6 to 14, the others 0 to 14).", example = 5),
        ("x" = u32, Path, minimum = 0, description = "Column, below 2^z.", example = 26),
        ("y" = String, Path, pattern = "^[0-9]+(\\.(mvt|pbf))?$",
            description = "Row, below 2^z (y = 0 is north), with an optional `.mvt` or `.pbf` suffix.",
            example = "16.mvt"),
        TileQuery,
        TileHeaders,
    ),
    responses(
        (status = 200, description = "The tile.",
            content(("application/vnd.mapbox-vector-tile")),
            headers(
                ("ETag" = String, description = "Strong tag of the tile's content (and encoding)."),
                ("Content-Encoding" = String, description = "`gzip` when the tile is compressed."),
                ("Cache-Control" = String, description = "`no-cache`: store, but revalidate."),
                ("Vary" = String, description = "`Accept-Encoding`."),
            )),
        (status = 204, description = "The tile has no features (no body).",
            headers(
                ("ETag" = String, description = "Strong tag of the empty tile."),
                ("Cache-Control" = String, description = "`no-cache`: store, but revalidate."),
                ("Vary" = String, description = "`Accept-Encoding`."),
            )),
        (status = 401, description = "An invalid, expired or revoked token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 304, description = "The client's copy (`If-None-Match`) is current (no body).",
            headers(
                ("ETag" = String, description = "The tile's current tag."),
                ("Cache-Control" = String, description = "`no-cache`: store, but revalidate."),
                ("Vary" = String, description = "`Accept-Encoding`."),
            )),
        (status = 400, description = "z outside the source's zooms, x or y not below 2^z, a coordinate that is \
            not a whole number, a malformed `window` or `at` (or `at` still to come), or an unknown query parameter.",
            body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No tile source has this name.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "Rendering the tile failed (logged).",
            body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn tile(
    State(state): State<AppState>,
    Path((name, z, x, y)): Path<(String, String, String, String)>,
    Query(q): Query<TileQuery>,
    auth: Auth,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let source = source(&name)?;
    let coord = tile_coord(source, &z, &x, &y)?;
    let window = parse_days("window", q.window.as_deref())?;
    let at = super::risk::parse_at(q.at.as_deref())?;
    let tiles = state.tiles.clone();
    let scope = crate::auth::read_scope(auth.0.as_ref());
    let gzip = accepts_gzip(&headers);
    // A cached tile ready to send is sent from here; rendering, and compressing (a few
    // milliseconds for a low-zoom tile), run off the request threads, so that the
    // other connections of this thread do not wait for them.
    let found = tiles.find_cached(source, coord, window, at, &scope);
    tiles.count_lookup(found.is_some());
    let tile = match found {
        Some(tile) if !gzip || tile.has_gzip() => tile,
        cached => {
            let _permit = state.cpu.acquire().await.map_err(|_| ApiError::Internal("server stopping".into()))?;
            tokio::task::spawn_blocking(move || {
                let tile = match cached {
                    Some(tile) => tile,
                    None => tiles.tile(source, coord, window, at, &scope)?,
                };
                if gzip {
                    tile.gzip();
                }
                Ok::<_, crate::tiles::TileError>(tile)
            })
            .await
            .map_err(|_| ApiError::Internal("tile task failed".into()))?
            .map_err(|e| ApiError::Internal(e.to_string()))?
        }
    };
    Ok(tile_response(&tile, gzip, &headers))
}

/// The answer with a tile: 304 when `If-None-Match` names its tag, 204 when it has no
/// features, else its bytes (gzip-compressed when `gzip`, which needs
/// [`EncodedTile::has_gzip`]); with its strong `ETag`, `Cache-Control: no-cache` and
/// `Vary: Accept-Encoding`. Sent as it is by the handler and by the cache's fast path
/// ([`super::fast`]), so that a hit answers exactly as a render does.
pub(super) fn tile_response(tile: &EncodedTile, gzip: bool, headers: &HeaderMap) -> Response {
    let gzip = gzip && !tile.bytes.is_empty();
    let tag = tile.tag(gzip);
    let mut response = if matches(headers, std::str::from_utf8(tag).unwrap_or_default()) {
        StatusCode::NOT_MODIFIED.into_response()
    } else if tile.bytes.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else if gzip {
        let mut r = (StatusCode::OK, tile.gzip()).into_response();
        r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        (StatusCode::OK, tile.bytes.clone()).into_response()
    };
    let ok = response.status() == StatusCode::OK;
    let h = response.headers_mut();
    if ok {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(MVT));
    }
    if let Ok(v) = HeaderValue::from_maybe_shared(tag.clone()) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::negotiate::tests::headers;

    #[test]
    fn the_origin_takes_only_a_host_and_port_from_the_host_header() {
        let checked = |host: &'static str| origin(&headers(header::HOST, host)).ok();
        assert_eq!(checked("peta.kemendagri.go.id:8443").as_deref(), Some("http://peta.kemendagri.go.id:8443"));
        assert_eq!(checked("[::1]:8080").as_deref(), Some("http://[::1]:8080"));
        assert_eq!(origin(&HeaderMap::new()).ok().as_deref(), Some("http://127.0.0.1:8080"));
        for hostile in ["x\"},\"evil\":{\"", "<script>", "a b", "a/b", ""] {
            assert!(checked(hostile).is_none(), "{hostile:?}");
        }
    }

    #[test]
    fn tile_addresses_are_checked_against_the_source() {
        assert_eq!(tile_coord(Source::Provinsi, "3", "6", "4.pbf").expect("valid"), TileCoord { z: 3, x: 6, y: 4 });
        assert!(tile_coord(Source::Provinsi, "3", "8", "4").is_err());
        assert!(tile_coord(Source::Kecamatan, "3", "6", "4").is_err());
        assert!(tile_coord(Source::Provinsi, "15", "0", "0").is_err());
        assert!(tile_coord(Source::Provinsi, "-1", "0", "0").is_err());
        assert!(tile_coord(Source::Provinsi, "99999999999999999999", "0", "0").is_err());
    }
}
