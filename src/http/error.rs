//! The one error type of the HTTP layer and its RFC 9457 problem+json rendering.
//!
//! Handlers return [`ApiError`]; it becomes a [`Problem`] carried in the response's
//! extensions, and the [`render_problems`] middleware writes the body in the
//! client's language (Accept-Language) with the request path as `instance`. Any other
//! error response without a problem body (405 from the router, 413 from a body limit)
//! is given one there too, so every error a client sees is problem+json.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::i18n::Lang;
use crate::region::RegionCode;

/// Media type of RFC 9457 problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No region has this code.
    #[error("region {0} not found")]
    RegionNotFound(RegionCode),
    /// A path or query parameter is malformed or out of range.
    #[error("invalid parameter {param}: {detail}")]
    InvalidParameter {
        /// The parameter's name.
        param: String,
        /// What is wrong with it (English; shown in both languages).
        detail: String,
    },
    /// No tile source has this name.
    #[error("tile source {0} not found")]
    UnknownTileSource(String),
    /// No route matches.
    #[error("no such resource")]
    NoRoute,
    /// Anything else the client must change, described in full.
    #[error("{}", .0.detail.1)]
    Client(Box<Problem>),
    /// The database is unreachable or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A bug or an unexpected failure on our side (logged, never shown).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Problem details, in both languages until the response is rendered.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Short slug naming the problem type, e.g. `region-not-found`.
    pub slug: &'static str,
    /// Title in Indonesian and English.
    pub title: (&'static str, &'static str),
    /// Detail in Indonesian and English.
    pub detail: (String, String),
    /// Extension members, e.g. the offending parameter.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    fn problem(&self) -> Problem {
        let mut extra = serde_json::Map::new();
        let (status, slug, title, detail) = match self {
            ApiError::RegionNotFound(code) => {
                extra.insert("kode".into(), json!(code));
                (
                    StatusCode::NOT_FOUND,
                    "region-not-found",
                    ("Wilayah tidak ditemukan", "Region not found"),
                    (format!("Tidak ada wilayah dengan kode {code}."), format!("There is no region with code {code}.")),
                )
            }
            ApiError::InvalidParameter { param, detail } => {
                extra.insert("parameter".into(), json!(param));
                (
                    StatusCode::BAD_REQUEST,
                    "invalid-parameter",
                    ("Parameter tidak valid", "Invalid parameter"),
                    (
                        format!("Parameter {param} tidak valid: {detail}"),
                        format!("Parameter {param} is invalid: {detail}"),
                    ),
                )
            }
            ApiError::UnknownTileSource(name) => {
                extra.insert("source".into(), json!(name));
                let names: Vec<&str> = crate::tiles::Source::ALL.iter().map(|s| s.name()).collect();
                let names = names.join(", ");
                (
                    StatusCode::NOT_FOUND,
                    "tile-source-not-found",
                    ("Sumber tile tidak ditemukan", "Tile source not found"),
                    (
                        format!("Tidak ada sumber tile {name:?}; yang ada: {names}."),
                        format!("There is no tile source {name:?}; the sources are: {names}."),
                    ),
                )
            }
            ApiError::Client(problem) => return (**problem).clone(),
            ApiError::NoRoute => (
                StatusCode::NOT_FOUND,
                "not-found",
                ("Tidak ditemukan", "Not found"),
                ("Alamat ini tidak ada.".to_owned(), "There is nothing at this address.".to_owned()),
            ),
            ApiError::Internal(what) => {
                tracing::error!(error = %what, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    ("Kesalahan internal", "Internal error"),
                    (
                        "Terjadi kesalahan di server; sudah dicatat.".to_owned(),
                        "Something went wrong on the server; it has been logged.".to_owned(),
                    ),
                )
            }
            ApiError::Database(e) if crate::db::status::is_untextual(e) => (
                // Text the edge checks missed (a NUL character): the client's, not ours.
                StatusCode::BAD_REQUEST,
                "invalid-text",
                ("Teks tidak valid", "Invalid text"),
                (
                    "Permintaan berisi karakter yang tidak dapat disimpan (NUL, \\u0000).".to_owned(),
                    "The request holds a character that cannot be stored (NUL, \\u0000).".to_owned(),
                ),
            ),
            ApiError::Database(e) => {
                tracing::error!(error = %e, "database error");
                if crate::db::status::is_unavailable(e) {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "database-unavailable",
                        ("Basis data tidak tersedia", "Database unavailable"),
                        (
                            "Basis data sedang tidak dapat dihubungi; coba lagi sebentar.".to_owned(),
                            "The database cannot be reached right now; try again shortly.".to_owned(),
                        ),
                    )
                } else {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        ("Kesalahan internal", "Internal error"),
                        (
                            "Terjadi kesalahan di server; sudah dicatat.".to_owned(),
                            "Something went wrong on the server; it has been logged.".to_owned(),
                        ),
                    )
                }
            }
        };
        Problem { status, slug, title, detail, extra }
    }
}

impl ApiError {
    /// A client error with its slug, titles and details (Indonesian, English).
    pub fn client(
        status: StatusCode,
        slug: &'static str,
        title: (&'static str, &'static str),
        detail: (String, String),
    ) -> ApiError {
        ApiError::Client(Box::new(Problem { status, slug, title, detail, extra: serde_json::Map::new() }))
    }

    /// Adds an extension member (e.g. the offending field) to a client error.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> ApiError {
        if let ApiError::Client(problem) = &mut self {
            problem.extra.insert(key.to_owned(), value);
        }
        self
    }

    /// 422: a field of the body is wrong; `field` is its JSON path (`properties.severity`).
    pub fn invalid_field(field: &str, id: String, en: String) -> ApiError {
        ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            ("Isian tidak valid", "Invalid field"),
            (format!("{field}: {id}"), format!("{field}: {en}")),
        )
        .with("field", json!(field))
    }

    /// 422: a field is wrong, told in plain words (`detail` already names the field as
    /// the form calls it) with a stable `code` (see `field_text`).
    pub fn invalid_field_coded(field: &str, code: &'static str, id: String, en: String) -> ApiError {
        ApiError::client(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            ("Isian tidak valid", "Invalid field"),
            (id, en),
        )
        .with("field", json!(field))
        .with("code", json!(code))
    }

    /// 401: no valid token where one is needed.
    pub fn unauthorized(id: &str, en: &str) -> ApiError {
        ApiError::client(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            ("Perlu masuk", "Authentication required"),
            (id.to_owned(), en.to_owned()),
        )
    }

    /// 403: outside the caller's role or region.
    pub fn forbidden(id: String, en: String) -> ApiError {
        ApiError::client(StatusCode::FORBIDDEN, "forbidden", ("Tidak diizinkan", "Forbidden"), (id, en))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let mut response = problem.status.into_response();
        response.extensions_mut().insert(problem);
        response
    }
}

/// Generic problem for an error status that carries none (405, 413, 415, ...).
fn generic(status: StatusCode) -> Problem {
    let (id, en): (&'static str, &'static str) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("Metode tidak diizinkan", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("Isi permintaan terlalu besar", "Request body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("Jenis isi tidak didukung", "Unsupported media type"),
        StatusCode::NOT_FOUND => ("Tidak ditemukan", "Not found"),
        StatusCode::REQUEST_TIMEOUT => ("Waktu permintaan habis", "Request timeout"),
        _ if status.is_client_error() => ("Permintaan tidak valid", "Bad request"),
        _ => ("Kesalahan server", "Server error"),
    };
    Problem {
        status,
        slug: "http-error",
        title: (id, en),
        detail: (id.to_owned(), en.to_owned()),
        extra: serde_json::Map::new(),
    }
}

/// Middleware: renders every error response as problem+json in the client's language.
pub async fn render_problems(request: Request, next: Next) -> Response {
    let lang = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map_or(Lang::Id, Lang::from_accept_language);
    let instance = request.uri().path().to_owned();
    // Absolute type URIs (RFC 9457 3.1.1), at the origin the client reached; relative
    // only when the Host header is unusable.
    let origin = super::tiles::origin(request.headers()).unwrap_or_default();
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::SERVICE_UNAVAILABLE && !response.headers().contains_key(header::RETRY_AFTER) {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(super::security::RETRY_AFTER_SECONDS));
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let already =
        response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if already {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let problem = parts.extensions.remove::<Problem>().unwrap_or_else(|| generic(status));
    let mut body = serde_json::Map::new();
    body.insert("type".into(), json!(super::problems::type_uri(&origin, problem.slug)));
    body.insert("title".into(), json!(lang.pick(problem.title.0, problem.title.1)));
    body.insert("status".into(), json!(problem.status.as_u16()));
    body.insert("detail".into(), json!(lang.pick(&problem.detail.0, &problem.detail.1)));
    body.insert("instance".into(), json!(instance));
    // A stable, machine-readable code beside the translated detail: the problem's
    // own (a refused field's reason) or its type.
    body.insert("code".into(), json!(problem.slug));
    body.extend(problem.extra);
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.pick("id", "en")));
    Response::from_parts(parts, Body::from(bytes))
}

/// The body [`render_problems`] writes, as the OpenAPI schema `Problem`.
impl utoipa::PartialSchema for Problem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let text = |description: &str| ObjectBuilder::new().schema_type(Type::String).description(Some(description));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "RFC 9457 problem details, in Bahasa Indonesia or English by the request's Accept-Language \
                 (Content-Language says which).",
            ))
            .property(
                "type",
                text(
                    "The absolute URI `{origin}/problems/{kind}` of a page describing the kind of problem: region-not-found, invalid-parameter, \
                     tile-source-not-found, not-found, invalid-field, invalid-text, database-unavailable, internal, or http-error for other \
                     statuses (405 and the like).",
                )
                .examples(["http://127.0.0.1:8080/problems/invalid-parameter"]),
            )
            .property("title", text("Short title of the kind of problem."))
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(400))
                    .maximum(Some(599))
                    .description(Some("The HTTP status.")),
            )
            .property("detail", text("What went wrong with this request."))
            .property("instance", text("The path of the request.").examples(["/api/regions/99.99"]))
            .property(
                "code",
                text(
                    "A stable, machine-readable code of the error, the same in every language: the slug of `type`, \
                     or for a refused field (invalid-field) the reason: required, in-future, bad-time, not-a-count, \
                     severity-range, not-text, too-long, unknown-property, read-only, unknown-category, \
                     unknown-status, bad-geometry, reason-required, invalid.",
                )
                .examples(["in-future"]),
            )
            .property("kode", text("region-not-found: the region code asked for."))
            .property("parameter", text("invalid-parameter: the parameter that is malformed or out of range."))
            .property("source", text("tile-source-not-found: the tile source asked for."))
            .required("type")
            .required("title")
            .required("status")
            .required("detail")
            .required("instance")
            .build()
            .into()
    }
}

impl utoipa::ToSchema for Problem {}
