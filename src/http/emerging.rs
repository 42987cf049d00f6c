//! `/api/hotspots/emerging`: emerging hot spots (Gi* per time bin, Mann-Kendall trend,
//! ArcGIS pattern classes) of the regions of a level.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::extract::Query;
use super::hotspots::{parse_fdr, parse_weights, WeightsName};
use super::negotiate::accepts_gzip;
use super::openapi_common::ComputeFailure;
use super::risk::{kept_answer, parse_level, rfc3339};
use super::AppState;
use crate::engine::emerging::{BinValue, BinWidth, Pattern, TimeBins, TREND_ALPHA};
use crate::engine::trend::Trend;
use crate::engine::WeightsKind;
use crate::region::{RegionCode, RegionLevel};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(emerging))
}

/// What an answer depends on besides the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EmergingKey {
    level: RegionLevel,
    width: BinWidth,
    bins: usize,
    value: BinValue,
    kind: WeightsKind,
    fdr: bool,
}

/// The parameters of an analysis, checked.
pub(super) fn parse(q: &EmergingQuery) -> Result<EmergingKey, ApiError> {
    let level = parse_level(q.level.as_deref(), RegionLevel::KabupatenKota)?;
    let width = match q.bin.as_deref().unwrap_or("week") {
        "week" | "" => BinWidth::Week,
        "month" => BinWidth::Month,
        other => return Err(invalid("bin", format!("{other:?} is not week or month"))),
    };
    let (default, max) = match width {
        BinWidth::Week => (52, MAX_WEEKS),
        BinWidth::Month => (12, MAX_MONTHS),
    };
    let bins = match q.bins.as_deref().filter(|b| !b.is_empty()) {
        None => default,
        Some(b) => b
            .parse()
            .ok()
            .filter(|b| (MIN_BINS..=max).contains(b))
            .ok_or_else(|| invalid("bins", format!("{b:?} is not a whole number from {MIN_BINS} to {max}")))?,
    };
    let value = match q.value.as_deref().unwrap_or("score") {
        "score" | "" => BinValue::Score,
        "count" => BinValue::Count,
        other => return Err(invalid("value", format!("{other:?} is not score or count"))),
    };
    let kind = parse_weights(q.weights.as_deref(), q.k.as_deref())?;
    let fdr = parse_fdr(q.fdr.as_deref())?;
    Ok(EmergingKey { level, width, bins, value, kind, fdr })
}

/// Fewest bins (the trend test needs a few), and most weeks and months.
const MIN_BINS: usize = 4;
const MAX_WEEKS: usize = 260;
const MAX_MONTHS: usize = 120;

fn invalid(param: &str, detail: String) -> ApiError {
    ApiError::InvalidParameter { param: param.into(), detail }
}

#[derive(Debug, serde::Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EmergingQuery {
    /// Level of the regions.
    #[param(value_type = Option<RegionLevel>, inline, default = "kabupaten_kota")]
    level: Option<String>,
    /// Width of a time bin: `week` (seven days, the last ending now) or `month` (calendar
    /// months, UTC, the last the current month up to now).
    #[param(value_type = Option<BinName>, inline, default = "week")]
    bin: Option<String>,
    /// Number of bins, ending now: 4 to 260 weeks or 4 to 120 months.
    #[param(value_type = Option<u32>, minimum = 4, maximum = 260, default = 52, example = 52)]
    bins: Option<String>,
    /// Value of a region in a bin: `score`, its incidents' part of the risk score over
    /// the bin (the model's weights, decayed from the bin's end), or `count`, its number
    /// of incidents.
    #[param(value_type = Option<ValueName>, inline, default = "score")]
    value: Option<String>,
    /// Spatial weights, as for `/api/hotspots`.
    #[param(value_type = Option<WeightsName>, inline, default = "queen")]
    weights: Option<String>,
    /// Number of neighbours with `weights=knn`.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50, default = 8)]
    k: Option<String>,
    /// False-discovery-rate correction of each bin's Gi* bins (`1` and `0` are read as
    /// true and false).
    #[param(value_type = Option<bool>, default = false)]
    fdr: Option<String>,
}

/// Bin widths by name.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "describes the names the handler reads and writes, for the OpenAPI document")]
enum BinName {
    /// Seven days.
    Week,
    /// A calendar month.
    Month,
}

/// Values by name.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(dead_code, reason = "describes the names the handler reads and writes, for the OpenAPI document")]
enum ValueName {
    /// The incidents' part of the risk score.
    Score,
    /// The number of incidents.
    Count,
}

/// A time bin.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct BinSpan {
    /// First second of the bin (RFC 3339).
    start: String,
    /// Last second of the bin (RFC 3339).
    end: String,
}

/// The Mann-Kendall trend of a region's Gi* z-scores.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct TrendOut {
    /// Kendall's S.
    s: f64,
    /// Variance of S, corrected for ties.
    var_s: f64,
    /// Standard score of S (continuity-corrected).
    z: f64,
    /// Two-sided p-value.
    #[schema(minimum = 0, maximum = 1)]
    p: f64,
    /// Kendall's tau.
    #[schema(minimum = -1, maximum = 1)]
    tau: f64,
    /// Sen's slope, z per bin.
    slope: f64,
    /// Intercept of the Sen line.
    intercept: f64,
}

/// A region's emerging hot spot analysis.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct EmergingRegion {
    kode: RegionCode,
    /// Official name.
    nama: String,
    /// The class (see the README for the definitions).
    pattern: PatternName,
    /// The class in Bahasa Indonesia.
    label: String,
    trend: TrendOut,
    /// The value in each bin, oldest first.
    values: Vec<f64>,
    /// Gi* z-score in each bin.
    z: Vec<f64>,
    /// Gi* bin in each bin: +3/+2/+1 hot spot at 99/95/90 %, -3/-2/-1 cold spot, 0 not
    /// significant.
    gi_bin: Vec<i8>,
}

/// The answer of `GET /api/hotspots/emerging`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct Emerging {
    level: RegionLevel,
    bin: BinName,
    value: ValueName,
    /// The bins, oldest first.
    bins: Vec<BinSpan>,
    /// The spatial weights used: `type` (`queen` or `knn`) and `k` with `knn`.
    #[schema(value_type = Object)]
    weights: Value,
    /// Whether each bin's Gi* bins were corrected for the false-discovery rate.
    fdr: bool,
    /// Significance level of the trend test.
    trend_alpha: f64,
    /// Number of regions.
    count: usize,
    /// Number of regions in each class (only classes that occur).
    #[schema(value_type = Object)]
    summary: Value,
    /// Every region of the level, in code order.
    regions: Vec<EmergingRegion>,
}

/// The classes by name.
struct PatternName;

impl utoipa::PartialSchema for PatternName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Pattern::ALL.iter().map(|p| p.as_str())))
            .description(Some("Emerging hot spot class (ArcGIS Emerging Hot Spot Analysis)."))
            .into()
    }
}

impl ToSchema for PatternName {}

/// Emerging hot spots (space-time Gi* and Mann-Kendall trend)
///
/// Getis-Ord Gi* of every region of a level in each time bin (the weights and FDR
/// option of `/api/hotspots`), the Mann-Kendall trend of each region's z-scores and the
/// class of ArcGIS Emerging Hot Spot Analysis (new, consecutive, intensifying,
/// persistent, diminishing, sporadic, oscillating, historical hot or cold spot, or no
/// pattern). Kept until the engine changes.
#[utoipa::path(
    get,
    path = "/api/hotspots/emerging",
    operation_id = "getEmergingHotspots",
    tag = "hotspots",
    params(EmergingQuery),
    responses(
        (status = 200, description = "Every region of the level.", body = Emerging),
        (status = 400, description = "Malformed `level`, `bin`, `bins`, `value`, `weights`, `k` or `fdr`, or an \
            unknown query parameter.", body = Problem, content_type = PROBLEM_JSON),
        ComputeFailure,
    )
)]
async fn emerging(
    State(state): State<AppState>,
    Query(q): Query<EmergingQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = parse(&q)?;
    let gzip = accepts_gzip(&headers);
    let answer = kept_answer(state, |s| &s.emerging, key, answer_json).await?;
    Ok(answer.response(gzip))
}

/// The analysis as the JSON of `/api/hotspots/emerging`.
fn answer_json(state: &AppState, key: EmergingKey) -> Vec<u8> {
    #[derive(Serialize)]
    struct Row<'a> {
        kode: &'a RegionCode,
        nama: &'a str,
        pattern: &'static str,
        label: &'static str,
        trend: &'a Trend,
        values: Vec<f64>,
        z: Vec<f64>,
        gi_bin: Vec<i8>,
    }
    let engine = state.read();
    let bins = TimeBins::of(key.width, key.bins, chrono::Utc::now().timestamp());
    let (ids, cube) = engine.emerging_cube(key.level, &bins, key.value);
    let results = crate::engine::emerging::analyse(&cube, &engine.weights(key.level, key.kind), key.fdr);
    let index = engine.index();
    let mut summary = std::collections::BTreeMap::<&str, usize>::new();
    let regions: Vec<Row<'_>> = ids
        .iter()
        .zip(&results)
        .enumerate()
        .map(|(r, (&id, result))| {
            let region = index.region(id);
            *summary.entry(result.pattern.as_str()).or_default() += 1;
            Row {
                kode: &region.code,
                nama: &region.name,
                pattern: result.pattern.as_str(),
                label: result.pattern.label_id(),
                trend: &result.trend,
                values: (0..cube.bins()).map(|b| cube.bin(b)[r]).collect(),
                z: result.gi.iter().map(|g| g.z).collect(),
                gi_bin: result.gi.iter().map(|g| g.bin).collect(),
            }
        })
        .collect();
    let spans: Vec<Value> = (0..bins.len())
        .map(|b| {
            let (start, end) = bins.span(b);
            json!({ "start": rfc3339(start), "end": rfc3339(end) })
        })
        .collect();
    let answer = json!({
        "level": key.level,
        "bin": key.width,
        "value": key.value,
        "bins": spans,
        "weights": match key.kind { WeightsKind::Queen => json!({"type": "queen"}), WeightsKind::Knn(k) => json!({"type": "knn", "k": k}) },
        "fdr": key.fdr,
        "trend_alpha": TREND_ALPHA,
        "count": regions.len(),
        "summary": summary,
        "regions": regions,
    });
    serde_json::to_vec(&answer).unwrap_or_default()
}
