//! The batching of engine changes: changes made or queued are taken up together (one
//! write lock for all, at most every [`SYNC_PERIOD`]), and the subscriber (the tile
//! service: figures, Gi*, dropping the cached tiles that changed) does its bookkeeping
//! once per batch; writers wait for their batch, so that what they read next shows
//! their change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use super::changes::IncidentChange;
use crate::engine::regions::RegionId;
use crate::engine::risk::RiskLevel;
use crate::engine::Engine;
use crate::sync::{lock, write};

/// A change of the engine queued to be applied with its batch: returns what it did to
/// incidents.
pub type Queued = Box<dyn FnOnce(&mut Engine) -> IncidentChange + Send>;

/// Changes awaiting their bookkeeping, numbered by batch.
#[derive(Default)]
struct Pending {
    /// Changes made already (with what they did to incidents).
    changes: Option<Vec<IncidentChange>>,
    /// Changes to make with the batch, in order, under one write lock.
    queued: Vec<Queued>,
    /// The batch now gathering (or the last one).
    batch: u64,
    /// The last batch done.
    done: u64,
    /// When the batch now gathering got its first change.
    opened: Option<Instant>,
    /// When the last batch was taken up.
    last_sync: Option<Instant>,
    /// Whether every change of the batch now gathering was made with
    /// [`Batches::change_in_place`].
    in_place: bool,
    lag: Lag,
}

/// Marks a batch done and wakes its writers when dropped (also by a panic).
struct Release<'a> {
    batches: &'a Batches,
    number: u64,
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        let mut pending = lock(&self.batches.pending);
        pending.done = pending.done.max(self.number);
        drop(pending);
        self.batches.wake.notify_all();
    }
}

/// How long changes took to show: from their commit (a change of this server: its
/// write to the engine, right after; a change followed from another server: its
/// commit there) until figures, Gi* and the tile cache were up to date.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lag {
    /// Batches done.
    pub batches: u64,
    /// The last batch's lag (of its first change).
    pub last_seconds: f64,
    /// The largest since start.
    pub max_seconds: f64,
}

/// Hears of risk-level changes: (region, before, after), with the engine read-locked.
pub type LevelListener = Box<dyn Fn(&Engine, &[(RegionId, RiskLevel, RiskLevel)]) + Send + Sync>;

/// Batches of changes are taken up at most this often: a change after a quiet spell
/// at once, under a stream of writes (hundreds a second) every 20 ms, so that the
/// tiles every map shows, which nearly every write touches, are dropped and rendered
/// again fifty times a second rather than once per write. Well inside the 100 ms in
/// which a write must show in tiles.
const SYNC_PERIOD: Duration = Duration::from_millis(40);

/// Does the bookkeeping of a batch: told what the batch's changes did to incidents,
/// and whether every one of them was made in place ([`Batches::change_in_place`]),
/// with no lock of the engine held.
pub type Subscriber = Box<dyn Fn(&[IncidentChange], bool) + Send + Sync>;

/// The batches of engine changes.
pub struct Batches {
    engine: Arc<RwLock<Engine>>,
    /// Changes applied to the engine whose bookkeeping is still to do, and the changes
    /// queued to be applied with the next batch.
    pending: Mutex<Pending>,
    /// Held while a batch is done (one at a time, in order).
    syncing: Mutex<()>,
    wake: Condvar,
    /// Bumped when a batch of changes is done (see [`Batches::synced`]).
    synced: AtomicU64,
    subscriber: OnceLock<Subscriber>,
}

impl Batches {
    /// Batches of changes of `engine`.
    pub fn new(engine: Arc<RwLock<Engine>>) -> Arc<Batches> {
        Arc::new(Batches {
            engine,
            pending: Mutex::new(Pending::default()),
            syncing: Mutex::default(),
            wake: Condvar::new(),
            synced: AtomicU64::new(0),
            subscriber: OnceLock::new(),
        })
    }

    /// Sets who does the bookkeeping of each batch (once).
    pub fn subscribe(&self, subscriber: Subscriber) {
        let _ = self.subscriber.set(subscriber);
    }

    /// Runs a change of the engine (which reports what it did to incidents) with the
    /// write lock held only for it; within [`SYNC_PERIOD`] the figures and Gi* are
    /// brought up to date and exactly the cached tiles whose content changed are
    /// dropped (a burst of changes is handled at once). A tile whose render overlaps
    /// that bookkeeping and which it drops is not cached.
    pub fn change<T>(self: &Arc<Self>, change: impl FnOnce(&mut Engine) -> (T, IncidentChange)) -> T {
        let (out, incidents) = change(&mut write(&self.engine));
        self.join_batch(None, false, |pending| pending.changes.get_or_insert_with(Vec::new).push(incidents));
        out
    }

    /// As [`Batches::change`], for a change no one waits to see at once (the minutely
    /// recomputation of the window as time passes): when its batch holds no other kind
    /// of change, the subscriber is told so, and may keep serving the tiles it changes
    /// until their new versions are made.
    pub fn change_in_place(self: &Arc<Self>, change: impl FnOnce(&mut Engine) -> IncidentChange) {
        let incidents = change(&mut write(&self.engine));
        self.join_batch(None, true, |pending| pending.changes.get_or_insert_with(Vec::new).push(incidents));
    }

    /// Queues a change of the engine to be made with the next batch of bookkeeping,
    /// together with the others queued (one write lock for all: a stream of single
    /// writes would otherwise each wait for the renders holding the engine, and make
    /// every render after them wait too). Returns the batch's number.
    pub fn queue(self: &Arc<Self>, change: Queued) -> u64 {
        self.join_batch(None, false, |pending| pending.queued.push(change))
    }

    /// As [`Batches::queue`], for a change committed at `committed` (by another server,
    /// say): the lag is counted from then, so that a backlog of changes to follow shows.
    pub fn queue_since(self: &Arc<Self>, change: Queued, committed: Instant) -> u64 {
        self.join_batch(Some(committed), false, |pending| pending.queued.push(change))
    }

    /// As [`Batches::queue`], then waits until its batch is done: a tile fetched after
    /// it returns shows the change.
    pub fn change_and_wait(self: &Arc<Self>, change: Queued) {
        let batch = self.queue(change);
        self.wait_for(batch);
    }

    /// Waits until batch `batch` (of [`Batches::queue`]) is done.
    pub fn wait_for(&self, batch: u64) {
        let mut pending = lock(&self.pending);
        while pending.done < batch {
            pending = crate::sync::wait(&self.wake, pending);
        }
    }

    /// Adds to the batch now gathering (`add`), opening one when none is: its
    /// bookkeeping is done at once after a quiet spell, under a stream of changes one
    /// [`SYNC_PERIOD`] after the last. Returns the batch's number. The batch's lag
    /// counts from its first change, or from `since` when that is earlier. `in_place`:
    /// whether the change is one of [`Batches::change_in_place`].
    fn join_batch(self: &Arc<Self>, since: Option<Instant>, in_place: bool, add: impl FnOnce(&mut Pending)) -> u64 {
        let mut pending = lock(&self.pending);
        let open = pending.changes.is_some() || !pending.queued.is_empty();
        pending.in_place = in_place && (pending.in_place || !open);
        add(&mut pending);
        if let (true, Some(since), Some(opened)) = (open, since, pending.opened) {
            pending.opened = Some(opened.min(since));
        }
        if !open {
            pending.batch += 1;
            let now = Instant::now();
            pending.opened = Some(since.map_or(now, |since| since.min(now)));
            let wait = pending.last_sync.map_or(Duration::ZERO, |last| SYNC_PERIOD.saturating_sub(now - last));
            let tiles = Arc::clone(self);
            std::thread::spawn(move || {
                std::thread::sleep(wait);
                tiles.sync();
            });
        }
        pending.batch
    }

    /// The bookkeeping of the pending changes.
    fn sync(self: &Arc<Self>) {
        // One batch at a time, in order: a batch taken up while the one before still
        // waits for the engine's lock must not make its changes first, nor mark the
        // earlier batch's writes done.
        let _one_at_a_time = lock(&self.syncing);
        let (mut batch, queued, number, opened, in_place) = {
            let mut pending = lock(&self.pending);
            let (made, queued) = (pending.changes.take(), std::mem::take(&mut pending.queued));
            if made.is_none() && queued.is_empty() {
                return;
            }
            pending.last_sync = Some(Instant::now());
            let in_place = std::mem::take(&mut pending.in_place);
            (made.unwrap_or_default(), queued, pending.batch, pending.opened.take(), in_place)
        };
        // Whatever happens below (a panic included), the batch's writers are released.
        let _release = Release { batches: self, number };
        if !queued.is_empty() {
            let mut engine = write(&self.engine);
            for change in queued {
                let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change(&mut engine)));
                batch.push(made.unwrap_or_else(|_| {
                    tracing::error!("a change of the engine failed; its incidents show again after a reload");
                    IncidentChange::All
                }));
            }
        }
        if let Some(subscriber) = self.subscriber.get() {
            subscriber(&batch, in_place);
        }
        self.synced.fetch_add(1, Ordering::AcqRel);
        let mut pending = lock(&self.pending);
        if let Some(opened) = opened {
            let seconds = opened.elapsed().as_secs_f64();
            pending.lag.batches += 1;
            pending.lag.last_seconds = seconds;
            pending.lag.max_seconds = pending.lag.max_seconds.max(seconds);
        }
        drop(pending);
    }

    /// A number bumped when a batch of changes is done, before the writes of the
    /// batch are answered ([`Batches::change_and_wait`]): what is computed from the
    /// engine after it read one value shows every change answered before that value.
    pub fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// How long changes took to show in figures and tiles.
    pub fn lag(&self) -> Lag {
        lock(&self.pending).lag
    }
}
