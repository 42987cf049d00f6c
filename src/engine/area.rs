//! Fast point-in-area tests for one region: the edges of all its rings, bucketed into
//! horizontal bands so a test looks only at the few edges that cross the point's band
//! (a "prepared" polygon, instead of a linear scan of every edge).
//!
//! Coordinates are (longitude, latitude) in EPSG:4326 degrees, used as planar x/y,
//! which is how PostGIS evaluates `ST_Covers` on geometry in EPSG:4326.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, MultiPolygon, Rect};

/// Where a point lies relative to an area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// In the interior.
    Inside,
    /// Exactly on an edge or vertex (covered, as `ST_Covers` counts it).
    Boundary,
    /// Outside.
    Outside,
}

impl Position {
    /// Inside or on the boundary: what `ST_Covers(area, point)` answers.
    pub fn is_covered(self) -> bool {
        self != Position::Outside
    }
}

/// A MultiPolygon prepared for point-in-area tests.
#[derive(Debug, Clone)]
pub struct PreparedArea {
    bbox: Rect<f64>,
    band_height: f64,
    /// `band_starts[b]..band_starts[b + 1]` indexes `band_edges` for band `b`.
    band_starts: Vec<u32>,
    band_edges: Vec<u32>,
    edges: Vec<[Coord<f64>; 2]>,
}

impl PreparedArea {
    /// Prepares a valid MultiPolygon. For valid geometry the even-odd count of ring
    /// crossings over all rings is the interior, so shells and holes need no
    /// distinction.
    pub fn new(area: &MultiPolygon<f64>) -> PreparedArea {
        let edges: Vec<[Coord<f64>; 2]> = area
            .0
            .iter()
            .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
            .flat_map(|ring| ring.lines().map(|line| [line.start, line.end]))
            .filter(|[a, b]| a != b)
            .collect();
        let bbox = bounding_rect(&edges);
        // About four edges per band keeps each test to a handful of edges.
        let bands = (edges.len() / 4).clamp(1, 1 << 16);
        let band_height = (bbox.height() / bands as f64).max(f64::MIN_POSITIVE);
        let band_of = |y: f64| (((y - bbox.min().y) / band_height) as usize).min(bands - 1);
        let mut counts = vec![0u32; bands + 1];
        for [a, b] in &edges {
            for band in band_of(a.y.min(b.y))..=band_of(a.y.max(b.y)) {
                counts[band + 1] += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut cursor = counts.clone();
        let mut band_edges = vec![0u32; counts[bands] as usize];
        for (i, [a, b]) in edges.iter().enumerate() {
            for band in band_of(a.y.min(b.y))..=band_of(a.y.max(b.y)) {
                band_edges[cursor[band] as usize] = i as u32;
                cursor[band] += 1;
            }
        }
        PreparedArea { bbox, band_height, band_starts: counts, band_edges, edges }
    }

    /// The bounding box.
    pub fn bbox(&self) -> Rect<f64> {
        self.bbox
    }

    /// Where `p` lies: crossing-number test over the edges of the point's band.
    pub fn locate(&self, p: Coord<f64>) -> Position {
        let (min, max) = (self.bbox.min(), self.bbox.max());
        if p.x < min.x || p.x > max.x || p.y < min.y || p.y > max.y || self.edges.is_empty() {
            return Position::Outside;
        }
        let bands = self.band_starts.len() - 1;
        let band = (((p.y - min.y) / self.band_height) as usize).min(bands - 1);
        let range = self.band_starts[band] as usize..self.band_starts[band + 1] as usize;
        let mut crossings = 0u32;
        for &i in &self.band_edges[range] {
            let [p1, p2] = self.edges[i as usize];
            match crossing(p, p1, p2) {
                Crossing::OnSegment => return Position::Boundary,
                Crossing::Crosses => crossings += 1,
                Crossing::Misses => {}
            }
        }
        if crossings % 2 == 1 {
            Position::Inside
        } else {
            Position::Outside
        }
    }
}

enum Crossing {
    OnSegment,
    Crosses,
    Misses,
}

/// Whether the ray from `p` towards +x crosses segment `p1`-`p2`, or `p` lies on it: the
/// ray-crossing counter of GEOS (`RayCrossingCounter::countSegment`), with Shewchuk's
/// robust orientation, so that points on or within a rounding error of a boundary are
/// classified as `ST_Covers` classifies them.
fn crossing(p: Coord<f64>, p1: Coord<f64>, p2: Coord<f64>) -> Crossing {
    if p1.x < p.x && p2.x < p.x {
        return Crossing::Misses;
    }
    if p == p2 || p == p1 {
        return Crossing::OnSegment;
    }
    if p1.y == p.y && p2.y == p.y {
        return if p.x >= p1.x.min(p2.x) && p.x <= p1.x.max(p2.x) { Crossing::OnSegment } else { Crossing::Misses };
    }
    if (p1.y > p.y && p2.y <= p.y) || (p2.y > p.y && p1.y <= p.y) {
        let mut left = match RobustKernel::orient2d(p1, p2, p) {
            Orientation::Collinear => return Crossing::OnSegment,
            Orientation::CounterClockwise => true,
            Orientation::Clockwise => false,
        };
        if p2.y < p1.y {
            left = !left;
        }
        if left {
            return Crossing::Crosses;
        }
    }
    Crossing::Misses
}

fn bounding_rect(edges: &[[Coord<f64>; 2]]) -> Rect<f64> {
    let mut min = Coord { x: f64::INFINITY, y: f64::INFINITY };
    let mut max = Coord { x: f64::NEG_INFINITY, y: f64::NEG_INFINITY };
    for c in edges.iter().flatten() {
        min = Coord { x: min.x.min(c.x), y: min.y.min(c.y) };
        max = Coord { x: max.x.max(c.x), y: max.y.max(c.y) };
    }
    if edges.is_empty() {
        return Rect::new(Coord { x: 0.0, y: 0.0 }, Coord { x: 0.0, y: 0.0 });
    }
    Rect::new(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, Contains};

    fn square_with_hole() -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0), (x: 0.0, y: 0.0)],
            interiors: [[(x: 4.0, y: 4.0), (x: 6.0, y: 4.0), (x: 6.0, y: 6.0), (x: 4.0, y: 6.0), (x: 4.0, y: 4.0)]],
        )])
    }

    #[test]
    fn inside_outside_hole_and_boundary() {
        let area = PreparedArea::new(&square_with_hole());
        assert_eq!(area.locate(Coord { x: 1.0, y: 1.0 }), Position::Inside);
        assert_eq!(area.locate(Coord { x: 5.0, y: 5.0 }), Position::Outside, "in the hole");
        assert_eq!(area.locate(Coord { x: 11.0, y: 5.0 }), Position::Outside);
        assert_eq!(area.locate(Coord { x: 10.0, y: 5.0 }), Position::Boundary);
        assert_eq!(area.locate(Coord { x: 4.0, y: 5.0 }), Position::Boundary, "hole edge");
        assert_eq!(area.locate(Coord { x: 0.0, y: 0.0 }), Position::Boundary, "vertex");
    }

    #[test]
    fn agrees_with_geo_on_a_grid() {
        let mp = square_with_hole();
        let area = PreparedArea::new(&mp);
        for i in 0..=240 {
            for j in 0..=240 {
                let p = Coord { x: -1.0 + i as f64 * 0.05 + 0.001, y: -1.0 + j as f64 * 0.05 + 0.0007 };
                assert_eq!(area.locate(p) == Position::Inside, mp.contains(&p), "{p:?}");
            }
        }
    }
}
