//! Point hotspots: DBSCAN clusters of incident locations.
