//! Notices of incident changes to the other servers on the database (LISTEN/NOTIFY):
//! `incident:<id>.<version>[,...]:<server, hex>:<oldest commit, unix ms>` on the
//! changes channel, sent after the writes committed, gathered (one NOTIFY for all the
//! changes committed while the last one was sent).
//!
//! Not inside the writes' transactions: PostgreSQL serialises the commits of
//! transactions that NOTIFY (a global lock held through each commit's WAL flush), so
//! every write waited for the flushes of those before it; under a stream of writes that
//! was most of their time. The price: a server killed between a commit and its notice
//! leaves the others without its notice; their backstop (a poll of the versions
//! changed lately, [`Seen`] telling which they know) reads it within seconds.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::mpsc;

/// The PostgreSQL channel of every notice between the servers on a database: changed
/// incidents (`incident:...`), bulk loads (`bulk`) and revoked tokens (`revoke:...`,
/// [`crate::auth::Revocation`]).
pub const CHANNEL: &str = "sipks_changes";

/// How often a notice is tried before it is given up.
const SEND_ATTEMPTS: u32 = 3;

/// Bytes of a payload, below PostgreSQL's limit of 8000.
const MAX_PAYLOAD: usize = 7900;

/// A committed change of an incident: its id and its version after the change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Incident id.
    pub id: i64,
    /// Its version after the change (unknown in a notice of an older server).
    pub version: Option<i32>,
}

/// A notice of changed incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The changes, by id.
    pub changes: Vec<Change>,
    /// The server that made them.
    pub instance: u64,
    /// When the oldest of them committed (the sender's clock; unknown in a notice of an
    /// older server).
    pub committed: Option<DateTime<Utc>>,
}

/// Sends the notices of one server, and keeps the versions of incidents this server
/// knows to be applied (its own writes, and the changes it followed), so that the
/// followers' backstop reads only what no notice announced.
#[derive(Debug, Default)]
pub struct Notifier {
    sender: OnceLock<mpsc::UnboundedSender<(Change, DateTime<Utc>)>>,
    seen: Seen,
}

impl Notifier {
    /// Starts sending on `channel`, as server `instance` (once; later calls do nothing).
    pub fn start(&self, pool: PgPool, channel: &'static str, instance: u64) {
        let (sender, mut changed) = mpsc::unbounded_channel::<(Change, DateTime<Utc>)>();
        if self.sender.set(sender).is_err() {
            return;
        }
        tokio::spawn(async move {
            while let Some(first) = changed.recv().await {
                let mut changes = vec![first];
                while let Ok(change) = changed.try_recv() {
                    changes.push(change);
                }
                for payload in payloads(changes, instance) {
                    // A notice that cannot be sent (no connection within the pool's
                    // wait, the database restarting) is tried again a few times; the
                    // other servers' backstop reads the change within a few seconds
                    // anyway.
                    for attempt in 1..=SEND_ATTEMPTS {
                        let query = sqlx::query("select pg_notify($1, $2)").bind(channel).bind(&payload);
                        match query.execute(&pool).await {
                            Ok(_) => break,
                            Err(e) if attempt == SEND_ATTEMPTS => {
                                tracing::warn!(error = %e, payload, "change notice not sent; other servers read it at their next backstop poll")
                            }
                            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                        }
                    }
                }
            }
        });
    }

    /// Tells the other servers that incident `id` changed to `version` (its write
    /// committed).
    pub fn changed(&self, id: i64, version: i32) {
        self.seen.note(id, version);
        if let Some(sender) = self.sender.get() {
            let _ = sender.send((Change { id, version: Some(version) }, Utc::now()));
        }
    }

    /// The versions this server knows to be applied.
    pub fn seen(&self) -> &Seen {
        &self.seen
    }
}

/// Versions of incidents known to be applied here, kept for [`Seen::KEPT`].
#[derive(Debug, Default)]
pub struct Seen(Mutex<HashMap<i64, (i32, Instant)>>);

impl Seen {
    /// How long a version is remembered: well beyond the backstop's look-back.
    pub const KEPT: Duration = Duration::from_secs(120);

    /// Incident `id` is applied at `version`.
    pub fn note(&self, id: i64, version: i32) {
        let mut map = crate::sync::lock(&self.0);
        if map.len() > 100_000 {
            map.retain(|_, (_, at)| at.elapsed() < Self::KEPT);
        }
        let entry = map.entry(id).or_insert((version, Instant::now()));
        if entry.0 <= version {
            *entry = (version, Instant::now());
        }
    }

    /// Whether incident `id` is known to be applied at `version` or later.
    pub fn has(&self, id: i64, version: i32) -> bool {
        crate::sync::lock(&self.0).get(&id).is_some_and(|(v, _)| *v >= version)
    }
}

/// The notices of `changes`, each under [`MAX_PAYLOAD`] bytes: `incident:<id>.<version>,
/// ...:<server, hex>:<oldest commit, unix ms>`, by id, each id once (its latest
/// version).
fn payloads(mut changes: Vec<(Change, DateTime<Utc>)>, instance: u64) -> Vec<String> {
    changes.sort_by_key(|(c, _)| (c.id, c.version));
    let mut merged: Vec<(Change, DateTime<Utc>)> = Vec::with_capacity(changes.len());
    for (change, at) in changes {
        match merged.last_mut() {
            Some((last, first)) if last.id == change.id => {
                *last = change;
                *first = (*first).min(at);
            }
            _ => merged.push((change, at)),
        }
    }
    let mut out = Vec::new();
    let mut payload = String::from("incident:");
    let mut oldest: Option<DateTime<Utc>> = None;
    let finish = |payload: &mut String, oldest: &mut Option<DateTime<Utc>>| {
        payload.pop();
        let at = oldest.take().map_or(0, |t| t.timestamp_millis());
        std::mem::replace(payload, String::from("incident:")) + &format!(":{instance:x}:{at}")
    };
    for (change, at) in merged {
        let item = match change.version {
            Some(v) => format!("{}.{v}", change.id),
            None => change.id.to_string(),
        };
        if payload.len() + item.len() + 1 + 40 > MAX_PAYLOAD {
            out.push(finish(&mut payload, &mut oldest));
        }
        payload.push_str(&item);
        payload.push(',');
        oldest = Some(oldest.map_or(at, |o| o.min(at)));
    }
    if payload.ends_with(',') {
        out.push(finish(&mut payload, &mut oldest));
    }
    out
}

/// A notice of [`Notifier`] (also the older `incident:<id>,...:<server>`); `None` for
/// another kind of notice.
pub fn parse(payload: &str) -> Option<Notice> {
    let mut parts = payload.strip_prefix("incident:")?.split(':');
    let (ids, instance, at) = (parts.next()?, parts.next()?, parts.next());
    let changes = ids
        .split(',')
        .map(|item| match item.split_once('.') {
            Some((id, v)) => Some(Change { id: id.parse().ok()?, version: Some(v.parse().ok()?) }),
            None => Some(Change { id: item.parse().ok()?, version: None }),
        })
        .collect::<Option<Vec<Change>>>()?;
    let committed = match at {
        Some(ms) => Some(DateTime::from_timestamp_millis(ms.parse().ok()?)?).filter(|t| t.timestamp_millis() > 0),
        None => None,
    };
    Some(Notice { changes, instance: u64::from_str_radix(instance, 16).ok()?, committed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).expect("a time")
    }

    fn change(id: i64, version: i32) -> Change {
        Change { id, version: Some(version) }
    }

    #[test]
    fn notices_list_each_change_once_and_read_back() {
        let sent = payloads(
            vec![
                (change(7, 1), at(5000)),
                (change(3, 2), at(4000)),
                (change(7, 2), at(6000)),
                (change(12, 1), at(7000)),
            ],
            0xab,
        );
        assert_eq!(sent, ["incident:3.2,7.2,12.1:ab:4000"]);
        let notice = parse(&sent[0]).expect("a notice");
        assert_eq!(notice.changes, [change(3, 2), change(7, 2), change(12, 1)]);
        assert_eq!((notice.instance, notice.committed), (0xab, Some(at(4000))));
        let older = parse("incident:42:ff").expect("an older server's notice");
        assert_eq!(
            (older.changes, older.instance, older.committed),
            (vec![Change { id: 42, version: None }], 0xff, None)
        );
        assert_eq!(parse("bulk"), None);
        assert_eq!(parse("incident:x:ff"), None);
        assert_eq!(parse("incident:1.x:ff:0"), None);
    }

    #[test]
    fn many_changes_are_split_below_the_payload_limit() {
        let changes: Vec<(Change, DateTime<Utc>)> =
            (1_000_000_000..1_000_003_000).map(|id| (change(id, 12), at(1_700_000_000_000))).collect();
        let sent = payloads(changes.clone(), u64::MAX);
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|p| p.len() <= MAX_PAYLOAD), "each under the limit");
        let back: Vec<Change> = sent.iter().flat_map(|p| parse(p).expect("a notice").changes).collect();
        assert_eq!(back, changes.iter().map(|(c, _)| *c).collect::<Vec<_>>(), "every change, once, in order");
    }

    #[test]
    fn seen_versions_only_move_forward() {
        let seen = Seen::default();
        seen.note(5, 3);
        seen.note(5, 2);
        assert!(seen.has(5, 3) && seen.has(5, 1) && !seen.has(5, 4) && !seen.has(6, 1));
    }
}
