//! `/api/risk` and `/api/regions/{kode}/risk`: every region's level for a window, and
//! one region's explanation and daily history.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiError, Problem, PROBLEM_JSON};
use super::extract::Query;
use super::negotiate::{accepts_gzip, gzip as gzip_bytes};
use super::openapi_common::ComputeFailure;
use super::AppState;
use crate::engine::risk::{RiskLevel, DAY};
use crate::engine::store::Window;
use crate::engine::{day_string, Engine};
use crate::incident::{Category, Status};
use crate::region::{RegionCode, RegionLevel};

/// Routes of this resource.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(all)).routes(routes!(one))
}

/// Longest window and history, in days.
const MAX_DAYS: u32 = 3660;

/// Parses a window in days (`30` or `30d`), 1..=3660.
pub(super) fn parse_days(param: &str, value: Option<&str>) -> Result<Option<u32>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    value.trim_end_matches('d').parse::<u32>().ok().filter(|d| (1..=MAX_DAYS).contains(d)).map(Some).ok_or_else(|| {
        ApiError::InvalidParameter {
            param: param.into(),
            detail: format!("{value:?} is not a number of days from 1 to {MAX_DAYS}"),
        }
    })
}

/// The window asked for: `days` (default: the model's) ending now.
pub(super) fn window(engine: &Engine, days: Option<u32>) -> Window {
    window_at(engine, days, None)
}

/// The window asked for: `days` (default: the model's) ending at `at` (unix seconds;
/// default now).
fn window_at(engine: &Engine, days: Option<u32>, at: Option<i64>) -> Window {
    Window {
        as_of: at.unwrap_or_else(|| chrono::Utc::now().timestamp()),
        days: days.unwrap_or(engine.model().window_days),
    }
}

/// Western Indonesian Time (WIB, UTC+7), in which a date given as `at` ends.
const WIB: chrono::FixedOffset = match chrono::FixedOffset::east_opt(7 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+7 is a valid offset"),
};

/// Parses `at`, the end of the window: an RFC 3339 time, or a date `YYYY-MM-DD`, which
/// includes that whole day (the window ends at the next midnight WIB, or now for
/// today). Unix seconds; None when not given or within the last minute (the current
/// map: its kept answers and tiles, not one set per second). A time to come is
/// refused: the engine knows only what has been reported.
pub(super) fn parse_at(value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = |detail: String| ApiError::InvalidParameter { param: "at".into(), detail };
    let now = chrono::Utc::now();
    let at = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        t.with_timezone(&chrono::Utc)
    } else {
        let day = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map_err(|_| bad(format!("{value:?} is neither an RFC 3339 time nor a date YYYY-MM-DD")))?;
        let end = day
            .succ_opt()
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .and_then(|midnight| midnight.and_local_timezone(WIB).single())
            .ok_or_else(|| bad(format!("{value:?} is out of range")))?
            .with_timezone(&chrono::Utc);
        if day > now.with_timezone(&WIB).date_naive() {
            return Err(bad(format!("{value:?} is a day still to come")));
        }
        end.min(now)
    };
    if at > now + chrono::Duration::seconds(5) {
        return Err(bad(format!("{value:?} is a time still to come")));
    }
    Ok(Some(at.timestamp()).filter(|&t| t < now.timestamp() - 60))
}

pub(super) fn parse_level(value: Option<&str>, default: RegionLevel) -> Result<RegionLevel, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e: crate::region::UnknownLevel| ApiError::InvalidParameter {
            param: "level".into(),
            detail: e.to_string(),
        }),
    }
}

/// A region's counts as the API shows them ([`Counts`]), serialised as they are read.
struct CountsOut<'a>(&'a crate::engine::store::RegionStats);

impl Serialize for CountsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        /// Every category or status with its count, in their order.
        struct Named<'a, T: 'static>(&'static [T], fn(&T) -> &'static str, &'a [u32]);
        impl<T> Serialize for Named<'_, T> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for (item, count) in self.0.iter().zip(self.2) {
                    map.serialize_entry((self.1)(item), count)?;
                }
                map.end()
            }
        }
        let stats = self.0;
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("total", &stats.count)?;
        map.serialize_entry("kategori", &Named(Category::ALL, |c| c.as_str(), &stats.by_category))?;
        map.serialize_entry("status", &Named(Status::ALL, |s| s.as_str(), &stats.by_status))?;
        map.serialize_entry("keparahan_maks", &stats.max_severity())?;
        map.end()
    }
}

fn counts(stats: &crate::engine::store::RegionStats) -> CountsOut<'_> {
    CountsOut(stats)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AllQuery {
    /// Level of the regions.
    #[param(value_type = Option<RegionLevel>, inline, default = "kabupaten_kota")]
    level: Option<String>,
    /// Length of the window in days, ending now (or at `at`); `30d` is read as 30.
    /// Default: the risk model's `window_days` (90 unless the model file changes it).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660, default = 90, example = 30)]
    window: Option<String>,
    /// The end of the window, for the map as it stood then: an RFC 3339 time, or a date
    /// (that whole day: up to the next midnight WIB). Default: now. Computed from the
    /// incidents as they are recorded now, with today's risk model.
    #[param(value_type = Option<String>, example = "2026-11-01")]
    at: Option<String>,
}

/// A window of time.
#[derive(ToSchema)]
#[schema(as = RiskWindow)]
#[expect(dead_code, reason = "describes the JSON the handlers build, for the OpenAPI document")]
struct WindowBody {
    /// Length in days.
    days: u32,
    /// End of the window (now, or the `at` asked for), RFC 3339.
    #[schema(format = DateTime)]
    as_of: String,
}

/// Incident counts (jumlah kejadian) of a region in a window.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handlers build, for the OpenAPI document")]
struct Counts {
    /// Incidents in the window.
    total: u32,
    /// Incidents per category (kategori), every category listed.
    kategori: BTreeMap<Category, u32>,
    /// Incidents per stage of handling (status), every status listed.
    status: BTreeMap<Status, u32>,
    /// Highest severity (keparahan) 1-5 among them; 0 without incidents.
    #[schema(minimum = 0, maximum = 5)]
    keparahan_maks: u8,
}

/// A region's risk in a window.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct RegionRisk {
    kode: RegionCode,
    /// Official name.
    nama: String,
    risk_level: RiskLevel,
    /// Score: the incidents' decayed, weighted sum plus the indicators' parts.
    score: f64,
    counts: Counts,
}

/// The answer of `GET /api/risk`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct RiskOfLevel {
    level: RegionLevel,
    window: WindowBody,
    /// Number of regions.
    count: usize,
    /// Every region of the level, in code order.
    regions: Vec<RegionRisk>,
}

/// An incident's part of a region's score.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct Contribution {
    /// Incident id.
    id: i64,
    /// When it happened, unix seconds.
    occurred_at: i64,
    /// Its part of the score.
    contribution: f64,
    category: Category,
    /// Severity 1-5.
    severity: u8,
    status: Status,
    /// Its regency or city, where it has one.
    kode: Option<String>,
    /// That regency's or city's name.
    nama: Option<String>,
}

/// The parts of one category's incidents in a region's score.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct CategoryPart {
    category: Category,
    /// Incidents of the category in the window.
    count: u32,
    /// Their parts of the score, summed.
    contribution: f64,
}

/// An indicator's part of a region's score.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct IndicatorPart {
    /// Indicator name, e.g. `ikp_bawaslu`.
    indicator: String,
    /// Latest value.
    value: f64,
    /// Weight from the risk model (0 when the model does not count it).
    weight: f64,
    /// weight x value.
    contribution: f64,
}

/// A rule's verdict.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct RuleOutcome {
    /// Rule name.
    rule: String,
    /// Whether it raised (or would raise) the level.
    triggered: bool,
    /// The level it raises to when triggered.
    raises_to: RiskLevel,
    /// What was counted.
    detail: String,
}

/// What a window holds for a region, as the engine counts it.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct RegionStats {
    /// Incidents in the window.
    count: u32,
    /// Incidents per category, in the order of the `Category` values.
    #[schema(min_items = 7, max_items = 7)]
    by_category: [u32; 7],
    /// Incidents per status, in the order of the `Status` values.
    #[schema(min_items = 4, max_items = 4)]
    by_status: [u32; 4],
    /// The incidents' part of the score.
    incident_score: f64,
    /// Active incidents counted by the recent-severe rule.
    recent_severe: u32,
    /// Incidents in the 7 days up to the window's end.
    this_week: u32,
    /// Incidents in the 28 days before those.
    previous_four_weeks: u32,
    /// Incidents per severity 1-5.
    #[schema(min_items = 5, max_items = 5)]
    by_severity: [u32; 5],
}

/// Why a region has its level: every part of the score and every rule.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct Explanation {
    /// Final level, after the rules.
    level: RiskLevel,
    /// Score: `incident_score` plus the indicators' contributions.
    score: f64,
    /// The level from the score alone.
    score_level: RiskLevel,
    /// The incidents' part of the score: the sum of `contributions`.
    incident_score: f64,
    indicators: Vec<IndicatorPart>,
    /// Every enabled rule, triggered or not.
    rules: Vec<RuleOutcome>,
    /// Every incident in the window with its part, largest first; only for a caller who
    /// may read every incident of the region (nasional and analis users, an operator
    /// within their region), absent for anyone else.
    contributions: Option<Vec<Contribution>>,
    /// The incidents' parts counted and summed per category (categories without
    /// incidents left out): they sum to `incident_score`. For every caller.
    contributions_by_category: Vec<CategoryPart>,
    stats: RegionStats,
}

/// A region's level at the end of one day.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler writes, for the OpenAPI document")]
struct DayLevel {
    /// The day (UTC).
    #[schema(format = Date)]
    date: String,
    level: RiskLevel,
    /// Score at the end of that day.
    score: f64,
}

/// The answer of `GET /api/regions/{kode}/risk`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct RegionRiskDetail {
    kode: RegionCode,
    /// Official name.
    nama: String,
    level: RegionLevel,
    window: WindowBody,
    risk_level: RiskLevel,
    /// Score.
    score: f64,
    counts: Counts,
    explanation: Explanation,
    /// The level at the end of each of the last `history_days` days, oldest first.
    history: Vec<DayLevel>,
    model: ModelBody,
}

/// What the explanation is measured against: the region level's thresholds and the
/// rules' parameters, as the risk model (TOML) sets them.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the JSON the handler builds, for the OpenAPI document")]
struct ModelBody {
    /// The scores from which this level is kuning and merah.
    #[schema(value_type = Object)]
    thresholds: serde_json::Value,
    /// Each rule's parameters.
    #[schema(value_type = Object)]
    rules: serde_json::Value,
}

/// Risk levels of every region of a level
///
/// Every region of a level with its risk level (hijau, kuning, merah), score and
/// incident counts for a window of days ending now, or at `at` (the map as it stood then).
#[utoipa::path(
    get,
    path = "/api/risk",
    operation_id = "listRisk",
    tag = "risk",
    params(AllQuery),
    responses(
        (status = 200, description = "Every region of the level.", body = RiskOfLevel),
        (status = 400, description = "Malformed `level`, `window` or `at` (or `at` still to come), or an unknown query parameter.",
            body = Problem, content_type = PROBLEM_JSON),
        ComputeFailure,
    )
)]
async fn all(
    State(state): State<AppState>,
    Query(q): Query<AllQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let level = parse_level(q.level.as_deref(), RegionLevel::KabupatenKota)?;
    let days = parse_days("window", q.window.as_deref())?;
    let at = parse_at(q.at.as_deref())?;
    let gzip = accepts_gzip(&headers);
    // Every write answered before this request is in every answer whose computation
    // began at this batch count or a later one.
    // Another window means a pass over every incident; serialising and compressing
    // 514 regencies take a few milliseconds: off the request threads.
    let answer =
        kept_answer(state, |s| &s.risk, (level, days, at), |s, (level, days, at)| risk_of_level(s, level, days, at))
            .await?;
    Ok(answer.response(gzip))
}

/// The answer for `key` kept in the cache `cache` picks from the state, if one shows
/// every write acknowledged before this request; otherwise one computed by `make` off
/// the request threads under a CPU permit (the requests that arrive together share it).
pub(super) async fn kept_answer<K: std::hash::Hash + Eq + Copy + Send + 'static>(
    state: AppState,
    cache: fn(&AppState) -> &RiskCache<K>,
    key: K,
    make: fn(&AppState, K) -> Vec<u8>,
) -> Result<Arc<RiskAnswer>, ApiError> {
    let generation = state.tiles.synced();
    if let Some(answer) = cache(&state).get(&key, generation) {
        return Ok(answer);
    }
    let _permit = state.cpu.clone().acquire_owned().await.map_err(|_| ApiError::Internal("server stopping".into()))?;
    tokio::task::spawn_blocking(move || {
        let tiles = Arc::clone(&state.tiles);
        cache(&state).compute(key, generation, || tiles.synced(), || make(&state, key))
    })
    .await
    .map_err(|_| ApiError::Internal("computation task failed".into()))
}

/// An answer of `/api/risk`, as JSON and gzip.
pub struct RiskAnswer {
    json: Bytes,
    gzip: Bytes,
}

impl RiskAnswer {
    /// The answer as a JSON response, gzip-compressed when the client takes it.
    pub(super) fn response(&self, gzip: bool) -> Response {
        let mut response = if gzip {
            let mut r = self.gzip.clone().into_response();
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        } else {
            self.json.clone().into_response()
        };
        let h = response.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        response
    }
}

/// The answers of `/api/risk` by level and window (or of another computation by its
/// key `K`), each with the engine's batch count ([`crate::tiles::Tiles::synced`]) when
/// its computation began, kept for at most [`RiskCache::MAX_AGE`] (windows end now). A
/// request takes an answer begun at or after its own arrival's count, so it shows every
/// write acknowledged before it; answers are computed one at a time, so that the
/// requests that arrive together after a write share one computation instead of each
/// making their own.
pub struct RiskCache<K = (RegionLevel, Option<u32>, Option<i64>)> {
    entries: Mutex<HashMap<K, (u64, Instant, Arc<RiskAnswer>)>>,
    computing: Mutex<()>,
}

impl<K> Default for RiskCache<K> {
    fn default() -> RiskCache<K> {
        RiskCache { entries: Mutex::new(HashMap::new()), computing: Mutex::new(()) }
    }
}

type Entries<K> = HashMap<K, (u64, Instant, Arc<RiskAnswer>)>;

impl<K: std::hash::Hash + Eq> RiskCache<K> {
    const MAX_AGE: Duration = Duration::from_secs(30);
    /// Windows kept at most (each level with the default and a few custom ones).
    const MAX_ENTRIES: usize = 32;

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<K>> {
        crate::sync::lock(&self.entries)
    }

    /// An answer computed from `generation` or a later one, if one is kept.
    pub(super) fn get(&self, key: &K, generation: u64) -> Option<Arc<RiskAnswer>> {
        self.lock()
            .get(key)
            .filter(|(g, made, _)| *g >= generation && made.elapsed() < Self::MAX_AGE)
            .map(|(_, _, answer)| Arc::clone(answer))
    }

    /// An answer computed from `generation` or later: one that another request made
    /// while this one waited its turn, or a new one from `make` (the engine's
    /// generation when it starts is `current()`). Blocking.
    pub(super) fn compute(
        &self,
        key: K,
        generation: u64,
        current: impl FnOnce() -> u64,
        make: impl FnOnce() -> Vec<u8>,
    ) -> Arc<RiskAnswer> {
        let _turn = crate::sync::lock(&self.computing);
        if let Some(answer) = self.get(&key, generation) {
            return answer;
        }
        let started = current();
        let json = make();
        let answer = Arc::new(RiskAnswer { gzip: gzip_bytes(&json), json: Bytes::from(json) });
        let mut entries = self.lock();
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (g, made, _)| *g >= started && made.elapsed() < Self::MAX_AGE);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (started, Instant::now(), Arc::clone(&answer)));
        answer
    }
}

/// Every region of `level` with its risk in the window of `days` (the model's by
/// default) ending at `at` (default now), as the JSON of `/api/risk`.
fn risk_of_level(state: &AppState, level: RegionLevel, days: Option<u32>, at: Option<i64>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Row<'a> {
        kode: &'a RegionCode,
        nama: &'a str,
        risk_level: RiskLevel,
        score: f64,
        counts: CountsOut<'a>,
    }
    #[derive(Serialize)]
    struct Answer<'a> {
        level: RegionLevel,
        window: Value,
        count: usize,
        regions: Vec<Row<'a>>,
    }
    let engine = state.read();
    let window = window_at(&engine, days, at);
    let fresh;
    let current = engine.current().window;
    let snapshot = if window.days == current.days && (window.as_of - current.as_of).abs() < 60 {
        engine.current()
    } else {
        fresh = engine.snapshot(window);
        &fresh
    };
    let index = engine.index();
    let regions: Vec<Row<'_>> = index
        .level_ids(level)
        .into_iter()
        .map(|id| {
            let region = index.region(id);
            let standing = snapshot.standings[id as usize];
            Row {
                kode: &region.code,
                nama: &region.name,
                risk_level: standing.level,
                score: standing.score,
                counts: counts(&snapshot.stats[id as usize]),
            }
        })
        .collect();
    let answer = Answer {
        level,
        window: json!({ "days": snapshot.window.days, "as_of": rfc3339(snapshot.window.as_of) }),
        count: regions.len(),
        regions,
    };
    serde_json::to_vec(&answer).unwrap_or_default()
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct OneQuery {
    /// Length of the window in days, ending now; `30d` is read as 30. Default: the risk
    /// model's `window_days` (90 unless the model file changes it).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660, default = 90, example = 30)]
    window: Option<String>,
    /// Number of days of level history; `30d` is read as 30.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3660, default = 90, example = 30)]
    history_days: Option<String>,
    /// The end of the window and of the history: an RFC 3339 time, or a date (that
    /// whole day: up to the next midnight WIB). Default: now.
    #[param(value_type = Option<String>, example = "2026-11-01")]
    at: Option<String>,
}

/// A region's risk, explained, with its history
///
/// The region's risk level and score for the window, explained: every contributing
/// incident (kejadian) and indicator with its part (the parts sum to the score; incident
/// by incident only for a caller who may read every incident of the region, otherwise
/// summed per category), the
/// score's own level and every rule with what it counted; and its level at the end of
/// each of the last `history_days` days.
#[utoipa::path(
    get,
    path = "/api/regions/{kode}/risk",
    operation_id = "getRegionRisk",
    tag = "risk",
    security((), ("bearer" = [])),
    params(
        ("kode" = inline(RegionCode), Path, description = "The region's code (kode wilayah).", example = "73.71"),
        OneQuery,
    ),
    responses(
        (status = 200, description = "The region's risk.", body = RegionRiskDetail),
        (status = 400, description = "Malformed code, `window`, `history_days` or `at` (or `at` still to come), or \
            an unknown query parameter.",
            body = Problem, content_type = PROBLEM_JSON),
        (status = 401, description = "A token that is unknown, expired or revoked.", body = Problem,
            content_type = PROBLEM_JSON),
        (status = 404, description = "No region has this code.", body = Problem, content_type = PROBLEM_JSON),
        ComputeFailure,
    )
)]
async fn one(
    State(state): State<AppState>,
    auth: super::auth::Auth,
    Path(kode): Path<String>,
    Query(q): Query<OneQuery>,
) -> Result<Json<Value>, ApiError> {
    let code: RegionCode = kode.parse().map_err(|e: crate::region::MalformedCode| ApiError::InvalidParameter {
        param: "kode".into(),
        detail: e.to_string(),
    })?;
    let days = parse_days("window", q.window.as_deref())?;
    let history_days = parse_days("history_days", q.history_days.as_deref())?.unwrap_or(90);
    let at = parse_at(q.at.as_deref())?;
    let body = tokio::task::spawn_blocking(move || {
        let engine = state.read();
        let id = engine.index().id(&code).ok_or_else(|| ApiError::RegionNotFound(code.clone()))?;
        let window = window_at(&engine, days, at);
        let explanation = engine.explain(id, window);
        let history = engine.history(id, history_days, window.as_of);
        let region = engine.index().region(id);
        let mut explained = serde_json::to_value(&explanation)
            .map_err(|e| ApiError::Internal(format!("risk explanation not serialisable: {e}")))?;
        explained["contributions_by_category"] = super::risk_scope::by_category(&explanation.contributions);
        if !super::risk_scope::sees_every_incident(auth.0.as_ref(), &region.code) {
            if let Some(parts) = explained.as_object_mut() {
                parts.remove("contributions");
            }
        }
        Ok::<_, ApiError>(json!({
            "kode": region.code,
            "nama": region.name,
            "level": region.level,
            "window": { "days": window.days, "as_of": rfc3339(window.as_of) },
            "risk_level": explanation.assessment.level,
            "score": explanation.assessment.score,
            "counts": counts(&explanation.stats),
            "explanation": explained,
            "history": history,
            // What the explanation is measured against: this level's thresholds and
            // the rules' parameters.
            "model": {
                "thresholds": engine.model().thresholds.of(region.level),
                "rules": engine.model().rules,
            },
        }))
    })
    .await
    .map_err(|_| ApiError::Internal("risk explanation task failed".into()))??;
    Ok(Json(body))
}

pub(super) fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339()).unwrap_or_else(|| day_string(t / DAY * DAY))
}
