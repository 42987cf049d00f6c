//! Boundary import against real PostGIS with the real data in ../shared/boundaries:
//! counts, validity, nesting, idempotency, both formats, updates, malformed files.

mod common;

use std::path::{Path, PathBuf};

use common::{empty_db, geojson_dir, imported_db, wilayah_dir};
use sipks::boundaries::{self, ImportError, ImportOptions};
use sipks::region::RegionLevel;

async fn import(db: &common::TestDb, paths: &[PathBuf]) -> Result<boundaries::ImportReport, ImportError> {
    boundaries::import(&db.pool, paths, &ImportOptions::default()).await
}

#[tokio::test]
async fn all_levels_are_stored_valid_and_nested() {
    let db = imported_db().await;
    for (level, expected) in [("provinsi", 38), ("kabupaten_kota", 514), ("kecamatan", 7285)] {
        let n = db.count(&format!("select count(*) from regions where level = '{level}'")).await;
        assert_eq!(n, expected, "{level}");
    }
    let invalid = db
        .count(
            "select count(*) from regions where not st_isvalid(geom) or not st_isvalid(geom_published)
             or geometrytype(geom) <> 'MULTIPOLYGON' or st_srid(geom) <> 4326",
        )
        .await;
    assert_eq!(invalid, 0, "every stored geometry is a valid MultiPolygon in EPSG:4326");
    let label_outside = db.count("select count(*) from regions where not st_intersects(label_point, geom)").await;
    assert_eq!(label_outside, 0, "label points lie inside their region");
    // Area of each child outside its parent, as a fraction of the child's own area.
    for level in ["kabupaten_kota", "kecamatan"] {
        let outside = db
            .count(&format!(
                "select count(*) from regions c join regions p on p.code = c.parent_code
                 where c.level = '{level}'
                   and st_area(st_difference(c.geom, p.geom)) >= 0.01 * st_area(c.geom)"
            ))
            .await;
        assert_eq!(outside, 0, "every {level} lies within its parent (< 1 % of its area outside)");
    }
    let orphans = db
        .count("select count(*) from regions c left join regions p on p.code = c.parent_code where c.level <> 'provinsi' and p.code is null")
        .await;
    assert_eq!(orphans, 0);
    let autonomous = db.count("select count(*) from regions where level <> 'kecamatan' and autonomous").await;
    let pilkada = db.count("select count(*) from regions where level <> 'kecamatan' and elects_head").await;
    assert_eq!((autonomous, pilkada), (546, 545), "545 daerah hold regional elections");
    let jakarta: Vec<String> =
        sqlx::query_scalar("select code from regions where level <> 'kecamatan' and not autonomous order by code")
            .fetch_all(&db.pool)
            .await
            .expect("query");
    assert_eq!(jakarta, ["31.01", "31.71", "31.72", "31.73", "31.74", "31.75"]);
    // Kabupaten Sorong's mainland is published as a "hole" of a 7-point ring; read
    // literally it would leave almost nothing. Even-odd filling keeps it.
    let sorong: f64 =
        sqlx::query_scalar("select st_area(geom_published::geography) / 1e6 from regions where code = '96.01'")
            .fetch_one(&db.pool)
            .await
            .expect("query");
    assert!(sorong > 10_000.0, "96.01 is {sorong} km²");
    db.drop().await;
}

#[tokio::test]
async fn reimporting_the_same_data_changes_nothing() {
    let db = imported_db().await;
    let before = db.fingerprint().await;
    let report = import(&db, &[wilayah_dir()]).await.expect("re-import");
    for level in RegionLevel::ALL {
        let c = report.level(level);
        assert_eq!((c.inserted, c.updated), (0, 0), "{level}: {c:?}");
        assert_eq!(c.unchanged, c.read, "{level}");
    }
    assert!(report.repairs.is_empty() && report.extended.is_empty());
    assert_eq!(db.fingerprint().await, before, "same rows, same geometry hashes, same timestamps");
    assert_eq!(db.count("select count(*) from regions").await, 7837);
    db.drop().await;
}

#[tokio::test]
async fn geojson_and_wilayah_sql_give_the_same_regions() {
    let from_sql = imported_db().await;
    let from_geojson = empty_db().await;
    let report = import(&from_geojson, &[geojson_dir()]).await.expect("import GeoJSON");
    assert_eq!(report.level(RegionLevel::Kecamatan).inserted, 7285);
    let rows = |db: &common::TestDb| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_as::<_, (String, String, String, Option<String>, String)>(
                "select code, name, level::text, parent_code, md5(st_asbinary(geom)) from regions order by code",
            )
            .fetch_all(&pool)
            .await
            .expect("query")
        }
    };
    let (a, b) = (rows(&from_sql).await, rows(&from_geojson).await);
    assert_eq!(a.len(), 7837);
    assert!(a == b, "both formats give identical regions and geometries");
    from_sql.drop().await;
    from_geojson.drop().await;
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

/// A GeoJSON FeatureCollection of one feature per (code, name, ring).
fn collection(features: &[(&str, &str, &str)]) -> String {
    let features: Vec<String> = features
        .iter()
        .map(|(code, name, coords)| {
            format!(
                r#"{{"type":"Feature","properties":{{"kode":"{code}","nama":"{name}"}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}"#
            )
        })
        .collect();
    format!(r#"{{"type":"FeatureCollection","features":[{}]}}"#, features.join(","))
}

const SMALL_SQUARE: &str = "[[[119.40,-5.14],[119.41,-5.14],[119.41,-5.13],[119.40,-5.13],[119.40,-5.14]]]";

#[tokio::test]
async fn malformed_files_are_rejected_and_change_nothing() {
    let db = imported_db().await;
    let before = db.fingerprint().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let sql = std::fs::read_to_string(wilayah_dir().join("kab/wilayah_boundaries_kab_73.sql")).expect("read");
    let geojson = std::fs::read_to_string(geojson_dir().join("kabupaten_kota.geojson")).expect("read");
    // A valid new district next to the bad record: it must not be stored either.
    let good = ("73.71.90", "Kecamatan Uji", SMALL_SQUARE);
    let cases: Vec<(&str, PathBuf, &str)> = vec![
        ("truncated SQL dump", write(dir.path(), "kab_73_truncated.sql", &sql[..sql.len() * 3 / 5]), "record"),
        ("broken JSON", write(dir.path(), "kab_broken.geojson", &geojson[..geojson.len() / 2]), "record"),
        (
            "latitude out of range",
            write(
                dir.path(),
                "lat.sql",
                "INSERT INTO wilayah_boundaries(kode,nama,lat,lng,path) VALUES \
                 ('73.71.91','Uji',0,0,'[[[-5.14,119.40],[-5.14,119.41],[95.13,119.41],[-5.14,119.40]]]');",
            ),
            "latitude 95.13",
        ),
        (
            "unknown parent",
            write(dir.path(), "parent.geojson", &collection(&[good, ("73.99.01", "Yatim", SMALL_SQUARE)])),
            "unknown parent 73.99",
        ),
        (
            "duplicate code",
            write(
                dir.path(),
                "dup.geojson",
                &collection(&[good, ("73.71.92", "A", SMALL_SQUARE), ("73.71.92", "B", SMALL_SQUARE)]),
            ),
            "duplicate code",
        ),
    ];
    for (case, path, expected) in cases {
        let err = import(&db, std::slice::from_ref(&path)).await.expect_err(case);
        let message = err.to_string();
        let file = path.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(message.contains(file), "{case}: error names the file: {message}");
        assert!(message.contains("record"), "{case}: error names the record: {message}");
        assert!(message.contains(expected), "{case}: {message}");
        assert_eq!(db.fingerprint().await, before, "{case}: the database keeps the boundaries it had");
    }
    db.drop().await;
}

#[tokio::test]
async fn a_newer_version_updates_in_place_and_renests_the_parents() {
    let db = imported_db().await;
    let island = "st_setsrid(st_point(119.105, -4.995), 4326)";
    let covered = |code: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(&format!(
                "select st_covers(geom, {island}) from regions where code = '{code}'"
            ))
            .fetch_one(&pool)
            .await
            .expect("query")
        }
    };
    assert!(!covered("73").await && !covered("73.71").await);
    // Kota Makassar, renamed and with a new island at sea.
    let geometry: String = sqlx::query_scalar(
        "select st_asgeojson(st_union(geom_published, st_makeenvelope(119.10, -5.00, 119.11, -4.99, 4326)), 15)
         from regions where code = '73.71'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("query");
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"kode":"73.71","nama":"Kota Makassar (baru)","level":"kabupaten_kota","induk":"73"}},"geometry":{geometry}}}]}}"#
    );
    let path = write(dir.path(), "makassar.geojson", &text);
    let report = import(&db, &[path]).await.expect("import newer version");
    assert_eq!(report.level(RegionLevel::KabupatenKota).updated, 1);
    assert_eq!(db.count("select count(*) from regions").await, 7837, "updated in place, nothing duplicated");
    let name: String =
        sqlx::query_scalar("select name from regions where code = '73.71'").fetch_one(&db.pool).await.expect("q");
    assert_eq!(name, "Kota Makassar (baru)");
    assert!(covered("73.71").await, "the regency has its new island");
    assert!(covered("73").await, "the province was extended to cover it");
    db.drop().await;
}
