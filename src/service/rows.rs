//! Stored rows into engine form and back: region codes to the engine's region ids.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::db;
use crate::db::incidents::{EngineRow, NewRow, StoredIndicator};
use crate::engine::regions::{Assignment, RegionId, RegionIndex};
use crate::engine::store::{region_only_assignment, Incident};
use crate::engine::IndicatorValue;
use crate::incident::Fields;

/// Reads every stored incident into engine form.
pub async fn load_incidents(pool: &PgPool, index: &RegionIndex) -> Result<Vec<Incident>, sqlx::Error> {
    let rows = db::incidents::load_all(pool).await?;
    let mut codes = CodeLookup::new(index);
    rows.into_iter().map(|row| to_engine(index, &mut codes, row)).collect()
}

/// Reads one stored incident into engine form; `None` when it is deleted or gone.
pub async fn load_incident(pool: &PgPool, index: &RegionIndex, id: i64) -> Result<Option<Incident>, sqlx::Error> {
    let Some(row) = db::incidents::load_one(pool, id).await? else { return Ok(None) };
    to_engine(index, &mut CodeLookup::new(index), row).map(Some)
}

/// Reads these stored incidents into engine form in one query; the deleted or gone ones
/// are left out.
pub async fn load_incidents_by_id(
    pool: &PgPool,
    index: &RegionIndex,
    ids: &[i64],
) -> Result<Vec<Incident>, sqlx::Error> {
    let rows = db::incidents::load_many(pool, ids).await?;
    let mut codes = CodeLookup::new(index);
    rows.into_iter().map(|row| to_engine(index, &mut codes, row)).collect()
}

/// Reads every indicator value, by region (values of unknown regions are skipped).
pub async fn load_indicators(
    pool: &PgPool,
    index: &RegionIndex,
) -> Result<HashMap<RegionId, Vec<IndicatorValue>>, sqlx::Error> {
    let mut out: HashMap<RegionId, Vec<IndicatorValue>> = HashMap::new();
    for StoredIndicator { region, indicator, value, observed_at } in db::incidents::load_indicators(pool).await? {
        if let Some(id) = region.parse().ok().and_then(|c| index.id(&c)) {
            out.entry(id).or_default().push(IndicatorValue { indicator, observed_at, value });
        }
    }
    Ok(out)
}

/// An incident's regions as stored codes, for [`db::incidents::insert_many`].
pub fn new_row<'a>(
    index: &RegionIndex,
    fields: &'a Fields,
    external_id: Option<&'a str>,
    assignment: &Assignment,
    touched: &[RegionId],
) -> NewRow<'a> {
    NewRow {
        fields,
        external_id,
        codes: assignment.regions.map(|id| id.map(|id| index.region(id).code.to_string())),
        at_sea: assignment.at_sea,
        touched: touched.iter().map(|&id| index.region(id).code.to_string()).collect(),
    }
}

/// Region ids by stored code, remembered (most incidents share a few regions).
struct CodeLookup<'a> {
    index: &'a RegionIndex,
    ids: HashMap<String, Option<RegionId>>,
}

impl<'a> CodeLookup<'a> {
    fn new(index: &'a RegionIndex) -> Self {
        Self { index, ids: HashMap::new() }
    }

    fn id(&mut self, code: &str) -> Option<RegionId> {
        if let Some(id) = self.ids.get(code) {
            return *id;
        }
        let id = code.parse().ok().and_then(|c| self.index.id(&c));
        self.ids.insert(code.to_owned(), id);
        id
    }
}

fn to_engine(index: &RegionIndex, codes: &mut CodeLookup<'_>, row: EngineRow) -> Result<Incident, sqlx::Error> {
    let [kec, kab, prov] = &row.codes;
    let mut assignment = Assignment {
        regions: [kec, kab, prov].map(|code| code.as_deref().and_then(|c| codes.id(c))),
        at_sea: row.at_sea,
    };
    let location = match row.location {
        Some(point) => point,
        None => {
            let region = row
                .region
                .as_ref()
                .and_then(|c| codes.id(c.as_str()))
                .ok_or_else(|| sqlx::Error::Decode("incident without location or region".into()))?;
            if assignment.regions.iter().all(Option::is_none) {
                assignment = region_only_assignment(index, region);
            }
            index.region(region).label_point
        }
    };
    Ok(Incident {
        id: row.id,
        occurred_at: row.occurred_at,
        category: row.category,
        severity: row.severity,
        status: row.status,
        assignment,
        location,
        shape: row.shape.map(Box::new),
        touched: row.touched.iter().filter_map(|c| codes.id(c)).collect(),
    })
}
