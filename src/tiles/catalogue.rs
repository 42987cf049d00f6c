//! The catalogue of tile sources and their layers: names, zooms, fields, and the tile
//! settings.

use std::ops::RangeInclusive;

use crate::region::RegionLevel;

/// Highest zoom of every source; clients overzoom beyond it (the boundary data has no
/// more detail to show).
pub const MAX_SOURCE_ZOOM: u8 = 14;

/// A tile source: one URL family, one TileJSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Provinces.
    Provinsi,
    /// Regencies and cities.
    KabupatenKota,
    /// Districts.
    Kecamatan,
    /// Incidents (clustered at low zoom).
    Incidents,
    /// Gi* hot and cold spots and DBSCAN incident clusters.
    Hotspots,
    /// Everything the national map needs, the right layers for each zoom.
    Sipks,
}

/// A layer inside tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Regions of a level with their risk.
    Region(RegionLevel),
    /// Incidents, or clusters of them.
    Incidents,
    /// Regions that are Gi* hot or cold spots.
    HotspotRegions,
    /// Hulls of DBSCAN clusters of incidents.
    HotspotClusters,
}

/// Zoom from which the composite source shows regencies, and districts.
const SIPKS_KABUPATEN_FROM: u8 = 5;
const SIPKS_KECAMATAN_FROM: u8 = 9;

impl Source {
    /// Every source.
    pub const ALL: [Source; 6] = [
        Source::Provinsi,
        Source::KabupatenKota,
        Source::Kecamatan,
        Source::Incidents,
        Source::Hotspots,
        Source::Sipks,
    ];

    /// The name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Source::Provinsi => "provinsi",
            Source::KabupatenKota => "kabupaten_kota",
            Source::Kecamatan => "kecamatan",
            Source::Incidents => "incidents",
            Source::Hotspots => "hotspots",
            Source::Sipks => "sipks",
        }
    }

    /// A source by its URL name.
    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Zooms served.
    pub fn zooms(self) -> RangeInclusive<u8> {
        match self {
            // Below zoom 6 thousands of districts are each a pixel or less.
            Source::Kecamatan => 6..=MAX_SOURCE_ZOOM,
            _ => 0..=MAX_SOURCE_ZOOM,
        }
    }

    /// Its layers and the zooms at which each appears.
    pub fn layers(self) -> Vec<(Layer, RangeInclusive<u8>)> {
        let all = self.zooms();
        match self {
            Source::Provinsi => vec![(Layer::Region(RegionLevel::Provinsi), all)],
            Source::KabupatenKota => vec![(Layer::Region(RegionLevel::KabupatenKota), all)],
            Source::Kecamatan => vec![(Layer::Region(RegionLevel::Kecamatan), all)],
            Source::Incidents => vec![(Layer::Incidents, all)],
            Source::Hotspots => vec![(Layer::HotspotRegions, all.clone()), (Layer::HotspotClusters, all)],
            Source::Sipks => vec![
                (Layer::Region(RegionLevel::Provinsi), all.clone()),
                (Layer::Region(RegionLevel::KabupatenKota), SIPKS_KABUPATEN_FROM..=MAX_SOURCE_ZOOM),
                (Layer::Region(RegionLevel::Kecamatan), SIPKS_KECAMATAN_FROM..=MAX_SOURCE_ZOOM),
                (Layer::Incidents, all.clone()),
                (Layer::HotspotRegions, all.clone()),
                (Layer::HotspotClusters, all),
            ],
        }
    }

    /// Whether its tiles hold incidents (and so depend on the caller's scope).
    pub fn has_incidents(self) -> bool {
        matches!(self, Source::Incidents | Source::Sipks)
    }

    /// The layers in a tile at zoom `z`.
    pub fn layers_at(self, z: u8) -> Vec<Layer> {
        self.layers().into_iter().filter(|(_, zooms)| zooms.contains(&z)).map(|(l, _)| l).collect()
    }
}

impl Layer {
    /// The layer's name inside tiles.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Region(level) => level.as_str(),
            Layer::Incidents => "incidents",
            Layer::HotspotRegions => "hotspot_regions",
            Layer::HotspotClusters => "hotspot_clusters",
        }
    }

    /// Its attributes and their types, for TileJSON.
    pub fn fields(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Layer::Region(_) => &[
                ("kode", "String"),
                ("nama", "String"),
                ("level", "String"),
                ("risk_level", "String"),
                ("score", "Number"),
                ("incident_count", "Number"),
                ("severe_count", "Number"),
                ("hotspot_bin", "Number"),
                ("emerging", "String"),
            ],
            Layer::Incidents => &[
                ("cluster", "Boolean"),
                ("point_count", "Number"),
                ("category", "String"),
                ("max_severity", "Number"),
                ("severity", "Number"),
                ("status", "String"),
                ("occurred_at", "String"),
            ],
            Layer::HotspotRegions => &[
                ("kode", "String"),
                ("nama", "String"),
                ("level", "String"),
                ("hotspot_bin", "Number"),
                ("z", "Number"),
                ("p", "Number"),
            ],
            Layer::HotspotClusters => &[("point_count", "Number"), ("category", "String"), ("max_severity", "Number")],
        }
    }

    /// What the layer holds, for TileJSON.
    pub fn description(self) -> &'static str {
        match self {
            Layer::Region(RegionLevel::Provinsi) => "Provinsi dengan tingkat risiko / provinces with their risk level",
            Layer::Region(RegionLevel::KabupatenKota) => {
                "Kabupaten/kota dengan tingkat risiko / regencies and cities with their risk level"
            }
            Layer::Region(RegionLevel::Kecamatan) => {
                "Kecamatan dengan tingkat risiko / districts with their risk level"
            }
            Layer::Incidents => "Insiden (klaster pada zoom rendah) / incidents, clustered at low zoom",
            Layer::HotspotRegions => "Wilayah hotspot Gi* / Gi* hot and cold spot regions",
            Layer::HotspotClusters => "Klaster insiden DBSCAN / DBSCAN incident clusters",
        }
    }

    /// The region level whose polygons hotspot regions use at zoom `z`.
    pub(crate) fn hotspot_level(z: u8) -> RegionLevel {
        if z < SIPKS_KECAMATAN_FROM {
            RegionLevel::KabupatenKota
        } else {
            RegionLevel::Kecamatan
        }
    }
}

/// Tile settings.
#[derive(Debug, Clone, Copy)]
pub struct TileConfig {
    /// Bound of the tile cache in bytes (0: no cache).
    pub cache_bytes: usize,
    /// Zoom from which incidents are drawn one by one; below it they are clustered.
    pub cluster_zoom: u8,
}

impl Default for TileConfig {
    fn default() -> Self {
        TileConfig { cache_bytes: 256 << 20, cluster_zoom: 12 }
    }
}
