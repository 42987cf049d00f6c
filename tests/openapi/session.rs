//! What the test calls the API with, and what it learns on the way: the incidents
//! and the two users in the database, the bodies it sends, the users' tokens and the
//! incident the operator records, and the documented answers that need them.

use std::collections::BTreeMap;
use std::path::Path;

use axum::http::{Method, StatusCode};
use axum::Router;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use sipks::auth::Role;
use sipks::region::RegionCode;

use super::{assert_documented, is_json, send, Call, Payload, Reply};

/// The national user of the test, who reads.
pub const PUSAT: &str = "pusat";
/// The operator of Kota Makassar (kabupaten_kota 73.71), who writes.
pub const OPERATOR: &str = "operator.makassar";
/// Both users' password.
const PASSWORD: &str = "rahasia-sekali-123";
/// Where the operator records the incident: in Kota Makassar (73.71).
const IN_MAKASSAR: [f64; 2] = [119.43, -5.14];
/// In Kota Administrasi Jakarta Pusat (31.71), outside the operator's region.
const IN_JAKARTA: [f64; 2] = [106.82, -6.18];

/// Loads twelve incidents in Kota Makassar (73.71), two days old and a few hundred
/// metres apart, and an indicator there, so that the answers have contributions,
/// indicators and a cluster to describe.
pub async fn load_incidents(pool: &sqlx::PgPool, dir: &Path) {
    let recent = (Utc::now() - chrono::Duration::days(2)).to_rfc3339();
    let mut csv = String::from("lon,lat,occurred_at,category,severity,status,source,description,id\n");
    for i in 0..12 {
        let (x, y) = (119.42 + f64::from(i % 4) * 0.003, -5.14 + f64::from(i / 4) * 0.003);
        csv.push_str(&format!("{x},{y},{recent},antar_kelompok,{},terjadi,polri,Bentrok {i},OA-{i}\n", 1 + i % 5));
    }
    let incidents = dir.join("incidents.csv");
    std::fs::write(&incidents, csv).expect("write");
    let index = sipks::service::build_index(pool).await.expect("index");
    sipks::service::import_incidents(pool, &index, &incidents, false).await.expect("incidents import");
    let indicators = dir.join("indicators.csv");
    std::fs::write(&indicators, "kode,indicator,value,date\n73.71,ikp_bawaslu,80,2026-09-01\n").expect("write");
    sipks::service::import_indicators(pool, &indicators).await.expect("indicators import");
}

/// The national user and the operator of Kota Makassar, with the same password.
pub async fn add_users(pool: &sqlx::PgPool) {
    let hash = sipks::auth::hash_password(PASSWORD).expect("hash");
    let makassar: RegionCode = "73.71".parse().expect("code");
    sipks::db::users::create(pool, PUSAT, "Ditjen Politik dan PUM", &hash, Role::Nasional, None)
        .await
        .expect("national user");
    sipks::db::users::create(pool, OPERATOR, "Kesbangpol Kota Makassar", &hash, Role::KabupatenKota, Some(&makassar))
        .await
        .expect("operator");
}

fn login(username: &str, password: &str) -> Payload {
    ("application/json", json!({"username": username, "password": password}))
}

/// The incident the operator records: a land dispute at `at` (`[lon, lat]`) yesterday.
fn new_incident(at: [f64; 2]) -> Payload {
    let yesterday = (Utc::now() - chrono::Duration::days(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let properties = json!({
        "category": "agraria",
        "severity": 3,
        "occurred_at": yesterday,
        "source": "polri",
        "description": "Sengketa lahan antar warga",
        "casualties": {"luka": 2},
    });
    (
        "application/geo+json",
        json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": at}, "properties": properties}),
    )
}

/// The body an operation is called with, if it takes one.
pub fn request_body(method: &str, template: &str) -> Option<Payload> {
    match (method, template) {
        ("post", "/api/login") => Some(login(OPERATOR, PASSWORD)),
        ("post", "/api/incidents") => Some(new_incident(IN_MAKASSAR)),
        ("patch", "/api/incidents/{id}") => {
            Some(("application/geo+json", json!({"properties": {"status": "terjadi", "severity": 4}})))
        }
        _ => None,
    }
}

/// What the test learns as it goes: the users' tokens, and the values of parameters
/// that depend on this database rather than on the document's examples.
#[derive(Default)]
pub struct Session {
    tokens: BTreeMap<String, String>,
    /// By parameter name: the incident's `id` and `If-Match` (its ETag), and the list's
    /// `from`, `to`, `level` and `cursor`, chosen so that the list holds the incident.
    pub live: BTreeMap<String, String>,
}

impl Session {
    pub fn token(&self, user: &str) -> &str {
        self.tokens.get(user).unwrap_or_else(|| panic!("{user} has not logged in"))
    }

    fn id(&self) -> i64 {
        self.live.get("id").and_then(|id| id.parse().ok()).expect("the incident's id")
    }

    /// Learns from an operation's answer, and checks the documented answers that need
    /// what came before: a second login and a wrong password, a retried and a
    /// misplaced create, an edit without If-Match, a deleted incident, a revoked token.
    pub async fn follow(
        &mut self,
        app: &Router,
        doc: &Value,
        (method, template): (&str, &str),
        call: &Call,
        reply: &Reply,
    ) {
        let operation = &doc["paths"][template][method];
        let what = format!("{method} {template}");
        let body = if is_json(&reply.media_type()) { reply.json(&what) } else { Value::Null };
        match (method, template) {
            ("post", "/api/login") => {
                let user =
                    json!({"id": body["user"]["id"], "username": OPERATOR, "role": "kabupaten_kota", "kode": "73.71"});
                assert_eq!(body["user"], user);
                self.tokens.insert(OPERATOR.to_owned(), body["token"].as_str().expect("token").to_owned());
                let reply = send(app, Method::POST, "/api/login", &[], Some(&login(PUSAT, PASSWORD))).await;
                assert_eq!(reply.status, StatusCode::OK, "{what}: the national user");
                assert_documented(doc, operation, &reply, &format!("{what}: the national user"));
                self.tokens.insert(PUSAT.to_owned(), reply.json(&what)["token"].as_str().expect("token").to_owned());
                let reply =
                    send(app, Method::POST, "/api/login", &[], Some(&login(PUSAT, "bukan-kata-sandinya"))).await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: a wrong password");
                assert_documented(doc, operation, &reply, &format!("{what}: a wrong password"));
            }
            ("get", "/api/me") => {
                assert_eq!((body["username"].as_str(), body["kode"].as_str()), (Some(OPERATOR), Some("73.71")));
            }
            ("post", "/api/incidents") => {
                assert_eq!(reply.status, StatusCode::CREATED, "{what}");
                let id = body["id"].as_i64().expect("id");
                assert_eq!(reply.header("location"), format!("/api/incidents/{id}"));
                let properties = &body["properties"];
                assert_eq!(
                    (properties["kabupaten_kota"].as_str(), properties["reporter"].as_str()),
                    (Some("73.71"), Some(OPERATOR))
                );
                let retry = send(app, call.method.clone(), &call.uri, &call.headers, call.body.as_ref()).await;
                assert_eq!(retry.status, StatusCode::OK, "{what}: a retry with the same Idempotency-Key");
                assert_documented(doc, operation, &retry, &format!("{what}: a retry"));
                assert_eq!(retry.json(&what)["id"], id, "{what}: a retry made another incident");
                let elsewhere = new_incident(IN_JAKARTA);
                let refused = send(app, call.method.clone(), &call.uri, &call.auth, Some(&elsewhere)).await;
                assert_eq!(refused.status, StatusCode::FORBIDDEN, "{what}: outside the operator's region");
                assert_documented(doc, operation, &refused, &format!("{what}: outside the operator's region"));

                let risk = send(app, Method::GET, "/api/regions/73.71/risk", &[], None).await.json("risk of 73.71");
                let level = risk["risk_level"].as_str().expect("risk_level").to_owned();
                let now = Utc::now();
                let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
                let live = [
                    ("id", id.to_string()),
                    ("If-Match", reply_etag(reply)),
                    ("from", time(now - chrono::Duration::days(2))),
                    ("to", time(now)),
                    ("level", level),
                    ("cursor", (id + 1).to_string()),
                ];
                self.live.extend(live.map(|(name, value)| (name.to_owned(), value)));
            }
            ("get", "/api/incidents/{id}") => assert_eq!(body["id"], self.id(), "{what}"),
            ("get", "/api/incidents") => {
                let ids: Vec<&Value> =
                    body["features"].as_array().expect("features").iter().map(|f| &f["id"]).collect();
                assert!(ids.contains(&&json!(self.id())), "{what}: {} does not list the incident", call.uri);
            }
            ("patch", "/api/incidents/{id}") => {
                let properties = &body["properties"];
                assert_eq!((properties["status"].as_str(), properties["version"].as_i64()), (Some("terjadi"), Some(2)));
                self.live.insert("If-Match".to_owned(), reply_etag(reply));
                let reply = send(app, call.method.clone(), &call.uri, &call.auth, call.body.as_ref()).await;
                assert_eq!(reply.status, StatusCode::PRECONDITION_REQUIRED, "{what}: without If-Match");
                assert_documented(doc, operation, &reply, &format!("{what}: without If-Match"));
            }
            ("get", "/api/incidents/{id}/history") => {
                let history = body["history"].as_array().expect("history");
                let done: Vec<(&str, &str)> = history
                    .iter()
                    .map(|entry| {
                        (entry["action"].as_str().unwrap_or_default(), entry["actor"].as_str().unwrap_or_default())
                    })
                    .collect();
                assert_eq!(done, [("create", OPERATOR), ("update", OPERATOR)], "{what}");
            }
            ("delete", "/api/incidents/{id}") => {
                let read = &doc["paths"][template]["get"];
                let reply = send(app, Method::GET, &call.uri, &call.auth, None).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{what}: reading it afterwards");
                assert_documented(doc, read, &reply, &format!("{what}: reading it afterwards"));
            }
            ("post", "/api/logout") => {
                let me = &doc["paths"]["/api/me"]["get"];
                let reply = send(app, Method::GET, "/api/me", &call.auth, None).await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: the token afterwards");
                assert_documented(doc, me, &reply, &format!("{what}: the token afterwards"));
            }
            _ => {}
        }
    }
}

fn reply_etag(reply: &Reply) -> String {
    let etag = reply.header("etag");
    assert!(!etag.is_empty(), "no ETag");
    etag.to_owned()
}
