//! The `emerging` export layer: every regency and city with its emerging hot spot class
//! over the last 52 weeks (the defaults of `/api/hotspots/emerging`).

use std::collections::HashMap;
use std::sync::LazyLock;

use super::layer::{column, engine_of, on_engine, read_wkb, time_of, Column, Feature, FeatureId, Kind, Layer, Value};
use super::{ExportError, Sources};
use crate::db::export::RegionRow;
use crate::engine::emerging::{BinValue, RegionTrend, TimeBins};
use crate::engine::WeightsKind;
use crate::region::RegionLevel;

/// Weeks analysed.
pub const EXPORT_WEEKS: usize = 52;

pub(super) static EMERGING_COLUMNS: LazyLock<Vec<Column>> = LazyLock::new(|| {
    vec![
        column("kode", Kind::Text, "Kemendagri region code (kode wilayah)"),
        column("nama", Kind::Text, "Official name"),
        column("level", Kind::Text, "provinsi, kabupaten_kota or kecamatan"),
        column("pattern", Kind::Text, "Emerging hot spot class (new_hot_spot, ..., no_pattern)"),
        column("label", Kind::Text, "The class in Bahasa Indonesia"),
        column("hot_bins", Kind::Int, "Weeks in which the region was a Gi* hot spot (90 % confidence or more)"),
        column("cold_bins", Kind::Int, "Weeks in which the region was a Gi* cold spot"),
        column("last_z", Kind::Float, "Gi* z-score of the last week"),
        column("last_bin", Kind::Int, "Gi* bin of the last week (+3..-3)"),
        column("trend_tau", Kind::Float, "Mann-Kendall tau of the weekly z-scores"),
        column("trend_z", Kind::Float, "Mann-Kendall z of the weekly z-scores"),
        column("trend_p", Kind::Float, "Two-sided p-value of the trend"),
        column("sen_slope", Kind::Float, "Sen's slope of the weekly z-scores, per week"),
        column("bins", Kind::Int, "Number of weekly bins"),
        column("value", Kind::Text, "The value analysed: the incidents' part of the risk score in each week"),
        column("weights", Kind::Text, "Spatial weights: queen contiguity"),
        column("first_bin_start", Kind::Time, "Start of the first week"),
        column("last_bin_end", Kind::Time, "End of the last week"),
    ]
});

/// The analysis of every region of a level, by code.
pub(super) struct EmergingFigures {
    level: RegionLevel,
    span: (i64, i64),
    by_code: HashMap<String, RegionTrend>,
}

pub(super) async fn emerging_figures(sources: &Sources, level: RegionLevel) -> Result<EmergingFigures, ExportError> {
    let engine = engine_of(sources, Layer::Emerging)?;
    on_engine(engine, move |engine| {
        let bins = TimeBins::weeks(EXPORT_WEEKS, chrono::Utc::now().timestamp());
        let (ids, results) = engine.emerging(level, &bins, BinValue::Score, WeightsKind::Queen, false);
        let by_code = ids.iter().zip(results).map(|(&id, r)| (engine.index().region(id).code.to_string(), r)).collect();
        EmergingFigures { level, span: (bins.span(0).0, bins.span(bins.len() - 1).1), by_code }
    })
    .await
}

impl EmergingFigures {
    /// A region row with its analysis.
    pub(super) fn feature(&self, row: RegionRow) -> Result<Feature, ExportError> {
        let geometry = read_wkb(Layer::Emerging.name(), &row.code, &row.wkb)?;
        let r = self.by_code.get(&row.code).ok_or_else(|| ExportError::Row {
            layer: Layer::Emerging.name(),
            row: row.code.clone(),
            detail: "the engine has no emerging hot spot analysis for this region".into(),
        })?;
        let last = r.gi.last().copied().unwrap_or(crate::engine::hotspots::GiStar::NOT_SIGNIFICANT);
        let values = vec![
            Value::Text(row.code.clone()),
            Value::Text(row.name),
            Value::Name(self.level.as_str()),
            Value::Name(r.pattern.as_str()),
            Value::Name(r.pattern.label_id()),
            Value::Int(r.gi.iter().filter(|g| g.bin > 0).count() as i64),
            Value::Int(r.gi.iter().filter(|g| g.bin < 0).count() as i64),
            Value::Float(last.z),
            Value::Int(last.bin.into()),
            Value::Float(r.trend.tau),
            Value::Float(r.trend.z),
            Value::Float(r.trend.p),
            Value::Float(r.trend.slope),
            Value::Int(r.gi.len() as i64),
            Value::Name("score"),
            Value::Name("queen"),
            time_of(self.span.0),
            time_of(self.span.1),
        ];
        Ok(Feature { id: FeatureId::Text(row.code), geometry, values })
    }
}
