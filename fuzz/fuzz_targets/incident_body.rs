//! The incident body parser of POST and PATCH /api/incidents: JSON text, then
//! `read_feature` for a new incident and as an edit of an existing one.
#![no_main]

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use sipks::incident::Fields;
use sipks::ingest::feature::read_feature;

static NOW: LazyLock<DateTime<Utc>> =
    LazyLock::new(|| DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z").expect("time").with_timezone(&Utc));

/// An incident to edit.
static BASE: LazyLock<Fields> = LazyLock::new(|| {
    let body = serde_json::json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [119.42, -5.14]},
        "properties": {"category": "agraria", "severity": 3, "occurred_at": "2026-11-20", "description": "dasar"},
    });
    read_feature(&body, None, *NOW).expect("a valid base incident").0
});

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let _ = read_feature(&value, None, *NOW);
    let _ = read_feature(&value, Some(&BASE), *NOW);
});
