//! Tile coordinates (XYZ, Web Mercator, y = 0 at the north edge) and the projection of
//! longitude/latitude (EPSG:4326, degrees) to "world pixels" at a zoom: tile units of
//! the MVT extent, counted from the north-west corner of the world. A tile's own
//! coordinates are the world pixels minus its origin, so that snapping to the world
//! grid once per zoom is the same as snapping each tile (what PostGIS'
//! `ST_AsMVTGeom` does).

use std::f64::consts::PI;

use geo::{coord, Rect};

/// Tile extent: coordinates run over 0..4096 inside a tile.
pub const EXTENT: i32 = 4096;

/// Buffer around each tile, in tile units, kept so that strokes join across tiles.
pub const BUFFER: i32 = 64;

/// Highest zoom any source serves (world pixels at this zoom stay well inside `i32`
/// and inside the coordinate range the polygon clipper works exactly in).
pub const MAX_ZOOM: u8 = 16;

/// Web Mercator's latitude limit, in degrees.
const MAX_LAT: f64 = 85.051_128_779_806_59;

/// A valid tile address: `x` and `y` below `2^z`, `z` at most [`MAX_ZOOM`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    /// Zoom.
    pub z: u8,
    /// Column, from the antimeridian eastwards.
    pub x: u32,
    /// Row, from the north.
    pub y: u32,
}

/// Why a tile address is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordError {
    /// The zoom is above what is served.
    #[error("zoom {z} is above the maximum {max}")]
    ZoomTooHigh {
        /// The zoom asked for.
        z: u64,
        /// The maximum.
        max: u8,
    },
    /// x or y is not below 2^z.
    #[error("tile {z}/{x}/{y} does not exist: x and y must be below {}", 1u64 << z)]
    OutOfRange {
        /// Zoom.
        z: u8,
        /// Column.
        x: u64,
        /// Row.
        y: u64,
    },
}

impl TileCoord {
    /// Checks an address.
    pub fn new(z: u64, x: u64, y: u64) -> Result<TileCoord, CoordError> {
        if z > u64::from(MAX_ZOOM) {
            return Err(CoordError::ZoomTooHigh { z, max: MAX_ZOOM });
        }
        let z = z as u8;
        let n = 1u64 << z;
        if x >= n || y >= n {
            return Err(CoordError::OutOfRange { z, x, y });
        }
        Ok(TileCoord { z, x: x as u32, y: y as u32 })
    }

    /// The tile's north-west corner in world pixels.
    pub fn origin(self) -> (i64, i64) {
        (i64::from(self.x) * i64::from(EXTENT), i64::from(self.y) * i64::from(EXTENT))
    }

    /// The tile's area in longitude/latitude (degrees), without buffer.
    pub fn lonlat_bounds(self) -> Rect<f64> {
        let n = f64::from(1u32 << self.z);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| (PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
        let (x, y) = (f64::from(self.x), f64::from(self.y));
        Rect::new(coord! { x: lon(x), y: lat(y + 1.0) }, coord! { x: lon(x + 1.0), y: lat(y) })
    }

    /// The tile's area with `margin` tile units around it, in longitude/latitude.
    pub fn lonlat_bounds_with(self, margin: i32) -> Rect<f64> {
        let scale = world_size(self.z);
        let (ox, oy) = self.origin();
        let m = f64::from(margin);
        let west = unproject(ox as f64 - m, oy as f64 - m, scale);
        let east = unproject((ox + i64::from(EXTENT)) as f64 + m, (oy + i64::from(EXTENT)) as f64 + m, scale);
        Rect::new(coord! { x: west.0, y: east.1 }, coord! { x: east.0, y: west.1 })
    }
}

/// The width of the world in world pixels at zoom `z`.
pub fn world_size(z: u8) -> f64 {
    f64::from(EXTENT) * f64::from(1u32 << z)
}

/// Longitude/latitude (degrees) to world pixels for a world `scale` pixels wide
/// (spherical Web Mercator, EPSG:3857; latitudes beyond ±85.05° are clamped).
///
/// ```
/// use sipks::tiles::coord::{project, world_size};
/// let (x, y) = project(0.0, 0.0, world_size(0));
/// assert_eq!((x, y), (2048.0, 2048.0));
/// ```
pub fn project(lon: f64, lat: f64, scale: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let x = (lon + 180.0) / 360.0 * scale;
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0 * scale;
    (x, y)
}

/// World pixels back to longitude/latitude (degrees).
pub fn unproject(x: f64, y: f64, scale: f64) -> (f64, f64) {
    let lon = x / scale * 360.0 - 180.0;
    let lat = (PI * (1.0 - 2.0 * y / scale)).sinh().atan().to_degrees();
    (lon, lat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        assert!(TileCoord::new(0, 0, 0).is_ok());
        assert_eq!(TileCoord::new(2, 4, 0), Err(CoordError::OutOfRange { z: 2, x: 4, y: 0 }));
        assert!(matches!(TileCoord::new(17, 0, 0), Err(CoordError::ZoomTooHigh { .. })));
        assert!(TileCoord::new(u64::MAX, 0, 0).is_err());
    }

    #[test]
    fn projection_round_trips_and_matches_tile_bounds() {
        // Makassar.
        let (lon, lat) = (119.4327, -5.1477);
        let scale = world_size(12);
        let (x, y) = project(lon, lat, scale);
        let back = unproject(x, y, scale);
        assert!((back.0 - lon).abs() < 1e-9 && (back.1 - lat).abs() < 1e-9);
        let tile = TileCoord::new(12, (x / 4096.0) as u64, (y / 4096.0) as u64).expect("valid");
        let b = tile.lonlat_bounds();
        assert!(b.min().x <= lon && lon <= b.max().x && b.min().y <= lat && lat <= b.max().y);
        // Tile 1/1/1 is the south-east quarter of the world.
        let b = TileCoord::new(1, 1, 1).expect("valid").lonlat_bounds();
        assert_eq!((b.min().x, b.max().x, b.max().y), (0.0, 180.0, 0.0));
        assert!((b.min().y + MAX_LAT).abs() < 1e-9);
    }
}
