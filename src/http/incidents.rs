//! `/api/incidents`: operators record, edit and delete incidents (GeoJSON Features),
//! within their region; everyone with a token reads within their scope. Every write
//! is versioned (ETag / If-Match), audited, optionally idempotent, reflected in the
//! engine (risk, tiles) before the answer, and announced to live readers and to other
//! servers on the same database.

mod history_scope;
mod list;
mod schema;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::events::Event;
use super::openapi_common::problem_responses;
use super::AppState;
use crate::incident::{Fields, Record};
use crate::incidents::{self, IncidentError};
use crate::ingest::feature::read_feature;
use schema::{IncidentEdit, IncidentFeature, IncidentHistory, NewIncident};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list::list))
        .routes(routes!(read, edit, remove))
        .routes(routes!(history))
}

/// Largest request body, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// Most incidents in one page of the list.
pub const MAX_LIMIT: i64 = 1000;

/// Parses a JSON body: malformed JSON is 400, the wrong shape 422.
/// A NUL character in any string is 422 too (PostgreSQL cannot store it).
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| malformed(&e))?;
    super::text::refuse_nul(&value)?;
    T::deserialize(value)
        .map_err(|e| ApiError::invalid_field("body", format!("tidak sesuai: {e}"), format!("does not fit: {e}")))
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::client(
        StatusCode::BAD_REQUEST,
        "malformed-json",
        ("JSON tidak valid", "Malformed JSON"),
        (format!("Isi permintaan bukan JSON yang valid: {e}"), format!("The body is not valid JSON: {e}")),
    )
}

/// Refuses a body that is not JSON (415) or too large (413).
fn check_body(headers: &HeaderMap, body: &Bytes) -> Result<(), ApiError> {
    let kind = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = kind.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !matches!(essence.as_str(), "application/json" | "application/geo+json" | "application/merge-patch+json") {
        return Err(ApiError::client(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            ("Jenis isi tidak didukung", "Unsupported media type"),
            (
                format!("Kirim application/geo+json atau application/json, bukan {kind:?}."),
                format!("Send application/geo+json or application/json, not {kind:?}."),
            ),
        ));
    }
    if body.len() > MAX_BODY {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> ApiError {
    ApiError::client(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        ("Isi permintaan terlalu besar", "Request body too large"),
        (format!("Paling banyak {MAX_BODY} byte."), format!("At most {MAX_BODY} bytes.")),
    )
}

/// A refused field: its plain words (detail) and stable code, with the reader's own
/// reason kept as `reason` (English, technical: for developers and GIS tools).
fn field_error(field: &str, en: impl Into<String>) -> ApiError {
    let reason = en.into();
    let text = super::field_text::field_text(field, &reason);
    ApiError::invalid_field_coded(field, text.code, text.id, text.en).with("reason", json!(reason))
}

/// Reads an incident body (a GeoJSON Feature) into fields (see [`read_feature`]); a
/// wrong field is a 422 naming it.
fn read_fields(body: &Value, base: Option<&Fields>, now: DateTime<Utc>) -> Result<(Fields, Option<String>), ApiError> {
    read_feature(body, base, now).map_err(|e| field_error(&e.field, e.reason))
}

impl From<IncidentError> for ApiError {
    fn from(e: IncidentError) -> ApiError {
        match e {
            IncidentError::Field { field, id, en } if id == en => field_error(&field, en),
            IncidentError::Field { field, id, en } => ApiError::invalid_field(&field, id, en),
            IncidentError::ReadOnly => {
                ApiError::forbidden("Peran analis hanya dapat membaca.".into(), "The analis role is read-only.".into())
            }
            IncidentError::OutOfScope { at, region } => ApiError::forbidden(
                format!("Lokasi ini ({at}) di luar wilayah Anda ({region})."),
                format!("This location ({at}) lies outside your region ({region})."),
            )
            .with("kode", json!(at)),
            IncidentError::Reopen { from, to } => ApiError::forbidden(
                format!(
                    "Status tidak dapat kembali dari {from} ke {to}; hanya pengguna nasional atau provinsi yang dapat membuka kembali."
                ),
                format!("The status cannot go back from {from} to {to}; only a nasional or provinsi user can reopen."),
            ),
            IncidentError::NotFound(id) => not_found(id),
            IncidentError::Stale(current) => stale(current),
            IncidentError::KeyReused => field_error(
                "Idempotency-Key",
                "was already used for a different request; use a new key for a new incident",
            ),
            IncidentError::Database(e) => e.into(),
            IncidentError::Engine => ApiError::Internal("engine update failed".into()),
        }
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        "incident-not-found",
        ("Insiden tidak ditemukan", "Incident not found"),
        (format!("Tidak ada insiden {id} yang dapat Anda lihat."), format!("There is no incident {id} you can see.")),
    )
}

fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn with_etag(status: StatusCode, record: &Record) -> Response {
    let mut response = (status, Json(incidents::geojson::feature(record))).into_response();
    response.headers_mut().insert(header::ETAG, etag(record.version));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    response
}

problem_responses!(
    /// What every incident operation can answer: no token, or the database failed.
    Refusals {
        "401" => "No valid token.",
        "500" => "The database query failed (logged).",
        "503" => "The database cannot be reached.",
    }
);

problem_responses!(
    /// What a write with a body can answer before it reads the body.
    BodyRefusals {
        "413" => "Body over 1 MB.",
        "415" => "Not JSON.",
    }
);

problem_responses!(
    /// An incident id that names nothing the caller may see.
    NotInScope {
        "404" => "No such incident in the caller's scope.",
    }
);

/// Record an incident
///
/// Creates an incident from a GeoJSON Feature, placed in its district, regency/city and
/// province. Operators (kabupaten_kota, provinsi) only inside their region; analis
/// never. With an `Idempotency-Key` header a retry returns the incident the first
/// request made (200) and never makes a second one.
#[utoipa::path(
    post,
    path = "/api/incidents",
    operation_id = "createIncident",
    tag = "incidents",
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, max_length = 255,
        description = "Makes retries safe: the same key (1 to 255 characters, per user) with the same body returns the same incident.",
        example = "6f1c2b9e-4d3a-4c1e-9b7a-2f0e8d5c1a30")),
    request_body(content((NewIncident = "application/geo+json"), (NewIncident = "application/json"))),
    responses(
        (status = 201, description = "Created.", body = IncidentFeature, content_type = "application/geo+json",
            headers(("ETag" = String, description = "The incident's version, quoted (`\"3\"`): send it as If-Match to edit or delete this version."), ("Location" = String, description = "Its path: `/api/incidents/{id}`."))),
        (status = 200, description = "A retry with the same Idempotency-Key: the incident it made.", body = IncidentFeature, content_type = "application/geo+json",
            headers(("ETag" = String, description = "The incident's version, quoted (`\"3\"`): send it as If-Match to edit or delete this version."), ("Idempotent-Replayed" = String, description = "`true`."))),
        (status = 400, description = "Malformed JSON.", body = Problem, content_type = PROBLEM_JSON),
        (status = 403, description = "Outside the caller's region (`kode`: where it lies), or a read-only role.", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A field is wrong (named in `field`): type, range, future time, invalid geometry, outside Indonesia; or the Idempotency-Key was used for another body.", body = Problem, content_type = PROBLEM_JSON),
        BodyRefusals,
        Refusals,
    )
)]
async fn create(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    check_body(&headers, &body)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| malformed(&e))?;
    super::text::refuse_nul(&value)?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .map(str::trim)
                .filter(|k| (1..=255).contains(&k.len()))
                .ok_or_else(|| field_error("Idempotency-Key", "must be 1 to 255 visible characters"))?
                .to_owned(),
        ),
    };
    let (fields, _) = read_fields(&value, None, Utc::now())?;
    let key = key.map(|k| (k, Sha256::digest(&body).to_vec()));
    let created = state.incidents().create(&caller, incidents::NewIncident { fields, key }).await?;
    let record = created.record;
    if created.replayed {
        let mut response = with_etag(StatusCode::OK, &record);
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(response);
    }
    let _ = state.events.send(Event::Incident {
        action: "create",
        id: record.id,
        version: Some(record.version),
        kode: record.placement.codes.clone(),
    });
    let mut response = with_etag(StatusCode::CREATED, &record);
    if let Ok(location) = HeaderValue::from_str(&format!("/api/incidents/{}", record.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// One incident
///
/// The incident as a GeoJSON Feature, with its version as ETag; 404 outside the
/// caller's scope.
#[utoipa::path(
    get,
    path = "/api/incidents/{id}",
    operation_id = "getIncident",
    tag = "incidents",
    security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Incident id.", example = 42)),
    responses(
        (status = 200, description = "The incident.", body = IncidentFeature, content_type = "application/geo+json",
            headers(("ETag" = String, description = "The incident's version, quoted (`\"3\"`): send it as If-Match to edit or delete this version."))),
        (status = 400, description = "Malformed incident id.", body = Problem, content_type = PROBLEM_JSON),
        NotInScope,
        Refusals,
    )
)]
async fn read(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let id = incident_id(&id)?;
    let record = state.incidents().get(&caller, id).await?;
    Ok(with_etag(StatusCode::OK, &record))
}

fn incident_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|&id| id > 0).ok_or_else(|| ApiError::InvalidParameter {
        param: "id".into(),
        detail: format!("{raw:?} is not an incident id"),
    })
}

/// The version named by `If-Match`.
fn if_match(headers: &HeaderMap, required: bool) -> Result<Option<i32>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        if !required {
            return Ok(None);
        }
        return Err(ApiError::client(
            StatusCode::PRECONDITION_REQUIRED,
            "if-match-required",
            ("If-Match diperlukan", "If-Match required"),
            (
                "Kirim If-Match dengan ETag versi yang Anda ubah.".into(),
                "Send If-Match with the ETag of the version you are changing.".into(),
            ),
        ));
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<i32>().ok())
        .map(Some)
        .ok_or_else(|| field_error("If-Match", "must be an ETag this server gave"))
}

fn stale(current: i32) -> ApiError {
    ApiError::client(
        StatusCode::PRECONDITION_FAILED,
        "stale-version",
        ("Versi sudah berubah", "Version changed"),
        (
            format!("Insiden ini sudah diubah orang lain (versi sekarang {current}); muat ulang lalu ubah lagi."),
            format!("Someone else changed this incident (now version {current}); reload and edit again."),
        ),
    )
    .with("version", json!(current))
}

/// Edit an incident
///
/// Changes what is sent (a partial GeoJSON Feature: `geometry` and any `properties`)
/// of the version named by `If-Match` (required: 428 without, 412 when stale, and
/// nothing changes). The status moves forward (potensi → terjadi → ditangani →
/// selesai); moving it back is reopening, which only a nasional or provinsi user may do,
/// with a `reason`.
#[utoipa::path(
    patch,
    path = "/api/incidents/{id}",
    operation_id = "editIncident",
    tag = "incidents",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Incident id.", example = 42),
        ("If-Match" = String, Header, description = "The ETag of the version being edited.", example = "\"3\""),
    ),
    request_body(content((IncidentEdit = "application/geo+json"), (IncidentEdit = "application/json"),
        (IncidentEdit = "application/merge-patch+json"))),
    responses(
        (status = 200, description = "The edited incident.", body = IncidentFeature, content_type = "application/geo+json",
            headers(("ETag" = String, description = "The incident's version, quoted (`\"3\"`): send it as If-Match to edit or delete this version."))),
        (status = 400, description = "Malformed JSON or incident id.", body = Problem, content_type = PROBLEM_JSON),
        (status = 403, description = "Outside the caller's region (before or after), or not allowed to reopen.", body = Problem, content_type = PROBLEM_JSON),
        (status = 412, description = "If-Match names an old version.", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A field is wrong.", body = Problem, content_type = PROBLEM_JSON),
        (status = 428, description = "No If-Match.", body = Problem, content_type = PROBLEM_JSON),
        BodyRefusals,
        NotInScope,
        Refusals,
    )
)]
async fn edit(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let id = incident_id(&id)?;
    check_body(&headers, &body)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| malformed(&e))?;
    super::text::refuse_nul(&value)?;
    let version = if_match(&headers, true)?.unwrap_or_default();
    let record = state.incidents().edit(&caller, incidents::Edit { id, version, patch: &value }).await?;
    let _ = state.events.send(Event::Incident {
        action: "update",
        id,
        version: Some(record.version),
        kode: record.placement.codes.clone(),
    });
    Ok(with_etag(StatusCode::OK, &record))
}

/// Delete an incident
///
/// Marks the incident deleted (it stays in the history). `If-Match`, when sent, must
/// name the current version.
#[utoipa::path(
    delete,
    path = "/api/incidents/{id}",
    operation_id = "deleteIncident",
    tag = "incidents",
    security(("bearer" = [])),
    params(
        ("id" = i64, Path, minimum = 1, description = "Incident id.", example = 42),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version being deleted.", example = "\"3\""),
    ),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, description = "Malformed incident id.", body = Problem, content_type = PROBLEM_JSON),
        (status = 403, description = "Outside the caller's region.", body = Problem, content_type = PROBLEM_JSON),
        (status = 412, description = "If-Match names an old version.", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "If-Match is not an ETag this server gave (`field`: If-Match).", body = Problem,
            content_type = PROBLEM_JSON),
        NotInScope,
        Refusals,
    )
)]
async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = auth.required()?;
    let id = incident_id(&id)?;
    let version = if_match(&headers, false)?;
    let removed = state.incidents().remove(&caller, id, version).await?;
    let _ = state.events.send(Event::Incident {
        action: "delete",
        id,
        version: Some(removed.version),
        kode: removed.codes,
    });
    Ok(StatusCode::NO_CONTENT)
}

/// An incident's history
///
/// Every create, edit and delete of the incident, oldest first: version, action, who
/// (user name), when, the reason of a reopening, and the incident before and after.
#[utoipa::path(
    get,
    path = "/api/incidents/{id}/history",
    operation_id = "incidentHistory",
    tag = "incidents",
    security(("bearer" = [])),
    params(("id" = i64, Path, minimum = 1, description = "Incident id.", example = 42)),
    responses(
        (status = 200, description = "The history.", body = IncidentHistory),
        (status = 400, description = "Malformed incident id.", body = Problem, content_type = PROBLEM_JSON),
        NotInScope,
        Refusals,
    )
)]
async fn history(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let caller = auth.required()?;
    let id = incident_id(&id)?;
    let entries = state.incidents().history(&caller, id).await?;
    let shown = history_scope::withhold_outside(entries, &crate::auth::read_scope(Some(&caller)))?;
    Ok(Json(json!({ "id": id, "history": shown })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Casualties;
    use crate::incident::{Category, Status};

    fn now() -> DateTime<Utc> {
        "2026-11-28T00:00:00Z".parse().expect("time")
    }

    fn body(properties: Value) -> Value {
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [119.43, -5.14]}, "properties": properties})
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Client(p) => p.extra.get("field").and_then(Value::as_str).unwrap_or_default().to_owned(),
            _ => String::new(),
        }
    }

    #[test]
    fn a_complete_body_reads_and_defaults_apply() {
        let (f, _) =
            read_fields(&body(json!({"category": "agraria", "severity": 3, "occurred_at": "2026-11-20"})), None, now())
                .expect("valid");
        assert_eq!((f.category, f.severity.get(), f.status), (Category::Agraria, 3, Status::Potensi));
        assert_eq!(f.casualties, Casualties::default());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"severity": 3, "occurred_at": "2026-11-20"}), "properties.category"),
            (json!({"category": "agraria", "severity": 6, "occurred_at": "2026-11-20"}), "properties.severity"),
            (json!({"category": "agraria", "severity": "3", "occurred_at": "2026-11-20"}), "properties.severity"),
            (json!({"category": "agraria", "severity": 3, "occurred_at": "2027-01-01"}), "properties.occurred_at"),
            (
                json!({"category": "agraria", "severity": 3, "occurred_at": "2026-11-20", "warna": 1}),
                "properties.warna",
            ),
            (json!({"category": "agraria", "severity": 3, "occurred_at": "2026-11-20", "id": 1}), "properties.id"),
            (
                json!({"category": "agraria", "severity": 3, "occurred_at": "2026-11-20", "casualties": {"luka": -1}}),
                "properties.casualties.luka",
            ),
        ];
        for (properties, field) in cases {
            let e = read_fields(&body(properties.clone()), None, now()).expect_err("invalid");
            assert_eq!(field_of(e), field, "{properties}");
        }
    }

    #[test]
    fn an_edit_keeps_what_it_does_not_send() {
        let (base, _) = read_fields(
            &body(json!({"category": "agraria", "severity": 3, "occurred_at": "2026-11-20", "description": "a"})),
            None,
            now(),
        )
        .expect("valid");
        let (edited, reason) =
            read_fields(&json!({"properties": {"severity": 4}, "reason": "x"}), Some(&base), now()).expect("valid");
        assert_eq!((edited.severity.get(), edited.description.as_str(), reason.as_deref()), (4, "a", Some("x")));
        assert_eq!(edited.geometry, base.geometry);
    }
}
