//! The `emerging` attribute of the region layers: each region's emerging hot spot
//! class over the last 52 weeks (the defaults of `/api/hotspots/emerging`: risk score,
//! queen weights, no FDR correction), recomputed in the background with the cluster
//! hulls (the classes follow the weeks, not single writes), dropping the tiles of the
//! regions whose class changed.

use geo::{BoundingRect, Intersects, Rect};

use super::{coord, lock, read, Layer, Tiles};
use crate::engine::emerging::{analyse, BinValue, Pattern, TimeBins};
use crate::engine::WeightsKind;
use crate::region::RegionLevel;

/// Weeks analysed for the tiles.
pub const TILE_WEEKS: usize = 52;

/// Each region's class, by region id (every level against its own regions).
pub(super) type Classes = Vec<Pattern>;

impl Tiles {
    /// The class of every region as tiles show it (all "no pattern" before the first
    /// computation).
    pub(super) fn emerging_classes(&self) -> std::sync::Arc<Classes> {
        std::sync::Arc::clone(&lock(&self.emerging))
    }

    /// Recomputes the classes and drops the region tiles of the regions whose class
    /// changed. Only the binning of the incidents holds the engine's lock.
    pub(super) fn refresh_emerging(&self) {
        let now = chrono::Utc::now().timestamp();
        let bins = TimeBins::weeks(TILE_WEEKS, now);
        let levels = RegionLevel::ALL.map(|level| {
            let engine = read(&self.engine);
            let (ids, cube) = engine.emerging_cube(level, &bins, BinValue::Score);
            (level, ids, cube, engine.weights(level, WeightsKind::Queen))
        });
        let old = self.emerging_classes();
        let mut classes: Classes = old.as_ref().clone();
        classes.resize(self.pyramid.feature_ids.len(), Pattern::NoPattern);
        let mut changed: Vec<(RegionLevel, Rect<f64>)> = Vec::new();
        for (level, ids, cube, weights) in levels {
            let results = analyse(&cube, &weights, false);
            let engine = read(&self.engine);
            for (&id, result) in ids.iter().zip(&results) {
                if classes[id as usize] != result.pattern {
                    classes[id as usize] = result.pattern;
                    if let Some(bbox) = engine.index().region(id).shape.bounding_rect() {
                        changed.push((level, bbox));
                    }
                }
            }
        }
        *lock(&self.emerging) = std::sync::Arc::new(classes);
        if changed.is_empty() {
            return;
        }
        let stale = |layer: Layer, c: coord::TileCoord| {
            let bounds = c.lonlat_bounds_with(coord::BUFFER);
            changed.iter().any(|(level, bbox)| layer == Layer::Region(*level) && bbox.intersects(&bounds))
        };
        self.layers.invalidate(|key| stale(key.layer, key.coord));
        self.cache.invalidate(|key| key.source.layers_at(key.coord.z).iter().any(|&l| stale(l, key.coord)));
        tracing::debug!(changed = changed.len(), "emerging hot spot classes recomputed");
    }
}
