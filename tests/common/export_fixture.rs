//! The server the export and OGC tests share: the real boundaries, incidents loaded
//! with `sipks incidents import` (points in three clusters and scattered, a line, a
//! polygon, reports known only by region, one deleted, descriptions with quotes,
//! commas and line breaks), a nasional user and an operator of Kota Makassar (73.71)
//! made with `sipks users add`, and their tokens. Built once per test process, on a
//! thread of its own; plus the external clients: GDAL's command-line tools and
//! shapely.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::{imported_db, run_sipks, Server};

pub const PASSWORD: &str = "rahasia-ekspor-123";
pub const NASIONAL: &str = "gis.pusat";
pub const MAKASSAR: &str = "op.ekspor.makassar";

pub struct Fixture {
    pub server: Server,
    pub database_url: String,
    pub nasional: String,
    pub makassar: String,
    /// Where downloaded files go.
    pub dir: PathBuf,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

pub fn fixture() -> &'static Fixture {
    super::shared(&FIXTURE, build)
}

/// A deterministic jitter in [-1, 1).
fn jitter(i: u32, salt: u32) -> f64 {
    let x = (i.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503)) % 10_000;
    f64::from(x) / 5_000.0 - 1.0
}

const CATEGORIES: [&str; 7] = ["pemilu", "agraria", "antar_kelompok", "sara", "sumber_daya_alam", "ekonomi", "lainnya"];
const STATUSES: [&str; 4] = ["potensi", "terjadi", "ditangani", "selesai"];

/// The incident file: 40 points in Makassar, 30 in Gowa, 30 in Jakarta Pusat, 8
/// scattered over the archipelago, 2 known only by region.
fn incident_csv() -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "lon",
        "lat",
        "occurred_at",
        "category",
        "severity",
        "status",
        "source",
        "description",
        "id",
        "kode",
    ])
    .expect("header");
    let now = Utc::now();
    let mut n = 0u32;
    let mut row = |lon: Option<f64>, lat: Option<f64>, kode: &str, description: &str| {
        let when = now - Duration::days(i64::from(n % 80)) - Duration::hours(i64::from(n % 24));
        let record = [
            lon.map(|v| format!("{v:.6}")).unwrap_or_default(),
            lat.map(|v| format!("{v:.6}")).unwrap_or_default(),
            when.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            CATEGORIES[n as usize % 7].to_owned(),
            (1 + n % 5).to_string(),
            STATUSES[n as usize % 4].to_owned(),
            "uji ekspor".to_owned(),
            description.to_owned(),
            format!("ekspor-{n}"),
            kode.to_owned(),
        ];
        out.write_record(&record).expect("row");
        n += 1;
    };
    for i in 0..40 {
        let description =
            if i == 3 { "Sengketa \"lahan\", warga bentrok\nbaris kedua" } else { "kejadian di Makassar" };
        row(Some(119.42 + 0.01 * jitter(i, 1)), Some(-5.14 + 0.01 * jitter(i, 2)), "", description);
    }
    for i in 0..30 {
        row(Some(119.77 + 0.01 * jitter(i, 3)), Some(-5.34 + 0.01 * jitter(i, 4)), "", "kejadian di Gowa");
    }
    for i in 0..30 {
        row(Some(106.82 + 0.005 * jitter(i, 5)), Some(-6.18 + 0.005 * jitter(i, 6)), "", "kejadian di Jakarta, pusat");
    }
    for (lon, lat) in [
        (140.70, -2.53),
        (115.22, -8.65),
        (98.67, 3.59),
        (110.37, -7.80),
        (124.84, 1.47),
        (131.25, -0.87),
        (122.52, -3.97),
        (116.85, -1.24),
    ] {
        row(Some(lon), Some(lat), "", "kejadian tersebar");
    }
    row(None, None, "73.71", "laporan tingkat kota");
    row(None, None, "31.71", "laporan tingkat kota");
    out.into_inner().expect("CSV")
}

/// A line and a polygon in Makassar (the polygon wound clockwise, as some sources
/// send them), recorded through the API.
fn shaped_incidents() -> [Value; 2] {
    let when = (Utc::now() - Duration::days(3)).to_rfc3339();
    [
        json!({"type": "Feature", "geometry": {"type": "LineString",
                "coordinates": [[119.410, -5.150], [119.420, -5.145], [119.432, -5.141]]},
             "properties": {"occurred_at": when, "category": "antar_kelompok", "severity": 4, "status": "terjadi",
                            "description": "bentrokan sepanjang jalan"}}),
        json!({"type": "Feature", "geometry": {"type": "Polygon",
                "coordinates": [[[119.40, -5.13], [119.40, -5.12], [119.41, -5.12], [119.41, -5.13], [119.40, -5.13]]]},
             "properties": {"occurred_at": when, "category": "agraria", "severity": 3, "status": "potensi",
                            "description": "lahan sengketa"}}),
    ]
}

async fn build() -> Fixture {
    let db = imported_db().await;
    let dir = std::env::temp_dir().join(format!("sipks-export-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("incidents.csv");
    std::fs::write(&csv, incident_csv()).expect("write CSV");
    let out = run_sipks(&db.url, &["incidents", "import", csv.to_str().expect("path")], &[]);
    assert!(out.status.success(), "import: {}", String::from_utf8_lossy(&out.stderr));
    sqlx::query("update incidents set deleted_at = now(), version = version + 1 where external_id = 'ekspor-5'")
        .execute(&db.pool)
        .await
        .expect("delete one");
    for (user, args) in
        [(NASIONAL, &["--role", "nasional"][..]), (MAKASSAR, &["--role", "kabupaten_kota", "--kode", "73.71"][..])]
    {
        let mut all = vec!["users", "add", user];
        all.extend_from_slice(args);
        let out = run_sipks(&db.url, &all, &[("SIPKS_PASSWORD", PASSWORD)]);
        assert!(out.status.success(), "users add {user}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let server = Server::start_for_process(&db).await;
    db.pool.close().await;
    let login = |user: &'static str| {
        let base = server.base.clone();
        async move {
            let reply = reqwest::Client::new()
                .post(format!("{base}/api/login"))
                .json(&json!({"username": user, "password": PASSWORD}))
                .send()
                .await
                .expect("login");
            assert_eq!(reply.status().as_u16(), 200, "login {user}");
            reply.json::<Value>().await.expect("JSON")["token"].as_str().expect("token").to_owned()
        }
    };
    let nasional = login(NASIONAL).await;
    let makassar = login(MAKASSAR).await;
    // Lines and polygons through the API: the engine's loader reads only points at
    // start-up (`st_x` of a line fails), so they are added to the running server.
    for body in shaped_incidents() {
        let reply = reqwest::Client::new()
            .post(format!("{}/api/incidents", server.base))
            .bearer_auth(&makassar)
            .header("content-type", "application/geo+json")
            .body(body.to_string())
            .send()
            .await
            .expect("POST /api/incidents");
        assert_eq!(reply.status().as_u16(), 201, "{}", reply.text().await.unwrap_or_default());
    }
    Fixture { server, database_url: db.url, nasional, makassar, dir }
}

impl Fixture {
    /// A pool on this test's runtime.
    pub async fn pool(&self) -> sqlx::PgPool {
        sipks::db::connect(&self.database_url, 2).await.expect("connect to the test database")
    }

    /// GET `path` with an optional token: status, headers, body.
    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut request =
            reqwest::Client::new().get(format!("{}{path}", self.server.base)).header("accept-language", "en");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.expect("body").to_vec())
    }

    /// GET `path` expecting JSON.
    pub async fn json(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let (status, _, body) = self.get(path, token).await;
        let value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        (status, value)
    }

    /// Downloads `path` into the fixture's directory as `name`.
    pub async fn download(&self, path: &str, token: Option<&str>, name: &str) -> PathBuf {
        let (status, _, body) = self.get(path, token).await;
        assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&body));
        let file = self.dir.join(name);
        std::fs::write(&file, body).expect("write download");
        file
    }
}

/// Runs a GDAL command-line tool; panics with its output when it fails.
pub fn gdal(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .env("CPL_DEBUG", "OFF")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} (Debian package gdal-bin): {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The feature count `ogrinfo -so` reports for the one layer of `source`.
pub fn ogr_count(source: &str, extra: &[&str]) -> i64 {
    let mut args = vec!["-ro", "-so", "-al"];
    args.extend_from_slice(extra);
    args.push(source);
    let text = gdal("ogrinfo", &args);
    let counts: Vec<i64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Feature Count: "))
        .map(|n| n.trim().parse().expect("a count"))
        .collect();
    assert_eq!(counts.len(), 1, "one layer in {source}: {text}");
    counts[0]
}

/// `source` as GDAL reads it, converted to a GeoJSON FeatureCollection.
pub fn ogr_geojson(source: &str, extra: &[&str]) -> Value {
    let mut args = vec!["-f", "GeoJSON", "/vsistdout/"];
    args.push(source);
    args.extend_from_slice(extra);
    serde_json::from_str(&gdal("ogr2ogr", &args)).expect("ogr2ogr writes GeoJSON")
}

/// Runs a Python script with shapely (SIPKS_PYTHON, from scripts/lib/python.sh) on a
/// file; returns its standard output.
pub fn python(script: &str, file: &Path) -> String {
    let python = std::env::var("SIPKS_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-c", script, file.to_str().expect("path")])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
