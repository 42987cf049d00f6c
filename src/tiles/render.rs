//! Rendering one tile: the layers of its source at its zoom, as Mapbox Vector Tile 2.1
//! (extent 4096, 64 units of buffer; geometry commands, zigzag deltas and the
//! per-layer deduplicated keys and values are the `mvt` crate's encoding, but for the
//! region layers, written by [`super::pbf`] from geometry encoded once per tile).

use geo::{BoundingRect, Geometry, Intersects, Rect};
use mvt::{GeomEncoder, GeomType};

use super::coord::{project, world_size, TileCoord, BUFFER, EXTENT};
use super::pbf::{polygon_commands, LayerWriter, TagValue};
use super::shapes::{clip_line, snap_polygon, IntPoint, IntShape, PixelBox, PixelShape};
use super::view::{hundredths, severe_count, tenths, View};
use super::{Layer, Tiles};
use crate::auth::Scope;
use crate::engine::regions::{level_slot, RegionId};
use crate::engine::store::Incident;
use crate::engine::Engine;
use crate::incident::Category;
use crate::region::RegionLevel;

/// Cluster cells are this many tile units wide (64 cells across a tile).
const CELL: i32 = 64;

/// How far beyond a tile an incident at sea can lie from every region's box:
/// 12 nautical miles, in degrees, with room.
const SEA_MARGIN_DEG: f64 = 0.25;

/// A tile in tile coordinates being written.
struct Frame {
    coord: TileCoord,
    origin: (i64, i64),
    /// The buffered tile in world pixels.
    clip: PixelBox,
    /// The tile (no buffer) in longitude/latitude.
    bounds: Rect<f64>,
    /// The buffered tile in longitude/latitude.
    buffered: Rect<f64>,
}

impl Frame {
    fn new(coord: TileCoord) -> Frame {
        let origin = coord.origin();
        let (ox, oy) = (origin.0 as i32, origin.1 as i32);
        Frame {
            coord,
            origin,
            clip: PixelBox {
                min_x: ox - BUFFER,
                min_y: oy - BUFFER,
                max_x: ox + EXTENT + BUFFER,
                max_y: oy + EXTENT + BUFFER,
            },
            bounds: coord.lonlat_bounds(),
            buffered: coord.lonlat_bounds_with(BUFFER),
        }
    }

    /// World pixels (f64) to tile units.
    fn local(&self, x: f64, y: f64) -> (f64, f64) {
        (x - self.origin.0 as f64, y - self.origin.1 as f64)
    }

    fn add_polygon(
        &self,
        encoder: &mut GeomEncoder<f64>,
        polygon: &IntShape,
        last: &mut Option<IntPoint>,
    ) -> Result<(), mvt::Error> {
        for ring in polygon {
            // The encoder drops the MoveTo of a ring that starts where the previous one
            // ended (valid polygons may touch at a point), which breaks the ring: start
            // such a ring one vertex later.
            let start = usize::from(ring.first() == last.as_ref());
            for p in ring[start..].iter().chain(&ring[..start]) {
                let (x, y) = self.local(f64::from(p.x), f64::from(p.y));
                encoder.add_point(x, y)?;
            }
            *last = ring[start..].iter().chain(&ring[..start]).last().copied();
            encoder.complete_geom()?;
        }
        Ok(())
    }

    /// The polygons of a shape inside the buffered tile; `None` when nothing is.
    fn polygon(&self, shape: &PixelShape) -> Result<Option<mvt::GeomData>, mvt::Error> {
        self.encode(&self.clip_shape(shape))
    }

    /// The polygons of a shape clipped to the buffered tile (world pixels).
    fn clip_shape(&self, shape: &PixelShape) -> Vec<IntShape> {
        let mut parts = Vec::new();
        shape.clipped(&self.clip, |polygon| parts.push(polygon.clone()));
        parts
    }

    /// Clipped polygons as a geometry; `None` when there are none.
    fn encode(&self, polygons: &[IntShape]) -> Result<Option<mvt::GeomData>, mvt::Error> {
        if polygons.is_empty() {
            return Ok(None);
        }
        let mut encoder = GeomEncoder::new(GeomType::Polygon);
        let mut last = None;
        for polygon in polygons {
            self.add_polygon(&mut encoder, polygon, &mut last)?;
        }
        Ok(Some(encoder.encode()?))
    }
}

/// The regions of one level in one tile with their polygons clipped to it and encoded
/// as geometry commands: what a region layer draws, but for the attributes. Boundaries
/// do not change while the server runs, so this outlives the tiles made from it (which
/// every change of a region's figures drops), and their next render writes only
/// attributes.
pub(super) struct ClippedRegions {
    /// Regions, in drawing order, each with its geometry commands (not empty).
    regions: Vec<(RegionId, Vec<u8>)>,
}

impl ClippedRegions {
    /// Bytes held, for the bound of their cache.
    pub(super) fn bytes(&self) -> usize {
        self.regions.iter().map(|(_, g)| g.len() + std::mem::size_of::<(RegionId, Vec<u8>)>()).sum()
    }
}

/// Renders one layer of a tile as a tile of its own; empty bytes when it has no
/// feature.
pub(super) fn render_layer(
    tiles: &Tiles,
    engine: &Engine,
    view: &View,
    scope: &Scope,
    layer: Layer,
    coord: TileCoord,
) -> Result<Vec<u8>, mvt::Error> {
    let frame = Frame::new(coord);
    match layer {
        Layer::Region(level) => return Ok(region_layer(layer, tiles, engine, view, &frame, level, false)),
        Layer::HotspotRegions => {
            return Ok(region_layer(layer, tiles, engine, view, &frame, Layer::hotspot_level(coord.z), true))
        }
        Layer::Incidents | Layer::HotspotClusters => {}
    }
    let mut tile = mvt::Tile::new(EXTENT as u32);
    let out = tile.create_layer(layer.name());
    let out = match layer {
        Layer::Region(_) | Layer::HotspotRegions => unreachable!("written above"),
        Layer::Incidents => incident_layer(out, tiles, engine, view, scope, &frame)?,
        Layer::HotspotClusters => cluster_layer(out, view, &frame)?,
    };
    if out.num_features() == 0 {
        return Ok(Vec::new());
    }
    tile.add_layer(out)?;
    tile.to_bytes()
}

/// The regions of `level` that intersect the tile (exactly, as `ST_Intersects` with
/// the tile's envelope), in code order.
fn regions_in(engine: &Engine, level: RegionLevel, bounds: Rect<f64>) -> Vec<RegionId> {
    let mut ids: Vec<RegionId> = engine
        .index()
        .candidates(level, bounds)
        .into_iter()
        .filter(|&id| {
            let region = engine.index().region(id);
            let b = region.area.bbox();
            let inside = bounds.min().x <= b.min().x
                && bounds.min().y <= b.min().y
                && b.max().x <= bounds.max().x
                && b.max().y <= bounds.max().y;
            inside || region.shape.intersects(&bounds)
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// Region polygons with their figures; with `hotspots`, only the Gi* hot and cold
/// spots, with their Gi* figures.
///
/// Every region that intersects the tile is in it (one collapsing below a pixel as a
/// one-pixel square), and so is every region that reaches only into the buffer around
/// the tile, clipped there (as `ST_AsMVTGeom` with a buffer and Martin ship them: a
/// neighbour's edge drawn across the tile border), unless it collapses there.
fn region_layer(
    layer: Layer,
    tiles: &Tiles,
    engine: &Engine,
    view: &View,
    frame: &Frame,
    level: RegionLevel,
    hotspots: bool,
) -> Vec<u8> {
    let snapshot = view.snapshot(engine);
    let clipped = tiles.clipped_regions(level, frame.coord, || clip_regions(tiles, engine, frame, level));
    let wanted = |id: RegionId| !hotspots || view.gi[id as usize].bin != 0;
    let emerging = tiles.emerging_classes();
    let mut out = LayerWriter::new(layer.name());
    for (id, geometry) in clipped.regions.iter().filter(|(id, _)| wanted(*id)) {
        let id = *id;
        let region = engine.index().region(id);
        let gi = view.gi[id as usize];
        let feature_id = tiles.pyramid.feature_ids[id as usize];
        let named = [
            ("kode", TagValue::Str(region.code.as_str())),
            ("nama", TagValue::Str(&region.name)),
            ("level", TagValue::Str(level.as_str())),
        ];
        if hotspots {
            let figures = [
                ("hotspot_bin", TagValue::Sint(i64::from(gi.bin))),
                ("z", TagValue::Double(hundredths(gi.z) as f64 / 100.0)),
                ("p", TagValue::Double(hundredths(gi.p) as f64 / 100.0)),
            ];
            out.polygon(feature_id, &[named.as_slice(), &figures].concat(), geometry);
        } else {
            let (standing, stats) = (snapshot.standings[id as usize], &snapshot.stats[id as usize]);
            let figures = [
                ("risk_level", TagValue::Str(standing.level.as_str())),
                ("score", TagValue::Double(tenths(standing.score) as f64 / 10.0)),
                ("incident_count", TagValue::Uint(u64::from(stats.count))),
                ("severe_count", TagValue::Uint(u64::from(severe_count(stats)))),
                ("hotspot_bin", TagValue::Sint(i64::from(gi.bin))),
                ("emerging", TagValue::Str(emerging.get(id as usize).map_or("no_pattern", |p| p.as_str()))),
            ];
            out.polygon(feature_id, &[named.as_slice(), &figures].concat(), geometry);
        }
    }
    out.into_tile()
}

/// The regions of `level` in the tile with their polygons clipped to it (see
/// [`region_layer`] for which).
fn clip_regions(tiles: &Tiles, engine: &Engine, frame: &Frame, level: RegionLevel) -> ClippedRegions {
    let shapes = tiles.pyramid.shapes(level, frame.coord.z);
    let inside = regions_in(engine, level, frame.bounds);
    let buffer_only: Vec<RegionId> = engine
        .index()
        .candidates(level, frame.buffered)
        .into_iter()
        .filter(|id| inside.binary_search(id).is_err())
        .collect();
    let mut regions = Vec::with_capacity(inside.len());
    for id in inside {
        let Some(shape) = shapes.get(&id) else { continue };
        let mut polygons = frame.clip_shape(shape);
        if polygons.is_empty() {
            // It meets the tile, but its generalised shape stays outside: keep a
            // pixel at the nearest point of the tile, so that every region that
            // meets the tile is in it.
            let (ox, oy) = (frame.origin.0 as i32, frame.origin.1 as i32);
            let x = shape.bbox.min_x.clamp(ox, ox + EXTENT - 1);
            let y = shape.bbox.min_y.clamp(oy, oy + EXTENT - 1);
            polygons = frame.clip_shape(&PixelShape::square(x, y));
        }
        regions.push((id, polygon_commands(&polygons, frame.origin)));
    }
    for id in buffer_only {
        let Some(shape) = shapes.get(&id).filter(|s| !s.collapsed) else { continue };
        let polygons = frame.clip_shape(shape);
        regions.push((id, polygon_commands(&polygons, frame.origin)));
    }
    regions.retain(|(_, geometry)| !geometry.is_empty());
    ClippedRegions { regions }
}

/// The level whose incident lists are walked for a tile at zoom `z`: few regions for
/// large tiles, small regions for small ones.
fn walk_level(z: u8) -> RegionLevel {
    match z {
        0..=4 => RegionLevel::Provinsi,
        5..=8 => RegionLevel::KabupatenKota,
        _ => RegionLevel::Kecamatan,
    }
}

/// Whether the caller's scope covers an incident.
fn in_scope(engine: &Engine, scope: &Scope, incident: &Incident) -> bool {
    match scope {
        Scope::Nothing => false,
        Scope::Everything => true,
        Scope::Within(_) => {
            let codes = incident.assignment.regions.map(|r| r.map(|id| &engine.index().region(id).code));
            scope.covers(&codes)
        }
    }
}

/// Calls `f` with every incident of the window in scope whose point may lie in the
/// tile.
fn incidents_near<'a>(engine: &'a Engine, view: &View, scope: &Scope, frame: &Frame, mut f: impl FnMut(&'a Incident)) {
    if *scope == Scope::Nothing {
        return;
    }
    let b = frame.buffered;
    let search = Rect::new(
        geo::coord! { x: b.min().x - SEA_MARGIN_DEG, y: b.min().y - SEA_MARGIN_DEG },
        geo::coord! { x: b.max().x + SEA_MARGIN_DEG, y: b.max().y + SEA_MARGIN_DEG },
    );
    let walk = walk_level(frame.coord.z);
    for region in engine.index().candidates(walk, search) {
        for incident in engine.incidents().in_region(region) {
            if view.window.contains(incident.occurred_at) && in_scope(engine, scope, incident) {
                f(incident);
            }
        }
    }
    // A report known only by a coarser region (a province, a regency) is assigned to no
    // region of the walked level: it is found through its own region, and sits at that
    // region's label point, so only regions whose label point is near the tile can hold
    // one.
    for level in RegionLevel::ALL.iter().copied().filter(|l| level_slot(*l) > level_slot(walk)) {
        for region in engine.index().candidates(level, search) {
            let label = engine.index().region(region).label_point;
            let (min, max) = (search.min(), search.max());
            if !(min.x..=max.x).contains(&label.x()) || !(min.y..=max.y).contains(&label.y()) {
                continue;
            }
            for incident in engine.incidents().in_region(region) {
                let finest = incident.assignment.regions.iter().flatten().next().copied();
                if finest == Some(region)
                    && view.window.contains(incident.occurred_at)
                    && in_scope(engine, scope, incident)
                {
                    f(incident);
                }
            }
        }
    }
}

#[derive(Default)]
struct Cell {
    count: u32,
    sum_x: f64,
    sum_y: f64,
    per_category: [u32; 7],
    max_severity: u8,
}

/// Incidents: grid clusters below the cluster zoom, else each incident.
fn incident_layer(
    mut layer: mvt::Layer,
    tiles: &Tiles,
    engine: &Engine,
    view: &View,
    scope: &Scope,
    frame: &Frame,
) -> Result<mvt::Layer, mvt::Error> {
    let scale = world_size(frame.coord.z);
    let extent = f64::from(EXTENT);
    if frame.coord.z < tiles.config.cluster_zoom {
        let per_row = (EXTENT / CELL) as usize;
        let mut cells: Vec<Cell> = Vec::new();
        cells.resize_with(per_row * per_row, Cell::default);
        incidents_near(engine, view, scope, frame, |incident| {
            let (x, y) = project(incident.location.x(), incident.location.y(), scale);
            let (x, y) = frame.local(x, y);
            if !(0.0..extent).contains(&x) || !(0.0..extent).contains(&y) {
                return;
            }
            let cell = &mut cells[(y as usize / CELL as usize) * per_row + x as usize / CELL as usize];
            cell.count += 1;
            cell.sum_x += x;
            cell.sum_y += y;
            cell.per_category[incident.category.index()] += 1;
            cell.max_severity = cell.max_severity.max(incident.severity.get());
        });
        for (i, cell) in cells.iter().enumerate().filter(|(_, c)| c.count > 0) {
            let n = f64::from(cell.count);
            let geometry = GeomEncoder::new(GeomType::Point).point(cell.sum_x / n, cell.sum_y / n)?.encode()?;
            let mut feature = layer.into_feature(geometry);
            feature.set_id(i as u64 + 1);
            feature.add_tag_bool("cluster", true);
            feature.add_tag_uint("point_count", u64::from(cell.count));
            feature.add_tag_string("category", Category::dominant(&cell.per_category).as_str());
            feature.add_tag_uint("max_severity", u64::from(cell.max_severity));
            layer = feature.into_layer();
        }
        return Ok(layer);
    }
    let mut points: Vec<(&Incident, (f64, f64))> = Vec::new();
    incidents_near(engine, view, scope, frame, |incident| {
        if incident.shape.is_some() {
            return;
        }
        let (x, y) = project(incident.location.x(), incident.location.y(), scale);
        let (x, y) = frame.local(x, y);
        let b = f64::from(BUFFER);
        if (-b..extent + b).contains(&x) && (-b..extent + b).contains(&y) {
            points.push((incident, (x, y)));
        }
    });
    points.sort_unstable_by_key(|(i, _)| i.id);
    for (incident, (x, y)) in points {
        let geometry = GeomEncoder::new(GeomType::Point).point(x, y)?.encode()?;
        layer = incident_feature(layer, geometry, incident);
    }
    let mut shaped: Vec<&Incident> = engine
        .incidents()
        .shaped()
        .filter(|i| view.window.contains(i.occurred_at) && in_scope(engine, scope, i))
        .filter(|i| i.shape.as_ref().and_then(|s| s.bounding_rect()).is_some_and(|b| b.intersects(&frame.buffered)))
        .collect();
    shaped.sort_unstable_by_key(|i| i.id);
    for incident in shaped {
        if let Some(geometry) = shape_geometry(incident, frame, scale)? {
            layer = incident_feature(layer, geometry, incident);
        }
    }
    Ok(layer)
}

/// A line or polygon incident inside the buffered tile.
fn shape_geometry(incident: &Incident, frame: &Frame, scale: f64) -> Result<Option<mvt::GeomData>, mvt::Error> {
    match incident.shape.as_deref() {
        Some(Geometry::LineString(line)) => {
            let world: Vec<(f64, f64)> = line.0.iter().map(|c| project(c.x, c.y, scale)).collect();
            let parts = clip_line(&world, &frame.clip);
            if parts.is_empty() {
                return Ok(None);
            }
            let mut encoder = GeomEncoder::new(GeomType::Linestring);
            for part in parts {
                for (x, y) in part {
                    let (x, y) = frame.local(x, y);
                    encoder.add_point(x, y)?;
                }
                encoder.complete_geom()?;
            }
            Ok(Some(encoder.encode()?))
        }
        Some(Geometry::Polygon(polygon)) => {
            let polygons = snap_polygon(polygon, frame.coord.z);
            if polygons.is_empty() {
                return Ok(None);
            }
            frame.polygon(&PixelShape::from_polygons(polygons))
        }
        _ => Ok(None),
    }
}

fn incident_feature(layer: mvt::Layer, geometry: mvt::GeomData, incident: &Incident) -> mvt::Layer {
    let mut feature = layer.into_feature(geometry);
    if let Ok(id) = u64::try_from(incident.id) {
        feature.set_id(id);
    }
    feature.add_tag_bool("cluster", false);
    feature.add_tag_string("category", incident.category.as_str());
    feature.add_tag_uint("severity", u64::from(incident.severity.get()));
    feature.add_tag_string("status", incident.status.as_str());
    let time = chrono::DateTime::from_timestamp(incident.occurred_at, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    feature.add_tag_string("occurred_at", &time);
    feature.into_layer()
}

/// DBSCAN cluster hulls.
fn cluster_layer(mut layer: mvt::Layer, view: &View, frame: &Frame) -> Result<mvt::Layer, mvt::Error> {
    let shapes = view.clusters.shapes(frame.coord.z);
    for (i, (cluster, shape)) in view.clusters.features.iter().zip(shapes).enumerate() {
        if !cluster.bbox.intersects(&frame.buffered) {
            continue;
        }
        let Some(geometry) = frame.polygon(shape)? else { continue };
        let mut feature = layer.into_feature(geometry);
        feature.set_id(i as u64 + 1);
        feature.add_tag_uint("point_count", u64::from(cluster.count));
        feature.add_tag_string("category", cluster.category.as_str());
        feature.add_tag_uint("max_severity", u64::from(cluster.max_severity));
        layer = feature.into_layer();
    }
    Ok(layer)
}
