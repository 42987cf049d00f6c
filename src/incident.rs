//! Incidents: the vocabulary of what operators record. Categories, severity and the
//! stages of handling a conflict (UU 7/2012 on handling social conflict: prevention,
//! stopping, recovery).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use geo::Geometry;
use serde::{Deserialize, Serialize};

use crate::region::RegionCode;

/// Generates a closed enum with its wire names, `ALL`, `as_str`, `FromStr` and serde.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in the database, the API and files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// Position in [`Self::ALL`], for compact tables.
            pub fn index(self) -> usize {
                self as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} {s:?} (expected one of: {})", $what, names.join(", "))
                })
            }
        }
    };
}

wire_enum!(
    /// Kind of conflict.
    Category, "category" {
        /// Election disputes.
        Pemilu = "pemilu",
        /// Land and agrarian disputes.
        Agraria = "agraria",
        /// Clashes between groups (villages, gangs, supporters).
        AntarKelompok = "antar_kelompok",
        /// Ethnic, religious, racial and inter-group (suku, agama, ras, antargolongan).
        Sara = "sara",
        /// Natural resources (mining, plantations, forests, water).
        SumberDayaAlam = "sumber_daya_alam",
        /// Economic (labour, markets, business).
        Ekonomi = "ekonomi",
        /// Anything else.
        Lainnya = "lainnya",
    }
);

wire_enum!(
    /// Stage of handling: potential, occurred, being handled, resolved.
    Status, "status" {
        /// A potential conflict, not (yet) broken out: prevention.
        Potensi = "potensi",
        /// A conflict that has occurred: stopping it.
        Terjadi = "terjadi",
        /// Being handled: recovery under way.
        Ditangani = "ditangani",
        /// Resolved.
        Selesai = "selesai",
    }
);

impl Status {
    /// Whether the incident still needs attention (not resolved).
    pub fn is_active(self) -> bool {
        self != Status::Selesai
    }
}

impl Category {
    /// The most frequent category given counts per category (indexed by
    /// [`Category::index`]); ties go to the earlier category.
    pub fn dominant(counts: &[u32; 7]) -> Category {
        Category::ALL
            .iter()
            .copied()
            .max_by_key(|c| (counts[c.index()], std::cmp::Reverse(c.index())))
            .unwrap_or(Category::Lainnya)
    }
}

/// Severity from 1 (minor) to 5 (grave); cannot be out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "u8")]
pub struct Severity(u8);

impl Severity {
    /// The severity if `value` is 1..=5.
    pub fn new(value: u8) -> Option<Severity> {
        (1..=5).contains(&value).then_some(Severity(value))
    }

    /// The value, 1..=5.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl From<Severity> for u8 {
    fn from(s: Severity) -> u8 {
        s.0
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = u8::deserialize(deserializer)?;
        Severity::new(value).ok_or_else(|| serde::de::Error::custom(format!("severity {value} is not in 1..=5")))
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<u8>()
            .ok()
            .and_then(Severity::new)
            .ok_or_else(|| format!("severity {s:?} is not a whole number from 1 to 5"))
    }
}

/// Casualties of an incident.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Casualties {
    /// Dead.
    pub meninggal: i32,
    /// Injured.
    pub luka: i32,
    /// Displaced.
    pub pengungsi: i32,
}

/// What an operator states about an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    /// Point, LineString or Polygon (EPSG:4326); none for a report known by region.
    pub geometry: Option<Geometry<f64>>,
    /// The region of a report without geometry.
    pub region: Option<RegionCode>,
    /// Kind.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Stage of handling.
    pub status: Status,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Where the report came from.
    pub source: String,
    /// What happened.
    pub description: String,
    /// Casualties.
    pub casualties: Casualties,
}

/// Where the engine put it.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// District, regency/city, province codes.
    pub codes: [Option<RegionCode>; 3],
    /// At sea within 12 nautical miles.
    pub at_sea: bool,
    /// Every region a line or polygon touches.
    pub touched: Vec<RegionCode>,
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Id.
    pub id: i64,
    /// What was stated.
    pub fields: Fields,
    /// Where it is.
    pub placement: Placement,
    /// Who recorded it (user name), if recorded through the API.
    pub reporter: Option<String>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Version, from 1, raised by every change.
    pub version: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>(), Ok(*c));
        }
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(*s));
        }
        assert!("konflik".parse::<Category>().is_err());
        assert_eq!(Category::AntarKelompok.as_str(), "antar_kelompok");
    }

    #[test]
    fn severity_is_one_to_five() {
        assert!(Severity::new(0).is_none() && Severity::new(6).is_none());
        assert_eq!("4".parse::<Severity>().map(Severity::get), Ok(4));
        assert!("4.5".parse::<Severity>().is_err());
        assert!(serde_json::from_str::<Severity>("9").is_err());
    }
}
