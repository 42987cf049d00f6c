//! Region tiles against PostGIS: the reference computed by `ST_AsMVTGeom` for the same
//! tile, and the checks of every decoded region feature (ids, areas, validity, ring
//! winding, attributes).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::common::TestDb;
use crate::decoded::{Decoded, Feature};

/// The attributes of every region feature and their wire types (`int` allows the
/// zigzag `sint` encoding too).
pub const REGION_ATTRIBUTES: [(&str, &str); 9] = [
    ("kode", "string"),
    ("nama", "string"),
    ("level", "string"),
    ("risk_level", "string"),
    ("score", "double"),
    ("incident_count", "uint"),
    ("severe_count", "uint"),
    ("hotspot_bin", "int"),
    ("emerging", "string"),
];

/// Per-feature and per-tile area tolerance against PostGIS (relative).
const AREA_TOLERANCE: f64 = 0.02;
/// The same for a region that reaches only into the tile's buffer.
const BUFFER_AREA_TOLERANCE: f64 = 0.05;
/// Features smaller than this (in tile units squared, of 4096²) are not compared one by
/// one: snapping to the grid moves them by more than the tolerance.
const MIN_COMPARED_AREA: f64 = 1000.0;

/// A region as stored, with its incidents of the last 30 days (the default window) as
/// the import assigned them.
pub struct RegionRow {
    pub code: String,
    pub name: String,
    pub level: String,
    pub incidents: u64,
    pub severe: u64,
}

pub async fn region_table(db: &TestDb) -> HashMap<u64, RegionRow> {
    let rows: Vec<(i64, String, String, String, i64, i64)> = sqlx::query_as(
        "select r.feature_id, r.code, r.name, r.level::text, count(i.id), count(i.id) filter (where i.severity >= 4)
         from regions r
         left join incidents i
             on r.code = case r.level when 'provinsi' then i.provinsi_code
                                      when 'kabupaten_kota' then i.kabupaten_kota_code
                                      else i.kecamatan_code end
            and i.occurred_at > now() - interval '30 days'
         group by r.feature_id, r.code, r.name, r.level",
    )
    .fetch_all(&db.pool)
    .await
    .expect("regions");
    rows.into_iter()
        .map(|(id, code, name, level, incidents, severe)| {
            (id as u64, RegionRow { code, name, level, incidents: incidents as u64, severe: severe as u64 })
        })
        .collect()
}

/// The area of a region in a tile, in tile units squared.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceArea {
    /// Of `ST_AsMVTGeom` with the tile's extent and buffer, clipped (0 where it
    /// collapses).
    pub mvt: f64,
    /// Exact: the unsnapped region clipped to the buffered tile.
    pub exact: f64,
    /// Whether the region intersects the tile itself, not only its buffer.
    pub in_tile: bool,
}

/// PostGIS' answer for a region layer's tile: every region of `level` that intersects
/// the tile or its 64-unit buffer, with its area there.
pub async fn postgis_tile(db: &TestDb, level: &str, (z, x, y): (u8, u32, u32)) -> BTreeMap<u64, ReferenceArea> {
    let rows: Vec<(i64, f64, f64, bool)> = sqlx::query_as(
        "select r.feature_id,
                coalesce(st_area(st_asmvtgeom(st_transform(r.geom, 3857), t.envelope, 4096, 64, true)), 0),
                st_area(st_intersection(st_makevalid(st_transform(r.geom, 3857)),
                                        st_expand(t.envelope, (st_xmax(t.envelope) - st_xmin(t.envelope)) * 64 / 4096)))
                    / power((st_xmax(t.envelope) - st_xmin(t.envelope)) / 4096, 2),
                st_intersects(r.geom, st_transform(t.envelope, 4326))
         from regions r,
              (select st_tileenvelope($2, $3, $4) as envelope,
                      st_tileenvelope($2, $3, $4, margin => 64.0 / 4096) as buffered) t
         where r.level = $1::region_level and st_intersects(r.geom, st_transform(st_clipbybox2d(t.buffered, st_tileenvelope(0, 0, 0)), 4326))",
    )
    .bind(level)
    .bind(i32::from(z))
    .bind(x as i32)
    .bind(y as i32)
    .fetch_all(&db.pool)
    .await
    .expect("reference tile");
    rows.into_iter().map(|(id, mvt, exact, in_tile)| (id as u64, ReferenceArea { mvt, exact, in_tile })).collect()
}

// ---- checks -------------------------------------------------------------------------

/// Problems with a region feature's attributes: types, values in range, and kode, nama,
/// level and the incident counts as stored for its feature id.
pub fn region_attribute_problems(feature: &Feature, level: &str, regions: &HashMap<u64, RegionRow>) -> Vec<String> {
    let mut problems = feature.attribute_type_problems(&REGION_ATTRIBUTES);
    let Some(id) = feature.id else {
        problems.push("no feature id".into());
        return problems;
    };
    let Some(region) = regions.get(&id) else {
        problems.push(format!("feature id {id} is no region's"));
        return problems;
    };
    for (key, stored) in [("kode", &region.code), ("nama", &region.name), ("level", &region.level)] {
        if feature.text(key) != Some(stored.as_str()) {
            problems.push(format!("{key} {:?}, stored {stored:?}", feature.text(key)));
        }
    }
    if region.level != level {
        problems.push(format!("a {} in the {level} layer", region.level));
    }
    if !matches!(feature.text("risk_level"), Some("hijau" | "kuning" | "merah")) {
        problems.push(format!("risk_level {:?}", feature.properties.get("risk_level")));
    }
    if let Some(score) = feature.number("score") {
        if !score.is_finite() || ((score * 10.0).round() - score * 10.0).abs() > 1e-6 {
            problems.push(format!("score {score} is not rounded to 1 decimal"));
        }
    }
    for (key, stored) in [("incident_count", region.incidents), ("severe_count", region.severe)] {
        if feature.number(key) != Some(stored as f64) {
            problems.push(format!("{key} {:?}, {stored} stored in the window", feature.number(key)));
        }
    }
    if feature.number("hotspot_bin").is_some_and(|b| !(-3.0..=3.0).contains(&b)) {
        problems.push(format!("hotspot_bin {:?} outside -3..3", feature.number("hotspot_bin")));
    }
    problems
}

/// Problems with a polygon feature's geometry as decoded: valid by shapely, exterior
/// rings positive by the MVT rule (clockwise on screen), no degenerate rings, not empty.
pub fn polygon_problems(feature: &Feature) -> Vec<String> {
    let mut problems = Vec::new();
    if feature.kind != "polygon" {
        problems.push(format!("a {} where a polygon belongs", feature.kind));
        return problems;
    }
    if feature.valid != Some(true) {
        problems.push(format!("invalid {}: {:?}", feature.geometry_type, feature.invalid_reason));
    }
    if feature.first_ring_positive != Some(true) {
        problems.push("first ring is not an exterior ring (negative or zero area in tile coordinates)".into());
    }
    if feature.degenerate_rings.unwrap_or(0) > 0 {
        problems.push(format!("{:?} ring(s) of zero area", feature.degenerate_rings));
    }
    if !feature.area.is_some_and(|a| a > 0.0) {
        problems.push(format!("area {:?}: a region collapsing below a pixel is kept as a 1x1 square", feature.area));
    }
    problems
}

pub fn relative_difference(ours: f64, reference: f64) -> f64 {
    (ours - reference).abs() / reference.abs().max(f64::MIN_POSITIVE)
}

/// Compares one region tile with PostGIS; returns the problems and the largest relative
/// area difference among compared features.
pub fn compare_with_postgis(
    name: &str,
    level: &str,
    tile: &Decoded,
    reference: &BTreeMap<u64, ReferenceArea>,
    regions: &HashMap<u64, RegionRow>,
) -> (Vec<String>, f64) {
    let mut problems = Vec::new();
    let others: Vec<&str> = tile.layer_names().into_iter().filter(|l| *l != level).collect();
    if !others.is_empty() {
        problems.push(format!("{name}: layers {others:?} besides {level}"));
    }
    if let Some(layer) = tile.layers.get(level) {
        if layer.extent != 4096 || layer.version != 2 {
            problems.push(format!("{name}: extent {} version {}, expected 4096 and 2", layer.extent, layer.version));
        }
    }
    let features = tile.features(level);
    let ids: Vec<u64> = features.iter().filter_map(|f| f.id).collect();
    let decoded_ids: BTreeSet<u64> = ids.iter().copied().collect();
    if decoded_ids.len() != features.len() {
        problems.push(format!("{name}: {} features but {} distinct ids", features.len(), decoded_ids.len()));
    }
    // Every region intersecting the tile is a feature; so is every region reaching only
    // into the buffer, unless it is too small there to compare (PostGIS drops what
    // collapses on the grid, the generalised shape may or may not).
    let in_tile: BTreeSet<u64> = reference.iter().filter(|(_, r)| r.in_tile).map(|(id, _)| *id).collect();
    let required: BTreeSet<u64> =
        reference.iter().filter(|(_, r)| r.in_tile || r.mvt >= MIN_COMPARED_AREA).map(|(id, _)| *id).collect();
    let allowed: BTreeSet<u64> = reference.keys().copied().collect();
    let missing: Vec<_> = required.difference(&decoded_ids).collect();
    let extra: Vec<_> = decoded_ids.difference(&allowed).collect();
    if !missing.is_empty() || !extra.is_empty() {
        problems.push(format!(
            "{name}: {} features, PostGIS finds {} regions intersecting the tile and {} more in its buffer; \
             missing {missing:?}, extra {extra:?}",
            decoded_ids.len(),
            in_tile.len(),
            allowed.len() - in_tile.len()
        ));
    }
    let features_in_tile = decoded_ids.intersection(&in_tile).count();
    if features_in_tile != in_tile.len() {
        problems.push(format!(
            "{name}: {features_in_tile} features of regions intersecting the tile, PostGIS finds {}",
            in_tile.len()
        ));
    }
    let mut worst: f64 = 0.0;
    for feature in features {
        let id = feature.id.unwrap_or_default();
        for p in polygon_problems(feature).into_iter().chain(region_attribute_problems(feature, level, regions)) {
            problems.push(format!("{name}: feature {id}: {p}"));
        }
        let (Some(area), Some(&ReferenceArea { mvt: reference_area, exact, in_tile })) =
            (feature.area, reference.get(&id))
        else {
            continue;
        };
        // A region reaching only into the buffer is a sliver at most 64 units wide, whose
        // area sub-pixel snapping moves by more, relative to its size (up to 4 % seen);
        // it is held to 5 %, and the tile's total area to 2 %.
        let tolerance = if in_tile { AREA_TOLERANCE } else { BUFFER_AREA_TOLERANCE };
        if reference_area >= MIN_COMPARED_AREA {
            let difference = relative_difference(area, reference_area);
            if in_tile {
                worst = worst.max(difference);
            }
            // Snapping to the grid moves a small feature's area by up to its perimeter
            // over two: beyond 2 % of PostGIS it still passes when it is at least as
            // close to the exact area as PostGIS' own.
            let closer_than_postgis = (area - exact).abs() <= (reference_area - exact).abs();
            if difference > tolerance && !closer_than_postgis {
                problems.push(format!(
                    "{name}: feature {id}: area {area:.0}, PostGIS {reference_area:.0} ({:+.1} %)",
                    100.0 * (area - reference_area) / reference_area
                ));
            }
        }
    }
    let total: f64 = features.iter().filter_map(|f| f.area).sum();
    let reference_total: f64 = reference.values().map(|r| r.mvt).sum();
    if reference_total > 0.0 && relative_difference(total, reference_total) > AREA_TOLERANCE {
        problems.push(format!(
            "{name}: total area {total:.0}, PostGIS {reference_total:.0} ({:+.1} %)",
            100.0 * (total - reference_total) / reference_total
        ));
    }
    (problems, worst)
}

pub fn assert_no_problems(what: &str, problems: &[String]) {
    const SHOWN: usize = 30;
    if problems.is_empty() {
        return;
    }
    // The same problem in many features reads best as one line: how often, and where first.
    let mut kinds: BTreeMap<String, (usize, &str)> = BTreeMap::new();
    for problem in problems {
        let detail = problem.split_once(": ").map_or(problem.as_str(), |(_, d)| d);
        let detail = detail.strip_prefix("feature ").and_then(|d| d.split_once(": ")).map_or(detail, |(_, d)| d);
        let kind: String = detail.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
        let mut kind = kind.replace("-#", "#");
        while kind.contains("##") {
            kind = kind.replace("##", "#");
        }
        kinds.entry(kind).or_insert((0, problem)).0 += 1;
    }
    let summary: Vec<String> =
        kinds.iter().map(|(kind, (count, first))| format!("{count:>6} x {kind}\n         first: {first}")).collect();
    panic!(
        "{what}: {} problem(s) of {} kinds:\n{}\n\nthe first {}:\n{}",
        problems.len(),
        kinds.len(),
        summary.join("\n"),
        SHOWN.min(problems.len()),
        problems.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("\n")
    );
}
