//! The exported layers: their columns, and their features made from PostGIS rows and
//! the engine's figures (risk of regions, Gi* of regions, DBSCAN clusters).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use chrono::{DateTime, Utc};
use geo::{BoundingRect, Geometry, Intersects};
use serde_json::{json, Value as Json};

use super::{ExportError, Filter, Sources, ATTRIBUTION};
use crate::db::export::{IncidentQuery, IncidentRow, RegionRow};
use crate::engine::risk::RiskLevel;
use crate::engine::store::{RegionStats, Window};
use crate::engine::{Engine, Standing, WeightsKind};
use crate::incident::{Category, Status};
use crate::region::RegionLevel;

/// DBSCAN radius of the cluster layer, metres (as `/api/hotspots/clusters` by default).
pub const CLUSTER_EPS_M: f64 = 5_000.0;
/// DBSCAN's least number of incidents near a core point, as `/api/hotspots/clusters`.
pub const CLUSTER_MIN_POINTS: usize = 5;

/// An exported layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// The regions of a level with their risk level, score and counts in a window.
    Regions(RegionLevel),
    /// Incidents (within the caller's scope).
    Incidents,
    /// Getis-Ord Gi* of the regions of a level (queen contiguity).
    Hotspots,
    /// DBSCAN clusters of incidents: their hulls.
    Clusters,
    /// Emerging hot spot classes of the regions of a level over the last 52 weeks.
    Emerging,
}

impl Layer {
    /// Every layer.
    pub const ALL: [Layer; 7] = [
        Layer::Regions(RegionLevel::Provinsi),
        Layer::Regions(RegionLevel::KabupatenKota),
        Layer::Regions(RegionLevel::Kecamatan),
        Layer::Incidents,
        Layer::Hotspots,
        Layer::Clusters,
        Layer::Emerging,
    ];

    /// The name in URLs, on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Regions(level) => level.as_str(),
            Layer::Incidents => "incidents",
            Layer::Hotspots => "hotspots",
            Layer::Clusters => "clusters",
            Layer::Emerging => "emerging",
        }
    }

    /// The layer of a name.
    pub fn parse(name: &str) -> Result<Layer, ExportError> {
        Layer::ALL.into_iter().find(|l| l.name() == name).ok_or_else(|| ExportError::UnknownLayer(name.to_owned()))
    }

    /// A title in both languages.
    pub fn title(self) -> &'static str {
        match self {
            Layer::Regions(RegionLevel::Provinsi) => "Risiko provinsi / province risk",
            Layer::Regions(RegionLevel::KabupatenKota) => "Risiko kabupaten/kota / regency and city risk",
            Layer::Regions(RegionLevel::Kecamatan) => "Risiko kecamatan / district risk",
            Layer::Incidents => "Kejadian konflik / conflict incidents",
            Layer::Hotspots => "Titik panas Gi* wilayah / Gi* hot and cold spots of regions",
            Layer::Clusters => "Klaster kejadian DBSCAN / DBSCAN incident clusters",
            Layer::Emerging => "Titik panas yang muncul / emerging hot spots",
        }
    }

    /// The columns of its features, in order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Layer::Regions(_) => &REGION_COLUMNS,
            Layer::Incidents => &INCIDENT_COLUMNS,
            Layer::Hotspots => &HOTSPOT_COLUMNS,
            Layer::Clusters => &CLUSTER_COLUMNS,
            Layer::Emerging => &super::emerging::EMERGING_COLUMNS,
        }
    }

    /// Whether the features are polygons of regions (MultiPolygon), incident locations
    /// (Point, LineString or Polygon) or cluster hulls (Polygon).
    pub fn geometry_kind(self) -> GeometryKind {
        match self {
            Layer::Regions(_) | Layer::Hotspots | Layer::Emerging => GeometryKind::MultiPolygon,
            Layer::Incidents => GeometryKind::Mixed,
            Layer::Clusters => GeometryKind::Polygon,
        }
    }
}

/// The geometry type of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeometryKind {
    /// MultiPolygon.
    MultiPolygon,
    /// Polygon.
    Polygon,
    /// Point, LineString or Polygon.
    Mixed,
}

/// The type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Whole number.
    Int,
    /// Real number.
    Float,
    /// Text.
    Text,
    /// true or false.
    Bool,
    /// Time, RFC 3339 in UTC.
    Time,
}

/// A column of an exported layer.
#[derive(Debug, Clone)]
pub struct Column {
    /// Name (property, CSV header, FlatGeobuf column).
    pub name: String,
    /// Type.
    pub kind: Kind,
    /// What it holds, for the OGC queryables.
    pub description: String,
}

pub(super) fn column(name: &str, kind: Kind, description: &str) -> Column {
    Column { name: name.to_owned(), kind, description: description.to_owned() }
}

static REGION_COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    let mut columns = vec![
        column("kode", Kind::Text, "Kemendagri region code (kode wilayah)"),
        column("nama", Kind::Text, "Official name"),
        column("level", Kind::Text, "provinsi, kabupaten_kota or kecamatan"),
        column("induk", Kind::Text, "Parent region's code"),
        column("risk_level", Kind::Text, "Risk level in the window: hijau, kuning or merah"),
        column("score", Kind::Float, "Risk score in the window"),
        column("incident_count", Kind::Int, "Incidents in the window"),
        column("severe_count", Kind::Int, "Incidents of severity 4-5 in the window"),
        column("max_severity", Kind::Int, "Highest severity in the window (0: none)"),
    ];
    columns.extend(
        Category::ALL
            .iter()
            .map(|c| column(&format!("count_{c}"), Kind::Int, "Incidents of this category in the window")),
    );
    columns.extend(
        Status::ALL.iter().map(|s| column(&format!("count_{s}"), Kind::Int, "Incidents of this status in the window")),
    );
    columns.push(column("window_days", Kind::Int, "Length of the window, days"));
    columns.push(column("window_end", Kind::Time, "End of the window"));
    columns
});

static INCIDENT_COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    vec![
        column("id", Kind::Int, "Incident id"),
        column("category", Kind::Text, "Category (kategori)"),
        column("severity", Kind::Int, "Severity 1-5"),
        column("status", Kind::Text, "Stage of handling: potensi, terjadi, ditangani, selesai"),
        column("occurred_at", Kind::Time, "When it happened"),
        column("source", Kind::Text, "Where the report came from"),
        column("description", Kind::Text, "What happened"),
        column("meninggal", Kind::Int, "Dead"),
        column("luka", Kind::Int, "Injured"),
        column("pengungsi", Kind::Int, "Displaced"),
        column("kecamatan", Kind::Text, "District code"),
        column("kabupaten_kota", Kind::Text, "Regency or city code"),
        column("provinsi", Kind::Text, "Province code"),
        column("at_sea", Kind::Bool, "At sea within 12 nautical miles"),
        column("located_by_region", Kind::Bool, "Known only by region: the point is the region's label point"),
        column("version", Kind::Int, "Version, raised by every change"),
        column("updated_at", Kind::Time, "Last change"),
    ]
});

static HOTSPOT_COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    vec![
        column("kode", Kind::Text, "Kemendagri region code (kode wilayah)"),
        column("nama", Kind::Text, "Official name"),
        column("level", Kind::Text, "provinsi, kabupaten_kota or kecamatan"),
        column("value", Kind::Float, "The value analysed: the region's risk score in the window"),
        column("z", Kind::Float, "Gi* standard score"),
        column("p", Kind::Float, "Two-sided p-value of z"),
        column("bin", Kind::Int, "+3/+2/+1 hot spot at 99/95/90 %, -3/-2/-1 cold spot, 0 not significant"),
        column("weights", Kind::Text, "Spatial weights: queen contiguity"),
        column("window_days", Kind::Int, "Length of the window, days"),
        column("window_end", Kind::Time, "End of the window"),
    ]
});

static CLUSTER_COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    vec![
        column("cluster", Kind::Int, "Cluster number, from 1"),
        column("count", Kind::Int, "Incidents in the cluster"),
        column("dominant_category", Kind::Text, "The most frequent category"),
        column("max_severity", Kind::Int, "The highest severity"),
        column("centroid_lon", Kind::Float, "Mean longitude, degrees"),
        column("centroid_lat", Kind::Float, "Mean latitude, degrees"),
    ]
});

/// A property value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// Whole number.
    Int(i64),
    /// Real number.
    Float(f64),
    /// Text.
    Text(String),
    /// Text known in advance.
    Name(&'static str),
    /// true or false.
    Bool(bool),
    /// A time.
    Time(DateTime<Utc>),
}

/// A feature's identifier: an incident's or cluster's number, a region's code.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureId {
    /// Number.
    Int(i64),
    /// Code.
    Text(String),
}

/// One exported feature: geometry in EPSG:4326 (longitude, latitude) and the values
/// of its layer's columns, in order.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Identifier.
    pub id: FeatureId,
    /// Geometry.
    pub geometry: Geometry<f64>,
    /// Values, one per column.
    pub values: Vec<Value>,
}

pub(super) fn read_wkb(layer: &'static str, row: &str, wkb: &[u8]) -> Result<Geometry<f64>, ExportError> {
    crate::db::wkb::read(wkb).map_err(|e| ExportError::Row { layer, row: row.to_owned(), detail: e.to_string() })
}

pub(super) fn engine_of(sources: &Sources, layer: Layer) -> Result<Arc<RwLock<Engine>>, ExportError> {
    sources.engine.clone().ok_or(ExportError::NoEngine(layer.name()))
}

/// The window of `days` (default: the model's) ending now, with the engine's snapshot
/// for it: the current one when it is that window, else a fresh one.
fn with_snapshot<T>(engine: &Engine, days: Option<u32>, f: impl FnOnce(Window, &crate::engine::Snapshot) -> T) -> T {
    let window = Window { as_of: Utc::now().timestamp(), days: days.unwrap_or(engine.model().window_days) };
    let current = engine.current();
    if window.days == current.window.days && window.as_of - current.window.as_of < 60 {
        f(current.window, current)
    } else {
        f(window, &engine.snapshot(window))
    }
}

pub(super) fn time_of(t: i64) -> Value {
    DateTime::from_timestamp(t, 0).map_or(Value::Null, Value::Time)
}

/// The risk of every region of a level in a window, by code.
pub(super) struct RiskFigures {
    level: RegionLevel,
    window: Window,
    by_code: HashMap<String, (Standing, RegionStats)>,
}

/// Runs `f` on the engine off the async threads (a window other than the current one
/// is a pass over every incident).
pub(super) async fn on_engine<T: Send + 'static>(
    engine: Arc<RwLock<Engine>>,
    f: impl FnOnce(&Engine) -> T + Send + 'static,
) -> Result<T, ExportError> {
    tokio::task::spawn_blocking(move || {
        let engine = crate::sync::read(&engine);
        f(&engine)
    })
    .await
    .map_err(|e| ExportError::Row { layer: "engine", row: String::new(), detail: e.to_string() })
}

pub(super) async fn risk_figures(
    sources: &Sources,
    level: RegionLevel,
    days: Option<u32>,
) -> Result<RiskFigures, ExportError> {
    let engine = engine_of(sources, Layer::Regions(level))?;
    on_engine(engine, move |engine| {
        with_snapshot(engine, days, |window, snapshot| {
            let index = engine.index();
            let by_code = index
                .level_ids(level)
                .into_iter()
                .map(|id| {
                    let i = id as usize;
                    (index.region(id).code.to_string(), (snapshot.standings[i], snapshot.stats[i]))
                })
                .collect();
            RiskFigures { level, window, by_code }
        })
    })
    .await
}

impl RiskFigures {
    /// A region row with its figures.
    pub(super) fn feature(&self, row: RegionRow) -> Result<Feature, ExportError> {
        let layer = Layer::Regions(self.level);
        let geometry = read_wkb(layer.name(), &row.code, &row.wkb)?;
        let (standing, stats) = *self.by_code.get(&row.code).ok_or_else(|| ExportError::Row {
            layer: layer.name(),
            row: row.code.clone(),
            detail: "the engine has no figures for this region".into(),
        })?;
        let mut values = vec![
            Value::Text(row.code.clone()),
            Value::Text(row.name),
            Value::Name(self.level.as_str()),
            row.parent.map_or(Value::Null, Value::Text),
            Value::Name(risk_name(standing.level)),
            Value::Float(standing.score),
            Value::Int(stats.count.into()),
            Value::Int((stats.by_severity[3] + stats.by_severity[4]).into()),
            Value::Int(stats.max_severity().into()),
        ];
        values.extend(stats.by_category.iter().map(|&n| Value::Int(n.into())));
        values.extend(stats.by_status.iter().map(|&n| Value::Int(n.into())));
        values.push(Value::Int(self.window.days.into()));
        values.push(time_of(self.window.as_of));
        Ok(Feature { id: FeatureId::Text(row.code), geometry, values })
    }
}

fn risk_name(level: RiskLevel) -> &'static str {
    match level {
        RiskLevel::Hijau => "hijau",
        RiskLevel::Kuning => "kuning",
        RiskLevel::Merah => "merah",
    }
}

/// Gi* of every region of a level in a window, by code.
pub(super) struct HotspotFigures {
    level: RegionLevel,
    window: Window,
    by_code: HashMap<String, (f64, crate::engine::hotspots::GiStar)>,
}

pub(super) async fn hotspot_figures(
    sources: &Sources,
    level: RegionLevel,
    days: Option<u32>,
) -> Result<HotspotFigures, ExportError> {
    let engine = engine_of(sources, Layer::Hotspots)?;
    on_engine(engine, move |engine| {
        with_snapshot(engine, days, |window, snapshot| {
            let by_code = engine
                .hotspots(level, snapshot, WeightsKind::Queen, false)
                .into_iter()
                .map(|h| (engine.index().region(h.id).code.to_string(), (h.value, h.gi)))
                .collect();
            HotspotFigures { level, window, by_code }
        })
    })
    .await
}

impl HotspotFigures {
    /// A region row with its Gi*.
    pub(super) fn feature(&self, row: RegionRow) -> Result<Feature, ExportError> {
        let geometry = read_wkb(Layer::Hotspots.name(), &row.code, &row.wkb)?;
        let (value, gi) = self.by_code.get(&row.code).ok_or_else(|| ExportError::Row {
            layer: Layer::Hotspots.name(),
            row: row.code.clone(),
            detail: "the engine has no Gi* for this region".into(),
        })?;
        let values = vec![
            Value::Text(row.code.clone()),
            Value::Text(row.name),
            Value::Name(self.level.as_str()),
            Value::Float(*value),
            Value::Float(gi.z),
            Value::Float(gi.p),
            Value::Int(gi.bin.into()),
            Value::Name("queen"),
            Value::Int(self.window.days.into()),
            time_of(self.window.as_of),
        ];
        Ok(Feature { id: FeatureId::Text(row.code), geometry, values })
    }
}

/// The incident selection of a filter within the caller's scope (`window` days: the
/// last days only, besides `from` and `to`).
pub(super) fn incident_query(sources: &Sources, filter: &Filter, id: Option<i64>) -> IncidentQuery {
    let recent = filter.window.map(|days| Utc::now() - chrono::Duration::days(days.into()));
    IncidentQuery {
        scope: sources.scope.clone(),
        within: filter.region.clone(),
        bbox: filter.bbox.map(|b| b.edges),
        from: filter.from.max(recent),
        to: filter.to,
        categories: filter.categories.clone(),
        statuses: filter.statuses.clone(),
        id,
        geometry_type: filter.shape.map(super::IncidentShape::postgis_type),
    }
}

/// An incident row as a feature.
pub(super) fn incident_feature(row: IncidentRow) -> Result<Feature, ExportError> {
    let geometry = read_wkb(Layer::Incidents.name(), &row.id.to_string(), &row.wkb)?;
    let text = |v: Option<String>| v.map_or(Value::Null, Value::Text);
    let [kecamatan, kabupaten_kota, provinsi] = row.codes;
    let values = vec![
        Value::Int(row.id),
        Value::Name(row.category.as_str()),
        Value::Int(row.severity.into()),
        Value::Name(row.status.as_str()),
        Value::Time(row.occurred_at),
        Value::Text(row.source),
        Value::Text(row.description),
        Value::Int(row.casualties[0].into()),
        Value::Int(row.casualties[1].into()),
        Value::Int(row.casualties[2].into()),
        text(kecamatan),
        text(kabupaten_kota),
        text(provinsi),
        Value::Bool(row.at_sea),
        Value::Bool(row.by_region),
        Value::Int(row.version.into()),
        Value::Time(row.updated_at),
    ];
    Ok(Feature { id: FeatureId::Int(row.id), geometry, values })
}

/// The DBSCAN clusters of the incidents that pass the filter (in the window of
/// `window` days, default the model's, and within `from`..`to`), numbered from 1. The
/// points are copied under the engine's lock; the clustering runs without it.
pub(super) async fn cluster_features(sources: &Sources, filter: &Filter) -> Result<Vec<Feature>, ExportError> {
    let engine = engine_of(sources, Layer::Clusters)?;
    let filter = filter.clone();
    let points = on_engine(engine, move |engine| {
        let window =
            Window { as_of: Utc::now().timestamp(), days: filter.window.unwrap_or(engine.model().window_days) };
        let (from, to) = (filter.from.map(|t| t.timestamp()), filter.to.map(|t| t.timestamp()));
        let bbox = filter.bbox.map(|b| b.rects());
        let index = engine.index();
        engine
            .incidents()
            .iter()
            .filter(|i| window.contains(i.occurred_at))
            .filter(|i| from.is_none_or(|f| i.occurred_at >= f) && to.is_none_or(|t| i.occurred_at < t))
            .filter(|i| filter.categories.is_empty() || filter.categories.contains(&i.category))
            .filter(|i| filter.statuses.is_empty() || filter.statuses.contains(&i.status))
            .filter(|i| bbox.as_ref().is_none_or(|rects| rects.iter().any(|b| b.intersects(&i.location))))
            .filter(|i| {
                filter.region.as_ref().is_none_or(|root| {
                    i.assignment.regions.iter().flatten().any(|&id| index.region(id).code.is_within(root))
                })
            })
            .map(|i| (i.location, i.category, i.severity.get()))
            .collect::<Vec<_>>()
    })
    .await?;
    tokio::task::spawn_blocking(move || {
        let locations: Vec<geo::Point<f64>> = points.iter().map(|p| p.0).collect();
        crate::engine::clusters::dbscan(&locations, CLUSTER_EPS_M, CLUSTER_MIN_POINTS)
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.hull.bounding_rect().is_some())
            .map(|(n, cluster)| {
                let mut per_category = [0u32; 7];
                for &m in &cluster.members {
                    per_category[points[m].1.index()] += 1;
                }
                let max_severity = cluster.members.iter().map(|&m| points[m].2).max().unwrap_or(0);
                let number = n as i64 + 1;
                Feature {
                    id: FeatureId::Int(number),
                    values: vec![
                        Value::Int(number),
                        Value::Int(cluster.count as i64),
                        Value::Name(Category::dominant(&per_category).as_str()),
                        Value::Int(max_severity.into()),
                        Value::Float(cluster.centroid.x()),
                        Value::Float(cluster.centroid.y()),
                    ],
                    geometry: Geometry::Polygon(cluster.hull),
                }
            })
            .collect()
    })
    .await
    .map_err(|e| ExportError::Row { layer: "clusters", row: String::new(), detail: e.to_string() })
}

/// What an export says about itself: layer, filters, time, the boundary data's
/// attribution and licence.
pub(super) fn metadata(layer: Layer, filter: &Filter) -> Json {
    let mut filters = serde_json::Map::new();
    if let Some(region) = &filter.region {
        filters.insert("region".into(), json!(region));
    }
    if let Some(bbox) = filter.bbox {
        filters.insert("bbox".into(), json!(bbox.edges));
    }
    if let Some(from) = filter.from {
        filters.insert("from".into(), json!(from.to_rfc3339()));
    }
    if let Some(to) = filter.to {
        filters.insert("to".into(), json!(to.to_rfc3339()));
    }
    if !filter.categories.is_empty() {
        filters.insert("category".into(), json!(filter.categories));
    }
    if !filter.statuses.is_empty() {
        filters.insert("status".into(), json!(filter.statuses));
    }
    if let Some(window) = filter.window {
        filters.insert("window".into(), json!(window));
    }
    json!({
        "layer": layer.name(),
        "title": layer.title(),
        "generated_at": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "filters": filters,
        "crs": "OGC:CRS84 (WGS 84 longitude, latitude)",
        "source": "SIPKS (Sistem Informasi Penanganan Konflik Sosial)",
        "attribution": ATTRIBUTION,
        "boundary_licence": "MIT, Copyright (c) 2024 Cahya DSN (github.com/cahyadsn/wilayah_boundaries)",
    })
}
