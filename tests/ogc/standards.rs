//! Issue 16: the numbered defects GIS teams found with GDAL, QGIS and OWSLib, each
//! checked as the standard words it: RFC 7946 for /api/regions/{kode} (one writer with
//! the exports), OGC API - Features Part 1 (trailing slash, parameter schemas, the
//! antimeridian, service-desc, paging limits, dates), RFC 9457 (absolute type URIs
//! that resolve), one geometry type per collection, gzip.

use std::io::Read;
use std::process::Command;

use serde_json::Value;

use crate::fixture::{fixture, gdal};

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map_or("/".to_owned(), |i| rest[i..].to_owned())
}

/// Twice the signed area of a ring of [lon, lat] (positive: counter-clockwise).
fn area2(ring: &[Value]) -> f64 {
    let p: Vec<(f64, f64)> = ring.iter().map(|c| (c[0].as_f64().expect("lon"), c[1].as_f64().expect("lat"))).collect();
    let (x0, y0) = p[0];
    p.windows(2).map(|w| (w[0].0 - x0) * (w[1].1 - y0) - (w[1].0 - x0) * (w[0].1 - y0)).sum()
}

/// Numbers written with an exponent (`-3.4e-6`) in JSON text.
fn exponents(text: &str) -> usize {
    let b = text.as_bytes();
    (1..b.len().saturating_sub(1))
        .filter(|&i| {
            matches!(b[i], b'e' | b'E')
                && b[i - 1].is_ascii_digit()
                && (b[i + 1] == b'-' || b[i + 1] == b'+' || b[i + 1].is_ascii_digit())
        })
        .count()
}

fn on_grid(v: f64) -> bool {
    ((v * 1e7).round() / 1e7 - v).abs() < 1e-12
}

/// The RFC 7946 problems of a MultiPolygon feature: winding, repeated points, rings too
/// short or open, more than 7 decimals; and its bbox not that of its coordinates.
fn rfc7946_problems(what: &str, feature: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let geometry = &feature["geometry"];
    if geometry["type"] != "MultiPolygon" {
        problems.push(format!("{what}: geometry type {}", geometry["type"]));
        return problems;
    }
    let mut extent = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for (p, polygon) in geometry["coordinates"].as_array().expect("polygons").iter().enumerate() {
        for (r, ring) in polygon.as_array().expect("rings").iter().enumerate() {
            let ring = ring.as_array().expect("ring");
            if ring.len() < 4 || ring.first() != ring.last() {
                problems.push(format!("{what}: polygon {p} ring {r}: {} points or not closed", ring.len()));
                continue;
            }
            if (area2(ring) > 0.0) != (r == 0) {
                problems.push(format!("{what}: polygon {p} ring {r} wound against the right-hand rule"));
            }
            if ring.windows(2).any(|w| w[0] == w[1]) {
                problems.push(format!("{what}: polygon {p} ring {r} repeats a point"));
            }
            for c in ring {
                let (x, y) = (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"));
                if !on_grid(x) || !on_grid(y) {
                    problems.push(format!("{what}: more than 7 decimals in {c}"));
                }
                extent = [extent[0].min(x), extent[1].min(y), extent[2].max(x), extent[3].max(y)];
            }
        }
    }
    let bbox: Vec<f64> = feature["bbox"].as_array().expect("bbox").iter().filter_map(Value::as_f64).collect();
    if bbox != extent {
        problems.push(format!("{what}: bbox {bbox:?} is not the coordinates' extent {extent:?}"));
    }
    problems
}

/// Defects 1 and 9: the regions named in the issue (clockwise exteriors, repeated
/// points, invalid after rounding, Polygon where other formats said MultiPolygon).
#[tokio::test]
async fn regions_are_rfc_7946_geojson_written_as_every_export_writes_them() {
    let f = fixture();
    let pool = f.pool().await;
    let codes = ["73.71", "52", "62", "12.09", "52.71", "35.76", "13.76", "15.72", "18.72", "33.73"];
    let mut problems = Vec::new();
    for code in codes {
        let (status, headers, body) = f.get(&format!("/api/regions/{code}"), None).await;
        assert_eq!(status, 200, "{code}");
        assert_eq!(headers["content-type"], "application/geo+json");
        let text = String::from_utf8(body).expect("UTF-8");
        if exponents(&text) > 0 {
            problems.push(format!("{code}: {} numbers with an exponent", exponents(&text)));
        }
        let feature: Value = serde_json::from_str(&text).expect("JSON");
        problems.extend(rfc7946_problems(code, &feature));
        for v in feature["properties"]["bbox"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(feature["properties"]["label_point"].as_array().into_iter().flatten())
        {
            if !on_grid(v.as_f64().expect("number")) {
                problems.push(format!("{code}: property degrees {v} beyond 7 decimals"));
            }
        }
        let valid: (bool, String) =
            sqlx::query_as("select st_isvalid(g), st_isvalidreason(g) from st_geomfromgeojson($1) g")
                .bind(feature["geometry"].to_string())
                .fetch_one(&pool)
                .await
                .expect("PostGIS reads the geometry");
        if !valid.0 {
            problems.push(format!("{code}: invalid for PostGIS: {}", valid.1));
        }
        // The same writer as /ogc and the exports: the same geometry.
        let level = match code.matches('.').count() {
            0 => "provinsi",
            1 => "kabupaten_kota",
            _ => "kecamatan",
        };
        let (_, item) = f.json(&format!("/ogc/collections/{level}/items/{code}"), None).await;
        if item["geometry"] != feature["geometry"] {
            problems.push(format!("{code}: /api/regions and /ogc differ"));
        }
        let (_, _, ndjson) = f.get(&format!("/api/export/{level}?format=ndjson&region={code}"), None).await;
        let line: Value = serde_json::from_slice(ndjson.split(|&b| b == b'\n').next().expect("a line")).expect("JSON");
        if line["geometry"]["type"] != "MultiPolygon" {
            problems.push(format!("{code}: NDJSON export writes a {}", line["geometry"]["type"]));
        }
    }
    pool.close().await;
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Defects 2 and 6: `/ogc/` answers as `/ogc`, and each service-desc link's media type
/// is the one its document is served with.
#[tokio::test]
async fn the_landing_page_answers_with_a_slash_and_service_desc_types_are_true() {
    let f = fixture();
    let (status, plain) = f.json("/ogc", None).await;
    let (slash_status, slash) = f.json("/ogc/", None).await;
    assert_eq!((status, slash_status), (200, 200), "{slash}");
    assert_eq!(plain["links"], slash["links"]);
    let descs: Vec<&Value> =
        plain["links"].as_array().expect("links").iter().filter(|l| l["rel"] == "service-desc").collect();
    assert_eq!(descs.len(), 2);
    for link in descs {
        let (status, headers, _) = f.get(&path_of(link["href"].as_str().expect("href")), None).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"].to_str().ok(), link["type"].as_str(), "{link}");
    }
}

/// Defect 3: Part 1's schemas of `bbox` (4 or 6 numbers, form, not exploded), `limit`
/// and `datetime`, with a default page size that keeps GDAL's requests few.
#[tokio::test]
async fn the_api_document_gives_bbox_limit_and_datetime_their_part_1_schemas() {
    let f = fixture();
    let (_, doc) = f.json("/ogc/api", None).await;
    let params = doc["paths"]["/ogc/collections/{collectionId}/items"]["get"]["parameters"].as_array().expect("params");
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name}")).clone();
    let bbox = param("bbox");
    assert_eq!((bbox["style"].as_str(), bbox["explode"].as_bool()), (Some("form"), Some(false)), "{bbox}");
    assert_eq!(bbox["schema"]["type"], "array", "{bbox}");
    assert_eq!((bbox["schema"]["minItems"].as_u64(), bbox["schema"]["maxItems"].as_u64()), (Some(4), Some(6)));
    assert_eq!(bbox["schema"]["items"]["type"], "number", "{bbox}");
    let limit = param("limit");
    assert_eq!((limit["style"].as_str(), limit["explode"].as_bool()), (Some("form"), Some(false)), "{limit}");
    assert_eq!(limit["schema"]["type"], "integer");
    assert_eq!(
        (limit["schema"]["minimum"].as_i64(), limit["schema"]["maximum"].as_i64(), limit["schema"]["default"].as_i64()),
        (Some(1), Some(10_000), Some(1_000)),
        "{limit}"
    );
    let datetime = param("datetime");
    assert_eq!((datetime["style"].as_str(), datetime["explode"].as_bool()), (Some("form"), Some(false)));
    assert_eq!(datetime["schema"]["type"], "string");
}

/// Defect 5: west > east is a box across the antimeridian.
#[tokio::test]
async fn a_box_across_the_antimeridian_is_two_boxes() {
    let f = fixture();
    let (status, page) = f.json("/ogc/collections/kabupaten_kota/items?bbox=170,-10,-170,10", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["numberMatched"], 0, "nothing of Indonesia lies between 170E and 170W");
    let (status, across) = f.json("/ogc/collections/kabupaten_kota/items?bbox=135,-12,-170,8&limit=1", None).await;
    assert_eq!(status, 200, "{across}");
    let (_, east) = f.json("/ogc/collections/kabupaten_kota/items?bbox=135,-12,180,8&limit=1", None).await;
    assert!(across["numberMatched"].as_i64().is_some_and(|n| n > 0), "{across}");
    assert_eq!(across["numberMatched"], east["numberMatched"]);
    let (status, incidents) = f.json("/ogc/collections/incidents/items?bbox=135,-12,-170,8", Some(&f.nasional)).await;
    assert_eq!(status, 200);
    let found = incidents["features"].as_array().expect("features");
    let east = |i: &Value| i["geometry"]["coordinates"][0].as_f64().is_some_and(|lon| lon > 135.0);
    assert!(!found.is_empty() && found.iter().all(east), "the incident near Jayapura (140.70, -2.53): {incidents}");
}

/// Defect 7: absolute problem type URIs, each a page that says what it means.
#[tokio::test]
async fn problem_types_are_absolute_uris_of_pages() {
    let f = fixture();
    let mut seen = Vec::new();
    for (path, slug) in [
        ("/ogc/collections/desa/items", "not-found"),
        ("/ogc/collections/incidents/items?limit=0", "invalid-parameter"),
        ("/api/regions/99.99", "region-not-found"),
        ("/tiles/jalan", "tile-source-not-found"),
    ] {
        let (_, problem) = f.json(path, None).await;
        let kind = problem["type"].as_str().expect("type");
        assert!(kind.starts_with(&f.server.base), "{path}: {kind} is not absolute at this server");
        assert!(kind.ends_with(&format!("/problems/{slug}")), "{path}: {kind}");
        let (status, headers, page) = f.get(&path_of(kind), None).await;
        assert_eq!(status, 200, "{kind}");
        assert!(headers["content-type"].to_str().is_ok_and(|t| t.starts_with("text/html")));
        let page = String::from_utf8(page).expect("UTF-8");
        assert!(page.contains(&format!("<code>{slug}</code>")), "{kind}: the page names its type: {page}");
        seen.push(kind.to_owned());
    }
    let reply = reqwest::Client::new().post(format!("{}/ogc", f.server.base)).send().await.expect("POST");
    assert_eq!(reply.status().as_u16(), 405);
    let problem: Value = reply.json().await.expect("JSON");
    let (status, _, _) = f.get(&path_of(problem["type"].as_str().expect("type")), None).await;
    assert_eq!(status, 200, "{problem}");
    let (status, _, _) = f.get("/problems/no-such-problem", None).await;
    assert_eq!(status, 404);
}

/// Defect 9: one geometry type per incident collection, as GDAL reads them.
#[tokio::test]
async fn each_incident_collection_has_one_geometry_type_for_gdal() {
    let f = fixture();
    let source = format!("OAPIF:{}/ogc", f.server.base);
    let token = format!("Authorization: Bearer {}", f.nasional);
    let mut total = 0;
    for (collection, geometry) in
        [("incidents_point", "Point"), ("incidents_line", "Line String"), ("incidents_polygon", "Polygon")]
    {
        let summary = Command::new("ogrinfo")
            .args(["-ro", "-so", &source, collection])
            .env("GDAL_HTTP_HEADERS", &token)
            .output()
            .expect("ogrinfo");
        let summary = String::from_utf8_lossy(&summary.stdout).into_owned();
        assert!(summary.contains(&format!("Geometry: {geometry}")), "{collection}: {summary}");
        let (_, page) = f.json(&format!("/ogc/collections/{collection}/items?limit=1000"), Some(&f.nasional)).await;
        let features = page["features"].as_array().expect("features");
        assert!(!features.is_empty(), "{collection}");
        let want = geometry.replace(' ', "");
        assert!(features.iter().all(|g| g["geometry"]["type"] == want.as_str()), "{collection}");
        total += page["numberMatched"].as_i64().expect("numberMatched");
        let (_, queryables) = f.json(&format!("/ogc/collections/{collection}/queryables"), None).await;
        assert_eq!(queryables["properties"]["geometry"]["format"], format!("geometry-{}", want.to_lowercase()));
    }
    let (_, all) = f.json("/ogc/collections/incidents/items?limit=1", Some(&f.nasional)).await;
    assert_eq!(all["numberMatched"].as_i64(), Some(total), "the three collections split `incidents`");
}

/// Defect 10: gzip for OGC pages and exports when the client accepts it.
#[tokio::test]
async fn ogc_pages_and_exports_are_gzipped_when_accepted() {
    let f = fixture();
    for path in ["/ogc/collections/kabupaten_kota/items?limit=50", "/api/export/provinsi?format=geojson"] {
        let url = format!("{}{path}", f.server.base);
        let plain = reqwest::get(&url).await.expect("GET").bytes().await.expect("body");
        let reply = reqwest::Client::new().get(&url).header("accept-encoding", "gzip").send().await.expect("GET");
        assert_eq!(reply.headers().get("content-encoding").and_then(|v| v.to_str().ok()), Some("gzip"), "{path}");
        let zipped = reply.bytes().await.expect("body");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..]).read_to_end(&mut unzipped).expect("gunzip");
        assert!(zipped.len() * 2 < unzipped.len(), "{path}: {} bytes gzipped of {}", zipped.len(), unzipped.len());
        let a: Value = serde_json::from_slice(&plain).expect("JSON");
        let b: Value = serde_json::from_slice(&unzipped).expect("JSON");
        assert_eq!(a["features"], b["features"], "{path}");
    }
}

/// Defect 11: a date is the whole UTC day, alone or as an end of an interval.
#[tokio::test]
async fn a_date_is_the_whole_utc_day() {
    let f = fixture();
    let pool = f.pool().await;
    let day: String = sqlx::query_scalar(
        "select to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD') from incidents where deleted_at is null
         group by 1 order by count(*) desc limit 1",
    )
    .fetch_one(&pool)
    .await
    .expect("a day");
    let expected: i64 = sqlx::query_scalar(
        "select count(*) from incidents where deleted_at is null
         and occurred_at >= ($1::date)::timestamp at time zone 'UTC'
         and occurred_at < ($1::date + 1)::timestamp at time zone 'UTC'",
    )
    .bind(&day)
    .fetch_one(&pool)
    .await
    .expect("count");
    pool.close().await;
    assert!(expected > 0);
    for datetime in [day.clone(), format!("{day}/{day}"), format!("{day}T00:00:00Z/{day}T23:59:59.999999Z")] {
        let (status, page) =
            f.json(&format!("/ogc/collections/incidents/items?datetime={datetime}"), Some(&f.nasional)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["numberMatched"], expected, "datetime={datetime}");
    }
}

/// Defect 12: a limit above the longest page is served capped, GDAL's PAGE_SIZE=20000
/// works, and the default page is 1,000 features.
#[tokio::test]
async fn a_large_limit_is_capped_and_gdal_pages_by_the_advertised_default() {
    let f = fixture();
    let (status, page) = f.json("/ogc/collections/kabupaten_kota/items?limit=20000", None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["numberReturned"], 514);
    let source = format!("OAPIF:{}/ogc", f.server.base);
    let out = f.dir.join("oapif-20000.geojson");
    let _ = std::fs::remove_file(&out);
    let path = out.to_str().expect("path");
    gdal("ogr2ogr", &["-f", "GeoJSON", path, &source, "kabupaten_kota", "-oo", "PAGE_SIZE=20000"]);
    let read: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("GeoJSON");
    assert_eq!(read["features"].as_array().map(Vec::len), Some(514));

    // A client without `limit` (QGIS reads the default from the OpenAPI document; GDAL
    // 3.6 asks for its own PAGE_SIZE, default 10) gets pages of 1,000.
    let (_, first) = f.json("/ogc/collections/kecamatan/items", None).await;
    assert_eq!((first["numberReturned"].as_i64(), first["numberMatched"].as_i64()), (Some(1000), Some(7285)));
    let _ = std::fs::remove_file(&out);
    let run = Command::new("ogr2ogr")
        .args(["-f", "GeoJSON", path, &source, "kabupaten_kota", "-oo", "PAGE_SIZE=1000"])
        .env("CPL_CURL_VERBOSE", "YES")
        .output()
        .expect("ogr2ogr");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let log = String::from_utf8_lossy(&run.stderr);
    let pages = log.lines().filter(|l| l.starts_with("> GET /ogc/collections/kabupaten_kota/items")).count();
    assert!((1..=2).contains(&pages), "GDAL fetched {pages} pages of 1000 for 514 regencies:\n{log}");
}

/// OWSLib (PyPI) as a client: it asks for `/ogc/` with a trailing slash, follows the
/// landing page's links and reads the OpenAPI document (defect 2: empty links and a
/// failing `api()` before).
const OWSLIB_CHECK: &str = r#"
import json, sys
from owslib.ogcapi.features import Features
w = Features(sys.argv[1])
api = w.api()
items = w.collection_items("kabupaten_kota", limit=5, bbox=[119.3, -5.3, 119.6, -5.0])
print(json.dumps({
    "links": len(w.links or []),
    "openapi": api.get("openapi"),
    "conformance": w.conformance()["conformsTo"],
    "collections": [c["id"] for c in w.collections()["collections"]],
    "matched": items["numberMatched"],
    "ids": [f["id"] for f in items["features"]],
    "queryables": sorted(w.collection_queryables("kabupaten_kota")["properties"]),
}))
"#;

#[tokio::test]
async fn owslib_reads_the_landing_page_the_api_and_the_items() {
    let f = fixture();
    let python = std::env::var("SIPKS_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-c", OWSLIB_CHECK, &format!("{}/ogc", f.server.base)])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(out.status.success(), "OWSLib failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("report");
    assert!(report["links"].as_u64().is_some_and(|n| n >= 4), "{report}");
    assert_eq!(report["openapi"], "3.0.3");
    assert_eq!(report["collections"].as_array().map(Vec::len), Some(8), "{report}");
    let (_, page) = f.json("/ogc/collections/kabupaten_kota/items?limit=5&bbox=119.3,-5.3,119.6,-5.0", None).await;
    assert_eq!(report["matched"], page["numberMatched"]);
    let ids: Vec<&Value> = page["features"].as_array().expect("features").iter().map(|f| &f["id"]).collect();
    assert_eq!(report["ids"].as_array().map(|a| a.iter().collect::<Vec<_>>()), Some(ids));
    assert!(report["queryables"].as_array().is_some_and(|q| q.contains(&Value::from("risk_level"))), "{report}");
}
