//! The query parameters of `/ogc/collections/{id}/items` as OGC API - Features Part 1
//! reads them: `datetime` (an instant, a date as the whole UTC day, or an interval with
//! open ends), `limit` (capped at the longest page rather than refused, Part 1
//! requirement /req/core/fc-limit-response-1 permission 5) and `offset`.

use chrono::{DateTime, NaiveDate, Utc};

use super::super::error::ApiError;

/// Longest page: a larger `limit` is served as this many.
pub const MAX_LIMIT: i64 = 10_000;
/// Page length without `limit` (GDAL and QGIS read it from the OpenAPI document, so
/// that a whole layer takes few requests: 8 pages for the 7,285 districts).
pub const DEFAULT_LIMIT: i64 = 1_000;

/// A time range [from, to), either end open.
pub type Period = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn bad(param: &str, detail: impl Into<String>) -> ApiError {
    ApiError::InvalidParameter { param: param.into(), detail: detail.into() }
}

/// One end of a `datetime`: an RFC 3339 time is an instant (start = end); a date
/// `YYYY-MM-DD` is the whole day in UTC, [00:00Z, next day 00:00Z).
fn moment(v: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        let t = t.with_timezone(&Utc);
        return Ok((t, t + chrono::Duration::microseconds(1)));
    }
    let day = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| bad("datetime", format!("{v:?} is neither an RFC 3339 time nor a date YYYY-MM-DD")))?;
    let start = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let end = day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    match (start, end) {
        (Some(start), Some(end)) => Ok((start, end)),
        _ => Err(bad("datetime", format!("{v:?} is out of range"))),
    }
}

/// Reads an OGC `datetime`: an instant or a date, or `start/end` with `..` or nothing
/// for an open end; both ends inclusive (a date end includes its whole day). Returns
/// [from, to) for the incident filter.
pub fn parse_datetime(text: &str) -> Result<Period, ApiError> {
    match text.split_once('/') {
        None => {
            let (start, end) = moment(text)?;
            Ok((Some(start), Some(end)))
        }
        Some((start, end)) => {
            let open = |v: &str| v.is_empty() || v == "..";
            if open(start) && open(end) {
                return Err(bad("datetime", format!("{text:?}: an interval needs at least one end")));
            }
            let start = if open(start) { None } else { Some(moment(start)?.0) };
            let end = if open(end) { None } else { Some(moment(end)?.1) };
            if let (Some(s), Some(e)) = (start, end) {
                if s >= e {
                    return Err(bad("datetime", format!("{text:?}: the interval starts after it ends")));
                }
            }
            Ok((start, end))
        }
    }
}

/// `limit`: 1 or more; above [`MAX_LIMIT`] it is served as [`MAX_LIMIT`].
pub fn parse_limit(value: Option<&str>) -> Result<i64, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(i64::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT)),
            // Too many digits for a number: still only a long page asked for.
            Err(_) if v.bytes().all(|b| b.is_ascii_digit()) => Ok(MAX_LIMIT),
            _ => {
                Err(bad("limit", format!("{v:?} is not a whole number of 1 or more (at most {MAX_LIMIT} are served)")))
            }
        },
    }
}

/// `offset`: 0 or more.
pub fn parse_offset(value: Option<&str>) -> Result<i64, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(0),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad("offset", format!("{v:?} is not a whole number of 0 or more"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_read_as_ogc_asks() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let micro = chrono::Duration::microseconds(1);
        assert_eq!(
            parse_datetime("2026-01-01T00:00:00Z").expect("instant"),
            (Some(t("2026-01-01T00:00:00Z")), Some(t("2026-01-01T00:00:00Z") + micro))
        );
        assert_eq!(
            parse_datetime("2026-01-01T00:00:00Z/..").expect("open end"),
            (Some(t("2026-01-01T00:00:00Z")), None)
        );
        assert_eq!(parse_datetime("../2026-01-01T00:00:00Z").expect("open start").0, None);
        assert!(parse_datetime("2026-02-01T00:00:00Z/2026-01-01T00:00:00Z").is_err(), "inverted");
        assert!(parse_datetime("../..").is_err());
        assert!(parse_datetime("kemarin").is_err());
    }

    #[test]
    fn a_date_is_the_whole_utc_day() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        assert_eq!(
            parse_datetime("2026-11-01").expect("date"),
            (Some(t("2026-11-01T00:00:00Z")), Some(t("2026-11-02T00:00:00Z")))
        );
        // The same interval by dates and by times.
        assert_eq!(
            parse_datetime("2026-11-01/2026-11-03").expect("dates"),
            parse_datetime("2026-11-01T00:00:00Z/2026-11-03T23:59:59.999999Z").expect("times")
        );
        assert_eq!(parse_datetime("2026-11-01/2026-11-01").expect("one day"), parse_datetime("2026-11-01").expect("d"));
    }

    #[test]
    fn a_limit_above_the_longest_page_is_capped() {
        assert_eq!(parse_limit(None).expect("default"), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("20000")).expect("capped"), MAX_LIMIT);
        assert_eq!(parse_limit(Some("99999999999999999999")).expect("capped"), MAX_LIMIT);
        assert_eq!(parse_limit(Some("5")).expect("5"), 5);
        assert!(parse_limit(Some("0")).is_err() && parse_limit(Some("-1")).is_err() && parse_limit(Some("x")).is_err());
        assert!(parse_offset(Some("-1")).is_err());
    }
}
