//! The in-memory spatial engine: region index, incident assignment, aggregation, risk
//! levels and hotspots. It knows nothing about HTTP or SQL; the server fills it from
//! PostGIS at start-up and keeps it current.

pub mod area;
pub mod clusters;
pub mod emerging;
pub mod hotspots;
pub mod normal;
pub mod regions;
pub mod risk;
pub mod store;
#[cfg(test)]
pub(crate) mod testing;
pub mod trend;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use self::clusters::Cluster;
use self::hotspots::{GiStar, Weights};
use self::regions::{RegionId, RegionIndex};
use self::risk::{Assessment, RegionInputs, RiskLevel, RiskModel, DAY};
use self::store::{add_incident, Incident, RegionStats, Store, Window};
use crate::region::RegionLevel;

/// One region's standing for a window.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Standing {
    /// Level.
    pub level: RiskLevel,
    /// Score.
    pub score: f64,
}

/// Aggregates and levels of every region for one window.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The window.
    pub window: Window,
    /// Per region, by id.
    pub stats: Vec<RegionStats>,
    /// Per region, by id.
    pub standings: Vec<Standing>,
}

/// A region-level indicator value.
#[derive(Debug, Clone)]
pub struct IndicatorValue {
    /// Indicator name.
    pub indicator: String,
    /// Date observed, unix seconds (midnight UTC).
    pub observed_at: i64,
    /// Value.
    pub value: f64,
}

/// The engine.
pub struct Engine {
    index: Arc<RegionIndex>,
    model: RiskModel,
    store: Store,
    indicators: HashMap<RegionId, Vec<IndicatorValue>>,
    current: Snapshot,
    /// Spatial weights per (level slot, kind), built on first use.
    weights: Mutex<HashMap<(usize, WeightsKind), Arc<Weights>>>,
}

/// Which spatial weights Gi* uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsKind {
    /// Queen contiguity with the default snapping tolerance.
    Queen,
    /// The k nearest neighbours by centroid.
    Knn(usize),
}

/// A region's Gi* result.
#[derive(Debug, Clone, Serialize)]
pub struct RegionHotspot {
    /// The region.
    #[serde(skip)]
    pub id: RegionId,
    /// The value analysed: the region's score in the window.
    pub value: f64,
    /// z, p and bin.
    #[serde(flatten)]
    pub gi: GiStar,
}

/// An incident's contribution, for explanations.
#[derive(Debug, Clone, Serialize)]
pub struct Contribution {
    /// Incident id.
    pub id: i64,
    /// When it happened (unix seconds).
    pub occurred_at: i64,
    /// Its part of the score.
    pub contribution: f64,
    /// Its category, severity and status: what the explanation says in plain words.
    pub category: crate::incident::Category,
    /// Severity 1-5.
    pub severity: crate::incident::Severity,
    /// Handling stage.
    pub status: crate::incident::Status,
    /// Its regency or city (code), where it has one.
    pub kode: Option<String>,
    /// That regency's or city's name.
    pub nama: Option<String>,
}

/// Why a region has its level.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The model's verdict (score, level, indicator parts, rules).
    #[serde(flatten)]
    pub assessment: Assessment,
    /// Every incident in the window with its part, largest first; with the indicator
    /// parts they sum to the score.
    pub contributions: Vec<Contribution>,
    /// Counts for the window.
    pub stats: RegionStats,
}

/// The level of a region on one day.
#[derive(Debug, Clone, Serialize)]
pub struct DayLevel {
    /// The day (UTC), `YYYY-MM-DD`.
    pub date: String,
    /// Level at the end of that day.
    pub level: RiskLevel,
    /// Score at the end of that day.
    pub score: f64,
}

impl Engine {
    /// An engine over these regions, with no incidents yet, evaluated at `now`.
    pub fn new(index: RegionIndex, model: RiskModel, now: i64) -> Engine {
        let window = Window { as_of: now, days: model.window_days };
        let n = index.len();
        let mut engine = Engine {
            store: Store::new(n),
            index: Arc::new(index),
            model,
            indicators: HashMap::new(),
            current: Snapshot { window, stats: Vec::new(), standings: Vec::new() },
            weights: Mutex::new(HashMap::new()),
        };
        engine.refresh(now);
        engine
    }

    /// The regions.
    pub fn index(&self) -> &RegionIndex {
        &self.index
    }

    /// The region index, shared (for work outside the engine's lock).
    pub fn shared_index(&self) -> Arc<RegionIndex> {
        Arc::clone(&self.index)
    }

    /// The risk model.
    pub fn model(&self) -> &RiskModel {
        &self.model
    }

    /// The incidents.
    pub fn incidents(&self) -> &Store {
        &self.store
    }

    /// The current snapshot (default window ending at the last refresh).
    pub fn current(&self) -> &Snapshot {
        &self.current
    }

    /// Loads many incidents, then recomputes everything once.
    pub fn load(&mut self, incidents: impl IntoIterator<Item = Incident>, now: i64) {
        for incident in incidents {
            self.store.upsert(incident);
        }
        self.refresh(now);
    }

    /// Replaces the indicator values, then recomputes everything once.
    pub fn set_indicators(&mut self, values: HashMap<RegionId, Vec<IndicatorValue>>, now: i64) {
        self.indicators = values;
        self.refresh(now);
    }

    /// Loads incidents and indicators together with a single recomputation (start-up).
    pub fn load_with_indicators(
        &mut self,
        incidents: impl IntoIterator<Item = Incident>,
        indicators: HashMap<RegionId, Vec<IndicatorValue>>,
        now: i64,
    ) {
        self.indicators = indicators;
        self.load(incidents, now);
    }

    /// Replaces every incident and indicator value (a reload after a bulk load), with
    /// a single recomputation.
    pub fn replace_all(
        &mut self,
        incidents: impl IntoIterator<Item = Incident>,
        indicators: HashMap<RegionId, Vec<IndicatorValue>>,
        now: i64,
    ) {
        self.store = Store::new(self.index.len());
        self.load_with_indicators(incidents, indicators, now);
    }

    /// Full recomputation of the default window ending at `now`.
    pub fn refresh(&mut self, now: i64) {
        self.current = self.snapshot(Window { as_of: now, days: self.model.window_days });
    }

    /// Aggregates and assesses every region for any window.
    pub fn snapshot(&self, window: Window) -> Snapshot {
        let stats = self.store.aggregate(self.index.len(), window, &self.model);
        let mut snapshot = Snapshot {
            window,
            stats,
            standings: vec![Standing { level: RiskLevel::Hijau, score: 0.0 }; self.index.len()],
        };
        self.assess_all(&mut snapshot);
        snapshot
    }

    /// Assesses every region: districts and regencies, then provinces (which look at
    /// their regencies).
    fn assess_all(&self, snapshot: &mut Snapshot) {
        let mut provinces = Vec::new();
        for id in 0..self.index.len() as RegionId {
            if self.index.region(id).level == RegionLevel::Provinsi {
                provinces.push(id);
            } else {
                snapshot.standings[id as usize] = self.standing(id, snapshot);
            }
        }
        for id in provinces {
            snapshot.standings[id as usize] = self.standing(id, snapshot);
        }
    }

    fn inputs<'a>(
        &self,
        id: RegionId,
        stats: &RegionStats,
        indicators: &'a [(String, f64)],
        snapshot: &Snapshot,
    ) -> RegionInputs<'a> {
        let region = self.index.region(id);
        let merah_children = (region.level == RegionLevel::Provinsi).then(|| {
            let merah =
                region.children.iter().filter(|&&c| snapshot.standings[c as usize].level == RiskLevel::Merah).count();
            (merah as u32, region.children.len() as u32)
        });
        RegionInputs {
            level: region.level,
            incident_score: stats.incident_score,
            recent_severe: stats.recent_severe,
            this_week: stats.this_week,
            previous_four_weeks: stats.previous_four_weeks,
            indicators,
            merah_children,
        }
    }

    fn standing(&self, id: RegionId, snapshot: &Snapshot) -> Standing {
        let indicators = self.latest_indicators(id, snapshot.window.as_of);
        let stats = snapshot.stats[id as usize];
        let a = self.model.assess(&self.inputs(id, &stats, &indicators, snapshot));
        Standing { level: a.level, score: a.score }
    }

    /// The latest value of each indicator of a region within its maximum age.
    fn latest_indicators(&self, id: RegionId, as_of: i64) -> Vec<(String, f64)> {
        let Some(values) = self.indicators.get(&id) else {
            return Vec::new();
        };
        let mut latest: HashMap<&str, &IndicatorValue> = HashMap::new();
        for v in values {
            let max_age = self.model.indicators.get(&v.indicator).map_or(730, |i| i.max_age_days);
            if v.observed_at > as_of || as_of - v.observed_at > i64::from(max_age) * DAY {
                continue;
            }
            let entry = latest.entry(&v.indicator).or_insert(v);
            if v.observed_at > entry.observed_at {
                *entry = v;
            }
        }
        let mut out: Vec<(String, f64)> = latest.into_iter().map(|(k, v)| (k.to_owned(), v.value)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Inserts or replaces one incident and updates the current snapshot in place:
    /// only its regions (and their provinces) are re-assessed.
    pub fn upsert(&mut self, incident: Incident) {
        let window = self.current.window;
        let mut touched: Vec<RegionId> = incident.assignment.regions.iter().flatten().copied().collect();
        add_incident(&mut self.current.stats, &incident, window, &self.model, 1);
        if let Some(old) = self.store.upsert(incident) {
            add_incident(&mut self.current.stats, &old, window, &self.model, -1);
            touched.extend(old.assignment.regions.iter().flatten());
        }
        self.reassess(touched);
    }

    /// Removes one incident, updating the current snapshot in place.
    pub fn remove(&mut self, id: i64) -> Option<Incident> {
        let old = self.store.remove(id)?;
        let window = self.current.window;
        add_incident(&mut self.current.stats, &old, window, &self.model, -1);
        self.reassess(old.assignment.regions.iter().flatten().copied().collect());
        Some(old)
    }

    fn reassess(&mut self, mut regions: Vec<RegionId>) {
        // Provinces last: they look at their regencies.
        regions.sort_by_key(|&id| self.index.region(id).level == RegionLevel::Provinsi);
        regions.dedup();
        let window = self.current.window;
        let mut snapshot =
            std::mem::replace(&mut self.current, Snapshot { window, stats: Vec::new(), standings: Vec::new() });
        for id in regions {
            snapshot.standings[id as usize] = self.standing(id, &snapshot);
        }
        self.current = snapshot;
    }

    /// Explains a region's level for a window: every contributing incident and
    /// indicator and every rule.
    pub fn explain(&self, id: RegionId, window: Window) -> Explanation {
        let stats = self.store.aggregate_region(id, window, &self.model);
        let mut contributions: Vec<Contribution> = self
            .store
            .in_region(id)
            .filter(|i| window.contains(i.occurred_at))
            .map(|i| Contribution {
                id: i.id,
                occurred_at: i.occurred_at,
                category: i.category,
                severity: i.severity,
                status: i.status,
                kode: i.assignment.regions[1].map(|r| self.index.region(r).code.to_string()),
                nama: i.assignment.regions[1].map(|r| self.index.region(r).name.clone()),
                contribution: self.model.incident_weight(
                    i.severity,
                    i.category,
                    i.status,
                    window.as_of - i.occurred_at,
                ),
            })
            .collect();
        contributions.sort_by(|a, b| b.contribution.total_cmp(&a.contribution).then(a.id.cmp(&b.id)));
        // The score from exactly these parts, so that they sum to it.
        let exact = RegionStats { incident_score: contributions.iter().map(|c| c.contribution).sum(), ..stats };
        let indicators = self.latest_indicators(id, window.as_of);
        let snapshot = if window == self.current.window {
            std::borrow::Cow::Borrowed(&self.current)
        } else {
            std::borrow::Cow::Owned(self.children_snapshot(id, window))
        };
        let assessment = self.model.assess(&self.inputs(id, &exact, &indicators, &snapshot));
        Explanation { assessment, contributions, stats }
    }

    /// A snapshot holding just what a region's assessment reads: its children's
    /// standings (for provinces).
    fn children_snapshot(&self, id: RegionId, window: Window) -> Snapshot {
        let n = self.index.len();
        let mut snapshot = Snapshot {
            window,
            stats: vec![RegionStats::default(); n],
            standings: vec![Standing { level: RiskLevel::Hijau, score: 0.0 }; n],
        };
        if self.index.region(id).level == RegionLevel::Provinsi {
            for &child in &self.index.region(id).children {
                snapshot.stats[child as usize] = self.store.aggregate_region(child, window, &self.model);
                snapshot.standings[child as usize] = self.standing(child, &snapshot);
            }
        }
        snapshot
    }

    /// The level of a region at the end of each of the last `days` days (UTC), oldest
    /// first, each with the model's window ending that day: yellow turning back to
    /// green shows here.
    pub fn history(&self, id: RegionId, days: u32, now: i64) -> Vec<DayLevel> {
        let today_end = (now.div_euclid(DAY) + 1) * DAY - 1;
        (0..days)
            .rev()
            .map(|back| {
                let as_of = (today_end - i64::from(back) * DAY).min(now);
                let window = Window { as_of, days: self.model.window_days };
                let mut snapshot = self.children_snapshot(id, window);
                snapshot.stats[id as usize] = self.store.aggregate_region(id, window, &self.model);
                let standing = self.standing(id, &snapshot);
                DayLevel { date: day_string(as_of), level: standing.level, score: standing.score }
            })
            .collect()
    }
}

impl Engine {
    /// The spatial weights of a level, built once and kept.
    pub fn weights(&self, level: RegionLevel, kind: WeightsKind) -> Arc<Weights> {
        let key = (regions::level_slot(level), kind);
        if let Some(w) = crate::sync::lock(&self.weights).get(&key) {
            return Arc::clone(w);
        }
        let ids = self.index.level_ids(level);
        let built = Arc::new(match kind {
            WeightsKind::Queen => {
                let shapes: Vec<geo::MultiPolygon<f64>> =
                    ids.iter().map(|&id| self.index.region(id).shape.clone()).collect();
                Weights::queen(&shapes, hotspots::DEFAULT_QUEEN_TOLERANCE_DEG)
            }
            WeightsKind::Knn(k) => {
                let centroids: Vec<geo::Point<f64>> = ids.iter().map(|&id| self.index.region(id).centroid).collect();
                Weights::knn(&centroids, k)
            }
        });
        crate::sync::lock(&self.weights).insert(key, Arc::clone(&built));
        built
    }

    /// Getis-Ord Gi* of the regions of a level on their scores in a snapshot, in code
    /// order; with `fdr`, bins corrected for the false discovery rate.
    pub fn hotspots(
        &self,
        level: RegionLevel,
        snapshot: &Snapshot,
        kind: WeightsKind,
        fdr: bool,
    ) -> Vec<RegionHotspot> {
        let ids = self.index.level_ids(level);
        let values: Vec<f64> = ids.iter().map(|&id| snapshot.standings[id as usize].score).collect();
        let mut results = hotspots::gi_star(&values, &self.weights(level, kind));
        if fdr {
            hotspots::apply_fdr(&mut results);
        }
        ids.into_iter().zip(values).zip(results).map(|((id, value), gi)| RegionHotspot { id, value, gi }).collect()
    }

    /// DBSCAN clusters of the incidents in a window (their points, or the
    /// representative points of lines, polygons and region-only reports), with the
    /// incidents of each cluster.
    pub fn clusters(&self, window: Window, eps_m: f64, min_points: usize) -> Vec<(Cluster, Vec<&Incident>)> {
        let incidents: Vec<&Incident> = self.store.iter().filter(|i| window.contains(i.occurred_at)).collect();
        let points: Vec<geo::Point<f64>> = incidents.iter().map(|i| i.location).collect();
        clusters::dbscan(&points, eps_m, min_points)
            .into_iter()
            .map(|c| {
                let members = c.members.iter().map(|&m| incidents[m]).collect();
                (c, members)
            })
            .collect()
    }
}

/// `YYYY-MM-DD` of a unix time (UTC).
pub fn day_string(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use geo::Point;

    use super::regions::RegionIndex;
    use super::store::{Incident, Window};
    use super::testing::index;
    use super::*;
    use crate::incident::{Category, Severity, Status};

    const NOW: i64 = 1_795_000_000;

    fn incident(index: &RegionIndex, id: i64, x: f64, days_ago: i64, severity: u8, status: Status) -> Incident {
        let location = Point::new(x, 0.5);
        Incident {
            id,
            occurred_at: NOW - days_ago * DAY,
            category: Category::ALL[(id % 7) as usize],
            severity: Severity::new(severity).expect("1..5"),
            status,
            assignment: index.assign_point(location).expect("assigned"),
            location,
            shape: None,
            touched: Box::new([]),
        }
    }

    #[test]
    fn incremental_updates_equal_a_full_recomputation() {
        let mut incremental = Engine::new(index(), RiskModel::default(), NOW);
        let idx = index();
        let mut all = Vec::new();
        for id in 0..200 {
            let x = 120.05 + (id as f64 * 0.37) % 1.9;
            let status = Status::ALL[(id % 4) as usize];
            let i = incident(&idx, id, x, id % 120, 1 + (id % 5) as u8, status);
            incremental.upsert(i.clone());
            all.push(i);
        }
        // Edit some (move to the other regency, change severity), delete others.
        for id in (0..200).step_by(3) {
            let mut i = all[id as usize].clone();
            i.severity = Severity::new(5).expect("5");
            i.location = Point::new(242.0 - i.location.x(), 0.5);
            i.assignment = idx.assign_point(i.location).expect("assigned");
            incremental.upsert(i.clone());
            all[id as usize] = i;
        }
        for id in (1..200).step_by(7) {
            assert!(incremental.remove(id).is_some());
        }
        let kept: Vec<Incident> = all.into_iter().filter(|i| (i.id - 1) % 7 != 0).collect();
        let mut full = Engine::new(index(), RiskModel::default(), NOW);
        full.load(kept, NOW);
        let (a, b) = (incremental.current(), full.current());
        for id in 0..a.stats.len() {
            assert_eq!(a.stats[id].count, b.stats[id].count, "region {id}");
            assert_eq!(a.stats[id].by_category, b.stats[id].by_category);
            assert_eq!(a.stats[id].by_status, b.stats[id].by_status);
            assert_eq!(a.stats[id].by_severity, b.stats[id].by_severity);
            assert_eq!(a.stats[id].max_severity(), b.stats[id].max_severity());
            assert_eq!(
                (a.stats[id].this_week, a.stats[id].previous_four_weeks),
                (b.stats[id].this_week, b.stats[id].previous_four_weeks)
            );
            assert_eq!(a.stats[id].recent_severe, b.stats[id].recent_severe);
            assert!((a.stats[id].incident_score - b.stats[id].incident_score).abs() < 1e-9);
            assert_eq!(a.standings[id].level, b.standings[id].level);
        }
        assert_eq!(incremental.incidents().len(), full.incidents().len());
    }

    #[test]
    fn explanations_sum_to_the_score_and_history_turns_green() {
        let idx = index();
        let mut engine = Engine::new(index(), RiskModel::default(), NOW);
        // Ten grave clashes 20 to 29 days ago in 71.01, resolved since.
        let incidents: Vec<Incident> =
            (0..10).map(|id| incident(&idx, id, 120.5, 20 + id, 5, Status::Selesai)).collect();
        let mut fresh: Vec<Incident> = (10..20).map(|id| incident(&idx, id, 120.5, 2, 4, Status::Terjadi)).collect();
        fresh.extend(incidents);
        engine.load(fresh, NOW);
        let id = engine.index().id(&"71.01".parse().expect("code")).expect("region");
        let window = Window { as_of: NOW, days: 90 };
        let e = engine.explain(id, window);
        let parts: f64 = e.contributions.iter().map(|c| c.contribution).sum::<f64>()
            + e.assessment.indicators.iter().map(|i| i.contribution).sum::<f64>();
        assert!((parts - e.assessment.score).abs() < 1e-12);
        assert_eq!(e.contributions.len(), 20);
        assert!((e.assessment.score - engine.current().standings[id as usize].score).abs() < 1e-9);
        let history = engine.history(id, 40, NOW);
        assert_eq!(history.len(), 40);
        assert_eq!(history[0].level, RiskLevel::Hijau, "before anything happened");
        assert_eq!(history[39].level, engine.current().standings[id as usize].level, "today");
    }
}
