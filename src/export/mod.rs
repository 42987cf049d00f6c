//! Exports of the map's layers for GIS tools: GeoJSON (RFC 7946), newline-delimited
//! GeoJSON, CSV with WKT and FlatGeobuf, with the same filters for the HTTP API, the
//! OGC API - Features pages and `sipks export`.
//!
//! Rows stream from PostGIS through an encoder into chunks of [`CHUNK`] bytes handed to
//! a bounded channel, so memory does not grow with the number of features and a slow
//! reader slows the query. The one exception is FlatGeobuf: its packed Hilbert R-tree
//! precedes the features and needs every feature's bounding box, so features go to a
//! temporary file and about 100 bytes per feature (box and offset) stay in memory
//! until the index is written.

mod emerging;
mod encode;
mod fgb;
mod gpkg;
mod layer;
mod wkt;

use std::fmt;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::PgPool;
use tokio::sync::mpsc;

pub use self::encode::{geojson_bbox, write_degrees, write_feature, write_geojson_geometry};
pub use self::layer::{Column, Feature, FeatureId, GeometryKind, Kind, Layer, Value};
pub use self::wkt::write_wkt;
use crate::auth::Scope;
use crate::db::export as rows;
use crate::engine::Engine;
use crate::incident::{Category, Status};
use crate::region::{RegionCode, RegionLevel};

/// Attribution of the boundary data (upstream and licence), in every export that can
/// carry it and in the OGC collections.
pub use crate::boundaries::ATTRIBUTION;
pub use crate::db::export::Page;

/// The level of the hotspot layer: regencies and cities, as `/api/hotspots` by default.
pub const HOTSPOT_LEVEL: RegionLevel = RegionLevel::KabupatenKota;

/// Bytes gathered before a chunk is handed on.
pub const CHUNK: usize = 64 * 1024;

/// Chunks waiting in the channel between the encoder and the reader: with [`CHUNK`],
/// at most half a megabyte in flight.
pub const CHANNEL_CHUNKS: usize = 8;

/// A file format of the exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One GeoJSON FeatureCollection (RFC 7946).
    GeoJson,
    /// One GeoJSON Feature per line.
    NdJson,
    /// CSV with the geometry as WKT in the first column (`WKT`, which GDAL recognises).
    Csv,
    /// FlatGeobuf with its packed Hilbert R-tree index.
    FlatGeobuf,
    /// GeoPackage 1.3 (SQLite), one feature table.
    GeoPackage,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [Format::GeoJson, Format::NdJson, Format::Csv, Format::FlatGeobuf, Format::GeoPackage];

    /// The name in URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::NdJson => "ndjson",
            Format::Csv => "csv",
            Format::FlatGeobuf => "fgb",
            Format::GeoPackage => "gpkg",
        }
    }

    /// The format of a name.
    pub fn parse(name: &str) -> Result<Format, ExportError> {
        Format::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| ExportError::UnknownFormat(name.to_owned()))
    }

    /// The media type of a file of this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::GeoJson => "application/geo+json",
            Format::NdJson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
            Format::FlatGeobuf => "application/flatgeobuf",
            Format::GeoPackage => "application/geopackage+sqlite3",
        }
    }

    /// The file name extension (GDAL recognises each).
    pub fn extension(self) -> &'static str {
        match self {
            Format::GeoJson => "geojson",
            Format::NdJson => "geojsonl",
            Format::Csv => "csv",
            Format::FlatGeobuf => "fgb",
            Format::GeoPackage => "gpkg",
        }
    }
}

/// A bounding box in degrees of longitude and latitude (EPSG:4326 / CRS84 axis order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// West, south, east, north.
    pub edges: [f64; 4],
}

impl Bbox {
    /// Parses `west,south,east,north` (or the six numbers of a 3D box, whose heights are
    /// ignored). West east of east is a box across the antimeridian (OGC API - Features
    /// Part 1, 7.15.3): from west to 180 and from -180 to east.
    pub fn parse(text: &str) -> Result<Bbox, String> {
        let numbers: Result<Vec<f64>, _> = text.split(',').map(|v| v.trim().parse::<f64>()).collect();
        let numbers = numbers.map_err(|_| format!("{text:?} is not a list of numbers west,south,east,north"))?;
        let [w, s, e, n] = match numbers.as_slice() {
            &[w, s, e, n] | &[w, s, _, e, n, _] => [w, s, e, n],
            other => return Err(format!("{text:?} has {} numbers, not 4 (west,south,east,north)", other.len())),
        };
        if ![w, s, e, n].iter().all(|v| v.is_finite()) {
            return Err(format!("{text:?} holds a number that is not finite"));
        }
        if !(-180.0..=180.0).contains(&w) || !(-180.0..=180.0).contains(&e) {
            return Err(format!("{text:?}: longitudes must lie within -180..180"));
        }
        if !(-90.0..=90.0).contains(&s) || !(-90.0..=90.0).contains(&n) {
            return Err(format!("{text:?}: latitudes must lie within -90..90"));
        }
        if s > n {
            return Err(format!("{text:?}: south ({s}) lies north of north ({n})"));
        }
        Ok(Bbox { edges: [w, s, e, n] })
    }

    /// The box as one or two rectangles (two across the antimeridian).
    pub fn rects(&self) -> Vec<geo::Rect<f64>> {
        let [w, s, e, n] = self.edges;
        let rect = |w: f64, e: f64| geo::Rect::new(geo::coord! { x: w, y: s }, geo::coord! { x: e, y: n });
        if w <= e {
            vec![rect(w, e)]
        } else {
            vec![rect(w, 180.0), rect(-180.0, e)]
        }
    }
}

/// The shape of an incident's location, for collections of one geometry type (GIS
/// tools want one type per layer: GDAL guesses it from the first features).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentShape {
    /// Points (and reports known only by region, at their region's label point).
    Point,
    /// Lines.
    LineString,
    /// Polygons.
    Polygon,
}

impl IncidentShape {
    /// PostGIS' name of the geometry type (`ST_GeometryType`).
    pub fn postgis_type(self) -> &'static str {
        match self {
            IncidentShape::Point => "ST_Point",
            IncidentShape::LineString => "ST_LineString",
            IncidentShape::Polygon => "ST_Polygon",
        }
    }
}

/// What to export: the filters of the API and the command line, checked.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Within this region (its subtree).
    pub region: Option<RegionCode>,
    /// Intersecting this box.
    pub bbox: Option<Bbox>,
    /// Incidents that occurred from this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Incidents that occurred before this time (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Incidents of these categories (any; none: all).
    pub categories: Vec<Category>,
    /// Incidents of these statuses (any; none: all).
    pub statuses: Vec<Status>,
    /// The window in days: of the risk figures (regions, hotspots), of the clustered
    /// incidents (clusters, default the risk model's), or the last days of incidents.
    pub window: Option<u32>,
    /// Incidents located by this shape only.
    pub shape: Option<IncidentShape>,
}

/// The filters as given in a query string or on the command line, unchecked.
#[derive(Debug, Clone, Default)]
pub struct FilterText {
    /// A region code.
    pub region: Option<String>,
    /// `west,south,east,north`.
    pub bbox: Option<String>,
    /// RFC 3339 time or date (midnight WIB).
    pub from: Option<String>,
    /// RFC 3339 time (excluded) or date (that whole day included: up to the next
    /// midnight WIB).
    pub to: Option<String>,
    /// Categories, comma-separated.
    pub category: Option<String>,
    /// Statuses, comma-separated.
    pub status: Option<String>,
    /// Days, `30` or `30d`.
    pub window: Option<String>,
}

/// Longest window, days (as the risk API).
pub const MAX_WINDOW_DAYS: u32 = 3660;

fn invalid(param: &str, detail: String) -> ExportError {
    ExportError::InvalidFilter { param: param.to_owned(), detail }
}

impl FilterText {
    /// The checked filter; empty values count as absent.
    pub fn parse(&self) -> Result<Filter, ExportError> {
        let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let time = |param: &str, v: &Option<String>| {
            let parse = if param == "to" {
                crate::ingest::incidents::parse_time_end
            } else {
                crate::ingest::incidents::parse_time
            };
            given(v)
                .map(|v| {
                    parse(&v)
                        .map_err(|_| invalid(param, format!("{v:?} is neither an RFC 3339 time nor a date YYYY-MM-DD")))
                })
                .transpose()
        };
        fn list<T: std::str::FromStr<Err = String>>(param: &str, v: Option<String>) -> Result<Vec<T>, ExportError> {
            v.map_or(Ok(Vec::new()), |v| {
                v.split(',').map(|item| item.trim().parse::<T>().map_err(|e| invalid(param, e))).collect()
            })
        }
        let filter = Filter {
            region: given(&self.region)
                .map(|v| v.parse::<RegionCode>().map_err(|e| invalid("region", e.to_string())))
                .transpose()?,
            bbox: given(&self.bbox).map(|v| Bbox::parse(&v).map_err(|e| invalid("bbox", e))).transpose()?,
            from: time("from", &self.from)?,
            to: time("to", &self.to)?,
            categories: list("category", given(&self.category))?,
            statuses: list("status", given(&self.status))?,
            window: given(&self.window)
                .map(|v| {
                    v.trim_end_matches('d')
                        .parse::<u32>()
                        .ok()
                        .filter(|d| (1..=MAX_WINDOW_DAYS).contains(d))
                        .ok_or_else(|| {
                            invalid("window", format!("{v:?} is not a number of days from 1 to {MAX_WINDOW_DAYS}"))
                        })
                })
                .transpose()?,
            shape: None,
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            if from > to {
                return Err(invalid(
                    "from",
                    format!("from ({}) lies after to ({})", from.to_rfc3339(), to.to_rfc3339()),
                ));
            }
        }
        Ok(filter)
    }
}

impl Filter {
    /// Refuses filters that mean nothing for `layer`, naming them.
    pub fn check_for(&self, layer: Layer) -> Result<(), ExportError> {
        if matches!(layer, Layer::Regions(_) | Layer::Hotspots | Layer::Emerging) {
            let incident_filters = [
                ("from", self.from.is_some()),
                ("to", self.to.is_some()),
                ("category", !self.categories.is_empty()),
                ("status", !self.statuses.is_empty()),
            ];
            if let Some((param, _)) = incident_filters.iter().find(|(_, given)| *given) {
                return Err(ExportError::NotApplicable { param: (*param).to_owned(), layer: layer.name() });
            }
        }
        Ok(())
    }
}

/// Where features come from: PostGIS, the engine (risk figures, Gi*, clusters) and the
/// caller's scope (incidents).
#[derive(Clone)]
pub struct Sources {
    /// The database.
    pub pool: PgPool,
    /// The engine, for the risk figures, Gi* and clusters (the command line builds it
    /// only for the layers that need it).
    pub engine: Option<Arc<RwLock<Engine>>>,
    /// Which incidents the caller may see.
    pub scope: Scope,
}

/// Why an export cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// No layer has this name.
    #[error("there is no layer {0:?} (provinsi, kabupaten_kota, kecamatan, incidents, hotspots, clusters, emerging)")]
    UnknownLayer(String),
    /// No format has this name.
    #[error("there is no export format {0:?} (geojson, ndjson, csv, fgb, gpkg)")]
    UnknownFormat(String),
    /// A filter is malformed or out of range.
    #[error("filter {param} is invalid: {detail}")]
    InvalidFilter {
        /// The filter's name.
        param: String,
        /// What is wrong.
        detail: String,
    },
    /// A filter that does not apply to the layer (the incident filters on region
    /// layers, whose figures count every incident of the window).
    #[error("filter {param} does not apply to layer {layer}: its figures count every incident of the window")]
    NotApplicable {
        /// The filter's name.
        param: String,
        /// The layer.
        layer: &'static str,
    },
    /// The region filter names no stored region.
    #[error("there is no region with code {0}")]
    RegionNotFound(RegionCode),
    /// The layer needs the engine, and none was given.
    #[error("layer {0} needs the engine's figures")]
    NoEngine(&'static str),
    /// The database failed.
    #[error("database error while exporting: {0}")]
    Database(#[from] sqlx::Error),
    /// A row could not be read into a feature.
    #[error("cannot read row {row} of layer {layer}: {detail}")]
    Row {
        /// The layer.
        layer: &'static str,
        /// The row's identifier.
        row: String,
        /// What is wrong.
        detail: String,
    },
    /// Writing the FlatGeobuf file or its temporary file failed.
    #[error("cannot write the FlatGeobuf file: {0}")]
    FlatGeobuf(String),
    /// Writing the GeoPackage (SQLite) or its temporary file failed.
    #[error("cannot write the GeoPackage file: {0}")]
    GeoPackage(String),
    /// The reader went away (client disconnected); nothing to report.
    #[error("the reader of the export went away")]
    ReaderGone,
    /// Writing the file failed.
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

/// A file name that says what is inside: `sipks_incidents_73.71_2026-11-28.geojson`.
pub fn file_name(layer: Layer, format: Format, filter: &Filter, today: DateTime<Utc>) -> String {
    let mut name = format!("sipks_{}", layer.name());
    if let Some(region) = &filter.region {
        name.push('_');
        name.push_str(region.as_str());
    }
    format!("{name}_{}.{}", today.format("%Y-%m-%d"), format.extension())
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Receives features one by one.
pub trait FeatureSink: Send {
    /// Takes one feature (waiting while the reader is behind).
    fn feature(&mut self, feature: Feature) -> impl std::future::Future<Output = Result<(), ExportError>> + Send;
}

/// The features of `layer` that pass `filter` (only the one with identifier `id`, if
/// given), in a stable order (code, id or cluster number), handed to `sink`; with
/// `page`, only that page.
pub async fn each_feature(
    sources: &Sources,
    layer: Layer,
    filter: &Filter,
    page: Option<Page>,
    id: Option<&str>,
    sink: &mut impl FeatureSink,
) -> Result<(), ExportError> {
    match layer {
        Layer::Regions(level) => {
            let figures = layer::risk_figures(sources, level, filter.window).await?;
            let query = rows::RegionQuery::new(level, filter.region.as_ref(), filter.bbox.map(|b| b.edges), id);
            let mut builder = query.select(page);
            let mut stream = builder.build().fetch(&sources.pool);
            while let Some(row) = stream.try_next().await? {
                sink.feature(figures.feature(rows::RegionRow::read(&row)?)?).await?;
            }
        }
        Layer::Hotspots => {
            let figures = layer::hotspot_figures(sources, HOTSPOT_LEVEL, filter.window).await?;
            let query = rows::RegionQuery::new(HOTSPOT_LEVEL, filter.region.as_ref(), filter.bbox.map(|b| b.edges), id);
            let mut builder = query.select(page);
            let mut stream = builder.build().fetch(&sources.pool);
            while let Some(row) = stream.try_next().await? {
                sink.feature(figures.feature(rows::RegionRow::read(&row)?)?).await?;
            }
        }
        Layer::Emerging => {
            let figures = emerging::emerging_figures(sources, HOTSPOT_LEVEL).await?;
            let query = rows::RegionQuery::new(HOTSPOT_LEVEL, filter.region.as_ref(), filter.bbox.map(|b| b.edges), id);
            let mut builder = query.select(page);
            let mut stream = builder.build().fetch(&sources.pool);
            while let Some(row) = stream.try_next().await? {
                sink.feature(figures.feature(rows::RegionRow::read(&row)?)?).await?;
            }
        }
        Layer::Incidents => {
            let Some(query) = incident_selection(sources, filter, id) else { return Ok(()) };
            let mut builder = query.select(page);
            let mut stream = builder.build().fetch(&sources.pool);
            while let Some(row) = stream.try_next().await? {
                sink.feature(layer::incident_feature(rows::IncidentRow::read(&row)?)?).await?;
            }
        }
        Layer::Clusters => {
            let features = layer::cluster_features(sources, filter).await?;
            let start = page.map_or(0, |p| p.offset.max(0) as usize);
            let count = page.map_or(usize::MAX, |p| p.limit.max(0) as usize);
            let wanted = |f: &Feature| id.is_none_or(|id| matches!(&f.id, FeatureId::Int(n) if n.to_string() == id));
            for feature in features.into_iter().filter(wanted).skip(start).take(count) {
                sink.feature(feature).await?;
            }
        }
    }
    Ok(())
}

/// The incidents of a filter (and id), or `None` for an id that is not a number.
fn incident_selection(sources: &Sources, filter: &Filter, id: Option<&str>) -> Option<rows::IncidentQuery> {
    let id = match id {
        Some(id) => Some(id.parse::<i64>().ok()?),
        None => None,
    };
    Some(layer::incident_query(sources, filter, id))
}

/// How many features of `layer` pass `filter`.
pub async fn count(sources: &Sources, layer: Layer, filter: &Filter) -> Result<i64, ExportError> {
    let bbox = filter.bbox.map(|b| b.edges);
    Ok(match layer {
        Layer::Regions(level) => {
            rows::RegionQuery::new(level, filter.region.as_ref(), bbox, None).count(&sources.pool).await?
        }
        Layer::Hotspots | Layer::Emerging => {
            rows::RegionQuery::new(HOTSPOT_LEVEL, filter.region.as_ref(), bbox, None).count(&sources.pool).await?
        }
        Layer::Incidents => layer::incident_query(sources, filter, None).count(&sources.pool).await?,
        Layer::Clusters => layer::cluster_features(sources, filter).await?.len() as i64,
    })
}

/// When the first and the last incident of `filter` the caller may see occurred.
pub async fn incident_time_span(
    sources: &Sources,
    filter: &Filter,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), ExportError> {
    Ok(layer::incident_query(sources, filter, None).time_span(&sources.pool).await?)
}

/// Gathers features in memory (a page of the OGC API).
#[derive(Debug, Default)]
pub struct Collected(pub Vec<Feature>);

impl FeatureSink for Collected {
    async fn feature(&mut self, feature: Feature) -> Result<(), ExportError> {
        self.0.push(feature);
        Ok(())
    }
}

/// Writes the export of `layer` as `format` into `chunks`, in pieces of about [`CHUNK`]
/// bytes; returns the number of features. The channel is bounded: the export waits for
/// its reader.
pub async fn export(
    sources: &Sources,
    layer: Layer,
    format: Format,
    filter: &Filter,
    chunks: mpsc::Sender<Bytes>,
) -> Result<u64, ExportError> {
    let metadata = layer::metadata(layer, filter);
    match format {
        Format::FlatGeobuf => {
            let mut sink = fgb::FgbSink::new(layer, &metadata)?;
            each_feature(sources, layer, filter, None, None, &mut sink).await?;
            sink.finish(chunks).await
        }
        Format::GeoPackage => {
            let mut sink = gpkg::GpkgSink::new(layer, &metadata)?;
            each_feature(sources, layer, filter, None, None, &mut sink).await?;
            sink.finish(chunks).await
        }
        _ => {
            let mut sink = encode::TextSink::new(layer, format, &metadata, chunks)?;
            each_feature(sources, layer, filter, None, None, &mut sink).await?;
            sink.finish().await
        }
    }
}

/// Writes the export into `out` (a file, standard output) from a blocking thread;
/// returns the number of features.
pub async fn to_writer(
    sources: &Sources,
    layer: Layer,
    format: Format,
    filter: &Filter,
    out: Box<dyn std::io::Write + Send>,
) -> Result<u64, ExportError> {
    let (chunks, mut received) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let writer = tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(CHUNK, out);
        while let Some(chunk) = received.blocking_recv() {
            std::io::Write::write_all(&mut out, &chunk)?;
        }
        std::io::Write::flush(&mut out)
    });
    let exported = export(sources, layer, format, filter, chunks).await;
    let written = writer.await.map_err(|e| ExportError::Write(std::io::Error::other(e)))?;
    match (exported, written) {
        (Err(ExportError::ReaderGone), Err(e)) | (Ok(_), Err(e)) => Err(ExportError::Write(e)),
        (exported, _) => exported,
    }
}

/// Checks that the region of a filter exists (the export answers 404 otherwise).
pub async fn check_region(pool: &PgPool, filter: &Filter) -> Result<(), ExportError> {
    if let Some(code) = &filter.region {
        if !crate::db::regions::exists(pool, code).await? {
            return Err(ExportError::RegionNotFound(code.clone()));
        }
    }
    Ok(())
}
