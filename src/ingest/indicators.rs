//! Region-level indicator files from other agencies: CSV `kode,indicator,value,date`,
//! for example Bawaslu's election vulnerability index (`73.71,ikp_bawaslu,72.5,2026-09-01`).

use std::path::Path;

use chrono::NaiveDate;

use super::{FileError, RowError};
use crate::region::RegionCode;

/// One indicator value.
#[derive(Debug, Clone, PartialEq)]
pub struct IndicatorRow {
    /// Region.
    pub region: RegionCode,
    /// Indicator name: lower-case letters, digits and `_`.
    pub indicator: String,
    /// Value (finite).
    pub value: f64,
    /// Date observed.
    pub date: NaiveDate,
    /// Line in the file.
    pub line: usize,
}

/// Reads an indicator CSV (header `kode,indicator,value,date`).
pub fn read(path: &Path) -> Result<(Vec<IndicatorRow>, Vec<RowError>), FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Io { path: path.to_path_buf(), source })?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| FileError::Malformed { path: path.to_path_buf(), reason: format!("no header row: {e}") })?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if headers != ["kode", "indicator", "value", "date"] {
        return Err(FileError::Malformed {
            path: path.to_path_buf(),
            reason: format!("header must be kode,indicator,value,date, found {}", headers.join(",")),
        });
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for result in reader.records() {
        let outcome =
            result.map_err(|e| (e.position().map_or(0, |p| p.line() as usize), e.to_string())).and_then(|record| {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let field = |i: usize| record.get(i).unwrap_or_default();
                (|| {
                    let region: RegionCode =
                        field(0).parse().map_err(|e: crate::region::MalformedCode| e.to_string())?;
                    let indicator = field(1).to_owned();
                    if indicator.is_empty()
                        || indicator.len() > 64
                        || !indicator.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    {
                        return Err(format!("indicator {indicator:?} must be lower-case letters, digits and _"));
                    }
                    let value: f64 = field(2)
                        .parse()
                        .ok()
                        .filter(|v: &f64| v.is_finite())
                        .ok_or_else(|| format!("value {:?} is not a finite number", field(2)))?;
                    let date = NaiveDate::parse_from_str(field(3), "%Y-%m-%d")
                        .map_err(|_| format!("date {:?} is not YYYY-MM-DD", field(3)))?;
                    Ok(IndicatorRow { region, indicator, value, date, line })
                })()
                .map_err(|reason| (line, reason))
            });
        match outcome {
            Ok(row) => rows.push(row),
            Err((line, reason)) => errors.push(RowError { file: path.to_path_buf(), row: line, unit: "line", reason }),
        }
    }
    Ok((rows, errors))
}
