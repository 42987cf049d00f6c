//! Mapbox Vector Tile 2.1 written directly, for the region layers: their geometry
//! (clipped polygons, as packed geometry commands) is encoded once per tile and kept,
//! and only the attributes, which every change of a region's figures alters, are
//! written again. (The `mvt` crate, which writes the other layers, takes geometry only
//! through its encoder, point by point; for regions that re-encoding was a third of a
//! server's work under a stream of writes.)
//!
//! Encoding as the specification's protobuf schema: a layer's keys and values are
//! deduplicated, each feature has an id, its tags (key and value indexes), its type and
//! its geometry; zigzag-encoded deltas, MoveTo/LineTo/ClosePath commands.

use std::collections::HashMap;

use super::coord::EXTENT;
use super::shapes::IntShape;

const MOVE_TO: u32 = 1;
const LINE_TO: u32 = 2;
const CLOSE_PATH: u32 = 7;
/// `Feature.type` POLYGON.
const POLYGON: u64 = 3;

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// A length-delimited field: its key, length and bytes.
fn push_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    push_varint(out, u64::from(field << 3 | 2));
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn command(id: u32, count: usize) -> u64 {
    u64::from(id) | (count as u64) << 3
}

/// The geometry commands (packed varints, without field key and length) of polygons
/// in world pixels, drawn in the tile whose top-left corner is `origin`: each ring a
/// MoveTo, a LineTo of its other vertices and a ClosePath, repeated vertices dropped.
/// A ring of fewer than three distinct vertices is left out (an exterior with its
/// holes). Empty when nothing remains.
pub fn polygon_commands(polygons: &[IntShape], origin: (i64, i64)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cursor = (0i64, 0i64);
    let mut ring_points: Vec<(i64, i64)> = Vec::new();
    for polygon in polygons {
        for (i, ring) in polygon.iter().enumerate() {
            ring_points.clear();
            for p in ring {
                let q = (i64::from(p.x) - origin.0, i64::from(p.y) - origin.1);
                if ring_points.last() != Some(&q) {
                    ring_points.push(q);
                }
            }
            while ring_points.len() > 1 && ring_points.first() == ring_points.last() {
                ring_points.pop();
            }
            if ring_points.len() < 3 {
                if i == 0 {
                    break;
                }
                continue;
            }
            for (k, &(x, y)) in ring_points.iter().enumerate() {
                match k {
                    0 => push_varint(&mut out, command(MOVE_TO, 1)),
                    1 => push_varint(&mut out, command(LINE_TO, ring_points.len() - 1)),
                    _ => {}
                }
                push_varint(&mut out, zigzag(x - cursor.0));
                push_varint(&mut out, zigzag(y - cursor.1));
                cursor = (x, y);
            }
            push_varint(&mut out, command(CLOSE_PATH, 1));
        }
    }
    out
}

/// An attribute value.
#[derive(Debug, Clone, Copy)]
pub enum TagValue<'a> {
    /// `string_value`.
    Str(&'a str),
    /// `double_value`.
    Double(f64),
    /// `uint_value`.
    Uint(u64),
    /// `sint_value`.
    Sint(i64),
}

impl TagValue<'_> {
    /// The `Value` message.
    fn encode(self, out: &mut Vec<u8>) {
        match self {
            TagValue::Str(s) => push_bytes(out, 1, s.as_bytes()),
            TagValue::Double(v) => {
                out.push(3 << 3 | 1);
                out.extend_from_slice(&v.to_le_bytes());
            }
            TagValue::Uint(v) => {
                out.push(5 << 3);
                push_varint(out, v);
            }
            TagValue::Sint(v) => {
                out.push(6 << 3);
                push_varint(out, zigzag(v));
            }
        }
    }
}

/// One layer being written: polygon features with their attributes.
pub struct LayerWriter {
    name: &'static str,
    features: Vec<u8>,
    count: usize,
    keys: Vec<&'static str>,
    key_index: HashMap<&'static str, u32>,
    /// Encoded `Value` messages, and each one's index.
    values: Vec<Vec<u8>>,
    value_index: HashMap<Vec<u8>, u32>,
    scratch: Vec<u8>,
    tags: Vec<u8>,
}

impl LayerWriter {
    /// An empty layer called `name`.
    pub fn new(name: &'static str) -> LayerWriter {
        LayerWriter {
            name,
            features: Vec::new(),
            count: 0,
            keys: Vec::new(),
            key_index: HashMap::new(),
            values: Vec::new(),
            value_index: HashMap::new(),
            scratch: Vec::new(),
            tags: Vec::new(),
        }
    }

    /// Adds a polygon feature: its id, attributes and geometry commands (from
    /// [`polygon_commands`], not empty).
    pub fn polygon(&mut self, id: u64, tags: &[(&'static str, TagValue<'_>)], geometry: &[u8]) {
        self.tags.clear();
        for &(key, value) in tags {
            let next = self.keys.len() as u32;
            let k = *self.key_index.entry(key).or_insert(next);
            if k == next {
                self.keys.push(key);
            }
            self.scratch.clear();
            value.encode(&mut self.scratch);
            let v = match self.value_index.get(self.scratch.as_slice()) {
                Some(&v) => v,
                None => {
                    let v = self.values.len() as u32;
                    self.values.push(self.scratch.clone());
                    self.value_index.insert(self.scratch.clone(), v);
                    v
                }
            };
            push_varint(&mut self.tags, u64::from(k));
            push_varint(&mut self.tags, u64::from(v));
        }
        let mut feature = Vec::with_capacity(geometry.len() + self.tags.len() + 16);
        feature.push(1 << 3);
        push_varint(&mut feature, id);
        push_bytes(&mut feature, 2, &self.tags);
        feature.push(3 << 3);
        push_varint(&mut feature, POLYGON);
        push_bytes(&mut feature, 4, geometry);
        push_bytes(&mut self.features, 2, &feature);
        self.count += 1;
    }

    /// The layer as a tile of its own (a `Tile` message holding it); empty bytes when
    /// it has no feature.
    pub fn into_tile(self) -> Vec<u8> {
        if self.count == 0 {
            return Vec::new();
        }
        let mut layer = Vec::with_capacity(self.features.len() + 256);
        layer.push(15 << 3);
        push_varint(&mut layer, 2);
        push_bytes(&mut layer, 1, self.name.as_bytes());
        layer.extend_from_slice(&self.features);
        for key in &self.keys {
            push_bytes(&mut layer, 3, key.as_bytes());
        }
        for value in &self.values {
            push_bytes(&mut layer, 4, value);
        }
        layer.push(5 << 3);
        push_varint(&mut layer, EXTENT as u64);
        let mut tile = Vec::with_capacity(layer.len() + 8);
        push_bytes(&mut tile, 3, &layer);
        tile
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiles::shapes::IntPoint;

    fn ring(points: &[(i32, i32)]) -> Vec<IntPoint> {
        points.iter().map(|&(x, y)| IntPoint::new(x, y)).collect()
    }

    /// Reads packed varints back.
    fn varints(mut bytes: &[u8]) -> Vec<u64> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let b = bytes[0];
                bytes = &bytes[1..];
                v |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b < 0x80 {
                    break;
                }
            }
            out.push(v);
        }
        out
    }

    #[test]
    fn a_square_with_a_hole_is_two_closed_rings_of_relative_moves() {
        let square = vec![
            ring(&[(100, 100), (110, 100), (110, 110), (100, 110), (100, 100)]),
            ring(&[(102, 102), (102, 104), (104, 104), (104, 102)]),
        ];
        let commands = varints(&polygon_commands(&[square], (100, 100)));
        let expected = [
            command(MOVE_TO, 1),
            0,
            0,
            command(LINE_TO, 3),
            zigzag(10),
            0,
            0,
            zigzag(10),
            zigzag(-10),
            0,
            command(CLOSE_PATH, 1),
            command(MOVE_TO, 1),
            zigzag(2),
            zigzag(-8),
            command(LINE_TO, 3),
            0,
            zigzag(2),
            zigzag(2),
            0,
            0,
            zigzag(-2),
            command(CLOSE_PATH, 1),
        ];
        assert_eq!(commands, expected);
    }

    #[test]
    fn vanished_rings_are_left_out_with_their_holes() {
        let flat = vec![ring(&[(0, 0), (5, 0), (5, 0), (0, 0)]), ring(&[(1, 1), (2, 1), (2, 2)])];
        assert!(polygon_commands(&[flat], (0, 0)).is_empty());
    }

    #[test]
    fn keys_and_values_are_shared_between_features() {
        let mut layer = LayerWriter::new("provinsi");
        let geometry = polygon_commands(&[vec![ring(&[(0, 0), (4, 0), (4, 4)])]], (0, 0));
        layer.polygon(1, &[("level", TagValue::Str("provinsi")), ("score", TagValue::Double(1.5))], &geometry);
        layer.polygon(2, &[("level", TagValue::Str("provinsi")), ("score", TagValue::Double(2.0))], &geometry);
        assert_eq!(layer.keys, ["level", "score"]);
        assert_eq!(layer.values.len(), 3, "one level value, two scores");
        let tile = layer.into_tile();
        assert_eq!(tile[0], 3 << 3 | 2, "a Tile holding one layer");
        assert!(LayerWriter::new("kosong").into_tile().is_empty());
    }
}
