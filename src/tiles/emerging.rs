//! The `emerging` attribute of the region layers: each region's emerging hot spot
//! class over the last 52 weeks (the defaults of `/api/hotspots/emerging`: risk score,
//! queen weights, no FDR correction), computed at start-up and recomputed in the background with the
//! cluster hulls (the classes follow the weeks, not single writes), dropping the tiles of the
//! regions whose class changed.

use std::sync::Arc;

use geo::{BoundingRect, Intersects, Rect};

use super::{coord, Layer, Tiles};
use crate::engine::emerging::{analyse, BinValue, Cube, Pattern, TimeBins};
use crate::engine::hotspots::Weights;
use crate::engine::{Engine, WeightsKind};
use crate::region::RegionLevel;
use crate::sync::{lock, read};

/// Weeks analysed for the tiles.
pub const TILE_WEEKS: usize = 52;

/// Each region's class, by region id (every level against its own regions).
pub(super) type Classes = Vec<Pattern>;

/// What the classes are computed from: per level, the regions, their values in the
/// bins and their weights. Taken under the engine's lock (one pass over the incidents
/// per level); the analysis runs without it.
type Inputs = Vec<(RegionLevel, Vec<crate::engine::regions::RegionId>, Cube, Arc<Weights>)>;

fn inputs(engine: &Engine, now: i64) -> Inputs {
    let bins = TimeBins::weeks(TILE_WEEKS, now);
    RegionLevel::ALL
        .into_iter()
        .map(|level| {
            let (ids, cube) = engine.emerging_cube(level, &bins, BinValue::Score);
            (level, ids, cube, engine.weights(level, WeightsKind::Queen))
        })
        .collect()
}

/// The classes of `regions` regions from their inputs.
fn classes(regions: usize, inputs: Inputs) -> Classes {
    let mut classes = vec![Pattern::NoPattern; regions];
    for (_, ids, cube, weights) in inputs {
        for (&id, result) in ids.iter().zip(analyse(&cube, &weights, false)) {
            classes[id as usize] = result.pattern;
        }
    }
    classes
}

/// The classes of an engine now (at start-up, before the first tile).
pub(super) fn initial(engine: &Engine) -> Classes {
    classes(engine.index().len(), inputs(engine, chrono::Utc::now().timestamp()))
}

impl Tiles {
    /// The class of every region as tiles show it.
    pub(super) fn emerging_classes(&self) -> Arc<Classes> {
        Arc::clone(&lock(&self.emerging))
    }

    /// Recomputes the classes and drops the region tiles of the regions whose class
    /// changed.
    pub(super) fn refresh_emerging(&self) {
        let (regions, inputs) = {
            let engine = read(&self.engine);
            (engine.index().len(), inputs(&engine, chrono::Utc::now().timestamp()))
        };
        let fresh = crate::sync::in_background(|| classes(regions, inputs));
        let old = self.emerging_classes();
        let changed: Vec<usize> = (0..regions).filter(|&id| old.get(id) != fresh.get(id)).collect();
        *lock(&self.emerging) = Arc::new(fresh);
        if changed.is_empty() {
            return;
        }
        let boxes: Vec<(RegionLevel, Rect<f64>)> = {
            let engine = read(&self.engine);
            changed
                .iter()
                .filter_map(|&id| {
                    let region = engine.index().region(id as crate::engine::regions::RegionId);
                    Some((region.level, region.shape.bounding_rect()?))
                })
                .collect()
        };
        let stale = |layer: Layer, c: coord::TileCoord| {
            let bounds = c.lonlat_bounds_with(coord::BUFFER);
            boxes.iter().any(|(level, bbox)| layer == Layer::Region(*level) && bbox.intersects(&bounds))
        };
        self.layers.invalidate(|key| stale(key.layer, key.coord));
        self.cache.invalidate(|key| key.source.layers_at(key.coord.z).iter().any(|&l| stale(l, key.coord)));
        tracing::debug!(changed = changed.len(), "emerging hot spot classes recomputed");
    }
}
