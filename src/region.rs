//! Administrative regions: the Kemendagri region code and the three levels we map.
//!
//! Codes follow Kepmendagri No 300.2.2-2430 Tahun 2025: a province is two digits
//! (`34`), a regency or city adds two (`34.01`), a district two more (`34.01.01`).
//! The hierarchy is in the code itself, so the parent of a region is its code without
//! the last segment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The three administrative levels: province, regency/city, district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type, Default)]
#[sqlx(type_name = "region_level", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// Province (provinsi), 38 of them.
    Provinsi,
    /// Regency (kabupaten) or city (kota), 514 of them.
    KabupatenKota,
    /// District (kecamatan), 7,285 of them.
    #[default]
    Kecamatan,
}

impl RegionLevel {
    /// All levels, from the top down.
    pub const ALL: [RegionLevel; 3] = [Self::Provinsi, Self::KabupatenKota, Self::Kecamatan];

    /// The name used in the database, the API and the GeoJSON `level` property.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provinsi => "provinsi",
            Self::KabupatenKota => "kabupaten_kota",
            Self::Kecamatan => "kecamatan",
        }
    }

    /// Number of dot-separated segments in a code of this level.
    fn segments(self) -> usize {
        match self {
            Self::Provinsi => 1,
            Self::KabupatenKota => 2,
            Self::Kecamatan => 3,
        }
    }
}

impl fmt::Display for RegionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A level name that is not one of `provinsi`, `kabupaten_kota`, `kecamatan`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region level {0:?} (expected provinsi, kabupaten_kota or kecamatan)")]
pub struct UnknownLevel(pub String);

impl FromStr for RegionLevel {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|level| level.as_str() == s).ok_or_else(|| UnknownLevel(s.to_owned()))
    }
}

/// A well-formed Kemendagri region code such as `73.71` (Kota Makassar).
///
/// It cannot be malformed: the only ways to get one check the format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RegionCode(String);

/// A string that is not a region code of the form `NN`, `NN.NN` or `NN.NN.NN`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed region code {0:?} (expected NN, NN.NN or NN.NN.NN, e.g. 34.01)")]
pub struct MalformedCode(pub String);

impl RegionCode {
    /// The code as text, e.g. `34.01`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The level this code belongs to, read from its number of segments.
    pub fn level(&self) -> RegionLevel {
        match self.0.len() {
            2 => RegionLevel::Provinsi,
            5 => RegionLevel::KabupatenKota,
            _ => RegionLevel::Kecamatan,
        }
    }

    /// The code's digits as a number (73.71 -> 7371, 73.71.01 -> 737101): the stable
    /// integer feature id of tiles and exports, as `regions.feature_id` stores it.
    pub fn feature_id(&self) -> u64 {
        self.0.bytes().filter(u8::is_ascii_digit).fold(0, |n, d| n * 10 + u64::from(d - b'0'))
    }

    /// The code of the parent region, or `None` for a province.
    pub fn parent(&self) -> Option<RegionCode> {
        self.0.rfind('.').map(|dot| RegionCode(self.0[..dot].to_owned()))
    }

    /// Whether `self` is `other` or lies below it in the hierarchy.
    pub fn is_within(&self, other: &RegionCode) -> bool {
        self.0 == other.0 || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'.'))
    }
}

impl FromStr for RegionCode {
    type Err = MalformedCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = s.split('.').count() <= RegionLevel::Kecamatan.segments()
            && s.split('.').all(|seg| seg.len() == 2 && seg.bytes().all(|b| b.is_ascii_digit()));
        if well_formed {
            Ok(RegionCode(s.to_owned()))
        } else {
            Err(MalformedCode(s.to_owned()))
        }
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RegionCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A region's boundary for the in-memory engine.
#[derive(Debug, Clone)]
pub struct RegionShape {
    /// Kemendagri code.
    pub code: RegionCode,
    /// Official name.
    pub name: String,
    /// Level.
    pub level: RegionLevel,
    /// The nested boundary (`geom`), (longitude, latitude) in EPSG:4326.
    pub geometry: geo::MultiPolygon<f64>,
    /// A point inside the region (ST_PointOnSurface).
    pub label_point: geo::Point<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> RegionCode {
        s.parse().expect("valid code")
    }

    #[test]
    fn levels_and_parents_follow_the_code() {
        assert_eq!(code("34").level(), RegionLevel::Provinsi);
        assert_eq!(code("34.01").level(), RegionLevel::KabupatenKota);
        assert_eq!(code("34.01.01").level(), RegionLevel::Kecamatan);
        assert_eq!(code("34").parent(), None);
        assert_eq!(code("34.01").parent(), Some(code("34")));
        assert_eq!(code("34.01.01").parent(), Some(code("34.01")));
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "3", "340", "34.1", "34.01.", "34.01.01.01", "3a.01", "34-01", " 34"] {
            assert!(bad.parse::<RegionCode>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn within_respects_segment_boundaries() {
        assert!(code("73.71.01").is_within(&code("73")));
        assert!(code("73.71").is_within(&code("73.71")));
        assert!(!code("37.01").is_within(&code("73")));
        assert!(!code("31.71").is_within(&code("73")));
    }

    #[test]
    fn level_names_round_trip() {
        for level in RegionLevel::ALL {
            assert_eq!(level.as_str().parse::<RegionLevel>(), Ok(level));
        }
        assert!("kabupaten".parse::<RegionLevel>().is_err());
    }
}
