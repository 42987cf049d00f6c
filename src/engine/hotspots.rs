//! Region hotspots: Getis-Ord Gi* over the regions of one level.
//!
//! [`Weights`] says which regions are neighbours (a shared boundary, or the nearest
//! centroids); [`gi_star`] scores each region's value together with its neighbours'
//! against the whole level and bins the result as ArcGIS Hot Spot Analysis does;
//! [`apply_fdr`] tightens those bins for the thousands of tests made at once.

use geo::{BoundingRect, Distance, Euclidean, Intersects, Line, MultiPolygon, Point, Rect};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeObject, AABB};
use serde::Serialize;

use super::normal::erfc;

/// Gap in degrees up to which two boundaries count as touching in
/// [`Weights::queen`]: about 11 m on the ground, enough to bridge the slivers left
/// between neighbours whose boundaries were simplified separately.
pub const DEFAULT_QUEEN_TOLERANCE_DEG: f64 = 1e-4;

/// Number of neighbours per region in [`Weights::knn`] unless the caller says
/// otherwise.
pub const DEFAULT_K: usize = 8;

/// Two-sided significance levels of the bins ±3, ±2, ±1 (99, 95 and 90 % confidence).
const ALPHAS: [f64; 3] = [0.01, 0.05, 0.10];

/// Binary spatial weights: for every region (an index into the slice the weights
/// were built from), the regions that count as its neighbours.
///
/// The focal region is never its own neighbour here; [`gi_star`] adds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weights {
    /// `neighbors[offsets[i]..offsets[i + 1]]` are the neighbours of region `i`.
    offsets: Vec<usize>,
    /// All neighbour lists, each sorted by index.
    neighbors: Vec<u32>,
}

impl Weights {
    /// Contiguity weights: regions are neighbours when their boundaries come within
    /// `tolerance_deg` of each other, or when they overlap ("queen": a shared corner
    /// is enough). Symmetric.
    ///
    /// Polygons are (longitude, latitude) in degrees, EPSG:4326, and the gap is
    /// measured in the same planar degrees (use [`DEFAULT_QUEEN_TOLERANCE_DEG`]).
    /// Neighbouring boundaries simplified separately share no exact vertices, so a
    /// tolerance of zero finds only boundaries that actually touch or cross.
    ///
    /// Every boundary segment goes into an R-tree; each segment looks up the others
    /// whose boxes come within the tolerance, and the exact segment distance decides.
    /// A region lying wholly inside another without touching its boundary (an
    /// overlap, not an enclave, which lies in a hole) is found by a point-in-polygon
    /// test.
    ///
    /// ```
    /// use geo::{polygon, MultiPolygon};
    /// use sipks::engine::hotspots::{Weights, DEFAULT_QUEEN_TOLERANCE_DEG};
    ///
    /// // Three unit squares in a row, the middle one 5 m (4.5e-5°) apart from the left.
    /// let square = |x: f64| MultiPolygon::new(vec![polygon![
    ///     (x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0)
    /// ]]);
    /// let row = [square(0.0), square(1.000045), square(2.000045)];
    /// let w = Weights::queen(&row, DEFAULT_QUEEN_TOLERANCE_DEG);
    /// assert_eq!(w.neighbors(1), [0, 2]);
    /// assert_eq!(Weights::queen(&row, 0.0).neighbors(1), [2]);
    /// ```
    pub fn queen(polygons: &[MultiPolygon<f64>], tolerance_deg: f64) -> Weights {
        let tolerance = if tolerance_deg.is_finite() { tolerance_deg.max(0.0) } else { 0.0 };
        let segments = RTree::bulk_load(
            polygons
                .iter()
                .enumerate()
                .flat_map(|(i, region)| segments_of(region).map(move |line| GeomWithData::new(line, index(i))))
                .collect(),
        );
        let mut lists = vec![Vec::new(); polygons.len()];
        for (i, region) in polygons.iter().enumerate() {
            // Neighbours with a larger index; the smaller ones found this region.
            let mut found: Vec<u32> = Vec::new();
            for line in segments_of(region) {
                let reach = expand(&line.envelope(), tolerance);
                for other in segments.locate_in_envelope_intersecting(&reach) {
                    let j = other.data;
                    if j as usize > i && !found.contains(&j) && Euclidean.distance(&line, other.geom()) <= tolerance {
                        found.push(j);
                    }
                }
            }
            for j in found {
                lists[i].push(j);
                lists[j as usize].push(index(i));
            }
        }
        for (outer, inner) in nested_without_contact(polygons, &lists) {
            lists[outer].push(index(inner));
            lists[inner].push(index(outer));
        }
        Weights::from_lists(lists)
    }

    /// The `k` nearest regions by planar distance between their centroids, in
    /// degrees of (longitude, latitude), EPSG:4326 (use [`DEFAULT_K`]).
    ///
    /// Like PySAL's `KNN` the result is not symmetric: a region's nearest neighbours
    /// need not count it among theirs. Regions at equal distance are taken in index
    /// order, so the result does not depend on the R-tree. With `k` of the number of
    /// regions or more, every region neighbours all others; a centroid that is not
    /// finite gets no neighbours and is nobody's.
    ///
    /// ```
    /// use geo::Point;
    /// use sipks::engine::hotspots::Weights;
    ///
    /// // A centre and four points one degree away: the ties go to the lower indices.
    /// let points = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)].map(Point::from);
    /// let w = Weights::knn(&points, 2);
    /// assert_eq!(w.neighbors(0), [1, 2]);
    /// assert_eq!(w.neighbors(1), [0, 2]);
    /// ```
    pub fn knn(centroids: &[Point<f64>], k: usize) -> Weights {
        let finite = |p: &Point<f64>| p.x().is_finite() && p.y().is_finite();
        let tree = RTree::bulk_load(
            centroids
                .iter()
                .enumerate()
                .filter(|(_, p)| finite(p))
                .map(|(i, p)| GeomWithData::new([p.x(), p.y()], index(i)))
                .collect(),
        );
        let lists = centroids
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if k == 0 || !finite(p) {
                    return Vec::new();
                }
                // The iterator yields by distance; read on past the k-th through its ties.
                let mut nearest: Vec<(f64, u32)> = Vec::with_capacity(k + 1);
                for (other, d2) in tree.nearest_neighbor_iter_with_distance_2(&[p.x(), p.y()]) {
                    if other.data as usize == i {
                        continue;
                    }
                    if nearest.len() >= k && d2 > nearest[k - 1].0 {
                        break;
                    }
                    nearest.push((d2, other.data));
                }
                nearest.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                nearest.truncate(k);
                nearest.into_iter().map(|(_, j)| j).collect()
            })
            .collect();
        Weights::from_lists(lists)
    }

    fn from_lists(lists: Vec<Vec<u32>>) -> Weights {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut neighbors = Vec::with_capacity(lists.iter().map(Vec::len).sum());
        offsets.push(0);
        for mut list in lists {
            list.sort_unstable();
            list.dedup();
            neighbors.extend(list);
            offsets.push(neighbors.len());
        }
        Weights { offsets, neighbors }
    }

    /// The neighbours of region `i`, by increasing index, without `i` itself.
    ///
    /// # Panics
    /// When `i` is not below [`Weights::len`].
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.neighbors[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the weights cover no region at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The regions without any neighbour (for contiguity: islands), by index.
    pub fn islands(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(|&i| self.neighbors(i).is_empty())
    }
}

/// Index of a region as stored in [`Weights`].
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 regions")
}

fn segments_of(region: &MultiPolygon<f64>) -> impl Iterator<Item = Line<f64>> + '_ {
    region
        .iter()
        .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
        .flat_map(|ring| ring.lines())
}

fn expand(envelope: &AABB<Point<f64>>, by: f64) -> AABB<Point<f64>> {
    let (lower, upper) = (envelope.lower(), envelope.upper());
    AABB::from_corners(Point::new(lower.x() - by, lower.y() - by), Point::new(upper.x() + by, upper.y() + by))
}

/// Pairs `(outer, inner)` of regions where some part of `inner` lies inside `outer`
/// although no boundaries touch: then the inner part's bounding box lies within the
/// outer one's, and any one of its vertices tells. A pair may come more than once.
fn nested_without_contact(polygons: &[MultiPolygon<f64>], touching: &[Vec<u32>]) -> Vec<(usize, usize)> {
    let rectangle =
        |rect: Rect<f64>| Rectangle::<[f64; 2]>::from_corners(rect.min().x_y().into(), rect.max().x_y().into());
    let parts = RTree::bulk_load(
        polygons
            .iter()
            .enumerate()
            .flat_map(|(i, region)| region.iter().map(move |part| (i, part)))
            .filter_map(|(i, part)| {
                let first = part.exterior().0.first()?;
                Some(GeomWithData::new(rectangle(part.bounding_rect()?), (i, *first)))
            })
            .collect::<Vec<_>>(),
    );
    let mut pairs = Vec::new();
    for (outer, region) in polygons.iter().enumerate() {
        let Some(bounds) = region.bounding_rect() else { continue };
        for part in parts.locate_in_envelope(&rectangle(bounds).envelope()) {
            let (inner, vertex) = part.data;
            if inner != outer && !touching[outer].contains(&index(inner)) && region.intersects(&vertex) {
                pairs.push((outer, inner));
            }
        }
    }
    pairs
}

/// The Gi* statistic of one region.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GiStar {
    /// Standard score: positive where high values cluster, negative where low ones do.
    pub z: f64,
    /// Two-sided p-value of `z` under the normal approximation, in `[0, 1]`.
    pub p: f64,
    /// ArcGIS's `Gi_Bin`: ±3 at 99 % confidence, ±2 at 95 %, ±1 at 90 %, 0 not
    /// significant; the sign is that of `z` (+ hot spot, - cold spot).
    pub bin: i8,
}

impl GiStar {
    /// The result of a region with no evidence either way.
    pub const NOT_SIGNIFICANT: GiStar = GiStar { z: 0.0, p: 1.0, bin: 0 };

    fn from_z(z: f64) -> GiStar {
        let p = erfc(z.abs() / std::f64::consts::SQRT_2);
        GiStar { z, p, bin: unadjusted_bin(z, p) }
    }
}

/// The bin without correction for multiple testing.
fn unadjusted_bin(z: f64, p: f64) -> i8 {
    signed_bin(z, ALPHAS.iter().filter(|&&alpha| p < alpha).count())
}

/// The bin for a confidence level counted 0 (none) to 3 (99 %), with the sign of `z`.
fn signed_bin(z: f64, level: usize) -> i8 {
    let level = level as i8;
    if z < 0.0 {
        -level
    } else {
        level
    }
}

/// Getis-Ord Gi* of every region: whether the region and its neighbours together hold
/// more (or less) of `values` than chance would put there.
///
/// `values[i]` belongs to region `i` of `weights` (a count or rate, e.g. incidents per
/// regency). With binary weights that include the region itself (`w_ii = 1`), `n`
/// regions, mean `x̄` and population standard deviation `S`:
///
/// ```text
///            Σ_j w_ij x_j - x̄ W_i
/// z_i = ───────────────────────────────      W_i = Σ_j w_ij = |neighbours of i| + 1
///        S √((n W_i - W_i²) / (n - 1))
/// ```
///
/// (Getis & Ord 1992, "The analysis of spatial association by use of distance
/// statistics", Geogr. Anal. 24(3); Ord & Getis 1995, "Local spatial autocorrelation
/// statistics: distributional issues and an application", Geogr. Anal. 27(4)). This
/// is the `Zs` of PySAL esda `G_Local(y, w, transform='B', star=True)` and the
/// `GiZScore` of ArcGIS Hot Spot Analysis (esda divides by `x̄` on the way, so its
/// sign flips for values with a negative sum; this form has no such step). The
/// p-value is two-sided,
/// `p = 2 (1 - Φ(|z|)) = erfc(|z| / √2)`, and the bins follow from `p < 0.01, 0.05,
/// 0.10` without correction for multiple testing (see [`apply_fdr`]).
///
/// Degenerate input has no evidence: with fewer than two regions, all values equal,
/// or a region whose neighbourhood is the whole level, the result is `z = 0, p = 1,
/// bin 0`. Values must be finite; a NaN makes every `z` and `p` NaN (bin 0).
///
/// # Panics
/// When `values` and `weights` cover different numbers of regions.
///
/// # Example
/// ```
/// use geo::{polygon, MultiPolygon};
/// use sipks::engine::hotspots::{gi_star, Weights, DEFAULT_QUEEN_TOLERANCE_DEG};
///
/// // Five unit squares in a row (longitude 0..5, latitude 0..1), all incidents in the last.
/// let squares: Vec<MultiPolygon<f64>> = (0..5)
///     .map(|i| {
///         let x = f64::from(i);
///         MultiPolygon::new(vec![polygon![(x: x, y: 0.0), (x: x + 1.0, y: 0.0), (x: x + 1.0, y: 1.0), (x: x, y: 1.0)]])
///     })
///     .collect();
/// let weights = Weights::queen(&squares, DEFAULT_QUEEN_TOLERANCE_DEG);
/// let gi = gi_star(&[0.0, 0.0, 0.0, 0.0, 5.0], &weights);
/// assert!((gi[4].z - 1.5f64.sqrt()).abs() < 1e-12);
/// assert!(gi[0].z < 0.0 && gi[4].bin == 0, "five regions are too few for significance");
/// ```
pub fn gi_star(values: &[f64], weights: &Weights) -> Vec<GiStar> {
    assert_eq!(values.len(), weights.len(), "one value per region of the weights");
    let n = values.len() as f64;
    if values.len() < 2 || values.iter().all(|&v| v == values[0]) {
        return vec![GiStar::NOT_SIGNIFICANT; values.len()];
    }
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    (0..values.len())
        .map(|i| {
            let neighbors = weights.neighbors(i);
            let w = (neighbors.len() + 1) as f64;
            let lag = values[i] + neighbors.iter().map(|&j| values[j as usize]).sum::<f64>();
            let scale = sd * ((n * w - w * w) / (n - 1.0)).sqrt();
            if scale > 0.0 || scale.is_nan() {
                GiStar::from_z((lag - mean * w) / scale)
            } else {
                GiStar::NOT_SIGNIFICANT
            }
        })
        .collect()
}

/// Recomputes the bins of `results` with the false discovery rate correction, as
/// ArcGIS Hot Spot Analysis does when asked to "Apply False Discovery Rate (FDR)
/// Correction"; `z` and `p` are left as they are.
///
/// Thousands of regions tested at 95 % confidence would show hundreds of hot and cold
/// spots by chance alone. For each confidence level with significance `α` (0.10,
/// 0.05, 0.01) the Benjamini–Hochberg procedure (Benjamini & Hochberg 1995, J. R.
/// Stat. Soc. B 57(1); Caldas de Castro & Singer 2006, Geogr. Anal. 38(2)) sorts the
/// `m` p-values, `p₍₁₎ ≤ … ≤ p₍ₘ₎`, finds the largest `k` with `p₍ₖ₎ < k α / m`, and
/// keeps as significant the regions with `p ≤ p₍ₖ₎`. A region's bin is the highest
/// level it keeps, so bins only move towards zero and a region significant after
/// correction was significant before it.
pub fn apply_fdr(results: &mut [GiStar]) {
    let mut sorted: Vec<f64> = results.iter().map(|r| r.p).collect();
    sorted.sort_by(f64::total_cmp);
    let m = sorted.len() as f64;
    let cutoffs = ALPHAS.map(|alpha| {
        sorted.iter().enumerate().rev().find(|&(rank, &p)| p < (rank + 1) as f64 * alpha / m).map(|(_, &p)| p)
    });
    for result in results {
        let level = cutoffs.iter().filter(|cutoff| cutoff.is_some_and(|c| result.p <= c)).count();
        result.bin = signed_bin(result.z, level);
    }
}

#[cfg(test)]
mod tests {
    use geo::{polygon, MultiPolygon};

    use super::*;

    fn square(x: f64, y: f64, size: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon![
            (x: x, y: y), (x: x + size, y: y), (x: x + size, y: y + size), (x: x, y: y + size)
        ]])
    }

    /// A 3x3 grid of unit squares, row by row from the south-west, `gap` degrees apart.
    fn grid(gap: f64) -> Vec<MultiPolygon<f64>> {
        (0..9).map(|i| square(f64::from(i % 3) * (1.0 + gap), f64::from(i / 3) * (1.0 + gap), 1.0)).collect()
    }

    fn counts(w: &Weights) -> Vec<usize> {
        (0..w.len()).map(|i| w.neighbors(i).len()).collect()
    }

    #[test]
    fn queen_grid_counts_corners_as_neighbours() {
        let w = Weights::queen(&grid(0.0), DEFAULT_QUEEN_TOLERANCE_DEG);
        assert_eq!(counts(&w), [3, 5, 3, 5, 8, 5, 3, 5, 3]);
        assert_eq!(w.neighbors(0), [1, 3, 4]);
        assert_eq!(w.neighbors(4), [0, 1, 2, 3, 5, 6, 7, 8]);
        assert_eq!(w.islands().count(), 0);
    }

    #[test]
    fn queen_bridges_gaps_up_to_the_tolerance() {
        // With a gap g between the squares, diagonal corners are g√2 apart.
        let gap = |fraction: f64| grid(fraction * DEFAULT_QUEEN_TOLERANCE_DEG);
        let near = Weights::queen(&gap(0.7), DEFAULT_QUEEN_TOLERANCE_DEG);
        assert_eq!(counts(&near), [3, 5, 3, 5, 8, 5, 3, 5, 3]);
        let edges_only = Weights::queen(&gap(0.9), DEFAULT_QUEEN_TOLERANCE_DEG);
        assert_eq!(counts(&edges_only), [2, 3, 2, 3, 4, 3, 2, 3, 2]);
        let far = Weights::queen(&gap(1.1), DEFAULT_QUEEN_TOLERANCE_DEG);
        assert_eq!(far.islands().collect::<Vec<_>>(), (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn queen_finds_overlaps_enclaves_and_islands() {
        let regions = vec![
            // A square with a hole, the enclave filling the hole, and a region lying
            // inside the square's shell without touching it.
            MultiPolygon::new(vec![polygon!(
                exterior: [(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)],
                interiors: [[(x: 1.0, y: 1.0), (x: 2.0, y: 1.0), (x: 2.0, y: 2.0), (x: 1.0, y: 2.0)]],
            )]),
            square(1.0, 1.0, 1.0),
            square(5.0, 5.0, 1.0),
            // An island far away, and a two-part region with one part touching the
            // big square.
            square(20.0, 20.0, 1.0),
            MultiPolygon::new(vec![square(30.0, 0.0, 1.0).0[0].clone(), square(10.0, 3.0, 1.0).0[0].clone()]),
        ];
        let w = Weights::queen(&regions, 0.0);
        assert_eq!(w.neighbors(0), [1, 2, 4]);
        assert_eq!(w.neighbors(1), [0]);
        assert_eq!(w.neighbors(2), [0]);
        assert_eq!(w.islands().collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn knn_breaks_ties_by_index_and_is_not_symmetric() {
        let points = [(0.0, 0.0), (3.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0), (1.0, 0.0)].map(Point::from);
        let w = Weights::knn(&points, 2);
        assert_eq!(w.neighbors(0), [2, 3], "four at distance 1: the lowest indices");
        assert_eq!(w.neighbors(1), [0, 5]);
        assert!(!w.neighbors(5).contains(&1), "1 counts 5 among its nearest, not the reverse");
        let all = Weights::knn(&points, 10);
        assert_eq!(all.neighbors(3), [0, 1, 2, 4, 5]);
        assert!(Weights::knn(&points, 0).islands().eq(0..6));
        let with_nan = Weights::knn(&[Point::new(0.0, 0.0), Point::new(f64::NAN, 0.0), Point::new(1.0, 1.0)], 1);
        assert_eq!(counts(&with_nan), [1, 0, 1]);
        assert_eq!(with_nan.neighbors(0), [2]);
    }

    /// Five squares in a row, values 0, 0, 0, 0, 5: n = 5, x̄ = 1, S = 2. The end
    /// regions have W = 2, the others W = 3, so `S √((nW - W²)/(n - 1))` is 2√1.5
    /// for both, and the numerators are -2, -3, -3, 2, 3.
    #[test]
    fn gi_star_matches_a_hand_computation() {
        let row: Vec<_> = (0..5).map(|i| square(f64::from(i), 0.0, 1.0)).collect();
        let gi = gi_star(&[0.0, 0.0, 0.0, 0.0, 5.0], &Weights::queen(&row, 0.0));
        let unit = 1.0 / (2.0 * 1.5f64.sqrt());
        let expected = [-2.0 * unit, -3.0 * unit, -3.0 * unit, 2.0 * unit, 3.0 * unit];
        for (g, z) in gi.iter().zip(expected) {
            assert!((g.z - z).abs() < 1e-14, "{} != {z}", g.z);
        }
        // scipy.special.erfc(sqrt(1.5) / sqrt(2)) and erfc(sqrt(2/3) / sqrt(2)).
        assert!((gi[4].p - 0.22067136191984682).abs() < 1e-15);
        assert!((gi[0].p - 0.4142161782425252).abs() < 1e-15);
        assert!(gi.iter().all(|g| g.bin == 0));
    }

    #[test]
    fn gi_star_bins_a_strong_cluster() {
        // A 20x20 grid of unit squares, background 1, a 3x3 block of 50 in the middle.
        let cells: Vec<_> = (0..400).map(|i| square(f64::from(i % 20), f64::from(i / 20), 1.0)).collect();
        let mut values = vec![1.0; 400];
        for i in [189, 190, 191, 209, 210, 211, 229, 230, 231] {
            values[i] = 50.0;
        }
        let gi = gi_star(&values, &Weights::queen(&cells, 0.0));
        assert_eq!(gi[210].bin, 3, "{:?}", gi[210]);
        assert!(gi[210].z > 6.0 && gi[210].p < 1e-10, "{:?}", gi[210]);
        assert_eq!(gi[0].bin, 0, "{:?}", gi[0]);
        assert!(gi[0].z < 0.0);
    }

    #[test]
    fn degenerate_input_is_not_significant() {
        let w = Weights::queen(&grid(0.0), 0.0);
        assert!(gi_star(&[0.1; 9], &w).iter().all(|g| *g == GiStar::NOT_SIGNIFICANT));
        let one = Weights::queen(&grid(0.0)[..1], 0.0);
        assert_eq!(gi_star(&[3.0], &one), [GiStar::NOT_SIGNIFICANT]);
        assert!(gi_star(&[], &Weights::knn(&[], 8)).is_empty());
        // Everyone neighbours everyone: every region sees the whole level.
        let all = Weights::knn(&[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)].map(Point::from), 8);
        assert!(gi_star(&[1.0, 2.0, 4.0], &all).iter().all(|g| *g == GiStar::NOT_SIGNIFICANT));
    }

    #[test]
    fn fdr_only_lowers_bins() {
        // m = 10: the BH cut-offs k α / m are 0.001 k (99 %), 0.005 k (95 %), 0.01 k (90 %).
        let ps = [0.0005, 0.0025, 0.004, 0.012, 0.02, 0.031, 0.045, 0.07, 0.095, 0.5];
        let mut results: Vec<GiStar> = ps
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                let z = if i % 2 == 0 { 3.0 } else { -3.0 };
                GiStar { z, p, bin: unadjusted_bin(z, p) }
            })
            .collect();
        let before = results.clone();
        apply_fdr(&mut results);
        // 99 %: p₍₁₎ < 0.001, but p₍₂₎ = 0.0025 > 0.002 and no later one is below its cut-off.
        // 95 %: k = 5 (0.02 < 0.025), as p₍₆₎ = 0.031 > 0.030 and the rest are larger.
        // 90 %: k = 8 (0.07 < 0.08), as p₍₉₎ = 0.095 > 0.09 and p₍₁₀₎ = 0.5 > 0.1.
        let bins: Vec<i8> = results.iter().map(|r| r.bin).collect();
        assert_eq!(bins, [3, -2, 2, -2, 2, -1, 1, -1, 0, 0]);
        let unadjusted: Vec<i8> = before.iter().map(|r| r.bin).collect();
        assert_eq!(unadjusted, [3, -3, 3, -2, 2, -2, 2, -1, 1, 0]);
        for (a, b) in results.iter().zip(&before) {
            assert_eq!((a.z.to_bits(), a.p.to_bits()), (b.z.to_bits(), b.p.to_bits()));
        }
        let mut again = results.clone();
        apply_fdr(&mut again);
        assert_eq!(again, results, "idempotent");
    }

    #[test]
    fn unadjusted_bins_follow_the_p_value() {
        let bin = |z: f64| GiStar::from_z(z).bin;
        assert_eq!([bin(1.6), bin(1.7), bin(-2.0), bin(2.6), bin(-2.6), bin(0.0)], [0, 1, -2, 3, -3, 0]);
    }
}
