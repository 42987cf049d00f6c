//! Vector tiles of the real server over the real boundaries (/tiles): geometry and
//! attributes against PostGIS' own `ST_AsMVTGeom`, decoded by an independent
//! implementation (Python's mapbox-vector-tile, measured with shapely: tests/tiles/
//! decode.py, run by the interpreter in `SIPKS_PYTHON`); the protocol (TileJSON,
//! compression, ETags, errors); the layers of the composite `sipks` source per zoom; and
//! an incident import that refreshes its tiles within 100 ms and leaves the others alone.

mod common;
#[path = "tiles/regions.rs"]
mod regions;

use std::collections::{BTreeSet, HashMap};
use std::f64::consts::PI;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use client::{gunzip, Http, Reply};
use common::{client, decoded};
use common::{imported_db, Server, TestDb};
use decoded::{decode, decode_one, Decoded};
use regions::{assert_no_problems, compare_with_postgis, postgis_tile, region_table, REGION_ATTRIBUTES};

/// Tile extent, in tile units.
const EXTENT: f64 = 4096.0;

/// The region sources with their zoom ranges.
const REGION_SOURCES: [(&str, u8, u8); 3] = [("provinsi", 0, 14), ("kabupaten_kota", 0, 14), ("kecamatan", 6, 14)];

/// Every source, with its zoom range and layers.
const SOURCES: [(&str, u8, u8, &[&str]); 6] = [
    ("provinsi", 0, 14, &["provinsi"]),
    ("kabupaten_kota", 0, 14, &["kabupaten_kota"]),
    ("kecamatan", 6, 14, &["kecamatan"]),
    ("incidents", 0, 14, &["incidents"]),
    ("hotspots", 0, 14, &["hotspot_regions", "hotspot_clusters"]),
    ("sipks", 0, 14, &["provinsi", "kabupaten_kota", "kecamatan", "incidents", "hotspot_regions", "hotspot_clusters"]),
];

/// Kota Makassar (73.71), on the coast of South Sulawesi.
const MAKASSAR: (f64, f64) = (119.42, -5.14);
/// Kota Jayapura (94.71), by the border with Papua New Guinea: far from Makassar.
const JAYAPURA: (f64, f64) = (140.70, -2.55);
/// The Indian Ocean south-west of Sumatra, far from any land: tile 8/188/135.
const OPEN_SEA: (f64, f64) = (85.0, -10.0);

/// Tiles from the whole world down to city blocks, and why each is here.
const TILES: [(u8, u32, u32, &str); 27] = [
    (0, 0, 0, "the world: every region collapses to a few pixels"),
    (2, 3, 1, "north of the equator: Sumatra, Kalimantan, Sulawesi's northern arm"),
    (2, 3, 2, "south of the equator: Java to Papua"),
    (3, 6, 3, "Aceh, North Sumatra, North Kalimantan, across the Malaysian border"),
    (3, 6, 4, "Java, Bali, Nusa Tenggara, Sulawesi"),
    (3, 7, 4, "Papua and Maluku, across the border with Papua New Guinea"),
    (4, 12, 8, "Java and southern Sumatra"),
    (4, 13, 8, "Sulawesi and Nusa Tenggara"),
    (4, 14, 8, "Papua, cut by the tile edge and the PNG border"),
    (5, 26, 15, "northern Sulawesi and north-east Kalimantan"),
    (5, 26, 16, "central and southern Sulawesi"),
    (5, 25, 16, "Kalimantan's south coast and the Java Sea: regions reaching into the buffer (issue 16: 21.04)"),
    (6, 53, 32, "South Sulawesi, districts at their lowest zoom"),
    (6, 51, 33, "Central Java and Yogyakarta: many small districts"),
    (7, 99, 62, "Lake Toba and Samosir island"),
    (7, 114, 64, "Jayapura and the PNG border"),
    (8, 212, 131, "Makassar and the Spermonde islands"),
    (8, 203, 132, "Jakarta and the Thousand Islands"),
    (9, 437, 254, "Ternate and Tidore: small islands"),
    (10, 851, 526, "Kota Makassar: city borders and the coast"),
    (10, 815, 529, "Jakarta's five cities"),
    (10, 826, 532, "Salatiga, a city inside Kabupaten Semarang"),
    (11, 1587, 1007, "Pematangsiantar, a city inside Simalungun"),
    (12, 3406, 2106, "central Makassar: district borders at street scale"),
    (12, 3263, 2118, "central Jakarta"),
    (12, 3339, 2061, "inland Central Kalimantan: the tile lies inside one region"),
    (12, 3358, 2146, "Denpasar and its coast"),
];

/// Incidents for the region tiles to count, in Kota Makassar, Jakarta Pusat, Poso,
/// Jayapura, Yogyakarta and inland Central Kalimantan.
const SCATTERED: [((f64, f64), &str, u8); 12] = [
    ((119.420, -5.140), "antar_kelompok", 5),
    ((119.423, -5.140), "antar_kelompok", 4),
    ((119.426, -5.143), "sara", 3),
    ((119.420, -5.146), "pemilu", 2),
    ((106.830, -6.180), "pemilu", 4),
    ((106.833, -6.182), "ekonomi", 1),
    ((106.827, -6.176), "antar_kelompok", 5),
    ((120.752, -1.396), "sara", 5),
    ((120.760, -1.400), "sara", 4),
    ((140.650, -2.600), "agraria", 3),
    ((110.370, -7.800), "pemilu", 2),
    ((113.500, -1.200), "sumber_daya_alam", 3),
];

/// Tiles are refreshed within this long of an incident import finishing.
const REFRESH_BUDGET: Duration = Duration::from_millis(100);

/// The timing measurement of the import test takes this for writing; the other tests
/// of this file hold it for reading while they load the machine, so that the
/// measurement does not share the two cores with them.
static QUIET: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

// ---- tile addresses -------------------------------------------------------------

/// Web Mercator world position of a longitude/latitude at zoom `z`, in tiles.
fn world(lon: f64, lat: f64, z: u8) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    ((lon + 180.0) / 360.0 * n, (1.0 - lat.to_radians().tan().asinh() / PI) / 2.0 * n)
}

/// The tile at zoom `z` holding a longitude/latitude.
fn tile_of((lon, lat): (f64, f64), z: u8) -> (u8, u32, u32) {
    let (x, y) = world(lon, lat, z);
    (z, x.floor() as u32, y.floor() as u32)
}

/// A longitude/latitude in the tile units of tile `(z, x, y)`, y down.
fn in_tile((lon, lat): (f64, f64), (z, x, y): (u8, u32, u32)) -> (f64, f64) {
    let (wx, wy) = world(lon, lat, z);
    ((wx - f64::from(x)) * EXTENT, (wy - f64::from(y)) * EXTENT)
}

fn tile_path(source: &str, (z, x, y): (u8, u32, u32)) -> String {
    format!("/tiles/{source}/{z}/{x}/{y}")
}

// ---- 1 and 4: geometry against PostGIS, and the composite source --------------------

#[tokio::test]
async fn region_tiles_agree_with_postgis_and_the_composite_has_the_layers_of_its_zoom() {
    let _loaded = QUIET.read().await;
    let db = imported_db().await;
    // Incidents make the counts, scores, risk levels and hotspot bins vary.
    let scattered: Vec<NewIncident> =
        (1..).zip(SCATTERED).map(|(n, (at, category, severity))| NewIncident { at, category, severity, n }).collect();
    let three_days_ago = (Utc::now() - chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    import_incidents(&db, &scattered, &three_days_ago);
    let server = Server::start(&db.url).await;
    let http = Http::new(&server);
    let regions = region_table(&db).await;
    let counted: u64 = regions.values().filter(|r| r.level == "provinsi").map(|r| r.incidents).sum();
    assert_eq!(counted, SCATTERED.len() as u64, "every incident lies in a province");

    let started = Instant::now();
    let mut bodies = Vec::new();
    let mut problems = Vec::new();
    let mut server_time = Duration::ZERO;
    for &(z, x, y, _) in &TILES {
        for &(source, minzoom, maxzoom) in &REGION_SOURCES {
            if !(minzoom..=maxzoom).contains(&z) {
                continue;
            }
            let name = format!("{source} {z}/{x}/{y}");
            let asked = Instant::now();
            let reply = http.get(&tile_path(source, (z, x, y)), &[]).await;
            server_time += asked.elapsed();
            match reply.status {
                200 if reply.body.is_empty() => {
                    problems.push(format!("{name}: 200 with an empty body (204 is for that)"))
                }
                200 | 204 => {}
                other => problems.push(format!("{name}: status {other}: {}", String::from_utf8_lossy(&reply.body))),
            }
            if reply.header("content-encoding").is_some() {
                problems.push(format!(
                    "{name}: Content-Encoding {:?} without Accept-Encoding",
                    reply.header("content-encoding")
                ));
            }
            let body = if reply.status == 200 { reply.body } else { Vec::new() };
            bodies.push(((source, (z, x, y)), name, body));
        }
    }
    let fetched = started.elapsed();
    let mut references = Vec::new();
    for ((source, tile), _, _) in &bodies {
        references.push(postgis_tile(&db, source, *tile).await);
    }
    let referenced = started.elapsed() - fetched;
    let named: Vec<(String, Vec<u8>)> = bodies.iter().map(|(_, name, body)| (name.clone(), body.clone())).collect();
    let decoded = decode(&named);
    println!(
        "{} region tiles: served in {server_time:?}, PostGIS reference in {referenced:?}, decoded in {:?}",
        bodies.len(),
        started.elapsed() - fetched - referenced
    );

    for (((source, _), name, body), reference) in bodies.iter().zip(&references) {
        let tile = &decoded[name];
        let (found, worst) = compare_with_postgis(name, source, tile, reference, &regions);
        let total: f64 = tile.features(source).iter().filter_map(|f| f.area).sum();
        println!(
            "{name:>28}: {:>5} bytes, {:>4} features (PostGIS {:>4}), area {total:>10.0} (PostGIS {:>10.0}), \
             worst feature {:.2} %, holes {}",
            body.len(),
            tile.features(source).len(),
            reference.len(),
            reference.values().map(|r| r.mvt).sum::<f64>(),
            100.0 * worst,
            tile.features(source).iter().filter_map(|f| f.holes).sum::<usize>(),
        );
        problems.extend(found);
    }
    // The clip is exact: no vertex beyond the 64-unit buffer (-64..4160).
    for (name, tile) in &decoded {
        for (layer, features) in &tile.layers {
            for f in &features.features {
                if let Some([x0, y0, x1, y1]) = f.bounds {
                    if x0 < -64 || y0 < -64 || x1 > 4160 || y1 > 4160 {
                        problems.push(format!(
                            "{name}: {layer} feature {:?}: vertices reach ({x0},{y0})-({x1},{y1}), beyond the buffer",
                            f.id
                        ));
                    }
                }
            }
        }
    }
    // Lakes and enclaves make holes (PostGIS finds dozens at z0-z6): they must survive.
    let holes: usize =
        decoded.values().flat_map(|t| t.layers.values()).flat_map(|l| &l.features).filter_map(|f| f.holes).sum();
    if holes == 0 {
        problems.push("no polygon with a hole in any tile".into());
    }

    problems.extend(composite_layer_problems(&http).await);
    drop(server);
    db.drop().await;
    assert_no_problems("region and composite tiles", &problems);
}

/// The source that serves a layer of the composite on its own.
fn own_source(layer: &str) -> &str {
    match layer {
        "hotspot_regions" | "hotspot_clusters" => "hotspots",
        region_or_incidents => region_or_incidents,
    }
}

/// A layer's features as comparable text: id, kind, attributes and geometry measure.
fn fingerprints(tile: &Decoded, layer: &str) -> Vec<String> {
    let mut all: Vec<String> = tile
        .features(layer)
        .iter()
        .map(|f| format!("{:?} {} {:?} {:?} {:?}", f.id, f.kind, f.properties, f.area, f.coordinates))
        .collect();
    all.sort();
    all
}

/// The composite `sipks` tile over Makassar carries the region layers of its zoom
/// (provinces from 0, regencies and cities from 5, districts from 9) and the incident
/// and hotspot layers wherever they have features, each layer with exactly the
/// features of its own source.
async fn composite_layer_problems(http: &Http) -> Vec<String> {
    let allowed: BTreeSet<&str> = SOURCES[5].3.iter().copied().collect();
    let zooms = [3u8, 4, 5, 6, 8, 9, 10, 12];
    let mut named = Vec::new();
    let mut problems = Vec::new();
    for z in zooms {
        let tile = tile_of(MAKASSAR, z);
        for (source, minzoom, maxzoom, _) in SOURCES {
            if !(minzoom..=maxzoom).contains(&z) {
                continue;
            }
            let reply = http.get(&tile_path(source, tile), &[]).await;
            let regions_or_composite = source != "incidents" && source != "hotspots";
            if reply.status != 200 && (regions_or_composite || reply.status != 204) {
                problems.push(format!("{source} {z}/{tile:?} over Makassar: status {}", reply.status));
            }
            let body = if reply.status == 200 { reply.body } else { Vec::new() };
            named.push((format!("{source} {z}"), body));
        }
    }
    let decoded = decode(&named);
    for z in zooms {
        let composite = &decoded[&format!("sipks {z}")];
        let layers = composite.layer_names();
        println!("sipks {z}/{:?}: layers {layers:?}", tile_of(MAKASSAR, z));
        if let Some(unknown) = layers.iter().find(|l| !allowed.contains(*l)) {
            problems.push(format!("sipks z{z}: unknown layer {unknown}"));
        }
        let region_layers: BTreeSet<&str> =
            layers.iter().copied().filter(|l| REGION_SOURCES.iter().any(|(s, _, _)| s == l)).collect();
        let expected: BTreeSet<&str> = [("provinsi", 0), ("kabupaten_kota", 5), ("kecamatan", 9)]
            .into_iter()
            .filter(|&(_, minzoom)| z >= minzoom)
            .map(|(layer, _)| layer)
            .collect();
        if region_layers != expected {
            problems.push(format!("sipks z{z}: region layers {region_layers:?}, expected {expected:?}"));
        }
        for layer in ["incidents", "hotspot_regions", "hotspot_clusters"] {
            let own = decoded[&format!("{} {z}", own_source(layer))].features(layer).len();
            if (own > 0) != layers.contains(layer) {
                problems.push(format!(
                    "sipks z{z}: layer {layer} present {}, its source has {own} features",
                    layers.contains(layer)
                ));
            }
        }
        for layer in layers.intersection(&allowed) {
            let own = &decoded[&format!("{} {z}", own_source(layer))];
            if fingerprints(composite, layer) != fingerprints(own, layer) {
                problems.push(format!(
                    "sipks z{z}: layer {layer} differs from the {} source ({} and {} features)",
                    own_source(layer),
                    composite.features(layer).len(),
                    own.features(layer).len()
                ));
            }
        }
    }
    problems
}

// ---- 2: the protocol ------------------------------------------------------------------

fn assert_problem(reply: &Reply, status: u16, what: &str) {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, status, "{what}: {body}");
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/problem+json"), "{what}: content type {content_type:?}");
    let problem = reply.json();
    assert_eq!(problem["status"], status, "{what}: {problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}: a problem with a detail: {problem}");
}

fn is_strong_etag(etag: &str) -> bool {
    etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"') && !etag[1..etag.len() - 1].contains('"')
}

fn assert_tilejson(http_base: &str, source: &str, zooms: (u8, u8), layers: &[&str], tilejson: &Value) {
    let what = format!("TileJSON of {source}");
    assert_eq!(tilejson["tilejson"], "3.0.0", "{what}: {tilejson}");
    for key in ["name", "description", "attribution"] {
        assert!(tilejson[key].as_str().is_some_and(|s| !s.is_empty()), "{what}: {key}: {tilejson}");
    }
    let attribution = tilejson["attribution"].as_str().unwrap_or_default();
    assert!(
        attribution.contains("cahyadsn/wilayah_boundaries") && attribution.contains("MIT"),
        "{what}: the attribution names the boundary data and its licence (MIT): {attribution:?}"
    );
    assert_eq!(tilejson["minzoom"], zooms.0, "{what}");
    assert_eq!(tilejson["maxzoom"], zooms.1, "{what}");
    let bounds: Vec<f64> = tilejson["bounds"].as_array().expect("bounds").iter().filter_map(Value::as_f64).collect();
    assert_eq!(bounds.len(), 4, "{what}: bounds {}", tilejson["bounds"]);
    for (got, want) in bounds.iter().zip([94.9, -11.1, 141.1, 6.1]) {
        assert!((got - want).abs() < 1e-9, "{what}: bounds {bounds:?}, expected Indonesia [94.9,-11.1,141.1,6.1]");
    }
    let center: Vec<f64> = tilejson["center"].as_array().expect("center").iter().filter_map(Value::as_f64).collect();
    assert!(
        (2..=3).contains(&center.len())
            && (bounds[0]..=bounds[2]).contains(&center[0])
            && (bounds[1]..=bounds[3]).contains(&center[1]),
        "{what}: center {center:?} inside the bounds"
    );
    let templates = tilejson["tiles"].as_array().expect("tiles");
    assert!(!templates.is_empty(), "{what}");
    for template in templates {
        let template = template.as_str().expect("a tile URL template");
        assert!(
            template.starts_with(&format!("{http_base}/tiles/{source}/{{z}}/{{x}}/{{y}}")),
            "{what}: tile URL {template:?}, expected an absolute URL on {http_base}"
        );
    }
    let vector_layers = tilejson["vector_layers"].as_array().expect("vector_layers");
    let ids: Vec<&str> = vector_layers.iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), layers.iter().copied().collect(), "{what}: vector_layers");
    for layer in vector_layers {
        let id = layer["id"].as_str().unwrap_or_default();
        assert!(layer["fields"].is_object(), "{what}: {id}: fields: {layer}");
        assert!(layer["description"].is_string(), "{what}: {id}: description: {layer}");
        let (minzoom, maxzoom) = match (source, id) {
            ("sipks", "kabupaten_kota") => (5, 14),
            ("sipks", "kecamatan") => (9, 14),
            _ => zooms,
        };
        assert_eq!(
            (layer["minzoom"].as_u64(), layer["maxzoom"].as_u64()),
            (Some(minzoom.into()), Some(maxzoom.into())),
            "{what}: {id}: zooms"
        );
        if REGION_SOURCES.iter().any(|(s, _, _)| *s == id) {
            for (field, _) in REGION_ATTRIBUTES {
                assert!(layer["fields"].get(field).is_some(), "{what}: {id} lists no field {field}: {layer}");
            }
        }
    }
}

#[tokio::test]
async fn tiles_speak_tilejson_gzip_etags_and_problems() {
    let _loaded = QUIET.read().await;
    let db = imported_db().await;
    let server = Server::start(&db.url).await;
    let http = Http::new(&server);

    // TileJSON of every source, and the list of sources.
    for (source, minzoom, maxzoom, layers) in SOURCES {
        let reply = http.get(&format!("/tiles/{source}"), &[]).await;
        assert_eq!(reply.status, 200, "/tiles/{source}");
        assert!(reply.header("content-type").unwrap_or_default().starts_with("application/json"), "/tiles/{source}");
        assert_tilejson(&server.base, source, (minzoom, maxzoom), layers, &reply.json());
    }
    let list = http.get("/tiles", &[]).await;
    assert_eq!(list.status, 200);
    let listed = list.json().to_string();
    for (source, ..) in SOURCES {
        assert!(listed.contains(&format!("\"{source}\"")), "/tiles lists {source}: {listed}");
    }

    // The tile URL from TileJSON works as given.
    let makassar = tile_of(MAKASSAR, 10);
    let path = tile_path("kabupaten_kota", makassar);
    let plain = http.get(&path, &[]).await;
    assert_eq!(plain.status, 200, "{path}");
    let template =
        http.get("/tiles/kabupaten_kota", &[]).await.json()["tiles"][0].as_str().expect("template").to_owned();
    let (z, x, y) = makassar;
    let url = template.replace("{z}", &z.to_string()).replace("{x}", &x.to_string()).replace("{y}", &y.to_string());
    assert_eq!(http.get(&url, &[]).await.body, plain.body, "{url}");

    // Identity: the tile media type, a strong ETag, revalidation, no encoding.
    assert_eq!(plain.header("content-type"), Some("application/vnd.mapbox-vector-tile"));
    assert_eq!(plain.header("content-encoding"), None);
    let etag = plain.etag().to_owned();
    assert!(is_strong_etag(&etag), "strong, quoted ETag: {etag}");
    let cache_control = plain.header("cache-control").unwrap_or_default();
    assert!(cache_control.contains("no-cache"), "Cache-Control {cache_control:?}");
    assert!(
        plain.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
        "Vary: Accept-Encoding on the identity answer too (RFC 9110 12.5.5), so that caches keep both: {:?}",
        plain.header("vary")
    );
    let again = http.get(&path, &[]).await;
    assert_eq!((again.etag(), &again.body), (etag.as_str(), &plain.body), "the same tile twice");
    for suffix in [".mvt", ".pbf"] {
        let reply = http.get(&format!("{path}{suffix}"), &[]).await;
        assert_eq!((reply.status, &reply.body), (200, &plain.body), "{path}{suffix}");
    }

    // gzip: the same tile compressed, with its own strong ETag.
    let gzip = http.get(&path, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert!(
        gzip.header("vary").is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")),
        "{:?}",
        gzip.header("vary")
    );
    assert_eq!(gzip.header("content-type"), Some("application/vnd.mapbox-vector-tile"));
    assert!(gzip.body.len() < plain.body.len(), "gzip {} bytes, identity {}", gzip.body.len(), plain.body.len());
    assert_eq!(gunzip(&gzip.body), plain.body, "the gzip body decompresses to the identity body");
    let gzip_etag = gzip.etag().to_owned();
    assert!(is_strong_etag(&gzip_etag), "{gzip_etag}");
    assert_ne!(
        gzip_etag, etag,
        "a strong ETag names one representation: gzip and identity bytes differ (RFC 9110 8.8.3)"
    );
    let browser = http.get(&path, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(browser.header("content-encoding"), Some("gzip"), "a browser's Accept-Encoding");

    // Conditional requests.
    for (if_none_match, encoding, expected) in [
        (etag.clone(), "identity", 304),
        (format!("\"something-else\", {etag}"), "identity", 304),
        (gzip_etag.clone(), "gzip", 304),
        ("\"something-else\"".to_owned(), "identity", 200),
    ] {
        let reply = http.get(&path, &[("if-none-match", &if_none_match), ("accept-encoding", encoding)]).await;
        assert_eq!(reply.status, expected, "If-None-Match {if_none_match} with {encoding}");
        if expected == 304 {
            assert!(reply.body.is_empty(), "a 304 has no body");
            assert!(reply.header("etag").is_some(), "a 304 repeats the ETag (RFC 9110 15.4.5)");
        }
    }

    // Windows.
    for window in ["7", "30d", "3660"] {
        let reply = http.get(&format!("{path}?window={window}"), &[]).await;
        assert_eq!(reply.status, 200, "window={window}: {}", String::from_utf8_lossy(&reply.body));
    }
    for window in ["0", "abc", "3661", "-1"] {
        assert_problem(&http.get(&format!("{path}?window={window}"), &[]).await, 400, &format!("window={window}"));
    }

    // Errors.
    assert_problem(&http.get("/tiles/nope/0/0/0", &[]).await, 404, "unknown source");
    assert_problem(&http.get("/tiles/nope", &[]).await, 404, "TileJSON of an unknown source");
    for (bad, why) in [
        ("/tiles/provinsi/15/0/0", "z above maxzoom"),
        ("/tiles/kecamatan/5/26/16", "z below the minzoom of districts"),
        ("/tiles/provinsi/3/8/0", "x = 2^z"),
        ("/tiles/provinsi/3/0/8", "y = 2^z"),
        ("/tiles/provinsi/0/1/0.mvt", "x = 2^z with a suffix"),
        ("/tiles/provinsi/a/0/0", "non-numeric z"),
        ("/tiles/provinsi/3/x/0", "non-numeric x"),
        ("/tiles/provinsi/3/0/1.5", "fractional y"),
        ("/tiles/provinsi/3/0/-1", "negative y"),
        ("/tiles/provinsi/99999999999/0/0", "a zoom beyond any integer type"),
    ] {
        assert_problem(&http.get(bad, &[]).await, 400, &format!("{bad} ({why})"));
    }

    // An empty tile, in every source, compressed or not.
    let sea = tile_of(OPEN_SEA, 8);
    for (source, ..) in SOURCES {
        for encoding in ["identity", "gzip"] {
            let reply = http.get(&tile_path(source, sea), &[("accept-encoding", encoding)]).await;
            assert_eq!((reply.status, reply.body.len()), (204, 0), "{source} over the open sea ({encoding})");
        }
    }

    drop(server);
    db.drop().await;
}

// ---- 3: live invalidation -------------------------------------------------------------

/// An incident to load: where, what, how grave; its id in the file is `TILE-{n}`.
struct NewIncident {
    at: (f64, f64),
    category: &'static str,
    severity: u8,
    n: u32,
}

/// Loads incidents (all `occurred_at`, ongoing) through the real `sipks incidents
/// import` command, which notifies running servers; returns how long the command ran.
fn import_incidents(db: &TestDb, incidents: &[NewIncident], occurred_at: &str) -> Duration {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("incidents.csv");
    let mut csv = String::from("lon,lat,occurred_at,category,severity,status,source,description,id\n");
    for NewIncident { at: (lon, lat), category, severity, n } in incidents {
        csv.push_str(&format!("{lon},{lat},{occurred_at},{category},{severity},terjadi,polri,Uji peta,TILE-{n}\n"));
    }
    std::fs::write(&path, csv).expect("write CSV");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_sipks"))
        .args(["--lang", "en", "incidents", "import", path.to_str().expect("path")])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run sipks incidents import");
    let ran = started.elapsed();
    assert!(
        output.status.success(),
        "import: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ran
}

/// Imports incident `n` (severity 4) in central Makassar, then polls the Makassar tile
/// with its previous ETag every 10 ms: how long after the import command exits the new
/// tile is served, and the new tile.
async fn import_and_wait(
    db: &TestDb,
    http: &Http,
    path: &str,
    etag: &str,
    n: u32,
    occurred_at: &str,
) -> (Duration, Reply) {
    let incident =
        NewIncident { at: (MAKASSAR.0 + 0.001 * f64::from(n), MAKASSAR.1), category: "antar_kelompok", severity: 4, n };
    let _quiet = QUIET.write().await;
    let ran = import_incidents(db, &[incident], occurred_at);
    let imported = Instant::now();
    println!("import {n}: the import command ran {ran:?}");
    let deadline = imported + Duration::from_secs(10);
    loop {
        let reply = http.get(path, &[("if-none-match", etag)]).await;
        match reply.status {
            200 => return (imported.elapsed(), reply),
            304 if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(10)).await,
            304 => panic!("{path} still answers 304 to its old ETag 10 s after the import"),
            other => panic!("{path}: status {other}"),
        }
    }
}

#[tokio::test]
async fn an_incident_import_refreshes_its_tiles_within_100_ms_and_no_others() {
    let db = imported_db().await;
    let server = Server::start(&db.url).await;
    let http = Http::new(&server);
    // Incidents are drawn only for a caller whose scope holds them.
    let authorization = format!("Bearer {}", nasional_token(&db, &server.base).await);
    let auth = [("authorization", authorization.as_str())];
    let (makassar, far) = (tile_of(MAKASSAR, 10), tile_of(JAYAPURA, 10));
    let watched: Vec<String> = ["kabupaten_kota", "sipks", "incidents"]
        .into_iter()
        .flat_map(|source| [tile_path(source, makassar), tile_path(source, far)])
        .collect();
    let mut before = HashMap::new();
    for path in &watched {
        before.insert(path.clone(), http.get(path, &auth).await);
    }
    let regency_path = tile_path("kabupaten_kota", makassar);
    let regency = decode_one(&before[&regency_path].body);
    let kota_makassar = regency.feature("kabupaten_kota", 7371).expect("Kota Makassar (7371) in its z10 tile");
    assert_eq!(kota_makassar.number("incident_count"), Some(0.0), "no incidents yet");
    assert_eq!(before[&tile_path("incidents", makassar)].status, 204, "no incidents yet");

    // Whole seconds: the engine keeps times to the second.
    let occurred_at = (Utc::now() - chrono::Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // The measurement, once more if the machine was busy the first time.
    let mut etag = before[&regency_path].etag().to_owned();
    let mut imported = 0;
    let mut attempts = Vec::new();
    let after = loop {
        imported += 1;
        let (elapsed, reply) = import_and_wait(&db, &http, &regency_path, &etag, imported, &occurred_at).await;
        println!("import {imported}: the Makassar tile changed {elapsed:?} after the import command exited");
        attempts.push(elapsed);
        if elapsed <= REFRESH_BUDGET || imported == 2 {
            break reply;
        }
        etag = reply.etag().to_owned();
    };
    assert!(
        attempts.last().is_some_and(|t| *t <= REFRESH_BUDGET),
        "the tile over the imported incident changed {attempts:?} after the import, not within {REFRESH_BUDGET:?}"
    );
    let expected = f64::from(imported);

    let regency = decode_one(&after.body);
    let kota_makassar = regency.feature("kabupaten_kota", 7371).expect("Kota Makassar in its tile");
    assert_eq!(kota_makassar.number("incident_count"), Some(expected), "incident_count of Kota Makassar");
    assert_eq!(kota_makassar.number("severe_count"), Some(expected), "severity 4 is severe");

    // `at` (the time slider, issue 20): the same tile as it stood ten days ago, before
    // the incidents of two days ago; today's date is the current map.
    let wib = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    let today = Utc::now().with_timezone(&wib).date_naive();
    let then = http.get(&format!("{regency_path}?at={}", today - chrono::Duration::days(10)), &[]).await;
    assert_eq!(then.status, 200);
    let before_them = decode_one(&then.body);
    let kota_then = before_them.feature("kabupaten_kota", 7371).expect("Kota Makassar then");
    assert_eq!(kota_then.number("incident_count"), Some(0.0), "ten days ago");
    assert_ne!(then.etag(), after.etag(), "another window, another tile");
    // Compared with the tile fetched just before (the emerging hot spot classes,
    // recomputed in the background after the import, may change it meanwhile).
    let mut same = false;
    for _ in 0..5 {
        let current = http.get(&regency_path, &[]).await;
        let today_tile = http.get(&format!("{regency_path}?at={today}"), &[]).await;
        if today_tile.etag() == current.etag() {
            same = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(same, "today is the current map");
    let tomorrow = http.get(&format!("{regency_path}?at={}", today + chrono::Duration::days(1)), &[]).await;
    assert_eq!(tomorrow.status, 400, "a day still to come");

    // Incidents: a cluster below the cluster zoom, the incidents themselves at it.
    let reply = http.get(&tile_path("incidents", makassar), &auth).await;
    assert_eq!(reply.status, 200, "the incidents tile over Makassar");
    let clusters = decode_one(&reply.body);
    let features = clusters.features("incidents");
    let counted: f64 = features.iter().filter_map(|f| f.number("point_count")).sum();
    assert_eq!(counted, expected, "point_count over the clusters: {features:?}");
    for cluster in features {
        assert_eq!(cluster.kind, "point");
        assert_eq!(cluster.flag("cluster"), Some(true), "{cluster:?}");
        assert_eq!(cluster.text("category"), Some("antar_kelompok"));
        assert_eq!(cluster.number("max_severity"), Some(4.0));
        assert!(
            cluster.attribute_type_problems(&[("point_count", "uint"), ("max_severity", "uint")]).is_empty(),
            "{cluster:?}"
        );
    }
    let ids: Vec<i64> =
        sqlx::query_scalar("select id from incidents order by id").fetch_all(&db.pool).await.expect("incident ids");
    let street = tile_of(MAKASSAR, 12);
    let reply = http.get(&tile_path("incidents", street), &auth).await;
    assert_eq!(reply.status, 200);
    let incidents = decode_one(&reply.body);
    let occurred: DateTime<Utc> = occurred_at.parse().expect("time");
    for (n, id) in ids.iter().enumerate() {
        let incident =
            incidents.feature("incidents", *id as u64).unwrap_or_else(|| panic!("incident {id} at z12: {incidents:?}"));
        assert_eq!(incident.flag("cluster"), Some(false));
        assert_eq!(
            (incident.text("category"), incident.number("severity"), incident.text("status")),
            (Some("antar_kelompok"), Some(4.0), Some("terjadi"))
        );
        assert!(
            incident.attribute_type_problems(&[("severity", "uint"), ("occurred_at", "string")]).is_empty(),
            "{incident:?}"
        );
        let text = incident.text("occurred_at").unwrap_or_default();
        let at: DateTime<Utc> = text.parse().unwrap_or_else(|_| panic!("occurred_at {text:?} in RFC 3339"));
        assert!(text.ends_with('Z') || text.ends_with("+00:00"), "occurred_at {text:?} in UTC");
        assert_eq!(at, occurred, "occurred_at {text:?}");
        let lonlat = (MAKASSAR.0 + 0.001 * (n + 1) as f64, MAKASSAR.1);
        let (want, got) = (in_tile(lonlat, street), incident.point().expect("a point"));
        assert!(
            (want.0 - got.0).abs() <= 1.0 && (want.1 - got.1).abs() <= 1.0,
            "incident {id} at {got:?}, expected {want:?}"
        );
    }

    // Tiles elsewhere keep their ETags; the composite over Makassar changed.
    for source in ["kabupaten_kota", "sipks", "incidents"] {
        let path = tile_path(source, far);
        let old = &before[&path];
        let reply = match old.header("etag") {
            Some(etag) => http.get(&path, &[("if-none-match", etag), auth[0]]).await,
            None => http.get(&path, &auth).await,
        };
        let unchanged: &[u16] = if old.status == 204 { &[204, 304] } else { &[304] };
        if !unchanged.contains(&reply.status) {
            let change = if reply.status == 200 && old.status == 200 {
                format!("before {:?}\nafter {:?}", decode_one(&old.body), decode_one(&reply.body))
            } else {
                String::new()
            };
            panic!(
                "{path} far from Makassar: status {} to its old ETag, expected {unchanged:?}\n{change}",
                reply.status
            );
        }
    }
    let composite = &before[&tile_path("sipks", makassar)];
    let reply = http.get(&tile_path("sipks", makassar), &[("if-none-match", composite.etag()), auth[0]]).await;
    assert_eq!(reply.status, 200, "the composite tile over Makassar changed");
    assert!(decode_one(&reply.body).layer_names().contains("incidents"));

    drop(server);
    db.drop().await;
}

/// Makes a nasional user and logs in: its bearer token.
async fn nasional_token(db: &TestDb, base: &str) -> String {
    let hash = sipks::auth::hash_password("rahasia-sekali-123").expect("hash");
    sipks::db::users::create(&db.pool, "pusat.tiles", "", &hash, sipks::auth::Role::Nasional, None)
        .await
        .expect("user");
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({"username": "pusat.tiles", "password": "rahasia-sekali-123"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login answer");
    reply["token"].as_str().expect("token").to_owned()
}

// ---- 22: the fast path of cached tiles ---------------------------------------------------

/// The answer's headers that must be the same through the router and through the fast
/// path: every one but `date` and a made `x-request-id`.
fn comparable(reply: &Reply) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = reply
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "date" | "x-request-id"))
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    headers.sort();
    headers
}

/// A cached tile is answered ahead of the router and its layers (issue 22). Each
/// request here is made twice on a tile of its own: first a miss, answered by the
/// router (the handler renders it), then a hit, which the fast path answers. The two
/// must be the same answer: status, body and every header (ETag, encoding, caching,
/// security headers, the request id kept or made), for the negotiations, conditional
/// requests, windows, suffixes, errors and a token; and `/metrics` counts the hits
/// under the tile route as it counts the misses.
#[tokio::test]
async fn a_cached_tile_is_answered_as_the_router_answers_it() {
    let _loaded = QUIET.read().await;
    let db = imported_db().await;
    // The deployed log level: hits take the fast path (at debug for tower_http every
    // request goes through the router, to be logged).
    let server = Server::start_with_env(&db.url, &[("RUST_LOG", "info")]).await;
    let http = Http::new(&server);
    let token = nasional_token(&db, &server.base).await;
    let bearer = format!("Bearer {token}");

    // A tile's tags, learnt on another window of it: no incident is loaded, so every
    // window draws the same regions with the same figures and bytes.
    // Distinct tiles: Makassar at zooms 5 to 12.
    let tile = |source: &str, i: u8| tile_path(source, tile_of(MAKASSAR, 5 + i));
    let learnt = http.get(&format!("{}?window=7", tile("kabupaten_kota", 0)), &[]).await;
    let gzip_learnt =
        http.get(&format!("{}?window=7", tile("kabupaten_kota", 0)), &[("accept-encoding", "gzip")]).await;
    let (tag, gzip_tag) = (learnt.etag().to_owned(), gzip_learnt.etag().to_owned());
    let long_id = "x".repeat(100);
    let k = |i: u8, rest: &str| format!("{}{rest}", tile("kabupaten_kota", i));
    let cases: Vec<(String, Vec<(&str, &str)>, u16)> = vec![
        (k(0, ""), vec![], 200),
        (k(1, ""), vec![("accept-encoding", "gzip")], 200),
        (k(2, ""), vec![("accept-encoding", "gzip, deflate, br")], 200),
        (k(3, ""), vec![("accept-encoding", "gzip;q=0")], 200),
        (k(4, ".mvt"), vec![], 200),
        (k(5, ".pbf"), vec![("accept-encoding", "gzip")], 200),
        (k(0, "?window=30"), vec![], 200),
        (k(0, "?window=8"), vec![("if-none-match", &tag)], 304),
        (k(0, "?window=9"), vec![("if-none-match", &gzip_tag), ("accept-encoding", "gzip")], 304),
        (k(0, "?window=10"), vec![("if-none-match", &gzip_tag)], 200),
        (k(0, "?window=11&v=3"), vec![("if-none-match", "\"other\", *")], 304),
        (k(0, "?window=abc"), vec![], 400),
        (k(0, "?colour=red"), vec![], 400),
        (k(6, ""), vec![("x-request-id", "uji-22")], 200),
        (k(7, ""), vec![("x-request-id", &long_id)], 200),
        (tile("sipks", 0), vec![], 200),
        (tile("sipks", 1), vec![("authorization", &bearer)], 200),
        (tile("incidents", 0), vec![], 204),
        (tile_path("provinsi", tile_of(OPEN_SEA, 8)), vec![("accept-encoding", "gzip")], 204),
    ];
    let mut counted = 0.0;
    for (path, headers, status) in &cases {
        let miss = http.get(path, headers).await;
        let hit = http.get(path, headers).await;
        let what = format!("{path} {headers:?}");
        assert_eq!(miss.status, *status, "{what}: {}", String::from_utf8_lossy(&miss.body));
        assert_eq!((hit.status, &hit.body), (miss.status, &miss.body), "{what}");
        assert_eq!(comparable(&hit), comparable(&miss), "{what}");
        for reply in [&miss, &hit] {
            let id = reply.header("x-request-id").unwrap_or_else(|| panic!("{what}: no request id"));
            match headers.iter().find(|(name, _)| *name == "x-request-id") {
                Some((_, sent)) if sent.len() <= 64 => assert_eq!(id, *sent, "{what}"),
                _ => assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{what}: {id}"),
            }
        }
        assert_ne!(miss.header("x-request-id"), None);
        if *status < 400 {
            counted += 2.0;
        }
    }
    let metrics = String::from_utf8(http.get("/metrics", &[]).await.body).expect("text");
    let route = r#"route="/tiles/{source}/{z}/{x}/{y}",method="GET""#;
    let sample = |series: &str| -> f64 {
        metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
    };
    // The two requests that learnt the tags, and every case.
    let answered = sample(&format!("sipks_http_requests_total{{{route},status=\"2xx\"}}"))
        + sample(&format!("sipks_http_requests_total{{{route},status=\"3xx\"}}"));
    assert_eq!(answered, counted + 2.0, "{metrics}");
    let errors = sample(&format!("sipks_http_requests_total{{{route},status=\"4xx\"}}"));
    assert_eq!(errors, 4.0, "{metrics}");
    assert_eq!(
        sample(&format!("sipks_http_request_duration_seconds_count{{{route}}}")),
        answered + errors,
        "{metrics}"
    );
    assert!(sample("sipks_tile_cache_hits_total") >= counted / 2.0, "{metrics}");

    drop(server);
    db.drop().await;
}
