//! The reads behind exports and the OGC API: regions of a level and incidents, filtered
//! in SQL, in a stable order (code, id), read one row at a time from a stream; counts
//! of the same selections; the time span of the incidents a caller may see.
//!
//! Geometry comes as OGC WKB (`ST_AsBinary`), EPSG:4326 (longitude, latitude).

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use super::incident_sql::{push_envelope, push_scope, push_within, Stated};
use crate::auth::Scope;
use crate::incident::{Category, Status};
use crate::region::{RegionCode, RegionLevel};

/// Appends `st_intersects(<geometry>, <box>)`; a box whose west lies east of its east
/// crosses the antimeridian (OGC API - Features Part 1, 7.15.3) and is two envelopes.
fn push_intersects(q: &mut QueryBuilder<'_, Postgres>, geometry: &str, [w, s, e, n]: [f64; 4]) {
    if w <= e {
        q.push("st_intersects(").push(geometry).push(", ");
        push_envelope(q, [w, s, e, n]);
        q.push(")");
    } else {
        q.push("(st_intersects(").push(geometry).push(", ");
        push_envelope(q, [w, s, 180.0, n]);
        q.push(") or st_intersects(").push(geometry).push(", ");
        push_envelope(q, [-180.0, s, e, n]);
        q.push("))");
    }
}

fn push_page(q: &mut QueryBuilder<'_, Postgres>, page: Option<(i64, i64)>) {
    if let Some((offset, limit)) = page {
        q.push(" limit ").push_bind(limit).push(" offset ").push_bind(offset);
    }
}

/// A selection of the regions of one level.
#[derive(Debug, Clone)]
pub struct RegionQuery {
    level: RegionLevel,
    within: Option<RegionCode>,
    bbox: Option<[f64; 4]>,
    code: Option<String>,
}

/// One region as exported: its code, name, parent and boundary (`geom`: repaired and
/// nested) as WKB.
#[derive(Debug, Clone)]
pub struct RegionRow {
    /// Kemendagri code.
    pub code: String,
    /// Official name.
    pub name: String,
    /// Parent's code.
    pub parent: Option<String>,
    /// MultiPolygon, WKB.
    pub wkb: Vec<u8>,
}

/// A region's boundary as every export and `/api/regions/{kode}` write it: always a
/// MultiPolygon; where rounding to 7 decimals alone would make it invalid (3 of the
/// 7,837 boundaries), snap-rounded by GEOS on that grid (`ST_ReducePrecision`, which
/// keeps it valid).
pub const EXPORTED_BOUNDARY: &str = "st_multi(case when (st_isvaliddetail(st_snaptogrid(geom, 1e-7))).valid
    then geom else st_reduceprecision(geom, 1e-7) end)";

impl RegionQuery {
    /// The regions of `level` within `within` (the region itself or its subtree),
    /// intersecting `bbox` [west, south, east, north], or only the one with `code`.
    pub fn new(level: RegionLevel, within: Option<&RegionCode>, bbox: Option<[f64; 4]>, code: Option<&str>) -> Self {
        RegionQuery { level, within: within.cloned(), bbox, code: code.map(str::to_owned) }
    }

    fn push_where(&self, q: &mut QueryBuilder<'static, Postgres>) {
        q.push(" from regions where level = ").push_bind(self.level.as_str()).push("::region_level");
        if let Some(root) = &self.within {
            q.push(" and (code = ")
                .push_bind(root.as_str().to_owned())
                .push(" or code like ")
                .push_bind(format!("{root}.%"))
                .push(")");
        }
        if let Some(bbox) = self.bbox {
            q.push(" and ");
            push_intersects(q, "geom", bbox);
        }
        if let Some(code) = &self.code {
            q.push(" and code = ").push_bind(code.clone());
        }
    }

    /// The rows, in code order; with `page`, (offset, limit) of them.
    ///
    /// The boundary is [`EXPORTED_BOUNDARY`].
    pub fn select(&self, page: Option<Page>) -> QueryBuilder<'static, Postgres> {
        let mut q =
            QueryBuilder::new(format!("select code, name, parent_code, st_asbinary({EXPORTED_BOUNDARY}) as wkb"));
        self.push_where(&mut q);
        q.push(" order by code");
        push_page(&mut q, page.map(|p| (p.offset, p.limit)));
        q
    }

    /// How many rows the selection holds.
    pub async fn count(&self, pool: &PgPool) -> Result<i64, sqlx::Error> {
        let mut q = QueryBuilder::new("select count(*)");
        self.push_where(&mut q);
        q.build_query_scalar().fetch_one(pool).await
    }
}

impl RegionRow {
    /// Reads a row of [`RegionQuery::select`].
    pub fn read(row: &PgRow) -> Result<RegionRow, sqlx::Error> {
        Ok(RegionRow { code: row.try_get(0)?, name: row.try_get(1)?, parent: row.try_get(2)?, wkb: row.try_get(3)? })
    }
}

/// A selection of incidents (never deleted ones) within a caller's scope.
#[derive(Debug, Clone)]
pub struct IncidentQuery {
    /// Whose incidents.
    pub scope: Scope,
    /// Within this region's subtree.
    pub within: Option<RegionCode>,
    /// Located in this box [west, south, east, north] (region-only reports: their
    /// region's label point).
    pub bbox: Option<[f64; 4]>,
    /// Occurred from (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Categories (any; none: all).
    pub categories: Vec<Category>,
    /// Statuses (any; none: all).
    pub statuses: Vec<Status>,
    /// Only this incident.
    pub id: Option<i64>,
    /// Only locations of this PostGIS geometry type (`ST_Point`, `ST_LineString`,
    /// `ST_Polygon`; region-only reports are points).
    pub geometry_type: Option<&'static str>,
}

/// The location of an incident: its geometry, or its region's label point for a
/// report known only by region.
const LOCATION: &str = "coalesce(i.geom, (select r.label_point from regions r where r.code = i.region_code))";

impl IncidentQuery {
    /// Whether the scope hides every incident.
    pub fn sees_nothing(&self) -> bool {
        self.scope == Scope::Nothing
    }

    fn push_where(&self, q: &mut QueryBuilder<'static, Postgres>) {
        q.push(" from incidents i where i.deleted_at is null");
        push_scope(q, &self.scope);
        if let Some(root) = &self.within {
            push_within(q, root);
        }
        if let Some(bbox) = self.bbox {
            q.push(" and ");
            push_intersects(q, LOCATION, bbox);
        }
        Stated { categories: &self.categories, statuses: &self.statuses, from: self.from, to: self.to }.push(q);
        if let Some(id) = self.id {
            q.push(" and i.id = ").push_bind(id);
        }
        if let Some(kind) = self.geometry_type {
            q.push(" and st_geometrytype(").push(LOCATION).push(") = ").push_bind(kind);
        }
    }

    /// The rows, in id order; with `page`, (offset, limit) of them.
    pub fn select(&self, page: Option<Page>) -> QueryBuilder<'static, Postgres> {
        let mut q = QueryBuilder::new("select i.id, st_asbinary(");
        q.push(LOCATION).push(
            ") as wkb, i.geom is null as by_region, i.category::text, i.severity, i.status::text, i.occurred_at,
             i.source, i.description, i.meninggal, i.luka, i.pengungsi, i.kecamatan_code, i.kabupaten_kota_code,
             i.provinsi_code, i.at_sea, i.version, i.updated_at",
        );
        self.push_where(&mut q);
        q.push(" order by i.id");
        push_page(&mut q, page.map(|p| (p.offset, p.limit)));
        q
    }

    /// How many incidents the selection holds.
    pub async fn count(&self, pool: &PgPool) -> Result<i64, sqlx::Error> {
        if self.sees_nothing() {
            return Ok(0);
        }
        let mut q = QueryBuilder::new("select count(*)");
        self.push_where(&mut q);
        q.build_query_scalar().fetch_one(pool).await
    }

    /// When the first and the last of the selected incidents occurred.
    pub async fn time_span(
        &self,
        pool: &PgPool,
    ) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), sqlx::Error> {
        if self.sees_nothing() {
            return Ok((None, None));
        }
        let mut q = QueryBuilder::new("select min(i.occurred_at), max(i.occurred_at)");
        self.push_where(&mut q);
        q.build_query_as().fetch_one(pool).await
    }
}

/// An incident as exported.
#[derive(Debug, Clone)]
pub struct IncidentRow {
    /// Id.
    pub id: i64,
    /// Its geometry, or its region's label point, WKB.
    pub wkb: Vec<u8>,
    /// Whether the location is the region's label point (a report known by region).
    pub by_region: bool,
    /// Category.
    pub category: Category,
    /// Severity 1-5.
    pub severity: i16,
    /// Status.
    pub status: Status,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Where the report came from.
    pub source: String,
    /// What happened.
    pub description: String,
    /// Dead, injured, displaced.
    pub casualties: [i32; 3],
    /// District, regency/city and province codes.
    pub codes: [Option<String>; 3],
    /// At sea within 12 nautical miles.
    pub at_sea: bool,
    /// Version.
    pub version: i32,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl IncidentRow {
    /// Reads a row of [`IncidentQuery::select`].
    pub fn read(row: &PgRow) -> Result<IncidentRow, sqlx::Error> {
        let decode = |what: &str, v: &str| sqlx::Error::Decode(format!("{what} {v:?}").into());
        let category: &str = row.try_get(3)?;
        let status: &str = row.try_get(5)?;
        Ok(IncidentRow {
            id: row.try_get(0)?,
            wkb: row.try_get::<Option<Vec<u8>>, _>(1)?.ok_or_else(|| decode("location of incident", "none"))?,
            by_region: row.try_get(2)?,
            category: category.parse().map_err(|_| decode("category", category))?,
            severity: row.try_get(4)?,
            status: status.parse().map_err(|_| decode("status", status))?,
            occurred_at: row.try_get(6)?,
            source: row.try_get(7)?,
            description: row.try_get(8)?,
            casualties: [row.try_get(9)?, row.try_get(10)?, row.try_get(11)?],
            codes: [row.try_get(12)?, row.try_get(13)?, row.try_get(14)?],
            at_sea: row.try_get(15)?,
            version: row.try_get(16)?,
            updated_at: row.try_get(17)?,
        })
    }
}

/// Paging, for the OGC API: skip `offset` features, then at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Features to skip.
    pub offset: i64,
    /// Most features to return.
    pub limit: i64,
}
