//! The hostile requests, family by family: each with what it is, the request as bytes,
//! who sends it, and the answer it must get.

use serde_json::{json, Value};

use crate::raw::RawRequest;

/// Who sends a request.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    /// The nasional user (writes everywhere).
    Nasional,
    /// The kabupaten_kota operator of Kota Makassar (73.71).
    Makassar,
    /// The analis user (reads only).
    Analis,
    /// This `Authorization` header, byte for byte.
    Header(Vec<u8>),
}

/// The answer a request must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// This client error, as problem+json.
    Status(u16),
    /// Some client error (4xx), as problem+json.
    ClientError,
    /// A free-text search that matches nothing (200, `count` 0): SQL in `q` is text.
    NoMatch,
    /// A request line HTTP/1.1 does not allow (bytes outside its grammar in the target):
    /// hyper's parser answers 400 itself, without a body, before any route is chosen, so
    /// there is no problem+json to give.
    Unparsable,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub family: &'static str,
    pub what: String,
    pub who: Who,
    pub request: RawRequest,
    pub expect: Expect,
}

/// Incidents the cases refer to.
pub struct Known {
    /// In Kota Makassar (73.71), made by the nasional user.
    pub makassar: i64,
    /// In Jakarta Pusat (31.71), outside the Makassar operator's scope.
    pub jakarta: i64,
}

/// In Kota Makassar.
pub const IN_MAKASSAR: (f64, f64) = (119.42, -5.14);
/// In Jakarta Pusat.
pub const IN_JAKARTA: (f64, f64) = (106.82, -6.18);

/// SQL fragments tried in every filter and path parameter.
const SQL: [&str; 3] = ["' or 1=1 --", "; drop table incidents", "1) union select password_hash from users --"];

/// Percent-encodes everything but unreserved characters.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A valid incident body at a place (a complete Feature).
pub fn incident(at: (f64, f64), description: &str) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [at.0, at.1]},
        "properties": {
            "category": "antar_kelompok",
            "severity": 3,
            "occurred_at": "2026-01-10T10:00:00+07:00",
            "source": "uji serangan",
            "description": description,
        },
    })
}

/// A valid incident body with its first `from` replaced by `to` in its JSON text, for
/// what JSON values cannot hold (NaN, 1e400, invalid UTF-8).
fn text_edit(from: &str, to: impl AsRef<[u8]>) -> Vec<u8> {
    let text = incident(IN_MAKASSAR, "serangan").to_string();
    let at = text.find(from).unwrap_or_else(|| panic!("{from} not in {text}"));
    [&text.as_bytes()[..at], to.as_ref(), &text.as_bytes()[at + from.len()..]].concat()
}

/// A valid incident with one property set.
fn with_property(name: &str, value: Value) -> Vec<u8> {
    let mut body = incident(IN_MAKASSAR, "serangan");
    body["properties"][name] = value;
    body.to_string().into_bytes()
}

fn with_geometry(geometry: Value) -> Vec<u8> {
    let mut body = incident(IN_MAKASSAR, "serangan");
    body["geometry"] = geometry;
    body.to_string().into_bytes()
}

/// `depth` nested arrays (`[[[...]]]`).
fn nested_arrays(depth: usize) -> Vec<u8> {
    let mut body = vec![b'['; depth];
    body.extend(std::iter::repeat_n(b']', depth));
    body
}

/// `depth` nested objects (`{"a":{"a":...}}`).
fn nested_objects(depth: usize) -> Vec<u8> {
    let mut body = "{\"a\":".repeat(depth).into_bytes();
    body.push(b'1');
    body.extend(std::iter::repeat_n(b'}', depth));
    body
}

/// A closed ring of `n` positions around Makassar, written compactly.
fn ring_text(n: usize) -> String {
    let mut text = String::with_capacity(n * 24);
    text.push('[');
    for k in 0..n {
        let a = std::f64::consts::TAU * k as f64 / n as f64;
        text.push_str(&format!("[{:.6},{:.6}],", IN_MAKASSAR.0 + 0.01 * a.cos(), IN_MAKASSAR.1 + 0.01 * a.sin()));
    }
    text.push_str(&format!("[{:.6},{:.6}]]", IN_MAKASSAR.0 + 0.01, IN_MAKASSAR.1));
    text
}

fn polygon_of(n: usize) -> Vec<u8> {
    let text = incident(IN_MAKASSAR, "serangan").to_string();
    let geometry = format!("{{\"type\":\"Polygon\",\"coordinates\":[{}]}}", ring_text(n));
    let at = text.find("{\"type\":\"Point\"").expect("a point geometry");
    let end = at + text[at..].find('}').expect("its end") + 1;
    format!("{}{geometry}{}", &text[..at], &text[end..]).into_bytes()
}

struct Builder {
    cases: Vec<Case>,
    family: &'static str,
}

impl Builder {
    fn add(&mut self, what: impl Into<String>, who: Who, request: RawRequest, expect: Expect) {
        self.cases.push(Case { family: self.family, what: what.into(), who, request, expect });
    }

    fn get(&mut self, what: impl Into<String>, who: Who, target: impl Into<Vec<u8>>, expect: Expect) {
        let request = RawRequest { method: "GET", target: target.into(), headers: Vec::new(), body: Vec::new() };
        self.add(what, who, request, expect);
    }

    /// A request with a JSON content type (`content_type` None: without one).
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        what: impl Into<String>,
        who: Who,
        method: &'static str,
        target: impl Into<Vec<u8>>,
        content_type: Option<&str>,
        headers: &[(&str, &[u8])],
        body: Vec<u8>,
        expect: Expect,
    ) {
        let mut all: Vec<(String, Vec<u8>)> =
            content_type.map(|c| ("content-type".to_owned(), c.as_bytes().to_vec())).into_iter().collect();
        all.extend(headers.iter().map(|(n, v)| ((*n).to_owned(), v.to_vec())));
        self.add(what, who, RawRequest { method, target: target.into(), headers: all, body }, expect);
    }
}

use Expect::{ClientError, NoMatch, Status, Unparsable};
use Who::{Analis, Anonymous, Makassar, Nasional};

/// Every case.
pub fn all(known: &Known) -> Vec<Case> {
    let mut b = Builder { cases: Vec::new(), family: "" };
    auth(&mut b);
    creations(&mut b);
    single_incidents(&mut b, known);
    lists(&mut b);
    regions_risk_hotspots(&mut b);
    tiles_styles_static(&mut b);
    exports(&mut b);
    nul_characters(&mut b, known);
    raw_bytes(&mut b);
    b.cases
}

fn auth(b: &mut Builder) {
    b.family = "auth";
    let json = Some("application/json");
    let login = |b: &mut Builder, what: &str, body: Vec<u8>, expect| {
        b.send(what, Anonymous, "POST", "/api/login", json, &[], body, expect);
    };
    login(b, "login: broken JSON", br#"{"username": "a", "password": "#.to_vec(), Status(400));
    login(b, "login: empty body", Vec::new(), Status(400));
    login(b, "login: 100,000 nested arrays", nested_arrays(100_000), ClientError);
    login(b, "login: 100,000 nested objects", nested_objects(100_000), ClientError);
    login(b, "login: invalid UTF-8", b"{\"username\": \"\xff\xfe\", \"password\": \"x\"}".to_vec(), Status(400));
    login(b, "login: NaN password", br#"{"username": "a", "password": NaN}"#.to_vec(), Status(400));
    login(b, "login: number as name", br#"{"username": 1e400, "password": "x"}"#.to_vec(), Status(400));
    login(b, "login: 2^64 as name", br#"{"username": 18446744073709551616, "password": "x"}"#.to_vec(), Status(422));
    login(
        b,
        "login: unknown field",
        br#"{"username": "a", "password": "x", "role": "nasional"}"#.to_vec(),
        Status(422),
    );
    login(b, "login: an array", b"[]".to_vec(), Status(422));
    for sql in SQL {
        let body = json!({"username": sql, "password": sql}).to_string().into_bytes();
        login(b, &format!("login: SQL {sql:?} as name and password"), body, ClientError);
    }
    let long = json!({"username": "x".repeat(500_000), "password": "y"}).to_string().into_bytes();
    login(b, "login: a 500 kB name", long, ClientError);
    b.send("login: 2 MB body", Anonymous, "POST", "/api/login", json, &[], vec![b' '; 2 << 20], Status(413));
    b.get("login: GET", Anonymous, "/api/login", Status(405));

    let header = |value: &[u8]| Who::Header(value.to_vec());
    b.get("me: no token", Anonymous, "/api/me", Status(401));
    b.get("me: garbage token", header(b"Bearer garbage"), "/api/me", Status(401));
    b.get("me: Basic credentials", header(b"Basic bmFzaW9uYWw6cmFoYXNpYQ=="), "/api/me", Status(401));
    b.get("me: scheme without token", header(b"Bearer"), "/api/me", Status(401));
    b.get("me: empty token", header(b"Bearer    "), "/api/me", Status(401));
    let expired = b"Bearer eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl";
    b.get("me: an expired-looking JWT", header(expired), "/api/me", Status(401));
    b.get(
        "me: a 300-character token",
        header(format!("Bearer {}", "a".repeat(300)).as_bytes()),
        "/api/me",
        Status(401),
    );
    b.get("me: a 64 kB token", header(format!("Bearer {}", "a".repeat(65_536)).as_bytes()), "/api/me", ClientError);
    b.get("me: a token of invalid UTF-8", header(b"Bearer \xff\xfe\xfd"), "/api/me", Status(401));
    b.get("me: SQL as token", header(b"Bearer ' or 1=1 --"), "/api/me", Status(401));
    b.get("me: another scheme", header(b"Token abcdef"), "/api/me", Status(401));
    b.send(
        "logout: garbage token",
        header(b"Bearer garbage"),
        "POST",
        "/api/logout",
        None,
        &[],
        Vec::new(),
        Status(401),
    );
    b.send("logout: no token", Anonymous, "POST", "/api/logout", None, &[], Vec::new(), Status(401));
    b.get("events: garbage token", header(b"Bearer garbage"), "/api/events", Status(401));
    b.get("events: Basic credentials", header(b"Basic Og=="), "/api/events", Status(401));
}

fn creations(b: &mut Builder) {
    b.family = "create incidents";
    let geo = Some("application/geo+json");
    let post = |b: &mut Builder, what: &str, who: Who, body: Vec<u8>, expect| {
        b.send(what, who, "POST", "/api/incidents", geo, &[], body, expect);
    };
    post(b, "broken JSON", Nasional, br#"{"type": "Feature", "geometry": {"#.to_vec(), Status(400));
    post(b, "empty body", Nasional, Vec::new(), Status(400));
    post(b, "100,000 nested arrays", Nasional, nested_arrays(100_000), Status(400));
    post(b, "100,000 nested objects", Nasional, nested_objects(100_000), Status(400));
    post(b, "invalid UTF-8 in a string", Nasional, text_edit("serangan", b"\xc3\x28\xa0\xa1"), Status(400));
    post(
        b,
        "trailing garbage",
        Nasional,
        [incident(IN_MAKASSAR, "x").to_string().as_bytes(), b"}}"].concat(),
        Status(400),
    );
    post(b, "1e400 longitude", Nasional, text_edit("119.42", "1e400"), Status(400));
    post(b, "NaN longitude", Nasional, text_edit("119.42", "NaN"), Status(400));
    post(b, "Infinity latitude", Nasional, text_edit("-5.14", "Infinity"), Status(400));
    post(b, "-Infinity latitude", Nasional, text_edit("-5.14", "-Infinity"), Status(400));
    post(b, "1e308 longitude", Nasional, text_edit("119.42", "1e308"), Status(422));
    post(b, "2^64 severity", Nasional, text_edit("\"severity\":3", "\"severity\":18446744073709551616"), Status(422));
    post(
        b,
        "-2^63-1 severity",
        Nasional,
        text_edit("\"severity\":3", "\"severity\":-9223372036854775809"),
        Status(422),
    );
    post(
        b,
        "a 100,000-digit severity",
        Nasional,
        text_edit("\"severity\":3", &format!("\"severity\":{}", "9".repeat(100_000))),
        Status(400),
    );
    post(
        b,
        "severity 3.0000000000000001",
        Nasional,
        text_edit("\"severity\":3", "\"severity\":3.0000000000000001"),
        Status(422),
    );
    post(
        b,
        "2^64 casualties",
        Nasional,
        with_property("casualties", json!({"luka": 18446744073709551615u64})),
        Status(422),
    );
    post(b, "negative casualties", Nasional, with_property("casualties", json!({"meninggal": -1})), Status(422));
    post(b, "a 1 MB description", Nasional, with_property("description", json!("x".repeat(1_000_000))), Status(422));
    post(b, "a 2 MB body", Nasional, with_property("description", json!("x".repeat(2_000_000))), Status(413));
    post(b, "a polygon of a million vertices", Nasional, polygon_of(1_000_000), Status(413));
    post(b, "a polygon of 40,000 vertices (under 1 MB)", Nasional, polygon_of(40_000), Status(422));
    post(b, "a 10,000-character region code", Nasional, region_only(&"7".repeat(10_000)), Status(422));
    for sql in SQL {
        post(b, &format!("SQL {sql:?} as region code"), Nasional, region_only(sql), Status(422));
        post(b, &format!("SQL {sql:?} as category"), Nasional, with_property("category", json!(sql)), Status(422));
        post(b, &format!("SQL {sql:?} as status"), Nasional, with_property("status", json!(sql)), Status(422));
        post(b, &format!("SQL {sql:?} as time"), Nasional, with_property("occurred_at", json!(sql)), Status(422));
    }
    post(b, "year 99999", Nasional, with_property("occurred_at", json!("99999-01-01T00:00:00Z")), Status(422));
    post(b, "year 9999 (future)", Nasional, with_property("occurred_at", json!("9999-12-31T23:59:59Z")), Status(422));
    post(b, "properties as an array", Nasional, with_property("casualties", json!([1, 2])), Status(422));
    post(b, "a JSON null", Nasional, b"null".to_vec(), Status(422));
    post(b, "a JSON string", Nasional, b"\"Feature\"".to_vec(), Status(422));
    post(
        b,
        "a GeometryCollection",
        Nasional,
        with_geometry(json!({"type": "GeometryCollection", "geometries": []})),
        Status(422),
    );
    post(
        b,
        "a point without coordinates",
        Nasional,
        with_geometry(json!({"type": "Point", "coordinates": []})),
        Status(422),
    );
    post(
        b,
        "a point of strings",
        Nasional,
        with_geometry(json!({"type": "Point", "coordinates": ["119", "-5"]})),
        Status(422),
    );
    post(
        b,
        "a one-position line",
        Nasional,
        with_geometry(json!({"type": "LineString", "coordinates": [[119.42, -5.14]]})),
        Status(422),
    );
    post(
        b,
        "a point at the pole",
        Nasional,
        with_geometry(json!({"type": "Point", "coordinates": [0.0, 90.0]})),
        Status(422),
    );
    post(b, "anonymous", Anonymous, incident(IN_MAKASSAR, "serangan").to_string().into_bytes(), Status(401));
    post(b, "the analis role", Analis, incident(IN_MAKASSAR, "serangan").to_string().into_bytes(), Status(403));
    post(
        b,
        "Makassar's operator in Jakarta",
        Makassar,
        incident(IN_JAKARTA, "serangan").to_string().into_bytes(),
        Status(403),
    );
    let across = with_geometry(json!({"type": "LineString", "coordinates": [[119.42, -5.14], [119.77, -5.34]]}));
    post(b, "Makassar's operator across into Gowa", Makassar, across, Status(403));
    let valid = incident(IN_MAKASSAR, "serangan").to_string().into_bytes();
    b.send("text/plain", Nasional, "POST", "/api/incidents", Some("text/plain"), &[], valid.clone(), Status(415));
    b.send("no content type", Nasional, "POST", "/api/incidents", None, &[], valid.clone(), Status(415));
    let bad_type: &[(&str, &[u8])] = &[("content-type", b"application/json\xff")];
    b.send(
        "content type of invalid UTF-8",
        Nasional,
        "POST",
        "/api/incidents",
        None,
        bad_type,
        valid.clone(),
        Status(415),
    );
    let long_key = "k".repeat(300);
    let invalid = with_property("severity", json!(9));
    b.send(
        "a 300-character Idempotency-Key",
        Nasional,
        "POST",
        "/api/incidents",
        geo,
        &[("idempotency-key", long_key.as_bytes())],
        valid,
        Status(422),
    );
    b.send(
        "an Idempotency-Key of invalid UTF-8",
        Nasional,
        "POST",
        "/api/incidents",
        geo,
        &[("idempotency-key", b"\xff\xfe")],
        invalid.clone(),
        Status(422),
    );
    b.send(
        "SQL as Idempotency-Key with a bad body",
        Nasional,
        "POST",
        "/api/incidents",
        geo,
        &[("idempotency-key", b"' or 1=1 --")],
        invalid,
        Status(422),
    );
    b.send("PUT on the collection", Nasional, "PUT", "/api/incidents", geo, &[], b"{}".to_vec(), Status(405));
}

/// A region-only incident with this region code.
fn region_only(code: &str) -> Vec<u8> {
    let mut body = incident(IN_MAKASSAR, "serangan");
    body["geometry"] = Value::Null;
    body["properties"]["kode"] = json!(code);
    body.to_string().into_bytes()
}

fn single_incidents(b: &mut Builder, known: &Known) {
    b.family = "single incidents";
    let geo = Some("application/geo+json");
    for sql in SQL {
        let id = encode(sql);
        b.get(format!("read: SQL {sql:?} as id"), Nasional, format!("/api/incidents/{id}"), Status(400));
        b.get(format!("history: SQL {sql:?} as id"), Nasional, format!("/api/incidents/{id}/history"), Status(400));
        b.send(
            format!("delete: SQL {sql:?} as id"),
            Nasional,
            "DELETE",
            format!("/api/incidents/{id}"),
            None,
            &[],
            Vec::new(),
            Status(400),
        );
    }
    for id in ["99999999999999999999", "-1", "0", "1e3", "0x10", "%FF", "%C0%AF", "1%00"] {
        b.get(format!("read: id {id}"), Nasional, format!("/api/incidents/{id}"), Status(400));
    }
    let (mine, theirs) = (known.makassar, known.jakarta);
    let edit = json!({"properties": {"severity": 4}}).to_string().into_bytes();
    let v1: &[(&str, &[u8])] = &[("if-match", b"\"1\"")];
    b.get("read: another region's incident", Makassar, format!("/api/incidents/{theirs}"), Status(404));
    b.get("history: another region's incident", Makassar, format!("/api/incidents/{theirs}/history"), Status(404));
    b.send(
        "edit: another region's incident",
        Makassar,
        "PATCH",
        format!("/api/incidents/{theirs}"),
        geo,
        v1,
        edit.clone(),
        Status(404),
    );
    b.send(
        "delete: another region's incident",
        Makassar,
        "DELETE",
        format!("/api/incidents/{theirs}"),
        None,
        v1,
        Vec::new(),
        Status(404),
    );
    b.send(
        "delete: the analis role",
        Analis,
        "DELETE",
        format!("/api/incidents/{mine}"),
        None,
        v1,
        Vec::new(),
        Status(403),
    );
    b.send(
        "edit: the analis role",
        Analis,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        v1,
        edit.clone(),
        Status(403),
    );
    let to_jakarta = json!({"geometry": {"type": "Point", "coordinates": [IN_JAKARTA.0, IN_JAKARTA.1]}}).to_string();
    b.send(
        "edit: moving into another region",
        Makassar,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        v1,
        to_jakarta.into_bytes(),
        Status(403),
    );
    b.send(
        "edit: no If-Match",
        Nasional,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        &[],
        edit.clone(),
        Status(428),
    );
    b.send(
        "edit: garbage If-Match",
        Nasional,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        &[("if-match", b"' or 1=1 --")],
        edit.clone(),
        Status(422),
    );
    b.send(
        "edit: If-Match beyond i32",
        Nasional,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        &[("if-match", b"\"99999999999\"")],
        edit.clone(),
        Status(422),
    );
    b.send(
        "edit: stale If-Match",
        Nasional,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        &[("if-match", b"\"7\"")],
        edit.clone(),
        Status(412),
    );
    b.send(
        "delete: stale If-Match",
        Nasional,
        "DELETE",
        format!("/api/incidents/{mine}"),
        None,
        &[("if-match", b"\"7\"")],
        Vec::new(),
        Status(412),
    );
    b.send(
        "edit: 100,000 nested arrays",
        Nasional,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        v1,
        nested_arrays(100_000),
        Status(400),
    );
    let read_only = json!({"properties": {"id": 1, "version": 99}}).to_string().into_bytes();
    b.send(
        "edit: a read-only property",
        Nasional,
        "PATCH",
        format!("/api/incidents/{mine}"),
        geo,
        v1,
        read_only,
        Status(422),
    );
    let nan = b"{\"properties\": {\"severity\": NaN}}".to_vec();
    b.send("edit: NaN severity", Nasional, "PATCH", format!("/api/incidents/{mine}"), geo, v1, nan, Status(400));
    let reopen = json!({"properties": {"status": "selesai"}}).to_string().into_bytes();
    b.send("edit: anonymous", Anonymous, "PATCH", format!("/api/incidents/{mine}"), geo, v1, reopen, Status(401));
    b.send("PUT on an incident", Nasional, "PUT", format!("/api/incidents/{mine}"), geo, v1, edit, Status(405));
}

fn lists(b: &mut Builder) {
    b.family = "incident lists";
    let filters = [
        "bbox",
        "kode",
        "level",
        "category",
        "status",
        "severity_min",
        "severity_max",
        "from",
        "to",
        "limit",
        "cursor",
    ];
    for filter in filters {
        for sql in SQL {
            let target = format!("/api/incidents?{filter}={}", encode(sql));
            b.get(format!("list: SQL {sql:?} in {filter}"), Nasional, target, Status(400));
        }
    }
    for sql in SQL {
        b.get(format!("list: SQL {sql:?} as text"), Nasional, format!("/api/incidents?q={}", encode(sql)), NoMatch);
    }
    for (what, query) in [
        ("bbox of 1e400", "bbox=1e400,0,1,1"),
        ("bbox of NaN", "bbox=NaN,NaN,NaN,NaN"),
        ("bbox of inf", "bbox=-inf,-90,inf,90"),
        ("bbox with 5 numbers", "bbox=1,2,3,4,5"),
        ("limit 2^64", "limit=18446744073709551616"),
        ("limit 0", "limit=0"),
        ("limit -1", "limit=-1"),
        ("severity_min 2^64", "severity_min=18446744073709551616"),
        ("from in year 999999", "from=999999-01-01"),
        ("from after to", "from=2026-02-01&to=2026-01-01"),
        ("an unknown parameter", "evil=1"),
        ("a repeated parameter", "limit=1&limit=2"),
        ("q of 201 characters", &format!("q={}", "x".repeat(201))),
        ("q of 10,000 characters", &format!("q={}", "x".repeat(10_000))),
        ("a 10,000-character kode", &format!("kode={}", "7".repeat(10_000))),
        ("q of invalid UTF-8", "q=%FF%FE"),
        ("category of invalid UTF-8", "category=%C0%AF"),
        ("a malformed escape", "q=%G0"),
    ] {
        b.get(format!("list: {what}"), Nasional, format!("/api/incidents?{query}"), Status(400));
    }
    b.get("list: anonymous", Anonymous, "/api/incidents", Status(401));
}

fn regions_risk_hotspots(b: &mut Builder) {
    b.family = "regions, risk, hotspots";
    let sql_params = [
        ("/api/regions", "level"),
        ("/api/regions", "parent"),
        ("/api/risk", "level"),
        ("/api/risk", "window"),
        ("/api/regions/73.71/risk", "window"),
        ("/api/regions/73.71/risk", "history_days"),
        ("/api/hotspots", "level"),
        ("/api/hotspots", "window"),
        ("/api/hotspots", "weights"),
        ("/api/hotspots", "k"),
        ("/api/hotspots", "fdr"),
        ("/api/hotspots/clusters", "window"),
        ("/api/hotspots/clusters", "eps_m"),
        ("/api/hotspots/clusters", "min_points"),
    ];
    for (path, param) in sql_params {
        for sql in &SQL[..2] {
            b.get(
                format!("{path}: SQL {sql:?} in {param}"),
                Anonymous,
                format!("{path}?{param}={}", encode(sql)),
                Status(400),
            );
        }
    }
    for sql in SQL {
        b.get(format!("region: SQL {sql:?} as code"), Anonymous, format!("/api/regions/{}", encode(sql)), Status(400));
        b.get(
            format!("region risk: SQL {sql:?} as code"),
            Anonymous,
            format!("/api/regions/{}/risk", encode(sql)),
            Status(400),
        );
    }
    for (what, target, expect) in [
        ("an unknown region", "/api/regions/99.99".to_owned(), Status(404)),
        ("a 10,000-character code", format!("/api/regions/{}", "7".repeat(10_000)), Status(400)),
        ("a code of invalid UTF-8", "/api/regions/%FF".to_owned(), Status(400)),
        ("a traversal as code", "/api/regions/..%2f..%2fetc%2fpasswd".to_owned(), Status(400)),
        ("an unknown parameter", "/api/regions?evil=1".to_owned(), Status(400)),
        ("level of invalid UTF-8", "/api/regions?level=%FF".to_owned(), Status(400)),
        ("risk window 1e400", "/api/risk?window=1e400".to_owned(), Status(400)),
        ("risk window 2^64", "/api/risk?window=18446744073709551616".to_owned(), Status(400)),
        ("risk window -1", "/api/risk?window=-1".to_owned(), Status(400)),
        ("risk window NaN", "/api/risk?window=NaN".to_owned(), Status(400)),
        ("risk history_days 2^64", "/api/regions/73.71/risk?history_days=18446744073709551616".to_owned(), Status(400)),
        ("hotspots k 2^64", "/api/hotspots?weights=knn&k=18446744073709551616".to_owned(), Status(400)),
        ("hotspots k -1", "/api/hotspots?weights=knn&k=-1".to_owned(), Status(400)),
        ("clusters eps_m NaN", "/api/hotspots/clusters?eps_m=NaN".to_owned(), Status(400)),
        ("clusters eps_m 1e400", "/api/hotspots/clusters?eps_m=1e400".to_owned(), Status(400)),
        ("clusters eps_m -1", "/api/hotspots/clusters?eps_m=-1".to_owned(), Status(400)),
        ("clusters min_points 2^64", "/api/hotspots/clusters?min_points=18446744073709551616".to_owned(), Status(400)),
        ("POST to the regions", "/api/regions".to_owned(), Status(405)),
    ] {
        if what.starts_with("POST") {
            b.send(what, Anonymous, "POST", target, Some("application/json"), &[], b"{}".to_vec(), expect);
        } else {
            b.get(what, Anonymous, target, expect);
        }
    }
}

fn tiles_styles_static(b: &mut Builder) {
    b.family = "tiles, styles, openapi, page";
    for (what, target, expect) in [
        ("tile: traversal", "/tiles/../../etc/passwd", Status(404)),
        ("tile: encoded traversal", "/tiles/%2e%2e%2f%2e%2e%2fetc%2fpasswd", Status(404)),
        ("tile: encoded traversal as source", "/tiles/%2e%2e%2f%2e%2e%2fetc/0/0/0", Status(404)),
        ("tilejson: encoded traversal", "/tiles/..%2f..%2fCargo.toml", Status(404)),
        ("tile: z 99", "/tiles/sipks/99/0/0", Status(400)),
        ("tile: x 2^40", "/tiles/sipks/5/1099511627776/0", Status(400)),
        ("tile: y 2^64", "/tiles/sipks/5/0/18446744073709551616", Status(400)),
        ("tile: negative z", "/tiles/sipks/-1/0/0", Status(400)),
        ("tile: negative x", "/tiles/sipks/5/-3/4", Status(400)),
        ("tile: y beyond 2^z", "/tiles/sipks/5/3/32.mvt", Status(400)),
        ("tile: z below the source's", "/tiles/kecamatan/2/1/1", Status(400)),
        ("tile: another extension", "/tiles/sipks/5/3/4.png", Status(400)),
        ("tile: two extensions", "/tiles/sipks/5/3/4.mvt.mvt", Status(400)),
        ("tile: a fraction", "/tiles/sipks/5/3.5/4", Status(400)),
        ("tile: an exponent", "/tiles/sipks/1e1/3/4", Status(400)),
        ("tile: window 1e400", "/tiles/sipks/5/26/16.mvt?window=1e400", Status(400)),
        ("tile: window SQL", "/tiles/sipks/5/26/16.mvt?window=%27%20or%201%3D1%20--", Status(400)),
        ("tile: an unknown parameter", "/tiles/sipks/5/26/16.mvt?evil=1", Status(400)),
        ("tile: source SQL", "/tiles/%27%20or%201%3D1%20--/0/0/0", Status(404)),
        ("tilejson: source SQL", "/tiles/sipks%3Bdrop%20table%20incidents", Status(404)),
        ("tile: source of invalid UTF-8", "/tiles/%FF/0/0/0", Status(400)),
        ("style: traversal", "/styles/../Cargo.toml", Status(404)),
        ("style: encoded traversal", "/styles/..%2fCargo.toml", Status(404)),
        ("style: NUL", "/styles/sipks.json%00", Status(404)),
        ("style: SQL", "/styles/%27%20or%201%3D1%20--", Status(404)),
        ("openapi: traversal", "/openapi.json/../../etc/passwd", Status(404)),
        ("page: traversal", "/%2e%2e/%2e%2e/etc/passwd", Status(404)),
        ("page: double slash", "//etc/passwd", Status(404)),
        ("assets: traversal", "/assets/../../Cargo.toml", Status(404)),
        ("assets: encoded traversal", "/assets/..%2f..%2fCargo.toml", Status(404)),
        ("assets: encoded dots", "/assets/%2e%2e%2f%2e%2e%2fCargo.toml", Status(404)),
        ("assets: a dot file", "/assets/.env", Status(404)),
        ("assets: NUL", "/assets/app.js%00.png", Status(404)),
        ("assets: backslashes", "/assets/..%5c..%5cCargo.toml", Status(404)),
        ("assets: invalid UTF-8", "/assets/%FF", Status(400)),
        ("fonts: traversal as font", "/fonts/..%2f..%2f..%2fetc/0-255.pbf", Status(404)),
        ("fonts: traversal as range", "/fonts/Open%20Sans%20Regular/..%2f..%2f..%2fCargo.toml", Status(404)),
        ("fonts: huge range", "/fonts/Open%20Sans%20Regular/99999999-99999999.pbf", Status(404)),
        ("fonts: SQL as font", "/fonts/%27%20or%201%3D1%20--/0-255.pbf", Status(404)),
    ] {
        b.get(what, Anonymous, target, expect);
    }
    b.get("tile: a garbage token", Who::Header(b"Bearer garbage".to_vec()), "/tiles/sipks/0/0/0", Status(401));
    let host = |b: &mut Builder, what: &str, target: &str, value: &[u8]| {
        let headers = vec![("host".to_owned(), value.to_vec())];
        b.add(
            what,
            Anonymous,
            RawRequest { method: "GET", target: target.into(), headers, body: Vec::new() },
            Status(400),
        );
    };
    host(b, "tilejson: a Host that breaks out of its JSON string", "/tiles/sipks", b"x\"}],\"evil\":[{\"");
    host(b, "tile list: a Host of HTML", "/tiles", b"<script>alert(1)</script>");
    host(b, "style: a Host that breaks out of its JSON string", "/styles/sipks.json", b"x\",\"evil\":\"");
    host(b, "style: a Host of invalid UTF-8", "/styles/sipks.json", b"\xff\xfe");
    b.send("page: POST", Anonymous, "POST", "/", Some("application/json"), &[], b"{}".to_vec(), Status(405));
    b.send(
        "openapi: POST",
        Anonymous,
        "POST",
        "/openapi.json",
        Some("application/json"),
        &[],
        b"{}".to_vec(),
        Status(405),
    );
    b.send(
        "events: POST",
        Anonymous,
        "POST",
        "/api/events",
        Some("application/json"),
        &[],
        b"{}".to_vec(),
        Status(405),
    );
    b.send("tiles: DELETE", Anonymous, "DELETE", "/tiles/sipks/0/0/0", None, &[], Vec::new(), Status(405));
}

fn exports(b: &mut Builder) {
    b.family = "exports, OGC API";
    for param in ["format", "region", "bbox", "from", "to", "category", "status", "window"] {
        for sql in &SQL[..2] {
            let target = format!("/api/export/incidents?{param}={}", encode(sql));
            b.get(format!("export: SQL {sql:?} in {param}"), Nasional, target, Status(400));
        }
    }
    for param in ["bbox", "datetime", "limit", "offset", "f"] {
        for sql in &SQL[..2] {
            let target = format!("/ogc/collections/kabupaten_kota/items?{param}={}", encode(sql));
            b.get(format!("OGC items: SQL {sql:?} in {param}"), Anonymous, target, Status(400));
        }
    }
    for (what, who, target) in [
        ("export: SQL as layer", Nasional, format!("/api/export/{}", encode(SQL[0]))),
        ("export: encoded traversal as layer", Nasional, "/api/export/..%2f..%2fCargo.toml".to_owned()),
        ("export: incidents without a token", Anonymous, "/api/export/incidents".to_owned()),
        ("export: an unknown region", Nasional, "/api/export/incidents?region=99.99".to_owned()),
        ("export: window 2^64", Nasional, "/api/export/kabupaten_kota?window=18446744073709551616".to_owned()),
        ("export: bbox of NaN", Nasional, "/api/export/kabupaten_kota?bbox=NaN,NaN,NaN,NaN".to_owned()),
        ("export: an unknown parameter", Nasional, "/api/export/kabupaten_kota?evil=1".to_owned()),
        ("OGC: SQL as collection", Anonymous, format!("/ogc/collections/{}", encode(SQL[0]))),
        ("OGC: SQL as collection of items", Anonymous, format!("/ogc/collections/{}/items", encode(SQL[1]))),
        ("OGC: SQL as feature id", Anonymous, format!("/ogc/collections/kabupaten_kota/items/{}", encode(SQL[0]))),
        ("OGC: an unknown region", Anonymous, "/ogc/collections/kabupaten_kota/items/99.99".to_owned()),
        // A limit above the longest page, even 2^64, is served capped (OGC API - Features
        // Part 1, permission 5; issue 16.12): only one below 1 or not a number is refused.
        ("OGC: limit 0", Anonymous, "/ogc/collections/kabupaten_kota/items?limit=0".to_owned()),
        ("OGC: limit not a number", Anonymous, "/ogc/collections/kabupaten_kota/items?limit=1e3".to_owned()),
        ("OGC: negative offset", Anonymous, "/ogc/collections/kabupaten_kota/items?offset=-1".to_owned()),
        ("OGC: an open interval at both ends", Anonymous, "/ogc/collections/incidents/items?datetime=../..".to_owned()),
        ("OGC: bbox of 1e400", Anonymous, "/ogc/collections/kabupaten_kota/items?bbox=1e400,0,1,1".to_owned()),
        ("OGC: an unknown parameter", Anonymous, "/ogc/collections?evil=1".to_owned()),
        ("OGC: traversal", Anonymous, "/ogc/collections/..%2f..%2fetc%2fpasswd/items".to_owned()),
    ] {
        b.get(what, who, target, ClientError);
    }
}

/// NUL characters (U+0000, which PostgreSQL text cannot hold) in bodies and queries: a
/// 422 naming the field, or a 400 for a query; never the 500 of a failed statement.
fn nul_characters(b: &mut Builder, known: &Known) {
    b.family = "NUL characters";
    let (json, geo) = (Some("application/json"), Some("application/geo+json"));
    for (what, body) in [
        ("login: NUL in the name", json!({"username": "a\u{0}b", "password": "x"})),
        ("login: NUL in the password", json!({"username": "a", "password": "x\u{0}"})),
    ] {
        b.send(what, Anonymous, "POST", "/api/login", json, &[], body.to_string().into_bytes(), Status(422));
    }
    for field in ["description", "source", "category"] {
        let body = with_property(field, json!(format!("awal\u{0}akhir")));
        b.send(format!("create: NUL in {field}"), Nasional, "POST", "/api/incidents", geo, &[], body, Status(422));
    }
    let edit = json!({"properties": {"description": "\u{0}"}}).to_string().into_bytes();
    let target = format!("/api/incidents/{}", known.makassar);
    b.send("edit: NUL in description", Nasional, "PATCH", target, geo, &[("if-match", b"\"1\"")], edit, Status(422));
    for target in [
        "/api/incidents?q=%00",
        "/api/incidents?q=a%00b",
        "/api/incidents?category=%00",
        "/api/export/incidents?category=%00",
        "/api/regions?parent=%00",
        "/api/risk?window=%00",
    ] {
        b.get(format!("NUL in {target}"), Nasional, target, Status(400));
    }
    b.get("OGC items: NUL in datetime", Anonymous, "/ogc/collections/kabupaten_kota/items?datetime=%00", Status(400));
}

/// Bytes no client library sends: invalid UTF-8 and control characters, unencoded, in
/// the path and the query (percent-encoded, the same bytes are in the other families).
fn raw_bytes(b: &mut Builder) {
    b.family = "raw bytes";
    for (what, target) in [
        ("invalid UTF-8 in a region code", &b"/api/regions/\xff\xfe"[..]),
        ("invalid UTF-8 in a tile source", b"/tiles/\xc3\x28/0/0/0"),
        ("invalid UTF-8 in an incident id", b"/api/incidents/\xff"),
        ("invalid UTF-8 in a query", b"/api/incidents?q=\xff\xfe"),
        ("invalid UTF-8 in a file name", b"/assets/\xff.js"),
        ("a DEL in the path", b"/api/regions/73\x7f71"),
        ("a tab in the path", b"/api/regions/73\t71"),
    ] {
        b.get(what, Nasional, target, Unparsable);
    }
}
