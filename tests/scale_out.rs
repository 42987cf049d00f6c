//! Scale-out (issue 8): two `sipks serve` instances on one database, as behind a load
//! balancer. A write on instance A reaches instance B through PostgreSQL's
//! LISTEN/NOTIFY: B's tiles (the incident itself and its region's risk attributes), its
//! /api/risk and its /api/events stream show it within a second of A's answer; and an
//! instance that starts while the other is writing misses none of those writes.
//!
//! Tokens and logins (issue 17, defects 4 and 5): a token logged out on one instance, a
//! disabled user's tokens and an expired token stop working at once on the other too
//! (not after its token cache's time), and open event streams on it end; failed logins
//! are limited through the database, so that parallel attempts, the other instance and
//! many names from one address all count, while a stranger cannot lock the owner out.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;

use api::{at_point, Api, PROMPTLY};
use client::Reply;
use common::{api, client, decoded};
use common::{imported_db, Server};
use decoded::decode_one;

/// How soon another instance shows a write.
const BUDGET: Duration = Duration::from_secs(1);

/// The tests that time how soon B shows something run alone (write-locked); the others
/// share the machine (read-locked). Several instances hashing 65 passwords or writing
/// without pause beside a timed test would time the machine's two cores, not B.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

const USER: &str = "nasional.skala";
const PASSWORD: &str = "rahasia-uji-12345";

/// In Kota Makassar (73.71).
const IN_MAKASSAR: (f64, f64) = (119.42, -5.14);

/// The tile of `source` at zoom `z` holding a longitude/latitude (Web Mercator).
fn tile_path(source: &str, (lon, lat): (f64, f64), z: u8) -> String {
    let n = f64::from(1u32 << z);
    let (x, y) = ((lon + 180.0) / 360.0 * n, (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n);
    format!("/tiles/{source}/{z}/{}/{}", x.floor(), y.floor())
}

/// A point in Makassar, a little east of the centre for each `step`.
fn near(step: u32) -> (f64, f64) {
    (IN_MAKASSAR.0 + 0.001 * f64::from(step), IN_MAKASSAR.1)
}

/// Kota Makassar's incident count in an instance's /api/risk.
async fn risk_count(api: &Api) -> i64 {
    let reply = api.get("/api/risk?level=kabupaten_kota", None).await;
    assert_eq!(reply.status, 200, "/api/risk");
    let body = reply.json();
    let city = body["regions"].as_array().and_then(|r| r.iter().find(|r| r["kode"] == "73.71")).cloned();
    city.and_then(|c| c["counts"]["total"].as_i64()).expect("73.71 with counts.total in /api/risk")
}

/// Kota Makassar's `incident_count` in a kabupaten_kota tile.
fn tile_count(reply: &Reply) -> f64 {
    let city = decode_one(&reply.body).feature("kabupaten_kota", 7371).and_then(|f| f.number("incident_count"));
    city.expect("Kota Makassar (7371) with incident_count in its tile")
}

/// Polls until `done` holds; how long after `since` it held (None: not within PROMPTLY).
async fn until<F, Fut>(since: Instant, mut done: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    while since.elapsed() < PROMPTLY {
        if done().await {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// Fetches a tile with `If-None-Match` until it changes and `shows` holds of it; its
/// content and when. A tile can change for other reasons first (the minutely refresh of
/// the risk window's decay changes scores without a write), so a change alone is not
/// taken for the write.
async fn changed_tile(
    api: &Api,
    path: &str,
    token: Option<&str>,
    old: &str,
    since: Instant,
    shows: impl Fn(&Reply) -> bool,
) -> (Reply, Duration) {
    let mut tag = old.to_owned();
    loop {
        let reply = api.send(Method::GET, path, token, &[("if-none-match", &tag)], None).await;
        if reply.status != 304 {
            if reply.status != 200 || shows(&reply) {
                return (reply, since.elapsed());
            }
            tag = reply.etag().to_owned();
        }
        assert!(since.elapsed() < PROMPTLY, "{path} still without the write after {PROMPTLY:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn two_instances() -> (common::TestDb, Server, Server, String) {
    let db = imported_db().await;
    let hash = sipks::auth::hash_password(PASSWORD).expect("hash");
    sipks::db::users::create(&db.pool, USER, "", &hash, sipks::auth::Role::Nasional, None).await.expect("user");
    let (a, b) = tokio::join!(Server::start(&db.url), Server::start(&db.url));
    // Both prepare their tile geometry in the first seconds, on both cores: what is
    // timed here is following, not that.
    for server in [&a, &b] {
        let started = Instant::now();
        while server.get_full("/healthz").await.2["tiles_ready"] != true {
            assert!(started.elapsed() < Duration::from_secs(60), "{}: tile geometry never ready", server.base);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // A token is stored in the database: one login serves both instances.
    let token = Api::new(&a.base).token(USER, PASSWORD).await;
    (db, a, b, token)
}

#[tokio::test]
async fn a_write_on_one_instance_is_in_the_others_tiles_risk_and_events_within_a_second() {
    let _alone = MACHINE.write().await;
    let (db, a, b, token) = two_instances().await;
    let (on_a, on_b) = (Api::new(&a.base), Api::new(&b.base));
    // The first write also waits for B to listen (it started in parallel with A).
    let first = on_a.create(&token, &at_point(near(0), "skala: pertama")).await;
    let start = Instant::now();
    assert!(until(start, || async { risk_count(&on_b).await == 1 }).await.is_some(), "B never saw incident {first}");

    for step in 1..=3 {
        let at = near(step);
        let (risk_path, incident_path) = (tile_path("kabupaten_kota", at, 10), tile_path("incidents", at, 14));
        let risk_tile = on_b.get(&risk_path, None).await;
        assert_eq!(risk_tile.status, 200, "{risk_path}");
        let incident_tile = on_b.get(&incident_path, Some(&token)).await;
        assert!(matches!(incident_tile.status, 200 | 204), "{incident_path}: {}", incident_tile.status);
        let (risk_etag, incident_etag) = (risk_tile.etag().to_owned(), incident_tile.etag().to_owned());
        let (counted, risk) = (tile_count(&risk_tile), risk_count(&on_b).await);
        let mut events = on_b.events(Some(&token)).await;

        let id = on_a.create(&token, &at_point(at, &format!("skala: tulis {step}"))).await;
        let answered = Instant::now();
        let (risk_seen, (region_tile, region_seen), (point_tile, point_seen), event_seen) = tokio::join!(
            until(answered, || async { risk_count(&on_b).await == risk + 1 }),
            changed_tile(&on_b, &risk_path, None, &risk_etag, answered, |t| tile_count(t) == counted + 1.0),
            changed_tile(&on_b, &incident_path, Some(&token), &incident_etag, answered, |t| {
                decode_one(&t.body).feature("incidents", id as u64).is_some()
            }),
            async {
                let seen = events.incidents_until(answered + PROMPTLY, |e| e["id"] == id).await;
                seen.iter().any(|e| e["id"] == id && e["action"] != "delete").then(|| answered.elapsed())
            },
        );
        let risk_seen = risk_seen.unwrap_or_else(|| panic!("B's /api/risk never counted incident {id}"));
        let event_seen = event_seen.unwrap_or_else(|| panic!("B's /api/events never announced incident {id}"));
        assert_eq!(region_tile.status, 200, "{risk_path} on B");
        assert_eq!(tile_count(&region_tile), counted + 1.0, "Kota Makassar's incident_count in {risk_path} on B");
        assert_eq!(point_tile.status, 200, "{incident_path} on B");
        let point = decode_one(&point_tile.body);
        assert!(point.feature("incidents", id as u64).is_some(), "incident {id} in {incident_path} on B");
        println!(
            "write {step} (incident {id}) on B after A's answer: /api/risk {risk_seen:?}, region tile \
             {region_seen:?}, incident tile {point_seen:?}, event {event_seen:?}"
        );
        for (what, seen) in [
            ("/api/risk", risk_seen),
            ("region tile", region_seen),
            ("incident tile", point_seen),
            ("event", event_seen),
        ] {
            assert!(seen < BUDGET, "B's {what} showed incident {id} {seen:?} after A's answer, not within {BUDGET:?}");
        }

        // Its deletion on A leaves B's risk as it was.
        let deleted = on_a.delete(id, &token, Some("\"1\"")).await;
        assert_eq!(deleted.status, 204, "delete {id} on A");
        let gone = until(Instant::now(), || async { risk_count(&on_b).await == risk }).await;
        let gone = gone.unwrap_or_else(|| panic!("B's /api/risk kept deleted incident {id}"));
        assert!(gone < BUDGET, "B dropped deleted incident {id} after {gone:?}, not within {BUDGET:?}");
    }
    drop((a, b));
    db.drop().await;
}

#[tokio::test]
async fn an_instance_started_during_writes_on_another_misses_none_of_them() {
    let _shared = MACHINE.read().await;
    let db = imported_db().await;
    let hash = sipks::auth::hash_password(PASSWORD).expect("hash");
    sipks::db::users::create(&db.pool, USER, "", &hash, sipks::auth::Role::Nasional, None).await.expect("user");
    let a = Server::start(&db.url).await;
    let token = Api::new(&a.base).token(USER, PASSWORD).await;
    // A writes without pause while B starts (reads its engine, builds its tiles, starts
    // listening) and for a moment after.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (base, token, stop) = (a.base.clone(), token.clone(), Arc::clone(&stop));
        tokio::spawn(async move {
            let api = Api::new(&base);
            let mut written = 0u32;
            while !stop.load(Ordering::SeqCst) {
                api.create(&token, &at_point(near(written % 50), &format!("skala: mulai {written}"))).await;
                written += 1;
            }
            written
        })
    };
    let b = Server::start(&db.url).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.expect("the writer failed");
    let done = Instant::now();
    let (on_a, on_b) = (Api::new(&a.base), Api::new(&b.base));
    assert_eq!(risk_count(&on_a).await, i64::from(written), "A counts every incident written");
    let mut last = risk_count(&on_b).await;
    while last != i64::from(written) && done.elapsed() < PROMPTLY {
        tokio::time::sleep(Duration::from_millis(5)).await;
        last = risk_count(&on_b).await;
    }
    let seen = done.elapsed();
    assert_eq!(last, i64::from(written), "B, started during {written} writes on A, counts only {last} of them");
    // No time budget here beyond PROMPTLY: B applies what it missed one incident at a
    // time before the notices that queued meanwhile.
    println!("B, started during {written} writes on A, counted all of them {seen:?} after the last");
    drop((a, b));
    db.drop().await;
}

/// How soon a revocation holds on the other instance (its token cache trusts an entry
/// for 10 s).
const REVOKED_WITHIN: Duration = Duration::from_millis(1000);

/// Polls `/api/me` on `api` with `token` until it is refused; how long after `since`.
async fn refused_after(api: &Api, token: &str, since: Instant) -> Duration {
    loop {
        let reply = api.get("/api/me", Some(token)).await;
        match reply.status {
            401 => return since.elapsed(),
            200 if since.elapsed() < PROMPTLY => tokio::time::sleep(Duration::from_millis(10)).await,
            other => panic!("the token still answers {other} {:?} after its revocation", since.elapsed()),
        }
    }
}

/// A user of `role` made directly in the database, as `sipks users add` does.
async fn add_user(db: &common::TestDb, name: &str) -> i64 {
    let hash = sipks::auth::hash_password(PASSWORD).expect("hash");
    sipks::db::users::create(&db.pool, name, "", &hash, sipks::auth::Role::Nasional, None).await.expect("user")
}

#[tokio::test]
async fn revoked_tokens_stop_at_once_on_the_other_instance_and_end_its_streams() {
    let _alone = MACHINE.write().await;
    let (db, a, b, _) = two_instances().await;
    let (on_a, on_b) = (Api::new(&a.base), Api::new(&b.base));

    // Logged out on A: B refuses the token it has just checked (and cached), and B's
    // event stream of that token ends.
    let token = on_a.token(USER, PASSWORD).await;
    assert_eq!(on_b.get("/api/me", Some(&token)).await.status, 200, "B knows the token");
    let mut stream = on_b.events(Some(&token)).await;
    let out = Instant::now();
    assert_eq!(on_a.send(Method::POST, "/api/logout", Some(&token), &[], None).await.status, 204, "logout on A");
    let refused = refused_after(&on_b, &token, out).await;
    let ended = stream.revoked_by(out, out + PROMPTLY).await.expect("B's stream of the logged-out token ends");
    println!("logged out on A: refused by B after {refused:?}, B's stream ended after {ended:?}");
    assert!(refused < REVOKED_WITHIN && ended < REVOKED_WITHIN, "logout: B took {refused:?} / {ended:?}");

    // A user disabled from the command line: every token, on both instances, and the
    // writes it tries.
    let name = "nasional.nonaktif";
    add_user(&db, name).await;
    let token = on_a.token(name, PASSWORD).await;
    for api in [&on_a, &on_b] {
        assert_eq!(api.get("/api/me", Some(&token)).await.status, 200, "the token works before");
    }
    let (mut on_a_stream, mut on_b_stream) = (on_a.events(Some(&token)).await, on_b.events(Some(&token)).await);
    let disabled = Instant::now();
    assert!(sipks::db::users::set_disabled(&db.pool, name, true).await.expect("disable"), "the user exists");
    let refused = refused_after(&on_b, &token, disabled).await;
    let write = on_b.send(
        Method::POST,
        "/api/incidents",
        Some(&token),
        &[("content-type", "application/json")],
        Some(at_point(near(7), "skala: pengguna nonaktif").to_string().into_bytes()),
    );
    assert_eq!(write.await.status, 401, "a disabled user's write on B");
    for (what, stream) in [("A", &mut on_a_stream), ("B", &mut on_b_stream)] {
        let ended = stream.revoked_by(disabled, disabled + PROMPTLY).await;
        let ended = ended.unwrap_or_else(|| panic!("{what}'s stream of a disabled user goes on"));
        assert!(ended < REVOKED_WITHIN, "{what}'s stream of a disabled user ended after {ended:?}");
    }
    println!("disabled: refused by B after {refused:?}");
    assert!(refused < REVOKED_WITHIN, "disabled: B refused the token after {refused:?}");

    // An expired token is refused at its expiry, although B checked it a moment before,
    // and its stream ends then.
    let user = add_user(&db, "nasional.singkat").await;
    let token = sipks::auth::new_token().expect("token");
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    sipks::db::users::create_token(&db.pool, user, &sipks::auth::token_hash(&token), expires).await.expect("token");
    assert_eq!(on_b.get("/api/me", Some(&token)).await.status, 200, "a live token");
    let mut stream = on_b.events(Some(&token)).await;
    let expiry = Instant::now() + (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep_until(expiry.into()).await;
    let refused = refused_after(&on_b, &token, expiry).await;
    let ended = stream.revoked_by(expiry, expiry + PROMPTLY).await.expect("the stream of an expired token ends");
    println!("expired: refused by B after {refused:?}, its stream ended after {ended:?}");
    assert!(refused < REVOKED_WITHIN && ended < REVOKED_WITHIN, "expiry: B took {refused:?} / {ended:?}");
    drop((a, b));
    db.drop().await;
}

/// Whether a login answered 401 (verified and wrong) or 429 (refused by a limit).
async fn attempt(api: &Api, name: &str, password: &str) -> u16 {
    let reply = api.login(name, password).await;
    assert!(matches!(reply.status, 200 | 401 | 429), "login {name}: {}", reply.status);
    if reply.status == 429 {
        let wait: u64 = reply.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
        assert!((1..=300).contains(&wait), "Retry-After {wait}");
    }
    reply.status
}

#[tokio::test]
async fn login_limits_are_shared_checked_before_the_password_and_do_not_lock_the_owner_out() {
    let _shared = MACHINE.read().await;
    let (db, a, b, _) = two_instances().await;
    let address = |last: u8| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));

    // 40 wrong passwords for one name at once, from one address, half on each
    // instance: only the three free ones are verified (401); the others are refused
    // before their password is looked at (429), on both instances.
    let victim = "nasional.sasaran";
    add_user(&db, victim).await;
    let (from_a, from_b) = (Api::from_address(&a.base, address(2)), Api::from_address(&b.base, address(2)));
    let answers = futures::future::join_all(
        (0..40).map(|k| attempt(if k % 2 == 0 { &from_a } else { &from_b }, victim, "salah-kata-sandi")),
    )
    .await;
    let verified = answers.iter().filter(|&&s| s == 401).count();
    assert_eq!(verified, 3, "40 parallel wrong passwords: {verified} verified, {answers:?}");

    // One address trying many names: after twenty failures it waits, whatever the name.
    let sprayer = Api::from_address(&b.base, address(3));
    let mut statuses = Vec::new();
    for k in 0..25 {
        statuses.push(attempt(&sprayer, &format!("tebak.{k}"), "salah-kata-sandi").await);
    }
    assert_eq!(statuses.iter().filter(|&&s| s == 401).count(), 20, "one address, 25 names: {statuses:?}");
    assert!(statuses[20..].iter().all(|&s| s == 429), "after twenty failures the address waits: {statuses:?}");

    // The owner logged in from their own address before: a stranger who locks the name
    // from elsewhere does not lock the owner out there.
    let owner = "nasional.pemilik";
    add_user(&db, owner).await;
    let at_home = Api::from_address(&a.base, address(4));
    assert_eq!(attempt(&at_home, owner, PASSWORD).await, 200, "the owner logs in at home");
    let stranger = Api::from_address(&b.base, address(5));
    let tries: Vec<u16> =
        futures::future::join_all((0..6).map(|_| attempt(&stranger, owner, "salah-kata-sandi"))).await;
    assert!(tries.contains(&429), "the stranger is slowed down: {tries:?}");
    assert_eq!(attempt(&stranger, owner, PASSWORD).await, 429, "the name is locked for the stranger");
    for api in [&at_home, &Api::from_address(&b.base, address(4))] {
        assert_eq!(attempt(api, owner, PASSWORD).await, 200, "the owner, at home, is not locked out");
    }
    drop((a, b));
    db.drop().await;
}

#[tokio::test]
async fn a_change_whose_notice_never_came_reaches_every_instance_by_the_backstop() {
    let _alone = MACHINE.write().await;
    let (db, a, b, token) = two_instances().await;
    let (on_a, on_b) = (Api::new(&a.base), Api::new(&b.base));
    let id = on_a.create(&token, &at_point(near(20), "skala: tanpa pemberitahuan")).await;
    let start = Instant::now();
    assert!(until(start, || async { risk_count(&on_b).await == 1 }).await.is_some(), "B never saw incident {id}");
    // A change committed with no notice, as by a server killed between its commit and
    // its notice: the incident deleted in the database itself.
    let deleted = Instant::now();
    sqlx::query("update incidents set deleted_at = now(), updated_at = now(), version = version + 1 where id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .expect("delete in the database");
    let budget = sipks::service::BACKSTOP + BUDGET;
    for (what, api) in [("A", &on_a), ("B", &on_b)] {
        let gone = until(deleted, || async { risk_count(api).await == 0 }).await;
        let gone = gone.unwrap_or_else(|| panic!("{what} still counts incident {id}, deleted with no notice"));
        println!("{what} dropped incident {id}, deleted with no notice, after {gone:?}");
        assert!(gone < budget, "{what} took {gone:?}, not within the backstop's {budget:?}");
    }
    drop((a, b));
    db.drop().await;
}
