//! Boundary geometry as read from a file, before repair: polygons as plain lists of
//! rings, coordinates as (longitude, latitude) in EPSG:4326.
//!
//! Rings are kept exactly as published; which ring is a shell and which a hole is
//! decided at repair time (see `db::regions`), because the published nesting cannot be
//! trusted (Kabupaten Sorong's mainland is stored as a "hole").

use sha2::{Digest, Sha256};

/// A position as (longitude, latitude) in degrees, EPSG:4326, GeoJSON axis order.
pub type Position = [f64; 2];
/// A closed ring of at least four positions, first equal to last.
pub type Ring = Vec<Position>;

/// One region's boundary: polygons, each a list of rings (the first ring is the
/// published exterior, the rest the published holes).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawBoundary {
    /// Polygons of the (multi)polygon, each a list of rings.
    pub polygons: Vec<Vec<Ring>>,
}

/// A problem with a coordinate that makes the record unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordinateError {
    /// Latitude outside -90..=90 (often a file with the axes swapped).
    #[error("latitude {lat} out of range -90..90 at position {index} of ring {ring} of polygon {polygon}")]
    LatitudeOutOfRange {
        /// The offending latitude.
        lat: f64,
        /// 1-based polygon number.
        polygon: usize,
        /// 1-based ring number within the polygon.
        ring: usize,
        /// 1-based position within the ring.
        index: usize,
    },
    /// Longitude outside -180..=180.
    #[error("longitude {lon} out of range -180..180 at position {index} of ring {ring} of polygon {polygon}")]
    LongitudeOutOfRange {
        /// The offending longitude.
        lon: f64,
        /// 1-based polygon number.
        polygon: usize,
        /// 1-based ring number within the polygon.
        ring: usize,
        /// 1-based position within the ring.
        index: usize,
    },
    /// Nothing usable was left after dropping degenerate rings.
    #[error("no ring with at least 4 positions")]
    Empty,
}

impl RawBoundary {
    /// Checks coordinate ranges, closes open rings and drops degenerate ones.
    ///
    /// Returns notes on what was fixed (for the import report), or the first
    /// coordinate that makes the boundary unusable.
    pub fn normalise(&mut self) -> Result<Vec<String>, CoordinateError> {
        let mut notes = Vec::new();
        for (p, polygon) in self.polygons.iter().enumerate() {
            for (r, ring) in polygon.iter().enumerate() {
                for (i, &[lon, lat]) in ring.iter().enumerate() {
                    let (polygon, ring, index) = (p + 1, r + 1, i + 1);
                    if !(-90.0..=90.0).contains(&lat) {
                        return Err(CoordinateError::LatitudeOutOfRange { lat, polygon, ring, index });
                    }
                    if !(-180.0..=180.0).contains(&lon) {
                        return Err(CoordinateError::LongitudeOutOfRange { lon, polygon, ring, index });
                    }
                }
            }
        }
        for (p, polygon) in self.polygons.iter_mut().enumerate() {
            for (r, ring) in polygon.iter_mut().enumerate() {
                if ring.len() >= 3 && ring.first() != ring.last() {
                    let first = ring[0];
                    ring.push(first);
                    notes.push(format!("ring {} of polygon {} closed", r + 1, p + 1));
                }
            }
            let before = polygon.len();
            polygon.retain(|ring| ring.len() >= 4);
            if polygon.len() < before {
                notes.push(format!("{} degenerate ring(s) of polygon {} dropped", before - polygon.len(), p + 1));
            }
        }
        self.polygons.retain(|polygon| !polygon.is_empty());
        if self.polygons.is_empty() {
            return Err(CoordinateError::Empty);
        }
        Ok(notes)
    }

    /// Number of positions over all rings.
    pub fn vertex_count(&self) -> usize {
        self.polygons.iter().flatten().map(Vec::len).sum()
    }

    /// Feeds the exact coordinates into a hash, so that the same boundary read from
    /// either file format hashes the same.
    pub fn hash_into(&self, hasher: &mut Sha256) {
        hasher.update((self.polygons.len() as u64).to_le_bytes());
        for polygon in &self.polygons {
            hasher.update((polygon.len() as u64).to_le_bytes());
            for ring in polygon {
                hasher.update((ring.len() as u64).to_le_bytes());
                for [lon, lat] in ring {
                    hasher.update(lon.to_bits().to_le_bytes());
                    hasher.update(lat.to_bits().to_le_bytes());
                }
            }
        }
    }

    /// Well-known binary (OGC WKB, little endian) of the boundary as a MultiPolygon,
    /// rings in the published order, without an SRID.
    pub fn to_wkb(&self) -> Vec<u8> {
        const LITTLE_ENDIAN: u8 = 1;
        const WKB_POLYGON: u32 = 3;
        const WKB_MULTIPOLYGON: u32 = 6;
        let mut out = Vec::with_capacity(9 + self.vertex_count() * 16 + self.polygons.len() * 9);
        let put_u32 = |out: &mut Vec<u8>, n: u32| out.extend_from_slice(&n.to_le_bytes());
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        out.push(LITTLE_ENDIAN);
        put_u32(&mut out, WKB_MULTIPOLYGON);
        put_u32(&mut out, count(self.polygons.len()));
        for polygon in &self.polygons {
            out.push(LITTLE_ENDIAN);
            put_u32(&mut out, WKB_POLYGON);
            put_u32(&mut out, count(polygon.len()));
            for ring in polygon {
                put_u32(&mut out, count(ring.len()));
                for [lon, lat] in ring {
                    out.extend_from_slice(&lon.to_le_bytes());
                    out.extend_from_slice(&lat.to_le_bytes());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_stored_wkb_reader_reads_what_the_importer_writes() {
        use crate::db::wkb::{read, read_multipolygon};
        let square = vec![[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]];
        let wkb = RawBoundary { polygons: vec![vec![square]] }.to_wkb();
        let mp = read_multipolygon(&wkb).expect("readable");
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].exterior().0[2], geo::Coord { x: 101.0, y: 1.0 });
        assert!(read(&wkb[..20]).is_err(), "truncated");
    }

    use super::*;

    fn square() -> Ring {
        vec![[100.0, 0.0], [101.0, 0.0], [101.0, 1.0], [100.0, 1.0], [100.0, 0.0]]
    }

    #[test]
    fn open_rings_are_closed_and_degenerate_ones_dropped() {
        let mut open = square();
        open.pop();
        let mut b = RawBoundary { polygons: vec![vec![open, vec![[100.5, 0.5], [100.6, 0.5]]]] };
        let notes = b.normalise().expect("usable");
        assert_eq!(b.polygons, vec![vec![square()]]);
        assert_eq!(notes.len(), 2, "{notes:?}");
    }

    #[test]
    fn swapped_axes_are_caught_as_latitude_out_of_range() {
        let swapped: Ring = square().into_iter().map(|[x, y]| [y, x]).collect();
        let mut b = RawBoundary { polygons: vec![vec![swapped]] };
        assert!(matches!(
            b.normalise(),
            Err(CoordinateError::LatitudeOutOfRange { lat, polygon: 1, ring: 1, index: 1 }) if lat == 100.0
        ));
    }

    #[test]
    fn nothing_left_is_an_error() {
        let mut b = RawBoundary { polygons: vec![vec![vec![[100.0, 0.0], [101.0, 0.0]]]] };
        assert_eq!(b.normalise(), Err(CoordinateError::Empty));
    }

    #[test]
    fn wkb_layout_is_ogc_multipolygon() {
        let b = RawBoundary { polygons: vec![vec![square()]] };
        let wkb = b.to_wkb();
        assert_eq!(wkb.len(), 1 + 4 + 4 + (1 + 4 + 4 + 4 + 5 * 16));
        assert_eq!(&wkb[..9], &[1, 6, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&wkb[9..22], &[1, 3, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(f64::from_le_bytes(wkb[22..30].try_into().expect("8 bytes")), 100.0);
    }
}
