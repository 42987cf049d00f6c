//! What tiles show besides geometry, per window: the region figures (from the engine's
//! snapshot), Gi* results and the DBSCAN cluster hulls; and the differences between
//! two states, which decide what the cache drops.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use geo::{BoundingRect, Polygon, Rect};

use super::coord::{project, world_size};
use super::shapes::{snap_polygon, PixelShape};
use super::MAX_SOURCE_ZOOM;
use crate::engine::hotspots::GiStar;
use crate::engine::regions::RegionId;
use crate::engine::risk::RiskLevel;
use crate::engine::store::Window;
use crate::engine::{Engine, Snapshot, WeightsKind};
use crate::incident::Category;
use crate::region::RegionLevel;

/// DBSCAN parameters of the hotspot cluster layer (those of `/api/hotspots/clusters`).
pub const CLUSTER_EPS_M: f64 = 5_000.0;
/// Minimum incidents of a cluster.
pub const CLUSTER_MIN_POINTS: usize = 5;

/// A DBSCAN cluster as drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct HullFeature {
    /// Hull, longitude/latitude.
    pub hull: Polygon<f64>,
    /// Its box.
    pub bbox: Rect<f64>,
    /// Incidents in it.
    pub count: u32,
    /// Most frequent category.
    pub category: Category,
    /// Highest severity.
    pub max_severity: u8,
}

impl HullFeature {
    /// A hash of everything drawn of it, to compare two sets of hulls in linear time.
    fn fingerprint(&self) -> u64 {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut h = DefaultHasher::new();
        for c in self.hull.exterior().coords().chain(self.hull.interiors().iter().flat_map(|r| r.coords())) {
            (c.x.to_bits(), c.y.to_bits()).hash(&mut h);
        }
        (self.count, self.category.index(), self.max_severity).hash(&mut h);
        h.finish()
    }
}

/// The DBSCAN cluster hulls of a window, and their shapes at each zoom, made on first
/// use of the zoom (thousands of hulls: snapping them for every tile would be most of
/// a low-zoom tile's render).
#[derive(Debug, Default)]
pub struct Hulls {
    /// The hulls, in DBSCAN's order.
    pub features: Vec<HullFeature>,
    shapes: [OnceLock<Vec<PixelShape>>; MAX_SOURCE_ZOOM as usize + 1],
}

impl Hulls {
    /// Hulls with no shape made yet.
    pub fn new(features: Vec<HullFeature>) -> Hulls {
        Hulls { features, shapes: Default::default() }
    }

    /// Each hull's shape at zoom `z` (world pixels), in the order of `features`: its
    /// snapped polygon, or a pixel at its north-west corner when it vanishes.
    pub fn shapes(&self, z: u8) -> &[PixelShape] {
        self.shapes[usize::from(z.min(MAX_SOURCE_ZOOM))].get_or_init(|| {
            self.features
                .iter()
                .map(|cluster| {
                    let polygons = snap_polygon(&cluster.hull, z);
                    if polygons.is_empty() {
                        let (x, y) = project(cluster.bbox.min().x, cluster.bbox.max().y, world_size(z));
                        PixelShape::square(x.floor() as i32, y.floor() as i32)
                    } else {
                        PixelShape::from_polygons(polygons)
                    }
                })
                .collect()
        })
    }
}

/// Everything a render needs for one window.
pub struct View {
    /// The window.
    pub window: Window,
    /// Figures of another window than the engine's current one.
    pub snapshot: Option<Snapshot>,
    /// Gi* per region id (every level; each level against its own regions).
    pub gi: Vec<GiStar>,
    /// Cluster hulls.
    pub clusters: Arc<Hulls>,
}

impl View {
    /// The figures of this view.
    pub fn snapshot<'a>(&'a self, engine: &'a Engine) -> &'a Snapshot {
        self.snapshot.as_ref().unwrap_or_else(|| engine.current())
    }
}

/// A region's attributes as tiles show them (rounded as shown), for comparison: those
/// of the region layers, and the Gi* figures of the hotspot layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegionAttrs {
    level: Option<RiskLevel>,
    score: i64,
    count: u32,
    severe: u32,
    bin: i8,
    gi_z: i64,
    gi_p: i64,
}

impl RegionAttrs {
    fn of(snapshot: &Snapshot, gi: &[GiStar], id: RegionId) -> RegionAttrs {
        let (standing, stats, g) = (snapshot.standings[id as usize], &snapshot.stats[id as usize], gi[id as usize]);
        RegionAttrs {
            level: Some(standing.level),
            score: tenths(standing.score),
            count: stats.count,
            severe: severe_count(stats),
            bin: g.bin,
            gi_z: hundredths(g.z),
            gi_p: hundredths(g.p),
        }
    }

    /// Whether the region layers show a difference.
    fn region_differs(&self, other: &RegionAttrs) -> bool {
        (self.level, self.score, self.count, self.severe, self.bin)
            != (other.level, other.score, other.count, other.severe, other.bin)
    }

    /// Whether the hotspot layer shows a difference (it shows only regions with a
    /// non-zero bin).
    fn hotspot_differs(&self, other: &RegionAttrs) -> bool {
        (self.bin != 0 || other.bin != 0) && (self.bin, self.gi_z, self.gi_p) != (other.bin, other.gi_z, other.gi_p)
    }
}

/// Rounds to hundredths, as tiles carry Gi* z and p.
pub fn hundredths(v: f64) -> i64 {
    (v * 100.0).round() as i64
}

/// Rounds to tenths, as tiles carry scores (the thresholds are whole numbers; the
/// explanation API has the exact figure).
pub fn tenths(v: f64) -> i64 {
    (v * 10.0).round() as i64
}

/// Incidents of severity 4 or 5.
pub fn severe_count(stats: &crate::engine::store::RegionStats) -> u32 {
    stats.by_severity[3] + stats.by_severity[4]
}

/// What changed between two states.
#[derive(Debug, Default)]
pub struct Changes {
    /// Regions whose figures changed as the region layers show them.
    pub regions: Vec<RegionId>,
    /// Regions that are or were hot or cold spots whose Gi* figures changed.
    pub hotspots: Vec<RegionId>,
    /// Regions whose risk level changed: (region, before, after).
    pub levels: Vec<(RegionId, RiskLevel, RiskLevel)>,
}

/// The default window's view, kept current, and a few others, kept until the next
/// change.
pub struct Views {
    current: Arc<View>,
    attrs: Vec<RegionAttrs>,
    others: Vec<Arc<View>>,
}

/// How many other windows are kept.
const OTHER_WINDOWS: usize = 4;

impl Views {
    /// The views of an engine.
    pub fn new(engine: &Engine) -> Views {
        let current = Arc::new(View {
            window: engine.current().window,
            snapshot: None,
            gi: gi_all(engine, engine.current()),
            clusters: Arc::default(),
        });
        let attrs = (0..engine.index().len() as RegionId)
            .map(|id| RegionAttrs::of(engine.current(), &current.gi, id))
            .collect();
        Views { current, attrs, others: Vec::new() }
    }

    /// The view of the default window (`days` and `at` None) or of another number of
    /// days, or of a window ending at `at` (unix seconds) instead of now.
    pub fn view(&mut self, engine: &Engine, days: Option<u32>, at: Option<i64>) -> Arc<View> {
        if days.is_none() && at.is_none() {
            return Arc::clone(&self.current);
        }
        let current = engine.current().window;
        let window = Window { as_of: at.unwrap_or(current.as_of), days: days.unwrap_or(current.days) };
        if let Some(v) = self.others.iter().find(|v| v.window == window) {
            return Arc::clone(v);
        }
        let snapshot = engine.snapshot(window);
        let gi = gi_all(engine, &snapshot);
        let clusters = Arc::new(Hulls::new(clusters(engine, window)));
        let view = Arc::new(View { window, snapshot: Some(snapshot), gi, clusters });
        if self.others.len() >= OTHER_WINDOWS {
            self.others.remove(0);
        }
        self.others.push(Arc::clone(&view));
        view
    }

    /// Brings the default view up to date with the engine; returns what changed.
    pub fn update(&mut self, engine: &Engine) -> Changes {
        self.others.clear();
        let snapshot = engine.current();
        let gi = gi_all(engine, snapshot);
        let mut changes = Changes::default();
        for id in 0..engine.index().len() as RegionId {
            let attrs = RegionAttrs::of(snapshot, &gi, id);
            let old = &self.attrs[id as usize];
            if old.region_differs(&attrs) {
                changes.regions.push(id);
            }
            if old.hotspot_differs(&attrs) {
                changes.hotspots.push(id);
            }
            if let (Some(before), Some(after)) = (old.level, attrs.level) {
                if before != after {
                    changes.levels.push((id, before, after));
                }
            }
            self.attrs[id as usize] = attrs;
        }
        self.current = Arc::new(View {
            window: snapshot.window,
            snapshot: None,
            gi,
            clusters: Arc::clone(&self.current.clusters),
        });
        changes
    }

    /// Replaces the default view's cluster hulls; returns the boxes of the hulls that
    /// appeared or disappeared.
    pub fn set_clusters(&mut self, clusters: Vec<HullFeature>) -> Vec<Rect<f64>> {
        let old = &self.current.clusters.features;
        let prints = |hulls: &[HullFeature]| hulls.iter().map(HullFeature::fingerprint).collect::<HashSet<u64>>();
        let (old_prints, new_prints) = (prints(old), prints(&clusters));
        let mut changed: Vec<Rect<f64>> =
            old.iter().filter(|c| !new_prints.contains(&c.fingerprint())).map(|c| c.bbox).collect();
        changed.extend(clusters.iter().filter(|c| !old_prints.contains(&c.fingerprint())).map(|c| c.bbox));
        let current = &self.current;
        self.current = Arc::new(View {
            window: current.window,
            snapshot: None,
            gi: current.gi.clone(),
            clusters: Arc::new(Hulls::new(clusters)),
        });
        changed
    }
}

/// Gi* of every region, each level among its own regions (queen contiguity, bins
/// without false-discovery correction, as `/api/hotspots` by default).
fn gi_all(engine: &Engine, snapshot: &Snapshot) -> Vec<GiStar> {
    let mut gi = vec![GiStar::NOT_SIGNIFICANT; engine.index().len()];
    for level in RegionLevel::ALL {
        for h in engine.hotspots(level, snapshot, WeightsKind::Queen, false) {
            gi[h.id as usize] = h.gi;
        }
    }
    gi
}

/// The incidents of a window as DBSCAN's input: their points, categories and
/// severities. Taken under the engine's lock; the clustering itself runs without it.
pub struct ClusterInput {
    points: Vec<geo::Point<f64>>,
    kinds: Vec<(Category, u8)>,
}

impl ClusterInput {
    /// The incidents of `window`.
    pub fn of(engine: &Engine, window: Window) -> ClusterInput {
        let (points, kinds) = engine
            .incidents()
            .iter()
            .filter(|i| window.contains(i.occurred_at))
            .map(|i| (i.location, (i.category, i.severity.get())))
            .unzip();
        ClusterInput { points, kinds }
    }

    /// The DBSCAN clusters, as drawn.
    pub fn clusters(&self) -> Vec<HullFeature> {
        crate::engine::clusters::dbscan(&self.points, CLUSTER_EPS_M, CLUSTER_MIN_POINTS)
            .into_iter()
            .filter_map(|cluster| {
                let mut per_category = [0u32; 7];
                for &m in &cluster.members {
                    per_category[self.kinds[m].0.index()] += 1;
                }
                Some(HullFeature {
                    bbox: cluster.hull.bounding_rect()?,
                    max_severity: cluster.members.iter().map(|&m| self.kinds[m].1).max().unwrap_or(0),
                    hull: cluster.hull,
                    count: cluster.count as u32,
                    category: Category::dominant(&per_category),
                })
            })
            .collect()
    }
}

/// The DBSCAN clusters of a window, as drawn.
pub fn clusters(engine: &Engine, window: Window) -> Vec<HullFeature> {
    ClusterInput::of(engine, window).clusters()
}
