//! The server's side of the web map's defects (issue 15), against the real `sipks
//! serve` on the real boundaries: a date given as `to` includes that whole day (in
//! /api/incidents, the exports, OGC `datetime` and `sipks export`); region exports
//! take a `window` and name their files; problems keep a stable `code` beside a
//! translated `detail`.

mod common;

use chrono::{Duration, FixedOffset, Utc};
use serde_json::Value;

use common::{answers_ok, imported_db, run_sipks, Server, TestDb};

const USER: &str = "pimpinan.uji";
const PASSWORD: &str = "sandi-pimpinan-uji";

async fn nasional(db: &TestDb) {
    let hash = sipks::auth::hash_password(PASSWORD).expect("hash");
    sipks::db::users::create(&db.pool, USER, "", &hash, sipks::auth::Role::Nasional, None).await.expect("user");
}

async fn token(base: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({ "username": USER, "password": PASSWORD }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login JSON");
    body["token"].as_str().expect("token").to_owned()
}

/// GET with a token: status, headers, body bytes.
async fn get(url: &str, token: Option<&str>, lang: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(lang) = lang {
        request = request.header("Accept-Language", lang);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.expect("body").to_vec())
}

fn features(body: &[u8]) -> usize {
    let json: Value = serde_json::from_slice(body).expect("GeoJSON");
    json["features"].as_array().expect("features").len()
}

#[tokio::test]
async fn a_date_given_as_to_includes_that_whole_day() {
    let db = imported_db().await;
    nasional(&db).await;
    // One incident a minute ago, one three days ago, both in Makassar.
    let now = Utc::now() - Duration::minutes(1);
    let wib = FixedOffset::east_opt(7 * 3600).expect("WIB");
    let today = now.with_timezone(&wib).date_naive().to_string();
    let dir = tempfile::tempdir().expect("dir");
    let csv = format!(
        "kode,occurred_at,category,severity,status,source,description,id\n\
         73.71,{},ekonomi,2,potensi,uji,hari ini,today-1\n\
         73.71,{},ekonomi,2,potensi,uji,tiga hari lalu,earlier-1\n",
        now.to_rfc3339(),
        (now - Duration::days(3)).to_rfc3339()
    );
    let path = dir.path().join("incidents.csv");
    std::fs::write(&path, csv).expect("write");
    let import = run_sipks(&db.url, &["incidents", "import", path.to_str().expect("path")], &[]);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));

    let server = Server::start(&db.url).await;
    let token = token(&server.base).await;
    let base = &server.base;

    let (status, _, body) =
        get(&format!("{base}/api/incidents?kode=73.71&from={today}&to={today}"), Some(&token), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(features(&body), 1, "/api/incidents?from=today&to=today holds today's incident");
    let (_, _, body) = get(&format!("{base}/api/incidents?kode=73.71&to={today}"), Some(&token), None).await;
    assert_eq!(features(&body), 2, "/api/incidents?to=today holds today's and earlier incidents");

    let (status, _, body) =
        get(&format!("{base}/api/export/incidents?format=geojson&region=73.71&to={today}"), Some(&token), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(features(&body), 2, "the export with to=today holds today's incident");
    let (_, _, body) = get(
        &format!("{base}/api/export/incidents?format=geojson&region=73.71&from={today}&to={today}"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(features(&body), 1, "the export of today alone");

    // In OGC API - Features a date is a whole UTC day (issue 16.11), not a WIB one.
    let utc_today = now.date_naive().to_string();
    let (status, _, body) =
        get(&format!("{base}/ogc/collections/incidents/items?datetime={utc_today}"), Some(&token), None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(features(&body), 1, "OGC datetime=<today, UTC> is that whole day");

    let out = dir.path().join("today.geojson");
    let cli = run_sipks(
        &db.url,
        &["export", "incidents", "--region", "73.71", "--to", &today, "--output", out.to_str().expect("path")],
        &[],
    );
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    assert_eq!(
        features(&std::fs::read(&out).expect("read export")),
        2,
        "sipks export --to today holds today's incident"
    );

    // An RFC 3339 time as `to` stays exclusive.
    let exact = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true).replace('+', "%2B");
    let (_, _, body) = get(&format!("{base}/api/incidents?kode=73.71&to={exact}"), Some(&token), None).await;
    assert_eq!(features(&body), 1, "to=<the incident's own time> excludes it");

    drop(server);
    db.drop().await;
}

async fn post(base: &str, token: &str, lang: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/incidents"))
        .bearer_auth(token)
        .header("Accept-Language", lang)
        .json(&body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.expect("problem JSON"))
}

#[tokio::test]
async fn refusals_speak_bahasa_with_a_stable_code_and_names_beside_codes() {
    let db = imported_db().await;
    nasional(&db).await;
    let hash = sipks::auth::hash_password("sandi-operator-uji").expect("hash");
    let makassar: sipks::region::RegionCode = "73.71".parse().expect("code");
    sipks::db::users::create(&db.pool, "operator.uji", "", &hash, sipks::auth::Role::KabupatenKota, Some(&makassar))
        .await
        .expect("operator");
    let gowa: (f64, f64) = sqlx::query_as(
        "select st_x(c.center), st_y(c.center) from regions r, lateral st_maximuminscribedcircle(r.geom) c
         where r.code = '73.06'",
    )
    .fetch_one(&db.pool)
    .await
    .expect("inside Gowa");
    let server = Server::start(&db.url).await;
    let base = &server.base;
    let token = token(base).await;
    let feature = |properties: Value| {
        serde_json::json!({ "type": "Feature", "geometry": { "type": "Point", "coordinates": [gowa.0, gowa.1] },
            "properties": properties })
    };
    let future = (Utc::now() + Duration::days(30)).to_rfc3339();
    let body = feature(serde_json::json!({ "category": "pemilu", "severity": 3, "occurred_at": future }));
    let (status, id) = post(base, &token, "id", body.clone()).await;
    assert_eq!(status, 422, "{id}");
    assert_eq!(
        (id["code"].as_str(), id["field"].as_str()),
        (Some("in-future"), Some("properties.occurred_at")),
        "{id}"
    );
    let detail = id["detail"].as_str().expect("detail");
    assert!(detail.starts_with("Waktu kejadian: tidak boleh di masa depan"), "{detail}");
    let (_, en) = post(base, &token, "en", body).await;
    assert_eq!(en["code"], "in-future", "the same code in English: {en}");
    assert!(
        en["detail"].as_str().expect("detail").starts_with("Time of the incident: cannot lie in the future"),
        "{en}"
    );

    let body = feature(serde_json::json!({ "category": "pemilu", "severity": 3, "occurred_at": "kemarin" }));
    let (_, p) = post(base, &token, "id", body).await;
    assert_eq!(p["code"], "bad-time", "{p}");
    assert!(p["detail"].as_str().expect("detail").contains("bukan tanggal dan jam"), "{p}");
    let body = feature(serde_json::json!({ "category": "pemilu", "severity": 3, "occurred_at": "2026-01-01",
        "casualties": { "luka": -1 } }));
    let (_, p) = post(base, &token, "id", body).await;
    assert_eq!(
        (p["code"].as_str(), p["detail"].as_str()),
        (Some("not-a-count"), Some("Korban luka: harus bilangan bulat 0 atau lebih.")),
        "{p}"
    );

    // An operator of Makassar placing an incident in Gowa: both named beside their codes.
    let operator: Value = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&serde_json::json!({ "username": "operator.uji", "password": "sandi-operator-uji" }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("JSON");
    let body = feature(serde_json::json!({ "category": "pemilu", "severity": 3, "occurred_at": "2026-01-01" }));
    let (status, p) = post(base, operator["token"].as_str().expect("token"), "id", body).await;
    assert_eq!((status, p["code"].as_str()), (403, Some("forbidden")), "{p}");
    let detail = p["detail"].as_str().expect("detail");
    assert!(detail.contains("73.06") && detail.contains("73.71"), "both codes named: {detail}");
    drop(server);
    db.drop().await;
}

/// `sipks serve` with extra arguments on a free port, killed when dropped.
struct ServerWith(std::process::Child, String);

impl ServerWith {
    async fn start(url: &str, args: &[&str]) -> ServerWith {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sipks"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("DATABASE_URL", url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sipks serve");
        let server = ServerWith(child, format!("http://127.0.0.1:{port}"));
        if !answers_ok(&format!("{}/healthz", server.1), std::time::Duration::from_secs(90)).await {
            panic!("sipks serve {args:?} did not become healthy");
        }
        server
    }
}

impl Drop for ServerWith {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A one-tile MBTiles file (a vector tile with an empty layer `roads` at 0/0/0).
async fn small_mbtiles(path: &std::path::Path) -> Vec<u8> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("create MBTiles");
    for sql in [
        "create table metadata (name text, value text)",
        "create table tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let json = r#"{"vector_layers":[{"id":"roads","fields":{"name":"String"}}]}"#;
    for (name, value) in [
        ("name", "uji"),
        ("format", "pbf"),
        ("minzoom", "0"),
        ("maxzoom", "14"),
        ("bounds", "94.9,-11.1,141.1,6.1"),
        ("attribution", "© OpenStreetMap contributors"),
        ("json", json),
    ] {
        sqlx::query("insert into metadata values (?, ?)").bind(name).bind(value).execute(&pool).await.expect("meta");
    }
    // Layer: version 2, name "roads", extent 4096 (Mapbox Vector Tile 2.1).
    let tile: Vec<u8> = [&[0x1a, 0x0c, 0x78, 0x02, 0x0a, 0x05][..], b"roads", &[0x28, 0x80, 0x20]].concat();
    sqlx::query("insert into tiles values (0, 0, 0, ?)").bind(&tile).execute(&pool).await.expect("tile");
    pool.close().await;
    tile
}

#[tokio::test]
async fn a_basemap_file_is_served_through_the_tile_endpoint_under_the_risk_layers() {
    let db = imported_db().await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("indonesia.mbtiles");
    let tile = small_mbtiles(&file).await;
    let server = ServerWith::start(&db.url, &["--basemap", file.to_str().expect("path")]).await;
    let base = &server.1;

    let (status, _, body) = get(&format!("{base}/tiles/basemap"), None, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let tilejson: Value = serde_json::from_slice(&body).expect("TileJSON");
    assert_eq!(tilejson["attribution"], "© OpenStreetMap contributors", "{tilejson}");
    assert_eq!(tilejson["tiles"][0], format!("{base}/tiles/basemap/{{z}}/{{x}}/{{y}}.mvt"), "{tilejson}");
    assert_eq!(tilejson["vector_layers"][0]["id"], "roads", "{tilejson}");

    let (status, headers, body) = get(&format!("{base}/tiles/basemap/0/0/0.mvt"), None, None).await;
    assert_eq!((status, body.as_slice()), (200, tile.as_slice()), "the stored tile, as it is");
    assert_eq!(headers["content-type"], "application/vnd.mapbox-vector-tile");
    assert_eq!(get(&format!("{base}/tiles/basemap/1/0/0.mvt"), None, None).await.0, 204, "no tile there");
    let (status, _, body) = get(&format!("{base}/tiles/basemap/0/5/0.mvt"), None, None).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    let (_, _, body) = get(&format!("{base}/styles/sipks.json"), None, None).await;
    let style: Value = serde_json::from_slice(&body).expect("style");
    assert_eq!(style["sources"]["basemap"]["url"], format!("{base}/tiles/basemap"), "{}", style["sources"]);
    let ids: Vec<&str> = style["layers"].as_array().expect("layers").iter().filter_map(|l| l["id"].as_str()).collect();
    let first_basemap = ids.iter().position(|id| id.starts_with("basemap-")).expect("basemap layers");
    let first_risk = ids.iter().position(|id| *id == "provinsi-fill").expect("risk layer");
    assert!(first_basemap < first_risk && ids.contains(&"basemap-roads-label"), "under the risk layers: {ids:?}");
    assert_eq!(style["metadata"]["sipks:basemap-attribution"], "© OpenStreetMap contributors");
    drop(server);

    // Without one, the tile endpoint has no basemap and the style none.
    let plain = Server::start(&db.url).await;
    assert_eq!(get(&format!("{}/tiles/basemap", plain.base), None, None).await.0, 404);
    let (_, _, body) = get(&format!("{}/styles/sipks.json", plain.base), None, None).await;
    let style: Value = serde_json::from_slice(&body).expect("style");
    assert!(style["sources"].get("basemap").is_none(), "no basemap source without --basemap");
    drop(plain);
    db.drop().await;
}
