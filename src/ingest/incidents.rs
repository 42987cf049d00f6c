//! Incident files: CSV with a header row naming the columns (lon, lat, occurred_at,
//! category, severity; optional status, source, description, id, kode), or a GeoJSON
//! FeatureCollection of Point, LineString or Polygon features (or null geometry with a
//! `kode` property) with the same properties.
//!
//! `occurred_at` is RFC 3339 (`2026-11-20T14:30:00+07:00`) or a date (`2026-11-20`,
//! taken as midnight WIB, UTC+07:00); it may not lie in the future.

use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use geo::{Coord, Geometry, LineString, Point, Polygon, Validation};
use serde_json::{Map, Value};

use super::{FileError, RowError};
use crate::incident::{Category, Severity, Status};
use crate::region::RegionCode;

/// Most vertices one incident geometry may have.
pub const MAX_VERTICES: usize = 10_000;

/// An incident read from a file, checked, not yet assigned to regions.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Identifier from the source, unique when given.
    pub external_id: Option<String>,
    /// What the file states (files carry no casualties: zero).
    pub fields: crate::incident::Fields,
    /// Line or feature number in its file.
    pub row: usize,
}

/// Reads a CSV (`.csv`) or GeoJSON (`.geojson`, `.json`) incident file.
pub fn read(path: &Path, now: DateTime<Utc>) -> Result<(Vec<NewIncident>, Vec<RowError>), FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("csv") => read_csv(path, &text, now),
        Some("geojson" | "json") => read_geojson(path, &text, now),
        _ => Err(FileError::Malformed {
            path: path.to_path_buf(),
            reason: "unknown format (expected .csv, .geojson or .json)".into(),
        }),
    }
}

/// Fields common to both formats, as text.
#[derive(Default)]
struct Fields<'a> {
    occurred_at: Option<&'a str>,
    category: Option<&'a str>,
    severity: Option<String>,
    status: Option<&'a str>,
    source: Option<&'a str>,
    description: Option<&'a str>,
    id: Option<String>,
    region: Option<&'a str>,
}

fn build(
    fields: Fields<'_>,
    geometry: Option<Geometry<f64>>,
    row: usize,
    now: DateTime<Utc>,
) -> Result<NewIncident, String> {
    let required = |name: &str, v: Option<&str>| -> Result<String, String> {
        v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).ok_or_else(|| format!("{name} is missing"))
    };
    let occurred_at = parse_time(&required("occurred_at", fields.occurred_at)?)?;
    if occurred_at > now {
        return Err(format!("occurred_at {occurred_at} is in the future"));
    }
    let category: Category = required("category", fields.category)?.parse()?;
    let severity: Severity = required("severity", fields.severity.as_deref())?.parse()?;
    let status = match fields.status.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.parse()?,
        None => Status::Potensi,
    };
    let region = fields
        .region
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<RegionCode>().map_err(|e| e.to_string()))
        .transpose()?;
    if geometry.is_none() && region.is_none() {
        return Err("no location: give lon and lat, a geometry, or a region code (kode)".into());
    }
    if let Some(g) = &geometry {
        check_geometry(g)?;
    }
    Ok(NewIncident {
        external_id: fields.id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        fields: crate::incident::Fields {
            geometry,
            region,
            category,
            severity,
            status,
            occurred_at,
            source: fields.source.unwrap_or_default().trim().to_owned(),
            description: fields.description.unwrap_or_default().trim().to_owned(),
            casualties: crate::incident::Casualties::default(),
        },
        row,
    })
}

/// RFC 3339, or a date taken as midnight WIB (UTC+07:00).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let wib = FixedOffset::east_opt(7 * 3600).ok_or("offset")?;
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(wib).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("occurred_at {s:?} is neither RFC 3339 nor YYYY-MM-DD"))
}

/// The end of a period given as `to`: an RFC 3339 time as it is, a date as the end of
/// that whole day (the next midnight WIB), so `to=<today>` includes today. Periods
/// are [from, to): a time given exactly is excluded, a date is included whole.
pub fn parse_time_end(s: &str) -> Result<DateTime<Utc>, String> {
    let t = parse_time(s)?;
    if DateTime::parse_from_rfc3339(s).is_ok() {
        Ok(t)
    } else {
        Ok(t + chrono::Duration::days(1))
    }
}

/// Coordinates in range, enough positions, closed valid rings, not too many vertices.
pub fn check_geometry(g: &Geometry<f64>) -> Result<(), String> {
    let coords: Vec<Coord<f64>> = match g {
        Geometry::Point(p) => vec![p.0],
        Geometry::LineString(l) => l.0.clone(),
        Geometry::Polygon(p) => {
            p.exterior().0.iter().chain(p.interiors().iter().flat_map(|r| r.0.iter())).copied().collect()
        }
        _ => return Err("geometry must be a Point, LineString or Polygon".into()),
    };
    if coords.len() > MAX_VERTICES {
        return Err(format!("{} vertices, more than the {MAX_VERTICES} allowed", coords.len()));
    }
    for (i, c) in coords.iter().enumerate() {
        if !(c.x.is_finite() && c.y.is_finite() && (-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y)) {
            return Err(format!("coordinate {} ({}, {}) is not a valid longitude, latitude", i + 1, c.x, c.y));
        }
    }
    match g {
        Geometry::LineString(l) if l.0.len() < 2 => Err("a LineString needs at least 2 positions".into()),
        Geometry::Polygon(p) => {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                if ring.0.len() < 4 {
                    return Err("a polygon ring needs at least 4 positions".into());
                }
                if ring.0.first() != ring.0.last() {
                    return Err("a polygon ring must be closed (first position = last)".into());
                }
            }
            if let Some(at) = first_crossing(p) {
                return Err(format!("invalid polygon: self-intersection at ({}, {})", at.x, at.y));
            }
            p.check_validation().map_err(|e| format!("invalid polygon: {e}"))
        }
        _ => Ok(()),
    }
}

/// Where two edges of a polygon's rings cross or overlap, if anywhere (edges that
/// merely share a ring vertex with their neighbour do not count). R-tree of edges,
/// O(n log n).
fn first_crossing(p: &Polygon<f64>) -> Option<Coord<f64>> {
    use geo::line_intersection::{line_intersection, LineIntersection};
    use rstar::primitives::GeomWithData;
    use rstar::{RTree, AABB};
    let rings: Vec<&LineString<f64>> = std::iter::once(p.exterior()).chain(p.interiors()).collect();
    // (ring, index within ring, number of edges of the ring)
    let mut edges = Vec::new();
    for (r, ring) in rings.iter().enumerate() {
        let n = ring.0.len().saturating_sub(1);
        for (i, line) in ring.lines().enumerate() {
            edges.push(GeomWithData::new(
                rstar::primitives::Line::new([line.start.x, line.start.y], [line.end.x, line.end.y]),
                (r, i, n, line),
            ));
        }
    }
    let tree = RTree::bulk_load(edges.clone());
    for a in &edges {
        let (ra, ia, na, la) = a.data;
        let envelope = AABB::from_corners(
            [la.start.x.min(la.end.x), la.start.y.min(la.end.y)],
            [la.start.x.max(la.end.x), la.start.y.max(la.end.y)],
        );
        for b in tree.locate_in_envelope_intersecting(&envelope) {
            let (rb, ib, _, lb) = b.data;
            if (rb, ib) <= (ra, ia) {
                continue;
            }
            let adjacent = ra == rb && (ib == ia + 1 || (ia == 0 && ib + 1 == na));
            match line_intersection(la, lb) {
                Some(LineIntersection::SinglePoint { intersection, is_proper }) => {
                    if is_proper || !adjacent && ra == rb {
                        return Some(intersection);
                    }
                    if ra != rb {
                        return Some(intersection);
                    }
                }
                Some(LineIntersection::Collinear { intersection }) => return Some(intersection.start),
                None => {}
            }
        }
    }
    None
}

fn read_csv(path: &Path, text: &str, now: DateTime<Utc>) -> Result<(Vec<NewIncident>, Vec<RowError>), FileError> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(text.as_bytes());
    let malformed = |reason: String| FileError::Malformed { path: path.to_path_buf(), reason };
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| malformed(format!("no header row: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let known = ["lon", "lat", "occurred_at", "category", "severity", "status", "source", "description", "id", "kode"];
    if let Some(unknown) = headers.iter().find(|h| !known.contains(&h.as_str())) {
        return Err(malformed(format!("unknown column {unknown:?} (columns: {})", known.join(", "))));
    }
    for required in ["occurred_at", "category", "severity"] {
        if col(required).is_none() {
            return Err(malformed(format!("the header has no {required} column")));
        }
    }
    let (lon, lat) = (col("lon"), col("lat"));
    if lon.is_some() != lat.is_some() {
        return Err(malformed("lon and lat come together".into()));
    }
    let mut incidents = Vec::new();
    let mut errors = Vec::new();
    for result in reader.records() {
        let (record, line) = match result {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                (record, line)
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(RowError { file: path.to_path_buf(), row: line, unit: "line", reason: e.to_string() });
                continue;
            }
        };
        let get = |c: Option<usize>| c.and_then(|i| record.get(i)).filter(|s| !s.is_empty());
        let outcome = (|| {
            let geometry = match (get(lon), get(lat)) {
                (Some(x), Some(y)) => {
                    let x: f64 = x.parse().map_err(|_| format!("lon {x:?} is not a number"))?;
                    let y: f64 = y.parse().map_err(|_| format!("lat {y:?} is not a number"))?;
                    Some(Geometry::Point(Point::new(x, y)))
                }
                (None, None) => None,
                _ => return Err("lon and lat must both be given or both be empty".to_owned()),
            };
            let fields = Fields {
                occurred_at: get(col("occurred_at")),
                category: get(col("category")),
                severity: get(col("severity")).map(str::to_owned),
                status: get(col("status")),
                source: get(col("source")),
                description: get(col("description")),
                id: get(col("id")).map(str::to_owned),
                region: get(col("kode")),
            };
            build(fields, geometry, line, now)
        })();
        match outcome {
            Ok(incident) => incidents.push(incident),
            Err(reason) => errors.push(RowError { file: path.to_path_buf(), row: line, unit: "line", reason }),
        }
    }
    Ok((incidents, errors))
}

fn read_geojson(path: &Path, text: &str, now: DateTime<Utc>) -> Result<(Vec<NewIncident>, Vec<RowError>), FileError> {
    let malformed = |reason: String| FileError::Malformed { path: path.to_path_buf(), reason };
    let value: Value = serde_json::from_str(text).map_err(|e| malformed(format!("broken JSON: {e}")))?;
    if value.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(malformed("not a GeoJSON FeatureCollection".into()));
    }
    let features =
        value.get("features").and_then(Value::as_array).ok_or_else(|| malformed("no features array".into()))?;
    let mut incidents = Vec::new();
    let mut errors = Vec::new();
    for (i, feature) in features.iter().enumerate() {
        let row = i + 1;
        let outcome = (|| {
            let empty = Map::new();
            let properties = feature.get("properties").and_then(Value::as_object).unwrap_or(&empty);
            let text = |name: &str| properties.get(name).and_then(Value::as_str);
            let geometry = match feature.get("geometry") {
                None | Some(Value::Null) => None,
                Some(g) => Some(geometry_from_json(g)?),
            };
            let severity = match properties.get("severity") {
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            let id = match (properties.get("id"), feature.get("id")) {
                (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => Some(s.clone()),
                (Some(Value::Number(n)), _) | (None, Some(Value::Number(n))) => Some(n.to_string()),
                _ => None,
            };
            let fields = Fields {
                occurred_at: text("occurred_at"),
                category: text("category"),
                severity,
                status: text("status"),
                source: text("source"),
                description: text("description"),
                id,
                region: text("kode"),
            };
            build(fields, geometry, row, now)
        })();
        match outcome {
            Ok(incident) => incidents.push(incident),
            Err(reason) => errors.push(RowError { file: path.to_path_buf(), row, unit: "feature", reason }),
        }
    }
    Ok((incidents, errors))
}

/// A GeoJSON Point, LineString or Polygon geometry object as a geo geometry.
pub fn geometry_from_json(g: &Value) -> Result<Geometry<f64>, String> {
    let kind = g.get("type").and_then(Value::as_str).ok_or("geometry has no type")?;
    let coords = g.get("coordinates").ok_or("geometry has no coordinates")?;
    let position = |v: &Value| -> Result<Coord<f64>, String> {
        match v.as_array().map(Vec::as_slice) {
            Some([x, y, ..]) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => Ok(Coord { x, y }),
                _ => Err(format!("position {v} is not numeric")),
            },
            _ => Err(format!("position {v} needs longitude and latitude")),
        }
    };
    let line = |v: &Value| -> Result<LineString<f64>, String> {
        v.as_array()
            .ok_or("expected an array of positions")?
            .iter()
            .map(position)
            .collect::<Result<Vec<_>, _>>()
            .map(LineString::new)
    };
    match kind {
        "Point" => position(coords).map(|c| Geometry::Point(Point(c))),
        "LineString" => line(coords).map(Geometry::LineString),
        "Polygon" => {
            let rings = coords.as_array().ok_or("expected an array of rings")?;
            let rings = rings.iter().map(line).collect::<Result<Vec<_>, _>>()?;
            // Checked here: Polygon::new closes open rings silently.
            for ring in &rings {
                if ring.0.len() < 4 {
                    return Err("a polygon ring needs at least 4 positions".into());
                }
                if ring.0.first() != ring.0.last() {
                    return Err("a polygon ring must be closed (first position = last)".into());
                }
            }
            let mut rings = rings.into_iter();
            let exterior = rings.next().ok_or("a polygon needs an exterior ring")?;
            Ok(Geometry::Polygon(Polygon::new(exterior, rings.collect())))
        }
        other => Err(format!("geometry type {other} is not supported (Point, LineString, Polygon)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_time("2026-11-28T00:00:00Z").expect("time")
    }

    fn csv(text: &str) -> (Vec<NewIncident>, Vec<RowError>) {
        read_csv(Path::new("t.csv"), text, now()).expect("readable")
    }

    #[test]
    fn csv_rows_are_read_and_bad_ones_named_by_line() {
        let (ok, bad) = csv("lon,lat,occurred_at,category,severity,status,source,description,id\n\
             119.42,-5.14,2026-11-20,agraria,3,terjadi,polri,Sengketa lahan,A1\n\
             119.42,-5.14,2026-11-20,agraria,7,terjadi,polri,x,A2\n\
             119.42,-5.14,2030-01-01,agraria,3,,polri,x,A3\n\
             ,,2026-11-20T10:00:00+07:00,pemilu,2,potensi,bawaslu,x,A4\n");
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].external_id.as_deref(), Some("A1"));
        assert_eq!(ok[0].fields.occurred_at.to_rfc3339(), "2026-11-19T17:00:00+00:00", "a date is midnight WIB");
        let lines: Vec<usize> = bad.iter().map(|e| e.row).collect();
        assert_eq!(lines, [3, 4, 5]);
        assert!(bad[0].reason.contains("severity"));
        assert!(bad[1].reason.contains("future"));
        assert!(bad[2].reason.contains("no location"));
    }

    #[test]
    fn region_only_rows_need_a_code() {
        let (ok, bad) = csv("occurred_at,category,severity,kode\n2026-11-01,sara,2,73.71\n2026-11-01,sara,2,7371\n");
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].fields.region.as_ref().map(|c| c.as_str()), Some("73.71"));
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn unknown_columns_fail_the_file() {
        assert!(read_csv(Path::new("t.csv"), "lon,lat,when,category,severity\n", now()).is_err());
    }

    #[test]
    fn a_bow_tie_is_a_self_intersection() {
        let p = Polygon::new(
            LineString::from(vec![(119.4, -5.1), (119.5, -5.1), (119.4, -5.2), (119.5, -5.2), (119.4, -5.1)]),
            vec![],
        );
        assert!(first_crossing(&p).is_some());
        let square = Polygon::new(
            LineString::from(vec![(119.4, -5.1), (119.5, -5.1), (119.5, -5.2), (119.4, -5.2), (119.4, -5.1)]),
            vec![],
        );
        assert!(first_crossing(&square).is_none());
    }

    #[test]
    fn geojson_features_with_lines_polygons_and_errors() {
        let text = r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"LineString","coordinates":[[119.4,-5.1],[119.5,-5.2]]},
           "properties":{"occurred_at":"2026-11-01","category":"antar_kelompok","severity":4}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[119.4,-5.1],[119.5,-5.1],[119.4,-5.2],[119.5,-5.2],[119.4,-5.1]]]},
           "properties":{"occurred_at":"2026-11-01","category":"agraria","severity":2}},
          {"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[119.4,-5.1],[119.5,-5.1],[119.5,-5.2]]]},
           "properties":{"occurred_at":"2026-11-01","category":"agraria","severity":2}}
        ]}"#;
        let (ok, bad) = read_geojson(Path::new("t.geojson"), text, now()).expect("readable");
        assert_eq!(ok.len(), 1, "{bad:?} {:?}", ok.iter().map(|i| &i.fields.geometry).collect::<Vec<_>>());
        assert!(matches!(ok[0].fields.geometry, Some(Geometry::LineString(_))));
        assert_eq!(bad.len(), 2);
        assert!(bad[0].reason.contains("invalid polygon"), "self-intersecting bow tie: {}", bad[0].reason);
        assert!(bad[1].reason.contains("at least 4"), "{}", bad[1].reason);
    }
}
