//! The incident API as a client sees it: requests with a bearer token and any headers,
//! problem+json checks, incident bodies, and a server-sent event reader.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::Reply;

/// One keep-alive client of the shared server; problems in English.
pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api { client: reqwest::Client::new(), base: base.to_owned() }
    }

    /// A client whose connections come from `address` (any of 127.0.0.0/8 reaches a
    /// server on 127.0.0.1): another client address, as the server sees it.
    pub fn from_address(base: &str, address: std::net::IpAddr) -> Api {
        let client = reqwest::Client::builder().local_address(address).build().expect("a client");
        Api { client, base: base.to_owned() }
    }

    /// Any request: `token` as `Authorization: Bearer`, the headers as given, the body
    /// as raw bytes.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method.clone(), &url).header("accept-language", "en");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_else(|e| panic!("{method} {url}: body: {e}")).to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(Method::GET, path, token, &[], None).await
    }

    /// POST a JSON body as `application/geo+json`, with extra headers.
    pub async fn post(&self, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: &Value) -> Reply {
        let mut all = vec![("content-type", "application/geo+json")];
        all.extend_from_slice(headers);
        self.send(Method::POST, path, token, &all, Some(body.to_string().into_bytes())).await
    }

    /// PATCH an incident with `If-Match: <etag>` (none: no If-Match).
    pub async fn patch(&self, id: i64, token: &str, etag: Option<&str>, body: &Value) -> Reply {
        let mut headers = vec![("content-type", "application/geo+json")];
        if let Some(etag) = etag {
            headers.push(("if-match", etag));
        }
        let path = format!("/api/incidents/{id}");
        self.send(Method::PATCH, &path, Some(token), &headers, Some(body.to_string().into_bytes())).await
    }

    pub async fn delete(&self, id: i64, token: &str, etag: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = etag.map(|e| ("if-match", e)).into_iter().collect();
        self.send(Method::DELETE, &format!("/api/incidents/{id}"), Some(token), &headers, None).await
    }

    /// Creates an incident, which must succeed (201); returns its id.
    pub async fn create(&self, token: &str, body: &Value) -> i64 {
        let reply = self.post("/api/incidents", Some(token), &[], body).await;
        assert_eq!(reply.status, 201, "create {body}: {}", String::from_utf8_lossy(&reply.body));
        reply.json()["id"].as_i64().expect("an id")
    }

    /// An incident as its owner sees it: (status, version from the ETag, body).
    pub async fn incident(&self, id: i64, token: &str) -> (u16, Option<i32>, Value) {
        let reply = self.get(&format!("/api/incidents/{id}"), Some(token)).await;
        let version = reply.header("etag").and_then(|e| e.trim_matches('"').parse().ok());
        let body = if reply.body.is_empty() { Value::Null } else { reply.json() };
        (reply.status, version, body)
    }

    /// The ids of the incidents a caller lists (at most 1000, the documented maximum).
    pub async fn listed(&self, token: &str, query: &str) -> Vec<i64> {
        let reply = self.get(&format!("/api/incidents?limit=1000{query}"), Some(token)).await;
        assert_eq!(reply.status, 200, "list{query}: {}", String::from_utf8_lossy(&reply.body));
        let body = reply.json();
        assert!(body["next_cursor"].is_null(), "the list fits one page of 1000");
        body["features"].as_array().expect("features").iter().map(|f| f["id"].as_i64().expect("id")).collect()
    }

    /// Logs in; returns the reply.
    pub async fn login(&self, username: &str, password: &str) -> Reply {
        let body = json!({ "username": username, "password": password });
        self.send(
            Method::POST,
            "/api/login",
            None,
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// Logs in, which must succeed; returns the token.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let reply = self.login(username, password).await;
        assert_eq!(reply.status, 200, "login {username}: {}", String::from_utf8_lossy(&reply.body));
        reply.json()["token"].as_str().expect("a token").to_owned()
    }

    /// Opens `/api/events`; returns once the server has answered (and so subscribed).
    pub async fn events(&self, token: Option<&str>) -> EventStream {
        let mut request = self.client.get(format!("{}/api/events", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GET /api/events");
        assert_eq!(response.status().as_u16(), 200, "/api/events");
        let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(kind.starts_with("text/event-stream"), "/api/events is {kind:?}");
        EventStream { response, buffer: String::new() }
    }
}

/// Checks a problem answer (RFC 9457): status, media type, the status and a detail in
/// the body, and the offending `field` where one is named; returns the body.
pub fn problem(reply: &Reply, status: u16, field: Option<&str>, what: &str) -> Value {
    let text = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, status, "{what}: {text}");
    let kind = reply.header("content-type").unwrap_or_default();
    assert!(kind.starts_with("application/problem+json"), "{what}: content type {kind:?}: {text}");
    let body = reply.json();
    assert_eq!(body["status"], status, "{what}: {body}");
    assert!(body["type"].as_str().is_some_and(|t| !t.is_empty()), "{what}: a problem type: {body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}: a detail: {body}");
    if let Some(field) = field {
        assert_eq!(body["field"], field, "{what}: the field named: {body}");
    }
    body
}

/// An RFC 3339 time `days` ago, to the second.
pub fn days_ago(days: i64) -> String {
    (Utc::now() - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A complete incident at a point (longitude, latitude), marked by its description.
pub fn at_point((lon, lat): (f64, f64), description: &str) -> Value {
    feature(json!({ "type": "Point", "coordinates": [lon, lat] }), description)
}

/// A complete incident with this geometry.
pub fn feature(geometry: Value, description: &str) -> Value {
    json!({
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "category": "antar_kelompok",
            "severity": 3,
            "occurred_at": days_ago(1),
            "source": "uji integrasi",
            "description": description,
            "casualties": { "meninggal": 0, "luka": 2, "pengungsi": 0 },
        },
    })
}

/// A closed ring of `n` distinct positions on a circle of `radius` degrees.
pub fn ring((lon, lat): (f64, f64), radius: f64, n: usize) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..n)
        .map(|k| {
            let a = std::f64::consts::TAU * k as f64 / n as f64;
            [lon + radius * a.cos(), lat + radius * a.sin()]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// A live `/api/events` stream.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// The next event (name, JSON data) before `deadline`; `None` at the deadline.
    pub async fn next(&mut self, deadline: Instant) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.trim_start().to_owned());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let data = serde_json::from_str(&data.join("\n")).expect("event data is JSON");
                return Some((name, data));
            }
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => panic!("the event stream ended"),
                Ok(Err(e)) => panic!("the event stream failed: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// Reads until the server ends the stream with a `revoked` event; how long that
    /// took from `since` (None: not before `deadline`).
    pub async fn revoked_by(&mut self, since: Instant, deadline: Instant) -> Option<Duration> {
        loop {
            if self.buffer.contains("event: revoked") || self.buffer.contains("event:revoked") {
                // The stream ends after it.
                let left = deadline.checked_duration_since(Instant::now()).unwrap_or_default();
                return match tokio::time::timeout(left, async {
                    while let Ok(Some(_)) = self.response.chunk().await {}
                })
                .await
                {
                    Ok(()) => Some(since.elapsed()),
                    Err(_) => panic!("the event stream went on after its `revoked` event"),
                };
            }
            let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => panic!("the event stream ended without a `revoked` event"),
                Ok(Err(e)) => panic!("the event stream failed: {e}"),
                Err(_) => return None,
            }
        }
    }

    /// Every `incident` event until `deadline`, or until one satisfies `stop`.
    pub async fn incidents_until(&mut self, deadline: Instant, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        while let Some((name, data)) = self.next(deadline).await {
            if name == "incident" {
                let done = stop(&data);
                seen.push(data);
                if done {
                    break;
                }
            }
        }
        seen
    }
}

/// How long a test waits for what should come at once.
pub const PROMPTLY: Duration = Duration::from_secs(5);
