//! The `regions` table: storing imports (with geometry repair) and reading regions for
//! the API.

use std::collections::HashMap;

use futures::StreamExt;
use indicatif::ProgressBar;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::region::{RegionCode, RegionLevel, RegionShape};

/// Records per round trip when uploading an import; each carries a few hundred
/// vertices on average, so a batch stays in the low megabytes.
const UPLOAD_BATCH: usize = 500;
/// Vertices per repair query: small enough to spread the large provinces over workers.
const REPAIR_BATCH_VERTICES: usize = 20_000;

/// A boundary after the repair rule (see `repair_boundary` in the migrations).
#[derive(Debug, Clone)]
pub struct Repaired {
    /// The repaired MultiPolygon as WKB, or `None` when nothing valid is left.
    pub wkb: Option<Vec<u8>>,
    /// The first problem PostGIS found in the published geometry, e.g.
    /// `Nested shells [POINT(97.4 2.0)]`; `None` when it was valid.
    pub reason: Option<String>,
}

/// Applies the repair rule to every boundary (WKB), on `workers` connections at once.
///
/// Pure computation: nothing is written, so it runs outside the import transaction
/// and in parallel (the repair of the 7,837 published boundaries is most of an
/// import's time). Results are in the order of `boundaries`.
pub async fn repair(
    pool: &PgPool,
    boundaries: &[Vec<u8>],
    workers: usize,
    bar: &ProgressBar,
) -> Result<Vec<Repaired>, sqlx::Error> {
    // Largest first, in chunks of bounded vertex count, so that the two or more
    // workers finish together.
    let mut order: Vec<usize> = (0..boundaries.len()).collect();
    // A WKB polygon vertex is 16 bytes: its length measures the work.
    let vertex_count = |wkb: &[u8]| wkb.len() / 16;
    order.sort_by_key(|&i| std::cmp::Reverse(vertex_count(&boundaries[i])));
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut budget = 0;
    for i in order {
        let vertices = vertex_count(&boundaries[i]);
        match chunks.last_mut() {
            Some(chunk) if budget + vertices <= REPAIR_BATCH_VERTICES => chunk.push(i),
            _ => {
                chunks.push(vec![i]);
                budget = 0;
            }
        }
        budget += vertices;
    }
    let mut out = vec![Repaired { wkb: None, reason: None }; boundaries.len()];
    let mut results = futures::stream::iter(chunks)
        .map(|indexes| async move {
            let chunk: Vec<&[u8]> = indexes.iter().map(|&i| boundaries[i].as_slice()).collect();
            repair_chunk(pool, &chunk).await.map(|r| (indexes, r))
        })
        .buffer_unordered(workers.max(1));
    while let Some(result) = results.next().await {
        let (indexes, repaired) = result?;
        bar.inc(repaired.len() as u64);
        for (i, r) in indexes.into_iter().zip(repaired) {
            out[i] = r;
        }
    }
    Ok(out)
}

async fn repair_chunk(pool: &PgPool, wkbs: &[&[u8]]) -> Result<Vec<Repaired>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    // PostGIS reports every invalid input geometry as a NOTICE; the report says it once.
    sqlx::query("set client_min_messages = warning").execute(&mut *conn).await?;
    let rows = sqlx::query(
        "select case when not v.valid then v.reason || coalesce(' [' || st_astext(v.location) || ']', '') end as reason,
                case when not st_isempty(g.geom) and st_isvalid(g.geom) then st_asbinary(g.geom) end as wkb
         from unnest($1::bytea[]) with ordinality as u(wkb, n)
              cross join lateral (select st_setsrid(st_geomfromwkb(u.wkb), 4326) as raw) r
              cross join lateral st_isvaliddetail(r.raw) v
              -- offset 0 keeps the planner from inlining the repair into each use.
              cross join lateral (select repair_boundary(r.raw) as geom offset 0) g
         order by u.n",
    )
    .bind(wkbs)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|row| Ok(Repaired { wkb: row.try_get("wkb")?, reason: row.try_get("reason")? })).collect()
}

/// Serialises imports and returns the stored source hash of every region.
pub async fn lock_for_import(tx: &mut Transaction<'_, Postgres>) -> Result<HashMap<String, Vec<u8>>, sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtext('sipks.boundaries.import'))").execute(&mut **tx).await?;
    let rows = sqlx::query("select code, source_hash from regions").fetch_all(&mut **tx).await?;
    rows.iter().map(|row| Ok((row.try_get("code")?, row.try_get("source_hash")?))).collect()
}

/// One region to insert or update, with its boundaries.
pub struct Upsert<'a> {
    /// Kemendagri code.
    pub code: &'a RegionCode,
    /// Official name.
    pub name: &'a str,
    /// Level.
    pub level: RegionLevel,
    /// Parent code, `None` for provinces.
    pub parent: Option<&'a RegionCode>,
    /// The file it was read from.
    pub file: String,
    /// Its source hash.
    pub hash: Vec<u8>,
    /// The repaired published boundary as WKB.
    pub published: &'a [u8],
    /// The boundary extended to cover its children, as WKB.
    pub geom: &'a [u8],
}

/// Inserts new regions and updates changed ones in place.
pub async fn upsert(tx: &mut Transaction<'_, Postgres>, rows: &[Upsert<'_>]) -> Result<(), sqlx::Error> {
    for batch in rows.chunks(UPLOAD_BATCH) {
        let codes: Vec<&str> = batch.iter().map(|r| r.code.as_str()).collect();
        let names: Vec<&str> = batch.iter().map(|r| r.name).collect();
        let levels: Vec<&str> = batch.iter().map(|r| r.level.as_str()).collect();
        let parents: Vec<Option<&str>> = batch.iter().map(|r| r.parent.map(RegionCode::as_str)).collect();
        let published: Vec<&[u8]> = batch.iter().map(|r| r.published).collect();
        let geoms: Vec<&[u8]> = batch.iter().map(|r| r.geom).collect();
        let hashes: Vec<&[u8]> = batch.iter().map(|r| r.hash.as_slice()).collect();
        let files: Vec<&str> = batch.iter().map(|r| r.file.as_str()).collect();
        sqlx::query(
            "insert into regions (code, name, level, parent_code, geom_published, geom, source_hash, source_file)
             select code, name, level::region_level, parent_code,
                    st_multi(st_setsrid(st_geomfromwkb(published), 4326)),
                    st_multi(st_setsrid(st_geomfromwkb(geom), 4326)), source_hash, source_file
             from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::bytea[], $7::bytea[],
                         $8::text[])
                  as u(code, name, level, parent_code, published, geom, source_hash, source_file)
             on conflict (code) do update set
                 name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
                 geom_published = excluded.geom_published, geom = excluded.geom,
                 source_hash = excluded.source_hash, source_file = excluded.source_file,
                 updated_at = now()",
        )
        .bind(&codes)
        .bind(&names)
        .bind(&levels)
        .bind(&parents)
        .bind(&published)
        .bind(&geoms)
        .bind(&hashes)
        .bind(&files)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Replaces the boundary (`geom`, not the published one) of stored regions.
pub async fn set_geometries(
    tx: &mut Transaction<'_, Postgres>,
    codes: &[&str],
    wkbs: &[&[u8]],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update regions r set geom = st_multi(st_setsrid(st_geomfromwkb(u.wkb), 4326)), updated_at = now()
         from unnest($1::text[], $2::bytea[]) as u(code, wkb) where r.code = u.code",
    )
    .bind(codes)
    .bind(wkbs)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A stored region's boundaries as WKB.
#[derive(Debug, Clone)]
pub struct StoredBoundary {
    /// Its code.
    pub code: String,
    /// Its parent's code.
    pub parent: Option<String>,
    /// The repaired published boundary.
    pub published: Vec<u8>,
    /// The boundary extended to cover its children.
    pub geom: Vec<u8>,
}

/// The stored boundaries of `parents` and of their children.
pub async fn family(tx: &mut Transaction<'_, Postgres>, parents: &[&str]) -> Result<Vec<StoredBoundary>, sqlx::Error> {
    sqlx::query(
        "select code, parent_code, st_asbinary(geom_published) as published, st_asbinary(geom) as geom
         from regions where code = any($1) or parent_code = any($1)",
    )
    .bind(parents)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(|row| {
        Ok(StoredBoundary {
            code: row.try_get("code")?,
            parent: row.try_get("parent_code")?,
            published: row.try_get("published")?,
            geom: row.try_get("geom")?,
        })
    })
    .collect()
}

/// A parent's boundary extended to cover its children (`nest_boundary` in the
/// migrations), and the area in km² it gained. Pure computation on any connection.
pub async fn nest(pool: &PgPool, parent: &[u8], children: &[&[u8]]) -> Result<(Vec<u8>, f64), sqlx::Error> {
    let row = sqlx::query(
        "select st_asbinary(n.g) as wkb, (st_area(n.g::geography) - st_area(a.p::geography)) / 1e6 as gained
         -- offset 0 keeps the planner from inlining the overlay into each use.
         from (select st_setsrid(st_geomfromwkb($1), 4326) as p) a
              cross join lateral (select nest_boundary(a.p, array(
                  select st_setsrid(st_geomfromwkb(w), 4326) from unnest($2::bytea[]) as w)) as g offset 0) n",
    )
    .bind(parent)
    .bind(children)
    .fetch_one(pool)
    .await?;
    Ok((row.try_get("wkb")?, row.try_get("gained")?))
}

/// A region without its geometry, as listed by the API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RegionSummary {
    /// Kemendagri code.
    pub kode: String,
    /// Official name.
    pub nama: String,
    /// Level.
    pub level: RegionLevel,
    /// Parent code, `null` for provinces.
    pub induk: Option<String>,
    /// Stable integer id of the region's map features.
    pub feature_id: i64,
    /// Bounding box `[west, south, east, north]` in degrees (EPSG:4326).
    pub bbox: [f64; 4],
    /// A point inside the region `[lon, lat]` (ST_PointOnSurface), for labels.
    pub label_point: [f64; 2],
    /// Bounding box of the largest polygon, `[west, south, east, north]` (the map fits
    /// a region to it).
    pub main_bbox: [f64; 4],
    /// Area on the WGS 84 spheroid, km².
    pub luas_km2: f64,
    /// Autonomous region (daerah otonom); false for Jakarta's six administrative units.
    pub otonom: bool,
    /// Elects its head (pilkada); the 545 daerah.
    pub pilkada: bool,
}

const SUMMARY_COLUMNS: &str = "code, name, level, parent_code, feature_id, area_km2, autonomous, elects_head,
     st_xmin(bbox) as west, st_ymin(bbox) as south, st_xmax(bbox) as east, st_ymax(bbox) as north,
     st_x(label_point) as label_x, st_y(label_point) as label_y,
     st_xmin(main_bbox) as main_west, st_ymin(main_bbox) as main_south, st_xmax(main_bbox) as main_east,
     st_ymax(main_bbox) as main_north";

fn summary(row: &sqlx::postgres::PgRow) -> Result<RegionSummary, sqlx::Error> {
    Ok(RegionSummary {
        kode: row.try_get("code")?,
        nama: row.try_get("name")?,
        level: row.try_get("level")?,
        induk: row.try_get("parent_code")?,
        feature_id: row.try_get("feature_id")?,
        bbox: [row.try_get("west")?, row.try_get("south")?, row.try_get("east")?, row.try_get("north")?],
        label_point: [row.try_get("label_x")?, row.try_get("label_y")?],
        main_bbox: [
            row.try_get("main_west")?,
            row.try_get("main_south")?,
            row.try_get("main_east")?,
            row.try_get("main_north")?,
        ],
        luas_km2: row.try_get("area_km2")?,
        otonom: row.try_get("autonomous")?,
        pilkada: row.try_get("elects_head")?,
    })
}

/// Regions of `level` (all levels when `None`) within the subtree of `within` (the
/// whole country when `None`), in code order.
pub async fn list(
    pool: &PgPool,
    level: Option<RegionLevel>,
    within: Option<&RegionCode>,
) -> Result<Vec<RegionSummary>, sqlx::Error> {
    let sql = format!(
        "select {SUMMARY_COLUMNS} from regions
         where ($1::region_level is null or level = $1)
           and ($2::text is null or code like $2 || '.%')
         order by code"
    );
    sqlx::query(&sql)
        .bind(level)
        .bind(within.map(RegionCode::as_str))
        .fetch_all(pool)
        .await?
        .iter()
        .map(summary)
        .collect()
}

/// Whether a region with this code is stored.
pub async fn exists(pool: &PgPool, code: &RegionCode) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from regions where code = $1)")
        .bind(code.as_str())
        .fetch_one(pool)
        .await
}

/// One region with its boundary as exported (WKB of [`super::export::EXPORTED_BOUNDARY`]).
pub async fn get(pool: &PgPool, code: &RegionCode) -> Result<Option<(RegionSummary, Vec<u8>)>, sqlx::Error> {
    let boundary = super::export::EXPORTED_BOUNDARY;
    let sql = format!("select {SUMMARY_COLUMNS}, st_asbinary({boundary}) as geometry from regions where code = $1");
    let row = sqlx::query(&sql).bind(code.as_str()).fetch_optional(pool).await?;
    row.map(|row| Ok((summary(&row)?, row.try_get("geometry")?))).transpose()
}

/// Number of regions per level.
pub async fn count_by_level(pool: &PgPool) -> Result<Vec<(RegionLevel, i64)>, sqlx::Error> {
    sqlx::query_as("select level, count(*) from regions group by level order by level").fetch_all(pool).await
}

/// Every stored region with its boundary, in code order.
pub async fn load_shapes(pool: &PgPool) -> Result<Vec<RegionShape>, sqlx::Error> {
    let rows = sqlx::query(
        "select code, name, level, st_asbinary(geom) as wkb, st_x(label_point) as lx, st_y(label_point) as ly
         from regions order by code",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let code: String = row.try_get("code")?;
            let wkb: Vec<u8> = row.try_get("wkb")?;
            let decode = |e: String| sqlx::Error::Decode(format!("region {code}: {e}").into());
            Ok(RegionShape {
                code: code.parse().map_err(|e: crate::region::MalformedCode| decode(e.to_string()))?,
                name: row.try_get("name")?,
                level: row.try_get("level")?,
                geometry: super::wkb::read_multipolygon(&wkb).map_err(|e| decode(e.to_string()))?,
                label_point: geo::Point::new(row.try_get("lx")?, row.try_get("ly")?),
            })
        })
        .collect()
}
