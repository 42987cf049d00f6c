//! The database goes down under a running server, and comes back (issue 8): the server
//! stays up, serves tiles, risk and hotspots from its engine, answers writes with 503
//! and Retry-After at once, reports the state in /healthz and /readyz, and recovers by
//! itself, with no restart: writes succeed again and change notifications (LISTEN) are
//! heard again.
//!
//! PostgreSQL is really stopped: the test runs its own cluster (initdb in a temporary
//! directory, on a free port), holding a copy of the imported boundaries dumped from
//! the shared test server.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{answers_ok, imported_db, run_sipks};
use serde_json::{json, Value};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const PASSWORD: &str = "rahasia-uji-12345";

/// A PostgreSQL cluster of this test's own, removed when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs a PostgreSQL program as the `postgres` user when we are root (the server
/// refuses to run as root).
fn pg(program: &str, args: &[&str]) -> std::process::Output {
    let path = format!("{PG_BIN}/{program}");
    let mut command = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &path]);
        c
    } else {
        Command::new(&path)
    };
    command.args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

impl Cluster {
    fn create() -> Cluster {
        let dir = std::env::temp_dir().join(format!("sipks-outage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster directory");
        if running_as_root() {
            let status = Command::new("chown").args(["postgres:postgres", &dir.to_string_lossy()]).status();
            assert!(status.is_ok_and(|s| s.success()), "chown the cluster directory");
        }
        let data = dir.to_string_lossy().into_owned();
        let out = pg("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let cluster = Cluster { dir, port: free_port() };
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.to_string_lossy().into_owned()
    }

    fn start(&self) {
        let options =
            format!("-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='' -c fsync=off", self.port);
        let log = self.dir.join("server.log");
        let out = pg(
            "pg_ctl",
            &["-D", &self.data(), "-w", "-t", "60", "-l", &log.to_string_lossy(), "-o", &options, "start"],
        );
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn stop(&self) {
        let out = pg("pg_ctl", &["-D", &self.data(), "-w", "-m", "fast", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg("pg_ctl", &["-D", &self.data(), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Copies database `from` (a URL) into a new database `name` on `cluster`.
fn copy_database(from: &str, cluster: &Cluster, name: &str) {
    let run = |command: &mut Command, what: &str| {
        let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    run(Command::new("psql").args([&cluster.url("postgres"), "-qc", &format!("create database {name}")]), "createdb");
    let dump = std::env::temp_dir().join(format!("sipks-outage-{}.dump", std::process::id()));
    run(
        Command::new("pg_dump").args(["-Fc", "--no-owner", "--no-acl", "-f", &dump.to_string_lossy(), from]),
        "pg_dump",
    );
    run(
        Command::new("pg_restore").args(["--no-owner", "--no-acl", "-d", &cluster.url(name), &dump.to_string_lossy()]),
        "pg_restore",
    );
    let _ = std::fs::remove_file(dump);
}

/// `sipks serve` on the cluster's database, with its log kept.
struct Serve {
    child: std::process::Child,
    base: String,
    log: PathBuf,
}

impl Serve {
    async fn start(database_url: &str, dir: &Path) -> Serve {
        let port = free_port();
        let log = dir.join("sipks.log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sipks"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start sipks serve");
        let serve = Serve { child, base: format!("http://127.0.0.1:{port}"), log };
        if !answers_ok(&format!("{}/readyz", serve.base), Duration::from_secs(60)).await {
            panic!("sipks serve did not become ready:\n{}", serve.log_text());
        }
        serve
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: status, headers and body.
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
    took: Duration,
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let started = Instant::now();
    let response = request.timeout(Duration::from_secs(20)).send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply { status, headers, body, took: started.elapsed() }
}

fn incident(lon: f64, lat: f64, description: &str) -> Value {
    let occurred = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "type": "Feature",
        "geometry": { "type": "Point", "coordinates": [lon, lat] },
        "properties": {
            "category": "agraria", "severity": 4, "occurred_at": occurred,
            "source": "uji gangguan basis data", "description": description,
        },
    })
}

/// Total incidents of Kota Makassar (73.71) in the default window, per /api/risk.
async fn makassar_total(client: &reqwest::Client, base: &str) -> u64 {
    let reply = send(client.get(format!("{base}/api/risk?level=kabupaten_kota"))).await;
    assert_eq!(reply.status, 200, "/api/risk: {}", reply.body);
    let regions = reply.body["regions"].as_array().expect("regions");
    let makassar = regions.iter().find(|r| r["kode"] == "73.71").expect("73.71 in /api/risk");
    makassar["counts"]["total"].as_u64().expect("a total")
}

/// Polls `check` every 100 ms until it holds, at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_server_rides_out_a_database_outage_and_recovers_by_itself() {
    // A cluster of our own with the boundaries, a nasional user, and the server.
    let template = imported_db().await;
    let cluster = Cluster::create();
    copy_database(&template.url, &cluster, "sipks");
    template.drop().await;
    let url = cluster.url("sipks");
    let out = run_sipks(&url, &["users", "add", "pusat.uji", "--role", "nasional"], &[("SIPKS_PASSWORD", PASSWORD)]);
    assert!(out.status.success(), "users add: {}", String::from_utf8_lossy(&out.stderr));
    let server = Serve::start(&url, &cluster.dir).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let login =
        send(client.post(format!("{base}/api/login")).json(&json!({"username": "pusat.uji", "password": PASSWORD})))
            .await;
    assert_eq!(login.status, 200, "login: {}", login.body);
    let token = login.body["token"].as_str().expect("token").to_owned();
    let write = |description: &str| {
        client
            .post(format!("{base}/api/incidents"))
            .bearer_auth(&token)
            .header("idempotency-key", format!("outage-{description}"))
            .json(&incident(119.43, -5.14, description))
    };
    let before = send(write("before")).await;
    assert_eq!(before.status, 201, "a write before the outage: {}", before.body);
    let total_before = makassar_total(&client, &base).await;
    let health = send(client.get(format!("{base}/healthz"))).await;
    assert_eq!((health.status, health.body["status"].as_str()), (200, Some("ok")), "{}", health.body);

    // The database stops.
    cluster.stop();
    let tile = format!("{base}/tiles/sipks/5/26/16");
    let noticed = within(Duration::from_secs(5), "healthz reports the database unavailable", || async {
        let health = send(client.get(format!("{base}/healthz"))).await;
        health.status == 200 && health.body["status"] == "degraded" && health.body["database"]["state"] == "unavailable"
    })
    .await;
    println!("outage noticed by /healthz after {noticed:?}");
    let ready = send(client.get(format!("{base}/readyz"))).await;
    assert_eq!(ready.status, 503, "/readyz while the database is down: {}", ready.body);
    assert!(ready.headers.contains_key("retry-after"), "/readyz 503 has Retry-After");

    // Reads from memory go on.
    for path in ["/api/risk?level=kabupaten_kota", "/api/risk?level=provinsi", "/api/hotspots", "/tiles/sipks"] {
        let reply = send(client.get(format!("{base}{path}"))).await;
        assert_eq!(reply.status, 200, "{path} while the database is down: {}", reply.body);
    }
    assert_eq!(makassar_total(&client, &base).await, total_before, "risk from memory, unchanged");
    for z in [0, 5] {
        let (x, y) = if z == 0 { (0, 0) } else { (26, 16) };
        let reply = send(client.get(format!("{base}/tiles/sipks/{z}/{x}/{y}"))).await;
        assert_eq!(reply.status, 200, "tile {z}/{x}/{y} while the database is down");
    }
    let reply = send(client.get(&tile)).await;
    assert_eq!(reply.status, 200, "a tile while the database is down");

    // Writes are refused at once, with Retry-After, and nothing is half-done.
    for attempt in 0..3 {
        let refused = send(write(&format!("during-{attempt}"))).await;
        assert_eq!(refused.status, 503, "a write while the database is down: {}", refused.body);
        assert!(refused
            .headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json")));
        let retry: u64 =
            refused.headers.get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).expect("Retry-After");
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        assert!(refused.took < Duration::from_millis(500), "refused at once, not after a timeout: {:?}", refused.took);
    }
    let server_alive = send(client.get(format!("{base}/healthz"))).await;
    assert_eq!(server_alive.status, 200, "the server is still up");

    // The database comes back: the server recovers with no restart.
    cluster.start();
    let recovered = within(Duration::from_secs(10), "/readyz 200 after the database is back", || async {
        send(client.get(format!("{base}/readyz"))).await.status == 200
    })
    .await;
    println!("recovered {recovered:?} after the database was back");
    let after = send(write("after")).await;
    assert_eq!(after.status, 201, "a write after the outage: {}", after.body);
    within(Duration::from_secs(2), "the new incident counts in /api/risk", || async {
        makassar_total(&client, &base).await == total_before + 1
    })
    .await;
    // The refused writes left nothing behind.
    let pool = sipks::db::connect(&url, 2).await.expect("connect");
    let stored: i64 = sqlx::query_scalar("select count(*) from incidents where description like 'during-%'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 0, "no refused write was stored");

    // Change notifications are heard again: a bulk load by the command line reaches the
    // running server (it listens again and caught up once).
    let csv = cluster.dir.join("one.csv");
    let occurred = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    std::fs::write(
        &csv,
        format!("lon,lat,occurred_at,category,severity,status,source,description,id\n119.42,-5.15,{occurred},pemilu,2,potensi,uji,bulk after outage,outage-bulk-1\n"),
    )
    .expect("csv");
    let out = run_sipks(&url, &["incidents", "import", &csv.to_string_lossy()], &[]);
    assert!(out.status.success(), "import: {}", String::from_utf8_lossy(&out.stderr));
    let heard = within(Duration::from_secs(10), "the bulk load reaches the running server", || async {
        makassar_total(&client, &base).await == total_before + 2
    })
    .await;
    println!("bulk load heard after {heard:?}");
    pool.close().await;
    let log = server.log_text();
    assert!(log.contains("database unreachable"), "the outage is logged:\n{log}");
    assert!(log.contains("database reachable again"), "the recovery is logged:\n{log}");
}
