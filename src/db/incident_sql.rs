//! The clauses that every read of incidents shares (the incident list, exports and the
//! OGC API): the caller's scope, a region's subtree, and the stated fields' filters.
//! Each appends ` and <condition>` to a query whose incidents are aliased `i`.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use crate::auth::Scope;
use crate::incident::{Category, Status};
use crate::region::RegionCode;

/// Appends `and <incident i is within root's subtree>`: its district, regency or
/// province is the root or below it.
pub(super) fn push_within(q: &mut QueryBuilder<'_, Postgres>, root: &RegionCode) {
    let root = root.as_str().to_owned();
    q.push(" and (")
        .push_bind(root.clone())
        .push(" in (i.provinsi_code, i.kabupaten_kota_code, i.kecamatan_code) or i.kabupaten_kota_code like ")
        .push_bind(format!("{root}.%"))
        .push(" or i.kecamatan_code like ")
        .push_bind(format!("{root}.%"))
        .push(")");
}

/// Appends what the caller's scope lets it see (nothing: `and false`).
pub(super) fn push_scope(q: &mut QueryBuilder<'_, Postgres>, scope: &Scope) {
    match scope {
        Scope::Nothing => {
            q.push(" and false");
        }
        Scope::Everything => {}
        Scope::Within(root) => push_within(q, root),
    }
}

/// The filters of the stated fields, as the list, exports and the OGC API take them.
pub(super) struct Stated<'a> {
    /// Categories (any; none: all).
    pub categories: &'a [Category],
    /// Statuses (any; none: all).
    pub statuses: &'a [Status],
    /// Occurred from (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Occurred before (exclusive).
    pub to: Option<DateTime<Utc>>,
}

impl Stated<'_> {
    /// Appends the conditions of the filters given.
    pub(super) fn push(&self, q: &mut QueryBuilder<'_, Postgres>) {
        if !self.categories.is_empty() {
            let names: Vec<String> = self.categories.iter().map(|c| c.as_str().to_owned()).collect();
            q.push(" and i.category::text = any(").push_bind(names).push(")");
        }
        if !self.statuses.is_empty() {
            let names: Vec<String> = self.statuses.iter().map(|s| s.as_str().to_owned()).collect();
            q.push(" and i.status::text = any(").push_bind(names).push(")");
        }
        if let Some(from) = self.from {
            q.push(" and i.occurred_at >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            q.push(" and i.occurred_at < ").push_bind(to);
        }
    }
}

/// Appends `st_makeenvelope(west, south, east, north, 4326)` with bound values.
pub(super) fn push_envelope(q: &mut QueryBuilder<'_, Postgres>, [w, s, e, n]: [f64; 4]) {
    q.push("st_makeenvelope(")
        .push_bind(w)
        .push(", ")
        .push_bind(s)
        .push(", ")
        .push_bind(e)
        .push(", ")
        .push_bind(n)
        .push(", 4326)");
}
