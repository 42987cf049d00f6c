//! SIPKS map server: administrative boundaries of Indonesia in PostGIS, served over
//! HTTP for the early-warning system for social conflict (Sistem Informasi Penanganan
//! Konflik Sosial).
//!
//! - [`region`]: region codes and levels, the vocabulary of everything else;
//! - [`boundaries`]: importers for the upstream SQL dumps and GeoJSON, with repair;
//! - [`db`]: PostGIS access and migrations;
//! - [`export`]: layers as GeoJSON, NDJSON, CSV and FlatGeobuf files (HTTP, CLI, OGC API);
//! - [`incidents`]: the service layer of incident writes (create, edit, remove);
//! - [`service`]: the engine built from PostGIS, bulk loads, following other servers;
//! - [`http`]: the axum server;
//! - [`i18n`]: Bahasa Indonesia and English for user-facing text.

pub mod auth;
pub mod boundaries;
pub mod db;
pub mod engine;
pub mod export;
pub mod http;
pub mod i18n;
pub mod incident;
pub mod incidents;
pub mod ingest;
pub mod region;
pub mod service;
pub mod sync;
pub mod tiles;
pub mod training;
