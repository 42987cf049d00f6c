//! Exports (issue 7) read by independent clients: GDAL's `ogrinfo`/`ogr2ogr` read every
//! format of every layer with the feature counts of PostGIS and geometries equal to
//! PostGIS' within the 7-decimal rounding; shapely finds every exported geometry valid
//! and wound by the right-hand rule; the filters select what SQL selects; scopes hold
//! (an operator of 73.71 exports only its incidents, nobody exports deleted ones, an
//! anonymous caller none); bad queries are problems naming the reason; `sipks export`
//! writes what the server serves.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;

use common::export_fixture as fixture;
use fixture::{fixture, gdal, ogr_count, ogr_geojson, python};

const FORMATS: [&str; 5] = ["geojson", "ndjson", "csv", "fgb", "gpkg"];

/// PostGIS' count of what an export of `layer` must hold (nasional scope).
async fn postgis_count(pool: &sqlx::PgPool, layer: &str) -> i64 {
    let sql = match layer {
        "incidents" => "select count(*) from incidents where deleted_at is null".to_owned(),
        "hotspots" | "emerging" => "select count(*) from regions where level = 'kabupaten_kota'".to_owned(),
        level => format!("select count(*) from regions where level = '{level}'"),
    };
    sqlx::query_scalar(&sql).fetch_one(pool).await.expect("count")
}

/// The feature's key: incident id, region code or cluster number, as text (CSV reads
/// every field as text).
fn key(layer: &str, feature: &Value) -> String {
    let name = match layer {
        "incidents" => "id",
        "clusters" => "cluster",
        _ => "kode",
    };
    // GDAL takes a GeoJSON Feature's `id` for the feature id and leaves it out of the
    // properties.
    let value = feature["properties"].get(name).filter(|v| !v.is_null()).unwrap_or(&feature["id"]);
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks GDAL's geometries of a sample of features against PostGIS' on the 7-decimal
/// grid (`ST_SnapToGrid`, or `ST_ReducePrecision` where snapping alone is invalid): same
/// type, within 2e-7 degrees everywhere (Hausdorff), same area within a millionth.
async fn assert_geometries_match(pool: &sqlx::PgPool, layer: &str, format: &str, features: &[Value]) {
    let sample: Vec<&Value> = features.iter().step_by((features.len() / 25).max(1)).collect();
    for feature in sample {
        let key = key(layer, feature);
        let geometry = feature["geometry"].to_string();
        let reference = match layer {
            "incidents" => {
                "select coalesce(i.geom, r.label_point) from incidents i
                            left join regions r on r.code = i.region_code where i.id::text = $2"
            }
            // What the export promises: the boundary on the 7-decimal grid.
            _ => {
                "select case when (st_isvaliddetail(st_snaptogrid(geom, 1e-7))).valid then st_snaptogrid(geom, 1e-7)
                         else st_reduceprecision(geom, 1e-7) end from regions where code = $2"
            }
        };
        // Vertex for vertex on the grid (normalised: ring order and winding aside);
        // the Hausdorff distance, slow on large polygons, only where they differ.
        let sql = format!(
            "select st_geometrytype(a.g) = st_geometrytype(b.geom),
                    case when st_orderingequals(st_normalize(st_snaptogrid(a.g, 1e-7)), st_normalize(st_snaptogrid(b.geom, 1e-7)))
                         then 0 else st_hausdorffdistance(a.g, b.geom) end,
                    abs(st_area(a.g) - st_area(b.geom)) / greatest(st_area(b.geom), 1e-12)
             from (select st_setsrid(st_geomfromgeojson($1), 4326) as g) a, ({reference}) b(geom)"
        );
        let (same_type, distance, area): (bool, f64, f64) = sqlx::query_as(&sql)
            .bind(&geometry)
            .bind(&key)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{layer} {format} {key}: {e}"));
        assert!(same_type, "{layer} {format} {key}: geometry type differs: {geometry:.200}");
        assert!(distance <= 2e-7, "{layer} {format} {key}: {distance} degrees from PostGIS");
        assert!(area <= 1e-6, "{layer} {format} {key}: area differs by {area} (relative)");
    }
}

#[tokio::test]
async fn gdal_reads_every_format_with_the_counts_and_geometries_of_postgis() {
    let f = fixture();
    let pool = f.pool().await;
    for layer in ["incidents", "provinsi", "kabupaten_kota", "hotspots", "clusters", "emerging"] {
        let mut counts = BTreeMap::new();
        for format in FORMATS {
            let file = f
                .download(
                    &format!("/api/export/{layer}?format={format}"),
                    Some(&f.nasional),
                    &format!("{layer}.{format}"),
                )
                .await;
            let source = file.to_str().expect("path");
            let count = ogr_count(source, &[]);
            let read = ogr_geojson(source, &[]);
            let features = read["features"].as_array().expect("features");
            assert_eq!(features.len() as i64, count, "{layer} {format}");
            assert!(features.iter().all(|f| f["geometry"].is_object()), "{layer} {format}: GDAL read every geometry");
            if layer != "clusters" {
                assert_eq!(count, postgis_count(&pool, layer).await, "{layer} {format}: PostGIS' count");
                assert_geometries_match(&pool, layer, format, features).await;
            }
            counts.insert(format, count);
        }
        let first = counts["geojson"];
        assert!(counts.values().all(|&c| c == first), "{layer}: every format has as many features: {counts:?}");
        assert!(first > 0, "{layer}: something to export");
    }
    // FlatGeobuf carries its spatial index: GDAL answers a spatial filter from it.
    let fgb = f.dir.join("incidents.fgb");
    let info = gdal("ogrinfo", &["-ro", "-so", "-al", fgb.to_str().expect("path")]);
    assert!(info.contains("Geometry: Unknown") || info.contains("Geometry:"), "{info}");
    let in_makassar = ogr_count(fgb.to_str().expect("path"), &["-spat", "119.3", "-5.3", "119.6", "-5.0"]);
    let expected: i64 = sqlx::query_scalar(
        "select count(*) from incidents i left join regions r on r.code = i.region_code
         where deleted_at is null and st_intersects(coalesce(i.geom, r.label_point), st_makeenvelope(119.3, -5.3, 119.6, -5.0, 4326))",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(in_makassar, expected, "FlatGeobuf read through its index with a spatial filter");
    let header = std::fs::read(&fgb).expect("read");
    assert_eq!(&header[..3], b"fgb", "FlatGeobuf magic bytes");
    pool.close().await;
}

/// Shapely: every geometry valid, every polygon's exterior counter-clockwise and holes
/// clockwise (RFC 7946), no coordinate with more than 7 decimals, no `crs` member.
const SHAPELY_CHECK: &str = r#"
import json, sys
from shapely.geometry import shape
from shapely.validation import explain_validity
doc = json.load(open(sys.argv[1]))
assert doc["type"] == "FeatureCollection" and "crs" not in doc, "one FeatureCollection without crs"
bad, wound, decimals, n = [], [], [], 0
def rings(g):
    if g["type"] == "Polygon": yield from enumerate(g["coordinates"])
    if g["type"] == "MultiPolygon":
        for p in g["coordinates"]: yield from enumerate(p)
def coords(c):
    if isinstance(c[0], (int, float)): yield c
    else:
        for x in c: yield from coords(x)
def area2(r):
    x0, y0 = r[0]
    return sum((a[0]-x0)*(b[1]-y0) - (b[0]-x0)*(a[1]-y0) for a, b in zip(r, r[1:]))
for f in doc["features"]:
    n += 1
    g = shape(f["geometry"])
    if not g.is_valid: bad.append((f["id"], explain_validity(g)))
    for i, r in rings(f["geometry"]):
        if (area2(r) > 0) != (i == 0): wound.append(f["id"])
    for c in coords(f["geometry"]["coordinates"]):
        if any(len(repr(v).split(".")[-1]) > 7 and "e" not in repr(v) for v in c): decimals.append(f["id"])
print(json.dumps({"features": n, "invalid": bad[:10], "invalid_count": len(bad), "wound": wound[:10], "decimals": decimals[:10]}))
"#;

#[tokio::test]
async fn shapely_finds_every_exported_geometry_valid_and_wound_by_the_right_hand_rule() {
    let f = fixture();
    for layer in ["provinsi", "kabupaten_kota", "kecamatan", "hotspots", "clusters", "incidents", "emerging"] {
        let file = f
            .download(
                &format!("/api/export/{layer}?format=geojson"),
                Some(&f.nasional),
                &format!("shapely-{layer}.geojson"),
            )
            .await;
        let report: Value = serde_json::from_str(python(SHAPELY_CHECK, &file).trim()).expect("report");
        assert!(report["features"].as_i64().unwrap_or(0) > 0, "{layer}: {report}");
        assert_eq!(report["invalid_count"], 0, "{layer}: invalid geometries: {report}");
        assert_eq!(report["wound"], serde_json::json!([]), "{layer}: rings against the right-hand rule: {report}");
        assert_eq!(report["decimals"], serde_json::json!([]), "{layer}: more than 7 decimals: {report}");
    }
    // The WKT of the CSV export too, read back by GDAL and checked by shapely.
    let csv = f.download("/api/export/kecamatan?format=csv", None, "shapely-kecamatan.csv").await;
    let converted = f.dir.join("shapely-kecamatan-from-csv.geojson");
    let _ = std::fs::remove_file(&converted);
    gdal("ogr2ogr", &["-f", "GeoJSON", converted.to_str().expect("path"), csv.to_str().expect("path")]);
    let report: Value = serde_json::from_str(python(SHAPELY_CHECK, &converted).trim()).expect("report");
    assert_eq!(report["features"], 7285, "{report}");
    assert_eq!(report["invalid_count"], 0, "CSV WKT: {report}");
}

#[tokio::test]
async fn filters_select_what_sql_selects_and_scopes_hold() {
    let f = fixture();
    let pool = f.pool().await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.expect(sql) }
    };
    let exported = |path: String, token: Option<String>| async move {
        let (status, headers, body) = f.get(&path, token.as_deref()).await;
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let lines: Vec<Value> = body
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("a GeoJSON Feature per line"))
            .collect();
        (headers, lines)
    };
    let nasional = Some(f.nasional.clone());
    let all = exported("/api/export/incidents?format=ndjson".into(), nasional.clone()).await.1;
    assert_eq!(all.len() as i64, count("select count(*) from incidents where deleted_at is null").await);
    let deleted: i64 = count("select id from incidents where external_id = 'ekspor-5'").await;
    assert!(all.iter().all(|f| f["id"] != deleted), "a deleted incident is never exported");

    let (headers, makassar) = exported(
        "/api/export/incidents?format=ndjson&region=73.71&category=agraria,pemilu&status=potensi,terjadi,ditangani"
            .into(),
        nasional.clone(),
    )
    .await;
    let expected = count(
        "select count(*) from incidents where deleted_at is null and kabupaten_kota_code = '73.71'
         and category in ('agraria', 'pemilu') and status in ('potensi', 'terjadi', 'ditangani')",
    )
    .await;
    assert_eq!(makassar.len() as i64, expected, "region, category and status filters");
    assert!(expected > 0);
    let today = chrono::Utc::now().format("%Y-%m-%d");
    assert_eq!(
        headers["content-disposition"].to_str().expect("text"),
        format!("attachment; filename=\"sipks_incidents_73.71_{today}.geojsonl\"")
    );

    let from = (chrono::Utc::now() - chrono::Duration::days(30)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let timed = exported(
        format!("/api/export/incidents?format=ndjson&from={from}&bbox=119.3,-5.3,119.9,-5.0"),
        nasional.clone(),
    )
    .await
    .1;
    let expected: i64 = sqlx::query_scalar(
        "select count(*) from incidents i left join regions r on r.code = i.region_code
         where deleted_at is null and occurred_at >= $1::timestamptz
         and st_intersects(coalesce(i.geom, r.label_point), st_makeenvelope(119.3, -5.3, 119.9, -5.0, 4326))",
    )
    .bind(&from)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(timed.len() as i64, expected, "time and bbox filters");

    // The operator of Kota Makassar exports its own incidents only.
    let own = exported("/api/export/incidents?format=ndjson".into(), Some(f.makassar.clone())).await.1;
    assert_eq!(
        own.len() as i64,
        count("select count(*) from incidents where deleted_at is null and kabupaten_kota_code = '73.71'").await
    );
    assert!(own.iter().all(|f| f["properties"]["kabupaten_kota"] == "73.71"), "only 73.71");
    let region_only = own.iter().filter(|f| f["properties"]["located_by_region"] == true).count();
    assert_eq!(region_only, 1, "the report known only by Kota Makassar, at its label point");
    // Anonymous callers export regions, not incidents.
    let (status, _, body) = f.get("/api/export/incidents", None).await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    let regions = exported("/api/export/kabupaten_kota?format=ndjson&region=73".into(), None).await.1;
    assert_eq!(regions.len() as i64, count("select count(*) from regions where parent_code = '73'").await);
    let makassar_risk = regions.iter().find(|r| r["id"] == "73.71").expect("Kota Makassar");
    assert!(makassar_risk["properties"]["incident_count"].as_i64().unwrap_or(0) > 30, "{makassar_risk}");
    assert!(["hijau", "kuning", "merah"].contains(&makassar_risk["properties"]["risk_level"].as_str().unwrap_or("")));
    pool.close().await;
}

#[tokio::test]
async fn bad_queries_are_problems_naming_the_reason() {
    let f = fixture();
    let cases: [(&str, u16, &str); 11] = [
        ("/api/export/desa", 404, "layer"),
        ("/api/export/incidents?format=shp", 400, "format"),
        ("/api/export/incidents?bbox=119,-5,118", 400, "bbox"),
        ("/api/export/incidents?bbox=119,-4,120,-5", 400, "bbox"),
        ("/api/export/incidents?bbox=a,b,c,d", 400, "bbox"),
        ("/api/export/incidents?from=2026-02-01&to=2026-01-01", 400, "from"),
        ("/api/export/incidents?from=kemarin", 400, "from"),
        ("/api/export/incidents?category=perang", 400, "category"),
        ("/api/export/kabupaten_kota?category=agraria", 400, "category"),
        ("/api/export/incidents?region=99.99", 404, "99.99"),
        ("/api/export/incidents?window=0", 400, "window"),
    ];
    for (path, status, reason) in cases {
        let (got, headers, body) = f.get(path, Some(&f.nasional)).await;
        let problem: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(got, status, "{path}: {problem}");
        assert_eq!(headers["content-type"], "application/problem+json", "{path}");
        let text = problem.to_string();
        assert!(text.contains(reason), "{path}: the problem names {reason:?}: {problem}");
    }
    let (status, _, _) = f.get("/api/export/incidents?no_such=1", Some(&f.nasional)).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_command_line_writes_what_the_server_serves() {
    let f = fixture();
    for (layer, format) in [("incidents", "csv"), ("incidents", "geojson"), ("kabupaten_kota", "ndjson")] {
        let (_, _, served) = f.get(&format!("/api/export/{layer}?format={format}&region=73"), Some(&f.nasional)).await;
        let file = f.dir.join(format!("cli-{layer}.{format}"));
        let out = common::run_sipks(
            &f.database_url,
            &["export", layer, "--format", format, "--region", "73", "-o", file.to_str().expect("path")],
            &[],
        );
        assert!(out.status.success(), "sipks export: {}", String::from_utf8_lossy(&out.stderr));
        let written = std::fs::read(&file).expect("read");
        match format {
            "csv" => {
                assert_eq!(String::from_utf8_lossy(&written), String::from_utf8_lossy(&served), "{layer} {format}")
            }
            "geojson" => {
                let (a, b): (Value, Value) =
                    (serde_json::from_slice(&written).expect("JSON"), serde_json::from_slice(&served).expect("JSON"));
                assert_eq!(a["features"], b["features"], "{layer} {format}");
                assert!(a["features"].as_array().is_some_and(|f| !f.is_empty()));
            }
            _ => {
                // Risk figures are for a window ending now, and scores decay with time:
                // compare all but the window's end and the score exactly, the scores to 1 %.
                let strip = |bytes: &[u8]| -> Vec<(Value, f64)> {
                    bytes
                        .split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .map(|l| {
                            let mut v: Value = serde_json::from_slice(l).expect("JSON");
                            let properties = v["properties"].as_object_mut().expect("properties");
                            properties.remove("window_end");
                            let score = properties.remove("score").and_then(|s| s.as_f64()).expect("a score");
                            (v, score)
                        })
                        .collect()
                };
                let (written, served) = (strip(&written), strip(&served));
                assert_eq!(written.len(), served.len(), "{layer} {format}");
                for ((a, a_score), (b, b_score)) in written.iter().zip(&served) {
                    assert_eq!(a, b, "{layer} {format}");
                    assert!(
                        (a_score - b_score).abs() <= 0.01 * b_score.abs().max(1.0),
                        "{layer}: score {a_score} / {b_score}"
                    );
                }
            }
        }
    }
    let stdout =
        common::run_sipks(&f.database_url, &["export", "incidents", "--format", "ndjson", "--region", "73.71"], &[]);
    assert!(stdout.status.success());
    assert!(stdout.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() > 40, "standard output by default");
    let refused = common::run_sipks(&f.database_url, &["export", "incidents", "--bbox", "1,2,3"], &[]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("bbox"));
}

/// GeoPackage exports (issue 16, defect 9): valid for GDAL's own validator
/// (validate_gpkg.py of python3-gdal, run by the system Python that has GDAL's
/// bindings), one declared geometry type per table (MULTIPOLYGON for regions, GEOMETRY
/// for incidents, which mix points, lines and polygons), every feature and its
/// attributes as GDAL reads them.
#[tokio::test]
async fn geopackage_exports_pass_gdals_validator_and_read_back_whole() {
    const VALIDATOR: &str = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py";
    let f = fixture();
    let pool = f.pool().await;
    let incidents: i64 = sqlx::query_scalar("select count(*) from incidents where deleted_at is null")
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    for (layer, count, geometry) in [
        ("kabupaten_kota", 514, "Multi Polygon"),
        ("incidents", incidents, "Unknown (any)"),
        ("clusters", -1, "Polygon"),
    ] {
        let (status, headers, _) = f.get(&format!("/api/export/{layer}?format=gpkg"), Some(&f.nasional)).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/geopackage+sqlite3");
        let file = f
            .download(&format!("/api/export/{layer}?format=gpkg"), Some(&f.nasional), &format!("valid-{layer}.gpkg"))
            .await;
        let path = file.to_str().expect("path");
        let out = std::process::Command::new("/usr/bin/python3").args([VALIDATOR, path]).output().expect("validator");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{layer}: validate_gpkg.py: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let summary = gdal("ogrinfo", &["-ro", "-so", "-al", path]);
        assert!(summary.contains(&format!("Geometry: {geometry}")), "{layer}: {summary}");
        if count >= 0 {
            assert_eq!(ogr_count(path, &[]), count, "{layer}");
        }
    }
    let read =
        ogr_geojson(f.dir.join("valid-kabupaten_kota.gpkg").to_str().expect("path"), &["-where", "kode = '73.71'"]);
    let makassar = &read["features"][0];
    assert_eq!(makassar["properties"]["nama"], "Kota Makassar");
    assert_eq!(makassar["geometry"]["type"], "MultiPolygon");
    assert!(makassar["properties"]["window_end"].is_string() && makassar["properties"]["score"].is_number());
}
