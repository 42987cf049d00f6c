//! The collections of `/ogc`: one per region level, the Gi* hotspots, every incident
//! (`incidents`, mixed geometry types) and the incidents of each geometry type
//! (`incidents_point`, `incidents_line`, `incidents_polygon`), since GIS tools want one
//! geometry type per layer (GDAL guesses it from the first features, and a GeoPackage
//! table declares one).

use axum::http::StatusCode;
use serde_json::json;

use super::super::error::ApiError;
use crate::export::{IncidentShape, Kind, Layer};
use crate::region::RegionLevel;

/// A collection: its id, the export layer it serves and, for incidents, the one shape
/// of its features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Collection {
    /// The id in URLs.
    pub id: &'static str,
    /// The layer of its features.
    pub layer: Layer,
    /// Incidents of one geometry type only.
    pub shape: Option<IncidentShape>,
}

const fn of(layer: Layer, id: &'static str) -> Collection {
    Collection { id, layer, shape: None }
}

const fn incidents(id: &'static str, shape: IncidentShape) -> Collection {
    Collection { id, layer: Layer::Incidents, shape: Some(shape) }
}

/// The collections, in the order listed.
pub const COLLECTIONS: [Collection; 8] = [
    of(Layer::Regions(RegionLevel::Provinsi), "provinsi"),
    of(Layer::Regions(RegionLevel::KabupatenKota), "kabupaten_kota"),
    of(Layer::Regions(RegionLevel::Kecamatan), "kecamatan"),
    of(Layer::Incidents, "incidents"),
    incidents("incidents_point", IncidentShape::Point),
    incidents("incidents_line", IncidentShape::LineString),
    incidents("incidents_polygon", IncidentShape::Polygon),
    of(Layer::Hotspots, "hotspots"),
];

/// The collection of an id, or a 404 naming the collections.
pub fn collection_of(id: &str) -> Result<Collection, ApiError> {
    COLLECTIONS.into_iter().find(|c| c.id == id).ok_or_else(|| {
        let names: Vec<&str> = COLLECTIONS.iter().map(|c| c.id).collect();
        let names = names.join(", ");
        ApiError::client(
            StatusCode::NOT_FOUND,
            "not-found",
            ("Koleksi tidak ditemukan", "Collection not found"),
            (
                format!("Tidak ada koleksi {id:?}; yang ada: {names}."),
                format!("There is no collection {id:?}; the collections are: {names}."),
            ),
        )
        .with("parameter", json!("collectionId"))
    })
}

impl Collection {
    /// The GeoJSON geometry type of every feature, where there is one.
    pub fn geometry_type(self) -> Option<&'static str> {
        match (self.layer, self.shape) {
            (Layer::Regions(_) | Layer::Hotspots | Layer::Emerging, _) => Some("MultiPolygon"),
            (_, Some(IncidentShape::Point)) => Some("Point"),
            (_, Some(IncidentShape::LineString)) => Some("LineString"),
            (_, Some(IncidentShape::Polygon)) | (Layer::Clusters, _) => Some("Polygon"),
            (Layer::Incidents, None) => None,
        }
    }

    /// A title in both languages.
    pub fn title(self) -> String {
        match self.shape {
            None => self.layer.title().to_owned(),
            Some(IncidentShape::Point) => "Kejadian konflik: titik / conflict incidents: points".to_owned(),
            Some(IncidentShape::LineString) => "Kejadian konflik: garis / conflict incidents: lines".to_owned(),
            Some(IncidentShape::Polygon) => "Kejadian konflik: poligon / conflict incidents: polygons".to_owned(),
        }
    }

    /// What the collection holds (English; the titles are in both languages).
    pub fn description(self) -> String {
        let what = match (self.layer, self.shape) {
            (Layer::Regions(level), _) => format!(
                "Every {} with its risk level (hijau, kuning, merah), score and incident counts in the risk model's \
                 window ending now (`risk_level`, `score`, `incident_count`, ...). Feature id: the region code. \
                 Geometry: MultiPolygon. `datetime` does not apply (no temporal extent).",
                level.as_str()
            ),
            (Layer::Incidents, None) => "Incidents (kejadian) within the caller's region scope (a bearer token is \
                needed to see any), located by their geometry (Point, LineString or Polygon: mixed; the collections \
                incidents_point, incidents_line and incidents_polygon hold one type each) or, for reports known only \
                by region, the region's label point. Feature id: the incident id. `datetime` filters `occurred_at`."
                .to_owned(),
            (Layer::Incidents, Some(shape)) => format!(
                "The incidents of the collection `incidents` located by a {} (reports known only by region are \
                 points at their region's label point). Feature id: the incident id. `datetime` filters \
                 `occurred_at`.",
                self.geometry_type().unwrap_or(match shape {
                    IncidentShape::Point => "Point",
                    IncidentShape::LineString => "LineString",
                    IncidentShape::Polygon => "Polygon",
                })
            ),
            (Layer::Hotspots, _) => "Getis-Ord Gi* of every regency and city on its risk score (queen contiguity): \
                `z`, `p` and `bin` (+3/+2/+1 hot spot at 99/95/90 %, negative: cold spot). Feature id: the region \
                code. Geometry: MultiPolygon. `datetime` does not apply."
                .to_owned(),
            (Layer::Clusters, _) => "DBSCAN clusters of incidents.".to_owned(),
            (Layer::Emerging, _) => "Emerging hot spot classes of regencies and cities.".to_owned(),
        };
        format!("{what} Attribution: {}.", crate::export::ATTRIBUTION)
    }

    /// The JSON Schema (2020-12) of the features' properties and geometry, as
    /// `/queryables` serves it under the id `id` (its URL).
    pub fn queryables(self, id: &str) -> serde_json::Value {
        let geometry = match self.geometry_type() {
            Some("MultiPolygon") => "geometry-multipolygon",
            Some("Polygon") => "geometry-polygon",
            Some("Point") => "geometry-point",
            Some("LineString") => "geometry-linestring",
            _ => "geometry-any",
        };
        let mut properties = serde_json::Map::new();
        properties.insert("geometry".into(), json!({ "format": geometry, "x-ogc-role": "primary-geometry" }));
        for column in self.layer.columns() {
            let mut schema = match column.kind {
                Kind::Int => json!({ "type": "integer" }),
                Kind::Float => json!({ "type": "number" }),
                Kind::Text => json!({ "type": "string" }),
                Kind::Bool => json!({ "type": "boolean" }),
                Kind::Time => json!({ "type": "string", "format": "date-time" }),
            };
            schema["title"] = json!(column.name);
            schema["description"] = json!(column.description);
            properties.insert(column.name.clone(), schema);
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": id,
            "type": "object",
            "title": self.title(),
            "properties": properties,
            "additionalProperties": false,
        })
    }
}
