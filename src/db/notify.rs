//! Notices of incident changes to the other servers on the database (LISTEN/NOTIFY):
//! `incident:<id>[,<id>...]:<server, hex>` on the changes channel, sent after the
//! writes committed, gathered (one NOTIFY for all the changes committed while the last
//! one was sent).
//!
//! Not inside the writes' transactions: PostgreSQL serialises the commits of
//! transactions that NOTIFY (a global lock held through each commit's WAL flush), so
//! every write waited for the flushes of those before it; under a stream of writes that
//! was most of their time. The price: a server killed between a commit and its notice
//! leaves the others without that change until they reload (restart, or reconnect
//! their LISTEN connection); the write itself is committed.

use std::sync::OnceLock;

use sqlx::PgPool;
use tokio::sync::mpsc;

/// How often a notice is tried before it is given up.
const SEND_ATTEMPTS: u32 = 3;

/// Bytes of a payload, below PostgreSQL's limit of 8000.
const MAX_PAYLOAD: usize = 7900;

/// Sends the notices of one server.
#[derive(Debug, Default)]
pub struct Notifier {
    sender: OnceLock<mpsc::UnboundedSender<i64>>,
}

impl Notifier {
    /// Starts sending on `channel`, as server `instance` (once; later calls do nothing).
    pub fn start(&self, pool: PgPool, channel: &'static str, instance: u64) {
        let (sender, mut changed) = mpsc::unbounded_channel::<i64>();
        if self.sender.set(sender).is_err() {
            return;
        }
        tokio::spawn(async move {
            while let Some(first) = changed.recv().await {
                let mut ids = vec![first];
                while let Ok(id) = changed.try_recv() {
                    ids.push(id);
                }
                for payload in payloads(ids, instance) {
                    // A notice that cannot be sent (no connection within the pool's
                    // wait, the database restarting) is tried again a few times; the
                    // other servers reload everything when their own connection to the
                    // database comes back.
                    for attempt in 1..=SEND_ATTEMPTS {
                        let query = sqlx::query("select pg_notify($1, $2)").bind(channel).bind(&payload);
                        match query.execute(&pool).await {
                            Ok(_) => break,
                            Err(e) if attempt == SEND_ATTEMPTS => {
                                tracing::warn!(error = %e, payload, "change notice not sent; other servers miss it until they reload")
                            }
                            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                        }
                    }
                }
            }
        });
    }

    /// Tells the other servers that incident `id` changed (its write committed).
    pub fn changed(&self, id: i64) {
        if let Some(sender) = self.sender.get() {
            let _ = sender.send(id);
        }
    }
}

/// The notices of changed incidents `ids` (sorted, each once), each under
/// [`MAX_PAYLOAD`] bytes.
fn payloads(mut ids: Vec<i64>, instance: u64) -> Vec<String> {
    ids.sort_unstable();
    ids.dedup();
    let suffix = format!(":{instance:x}");
    let mut out = Vec::new();
    let mut payload = String::from("incident:");
    for id in ids {
        let id = id.to_string();
        if payload.len() + id.len() + 1 + suffix.len() > MAX_PAYLOAD {
            payload.pop();
            out.push(std::mem::replace(&mut payload, String::from("incident:")) + &suffix);
        }
        payload.push_str(&id);
        payload.push(',');
    }
    if payload.ends_with(',') {
        payload.pop();
        out.push(payload + &suffix);
    }
    out
}

/// The changed incidents and the server of a notice from [`Notifier`]; `None` for
/// another kind of notice.
pub fn parse(payload: &str) -> Option<(Vec<i64>, u64)> {
    let (ids, instance) = payload.strip_prefix("incident:")?.split_once(':')?;
    let ids = ids.split(',').map(str::parse).collect::<Result<Vec<i64>, _>>().ok()?;
    Some((ids, u64::from_str_radix(instance, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_list_each_change_once_and_read_back() {
        let sent = payloads(vec![7, 3, 7, 12], 0xab);
        assert_eq!(sent, ["incident:3,7,12:ab"]);
        assert_eq!(parse(&sent[0]), Some((vec![3, 7, 12], 0xab)));
        assert_eq!(parse("incident:42:ff"), Some((vec![42], 0xff)));
        assert_eq!(parse("bulk"), None);
        assert_eq!(parse("incident:x:ff"), None);
    }

    #[test]
    fn many_changes_are_split_below_the_payload_limit() {
        let ids: Vec<i64> = (1_000_000_000..1_000_003_000).collect();
        let sent = payloads(ids.clone(), u64::MAX);
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|p| p.len() <= MAX_PAYLOAD), "each under the limit");
        let back: Vec<i64> = sent.iter().flat_map(|p| parse(p).expect("a notice").0).collect();
        assert_eq!(back, ids, "every change, once, in order");
    }
}
