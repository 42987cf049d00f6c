//! Nesting the levels: every parent's boundary is extended to cover its children.
//!
//! The published levels are simplified independently, so a district can poke out of
//! its regency (by up to a whole small district along simplified coasts). Assignment
//! needs the hierarchy to nest: whatever lies in a district must lie in its regency and
//! province. So a parent's `geom` is its published boundary united with the parts of
//! its children outside it; the published boundary is kept beside it.
//!
//! Only parents touched by an import are recomputed: those imported and the ancestors
//! of anything imported, regencies first, then provinces over the extended regencies.
//! The overlays are pure computations, run on several connections at once outside the
//! import transaction; their inputs are read inside it.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use sqlx::{PgPool, Postgres, Transaction};

use crate::db;
use crate::region::RegionLevel;

/// An imported region's code, level and repaired boundary (WKB).
pub(super) struct Written<'a> {
    pub code: &'a str,
    pub level: RegionLevel,
    pub wkb: &'a [u8],
}

/// The outcome: the extended boundary of every touched parent that has children, and
/// the area each gained.
#[derive(Debug, Default)]
pub(super) struct Nested {
    /// Extended boundary (WKB) by code.
    pub geom: HashMap<String, Vec<u8>>,
    /// Area gained in km², by code, for parents that grew.
    pub gained: Vec<(String, f64)>,
}

/// Computes the extended boundaries of every parent touched by `written`.
pub(super) async fn nest(
    pool: &PgPool,
    tx: &mut Transaction<'_, Postgres>,
    written: &[Written<'_>],
    workers: usize,
    bar: &ProgressBar,
) -> Result<Nested, sqlx::Error> {
    let ancestor = |code: &str, len: usize| (code.len() >= len).then(|| code[..len].to_owned());
    let touched = |len: usize| -> BTreeSet<String> { written.iter().filter_map(|w| ancestor(w.code, len)).collect() };
    let (regencies, provinces) = (touched(5), touched(2));
    let wanted: Vec<&str> = regencies.iter().chain(&provinces).map(String::as_str).collect();
    let stored = db::regions::family(tx, &wanted).await?;
    let new: HashMap<&str, &[u8]> = written.iter().map(|w| (w.code, w.wkb)).collect();
    bar.set_length((regencies.len() + provinces.len()) as u64);

    let mut nested = Nested::default();
    for (level, parents) in [(RegionLevel::KabupatenKota, regencies), (RegionLevel::Provinsi, provinces)] {
        let mut jobs = Vec::new();
        for parent in &parents {
            // The published boundary: just imported, or as stored.
            let published = new
                .get(parent.as_str())
                .copied()
                .or_else(|| stored.iter().find(|s| &s.code == parent).map(|s| s.published.as_slice()));
            let Some(published) = published else { continue };
            // Children: imported ones with their new boundary (extended where they are
            // parents themselves), stored ones that were not imported as stored.
            let mut children: Vec<&[u8]> = written
                .iter()
                .filter(|w| w.level != level && w.code.len() == parent.len() + 3 && w.code.starts_with(parent.as_str()))
                .map(|w| nested.geom.get(w.code).map_or(w.wkb, Vec::as_slice))
                .collect();
            children.extend(
                stored
                    .iter()
                    .filter(|s| s.parent.as_ref() == Some(parent) && !new.contains_key(s.code.as_str()))
                    .map(|s| nested.geom.get(&s.code).map_or(s.geom.as_slice(), Vec::as_slice)),
            );
            if !children.is_empty() {
                jobs.push((parent.clone(), published, children));
            }
        }
        let results: Vec<(String, Vec<u8>, f64)> = futures::stream::iter(jobs)
            .map(|(parent, published, children)| async move {
                let (wkb, gained) = db::regions::nest(pool, published, &children).await?;
                bar.inc(1);
                Ok::<_, sqlx::Error>((parent, wkb, gained))
            })
            .buffer_unordered(workers.max(1))
            .try_collect()
            .await?;
        for (code, wkb, gained) in results {
            // Below a square metre is overlay noise, not growth.
            if gained > 1e-6 {
                nested.gained.push((code.clone(), gained));
            }
            nested.geom.insert(code, wkb);
        }
    }
    nested.gained.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(nested)
}
