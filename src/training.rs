//! Training mode: a database of its own for teaching operators, filled with synthetic
//! incidents and marked by the one row of the table `training_marker` (migration
//! 0005; empty in a real database). `sipks serve --training`
//! serves only a marked database and plain `sipks serve` refuses one, so training data
//! never mix with real data; the seed refuses a database that already holds real
//! incidents.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use sqlx::PgPool;

use crate::service::{self, LoadError, LoadReport};

/// Why a training step refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    /// `serve --training` on a database without the marker.
    #[error(
        "this database is not a training database (its training_marker table is empty): `serve --training` serves \
         only a database made by `sipks training seed` (scripts/train)"
    )]
    NotTraining,
    /// Plain `serve` on a marked database.
    #[error(
        "this database is a training database (its training_marker table has its row) holding synthetic incidents: \
         serve it only with `--training` (SIPKS_TRAINING=1), never as real data"
    )]
    IsTraining,
    /// Seeding a database that holds real incidents.
    #[error(
        "this database holds {0} incidents and is not a training database: refusing to add synthetic incidents \
         to real data (use a database of its own, e.g. sipks_latihan)"
    )]
    RealData(i64),
    /// Seeding a database without boundaries.
    #[error("this database has no regencies: import the boundaries first (sipks boundaries import)")]
    NoBoundaries,
    /// Writing the synthetic incident file failed.
    #[error("cannot write the synthetic incidents to {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Loading the synthetic incidents failed.
    #[error("cannot load the synthetic incidents: {0}")]
    Load(#[from] LoadError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Whether the database carries the training marker.
pub async fn is_training(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select exists (select 1 from training_marker)").fetch_one(pool).await
}

/// Refuses to serve a training database as real data, or a real one as training data.
pub async fn check_mode(pool: &PgPool, training: bool) -> Result<(), TrainingError> {
    match (training, is_training(pool).await?) {
        (true, false) => Err(TrainingError::NotTraining),
        (false, true) => Err(TrainingError::IsTraining),
        _ => Ok(()),
    }
}

/// Incident categories with their share of the synthetic incidents (per mille).
const CATEGORIES: [(&str, u64, &str); 7] = [
    ("pemilu", 220, "Ketegangan antarpendukung menjelang pemungutan suara"),
    ("agraria", 200, "Sengketa batas lahan antara warga dan perusahaan"),
    ("antar_kelompok", 170, "Bentrokan antarkelompok pemuda"),
    ("sara", 80, "Penolakan kegiatan kelompok lain"),
    ("sumber_daya_alam", 130, "Perebutan wilayah tambang rakyat"),
    ("ekonomi", 120, "Unjuk rasa pedagang pasar"),
    ("lainnya", 80, "Keributan saat acara hiburan malam"),
];
const SEVERITIES: [(u8, u64); 5] = [(1, 300), (2, 300), (3, 200), (4, 130), (5, 70)];
const STATUSES: [(&str, u64); 4] = [("potensi", 350), ("terjadi", 300), ("ditangani", 250), ("selesai", 100)];

/// SplitMix64: a small, fixed pseudo-random sequence, so that a seed gives the same
/// incidents on every machine.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// An item by per-mille weights (they add up to 1000).
    fn pick<T: Copy>(&mut self, items: &[(T, u64)]) -> T {
        let mut roll = self.next() % 1000;
        for &(item, weight) in items {
            if roll < weight {
                return item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }
}

/// Marks the database as a training database (once) and loads about `count`
/// synthetic incidents, the same for the same `seed`: points spread over every
/// regency (more in a few), over the last 120 days. Loading twice loads once (each
/// incident has an external id).
pub async fn seed(pool: &PgPool, count: u32, seed: u32) -> Result<LoadReport, TrainingError> {
    if !is_training(pool).await? {
        let incidents: i64 = sqlx::query_scalar("select count(*) from incidents").fetch_one(pool).await?;
        if incidents > 0 {
            return Err(TrainingError::RealData(incidents));
        }
        sqlx::query(
            "insert into training_marker (note) values ('data latihan / training data: synthetic incidents')
             on conflict (only_row) do nothing",
        )
        .execute(pool)
        .await?;
    }
    // Points inside each regency (EPSG:4326), as many as its weight asks: every tenth
    // regency, by code, gets four times as many, so that some turn kuning or merah.
    let regencies: i64 =
        sqlx::query_scalar("select count(*) from regions where level = 'kabupaten_kota'").fetch_one(pool).await?;
    if regencies == 0 {
        return Err(TrainingError::NoBoundaries);
    }
    let per_regency = (f64::from(count) / regencies as f64 / 1.3).max(1.0);
    let points: Vec<(f64, f64)> = sqlx::query_as(
        "select st_x(d.geom), st_y(d.geom)
         from (select code, geom, row_number() over (order by code) as n
               from regions where level = 'kabupaten_kota') r
         cross join lateral st_dump(st_generatepoints(r.geom,
             greatest(1, round($1 * case when r.n % 10 = 0 then 4 else 1 end * (0.5 + (r.n * 7919 % 11) / 10.0)))::int,
             $2 + r.n::int)) d
         order by r.code, d.path",
    )
    .bind(per_regency)
    .bind(i32::try_from(seed.max(1)).unwrap_or(1))
    .fetch_all(pool)
    .await?;

    let path = std::env::temp_dir().join(format!("sipks-latihan-{}-{seed}.csv", std::process::id()));
    let written = write_incidents(&path, &points, seed);
    let report = match written {
        Ok(()) => service::import_incidents(pool, &service::build_index(pool).await?, &path, true).await,
        Err(source) => return Err(TrainingError::File { path, source }),
    };
    let _ = std::fs::remove_file(&path);
    Ok(report?)
}

fn write_incidents(path: &std::path::Path, points: &[(f64, f64)], seed: u32) -> std::io::Result<()> {
    let mut random = SplitMix(u64::from(seed));
    let now = Utc::now();
    let mut out = csv::Writer::from_path(path)?;
    out.write_record(["lon", "lat", "occurred_at", "category", "severity", "status", "source", "description", "id"])?;
    let categories: Vec<(usize, u64)> = CATEGORIES.iter().enumerate().map(|(i, c)| (i, c.1)).collect();
    for (n, (lon, lat)) in points.iter().enumerate() {
        let (category, _, text) = CATEGORIES[random.pick(&categories)];
        let severity = random.pick(&SEVERITIES);
        let status = random.pick(&STATUSES);
        // Recent days are likelier: the square of a uniform number leans to zero.
        let u = (random.next() % 10_000) as f64 / 10_000.0;
        let minutes_ago = (u * u * 120.0 * 24.0 * 60.0) as i64 + 30;
        let occurred = now - Duration::minutes(minutes_ago);
        out.write_record([
            format!("{lon:.6}"),
            format!("{lat:.6}"),
            occurred.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            category.to_owned(),
            severity.to_string(),
            status.to_owned(),
            "Data latihan (sintetis)".to_owned(),
            format!("LATIHAN {}: {text}", n + 1),
            format!("latihan-{seed}-{}", n + 1),
        ])?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_fixed_by_the_seed() {
        let (mut a, mut b) = (SplitMix(7), SplitMix(7));
        let first: Vec<u64> = (0..5).map(|_| a.next()).collect();
        assert_eq!(first, (0..5).map(|_| b.next()).collect::<Vec<_>>());
        let mut c = SplitMix(8);
        assert_ne!(first, (0..5).map(|_| c.next()).collect::<Vec<_>>());
    }

    #[test]
    fn weights_add_up_to_a_thousand() {
        assert_eq!(CATEGORIES.iter().map(|c| c.1).sum::<u64>(), 1000);
        assert_eq!(SEVERITIES.iter().map(|s| s.1).sum::<u64>(), 1000);
        assert_eq!(STATUSES.iter().map(|s| s.1).sum::<u64>(), 1000);
        let mut random = SplitMix(1);
        let picks: Vec<u8> = (0..2000).map(|_| random.pick(&SEVERITIES)).collect();
        assert!((1..=5).all(|s| picks.contains(&s)));
    }
}
