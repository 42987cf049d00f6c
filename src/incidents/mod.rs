//! The service layer of incident writes: create, edit and remove, each as one unit
//! (placement, the write-scope rule, the status rule, the transaction with its history
//! entry, the change notice to the other servers and the engine update). HTTP handlers
//! parse, call and render; the changes that arrive from other servers go through the
//! same engine update ([`apply`]).

mod error;
pub mod geojson;

use std::sync::{Arc, RwLock};

use chrono::Utc;
use geo::{Geometry, InteriorPoint};
use serde_json::Value;
use sqlx::PgPool;

pub use self::error::IncidentError;
use crate::auth::{Caller, Role, Scope};
use crate::db::incident_rows::{self, Created, NewRecord};
pub use crate::db::incident_rows::{Filter, HistoryEntry};
use crate::db::notify::Notifier;
use crate::engine::regions::{AssignError, Assignment, RegionId, RegionIndex};
use crate::engine::store::{region_only_assignment, Incident};
use crate::engine::Engine;
use crate::incident::{Fields, Placement, Record};
use crate::ingest::feature::read_feature;
use crate::region::RegionCode;
use crate::tiles::{incident_area, IncidentChange, Tiles};

/// What incident writes need: the database, the engine (through the tiles' batching of
/// changes) and the notice to the other servers.
#[derive(Clone)]
pub struct Incidents {
    /// The database.
    pub pool: PgPool,
    /// The engine, for placement.
    pub engine: Arc<RwLock<Engine>>,
    /// The engine's changes, batched, and the tiles they drop.
    pub tiles: Arc<Tiles>,
    /// Tells the other servers what changed.
    pub notifier: Arc<Notifier>,
}

/// A new incident: what is stated, and the idempotency key of the request with the hash
/// of its body.
pub struct NewIncident {
    /// What is stated.
    pub fields: Fields,
    /// `(key, hash of the request)`: a retry with the same key and body returns the
    /// first request's incident.
    pub key: Option<(String, Vec<u8>)>,
}

/// What a create did.
pub struct CreatedIncident {
    /// The incident.
    pub record: Record,
    /// A retry: the incident the first request with this key made.
    pub replayed: bool,
}

/// An edit: a partial GeoJSON Feature applied to the version named.
pub struct Edit<'a> {
    /// Incident id.
    pub id: i64,
    /// The version edited (`If-Match`).
    pub version: i32,
    /// `geometry` and any `properties` to change; `properties.reason` explains a
    /// reopening.
    pub patch: &'a Value,
}

/// What a removal did.
pub struct Removed {
    /// Incident id.
    pub id: i64,
    /// The version that marks it deleted.
    pub version: i32,
    /// Where it was (district, regency/city, province).
    pub codes: [Option<RegionCode>; 3],
}

/// An incident placed by the engine: the stored placement and the engine's own form.
struct Placed {
    placement: Placement,
    assignment: Assignment,
    touched: Vec<RegionId>,
    location: geo::Point<f64>,
}

impl Incidents {
    /// Records an incident (or, for a retried key, returns the one it made).
    pub async fn create(&self, caller: &Caller, new: NewIncident) -> Result<CreatedIncident, IncidentError> {
        let placed = self.place(&new.fields)?;
        check_write_scope(caller, &placed.placement)?;
        // The incident as it will show, but for what the database sets (id, times).
        let now = Utc::now();
        let after = geojson::feature(&Record {
            id: 0,
            fields: new.fields.clone(),
            placement: placed.placement.clone(),
            reporter: Some(caller.username.clone()),
            created_at: now,
            updated_at: now,
            version: 1,
        });
        let row = NewRecord {
            fields: &new.fields,
            placement: &placed.placement,
            reporter: (caller.id, &caller.username),
            key: new.key.as_ref().map(|(k, hash)| (k.as_str(), hash.as_slice())),
            after: &after,
        };
        let record = match incident_rows::create(&self.pool, row).await? {
            Created::New(record) => *record,
            Created::Replayed(id, hash) => {
                if new.key.as_ref().is_none_or(|(_, wanted)| *wanted != hash) {
                    return Err(IncidentError::KeyReused);
                }
                let record = incident_rows::get(&self.pool, id).await?.ok_or(IncidentError::NotFound(id))?;
                return Ok(CreatedIncident { record, replayed: true });
            }
        };
        self.notifier.changed(record.id, record.version);
        self.apply(Some(engine_incident(&record, &placed)), record.id).await?;
        Ok(CreatedIncident { record, replayed: false })
    }

    /// Edits the version named; the status moves forward, or back (reopening) only by
    /// a nasional or provinsi user with a reason.
    pub async fn edit(&self, caller: &Caller, edit: Edit<'_>) -> Result<Record, IncidentError> {
        let Edit { id, version, patch } = edit;
        let before = self.readable(caller, id).await?;
        check_write_scope(caller, &before.placement)?;
        if before.version != version {
            return Err(IncidentError::Stale(before.version));
        }
        let (fields, reason) = read_feature(patch, Some(&before.fields), Utc::now())
            .map_err(|e| IncidentError::field(&e.field, e.reason))?;
        if fields.status < before.fields.status {
            if !matches!(caller.role, Role::Nasional | Role::Provinsi) {
                return Err(IncidentError::Reopen { from: before.fields.status, to: fields.status });
            }
            if reason.is_none() {
                return Err(IncidentError::field(
                    "reason",
                    format!("reopening (status {} back to {}) needs a reason", before.fields.status, fields.status),
                ));
            }
        }
        let placed = self.place(&fields)?;
        check_write_scope(caller, &placed.placement)?;
        let mut tx = self.pool.begin().await?;
        let Some(record) = incident_rows::update(&mut tx, id, version, &fields, &placed.placement).await? else {
            return Err(refused(tx, id).await);
        };
        let (old, new) = (geojson::feature(&before), geojson::feature(&record));
        let entry = (id, record.version, "update", caller.id, reason.as_deref());
        incident_rows::record_history(&mut tx, entry, Some(&old), Some(&new)).await?;
        tx.commit().await?;
        self.notifier.changed(id, record.version);
        self.apply(Some(engine_incident(&record, &placed)), id).await?;
        Ok(record)
    }

    /// Marks an incident deleted (it stays in the history); `version`, when given, must
    /// be the current one.
    pub async fn remove(&self, caller: &Caller, id: i64, version: Option<i32>) -> Result<Removed, IncidentError> {
        let before = self.readable(caller, id).await?;
        check_write_scope(caller, &before.placement)?;
        let mut tx = self.pool.begin().await?;
        let Some(version) = incident_rows::delete(&mut tx, id, version).await? else {
            return Err(refused(tx, id).await);
        };
        let entry = (id, version, "delete", caller.id, None);
        incident_rows::record_history(&mut tx, entry, Some(&geojson::feature(&before)), None).await?;
        tx.commit().await?;
        self.notifier.changed(id, version);
        self.apply(None, id).await?;
        Ok(Removed { id, version, codes: before.placement.codes })
    }

    /// One incident, if the caller may see it.
    pub async fn get(&self, caller: &Caller, id: i64) -> Result<Record, IncidentError> {
        self.readable(caller, id).await
    }

    /// Every create, edit and delete of an incident, oldest first, if the caller can
    /// see the incident as it is now or as it last was.
    pub async fn history(&self, caller: &Caller, id: i64) -> Result<Vec<HistoryEntry>, IncidentError> {
        let entries = incident_rows::history(&self.pool, id).await?;
        let last = entries.iter().rev().find_map(|e| e.after.as_ref().or(e.before.as_ref()));
        let codes: Vec<Option<RegionCode>> = ["kecamatan", "kabupaten_kota", "provinsi"]
            .iter()
            .map(|k| last.and_then(|f| f["properties"][k].as_str()).and_then(|c| c.parse().ok()))
            .collect();
        let scope = crate::auth::read_scope(Some(caller));
        if entries.is_empty() || !scope.covers(&[codes[0].as_ref(), codes[1].as_ref(), codes[2].as_ref()]) {
            return Err(IncidentError::NotFound(id));
        }
        Ok(entries)
    }

    /// The incidents in `scope` that pass `filter`, in the filter's order, at most
    /// `limit`.
    pub async fn list(&self, scope: &Scope, filter: &Filter, limit: i64) -> Result<Vec<Record>, IncidentError> {
        Ok(incident_rows::list(&self.pool, scope, filter, limit).await?)
    }

    /// The incident if the caller may see it.
    async fn readable(&self, caller: &Caller, id: i64) -> Result<Record, IncidentError> {
        let record = incident_rows::get(&self.pool, id).await?;
        record.filter(|r| readable(Some(caller), r)).ok_or(IncidentError::NotFound(id))
    }

    fn place(&self, fields: &Fields) -> Result<Placed, IncidentError> {
        let engine = crate::sync::read(&self.engine);
        place(engine.index(), fields)
    }

    /// Applies a committed write to the engine (and so to risk and tiles): `incident`
    /// is the new state of incident `id`, `None` for its removal. Made with the next
    /// batch of changes (within the batching delay); returns once the tiles the change
    /// touches are dropped, so that the client's next tile fetch shows it.
    async fn apply(&self, incident: Option<Incident>, id: i64) -> Result<(), IncidentError> {
        let tiles = Arc::clone(&self.tiles);
        tokio::task::spawn_blocking(move || tiles.change_and_wait(Box::new(move |engine| apply(engine, id, incident))))
            .await
            .map_err(|_| IncidentError::Engine)
    }
}

/// Applies a change of incident `id` to the engine: its new state, or its removal
/// (`None`); returns the tile areas it touches (before and after). The one engine update
/// of this server's writes and of the changes that arrive from other servers.
pub fn apply(engine: &mut Engine, id: i64, incident: Option<Incident>) -> IncidentChange {
    let mut areas = Vec::new();
    if let Some(old) = engine.incidents().get(id) {
        areas.push(incident_area(old));
    }
    match incident {
        Some(incident) => {
            areas.push(incident_area(&incident));
            engine.upsert(incident);
        }
        None => {
            engine.remove(id);
        }
    }
    IncidentChange::Areas(areas)
}

/// Whether the caller may read the incident (its regions are in the caller's scope).
pub fn readable(caller: Option<&Caller>, record: &Record) -> bool {
    let codes = &record.placement.codes;
    crate::auth::read_scope(caller).covers(&[codes[0].as_ref(), codes[1].as_ref(), codes[2].as_ref()])
}

/// Assigns an incident to its regions (refused outside Indonesia's land and waters, or
/// for an unknown region).
fn place(index: &RegionIndex, fields: &Fields) -> Result<Placed, IncidentError> {
    let (assignment, touched, location) = match (&fields.geometry, &fields.region) {
        (Some(geometry), _) => {
            let (assignment, touched) = index.assign(geometry).map_err(|e| match e {
                AssignError::OutsideWaters { .. } => IncidentError::Field {
                    field: "geometry".into(),
                    id: format!("di luar daratan Indonesia dan perairan 12 mil lautnya ({e})"),
                    en: e.to_string(),
                },
                AssignError::Empty => IncidentError::field("geometry", e.to_string()),
            })?;
            let location = match geometry {
                Geometry::Point(p) => *p,
                other => {
                    other.interior_point().ok_or_else(|| IncidentError::field("geometry", "has no interior point"))?
                }
            };
            (assignment, touched, location)
        }
        (None, Some(code)) => {
            let id = index
                .id(code)
                .ok_or_else(|| IncidentError::field("properties.kode", format!("no region has code {code}")))?;
            (region_only_assignment(index, id), Vec::new(), index.region(id).label_point)
        }
        (None, None) => return Err(IncidentError::field("properties.kode", "is required when geometry is null")),
    };
    let code = |id: Option<RegionId>| id.map(|id| index.region(id).code.clone());
    let placement = Placement {
        codes: assignment.regions.map(code),
        at_sea: assignment.at_sea,
        touched: touched.iter().map(|&id| index.region(id).code.clone()).collect(),
    };
    Ok(Placed { placement, assignment, touched, location })
}

/// Whether a caller may write an incident placed here: every region it lies in or
/// touches is the caller's region, inside it, or one of its ancestors.
fn check_write_scope(caller: &Caller, placement: &Placement) -> Result<(), IncidentError> {
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
    if caller.role == Role::Analis {
        return Err(IncidentError::ReadOnly);
    }
    let region = caller.region.as_ref().map_or("-", RegionCode::as_str).to_owned();
    let at = placement.codes[1].as_ref().or(placement.codes[2].as_ref()).map_or("-", RegionCode::as_str).to_owned();
    Err(IncidentError::OutOfScope { at, region })
}

/// Why a versioned write changed nothing: someone else changed the incident first
/// (stale), or it is gone (not found).
async fn refused(mut tx: sqlx::Transaction<'_, sqlx::Postgres>, id: i64) -> IncidentError {
    let current = match incident_rows::version(&mut tx, id).await {
        Ok(current) => current,
        Err(e) => return e.into(),
    };
    if let Err(e) = tx.rollback().await {
        return e.into();
    }
    match current {
        Some((version, false)) => IncidentError::Stale(version),
        _ => IncidentError::NotFound(id),
    }
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
