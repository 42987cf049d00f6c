//! Bulk files from operators and other agencies: incidents (CSV or GeoJSON) and
//! region-level indicators (CSV); and the single incident Feature the API receives.
//! Readers check every row and report each bad one by line (CSV) or feature number
//! (GeoJSON) with its reason; they never touch the database.

pub mod feature;
pub mod incidents;
pub mod indicators;

use std::fmt;
use std::path::PathBuf;

/// A row that cannot be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file.
    pub file: PathBuf,
    /// Line (CSV, 1-based, the header is line 1) or feature number (GeoJSON, 1-based).
    pub row: usize,
    /// What kind of position `row` is.
    pub unit: &'static str,
    /// Why.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}: {}", self.file.display(), self.unit, self.row, self.reason)
    }
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not readable.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        source: std::io::Error,
    },
    /// Not of a known shape (no header, broken JSON, unknown extension).
    #[error("{}: {reason}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
