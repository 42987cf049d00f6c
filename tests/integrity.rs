//! Nothing lost, nothing leaked (issue 17), against real PostGIS and the real server:
//! the audit history cannot be rewritten, slow clients cannot hold connections, and
//! answers to anonymous or out-of-scope callers carry no incident of another region.

mod common;

use std::time::{Duration, Instant};

use api::{at_point, Api};
use common::{api, decoded};
use common::{imported_db, Server};
use sipks::auth::{hash_password, Role};

const PASSWORD: &str = "rahasia-uji-12345";
const NASIONAL: &str = "nasional.integritas";

/// In Kota Makassar (73.71).
const IN_MAKASSAR: (f64, f64) = (119.42, -5.14);

/// Issue 17.11: the history of an incident (who changed what, when) is append-only in
/// the database itself: UPDATE, DELETE and TRUNCATE are refused for any role the server
/// could run as, while the server keeps adding entries.
#[tokio::test]
async fn the_audit_history_refuses_update_delete_and_truncate() {
    let db = imported_db().await;
    let hash = hash_password(PASSWORD).expect("hash");
    sipks::db::users::create(&db.pool, NASIONAL, "", &hash, Role::Nasional, None).await.expect("user");
    let server = Server::start(&db.url).await;
    let api = Api::new(&server.base);
    let token = api.token(NASIONAL, PASSWORD).await;
    let id = api.create(&token, &at_point(IN_MAKASSAR, "riwayat: awal")).await;
    let edited = api.patch(id, &token, Some("\"1\""), &serde_json::json!({"properties": {"severity": 5}})).await;
    assert_eq!(edited.status, 200, "edit: {}", String::from_utf8_lossy(&edited.body));
    let history = || async {
        sqlx::query_scalar::<_, String>(
            "select string_agg(t::text, ',' order by id) from incident_history t where incident_id = $1",
        )
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .expect("history")
    };
    let before = history().await;
    assert_eq!(db.count(&format!("select count(*) from incident_history where incident_id = {id}")).await, 2);

    for sql in [
        format!("update incident_history set reason = 'dipalsukan' where incident_id = {id}"),
        format!("update incident_history set after = null, actor_id = null where incident_id = {id}"),
        format!("delete from incident_history where incident_id = {id}"),
        "delete from incident_history".to_owned(),
        "truncate incident_history".to_owned(),
    ] {
        let refused = sqlx::query(&sql).execute(&db.pool).await.expect_err(&sql);
        let code = refused.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: refused as insufficient_privilege: {refused}");
    }
    // Also inside a transaction of the server's kind (the refusal is not a matter of the
    // statement's form).
    let mut tx = db.pool.begin().await.expect("begin");
    let refused = sqlx::query("delete from incident_history where id = (select max(id) from incident_history)")
        .execute(&mut *tx)
        .await;
    assert!(refused.is_err(), "a delete inside a transaction is refused");
    drop(tx);
    assert_eq!(history().await, before, "the history is unchanged");

    // The server still appends: a deletion adds its entry.
    let deleted = api.delete(id, &token, Some("\"2\"")).await;
    assert_eq!(deleted.status, 204, "delete: {}", String::from_utf8_lossy(&deleted.body));
    let after = history().await;
    assert!(after.starts_with(&before) && after.len() > before.len(), "the deletion appended its entry");
    assert_eq!(db.count(&format!("select count(*) from incident_history where incident_id = {id}")).await, 3);
    drop(server);
    db.drop().await;
}

/// A connection that sends a request's first line and then one header byte every 100
/// ms, never finishing its headers; how long until the server closed it (None: still
/// open at `give_up`).
async fn trickle(address: String, give_up: Duration) -> Option<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let start = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: uji\r\nX-Lambat: ").await;
    let mut buf = [0u8; 512];
    while start.elapsed() < give_up {
        if stream.write_all(b"a").await.is_err() {
            return Some(start.elapsed());
        }
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Err(_) => {}
            // Closed (0 bytes, a reset) or answered (a 408): the server let go.
            Ok(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// Issue 17.10: clients trickling their headers are cut off after the header timeout,
/// and at most `SIPKS_MAX_CONNECTIONS` connections are open at once: with the cap taken
/// by tricklers, a normal request waits for the timeout to free a place (it would be
/// answered at once without a cap), and is answered then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_by_the_header_timeout_and_connections_are_capped() {
    const TRICKLERS: usize = 200;
    let db = common::empty_db().await;
    let env = [("SIPKS_HEADER_TIMEOUT", "1"), ("SIPKS_MAX_CONNECTIONS", "100")];
    let server = Server::start_with_env(&db.url, &env).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let give_up = Duration::from_secs(8);
    let started = Instant::now();
    let tricklers: Vec<_> = (0..TRICKLERS).map(|_| tokio::spawn(trickle(address.clone(), give_up))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The cap is taken: a normal request waits for a place, then is answered.
    let asked = Instant::now();
    let client = reqwest::Client::builder().timeout(give_up).build().expect("client");
    let health = client.get(format!("{}/healthz", server.base)).send().await.map(|r| r.status().as_u16());
    let waited = asked.elapsed();
    assert_eq!(health.ok(), Some(200), "/healthz while {TRICKLERS} clients trickle");
    let mut held = Vec::new();
    for trickler in tricklers {
        held.push(trickler.await.expect("a trickler failed"));
    }
    let longest = held.iter().flatten().max().copied();
    let still_open = held.iter().filter(|h| h.is_none()).count();
    println!("{TRICKLERS} tricklers: {still_open} still open after {give_up:?}, longest held {longest:?}; /healthz waited {waited:?}");
    assert_eq!(still_open, 0, "{still_open} of {TRICKLERS} trickling connections still open after {give_up:?}");
    // Each is cut off about a second after it got a place; the last ones waited for the
    // first to go (two rounds of 100).
    let longest = longest.expect("some trickler");
    assert!(longest < Duration::from_secs(4), "a trickling connection was held {longest:?}");
    assert!(waited >= Duration::from_millis(500), "/healthz answered after {waited:?}: no cap on connections");
    assert!(waited < Duration::from_secs(4), "/healthz waited {waited:?} for a place");
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(server);
    db.drop().await;
}

/// In Jakarta Pusat (31.71).
const IN_JAKARTA: (f64, f64) = (106.82, -6.18);

async fn user(db: &common::TestDb, name: &str, role: Role, region: Option<&str>) {
    let hash = hash_password(PASSWORD).expect("hash");
    let region: Option<sipks::region::RegionCode> = region.map(|r| r.parse().expect("code"));
    sipks::db::users::create(&db.pool, name, "", &hash, role, region.as_ref()).await.expect("user");
}

/// A region's risk explanation as `token` sees it.
async fn explanation(api: &Api, kode: &str, token: Option<&str>) -> serde_json::Value {
    let reply = api.get(&format!("/api/regions/{kode}/risk"), token).await;
    assert_eq!(reply.status, 200, "/api/regions/{kode}/risk: {}", String::from_utf8_lossy(&reply.body));
    reply.json()["explanation"].clone()
}

/// Issue 17.3: a region's risk explanation names its incidents (id, time, part) only to
/// a caller who may read every incident of the region; anonymous callers and operators
/// asking about a region beyond their own get the parts summed per category, which add
/// up to the same incident score. An incident's history withholds the states in which
/// it was outside the caller's region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_explanations_and_history_show_incidents_only_within_the_callers_scope() {
    let db = imported_db().await;
    user(&db, NASIONAL, Role::Nasional, None).await;
    user(&db, "op.makassar.integritas", Role::KabupatenKota, Some("73.71")).await;
    user(&db, "op.sulsel.integritas", Role::Provinsi, Some("73")).await;
    let server = Server::start(&db.url).await;
    let api = Api::new(&server.base);
    let nasional = api.token(NASIONAL, PASSWORD).await;
    let city = api.token("op.makassar.integritas", PASSWORD).await;
    let province = api.token("op.sulsel.integritas", PASSWORD).await;
    let in_makassar = api.create(&nasional, &at_point(IN_MAKASSAR, "lingkup: Makassar")).await;
    let in_jakarta = api.create(&nasional, &at_point(IN_JAKARTA, "lingkup: Jakarta")).await;
    // In Kabupaten Gowa (73.06), in the province but outside the city.
    let in_gowa = api.create(&nasional, &at_point((119.77, -5.34), "lingkup: Gowa")).await;

    let ids = |e: &serde_json::Value| -> Vec<i64> {
        e["contributions"].as_array().map(|c| c.iter().filter_map(|c| c["id"].as_i64()).collect()).unwrap_or_default()
    };
    for (who, token, kode, sees) in [
        ("anonymous", None, "31.71", None),
        ("anonymous", None, "73.71", None),
        ("the 73.71 operator", Some(city.as_str()), "31.71", None),
        ("the 73.71 operator", Some(city.as_str()), "73", None),
        ("the 73.71 operator", Some(city.as_str()), "73.71", Some(vec![in_makassar])),
        ("the provinsi 73 user", Some(province.as_str()), "31.71", None),
        ("the provinsi 73 user", Some(province.as_str()), "73", Some(vec![in_makassar, in_gowa])),
        ("the nasional user", Some(nasional.as_str()), "31.71", Some(vec![in_jakarta])),
    ] {
        let e = explanation(&api, kode, token).await;
        let text = e.to_string();
        match sees {
            None => {
                assert!(e.get("contributions").is_none(), "{who} sees {kode}'s incidents one by one: {text}");
                for id in [in_makassar, in_jakarta, in_gowa] {
                    assert!(!text.contains(&format!("\"id\":{id}")), "{who} sees incident {id} in {kode}: {text}");
                }
            }
            Some(mut expected) => {
                let mut seen = ids(&e);
                seen.sort_unstable();
                expected.sort_unstable();
                assert_eq!(seen, expected, "{who}: the incidents of {kode}");
            }
        }
        // Everyone gets the parts per category, summing to the incident score.
        let parts = e["contributions_by_category"].as_array().unwrap_or_else(|| panic!("{who}, {kode}: {text}"));
        let sum: f64 = parts.iter().filter_map(|p| p["contribution"].as_f64()).sum();
        let count: i64 = parts.iter().filter_map(|p| p["count"].as_i64()).sum();
        let score = e["incident_score"].as_f64().expect("incident_score");
        assert!((sum - score).abs() < 1e-9 * score.max(1.0), "{who}, {kode}: parts sum to {sum}, not {score}");
        assert_eq!(count, if kode == "73" { 2 } else { 1 }, "{who}, {kode}: incidents counted");
    }

    // Moved from Jakarta into Makassar: the Makassar operator sees the history, but not
    // where the incident was before.
    let moved = api
        .patch(
            in_jakarta,
            &nasional,
            Some("\"1\""),
            &serde_json::json!({"geometry": {"type": "Point", "coordinates": [IN_MAKASSAR.0, IN_MAKASSAR.1]}}),
        )
        .await;
    assert_eq!(moved.status, 200, "move: {}", String::from_utf8_lossy(&moved.body));
    let reply = api.get(&format!("/api/incidents/{in_jakarta}/history"), Some(&city)).await;
    assert_eq!(reply.status, 200, "history for the operator");
    let history = reply.json();
    let text = history.to_string();
    assert!(!text.contains("31.71") && !text.contains("106.82"), "the operator sees the earlier place: {text}");
    let entries = history["history"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert!(entries[0]["after"].is_null() && entries[0]["withheld"] == serde_json::json!(["after"]), "{text}");
    assert!(entries[1]["before"].is_null() && entries[1]["after"]["properties"]["kabupaten_kota"] == "73.71");
    // The nasional user sees all of it.
    let full = api.get(&format!("/api/incidents/{in_jakarta}/history"), Some(&nasional)).await.json();
    assert!(full.to_string().contains("31.71"), "the nasional user sees the whole history: {full}");
    drop(server);
    db.drop().await;
}

/// The tile of `source` at zoom `z` holding a longitude/latitude (Web Mercator).
fn tile_path(source: &str, (lon, lat): (f64, f64), z: u8) -> String {
    let n = f64::from(1u32 << z);
    let (x, y) = ((lon + 180.0) / 360.0 * n, (1.0 - lat.to_radians().tan().asinh() / std::f64::consts::PI) / 2.0 * n);
    format!("/tiles/{source}/{z}/{}/{}", x.floor(), y.floor())
}

/// Issue 17.8: reports known only by a province or a regency are in the incident tiles
/// at their region's label point at every zoom (they vanished from z 5 and z 9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_only_reports_are_in_incident_tiles_at_every_zoom() {
    let db = imported_db().await;
    user(&db, NASIONAL, Role::Nasional, None).await;
    let server = Server::start(&db.url).await;
    let api = Api::new(&server.base);
    let token = api.token(NASIONAL, PASSWORD).await;
    let mut missing = Vec::new();
    for kode in ["73", "31.71"] {
        let mut body = at_point(IN_MAKASSAR, &format!("hanya wilayah {kode}"));
        body["geometry"] = serde_json::Value::Null;
        body["properties"]["kode"] = serde_json::json!(kode);
        let id = api.create(&token, &body).await;
        let region = api.get(&format!("/api/regions/{kode}"), None).await.json();
        let point = &region["properties"]["label_point"];
        let label = (point[0].as_f64().expect("lon"), point[1].as_f64().expect("lat"));
        let mut bodies = Vec::new();
        for z in 0..=14u8 {
            let path = tile_path("incidents", label, z);
            let reply = api.get(&path, Some(&token)).await;
            assert!(matches!(reply.status, 200 | 204), "{path}: {}", reply.status);
            bodies.push((path, reply.body));
        }
        let decoded = decoded::decode(&bodies);
        for (z, (path, _)) in bodies.iter().enumerate() {
            let tile = &decoded[path];
            let clustered: f64 = tile.features("incidents").iter().filter_map(|f| f.number("point_count")).sum();
            let found = tile.feature("incidents", id as u64).is_some_and(|f| f.flag("cluster") == Some(false))
                || clustered == 1.0;
            if !found {
                missing.push(format!("{kode} (incident {id}) at z {z}: {path}"));
            }
        }
        // Deleted again, so that the next region's tiles hold only its own report.
        assert_eq!(api.delete(id, &token, Some("\"1\"")).await.status, 204);
    }
    assert!(missing.is_empty(), "region-only reports missing from incident tiles:\n{}", missing.join("\n"));
    drop(server);
    db.drop().await;
}

/// The incidents the server's engine holds (its /healthz count) and per regency (its
/// /api/risk), and the same counted in PostgreSQL.
async fn engine_and_database(api: &Api, db: &common::TestDb) -> ((i64, Vec<(String, i64)>), (i64, Vec<(String, i64)>)) {
    let health = api.get("/healthz", None).await.json();
    let risk = api.get("/api/risk?level=kabupaten_kota", None).await.json();
    let mut per_regency: Vec<(String, i64)> = risk["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter_map(|r| Some((r["kode"].as_str()?.to_owned(), r["counts"]["total"].as_i64()?)))
        .filter(|(_, n)| *n > 0)
        .collect();
    per_regency.sort();
    let engine = (health["incidents"].as_i64().expect("/healthz incidents"), per_regency);
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "select kabupaten_kota_code, count(*) from incidents where deleted_at is null group by 1 order by 1",
    )
    .fetch_all(&db.pool)
    .await
    .expect("stored counts");
    let database = (stored.iter().map(|(_, n)| n).sum(), stored);
    (engine, database)
}

/// Issue 17.1: a full reload of the engine (a bulk import's notice, a reconnect) swaps
/// in a snapshot read a moment before; the writes committed meanwhile are replayed, so
/// that after writers and reloads the engine holds exactly what is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reloads_during_writes_lose_no_incident_from_the_engine() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const WRITERS: usize = 4;
    let db = imported_db().await;
    user(&db, NASIONAL, Role::Nasional, None).await;
    let server = Server::start(&db.url).await;
    let api = Api::new(&server.base);
    let token = api.token(NASIONAL, PASSWORD).await;
    let stop = Arc::new(AtomicBool::new(false));
    let places = [IN_MAKASSAR, IN_JAKARTA, (112.74, -7.26), (119.77, -5.34)];
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, token, stop) = (server.base.clone(), token.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let api = Api::new(&base);
                let mut n = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let (lon, lat) = places[w];
                    let at = (lon + 0.0001 * f64::from(n % 100), lat);
                    api.create(&token, &at_point(at, &format!("muat ulang {w}-{n}"))).await;
                    n += 1;
                }
                n
            })
        })
        .collect();
    // Reloads as a bulk import announces itself, while the writers write.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        sqlx::query("select pg_notify('sipks_changes', 'bulk')").execute(&db.pool).await.expect("notify");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let mut written = 0;
    for writer in writers {
        written += writer.await.expect("a writer failed");
    }
    // The last reload and its replay may still run: wait (boundedly) until they are done.
    let deadline = Instant::now() + api::PROMPTLY;
    let (mut engine, mut database) = engine_and_database(&api, &db).await;
    while engine != database && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        (engine, database) = engine_and_database(&api, &db).await;
    }
    println!("{written} incidents written during 20 reloads; engine {}, database {}", engine.0, database.0);
    assert_eq!(database.0, i64::from(written), "every acknowledged write is stored");
    assert_eq!(engine, database, "the engine holds what is stored (total, per regency)");
    drop(server);
    db.drop().await;
}
