//! The web map end to end: the real `sipks serve` on a copy of the real boundaries with
//! a few incidents and users, driven in real headless Chromium by
//! `tests/web/e2e.mjs` (playwright-core; it asserts every acceptance point of the web
//! map and saves screenshots in test-artifacts/). And training mode: a training
//! database and a real one are never served as each other.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{answers_ok, imported_db, run_sipks, Server, TestDb};

/// One browser test at a time: the time to interactive is measured on a machine not
/// busy with the other test of this file.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

const OPERATOR: (&str, &str) = ("operator.makassar", "sandi-operator-makassar");
const NASIONAL: (&str, &str) = ("pimpinan.pusat", "sandi-pimpinan-pusat");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn web_dist() -> PathBuf {
    let dist = root().join("web/dist");
    assert!(
        dist.join("index.html").is_file() && root().join("web/node_modules/playwright-core").is_dir(),
        "the web map is not built: run scripts/test (or npm ci && npm run build in web/)"
    );
    dist
}

fn ok(output: &Output, what: &str) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

fn add_user(db: &TestDb, (name, password): (&str, &str), role: &str, kode: Option<&str>) {
    let mut args = vec!["users", "add", name, "--role", role];
    if let Some(kode) = kode {
        args.extend(["--kode", kode]);
    }
    ok(&run_sipks(&db.url, &args, &[("SIPKS_PASSWORD", password)]), "users add");
}

/// Incidents known by region, recent (days ago): Poso turns merah, Gowa kuning,
/// Makassar keeps hijau with two minor reports.
fn load_incidents(db: &TestDb, dir: &Path) {
    let day = |n: i64| (chrono::Utc::now() - chrono::Duration::days(n)).to_rfc3339();
    let mut csv = String::from("kode,occurred_at,category,severity,status,source,description,id\n");
    for n in 0..5 {
        csv += &format!("72.02,{},sara,5,terjadi,uji,bentrokan {n},poso-{n}\n", day(n + 1));
    }
    for n in 0..2 {
        csv += &format!("73.06,{},pemilu,4,terjadi,uji,ketegangan {n},gowa-{n}\n", day(n + 2));
        csv += &format!("73.71,{},ekonomi,2,potensi,uji,unjuk rasa {n},makassar-{n}\n", day(n + 3));
    }
    let path = dir.join("incidents.csv");
    std::fs::write(&path, csv).expect("write incidents");
    ok(&run_sipks(&db.url, &["incidents", "import", path.to_str().expect("path")], &[]), "incidents import");
}

/// The centre and radius (degrees) of the largest circle inside a region: where the
/// browser draws a polygon that lies surely inside it.
async fn inside(db: &TestDb, kode: &str) -> String {
    let (lon, lat, radius): (f64, f64, f64) = sqlx::query_as(
        "select st_x(c.center), st_y(c.center), c.radius
         from regions r, lateral st_maximuminscribedcircle(r.geom) c where r.code = $1",
    )
    .bind(kode)
    .fetch_one(&db.pool)
    .await
    .expect("inscribed circle");
    format!("[{lon},{lat},{radius}]")
}

/// Runs tests/web/e2e.mjs against `base`; prints its output and returns it.
fn e2e(base: &str, mode: &str, env: &[(&str, String)]) -> String {
    web_dist();
    let artifacts = root().join("test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("test-artifacts/");
    let output = Command::new("node")
        .arg(root().join("tests/web/e2e.mjs"))
        .env("SIPKS_URL", base)
        .env("SIPKS_E2E_MODE", mode)
        .env("SIPKS_ARTIFACTS", &artifacts)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run node tests/web/e2e.mjs (is node installed? scripts/test installs it)");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{text}");
    assert!(output.status.success(), "the browser test failed ({}):\n{text}", output.status);
    text
}

#[tokio::test]
async fn the_web_map_works_in_headless_chromium() {
    let _alone = one_at_a_time();
    web_dist();
    let db = imported_db().await;
    let dir = tempfile::tempdir().expect("dir");
    load_incidents(&db, dir.path());
    add_user(&db, OPERATOR, "kabupaten_kota", Some("73.71"));
    add_user(&db, NASIONAL, "nasional", None);
    let inside_makassar = inside(&db, "73.71").await;
    let inside_gowa = inside(&db, "73.06").await;
    let server = Server::start(&db.url).await;

    let text = e2e(
        &server.base,
        "full",
        &[
            ("SIPKS_OPERATOR", format!("{}:{}", OPERATOR.0, OPERATOR.1)),
            ("SIPKS_NASIONAL", format!("{}:{}", NASIONAL.0, NASIONAL.1)),
            ("SIPKS_INSIDE", inside_makassar),
            ("SIPKS_OUTSIDE", inside_gowa),
        ],
    );
    assert!(text.contains("e2e: every check passed"), "{text}");
    drop(server);
    db.drop().await;
}

/// `sipks serve` with `args` until it exits (it should refuse), killed after 60 s.
fn serve_expecting_refusal(url: &str, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sipks"))
        .args(["--lang", "en", "serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("DATABASE_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sipks serve");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            assert!(!output.status.success(), "sipks serve {args:?} exited successfully");
            return String::from_utf8_lossy(&output.stderr).into_owned();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("sipks serve {args:?} kept serving: it should have refused this database");
}

/// `sipks serve --training` on a free port, killed when dropped.
struct TrainingServer(Child, String);

impl TrainingServer {
    async fn start(url: &str) -> TrainingServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let child = Command::new(env!("CARGO_BIN_EXE_sipks"))
            .args(["serve", "--training", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipks serve --training");
        let server = TrainingServer(child, format!("http://127.0.0.1:{port}"));
        assert!(
            answers_ok(&format!("{}/healthz", server.1), Duration::from_secs(60)).await,
            "sipks serve --training did not become healthy"
        );
        server
    }
}

impl Drop for TrainingServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn training_and_real_databases_are_never_served_as_each_other() {
    let _alone = one_at_a_time();
    let db = imported_db().await;

    let refused = serve_expecting_refusal(&db.url, &["--training"]);
    assert!(refused.contains("not a training database"), "{refused}");

    let seeded = ok(&run_sipks(&db.url, &["training", "seed", "--incidents", "400"], &[]), "training seed");
    let stored = db.count("select count(*) from incidents").await;
    assert!((150..=800).contains(&stored), "about 400 synthetic incidents, stored {stored}:\n{seeded}");
    ok(&run_sipks(&db.url, &["training", "seed", "--incidents", "400"], &[]), "training seed, again");
    assert_eq!(db.count("select count(*) from incidents").await, stored, "a second seed loads nothing new");

    let refused = serve_expecting_refusal(&db.url, &[]);
    assert!(refused.contains("is a training database"), "{refused}");

    let server = TrainingServer::start(&db.url).await;
    let meta: serde_json::Value =
        reqwest::get(format!("{}/api/meta", server.1)).await.expect("meta").json().await.expect("JSON");
    assert_eq!(meta["training"], true, "{meta}");
    e2e(&server.1, "training", &[]);
    drop(server);

    // A database holding real incidents never becomes a training database.
    let real = imported_db().await;
    let dir = tempfile::tempdir().expect("dir");
    load_incidents(&real, dir.path());
    let output = run_sipks(&real.url, &["training", "seed"], &[]);
    let text = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && text.contains("refusing"), "{text}");
    assert_eq!(real.count("select count(*) from training_marker").await, 0, "a real database is never marked");
    real.drop().await;
    db.drop().await;
}
