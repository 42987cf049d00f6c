//! `--basemap FILE`: an optional basemap the user provides as an MBTiles file (e.g. an
//! OpenStreetMap extract of Indonesia built with planetiler or tilemaker), served as it
//! is through the tile endpoint: `/tiles/basemap` (TileJSON 3.0.0 from the file's
//! metadata, with its attribution) and `/tiles/basemap/{z}/{x}/{y}.{ext}`. The styles
//! then carry it under the risk layers: streets and names to place an incident by,
//! the risk colours over them. Without a basemap nothing changes.
//!
//! MBTiles 1.3: a SQLite file with `metadata(name, value)` and `tiles(zoom_level,
//! tile_column, tile_row, tile_data)`, rows counted from the south (TMS), so row =
//! 2^z - 1 - y.

use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::tiles::origin;
use super::AppState;

/// A basemap file that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum BasemapError {
    /// Not an MBTiles file we can read.
    #[error("{path}: cannot read the basemap as MBTiles: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: sqlx::Error,
    },
    /// A format we do not serve.
    #[error("{path}: basemap tiles of format {format:?} are not served (pbf, mvt, png, jpg, webp are)")]
    Format {
        /// The file.
        path: PathBuf,
        /// Its metadata `format`.
        format: String,
    },
}

/// An opened basemap.
#[derive(Debug)]
pub struct Basemap {
    pool: SqlitePool,
    /// `pbf` (vector) or an image format.
    format: String,
    metadata: Map<String, Value>,
}

impl Basemap {
    /// Opens an MBTiles file read-only and reads its metadata.
    pub async fn open(path: &Path) -> Result<Basemap, BasemapError> {
        let open = |source| BasemapError::Open { path: path.to_owned(), source };
        let options = SqliteConnectOptions::new().filename(path).read_only(true).immutable(true);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(open)?;
        let rows: Vec<(String, String)> =
            sqlx::query_as("select name, value from metadata").fetch_all(&pool).await.map_err(open)?;
        let mut metadata = Map::new();
        for (name, value) in rows {
            metadata.insert(name, Value::String(value));
        }
        let format = metadata.get("format").and_then(Value::as_str).unwrap_or("pbf").to_lowercase();
        let format = if format == "mvt" { "pbf".to_owned() } else { format };
        if !["pbf", "png", "jpg", "jpeg", "webp"].contains(&format.as_str()) {
            return Err(BasemapError::Format { path: path.to_owned(), format });
        }
        Ok(Basemap { pool, format, metadata })
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    fn vector(&self) -> bool {
        self.format == "pbf"
    }

    /// The layers of a vector basemap (`json` metadata, `vector_layers`).
    fn vector_layers(&self) -> Vec<Value> {
        let json: Value = self.text("json").and_then(|j| serde_json::from_str(j).ok()).unwrap_or(Value::Null);
        json.get("vector_layers").and_then(Value::as_array).cloned().unwrap_or_default()
    }

    /// TileJSON 3.0.0 of the basemap.
    pub fn tilejson(&self, origin: &str) -> Value {
        let number = |key: &str, default: f64| self.text(key).and_then(|v| v.parse::<f64>().ok()).unwrap_or(default);
        let bounds: Vec<f64> = self
            .text("bounds")
            .map(|b| b.split(',').filter_map(|v| v.trim().parse().ok()).collect())
            .filter(|b: &Vec<f64>| b.len() == 4)
            .unwrap_or_else(|| vec![-180.0, -85.051_129, 180.0, 85.051_129]);
        let ext = if self.vector() { "mvt" } else { self.format.as_str() };
        let mut tilejson = json!({
            "tilejson": "3.0.0",
            "name": self.text("name").unwrap_or("basemap"),
            "attribution": self.text("attribution").unwrap_or(""),
            "scheme": "xyz",
            "tiles": [format!("{origin}/tiles/basemap/{{z}}/{{x}}/{{y}}.{ext}")],
            "minzoom": number("minzoom", 0.0),
            "maxzoom": number("maxzoom", 14.0),
            "bounds": bounds,
            "format": self.format,
        });
        if self.vector() {
            tilejson["vector_layers"] = Value::Array(self.vector_layers());
        }
        tilejson
    }

    /// One tile's bytes as stored (vector tiles usually gzip-compressed), if any.
    async fn tile(&self, z: u8, x: u32, y: u32) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let row = (1u32 << z) - 1 - y;
        sqlx::query_scalar("select tile_data from tiles where zoom_level = ? and tile_column = ? and tile_row = ?")
            .bind(i64::from(z))
            .bind(i64::from(x))
            .bind(i64::from(row))
            .fetch_optional(&self.pool)
            .await
    }

    /// The style's basemap: its source and plain layers for each of its vector layers
    /// (land use and water as light fills, roads as grey lines, names as labels), or
    /// one raster layer; put under the risk layers.
    pub fn style_parts(&self, origin: &str) -> (Value, Vec<Value>) {
        let url = format!("{origin}/tiles/basemap");
        if !self.vector() {
            let source = json!({ "type": "raster", "url": url, "tileSize": 256 });
            return (source, vec![json!({ "id": "basemap-raster", "type": "raster", "source": "basemap" })]);
        }
        let source = json!({ "type": "vector", "url": url });
        let mut layers = Vec::new();
        for layer in self.vector_layers() {
            let Some(id) = layer.get("id").and_then(Value::as_str) else { continue };
            let water = id.contains("water") || id.contains("ocean");
            let common =
                |kind: &str| json!({ "id": format!("basemap-{id}-{kind}"), "source": "basemap", "source-layer": id });
            let mut fill = common("fill");
            fill["type"] = json!("fill");
            fill["filter"] = json!(["==", ["geometry-type"], "Polygon"]);
            fill["paint"] = json!({ "fill-color": if water { "#c6dcec" } else { "#eceee6" }, "fill-opacity": 0.9 });
            let mut line = common("line");
            line["type"] = json!("line");
            line["filter"] = json!(["==", ["geometry-type"], "LineString"]);
            line["paint"] = json!({ "line-color": if water { "#9ec3df" } else { "#a7adb4" },
                "line-width": ["interpolate", ["linear"], ["zoom"], 10, 0.5, 16, 3] });
            let mut label = common("label");
            label["type"] = json!("symbol");
            label["minzoom"] = json!(12);
            label["layout"] = json!({
                "text-field": ["coalesce", ["get", "name:id"], ["get", "name"]],
                "text-font": ["Open Sans Regular"],
                "text-size": 11,
                "symbol-placement": ["case", ["==", ["geometry-type"], "LineString"], "line", "point"],
            });
            label["paint"] = json!({ "text-color": "#37474f", "text-halo-color": "#ffffff", "text-halo-width": 1.2 });
            layers.extend([fill, line, label]);
        }
        (source, layers)
    }
}

/// Adds the basemap (if any) to a style: its source, its layers right above the
/// background (so under every risk layer), its attribution in the metadata.
pub fn add_to_style(style: &mut Value, basemap: &Basemap, origin: &str) {
    let (source, layers) = basemap.style_parts(origin);
    if let Some(sources) = style.get_mut("sources").and_then(Value::as_object_mut) {
        sources.insert("basemap".into(), source);
    }
    if let Some(list) = style.get_mut("layers").and_then(Value::as_array_mut) {
        let at = list.iter().position(|l| l["type"] != "background").unwrap_or(list.len());
        for (i, layer) in layers.into_iter().enumerate() {
            list.insert(at + i, layer);
        }
    }
    if let Some(metadata) = style.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("sipks:basemap-attribution".into(), json!(basemap.text("attribution").unwrap_or("")));
    }
}

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tilejson)).routes(routes!(tile))
}

/// The basemap's TileJSON
///
/// TileJSON 3.0.0 of the basemap given with `sipks serve --basemap FILE` (an MBTiles
/// file), from the file's metadata, with its attribution; 404 when the server has none.
#[utoipa::path(
    get,
    path = "/tiles/basemap",
    operation_id = "getBasemapTileJson",
    tag = "tiles",
    responses(
        (status = 200, description = "TileJSON 3.0.0.", body = Object, content_type = "application/json"),
        (status = 400, description = "A malformed Host header.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "This server has no basemap.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn tilejson(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let basemap = state.web.basemap.as_ref().ok_or(ApiError::UnknownTileSource("basemap".into()))?;
    Ok(Json(basemap.tilejson(&origin(&headers)?)).into_response())
}

/// A basemap tile
///
/// One tile of the basemap as the file stores it (vector tiles gzip-compressed, sent
/// with `Content-Encoding: gzip`); 204 where the file has none (the map draws nothing
/// there).
#[utoipa::path(
    get,
    path = "/tiles/basemap/{z}/{x}/{y}",
    operation_id = "getBasemapTile",
    tag = "tiles",
    params(
        ("z" = u8, Path, description = "Zoom.", example = 12),
        ("x" = u32, Path, description = "Column.", example = 3400),
        ("y" = String, Path, description = "Row with the extension (`.mvt`, `.png`, ...).", example = "2101.mvt"),
    ),
    responses(
        (status = 200, description = "The tile.", body = Vec<u8>, content_type = "application/vnd.mapbox-vector-tile"),
        (status = 204, description = "No tile there."),
        (status = 400, description = "Coordinates out of range.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "This server has no basemap.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn tile(
    State(state): State<AppState>,
    UrlPath((z, x, y)): UrlPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let basemap = state.web.basemap.as_ref().ok_or(ApiError::UnknownTileSource("basemap".into()))?;
    let bad = |param: &str, value: &str| ApiError::InvalidParameter {
        param: param.into(),
        detail: format!("{value:?} is not a tile coordinate at this zoom"),
    };
    let z_n: u8 = z.parse().ok().filter(|z| *z <= 24).ok_or_else(|| bad("z", &z))?;
    let max = 1u32 << z_n;
    let x_n: u32 = x.parse().ok().filter(|x| *x < max).ok_or_else(|| bad("x", &x))?;
    let y_text = y.split('.').next().unwrap_or_default();
    let y_n: u32 = y_text.parse().ok().filter(|y| *y < max).ok_or_else(|| bad("y", &y))?;
    let Some(bytes) = basemap.tile(z_n, x_n, y_n).await.map_err(|e| ApiError::Internal(format!("basemap: {e}")))?
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let gzipped = bytes.starts_with(&[0x1f, 0x8b]);
    let content_type = match basemap.format.as_str() {
        "pbf" => super::tiles::MVT,
        "png" => "image/png",
        "webp" => "image/webp",
        _ => "image/jpeg",
    };
    let mut response =
        ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], bytes)
            .into_response();
    if gzipped {
        response.headers_mut().insert(header::CONTENT_ENCODING, header::HeaderValue::from_static("gzip"));
    }
    Ok(response)
}
