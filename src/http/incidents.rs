//! `/api/incidents`: operators record, edit and delete incidents (GeoJSON Features),
//! within their region; everyone with a token reads within their scope. Every write
//! is versioned (ETag / If-Match), audited, optionally idempotent, reflected in the
//! engine (risk, tiles) before the answer, and announced to live readers and to other
//! servers on the same database.

mod schema;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use geo::{Geometry, InteriorPoint};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::events::Event;
use super::extract::Query;
use super::AppState;
use crate::auth::{Caller, Role, Scope};
use crate::db::incident_rows::{self, Created, Fields, Filter, NewRecord, Placement, Record};
use crate::engine::regions::{AssignError, RegionIndex};
use crate::engine::risk::RiskLevel;
use crate::engine::store::{region_only_assignment, Incident};
use crate::ingest::feature::read_feature;
use crate::ingest::incidents::parse_time;
use crate::region::RegionCode;
use crate::tiles::{incident_area, IncidentChange};
use schema::{IncidentEdit, IncidentFeature, IncidentHistory, IncidentPage, NewIncident};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create, list)).routes(routes!(read, edit, remove)).routes(routes!(history))
}

/// Largest request body, in bytes.
pub const MAX_BODY: usize = 1 << 20;

/// Most incidents in one page of the list.
pub const MAX_LIMIT: i64 = 1000;

/// Parses a JSON body: malformed JSON is 400, the wrong shape 422.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::invalid_field("body", format!("tidak sesuai: {e}"), format!("does not fit: {e}"))
        } else {
            malformed(&e)
        }
    })
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

fn field_error(field: &str, en: impl Into<String>) -> ApiError {
    let en = en.into();
    ApiError::invalid_field(field, en.clone(), en)
}

/// Reads an incident body (a GeoJSON Feature) into fields (see [`read_feature`]); a
/// wrong field is a 422 naming it.
fn read_fields(body: &Value, base: Option<&Fields>, now: DateTime<Utc>) -> Result<(Fields, Option<String>), ApiError> {
    read_feature(body, base, now).map_err(|e| field_error(&e.field, e.reason))
}

/// An incident placed by the engine: the stored placement and the engine's own form.
struct Placed {
    placement: Placement,
    assignment: crate::engine::regions::Assignment,
    touched: Vec<crate::engine::regions::RegionId>,
    location: geo::Point<f64>,
}

/// Assigns an incident to its regions (422 outside Indonesia's land and waters, or for
/// an unknown region).
fn place(index: &RegionIndex, fields: &Fields) -> Result<Placed, ApiError> {
    let (assignment, touched, location) = match (&fields.geometry, &fields.region) {
        (Some(geometry), _) => {
            let (assignment, touched) = index.assign(geometry).map_err(|e| match e {
                AssignError::OutsideWaters { .. } => ApiError::invalid_field(
                    "geometry",
                    format!("di luar daratan Indonesia dan perairan 12 mil lautnya ({e})"),
                    e.to_string(),
                ),
                AssignError::Empty => field_error("geometry", e.to_string()),
            })?;
            let location = match geometry {
                Geometry::Point(p) => *p,
                other => other.interior_point().ok_or_else(|| field_error("geometry", "has no interior point"))?,
            };
            (assignment, touched, location)
        }
        (None, Some(code)) => {
            let id =
                index.id(code).ok_or_else(|| field_error("properties.kode", format!("no region has code {code}")))?;
            (region_only_assignment(index, id), Vec::new(), index.region(id).label_point)
        }
        (None, None) => return Err(field_error("properties.kode", "is required when geometry is null")),
    };
    let code = |id: Option<crate::engine::regions::RegionId>| id.map(|id| index.region(id).code.clone());
    let placement = Placement {
        codes: assignment.regions.map(code),
        at_sea: assignment.at_sea,
        touched: touched.iter().map(|&id| index.region(id).code.clone()).collect(),
    };
    Ok(Placed { placement, assignment, touched, location })
}

/// Whether a caller may write an incident placed here: every region it lies in or
/// touches is the caller's region, inside it, or one of its ancestors.
fn check_write_scope(caller: &Caller, placement: &Placement) -> Result<(), ApiError> {
    let allowed = match caller.write_scope() {
        Scope::Everything => true,
        Scope::Nothing => false,
        Scope::Within(root) => {
            let related = |c: &RegionCode| c.is_within(&root) || root.is_within(c);
            placement.codes.iter().flatten().any(|c| c.is_within(&root))
                && placement.codes.iter().flatten().chain(&placement.touched).all(related)
        }
    };
    if allowed {
        return Ok(());
    }
    let region = caller.region.as_ref().map_or("-", RegionCode::as_str).to_owned();
    let at = placement.codes[1].as_ref().or(placement.codes[2].as_ref()).map_or("-", RegionCode::as_str).to_owned();
    Err(if caller.role == Role::Analis {
        ApiError::forbidden("Peran analis hanya dapat membaca.".into(), "The analis role is read-only.".into())
    } else {
        ApiError::forbidden(
            format!("Lokasi ini ({at}) di luar wilayah Anda ({region})."),
            format!("This location ({at}) lies outside your region ({region})."),
        )
        .with("kode", json!(at))
    })
}

fn readable(caller: Option<&Caller>, record: &Record) -> bool {
    let codes = &record.placement.codes;
    crate::auth::read_scope(caller).covers(&[codes[0].as_ref(), codes[1].as_ref(), codes[2].as_ref()])
}

fn not_found(id: i64) -> ApiError {
    ApiError::client(
        StatusCode::NOT_FOUND,
        "incident-not-found",
        ("Insiden tidak ditemukan", "Incident not found"),
        (format!("Tidak ada insiden {id} yang dapat Anda lihat."), format!("There is no incident {id} you can see.")),
    )
}

/// The incident as a GeoJSON Feature.
fn feature(record: &Record) -> Value {
    let f = &record.fields;
    let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    json!({
        "type": "Feature",
        "id": record.id,
        "geometry": f.geometry.as_ref().map(geometry_json),
        "properties": {
            "category": f.category,
            "severity": f.severity.get(),
            "status": f.status,
            "occurred_at": time(&f.occurred_at),
            "source": f.source,
            "description": f.description,
            "casualties": f.casualties,
            "kode": f.region,
            "kecamatan": record.placement.codes[0],
            "kabupaten_kota": record.placement.codes[1],
            "provinsi": record.placement.codes[2],
            "at_sea": record.placement.at_sea,
            "reporter": record.reporter,
            "created_at": time(&record.created_at),
            "updated_at": time(&record.updated_at),
            "version": record.version,
        }
    })
}

fn geometry_json(g: &Geometry<f64>) -> Value {
    let position = |c: &geo::Coord<f64>| json!([c.x, c.y]);
    match g {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": position(&p.0)}),
        Geometry::LineString(l) => {
            json!({"type": "LineString", "coordinates": l.0.iter().map(position).collect::<Vec<_>>()})
        }
        Geometry::Polygon(p) => {
            let rings: Vec<Vec<Value>> = std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|r| r.0.iter().map(position).collect())
                .collect();
            json!({"type": "Polygon", "coordinates": rings})
        }
        _ => Value::Null,
    }
}

fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn with_etag(status: StatusCode, record: &Record) -> Response {
    let mut response = (status, Json(feature(record))).into_response();
    response.headers_mut().insert(header::ETAG, etag(record.version));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/geo+json"));
    response
}

/// The engine's form of a stored incident.
fn engine_incident(record: &Record, placed: &Placed) -> Incident {
    Incident {
        id: record.id,
        occurred_at: record.fields.occurred_at.timestamp(),
        category: record.fields.category,
        severity: record.fields.severity,
        status: record.fields.status,
        assignment: placed.assignment,
        location: placed.location,
        shape: match &record.fields.geometry {
            Some(Geometry::Point(_)) | None => None,
            Some(g) => Some(Box::new(g.clone())),
        },
        touched: placed.touched.clone().into_boxed_slice(),
    }
}

/// Applies a committed write to the engine (and so to risk and tiles) and tells live
/// readers.
async fn apply(state: &AppState, change: Applied) -> Result<(), ApiError> {
    let tiles = state.tiles.clone();
    let event = match &change {
        Applied::Upsert(incident, record, action) => Event::Incident {
            action,
            id: incident.id,
            version: Some(record.version),
            kode: record.placement.codes.clone(),
        },
        Applied::Remove(id, version, codes) => {
            Event::Incident { action: "delete", id: *id, version: Some(*version), kode: codes.clone() }
        }
    };
    // Made with the next batch of changes (within the batching delay); answers once
    // the tiles the change touches are dropped, so that the client's next tile fetch
    // shows it.
    tokio::task::spawn_blocking(move || {
        tiles.change_and_wait(Box::new(move |engine| {
            let mut areas = Vec::new();
            match change {
                Applied::Upsert(incident, _, _) => {
                    areas.push(incident_area(&incident));
                    if let Some(old) = engine.incidents().get(incident.id) {
                        areas.push(incident_area(old));
                    }
                    engine.upsert(*incident);
                }
                Applied::Remove(id, _, _) => {
                    if let Some(old) = engine.remove(id) {
                        areas.push(incident_area(&old));
                    }
                }
            }
            IncidentChange::Areas(areas)
        }))
    })
    .await
    .map_err(|_| ApiError::Internal("engine update failed".into()))?;
    let _ = state.events.send(event);
    Ok(())
}

enum Applied {
    Upsert(Box<Incident>, Box<Record>, &'static str),
    Remove(i64, i32, [Option<RegionCode>; 3]),
}

/// Ends an edit or a deletion: its history entry.
async fn finish(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    entry: (i64, i32, &str, i64, Option<&str>),
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), ApiError> {
    incident_rows::record_history(tx, entry, before, after).await?;
    Ok(())
}

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
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 403, description = "Outside the caller's region (`kode`: where it lies), or a read-only role.", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, description = "Body over 1 MB.", body = Problem, content_type = PROBLEM_JSON),
        (status = 415, description = "Not JSON.", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A field is wrong (named in `field`): type, range, future time, invalid geometry, outside Indonesia; or the Idempotency-Key was used for another body.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
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
    let placed = place(state.read().index(), &fields)?;
    check_write_scope(&caller, &placed.placement)?;
    let request_hash = Sha256::digest(&body).to_vec();
    // The incident as it will show, but for what the database sets (id, times).
    let now = Utc::now();
    let after = feature(&Record {
        id: 0,
        fields: fields.clone(),
        placement: placed.placement.clone(),
        reporter: Some(caller.username.clone()),
        created_at: now,
        updated_at: now,
        version: 1,
    });
    let new = NewRecord {
        fields: &fields,
        placement: &placed.placement,
        reporter: (caller.id, &caller.username),
        key: key.as_deref().map(|k| (k, request_hash.as_slice())),
        after: &after,
    };
    let record = match incident_rows::create(&state.pool, new).await? {
        Created::New(record) => *record,
        Created::Replayed(id, hash) => {
            if hash != request_hash {
                return Err(field_error(
                    "Idempotency-Key",
                    "was already used for a different request; use a new key for a new incident",
                ));
            }
            let record = incident_rows::get(&state.pool, id).await?.ok_or_else(|| not_found(id))?;
            let mut response = with_etag(StatusCode::OK, &record);
            response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
    };
    state.notifier.changed(record.id);
    let incident = engine_incident(&record, &placed);
    apply(&state, Applied::Upsert(Box::new(incident), Box::new(record.clone()), "create")).await?;
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
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such incident in the caller's scope.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn read(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let id = incident_id(&id)?;
    let record = incident_rows::get(&state.pool, id).await?.filter(|r| readable(Some(&caller), r));
    Ok(with_etag(StatusCode::OK, &record.ok_or_else(|| not_found(id))?))
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

/// Why a versioned write changed nothing: someone else changed the incident first
/// (412), or it is gone (404).
async fn refused(mut tx: sqlx::Transaction<'_, sqlx::Postgres>, id: i64) -> ApiError {
    let current = match incident_rows::version(&mut tx, id).await {
        Ok(current) => current,
        Err(e) => return e.into(),
    };
    if let Err(e) = tx.rollback().await {
        return e.into();
    }
    match current {
        Some((version, false)) => stale(version),
        _ => not_found(id),
    }
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
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 403, description = "Outside the caller's region (before or after), or not allowed to reopen.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such incident in the caller's scope.", body = Problem, content_type = PROBLEM_JSON),
        (status = 412, description = "If-Match names an old version.", body = Problem, content_type = PROBLEM_JSON),
        (status = 413, description = "Body over 1 MB.", body = Problem, content_type = PROBLEM_JSON),
        (status = 415, description = "Not JSON.", body = Problem, content_type = PROBLEM_JSON),
        (status = 422, description = "A field is wrong.", body = Problem, content_type = PROBLEM_JSON),
        (status = 428, description = "No If-Match.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
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
    let wanted = if_match(&headers, true)?.unwrap_or_default();
    let before = incident_rows::get(&state.pool, id).await?.filter(|r| readable(Some(&caller), r));
    let before = before.ok_or_else(|| not_found(id))?;
    check_write_scope(&caller, &before.placement)?;
    if before.version != wanted {
        return Err(stale(before.version));
    }
    let (fields, reason) = read_fields(&value, Some(&before.fields), Utc::now())?;
    if fields.status < before.fields.status {
        if !matches!(caller.role, Role::Nasional | Role::Provinsi) {
            return Err(ApiError::forbidden(
                format!(
                    "Status tidak dapat kembali dari {} ke {}; hanya pengguna nasional atau provinsi yang dapat membuka kembali.",
                    before.fields.status, fields.status
                ),
                format!(
                    "The status cannot go back from {} to {}; only a nasional or provinsi user can reopen.",
                    before.fields.status, fields.status
                ),
            ));
        }
        if reason.is_none() {
            return Err(field_error(
                "reason",
                format!("reopening (status {} back to {}) needs a reason", before.fields.status, fields.status),
            ));
        }
    }
    let placed = place(state.read().index(), &fields)?;
    check_write_scope(&caller, &placed.placement)?;
    let mut tx = state.pool.begin().await?;
    let Some(record) = incident_rows::update(&mut tx, id, wanted, &fields, &placed.placement).await? else {
        return Err(refused(tx, id).await);
    };
    let (old, new) = (feature(&before), feature(&record));
    let entry = (id, record.version, "update", caller.id, reason.as_deref());
    finish(&mut tx, entry, Some(&old), Some(&new)).await?;
    tx.commit().await?;
    state.notifier.changed(id);
    let incident = engine_incident(&record, &placed);
    apply(&state, Applied::Upsert(Box::new(incident), Box::new(record.clone()), "update")).await?;
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
        (status = 400, description = "Malformed incident id or If-Match.", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 403, description = "Outside the caller's region.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such incident in the caller's scope.", body = Problem, content_type = PROBLEM_JSON),
        (status = 412, description = "If-Match names an old version.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
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
    let wanted = if_match(&headers, false)?;
    let before = incident_rows::get(&state.pool, id).await?.filter(|r| readable(Some(&caller), r));
    let before = before.ok_or_else(|| not_found(id))?;
    check_write_scope(&caller, &before.placement)?;
    let mut tx = state.pool.begin().await?;
    let Some(version) = incident_rows::delete(&mut tx, id, wanted).await? else {
        return Err(refused(tx, id).await);
    };
    finish(&mut tx, (id, version, "delete", caller.id, None), Some(&feature(&before)), None).await?;
    tx.commit().await?;
    state.notifier.changed(id);
    apply(&state, Applied::Remove(id, version, before.placement.codes.clone())).await?;
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
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 404, description = "No such incident in the caller's scope.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn history(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let caller = auth.required()?;
    let id = incident_id(&id)?;
    let entries = incident_rows::history(&state.pool, id).await?;
    // Readable if the caller can see the incident as it is now, or as it last was.
    let last = entries.iter().rev().find_map(|e| e.after.as_ref().or(e.before.as_ref()));
    let codes: Vec<Option<RegionCode>> = ["kecamatan", "kabupaten_kota", "provinsi"]
        .iter()
        .map(|k| last.and_then(|f| f["properties"][k].as_str()).and_then(|c| c.parse().ok()))
        .collect();
    let scope = crate::auth::read_scope(Some(&caller));
    if entries.is_empty() || !scope.covers(&[codes[0].as_ref(), codes[1].as_ref(), codes[2].as_ref()]) {
        return Err(not_found(id));
    }
    Ok(Json(json!({ "id": id, "history": entries })))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `west,south,east,north` in degrees.
    #[param(example = "119.3,-5.3,119.6,-5.0")]
    bbox: Option<String>,
    /// A region code: incidents within it (its whole subtree).
    #[param(value_type = Option<RegionCode>, inline, example = "73.71")]
    kode: Option<String>,
    /// Only incidents in regencies/cities at this risk level now.
    #[param(value_type = Option<RiskLevel>, inline, example = "kuning")]
    level: Option<String>,
    /// Categories, comma-separated.
    #[param(example = "antar_kelompok,agraria")]
    category: Option<String>,
    /// Statuses, comma-separated.
    #[param(example = "potensi,terjadi")]
    status: Option<String>,
    /// Lowest severity.
    #[param(value_type = Option<u8>, minimum = 1, maximum = 5, example = 2)]
    severity_min: Option<String>,
    /// Highest severity.
    #[param(value_type = Option<u8>, minimum = 1, maximum = 5, example = 5)]
    severity_max: Option<String>,
    /// Occurred at or after: an RFC 3339 time or a date (midnight WIB).
    #[param(example = "2026-11-01")]
    from: Option<String>,
    /// Occurred before: an RFC 3339 time or a date (midnight WIB).
    #[param(example = "2026-12-01T00:00:00+07:00")]
    to: Option<String>,
    /// Text in the description (case-insensitive), at most 200 characters.
    #[param(max_length = 200, example = "lahan")]
    q: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(example = "1234")]
    cursor: Option<String>,
}

fn bad(param: &str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidParameter { param: param.into(), detail: detail.into() }
}

fn list_of<T: std::str::FromStr<Err = String>>(param: &str, v: Option<&str>) -> Result<Vec<T>, ApiError> {
    v.filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(|s| s.trim().parse::<T>().map_err(|e| bad(param, e))).collect())
        .unwrap_or(Ok(Vec::new()))
}

fn severity_param(param: &str, v: Option<&str>) -> Result<Option<u8>, ApiError> {
    v.filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<u8>()
                .ok()
                .filter(|s| (1..=5).contains(s))
                .ok_or_else(|| bad(param, format!("{v:?} is not 1 to 5")))
        })
        .transpose()
}

/// List incidents
///
/// Incidents within the caller's scope, newest first, as a GeoJSON FeatureCollection of
/// at most `limit` (maximum 1000) with `next_cursor` for the next page (stable: by id,
/// descending).
#[utoipa::path(
    get,
    path = "/api/incidents",
    operation_id = "listIncidents",
    tag = "incidents",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of incidents.", body = IncidentPage, content_type = "application/geo+json"),
        (status = 400, description = "A malformed filter, or an unknown query parameter.", body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "No valid token.", body = Problem, content_type = PROBLEM_JSON),
        (status = 500, description = "The database query failed (logged).", body = Problem, content_type = PROBLEM_JSON),
        (status = 503, description = "The database cannot be reached.", body = Problem, content_type = PROBLEM_JSON),
    )
)]
async fn list(State(state): State<AppState>, auth: Auth, Query(q): Query<ListQuery>) -> Result<Response, ApiError> {
    let caller = auth.required()?;
    let mut filter = Filter::default();
    if let Some(bbox) = q.bbox.as_deref().filter(|v| !v.is_empty()) {
        let n: Vec<f64> = bbox.split(',').filter_map(|v| v.trim().parse::<f64>().ok()).collect();
        match n.as_slice() {
            &[w, s, e, n]
                if [w, s, e, n].iter().all(|v| v.is_finite())
                    && w <= e
                    && s <= n
                    && (-180.0..=180.0).contains(&w)
                    && (-180.0..=180.0).contains(&e)
                    && (-90.0..=90.0).contains(&s)
                    && (-90.0..=90.0).contains(&n) =>
            {
                filter.bbox = Some([w, s, e, n]);
            }
            _ => return Err(bad("bbox", format!("{bbox:?} is not west,south,east,north in degrees"))),
        }
    }
    if let Some(code) = q.kode.as_deref().filter(|v| !v.is_empty()) {
        filter.region = Some(code.parse().map_err(|e: crate::region::MalformedCode| bad("kode", e.to_string()))?);
    }
    if let Some(level) = q.level.as_deref().filter(|v| !v.is_empty()) {
        let wanted = match level {
            "hijau" => crate::engine::risk::RiskLevel::Hijau,
            "kuning" => crate::engine::risk::RiskLevel::Kuning,
            "merah" => crate::engine::risk::RiskLevel::Merah,
            _ => return Err(bad("level", format!("{level:?} is not hijau, kuning or merah"))),
        };
        let engine = state.read();
        let current = engine.current();
        filter.regencies = Some(
            engine
                .index()
                .level_ids(crate::region::RegionLevel::KabupatenKota)
                .into_iter()
                .filter(|&id| current.standings[id as usize].level == wanted)
                .map(|id| engine.index().region(id).code.to_string())
                .collect(),
        );
    }
    filter.categories = list_of("category", q.category.as_deref())?;
    filter.statuses = list_of("status", q.status.as_deref())?;
    filter.severity_min = severity_param("severity_min", q.severity_min.as_deref())?;
    filter.severity_max = severity_param("severity_max", q.severity_max.as_deref())?;
    let time = |param: &str, v: Option<&str>| {
        v.filter(|v| !v.is_empty()).map(|v| parse_time(v).map_err(|e| bad(param, e))).transpose()
    };
    filter.from = time("from", q.from.as_deref())?;
    filter.to = time("to", q.to.as_deref())?;
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            return Err(bad("from", "from lies after to"));
        }
    }
    filter.text = q.q.filter(|v| !v.is_empty());
    if filter.text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(bad("q", "at most 200 characters"));
    }
    let limit = match q.limit.as_deref().filter(|v| !v.is_empty()) {
        None => 100,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| bad("limit", format!("{v:?} is not 1 to {MAX_LIMIT}")))?,
    };
    filter.before_id = match q.cursor.as_deref().filter(|v| !v.is_empty()) {
        None => None,
        Some(c) => Some(
            c.parse::<i64>().ok().filter(|&c| c > 0).ok_or_else(|| bad("cursor", "not a cursor this server gave"))?,
        ),
    };
    let scope = caller.read_scope();
    let records = incident_rows::list(&state.pool, &scope, &filter, limit + 1).await?;
    let more = records.len() as i64 > limit;
    let page = &records[..records.len().min(limit as usize)];
    let next = if more { page.last().map(|r| r.id.to_string()) } else { None };
    let body = json!({
        "type": "FeatureCollection",
        "features": page.iter().map(feature).collect::<Vec<_>>(),
        "count": page.len(),
        "next_cursor": next,
    });
    Ok(([(header::CONTENT_TYPE, "application/geo+json")], Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::incident_rows::Casualties;
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
