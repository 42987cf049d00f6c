//! The OpenAPI document at `/openapi.json`: well-formed OpenAPI 3.1 whose references
//! all resolve, describing exactly the routes the server has. Every documented
//! operation, called with its documented examples, answers a documented status with a
//! body that matches the documented schema; and no route is registered outside the
//! documented router, so that a route added without documentation fails here.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use common::{empty_db, imported_db};
use sipks::http::{app, AppState};

/// Every operation the server has, as the document must list it.
const OPERATIONS: [(&str, &str); 12] = [
    ("get", "/healthz"),
    ("get", "/api/regions"),
    ("get", "/api/regions/{kode}"),
    ("get", "/api/risk"),
    ("get", "/api/regions/{kode}/risk"),
    ("get", "/api/hotspots"),
    ("get", "/api/hotspots/clusters"),
    ("get", "/tiles"),
    ("get", "/tiles/{source}"),
    ("get", "/tiles/{source}/{z}/{x}/{y}"),
    ("get", "/styles/{name}"),
    ("get", "/openapi.json"),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn json(&self, what: &str) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{what}: the body is not JSON: {e}"))
    }
}

async fn send(app: &Router, method: Method, uri: &str, headers: &[(String, String)]) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = app.clone().oneshot(request.body(Body::empty()).expect("request")).await.expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes().to_vec();
    Reply { status: parts.status, headers: parts.headers, body }
}

async fn document(app: &Router) -> Value {
    let reply = send(app, Method::GET, "/openapi.json", &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/json");
    reply.json("/openapi.json")
}

/// Every operation of the document: method, path template, operation.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut found = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method:?} is not an HTTP method");
            found.push((method.clone(), path.clone(), operation));
        }
    }
    found
}

/// Every `$ref` in `value`.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                found.push(reference.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// The names in braces of a path template.
fn template_names(path: &str) -> BTreeSet<String> {
    path.split('{').skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| name.to_owned()).collect()
}

fn parameters<'a>(operation: &'a Value, location: &str) -> Vec<&'a Value> {
    operation["parameters"].as_array().map(|ps| ps.iter().filter(|p| p["in"] == location).collect()).unwrap_or_default()
}

/// A parameter's documented example (or default), as it goes into a URL or header.
fn sample(parameter: &Value) -> String {
    let value = parameter
        .get("example")
        .or_else(|| parameter["schema"].get("default"))
        .unwrap_or_else(|| panic!("parameter {} has neither an example nor a default", parameter["name"]));
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `schema` with every object that lists its properties closed to others, so that a
/// member the server writes but the document does not describe fails validation.
fn closed(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut map: serde_json::Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), closed(v))).collect();
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(map)
        }
        Value::Array(items) => Value::Array(items.iter().map(closed).collect()),
        other => other.clone(),
    }
}

/// A validator of `schema`, whose `#/components/...` references resolve in `doc`; objects
/// are closed (see [`closed`]).
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = closed(schema).as_object().cloned().expect("a schema object");
    root.insert("components".into(), closed(&doc["components"]));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .unwrap_or_else(|e| panic!("{schema}: not a usable JSON Schema: {e}"))
}

fn assert_matches(doc: &Value, schema: &Value, body: &Value, what: &str) {
    let validator = validator(doc, schema);
    let errors: Vec<String> = validator.iter_errors(body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what}: the body does not match its documented schema:\n{}", errors.join("\n"));
}

/// Checks a reply against the operation's documented responses: a documented status,
/// the documented media type and headers, and a JSON body matching the schema.
fn assert_documented(doc: &Value, operation: &Value, reply: &Reply, what: &str) {
    let status = reply.status.as_u16().to_string();
    let response = &operation["responses"][&status];
    assert!(
        response.is_object(),
        "{what}: status {status} is not documented ({})",
        String::from_utf8_lossy(&reply.body)
    );
    let Some(content) = response["content"].as_object() else {
        assert!(reply.body.is_empty(), "{what}: status {status} is documented without a body, but has one");
        return;
    };
    let media_type = reply.content_type().split(';').next().unwrap_or_default().trim().to_owned();
    let documented = content.get(&media_type).unwrap_or_else(|| {
        panic!("{what}: {status} answered {media_type:?}, documented {:?}", content.keys().collect::<Vec<_>>())
    });
    if let Some(schema) = documented.get("schema") {
        assert_matches(doc, schema, &reply.json(what), &format!("{what} ({status})"));
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_reference_resolves() {
    let db = empty_db().await;
    let engine = sipks::service::load_engine(&db.pool, Default::default()).await.expect("engine");
    let app = app(AppState::new(db.pool.clone(), engine));
    let doc = document(&app).await;

    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "openapi {}", doc["openapi"]);
    let info = &doc["info"];
    assert!(info["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["license"]["identifier"], "MIT");
    let description = info["description"].as_str().unwrap_or_default();
    assert!(description.contains("cahyadsn/wilayah_boundaries") && description.contains("MIT"), "{description}");

    let mut unresolved = Vec::new();
    let mut found = Vec::new();
    references(&doc, &mut found);
    assert!(!found.is_empty());
    for reference in found {
        if reference.strip_prefix('#').and_then(|pointer| doc.pointer(pointer)).is_none() {
            unresolved.push(reference);
        }
    }
    assert!(unresolved.is_empty(), "references that do not resolve: {unresolved:?}");

    for (name, schema) in doc["components"]["schemas"].as_object().expect("component schemas") {
        if let Err(e) = jsonschema::draft202012::meta::validate(schema) {
            panic!("schema {name} is not valid JSON Schema 2020-12: {e}");
        }
        validator(&doc, schema);
    }

    let tags: BTreeSet<&str> =
        doc["tags"].as_array().expect("tags").iter().filter_map(|t| t["name"].as_str()).collect();
    let mut ids = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for (method, path, operation) in operations(&doc) {
        let what = format!("{method} {path}");
        listed.insert((method.clone(), path.clone()));
        for field in ["summary", "description", "operationId"] {
            assert!(operation[field].as_str().is_some_and(|s| !s.trim().is_empty()), "{what}: no {field}");
        }
        assert!(
            ids.insert(operation["operationId"].to_string()),
            "{what}: operationId {} repeated",
            operation["operationId"]
        );
        let operation_tags = operation["tags"].as_array().expect("tags");
        assert!(!operation_tags.is_empty(), "{what}: no tag");
        assert!(operation_tags.iter().all(|t| t.as_str().is_some_and(|t| tags.contains(t))), "{what}: undeclared tag");

        let in_path: BTreeSet<String> =
            parameters(operation, "path").iter().map(|p| p["name"].as_str().expect("name").to_owned()).collect();
        assert_eq!(in_path, template_names(&path), "{what}: path parameters and template differ");
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            assert!(parameter["schema"].is_object(), "{what}: parameter {} has no schema", parameter["name"]);
            if parameter["in"] == "path" {
                assert_eq!(parameter["required"], true, "{what}: path parameter {} not required", parameter["name"]);
            }
        }

        let responses = operation["responses"].as_object().expect("responses");
        assert!(responses.keys().any(|s| s.starts_with('2')), "{what}: no success response");
        for (status, response) in responses {
            assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{what} {status}: no description");
            if status.starts_with('4') || status.starts_with('5') {
                let content = response["content"].as_object().expect("an error has a body");
                assert_eq!(content.keys().collect::<Vec<_>>(), ["application/problem+json"], "{what} {status}");
                assert_eq!(
                    content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem",
                    "{what} {status}"
                );
            }
        }
    }
    let expected: BTreeSet<(String, String)> =
        OPERATIONS.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(listed, expected, "the documented operations are not the server's");
    db.drop().await;
}

/// Loads twelve incidents in Kota Makassar (73.71), two days old and a few hundred
/// metres apart, and an indicator there, so that the answers have contributions,
/// indicators and a cluster to describe.
async fn load_incidents(pool: &sqlx::PgPool, dir: &Path) {
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

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let db = imported_db().await;
    let dir = tempfile::tempdir().expect("dir");
    load_incidents(&db.pool, dir.path()).await;
    let engine = sipks::service::load_engine(&db.pool, Default::default()).await.expect("engine");
    let app = app(AppState::new(db.pool.clone(), engine));
    let doc = document(&app).await;

    for (method, template, operation) in operations(&doc) {
        let what = format!("{method} {template}");
        let method: Method = method.to_uppercase().parse().expect("method");
        let path_samples: BTreeMap<String, String> = parameters(operation, "path")
            .into_iter()
            .map(|p| (p["name"].as_str().expect("name").to_owned(), sample(p)))
            .collect();
        let path_with = |samples: &BTreeMap<String, String>| {
            samples.iter().fold(template.clone(), |path, (name, value)| path.replace(&format!("{{{name}}}"), value))
        };
        let query: Vec<String> = parameters(operation, "query")
            .into_iter()
            .map(|p| format!("{}={}", p["name"].as_str().expect("name"), sample(p)))
            .collect();
        let headers: Vec<(String, String)> = parameters(operation, "header")
            .into_iter()
            .map(|p| (p["name"].as_str().expect("name").to_owned(), sample(p)))
            .collect();
        let path = path_with(&path_samples);

        // With every documented parameter at its example: a success, as documented.
        let uri = if query.is_empty() { path.clone() } else { format!("{path}?{}", query.join("&")) };
        let reply = send(&app, method.clone(), &uri, &headers).await;
        assert!(
            reply.status.is_success(),
            "{what}: {uri} answered {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        assert_documented(&doc, operation, &reply, &format!("{what}: {uri}"));
        let response = &operation["responses"][reply.status.as_u16().to_string()];
        for header in response["headers"].as_object().into_iter().flatten().map(|(name, _)| name) {
            assert!(reply.headers.contains_key(header.as_str()), "{what}: {uri} answered without header {header}");
        }

        // Revalidating an entity tag it gave.
        if let Some(etag) = reply.headers.get("etag").and_then(|v| v.to_str().ok()) {
            let mut revalidate = headers.clone();
            revalidate.retain(|(name, _)| !name.eq_ignore_ascii_case("if-none-match"));
            revalidate.push(("If-None-Match".to_owned(), etag.to_owned()));
            let reply = send(&app, method.clone(), &uri, &revalidate).await;
            assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{what}: {uri} revalidated");
            assert_documented(&doc, operation, &reply, &format!("{what}: {uri} revalidated"));
        }

        // With an unknown query parameter: a documented answer (a 400 where it is refused).
        let uri = format!("{path}?no_such_parameter=1");
        let reply = send(&app, method.clone(), &uri, &[]).await;
        assert_documented(&doc, operation, &reply, &format!("{what}: {uri}"));

        // With each path parameter malformed in turn: a documented error.
        for name in path_samples.keys() {
            let mut samples = path_samples.clone();
            samples.insert(name.clone(), "zz".to_owned());
            let uri = path_with(&samples);
            let reply = send(&app, method.clone(), &uri, &[]).await;
            assert!(reply.status.is_client_error(), "{what}: {uri} answered {}", reply.status);
            assert_documented(&doc, operation, &reply, &format!("{what}: {uri}"));
        }

        // Every path answers a method it does not have with a 405 problem.
        let reply = send(&app, Method::DELETE, &path, &[]).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{what}: DELETE {path}");
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_matches(&doc, &serde_json::json!({"$ref": "#/components/schemas/Problem"}), &reply.json(&what), &what);
    }
    db.drop().await;
}

/// Route registrations that bypass `utoipa_axum::routes!` and so the document.
const UNDOCUMENTED_ROUTING: [&str; 5] = [".route(", ".route_service(", ".nest_service(", "routing::", "MethodRouter"];

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_route_is_registered_outside_the_documented_router() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("src/http/mod.rs")), "{files:?}");
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let axum_router = code.contains("Router::new()") && !code.contains("OpenApiRouter::new()");
            if axum_router || UNDOCUMENTED_ROUTING.iter().any(|pattern| code.contains(pattern)) {
                offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "routes must be registered with utoipa_axum's OpenApiRouter::routes(routes!(handler)), so that \
         /openapi.json describes them:\n{}",
        offences.join("\n")
    );
}
