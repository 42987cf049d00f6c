//! Hostile input (issue 8): well over a hundred malformed or hostile requests across
//! every endpoint family (broken and deeply nested JSON, huge numbers, NaN, invalid
//! UTF-8, a polygon of a million vertices, overlong strings, SQL fragments in every
//! filter and path parameter, path traversal, tile coordinates out of range, bad tokens,
//! tokens of another region), sent byte for byte over TCP. Each gets the 4xx it should,
//! as problem+json with its status, a title and a detail; never a 5xx or a hang. (Bytes
//! that HTTP/1.1 does not allow in a request line are refused by hyper's parser with a
//! bare 400 before any route runs.) The server stays up (/healthz after every family)
//! and the database is unchanged.

#[path = "hostile/cases.rs"]
mod cases;
mod common;
#[path = "hostile/raw.rs"]
mod raw;

use serde_json::Value;

use api::Api;
use cases::{incident, Case, Expect, Known, Who, IN_JAKARTA, IN_MAKASSAR};
use common::api;
use common::{imported_db, Server, TestDb};
use raw::RawAnswer;
use sipks::auth::{hash_password, Role};

const PASSWORD: &str = "rahasia-uji-12345";
const NASIONAL: &str = "nasional.serangan";
const MAKASSAR: &str = "op.makassar.serangan";
const ANALIS: &str = "analis.serangan";

/// Everything a request could change: regions, incidents, their history, idempotency
/// keys, users and tokens.
async fn state(db: &TestDb) -> String {
    let rows: String = sqlx::query_scalar(
        "select concat_ws('|',
             (select md5(coalesce(string_agg(t::text, ',' order by id), '')) from incidents t),
             (select md5(coalesce(string_agg(t::text, ',' order by id), '')) from incident_history t),
             (select md5(coalesce(string_agg(t::text, ',' order by user_id, key), '')) from idempotency_keys t),
             (select md5(coalesce(string_agg(t::text, ',' order by id), '')) from users t),
             (select md5(coalesce(string_agg(t::text, ',' order by token_hash), '')) from api_tokens t),
             (select md5(coalesce(string_agg(t::text, ',' order by region_code, indicator, observed_on), ''))
                from region_indicators t))",
    )
    .fetch_one(&db.pool)
    .await
    .expect("database state");
    format!("{}|{rows}", db.fingerprint().await)
}

/// What is wrong with an answer, if anything.
fn judge(case: &Case, answer: &RawAnswer) -> Option<String> {
    let text = String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)]).into_owned();
    let status = answer.status;
    if case.expect == Expect::NoMatch {
        let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        return (status != 200 || body["count"] != 0).then(|| format!("{status}, not 200 with no match: {text}"));
    }
    if case.expect == Expect::Unparsable {
        return (status != 400 || !answer.body.is_empty()).then(|| format!("{status}, not the parser's 400: {text}"));
    }
    if let Expect::Status(wanted) = case.expect {
        if status != wanted {
            return Some(format!("{status}, not {wanted}: {text}"));
        }
    }
    if !(400..500).contains(&status) {
        return Some(format!("{status}, not a client error: {text}"));
    }
    let kind = answer.header("content-type").unwrap_or_default();
    if !kind.starts_with("application/problem+json") {
        return Some(format!("{status} as {kind:?}, not problem+json: {text}"));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&answer.body) else {
        return Some(format!("{status}: the problem is not JSON: {text}"));
    };
    let present = |key: &str| body[key].as_str().is_some_and(|v| !v.is_empty());
    if body["status"] != status || !present("title") || !present("detail") {
        return Some(format!("{status}: the problem lacks its status, title or detail: {body}"));
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_request_is_refused_as_a_problem_and_changes_nothing() {
    let db = imported_db().await;
    let hash = hash_password(PASSWORD).expect("hash");
    let makassar: sipks::region::RegionCode = "73.71".parse().expect("code");
    for (user, role, region) in [
        (NASIONAL, Role::Nasional, None),
        (MAKASSAR, Role::KabupatenKota, Some(&makassar)),
        (ANALIS, Role::Analis, None),
    ] {
        sipks::db::users::create(&db.pool, user, "", &hash, role, region).await.expect("create user");
    }
    let server = Server::start(&db.url).await;
    let api = Api::new(&server.base);
    let nasional = api.token(NASIONAL, PASSWORD).await;
    let (operator, analis) = (api.token(MAKASSAR, PASSWORD).await, api.token(ANALIS, PASSWORD).await);
    let known = Known {
        makassar: api.create(&nasional, &incident(IN_MAKASSAR, "sasaran Makassar")).await,
        jakarta: api.create(&nasional, &incident(IN_JAKARTA, "sasaran Jakarta")).await,
    };
    let before = state(&db).await;

    let cases = cases::all(&known);
    let refusals = cases.iter().filter(|c| !matches!(c.expect, Expect::NoMatch | Expect::Unparsable)).count();
    assert!(refusals >= 100, "only {refusals} hostile requests");
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut failures = Vec::new();
    let mut families: Vec<&str> = cases.iter().map(|c| c.family).collect();
    families.dedup();
    for family in families {
        for case in cases.iter().filter(|c| c.family == family) {
            let mut request = case.request.clone();
            let bearer = |token: &str| format!("Bearer {token}").into_bytes();
            let authorization = match &case.who {
                Who::Anonymous => None,
                Who::Nasional => Some(bearer(&nasional)),
                Who::Makassar => Some(bearer(&operator)),
                Who::Analis => Some(bearer(&analis)),
                Who::Header(value) => Some(value.clone()),
            };
            request.headers.extend(authorization.map(|v| ("authorization".to_owned(), v)));
            request.headers.push(("accept-language".to_owned(), b"en".to_vec()));
            match raw::send(&addr, &request).await {
                Ok(answer) => failures.extend(judge(case, &answer).map(|e| format!("{family}: {}: {e}", case.what))),
                Err(e) => failures.push(format!("{family}: {}: {e}", case.what)),
            }
        }
        let health = reqwest::get(format!("{}/healthz", server.base)).await.map(|r| r.status().as_u16());
        assert_eq!(health.ok(), Some(200), "/healthz after the {family} requests");
    }
    println!("{} requests ({refusals} to refuse as problems), {} wrongly answered", cases.len(), failures.len());
    assert!(failures.is_empty(), "{} wrongly answered:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(state(&db).await, before, "the hostile requests changed the database");
    drop(server);
    db.drop().await;
}
