//! An incident as a GeoJSON Feature: the API's answers and the history's before/after.

use chrono::{DateTime, Utc};
use geo::Geometry;
use serde_json::{json, Value};

use crate::incident::Record;

/// The incident as a GeoJSON Feature.
pub fn feature(record: &Record) -> Value {
    let f = &record.fields;
    let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "type": "Feature",
        "id": record.id,
        "geometry": f.geometry.as_ref().map(geometry),
        "properties": {
            "category": f.category,
            "severity": f.severity.get(),
            "status": f.status,
            "occurred_at": time(&f.occurred_at),
            "source": f.source,
            "description": f.description,
            "casualties": f.casualties,
            "kode": f.region,
            "kecamatan": record.placement.codes[0],
            "kabupaten_kota": record.placement.codes[1],
            "provinsi": record.placement.codes[2],
            "at_sea": record.placement.at_sea,
            "reporter": record.reporter,
            "created_at": time(&record.created_at),
            "updated_at": time(&record.updated_at),
            "version": record.version,
        }
    })
}

/// A Point, LineString or Polygon as a GeoJSON geometry (other types: null).
pub fn geometry(g: &Geometry<f64>) -> Value {
    let position = |c: &geo::Coord<f64>| json!([c.x, c.y]);
    match g {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": position(&p.0)}),
        Geometry::LineString(l) => {
            json!({"type": "LineString", "coordinates": l.0.iter().map(position).collect::<Vec<_>>()})
        }
        Geometry::Polygon(p) => {
            let rings: Vec<Vec<Value>> = std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| r.0.iter().map(position).collect())
                .collect();
            json!({"type": "Polygon", "coordinates": rings})
        }
        _ => Value::Null,
    }
}
