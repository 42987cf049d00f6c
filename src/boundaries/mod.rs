//! Boundary import: reads the upstream wilayah_boundaries SQL dumps and GeoJSON
//! FeatureCollections, checks every record, and stores the repaired regions in PostGIS
//! in one transaction, with a report of what was read, repaired and rejected.

mod geojson;
pub mod geometry;
mod nest;
mod report;
mod wilayah_sql;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

pub use self::geojson::PropertyNames;
use self::geometry::RawBoundary;
pub use self::report::{ImportReport, LevelCounts, Repair};
use crate::db;
use crate::region::{RegionCode, RegionLevel};

/// Where a record came from: file, 1-based record number and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOrigin {
    /// The file the record was read from.
    pub file: PathBuf,
    /// 1-based number of the record (tuple or feature) within the file.
    pub record: usize,
    /// 1-based line where the record starts, when known.
    pub line: Option<usize>,
}

impl fmt::Display for RecordOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: record {}", self.file.display(), self.record)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

/// Attribution of the boundary data, shown wherever the map or its data is.
pub const ATTRIBUTION: &str = "Batas wilayah / boundaries: cahyadsn/wilayah_boundaries (MIT licence); \
     kode wilayah / region codes: Kepmendagri No 300.2.2-2430 Tahun 2025";

/// One region as read from a file, before repair.
#[derive(Debug, Clone)]
pub struct RawRegion {
    /// Kemendagri code.
    pub code: RegionCode,
    /// Official name, e.g. `Kota Makassar`.
    pub name: String,
    /// Level, consistent with the code.
    pub level: RegionLevel,
    /// Parent code (the code without its last segment), `None` for provinces.
    pub parent: Option<RegionCode>,
    /// The boundary as published, normalised (see [`RawBoundary::normalise`]).
    pub boundary: RawBoundary,
    /// Where it was read.
    pub origin: RecordOrigin,
    /// What normalisation fixed, for the report.
    pub notes: Vec<String>,
}

impl RawRegion {
    /// SHA-256 of everything stored from the record; equal for the same data in either
    /// file format.
    pub fn source_hash(&self) -> Vec<u8> {
        let mut hasher = Sha256::new();
        for field in [self.code.as_str(), &self.name, self.level.as_str()] {
            hasher.update((field.len() as u64).to_le_bytes());
            hasher.update(field.as_bytes());
        }
        let parent = self.parent.as_ref().map_or("", RegionCode::as_str);
        hasher.update((parent.len() as u64).to_le_bytes());
        hasher.update(parent.as_bytes());
        self.boundary.hash_into(&mut hasher);
        hasher.finalize().to_vec()
    }
}

/// A record that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Where the record is.
    pub origin: RecordOrigin,
    /// Its code, when one could be read.
    pub code: Option<String>,
    /// Why it was rejected.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Why an import failed. In every case the database keeps the boundaries it had.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A file could not be read at all.
    #[error("{}: cannot read the file: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A path holds no file of a known format.
    #[error("{}: no boundary file found (expected *.sql, *.geojson or *.json)", .0.display())]
    NoFiles(PathBuf),
    /// A file is not of a known format.
    #[error("{}: unknown format (expected *.sql, *.geojson or *.json)", .0.display())]
    UnknownFormat(PathBuf),
    /// A file is syntactically broken (truncated, broken JSON, unexpected token).
    #[error("{origin}: {reason}")]
    Malformed {
        /// The file and the record being read when it broke.
        origin: RecordOrigin,
        /// What was wrong.
        reason: String,
    },
    /// Records were read but fail the checks; all of them are listed.
    #[error("{} record(s) rejected, nothing imported:\n{}", .0.len(), list(.0))]
    Rejected(Vec<Rejection>),
    /// The database failed.
    #[error("database error while {action}: {source}")]
    Database {
        /// What the import was doing.
        action: &'static str,
        /// The driver's error.
        source: sqlx::Error,
    },
}

fn list(rejections: &[Rejection]) -> String {
    rejections.iter().map(|r| format!("  {r}\n")).collect()
}

/// Options of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// GeoJSON property names for code, name, level and parent.
    pub properties: PropertyNames,
    /// Show progress bars (they also hide themselves when stderr is not a terminal).
    pub progress: bool,
}

/// The file formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    WilayahSql,
    GeoJson,
}

fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "sql" => Some(Format::WilayahSql),
        "geojson" | "json" => Some(Format::GeoJson),
        _ => None,
    }
}

/// Expands directories (recursively, sorted) into the boundary files they hold.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ImportError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| ImportError::Io { path: path.clone(), source })?;
        if meta.is_dir() {
            let before = files.len();
            walk(path, &mut files)?;
            if files.len() == before {
                return Err(ImportError::NoFiles(path.clone()));
            }
        } else if format_of(path).is_some() {
            files.push(path.clone());
        } else {
            return Err(ImportError::UnknownFormat(path.clone()));
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ImportError> {
    let io = |source| ImportError::Io { path: dir.to_path_buf(), source };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files)?;
        } else if format_of(&path).is_some() {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads every file, failing on the first syntactically broken one.
///
/// Records that parse but fail the checks (coordinates out of range, malformed code,
/// duplicate code, level or parent inconsistent with the code) are returned as
/// rejections alongside the good records.
pub fn read_files(
    paths: &[PathBuf],
    options: &ImportOptions,
) -> Result<(Vec<RawRegion>, Vec<Rejection>, usize), ImportError> {
    let files = collect_files(paths)?;
    let bar = progress_bar(options.progress, files.len() as u64, "membaca berkas / reading files");
    let mut regions = Vec::new();
    let mut rejections = Vec::new();
    for file in &files {
        bar.set_message(file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        let text = std::fs::read_to_string(file).map_err(|source| ImportError::Io { path: file.clone(), source })?;
        match format_of(file) {
            Some(Format::WilayahSql) => wilayah_sql::read(file, &text, &mut regions, &mut rejections)?,
            Some(Format::GeoJson) => geojson::read(file, &text, &options.properties, &mut regions, &mut rejections)?,
            None => return Err(ImportError::UnknownFormat(file.clone())),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mut seen: HashMap<RegionCode, RecordOrigin> = HashMap::new();
    let mut duplicates = HashSet::new();
    for (i, region) in regions.iter().enumerate() {
        if let Some(first) = seen.get(&region.code) {
            rejections.push(Rejection {
                origin: region.origin.clone(),
                code: Some(region.code.to_string()),
                reason: format!("duplicate code, already read at {first}"),
            });
            duplicates.insert(i);
        } else {
            seen.insert(region.code.clone(), region.origin.clone());
        }
    }
    let mut index = 0;
    regions.retain(|_| {
        index += 1;
        !duplicates.contains(&(index - 1))
    });
    Ok((regions, rejections, files.len()))
}

/// Reads one wilayah_boundaries SQL dump given as text (`file` names it in errors):
/// its good records and its rejections, as [`read_files`] reads each SQL file.
pub fn read_wilayah_sql(file: &Path, text: &str) -> Result<(Vec<RawRegion>, Vec<Rejection>), ImportError> {
    let (mut regions, mut rejections) = (Vec::new(), Vec::new());
    wilayah_sql::read(file, text, &mut regions, &mut rejections)?;
    Ok((regions, rejections))
}

/// Builds a record from fields read by either format, or says why it is rejected.
fn check_record(
    code: &str,
    name: &str,
    level: Option<&str>,
    parent: Option<&str>,
    mut boundary: RawBoundary,
    origin: RecordOrigin,
) -> Result<RawRegion, Rejection> {
    let reject = |reason: String| Rejection { origin: origin.clone(), code: Some(code.to_owned()), reason };
    let code: RegionCode = code.parse().map_err(|e: crate::region::MalformedCode| reject(e.to_string()))?;
    let derived = code.level();
    if let Some(level) = level {
        let level: RegionLevel = level.parse().map_err(|e: crate::region::UnknownLevel| reject(e.to_string()))?;
        if level != derived {
            return Err(reject(format!("level {level} does not match the code, which is a {derived} code")));
        }
    }
    if let Some(parent) = parent {
        if Some(parent) != code.parent().as_ref().map(RegionCode::as_str) {
            return Err(reject(format!(
                "parent {parent:?} does not match the code (expected {})",
                code.parent().map_or_else(|| "none".to_owned(), |p| p.to_string())
            )));
        }
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(reject("empty name".to_owned()));
    }
    let notes = boundary.normalise().map_err(|e| reject(e.to_string()))?;
    Ok(RawRegion { parent: code.parent(), level: derived, code, name: name.to_owned(), boundary, origin, notes })
}

fn progress_bar(enabled: bool, len: u64, prefix: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len).with_prefix(prefix);
    if let Ok(style) = ProgressStyle::with_template("{prefix:>32} [{bar:30}] {pos}/{len} {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Reads the files and stores their regions in one transaction.
///
/// On any error nothing is changed. Re-importing identical records leaves their rows
/// untouched; a changed record updates its row in place.
pub async fn import(pool: &PgPool, paths: &[PathBuf], options: &ImportOptions) -> Result<ImportReport, ImportError> {
    let started = Instant::now();
    let (regions, mut rejections, files) = read_files(paths, options)?;
    let mut report = ImportReport { files, ..ImportReport::default() };
    report.phases.push(("read", started.elapsed()));
    for region in &regions {
        report.level_mut(region.level).read += 1;
    }
    let mut tx = pool.begin().await.map_err(db_err("starting the transaction"))?;
    let existing = db::regions::lock_for_import(&mut tx).await.map_err(db_err("reading the stored regions"))?;
    let known: HashSet<&str> =
        regions.iter().map(|r| r.code.as_str()).chain(existing.keys().map(String::as_str)).collect();
    for region in &regions {
        if let Some(parent) = &region.parent {
            if !known.contains(parent.as_str()) {
                rejections.push(Rejection {
                    origin: region.origin.clone(),
                    code: Some(region.code.to_string()),
                    reason: format!("unknown parent {parent}: neither in this import nor in the database"),
                });
            }
        }
    }
    if !rejections.is_empty() {
        return Err(ImportError::Rejected(rejections));
    }
    let mut changed = Vec::new();
    for region in &regions {
        let hash = region.source_hash();
        let counts = report.level_mut(region.level);
        match existing.get(region.code.as_str()) {
            Some(old) if *old == hash => counts.unchanged += 1,
            Some(_) => {
                counts.updated += 1;
                changed.push((region, hash));
            }
            None => {
                counts.inserted += 1;
                changed.push((region, hash));
            }
        }
    }
    for (region, _) in &changed {
        for note in &region.notes {
            report.repairs.push(Repair { code: region.code.to_string(), what: note.clone() });
        }
    }
    let bar = progress_bar(options.progress, changed.len() as u64, "memperbaiki / repairing");
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let boundaries: Vec<Vec<u8>> = changed.iter().map(|(region, _)| region.boundary.to_wkb()).collect();
    let repaired =
        db::regions::repair(pool, &boundaries, workers, &bar).await.map_err(db_err("repairing the geometries"))?;
    bar.finish_and_clear();
    report.phases.push(("repair", started.elapsed()));
    let mut ready = Vec::with_capacity(changed.len());
    for ((region, hash), repaired) in changed.into_iter().zip(repaired) {
        if let Some(reason) = repaired.reason {
            report.repairs.push(Repair { code: region.code.to_string(), what: reason });
        }
        match repaired.wkb {
            Some(wkb) => ready.push((region, hash, wkb)),
            None => rejections.push(Rejection {
                origin: region.origin.clone(),
                code: Some(region.code.to_string()),
                reason: "nothing valid is left of the geometry after repair".to_owned(),
            }),
        }
    }
    if !rejections.is_empty() {
        return Err(ImportError::Rejected(rejections));
    }
    let written: Vec<nest::Written<'_>> = ready
        .iter()
        .map(|(region, _, wkb)| nest::Written { code: region.code.as_str(), level: region.level, wkb })
        .collect();
    let bar = progress_bar(options.progress, 0, "menyarangkan / nesting");
    let nested = nest::nest(pool, &mut tx, &written, workers, &bar).await.map_err(db_err("nesting the levels"))?;
    bar.finish_and_clear();
    report.phases.push(("nest", started.elapsed()));
    let rows: Vec<db::regions::Upsert<'_>> = ready
        .iter()
        .map(|(region, hash, wkb)| db::regions::Upsert {
            code: &region.code,
            name: &region.name,
            level: region.level,
            parent: region.parent.as_ref(),
            file: region.origin.file.display().to_string(),
            hash: hash.clone(),
            published: wkb,
            geom: nested.geom.get(region.code.as_str()).map_or(wkb.as_slice(), Vec::as_slice),
        })
        .collect();
    db::regions::upsert(&mut tx, &rows).await.map_err(db_err("storing the regions"))?;
    let (codes, wkbs): (Vec<&str>, Vec<&[u8]>) = nested
        .geom
        .iter()
        .filter(|(code, _)| !written.iter().any(|w| w.code == code.as_str()))
        .map(|(code, wkb)| (code.as_str(), wkb.as_slice()))
        .unzip();
    db::regions::set_geometries(&mut tx, &codes, &wkbs).await.map_err(db_err("storing the extended parents"))?;
    report.extended = nested.gained;
    report.phases.push(("store", started.elapsed()));
    tx.commit().await.map_err(db_err("committing"))?;
    report.elapsed = started.elapsed();
    Ok(report)
}

fn db_err(action: &'static str) -> impl Fn(sqlx::Error) -> ImportError {
    move |source| ImportError::Database { action, source }
}
