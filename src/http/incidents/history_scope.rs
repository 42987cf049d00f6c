//! An incident's history as a caller may see it: the states in which the incident was
//! outside the caller's scope (before it was moved into the caller's region, after it
//! was moved out) are withheld, so the history does not show where it was elsewhere.

use serde_json::{json, Value};

use crate::auth::Scope;
use crate::db::incident_rows::HistoryEntry;
use crate::http::ApiError;
use crate::region::RegionCode;

/// Whether a feature as the API shows it is assigned within `scope`.
fn in_scope(feature: &Value, scope: &Scope) -> bool {
    let codes: Vec<Option<RegionCode>> = ["kecamatan", "kabupaten_kota", "provinsi"]
        .iter()
        .map(|k| feature["properties"][k].as_str().and_then(|c| c.parse().ok()))
        .collect();
    scope.covers(&[codes[0].as_ref(), codes[1].as_ref(), codes[2].as_ref()])
}

/// The entries as JSON, each `before`/`after` outside `scope` set to null and named in
/// the entry's `withheld`.
pub fn withhold_outside(entries: Vec<HistoryEntry>, scope: &Scope) -> Result<Vec<Value>, ApiError> {
    entries
        .into_iter()
        .map(|entry| {
            let mut entry = serde_json::to_value(entry).map_err(|e| ApiError::Internal(e.to_string()))?;
            let mut withheld = Vec::new();
            for side in ["before", "after"] {
                if !entry[side].is_null() && !in_scope(&entry[side], scope) {
                    entry[side] = Value::Null;
                    withheld.push(side);
                }
            }
            entry["withheld"] = json!(withheld);
            Ok(entry)
        })
        .collect()
}
