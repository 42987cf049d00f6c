//! Observability and security basics of the real server (issue 8): Prometheus metrics
//! at /metrics, a request id in every answer and log line, security headers, CORS
//! closed by default and open to configured origins only, and no secrets in the logs
//! (passwords, tokens), even at the most verbose level.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{answers_ok, imported_db, run_sipks};
use serde_json::json;

const PASSWORD: &str = "sandi-yang-tidak-boleh-bocor-987";

/// `sipks serve` with extra environment and its log (stderr) in a file.
struct Serve {
    child: std::process::Child,
    base: String,
    log: PathBuf,
}

impl Serve {
    async fn start(database_url: &str, env: &[(&str, &str)], name: &str) -> Serve {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let log = std::env::temp_dir().join(format!("sipks-observability-{}-{name}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_sipks"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", database_url)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start sipks serve");
        let serve = Serve { child, base: format!("http://127.0.0.1:{port}"), log };
        assert!(
            answers_ok(&format!("{}/healthz", serve.base), Duration::from_secs(60)).await,
            "sipks serve did not start"
        );
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
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The value of a Prometheus sample with exactly this name and these labels.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_request_ids_headers_cors_and_quiet_logs() {
    let db = imported_db().await;
    let out =
        run_sipks(&db.url, &["users", "add", "pusat.metrik", "--role", "nasional"], &[("SIPKS_PASSWORD", PASSWORD)]);
    assert!(out.status.success(), "users add: {}", String::from_utf8_lossy(&out.stderr));
    // The most verbose logs, where a leak would show first.
    let server = Serve::start(&db.url, &[("RUST_LOG", "trace")], "closed").await;
    let base = &server.base;
    let client = reqwest::Client::new();

    // A login and requests with its token; one tile twice (a cache hit).
    let login = client
        .post(format!("{base}/api/login"))
        .json(&json!({"username": "pusat.metrik", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.expect("json")["token"].as_str().expect("token").to_owned();
    for path in ["/api/me", "/api/incidents?limit=5", "/tiles/kabupaten_kota/5/26/16", "/tiles/kabupaten_kota/5/26/16"]
    {
        let reply = client.get(format!("{base}{path}")).bearer_auth(&token).send().await.expect(path);
        assert!(reply.status().is_success(), "{path}: {}", reply.status());
    }
    let missing = client.get(format!("{base}/tiles/nothing/1/0/0")).send().await.expect("404");
    assert_eq!(missing.status(), 404);

    // Metrics: requests by route template (never the concrete path), latency, the tile
    // cache, the engine, the pool and the database.
    let metrics = client.get(format!("{base}/metrics")).send().await.expect("metrics");
    assert_eq!(metrics.status(), 200);
    let kind = metrics.headers()["content-type"].to_str().expect("type").to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = metrics.text().await.expect("text");
    let tiles = r#"route="/tiles/{source}/{z}/{x}/{y}",method="GET""#;
    assert_eq!(sample(&text, &format!("sipks_http_requests_total{{{tiles},status=\"2xx\"}}")), Some(2.0), "{text}");
    assert_eq!(sample(&text, &format!("sipks_http_requests_total{{{tiles},status=\"4xx\"}}")), Some(1.0), "{text}");
    assert_eq!(sample(&text, &format!("sipks_http_request_duration_seconds_count{{{tiles}}}")), Some(3.0));
    assert_eq!(sample(&text, &format!("sipks_http_request_duration_seconds_bucket{{{tiles},le=\"+Inf\"}}")), Some(3.0));
    let login_route = r#"route="/api/login",method="POST",status="2xx""#;
    assert_eq!(sample(&text, &format!("sipks_http_requests_total{{{login_route}}}")), Some(1.0));
    assert!(!text.contains("26/16"), "no concrete tile path is a label");
    assert!(sample(&text, "sipks_tile_cache_hits_total").is_some_and(|h| h >= 1.0), "a cache hit counted");
    assert!(sample(&text, "sipks_tile_cache_misses_total").is_some_and(|m| m >= 1.0));
    assert_eq!(sample(&text, "sipks_db_up"), Some(1.0));
    assert!(sample(&text, "sipks_db_pool_max").is_some_and(|m| m > 0.0));
    assert!(sample(&text, "sipks_db_pool_connections").is_some());
    assert!(sample(&text, "sipks_engine_update_lag_seconds").is_some());
    assert!(sample(&text, "sipks_engine_incidents").is_some());

    // Request ids: made when absent, kept when sane, replaced when not; in the logs.
    let made = client.get(format!("{base}/api/risk")).send().await.expect("risk");
    let id = made.headers().get("x-request-id").expect("a request id").to_str().expect("ascii").to_owned();
    assert_eq!(id.len(), 16, "{id}");
    let kept = client.get(format!("{base}/api/risk")).header("x-request-id", "uji-123").send().await.expect("risk");
    assert_eq!(kept.headers()["x-request-id"], "uji-123");
    let long = "x".repeat(200);
    let replaced = client.get(format!("{base}/api/risk")).header("x-request-id", &long).send().await.expect("risk");
    let replacement = replaced.headers()["x-request-id"].to_str().expect("ascii");
    assert_ne!(replacement, long);
    assert_eq!(replacement.len(), 16);

    // Security headers on every answer.
    for path in ["/api/risk", "/tiles/kabupaten_kota/5/26/16", "/nothing-here"] {
        let reply = client.get(format!("{base}{path}")).send().await.expect(path);
        let headers = reply.headers();
        assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{path}");
        assert_eq!(headers.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{path}");
        assert!(headers.contains_key("referrer-policy"), "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }

    // CORS is closed by default: no grant to another origin, for a plain request or a
    // preflight.
    let origin = "http://contoh-lain.example";
    let plain = client.get(format!("{base}/api/risk")).header("origin", origin).send().await.expect("risk");
    assert!(plain.headers().get("access-control-allow-origin").is_none(), "CORS closed by default");
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{base}/api/incidents"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.headers().get("access-control-allow-origin").is_none(), "no preflight grant by default");

    // No secrets in the logs at trace level: not the password, not the token (nor its
    // first half), while the request ids are there.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log_text();
    assert!(log.contains("uji-123"), "the request id is in the log lines");
    assert!(!log.contains(PASSWORD), "the password is in the log");
    assert!(!log.contains(&token[..token.len() / 2]), "the token is in the log");
    drop(server);

    // Configured origins, and only they, get CORS.
    let allowed = "http://gis.kemendagri.example";
    let server = Serve::start(&db.url, &[("SIPKS_CORS_ORIGINS", allowed)], "open").await;
    let preflight = client
        .request(reqwest::Method::OPTIONS, format!("{}/api/incidents", server.base))
        .header("origin", allowed)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type,idempotency-key")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.headers().get("access-control-allow-origin").map(|v| v.as_bytes()), Some(allowed.as_bytes()));
    let other = client.get(format!("{}/api/risk", server.base)).header("origin", origin).send().await.expect("risk");
    assert!(other.headers().get("access-control-allow-origin").is_none(), "an origin not configured gets nothing");
    drop(server);
    db.drop().await;
}
