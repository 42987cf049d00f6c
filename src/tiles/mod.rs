//! Vector tiles of regions, risk, incidents and hotspots, generated from the engine's
//! memory: sources and their layers, the per-zoom region geometry, rendering, the
//! byte-bounded cache and its precise invalidation. Knows nothing about HTTP.

pub mod cache;
pub mod coord;
mod emerging;
mod pbf;
mod render;
pub mod shapes;
mod view;

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{Duration, Instant};

use geo::{BoundingRect, Intersects, Rect};

use self::cache::{EncodedTile, LayerCache, LayerKey, LayerPart, TileCache, TileKey};
pub use self::coord::{CoordError, TileCoord};
use self::shapes::PixelShape;
use self::view::Views;
use crate::auth::Scope;
use crate::engine::regions::{level_slot, RegionId, RegionIndex};
use crate::engine::risk::RiskLevel;
use crate::engine::store::{Incident, Store, Window};
use crate::engine::Engine;
use crate::region::RegionLevel;

/// Highest zoom of every source; clients overzoom beyond it (the boundary data has no
/// more detail to show).
pub const MAX_SOURCE_ZOOM: u8 = 14;

/// A tile source: one URL family, one TileJSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Provinces.
    Provinsi,
    /// Regencies and cities.
    KabupatenKota,
    /// Districts.
    Kecamatan,
    /// Incidents (clustered at low zoom).
    Incidents,
    /// Gi* hot and cold spots and DBSCAN incident clusters.
    Hotspots,
    /// Everything the national map needs, the right layers for each zoom.
    Sipks,
}

/// A layer inside tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Regions of a level with their risk.
    Region(RegionLevel),
    /// Incidents, or clusters of them.
    Incidents,
    /// Regions that are Gi* hot or cold spots.
    HotspotRegions,
    /// Hulls of DBSCAN clusters of incidents.
    HotspotClusters,
}

/// Zoom from which the composite source shows regencies, and districts.
const SIPKS_KABUPATEN_FROM: u8 = 5;
const SIPKS_KECAMATAN_FROM: u8 = 9;

impl Source {
    /// Every source.
    pub const ALL: [Source; 6] = [
        Source::Provinsi,
        Source::KabupatenKota,
        Source::Kecamatan,
        Source::Incidents,
        Source::Hotspots,
        Source::Sipks,
    ];

    /// The name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Source::Provinsi => "provinsi",
            Source::KabupatenKota => "kabupaten_kota",
            Source::Kecamatan => "kecamatan",
            Source::Incidents => "incidents",
            Source::Hotspots => "hotspots",
            Source::Sipks => "sipks",
        }
    }

    /// A source by its URL name.
    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Zooms served.
    pub fn zooms(self) -> RangeInclusive<u8> {
        match self {
            // Below zoom 6 thousands of districts are each a pixel or less.
            Source::Kecamatan => 6..=MAX_SOURCE_ZOOM,
            _ => 0..=MAX_SOURCE_ZOOM,
        }
    }

    /// Its layers and the zooms at which each appears.
    pub fn layers(self) -> Vec<(Layer, RangeInclusive<u8>)> {
        let all = self.zooms();
        match self {
            Source::Provinsi => vec![(Layer::Region(RegionLevel::Provinsi), all)],
            Source::KabupatenKota => vec![(Layer::Region(RegionLevel::KabupatenKota), all)],
            Source::Kecamatan => vec![(Layer::Region(RegionLevel::Kecamatan), all)],
            Source::Incidents => vec![(Layer::Incidents, all)],
            Source::Hotspots => vec![(Layer::HotspotRegions, all.clone()), (Layer::HotspotClusters, all)],
            Source::Sipks => vec![
                (Layer::Region(RegionLevel::Provinsi), all.clone()),
                (Layer::Region(RegionLevel::KabupatenKota), SIPKS_KABUPATEN_FROM..=MAX_SOURCE_ZOOM),
                (Layer::Region(RegionLevel::Kecamatan), SIPKS_KECAMATAN_FROM..=MAX_SOURCE_ZOOM),
                (Layer::Incidents, all.clone()),
                (Layer::HotspotRegions, all.clone()),
                (Layer::HotspotClusters, all),
            ],
        }
    }

    /// The layers in a tile at zoom `z`.
    pub fn layers_at(self, z: u8) -> Vec<Layer> {
        self.layers().into_iter().filter(|(_, zooms)| zooms.contains(&z)).map(|(l, _)| l).collect()
    }
}

impl Layer {
    /// The layer's name inside tiles.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Region(level) => level.as_str(),
            Layer::Incidents => "incidents",
            Layer::HotspotRegions => "hotspot_regions",
            Layer::HotspotClusters => "hotspot_clusters",
        }
    }

    /// Its attributes and their types, for TileJSON.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Layer::Region(_) => &[
                ("kode", "String"),
                ("nama", "String"),
                ("level", "String"),
                ("risk_level", "String"),
                ("score", "Number"),
                ("incident_count", "Number"),
                ("severe_count", "Number"),
                ("hotspot_bin", "Number"),
                ("emerging", "String"),
            ],
            Layer::Incidents => &[
                ("cluster", "Boolean"),
                ("point_count", "Number"),
                ("category", "String"),
                ("max_severity", "Number"),
                ("severity", "Number"),
                ("status", "String"),
                ("occurred_at", "String"),
            ],
            Layer::HotspotRegions => &[
                ("kode", "String"),
                ("nama", "String"),
                ("level", "String"),
                ("hotspot_bin", "Number"),
                ("z", "Number"),
                ("p", "Number"),
            ],
            Layer::HotspotClusters => &[("point_count", "Number"), ("category", "String"), ("max_severity", "Number")],
        }
    }

    /// What the layer holds, for TileJSON.
    pub fn description(self) -> &'static str {
        match self {
            Layer::Region(RegionLevel::Provinsi) => "Provinsi dengan tingkat risiko / provinces with their risk level",
            Layer::Region(RegionLevel::KabupatenKota) => {
                "Kabupaten/kota dengan tingkat risiko / regencies and cities with their risk level"
            }
            Layer::Region(RegionLevel::Kecamatan) => {
                "Kecamatan dengan tingkat risiko / districts with their risk level"
            }
            Layer::Incidents => "Insiden (klaster pada zoom rendah) / incidents, clustered at low zoom",
            Layer::HotspotRegions => "Wilayah hotspot Gi* / Gi* hot and cold spot regions",
            Layer::HotspotClusters => "Klaster insiden DBSCAN / DBSCAN incident clusters",
        }
    }

    /// The region level whose polygons hotspot regions use at zoom `z`.
    fn hotspot_level(z: u8) -> RegionLevel {
        if z < SIPKS_KECAMATAN_FROM {
            RegionLevel::KabupatenKota
        } else {
            RegionLevel::Kecamatan
        }
    }
}

/// Tile settings.
#[derive(Debug, Clone, Copy)]
pub struct TileConfig {
    /// Bound of the tile cache in bytes (0: no cache).
    pub cache_bytes: usize,
    /// Zoom from which incidents are drawn one by one; below it they are clustered.
    pub cluster_zoom: u8,
}

impl Default for TileConfig {
    fn default() -> Self {
        TileConfig { cache_bytes: 256 << 20, cluster_zoom: 12 }
    }
}

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

/// What changed in the incidents, for invalidation.
#[derive(Debug, Clone)]
pub enum IncidentChange {
    /// Nothing.
    None,
    /// Incidents inside these areas (longitude/latitude): their old and new places.
    Areas(Vec<Rect<f64>>),
    /// Possibly any incident.
    All,
}

impl IncidentChange {
    /// Areas above this many are not worth checking one by one.
    const MAX_AREAS: usize = 10_000;

    /// What replacing every incident of `old` by `new` changes in drawings.
    pub fn between(old: &Store, new: &[Incident]) -> IncidentChange {
        let mut areas = Vec::new();
        let mut kept = 0;
        for incident in new {
            match old.get(incident.id) {
                Some(before) if drawn_alike(before, incident) => kept += 1,
                Some(before) => {
                    kept += 1;
                    areas.extend([incident_area(before), incident_area(incident)]);
                }
                None => areas.push(incident_area(incident)),
            }
            if areas.len() > Self::MAX_AREAS {
                return IncidentChange::All;
            }
        }
        if kept < old.len() {
            let ids: std::collections::HashSet<i64> = new.iter().map(|i| i.id).collect();
            areas.extend(old.iter().filter(|i| !ids.contains(&i.id)).map(incident_area));
        }
        IncidentChange::from_areas(areas)
    }

    /// The incidents that entered or left the window when it moved from `before` to
    /// `after`.
    pub fn window_moved(store: &Store, before: Window, after: Window) -> IncidentChange {
        let areas: Vec<Rect<f64>> = store
            .iter()
            .filter(|i| before.contains(i.occurred_at) != after.contains(i.occurred_at))
            .map(incident_area)
            .take(Self::MAX_AREAS + 1)
            .collect();
        IncidentChange::from_areas(areas)
    }

    fn from_areas(areas: Vec<Rect<f64>>) -> IncidentChange {
        match areas.len() {
            0 => IncidentChange::None,
            n if n > Self::MAX_AREAS => IncidentChange::All,
            _ => IncidentChange::Areas(areas),
        }
    }
}

/// Where an incident is drawn: its line or polygon, or its point.
pub fn incident_area(incident: &Incident) -> Rect<f64> {
    incident
        .shape
        .as_ref()
        .and_then(|s| s.bounding_rect())
        .unwrap_or_else(|| Rect::new(incident.location.0, incident.location.0))
}

/// Whether two versions of an incident are drawn the same.
fn drawn_alike(a: &Incident, b: &Incident) -> bool {
    a.occurred_at == b.occurred_at
        && a.category == b.category
        && a.severity == b.severity
        && a.status == b.status
        && a.location == b.location
        && a.shape == b.shape
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
    /// Bumped when a batch of changes is done (see [`Tiles::synced`]).
    synced: AtomicU64,
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
    /// Changes applied to the engine whose tile bookkeeping (figures, Gi*, dropping
    /// cached tiles) is still to do: batched, so that a burst of writes pays it once.
    pending: Mutex<Pending>,
    /// Held while a batch is done (one at a time, in order).
    syncing: Mutex<()>,
    wake: std::sync::Condvar,
    /// Told of every risk-level change: (region, before, after).
    listener: OnceLock<LevelListener>,
}

/// A change of the engine queued to be applied with its batch: returns what it did to
/// incidents.
pub type Queued = Box<dyn FnOnce(&mut Engine) -> IncidentChange + Send>;

/// Changes awaiting their bookkeeping, numbered by batch.
#[derive(Default)]
struct Pending {
    /// Changes made already (with what they did to incidents).
    changes: Option<Vec<IncidentChange>>,
    /// Changes to make with the batch, in order, under one write lock.
    queued: Vec<Queued>,
    /// The batch now gathering (or the last one).
    batch: u64,
    /// The last batch done.
    done: u64,
    /// When the batch now gathering got its first change.
    opened: Option<Instant>,
    /// When the last batch was taken up.
    last_sync: Option<Instant>,
    lag: Lag,
}

/// Marks a batch done and wakes its writers when dropped (also by a panic).
struct Release<'a> {
    tiles: &'a Tiles,
    number: u64,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut pending = lock(&self.tiles.pending);
        pending.done = pending.done.max(self.number);
        drop(pending);
        self.tiles.wake.notify_all();
    }
}

/// How long changes took to show: from their write to the engine until figures, Gi*
/// and the tile cache were up to date.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lag {
    /// Batches done.
    pub batches: u64,
    /// The last batch's lag (of its first change).
    pub last_seconds: f64,
    /// The largest since start.
    pub max_seconds: f64,
}

/// Hears of risk-level changes: (region, before, after), with the engine read-locked.
pub type LevelListener = Box<dyn Fn(&Engine, &[(RegionId, RiskLevel, RiskLevel)]) + Send + Sync>;

/// Batches of changes are taken up at most this often: a change after a quiet spell
/// at once, under a stream of writes (hundreds a second) every 20 ms, so that the
/// tiles every map shows, which nearly every write touches, are dropped and rendered
/// again fifty times a second rather than once per write. Well inside the 100 ms in
/// which a write must show in tiles.
const SYNC_PERIOD: Duration = Duration::from_millis(40);

impl Tiles {
    /// A tile service over the engine.
    pub fn new(engine: Arc<RwLock<Engine>>, config: TileConfig) -> Arc<Tiles> {
        let (pyramid, views, default_days, classes) = {
            let guard = read(&engine);
            (Pyramid::new(guard.index()), Views::new(&guard), guard.model().window_days, emerging::initial(&guard))
        };
        Arc::new(Tiles {
            engine,
            config,
            default_days,
            pyramid,
            // The bound is shared by the two caches.
            cache: TileCache::new(config.cache_bytes / 2),
            layers: LayerCache::new(config.cache_bytes / 2),
            synced: AtomicU64::new(0),
            views: Mutex::new(views),
            clips: Mutex::default(),
            rendering: Mutex::default(),
            clusters: Mutex::new((false, false)),
            emerging: Mutex::new(Arc::new(classes)),
            pending: Mutex::new(Pending::default()),
            syncing: Mutex::default(),
            wake: std::sync::Condvar::new(),
            listener: OnceLock::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> TileConfig {
        self.config
    }

    /// A tile if it is cached (without touching the engine).
    pub fn cached(
        &self,
        source: Source,
        coord: TileCoord,
        window: Option<u32>,
        scope: &Scope,
    ) -> Option<Arc<EncodedTile>> {
        self.cache.get(&self.key(source, coord, window, scope))
    }

    fn key(&self, source: Source, coord: TileCoord, window: Option<u32>, scope: &Scope) -> TileKey {
        let window = window.filter(|&d| d != self.default_days);
        let scoped = source.layers().iter().any(|(l, _)| *l == Layer::Incidents);
        TileKey { source, coord, window, scope: if scoped { scope_key(scope) } else { 0 } }
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
    }

    /// A tile of `source` at `coord` (whose zoom the caller has checked against the
    /// source's range) for the default window (`None`) or another number of days.
    /// Only the incidents within `scope` are drawn.
    pub fn tile(
        &self,
        source: Source,
        coord: TileCoord,
        window: Option<u32>,
        scope: &Scope,
    ) -> Result<Arc<EncodedTile>, TileError> {
        let key = self.key(source, coord, window, scope);
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
                let key = LayerKey { layer, coord, window, scope };
                (key, self.layers.get(&key).ok_or_else(|| self.layers.begin(key)))
            })
            .collect();
        if parts.iter().any(|(_, part)| part.is_err()) {
            let engine = read(&self.engine);
            let view = lock(&self.views).view(&engine, window);
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
    /// write lock held only for it; within [`SYNC_PERIOD`] the figures and Gi* are
    /// brought up to date and exactly the cached tiles whose content changed are
    /// dropped (a burst of changes is handled at once). A tile whose render overlaps
    /// that bookkeeping and which it drops is not cached.
    pub fn change<T>(self: &Arc<Self>, change: impl FnOnce(&mut Engine) -> (T, IncidentChange)) -> T {
        let (out, incidents) = change(&mut write(&self.engine));
        self.join_batch(|pending| pending.changes.get_or_insert_with(Vec::new).push(incidents));
        out
    }

    /// Queues a change of the engine to be made with the next batch of bookkeeping,
    /// together with the others queued (one write lock for all: a stream of single
    /// writes would otherwise each wait for the renders holding the engine, and make
    /// every render after them wait too). Returns the batch's number.
    pub fn queue(self: &Arc<Self>, change: Queued) -> u64 {
        self.join_batch(|pending| pending.queued.push(change))
    }

    /// As [`Tiles::queue`], then waits until its batch is done: a tile fetched after
    /// it returns shows the change.
    pub fn change_and_wait(self: &Arc<Self>, change: Queued) {
        let batch = self.queue(change);
        self.wait_for(batch);
    }

    /// Waits until batch `batch` (of [`Tiles::queue`]) is done.
    pub fn wait_for(&self, batch: u64) {
        let mut pending = lock(&self.pending);
        while pending.done < batch {
            pending = self.wake.wait(pending).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Adds to the batch now gathering (`add`), opening one when none is: its
    /// bookkeeping is done at once after a quiet spell, under a stream of changes one
    /// [`SYNC_PERIOD`] after the last. Returns the batch's number.
    fn join_batch(self: &Arc<Self>, add: impl FnOnce(&mut Pending)) -> u64 {
        let mut pending = lock(&self.pending);
        let open = pending.changes.is_some() || !pending.queued.is_empty();
        add(&mut pending);
        if !open {
            pending.batch += 1;
            let now = Instant::now();
            pending.opened = Some(now);
            let wait = pending.last_sync.map_or(Duration::ZERO, |last| SYNC_PERIOD.saturating_sub(now - last));
            let tiles = Arc::clone(self);
            std::thread::spawn(move || {
                std::thread::sleep(wait);
                tiles.sync();
            });
        }
        pending.batch
    }

    /// The bookkeeping of the pending changes.
    fn sync(self: &Arc<Self>) {
        // One batch at a time, in order: a batch taken up while the one before still
        // waits for the engine's lock must not make its changes first, nor mark the
        // earlier batch's writes done.
        let _one_at_a_time = lock(&self.syncing);
        let (mut batch, queued, number, opened) = {
            let mut pending = lock(&self.pending);
            let (made, queued) = (pending.changes.take(), std::mem::take(&mut pending.queued));
            if made.is_none() && queued.is_empty() {
                return;
            }
            pending.last_sync = Some(Instant::now());
            (made.unwrap_or_default(), queued, pending.batch, pending.opened.take())
        };
        // Whatever happens below (a panic included), the batch's writers are released.
        let _release = Release { tiles: self, number };
        if !queued.is_empty() {
            let mut engine = write(&self.engine);
            for change in queued {
                let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change(&mut engine)));
                batch.push(made.unwrap_or_else(|_| {
                    tracing::error!("a change of the engine failed; its incidents show again after a reload");
                    IncidentChange::All
                }));
            }
        }
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
        let stale = |layer: Layer, coord: TileCoord, window: Option<u32>| {
            if window.is_some() {
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
        // Layers first: a tile assembled after its own invalidation then finds none of
        // the stale layers.
        self.layers.invalidate(|key| stale(key.layer, key.coord, key.window));
        let dropped = self
            .cache
            .invalidate(|key| key.source.layers_at(key.coord.z).into_iter().any(|l| stale(l, key.coord, key.window)));
        tracing::debug!(
            changes = batch.len(),
            regions = changes.regions.len(),
            hotspots = changes.hotspots.len(),
            dropped,
            "tiles invalidated after changes"
        );
        if batch.iter().any(|c| !matches!(c, IncidentChange::None)) {
            self.schedule_clusters();
        }
        self.synced.fetch_add(1, Ordering::AcqRel);
        let mut pending = lock(&self.pending);
        if let Some(opened) = opened {
            let seconds = opened.elapsed().as_secs_f64();
            pending.lag.batches += 1;
            pending.lag.last_seconds = seconds;
            pending.lag.max_seconds = pending.lag.max_seconds.max(seconds);
        }
        drop(pending);
    }

    /// Recomputes the cluster hulls in the background, at most every
    /// [`CLUSTER_PERIOD`], and drops the tiles of the hulls that changed.
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
            // (writers would wait for it).
            let input = {
                let engine = read(&tiles.engine);
                view::ClusterInput::of(&engine, engine.current().window)
            };
            let hulls = input.clusters();
            let changed = lock(&tiles.views).set_clusters(hulls);
            if !changed.is_empty() {
                let stale = |coord: TileCoord, window: Option<u32>| {
                    let bounds = coord.lonlat_bounds_with(coord::BUFFER);
                    window.is_some() || changed.iter().any(|a| a.intersects(&bounds))
                };
                tiles.layers.invalidate(|key| key.layer == Layer::HotspotClusters && stale(key.coord, key.window));
                tiles.cache.invalidate(|key| {
                    key.source.layers_at(key.coord.z).contains(&Layer::HotspotClusters) && stale(key.coord, key.window)
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

    /// A number bumped when a batch of changes is done, before the writes of the
    /// batch are answered ([`Tiles::change_and_wait`]): what is computed from the
    /// engine after it read one value shows every change answered before that value.
    pub fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// How long changes took to show in figures and tiles.
    pub fn lag(&self) -> Lag {
        lock(&self.pending).lag
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

/// A mutex whose holder panicked still holds consistent data here (every update is
/// a replacement), so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read(engine: &RwLock<Engine>) -> std::sync::RwLockReadGuard<'_, Engine> {
    engine.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write(engine: &RwLock<Engine>) -> std::sync::RwLockWriteGuard<'_, Engine> {
    engine.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
