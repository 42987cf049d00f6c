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

use std::collections::HashMap;

use geo::Point;

use super::{squared_distance_m, EARTH_RADIUS_M};

/// Most cells apart in longitude that two neighbours may lie (near the poles a degree of
/// longitude is short); beyond it the grid gives way to the R-tree search.
const MAX_LON_REACH: i64 = 8;

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
    let cos = max_lat.min(90.0).to_radians().cos();
    if !(side > 1e-7) || cos < 1e-6 {
        return None;
    }
    // Cells apart a pair within eps can be: |Δφ| ≤ eps, |Δλ| cos φₘ ≤ eps.
    let lat_reach = (eps_deg / side).ceil() as i64;
    let lon_reach = (eps_deg / cos / side).ceil() as i64;
    if lon_reach > MAX_LON_REACH {
        return None;
    }
    let cell_of = |p: &Point<f64>| ((p.x() / side).floor() as i64, (p.y() / side).floor() as i64);
    let mut cells: HashMap<Cell, Vec<usize>> = HashMap::new();
    for (i, p) in points.iter().enumerate().filter(|(_, p)| finite(p)) {
        cells.entry(cell_of(p)).or_default().push(i);
    }
    let eps2 = eps_m * eps_m;
    let near = |i: usize, j: usize| squared_distance_m(points[i], &[points[j].x(), points[j].y()]) <= eps2;
    let around = |(cx, cy): Cell| {
        (-lon_reach..=lon_reach).flat_map(move |dx| (-lat_reach..=lat_reach).map(move |dy| (cx + dx, cy + dy)))
    };

    // Core points.
    let mut core = vec![false; points.len()];
    for (&cell, members) in &cells {
        if members.len() >= min_points {
            members.iter().for_each(|&i| core[i] = true);
            continue;
        }
        for &i in members {
            let mut count = members.len();
            'count: for other in around(cell).filter(|&c| c != cell) {
                for &j in cells.get(&other).map_or(&[][..], Vec::as_slice) {
                    if near(i, j) {
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

    // The clusters of core points: one per cell, joined across neighbouring cells.
    let cores: HashMap<Cell, Vec<usize>> = cells
        .iter()
        .filter_map(|(&cell, members)| {
            let c: Vec<usize> = members.iter().copied().filter(|&i| core[i]).collect();
            (!c.is_empty()).then_some((cell, c))
        })
        .collect();
    let mut keys: Vec<Cell> = cores.keys().copied().collect();
    keys.sort_unstable();
    let slot: HashMap<Cell, usize> = keys.iter().enumerate().map(|(k, &cell)| (cell, k)).collect();
    let mut sets = DisjointSets::new(keys.len());
    for (k, &cell) in keys.iter().enumerate() {
        for other in around(cell).filter(|&c| c > cell) {
            let Some(&l) = slot.get(&other) else { continue };
            if sets.find(k) == sets.find(l) {
                continue;
            }
            if cores[&cell].iter().any(|&i| cores[&other].iter().any(|&j| near(i, j))) {
                sets.union(k, l);
            }
        }
    }
    // Each cluster's lowest core point, which the R-tree search starts it from.
    let mut seed = vec![usize::MAX; keys.len()];
    for (k, cell) in keys.iter().enumerate() {
        let root = sets.find(k);
        seed[root] = seed[root].min(cores[cell][0]);
    }

    // Members: core points by their cell's cluster, border points by the first
    // cluster that reaches them.
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&cell, points_here) in &cells {
        for &i in points_here {
            let joins = if core[i] {
                Some(sets.find(slot[&cell]))
            } else {
                around(cell)
                    .filter_map(|other| Some((slot.get(&other)?, &cores[&other])))
                    .filter(|(_, c)| c.iter().any(|&j| near(i, j)))
                    .map(|(&l, _)| sets.find(l))
                    .min_by_key(|&root| seed[root])
            };
            if let Some(root) = joins {
                members.entry(root).or_default().push(i);
            }
        }
    }
    let mut clusters: Vec<Vec<usize>> = members
        .into_values()
        .map(|mut m| {
            m.sort_unstable();
            m
        })
        .collect();
    clusters.sort_unstable_by_key(|m| m[0]);
    Some(clusters)
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
