//! Region hotspots on the real boundaries: contiguity and nearest-neighbour weights of
//! the 514 regencies, and Gi* z-scores against PySAL esda (tests/pysal/gi_star.py, run
//! by the interpreter in `SIPKS_PYTHON`, which scripts/test installs).

mod common;

use std::time::Instant;

use geo::{Centroid, MultiPolygon, Point};
use sipks::db::regions::load_shapes;
use sipks::engine::hotspots::{gi_star, Weights, DEFAULT_K, DEFAULT_QUEEN_TOLERANCE_DEG};
use sipks::region::RegionLevel;
use sipks::region::RegionShape;

fn of_level(shapes: &[RegionShape], level: RegionLevel) -> (Vec<&RegionShape>, Vec<MultiPolygon<f64>>) {
    let regions: Vec<&RegionShape> = shapes.iter().filter(|s| s.level == level).collect();
    let polygons = regions.iter().map(|s| s.geometry.clone()).collect();
    (regions, polygons)
}

fn codes<'a>(regions: &[&'a RegionShape], indices: impl IntoIterator<Item = usize>) -> Vec<&'a str> {
    indices.into_iter().map(|i| regions[i].code.as_str()).collect()
}

/// A well-mixed number in [0, 1) for `i` (splitmix64), so that the values need no RNG.
fn noise(i: u64) -> f64 {
    let mut x = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d1_33b1_11eb_049b);
    (x ^ (x >> 31)) as f64 / 2f64.powi(64)
}

/// Incident counts with spatial structure: a noisy background of about 12, with
/// bumps around Poso (Central Sulawesi), Maluku and the central highlands of Papua and
/// a quiet Central Java.
fn synthetic_counts(centroids: &[Point<f64>]) -> Vec<f64> {
    let centres = [(120.75, -1.39, 60.0), (128.18, -3.70, 40.0), (138.5, -4.1, 80.0), (110.4, -7.3, -12.0)];
    centroids
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let bumps: f64 = centres
                .iter()
                .map(|&(x, y, height)| height * (-((c.x() - x).powi(2) + (c.y() - y).powi(2)) / 4.0).exp())
                .sum();
            (12.0 + 6.0 * noise(i as u64) + bumps).max(0.0).floor()
        })
        .collect()
}

/// The Python interpreter with PySAL installed.

/// z-scores of esda's `G_Local(values, w, transform='B', star=True)`.
fn esda_z(values: &[f64], weights: &Weights) -> Vec<f64> {
    let neighbors: Vec<&[u32]> = (0..weights.len()).map(|i| weights.neighbors(i)).collect();
    let input = serde_json::json!({ "values": values, "neighbors": neighbors });
    let output = common::run_reference("pysal/gi_star.py", &input);
    #[derive(serde::Deserialize)]
    struct Output {
        z: Vec<f64>,
    }
    let output: Output = serde_json::from_slice(&output).expect("gi_star.py output");
    output.z
}

fn assert_agrees_with_esda(name: &str, values: &[f64], weights: &Weights) {
    let ours = gi_star(values, weights);
    let theirs = esda_z(values, weights);
    assert_eq!(ours.len(), theirs.len());
    let max_diff = ours.iter().zip(&theirs).map(|(a, b)| (a.z - b).abs()).fold(0.0, f64::max);
    let hot = ours.iter().filter(|g| g.bin > 0).count();
    let cold = ours.iter().filter(|g| g.bin < 0).count();
    println!("{name}: max |z - z_esda| = {max_diff:.2e}, {hot} hot and {cold} cold regencies");
    assert!(max_diff < 1e-6, "{name}: Gi* differs from esda by {max_diff}");
    assert!(hot > 0 && cold > 0, "{name}: the synthetic data has hot and cold spots");
}

#[tokio::test]
async fn gi_star_agrees_with_pysal_on_the_regencies() {
    let db = common::imported_db().await;
    let shapes = load_shapes(&db.pool).await.expect("load region shapes");
    let (regencies, polygons) = of_level(&shapes, RegionLevel::KabupatenKota);
    assert_eq!(regencies.len(), 514);
    let centroids: Vec<Point<f64>> = polygons.iter().map(|p| p.centroid().expect("a regency has an area")).collect();
    let values = synthetic_counts(&centroids);

    let start = Instant::now();
    let queen = Weights::queen(&polygons, DEFAULT_QUEEN_TOLERANCE_DEG);
    println!("queen weights of 514 regencies in {:?}", start.elapsed());
    let knn = Weights::knn(&centroids, DEFAULT_K);

    // Contiguity is symmetric and the same as PostGIS finds (planar distance in
    // degrees, zero for overlaps).
    for i in 0..queen.len() {
        for &j in queen.neighbors(i) {
            assert!(queen.neighbors(j as usize).contains(&(i as u32)), "{i} and {j}");
        }
    }
    let ours: Vec<(String, String)> = (0..queen.len())
        .flat_map(|i| queen.neighbors(i).iter().map(move |&j| (i, j as usize)))
        .filter(|(i, j)| i < j)
        .map(|(i, j)| (regencies[i].code.to_string(), regencies[j].code.to_string()))
        .collect();
    let postgis: Vec<(String, String)> = sqlx::query_as(
        "select a.code, b.code from regions a join regions b
             on b.level = a.level and a.code < b.code and st_dwithin(a.geom, b.geom, $1)
         where a.level = 'kabupaten_kota' order by a.code, b.code",
    )
    .bind(DEFAULT_QUEEN_TOLERANCE_DEG)
    .fetch_all(&db.pool)
    .await
    .expect("query");
    db.drop().await;
    assert_eq!(ours, postgis, "queen pairs of regencies");
    let index = |code: &str| regencies.iter().position(|r| r.code.as_str() == code).expect(code);
    assert_eq!(
        codes(&regencies, queen.neighbors(index("34.71")).iter().map(|&j| j as usize)),
        ["34.02", "34.04"],
        "Kota Yogyakarta lies between Bantul and Sleman"
    );
    // Java without the Thousand Islands (31.01), and Kalimantan without the island city
    // of Tarakan (65.71), are land: every regency there has a neighbour.
    let islands = codes(&regencies, queen.islands());
    let on_mainland = |code: &str| {
        let province: u8 = code[..2].parse().expect("province code");
        ((31..=36).contains(&province) && code != "31.01") || ((61..=65).contains(&province) && code != "65.71")
    };
    let stranded: Vec<&&str> = islands.iter().filter(|c| on_mainland(c)).collect();
    assert!(stranded.is_empty(), "mainland regencies without a queen neighbour: {stranded:?}");
    println!("{} regencies without a queen neighbour: {islands:?}", islands.len());
    assert!((20..=45).contains(&islands.len()), "{} island regencies", islands.len());
    assert!((0..knn.len()).all(|i| knn.neighbors(i).len() == DEFAULT_K));

    assert_agrees_with_esda("queen", &values, &queen);
    assert_agrees_with_esda("knn(8)", &values, &knn);
}

#[tokio::test]
async fn queen_weights_of_all_districts_are_quick() {
    let db = common::imported_db().await;
    let shapes = load_shapes(&db.pool).await.expect("load region shapes");
    db.drop().await;
    let (districts, polygons) = of_level(&shapes, RegionLevel::Kecamatan);
    assert_eq!(districts.len(), 7285);
    let vertices: usize = polygons
        .iter()
        .flat_map(|p| p.iter())
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum();
    let start = Instant::now();
    let queen = Weights::queen(&polygons, DEFAULT_QUEEN_TOLERANCE_DEG);
    let elapsed = start.elapsed();
    let islands = queen.islands().count();
    let mean = (0..queen.len()).map(|i| queen.neighbors(i).len()).sum::<usize>() as f64 / queen.len() as f64;
    println!(
        "queen weights of 7,285 districts ({vertices} vertices) in {elapsed:?}: \
         {mean:.2} neighbours on average, {islands} without any"
    );
    assert!(elapsed.as_secs_f64() < 5.0, "{elapsed:?}");
    assert!((4.0..7.0).contains(&mean), "a planar map has about 6 neighbours per region");
}
