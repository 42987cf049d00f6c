//! The report printed after an import: counts per level, what was repaired and how.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::i18n::Lang;
use crate::region::RegionLevel;

/// Counts of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelCounts {
    /// Records read from the files.
    pub read: usize,
    /// New regions stored.
    pub inserted: usize,
    /// Stored regions whose record changed and were updated in place.
    pub updated: usize,
    /// Stored regions identical to their record, left untouched.
    pub unchanged: usize,
}

/// One repair of one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The region's code.
    pub code: String,
    /// What was wrong or what was done, e.g. `Nested shells` or `ring 2 of polygon 1 closed`.
    pub what: String,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Number of files read.
    pub files: usize,
    /// Counts per level, in the order of [`RegionLevel::ALL`].
    pub levels: [LevelCounts; 3],
    /// Every repair made, by region.
    pub repairs: Vec<Repair>,
    /// Parents extended to cover their children, with the area gained in km².
    pub extended: Vec<(String, f64)>,
    /// Time since the start at the end of each phase (read, repair, store, nest).
    pub phases: Vec<(&'static str, Duration)>,
    /// Wall-clock time of the whole import.
    pub elapsed: Duration,
}

impl ImportReport {
    /// The counts of one level.
    pub fn level(&self, level: RegionLevel) -> LevelCounts {
        self.levels[level as usize]
    }

    pub(super) fn level_mut(&mut self, level: RegionLevel) -> &mut LevelCounts {
        &mut self.levels[level as usize]
    }

    /// Repairs grouped by kind (the text before any `[` location), with their codes.
    pub fn repairs_by_kind(&self) -> BTreeMap<String, Vec<&str>> {
        let mut kinds: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for repair in &self.repairs {
            let kind = repair.what.split('[').next().unwrap_or_default().trim();
            let kind = if kind.starts_with("ring ") && kind.ends_with("closed") {
                "open ring closed"
            } else if kind.contains("degenerate ring") {
                "degenerate ring dropped"
            } else {
                kind
            };
            kinds.entry(kind.to_owned()).or_default().push(&repair.code);
        }
        kinds
    }

    /// The report as text in the given language.
    pub fn render(&self, lang: Lang) -> String {
        let mut out = String::new();
        let t = |id: &'static str, en: &'static str| lang.pick(id, en);
        let _ = writeln!(
            out,
            "{} {} {} ({:.1} s)",
            t("Impor batas wilayah:", "Boundary import:"),
            self.files,
            t("berkas", "files"),
            self.elapsed.as_secs_f64()
        );
        let phases: Vec<String> =
            self.phases.iter().map(|(name, at)| format!("{name} {:.1} s", at.as_secs_f64())).collect();
        if !phases.is_empty() {
            let _ = writeln!(out, "  ({})", phases.join(", "));
        }
        let _ = writeln!(
            out,
            "  {:<16} {:>7} {:>7} {:>9} {:>9}",
            t("tingkat", "level"),
            t("dibaca", "read"),
            t("baru", "new"),
            t("diubah", "updated"),
            t("tetap", "unchanged")
        );
        for level in RegionLevel::ALL {
            let c = self.level(level);
            let _ =
                writeln!(out, "  {:<16} {:>7} {:>7} {:>9} {:>9}", level, c.read, c.inserted, c.updated, c.unchanged);
        }
        let kinds = self.repairs_by_kind();
        let _ = writeln!(out, "{} {}", t("Diperbaiki:", "Repaired:"), self.repairs.len());
        for (kind, codes) in &kinds {
            let shown: Vec<&str> = codes.iter().take(12).copied().collect();
            let more = codes.len().saturating_sub(shown.len());
            let _ = write!(out, "  {kind}: {} ({}", codes.len(), shown.join(", "));
            if more > 0 {
                let _ = write!(out, ", +{more}");
            }
            let _ = writeln!(out, ")");
        }
        let gained: f64 = self.extended.iter().map(|(_, km2)| km2).sum();
        let _ = writeln!(
            out,
            "{} {} ({:.0} km²)",
            t("Diperluas agar mencakup wilayah bawahannya:", "Extended to cover their children:"),
            self.extended.len(),
            gained
        );
        let mut largest: Vec<&(String, f64)> = self.extended.iter().collect();
        largest.sort_by(|a, b| b.1.total_cmp(&a.1));
        if !largest.is_empty() {
            let top: Vec<String> = largest.iter().take(5).map(|(code, km2)| format!("{code} +{km2:.1} km²")).collect();
            let _ = writeln!(out, "  {}: {}", t("terbesar", "largest"), top.join(", "));
        }
        let _ = writeln!(out, "{} 0", t("Ditolak:", "Rejected:"));
        out
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}
