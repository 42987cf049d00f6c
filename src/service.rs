//! Wiring between PostGIS and the engine: building the engine at start-up and the bulk
//! loads of incident and indicator files.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::Utc;
use sqlx::PgPool;

use crate::auth::Revocation;
use crate::db;
use crate::db::notify::{Notifier, Seen};
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
pub const CHANGES_CHANNEL: &str = db::notify::CHANNEL;

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
/// Incidents written through the API of another server (`incident:...` notices) are
/// read in batches and applied; `on_incident` hears of each (id, regions, deleted).
/// Every [`BACKSTOP`] the versions changed lately are read too, and those no notice
/// announced (a server killed between its commit and its notice) are applied the same
/// way. `on_revoked` hears of revoked tokens (`revoke:...`, from every server, this one
/// included), and of [`Revocation::Unknown`] when notices may have been missed.
pub async fn follow_changes<F>(
    pool: PgPool,
    engine: Arc<RwLock<Engine>>,
    tiles: Arc<Tiles>,
    notifier: Arc<Notifier>,
    instance: u64,
    on_incident: F,
    on_revoked: impl Fn(Revocation) + Send + Sync + 'static,
) where
    F: Fn(i64, [Option<RegionCode>; 3], bool) + Send + Sync + 'static,
{
    let on_incident = Arc::new(on_incident);
    // The events of followed changes are sent by a task of their own, in order, once
    // each batch is done: the follower goes on reading and queueing meanwhile (waiting
    // for each batch kept it to one notice per batch period, fewer changes a second
    // than one busy server makes).
    let (announce, mut announcements) = tokio::sync::mpsc::unbounded_channel::<Followed>();
    {
        let (tiles, on_incident) = (Arc::clone(&tiles), Arc::clone(&on_incident));
        tokio::spawn(async move {
            while let Some(followed) = announcements.recv().await {
                followed.announce(&tiles, &*on_incident).await;
            }
        });
    }
    let mut first = true;
    let follow = Follow {
        pool: &pool,
        engine: &engine,
        tiles: &tiles,
        seen: notifier.seen(),
        on_incident: &*on_incident,
        announce,
    };
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
        let mut backstop_since = match db::incidents::clock(&pool).await {
            Ok(now) => now - RELOAD_OVERLAP,
            Err(_) => continue,
        };
        // Notifications sent while this server was not listening (the database or the
        // connection was down) are lost: read everything once to catch up.
        if !first {
            tracing::info!("listening for changes again; checking tokens and reloading the incidents");
            on_revoked(Revocation::Unknown);
            follow.reload_all().await;
        } else {
            // The engine was read a moment before listening began: what other servers
            // wrote in between was announced to nobody here.
            follow.catch_up_start().await;
        }
        first = false;
        // Notices are read by a task of their own (a read is not to be cut short by
        // the backstop's timer); it ends when the connection drops. It notes the
        // versions it hears of at once, so that the backstop does not take the changes
        // whose notices still wait here for ones no notice announced.
        let (forward, mut notices) = tokio::sync::mpsc::unbounded_channel::<String>();
        let reader = {
            let notifier = Arc::clone(&notifier);
            tokio::spawn(async move {
                while let Ok(Some(notification)) = listener.try_recv().await {
                    let payload = notification.payload();
                    if let Some(notice) = db::notify::parse(payload) {
                        for change in &notice.changes {
                            if let Some(version) = change.version {
                                notifier.seen().note(change.id, version);
                            }
                        }
                    }
                    if forward.send(payload.to_owned()).is_err() {
                        break;
                    }
                }
            })
        };
        let mut backstop = tokio::time::interval(BACKSTOP);
        backstop.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        backstop.tick().await;
        loop {
            tokio::select! {
                payload = notices.recv() => {
                    let Some(payload) = payload else { break };
                    // Every notice waiting is taken up together: one read of their
                    // incidents, one batch.
                    let mut waiting = vec![payload];
                    while waiting.len() < NOTICES_AT_ONCE {
                        let Ok(more) = notices.try_recv() else { break };
                        waiting.push(more);
                    }
                    follow.notices(waiting, instance, &on_revoked).await;
                }
                _ = backstop.tick() => {
                    if let Some(next) = follow.backstop(backstop_since).await {
                        backstop_since = next;
                    }
                }
            }
        }
        reader.abort();
        tracing::warn!("lost the change notifications' connection; reconnecting");
    }
}

/// How often a follower reads the versions changed lately, for changes whose notice
/// never came.
pub const BACKSTOP: std::time::Duration = std::time::Duration::from_secs(3);

/// The backstop leaves out the changes of the last moment: their notices may still be
/// on their way.
const BACKSTOP_GRACE: chrono::TimeDelta = chrono::TimeDelta::milliseconds(500);

/// Notices taken up together at most.
const NOTICES_AT_ONCE: usize = 256;

/// What following the other servers' changes needs.
struct Follow<'a, F> {
    pool: &'a PgPool,
    engine: &'a Arc<RwLock<Engine>>,
    tiles: &'a Arc<Tiles>,
    seen: &'a Seen,
    on_incident: &'a F,
    /// The changes queued, for their events once their batch is done.
    announce: tokio::sync::mpsc::UnboundedSender<Followed>,
}

impl<F: Fn(i64, [Option<RegionCode>; 3], bool) + Send + Sync> Follow<'_, F> {
    /// Notices in the order they came: the incidents of those from other servers
    /// queued together (their lag counted from the oldest commit), revocations passed
    /// on, anything else (a bulk load) a reload.
    async fn notices(&self, payloads: Vec<String>, instance: u64, on_revoked: &impl Fn(Revocation)) {
        let mut ids = Vec::new();
        let mut committed: Option<chrono::DateTime<Utc>> = None;
        let mut reload = false;
        for payload in &payloads {
            if let Some(notice) = db::notify::parse(payload) {
                if notice.instance != instance {
                    ids.extend(notice.changes.iter().map(|c| c.id));
                    committed = match (committed, notice.committed) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            } else if let Some(revoked) = Revocation::parse(payload) {
                on_revoked(revoked);
            } else {
                reload = true;
            }
        }
        if reload {
            // A reload reads every incident, those of these notices too.
            self.reload_all().await;
            return;
        }
        let mut once = std::collections::HashSet::with_capacity(ids.len());
        ids.retain(|id| once.insert(*id));
        self.queue(&ids, committed.map(instant_of)).await;
    }

    /// Queues the incidents `ids` (see [`queue_incidents`]) for the announcer to tell of
    /// once their batch is done.
    async fn queue(&self, ids: &[i64], committed: Option<std::time::Instant>) {
        if let Some(followed) = queue_incidents(self.pool, self.engine, self.tiles, ids, committed).await {
            let _ = self.announce.send(followed);
        }
    }

    /// Applies the changes since `since` that no notice announced; the next poll's
    /// start (None: the database did not answer, try the same again).
    async fn backstop(&self, since: chrono::DateTime<Utc>) -> Option<chrono::DateTime<Utc>> {
        let now = db::incidents::clock(self.pool).await.ok()?;
        let changed = match db::incidents::versions_since(self.pool, since).await {
            Ok(changed) => changed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the incidents changed lately");
                return None;
            }
        };
        let missed: Vec<&(i64, i32, chrono::DateTime<Utc>)> = changed
            .iter()
            .filter(|(id, version, at)| *at <= now - BACKSTOP_GRACE && !self.seen.has(*id, *version))
            .collect();
        if !missed.is_empty() {
            tracing::info!(incidents = missed.len(), "applying changes announced by no notice");
            if missed.len() > CATCH_UP_ONE_BY_ONE {
                self.reload_all().await;
            } else {
                let ids: Vec<i64> = missed.iter().map(|(id, _, _)| *id).collect();
                let oldest = missed.iter().map(|(_, _, at)| *at).min().map(instant_of);
                self.queue(&ids, oldest).await;
            }
            for (id, version, _) in missed {
                self.seen.note(*id, *version);
            }
        }
        // The grace's changes are read again next time.
        Some(now - BACKSTOP_GRACE - RELOAD_OVERLAP)
    }

    async fn reload_all(&self) {
        reload_all(self.pool, self.engine, self.tiles, self.on_incident).await;
    }

    async fn catch_up_start(&self) {
        catch_up_start(self.pool, self.engine, self.tiles, self.on_incident).await;
    }
}

/// The instant of a time on the wall clock (now for a time still to come).
fn instant_of(at: chrono::DateTime<Utc>) -> std::time::Instant {
    let ago = (Utc::now() - at).to_std().unwrap_or_default();
    std::time::Instant::now().checked_sub(ago).unwrap_or_else(std::time::Instant::now)
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
        Ok(ids) => follow_incidents(pool, engine, tiles, &ids, None, on_incident).await,
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
        Ok(ids) => follow_incidents(pool, engine, tiles, &ids, None, on_incident).await,
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

/// Applies incidents changed by another server (see [`queue_incidents`]) and sends
/// their events once their batch is done.
async fn follow_incidents(
    pool: &PgPool,
    engine: &Arc<RwLock<Engine>>,
    tiles: &Arc<Tiles>,
    ids: &[i64],
    committed: Option<std::time::Instant>,
    on_levels: &(impl Fn(i64, [Option<RegionCode>; 3], bool) + Send + Sync),
) {
    if let Some(followed) = queue_incidents(pool, engine, tiles, ids, committed).await {
        followed.announce(tiles, on_levels).await;
    }
}

/// Followed changes queued in a batch, to announce once it is done: (id, regions,
/// deleted) of each.
struct Followed {
    batch: u64,
    incidents: Vec<(i64, [Option<RegionCode>; 3], bool)>,
}

impl Followed {
    /// Waits until the batch is done (what is read next shows the changes), then tells
    /// `on_levels` of each.
    async fn announce(self, tiles: &Arc<Tiles>, on_levels: &(impl Fn(i64, [Option<RegionCode>; 3], bool) + ?Sized)) {
        let (waiting, batch) = (Arc::clone(tiles), self.batch);
        if tokio::task::spawn_blocking(move || waiting.wait_for(batch)).await.is_ok() {
            for (id, codes, deleted) in self.incidents {
                on_levels(id, codes, deleted);
            }
        }
    }
}

/// Queues the incidents changed by another server: each one's current state, or its
/// removal. The changes are queued with this server's own writes, in the order they
/// arrive (a change applied at once could be overtaken by an older local one still
/// queued). Their lag counts from `committed` when known. None when there is nothing
/// to queue or the incidents could not be read.
async fn queue_incidents(
    pool: &PgPool,
    engine: &Arc<RwLock<Engine>>,
    tiles: &Arc<Tiles>,
    ids: &[i64],
    committed: Option<std::time::Instant>,
) -> Option<Followed> {
    let index = crate::sync::read(&engine).shared_index();
    // Read in batches, one query each (one query per id followed only ~60 writes/s).
    let mut current = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(FOLLOW_BATCH) {
        match load_incidents_by_id(pool, &index, chunk).await {
            Ok(incidents) => current.extend(incidents.into_iter().map(|i| (i.id, i))),
            Err(e) => {
                tracing::warn!(error = %e, n = chunk.len(), "cannot read changed incidents");
                return None;
            }
        }
    }
    let mut incidents = Vec::with_capacity(ids.len());
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
        let change: crate::tiles::Queued = Box::new(move |engine| crate::incidents::apply(engine, id, incident));
        last_batch = Some(match committed {
            Some(committed) => tiles.queue_since(change, committed),
            None => tiles.queue(change),
        });
        incidents.push((id, codes, deleted));
    }
    Some(Followed { batch: last_batch?, incidents })
}

/// Recomputes the default window as time passes (decay, and incidents entering and
/// leaving the window); the tiles it changes are renewed in place
/// ([`Tiles::change_in_place`]).
pub fn refresh(tiles: &Arc<Tiles>) {
    tiles.change_in_place(|engine| {
        let before = engine.current().window;
        engine.refresh(Utc::now().timestamp());
        IncidentChange::window_moved(engine.incidents(), before, engine.current().window)
    });
}
