//! `/openapi.json`: the OpenAPI 3.1 description of the API, generated from the code.
//!
//! Every handler is routed with `utoipa_axum::routes!`, which registers it together
//! with its `#[utoipa::path]` documentation, and the document is read off the same
//! router that serves requests: a route cannot exist undocumented, nor a documented
//! one be missing. The schemas of the domain's vocabulary (levels, categories, tile
//! sources, region codes) are written here from the values the code itself uses.

use std::sync::LazyLock;

use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{LicenseBuilder, OpenApi, RefOr};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::auth::Role;
use crate::engine::risk::RiskLevel;
use crate::incident::{Category, Status};
use crate::region::{RegionCode, RegionLevel};
use crate::tiles::Source;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "SIPKS map server"),
    tags(
        (name = "health", description = "Whether the server and its database answer."),
        (name = "regions", description = "Administrative regions (wilayah) of Indonesia: provinsi, \
            kabupaten_kota and kecamatan, with Kemendagri codes (kode wilayah)."),
        (name = "risk", description = "Risk levels of regions (hijau, kuning, merah) computed from the incidents \
            (kejadian) and indicators of a window, with their explanation and history."),
        (name = "hotspots", description = "Spatial statistics: Getis-Ord Gi* hot and cold spots of regions, and \
            DBSCAN clusters of incident locations."),
        (name = "tiles", description = "Mapbox Vector Tiles (XYZ, Web Mercator) of regions, incidents and \
            hotspots, and their TileJSON."),
        (name = "styles", description = "MapLibre styles for the tiles."),
        (name = "auth", description = "Logging in and out: user name and password for a bearer token, and who the \
            token is for (role: nasional, provinsi, kabupaten_kota or analis, and region)."),
        (name = "incidents", description = "Incidents (kejadian) as GeoJSON Features: recorded, edited and deleted by \
            operators within their region, read within the caller's scope; versioned (ETag, If-Match) and \
            audited."),
        (name = "events", description = "Live changes of incidents and risk levels, as server-sent events."),
        (name = "openapi", description = "This description of the API, and a page per problem type of its \
            errors."),
    )
)]
struct ApiDoc;

/// The document's frame: info (title, the crate's version and licence from Cargo.toml,
/// attribution of the boundary data), the tags and the `bearer` security scheme; the
/// routers add the paths and schemas.
pub(super) fn base() -> OpenApi {
    let mut doc = <ApiDoc as utoipa::OpenApi>::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let licence = env!("CARGO_PKG_LICENSE");
    doc.info.license = Some(LicenseBuilder::new().name(licence).identifier(Some(licence)).build());
    doc.info.description = Some(format!(
        "Map and spatial-analysis server of SIPKS (Sistem Informasi Penanganan Konflik Sosial), Indonesia's \
         early-warning system for social conflict: administrative regions (wilayah), incidents, risk levels, \
         hotspots and vector tiles.\n\n\
         Incidents are read and written with a bearer token (security scheme `bearer`) from `POST /api/login`, \
         within the user's role and region: nasional reads and writes everything, provinsi and kabupaten_kota \
         their region, analis reads everything and writes nothing. An operation that needs a token answers 401 \
         without one; a token that is unknown, expired or revoked is refused (401) wherever it is sent.\n\n\
         Every error is RFC 9457 problem details (`application/problem+json`, schema `Problem`), in Bahasa \
         Indonesia or English by the request's `Accept-Language` (Indonesian by default; `Content-Language` \
         says which). A path that does not exist answers 404, a method a path does not have 405, both as \
         problem details.\n\n\
         Boundary data: cahyadsn/wilayah_boundaries (MIT licence, Copyright (c) 2024 Cahya DSN). \
         Attribution as shown on the map: {}.",
        super::tiles::ATTRIBUTION
    ));
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("opaque")
        .description(Some(
            "An opaque token from `POST /api/login` (its `token`), sent as `Authorization: Bearer <token>` until \
             its `expires_at` or `POST /api/logout`.",
        ))
        .build();
    doc.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(bearer));
    doc
}

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The document, read once from the application's router.
static DOCUMENT: LazyLock<OpenApi> = LazyLock::new(|| {
    let mut doc = super::routes().into_openapi();
    super::openapi_common::add_common_responses(&mut doc);
    doc
});

/// This OpenAPI document
///
/// The OpenAPI 3.1 description of every endpoint of this server, generated from the
/// code that serves them.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApi",
    tag = "openapi",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document, as `application/vnd.oai.openapi+json;version=3.1`.",
            body = Object, content_type = "application/vnd.oai.openapi+json"),
    )
)]
async fn openapi_json() -> axum::response::Response {
    use axum::response::IntoResponse;
    // The media type the OGC landing page's service-desc link announces.
    let body = serde_json::to_vec(&*DOCUMENT).unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, OPENAPI_31)], body).into_response()
}

/// The media type of this document (OpenAPI's registered type with its version).
pub(super) const OPENAPI_31: &str = "application/vnd.oai.openapi+json;version=3.1";

/// The wire names of `values`, as serde writes them.
fn wire_names<T: Serialize>(values: &[T]) -> Vec<String> {
    values.iter().filter_map(|v| serde_json::to_value(v).ok()?.as_str().map(str::to_owned)).collect()
}

/// A string schema with a closed set of values.
fn string_enum(names: Vec<String>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .description(Some(description))
        .build()
        .into()
}

impl PartialSchema for RegionLevel {
    fn schema() -> RefOr<Schema> {
        string_enum(
            wire_names(&RegionLevel::ALL),
            "Administrative level: provinsi (province), kabupaten_kota (regency or city), kecamatan (district).",
        )
    }
}

impl ToSchema for RegionLevel {}

impl PartialSchema for RiskLevel {
    fn schema() -> RefOr<Schema> {
        // The match makes a new level fail to compile until it is listed here.
        let all = [RiskLevel::Hijau, RiskLevel::Kuning, RiskLevel::Merah];
        let _listed = |level: RiskLevel| match level {
            RiskLevel::Hijau | RiskLevel::Kuning | RiskLevel::Merah => (),
        };
        string_enum(wire_names(&all), "Risk level: hijau (safe), kuning (alert), merah (danger).")
    }
}

impl ToSchema for RiskLevel {}

impl PartialSchema for Role {
    fn schema() -> RefOr<Schema> {
        string_enum(
            wire_names(&Role::ALL),
            "Role of a user: nasional (reads and writes everything), provinsi and kabupaten_kota (read and write \
             within their region), analis (reads everything, writes nothing).",
        )
    }
}

impl ToSchema for Role {}

impl PartialSchema for Category {
    fn schema() -> RefOr<Schema> {
        string_enum(wire_names(Category::ALL), "Conflict category (kategori).")
    }
}

impl ToSchema for Category {}

impl PartialSchema for Status {
    fn schema() -> RefOr<Schema> {
        string_enum(
            wire_names(Status::ALL),
            "Stage of handling (status): potensi (potential), terjadi (occurred), ditangani (being handled), \
             selesai (resolved).",
        )
    }
}

impl ToSchema for Status {}

impl PartialSchema for Source {
    fn schema() -> RefOr<Schema> {
        let names = Source::ALL.iter().map(|s| s.name().to_owned()).collect();
        string_enum(names, "Tile source.")
    }
}

impl ToSchema for Source {
    fn name() -> std::borrow::Cow<'static, str> {
        "TileSource".into()
    }
}

impl PartialSchema for RegionCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[0-9]{2}(\.[0-9]{2}){0,2}$"))
            .description(Some(
                "Kemendagri region code (kode wilayah, Kepmendagri No 300.2.2-2430 Tahun 2025): NN for a provinsi, \
                 NN.NN for a kabupaten_kota, NN.NN.NN for a kecamatan.",
            ))
            .examples(["73.71"])
            .build()
            .into()
    }
}

impl ToSchema for RegionCode {}
