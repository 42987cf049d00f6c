//! The incident API's reads and writes: one incident at a time, with its version, its
//! history (who, when, before and after) and idempotency keys; and the filtered,
//! scoped, cursor-paginated list.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row, Transaction};

use super::incident_sql::{push_envelope, push_scope, push_within, Stated};
use super::wkb;
use crate::auth::Scope;
use crate::incident::{Category, Severity, Status};
use crate::region::RegionCode;

use crate::incident::{Casualties, Fields, Placement, Record};

const COLUMNS: &str = "i.id, case when i.geom is null then null else st_asbinary(i.geom) end as wkb, i.region_code,
    i.category::text as category, i.severity, i.status::text as status, i.occurred_at, i.source, i.description,
    i.meninggal, i.luka, i.pengungsi, i.kecamatan_code, i.kabupaten_kota_code, i.provinsi_code, i.at_sea,
    i.touched_codes, u.username as reporter, i.created_at, i.updated_at, i.version";

fn decode(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Decode(e.to_string().into())
}

fn code(v: Option<String>) -> Option<RegionCode> {
    v.and_then(|c| c.parse().ok())
}

fn record(row: &PgRow) -> Result<Record, sqlx::Error> {
    let wkb: Option<Vec<u8>> = row.try_get("wkb")?;
    let severity: i16 = row.try_get("severity")?;
    let category: String = row.try_get("category")?;
    let status: String = row.try_get("status")?;
    let touched: Vec<String> = row.try_get("touched_codes")?;
    Ok(Record {
        id: row.try_get("id")?,
        fields: Fields {
            geometry: wkb.map(|b| wkb::read(&b)).transpose().map_err(decode)?,
            region: code(row.try_get("region_code")?),
            category: category.parse().map_err(decode)?,
            severity: u8::try_from(severity).ok().and_then(Severity::new).ok_or_else(|| decode("severity"))?,
            status: status.parse().map_err(decode)?,
            occurred_at: row.try_get("occurred_at")?,
            source: row.try_get("source")?,
            description: row.try_get("description")?,
            casualties: Casualties {
                meninggal: row.try_get("meninggal")?,
                luka: row.try_get("luka")?,
                pengungsi: row.try_get("pengungsi")?,
            },
        },
        placement: Placement {
            codes: [
                code(row.try_get("kecamatan_code")?),
                code(row.try_get("kabupaten_kota_code")?),
                code(row.try_get("provinsi_code")?),
            ],
            at_sea: row.try_get("at_sea")?,
            touched: touched.into_iter().filter_map(|c| c.parse().ok()).collect(),
        },
        reporter: row.try_get("reporter")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
    })
}

/// An incident that is not deleted.
pub async fn get(pool: &PgPool, id: i64) -> Result<Option<Record>, sqlx::Error> {
    let sql = format!(
        "select {COLUMNS} from incidents i left join users u on u.id = i.reporter_id
         where i.id = $1 and i.deleted_at is null"
    );
    sqlx::query(&sql).bind(id).fetch_optional(pool).await?.as_ref().map(record).transpose()
}

async fn get_in(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<Record, sqlx::Error> {
    let sql = format!("select {COLUMNS} from incidents i left join users u on u.id = i.reporter_id where i.id = $1");
    record(&sqlx::query(&sql).bind(id).fetch_one(&mut **tx).await?)
}

fn codes(p: &Placement) -> [Option<&str>; 3] {
    [p.codes[0].as_ref(), p.codes[1].as_ref(), p.codes[2].as_ref()].map(|c| c.map(RegionCode::as_str))
}

/// What [`create`] did.
#[derive(Debug)]
pub enum Created {
    /// Stored as this record.
    New(Box<Record>),
    /// The user had used the idempotency key before: for this incident, with a request
    /// of this hash. Nothing was written.
    Replayed(i64, Vec<u8>),
}

/// What `create_incident` returns: the incident's id, its times (none for a replay)
/// and the hash of the request that used the key before (a replay).
type CreatedRow = (i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<Vec<u8>>);

/// A new incident as the API records it: what was stated, where it lies, who reports it,
/// the idempotency key and request hash (if any), and the incident as the API shows it
/// (`after`, for its history; the database sets its id and times).
pub struct NewRecord<'a> {
    /// What was stated.
    pub fields: &'a Fields,
    /// Where the engine put it.
    pub placement: &'a Placement,
    /// The reporter's id and user name.
    pub reporter: (i64, &'a str),
    /// Idempotency key and the request's hash.
    pub key: Option<(&'a str, &'a [u8])>,
    /// The incident as the API shows it.
    pub after: &'a Value,
}

/// Binds what was stated and where it lies, in the order of the incidents table's
/// columns from `geom` to `touched_codes` (16 parameters), as creation and edits store
/// them.
fn bind_fields<'q>(
    query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    fields: &'q Fields,
    placement: &'q Placement,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let [kec, kab, prov] = codes(placement);
    let touched: Vec<&str> = placement.touched.iter().map(RegionCode::as_str).collect();
    query
        .bind(fields.geometry.as_ref().map(wkb::write))
        .bind(fields.region.as_ref().map(RegionCode::as_str))
        .bind(fields.category.as_str())
        .bind(i16::from(fields.severity.get()))
        .bind(fields.status.as_str())
        .bind(fields.occurred_at)
        .bind(&fields.source)
        .bind(&fields.description)
        .bind(fields.casualties.meninggal)
        .bind(fields.casualties.luka)
        .bind(fields.casualties.pengungsi)
        .bind(kec)
        .bind(kab)
        .bind(prov)
        .bind(placement.at_sea)
        .bind(touched)
}

/// Records an incident in one round trip and one transaction (the `create_incident`
/// function of migration 0004): the idempotency check under the key's lock, the row,
/// its history entry and its key.
pub async fn create(pool: &PgPool, new: NewRecord<'_>) -> Result<Created, sqlx::Error> {
    let NewRecord { fields, placement, reporter, key, after } = new;
    let query = sqlx::query(
        "select id, created_at, updated_at, replayed_hash
             from create_incident($1, $2, $3, $4, $5, $6::incident_category, $7, $8::incident_status, $9, $10, $11,
                                  $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(reporter.0)
    .bind(key.map(|k| k.0))
    .bind(key.map(|k| k.1));
    let row = bind_fields(query, fields, placement).bind(after).fetch_one(pool).await?;
    let (id, created_at, updated_at, replayed): CreatedRow =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
    if let Some(hash) = replayed {
        return Ok(Created::Replayed(id, hash));
    }
    let (Some(created_at), Some(updated_at)) = (created_at, updated_at) else {
        return Err(decode("create_incident returned no times"));
    };
    Ok(Created::New(Box::new(Record {
        id,
        fields: fields.clone(),
        placement: placement.clone(),
        reporter: Some(reporter.1.to_owned()),
        created_at,
        updated_at,
        version: 1,
    })))
}

/// Replaces an incident's fields if it is at `version` and not deleted; `None` when
/// it is not (someone else changed it, or it is gone).
pub async fn update(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    version: i32,
    fields: &Fields,
    placement: &Placement,
) -> Result<Option<Record>, sqlx::Error> {
    let query = sqlx::query(
        "update incidents set
             geom = case when $3::bytea is null then null else st_setsrid(st_geomfromwkb($3), 4326) end,
             region_code = $4, category = $5::incident_category, severity = $6, status = $7::incident_status,
             occurred_at = $8, source = $9, description = $10, meninggal = $11, luka = $12, pengungsi = $13,
             kecamatan_code = $14, kabupaten_kota_code = $15, provinsi_code = $16, at_sea = $17,
             touched_codes = $18, version = version + 1, updated_at = now()
         where id = $1 and version = $2 and deleted_at is null",
    )
    .bind(id)
    .bind(version);
    let done = bind_fields(query, fields, placement).execute(&mut **tx).await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    get_in(tx, id).await.map(Some)
}

/// Marks an incident deleted if it is at `version` (any version with `None`); returns
/// the new version, or `None` when it is not.
pub async fn delete(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    version: Option<i32>,
) -> Result<Option<i32>, sqlx::Error> {
    sqlx::query_scalar(
        "update incidents set deleted_at = now(), updated_at = now(), version = version + 1
         where id = $1 and deleted_at is null and ($2::int is null or version = $2) returning version",
    )
    .bind(id)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await
}

/// The current version of an incident, with whether it is deleted; `None` if it never
/// existed.
pub async fn version(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<Option<(i32, bool)>, sqlx::Error> {
    let row: Option<(i32, bool)> =
        sqlx::query_as("select version, deleted_at is not null from incidents where id = $1 for update")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row)
}

/// One history entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// The incident's version after the change.
    pub version: i32,
    /// create, update or delete.
    pub action: String,
    /// Who (user name).
    pub actor: Option<String>,
    /// When (RFC 3339).
    pub at: DateTime<Utc>,
    /// Why (reopening a handled incident needs one).
    pub reason: Option<String>,
    /// The incident before.
    pub before: Option<Value>,
    /// The incident after.
    pub after: Option<Value>,
}

/// An incident's history, oldest first.
pub async fn history(pool: &PgPool, id: i64) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "select h.version, h.action, u.username, h.at, h.reason, h.before, h.after
         from incident_history h left join users u on u.id = h.actor_id
         where h.incident_id = $1 order by h.id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HistoryEntry {
                version: r.try_get("version")?,
                action: r.try_get("action")?,
                actor: r.try_get("username")?,
                at: r.try_get("at")?,
                reason: r.try_get("reason")?,
                before: r.try_get("before")?,
                after: r.try_get("after")?,
            })
        })
        .collect()
}

/// Records an edit or a deletion in the incident's history.
pub async fn record_history(
    tx: &mut Transaction<'_, Postgres>,
    entry: (i64, i32, &str, i64, Option<&str>),
    before: Option<&Value>,
    after: Option<&Value>,
) -> Result<(), sqlx::Error> {
    let (id, version, action, actor, reason) = entry;
    sqlx::query(
        "insert into incident_history (incident_id, version, action, actor_id, reason, before, after)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(version)
    .bind(action)
    .bind(actor)
    .bind(reason)
    .bind(before)
    .bind(after)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Filters of the incident list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// [west, south, east, north], degrees.
    pub bbox: Option<[f64; 4]>,
    /// Within this region (its subtree).
    pub region: Option<RegionCode>,
    /// Only in these regencies/cities (e.g. those at one risk level).
    pub regencies: Option<Vec<String>>,
    /// Categories (any).
    pub categories: Vec<Category>,
    /// Statuses (any).
    pub statuses: Vec<Status>,
    /// Severity from.
    pub severity_min: Option<u8>,
    /// Severity to.
    pub severity_max: Option<u8>,
    /// Occurred from (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Words in the description (case-insensitive).
    pub text: Option<String>,
    /// Only ids below this (the cursor: the list runs from the newest id down).
    pub before_id: Option<i64>,
}

/// Incidents matching a filter within a scope, newest id first, at most `limit`.
pub async fn list(pool: &PgPool, scope: &Scope, filter: &Filter, limit: i64) -> Result<Vec<Record>, sqlx::Error> {
    let mut q = QueryBuilder::<Postgres>::new(format!(
        "select {COLUMNS} from incidents i left join users u on u.id = i.reporter_id
         left join regions r on r.code = i.region_code where i.deleted_at is null"
    ));
    if *scope == Scope::Nothing {
        return Ok(Vec::new());
    }
    push_scope(&mut q, scope);
    if let Some(root) = &filter.region {
        push_within(&mut q, root);
    }
    if let Some(bbox) = filter.bbox {
        q.push(" and coalesce(i.geom, r.label_point) && ");
        push_envelope(&mut q, bbox);
    }
    if let Some(regencies) = &filter.regencies {
        q.push(" and i.kabupaten_kota_code = any(").push_bind(regencies.clone()).push(")");
    }
    Stated { categories: &filter.categories, statuses: &filter.statuses, from: filter.from, to: filter.to }
        .push(&mut q);
    if let Some(min) = filter.severity_min {
        q.push(" and i.severity >= ").push_bind(i16::from(min));
    }
    if let Some(max) = filter.severity_max {
        q.push(" and i.severity <= ").push_bind(i16::from(max));
    }
    if let Some(text) = &filter.text {
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        q.push(" and i.description ilike ").push_bind(format!("%{escaped}%"));
    }
    if let Some(before) = filter.before_id {
        q.push(" and i.id < ").push_bind(before);
    }
    q.push(" order by i.id desc limit ").push_bind(limit);
    q.build().fetch_all(pool).await?.iter().map(record).collect()
}
