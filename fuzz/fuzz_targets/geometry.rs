//! The GeoJSON geometry validation of incidents (`geometry_from_json`, then
//! `check_geometry`: ranges, rings, self-intersections, validity). Input starting with
//! `{` is GeoJSON text; any other input is read as a polygon or line of small integer
//! coordinates (two bytes each), which reaches the ring and crossing checks far more
//! often than random text does.
#![no_main]

use geo::{Coord, Geometry, LineString, Polygon};
use libfuzzer_sys::fuzz_target;
use sipks::ingest::incidents::{check_geometry, geometry_from_json};

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
            if let Ok(geometry) = geometry_from_json(&value) {
                let _ = check_geometry(&geometry);
            }
        }
        return;
    }
    let Some((&shape, rest)) = data.split_first() else { return };
    // Coordinates near Makassar, on a grid of 1e-4 degrees, so that edges meet and
    // overlap often.
    let coords: Vec<Coord<f64>> = rest
        .chunks_exact(2)
        .map(|p| Coord { x: 119.4 + f64::from(p[0] % 64) * 1e-4, y: -5.1 + f64::from(p[1] % 64) * 1e-4 })
        .collect();
    let geometry = match shape % 3 {
        0 => Geometry::LineString(LineString::new(coords)),
        kind => {
            // One ring, or a ring and a hole split at the middle; both closed.
            let close = |mut ring: Vec<Coord<f64>>| {
                if let Some(&first) = ring.first() {
                    ring.push(first);
                }
                LineString::new(ring)
            };
            if kind == 1 {
                Geometry::Polygon(Polygon::new(close(coords), vec![]))
            } else {
                let half = coords.len() / 2;
                Geometry::Polygon(Polygon::new(close(coords[..half].to_vec()), vec![close(coords[half..].to_vec())]))
            }
        }
    };
    let _ = check_geometry(&geometry);
});
