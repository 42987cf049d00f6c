//! GeoPackage 1.3 (OGC 12-128r18): one feature table in an SQLite file, with the
//! required `gpkg_spatial_ref_sys`, `gpkg_contents` and `gpkg_geometry_columns`, the
//! geometry as GeoPackage binary (header with the envelope, then ISO WKB), EPSG:4326.
//!
//! SQLite needs a file it can seek in: features go into a temporary file in one
//! transaction, and the finished file is sent in chunks of [`CHUNK`] bytes. The
//! geometry type is declared per table: MULTIPOLYGON for regions, POLYGON for cluster
//! hulls and GEOMETRY for incidents (points, lines and polygons in one table, which
//! the standard allows).

use std::io::Read;

use axum::body::Bytes;
use geo::{BoundingRect, Geometry, LineString, Polygon};
use rusqlite::types::Value as Sql;
use rusqlite::Connection;
use tokio::sync::mpsc;

use super::layer::GeometryKind;
use super::{ExportError, Feature, FeatureId, FeatureSink, Kind, Layer, Value, ATTRIBUTION, CHUNK};

/// EPSG:4326 as the GeoPackage standard's table 21 lists it.
const WGS84_WKT: &str = "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563,\
AUTHORITY[\"EPSG\",\"7030\"]],AUTHORITY[\"EPSG\",\"6326\"]],PRIMEM[\"Greenwich\",0,AUTHORITY[\"EPSG\",\"8901\"]],\
UNIT[\"degree\",0.0174532925199433,AUTHORITY[\"EPSG\",\"9122\"]],AXIS[\"Latitude\",NORTH],AXIS[\"Longitude\",EAST],\
AUTHORITY[\"EPSG\",\"4326\"]]";

fn gpkg_error(e: impl std::fmt::Display) -> ExportError {
    ExportError::GeoPackage(e.to_string())
}

/// Writes features into a GeoPackage in a temporary file.
pub(super) struct GpkgSink {
    file: tempfile::NamedTempFile,
    db: Connection,
    layer: Layer,
    insert: String,
    extent: Option<[f64; 4]>,
    count: u64,
}

impl GpkgSink {
    /// An empty GeoPackage with the layer's table, in one open transaction.
    pub(super) fn new(layer: Layer, metadata: &serde_json::Value) -> Result<GpkgSink, ExportError> {
        let file = tempfile::Builder::new().suffix(".gpkg").tempfile().map_err(gpkg_error)?;
        let db = Connection::open(file.path()).map_err(gpkg_error)?;
        let table = format!("sipks_{}", layer.name());
        let geometry_type = match layer.geometry_kind() {
            GeometryKind::MultiPolygon => "MULTIPOLYGON",
            GeometryKind::Polygon => "POLYGON",
            GeometryKind::Mixed => "GEOMETRY",
        };
        let mut columns = format!("fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, geom {geometry_type}");
        for column in layer.columns() {
            let kind = match column.kind {
                Kind::Int => "INTEGER",
                Kind::Float => "REAL",
                Kind::Text => "TEXT",
                Kind::Bool => "BOOLEAN",
                Kind::Time => "DATETIME",
            };
            columns.push_str(&format!(", \"{}\" {kind}", column.name));
        }
        let description = format!("{} {ATTRIBUTION}. {metadata}", layer.title()).replace('\'', "''");
        db.execute_batch(&format!(
            "PRAGMA application_id = 1196444487; PRAGMA user_version = 10300; PRAGMA journal_mode = OFF;
             PRAGMA synchronous = OFF;
             CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY,
                 organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL,
                 description TEXT);
             INSERT INTO gpkg_spatial_ref_sys VALUES
                 ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
                 ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
                 ('WGS 84 geodetic', 4326, 'EPSG', 4326, '{WGS84_WKT}',
                  'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
             CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL,
                 identifier TEXT UNIQUE, description TEXT DEFAULT '',
                 last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
                 min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
                 CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
             CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
                 geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
                 CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
                 CONSTRAINT uk_gc_table_name UNIQUE (table_name),
                 CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
                 CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
             CREATE TABLE \"{table}\" ({columns});
             INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
                 VALUES ('{table}', 'features', '{title}', '{description}', 4326);
             INSERT INTO gpkg_geometry_columns VALUES ('{table}', 'geom', '{geometry_type}', 4326, 0, 0);
             BEGIN;",
            title = layer.title().replace('\'', "''"),
        ))
        .map_err(gpkg_error)?;
        let names: Vec<String> = layer.columns().iter().map(|c| format!("\"{}\"", c.name)).collect();
        let marks = vec!["?"; names.len() + 2].join(", ");
        let insert = format!("INSERT INTO \"{table}\" (fid, geom, {}) VALUES ({marks})", names.join(", "));
        Ok(GpkgSink { file, db, layer, insert, extent: None, count: 0 })
    }

    /// Commits, records the extent and sends the file into `chunks`; returns the number
    /// of features.
    pub(super) async fn finish(self, chunks: mpsc::Sender<Bytes>) -> Result<u64, ExportError> {
        let GpkgSink { file, db, layer, extent, count, .. } = self;
        tokio::task::spawn_blocking(move || {
            if let Some([w, s, e, n]) = extent {
                db.execute(
                    "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
                    rusqlite::params![w, s, e, n, format!("sipks_{}", layer.name())],
                )
                .map_err(gpkg_error)?;
            }
            db.execute_batch("COMMIT;").map_err(gpkg_error)?;
            db.close().map_err(|(_, e)| gpkg_error(e))?;
            let mut reader = std::fs::File::open(file.path()).map_err(gpkg_error)?;
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let n = reader.read(&mut chunk).map_err(gpkg_error)?;
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                chunks.blocking_send(Bytes::from(chunk)).map_err(|_| ExportError::ReaderGone)?;
            }
            Ok(count)
        })
        .await
        .map_err(gpkg_error)?
    }
}

impl FeatureSink for GpkgSink {
    async fn feature(&mut self, feature: Feature) -> Result<(), ExportError> {
        let geometry = super::fgb::rounded(&feature.geometry);
        let blob = geometry_blob(&geometry);
        if let Some(r) = geometry.bounding_rect() {
            let e = self.extent.get_or_insert([r.min().x, r.min().y, r.max().x, r.max().y]);
            *e = [e[0].min(r.min().x), e[1].min(r.min().y), e[2].max(r.max().x), e[3].max(r.max().y)];
        }
        let fid = match feature.id {
            FeatureId::Int(n) => Sql::Integer(n),
            FeatureId::Text(_) => Sql::Null,
        };
        let mut values = vec![fid, Sql::Blob(blob)];
        values.extend(feature.values.iter().map(|v| match v {
            Value::Null => Sql::Null,
            Value::Int(n) => Sql::Integer(*n),
            Value::Float(v) if v.is_finite() => Sql::Real(*v),
            Value::Float(_) => Sql::Null,
            Value::Text(s) => Sql::Text(s.clone()),
            Value::Name(s) => Sql::Text((*s).to_owned()),
            Value::Bool(b) => Sql::Integer(i64::from(*b)),
            // GeoPackage DATETIME: ISO 8601 `YYYY-MM-DDTHH:MM:SS.SSSZ` (requirement 5).
            Value::Time(t) => Sql::Text(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        }));
        let mut statement = self.db.prepare_cached(&self.insert).map_err(gpkg_error)?;
        statement.execute(rusqlite::params_from_iter(values)).map_err(gpkg_error)?;
        self.count += 1;
        Ok(())
    }
}

/// GeoPackage binary: `GP`, version 0, flags (little endian, an xy envelope unless the
/// geometry is a point or empty), SRS id 4326, envelope (min x, max x, min y, max y),
/// then ISO WKB.
fn geometry_blob(geometry: &Geometry<f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"GP");
    out.push(0);
    let rect = match geometry {
        Geometry::Point(_) => None,
        g => g.bounding_rect(),
    };
    let empty = geometry.bounding_rect().is_none();
    let flags = 0x01 | if rect.is_some() { 0x02 } else { 0 } | if empty { 0x10 } else { 0 };
    out.push(flags);
    out.extend_from_slice(&4326i32.to_le_bytes());
    if let Some(r) = rect {
        for v in [r.min().x, r.max().x, r.min().y, r.max().y] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_wkb(&mut out, geometry);
    out
}

fn push_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

fn push_points(out: &mut Vec<u8>, line: &LineString<f64>) {
    push_u32(out, line.0.len());
    for c in &line.0 {
        out.extend_from_slice(&c.x.to_le_bytes());
        out.extend_from_slice(&c.y.to_le_bytes());
    }
}

fn push_polygon(out: &mut Vec<u8>, polygon: &Polygon<f64>) {
    push_u32(out, 1 + polygon.interiors().len());
    push_points(out, polygon.exterior());
    for hole in polygon.interiors() {
        push_points(out, hole);
    }
}

/// ISO WKB, little endian, 2D.
fn write_wkb(out: &mut Vec<u8>, geometry: &Geometry<f64>) {
    match geometry {
        Geometry::Line(l) => return write_wkb(out, &Geometry::LineString(LineString::new(vec![l.start, l.end]))),
        Geometry::Rect(r) => return write_wkb(out, &Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => return write_wkb(out, &Geometry::Polygon(t.to_polygon())),
        _ => {}
    }
    out.push(1);
    match geometry {
        Geometry::Point(p) => {
            push_u32(out, 1);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::LineString(l) => {
            push_u32(out, 2);
            push_points(out, l);
        }
        Geometry::Polygon(p) => {
            push_u32(out, 3);
            push_polygon(out, p);
        }
        Geometry::MultiPoint(m) => {
            push_u32(out, 4);
            push_u32(out, m.0.len());
            for p in &m.0 {
                write_wkb(out, &Geometry::Point(*p));
            }
        }
        Geometry::MultiLineString(m) => {
            push_u32(out, 5);
            push_u32(out, m.0.len());
            for l in &m.0 {
                write_wkb(out, &Geometry::LineString(l.clone()));
            }
        }
        Geometry::MultiPolygon(m) => {
            push_u32(out, 6);
            push_u32(out, m.0.len());
            for p in &m.0 {
                out.push(1);
                push_u32(out, 3);
                push_polygon(out, p);
            }
        }
        Geometry::GeometryCollection(c) => {
            push_u32(out, 7);
            push_u32(out, c.0.len());
            for g in &c.0 {
                write_wkb(out, g);
            }
        }
        Geometry::Line(_) | Geometry::Rect(_) | Geometry::Triangle(_) => {}
    }
}
