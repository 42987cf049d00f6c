//! `/metrics`: Prometheus text exposition (format 0.0.4) of request counts and latency
//! by route, the tile cache, the engine's update lag, and the database pool and state.
//!
//! Counters are atomics in a map keyed by route template (`/tiles/{source}/{z}/{x}/{y}`,
//! never the concrete path, so the series stay few); the map is written once per new
//! route and otherwise only read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Status classes counted apart.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Requests of one route and method.
#[derive(Default)]
pub(super) struct RouteStats {
    by_class: [AtomicU64; 5],
    /// Cumulative only when written out; here per bucket (the last is +Inf).
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of latencies, microseconds.
    sum_micros: AtomicU64,
}

impl RouteStats {
    /// Counts one answered request.
    pub(super) fn record(&self, status: u16, seconds: f64) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let bucket = BUCKETS.iter().position(|&b| seconds <= b).unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

/// The server's request metrics.
#[derive(Default)]
pub struct Metrics {
    routes: RwLock<BTreeMap<(String, String), Arc<RouteStats>>>,
}

impl Metrics {
    fn stats_of(&self, route: &str, method: &Method) -> Arc<RouteStats> {
        let key = (route.to_owned(), method.as_str().to_owned());
        if let Some(stats) = crate::sync::read(&self.routes).get(&key) {
            return Arc::clone(stats);
        }
        let mut routes = crate::sync::write(&self.routes);
        Arc::clone(routes.entry(key).or_default())
    }

    /// Counts one answered request.
    pub fn record(&self, route: &str, method: &Method, status: u16, seconds: f64) {
        self.stats_of(route, method).record(status, seconds);
    }

    /// The counters of one route template and method, for a caller that counts its
    /// requests itself (the tile cache's fast path, [`super::fast`]).
    pub(super) fn route_stats(&self, route: &str, method: &Method) -> Arc<RouteStats> {
        self.stats_of(route, method)
    }

    /// The request series in the text format.
    fn write_requests(&self, out: &mut String) {
        let routes = crate::sync::read(&self.routes);
        out.push_str(
            "# HELP sipks_http_requests_total HTTP requests answered, by route template, method and status class.\n",
        );
        out.push_str("# TYPE sipks_http_requests_total counter\n");
        for ((route, method), stats) in routes.iter() {
            for (class, count) in CLASSES.iter().zip(&stats.by_class) {
                let n = count.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "sipks_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{class}\"}} {n}",
                        escape(route)
                    );
                }
            }
        }
        out.push_str("# HELP sipks_http_request_duration_seconds Time to answer (until the response head), by route template and method.\n");
        out.push_str("# TYPE sipks_http_request_duration_seconds histogram\n");
        for ((route, method), stats) in routes.iter() {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
            let mut cumulative = 0;
            for (i, bucket) in stats.buckets.iter().enumerate() {
                cumulative += bucket.load(Ordering::Relaxed);
                let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
                let _ =
                    writeln!(out, "sipks_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let sum = stats.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "sipks_http_request_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "sipks_http_request_duration_seconds_count{{{labels}}} {cumulative}");
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Middleware: counts every request by its route template (`unmatched` when no route
/// took it) once its response head is ready.
pub async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    metrics.record(&route, &method, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics
///
/// Request counts and latency by route, tile cache size, hits and misses, the engine's
/// update lag, incidents in memory, and the database pool and state, in the Prometheus
/// text format.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "getMetrics",
    tag = "health",
    responses(
        (status = 200, description = "The metrics (Prometheus text exposition format 0.0.4).", body = String,
            content_type = "text/plain"),
    )
)]
async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::with_capacity(16 * 1024);
    state.metrics.write_requests(&mut out);
    let (tiles, bytes, hits, misses) = state.tiles.cache_stats();
    let lag = state.tiles.lag();
    let incidents = state.read().incidents().len();
    let pool = (state.pool.size(), state.pool.num_idle(), state.pool.options().get_max_connections());
    let db = state.db.state();
    let gauges: [(&str, &str, &str, f64); 12] = [
        ("sipks_tile_cache_tiles", "gauge", "Tiles in the cache.", tiles as f64),
        ("sipks_tile_cache_bytes", "gauge", "Bytes the cached tiles hold (as counted for the bound).", bytes as f64),
        ("sipks_tile_cache_hits_total", "counter", "Tile requests answered from the cache.", hits as f64),
        ("sipks_tile_cache_misses_total", "counter", "Tile requests that rendered the tile.", misses as f64),
        (
            "sipks_engine_update_lag_seconds",
            "gauge",
            "The last change's lag: from its write to the engine until risk, Gi* and tiles show it.",
            lag.last_seconds,
        ),
        (
            "sipks_engine_update_lag_max_seconds",
            "gauge",
            "The largest such lag since the server started.",
            lag.max_seconds,
        ),
        ("sipks_engine_updates_total", "counter", "Batches of engine changes brought up to date.", lag.batches as f64),
        ("sipks_engine_incidents", "gauge", "Incidents held in memory.", incidents as f64),
        ("sipks_db_pool_connections", "gauge", "Connections open in the database pool.", f64::from(pool.0)),
        ("sipks_db_pool_idle", "gauge", "Idle connections in the database pool.", pool.1 as f64),
        ("sipks_db_pool_max", "gauge", "The pool's connection limit.", f64::from(pool.2)),
        ("sipks_db_up", "gauge", "1 when the database answered the last check, else 0.", f64::from(u8::from(db.up))),
    ];
    for (name, kind, help, value) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], out)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_class_and_bucket() {
        let metrics = Metrics::default();
        metrics.record("/tiles/{source}/{z}/{x}/{y}", &Method::GET, 200, 0.0007);
        metrics.record("/tiles/{source}/{z}/{x}/{y}", &Method::GET, 304, 0.0001);
        metrics.record("/tiles/{source}/{z}/{x}/{y}", &Method::GET, 400, 20.0);
        let mut out = String::new();
        metrics.write_requests(&mut out);
        let route = "route=\"/tiles/{source}/{z}/{x}/{y}\",method=\"GET\"";
        for line in [
            format!("sipks_http_requests_total{{{route},status=\"2xx\"}} 1"),
            format!("sipks_http_requests_total{{{route},status=\"3xx\"}} 1"),
            format!("sipks_http_requests_total{{{route},status=\"4xx\"}} 1"),
            format!("sipks_http_request_duration_seconds_bucket{{{route},le=\"0.0005\"}} 1"),
            format!("sipks_http_request_duration_seconds_bucket{{{route},le=\"0.001\"}} 2"),
            format!("sipks_http_request_duration_seconds_bucket{{{route},le=\"10\"}} 2"),
            format!("sipks_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}} 3"),
            format!("sipks_http_request_duration_seconds_count{{{route}}} 3"),
        ] {
            assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
        }
        assert!(!out.contains("status=\"5xx\""), "classes never seen are not written");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
