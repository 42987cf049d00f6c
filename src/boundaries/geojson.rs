//! Reader for RFC 7946 GeoJSON FeatureCollections of regions: one Feature per region
//! with a Polygon or MultiPolygon in (longitude, latitude) and properties naming the
//! code, name, level and parent (configurable; defaults `kode`, `nama`, `level`, `induk`).
//!
//! Features are read one by one, so a broken file is reported with the number of the
//! feature where it broke.

use std::fmt;
use std::path::Path;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::geometry::{Position, RawBoundary, Ring};
use super::{check_record, ImportError, RawRegion, RecordOrigin, Rejection};

/// Names of the feature properties that hold each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyNames {
    /// Kemendagri code, e.g. `34.01` (falls back to the feature `id`).
    pub code: String,
    /// Region name.
    pub name: String,
    /// Level (`provinsi`, `kabupaten_kota`, `kecamatan`); optional in the data.
    pub level: String,
    /// Parent code; optional in the data.
    pub parent: String,
}

impl Default for PropertyNames {
    fn default() -> Self {
        PropertyNames {
            code: "kode".to_owned(),
            name: "nama".to_owned(),
            level: "level".to_owned(),
            parent: "induk".to_owned(),
        }
    }
}

/// Collects the raw features of a FeatureCollection, counting them as it goes.
struct Collection<'a> {
    features: &'a mut Vec<Value>,
}

impl<'de> DeserializeSeed<'de> for Collection<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Collection<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a GeoJSON FeatureCollection object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut kind = None;
        let mut has_features = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => kind = Some(map.next_value::<String>()?),
                "features" => {
                    map.next_value_seed(Features { features: &mut *self.features })?;
                    has_features = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        match kind.as_deref() {
            Some("FeatureCollection") if has_features => Ok(true),
            Some("FeatureCollection") => Err(A::Error::custom("FeatureCollection without \"features\"")),
            Some(other) => Err(A::Error::custom(format!("type is {other:?}, expected \"FeatureCollection\""))),
            None => Err(A::Error::custom("no \"type\" member: not GeoJSON")),
        }
    }
}

struct Features<'a> {
    features: &'a mut Vec<Value>,
}

impl<'de> DeserializeSeed<'de> for Features<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Features<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of features")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(feature) = seq.next_element::<Value>()? {
            self.features.push(feature);
        }
        Ok(())
    }
}

/// Reads one FeatureCollection, appending good records to `regions` and bad ones to
/// `rejections`. Broken JSON fails the file, naming the feature where it broke.
pub(super) fn read(
    file: &Path,
    text: &str,
    names: &PropertyNames,
    regions: &mut Vec<RawRegion>,
    rejections: &mut Vec<Rejection>,
) -> Result<(), ImportError> {
    let mut features = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = Collection { features: &mut features }.deserialize(&mut deserializer).and_then(|_| deserializer.end());
    if let Err(e) = parsed {
        return Err(ImportError::Malformed {
            origin: RecordOrigin { file: file.to_path_buf(), record: features.len() + 1, line: Some(e.line()) },
            reason: format!("broken GeoJSON: {e}"),
        });
    }
    for (i, feature) in features.into_iter().enumerate() {
        let origin = RecordOrigin { file: file.to_path_buf(), record: i + 1, line: None };
        match to_region(feature, names, origin.clone()) {
            Ok(region) => regions.push(region),
            Err((code, reason)) => rejections.push(Rejection { origin, code, reason }),
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct Feature {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    properties: Option<Map<String, Value>>,
    #[serde(default)]
    geometry: Option<Map<String, Value>>,
}

fn to_region(value: Value, names: &PropertyNames, origin: RecordOrigin) -> Result<RawRegion, (Option<String>, String)> {
    let feature: Feature = serde_json::from_value(value).map_err(|e| (None, format!("not a valid Feature: {e}")))?;
    if feature.kind != "Feature" {
        return Err((None, format!("type is {:?}, expected \"Feature\"", feature.kind)));
    }
    let properties = feature.properties.unwrap_or_default();
    let text = |name: &str| -> Result<Option<&str>, String> {
        match properties.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(format!("property {name:?} must be a string, found {other}")),
        }
    };
    let id = match &feature.id {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let code = text(&names.code)
        .map_err(|e| (None, e))?
        .or(id)
        .ok_or_else(|| (None, format!("no code: property {:?} is missing", names.code)))?
        .to_owned();
    let with_code = |reason: String| (Some(code.clone()), reason);
    let name = text(&names.name)
        .map_err(with_code)?
        .ok_or_else(|| with_code(format!("no name: property {:?} is missing", names.name)))?;
    let level = text(&names.level).map_err(with_code)?;
    let parent = text(&names.parent).map_err(with_code)?;
    let geometry = feature.geometry.ok_or_else(|| with_code("geometry is null".to_owned()))?;
    let coordinates = geometry.get("coordinates").cloned().unwrap_or(Value::Null);
    let polygons: Result<Coordinates, _> = match geometry.get("type").and_then(Value::as_str) {
        Some("Polygon") => serde_json::from_value(coordinates).map(|rings| vec![rings]),
        Some("MultiPolygon") => serde_json::from_value(coordinates),
        _ => return Err(with_code("geometry must be a Polygon or MultiPolygon".to_owned())),
    };
    let polygons = polygons.map_err(|e| with_code(format!("malformed coordinates: {e}")))?;
    let polygons = polygons.into_iter().map(polygon).collect::<Result<_, _>>().map_err(with_code)?;
    check_record(&code, name, level, parent, RawBoundary { polygons }, origin).map_err(|r| (r.code, r.reason))
}

type Coordinates = Vec<Vec<Vec<Vec<f64>>>>;

fn polygon(rings: Vec<Vec<Vec<f64>>>) -> Result<Vec<Ring>, String> {
    rings.into_iter().map(|ring| ring.into_iter().map(position).collect()).collect()
}

fn position(coords: Vec<f64>) -> Result<Position, String> {
    match coords.as_slice() {
        [lon, lat, ..] => Ok([*lon, *lat]),
        _ => Err(format!("position {coords:?} has fewer than two numbers")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<(Vec<RawRegion>, Vec<Rejection>), ImportError> {
        let mut regions = Vec::new();
        let mut rejections = Vec::new();
        read(Path::new("t.geojson"), text, &PropertyNames::default(), &mut regions, &mut rejections)?;
        Ok((regions, rejections))
    }

    const SQUARE: &str = "[[[100,0],[101,0],[101,1],[100,1],[100,0]]]";

    fn feature(props: &str) -> String {
        format!(r#"{{"type":"Feature","properties":{props},"geometry":{{"type":"Polygon","coordinates":{SQUARE}}}}}"#)
    }

    #[test]
    fn reads_features_with_default_properties() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
            feature(r#"{"kode":"72","nama":"Sulawesi Tengah","level":"provinsi"}"#),
            feature(r#"{"kode":"72.01","nama":"Kabupaten Banggai","level":"kabupaten_kota","induk":"72"}"#)
        );
        let (regions, rejections) = read_str(&text).expect("parses");
        assert!(rejections.is_empty(), "{rejections:?}");
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[1].parent.as_ref().map(|p| p.as_str()), Some("72"));
        assert_eq!(regions[0].boundary.polygons[0][0][1], [101.0, 0.0]);
    }

    #[test]
    fn truncated_json_names_the_feature() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{},{{"type":"Feature","properties":{{"kode":"72.01""#,
            feature(r#"{"kode":"72","nama":"A"}"#)
        );
        let err = read_str(&text).expect_err("truncated");
        assert!(err.to_string().starts_with("t.geojson: record 2"), "{err}");
    }

    #[test]
    fn inconsistent_level_and_parent_are_rejected() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
            feature(r#"{"kode":"72.01","nama":"A","level":"provinsi"}"#),
            feature(r#"{"kode":"72.02","nama":"B","induk":"73"}"#)
        );
        let (regions, rejections) = read_str(&text).expect("parses");
        assert!(regions.is_empty());
        assert_eq!(rejections.len(), 2);
        assert!(rejections[0].reason.contains("level"), "{}", rejections[0].reason);
        assert!(rejections[1].reason.contains("parent"), "{}", rejections[1].reason);
    }

    #[test]
    fn not_a_collection_is_malformed() {
        assert!(read_str(r#"{"type":"Feature"}"#).is_err());
        assert!(read_str("[1,2]").is_err());
    }
}
