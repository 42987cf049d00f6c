//! The bridge to the independent decoder, tests/tiles/decode.py (Python's
//! mapbox-vector-tile and shapely): tiles in, layers and features with their wire types,
//! areas, validity and ring windings out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Default, Deserialize)]
pub struct Decoded {
    pub layers: BTreeMap<String, Layer>,
}

#[derive(Debug, Deserialize)]
pub struct Layer {
    pub version: u32,
    pub extent: u32,
    pub features: Vec<Feature>,
}

/// One feature as tests/tiles/decode.py reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Feature {
    pub id: Option<u64>,
    /// point | line | polygon.
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: BTreeMap<String, Property>,
    pub geometry_type: String,
    /// Polygons: shapely's area in tile units squared, validity, and the encoded rings.
    pub area: Option<f64>,
    pub valid: Option<bool>,
    pub invalid_reason: Option<String>,
    pub first_ring_positive: Option<bool>,
    pub degenerate_rings: Option<usize>,
    pub holes: Option<usize>,
    /// Polygons: the box of their encoded vertices [min x, min y, max x, max y], tile units.
    pub bounds: Option<[i64; 4]>,
    /// Points and lines: GeoJSON coordinates in tile units, y down.
    pub coordinates: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Property {
    /// The protobuf field that carries the value: string, double, float, int, uint,
    /// sint or bool.
    #[serde(rename = "type")]
    pub wire: String,
    pub value: Value,
}

impl Feature {
    pub fn text(&self, key: &str) -> Option<&str> {
        self.properties.get(key).filter(|p| p.wire == "string").and_then(|p| p.value.as_str())
    }

    pub fn number(&self, key: &str) -> Option<f64> {
        self.properties.get(key).and_then(|p| p.value.as_f64())
    }

    pub fn flag(&self, key: &str) -> Option<bool> {
        self.properties.get(key).filter(|p| p.wire == "bool").and_then(|p| p.value.as_bool())
    }

    /// Wire-type problems of the attributes `expected` ((name, type) pairs).
    pub fn attribute_type_problems(&self, expected: &[(&str, &str)]) -> Vec<String> {
        expected
            .iter()
            .filter_map(|&(name, wire)| match self.properties.get(name) {
                None => Some(format!("no attribute {name}")),
                Some(p) if p.wire == wire || (wire == "int" && p.wire == "sint") => None,
                Some(p) => Some(format!("{name} is a {} ({}), not a {wire}", p.wire, p.value)),
            })
            .collect()
    }

    /// The single point of a point feature, in tile units.
    pub fn point(&self) -> Option<(f64, f64)> {
        let c = self.coordinates.as_ref()?.as_array()?;
        Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?))
    }
}

impl Decoded {
    pub fn layer_names(&self) -> BTreeSet<&str> {
        self.layers.keys().map(String::as_str).collect()
    }

    pub fn features(&self, layer: &str) -> &[Feature] {
        self.layers.get(layer).map_or(&[], |l| l.features.as_slice())
    }

    pub fn feature(&self, layer: &str, id: u64) -> Option<&Feature> {
        self.features(layer).iter().find(|f| f.id == Some(id))
    }
}

/// The interpreter with mapbox-vector-tile and shapely.

/// Decodes named tile bodies in one run of tests/tiles/decode.py; an empty body is a
/// tile without layers.
pub fn decode(tiles: &[(String, Vec<u8>)]) -> HashMap<String, Decoded> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut request = Vec::new();
    let mut decoded = HashMap::new();
    for (i, (name, body)) in tiles.iter().enumerate() {
        if body.is_empty() {
            decoded.insert(name.clone(), Decoded::default());
            continue;
        }
        let path = dir.path().join(format!("{i}.mvt"));
        std::fs::write(&path, body).expect("write tile");
        request.push(serde_json::json!({ "name": name, "path": path }));
    }
    if request.is_empty() {
        return decoded;
    }
    // decode.py fails on a tile that is not valid MVT.
    let output = super::run_reference("tiles/decode.py", &serde_json::json!({ "tiles": request }));
    let parsed: HashMap<String, Decoded> = serde_json::from_slice(&output).expect("decode.py output");
    decoded.extend(parsed);
    decoded
}

pub fn decode_one(body: &[u8]) -> Decoded {
    decode(&[("tile".to_owned(), body.to_vec())]).remove("tile").expect("decoded")
}
