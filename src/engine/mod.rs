//! The in-memory spatial engine: region index, incident assignment, aggregation, risk
//! levels and hotspots. It knows nothing about HTTP.

pub mod area;
pub mod clusters;
pub mod hotspots;
pub mod regions;
pub mod risk;
