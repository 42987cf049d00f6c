//! Fixtures shared by the integration tests: throwaway PostGIS databases (empty, or a
//! copy of one with all real boundaries imported) and the real boundary files.
//!
//! `SIPKS_TEST_DATABASE_URL` names a server database where the tests may create
//! databases (scripts/test sets it); `SIPKS_BOUNDARIES` the shared boundary data
//! (default `../shared/boundaries`).

#![allow(dead_code)]

pub mod api;
pub mod client;
pub mod decoded;
pub mod export_fixture;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use sipks::boundaries::{self, ImportOptions};
use sipks::db;
use sqlx::{Connection, PgConnection, PgPool};

const TEMPLATE: &str = "sipks_t_template";

pub fn admin_url() -> String {
    std::env::var("SIPKS_TEST_DATABASE_URL")
        .expect("SIPKS_TEST_DATABASE_URL is not set: run the tests through scripts/test")
}

pub fn boundaries_dir() -> PathBuf {
    std::env::var_os("SIPKS_BOUNDARIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/boundaries"))
}

pub fn wilayah_dir() -> PathBuf {
    boundaries_dir().join("wilayah_boundaries")
}

pub fn geojson_dir() -> PathBuf {
    boundaries_dir().join("geojson")
}

/// The URL of database `name` on the test server.
pub fn url_for(name: &str) -> String {
    let admin = admin_url();
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base.to_owned(), format!("?{query}")),
        None => (admin.clone(), String::new()),
    };
    let slash = base.rfind('/').expect("database URL with a path");
    format!("{}/{name}{query}", &base[..slash])
}

/// A database of its own for one test, dropped by [`TestDb::drop`].
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn fresh_name() -> String {
    format!("sipks_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

async fn admin() -> PgConnection {
    PgConnection::connect(&admin_url()).await.expect("connect to the test server")
}

/// An empty database with the migrations applied.
pub async fn empty_db() -> TestDb {
    let name = fresh_name();
    let mut admin = admin().await;
    sqlx::query(&format!("create database {name}")).execute(&mut admin).await.expect("create database");
    let url = url_for(&name);
    let pool = db::connect(&url, 8).await.expect("connect");
    db::migrate(&pool).await.expect("migrate");
    TestDb { name, url, pool }
}

/// A database holding all real boundaries (imported from the wilayah SQL dumps), copied
/// from a template that the first caller of the test run builds.
pub async fn imported_db() -> TestDb {
    let mut admin = admin().await;
    sqlx::query("select pg_advisory_lock(7277)").execute(&mut admin).await.expect("lock");
    let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(TEMPLATE)
        .fetch_one(&mut admin)
        .await
        .expect("query");
    if !exists {
        let building = format!("{TEMPLATE}_building");
        sqlx::query(&format!("drop database if exists {building}")).execute(&mut admin).await.expect("drop");
        sqlx::query(&format!("create database {building}")).execute(&mut admin).await.expect("create");
        let pool = db::connect(&url_for(&building), 8).await.expect("connect");
        db::migrate(&pool).await.expect("migrate");
        boundaries::import(&pool, &[wilayah_dir()], &ImportOptions::default()).await.expect("import all boundaries");
        pool.close().await;
        sqlx::query(&format!("alter database {building} rename to {TEMPLATE}"))
            .execute(&mut admin)
            .await
            .expect("rename");
    }
    let name = fresh_name();
    sqlx::query(&format!("create database {name} template {TEMPLATE}")).execute(&mut admin).await.expect("copy");
    sqlx::query("select pg_advisory_unlock(7277)").execute(&mut admin).await.expect("unlock");
    let url = url_for(&name);
    let pool = db::connect(&url, 8).await.expect("connect");
    // A template left by an older checkout may lack newer migrations.
    db::migrate(&pool).await.expect("migrate");
    TestDb { name, url, pool }
}

impl TestDb {
    /// Closes the pool and drops the database.
    pub async fn drop(self) {
        self.pool.close().await;
        let mut admin = admin().await;
        let _ = sqlx::query(&format!("drop database if exists {} with (force)", self.name)).execute(&mut admin).await;
    }

    /// A fingerprint of every stored region (codes, names, parents, both geometries,
    /// timestamps): equal fingerprints mean nothing changed.
    pub async fn fingerprint(&self) -> String {
        sqlx::query_scalar(
            "select coalesce(md5(string_agg(concat_ws('|', code, name, level, parent_code,
                        md5(st_asbinary(geom)), md5(st_asbinary(geom_published)), updated_at), ',' order by code)), '')
             from regions",
        )
        .fetch_one(&self.pool)
        .await
        .expect("fingerprint")
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.expect(sql)
    }
}

/// Runs the `sipks` command (messages in English) on a database, with extra
/// environment variables (e.g. `SIPKS_PASSWORD`).
pub fn run_sipks(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sipks"))
        .args(["--lang", "en"])
        .args(args)
        .env("DATABASE_URL", database_url)
        .envs(env.iter().copied())
        .output()
        .expect("run sipks")
}

/// The real `sipks serve` binary on a free port, killed when dropped.
pub struct Server {
    child: std::process::Child,
    /// The pipe whose end stops a server started by [`Server::start_for_process`].
    watchdog: Option<std::process::ChildStdin>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// Serves until its standard input ends (the test process exits, however it exits),
/// then stops the server and drops its database.
const WATCHDOG: &str = r#"
"$0" serve --listen "$1" </dev/null >/dev/null 2>&1 &
server=$!
read -r _ || true
kill "$server" 2>/dev/null; wait "$server"
if command -v psql >/dev/null; then psql "$2" -qc "drop database if exists $3 with (force)" >/dev/null 2>&1; fi
"#;

impl Server {
    /// Starts the server on `database_url` and waits until /healthz answers.
    pub async fn start(database_url: &str) -> Server {
        Server::start_with_env(database_url, &[]).await
    }

    /// As [`Server::start`], with these environment variables besides.
    pub async fn start_with_env(database_url: &str, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_sipks"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sipks serve");
        Server { child, watchdog: None, base: format!("http://127.0.0.1:{port}") }.healthy().await
    }

    /// Starts the server on `db` for the rest of the test process, for the tests of a
    /// file to share (each test runs on its own runtime, so a server kept in a static
    /// is never dropped): when the process ends, a watchdog shell stops the server and
    /// drops the database.
    pub async fn start_for_process(db: &TestDb) -> Server {
        let port = free_port();
        let mut child = std::process::Command::new("sh")
            .args(["-c", WATCHDOG, env!("CARGO_BIN_EXE_sipks"), &format!("127.0.0.1:{port}"), &admin_url(), &db.name])
            .env("DATABASE_URL", &db.url)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start sipks serve under its watchdog");
        let watchdog = child.stdin.take();
        Server { child, watchdog, base: format!("http://127.0.0.1:{port}") }.healthy().await
    }

    /// Kills the server at once with SIGKILL (no shutdown, nothing flushed: a crash or
    /// a power cut as the process sees it) and reaps it.
    pub fn kill_hard(mut self) {
        assert!(self.watchdog.is_none(), "a server under a watchdog is stopped by its watchdog");
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// Waits until /healthz answers.
    async fn healthy(self) -> Server {
        assert!(
            answers_ok(&format!("{}/healthz", self.base), std::time::Duration::from_secs(60)).await,
            "sipks serve did not become healthy"
        );
        self
    }

    /// GET `path`: status, content type and JSON body.
    pub async fn get_full(&self, path: &str) -> (u16, String, serde_json::Value) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.expect("request");
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        (status, content_type, response.json().await.expect("JSON body"))
    }

    /// GET `path`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, _, body) = self.get_full(path).await;
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Under a watchdog, closing its input stops the server.
        if self.watchdog.take().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Whether `url` answers 2xx within `within`, asking every 100 ms (a server that is
/// starting).
pub async fn answers_ok(url: &str, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if reqwest::get(url).await.is_ok_and(|r| r.status().is_success()) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

/// The Python with the independent references (PySAL, pymannkendall,
/// mapbox-vector-tile), as scripts/test sets `SIPKS_PYTHON`.
pub fn python() -> String {
    std::env::var("SIPKS_PYTHON").expect(
        "SIPKS_PYTHON is not set: run the tests through scripts/test, which installs the Python \
         references (ensure_pysal in scripts/lib/python.sh) and sets it",
    )
}

/// Runs the reference script `tests/<script>` with `input` as JSON on its standard
/// input and returns its standard output (JSON).
pub fn run_reference(script: &str, input: &serde_json::Value) -> Vec<u8> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let python = python();
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(&python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python} {path}: {e}"));
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("write to the reference");
    let output = child.wait_with_output().expect("wait for the reference");
    assert!(output.status.success(), "{script} failed ({})", output.status);
    output.stdout
}

/// A fixture shared by the tests of one file (a server, its users): built by the first
/// test that asks, on a runtime of its own, since each test's runtime ends with it.
pub fn shared<T: Send + Sync + 'static, F: std::future::Future<Output = T> + 'static>(
    cell: &'static std::sync::OnceLock<T>,
    build: fn() -> F,
) -> &'static T {
    cell.get_or_init(|| {
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(build())
        })
        .join()
        .expect("the shared fixture could not be set up")
    })
}
