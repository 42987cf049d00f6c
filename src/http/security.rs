//! The layers around every route: request ids and tracing, CORS (closed unless
//! configured), security headers, the request timeout, and the refusal of writes while
//! the database is down.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::HttpConfig;
use crate::db::status::DbStatus;

/// Seconds a client is told to wait (`Retry-After`) when the database is down.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// The header of request ids.
pub(super) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: 16 random hex digits (from a per-thread generator seeded at
/// random: ids tie log lines together, they guard nothing).
pub(super) fn new_request_id() -> HeaderValue {
    let mut digits = [0u8; 16];
    let mut n = fastrand::u64(..);
    for d in digits.iter_mut().rev() {
        *d = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
    }
    HeaderValue::from_bytes(&digits).unwrap_or_else(|_| HeaderValue::from_static("0000000000000000"))
}

/// Whether a client's request id is kept: 1 to 64 visible ASCII characters (it goes
/// into logs).
pub(super) fn sane_request_id(id: &HeaderValue) -> bool {
    let b = id.as_bytes();
    !b.is_empty() && b.len() <= 64 && b.iter().all(|c| c.is_ascii_graphic())
}

/// Request ids: 16 random hex digits.
#[derive(Clone, Copy, Default)]
struct RandomId;

impl MakeRequestId for RandomId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        Some(RequestId::new(new_request_id()))
    }
}

/// The headers every answer carries unless its handler set them: no sniffing, no
/// referrer, no framing, and a policy that allows nothing (the page sets its own;
/// JSON and tiles need nothing).
pub(super) const RESPONSE_HEADERS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
];

/// The outer layers, outermost last: security headers, CORS, tracing with the request
/// id, and the request id itself (a client's `X-Request-Id` of up to 64 visible
/// characters is kept, anything else replaced).
pub fn outer_layers(router: Router, config: &HttpConfig) -> Router {
    let mut router = router;
    for (name, value) in RESPONSE_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    if let Some(cors) = cors(&config.cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            let id = request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok());
            // The path only: a query string may carry what does not belong in logs.
            tracing::info_span!("request", id = id.unwrap_or("-"), method = %request.method(), path = request.uri().path())
        }))
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, RandomId))
        .layer(axum::middleware::from_fn(keep_sane_request_id))
}

/// Drops a client's request id that is long or not plain visible ASCII (it would go
/// into logs), so that one is made instead. Runs before the id is set.
async fn keep_sane_request_id(mut request: Request, next: Next) -> Response {
    let sane = request.headers().get(&X_REQUEST_ID).is_none_or(sane_request_id);
    if !sane {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    next.run(request).await
}

/// CORS for the configured origins (`*` for any); `None` when none are: browsers on
/// other origins then get no access (the default).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT_LANGUAGE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
            ])
            .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER, X_REQUEST_ID])
            .max_age(Duration::from_secs(600)),
    )
}

/// Answers 503 when a request's response has not started within `limit`. Streams
/// (events, exports) start at once and are not cut.
pub async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            ("Waktu habis", "Timed out"),
            (
                format!("Permintaan tidak selesai dalam {} detik; coba lagi.", limit.as_secs()),
                format!("The request did not finish within {} s; try again.", limit.as_secs()),
            ),
        )
        .into_response(),
    }
}

/// Refuses writes (any method but GET, HEAD and OPTIONS) at once with 503 and
/// Retry-After while the database does not answer; reads go on (tiles, risk and
/// hotspots come from memory).
pub async fn refuse_writes_while_database_down(
    State(db): State<Arc<DbStatus>>,
    request: Request,
    next: Next,
) -> Response {
    let write = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if write && !db.is_up() {
        return database_down().into_response();
    }
    next.run(request).await
}

/// 503: the database cannot be reached.
pub fn database_down() -> ApiError {
    ApiError::client(
        StatusCode::SERVICE_UNAVAILABLE,
        "database-unavailable",
        ("Basis data tidak tersedia", "Database unavailable"),
        (
            "Basis data sedang tidak dapat dihubungi: peta dan risiko tetap dilayani dari memori, tetapi perubahan \
             belum dapat disimpan. Coba lagi sebentar."
                .to_owned(),
            "The database cannot be reached right now: the map and risk are still served from memory, but changes \
             cannot be saved yet. Try again shortly."
                .to_owned(),
        ),
    )
}
