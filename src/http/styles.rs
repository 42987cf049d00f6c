//! `/styles/{name}.json`: the MapLibre styles of `styles/`, built into the binary, with
//! `{origin}` replaced by the origin the client reached us at, so that a style names
//! only this server (no other host: the map runs on an intranet).

use axum::extract::Path;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::tiles::origin;
use super::AppState;

/// The styles, by file name.
const STYLES: [(&str, &str); 2] = [
    ("sipks.json", include_str!("../../styles/sipks.json")),
    ("sipks-cb.json", include_str!("../../styles/sipks-cb.json")),
];

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(style))
}

/// A MapLibre style
///
/// A MapLibre style (version 8) over this server's tiles, with the risk palette (hijau,
/// kuning, merah): `sipks.json`, or `sipks-cb.json` with a colour-blind-safe palette.
/// Its sources, glyphs and sprites name only the origin the client reached.
#[utoipa::path(
    get,
    path = "/styles/{name}",
    operation_id = "getStyle",
    tag = "styles",
    params(("name" = String, Path, description = "The style's file name: `sipks.json` or `sipks-cb.json`.",
        example = "sipks.json")),
    responses(
        (status = 200, description = "The style (MapLibre style specification, version 8).", body = Object,
            content_type = "application/json",
            headers(("Cache-Control" = String, description = "`no-cache`: store, but revalidate."))),
        (status = 400, description = "A malformed Host header.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No style has this name.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn style(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, text) = STYLES.iter().find(|(n, _)| *n == name).ok_or(ApiError::NoRoute)?;
    let origin = origin(&headers)?;
    let mut body = text.replace("{origin}", &origin);
    // A basemap given with --basemap goes under the risk layers.
    if let Some(basemap) = &state.web.basemap {
        if let Ok(mut style) = serde_json::from_str::<serde_json::Value>(&body) {
            super::basemap::add_to_style(&mut style, basemap, &origin);
            body = style.to_string();
        }
    }
    Ok(([(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}
