//! `/styles/{name}.json`: the MapLibre styles of `styles/`, built into the binary, with
//! `{origin}` replaced by the origin the client reached us at, so that a style names
//! only this server (no other host: the map runs on an intranet).

use axum::extract::Path;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::error::ApiError;
use super::tiles::origin;
use super::AppState;

/// The styles, by file name.
const STYLES: [(&str, &str); 2] = [
    ("sipks.json", include_str!("../../styles/sipks.json")),
    ("sipks-cb.json", include_str!("../../styles/sipks-cb.json")),
];

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/styles/{name}", get(style))
}

/// `GET /styles/{name}`: a style (`sipks.json`, or `sipks-cb.json` with the
/// colour-blind-safe palette).
async fn style(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (_, text) = STYLES.iter().find(|(n, _)| *n == name).ok_or(ApiError::NoRoute)?;
    let body = text.replace("{origin}", &origin(&headers));
    Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}
