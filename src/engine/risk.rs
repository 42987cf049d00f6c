//! The risk model: how a region's incidents and indicators become a level, hijau
//! (safe), kuning (alert) or merah (danger), with an explanation whose parts sum to the
//! score. The defaults and their documentation are in `risk-model.toml` beside this
//! file; a deployment overrides any of them with its own TOML file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::incident::{Category, Severity, Status};
use crate::region::RegionLevel;

/// The default model, documented.
pub const DEFAULT_MODEL_TOML: &str = include_str!("risk-model.toml");

/// Seconds per day.
pub const DAY: i64 = 86_400;

/// A region's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Safe.
    #[default]
    Hijau,
    /// Alert.
    Kuning,
    /// Danger.
    Merah,
}

impl RiskLevel {
    /// The wire name: `hijau`, `kuning`, `merah`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Hijau => "hijau",
            RiskLevel::Kuning => "kuning",
            RiskLevel::Merah => "merah",
        }
    }
}

/// Weights per category.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CategoryWeights {
    pub pemilu: f64,
    pub agraria: f64,
    pub antar_kelompok: f64,
    pub sara: f64,
    pub sumber_daya_alam: f64,
    pub ekonomi: f64,
    pub lainnya: f64,
}

impl CategoryWeights {
    fn get(&self, c: Category) -> f64 {
        match c {
            Category::Pemilu => self.pemilu,
            Category::Agraria => self.agraria,
            Category::AntarKelompok => self.antar_kelompok,
            Category::Sara => self.sara,
            Category::SumberDayaAlam => self.sumber_daya_alam,
            Category::Ekonomi => self.ekonomi,
            Category::Lainnya => self.lainnya,
        }
    }
}

/// Weights per handling stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct StatusWeights {
    pub potensi: f64,
    pub terjadi: f64,
    pub ditangani: f64,
    pub selesai: f64,
}

impl StatusWeights {
    fn get(&self, s: Status) -> f64 {
        match s {
            Status::Potensi => self.potensi,
            Status::Terjadi => self.terjadi,
            Status::Ditangani => self.ditangani,
            Status::Selesai => self.selesai,
        }
    }
}

/// Score thresholds of one level.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Score from which a region is kuning.
    pub kuning: f64,
    /// Score from which a region is merah.
    pub merah: f64,
}

/// Thresholds per level.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Thresholds {
    pub kecamatan: Threshold,
    pub kabupaten_kota: Threshold,
    pub provinsi: Threshold,
}

impl Thresholds {
    /// The thresholds of `level`.
    pub fn of(&self, level: RegionLevel) -> Threshold {
        match level {
            RegionLevel::Kecamatan => self.kecamatan,
            RegionLevel::KabupatenKota => self.kabupaten_kota,
            RegionLevel::Provinsi => self.provinsi,
        }
    }
}

/// "An active incident of at least `min_severity` in the last `days` days makes the
/// region at least `level`."
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RecentSevereRule {
    pub enabled: bool,
    pub min_severity: u8,
    pub days: u32,
    pub level: RiskLevel,
}

/// ACLED-style surge: this week's count against the weekly average of the four weeks
/// before.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SurgeRule {
    pub enabled: bool,
    pub factor: f64,
    pub min_weekly_baseline: f64,
    pub level: RiskLevel,
}

/// How a province is judged by its regencies and cities.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ProvinceRule {
    pub enabled: bool,
    pub merah_regencies_for_kuning: u32,
    pub merah_share_for_merah: f64,
}

/// The rules that raise a level.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Rules {
    pub recent_severe: RecentSevereRule,
    pub surge: SurgeRule,
    pub province: ProvinceRule,
}

/// How an indicator counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorWeight {
    /// Score points per unit of value.
    pub weight: f64,
    /// Values older than this (at the evaluation time) do not count.
    pub max_age_days: u32,
}

/// The whole model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RiskModel {
    pub window_days: u32,
    pub half_life_days: f64,
    pub severity_weights: [f64; 5],
    pub category_weights: CategoryWeights,
    pub status_weights: StatusWeights,
    pub thresholds: Thresholds,
    pub rules: Rules,
    #[serde(default)]
    pub indicators: BTreeMap<String, IndicatorWeight>,
}

/// A model file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("{path}: cannot read the risk model: {source}")]
    Io {
        /// The file.
        path: String,
        /// The reason.
        source: std::io::Error,
    },
    /// Not TOML, unknown keys, or wrong types.
    #[error("{path}: invalid risk model: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl Default for RiskModel {
    fn default() -> Self {
        // The embedded defaults are checked by a unit test.
        #[allow(clippy::expect_used)]
        let model = Self::from_toml(DEFAULT_MODEL_TOML, "risk-model.toml").expect("valid default risk model");
        model
    }
}

impl RiskModel {
    /// Reads a model file: its keys override the defaults.
    pub fn from_file(path: &Path) -> Result<RiskModel, ModelError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ModelError::Io { path: path.display().to_string(), source })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses TOML over the defaults, then validates.
    pub fn from_toml(text: &str, path: &str) -> Result<RiskModel, ModelError> {
        let invalid = |reason: String| ModelError::Invalid { path: path.to_owned(), reason };
        let mut merged: toml::Table = toml::from_str(DEFAULT_MODEL_TOML).map_err(|e| invalid(e.to_string()))?;
        let overrides: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        merge(&mut merged, overrides);
        let model: RiskModel =
            toml::Value::Table(merged).try_into().map_err(|e: toml::de::Error| invalid(e.to_string()))?;
        model.validate().map_err(invalid)?;
        Ok(model)
    }

    fn validate(&self) -> Result<(), String> {
        let weights = self.severity_weights.iter().chain([
            &self.category_weights.pemilu,
            &self.category_weights.agraria,
            &self.category_weights.antar_kelompok,
            &self.category_weights.sara,
            &self.category_weights.sumber_daya_alam,
            &self.category_weights.ekonomi,
            &self.category_weights.lainnya,
            &self.status_weights.potensi,
            &self.status_weights.terjadi,
            &self.status_weights.ditangani,
            &self.status_weights.selesai,
        ]);
        for w in weights {
            if !(w.is_finite() && *w >= 0.0) {
                return Err(format!("weights must be finite and not negative, found {w}"));
            }
        }
        if self.window_days == 0 || self.window_days > 3660 {
            return Err("window_days must be 1 to 3660".into());
        }
        if !(self.half_life_days.is_finite() && self.half_life_days > 0.0) {
            return Err("half_life_days must be positive".into());
        }
        for (name, t) in [
            ("kecamatan", self.thresholds.kecamatan),
            ("kabupaten_kota", self.thresholds.kabupaten_kota),
            ("provinsi", self.thresholds.provinsi),
        ] {
            if !(t.kuning.is_finite() && t.merah.is_finite() && 0.0 < t.kuning && t.kuning < t.merah) {
                return Err(format!("thresholds.{name}: need 0 < kuning < merah"));
            }
        }
        if !(1..=5).contains(&self.rules.recent_severe.min_severity) {
            return Err("rules.recent_severe.min_severity must be 1 to 5".into());
        }
        if !(self.rules.surge.factor > 1.0 && self.rules.surge.min_weekly_baseline >= 0.0) {
            return Err("rules.surge: factor must exceed 1 and the baseline must not be negative".into());
        }
        if !(0.0..=1.0).contains(&self.rules.province.merah_share_for_merah) {
            return Err("rules.province.merah_share_for_merah must be 0 to 1".into());
        }
        for (name, i) in &self.indicators {
            if !i.weight.is_finite() {
                return Err(format!("indicators.{name}.weight must be finite"));
            }
        }
        Ok(())
    }

    /// An incident's contribution to its regions' scores at time `as_of` (unix seconds):
    /// severity x category x status weights, decayed by age.
    pub fn incident_weight(&self, severity: Severity, category: Category, status: Status, age_secs: i64) -> f64 {
        let age_days = age_secs.max(0) as f64 / DAY as f64;
        self.severity_weights[usize::from(severity.get()) - 1]
            * self.category_weights.get(category)
            * self.status_weights.get(status)
            * 0.5f64.powf(age_days / self.half_life_days)
    }

    /// The level a score reaches at `level`'s thresholds.
    pub fn level_of_score(&self, level: RegionLevel, score: f64) -> RiskLevel {
        let t = self.thresholds.of(level);
        if score >= t.merah {
            RiskLevel::Merah
        } else if score >= t.kuning {
            RiskLevel::Kuning
        } else {
            RiskLevel::Hijau
        }
    }

    /// Assesses one region from its inputs.
    pub fn assess(&self, inputs: &RegionInputs<'_>) -> Assessment {
        let indicators: Vec<IndicatorPart> = inputs
            .indicators
            .iter()
            .map(|(name, value)| {
                let weight = self.indicators.get(name).map_or(0.0, |i| i.weight);
                IndicatorPart { indicator: name.clone(), value: *value, weight, contribution: weight * value }
            })
            .collect();
        let score = inputs.incident_score + indicators.iter().map(|i| i.contribution).sum::<f64>();
        let score_level = self.level_of_score(inputs.level, score);
        let mut level = score_level;
        let mut rules = Vec::new();
        let r = &self.rules.recent_severe;
        if r.enabled {
            let triggered = inputs.recent_severe > 0;
            rules.push(RuleOutcome {
                rule: "recent_severe",
                triggered,
                raises_to: r.level,
                detail: format!(
                    "{} active incident(s) of severity >= {} in the last {} days",
                    inputs.recent_severe, r.min_severity, r.days
                ),
            });
            if triggered {
                level = level.max(r.level);
            }
        }
        let s = &self.rules.surge;
        if s.enabled {
            let baseline = f64::from(inputs.previous_four_weeks) / 4.0;
            let triggered = baseline >= s.min_weekly_baseline && f64::from(inputs.this_week) >= s.factor * baseline;
            rules.push(RuleOutcome {
                rule: "surge",
                triggered,
                raises_to: s.level,
                detail: format!(
                    "{} incident(s) this week against a weekly average of {:.2} over the 4 weeks before{}",
                    inputs.this_week,
                    baseline,
                    if baseline < s.min_weekly_baseline { " (baseline too small: ignored)" } else { "" }
                ),
            });
            if triggered {
                level = level.max(s.level);
            }
        }
        let p = &self.rules.province;
        if let (true, RegionLevel::Provinsi, Some((merah, total))) = (p.enabled, inputs.level, inputs.merah_children) {
            let share = if total == 0 { 0.0 } else { f64::from(merah) / f64::from(total) };
            let raises_to = if total > 0 && share >= p.merah_share_for_merah && merah > 0 {
                RiskLevel::Merah
            } else if merah >= p.merah_regencies_for_kuning && merah > 0 {
                RiskLevel::Kuning
            } else {
                RiskLevel::Hijau
            };
            let triggered = raises_to > RiskLevel::Hijau;
            rules.push(RuleOutcome {
                rule: "province_regencies",
                triggered,
                raises_to,
                detail: format!("{merah} of {total} regencies and cities are merah"),
            });
            level = level.max(raises_to);
        }
        Assessment { level, score, score_level, incident_score: inputs.incident_score, indicators, rules }
    }
}

fn merge(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// What the model needs to know of one region.
#[derive(Debug, Clone, Default)]
pub struct RegionInputs<'a> {
    /// The region's level.
    pub level: RegionLevel,
    /// Sum of the decayed weights of its incidents in the window.
    pub incident_score: f64,
    /// Active incidents at or above the rule's severity in the rule's days.
    pub recent_severe: u32,
    /// Incidents in the last 7 days.
    pub this_week: u32,
    /// Incidents in the 28 days before those 7.
    pub previous_four_weeks: u32,
    /// Latest indicator values (name, value) within their maximum age.
    pub indicators: &'a [(String, f64)],
    /// For provinces: (merah regencies, all regencies).
    pub merah_children: Option<(u32, u32)>,
}

/// An indicator's part of the score.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorPart {
    /// Indicator name.
    pub indicator: String,
    /// Latest value.
    pub value: f64,
    /// Weight from the model (0 when the model does not count it).
    pub weight: f64,
    /// weight x value.
    pub contribution: f64,
}

/// A rule's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct RuleOutcome {
    /// Rule name.
    pub rule: &'static str,
    /// Whether it raised (or would raise) the level.
    pub triggered: bool,
    /// The level it raises to when triggered.
    pub raises_to: RiskLevel,
    /// What was counted.
    pub detail: String,
}

/// The model's verdict on one region.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// Final level.
    pub level: RiskLevel,
    /// Score: incident part plus indicator parts.
    pub score: f64,
    /// The level from the score alone.
    pub score_level: RiskLevel,
    /// The incidents' part of the score.
    pub incident_score: f64,
    /// The indicators' parts.
    pub indicators: Vec<IndicatorPart>,
    /// Every enabled rule, triggered or not.
    pub rules: Vec<RuleOutcome>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> RiskModel {
        RiskModel::default()
    }

    fn inputs(level: RegionLevel, incident_score: f64) -> RegionInputs<'static> {
        RegionInputs { level, incident_score, ..RegionInputs::default() }
    }

    #[test]
    fn defaults_parse_and_overrides_apply() {
        let m = model();
        assert_eq!(m.window_days, 90);
        let custom =
            RiskModel::from_toml("half_life_days = 7.0\n[thresholds.kecamatan]\nmerah = 50.0\n", "t").expect("valid");
        assert_eq!(custom.half_life_days, 7.0);
        assert_eq!(custom.thresholds.kecamatan.merah, 50.0);
        assert_eq!(custom.thresholds.kecamatan.kuning, m.thresholds.kecamatan.kuning, "kept from the defaults");
        assert!(RiskModel::from_toml("half_lif_days = 7.0", "t").is_err(), "unknown keys are refused");
        assert!(
            RiskModel::from_toml("[thresholds.provinsi]\nkuning = 200.0", "t").is_err(),
            "kuning must stay below merah"
        );
        assert!(RiskModel::from_toml("severity_weights = [1.0, -2.0, 3.0, 4.0, 5.0]", "t").is_err());
    }

    #[test]
    fn weight_multiplies_and_halves_every_half_life() {
        let m = model();
        let sev = Severity::new(4).expect("4");
        let fresh = m.incident_weight(sev, Category::Sara, Status::Terjadi, 0);
        assert!((fresh - 7.0 * 1.5 * 1.0).abs() < 1e-12);
        let old = m.incident_weight(sev, Category::Sara, Status::Terjadi, 30 * DAY);
        assert!((old - fresh / 2.0).abs() < 1e-12);
        let resolved = m.incident_weight(sev, Category::Sara, Status::Selesai, 0);
        assert!((resolved - fresh * 0.1).abs() < 1e-12);
    }

    #[test]
    fn thresholds_give_the_score_level() {
        let m = model();
        use RegionLevel::*;
        assert_eq!(m.assess(&inputs(Kecamatan, 5.9)).level, RiskLevel::Hijau);
        assert_eq!(m.assess(&inputs(Kecamatan, 6.0)).level, RiskLevel::Kuning);
        assert_eq!(m.assess(&inputs(Kecamatan, 20.0)).level, RiskLevel::Merah);
        assert_eq!(m.assess(&inputs(Provinsi, 20.0)).level, RiskLevel::Hijau, "provinces need more");
    }

    #[test]
    fn a_recent_severe_incident_makes_at_least_kuning() {
        let m = model();
        let a = m.assess(&RegionInputs { recent_severe: 1, ..inputs(RegionLevel::Kecamatan, 1.0) });
        assert_eq!((a.score_level, a.level), (RiskLevel::Hijau, RiskLevel::Kuning));
        assert!(a.rules.iter().any(|r| r.rule == "recent_severe" && r.triggered));
        let merah = m.assess(&RegionInputs { recent_severe: 1, ..inputs(RegionLevel::Kecamatan, 25.0) });
        assert_eq!(merah.level, RiskLevel::Merah, "rules only raise");
    }

    #[test]
    fn surge_needs_twice_the_baseline_and_a_real_baseline() {
        let m = model();
        let with = |this_week, previous_four_weeks| {
            m.assess(&RegionInputs { this_week, previous_four_weeks, ..inputs(RegionLevel::KabupatenKota, 0.0) }).level
        };
        assert_eq!(with(8, 16), RiskLevel::Kuning, "8 this week against 4 a week");
        assert_eq!(with(7, 16), RiskLevel::Hijau, "less than twice");
        assert_eq!(with(5, 2), RiskLevel::Hijau, "baseline 0.5 a week is too small");
    }

    #[test]
    fn provinces_follow_their_regencies() {
        let m = model();
        let with = |merah, total| {
            m.assess(&RegionInputs { merah_children: Some((merah, total)), ..inputs(RegionLevel::Provinsi, 0.0) }).level
        };
        assert_eq!(with(0, 24), RiskLevel::Hijau);
        assert_eq!(with(1, 24), RiskLevel::Kuning);
        assert_eq!(with(12, 24), RiskLevel::Merah);
    }

    #[test]
    fn indicators_add_weighted_values_and_the_parts_sum_to_the_score() {
        let m = model();
        let values = vec![("ikp_bawaslu".to_owned(), 80.0), ("unknown".to_owned(), 50.0)];
        let a = m.assess(&RegionInputs { indicators: &values, ..inputs(RegionLevel::KabupatenKota, 3.5) });
        assert!((a.score - (3.5 + 8.0)).abs() < 1e-12);
        let parts = a.incident_score + a.indicators.iter().map(|i| i.contribution).sum::<f64>();
        assert!((parts - a.score).abs() < 1e-12);
        assert_eq!(a.indicators[1].weight, 0.0, "indicators outside the model do not count");
        assert_eq!(a.level, RiskLevel::Kuning);
    }
}
