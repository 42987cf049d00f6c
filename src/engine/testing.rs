//! Regions for the unit tests of the engine and of what is built on it.

use geo::{polygon, MultiPolygon, Point};

use super::regions::RegionIndex;
use crate::region::{RegionLevel, RegionShape};

/// A region of `level`: the box from longitude `x0` to `x1`, latitude 0 to 1.
pub(crate) fn shape(code: &str, level: RegionLevel, x0: f64, x1: f64) -> RegionShape {
    RegionShape {
        code: code.parse().expect("code"),
        name: code.to_owned(),
        level,
        geometry: MultiPolygon::new(vec![
            polygon![(x: x0, y: 0.0), (x: x1, y: 0.0), (x: x1, y: 1.0), (x: x0, y: 1.0), (x: x0, y: 0.0)],
        ]),
        label_point: Point::new((x0 + x1) / 2.0, 0.5),
    }
}

/// A province (71) of two regencies (71.01, 71.02), each one district.
pub(crate) fn index() -> RegionIndex {
    use RegionLevel::*;
    RegionIndex::new(vec![
        shape("71", Provinsi, 120.0, 122.0),
        shape("71.01", KabupatenKota, 120.0, 121.0),
        shape("71.01.01", Kecamatan, 120.0, 121.0),
        shape("71.02", KabupatenKota, 121.0, 122.0),
        shape("71.02.01", Kecamatan, 121.0, 122.0),
    ])
}
