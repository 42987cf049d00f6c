//! The requests the incident API must refuse, each with the status, field and words
//! of its problem: malformed and mistyped bodies, unknown and missing fields, values
//! out of range, invalid geometry, places outside Indonesia, oversized bodies and other
//! media types.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{at_point, days_ago, feature, problem, ring, Api};
use crate::{INDIAN_OCEAN, IN_MAKASSAR};

/// A request that must be refused: what it is, its content type, its body, and the
/// status, field and words of the answer.
pub struct Refused {
    pub what: &'static str,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub status: u16,
    pub field: Option<&'static str>,
    pub says: &'static str,
}

/// A valid incident, changed by `edit`.
fn changed(edit: impl FnOnce(&mut Value)) -> Value {
    let mut body = at_point(IN_MAKASSAR, "validasi");
    edit(&mut body);
    body
}

/// A valid incident with one property replaced (`Value::Null`: removed).
fn with_property(name: &str, value: Value) -> Value {
    changed(|body| {
        let properties = body["properties"].as_object_mut().expect("properties");
        match value {
            Value::Null => properties.remove(name),
            value => properties.insert(name.to_owned(), value),
        };
    })
}

/// A complete incident with a polygon of these rings.
pub fn polygon(rings: Value) -> Value {
    feature(json!({ "type": "Polygon", "coordinates": rings }), "validasi")
}

/// Creations (POST) that must be refused.
pub fn refused_creations() -> Vec<Refused> {
    let json_case = |what, body: Value, field, says| Refused {
        what,
        content_type: Some("application/geo+json"),
        body: body.to_string().into_bytes(),
        status: 422,
        field: Some(field),
        says,
    };
    let (x, y) = IN_MAKASSAR;
    let square = |d: f64| vec![[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]];
    let mut open = square(0.002);
    open.pop();
    let oversized = changed(|body| body["properties"]["description"] = json!("x".repeat(1_100_000)));
    let nan = at_point(IN_MAKASSAR, "validasi").to_string().replacen("119.42", "NaN", 1);
    let mut cases = vec![
        Refused {
            what: "malformed JSON",
            content_type: Some("application/geo+json"),
            body: br#"{"type": "Feature", "geometry": {"type": "Point", "#.to_vec(),
            status: 400,
            field: None,
            says: "not valid JSON",
        },
        Refused {
            what: "an empty body",
            content_type: Some("application/json"),
            body: Vec::new(),
            status: 400,
            field: None,
            says: "not valid JSON",
        },
        Refused {
            what: "a NaN coordinate, which JSON cannot carry",
            content_type: Some("application/geo+json"),
            body: nan.into_bytes(),
            status: 400,
            field: None,
            says: "not valid JSON",
        },
        // Wrong types.
        json_case("severity as text", with_property("severity", json!("3")), "properties.severity", "whole number"),
        json_case(
            "a fractional severity",
            with_property("severity", json!(3.5)),
            "properties.severity",
            "whole number",
        ),
        json_case("category as a number", with_property("category", json!(7)), "properties.category", "text"),
        json_case("an unknown category", with_property("category", json!("banjir")), "properties.category", "banjir"),
        json_case(
            "occurred_at as a number",
            with_property("occurred_at", json!(20261120)),
            "properties.occurred_at",
            "RFC 3339",
        ),
        json_case(
            "occurred_at not a time",
            with_property("occurred_at", json!("kemarin")),
            "properties.occurred_at",
            "kemarin",
        ),
        json_case("description as a number", with_property("description", json!(5)), "properties.description", "text"),
        json_case(
            "casualties as text",
            with_property("casualties", json!("banyak")),
            "properties.casualties",
            "object",
        ),
        json_case(
            "negative casualties",
            with_property("casualties", json!({ "luka": -1 })),
            "properties.casualties.luka",
            "count",
        ),
        json_case("status as a number", with_property("status", json!(2)), "properties.status", "text"),
        json_case(
            "properties as a list",
            json!({ "type": "Feature", "geometry": null, "properties": [] }),
            "properties",
            "object",
        ),
        json_case("geometry as text", feature(json!("Makassar"), "validasi"), "geometry", "type"),
        json_case(
            "a coordinate as text \"NaN\"",
            feature(json!({ "type": "Point", "coordinates": ["NaN", y] }), "validasi"),
            "geometry",
            "not numeric",
        ),
        json_case(
            "a null coordinate (what JSON.stringify makes of NaN)",
            feature(json!({ "type": "Point", "coordinates": [null, y] }), "validasi"),
            "geometry",
            "[null,-5.14] is not numeric",
        ),
        // Unknown fields.
        json_case("an unknown property", with_property("warna", json!("merah")), "properties.warna", "unknown"),
        json_case("a read-only property", with_property("version", json!(7)), "properties.version", "read-only"),
        json_case(
            "an unknown casualty",
            with_property("casualties", json!({ "hilang": 1 })),
            "properties.casualties.hilang",
            "unknown",
        ),
        json_case(
            "an unknown member of the Feature",
            changed(|body| body["crs"] = json!("EPSG:4326")),
            "crs",
            "unknown",
        ),
        json_case(
            "a type other than Feature",
            changed(|body| body["type"] = json!("FeatureCollection")),
            "type",
            "Feature",
        ),
        // Missing required fields.
        json_case("no category", with_property("category", Value::Null), "properties.category", "required"),
        json_case("no severity", with_property("severity", Value::Null), "properties.severity", "required"),
        json_case("no occurred_at", with_property("occurred_at", Value::Null), "properties.occurred_at", "required"),
        json_case(
            "no geometry",
            changed(|body| {
                body.as_object_mut().expect("object").remove("geometry");
            }),
            "geometry",
            "required",
        ),
        json_case(
            "a null geometry without a region code",
            feature(Value::Null, "validasi"),
            "properties.kode",
            "required",
        ),
        // Ranges.
        json_case("severity 0", with_property("severity", json!(0)), "properties.severity", "out of range"),
        json_case("severity 6", with_property("severity", json!(6)), "properties.severity", "out of range"),
        json_case(
            "occurred_at tomorrow",
            with_property("occurred_at", json!(days_ago(-1))),
            "properties.occurred_at",
            "in the future",
        ),
        // Geometry.
        json_case("an unclosed ring", polygon(json!([open])), "geometry", "must be closed"),
        json_case(
            "a ring of 3 positions",
            polygon(json!([[[x, y], [x + 0.002, y], [x, y]]])),
            "geometry",
            "at least 4 positions",
        ),
        json_case(
            "a longitude beyond 180",
            feature(json!({ "type": "Point", "coordinates": [200.0, y] }), "validasi"),
            "geometry",
            "coordinate 1 (200, -5.14) is not a valid longitude, latitude",
        ),
        json_case(
            "a latitude beyond 90 in a polygon",
            polygon(json!([[[x, y], [x + 0.002, y], [x, -95.0], [x, y]]])),
            "geometry",
            "coordinate 3 (119.42, -95) is not a valid longitude, latitude",
        ),
        json_case(
            "a polygon of 10,002 positions",
            polygon(json!([ring(IN_MAKASSAR, 0.003, 10_001)])),
            "geometry",
            "10002 vertices, more than the 10000 allowed",
        ),
        json_case(
            "a line of 10,001 positions",
            feature(
                json!({ "type": "LineString", "coordinates": (0..10_001).map(|k| [x + 1e-6 * f64::from(k), y]).collect::<Vec<_>>() }),
                "validasi",
            ),
            "geometry",
            "10001 vertices, more than the 10000 allowed",
        ),
        json_case(
            "a MultiPoint",
            feature(json!({ "type": "MultiPoint", "coordinates": [[x, y]] }), "validasi"),
            "geometry",
            "not supported",
        ),
        json_case(
            "a point in the Indian Ocean",
            at_point(INDIAN_OCEAN, "validasi"),
            "geometry",
            "outside Indonesia's land and 12-nautical-mile waters",
        ),
        json_case(
            "an unknown region for a report without geometry",
            {
                let mut body = feature(Value::Null, "validasi");
                body["properties"]["kode"] = json!("99.99");
                body
            },
            "properties.kode",
            "99.99",
        ),
        // Size and media type.
        Refused {
            what: "a body over 1 MB",
            content_type: Some("application/geo+json"),
            body: oversized.to_string().into_bytes(),
            status: 413,
            field: None,
            says: "",
        },
    ];
    for (what, content_type) in [
        ("text/plain", Some("text/plain")),
        ("a form", Some("application/x-www-form-urlencoded")),
        ("no content type", None),
    ] {
        cases.push(Refused {
            what,
            content_type,
            body: at_point(IN_MAKASSAR, "validasi").to_string().into_bytes(),
            status: 415,
            field: None,
            says: "application/geo+json",
        });
    }
    cases
}

/// Everything the incident API stores, as one string: equal strings mean nothing
/// changed.
pub async fn stored(pool: &sqlx::PgPool) -> String {
    sqlx::query_scalar(
        "select concat_ws(' | ',
            (select count(*) || ':' || coalesce(md5(string_agg(i::text, ',' order by id)), '') from incidents i),
            (select count(*) from incident_history), (select count(*) from idempotency_keys))",
    )
    .fetch_one(pool)
    .await
    .expect("fingerprint of the incident tables")
}

pub async fn assert_refused(
    api: &Api,
    method: Method,
    path: &str,
    token: &str,
    case: &Refused,
    extra: &[(&str, &str)],
) {
    let mut headers: Vec<(&str, &str)> = case.content_type.map(|c| ("content-type", c)).into_iter().collect();
    headers.extend_from_slice(extra);
    let reply = api.send(method.clone(), path, Some(token), &headers, Some(case.body.clone())).await;
    let what = format!("{method} {path}: {}", case.what);
    let body = problem(&reply, case.status, case.field, &what);
    // The plain words (detail) or the reader's technical reason name what is wrong.
    let detail = body["detail"].as_str().unwrap_or_default();
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(
        detail.contains(case.says) || reason.contains(case.says),
        "{what}: the detail {detail:?} or reason {reason:?} should say {:?}",
        case.says
    );
}

/// Edits (PATCH) that must be refused.
pub fn refused_edits() -> Vec<Refused> {
    let (x, y) = IN_MAKASSAR;
    let patch = |what, body: Vec<u8>, status, field, says| Refused {
        what,
        content_type: Some("application/merge-patch+json"),
        body,
        status,
        field,
        says,
    };
    vec![
        patch("malformed JSON", b"{\"properties\": ".to_vec(), 400, None, "not valid JSON"),
        patch(
            "severity 9",
            json!({ "properties": { "severity": 9 } }).to_string().into_bytes(),
            422,
            Some("properties.severity"),
            "out of range",
        ),
        patch(
            "an unknown property",
            json!({ "properties": { "warna": "merah" } }).to_string().into_bytes(),
            422,
            Some("properties.warna"),
            "unknown",
        ),
        patch(
            "an unclosed ring",
            json!({ "geometry": { "type": "Polygon", "coordinates": [[[x, y], [x + 0.002, y], [x, y + 0.002], [x + 0.001, y]]] } })
                .to_string()
                .into_bytes(),
            422,
            Some("geometry"),
            "must be closed",
        ),
        patch(
            "a move into the Indian Ocean",
            json!({ "geometry": { "type": "Point", "coordinates": [INDIAN_OCEAN.0, INDIAN_OCEAN.1] } }).to_string().into_bytes(),
            422,
            Some("geometry"),
            "12-nautical-mile",
        ),
        Refused { content_type: Some("text/plain"), ..patch("text/plain", b"{}".to_vec(), 415, None, "application/geo+json") },
    ]
}
