//! Emerging hot spots against independent implementations: each bin's Gi* against PySAL
//! esda on the real regencies' queen weights, each region's Mann-Kendall trend against
//! pymannkendall (tests/pysal/emerging.py, run by the interpreter in `SIPKS_PYTHON`),
//! and the classes on a grid with planted patterns.

mod common;

use geo::{polygon, Centroid, MultiPolygon, Point};
use serde::Deserialize;
use serde_json::Value;
use sipks::db::regions::load_shapes;
use sipks::engine::emerging::{analyse, Cube, Pattern, RegionTrend};
use sipks::engine::hotspots::{Weights, DEFAULT_QUEEN_TOLERANCE_DEG};
use sipks::region::RegionLevel;

/// A well-mixed number in [0, 1) for `i` (splitmix64), so that the values need no RNG.
fn noise(i: u64) -> f64 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d1_33b1_11eb_049b);
    (x ^ (x >> 31)) as f64 / 2f64.powi(64)
}

#[derive(Deserialize)]
struct Reference {
    /// esda's Zs per bin (None for a bin of equal values, which esda cannot score).
    z: Vec<Option<Vec<f64>>>,
    trend: Vec<ReferenceTrend>,
}

#[derive(Deserialize)]
struct ReferenceTrend {
    s: f64,
    var_s: f64,
    z: f64,
    p: f64,
    tau: f64,
    slope: f64,
    intercept: f64,
}

fn reference(cube: &Cube, weights: &Weights, results: &[RegionTrend]) -> Reference {
    let bins: Vec<&[f64]> = (0..cube.bins()).map(|b| cube.bin(b)).collect();
    let neighbors: Vec<&[u32]> = (0..weights.len()).map(|i| weights.neighbors(i)).collect();
    let series: Vec<Vec<f64>> = results.iter().map(|r| r.gi.iter().map(|g| g.z).collect()).collect();
    let input = serde_json::json!({ "bins": bins, "neighbors": neighbors, "series": series });
    serde_json::from_slice(&common::run_reference("pysal/emerging.py", &input)).expect("emerging.py output")
}

/// Every bin's z within 1e-6 of esda's, every trend within 1e-9 of pymannkendall's.
fn assert_agrees(name: &str, cube: &Cube, weights: &Weights, results: &[RegionTrend]) {
    let theirs = reference(cube, weights, results);
    assert_eq!(theirs.z.len(), cube.bins());
    let mut max_z = 0.0f64;
    for (b, z) in theirs.z.iter().enumerate() {
        match z {
            Some(z) => {
                for (r, esda) in z.iter().enumerate() {
                    max_z = max_z.max((results[r].gi[b].z - esda).abs());
                }
            }
            None => assert!(results.iter().all(|r| r.gi[b].z == 0.0), "{name}: bin {b} of equal values"),
        }
    }
    let mut max_trend = 0.0f64;
    for (ours, theirs) in results.iter().map(|r| r.trend).zip(&theirs.trend) {
        for (a, b) in [
            (ours.s, theirs.s),
            (ours.var_s, theirs.var_s),
            (ours.z, theirs.z),
            (ours.p, theirs.p),
            (ours.tau, theirs.tau),
            (ours.slope, theirs.slope),
            (ours.intercept, theirs.intercept),
        ] {
            max_trend = max_trend.max((a - b).abs());
        }
    }
    println!("{name}: max |z - z_esda| = {max_z:.2e}, max trend difference from pymannkendall = {max_trend:.2e}");
    assert!(max_z < 1e-6, "{name}: Gi* differs from esda by {max_z}");
    assert!(max_trend < 1e-9, "{name}: the trend differs from pymannkendall by {max_trend}");
}

/// 52 weekly bins of incident counts on the 514 regencies: a noisy background that
/// drifts, a cluster around Poso (Central Sulawesi) growing week by week and one in
/// the central highlands of Papua fading.
#[tokio::test]
async fn gi_star_and_trends_agree_with_pysal_and_pymannkendall_on_the_regencies() {
    let db = common::imported_db().await;
    let shapes = load_shapes(&db.pool).await.expect("load region shapes");
    db.drop().await;
    let polygons: Vec<MultiPolygon<f64>> =
        shapes.iter().filter(|s| s.level == RegionLevel::KabupatenKota).map(|s| s.geometry.clone()).collect();
    assert_eq!(polygons.len(), 514);
    let centroids: Vec<Point<f64>> = polygons.iter().map(|p| p.centroid().expect("a regency has an area")).collect();
    let weights = Weights::queen(&polygons, DEFAULT_QUEEN_TOLERANCE_DEG);
    let rows: Vec<Vec<f64>> = (0..52u64)
        .map(|week| {
            let t = week as f64 / 51.0;
            centroids
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let bump = |x: f64, y: f64, height: f64| {
                        height * (-((c.x() - x).powi(2) + (c.y() - y).powi(2)) / 4.0).exp()
                    };
                    let value = 3.0
                        + 4.0 * noise(week * 1000 + i as u64)
                        + bump(120.75, -1.39, 5.0 + 30.0 * t)
                        + bump(138.5, -4.1, 35.0 - 30.0 * t);
                    value.floor()
                })
                .collect()
        })
        .collect();
    let cube = Cube::from_rows(&rows);
    let results = analyse(&cube, &weights, false);
    assert_agrees("regencies, 52 weeks, queen", &cube, &weights, &results);
    let hot = results.iter().filter(|r| r.gi[51].bin > 0).count();
    assert!(hot > 0, "the synthetic data has hot spots in the last week");
    // The same with the false-discovery-rate correction: z and trends are unchanged,
    // the bins only move towards zero.
    let corrected = analyse(&cube, &weights, true);
    for (a, b) in corrected.iter().zip(&results) {
        assert_eq!(a.trend, b.trend);
        for (x, y) in a.gi.iter().zip(&b.gi) {
            assert_eq!(x.z, y.z);
            assert!(x.bin.abs() <= y.bin.abs() && x.bin * y.bin >= 0);
        }
    }
}

/// A 15 x 15 grid of unit squares over 20 bins, background counts 20 to 25, with 3 x 3
/// blocks planted: a new hot spot (hot only in the last bin), an intensifying one
/// (40 rising by 3 a bin), a diminishing one (100 falling by 3 a bin) and an
/// oscillating one (empty in the first five bins, hot in the last).
#[test]
fn planted_patterns_are_found() {
    const SIDE: usize = 15;
    const BINS: usize = 20;
    let cells: Vec<MultiPolygon<f64>> = (0..SIDE * SIDE)
        .map(|i| {
            let (x, y) = ((i % SIDE) as f64, (i / SIDE) as f64);
            MultiPolygon::new(vec![
                polygon![(x: x, y: y), (x: x + 1.0, y: y), (x: x + 1.0, y: y + 1.0), (x: x, y: y + 1.0)],
            ])
        })
        .collect();
    let weights = Weights::queen(&cells, 0.0);
    let block = |row: usize, col: usize| -> Vec<usize> {
        (row - 1..=row + 1).flat_map(|r| (col - 1..=col + 1).map(move |c| r * SIDE + c)).collect()
    };
    let centre = |row: usize, col: usize| row * SIDE + col;
    let (new, intensifying, diminishing, oscillating) = ((2, 2), (2, 11), (11, 2), (11, 11));
    let rows: Vec<Vec<f64>> = (0..BINS)
        .map(|b| {
            let mut values: Vec<f64> =
                (0..SIDE * SIDE).map(|i| (20.0 + 6.0 * noise((b * 1000 + i) as u64)).floor()).collect();
            let bf = b as f64;
            let mut set = |(row, col): (usize, usize), v: f64| {
                for i in block(row, col) {
                    values[i] = v;
                }
            };
            if b == BINS - 1 {
                set(new, 60.0);
                set(oscillating, 60.0);
            }
            if b < 5 {
                set(oscillating, 0.0);
            }
            set(intensifying, 40.0 + 3.0 * bf);
            set(diminishing, 100.0 - 3.0 * bf);
            values
        })
        .collect();
    let cube = Cube::from_rows(&rows);
    let results = analyse(&cube, &weights, false);
    assert_agrees("planted grid", &cube, &weights, &results);
    let class = |(row, col): (usize, usize)| results[centre(row, col)].pattern;
    assert_eq!(class(new), Pattern::NewHotSpot, "{:?}", results[centre(2, 2)]);
    assert_eq!(class(intensifying), Pattern::IntensifyingHotSpot, "{:?}", results[centre(2, 11)].trend);
    assert_eq!(class(diminishing), Pattern::DiminishingHotSpot, "{:?}", results[centre(11, 2)].trend);
    assert_eq!(class(oscillating), Pattern::OscillatingHotSpot);
    // A background cell far from every block shows no hot pattern.
    let quiet = results[centre(7, 7)].pattern;
    assert!(!quiet.as_str().ends_with("hot_spot"), "{quiet:?}");
}

/// The endpoint on the real server over incidents loaded through `sipks incidents
/// import`: each bin's counts equal what PostGIS' assignment stored for that bin, a
/// region with more incidents every week is a hot spot with a rising trend, a
/// second request gets the same analysis, and malformed parameters get problem+json.
#[tokio::test]
async fn the_endpoint_bins_counts_as_stored_and_refuses_bad_parameters() {
    use chrono::Utc;
    let db = common::imported_db().await;
    let dir = tempfile::tempdir().expect("dir");
    let mut csv = String::from("lon,lat,occurred_at,category,severity,status,source,description,id\n");
    let now = Utc::now();
    let mut id = 0;
    // Kota Makassar (73.71): 2 incidents 7 weeks ago, rising by 3 a week to 20 in the
    // last one; a steady 2 a week in Kota Yogyakarta (34.71) and Kota Medan (12.71).
    for week in 0..8i64 {
        let makassar = 2 + 3 * (7 - week) - if week == 0 { 1 } else { 0 };
        for (x, y, n) in [(119.42, -5.14, makassar), (110.37, -7.80, 2), (98.67, 3.59, 2)] {
            for i in 0..n {
                let t = now - chrono::Duration::days(7 * week) - chrono::Duration::hours(12 + i);
                let (dx, dy) = (0.002 * (i % 5) as f64, 0.002 * (i / 5) as f64);
                csv.push_str(&format!(
                    "{},{},{},antar_kelompok,3,terjadi,polri,Bentrok {id},EM-{id}\n",
                    x + dx,
                    y + dy,
                    t.to_rfc3339()
                ));
                id += 1;
            }
        }
    }
    let path = dir.path().join("incidents.csv");
    std::fs::write(&path, &csv).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipks"))
        .args(["--lang", "en", "incidents", "import", path.to_str().expect("path")])
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("run sipks");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let server = common::Server::start(&db.url).await;
    let (status, body) = server.get("/api/hotspots/emerging?level=kabupaten_kota&value=count&bins=8").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 514);
    assert_eq!(body["bins"].as_array().expect("bins").len(), 8);
    assert_eq!((body["bin"].as_str(), body["value"].as_str()), (Some("week"), Some("count")));
    let regions = body["regions"].as_array().expect("regions");
    for kode in ["73.71", "34.71", "12.71"] {
        let region = regions.iter().find(|r| r["kode"] == kode).expect("region listed");
        for (b, span) in body["bins"].as_array().expect("bins").iter().enumerate() {
            let stored: i64 = sqlx::query_scalar(
                "select count(*) from incidents where kabupaten_kota_code = $1
                 and occurred_at >= $2::timestamptz and occurred_at <= $3::timestamptz",
            )
            .bind(kode)
            .bind(span["start"].as_str().expect("start"))
            .bind(span["end"].as_str().expect("end"))
            .fetch_one(&db.pool)
            .await
            .expect("count");
            assert_eq!(region["values"][b].as_f64(), Some(stored as f64), "{kode} bin {b}");
        }
    }
    let makassar = regions.iter().find(|r| r["kode"] == "73.71").expect("Makassar");
    assert!(makassar["trend"]["tau"].as_f64().expect("tau") > 0.5, "{}", makassar["trend"]);
    assert!(makassar["gi_bin"][7].as_i64().expect("bin") > 0, "{makassar}");
    assert!(makassar["pattern"].as_str().expect("pattern").ends_with("hot_spot"), "{makassar}");
    assert_eq!(
        body["summary"].as_object().expect("summary").values().filter_map(Value::as_u64).sum::<u64>(),
        514,
        "every region in one class"
    );
    let (_, again) = server.get("/api/hotspots/emerging?level=kabupaten_kota&value=count&bins=8").await;
    assert_eq!(again["regions"], body["regions"], "the same analysis while the engine does not change");
    let (status, months) =
        server.get("/api/hotspots/emerging?level=kecamatan&bin=month&weights=knn&k=6&fdr=true").await;
    assert_eq!(status, 200);
    assert_eq!((months["count"].as_u64(), months["bins"].as_array().map(Vec::len)), (Some(7285), Some(12)));

    for (query, param) in [
        ("bin=day", "bin"),
        ("bins=3", "bins"),
        ("bin=month&bins=121", "bins"),
        ("value=rate", "value"),
        ("weights=rook", "weights"),
        ("level=desa", "level"),
        ("fdr=maybe", "fdr"),
    ] {
        let (status, content_type, problem) = server.get_full(&format!("/api/hotspots/emerging?{query}")).await;
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(content_type, "application/problem+json", "{query}");
        assert_eq!(problem["code"], "invalid-parameter", "{query}: stable code: {problem}");
        let kind = problem["type"].as_str().unwrap_or_default();
        assert!(kind.ends_with("/problems/invalid-parameter"), "{query}: type names its page: {problem}");
        assert_eq!(problem["parameter"], param, "{query}: {problem}");
        assert_eq!(problem["title"], "Parameter tidak valid", "Bahasa Indonesia first: {problem}");
    }
    let (status, _, problem) = server.get_full("/api/hotspots/emerging?window=30").await;
    assert_eq!(status, 400, "unknown parameter: {problem}");
    drop(server);
    db.drop().await;
}
