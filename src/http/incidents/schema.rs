//! The JSON that `/api/incidents` reads and writes, as OpenAPI schemas. The handlers
//! build and read `serde_json::Value`s (a GeoJSON Feature is checked member by member
//! in `read_fields`), so these types only describe them.

#![expect(dead_code, reason = "describes the JSON the handlers read and write, for the OpenAPI document")]

use utoipa::ToSchema;

use crate::incident::{Category, Status};
use crate::region::RegionCode;

/// Where an incident happened: a GeoJSON Point, LineString or Polygon, WGS 84
/// `[longitude, latitude]` in degrees (an altitude after them is ignored).
#[derive(ToSchema)]
#[serde(untagged)]
pub(super) enum IncidentGeometry {
    Point(IncidentPoint),
    LineString(IncidentLine),
    Polygon(IncidentArea),
}

/// A GeoJSON Point: an incident at one place.
#[derive(ToSchema)]
#[schema(example = json!({"type": "Point", "coordinates": [119.43, -5.14]}))]
pub(super) struct IncidentPoint {
    /// `Point`.
    #[schema(pattern = "^Point$")]
    r#type: String,
    /// `[lon, lat]`.
    #[schema(min_items = 2)]
    coordinates: Vec<f64>,
}

/// A GeoJSON LineString: an incident along a road, a river or a border.
#[derive(ToSchema)]
pub(super) struct IncidentLine {
    /// `LineString`.
    #[schema(pattern = "^LineString$")]
    r#type: String,
    /// At least two `[lon, lat]`.
    #[schema(min_items = 2)]
    coordinates: Vec<[f64; 2]>,
}

/// A GeoJSON Polygon: an incident over an area (disputed land, a camp).
#[derive(ToSchema)]
pub(super) struct IncidentArea {
    /// `Polygon`.
    #[schema(pattern = "^Polygon$")]
    r#type: String,
    /// Closed rings (exterior first, then holes) of at least four `[lon, lat]`, the last
    /// equal to the first.
    #[schema(min_items = 1)]
    coordinates: Vec<Vec<[f64; 2]>>,
}

/// Casualties (korban) of an incident.
#[derive(ToSchema)]
pub(super) struct Casualties {
    /// Dead.
    meninggal: u32,
    /// Injured.
    luka: u32,
    /// Displaced.
    pengungsi: u32,
}

/// An incident as the API shows it: a GeoJSON Feature (RFC 7946) with its version as
/// ETag.
#[derive(ToSchema)]
pub(super) struct IncidentFeature {
    /// `Feature`.
    #[schema(pattern = "^Feature$", example = "Feature")]
    r#type: String,
    /// Incident id.
    #[schema(minimum = 1, example = 42)]
    id: i64,
    /// Where it happened; null for a report known only by its region
    /// (`properties.kode`).
    #[schema(required = true)]
    geometry: Option<IncidentGeometry>,
    properties: IncidentProperties,
}

/// What is known of an incident: what its operator stated, and (set by the server)
/// where it lies and its record.
#[derive(ToSchema)]
pub(super) struct IncidentProperties {
    category: Category,
    /// Severity (keparahan), 1 (lowest) to 5 (highest).
    #[schema(minimum = 1, maximum = 5, example = 3)]
    severity: u8,
    status: Status,
    /// When it happened.
    #[schema(format = DateTime, example = "2026-11-20T03:00:00Z")]
    occurred_at: String,
    /// Where the report came from; may be empty.
    #[schema(example = "polri")]
    source: String,
    /// What happened; may be empty.
    #[schema(example = "Sengketa lahan antar warga")]
    description: String,
    casualties: Casualties,
    /// The region of a report without geometry; null when the geometry places it.
    #[schema(required = true)]
    kode: Option<RegionCode>,
    /// Set by the server: its district; null at sea.
    #[schema(required = true)]
    kecamatan: Option<RegionCode>,
    /// Set by the server: its regency or city.
    #[schema(required = true)]
    kabupaten_kota: Option<RegionCode>,
    /// Set by the server: its province.
    #[schema(required = true)]
    provinsi: Option<RegionCode>,
    /// Set by the server: at sea, within 12 nautical miles of the coast.
    at_sea: bool,
    /// Set by the server: who recorded it (user name); null for a bulk load.
    #[schema(required = true, example = "operator.makassar")]
    reporter: Option<String>,
    /// Set by the server: when it was recorded.
    #[schema(format = DateTime)]
    created_at: String,
    /// Set by the server: when it last changed.
    #[schema(format = DateTime)]
    updated_at: String,
    /// Set by the server: 1 when recorded, one more with every change (the ETag).
    #[schema(minimum = 1, example = 1)]
    version: i32,
}

/// A new incident: a GeoJSON Feature. Members other than these (and `id`, `bbox`,
/// which are ignored) are refused (422).
#[derive(ToSchema)]
pub(super) struct NewIncident {
    /// `Feature`.
    #[schema(pattern = "^Feature$", example = "Feature")]
    r#type: String,
    /// Where it happened; null for a report known only by its region (then
    /// `properties.kode` is required). It must lie in Indonesia or its 12-mile waters.
    #[schema(required = true)]
    geometry: Option<IncidentGeometry>,
    properties: IncidentInput,
}

/// What an operator states about a new incident. The properties the server sets
/// (`kecamatan`, `version`, ...) and unknown ones are refused (422).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "agraria", "severity": 3, "status": "potensi",
    "occurred_at": "2026-11-20T10:00:00+07:00", "source": "polri", "description": "Sengketa lahan antar warga",
    "casualties": {"meninggal": 0, "luka": 2, "pengungsi": 0}}))]
pub(super) struct IncidentInput {
    category: Category,
    /// Severity (keparahan), 1 (lowest) to 5 (highest).
    #[schema(minimum = 1, maximum = 5)]
    severity: u8,
    /// Stage of handling; `potensi` when left out.
    #[schema(nullable = false)]
    status: Option<Status>,
    /// When it happened: an RFC 3339 time, or a date (midnight WIB); not in the future.
    occurred_at: String,
    /// Where the report came from.
    #[schema(max_length = 10000)]
    source: Option<String>,
    /// What happened.
    #[schema(max_length = 10000)]
    description: Option<String>,
    /// Casualties; each count left out is 0.
    casualties: Option<CasualtyCounts>,
    /// The region of a report without geometry (ignored when there is one).
    kode: Option<RegionCode>,
}

/// Casualty counts to record.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CasualtyCounts {
    /// Dead.
    #[schema(nullable = false)]
    meninggal: Option<u32>,
    /// Injured.
    #[schema(nullable = false)]
    luka: Option<u32>,
    /// Displaced.
    #[schema(nullable = false)]
    pengungsi: Option<u32>,
}

/// An edit: a partial GeoJSON Feature. What it leaves out stays as it is.
#[derive(ToSchema)]
pub(super) struct IncidentEdit {
    /// `Feature`.
    #[schema(pattern = "^Feature$", nullable = false)]
    r#type: Option<String>,
    /// A new place; null to keep only the region (`properties.kode`).
    geometry: Option<IncidentGeometry>,
    properties: Option<IncidentChanges>,
    /// Why: needed to reopen (move the status back).
    #[schema(max_length = 10000, example = "Bentrok terulang")]
    reason: Option<String>,
}

/// The properties an edit changes; null empties `source`, `description`, `casualties`
/// and `kode`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "terjadi", "severity": 4}))]
pub(super) struct IncidentChanges {
    #[schema(nullable = false)]
    category: Option<Category>,
    /// Severity (keparahan), 1 (lowest) to 5 (highest).
    #[schema(nullable = false, minimum = 1, maximum = 5)]
    severity: Option<u8>,
    /// Stage of handling: forward (potensi, terjadi, ditangani, selesai), or back by a
    /// nasional or provinsi user with a `reason`.
    #[schema(nullable = false)]
    status: Option<Status>,
    /// When it happened: an RFC 3339 time, or a date (midnight WIB); not in the future.
    #[schema(nullable = false)]
    occurred_at: Option<String>,
    /// Where the report came from.
    #[schema(max_length = 10000)]
    source: Option<String>,
    /// What happened.
    #[schema(max_length = 10000)]
    description: Option<String>,
    /// Casualties; each count left out stays.
    casualties: Option<CasualtyCounts>,
    /// The region of a report without geometry.
    kode: Option<RegionCode>,
}

/// A page of incidents: a GeoJSON FeatureCollection.
#[derive(ToSchema)]
pub(super) struct IncidentPage {
    /// `FeatureCollection`.
    #[schema(pattern = "^FeatureCollection$", example = "FeatureCollection")]
    r#type: String,
    /// Newest first (by id, descending).
    features: Vec<IncidentFeature>,
    /// Number of features in this page.
    count: usize,
    /// `cursor` of the next page; null on the last.
    #[schema(required = true, example = "1234")]
    next_cursor: Option<String>,
}

/// What a change did.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub(super) enum HistoryAction {
    /// Recorded.
    Create,
    /// Edited.
    Update,
    /// Deleted.
    Delete,
}

/// One change of an incident.
#[derive(ToSchema)]
pub(super) struct IncidentHistoryEntry {
    /// The incident's version after the change.
    #[schema(minimum = 1)]
    version: i32,
    action: HistoryAction,
    /// Who (user name); null if the user is gone.
    #[schema(required = true)]
    actor: Option<String>,
    /// When.
    #[schema(format = DateTime)]
    at: String,
    /// Why (reopening needs a reason).
    #[schema(required = true)]
    reason: Option<String>,
    /// The incident before; null for a create, or when it was outside the caller's
    /// scope then (see `withheld`).
    #[schema(required = true)]
    before: Option<IncidentFeature>,
    /// The incident after; null for a delete, or when it was outside the caller's scope
    /// then (see `withheld`).
    #[schema(required = true)]
    after: Option<IncidentFeature>,
    /// Which of `before` and `after` are withheld because the incident was outside the
    /// caller's scope at that point (e.g. before it was moved into the caller's region).
    withheld: Vec<String>,
}

/// The answer of `GET /api/incidents/{id}/history`.
#[derive(ToSchema)]
pub(super) struct IncidentHistory {
    /// Incident id.
    id: i64,
    /// Every change, oldest first.
    history: Vec<IncidentHistoryEntry>,
}
