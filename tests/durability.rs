//! Durability of acknowledged writes (issue 8): the real server is killed with SIGKILL
//! in the middle of a write load and restarted on the same database. Every incident it
//! acknowledged (2xx) is there exactly once, and clients retrying every request with
//! its Idempotency-Key (answered or not) make no duplicate and get the same incident
//! back for what was acknowledged.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use api::at_point;
use common::api;
use common::{imported_db, Server};

/// Concurrent writers.
const WRITERS: usize = 8;
/// Acknowledged creations before the kill: enough that some requests are in flight.
const ACKNOWLEDGED_BEFORE_KILL: usize = 150;
/// A writer's requests at most (the load stops at the kill long before).
const MAX_PER_WRITER: usize = 400;

const USER: &str = "nasional.tahan";
const PASSWORD: &str = "rahasia-uji-12345";

/// Places on land (Makassar, Gowa, Jakarta Pusat, Surabaya); a request's place is moved
/// a little east by its number.
const PLACES: [(f64, f64); 4] = [(119.42, -5.14), (119.77, -5.34), (106.82, -6.18), (112.74, -7.26)];

/// One request of the load: its key and exact body, so that a retry is the same request.
#[derive(Clone)]
struct Sent {
    key: String,
    body: Vec<u8>,
}

/// What the load saw: the requests sent, and the incident of each acknowledged key.
#[derive(Default)]
struct Ledger {
    sent: Vec<Sent>,
    acknowledged: BTreeMap<String, i64>,
}

async fn post(client: &reqwest::Client, base: &str, token: &str, sent: &Sent) -> Result<(u16, Value), String> {
    let response = client
        .post(format!("{base}/api/incidents"))
        .bearer_auth(token)
        .header("content-type", "application/geo+json")
        .header("idempotency-key", &sent.key)
        .body(sent.body.clone())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

async fn login(base: &str) -> String {
    api::Api::new(base).token(USER, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_incident_survives_a_sigkill_once_and_retries_make_no_duplicate() {
    let db = imported_db().await;
    let hash = sipks::auth::hash_password(PASSWORD).expect("hash");
    sipks::db::users::create(&db.pool, USER, "", &hash, sipks::auth::Role::Nasional, None).await.expect("user");
    let server = Server::start(&db.url).await;
    let token = login(&server.base).await;

    // The load: writers POST new incidents, each with its own key, until the kill.
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (acked, stop) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (ledger, acked, stop) = (Arc::clone(&ledger), Arc::clone(&acked), Arc::clone(&stop));
        let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..MAX_PER_WRITER {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let key = format!("tahan-{writer}-{n}");
                let (lon, lat) = PLACES[(writer + n) % PLACES.len()];
                let place = (lon + 0.0001 * (writer * MAX_PER_WRITER + n) as f64 / 10.0, lat);
                let body = at_point(place, &format!("ketahanan {key}")).to_string().into_bytes();
                let sent = Sent { key: key.clone(), body };
                ledger.lock().await.sent.push(sent.clone());
                match post(&client, &base, &token, &sent).await {
                    Ok((status @ (200 | 201), body)) => {
                        let id = body["id"].as_i64().unwrap_or_else(|| panic!("{key}: {status} without an id: {body}"));
                        ledger.lock().await.acknowledged.insert(key, id);
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok((status, body)) => panic!("{key}: a valid creation answered {status}: {body}"),
                    // The server is gone: this request may or may not have committed.
                    Err(_) => break,
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < ACKNOWLEDGED_BEFORE_KILL {
        assert!(Instant::now() < deadline, "the load made only {} incidents in 60 s", acked.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill_hard();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer failed");
    }
    let Ledger { sent, acknowledged } = std::mem::take(&mut *ledger.lock().await);
    let unanswered = sent.len() - acknowledged.len();
    println!("killed with {} acknowledged and {unanswered} unanswered of {} sent", acknowledged.len(), sent.len());
    assert!(acknowledged.len() >= ACKNOWLEDGED_BEFORE_KILL);

    // After the restart: every acknowledged incident is stored once, under its key, and
    // served.
    let server = Server::start(&db.url).await;
    let stored: HashMap<String, (i64, i64)> = sqlx::query_as::<_, (String, i64, i64)>(
        "select i.description, min(i.id), count(*) from incidents i where i.description like 'ketahanan %'
         group by i.description",
    )
    .fetch_all(&db.pool)
    .await
    .expect("stored incidents")
    .into_iter()
    .map(|(d, id, n)| (d, (id, n)))
    .collect();
    let keys: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("select key, incident_id from idempotency_keys where key like 'tahan-%'")
            .fetch_all(&db.pool)
            .await
            .expect("idempotency keys")
            .into_iter()
            .collect();
    for (key, id) in &acknowledged {
        let description = format!("ketahanan {key}");
        assert_eq!(stored.get(&description), Some(&(*id, 1)), "acknowledged {key} (incident {id}) is stored once");
        assert_eq!(keys.get(key), Some(id), "acknowledged {key} is stored under its key");
    }
    for (description, (id, n)) in &stored {
        assert_eq!(*n, 1, "{description} is stored {n} times (first as {id})");
    }
    assert_eq!(stored.len(), keys.len(), "every stored incident of the load has its key, and only those");
    let token = login(&server.base).await;
    let reader = api::Api::new(&server.base);
    for id in acknowledged.values().step_by(10) {
        let (status, _, body) = reader.incident(*id, &token).await;
        assert_eq!(status, 200, "the restarted server serves acknowledged incident {id}: {body}");
    }

    // Every client retries every request with its key, all at once: no duplicate, and
    // the same incident for what was acknowledged.
    let retried = futures::future::join_all(sent.iter().map(|s| post(&client, &server.base, &token, s))).await;
    let mut replayed = 0;
    for (s, answer) in sent.iter().zip(retried) {
        let (status, body) = answer.unwrap_or_else(|e| panic!("retry of {}: {e}", s.key));
        assert!(matches!(status, 200 | 201), "retry of {}: {status} {body}", s.key);
        let id = body["id"].as_i64().unwrap_or_else(|| panic!("retry of {}: no id: {body}", s.key));
        if let Some(first) = acknowledged.get(&s.key) {
            assert_eq!((status, id), (200, *first), "a retry of acknowledged {} returns its incident", s.key);
        }
        if status == 200 {
            replayed += 1;
        }
    }
    let per_key: Vec<(String, i64)> = sqlx::query_as(
        "select description, count(*) from incidents where description like 'ketahanan %' group by description
         having count(*) <> 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("duplicates");
    assert!(per_key.is_empty(), "keys with other than one incident after the retries: {per_key:?}");
    let total = db.count("select count(*) from incidents where description like 'ketahanan %'").await;
    assert_eq!(total, sent.len() as i64, "one incident per request sent, after the retries");
    println!(
        "{} retries: {replayed} replayed (200), {} created (201); {total} incidents for {} keys",
        sent.len(),
        sent.len() - replayed,
        sent.len()
    );
    drop(server);
    db.drop().await;
}
