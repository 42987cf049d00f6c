//! The text encoders: GeoJSON (one FeatureCollection, RFC 7946), newline-delimited
//! GeoJSON and CSV with the geometry as WKT. Coordinates are longitude, latitude
//! (EPSG:4326) rounded to 7 decimals (about 1 cm); polygons follow the right-hand rule
//! (exterior rings counter-clockwise, holes clockwise, RFC 7946 section 3.1.6).

use std::borrow::Cow;

use axum::body::Bytes;
use chrono::{DateTime, Datelike, Timelike, Utc};
use geo::{Coord, Geometry, LineString, MultiPolygon, Polygon};
use serde_json::Value as Json;
use tokio::sync::mpsc;

use super::wkt::write_wkt;
use super::{Column, ExportError, Feature, FeatureId, FeatureSink, Format, Layer, Value, ATTRIBUTION, CHUNK};

/// Encodes features as GeoJSON, NDJSON or CSV into chunks sent to a channel.
pub(super) struct TextSink {
    format: Format,
    columns: &'static [Column],
    buffer: Vec<u8>,
    chunks: mpsc::Sender<Bytes>,
    count: u64,
}

impl TextSink {
    /// Starts a file: the FeatureCollection's members before its features (with the
    /// metadata and attribution), or the CSV header.
    pub(super) fn new(
        layer: Layer,
        format: Format,
        metadata: &Json,
        chunks: mpsc::Sender<Bytes>,
    ) -> Result<TextSink, ExportError> {
        let mut buffer = Vec::with_capacity(CHUNK + CHUNK / 4);
        let columns = layer.columns();
        match format {
            Format::GeoJson => {
                buffer.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"name\":");
                push_json_str(&mut buffer, &format!("sipks_{}", layer.name()));
                buffer.extend_from_slice(b",\"attribution\":");
                push_json_str(&mut buffer, ATTRIBUTION);
                buffer.extend_from_slice(b",\"metadata\":");
                buffer.extend_from_slice(metadata.to_string().as_bytes());
                buffer.extend_from_slice(b",\"features\":[");
            }
            Format::Csv => {
                buffer.extend_from_slice(b"WKT");
                for column in columns {
                    buffer.push(b',');
                    push_csv_field(&mut buffer, &column.name);
                }
                buffer.extend_from_slice(b"\r\n");
            }
            Format::NdJson => {}
            Format::FlatGeobuf | Format::GeoPackage => {
                return Err(ExportError::FlatGeobuf("not a text format".into()));
            }
        }
        Ok(TextSink { format, columns, buffer, chunks, count: 0 })
    }

    async fn send(&mut self) -> Result<(), ExportError> {
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK + CHUNK / 4));
        self.chunks.send(Bytes::from(full)).await.map_err(|_| ExportError::ReaderGone)
    }

    /// Ends the file and sends what is left; returns the number of features.
    pub(super) async fn finish(mut self) -> Result<u64, ExportError> {
        if self.format == Format::GeoJson {
            self.buffer.extend_from_slice(b"\n]}\n");
        }
        if !self.buffer.is_empty() {
            self.send().await?;
        }
        Ok(self.count)
    }
}

impl FeatureSink for TextSink {
    async fn feature(&mut self, feature: Feature) -> Result<(), ExportError> {
        match self.format {
            Format::GeoJson => {
                if self.count > 0 {
                    self.buffer.push(b',');
                }
                self.buffer.push(b'\n');
                write_feature(&mut self.buffer, self.columns, &feature);
            }
            Format::NdJson => {
                write_feature(&mut self.buffer, self.columns, &feature);
                self.buffer.push(b'\n');
            }
            _ => write_csv_row(&mut self.buffer, &feature),
        }
        self.count += 1;
        if self.buffer.len() >= CHUNK {
            self.send().await?;
        }
        Ok(())
    }
}

/// Writes one GeoJSON Feature: `id`, `geometry` and the columns as `properties`.
pub fn write_feature(out: &mut Vec<u8>, columns: &[Column], feature: &Feature) {
    out.extend_from_slice(b"{\"type\":\"Feature\",\"id\":");
    match &feature.id {
        FeatureId::Int(n) => push_int(out, *n),
        FeatureId::Text(s) => push_json_str(out, s),
    }
    out.extend_from_slice(b",\"geometry\":");
    write_geojson_geometry(out, &feature.geometry);
    out.extend_from_slice(b",\"properties\":{");
    for (i, (column, value)) in columns.iter().zip(&feature.values).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, &column.name);
        out.push(b':');
        push_json_value(out, value);
    }
    out.extend_from_slice(b"}}");
}

fn push_json_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int(n) => push_int(out, *n),
        Value::Float(v) => push_float(out, *v),
        Value::Text(s) => push_json_str(out, s),
        Value::Name(s) => push_json_str(out, s),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Time(t) => {
            out.push(b'"');
            push_time(out, t);
            out.push(b'"');
        }
    }
}

fn write_csv_row(out: &mut Vec<u8>, feature: &Feature) {
    out.push(b'"');
    write_wkt(out, &feature.geometry);
    out.push(b'"');
    for value in &feature.values {
        out.push(b',');
        match value {
            Value::Null => {}
            Value::Int(n) => push_int(out, *n),
            Value::Float(v) if v.is_finite() => push_float(out, *v),
            Value::Float(_) => {}
            Value::Text(s) => push_csv_field(out, s),
            Value::Name(s) => push_csv_field(out, s),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Time(t) => push_time(out, t),
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// A CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, quote
/// or line break.
fn push_csv_field(out: &mut Vec<u8>, s: &str) {
    if !s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    for part in s.split('"').enumerate() {
        if part.0 > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(part.1.as_bytes());
    }
    out.push(b'"');
}

/// A JSON string: quoted, with quotes, backslashes and control characters escaped.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Nearly every text needs no escape: one branch-free pass tells.
    let plain = !bytes.iter().fold(false, |any, &b| any | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// A real number in its shortest exact form; `null` when it is not finite.
fn push_float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        use std::io::Write;
        let _ = write!(out, "{v}");
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Numbers in degrees (a `bbox`, a position) as a JSON array, each as [`push_coord`]
/// writes coordinates: 7 decimals, no exponent.
pub fn write_degrees(out: &mut Vec<u8>, values: &[f64]) {
    out.push(b'[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_coord(out, *v);
    }
    out.push(b']');
}

/// A coordinate in degrees rounded to 7 decimals, without trailing zeros:
/// `119.4300000001` -> `119.43`.
pub(super) fn push_coord(out: &mut Vec<u8>, v: f64) {
    let scaled = (v * 1e7).round();
    if !scaled.is_finite() || scaled.abs() >= 9.0e18 {
        out.extend_from_slice(b"null");
        return;
    }
    let scaled = scaled as i64;
    let whole = scaled.unsigned_abs() / 10_000_000;
    let mut fraction = scaled.unsigned_abs() % 10_000_000;
    if scaled < 0 {
        out.push(b'-');
    }
    push_int(out, whole as i64);
    if fraction != 0 {
        let mut places = 7;
        while fraction.is_multiple_of(10) {
            fraction /= 10;
            places -= 1;
        }
        out.push(b'.');
        let mut digits = [b'0'; 7];
        for slot in digits[..places].iter_mut().rev() {
            *slot = b'0' + (fraction % 10) as u8;
            fraction /= 10;
        }
        out.extend_from_slice(&digits[..places]);
    }
}

fn push_two(out: &mut Vec<u8>, n: u32) {
    out.push(b'0' + (n / 10 % 10) as u8);
    out.push(b'0' + (n % 10) as u8);
}

/// RFC 3339 in UTC: `2026-11-28T07:30:00Z`, with microseconds when there are any.
fn push_time(out: &mut Vec<u8>, t: &DateTime<Utc>) {
    // DateTime's own accessors each convert to local time first (a fifth of this
    // function's time in an export): read the UTC date and time once.
    let (date, time) = (t.date_naive(), t.time());
    let year = date.year();
    if (0..=9999).contains(&year) {
        push_two(out, year as u32 / 100);
        push_two(out, year as u32 % 100);
    } else {
        push_int(out, year.into());
    }
    out.push(b'-');
    push_two(out, date.month());
    out.push(b'-');
    push_two(out, date.day());
    out.push(b'T');
    push_two(out, time.hour());
    out.push(b':');
    push_two(out, time.minute());
    out.push(b':');
    push_two(out, time.second());
    let micros = time.nanosecond() / 1000 % 1_000_000;
    if micros != 0 {
        out.push(b'.');
        push_two(out, micros / 10_000);
        push_two(out, micros / 100 % 100);
        push_two(out, micros % 100);
    }
    out.push(b'Z');
}

/// A coordinate on the 7-decimal grid.
fn snap(c: &Coord<f64>) -> Coord<f64> {
    Coord { x: (c.x * 1e7).round() / 1e7, y: (c.y * 1e7).round() / 1e7 }
}

/// A line on the grid without repeated points.
fn snapped_line(line: &LineString<f64>) -> LineString<f64> {
    let mut coords: Vec<Coord<f64>> = line.0.iter().map(snap).collect();
    coords.dedup();
    LineString::new(coords)
}

/// A polygon on the grid, without the rings that collapse there (fewer than four
/// points); `None` when its exterior collapses.
fn snapped_polygon(polygon: &Polygon<f64>) -> Option<Polygon<f64>> {
    let ring = |r: &LineString<f64>| Some(snapped_line(r)).filter(|r| r.0.len() >= 4);
    Some(Polygon::new(ring(polygon.exterior())?, polygon.interiors().iter().filter_map(ring).collect()))
}

/// The geometry as exported: on the 7-decimal grid (about 1 cm), as PostGIS'
/// `ST_SnapToGrid` leaves it: repeated points removed, rings and polygons that
/// collapse to less than a ring dropped (slivers narrower than the grid). Points are
/// written as they are (the writers round them).
pub(super) fn on_grid(geometry: &Geometry<f64>) -> Cow<'_, Geometry<f64>> {
    match geometry {
        Geometry::Point(_) | Geometry::MultiPoint(_) | Geometry::Line(_) => Cow::Borrowed(geometry),
        Geometry::LineString(l) => Cow::Owned(Geometry::LineString(snapped_line(l))),
        Geometry::MultiLineString(m) => Cow::Owned(Geometry::MultiLineString(m.iter().map(snapped_line).collect())),
        Geometry::Polygon(p) => Cow::Owned(match snapped_polygon(p) {
            Some(p) => Geometry::Polygon(p),
            None => Geometry::Polygon(Polygon::new(LineString::new(Vec::new()), Vec::new())),
        }),
        Geometry::MultiPolygon(m) => {
            Cow::Owned(Geometry::MultiPolygon(MultiPolygon::new(m.iter().filter_map(snapped_polygon).collect())))
        }
        Geometry::Rect(r) => Cow::Owned(on_grid(&Geometry::Polygon(r.to_polygon())).into_owned()),
        Geometry::Triangle(t) => Cow::Owned(on_grid(&Geometry::Polygon(t.to_polygon())).into_owned()),
        Geometry::GeometryCollection(c) => {
            Cow::Owned(Geometry::GeometryCollection(c.iter().map(|g| on_grid(g).into_owned()).collect()))
        }
    }
}

/// Twice the signed area of a ring (shoelace): positive when counter-clockwise.
/// Relative to the first vertex, so that rings of a few centimetres far from the
/// origin do not cancel out to zero.
fn signed_area2(ring: &LineString<f64>) -> f64 {
    let Some(origin) = ring.0.first() else { return 0.0 };
    ring.0
        .windows(2)
        .map(|w| (w[0].x - origin.x) * (w[1].y - origin.y) - (w[1].x - origin.x) * (w[0].y - origin.y))
        .sum()
}

/// The ring's coordinates in the winding asked for (counter-clockwise or not).
pub(super) fn wound(ring: &LineString<f64>, counter_clockwise: bool) -> impl Iterator<Item = &Coord<f64>> {
    let reverse = (signed_area2(ring) > 0.0) != counter_clockwise;
    let (forward, backward) = if reverse { (None, Some(ring.0.iter().rev())) } else { (Some(ring.0.iter()), None) };
    forward.into_iter().flatten().chain(backward.into_iter().flatten())
}

fn push_position(out: &mut Vec<u8>, c: &Coord<f64>) {
    out.push(b'[');
    push_coord(out, c.x);
    out.push(b',');
    push_coord(out, c.y);
    out.push(b']');
}

fn push_positions<'a>(out: &mut Vec<u8>, coords: impl Iterator<Item = &'a Coord<f64>>) {
    out.push(b'[');
    for (i, c) in coords.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_position(out, c);
    }
    out.push(b']');
}

fn push_polygon_rings(out: &mut Vec<u8>, polygon: &Polygon<f64>) {
    out.push(b'[');
    push_positions(out, wound(polygon.exterior(), true));
    for hole in polygon.interiors() {
        out.push(b',');
        push_positions(out, wound(hole, false));
    }
    out.push(b']');
}

/// The `bbox` [west, south, east, north] of a geometry as [`write_geojson_geometry`]
/// writes it (on the grid, without the parts that collapse there).
pub fn geojson_bbox(geometry: &Geometry<f64>) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    let r = on_grid(geometry).bounding_rect()?;
    Some([r.min().x, r.min().y, r.max().x, r.max().y])
}

/// Writes a GeoJSON geometry object (on the 7-decimal grid, right-hand rule).
pub fn write_geojson_geometry(out: &mut Vec<u8>, geometry: &Geometry<f64>) {
    write_geojson_snapped(out, &on_grid(geometry));
}

fn write_geojson_snapped(out: &mut Vec<u8>, geometry: &Geometry<f64>) {
    let kind: &[u8] = match geometry {
        Geometry::Point(_) => b"Point",
        Geometry::LineString(_) | Geometry::Line(_) => b"LineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => b"Polygon",
        Geometry::MultiPoint(_) => b"MultiPoint",
        Geometry::MultiLineString(_) => b"MultiLineString",
        Geometry::MultiPolygon(_) => b"MultiPolygon",
        Geometry::GeometryCollection(collection) => {
            out.extend_from_slice(b"{\"type\":\"GeometryCollection\",\"geometries\":[");
            for (i, g) in collection.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_geojson_snapped(out, g);
            }
            out.extend_from_slice(b"]}");
            return;
        }
    };
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind);
    out.extend_from_slice(b"\",\"coordinates\":");
    match geometry {
        Geometry::Point(p) => push_position(out, &p.0),
        Geometry::LineString(l) => push_positions(out, l.0.iter()),
        Geometry::Line(l) => push_positions(out, [l.start, l.end].iter()),
        Geometry::Polygon(p) => push_polygon_rings(out, p),
        Geometry::Rect(r) => push_polygon_rings(out, &r.to_polygon()),
        Geometry::Triangle(t) => push_polygon_rings(out, &t.to_polygon()),
        Geometry::MultiPoint(m) => push_positions(out, m.0.iter().map(|p| &p.0)),
        Geometry::MultiLineString(m) => {
            out.push(b'[');
            for (i, l) in m.0.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_positions(out, l.0.iter());
            }
            out.push(b']');
        }
        Geometry::MultiPolygon(m) => {
            out.push(b'[');
            for (i, p) in m.0.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_polygon_rings(out, p);
            }
            out.push(b']');
        }
        Geometry::GeometryCollection(_) => {}
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn coordinates_round_to_seven_decimals_without_trailing_zeros() {
        let cases = [
            (119.43, "119.43"),
            (119.4300000449, "119.43"),
            (119.43000005, "119.4300001"),
            (-5.1, "-5.1"),
            (-0.00000004, "0"),
            (0.0, "0"),
            (-180.0, "-180"),
            (106.8229431234, "106.8229431"),
            (1e-7, "0.0000001"),
        ];
        for (v, expected) in cases {
            assert_eq!(text(|o| push_coord(o, v)), expected, "{v}");
        }
    }

    #[test]
    fn polygons_follow_the_right_hand_rule() {
        // Exterior clockwise and hole counter-clockwise, as some sources store them.
        let p = polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 0.0, y: 1.0), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 0.2, y: 0.2), (x: 0.8, y: 0.2), (x: 0.8, y: 0.8), (x: 0.2, y: 0.2)]],
        );
        let json = text(|o| write_geojson_geometry(o, &Geometry::Polygon(p.clone())));
        let value: Json = serde_json::from_str(&json).expect("JSON");
        let rings = value["coordinates"].as_array().expect("rings");
        let area = |ring: &Json| -> f64 {
            let pts: Vec<(f64, f64)> = ring
                .as_array()
                .expect("ring")
                .iter()
                .map(|c| (c[0].as_f64().expect("x"), c[1].as_f64().expect("y")))
                .collect();
            pts.windows(2).map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1).sum()
        };
        assert!(area(&rings[0]) > 0.0, "exterior counter-clockwise: {json}");
        assert!(area(&rings[1]) < 0.0, "hole clockwise: {json}");
        assert_eq!(
            text(|o| write_wkt(o, &Geometry::Polygon(p))),
            "POLYGON ((0 0,1 0,1 1,0 1,0 0),(0.2 0.2,0.8 0.8,0.8 0.2,0.2 0.2))"
        );
    }

    #[test]
    fn rings_that_collapse_on_the_grid_are_dropped() {
        let sliver =
            polygon![(x: 1.0, y: 1.0), (x: 1.00000001, y: 1.0), (x: 1.00000001, y: 1.00000002), (x: 1.0, y: 1.0)];
        let square = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)];
        let both = Geometry::MultiPolygon(MultiPolygon::new(vec![square, sliver]));
        assert_eq!(text(|o| write_wkt(o, &both)), "MULTIPOLYGON (((0 0,1 0,1 1,0 0)))");
    }

    #[test]
    fn strings_and_times_are_escaped_and_formatted() {
        assert_eq!(text(|o| push_json_str(o, "a\"b\\c\nd\u{1}")), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(text(|o| push_csv_field(o, "Kota \"A\", B")), r#""Kota ""A"", B""#);
        let t: DateTime<Utc> = "2026-11-28T07:05:09Z".parse().expect("time");
        assert_eq!(text(|o| push_time(o, &t)), "2026-11-28T07:05:09Z");
        let t: DateTime<Utc> = "2026-01-02T03:04:05.25Z".parse().expect("time");
        assert_eq!(text(|o| push_time(o, &t)), "2026-01-02T03:04:05.250000Z");
        assert_eq!(text(|o| push_int(o, i64::MIN)), i64::MIN.to_string());
    }
}
