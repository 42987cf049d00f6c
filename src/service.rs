//! Wiring between PostGIS and the engine: building the engine at start-up and the bulk
//! loads of incident and indicator files.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::Utc;
use sqlx::PgPool;

use crate::db;
use crate::engine::regions::{AssignError, RegionIndex};
use crate::engine::risk::RiskModel;
use crate::engine::store::region_only_assignment;
use crate::engine::Engine;
use crate::ingest::{self, FileError, RowError};
use crate::region::RegionCode;
use crate::tiles::{IncidentChange, Tiles};

mod rows;

pub use rows::{load_incident, load_incidents, load_incidents_by_id, load_indicators};

/// Builds the region index from the stored boundaries.
pub async fn build_index(pool: &PgPool) -> Result<RegionIndex, sqlx::Error> {
    Ok(RegionIndex::new(db::regions::load_shapes(pool).await?))
}

/// Builds the engine from PostGIS: regions, every incident, every indicator.
pub async fn load_engine(pool: &PgPool, model: RiskModel) -> Result<Engine, sqlx::Error> {
    let index = build_index(pool).await?;
    let incidents = load_incidents(pool, &index).await?;
    let indicators = load_indicators(pool, &index).await?;
    let now = Utc::now().timestamp();
    let mut engine = Engine::new(index, model, now);
    engine.load_with_indicators(incidents, indicators, now);
    Ok(engine)
}

/// Why a bulk load failed; nothing was stored.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file as a whole is unreadable.
    #[error(transparent)]
    File(#[from] FileError),
    /// Some rows are bad and a partial load was not asked for.
    #[error("{} row(s) rejected, nothing loaded (use --partial to load the others)", .0.len())]
    Rejected(Vec<RowError>),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a bulk load did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Rows read without error.
    pub accepted: usize,
    /// Rows stored (accepted rows whose external id was already stored are skipped).
    pub inserted: u64,
    /// Accepted incidents at sea (within 12 nautical miles).
    pub at_sea: usize,
    /// Rejected rows (only with a partial load).
    pub rejected: Vec<RowError>,
}

/// Loads an incident file: every row checked and assigned to its regions, then all
/// stored in one transaction; with `partial`, the good rows even when some are bad.
pub async fn import_incidents(
    pool: &PgPool,
    index: &RegionIndex,
    path: &Path,
    partial: bool,
) -> Result<LoadReport, LoadError> {
    let (incidents, mut rejected) = ingest::incidents::read(path, Utc::now())?;
    let unit = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) { "line" } else { "feature" };
    let mut assigned = Vec::with_capacity(incidents.len());
    for incident in &incidents {
        let reject = |reason: String| RowError { file: path.to_path_buf(), row: incident.row, unit, reason };
        let outcome = match (&incident.fields.geometry, &incident.fields.region) {
            (Some(geometry), _) => index.assign(geometry).map_err(|e: AssignError| e.to_string()),
            (None, Some(code)) => match index.id(code) {
                Some(id) => Ok((region_only_assignment(index, id), Vec::new())),
                None => Err(format!("unknown region {code}")),
            },
            (None, None) => Err("no location".to_owned()),
        };
        match outcome {
            Ok((assignment, touched)) => assigned.push(rows::new_row(
                index,
                &incident.fields,
                incident.external_id.as_deref(),
                &assignment,
                &touched,
            )),
            Err(reason) => rejected.push(reject(reason)),
        }
    }
    rejected.sort_by_key(|e| e.row);
    if !rejected.is_empty() && !partial {
        return Err(LoadError::Rejected(rejected));
    }
    let mut tx = pool.begin().await?;
    let inserted = db::incidents::insert_many(&mut tx, &assigned).await?;
    notify_changed(&mut tx).await?;
    tx.commit().await?;
    Ok(LoadReport {
        accepted: assigned.len(),
        inserted,
        at_sea: assigned.iter().filter(|a| a.at_sea).count(),
        rejected,
    })
}

/// Loads an indicator file (CSV `kode,indicator,value,date`), all or nothing.
pub async fn import_indicators(pool: &PgPool, path: &Path) -> Result<LoadReport, LoadError> {
    let (rows, mut rejected) = ingest::indicators::read(path)?;
    let codes: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    let unknown = db::incidents::unknown_regions(pool, &codes).await?;
    for row in &rows {
        if unknown.iter().any(|u| u == row.region.as_str()) {
            rejected.push(RowError {
                file: path.to_path_buf(),
                row: row.line,
                unit: "line",
                reason: format!("unknown region {}", row.region),
            });
        }
    }
    if !rejected.is_empty() {
        rejected.sort_by_key(|e| e.row);
        return Err(LoadError::Rejected(rejected));
    }
    let mut tx = pool.begin().await?;
    let upserts: Vec<db::incidents::IndicatorUpsert<'_>> = rows
        .iter()
        .map(|r| db::incidents::IndicatorUpsert {
            region: &r.region,
            indicator: &r.indicator,
            value: r.value,
            date: r.date,
        })
        .collect();
    let inserted = db::incidents::upsert_indicators(&mut tx, &upserts, &path.display().to_string()).await?;
    notify_changed(&mut tx).await?;
    tx.commit().await?;
    Ok(LoadReport { accepted: rows.len(), inserted, ..LoadReport::default() })
}

/// The PostgreSQL channel on which bulk loads announce themselves, so that running
/// servers reload (delivered at commit, only if the load commits).
pub const CHANGES_CHANNEL: &str = "sipks_changes";

async fn notify_changed(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_notify($1, 'bulk')").bind(CHANGES_CHANNEL).execute(&mut **tx).await?;
    Ok(())
}

/// Listens for changes and reloads the engine's incidents and indicators when a bulk load
/// commits (the regions stay: a boundary import needs a restart). The new incidents are
/// read beside the running engine, which keeps serving, and then swapped in; the tiles
/// they change are dropped from the cache. Reconnects by itself when the connection
/// drops (the database went down, say), and then reloads everything once, since
/// notifications sent meanwhile are lost; when it first listens, it applies the
/// incidents changed in the two minutes before, which covers those written by other
/// servers while this one read its engine.
///
/// Single incidents written through the API of another server (`incident:<id>:<server>`)
/// are read and applied one by one; `on_incident` hears of each (id, regions, deleted).
pub async fn follow_changes(
    pool: PgPool,
    engine: Arc<RwLock<Engine>>,
    tiles: Arc<Tiles>,
    instance: u64,
    on_incident: impl Fn(i64, [Option<RegionCode>; 3], bool) + Send + Sync + 'static,
) {
    let mut first = true;
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::debug!(error = %e, "cannot listen for changes; retrying");
                tokio::time::sleep(LISTEN_RETRY).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANGES_CHANNEL).await {
            tracing::debug!(error = %e, "cannot listen for changes; retrying");
            tokio::time::sleep(LISTEN_RETRY).await;
            continue;
        }
        // Notifications sent while this server was not listening (the database or the
        // connection was down) are lost: read everything once to catch up.
        if !first {
            tracing::info!("listening for changes again; reloading the incidents");
            reload_all(&pool, &engine, &tiles, &on_incident).await;
        } else {
            // The engine was read a moment before listening began: what other servers
            // wrote in between was announced to nobody here.
            catch_up_start(&pool, &engine, &tiles, &on_incident).await;
        }
        first = false;
        // `try_recv` answers None when the connection dropped: reconnect and catch up.
        while let Ok(Some(notification)) = listener.try_recv().await {
            if let Some((ids, from)) = db::notify::parse(notification.payload()) {
                if from != instance {
                    follow_incidents(&pool, &engine, &tiles, &ids, &on_incident).await;
                }
                continue;
            }
            reload_all(&pool, &engine, &tiles, &on_incident).await;
        }
        tracing::warn!("lost the change notifications' connection; reconnecting");
    }
}

/// How far back the start-up catch-up looks: well beyond reading the engine and
/// starting to listen, and any write transaction.
const START_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(120);

/// More changes than this are caught up by reloading everything instead.
const CATCH_UP_ONE_BY_ONE: usize = 1000;

/// Applies the incidents changed shortly before this server started listening (one by
/// one, or all at once when there are many).
async fn catch_up_start(
    pool: &PgPool,
    engine: &Arc<RwLock<Engine>>,
    tiles: &Arc<Tiles>,
    on_incident: &(impl Fn(i64, [Option<RegionCode>; 3], bool) + Send + Sync),
) {
    match db::incidents::changed_within(pool, START_CATCH_UP).await {
        Ok(ids) if ids.len() > CATCH_UP_ONE_BY_ONE => reload_all(pool, engine, tiles, on_incident).await,
        Ok(ids) => follow_incidents(pool, engine, tiles, &ids, on_incident).await,
        Err(e) => tracing::warn!(error = %e, "cannot catch up with the changes made during start-up"),
    }
}

/// Changed incidents read in one query.
const FOLLOW_BATCH: usize = 1000;

/// How far before a reload's read began its replay looks: beyond the longest write
/// transaction (an incident's `updated_at` is its transaction's start, which can precede
/// the read although its commit follows it).
const RELOAD_OVERLAP: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// How long to wait before listening again after a failure.
const LISTEN_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads every incident and indicator beside the running engine and swaps them in,
/// dropping the tiles that change; on failure keeps the previous state. The snapshot is
/// older than the swap: writes committed meanwhile (this server's own, applied to the
/// engine and then swapped away, or other servers') are replayed afterwards, every
/// incident changed since shortly before the read began read again, so that the engine
/// never holds less than what was committed.
async fn reload_all(
    pool: &PgPool,
    engine: &Arc<RwLock<Engine>>,
    tiles: &Arc<Tiles>,
    on_incident: &(impl Fn(i64, [Option<RegionCode>; 3], bool) + Send + Sync),
) {
    let began = match db::incidents::clock(pool).await {
        Ok(began) => began,
        Err(e) => {
            tracing::warn!(error = %e, "engine reload failed; keeping the previous state");
            return;
        }
    };
    swap_all(pool, engine, tiles).await;
    match db::incidents::changed_since(pool, began - RELOAD_OVERLAP).await {
        Ok(ids) => follow_incidents(pool, engine, tiles, &ids, on_incident).await,
        Err(e) => tracing::warn!(error = %e, "cannot replay the changes made during a reload"),
    }
}

/// The swap of [`reload_all`].
async fn swap_all(pool: &PgPool, engine: &Arc<RwLock<Engine>>, tiles: &Arc<Tiles>) {
    let index = crate::sync::read(&engine).shared_index();
    let loaded = async {
        let incidents = load_incidents(pool, &index).await?;
        let indicators = load_indicators(pool, &index).await?;
        Ok::<_, sqlx::Error>((incidents, indicators))
    };
    match loaded.await {
        Ok((incidents, indicators)) => {
            let tiles = Arc::clone(tiles);
            let swapped = tokio::task::spawn_blocking(move || {
                tiles.change(|engine| {
                    let change = IncidentChange::between(engine.incidents(), &incidents);
                    let n = incidents.len();
                    engine.replace_all(incidents, indicators, Utc::now().timestamp());
                    (n, change)
                })
            })
            .await;
            if let Ok(n) = swapped {
                tracing::info!(incidents = n, "engine reloaded");
            }
        }
        Err(e) => tracing::warn!(error = %e, "engine reload failed; keeping the previous state"),
    }
}

/// Applies incidents changed by another server: each one's current state, or its
/// removal. The changes are queued with this server's own writes, in the order they
/// arrive (a change applied at once could be overtaken by an older local one still
/// queued), and the events are sent once their batch is done.
async fn follow_incidents(
    pool: &PgPool,
    engine: &Arc<RwLock<Engine>>,
    tiles: &Arc<Tiles>,
    ids: &[i64],
    on_levels: &(impl Fn(i64, [Option<RegionCode>; 3], bool) + Send + Sync),
) {
    let index = crate::sync::read(&engine).shared_index();
    // Read in batches, one query each (one query per id followed only ~60 writes/s).
    let mut current = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(FOLLOW_BATCH) {
        match load_incidents_by_id(pool, &index, chunk).await {
            Ok(incidents) => current.extend(incidents.into_iter().map(|i| (i.id, i))),
            Err(e) => {
                tracing::warn!(error = %e, n = chunk.len(), "cannot read changed incidents");
                return;
            }
        }
    }
    let mut followed = Vec::new();
    let mut last_batch = None;
    for &id in ids {
        let incident = current.remove(&id);
        let codes_of = |incident: &crate::engine::store::Incident| {
            incident.assignment.regions.map(|r| r.map(|id| index.region(id).code.clone()))
        };
        let deleted = incident.is_none();
        let codes = match &incident {
            Some(incident) => codes_of(incident),
            None => {
                let engine = crate::sync::read(&engine);
                engine.incidents().get(id).map(codes_of).unwrap_or_default()
            }
        };
        last_batch = Some(tiles.queue(Box::new(move |engine| crate::incidents::apply(engine, id, incident))));
        followed.push((id, codes, deleted));
    }
    let Some(batch) = last_batch else { return };
    let waiting = Arc::clone(tiles);
    if tokio::task::spawn_blocking(move || waiting.wait_for(batch)).await.is_ok() {
        for (id, codes, deleted) in followed {
            on_levels(id, codes, deleted);
        }
    }
}

/// Recomputes the default window as time passes (decay, and incidents entering and
/// leaving the window), dropping the tiles that change.
pub fn refresh(tiles: &Arc<Tiles>) {
    tiles.change(|engine| {
        let before = engine.current().window;
        engine.refresh(Utc::now().timestamp());
        ((), IncidentChange::window_moved(engine.incidents(), before, engine.current().window))
    });
}
