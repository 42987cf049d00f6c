//! DBSCAN on a grid (Gunawan 2013; Gan & Tao 2015, "DBSCAN revisited", SIGMOD): the
//! same clusters as the R-tree search, at a cost near linear in the number of points
//! however densely they crowd.
//!
//! Square cells of `eps / √2` (in degrees of latitude) are small enough that any two
//! points of a cell are within `eps` of each other, whatever their latitude (the
//! longitude difference is shrunk by the cosine of the mean latitude, never grown).
//! So a cell with `min_points` points holds only core points without measuring a
//! distance; a point of a sparser cell counts its neighbours in the few cells around
//! it and stops at `min_points`. The core points of one cell form one cluster; two
//! cells' clusters join when any pair of their core points is within `eps` (the search
//! stops at the first). Border points then join the cluster, of those with a core point
//! within `eps`, that the R-tree version would reach first: the one whose lowest core
//! point index is lowest.
//!
//! The points are sorted by cell, so that a cell's points lie side by side in memory,
//! and each cell's neighbouring cells are listed once, by a sweep over the sorted cells
//! (no hashing). Distances are measured only where cheap bounds cannot decide: a
//! latitude difference alone, or a gap to the bounding box of another cell's core
//! points, already rules most pairs out. Cells that touch are joined before cells
//! further apart, so that by the time the costlier pairs come most are already one
//! cluster and need no search.

use geo::Point;

use super::{squared_distance_m, EARTH_RADIUS_M};

/// Most cells apart in longitude that two neighbours may lie (near the poles a degree of
/// longitude is short); beyond it the grid gives way to the R-tree search.
const MAX_LON_REACH: i64 = 8;

/// Relative margin by which the cheap bounds err on the side of measuring.
const MARGIN: f64 = 1e-7;

type Cell = (i64, i64);

/// The members of each cluster, ascending, the clusters in the order of their lowest
/// member; `None` when the grid does not fit the points (an `eps_m` too small for its
/// cells, or points near the poles), for the R-tree search to answer.
pub(super) fn clusters(points: &[Point<f64>], eps_m: f64, min_points: usize) -> Option<Vec<Vec<usize>>> {
    let eps_deg = (eps_m / EARTH_RADIUS_M).to_degrees();
    // Slightly under eps / √2, so that rounding never puts two points of one cell apart.
    let side = eps_deg / std::f64::consts::SQRT_2 * (1.0 - 1e-9);
    let finite = |p: &Point<f64>| p.x().is_finite() && p.y().is_finite();
    let max_lat = points.iter().filter(|p| finite(p)).map(|p| p.y().abs()).fold(0.0, f64::max);
    let cos_min = max_lat.min(90.0).to_radians().cos();
    if !(side > 1e-7) || cos_min < 1e-6 {
        return None;
    }
    // Cells apart a pair within eps can be: |Δφ| ≤ eps, |Δλ| cos φₘ ≤ eps.
    let lat_reach = (eps_deg / side).ceil() as i64;
    let lon_reach = (eps_deg / cos_min / side).ceil() as i64;
    if lon_reach > MAX_LON_REACH {
        return None;
    }
    let grid = Grid::new(points, side, lon_reach, lat_reach);
    let near = Near::new(eps_m, cos_min);

    // Core points, by position in the grid's order.
    let mut core = vec![false; grid.xy.len()];
    for c in 0..grid.cells.len() {
        let here = grid.range(c);
        if here.len() >= min_points {
            core[here].fill(true);
            continue;
        }
        let around = grid.around(c);
        if around.iter().map(|&d| grid.range(d as usize).len()).sum::<usize>() < min_points {
            continue;
        }
        for i in here.clone() {
            let mut count = here.len();
            'count: for &d in around.iter().filter(|&&d| d as usize != c) {
                for j in grid.range(d as usize) {
                    if near.within(grid.xy[i], grid.xy[j]) {
                        count += 1;
                        if count >= min_points {
                            break 'count;
                        }
                    }
                }
            }
            core[i] = count >= min_points;
        }
    }

    // Each cell's core points (positions) and their bounding box.
    let mut core_start = Vec::with_capacity(grid.cells.len() + 1);
    let mut cores: Vec<usize> = Vec::new();
    let mut boxes: Vec<Bounds> = Vec::with_capacity(grid.cells.len());
    for c in 0..grid.cells.len() {
        core_start.push(cores.len());
        let first = cores.len();
        cores.extend(grid.range(c).filter(|&i| core[i]));
        boxes.push(Bounds::of(cores[first..].iter().map(|&i| grid.xy[i])));
    }
    core_start.push(cores.len());
    let cores_of = |c: usize| &cores[core_start[c]..core_start[c + 1]];

    // The clusters of core points: one per cell, joined across neighbouring cells,
    // cells that touch first.
    let mut sets = DisjointSets::new(grid.cells.len());
    for touching in [true, false] {
        for c in 0..grid.cells.len() {
            if cores_of(c).is_empty() {
                continue;
            }
            let (cx, cy) = grid.cells[c];
            for &d in grid.around(c) {
                let d = d as usize;
                let (dx, dy) = grid.cells[d];
                if d <= c || ((dx - cx).abs() <= 1 && (dy - cy).abs() <= 1) != touching || cores_of(d).is_empty() {
                    continue;
                }
                if sets.find(c) == sets.find(d) || near.boxes_apart(&boxes[c], &boxes[d]) {
                    continue;
                }
                let from_c: Vec<[f64; 2]> =
                    cores_of(c).iter().map(|&i| grid.xy[i]).filter(|&p| !near.beyond_box(&boxes[d], p)).collect();
                let joined = !from_c.is_empty()
                    && cores_of(d)
                        .iter()
                        .map(|&j| grid.xy[j])
                        .filter(|&q| !near.beyond_box(&boxes[c], q))
                        .any(|q| from_c.iter().any(|&p| near.within(p, q)));
                if joined {
                    sets.union(c, d);
                }
            }
        }
    }
    // Each cluster's lowest core point, which the R-tree search starts it from.
    let mut seed = vec![usize::MAX; grid.cells.len()];
    for c in 0..grid.cells.len() {
        if let Some(&first) = cores_of(c).first() {
            let root = sets.find(c);
            seed[root] = seed[root].min(grid.index[first]);
        }
    }

    // Each point's cluster: core points by their cell's, border points by the first
    // cluster that reaches them.
    let mut root_of = vec![usize::MAX; points.len()];
    for c in 0..grid.cells.len() {
        for i in grid.range(c) {
            let joins = if core[i] {
                Some(sets.find(c))
            } else {
                let p = grid.xy[i];
                let mut best: Option<usize> = None;
                for &d in grid.around(c) {
                    let d = d as usize;
                    if cores_of(d).is_empty() || near.beyond_box(&boxes[d], p) {
                        continue;
                    }
                    let root = sets.find(d);
                    if best.is_some_and(|b| seed[b] <= seed[root]) {
                        continue;
                    }
                    if cores_of(d).iter().any(|&j| near.within(p, grid.xy[j])) {
                        best = Some(root);
                    }
                }
                best
            };
            if let Some(root) = joins {
                root_of[grid.index[i]] = root;
            }
        }
    }
    // Members in ascending order; clusters in the order of their lowest member.
    let mut number = vec![usize::MAX; grid.cells.len()];
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    for (i, &root) in root_of.iter().enumerate().filter(|(_, &root)| root != usize::MAX) {
        if number[root] == usize::MAX {
            number[root] = clusters.len();
            clusters.push(Vec::new());
        }
        clusters[number[root]].push(i);
    }
    Some(clusters)
}

/// The finite points sorted by cell (ascending index within a cell), the non-empty
/// cells in order, and each cell's neighbouring cells.
struct Grid {
    /// The non-empty cells, ascending.
    cells: Vec<Cell>,
    /// Where each cell's points begin in `xy`, and one past the last.
    start: Vec<usize>,
    /// Coordinates (lon, lat), by cell.
    xy: Vec<[f64; 2]>,
    /// The index in the input of each point of `xy`.
    index: Vec<usize>,
    /// Where each cell's neighbours begin in `neighbours`, and one past the last.
    around_start: Vec<usize>,
    /// The cells within reach of each cell (itself included), ascending.
    neighbours: Vec<u32>,
}

impl Grid {
    fn new(points: &[Point<f64>], side: f64, lon_reach: i64, lat_reach: i64) -> Grid {
        let mut keyed: Vec<(Cell, usize)> = points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.x().is_finite() && p.y().is_finite())
            .map(|(i, p)| (((p.x() / side).floor() as i64, (p.y() / side).floor() as i64), i))
            .collect();
        keyed.sort_unstable();
        let (mut cells, mut start) = (Vec::new(), Vec::new());
        for (k, &(cell, _)) in keyed.iter().enumerate() {
            if cells.last() != Some(&cell) {
                cells.push(cell);
                start.push(k);
            }
        }
        start.push(keyed.len());
        let xy = keyed.iter().map(|&(_, i)| [points[i].x(), points[i].y()]).collect();
        let index = keyed.iter().map(|&(_, i)| i).collect();

        // For each column offset, a cursor into `cells` that only moves forward: the
        // cells are visited in ascending order, so the first cell at or after
        // (cx + dx, cy - lat_reach) never lies before the previous one's.
        let mut cursors = vec![0usize; (2 * lon_reach + 1) as usize];
        let (mut around_start, mut neighbours) = (Vec::with_capacity(cells.len() + 1), Vec::new());
        for &(cx, cy) in &cells {
            around_start.push(neighbours.len());
            for (k, dx) in (-lon_reach..=lon_reach).enumerate() {
                let (low, high) = ((cx + dx, cy - lat_reach), (cx + dx, cy + lat_reach));
                let cursor = &mut cursors[k];
                while *cursor < cells.len() && cells[*cursor] < low {
                    *cursor += 1;
                }
                let mut d = *cursor;
                while d < cells.len() && cells[d] <= high {
                    neighbours.push(d as u32);
                    d += 1;
                }
            }
        }
        around_start.push(neighbours.len());
        Grid { cells, start, xy, index, around_start, neighbours }
    }

    /// The positions in `xy` of cell `c`'s points.
    fn range(&self, c: usize) -> std::ops::Range<usize> {
        self.start[c]..self.start[c + 1]
    }

    /// The cells within reach of cell `c`, itself included, ascending.
    fn around(&self, c: usize) -> &[u32] {
        &self.neighbours[self.around_start[c]..self.around_start[c + 1]]
    }
}

/// The test of two points within `eps`: [`squared_distance_m`] exactly, after bounds
/// that decide most far pairs without a cosine.
struct Near {
    eps2: f64,
    /// Squared eps in radians, grown by [`MARGIN`].
    eps2_rad: f64,
    /// The cosine of the furthest latitude from the equator, shrunk by [`MARGIN`]: no
    /// pair's mean latitude has a smaller one.
    cos_min: f64,
}

impl Near {
    fn new(eps_m: f64, cos_min: f64) -> Near {
        let eps_rad = eps_m / EARTH_RADIUS_M;
        Near { eps2: eps_m * eps_m, eps2_rad: eps_rad * eps_rad * (1.0 + MARGIN), cos_min: cos_min * (1.0 - MARGIN) }
    }

    fn within(&self, a: [f64; 2], b: [f64; 2]) -> bool {
        // The same latitude term as the distance: its square alone can only be smaller
        // than the whole (each rounding step is monotonic), so this decides exactly.
        let dy = (b[1] - a[1]).to_radians();
        if dy * dy * EARTH_RADIUS_M * EARTH_RADIUS_M > self.eps2 {
            return false;
        }
        squared_distance_m(Point::new(a[0], a[1]), &b) <= self.eps2
    }

    /// Whether every point of `bounds` is surely more than eps from `p`: a lower bound
    /// of the distance, with the margin (`bounds` is never empty here).
    fn beyond_box(&self, bounds: &Bounds, p: [f64; 2]) -> bool {
        self.beyond_gaps(bounds.gaps(&Bounds { min: p, max: p }))
    }

    /// Whether every point of one box is surely more than eps from every point of the
    /// other.
    fn boxes_apart(&self, a: &Bounds, b: &Bounds) -> bool {
        self.beyond_gaps(a.gaps(b))
    }

    fn beyond_gaps(&self, [gap_x, gap_y]: [f64; 2]) -> bool {
        let (x, y) = (gap_x.to_radians() * self.cos_min, gap_y.to_radians());
        x * x + y * y > self.eps2_rad
    }
}

/// A bounding box of (lon, lat) points.
struct Bounds {
    min: [f64; 2],
    max: [f64; 2],
}

impl Bounds {
    fn of(points: impl Iterator<Item = [f64; 2]>) -> Bounds {
        let mut b = Bounds { min: [f64::INFINITY; 2], max: [f64::NEG_INFINITY; 2] };
        for [x, y] in points {
            b.min = [b.min[0].min(x), b.min[1].min(y)];
            b.max = [b.max[0].max(x), b.max[1].max(y)];
        }
        b
    }

    /// The gaps between two boxes in longitude and latitude, degrees (0 where they
    /// overlap).
    fn gaps(&self, other: &Bounds) -> [f64; 2] {
        [0, 1].map(|k| (other.min[k] - self.max[k]).max(self.min[k] - other.max[k]).max(0.0))
    }
}

/// Union-find with path halving and union by size.
struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl DisjointSets {
    fn new(n: usize) -> DisjointSets {
        DisjointSets { parent: (0..n).collect(), size: vec![1; n] }
    }

    fn find(&mut self, mut k: usize) -> usize {
        while self.parent[k] != k {
            self.parent[k] = self.parent[self.parent[k]];
            k = self.parent[k];
        }
        k
    }

    fn union(&mut self, a: usize, b: usize) {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        if self.size[a] < self.size[b] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b] = a;
        self.size[a] += self.size[b];
    }
}
