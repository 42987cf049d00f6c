//! The web map: `/` (the page), `/assets/{file}` (its bundled JavaScript and CSS),
//! `/fonts/{fontstack}/{range}` (label glyphs) from the web directory that
//! `npm run build` writes (web/dist), and `/api/meta`, what the page needs to know of
//! this server (training mode, version, attribution, default window).
//!
//! Files are read from disk per request (the deployment is the binary plus web/dist);
//! a precompressed `.gz` sibling is sent to clients that accept gzip.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::negotiate::{accepts_gzip, matches};
use super::tiles::ATTRIBUTION;
use super::AppState;

#[derive(OpenApi)]
#[openapi(tags((name = "web", description = "The web map: its page, assets, label glyphs, and what it needs to know \
    of the server.")))]
struct WebDoc;

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(WebDoc::openapi())
        .routes(routes!(page))
        .routes(routes!(asset))
        .routes(routes!(glyphs))
        .routes(routes!(meta))
}

/// Where the page is and in which mode the server runs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The built page: index.html, assets/, fonts/ (web/dist).
    pub dir: PathBuf,
    /// Serving a training database: the page shows a permanent banner.
    pub training: bool,
    /// The basemap given with `--basemap`, if any.
    pub basemap: Option<std::sync::Arc<super::basemap::Basemap>>,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig { dir: WebConfig::locate(None), training: false, basemap: None }
    }
}

impl WebConfig {
    /// The web directory: `explicit` when given; else `web/dist` under the current
    /// directory when it holds a built page; else `web/dist` of the checkout the
    /// executable was built in (`<exe>/../../web/dist`, from target/release); else
    /// `web/dist` (the page then answers 404 until it is built).
    pub fn locate(explicit: Option<PathBuf>) -> PathBuf {
        if let Some(dir) = explicit {
            return dir;
        }
        let here = PathBuf::from("web/dist");
        if here.join("index.html").is_file() {
            return here;
        }
        let beside_exe = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().and_then(Path::parent).and_then(Path::parent).map(Path::to_path_buf))
            .map(|root| root.join("web/dist"));
        match beside_exe {
            Some(dir) if dir.join("index.html").is_file() => dir,
            _ => here,
        }
    }
}

/// The page's Content-Security-Policy: everything from this origin only; MapLibre
/// runs its workers from blob: URLs and draws icons from data: URLs.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    font-src 'self'; connect-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How long a client may keep a file.
#[derive(Clone, Copy)]
enum Caching {
    /// Revalidate every time (the page names the current assets).
    Revalidate,
    /// A content-hashed name never changes content.
    Immutable,
    /// A day (glyphs, unhashed assets).
    Day,
}

impl Caching {
    fn header(self) -> &'static str {
        match self {
            Caching::Revalidate => "no-cache",
            Caching::Immutable => "public, max-age=31536000, immutable",
            Caching::Day => "public, max-age=86400",
        }
    }
}

/// A file name esbuild gave a content hash: `app-ZBSUHCCF.js`.
fn is_hashed(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or_default();
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

/// Media type by file extension.
fn media_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "pbf" => "application/x-protobuf",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// One path segment naming a file: letters, digits, `.`, `_`, `-`, not starting with
/// a dot (so no `..`, no hidden file, no separator, however it was percent-encoded).
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && !name.contains("..")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn not_found(id: &str, en: &str) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        "not-found",
        ("Tidak ditemukan", "Not found"),
        (id.to_owned(), en.to_owned()),
    )
}

fn not_built(dir: &Path) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        "web-not-built",
        ("Peta web belum dibangun", "The web map is not built"),
        (
            format!("Halaman peta tidak ada di {}: jalankan npm ci && npm run build di web/.", dir.display()),
            format!("The map page is not in {}: run npm ci && npm run build in web/.", dir.display()),
        ),
    )
}

/// Sends a file of the web directory (its `.gz` sibling when the client takes gzip),
/// with a validator and caching; `None` when the file does not exist.
async fn send_file(path: &Path, request: &HeaderMap, caching: Caching) -> Result<Option<Response>, ApiError> {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let gzip = accepts_gzip(request) && tokio::fs::metadata(&gz).await.is_ok_and(|m| m.is_file());
    let served = if gzip { &gz } else { path };
    let metadata = match tokio::fs::metadata(served).await {
        Ok(m) if m.is_file() => m,
        _ => return Ok(None),
    };
    let modified = metadata.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
    let etag = format!("\"{:x}-{:x}{}\"", metadata.len(), modified.as_nanos(), if gzip { "-gz" } else { "" });
    let mut headers = vec![
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, caching.header().to_owned()),
        (header::VARY, "Accept-Encoding".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    if matches(request, &etag) {
        return Ok(Some(with_headers(StatusCode::NOT_MODIFIED.into_response(), headers)));
    }
    let body = tokio::fs::read(served).await.map_err(|e| ApiError::Internal(format!("{}: {e}", served.display())))?;
    headers.push((header::CONTENT_TYPE, media_type(path).to_owned()));
    if gzip {
        headers.push((header::CONTENT_ENCODING, "gzip".to_owned()));
    }
    Ok(Some(with_headers((StatusCode::OK, body).into_response(), headers)))
}

fn with_headers(mut response: Response, headers: Vec<(HeaderName, String)>) -> Response {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The web map
///
/// The page of the web map (HTML, Bahasa Indonesia with English): the national risk
/// map, the operator view for recording incidents, and the GIS view with export and
/// QGIS addresses. It loads everything from this server. Revalidated on every use
/// (`no-cache`, ETag); sent gzip-compressed when `Accept-Encoding` allows it.
#[utoipa::path(
    get,
    path = "/",
    operation_id = "getWebMap",
    tag = "web",
    params(WebHeaders),
    responses(
        (status = 200, description = "The page.", content_type = "text/html", body = String,
            headers(
                ("ETag" = String, description = "Tag of the file (size and time)."),
                ("Cache-Control" = String, description = "`no-cache`: store, but revalidate."),
                ("Content-Security-Policy" = String, description = "Only this origin (and blob: workers, data: images)."),
                ("X-Content-Type-Options" = String, description = "`nosniff`."),
                ("Referrer-Policy" = String, description = "`no-referrer`."),
            )),
        (status = 304, description = "The client's copy (`If-None-Match`) is current (no body).",
            headers(("ETag" = String, description = "The current tag."))),
        (status = 404, description = "The page is not built (`npm run build` in web/).", body = Problem,
            content_type = PROBLEM_JSON),
        (status = 500, description = "The file could not be read (logged).", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn page(State(state): State<AppState>, request: HeaderMap) -> Result<Response, ApiError> {
    let dir = &state.web.dir;
    let response =
        send_file(&dir.join("index.html"), &request, Caching::Revalidate).await?.ok_or_else(|| not_built(dir))?;
    Ok(with_headers(
        response,
        vec![
            (header::CONTENT_SECURITY_POLICY, CSP.to_owned()),
            (header::REFERRER_POLICY, "no-referrer".to_owned()),
            (header::X_FRAME_OPTIONS, "DENY".to_owned()),
        ],
    ))
}

/// The request headers a file answer depends on.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(dead_code, reason = "describes the headers the handlers read, for the OpenAPI document")]
struct WebHeaders {
    /// `gzip` (or `*`) without `q=0`: the file is sent gzip-compressed, with
    /// `Content-Encoding: gzip`.
    #[param(rename = "Accept-Encoding", nullable = false, example = "gzip")]
    accept_encoding: Option<String>,
}

/// A file of the web map
///
/// A JavaScript, CSS or image file of the page (`web/dist/assets`). Names with a
/// content hash (`app-ZBSUHCCF.js`) are cached for a year (`immutable`), others for a
/// day. One path segment: a name with a separator, `..` or a leading dot is not found.
#[utoipa::path(
    get,
    path = "/assets/{file}",
    operation_id = "getWebAsset",
    tag = "web",
    params(
        ("file" = String, Path, description = "The file's name, as the page names it.", example = "favicon.svg"),
        WebHeaders,
    ),
    responses(
        (status = 200, description = "The file.",
            content(("text/javascript"), ("text/css"), ("image/svg+xml"), ("text/plain"), ("application/json")),
            headers(
                ("ETag" = String, description = "Tag of the file (size and time; `-gz` for the compressed copy)."),
                ("Cache-Control" = String, description = "A year (`immutable`) for hashed names, else a day."),
                ("X-Content-Type-Options" = String, description = "`nosniff`."),
            )),
        (status = 304, description = "The client's copy (`If-None-Match`) is current (no body).",
            headers(("ETag" = String, description = "The current tag."))),
        (status = 404, description = "No such file.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The file could not be read (logged).", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn asset(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let missing = || not_found(&format!("Tidak ada berkas {file:?}."), &format!("There is no file {file:?}."));
    if !safe_name(&file) {
        return Err(missing());
    }
    let caching = if is_hashed(&file) { Caching::Immutable } else { Caching::Day };
    send_file(&state.web.dir.join("assets").join(&file), &request, caching).await?.ok_or_else(missing)
}

/// Label glyphs
///
/// Signed-distance-field glyphs of one range of 256 code points (`0-255.pbf` ...
/// `65280-65535.pbf`) of a font, for MapLibre's labels: Open Sans Regular, Semibold or
/// Bold (npm package tileserver-gl-styles). `fontstack` may list several fonts
/// separated by commas, as MapLibre asks; the first one this server has is sent.
#[utoipa::path(
    get,
    path = "/fonts/{fontstack}/{range}",
    operation_id = "getGlyphs",
    tag = "web",
    params(
        ("fontstack" = String, Path,
            description = "Font names separated by commas (percent-encoded in the URL, as MapLibre sends them).",
            example = "Open%20Sans%20Regular"),
        ("range" = String, Path, pattern = "^[0-9]+-[0-9]+\\.pbf$",
            description = "The code point range, first-last, multiples of 256.", example = "0-255.pbf"),
        WebHeaders,
    ),
    responses(
        (status = 200, description = "The glyphs (protocol buffers).", content_type = "application/x-protobuf",
            headers(
                ("ETag" = String, description = "Tag of the file."),
                ("Cache-Control" = String, description = "A day."),
            )),
        (status = 304, description = "The client's copy (`If-None-Match`) is current (no body).",
            headers(("ETag" = String, description = "The current tag."))),
        (status = 404, description = "None of the fonts has this range.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The file could not be read (logged).", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn glyphs(
    State(state): State<AppState>,
    UrlPath((fontstack, range)): UrlPath<(String, String)>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let missing = || {
        not_found(
            &format!("Tidak ada glyph {range} untuk {fontstack:?}."),
            &format!("There are no glyphs {range} for {fontstack:?}."),
        )
    };
    let valid_range = range.strip_suffix(".pbf").and_then(|r| r.split_once('-')).is_some_and(|(a, b)| {
        [a, b].iter().all(|n| !n.is_empty() && n.len() <= 5 && n.bytes().all(|c| c.is_ascii_digit()))
    });
    if !valid_range {
        return Err(missing());
    }
    let fonts = state.web.dir.join("fonts");
    for font in fontstack.split(',').map(str::trim) {
        let valid =
            !font.is_empty() && font.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'_' | b'-'));
        if !valid {
            continue;
        }
        if let Some(response) = send_file(&fonts.join(font).join(&range), &request, Caching::Day).await? {
            return Ok(response);
        }
    }
    Err(missing())
}

/// What the page needs to know of this server.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct Meta {
    /// `SIPKS`.
    #[schema(example = "SIPKS")]
    name: String,
    /// The server's version.
    #[schema(example = "0.1.0")]
    version: String,
    /// Whether this server serves a training database (synthetic incidents): the page
    /// then shows a permanent "DATA LATIHAN" banner.
    training: bool,
    /// Attribution of the boundary data and region codes, shown with the map.
    attribution: String,
    /// The risk model's default window in days (tiles and `/api/risk` without `window`).
    #[schema(example = 90)]
    window_days: u32,
    /// The languages of the page and of error messages.
    #[schema(example = json!(["id", "en"]))]
    languages: Vec<String>,
}

/// About this server, for the web map
///
/// The server's version, whether it serves training data (the page then shows a
/// permanent "DATA LATIHAN" / "TRAINING DATA" banner), the attribution of the boundary
/// data, and the default risk window.
#[utoipa::path(
    get,
    path = "/api/meta",
    operation_id = "getMeta",
    tag = "web",
    responses((status = 200, description = "About this server.", body = Meta))
)]
async fn meta(State(state): State<AppState>) -> Json<Value> {
    let window_days = state.read().model().window_days;
    Json(json!({
        "name": "SIPKS",
        "version": env!("CARGO_PKG_VERSION"),
        "training": state.web.training,
        "attribution": ATTRIBUTION,
        "window_days": window_days,
        "languages": ["id", "en"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_are_served() {
        assert!(safe_name("app-ZBSUHCCF.js"));
        assert!(safe_name("favicon.svg"));
        for bad in ["", "..", "../index.html", ".env", "a/b.js", "a\\b.js", "%2e%2e", "/etc/passwd", "a..b", "ä.js"] {
            assert!(!safe_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn hashed_names_are_recognised() {
        assert!(is_hashed("app-ZBSUHCCF.js"));
        assert!(is_hashed("style-J7XFJRAE.css"));
        assert!(is_hashed("app-ZBSUHCCF.js.LEGAL.txt"));
        assert!(!is_hashed("favicon.svg"));
        assert!(!is_hashed("app-latest.js"));
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(media_type(Path::new("a/index.html")), "text/html; charset=utf-8");
        assert_eq!(media_type(Path::new("app-X.js")), "text/javascript; charset=utf-8");
        assert_eq!(media_type(Path::new("0-255.pbf")), "application/x-protobuf");
    }
}
