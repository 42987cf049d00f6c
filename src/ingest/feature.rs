//! An incident as the API receives it: a GeoJSON Feature (its `geometry` and
//! `properties`) read into checked fields, for a new incident or over an existing one
//! for an edit, or the one field that is wrong and why. Knows nothing of HTTP (the
//! server answers a [`FieldError`] with 422).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::incidents::{check_geometry, geometry_from_json, parse_time};
use crate::incident::{Casualties, Fields};
use crate::incident::{Category, Severity, Status};
use crate::region::RegionCode;

/// A field of the body that is wrong: its JSON path (`properties.severity`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// JSON path of the field, e.g. `properties.severity`, or `body` for the whole.
    pub field: String,
    /// What is wrong with it (English).
    pub reason: String,
}

impl FieldError {
    fn new(field: &str, reason: impl Into<String>) -> FieldError {
        FieldError { field: field.to_owned(), reason: reason.into() }
    }
}

/// The properties an operator may send.
const WRITABLE: [&str; 8] =
    ["category", "severity", "status", "occurred_at", "source", "description", "casualties", "kode"];
/// The properties the server writes.
const READ_ONLY: [&str; 9] =
    ["id", "kecamatan", "kabupaten_kota", "provinsi", "at_sea", "reporter", "created_at", "updated_at", "version"];

/// Longest source, description and reason, in characters.
pub const MAX_TEXT: usize = 10_000;

/// Reads an incident body (a GeoJSON Feature) into fields: for a create, `base` is
/// `None` and the required fields must be there; for an edit, what is sent replaces
/// `base`. Also returns the body's `reason` (why a status goes back), if any.
pub fn read_feature(
    body: &Value,
    base: Option<&Fields>,
    now: DateTime<Utc>,
) -> Result<(Fields, Option<String>), FieldError> {
    let object = body.as_object().ok_or_else(|| FieldError::new("body", "must be a GeoJSON Feature object"))?;
    for key in object.keys() {
        if !matches!(key.as_str(), "type" | "geometry" | "properties" | "reason" | "id" | "bbox") {
            return Err(FieldError::new(key, "unknown member of a Feature"));
        }
    }
    match object.get("type") {
        Some(Value::String(t)) if t == "Feature" => {}
        None if base.is_some() => {}
        _ => return Err(FieldError::new("type", "must be \"Feature\"")),
    }
    let reason = match object.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.chars().count() <= MAX_TEXT => Some(r.trim().to_owned()).filter(|r| !r.is_empty()),
        Some(_) => return Err(FieldError::new("reason", format!("must be text of at most {MAX_TEXT} characters"))),
    };
    let empty = Map::new();
    let properties = match object.get("properties") {
        Some(Value::Object(p)) => p,
        None | Some(Value::Null) if base.is_some() => &empty,
        _ => return Err(FieldError::new("properties", "must be an object")),
    };
    for key in properties.keys() {
        if READ_ONLY.contains(&key.as_str()) {
            return Err(FieldError::new(&format!("properties.{key}"), "is set by the server (read-only)"));
        }
        if !WRITABLE.contains(&key.as_str()) {
            return Err(FieldError::new(&format!("properties.{key}"), "unknown property"));
        }
    }
    let prop = |name: &str| properties.get(name);
    let required = |name: &str| -> Result<&Value, FieldError> {
        prop(name).ok_or_else(|| FieldError::new(&format!("properties.{name}"), "is required"))
    };
    let text = |name: &str, old: Option<&String>| -> Result<String, FieldError> {
        match prop(name) {
            None => Ok(old.cloned().unwrap_or_default()),
            Some(Value::String(s)) if s.chars().count() <= MAX_TEXT => Ok(s.clone()),
            Some(Value::String(_)) => {
                Err(FieldError::new(&format!("properties.{name}"), format!("longer than {MAX_TEXT} characters")))
            }
            Some(Value::Null) => Ok(String::new()),
            Some(_) => Err(FieldError::new(&format!("properties.{name}"), "must be text")),
        }
    };
    let category = match (prop("category"), base) {
        (None, Some(b)) => b.category,
        _ => {
            let v = required("category")?;
            v.as_str()
                .ok_or_else(|| FieldError::new("properties.category", "must be text"))?
                .parse::<Category>()
                .map_err(|e| FieldError::new("properties.category", e))?
        }
    };
    let severity = match (prop("severity"), base) {
        (None, Some(b)) => b.severity,
        _ => {
            let v = required("severity")?;
            let n = v
                .as_u64()
                .ok_or_else(|| FieldError::new("properties.severity", "must be a whole number from 1 to 5"))?;
            u8::try_from(n)
                .ok()
                .and_then(Severity::new)
                .ok_or_else(|| FieldError::new("properties.severity", format!("{n} is out of range 1 to 5")))?
        }
    };
    let status = match (prop("status"), base) {
        (None, Some(b)) => b.status,
        (None, None) => Status::Potensi,
        (Some(v), _) => v
            .as_str()
            .ok_or_else(|| FieldError::new("properties.status", "must be text"))?
            .parse::<Status>()
            .map_err(|e| FieldError::new("properties.status", e))?,
    };
    let occurred_at = match (prop("occurred_at"), base) {
        (None, Some(b)) => b.occurred_at,
        _ => {
            let v = required("occurred_at")?;
            let s = v.as_str().ok_or_else(|| FieldError::new("properties.occurred_at", "must be an RFC 3339 time"))?;
            let t = parse_time(s).map_err(|e| FieldError::new("properties.occurred_at", e))?;
            if t > now + chrono::Duration::minutes(5) {
                return Err(FieldError::new("properties.occurred_at", format!("{s} lies in the future")));
            }
            t
        }
    };
    let casualties = match (prop("casualties"), base) {
        (None, Some(b)) => b.casualties,
        (None, None) | (Some(Value::Null), _) => Casualties::default(),
        (Some(Value::Object(c)), _) => {
            let mut out = base.map(|b| b.casualties).unwrap_or_default();
            for (key, value) in c {
                let n = value.as_u64().and_then(|n| i32::try_from(n).ok()).ok_or_else(|| {
                    FieldError::new(&format!("properties.casualties.{key}"), "must be a count (0 or more)")
                })?;
                match key.as_str() {
                    "meninggal" => out.meninggal = n,
                    "luka" => out.luka = n,
                    "pengungsi" => out.pengungsi = n,
                    _ => {
                        return Err(FieldError::new(
                            &format!("properties.casualties.{key}"),
                            "unknown (meninggal, luka, pengungsi)",
                        ))
                    }
                }
            }
            out
        }
        (Some(_), _) => return Err(FieldError::new("properties.casualties", "must be an object")),
    };
    let geometry = match (object.get("geometry"), base) {
        (None, Some(b)) => b.geometry.clone(),
        (None, None) => {
            return Err(FieldError::new("geometry", "is required (null for a report known only by its region)"))
        }
        (Some(Value::Null), _) => None,
        (Some(g), _) => {
            let geometry = geometry_from_json(g).map_err(|e| FieldError::new("geometry", e))?;
            check_geometry(&geometry).map_err(|e| FieldError::new("geometry", e))?;
            Some(geometry)
        }
    };
    let region = match (prop("kode"), base) {
        (None, Some(b)) => b.region.clone(),
        (None, None) | (Some(Value::Null), _) => None,
        (Some(Value::String(code)), _) => {
            Some(code.parse::<RegionCode>().map_err(|e| FieldError::new("properties.kode", e.to_string()))?)
        }
        (Some(_), _) => return Err(FieldError::new("properties.kode", "must be a region code")),
    };
    // A report with a geometry is placed by it; a region code only locates one without.
    let region = if geometry.is_some() { None } else { region };
    if geometry.is_none() && region.is_none() {
        return Err(FieldError::new("properties.kode", "is required when geometry is null"));
    }
    let source = text("source", base.map(|b| &b.source))?;
    let description = text("description", base.map(|b| &b.description))?;
    Ok((Fields { geometry, region, category, severity, status, occurred_at, source, description, casualties }, reason))
}
