//! Vector tiles of regions, risk, incidents and hotspots, generated from the engine's
//! memory: sources and their layers, the per-zoom region geometry, rendering, the
//! byte-bounded cache and its precise invalidation. Knows nothing about HTTP.

mod batch;
pub mod cache;
mod catalogue;
mod changes;
pub mod coord;
mod emerging;
mod pbf;
mod render;
pub mod shapes;
mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use geo::{Intersects, Rect};

pub use self::batch::{Batches, Lag, LevelListener, Queued};
use self::cache::{EncodedTile, LayerCache, LayerKey, LayerPart, TileCache, TileKey};
pub use self::catalogue::{Layer, Source, TileConfig, MAX_SOURCE_ZOOM};
pub use self::changes::{incident_area, IncidentChange};
pub use self::coord::{CoordError, TileCoord};
use self::shapes::PixelShape;
use self::view::Views;
use crate::auth::Scope;
use crate::engine::regions::{level_slot, RegionId, RegionIndex};
use crate::engine::Engine;
use crate::region::RegionLevel;
use crate::sync::{lock, read};

/// The regions' polygons at every zoom, made on first use of a zoom.
struct Pyramid {
    /// Per region (by id): its shape and label point.
    sources: Vec<(geo::MultiPolygon<f64>, geo::Point<f64>)>,
    /// Per region (by id): its feature id.
    feature_ids: Vec<u64>,
    /// Per level slot and zoom: the shapes of the level's regions.
    zooms: [Vec<OnceLock<HashMap<RegionId, PixelShape>>>; 3],
    levels: [Vec<RegionId>; 3],
}

impl Pyramid {
    fn new(index: &RegionIndex) -> Pyramid {
        let sources = index.regions().iter().map(|r| (r.shape.clone(), r.label_point)).collect();
        let feature_ids = index.regions().iter().map(|r| r.code.feature_id()).collect();
        let zooms = std::array::from_fn(|_| (0..=MAX_SOURCE_ZOOM).map(|_| OnceLock::new()).collect());
        let mut levels: [Vec<RegionId>; 3] = Default::default();
        for level in RegionLevel::ALL {
            levels[level_slot(level)] = index.level_ids(level);
        }
        Pyramid { sources, feature_ids, zooms, levels }
    }

    fn shapes(&self, level: RegionLevel, z: u8) -> &HashMap<RegionId, PixelShape> {
        let slot = level_slot(level);
        self.zooms[slot][usize::from(z)].get_or_init(|| {
            self.levels[slot]
                .iter()
                .map(|&id| {
                    let (shape, label) = &self.sources[id as usize];
                    (id, PixelShape::new(shape, *label, z))
                })
                .collect()
        })
    }
}

/// Why a tile could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// The encoder refused the tile.
    #[error("tile {z}/{x}/{y} of {name} could not be encoded: {error}", z = .coord.z, x = .coord.x, y = .coord.y, name = .tiles.name())]
    Encoding {
        /// The source.
        tiles: Source,
        /// The tile.
        coord: TileCoord,
        /// The encoder's reason.
        error: mvt::Error,
    },
}

/// Bytes of clipped region polygons (encoded geometry) kept: 64 MB.
const MAX_CLIPPED_BYTES: usize = 64 << 20;

/// Cluster hulls are recomputed at most this often (DBSCAN over every incident of the
/// window takes a while); tiles of the cluster layer follow within this delay, or
/// [`CLUSTER_SHARE`] times the last recomputation's duration when that is longer.
const CLUSTER_PERIOD: Duration = Duration::from_secs(10);
/// The recomputation of the hulls takes at most one part in this many of a core's time
/// (a million incidents take a couple of seconds, which every 10 s was a seventh of
/// the server's work under a stream of writes).
const CLUSTER_SHARE: u32 = 10;

/// The tile service: renders tiles from the engine and caches them.
pub struct Tiles {
    engine: Arc<RwLock<Engine>>,
    config: TileConfig,
    /// The model's window, which tiles without `window` show.
    default_days: u32,
    pyramid: Pyramid,
    cache: TileCache,
    /// Layers of tiles, which outlive the tiles made of them when a change touches
    /// another layer of the tile.
    layers: LayerCache,
    views: Mutex<Views>,
    /// Region polygons clipped to tiles, by level slot and tile (see
    /// [`render::ClippedRegions`]), and the bytes they hold.
    clips: Mutex<(HashMap<(usize, TileCoord), Arc<render::ClippedRegions>>, usize)>,
    /// Tiles being rendered, each with the lock its renderer holds.
    rendering: Mutex<HashMap<TileKey, Arc<Mutex<()>>>>,
    /// Cluster recomputation: (running, asked again while running).
    clusters: Mutex<(bool, bool)>,
    /// Emerging hot spot classes by region id, recomputed with the clusters.
    emerging: Mutex<Arc<emerging::Classes>>,
    /// The batches of engine changes, whose bookkeeping this service does.
    batches: Arc<Batches>,
    /// Told of every risk-level change: (region, before, after).
    listener: OnceLock<LevelListener>,
    /// Whether [`Tiles::warm_up`] is done.
    warm: std::sync::atomic::AtomicBool,
}

impl Tiles {
    /// A tile service over the engine.
    pub fn new(engine: Arc<RwLock<Engine>>, config: TileConfig) -> Arc<Tiles> {
        let (pyramid, views, default_days, classes) = {
            let guard = read(&engine);
            (Pyramid::new(guard.index()), Views::new(&guard), guard.model().window_days, emerging::initial(&guard))
        };
        let batches = Batches::new(Arc::clone(&engine));
        let tiles = Arc::new(Tiles {
            engine,
            config,
            default_days,
            pyramid,
            // The bound is shared by the two caches.
            cache: TileCache::new(config.cache_bytes / 2),
            layers: LayerCache::new(config.cache_bytes / 2),
            views: Mutex::new(views),
            clips: Mutex::default(),
            rendering: Mutex::default(),
            clusters: Mutex::new((false, false)),
            emerging: Mutex::new(Arc::new(classes)),
            batches: Arc::clone(&batches),
            listener: OnceLock::new(),
            warm: std::sync::atomic::AtomicBool::new(false),
        });
        let subscriber = Arc::downgrade(&tiles);
        batches.subscribe(Box::new(move |batch, in_place| {
            if let Some(tiles) = subscriber.upgrade() {
                tiles.after_batch(batch, in_place);
            }
        }));
        tiles
    }

    /// The settings.
    pub fn config(&self) -> TileConfig {
        self.config
    }

    /// A tile if it is cached (without touching the engine), without counting a hit
    /// or a miss: the caller counts what it did with [`Tiles::count_lookup`].
    pub fn find_cached(
        &self,
        source: Source,
        coord: TileCoord,
        window: Option<u32>,
        at: Option<i64>,
        scope: &Scope,
    ) -> Option<Arc<EncodedTile>> {
        self.cache.find(&self.key(source, coord, window, at, scope))
    }

    /// Counts a lookup of [`Tiles::find_cached`]: a hit or a miss of the cache.
    pub fn count_lookup(&self, hit: bool) {
        self.cache.count(hit);
    }

    fn key(&self, source: Source, coord: TileCoord, window: Option<u32>, at: Option<i64>, scope: &Scope) -> TileKey {
        let window = window.filter(|&d| d != self.default_days);
        TileKey { source, coord, window, at, scope: if source.has_incidents() { scope_key(scope) } else { 0 } }
    }

    /// Prepares the region polygons of every zoom (otherwise made on first use) and
    /// the cluster hulls.
    pub fn warm_up(self: &Arc<Self>) {
        self.schedule_clusters();
        let started = Instant::now();
        for z in 0..=MAX_SOURCE_ZOOM {
            for level in RegionLevel::ALL {
                self.pyramid.shapes(level, z);
            }
        }
        tracing::info!(seconds = started.elapsed().as_secs_f64(), "tile geometry ready for every zoom");
        self.warm.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the region polygons of every zoom are prepared ([`Tiles::warm_up`], in
    /// the background after start-up): until then, tiles take longer and the cores are
    /// busy.
    pub fn warm(&self) -> bool {
        self.warm.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A tile of `source` at `coord` (whose zoom the caller has checked against the
    /// source's range) for the default window (`None`) or another number of days,
    /// ending now (`at` None) or at `at` (unix seconds). Only the incidents within
    /// `scope` are drawn.
    pub fn tile(
        &self,
        source: Source,
        coord: TileCoord,
        window: Option<u32>,
        at: Option<i64>,
        scope: &Scope,
    ) -> Result<Arc<EncodedTile>, TileError> {
        let key = self.key(source, coord, window, at, scope);
        let window = key.window;
        // Counted by `cached`, which the server asks first.
        if let Some(tile) = self.cache.peek(&key) {
            return Ok(tile);
        }
        // One render per tile at a time: the requests that miss together (after a
        // change dropped a tile every map shows) wait for the first one's render.
        let turn = Arc::clone(lock(&self.rendering).entry(key).or_default());
        let rendered = {
            let _turn = lock(&turn);
            match self.cache.peek(&key) {
                Some(tile) => Ok(tile),
                None => self.render(key, source, coord, window, scope),
            }
        };
        let mut rendering = lock(&self.rendering);
        // The map's and this request's: no one else waits for this tile.
        if Arc::strong_count(&turn) <= 2 {
            rendering.remove(&key);
        }
        rendered
    }

    fn render(
        &self,
        key: TileKey,
        source: Source,
        coord: TileCoord,
        window: Option<u32>,
        scope: &Scope,
    ) -> Result<Arc<EncodedTile>, TileError> {
        // Claimed before reading: a change whose bookkeeping drops this tile (or one of
        // its layers) while it renders (its figures may be half updated) keeps it out
        // of the cache; other changes do not.
        let token = self.cache.begin(key);
        let mut parts: Vec<(LayerKey, Result<Arc<LayerPart>, u64>)> = source
            .layers_at(coord.z)
            .into_iter()
            .map(|layer| {
                let scope = if layer == Layer::Incidents { scope_key(scope) } else { 0 };
                let key = LayerKey { layer, coord, window, at: key.at, scope };
                (key, self.layers.get(&key).ok_or_else(|| self.layers.begin(key)))
            })
            .collect();
        if parts.iter().any(|(_, part)| part.is_err()) {
            let engine = read(&self.engine);
            let view = lock(&self.views).view(&engine, window, key.at);
            for (key, part) in &mut parts {
                if let Err(token) = *part {
                    let bytes = render::render_layer(self, &engine, &view, scope, key.layer, coord)
                        .map_err(|error| TileError::Encoding { tiles: source, coord, error })?;
                    let rendered = Arc::new(LayerPart::new(bytes));
                    self.layers.finish(*key, token, Arc::clone(&rendered));
                    *part = Ok(rendered);
                }
            }
        }
        let parts: Vec<&LayerPart> = parts.iter().filter_map(|(_, part)| part.as_deref().ok()).collect();
        let tile = Arc::new(EncodedTile::of_parts(&parts));
        self.cache.finish(key, token, Arc::clone(&tile));
        Ok(tile)
    }

    /// Renders a kept tile of the default window again and puts it in the place of
    /// the one served meanwhile (unless a change dropped it in between). Its incident
    /// layer is taken as kept: when it is not (evicted), the tile is dropped instead,
    /// for its next request to render with the caller's scope.
    fn renew(&self, key: TileKey) {
        let token = self.cache.begin(key);
        let mut parts: Vec<Arc<LayerPart>> = Vec::new();
        for layer in key.source.layers_at(key.coord.z) {
            let scope = if layer == Layer::Incidents { key.scope } else { 0 };
            let layer_key = LayerKey { layer, coord: key.coord, window: None, at: None, scope };
            if let Some(part) = self.layers.get(&layer_key) {
                parts.push(part);
                continue;
            }
            if layer == Layer::Incidents {
                self.cache.invalidate(|k| *k == key);
                return;
            }
            let layer_token = self.layers.begin(layer_key);
            let engine = read(&self.engine);
            let view = lock(&self.views).view(&engine, None, None);
            // Not an incident layer: the scope is not read.
            match render::render_layer(self, &engine, &view, &Scope::Nothing, layer, key.coord) {
                Ok(bytes) => {
                    let part = Arc::new(LayerPart::new(bytes));
                    self.layers.finish(layer_key, layer_token, Arc::clone(&part));
                    parts.push(part);
                }
                Err(error) => {
                    tracing::warn!(%error, coord = ?key.coord, "a tile could not be renewed; dropped");
                    drop(engine);
                    self.cache.invalidate(|k| *k == key);
                    return;
                }
            }
        }
        let parts: Vec<&LayerPart> = parts.iter().map(Arc::as_ref).collect();
        self.cache.finish(key, token, Arc::new(EncodedTile::of_parts(&parts)));
    }

    /// The regions of `level` clipped to the tile at `coord`, made by `make` unless
    /// kept. At most [`MAX_CLIPPED_BYTES`] are kept (all are dropped when a new
    /// one would pass it: they are remade on demand).
    fn clipped_regions(
        &self,
        level: RegionLevel,
        coord: TileCoord,
        make: impl FnOnce() -> render::ClippedRegions,
    ) -> Arc<render::ClippedRegions> {
        let key = (level_slot(level), coord);
        if let Some(clipped) = lock(&self.clips).0.get(&key) {
            return Arc::clone(clipped);
        }
        let clipped = Arc::new(make());
        let bytes = clipped.bytes();
        let mut clips = lock(&self.clips);
        if clips.1 + bytes > MAX_CLIPPED_BYTES {
            *clips = (HashMap::new(), 0);
        }
        if clips.0.insert(key, Arc::clone(&clipped)).is_none() {
            clips.1 += bytes;
        }
        clipped
    }

    /// Sets who hears of risk-level changes (once).
    pub fn on_levels(&self, listener: LevelListener) {
        let _ = self.listener.set(listener);
    }

    /// Runs a change of the engine (which reports what it did to incidents) with the
    /// write lock held only for it; within the batching period the figures and Gi* are
    /// brought up to date and exactly the cached tiles whose content changed are
    /// dropped (see [`Batches::change`]).
    pub fn change<T>(&self, change: impl FnOnce(&mut Engine) -> (T, IncidentChange)) -> T {
        self.batches.change(change)
    }

    /// As [`Tiles::change`], for the minutely recomputation of the window as time
    /// passes (decay; incidents leaving the window), which no one waits to see at
    /// once: the cached tiles of the default window whose region or hotspot layers it
    /// changes are not dropped but kept serving until their new versions, made on a
    /// thread of its own, take their place; so a map at national zoom, all of whose
    /// tiles such a pass changes, never waits for their render. A batch that also
    /// holds a write drops them as any change does (see [`Batches::change_in_place`]).
    pub fn change_in_place(&self, change: impl FnOnce(&mut Engine) -> IncidentChange) {
        self.batches.change_in_place(change);
    }

    /// Queues a change of the engine to be made with the next batch; returns the
    /// batch's number (see [`Batches::queue`]).
    pub fn queue(&self, change: Queued) -> u64 {
        self.batches.queue(change)
    }

    /// As [`Tiles::queue`], with the lag counted from `committed` (see
    /// [`Batches::queue_since`]).
    pub fn queue_since(&self, change: Queued, committed: std::time::Instant) -> u64 {
        self.batches.queue_since(change, committed)
    }

    /// As [`Tiles::queue`], then waits until its batch is done: a tile fetched after
    /// it returns shows the change.
    pub fn change_and_wait(&self, change: Queued) {
        self.batches.change_and_wait(change);
    }

    /// Waits until batch `batch` (of [`Tiles::queue`]) is done.
    pub fn wait_for(&self, batch: u64) {
        self.batches.wait_for(batch);
    }

    /// Bumped when a batch of changes is done (see [`Batches::synced`]).
    pub fn synced(&self) -> u64 {
        self.batches.synced()
    }

    /// How long changes took to show in figures and tiles.
    pub fn lag(&self) -> Lag {
        self.batches.lag()
    }

    /// The bookkeeping of a batch of changes: figures and Gi* brought up to date, the
    /// listener told of level changes, and exactly the cached tiles whose content
    /// changed dropped; or, for a batch made only in place ([`Tiles::change_in_place`]),
    /// those of the default window whose incidents did not change renewed instead.
    fn after_batch(self: &Arc<Self>, batch: &[IncidentChange], in_place: bool) {
        let engine = read(&self.engine);
        let changes = lock(&self.views).update(&engine);
        let boxes = |ids: &[RegionId]| {
            let mut by_level: [Vec<Rect<f64>>; 3] = Default::default();
            for &id in ids {
                let region = engine.index().region(id);
                by_level[level_slot(region.level)].push(region.area.bbox());
            }
            by_level
        };
        let (regions, hotspots) = (boxes(&changes.regions), boxes(&changes.hotspots));
        if let Some(listener) = self.listener.get() {
            if !changes.levels.is_empty() {
                listener(&engine, &changes.levels);
            }
        }
        drop(engine);
        let all_incidents = batch.iter().any(|c| matches!(c, IncidentChange::All));
        let incident_areas: Vec<Rect<f64>> = batch
            .iter()
            .flat_map(|c| match c {
                IncidentChange::Areas(areas) => areas.as_slice(),
                IncidentChange::None | IncidentChange::All => &[],
            })
            .copied()
            .collect();
        // Tiles of another window, or of one ending earlier, are all dropped.
        let stale = |layer: Layer, coord: TileCoord, window: Option<u32>, at: Option<i64>| {
            if window.is_some() || at.is_some() {
                return true;
            }
            let z = coord.z;
            let bounds = coord.lonlat_bounds_with(coord::BUFFER);
            let touches = |areas: &[Rect<f64>]| areas.iter().any(|a| a.intersects(&bounds));
            match layer {
                Layer::Region(level) => touches(&regions[level_slot(level)]),
                Layer::HotspotRegions => touches(&hotspots[level_slot(Layer::hotspot_level(z))]),
                Layer::Incidents => all_incidents || touches(&incident_areas),
                Layer::HotspotClusters => false,
            }
        };
        let stale_tile = |key: &TileKey| {
            key.source.layers_at(key.coord.z).into_iter().any(|l| stale(l, key.coord, key.window, key.at))
        };
        // Kept and renewed: tiles of the default window whose incident layer is as it
        // was (a renewal cannot make another caller's incident layer).
        let renew: std::collections::HashSet<TileKey> = if in_place {
            self.cache.keys(|key| {
                let incidents_changed = key.source.has_incidents() && stale(Layer::Incidents, key.coord, None, None);
                key.window.is_none() && key.at.is_none() && !incidents_changed && stale_tile(key)
            })
        } else {
            Default::default()
        };
        // Layers first: a tile assembled after its own invalidation then finds none of
        // the stale layers.
        self.layers.invalidate(|key| stale(key.layer, key.coord, key.window, key.at));
        let dropped = self.cache.invalidate(|key| stale_tile(key) && !renew.contains(key));
        tracing::debug!(
            changes = batch.len(),
            regions = changes.regions.len(),
            hotspots = changes.hotspots.len(),
            dropped,
            renewed = renew.len(),
            "tiles invalidated after changes"
        );
        if !renew.is_empty() {
            let tiles = Arc::clone(self);
            std::thread::spawn(move || {
                for key in renew {
                    tiles.renew(key);
                }
            });
        }
        if batch.iter().any(|c| !matches!(c, IncidentChange::None)) {
            self.schedule_clusters();
        }
    }

    /// Recomputes the cluster hulls (and the emerging hot spot classes) in the
    /// background, at most every [`CLUSTER_PERIOD`], and drops the tiles of the hulls
    /// that changed. The computations run at a lower priority ([`crate::sync::in_background`]):
    /// on a busy server they take the time left by requests and writes.
    fn schedule_clusters(self: &Arc<Self>) {
        {
            let mut state = lock(&self.clusters);
            if state.0 {
                state.1 = true;
                return;
            }
            *state = (true, false);
        }
        let tiles = Arc::clone(self);
        std::thread::spawn(move || loop {
            let started = Instant::now();
            // Only the copying of the points holds the engine's lock, not the clustering
            // (writers would wait for it), which runs at a lower priority than requests.
            let input = {
                let engine = read(&tiles.engine);
                view::ClusterInput::of(&engine, engine.current().window)
            };
            let hulls = crate::sync::in_background(|| input.clusters());
            let changed = lock(&tiles.views).set_clusters(hulls);
            if !changed.is_empty() {
                let stale = |coord: TileCoord, window: Option<u32>, at: Option<i64>| {
                    let bounds = coord.lonlat_bounds_with(coord::BUFFER);
                    window.is_some() || at.is_some() || changed.iter().any(|a| a.intersects(&bounds))
                };
                tiles
                    .layers
                    .invalidate(|key| key.layer == Layer::HotspotClusters && stale(key.coord, key.window, key.at));
                tiles.cache.invalidate(|key| {
                    key.source.layers_at(key.coord.z).contains(&Layer::HotspotClusters)
                        && stale(key.coord, key.window, key.at)
                });
            }
            tracing::debug!(changed = changed.len(), "cluster hulls recomputed");
            tiles.refresh_emerging();
            {
                let mut state = lock(&tiles.clusters);
                if !state.1 {
                    *state = (false, false);
                    return;
                }
                state.1 = false;
            }
            let took = started.elapsed();
            std::thread::sleep(CLUSTER_PERIOD.max(took * CLUSTER_SHARE).saturating_sub(took));
        });
    }

    /// Number of cached tiles, bytes held, hits and misses.
    pub fn cache_stats(&self) -> (usize, usize, u64, u64) {
        let (hits, misses) = self.cache.stats();
        (self.cache.len(), self.cache.used(), hits, misses)
    }
}

/// A scope as a cache key: 0 nothing, `u64::MAX` everything, else the region's feature
/// id.
pub fn scope_key(scope: &Scope) -> u64 {
    match scope {
        Scope::Nothing => 0,
        Scope::Everything => u64::MAX,
        Scope::Within(code) => code.feature_id(),
    }
}

#[cfg(test)]
mod tests {
    use geo::Point;

    use super::*;
    use crate::engine::risk::{RiskModel, DAY};
    use crate::engine::store::Incident;
    use crate::engine::testing::index;
    use crate::incident::{Category, Severity, Status};

    const NOW: i64 = 1_795_000_000;

    /// A tile service over two regencies, with severe incidents of ten days ago in one.
    fn service() -> Arc<Tiles> {
        let index = index();
        let incidents: Vec<Incident> = (0..6)
            .map(|id| {
                let location = Point::new(120.2 + 0.1 * id as f64, 0.5);
                Incident {
                    id,
                    occurred_at: NOW - 10 * DAY,
                    category: Category::ALL[0],
                    severity: Severity::new(5).expect("1..5"),
                    status: Status::ALL[1],
                    assignment: index.assign_point(location).expect("assigned"),
                    location,
                    shape: None,
                    touched: Box::new([]),
                }
            })
            .collect();
        let mut engine = Engine::new(index, RiskModel::default(), NOW);
        incidents.into_iter().for_each(|i| engine.upsert(i));
        Tiles::new(Arc::new(RwLock::new(engine)), TileConfig::default())
    }

    /// Moves the default window 100 days on (the incidents leave it), as the minutely
    /// refresh does, in place or as an ordinary change; waits for its batch.
    fn move_window(tiles: &Tiles, in_place: bool) {
        let synced = tiles.synced();
        let moved = |engine: &mut Engine| {
            let before = engine.current().window;
            engine.refresh(NOW + 100 * DAY);
            IncidentChange::window_moved(engine.incidents(), before, engine.current().window)
        };
        if in_place {
            tiles.change_in_place(moved);
        } else {
            tiles.change(|engine| ((), moved(engine)));
        }
        while tiles.synced() == synced {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The minutely refresh never leaves a region tile of the default window out of the
    /// cache: the old version is served until the new one takes its place. A tile with
    /// incidents that left the window is dropped (renewing it would need the caller's
    /// scope), and an ordinary change drops both.
    #[test]
    fn the_refresh_renews_region_tiles_in_place() {
        let coord = TileCoord::new(5, 26, 15).expect("tile over the regions");
        let scope = Scope::Everything;
        for in_place in [true, false] {
            let tiles = service();
            let regions = tiles.tile(Source::KabupatenKota, coord, None, None, &scope).expect("rendered");
            let composite = tiles.tile(Source::Sipks, coord, None, None, &scope).expect("rendered");
            assert!(!regions.bytes.is_empty() && !composite.bytes.is_empty());
            let stop = std::sync::atomic::AtomicBool::new(false);
            let watching = std::thread::scope(|s| {
                let watcher = s.spawn(|| {
                    let mut missing = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        missing +=
                            usize::from(tiles.find_cached(Source::KabupatenKota, coord, None, None, &scope).is_none());
                    }
                    missing
                });
                move_window(&tiles, in_place);
                let deadline = Instant::now() + Duration::from_secs(10);
                let renewed = loop {
                    match tiles.find_cached(Source::KabupatenKota, coord, None, None, &scope) {
                        Some(tile) if tile.tag(false) != regions.tag(false) => break Some(tile),
                        _ if Instant::now() > deadline || !in_place => break None,
                        _ => std::thread::sleep(Duration::from_millis(1)),
                    }
                };
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                (renewed, watcher.join().expect("watcher"))
            });
            let composite_after = tiles.find_cached(Source::Sipks, coord, None, None, &scope);
            if in_place {
                let (renewed, missing) = watching;
                assert_eq!(missing, 0, "the regency tile was out of the cache {missing} times");
                let renewed = renewed.expect("the regency tile renewed within 10 s");
                // Rendered afresh, it is the tile a request would now get.
                tiles.cache.invalidate(|_| true);
                tiles.layers.invalidate(|_| true);
                let fresh = tiles.tile(Source::KabupatenKota, coord, None, None, &scope).expect("rendered");
                assert_eq!(renewed.bytes, fresh.bytes, "the renewed tile shows the moved window");
                assert!(composite_after.is_none(), "the composite tile's incidents left the window: dropped");
            } else {
                assert!(watching.0.is_none());
                assert!(tiles.find_cached(Source::KabupatenKota, coord, None, None, &scope).is_none(), "dropped");
                assert!(composite_after.is_none(), "dropped");
            }
        }
    }
}
