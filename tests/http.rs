//! The HTTP surface: in-process router tests, and the real `sipks serve` binary
//! against real PostGIS with all boundaries.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use common::{imported_db, Server};
use sipks::http::{app, AppState};

#[tokio::test]
async fn the_real_server_lists_and_serves_regions() {
    let db = imported_db().await;
    let server = Server::start(&db.url).await;

    let (status, _, health) = server.get_full("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"]["state"], "ok");
    assert_eq!(health["incidents"], 0);
    assert_eq!(health["regions"], serde_json::json!({"provinsi": 38, "kabupaten_kota": 514, "kecamatan": 7285}));

    for (level, expected) in [("provinsi", 38), ("kabupaten_kota", 514), ("kecamatan", 7285)] {
        let (status, _, body) = server.get_full(&format!("/api/regions?level={level}")).await;
        assert_eq!(status, StatusCode::OK);
        let regions = body["regions"].as_array().expect("regions");
        assert_eq!(regions.len(), expected, "{level}");
        assert_eq!(body["count"], expected);
        assert!(regions.iter().all(|r| r["level"] == level));
    }

    let (_, _, sulsel) = server.get_full("/api/regions?parent=73").await;
    let regencies = sulsel["regions"].as_array().expect("regions");
    assert_eq!(regencies.len(), 24, "Sulawesi Selatan has 24 regencies and cities");
    let makassar = regencies.iter().find(|r| r["kode"] == "73.71").expect("Kota Makassar listed");
    assert_eq!(makassar["nama"], "Kota Makassar");
    assert_eq!(makassar["induk"], "73");
    let [w, s, e, n] = [0, 1, 2, 3].map(|i| makassar["bbox"][i].as_f64().expect("bbox"));
    let [x, y] = [0, 1].map(|i| makassar["label_point"][i].as_f64().expect("label point"));
    assert!(w < x && x < e && s < y && y < n, "label point inside the bbox");
    assert!((119.0..120.0).contains(&x) && (-5.5..-4.5).contains(&y), "Makassar is at 119.4 E, 5.1 S");

    let (_, _, districts) = server.get_full("/api/regions?parent=73&level=kecamatan").await;
    assert!(districts["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .all(|r| r["kode"].as_str().is_some_and(|k| k.starts_with("73."))));

    let (status, content_type, feature) = server.get_full("/api/regions/73.71").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/geo+json");
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    assert_eq!(feature["properties"]["kode"], "73.71");
    let first = &feature["geometry"]["coordinates"][0][0][0];
    assert!(first[0].as_f64().is_some_and(|lon| lon > 119.0), "GeoJSON order: longitude first");

    let (status, content_type, problem) = server.get_full("/api/regions/99.99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["status"], 404);
    let kind = problem["type"].as_str().expect("type");
    assert!(kind.starts_with("http://") && kind.ends_with("/problems/region-not-found"), "absolute type URI: {kind}");
    assert_eq!(problem["title"], "Wilayah tidak ditemukan");

    for bad in
        ["/api/regions?level=kabupaten", "/api/regions?parent=7", "/api/regions?lvl=provinsi", "/api/regions/73-71"]
    {
        let (status, content_type, problem) = server.get_full(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(content_type, "application/problem+json", "{bad}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{bad}");
    }
    let (status, _, _) = server.get_full("/api/regions?parent=99").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "unknown parent");

    drop(server);
    db.drop().await;
}

async fn oneshot(state: AppState, request: Request<Body>) -> (StatusCode, Value) {
    let response = app(state).oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

#[tokio::test]
async fn every_error_is_problem_json_in_the_clients_language() {
    let db = imported_db().await;
    let engine = sipks::service::load_engine(&db.pool, Default::default()).await.expect("engine");
    let state = AppState::new(db.pool.clone(), engine);
    let request = |method: &str, uri: &str, lang: &str| {
        Request::builder().method(method).uri(uri).header("accept-language", lang).body(Body::empty()).expect("request")
    };
    let (status, body) = oneshot(state.clone(), request("GET", "/no/such/page", "id")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["title"], "Tidak ditemukan");
    assert_eq!(body["instance"], "/no/such/page");

    let (status, body) = oneshot(state.clone(), request("GET", "/api/regions/31.99", "en-GB,en;q=0.9")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["title"], "Region not found");
    assert_eq!(body["detail"], "There is no region with code 31.99.");

    let (status, body) = oneshot(state.clone(), request("DELETE", "/api/regions", "en")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["status"], 405);

    let (status, body) = oneshot(state, request("GET", "/api/regions?level=provinsi", "id")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 38);
    db.drop().await;
}
