//! The `incidents` and `region_indicators` tables: bulk loading, and reading everything
//! back into the engine at start-up.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use geo::Point;
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::wkb;
use crate::engine::regions::{Assignment, RegionId, RegionIndex};
use crate::engine::store::{region_only_assignment, Incident};
use crate::engine::IndicatorValue;
use crate::ingest::incidents::NewIncident;
use crate::ingest::indicators::IndicatorRow;

/// Rows per round trip when loading.
const BATCH: usize = 5_000;

/// An incident with its assignment, ready to insert.
pub struct Assigned<'a> {
    /// The incident as read.
    pub incident: &'a NewIncident,
    /// Its regions.
    pub assignment: Assignment,
    /// Every region a line or polygon touches.
    pub touched: Vec<RegionId>,
}

/// Inserts incidents; those whose external id is already stored are skipped. Returns
/// how many were inserted.
pub async fn insert_many(
    tx: &mut Transaction<'_, Postgres>,
    index: &RegionIndex,
    rows: &[Assigned<'_>],
) -> Result<u64, sqlx::Error> {
    let code = |id: Option<RegionId>| id.map(|id| index.region(id).code.to_string());
    let mut inserted = 0;
    for batch in rows.chunks(BATCH) {
        let wkbs: Vec<Option<Vec<u8>>> = batch.iter().map(|r| r.incident.geometry.as_ref().map(wkb::write)).collect();
        let regions: Vec<Option<String>> =
            batch.iter().map(|r| r.incident.region.as_ref().map(|c| c.to_string())).collect();
        let categories: Vec<&str> = batch.iter().map(|r| r.incident.category.as_str()).collect();
        let severities: Vec<i16> = batch.iter().map(|r| i16::from(r.incident.severity.get())).collect();
        let statuses: Vec<&str> = batch.iter().map(|r| r.incident.status.as_str()).collect();
        let times: Vec<DateTime<Utc>> = batch.iter().map(|r| r.incident.occurred_at).collect();
        let sources: Vec<&str> = batch.iter().map(|r| r.incident.source.as_str()).collect();
        let descriptions: Vec<&str> = batch.iter().map(|r| r.incident.description.as_str()).collect();
        let kec: Vec<Option<String>> = batch.iter().map(|r| code(r.assignment.regions[0])).collect();
        let kab: Vec<Option<String>> = batch.iter().map(|r| code(r.assignment.regions[1])).collect();
        let prov: Vec<Option<String>> = batch.iter().map(|r| code(r.assignment.regions[2])).collect();
        let at_sea: Vec<bool> = batch.iter().map(|r| r.assignment.at_sea).collect();
        // Postgres has no array of arrays of text with varying lengths: join with ','.
        let touched: Vec<String> = batch
            .iter()
            .map(|r| r.touched.iter().map(|&id| index.region(id).code.to_string()).collect::<Vec<_>>().join(","))
            .collect();
        let external: Vec<Option<&str>> = batch.iter().map(|r| r.incident.external_id.as_deref()).collect();
        let done = sqlx::query(
            "insert into incidents (geom, region_code, category, severity, status, occurred_at, source, description,
                                    kecamatan_code, kabupaten_kota_code, provinsi_code, at_sea, touched_codes, external_id)
             select case when wkb is null then null else st_setsrid(st_geomfromwkb(wkb), 4326) end,
                    region_code, category::incident_category, severity, status::incident_status, occurred_at,
                    source, description, kec, kab, prov, at_sea,
                    case when touched = '' then '{}' else string_to_array(touched, ',') end, external_id
             from unnest($1::bytea[], $2::text[], $3::text[], $4::smallint[], $5::text[], $6::timestamptz[],
                         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bool[], $13::text[], $14::text[])
                  as u(wkb, region_code, category, severity, status, occurred_at, source, description,
                       kec, kab, prov, at_sea, touched, external_id)
             on conflict (external_id) do nothing",
        )
        .bind(&wkbs)
        .bind(&regions)
        .bind(&categories)
        .bind(&severities)
        .bind(&statuses)
        .bind(&times)
        .bind(&sources)
        .bind(&descriptions)
        .bind(&kec)
        .bind(&kab)
        .bind(&prov)
        .bind(&at_sea)
        .bind(&touched)
        .bind(&external)
        .execute(&mut **tx)
        .await?;
        inserted += done.rows_affected();
    }
    Ok(inserted)
}

/// Reads every incident into engine form. Regions are looked up by their stored codes.
pub async fn load_all(pool: &PgPool, index: &RegionIndex) -> Result<Vec<Incident>, sqlx::Error> {
    load(pool, index, None).await
}

/// Reads one incident into engine form; `None` when it is deleted or gone.
pub async fn load_one(pool: &PgPool, index: &RegionIndex, id: i64) -> Result<Option<Incident>, sqlx::Error> {
    Ok(load(pool, index, Some(id)).await?.pop())
}

/// The ids of the incidents created, edited or deleted within `last` of now (by the
/// database's clock), deleted ones included.
pub async fn changed_within(pool: &PgPool, last: std::time::Duration) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("select id from incidents where updated_at > now() - make_interval(secs => $1) order by id")
        .bind(last.as_secs_f64())
        .fetch_all(pool)
        .await
}

/// Incidents not deleted (all, or the one with id `only`), in engine form.
async fn load(pool: &PgPool, index: &RegionIndex, only: Option<i64>) -> Result<Vec<Incident>, sqlx::Error> {
    let mut rows = sqlx::query(
        "select id, extract(epoch from occurred_at)::bigint as t, category::text as category, severity,
                status::text as status,
                case when geometrytype(geom) = 'POINT' then st_x(geom) end as x,
                case when geometrytype(geom) = 'POINT' then st_y(geom) end as y,
                case when geom is not null and geometrytype(geom) <> 'POINT' then st_asbinary(geom) end as shape,
                case when geom is not null and geometrytype(geom) <> 'POINT' then st_x(st_pointonsurface(geom)) end as sx,
                case when geom is not null and geometrytype(geom) <> 'POINT' then st_y(st_pointonsurface(geom)) end as sy,
                region_code, kecamatan_code, kabupaten_kota_code, provinsi_code, at_sea, touched_codes
         from incidents where deleted_at is null and ($1::bigint is null or id = $1)",
    )
    .bind(only)
    .fetch(pool);
    let mut out = Vec::new();
    let mut ids: HashMap<String, RegionId> = HashMap::new();
    let mut lookup = |code: Option<String>| -> Option<RegionId> {
        let code = code?;
        if let Some(id) = ids.get(&code) {
            return Some(*id);
        }
        let id = index.id(&code.parse().ok()?)?;
        ids.insert(code, id);
        Some(id)
    };
    while let Some(row) = rows.try_next().await? {
        let decode = |e: String| sqlx::Error::Decode(e.into());
        let category: String = row.try_get("category")?;
        let status: String = row.try_get("status")?;
        let severity: i16 = row.try_get("severity")?;
        let shape: Option<Vec<u8>> = row.try_get("shape")?;
        let region_code: Option<String> = row.try_get("region_code")?;
        let mut assignment = Assignment {
            regions: [
                lookup(row.try_get("kecamatan_code")?),
                lookup(row.try_get("kabupaten_kota_code")?),
                lookup(row.try_get("provinsi_code")?),
            ],
            at_sea: row.try_get("at_sea")?,
        };
        let location = match (row.try_get::<Option<f64>, _>("x")?, row.try_get::<Option<f64>, _>("y")?) {
            (Some(x), Some(y)) => Point::new(x, y),
            _ => match (row.try_get::<Option<f64>, _>("sx")?, row.try_get::<Option<f64>, _>("sy")?) {
                (Some(x), Some(y)) => Point::new(x, y),
                _ => {
                    let region =
                        lookup(region_code).ok_or_else(|| decode("incident without location or region".into()))?;
                    if assignment.regions.iter().all(Option::is_none) {
                        assignment = region_only_assignment(index, region);
                    }
                    index.region(region).label_point
                }
            },
        };
        let touched: Vec<String> = row.try_get("touched_codes")?;
        out.push(Incident {
            id: row.try_get("id")?,
            occurred_at: row.try_get("t")?,
            category: category.parse().map_err(decode)?,
            severity: u8::try_from(severity)
                .ok()
                .and_then(crate::incident::Severity::new)
                .ok_or_else(|| decode(format!("severity {severity}")))?,
            status: status.parse().map_err(decode)?,
            assignment,
            location,
            shape: shape.map(|b| wkb::read(&b).map(Box::new)).transpose().map_err(|e| decode(e.to_string()))?,
            touched: touched.into_iter().filter_map(|c| lookup(Some(c))).collect(),
        });
    }
    Ok(out)
}

/// Stores indicator values (replacing a value for the same region, indicator and date).
pub async fn upsert_indicators(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[IndicatorRow],
    file: &str,
) -> Result<u64, sqlx::Error> {
    let codes: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.indicator.as_str()).collect();
    let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
    let dates: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.date).collect();
    let done = sqlx::query(
        "insert into region_indicators (region_code, indicator, value, observed_on, source_file)
         select code, indicator, value, observed_on, $5 from unnest($1::text[], $2::text[], $3::float8[], $4::date[])
              as u(code, indicator, value, observed_on)
         on conflict (region_code, indicator, observed_on) do update set value = excluded.value, source_file = excluded.source_file",
    )
    .bind(&codes)
    .bind(&names)
    .bind(&values)
    .bind(&dates)
    .bind(file)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Every indicator value, by region.
pub async fn load_indicators(
    pool: &PgPool,
    index: &RegionIndex,
) -> Result<HashMap<RegionId, Vec<IndicatorValue>>, sqlx::Error> {
    let rows: Vec<(String, String, f64, i64)> = sqlx::query_as(
        "select region_code, indicator, value, extract(epoch from observed_on::timestamp)::bigint from region_indicators",
    )
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<RegionId, Vec<IndicatorValue>> = HashMap::new();
    for (code, indicator, value, observed_at) in rows {
        if let Some(id) = code.parse().ok().and_then(|c| index.id(&c)) {
            out.entry(id).or_default().push(IndicatorValue { indicator, observed_at, value });
        }
    }
    Ok(out)
}

/// The codes among `codes` that name no stored region.
pub async fn unknown_regions(pool: &PgPool, codes: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("select c from unnest($1::text[]) as c where not exists (select 1 from regions where code = c)")
        .bind(codes)
        .fetch_all(pool)
        .await
}
