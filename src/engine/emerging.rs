//! Emerging hot spots: Gi* of every region in each time bin, the Mann-Kendall trend of
//! each region's z-scores, and the pattern classes of ArcGIS Emerging Hot Spot
//! Analysis (new, consecutive, intensifying, persistent, diminishing, sporadic,
//! oscillating and historical hot and cold spots).

use chrono::{Datelike, TimeZone, Utc};
use serde::Serialize;

use super::hotspots::{apply_fdr, gi_star, GiStar, Weights};
use super::regions::{level_slot, RegionId};
use super::risk::DAY;
use super::trend::{mann_kendall, Trend};
use super::{Engine, WeightsKind};
use crate::region::RegionLevel;

/// Significance level of the Mann-Kendall trend below which a trend counts as
/// statistically significant (a bin counts as a hot or cold spot from 90 %
/// confidence, its Gi* bin not 0).
pub const TREND_ALPHA: f64 = 0.05;

/// Width of a time bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinWidth {
    /// Seven days; the last bin ends now.
    Week,
    /// A calendar month (UTC); the last bin is the current month up to now.
    Month,
}

/// What is analysed in each bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BinValue {
    /// The number of incidents that occurred in the bin.
    Count,
    /// The incidents' part of the risk score for a window equal to the bin: their
    /// severity, category and status weights, decayed from the bin's end.
    Score,
}

/// Consecutive time bins: bin `i` holds the times `t` with `edges[i] < t ≤ edges[i+1]`
/// (unix seconds), as [`super::store::Window`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBins {
    edges: Vec<i64>,
}

impl TimeBins {
    /// The last `n` weeks ending at `now`.
    pub fn weeks(n: usize, now: i64) -> TimeBins {
        TimeBins { edges: (0..=n).rev().map(|back| now - back as i64 * 7 * DAY).collect() }
    }

    /// The last `n` calendar months (UTC), the current one up to `now`.
    pub fn months(n: usize, now: i64) -> TimeBins {
        let today = Utc.timestamp_opt(now, 0).single().unwrap_or_default().date_naive();
        let month_index = today.year() * 12 + today.month0() as i32;
        let start_of = |index: i32| {
            chrono::NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map_or(0, |d| d.and_utc().timestamp())
        };
        let mut edges: Vec<i64> = (0..n as i32).rev().map(|back| start_of(month_index - back) - 1).collect();
        edges.push(now);
        TimeBins { edges }
    }

    /// Bins of `width`.
    pub fn of(width: BinWidth, n: usize, now: i64) -> TimeBins {
        match width {
            BinWidth::Week => TimeBins::weeks(n, now),
            BinWidth::Month => TimeBins::months(n, now),
        }
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.edges.len().saturating_sub(1)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first and last second of bin `i` (unix seconds, inclusive).
    pub fn span(&self, i: usize) -> (i64, i64) {
        (self.edges[i] + 1, self.edges[i + 1])
    }

    /// The bin holding `t`, if any.
    pub fn bin_of(&self, t: i64) -> Option<usize> {
        let j = self.edges.partition_point(|&e| e < t);
        (1..self.edges.len()).contains(&j).then(|| j - 1)
    }
}

/// Values of regions over time bins: `value(b, r)` for bin `b` and region `r`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cube {
    regions: usize,
    values: Vec<f64>,
}

impl Cube {
    /// A cube of zeros.
    pub fn zeros(bins: usize, regions: usize) -> Cube {
        Cube { regions, values: vec![0.0; bins * regions] }
    }

    /// A cube from one row of region values per bin.
    ///
    /// # Panics
    /// When the rows differ in length.
    pub fn from_rows(rows: &[Vec<f64>]) -> Cube {
        let regions = rows.first().map_or(0, Vec::len);
        assert!(rows.iter().all(|r| r.len() == regions), "one value per region in every bin");
        Cube { regions, values: rows.concat() }
    }

    /// Number of bins.
    pub fn bins(&self) -> usize {
        if self.regions == 0 {
            0
        } else {
            self.values.len() / self.regions
        }
    }

    /// Number of regions.
    pub fn regions(&self) -> usize {
        self.regions
    }

    /// The values of every region in bin `b`.
    pub fn bin(&self, b: usize) -> &[f64] {
        &self.values[b * self.regions..(b + 1) * self.regions]
    }

    /// Adds `v` to region `r` in bin `b`.
    pub fn add(&mut self, b: usize, r: usize, v: f64) {
        self.values[b * self.regions + r] += v;
    }
}

/// Declares [`Pattern`] from one table: each class with its name in the API and in
/// Bahasa Indonesia, in the order of [`Pattern::ALL`].
macro_rules! patterns {
    ($($class:ident = $name:literal, $label:literal;)+) => {
        /// The ArcGIS Emerging Hot Spot Analysis classes (see [`classify`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[allow(missing_docs, reason = "the classes are defined in classify")]
        pub enum Pattern {
            $(#[serde(rename = $name)] $class),+
        }

        impl Pattern {
            /// Every class, hot spots before cold spots.
            pub const ALL: [Pattern; [$(Pattern::$class),+].len()] = [$(Pattern::$class),+];

            /// The name as the API writes it (`new_hot_spot`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Pattern::$class => $name),+
                }
            }

            /// The class's name in Bahasa Indonesia.
            pub fn label_id(self) -> &'static str {
                match self {
                    $(Pattern::$class => $label),+
                }
            }
        }
    };
}

patterns! {
    NoPattern = "no_pattern", "Tidak ada pola";
    NewHotSpot = "new_hot_spot", "Titik panas baru";
    ConsecutiveHotSpot = "consecutive_hot_spot", "Titik panas berturut-turut";
    IntensifyingHotSpot = "intensifying_hot_spot", "Titik panas menguat";
    PersistentHotSpot = "persistent_hot_spot", "Titik panas menetap";
    DiminishingHotSpot = "diminishing_hot_spot", "Titik panas melemah";
    SporadicHotSpot = "sporadic_hot_spot", "Titik panas sporadis";
    OscillatingHotSpot = "oscillating_hot_spot", "Titik panas berosilasi";
    HistoricalHotSpot = "historical_hot_spot", "Titik panas historis";
    NewColdSpot = "new_cold_spot", "Titik dingin baru";
    ConsecutiveColdSpot = "consecutive_cold_spot", "Titik dingin berturut-turut";
    IntensifyingColdSpot = "intensifying_cold_spot", "Titik dingin menguat";
    PersistentColdSpot = "persistent_cold_spot", "Titik dingin menetap";
    DiminishingColdSpot = "diminishing_cold_spot", "Titik dingin melemah";
    SporadicColdSpot = "sporadic_cold_spot", "Titik dingin sporadis";
    OscillatingColdSpot = "oscillating_cold_spot", "Titik dingin berosilasi";
    HistoricalColdSpot = "historical_cold_spot", "Titik dingin historis";
}

/// The class of a region from its Gi* bins over time (`bins[i]` the bin of time step
/// `i`, oldest first; non-zero is significant, positive hot, negative cold) and the
/// Mann-Kendall trend of its z-scores. With `n` steps, `H` the hot steps and `C` the
/// cold ones, "90 %" meaning `10 |H| ≥ 9 n`, and the trend significant when its
/// `p < TREND_ALPHA`:
///
/// - the last step hot: with `|H| ≥ 90 %`, *intensifying* when the trend is
///   significant and rising, *diminishing* when significant and falling, else
///   *persistent*; with fewer, *oscillating* when any step was cold, *new* when the
///   last step is the only hot one, *consecutive* when the hot steps are one run of at
///   least two ending at the last step, else *sporadic*;
/// - the last step not significant: *historical* hot spot when `|H| ≥ 90 %`,
///   historical cold spot when `|C| ≥ 90 %`, else *no pattern*;
/// - cold spots mirror hot spots, a falling trend intensifying them.
pub fn classify(bins: &[i8], trend: &Trend) -> Pattern {
    use Pattern::*;
    let n = bins.len();
    let Some(&last) = bins.last() else { return NoPattern };
    let hot = bins.iter().filter(|&&b| b > 0).count();
    let cold = bins.iter().filter(|&&b| b < 0).count();
    let mostly = |k: usize| 10 * k >= 9 * n;
    let significant = trend.p < TREND_ALPHA;
    if last == 0 {
        return if mostly(hot) {
            HistoricalHotSpot
        } else if mostly(cold) {
            HistoricalColdSpot
        } else {
            NoPattern
        };
    }
    // Mirror a cold spot into a hot one: `sign` flips the bins and the trend.
    let sign: i8 = last.signum();
    let (same, other) = if sign > 0 { (hot, cold) } else { (cold, hot) };
    let rising = trend.s * f64::from(sign) > 0.0;
    let falling = trend.s * f64::from(sign) < 0.0;
    let run = bins.iter().rev().take_while(|&&b| b.signum() == sign).count();
    let class = if mostly(same) {
        if significant && rising {
            0
        } else if significant && falling {
            1
        } else {
            2
        }
    } else if other > 0 {
        3
    } else if same == 1 {
        4
    } else if run == same && run >= 2 {
        5
    } else {
        6
    };
    let hot_classes = [
        IntensifyingHotSpot,
        DiminishingHotSpot,
        PersistentHotSpot,
        OscillatingHotSpot,
        NewHotSpot,
        ConsecutiveHotSpot,
        SporadicHotSpot,
    ];
    let cold_classes = [
        IntensifyingColdSpot,
        DiminishingColdSpot,
        PersistentColdSpot,
        OscillatingColdSpot,
        NewColdSpot,
        ConsecutiveColdSpot,
        SporadicColdSpot,
    ];
    if sign > 0 {
        hot_classes[class]
    } else {
        cold_classes[class]
    }
}

/// One region's emerging hot spot analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionTrend {
    /// Gi* in each bin, oldest first.
    pub gi: Vec<GiStar>,
    /// Mann-Kendall trend of the z-scores.
    pub trend: Trend,
    /// The class.
    pub pattern: Pattern,
}

/// Gi* of every bin of `cube` on `weights` (with `fdr`, each bin's bins corrected for
/// the false discovery rate over its regions, as `/api/hotspots` does), the trend of
/// each region's z-scores, and its class; one result per region of the cube.
///
/// # Panics
/// When the cube and the weights cover different numbers of regions.
pub fn analyse(cube: &Cube, weights: &Weights, fdr: bool) -> Vec<RegionTrend> {
    let n = cube.regions();
    let bins = cube.bins();
    let per_bin: Vec<Vec<GiStar>> = (0..bins)
        .map(|b| {
            let mut gi = gi_star(cube.bin(b), weights);
            if fdr {
                apply_fdr(&mut gi);
            }
            gi
        })
        .collect();
    let mut z = vec![0.0; bins];
    let mut signs = vec![0i8; bins];
    (0..n)
        .map(|r| {
            let gi: Vec<GiStar> = per_bin.iter().map(|bin| bin[r]).collect();
            for (b, g) in gi.iter().enumerate() {
                z[b] = g.z;
                signs[b] = g.bin;
            }
            let trend = mann_kendall(&z);
            RegionTrend { pattern: classify(&signs, &trend), trend, gi }
        })
        .collect()
}

impl Engine {
    /// The values of the regions of `level` (in code order, as
    /// [`super::regions::RegionIndex::level_ids`]) in each of `bins`: one pass over the
    /// incidents.
    pub fn emerging_cube(&self, level: RegionLevel, bins: &TimeBins, value: BinValue) -> (Vec<RegionId>, Cube) {
        let ids = self.index.level_ids(level);
        let mut position = vec![u32::MAX; self.index.len()];
        for (p, &id) in ids.iter().enumerate() {
            position[id as usize] = p as u32;
        }
        let slot = level_slot(level);
        let mut cube = Cube::zeros(bins.len(), ids.len());
        for incident in self.store.iter() {
            let Some(region) = incident.assignment.regions[slot] else { continue };
            let Some(b) = bins.bin_of(incident.occurred_at) else { continue };
            let r = position[region as usize];
            if r == u32::MAX {
                continue;
            }
            let v = match value {
                BinValue::Count => 1.0,
                BinValue::Score => self.model.incident_weight(
                    incident.severity,
                    incident.category,
                    incident.status,
                    bins.span(b).1 - incident.occurred_at,
                ),
            };
            cube.add(b, r as usize, v);
        }
        (ids, cube)
    }

    /// Emerging hot spots of the regions of `level` over `bins`: the cube of
    /// [`Engine::emerging_cube`] through [`analyse`] with the level's weights.
    pub fn emerging(
        &self,
        level: RegionLevel,
        bins: &TimeBins,
        value: BinValue,
        kind: WeightsKind,
        fdr: bool,
    ) -> (Vec<RegionId>, Vec<RegionTrend>) {
        let (ids, cube) = self.emerging_cube(level, bins, value);
        let results = analyse(&cube, &self.weights(level, kind), fdr);
        (ids, results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trend(p: f64, s: f64) -> Trend {
        Trend { p, s, ..Trend::NONE }
    }

    const FLAT: Trend = Trend::NONE;

    #[test]
    fn classes_of_hot_spots() {
        use Pattern::*;
        let mut bins = [0i8; 20];
        assert_eq!(classify(&bins, &FLAT), NoPattern);
        bins[19] = 2;
        assert_eq!(classify(&bins, &FLAT), NewHotSpot);
        bins[18] = 1;
        bins[17] = 3;
        assert_eq!(classify(&bins, &FLAT), ConsecutiveHotSpot);
        bins[5] = 1;
        assert_eq!(classify(&bins, &FLAT), SporadicHotSpot, "a hot step before the final run");
        bins[3] = -1;
        assert_eq!(classify(&bins, &FLAT), OscillatingHotSpot);
        let mostly = [[0i8, 0].as_slice(), &[2; 18]].concat();
        assert_eq!(classify(&mostly, &FLAT), PersistentHotSpot, "18 of 20 are 90 %");
        assert_eq!(classify(&mostly, &trend(0.01, 50.0)), IntensifyingHotSpot);
        assert_eq!(classify(&mostly, &trend(0.01, -50.0)), DiminishingHotSpot);
        assert_eq!(classify(&mostly, &trend(0.06, 50.0)), PersistentHotSpot, "the trend is not significant");
        let mut historical = mostly.clone();
        historical[19] = 0;
        historical[0] = 1;
        assert_eq!(classify(&historical, &trend(0.01, 50.0)), HistoricalHotSpot);
        let mut not_quite = [0i8; 20];
        not_quite[3..20].fill(1);
        assert_eq!(classify(&not_quite, &FLAT), ConsecutiveHotSpot, "17 of 20 hot: under 90 %");
    }

    #[test]
    fn cold_spots_mirror_hot_spots() {
        use Pattern::*;
        let cases: [(&[i8], Trend); 6] = [
            (&[0, 0, 0, 0, -1], FLAT),
            (&[0, 0, 0, -1, -2], FLAT),
            (&[-1; 10], trend(0.001, -30.0)),
            (&[-1; 10], trend(0.001, 30.0)),
            (&[0, -1, 0, 0, -1], FLAT),
            (&[1, 0, 0, 0, -1], FLAT),
        ];
        let classes: Vec<Pattern> = cases.iter().map(|(b, t)| classify(b, t)).collect();
        assert_eq!(
            classes,
            [
                NewColdSpot,
                ConsecutiveColdSpot,
                IntensifyingColdSpot,
                DiminishingColdSpot,
                SporadicColdSpot,
                OscillatingColdSpot
            ]
        );
        assert_eq!(classify(&[-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0], &FLAT), HistoricalColdSpot);
        assert_eq!(classify(&[], &FLAT), NoPattern);
    }

    #[test]
    fn weekly_and_monthly_bins() {
        let now = 1_795_000_000; // 2026-11-18T11:06:40Z
        let weeks = TimeBins::weeks(52, now);
        assert_eq!(weeks.len(), 52);
        assert_eq!(weeks.span(51), (now - 7 * DAY + 1, now));
        assert_eq!(weeks.bin_of(now), Some(51));
        assert_eq!(weeks.bin_of(now + 1), None);
        assert_eq!(weeks.bin_of(now - 52 * 7 * DAY), None);
        assert_eq!(weeks.bin_of(now - 52 * 7 * DAY + 1), Some(0));
        let months = TimeBins::months(3, now);
        let day = |s: &str| chrono::DateTime::parse_from_rfc3339(s).expect("date").timestamp();
        assert_eq!(months.span(0), (day("2026-09-01T00:00:00Z"), day("2026-09-30T23:59:59Z")));
        assert_eq!(months.span(2), (day("2026-11-01T00:00:00Z"), now));
        assert_eq!(months.bin_of(day("2026-10-01T00:00:00Z")), Some(1));
        let january = TimeBins::months(2, day("2027-01-05T00:00:00Z"));
        assert_eq!(january.span(0).0, day("2026-12-01T00:00:00Z"), "across the year");
    }
}
