//! The OpenAPI document at `/openapi.json`: well-formed OpenAPI 3.1 whose references
//! all resolve, describing exactly the routes the server has. Every documented
//! operation, called with its documented examples (and where it needs them a token from
//! `POST /api/login`, a body matching its documented request schema, and the id and
//! version of an incident the test records), answers a documented status with the
//! documented headers and a body that matches the documented schema; and no route is
//! registered outside the documented router, so that a route added without
//! documentation fails here.

mod common;
#[path = "openapi/session.rs"]
mod session;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use common::{empty_db, imported_db};
use session::{add_users, load_incidents, request_body, Session, OPERATOR, PUSAT};
use sipks::http::{app, AppState};

/// Every operation the server has, as the document must list it, in the order the test
/// calls them (logging in before what needs a token; recording the incident before
/// reading, editing and deleting it; logging out last), with the user whose token it is
/// called with where it documents the `bearer` security scheme.
const OPERATIONS: [(&str, &str, Option<&str>); 42] = [
    ("get", "/healthz", None),
    ("get", "/readyz", None),
    ("get", "/metrics", None),
    ("get", "/api/regions", None),
    ("get", "/api/regions/{kode}", None),
    ("get", "/api/risk", None),
    ("get", "/api/hotspots", None),
    ("get", "/api/hotspots/clusters", None),
    ("get", "/api/hotspots/emerging", None),
    ("get", "/tiles", None),
    ("get", "/tiles/{source}", None),
    ("get", "/tiles/basemap", None),
    ("get", "/tiles/basemap/{z}/{x}/{y}", None),
    ("get", "/styles/{name}", None),
    ("get", "/", None),
    ("get", "/assets/{file}", None),
    ("get", "/fonts/{fontstack}/{range}", None),
    ("get", "/api/meta", None),
    ("get", "/openapi.json", None),
    ("get", "/problems/{type}", None),
    ("post", "/api/login", None),
    ("get", "/api/me", Some(OPERATOR)),
    ("get", "/tiles/{source}/{z}/{x}/{y}", Some(PUSAT)),
    ("get", "/api/regions/{kode}/risk", Some(PUSAT)),
    ("post", "/api/incidents", Some(OPERATOR)),
    ("get", "/api/incidents/{id}", Some(OPERATOR)),
    ("get", "/api/incidents", Some(PUSAT)),
    ("patch", "/api/incidents/{id}", Some(OPERATOR)),
    ("get", "/api/incidents/{id}/history", Some(PUSAT)),
    ("delete", "/api/incidents/{id}", Some(OPERATOR)),
    ("get", "/api/events", Some(PUSAT)),
    ("get", "/api/export/{layer}", Some(PUSAT)),
    ("get", "/ogc", None),
    ("get", "/ogc/", None),
    ("get", "/ogc/conformance", None),
    ("get", "/ogc/api", None),
    ("get", "/ogc/collections", Some(PUSAT)),
    ("get", "/ogc/collections/{collectionId}", Some(PUSAT)),
    ("get", "/ogc/collections/{collectionId}/items", Some(PUSAT)),
    ("get", "/ogc/collections/{collectionId}/items/{featureId}", Some(PUSAT)),
    ("get", "/ogc/collections/{collectionId}/queryables", None),
    ("post", "/api/logout", Some(OPERATOR)),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// A request body and its media type.
type Payload = (&'static str, Value);

/// A request: headers as (name, value) pairs.
struct Call {
    method: Method,
    uri: String,
    /// The documented header parameters, with the token (if any).
    headers: Vec<(String, String)>,
    /// Just the token, if any.
    auth: Vec<(String, String)>,
    body: Option<Payload>,
}

/// An answer. The body of an event stream is not read: it never ends.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn content_type(&self) -> &str {
        self.header("content-type")
    }

    fn media_type(&self) -> String {
        self.content_type().split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    fn json(&self, what: &str) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{what}: the body is not JSON: {e}"))
    }
}

async fn send(app: &Router, method: Method, uri: &str, headers: &[(String, String)], body: Option<&Payload>) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let body = match body {
        Some((media_type, value)) => {
            request = request.header("content-type", *media_type);
            Body::from(serde_json::to_vec(value).expect("a JSON body"))
        }
        None => Body::empty(),
    };
    let response = app.clone().oneshot(request.body(body).expect("request")).await.expect("response");
    let (parts, body) = response.into_parts();
    let stream = parts.headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    // Dropping an event stream unread closes it.
    let body = if stream { Vec::new() } else { body.collect().await.expect("body").to_bytes().to_vec() };
    Reply { status: parts.status, headers: parts.headers, body }
}

fn bearer(token: &str) -> (String, String) {
    ("Authorization".to_owned(), format!("Bearer {token}"))
}

async fn document(app: &Router) -> Value {
    let reply = send(app, Method::GET, "/openapi.json", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type(), "application/vnd.oai.openapi+json;version=3.1");
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

/// A parameter's value as it goes into a URL or header: the test's own where the
/// value depends on this database (`live`, by name), else the documented example or
/// default.
fn sample(parameter: &Value, live: &BTreeMap<String, String>) -> String {
    if let Some(value) = parameter["name"].as_str().and_then(|name| live.get(name)) {
        return value.clone();
    }
    let value = parameter
        .get("example")
        .or_else(|| parameter["schema"].get("default"))
        .unwrap_or_else(|| panic!("parameter {} has neither an example nor a default", parameter["name"]));
    match value {
        Value::String(s) => s.clone(),
        // An array in the form style without explode: its items joined by commas.
        Value::Array(items) if parameter["style"] == "form" && parameter["explode"] == false => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect::<Vec<_>>().join(",")
        }
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

/// The security schemes an operation names, and whether it may also be called without
/// any (an empty requirement, or no `security` at all).
fn security(operation: &Value) -> (BTreeSet<String>, bool) {
    let Some(requirements) = operation["security"].as_array() else { return (BTreeSet::new(), true) };
    let mut schemes = BTreeSet::new();
    let mut optional = false;
    for requirement in requirements {
        let requirement = requirement.as_object().expect("a security requirement");
        optional |= requirement.is_empty();
        schemes.extend(requirement.keys().cloned());
    }
    (schemes, optional)
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// Checks a reply against the operation's documented responses: a documented status,
/// the documented headers and media type, and a JSON body matching the schema.
fn assert_documented(doc: &Value, operation: &Value, reply: &Reply, what: &str) {
    let status = reply.status.as_u16().to_string();
    let response = &operation["responses"][&status];
    assert!(
        response.is_object(),
        "{what}: status {status} is not documented ({})",
        String::from_utf8_lossy(&reply.body)
    );
    for header in response["headers"].as_object().into_iter().flatten().map(|(name, _)| name) {
        assert!(reply.headers.contains_key(header.as_str()), "{what}: {status} without its header {header}");
    }
    let Some(content) = response["content"].as_object() else {
        assert!(reply.body.is_empty(), "{what}: status {status} is documented without a body, but has one");
        return;
    };
    let media_type = reply.media_type();
    let documented = content.get(&media_type).unwrap_or_else(|| {
        panic!("{what}: {status} answered {media_type:?}, documented {:?}", content.keys().collect::<Vec<_>>())
    });
    // Tiles and event streams are not JSON: their media type is what can be checked.
    if let Some(schema) = documented.get("schema").filter(|_| is_json(&media_type)) {
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

    let schemes = doc["components"]["securitySchemes"].as_object().expect("security schemes");
    let bearer = &schemes["bearer"];
    assert_eq!((bearer["type"].as_str(), bearer["scheme"].as_str()), (Some("http"), Some("bearer")), "{bearer}");

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
        let (named, _) = security(operation);
        for scheme in &named {
            assert!(schemes.contains_key(scheme), "{what}: security scheme {scheme} is not declared");
        }
        if !named.is_empty() {
            assert!(operation["responses"]["401"].is_object(), "{what}: takes a token but documents no 401");
        }
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
        OPERATIONS.iter().map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned())).collect();
    assert_eq!(listed, expected, "the documented operations are not the server's");
    db.drop().await;
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let db = imported_db().await;
    let dir = tempfile::tempdir().expect("dir");
    load_incidents(&db.pool, dir.path()).await;
    add_users(&db.pool).await;
    let engine = sipks::service::load_engine(&db.pool, Default::default()).await.expect("engine");
    let app = app(AppState::new(db.pool.clone(), engine));
    let doc = document(&app).await;
    let mut session = Session::default();

    for (method_name, template, user) in OPERATIONS {
        let what = format!("{method_name} {template}");
        let operation = &doc["paths"][template][method_name];
        assert!(operation.is_object(), "{what} is not documented");
        let method: Method = method_name.to_uppercase().parse().expect("method");
        let (schemes, optional) = security(operation);
        assert_eq!(
            user.is_some(),
            schemes.contains("bearer"),
            "{what}: a token exactly where the document asks for one"
        );
        let auth: Vec<(String, String)> = user.map(|user| bearer(session.token(user))).into_iter().collect();

        let path_samples: BTreeMap<String, String> = parameters(operation, "path")
            .into_iter()
            .map(|p| (p["name"].as_str().expect("name").to_owned(), sample(p, &session.live)))
            .collect();
        let path_with = |samples: &BTreeMap<String, String>| {
            samples.iter().fold(template.to_owned(), |path, (name, value)| path.replace(&format!("{{{name}}}"), value))
        };
        let query: Vec<String> = parameters(operation, "query")
            .into_iter()
            .map(|p| format!("{}={}", p["name"].as_str().expect("name"), sample(p, &session.live)))
            .collect();
        let headers: Vec<(String, String)> = parameters(operation, "header")
            .into_iter()
            .map(|p| (p["name"].as_str().expect("name").to_owned(), sample(p, &session.live)))
            .collect();
        let path = path_with(&path_samples);
        let uri = if query.is_empty() { path.clone() } else { format!("{path}?{}", query.join("&")) };

        let body = request_body(method_name, template);
        match (&body, operation["requestBody"]["content"].as_object()) {
            (Some((media_type, value)), Some(content)) => {
                let documented = content
                    .get(*media_type)
                    .unwrap_or_else(|| panic!("{what}: no request body of type {media_type} is documented"));
                assert_matches(&doc, &documented["schema"], value, &format!("{what}: the request body"));
            }
            (None, None) => {}
            _ => panic!("{what}: the test sends a body exactly where the document describes one"),
        }

        // Without a token where one is needed, and with one the server never gave: 401.
        if !schemes.is_empty() {
            if !optional {
                let reply = send(&app, method.clone(), &uri, &headers, body.as_ref()).await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {uri} without a token");
                assert_documented(&doc, operation, &reply, &format!("{what}: {uri} without a token"));
            }
            let mut forged = headers.clone();
            forged.push(bearer(&"0".repeat(64)));
            let reply = send(&app, method.clone(), &uri, &forged, body.as_ref()).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {uri} with a made-up token");
            assert_documented(&doc, operation, &reply, &format!("{what}: {uri} with a made-up token"));
        }

        // With every documented parameter at its example: a success, as documented.
        let call = Call { method: method.clone(), uri, headers: [headers, auth.clone()].concat(), auth, body };
        let reply = send(&app, method.clone(), &call.uri, &call.headers, call.body.as_ref()).await;
        // This app has no basemap file (`--basemap`): its routes answer their documented
        // 404; tests/web_api.rs serves one from a real MBTiles file.
        if template.starts_with("/tiles/basemap") && reply.status == StatusCode::NOT_FOUND {
            assert_documented(&doc, operation, &reply, &format!("{what}: {} without a basemap", call.uri));
            continue;
        }
        assert!(
            reply.status.is_success(),
            "{what}: {} answered {} {}",
            call.uri,
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        assert_documented(&doc, operation, &reply, &format!("{what}: {}", call.uri));

        // Revalidating an entity tag it gave, where the operation documents 304.
        let etag = reply.headers.get("etag").and_then(|v| v.to_str().ok());
        if let Some(etag) = etag.filter(|_| operation["responses"]["304"].is_object()) {
            let mut revalidate = call.headers.clone();
            revalidate.retain(|(name, _)| !name.eq_ignore_ascii_case("if-none-match"));
            revalidate.push(("If-None-Match".to_owned(), etag.to_owned()));
            let reply = send(&app, method.clone(), &call.uri, &revalidate, None).await;
            assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{what}: {} revalidated", call.uri);
            assert_documented(&doc, operation, &reply, &format!("{what}: {} revalidated", call.uri));
        }

        session.follow(&app, &doc, (method_name, template), &call, &reply).await;

        // With an unknown query parameter: a documented answer (a 400 where it is refused).
        let uri = format!("{path}?no_such_parameter=1");
        let reply = send(&app, method.clone(), &uri, &call.auth, None).await;
        assert_documented(&doc, operation, &reply, &format!("{what}: {uri}"));

        // With each path parameter malformed in turn: a documented error.
        for name in path_samples.keys() {
            let mut samples = path_samples.clone();
            samples.insert(name.clone(), "zz".to_owned());
            let uri = path_with(&samples);
            let reply = send(&app, method.clone(), &uri, &call.auth, None).await;
            assert!(reply.status.is_client_error(), "{what}: {uri} answered {}", reply.status);
            assert_documented(&doc, operation, &reply, &format!("{what}: {uri}"));
        }

        // Every path answers a method it does not have with a 405 problem.
        let item = doc["paths"][template].as_object().expect("path item");
        let other = METHODS.iter().find(|m| **m != "head" && !item.contains_key(**m)).expect("a method the path lacks");
        let reply = send(&app, other.to_uppercase().parse().expect("method"), &path, &[], None).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{what}: {other} {path}");
        assert_eq!(reply.content_type(), "application/problem+json");
        assert_matches(&doc, &json!({"$ref": "#/components/schemas/Problem"}), &reply.json(&what), &what);
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
