//! The region index: every province, regency/city and district with its prepared
//! boundary in an R-tree per level, and the assignment of incident locations to them.
//!
//! Assignment rules (documented in the README, tested against PostGIS):
//! - A point gets, at each level, a region that covers it (`ST_Covers`: interior or
//!   boundary). Where several do (points on a shared border, overlapping slivers of the
//!   simplified data), the district with the lowest code wins; the regency is the
//!   district's parent when that covers the point (the levels are nested, so it does),
//!   otherwise the lowest code; likewise the province.
//! - A point in a regency but in none of its districts (a sliver gap between districts)
//!   gets the nearest district of that regency; likewise a point in a province but in
//!   none of its regencies (the published provincial coast can reach farther) gets the
//!   province's nearest regency and that regency's nearest district.
//! - A point covered by no region is at sea: within 12 nautical miles (22.224 km) of a
//!   regency it gets the nearest regency, that regency's nearest district and its
//!   province, flagged `at_sea`; farther out it is refused.
//! - A line or polygon gets, at each level, the region holding its largest part (length
//!   or area; ties to the lowest code) and the list of every region it touches.

use std::collections::HashMap;

use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Coord, Distance, Euclidean, Geometry, Haversine, Intersects, Length,
    MultiLineString, MultiPolygon, Point, Rect,
};
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{RTree, AABB};

use super::area::PreparedArea;
use crate::region::RegionShape;
use crate::region::{RegionCode, RegionLevel};

/// Index of a region in the [`RegionIndex`].
pub type RegionId = u32;

/// 12 nautical miles in metres: the territorial sea (UNCLOS art. 3).
pub const TERRITORIAL_SEA_M: f64 = 12.0 * 1852.0;

/// One region with its prepared boundary.
#[derive(Debug)]
pub struct Region {
    /// Kemendagri code.
    pub code: RegionCode,
    /// Official name.
    pub name: String,
    /// Level.
    pub level: RegionLevel,
    /// Parent region.
    pub parent: Option<RegionId>,
    /// Children, in code order.
    pub children: Vec<RegionId>,
    /// Boundary (EPSG:4326).
    pub shape: MultiPolygon<f64>,
    /// Prepared for point tests.
    pub area: PreparedArea,
    /// A point inside (ST_PointOnSurface), for labels and region-only reports.
    pub label_point: Point<f64>,
    /// Centroid (planar, degrees), for k-nearest-neighbour weights.
    pub centroid: Point<f64>,
}

/// The regions at one level of an incident's assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Assignment {
    /// District, regency/city, province (by [`RegionLevel`] order).
    pub regions: [Option<RegionId>; 3],
    /// The location is at sea, within 12 nautical miles of the coast.
    pub at_sea: bool,
}

impl Assignment {
    /// The region at `level`.
    pub fn at(&self, level: RegionLevel) -> Option<RegionId> {
        self.regions[level_slot(level)]
    }
}

/// Slot of a level in [`Assignment::regions`]: district 0, regency 1, province 2.
pub fn level_slot(level: RegionLevel) -> usize {
    match level {
        RegionLevel::Kecamatan => 0,
        RegionLevel::KabupatenKota => 1,
        RegionLevel::Provinsi => 2,
    }
}

/// Why a location cannot be assigned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AssignError {
    /// Farther than 12 nautical miles from every regency.
    #[error("location {lon}, {lat} is {distance_km:.1} km from the nearest region: outside Indonesia's land and 12-nautical-mile waters")]
    OutsideWaters {
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
        /// Distance to the nearest regency in km.
        distance_km: f64,
    },
    /// A geometry without coordinates, or with non-finite ones.
    #[error("the geometry is empty or has non-finite coordinates")]
    Empty,
}

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, RegionId>;
type EdgeEntry = GeomWithData<Line<[f64; 2]>, RegionId>;

/// All regions, indexed for assignment.
pub struct RegionIndex {
    regions: Vec<Region>,
    by_code: HashMap<RegionCode, RegionId>,
    boxes: [RTree<BoxEntry>; 3],
    /// Boundary edges of regencies (for the nearest coast) and of districts.
    edges: [RTree<EdgeEntry>; 2],
}

impl RegionIndex {
    /// Builds the index from the stored shapes (in code order, parents first).
    pub fn new(shapes: Vec<RegionShape>) -> RegionIndex {
        let mut regions: Vec<Region> = Vec::with_capacity(shapes.len());
        let mut by_code = HashMap::with_capacity(shapes.len());
        for shape in shapes {
            let id = regions.len() as RegionId;
            let parent = shape.code.parent().and_then(|p| by_code.get(&p).copied());
            let centroid = shape.geometry.centroid().unwrap_or(shape.label_point);
            by_code.insert(shape.code.clone(), id);
            regions.push(Region {
                area: PreparedArea::new(&shape.geometry),
                code: shape.code,
                name: shape.name,
                level: shape.level,
                parent,
                children: Vec::new(),
                shape: shape.geometry,
                label_point: shape.label_point,
                centroid,
            });
        }
        for id in 0..regions.len() {
            if let Some(parent) = regions[id].parent {
                regions[parent as usize].children.push(id as RegionId);
            }
        }
        let boxes = RegionLevel::ALL.map(|level| {
            RTree::bulk_load(
                regions
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.level == level)
                    .map(|(id, r)| {
                        let b = r.area.bbox();
                        GeomWithData::new(
                            Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                            id as RegionId,
                        )
                    })
                    .collect(),
            )
        });
        let edges = [RegionLevel::KabupatenKota, RegionLevel::Kecamatan].map(|level| {
            RTree::bulk_load(
                regions
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.level == level)
                    .flat_map(|(id, r)| {
                        r.shape
                            .0
                            .iter()
                            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                            .flat_map(|ring| ring.lines())
                            .map(move |l| {
                                GeomWithData::new(Line::new([l.start.x, l.start.y], [l.end.x, l.end.y]), id as RegionId)
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect(),
            )
        });
        let mut boxes_by_slot: [RTree<BoxEntry>; 3] = Default::default();
        for (level, tree) in RegionLevel::ALL.into_iter().zip(boxes) {
            boxes_by_slot[level_slot(level)] = tree;
        }
        RegionIndex { regions, by_code, boxes: boxes_by_slot, edges }
    }

    /// Number of regions, all levels.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether there are no regions.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// A region by id.
    pub fn region(&self, id: RegionId) -> &Region {
        &self.regions[id as usize]
    }

    /// Every region, by id.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// A region's id by code.
    pub fn id(&self, code: &RegionCode) -> Option<RegionId> {
        self.by_code.get(code).copied()
    }

    /// Ids of the regions of one level, in code order.
    pub fn level_ids(&self, level: RegionLevel) -> Vec<RegionId> {
        (0..self.regions.len() as RegionId).filter(|&id| self.region(id).level == level).collect()
    }

    /// The lowest-code region of `level` covering `p`.
    fn covering(&self, level: RegionLevel, p: Coord<f64>) -> Option<RegionId> {
        self.boxes[level_slot(level)]
            .locate_all_at_point(&[p.x, p.y])
            .map(|entry| entry.data)
            .filter(|&id| self.region(id).area.locate(p).is_covered())
            .min()
    }

    /// The child region of `parent` covering `p`, else the parent's lowest-code peer.
    fn covering_below(&self, level: RegionLevel, preferred: Option<RegionId>, p: Coord<f64>) -> Option<RegionId> {
        match preferred {
            Some(id) if self.region(id).area.locate(p).is_covered() => Some(id),
            _ => self.covering(level, p),
        }
    }

    /// Assigns a point (longitude, latitude in EPSG:4326) to a district, regency and
    /// province, by the rules in the module documentation.
    pub fn assign_point(&self, p: Point<f64>) -> Result<Assignment, AssignError> {
        let c = p.0;
        if !c.x.is_finite() || !c.y.is_finite() {
            return Err(AssignError::Empty);
        }
        let district = self.covering(RegionLevel::Kecamatan, c);
        let regency = self.covering_below(RegionLevel::KabupatenKota, district.and_then(|d| self.region(d).parent), c);
        let province = self.covering_below(RegionLevel::Provinsi, regency.and_then(|r| self.region(r).parent), c);
        match (district, regency, province) {
            (Some(_), _, _) | (None, Some(_), _) => {
                let district = district.or_else(|| regency.and_then(|r| self.nearest_child(r, c)));
                let province = province.or_else(|| regency.and_then(|r| self.region(r).parent));
                Ok(Assignment { regions: [district, regency, province], at_sea: false })
            }
            (None, None, Some(province)) => {
                // Inside a province whose published coast reaches beyond its regencies'.
                let regency = self.nearest_edge(0, p, |id| self.region(id).parent == Some(province)).map(|(id, _)| id);
                let district = regency.and_then(|r| self.nearest_child(r, c));
                Ok(Assignment { regions: [district, regency, Some(province)], at_sea: false })
            }
            (None, None, None) => self.assign_at_sea(p),
        }
    }

    /// Assigns many points on every core: the batch form of [`Self::assign_point`],
    /// results in input order.
    pub fn assign_points(&self, points: &[Point<f64>]) -> Vec<Result<Assignment, AssignError>> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = points.len().div_ceil(threads).max(1024);
        std::thread::scope(|scope| {
            let handles: Vec<_> = points
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(|p| self.assign_point(*p)).collect::<Vec<_>>()))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
        })
    }

    /// A point covered by no regency: the nearest regency within 12 nautical miles.
    fn assign_at_sea(&self, p: Point<f64>) -> Result<Assignment, AssignError> {
        let (regency, distance_m) = self.nearest_edge(0, p, |_| true).ok_or(AssignError::Empty)?;
        if distance_m > TERRITORIAL_SEA_M {
            return Err(AssignError::OutsideWaters { lon: p.x(), lat: p.y(), distance_km: distance_m / 1000.0 });
        }
        let district = self.nearest_child(regency, p.0);
        Ok(Assignment { regions: [district, Some(regency), self.region(regency).parent], at_sea: true })
    }

    /// The district of `regency` whose boundary is nearest to `p`.
    fn nearest_child(&self, regency: RegionId, p: Coord<f64>) -> Option<RegionId> {
        self.nearest_edge(1, Point(p), |id| self.region(id).parent == Some(regency)).map(|(id, _)| id)
    }

    /// The region (regency edges: tree 0, district edges: tree 1) accepted by `filter`
    /// whose boundary is nearest to `p`, and the distance in metres (haversine to the
    /// nearest point of the edge nearest in degrees; at Indonesia's latitudes the two
    /// orders agree to well under 1 %).
    fn nearest_edge(&self, tree: usize, p: Point<f64>, filter: impl Fn(RegionId) -> bool) -> Option<(RegionId, f64)> {
        let edge = self.edges[tree].nearest_neighbor_iter(&[p.x(), p.y()]).find(|e| filter(e.data))?;
        let line = geo::Line::new(
            Coord { x: edge.geom().from[0], y: edge.geom().from[1] },
            Coord { x: edge.geom().to[0], y: edge.geom().to[1] },
        );
        let nearest = match geo::ClosestPoint::closest_point(&line, &p) {
            geo::Closest::Intersection(q) | geo::Closest::SinglePoint(q) => q,
            geo::Closest::Indeterminate => Point(line.start),
        };
        Some((edge.data, Haversine.distance(p, nearest)))
    }

    /// Assigns any incident geometry: a point as [`Self::assign_point`]; a line or
    /// polygon to the region holding its largest part at each level, with every region
    /// it touches. A line or polygon touching no region is assigned by its centroid
    /// (so at sea within 12 nautical miles, else refused).
    pub fn assign(&self, geometry: &Geometry<f64>) -> Result<(Assignment, Vec<RegionId>), AssignError> {
        let part = match geometry {
            Geometry::Point(p) => return self.assign_point(*p).map(|a| (a, Vec::new())),
            Geometry::LineString(l) => Part::Line(MultiLineString::new(vec![l.clone()])),
            Geometry::MultiLineString(l) => Part::Line(l.clone()),
            Geometry::Polygon(p) => Part::Area(MultiPolygon::new(vec![p.clone()])),
            Geometry::MultiPolygon(p) => Part::Area(p.clone()),
            _ => return Err(AssignError::Empty),
        };
        let bbox = geometry.bounding_rect().ok_or(AssignError::Empty)?;
        let mut assignment = Assignment::default();
        let mut touched = Vec::new();
        for level in RegionLevel::ALL {
            let mut best: Option<(f64, RegionId)> = None;
            for id in self.candidates(level, bbox) {
                let region = self.region(id);
                let measure = part.measure_within(&region.shape);
                if measure > 0.0 || part.intersects(&region.shape) {
                    touched.push(id);
                    if best.is_none_or(|(m, b)| measure > m || (measure == m && id < b)) {
                        best = Some((measure, id));
                    }
                }
            }
            assignment.regions[level_slot(level)] = best.map(|(_, id)| id);
        }
        if assignment.regions.iter().all(Option::is_none) {
            let centroid = geometry.centroid().ok_or(AssignError::Empty)?;
            let assignment = self.assign_point(centroid)?;
            return Ok((assignment, assignment.regions.iter().flatten().copied().collect()));
        }
        touched.sort_unstable();
        Ok((assignment, touched))
    }

    /// Regions of `level` whose bounding box meets `bbox` (longitude, latitude), in
    /// code order: candidates for an exact test.
    pub fn candidates(&self, level: RegionLevel, bbox: Rect<f64>) -> Vec<RegionId> {
        let envelope = AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        let mut ids: Vec<RegionId> =
            self.boxes[level_slot(level)].locate_in_envelope_intersecting(&envelope).map(|e| e.data).collect();
        ids.sort_unstable();
        ids
    }
}

/// A line or area incident, measured against regions.
enum Part {
    Line(MultiLineString<f64>),
    Area(MultiPolygon<f64>),
}

impl Part {
    /// Length (degrees) or area (square degrees) of the part inside `region`.
    fn measure_within(&self, region: &MultiPolygon<f64>) -> f64 {
        match self {
            Part::Line(lines) => Euclidean.length(&region.clip(lines, false)),
            Part::Area(area) => region.intersection(area).unsigned_area(),
        }
    }

    fn intersects(&self, region: &MultiPolygon<f64>) -> bool {
        match self {
            Part::Line(lines) => lines.intersects(region),
            Part::Area(area) => area.intersects(region),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, LineString};

    fn shape(code: &str, level: RegionLevel, x0: f64, y0: f64, x1: f64, y1: f64) -> RegionShape {
        RegionShape {
            code: code.parse().expect("code"),
            name: code.to_owned(),
            level,
            geometry: MultiPolygon::new(vec![
                polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)],
            ]),
            label_point: Point::new((x0 + x1) / 2.0, (y0 + y1) / 2.0),
        }
    }

    /// Province 71 = [120,122]x[0,1], regencies 71.01 (west) and 71.02 (east), each
    /// with two districts side by side.
    fn index() -> RegionIndex {
        use RegionLevel::*;
        RegionIndex::new(vec![
            shape("71", Provinsi, 120.0, 0.0, 122.0, 1.0),
            shape("71.01", KabupatenKota, 120.0, 0.0, 121.0, 1.0),
            shape("71.01.01", Kecamatan, 120.0, 0.0, 120.5, 1.0),
            shape("71.01.02", Kecamatan, 120.5, 0.0, 121.0, 1.0),
            shape("71.02", KabupatenKota, 121.0, 0.0, 122.0, 1.0),
            shape("71.02.01", Kecamatan, 121.0, 0.0, 121.5, 1.0),
            shape("71.02.02", Kecamatan, 121.5, 0.0, 122.0, 1.0),
        ])
    }

    fn codes(index: &RegionIndex, a: &Assignment) -> [Option<String>; 3] {
        a.regions.map(|r| r.map(|id| index.region(id).code.to_string()))
    }

    #[test]
    fn points_get_all_three_levels() {
        let index = index();
        let a = index.assign_point(Point::new(121.7, 0.5)).expect("assigned");
        assert_eq!(codes(&index, &a), [Some("71.02.02".into()), Some("71.02".into()), Some("71".into())]);
        assert!(!a.at_sea);
    }

    #[test]
    fn border_points_go_to_the_lowest_code_consistently() {
        let index = index();
        // On the border between 71.01.02 and 71.02.01, which is also the regency border.
        let a = index.assign_point(Point::new(121.0, 0.5)).expect("assigned");
        assert_eq!(codes(&index, &a), [Some("71.01.02".into()), Some("71.01".into()), Some("71".into())]);
    }

    #[test]
    fn sea_within_twelve_miles_gets_the_nearest_regency_beyond_is_refused() {
        let index = index();
        // 0.1 degree (about 11 km) east of the coast of 71.02.
        let a = index.assign_point(Point::new(122.1, 0.5)).expect("within 12 nm");
        assert!(a.at_sea);
        assert_eq!(codes(&index, &a), [Some("71.02.02".into()), Some("71.02".into()), Some("71".into())]);
        let far = index.assign_point(Point::new(122.5, 0.5));
        assert!(
            matches!(far, Err(AssignError::OutsideWaters { distance_km, .. }) if (55.0..56.0).contains(&distance_km))
        );
    }

    #[test]
    fn polygons_go_to_their_largest_part_and_list_what_they_touch() {
        let index = index();
        // 70 % in 71.01.02, 30 % in 71.02.01.
        let p = Geometry::Polygon(
            polygon![(x: 120.65, y: 0.4), (x: 121.15, y: 0.4), (x: 121.15, y: 0.6), (x: 120.65, y: 0.6), (x: 120.65, y: 0.4)],
        );
        let (a, touched) = index.assign(&p).expect("assigned");
        assert_eq!(codes(&index, &a), [Some("71.01.02".into()), Some("71.01".into()), Some("71".into())]);
        let touched: Vec<String> = touched.iter().map(|&id| index.region(id).code.to_string()).collect();
        assert_eq!(touched, ["71", "71.01", "71.01.02", "71.02", "71.02.01"]);
    }

    #[test]
    fn lines_go_to_their_longest_part() {
        let index = index();
        let l = Geometry::LineString(LineString::from(vec![(121.4, 0.5), (121.9, 0.5)]));
        let (a, touched) = index.assign(&l).expect("assigned");
        assert_eq!(codes(&index, &a), [Some("71.02.02".into()), Some("71.02".into()), Some("71".into())]);
        assert_eq!(touched.len(), 4);
    }
}
