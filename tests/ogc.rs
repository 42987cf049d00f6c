//! OGC API - Features (issue 7) as GDAL's OAPIF driver and a plain client see it: the
//! landing page links the OpenAPI 3.0 document (service-desc), the conformance classes
//! and the collections (data); `ogrinfo OAPIF:` lists the collections, and `ogr2ogr`
//! pages through all 514 regencies by next links; numberMatched and the pages agree
//! with PostGIS; bad queries are 400/404 problems naming the reason; incidents are
//! those of the caller's scope (none for anonymous callers).

mod common;
#[path = "ogc/standards.rs"]
mod standards;

use std::collections::BTreeSet;

use serde_json::Value;

use common::export_fixture as fixture;
use fixture::{fixture, gdal};

fn href<'a>(links: &'a Value, rel: &str) -> Option<&'a str> {
    links.as_array()?.iter().find(|l| l["rel"] == rel)?["href"].as_str()
}

#[tokio::test]
async fn the_landing_page_links_what_qgis_needs_and_the_document_is_openapi_3_0() {
    let f = fixture();
    let (status, landing) = f.json("/ogc", None).await;
    assert_eq!(status, 200, "{landing}");
    let links = landing["links"].as_array().expect("links");
    let desc = links.iter().find(|l| l["rel"] == "service-desc").expect("service-desc");
    assert_eq!(desc["type"], "application/vnd.oai.openapi+json;version=3.0");
    assert!(links
        .iter()
        .any(|l| l["rel"] == "data" && l["href"].as_str().is_some_and(|h| h.ends_with("/ogc/collections"))));
    assert!(links.iter().any(|l| l["rel"] == "conformance"));
    assert!(landing["description"].as_str().is_some_and(|d| d.contains("wilayah_boundaries")), "attribution");

    let (_, conformance) = f.json("/ogc/conformance?f=json", None).await;
    let classes: BTreeSet<&str> =
        conformance["conformsTo"].as_array().expect("conformsTo").iter().filter_map(Value::as_str).collect();
    for class in ["core", "geojson", "oas30"] {
        assert!(classes.contains(format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{class}").as_str()));
    }

    let path = desc["href"].as_str().expect("href").split_once("/ogc").map(|(_, p)| format!("/ogc{p}")).expect("path");
    let (status, headers, body) = f.get(&path, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/vnd.oai.openapi+json;version=3.0");
    let document: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(document["openapi"], "3.0.3");
    for path in ["/ogc", "/ogc/collections/{collectionId}/items", "/api/export/{layer}"] {
        assert!(document["paths"][path]["get"].is_object(), "{path} documented");
    }
    // No construct of OpenAPI 3.1 / JSON Schema 2020-12 is left.
    fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if map.get("type").is_some_and(Value::is_array) {
                    found.push(format!("{at}: type array"));
                }
                if map.get("exclusiveMinimum").or(map.get("exclusiveMaximum")).is_some_and(Value::is_number) {
                    found.push(format!("{at}: numeric exclusive bound"));
                }
                for key in ["const", "prefixItems", "$schema", "propertyNames"] {
                    if map.contains_key(key) {
                        found.push(format!("{at}: {key}"));
                    }
                }
                if map.contains_key("$ref") && map.len() > 1 {
                    found.push(format!("{at}: $ref with siblings"));
                }
                for (k, v) in map {
                    // `examples` is a 3.0 member of parameters and media types, not of schemas.
                    if k == "examples" && at.contains("schema") {
                        found.push(format!("{at}: examples in a schema"));
                    }
                    walk(v, &format!("{at}/{k}"), found);
                }
            }
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&document, "", &mut found);
    assert!(found.is_empty(), "3.1 constructs in the 3.0 document: {found:?}");
    assert!(document["info"]["license"].get("identifier").is_none());
}

#[tokio::test]
async fn gdal_lists_the_collections_and_pages_through_all_514_regencies() {
    let f = fixture();
    let source = format!("OAPIF:{}/ogc", f.server.base);
    let listing = gdal("ogrinfo", &["-ro", "-q", &source]);
    for collection in ["provinsi", "kabupaten_kota", "kecamatan", "incidents", "hotspots"] {
        assert!(listing.lines().any(|l| l.contains(&format!(": {collection}"))), "{collection} listed: {listing}");
    }
    let out = f.dir.join("oapif-kabupaten_kota.geojson");
    let _ = std::fs::remove_file(&out);
    gdal("ogr2ogr", &["-f", "GeoJSON", out.to_str().expect("path"), &source, "kabupaten_kota", "-oo", "PAGE_SIZE=100"]);
    let read: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("GeoJSON");
    let codes: BTreeSet<&str> = read["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["kode"].as_str())
        .collect();
    assert_eq!(codes.len(), 514, "every regency once, over pages of 100");
    let summary = gdal("ogrinfo", &["-ro", "-so", &source, "kabupaten_kota"]);
    assert!(summary.contains("Geometry: Multi Polygon"), "{summary}");

    // The same by hand: next links, numberMatched, numberReturned.
    let mut next = Some("/ogc/collections/kabupaten_kota/items?limit=100".to_owned());
    let (mut pages, mut seen) = (0, BTreeSet::new());
    while let Some(path) = next.take() {
        let (status, page) = f.json(&path, None).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert_eq!(page["numberMatched"], 514);
        let features = page["features"].as_array().expect("features");
        assert_eq!(page["numberReturned"].as_u64(), Some(features.len() as u64));
        assert!(page["timeStamp"].is_string());
        assert!(href(&page["links"], "self").is_some() && href(&page["links"], "collection").is_some());
        if pages > 0 {
            assert!(href(&page["links"], "prev").is_some(), "page {pages} links back");
        }
        seen.extend(features.iter().map(|f| f["id"].as_str().expect("id").to_owned()));
        next =
            href(&page["links"], "next").map(|h| h.split_once("/ogc").map(|(_, p)| format!("/ogc{p}")).expect("path"));
        pages += 1;
    }
    assert_eq!((pages, seen.len()), (6, 514));

    let (status, one) = f.json("/ogc/collections/kabupaten_kota/items/73.71", None).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!((one["type"].as_str(), one["properties"]["nama"].as_str()), (Some("Feature"), Some("Kota Makassar")));
}

#[tokio::test]
async fn filters_and_scopes_of_the_items() {
    let f = fixture();
    let pool = f.pool().await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.expect(sql) }
    };
    let all = count("select count(*) from incidents where deleted_at is null").await;
    let (_, page) = f.json("/ogc/collections/incidents/items?limit=1000", Some(&f.nasional)).await;
    assert_eq!(page["numberMatched"], all);
    assert_eq!(page["features"].as_array().map(Vec::len), Some(all as usize));

    let (_, anonymous) = f.json("/ogc/collections/incidents/items", None).await;
    assert_eq!((anonymous["numberMatched"].as_i64(), anonymous["numberReturned"].as_i64()), (Some(0), Some(0)));
    let own = count("select count(*) from incidents where deleted_at is null and kabupaten_kota_code = '73.71'").await;
    let (_, page) = f.json("/ogc/collections/incidents/items?limit=1000", Some(&f.makassar)).await;
    assert_eq!(page["numberMatched"], own);
    let features = page["features"].as_array().expect("features");
    assert!(features.iter().all(|f| f["properties"]["kabupaten_kota"] == "73.71"));
    let jakarta = count(
        "select id from incidents where deleted_at is null and kabupaten_kota_code = '31.71' and geom is not null limit 1",
    )
    .await;
    let (status, _) = f.json(&format!("/ogc/collections/incidents/items/{jakarta}"), Some(&f.makassar)).await;
    assert_eq!(status, 404, "an incident outside the operator's region is not found");
    let (status, found) = f.json(&format!("/ogc/collections/incidents/items/{jakarta}"), Some(&f.nasional)).await;
    assert_eq!((status, found["id"].as_i64()), (200, Some(jakarta)));

    let from = (chrono::Utc::now() - chrono::Duration::days(20)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (status, page) = f
        .json(
            &format!("/ogc/collections/incidents/items?datetime={from}/..&bbox=119.3,-5.3,119.9,-5.0"),
            Some(&f.nasional),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let expected: i64 = sqlx::query_scalar(
        "select count(*) from incidents i where deleted_at is null and occurred_at >= $1::timestamptz
         and st_intersects(i.geom, st_makeenvelope(119.3, -5.3, 119.9, -5.0, 4326))",
    )
    .bind(&from)
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(page["numberMatched"], expected, "datetime and bbox");

    let (_, hotspots) = f.json("/ogc/collections/hotspots/items?limit=600", None).await;
    assert_eq!(hotspots["numberMatched"], 514);
    let (_, collection) = f.json("/ogc/collections/incidents", Some(&f.nasional)).await;
    assert!(collection["extent"]["temporal"]["interval"][0][0].is_string(), "{collection}");
    assert!(collection["description"].as_str().is_some_and(|d| d.contains("MIT")), "attribution");
    let (status, queryables) = f.json("/ogc/collections/incidents/queryables", None).await;
    assert_eq!(status, 200);
    assert_eq!(queryables["properties"]["occurred_at"]["format"], "date-time");
    pool.close().await;
}

#[tokio::test]
async fn bad_queries_are_problems_naming_the_reason() {
    let f = fixture();
    let cases: [(&str, u16, &str); 12] = [
        ("/ogc/collections/kabupaten_kota/items?bbox=119,-5,118", 400, "bbox"),
        ("/ogc/collections/kabupaten_kota/items?bbox=119,-4,120,-5", 400, "bbox"),
        ("/ogc/collections/kabupaten_kota/items?bbox=1,2,x,4", 400, "bbox"),
        ("/ogc/collections/incidents/items?datetime=2026-02-01T00:00:00Z/2026-01-01T00:00:00Z", 400, "datetime"),
        ("/ogc/collections/incidents/items?datetime=besok", 400, "datetime"),
        ("/ogc/collections/incidents/items?limit=-5", 400, "limit"),
        ("/ogc/collections/incidents/items?limit=0", 400, "limit"),
        ("/ogc/collections/incidents/items?offset=-1", 400, "offset"),
        ("/ogc/collections/desa/items", 404, "desa"),
        ("/ogc/collections/kabupaten_kota/items/99.99", 404, "99.99"),
        ("/ogc/collections?f=html", 400, "html"),
        ("/ogc/collections/kabupaten_kota/items?kode=73.71", 400, "query"),
    ];
    for (path, status, reason) in cases {
        let (got, headers, body) = f.get(path, None).await;
        let problem: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(got, status, "{path}: {problem}");
        assert_eq!(headers["content-type"], "application/problem+json", "{path}");
        assert!(problem.to_string().contains(reason), "{path}: the problem names {reason:?}: {problem}");
    }
}
