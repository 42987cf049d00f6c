//! How closely a second node follows the writes made on the first (issue 17.2), run by
//! `scripts/bench-follow` against two `sipks serve` nodes on one database.
//!
//! Writes are sent to node A at a fixed rate (open loop: one every 1/RATE s, whatever
//! the answers' times, as operators would), each a new incident in the map's window at
//! a regency's label point. Both nodes' `/api/events` streams are read; for each
//! incident the time its `incident` event arrived from B is compared with the time it
//! arrived from A. After the load, it waits until B has announced every write (at most
//! two minutes) and reports, as one `RESULT` line: writes sent and acknowledged, the
//! rate reached, B's lag behind A (p50, p99, max), the writes B never announced, and
//! how long after the last acknowledgement B announced the last write (catch-up).
//!
//! Environment: `FOLLOW_A`, `FOLLOW_B` (base URLs), `FOLLOW_TOKEN` (a nasional user's
//! token), `FOLLOW_POINTS` (a file of `lon,lat` lines), `FOLLOW_RATE` (writes/s,
//! default 400), `FOLLOW_SECONDS` (default 30).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set (run scripts/bench-follow)"))
}

/// Arrival times of `incident` create events, by incident id.
type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

/// Reads a node's event stream into `arrivals` until the process ends.
async fn read_events(client: reqwest::Client, base: String, token: String, arrivals: Arrivals) {
    let mut response = client
        .get(format!("{base}/api/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{base}/api/events: {e}"));
    assert_eq!(response.status().as_u16(), 200, "{base}/api/events");
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let now = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) else { continue };
            let Ok(event) = serde_json::from_str::<Value>(data.trim()) else { continue };
            if event["type"] == "incident" {
                if let Some(id) = event["id"].as_i64() {
                    crate::lock(&arrivals).entry(id).or_insert(now);
                }
            }
        }
    }
    panic!("{base}/api/events ended");
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let (a, b, token) = (env("FOLLOW_A"), env("FOLLOW_B"), env("FOLLOW_TOKEN"));
    let points: Vec<(f64, f64)> = std::fs::read_to_string(env("FOLLOW_POINTS"))
        .expect("FOLLOW_POINTS")
        .lines()
        .filter_map(|l| l.split_once(',').and_then(|(x, y)| Some((x.parse().ok()?, y.parse().ok()?))))
        .collect();
    assert!(!points.is_empty(), "no points in FOLLOW_POINTS");
    let rate: f64 = std::env::var("FOLLOW_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(400.0);
    let seconds: f64 = std::env::var("FOLLOW_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30.0);
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");

    let (on_a, on_b): (Arrivals, Arrivals) = (Arc::default(), Arc::default());
    tokio::spawn(read_events(client.clone(), a.clone(), token.clone(), Arc::clone(&on_a)));
    tokio::spawn(read_events(client.clone(), b.clone(), token.clone(), Arc::clone(&on_b)));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let run = chrono::Utc::now().timestamp_millis();
    let occurred = (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let total = (rate * seconds).round() as usize;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut writes = Vec::with_capacity(total);
    for k in 0..total {
        tick.tick().await;
        let (lon, lat) = points[k % points.len()];
        let shift = (k / points.len()) as f64 * 1e-4;
        let body = json!({
            "type": "Feature",
            "geometry": { "type": "Point", "coordinates": [lon + shift, lat] },
            "properties": {
                "category": "antar_kelompok", "severity": 3, "occurred_at": occurred,
                "source": "beban-ikut", "description": format!("bench follow {run} {k}"),
            },
        });
        let request = client
            .post(format!("{a}/api/incidents"))
            .bearer_auth(&token)
            .header("idempotency-key", format!("ikut-{run}-{k}"))
            .json(&body);
        writes.push(tokio::spawn(async move {
            let reply = request.send().await.ok()?;
            let answered = Instant::now();
            if reply.status().as_u16() != 201 {
                return None;
            }
            let feature: Value = reply.json().await.ok()?;
            Some((feature["id"].as_i64()?, answered))
        }));
    }
    let sent_in = started.elapsed().as_secs_f64();
    let mut acknowledged = Vec::with_capacity(total);
    for write in writes {
        if let Ok(Some(done)) = write.await {
            acknowledged.push(done);
        }
    }
    let last_answer = acknowledged.iter().map(|(_, at)| *at).max().unwrap_or_else(Instant::now);
    // Until B has announced every acknowledged write, at most two minutes.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let missing = {
            let (seen_a, seen_b) = (lock(&on_a), lock(&on_b));
            acknowledged.iter().filter(|(id, _)| !seen_a.contains_key(id) || !seen_b.contains_key(id)).count()
        };
        if missing == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (seen_a, seen_b) = (lock(&on_a), lock(&on_b));
    let mut lags = Vec::new();
    let mut behind_answer = Vec::new();
    let mut unseen = 0;
    let mut last_b = None::<Instant>;
    for (id, answered) in &acknowledged {
        match (seen_a.get(id), seen_b.get(id)) {
            (Some(at_a), Some(at_b)) => {
                lags.push(at_b.saturating_duration_since(*at_a).as_secs_f64() * 1000.0);
                behind_answer.push(at_b.saturating_duration_since(*answered).as_secs_f64() * 1000.0);
                last_b = Some(last_b.map_or(*at_b, |l| l.max(*at_b)));
            }
            _ => unseen += 1,
        }
    }
    lags.sort_by(f64::total_cmp);
    behind_answer.sort_by(f64::total_cmp);
    let catch_up = last_b.map_or(f64::NAN, |l| l.saturating_duration_since(last_answer).as_secs_f64() * 1000.0);
    println!(
        "RESULT sent={total} acknowledged={} rate={:.0} lag_p50_ms={:.1} lag_p99_ms={:.1} lag_max_ms={:.1} \
         behind_answer_p99_ms={:.1} unseen={unseen} catch_up_ms={catch_up:.0}",
        acknowledged.len(),
        acknowledged.len() as f64 / sent_in,
        percentile(&lags, 50.0),
        percentile(&lags, 99.0),
        lags.last().copied().unwrap_or(f64::NAN),
        percentile(&behind_answer, 99.0),
    );
}
