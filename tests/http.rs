//! The HTTP surface: in-process router tests, and the real `sipks serve` binary
//! against real PostGIS with all boundaries.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use common::imported_db;
use sipks::http::{app, AppState};

/// The real binary, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(database_url: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let child = Command::new(env!("CARGO_BIN_EXE_sipks"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipks serve");
        let server = Server { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if reqwest::get(format!("{}/healthz", server.base)).await.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("sipks serve did not become healthy");
    }

    async fn get(&self, path: &str) -> (StatusCode, String, Value) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.expect("request");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let body = response.json().await.expect("JSON body");
        (status, content_type, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_real_server_lists_and_serves_regions() {
    let db = imported_db().await;
    let server = Server::start(&db.url).await;

    let (status, _, health) = server.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["database"], "ok");

    for (level, expected) in [("provinsi", 38), ("kabupaten_kota", 514), ("kecamatan", 7285)] {
        let (status, _, body) = server.get(&format!("/api/regions?level={level}")).await;
        assert_eq!(status, StatusCode::OK);
        let regions = body["regions"].as_array().expect("regions");
        assert_eq!(regions.len(), expected, "{level}");
        assert_eq!(body["count"], expected);
        assert!(regions.iter().all(|r| r["level"] == level));
    }

    let (_, _, sulsel) = server.get("/api/regions?parent=73").await;
    let regencies = sulsel["regions"].as_array().expect("regions");
    assert_eq!(regencies.len(), 24, "Sulawesi Selatan has 24 regencies and cities");
    let makassar = regencies.iter().find(|r| r["kode"] == "73.71").expect("Kota Makassar listed");
    assert_eq!(makassar["nama"], "Kota Makassar");
    assert_eq!(makassar["induk"], "73");
    let [w, s, e, n] = [0, 1, 2, 3].map(|i| makassar["bbox"][i].as_f64().expect("bbox"));
    let [x, y] = [0, 1].map(|i| makassar["label_point"][i].as_f64().expect("label point"));
    assert!(w < x && x < e && s < y && y < n, "label point inside the bbox");
    assert!((119.0..120.0).contains(&x) && (-5.5..-4.5).contains(&y), "Makassar is at 119.4 E, 5.1 S");

    let (_, _, districts) = server.get("/api/regions?parent=73&level=kecamatan").await;
    assert!(districts["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .all(|r| r["kode"].as_str().is_some_and(|k| k.starts_with("73."))));

    let (status, content_type, feature) = server.get("/api/regions/73.71").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/geo+json");
    assert_eq!(feature["type"], "Feature");
    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
    assert_eq!(feature["properties"]["kode"], "73.71");
    let first = &feature["geometry"]["coordinates"][0][0][0];
    assert!(first[0].as_f64().is_some_and(|lon| lon > 119.0), "GeoJSON order: longitude first");

    let (status, content_type, problem) = server.get("/api/regions/99.99").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["status"], 404);
    assert_eq!(problem["type"], "/problems/region-not-found");
    assert_eq!(problem["title"], "Wilayah tidak ditemukan");

    for bad in
        ["/api/regions?level=kabupaten", "/api/regions?parent=7", "/api/regions?lvl=provinsi", "/api/regions/73-71"]
    {
        let (status, content_type, problem) = server.get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(content_type, "application/problem+json", "{bad}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{bad}");
    }
    let (status, _, _) = server.get("/api/regions?parent=99").await;
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
