//! Geometries as OGC well-known text (the CSV export's geometry column), on the same
//! grid of 7 decimals and with the same winding as the GeoJSON.

use geo::{Coord, Geometry, Polygon};

use super::encode::{on_grid, push_coord, wound};

fn push_wkt_coords<'a>(out: &mut Vec<u8>, coords: impl Iterator<Item = &'a Coord<f64>>) {
    out.push(b'(');
    for (i, c) in coords.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_coord(out, c.x);
        out.push(b' ');
        push_coord(out, c.y);
    }
    out.push(b')');
}

fn push_wkt_polygon(out: &mut Vec<u8>, polygon: &Polygon<f64>) {
    out.push(b'(');
    push_wkt_coords(out, wound(polygon.exterior(), true));
    for hole in polygon.interiors() {
        out.push(b',');
        push_wkt_coords(out, wound(hole, false));
    }
    out.push(b')');
}

/// Writes a geometry as OGC well-known text, with the same grid and winding as the
/// GeoJSON.
pub fn write_wkt(out: &mut Vec<u8>, geometry: &Geometry<f64>) {
    write_wkt_snapped(out, &on_grid(geometry));
}

fn write_wkt_snapped(out: &mut Vec<u8>, geometry: &Geometry<f64>) {
    match geometry {
        Geometry::Point(p) => {
            out.extend_from_slice(b"POINT ");
            push_wkt_coords(out, std::iter::once(&p.0));
        }
        Geometry::LineString(l) => {
            out.extend_from_slice(b"LINESTRING ");
            push_wkt_coords(out, l.0.iter());
        }
        Geometry::Line(l) => {
            out.extend_from_slice(b"LINESTRING ");
            push_wkt_coords(out, [l.start, l.end].iter());
        }
        Geometry::Polygon(p) => {
            out.extend_from_slice(b"POLYGON ");
            push_wkt_polygon(out, p);
        }
        Geometry::Rect(r) => write_wkt_snapped(out, &Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => write_wkt_snapped(out, &Geometry::Polygon(t.to_polygon())),
        Geometry::MultiPoint(m) => {
            out.extend_from_slice(b"MULTIPOINT ");
            push_wkt_coords(out, m.0.iter().map(|p| &p.0));
        }
        Geometry::MultiLineString(m) => {
            out.extend_from_slice(b"MULTILINESTRING (");
            for (i, l) in m.0.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_wkt_coords(out, l.0.iter());
            }
            out.push(b')');
        }
        Geometry::MultiPolygon(m) => {
            out.extend_from_slice(b"MULTIPOLYGON (");
            for (i, p) in m.0.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_wkt_polygon(out, p);
            }
            out.push(b')');
        }
        Geometry::GeometryCollection(c) => {
            out.extend_from_slice(b"GEOMETRYCOLLECTION (");
            for (i, g) in c.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_wkt_snapped(out, g);
            }
            out.push(b')');
        }
    }
}
