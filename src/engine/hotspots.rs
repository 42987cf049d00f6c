//! Region hotspots: Getis-Ord Gi* over the regions of a level.
