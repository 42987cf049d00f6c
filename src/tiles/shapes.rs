//! Region polygons in world pixels, one generalisation per zoom, and their clipping to
//! a tile.
//!
//! Per zoom each polygon is projected to Web Mercator world pixels, snapped to the
//! integer grid (the tile grid: snapping once per zoom is snapping every tile), rid of
//! repeated and collinear points, and then rebuilt as valid polygons by an integer
//! overlay (i_overlay, non-zero fill over shells and holes oriented oppositely): the
//! snapping can make rings touch or cross, the overlay resolves that exactly, so the
//! result has no self-intersection, no degenerate ring and consistent winding. This is
//! the generalisation PostGIS' `ST_AsMVTGeom` applies (grid snap, collinear removal,
//! then a validating clip), done once per zoom instead of once per request.
//! Clipping to the buffered tile is an exact integer intersection with the tile
//! rectangle, so clipped polygons stay valid too.

use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::core::overlay::{IntOverlayOptions, Overlay, ShapeType};
use i_overlay::core::overlay_rule::OverlayRule;
use i_overlay::core::simplify::Simplify;

/// A point in world pixels.
pub type IntPoint = i_overlay::i_float::int::point::IntPoint<i32>;
/// A closed ring, not repeating its first point.
pub type IntContour = i_overlay::i_shape::int::shape::IntContour<i32>;
/// A polygon: exterior ring, then holes.
pub type IntShape = i_overlay::i_shape::int::shape::IntShape<i32>;
/// Polygons.
pub type IntShapes = i_overlay::i_shape::int::shape::IntShapes<i32>;

use super::coord::{project, world_size};

/// An axis-aligned box in world pixels, bounds included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelBox {
    /// West.
    pub min_x: i32,
    /// North.
    pub min_y: i32,
    /// East.
    pub max_x: i32,
    /// South.
    pub max_y: i32,
}

impl PixelBox {
    /// A box that meets nothing.
    pub const EMPTY: PixelBox = PixelBox { min_x: i32::MAX, min_y: i32::MAX, max_x: i32::MIN, max_y: i32::MIN };

    /// The box around some points (`None` for none).
    pub fn around<'a>(points: impl IntoIterator<Item = &'a IntPoint>) -> Option<PixelBox> {
        let mut points = points.into_iter();
        let first = points.next()?;
        let mut b = PixelBox { min_x: first.x, min_y: first.y, max_x: first.x, max_y: first.y };
        for p in points {
            b.min_x = b.min_x.min(p.x);
            b.min_y = b.min_y.min(p.y);
            b.max_x = b.max_x.max(p.x);
            b.max_y = b.max_y.max(p.y);
        }
        Some(b)
    }

    /// Whether `other` lies entirely inside this box.
    pub fn contains(&self, other: &PixelBox) -> bool {
        self.min_x <= other.min_x && self.min_y <= other.min_y && other.max_x <= self.max_x && other.max_y <= self.max_y
    }

    /// Whether the two boxes share any point.
    pub fn intersects(&self, other: &PixelBox) -> bool {
        self.min_x <= other.max_x && other.min_x <= self.max_x && self.min_y <= other.max_y && other.min_y <= self.max_y
    }

    /// The box as a closed ring, wound like an exterior ring.
    fn ring(&self) -> IntContour {
        vec![
            IntPoint::new(self.min_x, self.min_y),
            IntPoint::new(self.max_x, self.min_y),
            IntPoint::new(self.max_x, self.max_y),
            IntPoint::new(self.min_x, self.max_y),
        ]
    }
}

/// A region's polygons at one zoom, in world pixels.
#[derive(Debug, Clone)]
pub struct PixelShape {
    /// Valid polygons: each an exterior ring then its holes, not closed (the first
    /// point is not repeated).
    pub polygons: IntShapes,
    /// Box of each polygon.
    pub boxes: Vec<PixelBox>,
    /// Box of them all.
    pub bbox: PixelBox,
    /// The region vanished at this zoom and is kept as a one-pixel square at its
    /// label point, so that it can still be seen and clicked.
    pub collapsed: bool,
}

impl PixelShape {
    /// Generalises a polygon (longitude/latitude, EPSG:4326) for zoom `z`; `label` is
    /// where a region too small to show keeps its one-pixel square.
    pub fn new(shape: &MultiPolygon<f64>, label: Point<f64>, z: u8) -> PixelShape {
        let polygons = snap_polygons(shape, z);
        if polygons.is_empty() {
            let (x, y) = project(label.x(), label.y(), world_size(z));
            return PixelShape::square(x.floor() as i32, y.floor() as i32);
        }
        PixelShape::from_polygons(polygons)
    }

    /// A shape from valid, oriented, non-empty polygons (as [`snap_polygons`] makes).
    pub fn from_polygons(polygons: IntShapes) -> PixelShape {
        let boxes: Vec<PixelBox> = polygons.iter().filter_map(|p| PixelBox::around(p.first()?)).collect();
        let bbox = boxes.iter().fold(boxes.first().copied().unwrap_or(PixelBox::EMPTY), |a, b| PixelBox {
            min_x: a.min_x.min(b.min_x),
            min_y: a.min_y.min(b.min_y),
            max_x: a.max_x.max(b.max_x),
            max_y: a.max_y.max(b.max_y),
        });
        PixelShape { polygons, boxes, bbox, collapsed: false }
    }

    /// A one-pixel square with its north-west corner at (x, y).
    pub fn square(x: i32, y: i32) -> PixelShape {
        let b = PixelBox { min_x: x, min_y: y, max_x: x + 1, max_y: y + 1 };
        PixelShape { polygons: vec![vec![b.ring()]], boxes: vec![b], bbox: b, collapsed: true }
    }

    /// Calls `f` with each polygon of the shape clipped to `clip` (world pixels).
    pub fn clipped(&self, clip: &PixelBox, mut f: impl FnMut(&IntShape)) {
        if !clip.intersects(&self.bbox) {
            return;
        }
        let mut crossing: Vec<&IntShape> = Vec::new();
        for (polygon, b) in self.polygons.iter().zip(&self.boxes) {
            if clip.contains(b) {
                f(polygon);
            } else if clip.intersects(b) {
                crossing.push(polygon);
            }
        }
        // Clipped together, so that pieces of different polygons that snap onto the
        // same stretch of the tile's edge are merged rather than overlapping.
        if !crossing.is_empty() {
            for part in clip_polygons(&crossing, clip) {
                f(&part);
            }
        }
    }
}

/// Projects, snaps and repairs a (multi)polygon at zoom `z`; empty when it vanishes.
pub fn snap_polygons(shape: &MultiPolygon<f64>, z: u8) -> IntShapes {
    let scale = world_size(z);
    let mut contours: Vec<IntContour> = Vec::new();
    for polygon in shape {
        push_ring(&mut contours, polygon.exterior(), scale, true);
        for hole in polygon.interiors() {
            push_ring(&mut contours, hole, scale, false);
        }
    }
    if contours.is_empty() {
        return Vec::new();
    }
    let mut shapes = contours.simplify(FillRule::NonZero, IntOverlayOptions::ogc());
    tidy(&mut shapes);
    shapes
}

/// Projects and snaps a polygon for zoom `z` (used for incident polygons).
pub fn snap_polygon(polygon: &Polygon<f64>, z: u8) -> IntShapes {
    snap_polygons(&MultiPolygon(vec![polygon.clone()]), z)
}

/// Projects a ring to world pixels, snaps it and drops repeated points; keeps it
/// (wound as an exterior ring when `shell`, else the other way) when it still
/// encloses an area.
fn push_ring(contours: &mut Vec<IntContour>, ring: &LineString<f64>, scale: f64, shell: bool) {
    let mut points: IntContour = Vec::with_capacity(ring.0.len());
    for c in &ring.0 {
        let p = snap(*c, scale);
        if points.last() != Some(&p) {
            points.push(p);
        }
    }
    while points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    let area = twice_area(&points);
    if points.len() < 3 || area == 0 {
        return;
    }
    if (area > 0) != shell {
        points.reverse();
    }
    contours.push(points);
}

/// A coordinate (degrees) snapped to the world-pixel grid.
pub fn snap(c: Coord<f64>, scale: f64) -> IntPoint {
    let (x, y) = project(c.x, c.y, scale);
    IntPoint::new(x.round() as i32, y.round() as i32)
}

/// Twice the signed area of a ring (the surveyor's formula in world pixels, y down:
/// positive for rings that run clockwise on screen, which the vector tile
/// specification calls exterior rings).
pub fn twice_area(ring: &[IntPoint]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a.x) * i64::from(b.y) - i64::from(b.x) * i64::from(a.y)
        })
        .sum()
}

/// Drops rings without area (an overlay can leave a two-point ring where a sliver
/// vanished) and polygons whose exterior has none, and winds the rest as vector tiles
/// want.
fn tidy(shapes: &mut IntShapes) {
    let has_area = |ring: &IntContour| ring.len() >= 3 && twice_area(ring) != 0;
    shapes.retain_mut(|polygon| {
        if !polygon.first().is_some_and(has_area) {
            return false;
        }
        let exterior = polygon[0].clone();
        let mut first = true;
        polygon.retain(|ring| {
            let keep = has_area(ring) && (first || inside(&exterior, ring));
            first = false;
            keep
        });
        orient(polygon);
        true
    });
}

/// Whether a hole lies in its exterior ring (tested at the centre of its vertices,
/// which for the slivers the overlay can misplace is inside the sliver): the overlay
/// at times attaches a sliver hole to the wrong exterior; such a hole covers nothing
/// and is dropped.
fn inside(exterior: &IntContour, hole: &IntContour) -> bool {
    let n = hole.len() as f64;
    let x = hole.iter().map(|p| f64::from(p.x)).sum::<f64>() / n;
    let y = hole.iter().map(|p| f64::from(p.y)).sum::<f64>() / n;
    let mut crossings = false;
    for (i, a) in exterior.iter().enumerate() {
        let b = exterior[(i + 1) % exterior.len()];
        let (ax, ay, bx, by) = (f64::from(a.x), f64::from(a.y), f64::from(b.x), f64::from(b.y));
        if (ay > y) != (by > y) && x < ax + (y - ay) / (by - ay) * (bx - ax) {
            crossings = !crossings;
        }
    }
    crossings
}

/// Winds a polygon the way vector tiles want: exterior positive, holes negative.
fn orient(polygon: &mut IntShape) {
    for (i, ring) in polygon.iter_mut().enumerate() {
        if (twice_area(ring) > 0) != (i == 0) {
            ring.reverse();
        }
    }
}

/// The parts of valid polygons inside a box, as valid polygons.
fn clip_polygons(polygons: &[&IntShape], clip: &PixelBox) -> IntShapes {
    let points = polygons.iter().flat_map(|p| p.iter()).map(Vec::len).sum::<usize>() + 4;
    let mut overlay = Overlay::new_custom(points, IntOverlayOptions::ogc(), Default::default());
    for polygon in polygons {
        overlay.add_source(*polygon, ShapeType::Subject);
    }
    overlay.add_contour(&clip.ring(), ShapeType::Clip);
    let mut parts = overlay.overlay(OverlayRule::Intersect, FillRule::NonZero);
    // The overlay snaps a vertex lying within a unit of the box's edge onto the result
    // rather than cutting it there, so a vertex can stay one unit outside (issue 16:
    // (1067, -65) in 5/25/16). Such vertices are moved onto the edge, and the
    // polygons rebuilt valid from the moved rings (all inside the box, so the rebuild
    // stays inside: its new vertices lie on segments between them).
    let outside = |p: &IntPoint| p.x < clip.min_x || p.y < clip.min_y || p.x > clip.max_x || p.y > clip.max_y;
    if parts.iter().flatten().flatten().any(outside) {
        let rings: Vec<IntContour> = parts
            .iter()
            .flatten()
            .map(|ring| {
                ring.iter()
                    .map(|p| IntPoint::new(p.x.clamp(clip.min_x, clip.max_x), p.y.clamp(clip.min_y, clip.max_y)))
                    .collect()
            })
            .collect();
        parts = rings.simplify(FillRule::NonZero, IntOverlayOptions::ogc());
    }
    tidy(&mut parts);
    parts
}

/// Clips a line (world pixels, f64) to a box, as the pieces inside it
/// (Liang-Barsky per segment, joining consecutive pieces).
pub fn clip_line(line: &[(f64, f64)], clip: &PixelBox) -> Vec<Vec<(f64, f64)>> {
    let (x0, y0, x1, y1) = (f64::from(clip.min_x), f64::from(clip.min_y), f64::from(clip.max_x), f64::from(clip.max_y));
    let mut parts: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for w in line.windows(2) {
        let ((ax, ay), (bx, by)) = (w[0], w[1]);
        let (dx, dy) = (bx - ax, by - ay);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        let mut inside = true;
        for (p, q) in [(-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)] {
            if p == 0.0 {
                if q < 0.0 {
                    inside = false;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        if !inside || t0 > t1 {
            if current.len() > 1 {
                parts.push(std::mem::take(&mut current));
            }
            current.clear();
            continue;
        }
        let start = (ax + t0 * dx, ay + t0 * dy);
        let end = (ax + t1 * dx, ay + t1 * dy);
        if current.last() != Some(&start) {
            if current.len() > 1 {
                parts.push(std::mem::take(&mut current));
            }
            current.clear();
            current.push(start);
        }
        current.push(end);
        if t1 < 1.0 {
            if current.len() > 1 {
                parts.push(std::mem::take(&mut current));
            }
            current.clear();
        }
    }
    if current.len() > 1 {
        parts.push(current);
    }
    parts
}

#[cfg(test)]
mod tests {
    use geo::{polygon, Area};

    use super::*;

    fn pixel_area(shapes: &IntShapes) -> f64 {
        shapes.iter().flat_map(|p| p.iter()).map(|r| twice_area(r) as f64 / 2.0).sum()
    }

    #[test]
    fn snapping_keeps_area_and_winds_exterior_rings_positive() {
        // About 1 x 1 degree with a hole, near Makassar, at zoom 8.
        let p = polygon!(
            exterior: [(x: 119.0, y: -5.0), (x: 120.0, y: -5.0), (x: 120.0, y: -6.0), (x: 119.0, y: -6.0), (x: 119.0, y: -5.0)],
            interiors: [[(x: 119.4, y: -5.4), (x: 119.6, y: -5.4), (x: 119.6, y: -5.6), (x: 119.4, y: -5.6), (x: 119.4, y: -5.4)]],
        );
        let shape = PixelShape::new(&MultiPolygon(vec![p]), Point::new(119.5, -5.5), 8);
        assert!(!shape.collapsed);
        assert_eq!(shape.polygons.len(), 1);
        assert_eq!(shape.polygons[0].len(), 2);
        assert!(twice_area(&shape.polygons[0][0]) > 0);
        assert!(twice_area(&shape.polygons[0][1]) < 0);
        // Area in world pixels against the projected area: 1 degree = 2^20 / 360 px.
        let px_per_degree = world_size(8) / 360.0;
        let expected = (1.0 - 0.04) * px_per_degree * px_per_degree * 1.0027; // Mercator stretch at 5.5 S
        let got = pixel_area(&shape.polygons);
        assert!((got / expected - 1.0).abs() < 0.01, "{got} vs {expected}");
    }

    #[test]
    fn a_tiny_region_becomes_a_pixel_at_its_label_point() {
        let p = polygon![(x: 119.0, y: -5.0), (x: 119.0001, y: -5.0), (x: 119.0001, y: -5.0001), (x: 119.0, y: -5.0)];
        let shape = PixelShape::new(&MultiPolygon(vec![p]), Point::new(119.0, -5.0), 2);
        assert!(shape.collapsed);
        assert_eq!(pixel_area(&shape.polygons), 1.0);
    }

    #[test]
    fn snapping_repairs_rings_that_the_grid_makes_touch() {
        // Two shells a hair apart become one valid polygon, not two overlapping ones.
        let a = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)];
        let b = polygon![(x: 1.000001, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0), (x: 1.000001, y: 1.0), (x: 1.000001, y: 0.0)];
        let shapes = snap_polygons(&MultiPolygon(vec![a.clone(), b.clone()]), 4);
        assert_eq!(shapes.len(), 1);
        let expected = snap_polygons(&MultiPolygon(vec![a]), 4);
        assert!((pixel_area(&shapes) / pixel_area(&expected) - 2.0).abs() < 0.01);
        assert!(MultiPolygon(vec![b]).unsigned_area() > 0.0);
    }

    #[test]
    fn clipping_to_a_box_keeps_the_inside_and_stays_valid() {
        let square = PixelShape {
            polygons: vec![vec![PixelBox { min_x: 0, min_y: 0, max_x: 100, max_y: 100 }.ring()]],
            boxes: vec![PixelBox { min_x: 0, min_y: 0, max_x: 100, max_y: 100 }],
            bbox: PixelBox { min_x: 0, min_y: 0, max_x: 100, max_y: 100 },
            collapsed: false,
        };
        let mut parts = Vec::new();
        square.clipped(&PixelBox { min_x: 50, min_y: -10, max_x: 200, max_y: 60 }, |p| parts.push(p.clone()));
        assert_eq!(pixel_area(&parts), 50.0 * 60.0);
        assert!(twice_area(&parts[0][0]) > 0);
        let mut none = 0;
        square.clipped(&PixelBox { min_x: 101, min_y: 0, max_x: 200, max_y: 60 }, |_| none += 1);
        assert_eq!(none, 0);
    }

    #[test]
    fn lines_are_cut_at_the_box() {
        let clip = PixelBox { min_x: 0, min_y: 0, max_x: 10, max_y: 10 };
        let parts = clip_line(&[(-5.0, 5.0), (5.0, 5.0), (5.0, 15.0), (8.0, 15.0), (8.0, 5.0)], &clip);
        assert_eq!(parts, vec![vec![(0.0, 5.0), (5.0, 5.0), (5.0, 10.0)], vec![(8.0, 10.0), (8.0, 5.0)]]);
    }
}
