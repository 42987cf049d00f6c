//! A reader for the OGC well-known binary that PostGIS sends (`ST_AsBinary`): just the
//! 2D types we store. Coordinates stay (longitude, latitude) in EPSG:4326.

use geo::{Coord, Geometry, LineString, MultiPolygon, Point, Polygon};

/// WKB that is not one of the 2D types we read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable WKB: {0}")]
pub struct WkbError(pub String);

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    little: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], WkbError> {
        let slice = self
            .bytes
            .get(self.pos..self.pos + N)
            .ok_or_else(|| WkbError(format!("truncated at byte {}", self.pos)))?;
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, WkbError> {
        let b = self.take::<4>()?;
        Ok(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn f64(&mut self) -> Result<f64, WkbError> {
        let b = self.take::<8>()?;
        Ok(if self.little { f64::from_le_bytes(b) } else { f64::from_be_bytes(b) })
    }

    fn header(&mut self) -> Result<u32, WkbError> {
        let [order] = self.take::<1>()?;
        self.little = match order {
            0 => false,
            1 => true,
            other => return Err(WkbError(format!("byte order {other}"))),
        };
        self.u32()
    }

    fn coord(&mut self) -> Result<Coord<f64>, WkbError> {
        Ok(Coord { x: self.f64()?, y: self.f64()? })
    }

    fn line(&mut self) -> Result<LineString<f64>, WkbError> {
        let n = self.u32()? as usize;
        if n > self.bytes.len() / 16 {
            return Err(WkbError(format!("{n} points cannot fit")));
        }
        (0..n).map(|_| self.coord()).collect::<Result<Vec<_>, _>>().map(LineString::new)
    }

    fn polygon(&mut self) -> Result<Polygon<f64>, WkbError> {
        let rings = self.u32()? as usize;
        let mut lines = (0..rings).map(|_| self.line()).collect::<Result<Vec<_>, _>>()?.into_iter();
        let exterior = lines.next().unwrap_or_else(|| LineString::new(Vec::new()));
        Ok(Polygon::new(exterior, lines.collect()))
    }

    fn geometry(&mut self) -> Result<Geometry<f64>, WkbError> {
        match self.header()? {
            1 => Ok(Geometry::Point(Point(self.coord()?))),
            2 => Ok(Geometry::LineString(self.line()?)),
            3 => Ok(Geometry::Polygon(self.polygon()?)),
            6 => {
                let n = self.u32()? as usize;
                let mut polygons = Vec::with_capacity(n.min(self.bytes.len()));
                for _ in 0..n {
                    match self.header()? {
                        3 => polygons.push(self.polygon()?),
                        other => return Err(WkbError(format!("type {other} inside a MultiPolygon"))),
                    }
                }
                Ok(Geometry::MultiPolygon(MultiPolygon::new(polygons)))
            }
            other => Err(WkbError(format!("geometry type {other} not supported"))),
        }
    }
}

/// Reads a 2D Point, LineString, Polygon or MultiPolygon.
pub fn read(bytes: &[u8]) -> Result<Geometry<f64>, WkbError> {
    Reader { bytes, pos: 0, little: true }.geometry()
}

/// Reads a Polygon or MultiPolygon as a MultiPolygon.
pub fn read_multipolygon(bytes: &[u8]) -> Result<MultiPolygon<f64>, WkbError> {
    match read(bytes)? {
        Geometry::MultiPolygon(mp) => Ok(mp),
        Geometry::Polygon(p) => Ok(MultiPolygon::new(vec![p])),
        other => Err(WkbError(format!("expected a (multi)polygon, found {other:?}"))),
    }
}

/// Writes a 2D Point, LineString or Polygon as OGC WKB (little endian); other types are
/// written as their polygons/lines where that is meaningful, else as an empty
/// collection.
pub fn write(geometry: &Geometry<f64>) -> Vec<u8> {
    fn header(out: &mut Vec<u8>, kind: u32) {
        out.push(1);
        out.extend_from_slice(&kind.to_le_bytes());
    }
    fn coords(out: &mut Vec<u8>, line: &LineString<f64>) {
        out.extend_from_slice(&(line.0.len() as u32).to_le_bytes());
        for c in &line.0 {
            out.extend_from_slice(&c.x.to_le_bytes());
            out.extend_from_slice(&c.y.to_le_bytes());
        }
    }
    let mut out = Vec::new();
    match geometry {
        Geometry::Point(p) => {
            header(&mut out, 1);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::LineString(l) => {
            header(&mut out, 2);
            coords(&mut out, l);
        }
        Geometry::Polygon(p) => {
            header(&mut out, 3);
            out.extend_from_slice(&(1 + p.interiors().len() as u32).to_le_bytes());
            coords(&mut out, p.exterior());
            for ring in p.interiors() {
                coords(&mut out, ring);
            }
        }
        _ => {
            header(&mut out, 7);
            out.extend_from_slice(&0u32.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod write_tests {
    use super::*;

    #[test]
    fn round_trips() {
        let shapes = [
            Geometry::Point(Point::new(119.4, -5.1)),
            Geometry::LineString(LineString::from(vec![(119.4, -5.1), (119.5, -5.2)])),
            Geometry::Polygon(Polygon::new(
                LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]),
                vec![],
            )),
        ];
        for g in shapes {
            assert_eq!(read(&write(&g)).expect("readable"), g);
        }
    }
}
