//! The `incidents` and `region_indicators` tables: bulk loading, and reading everything
//! back into the engine at start-up.

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use geo::{Geometry, Point};
use sqlx::{PgPool, Postgres, Row, Transaction};

use super::wkb;
use crate::incident::{Category, Fields, Severity, Status};
use crate::region::RegionCode;

/// Rows per round trip when loading.
const BATCH: usize = 5_000;

/// An incident with its regions, ready to insert.
pub struct NewRow<'a> {
    /// What was stated.
    pub fields: &'a Fields,
    /// Identifier from the source, unique when given.
    pub external_id: Option<&'a str>,
    /// District, regency/city and province codes.
    pub codes: [Option<String>; 3],
    /// At sea within 12 nautical miles.
    pub at_sea: bool,
    /// Every region a line or polygon touches.
    pub touched: Vec<String>,
}

/// Inserts incidents; those whose external id is already stored are skipped. Returns
/// how many were inserted.
pub async fn insert_many(tx: &mut Transaction<'_, Postgres>, rows: &[NewRow<'_>]) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for batch in rows.chunks(BATCH) {
        let wkbs: Vec<Option<Vec<u8>>> = batch.iter().map(|r| r.fields.geometry.as_ref().map(wkb::write)).collect();
        let regions: Vec<Option<String>> =
            batch.iter().map(|r| r.fields.region.as_ref().map(|c| c.to_string())).collect();
        let categories: Vec<&str> = batch.iter().map(|r| r.fields.category.as_str()).collect();
        let severities: Vec<i16> = batch.iter().map(|r| i16::from(r.fields.severity.get())).collect();
        let statuses: Vec<&str> = batch.iter().map(|r| r.fields.status.as_str()).collect();
        let times: Vec<DateTime<Utc>> = batch.iter().map(|r| r.fields.occurred_at).collect();
        let sources: Vec<&str> = batch.iter().map(|r| r.fields.source.as_str()).collect();
        let descriptions: Vec<&str> = batch.iter().map(|r| r.fields.description.as_str()).collect();
        let kec: Vec<Option<String>> = batch.iter().map(|r| r.codes[0].clone()).collect();
        let kab: Vec<Option<String>> = batch.iter().map(|r| r.codes[1].clone()).collect();
        let prov: Vec<Option<String>> = batch.iter().map(|r| r.codes[2].clone()).collect();
        let at_sea: Vec<bool> = batch.iter().map(|r| r.at_sea).collect();
        // Postgres has no array of arrays of text with varying lengths: join with ','.
        let touched: Vec<String> = batch.iter().map(|r| r.touched.join(",")).collect();
        let external: Vec<Option<&str>> = batch.iter().map(|r| r.external_id).collect();
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

/// A stored incident as the engine needs it, with its regions as stored codes.
#[derive(Debug, Clone)]
pub struct EngineRow {
    /// Id.
    pub id: i64,
    /// When it happened, unix seconds.
    pub occurred_at: i64,
    /// Kind.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Stage.
    pub status: Status,
    /// The point of a point incident, or a point on the surface of a line or polygon.
    pub location: Option<Point<f64>>,
    /// The line or polygon.
    pub shape: Option<Geometry<f64>>,
    /// The region of a region-only report.
    pub region: Option<RegionCode>,
    /// District, regency/city and province codes.
    pub codes: [Option<String>; 3],
    /// At sea within 12 nautical miles.
    pub at_sea: bool,
    /// Every region a line or polygon touches.
    pub touched: Vec<String>,
}

/// Reads every incident not deleted.
pub async fn load_all(pool: &PgPool) -> Result<Vec<EngineRow>, sqlx::Error> {
    load(pool, None).await
}

/// Reads one incident; `None` when it is deleted or gone.
pub async fn load_one(pool: &PgPool, id: i64) -> Result<Option<EngineRow>, sqlx::Error> {
    Ok(load(pool, Some(&[id])).await?.pop())
}

/// Reads these incidents in one query; the deleted or gone ones are left out.
pub async fn load_many(pool: &PgPool, ids: &[i64]) -> Result<Vec<EngineRow>, sqlx::Error> {
    load(pool, Some(ids)).await
}

/// The database's clock (`clock_timestamp()`).
pub async fn clock(pool: &PgPool) -> Result<DateTime<Utc>, sqlx::Error> {
    sqlx::query_scalar("select clock_timestamp()").fetch_one(pool).await
}

/// The ids of the incidents created, edited or deleted since `since` (by their
/// `updated_at`, the start of their write's transaction), deleted ones included.
pub async fn changed_since(pool: &PgPool, since: DateTime<Utc>) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("select id from incidents where updated_at >= $1 order by id").bind(since).fetch_all(pool).await
}

/// The incidents created, edited or deleted since `since` (by `updated_at`), deleted
/// ones included: id, version and `updated_at`, by id.
pub async fn versions_since(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<(i64, i32, DateTime<Utc>)>, sqlx::Error> {
    sqlx::query_as("select id, version, updated_at from incidents where updated_at >= $1 order by id")
        .bind(since)
        .fetch_all(pool)
        .await
}

/// The ids of the incidents created, edited or deleted within `last` of now (by the
/// database's clock), deleted ones included.
pub async fn changed_within(pool: &PgPool, last: std::time::Duration) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("select id from incidents where updated_at > now() - make_interval(secs => $1) order by id")
        .bind(last.as_secs_f64())
        .fetch_all(pool)
        .await
}

/// Incidents not deleted (all, or those with the ids `only`).
async fn load(pool: &PgPool, only: Option<&[i64]>) -> Result<Vec<EngineRow>, sqlx::Error> {
    let mut rows = sqlx::query(
        "select id, extract(epoch from occurred_at)::bigint as t, category::text as category, severity,
                status::text as status,
                case when geometrytype(geom) = 'POINT' then st_x(geom) end as x,
                case when geometrytype(geom) = 'POINT' then st_y(geom) end as y,
                case when geom is not null and geometrytype(geom) <> 'POINT' then st_asbinary(geom) end as shape,
                case when geom is not null and geometrytype(geom) <> 'POINT' then st_x(st_pointonsurface(geom)) end as sx,
                case when geom is not null and geometrytype(geom) <> 'POINT' then st_y(st_pointonsurface(geom)) end as sy,
                region_code, kecamatan_code, kabupaten_kota_code, provinsi_code, at_sea, touched_codes
         from incidents where deleted_at is null and ($1::bigint[] is null or id = any($1))",
    )
    .bind(only)
    .fetch(pool);
    let mut out = Vec::new();
    while let Some(row) = rows.try_next().await? {
        let decode = |e: String| sqlx::Error::Decode(e.into());
        let category: String = row.try_get("category")?;
        let status: String = row.try_get("status")?;
        let severity: i16 = row.try_get("severity")?;
        let shape: Option<Vec<u8>> = row.try_get("shape")?;
        let region: Option<String> = row.try_get("region_code")?;
        let point = |x: &str, y: &str| -> Result<Option<Point<f64>>, sqlx::Error> {
            Ok(match (row.try_get::<Option<f64>, _>(x)?, row.try_get::<Option<f64>, _>(y)?) {
                (Some(x), Some(y)) => Some(Point::new(x, y)),
                _ => None,
            })
        };
        out.push(EngineRow {
            id: row.try_get("id")?,
            occurred_at: row.try_get("t")?,
            category: category.parse().map_err(decode)?,
            severity: u8::try_from(severity)
                .ok()
                .and_then(Severity::new)
                .ok_or_else(|| decode(format!("severity {severity}")))?,
            status: status.parse().map_err(decode)?,
            location: point("x", "y")?.or(point("sx", "sy")?),
            shape: shape.map(|b| wkb::read(&b)).transpose().map_err(|e| decode(e.to_string()))?,
            region: region.and_then(|c| c.parse().ok()),
            codes: [row.try_get("kecamatan_code")?, row.try_get("kabupaten_kota_code")?, row.try_get("provinsi_code")?],
            at_sea: row.try_get("at_sea")?,
            touched: row.try_get("touched_codes")?,
        });
    }
    Ok(out)
}

/// One indicator value to store.
pub struct IndicatorUpsert<'a> {
    /// Region.
    pub region: &'a RegionCode,
    /// Indicator name.
    pub indicator: &'a str,
    /// Value.
    pub value: f64,
    /// Date observed.
    pub date: NaiveDate,
}

/// Stores indicator values (replacing a value for the same region, indicator and date).
pub async fn upsert_indicators(
    tx: &mut Transaction<'_, Postgres>,
    rows: &[IndicatorUpsert<'_>],
    file: &str,
) -> Result<u64, sqlx::Error> {
    let codes: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    let names: Vec<&str> = rows.iter().map(|r| r.indicator).collect();
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

/// A stored indicator value.
#[derive(Debug, Clone)]
pub struct StoredIndicator {
    /// Region code.
    pub region: String,
    /// Indicator name.
    pub indicator: String,
    /// Value.
    pub value: f64,
    /// Date observed, unix seconds (midnight UTC).
    pub observed_at: i64,
}

/// Every indicator value.
pub async fn load_indicators(pool: &PgPool) -> Result<Vec<StoredIndicator>, sqlx::Error> {
    let rows: Vec<(String, String, f64, i64)> = sqlx::query_as(
        "select region_code, indicator, value, extract(epoch from observed_on::timestamp)::bigint from region_indicators",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(region, indicator, value, observed_at)| StoredIndicator { region, indicator, value, observed_at })
        .collect())
}

/// The codes among `codes` that name no stored region.
pub async fn unknown_regions(pool: &PgPool, codes: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("select c from unnest($1::text[]) as c where not exists (select 1 from regions where code = c)")
        .bind(codes)
        .fetch_all(pool)
        .await
}
