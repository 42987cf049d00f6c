//! What a region's risk explanation may show its caller. Incident by incident (id,
//! time, part) only to a caller who may read every incident of the region (nasional and
//! analis users everywhere, an operator within their own region); anyone else,
//! anonymous callers included, gets the parts summed per category, which add up to the
//! same incident score without naming an incident.

use serde_json::{json, Value};

use crate::auth::{read_scope, Caller, Scope};
use crate::engine::Contribution;
use crate::incident::Category;
use crate::region::RegionCode;

/// Whether `caller` may read every incident assigned to `region` (its whole subtree).
pub fn sees_every_incident(caller: Option<&Caller>, region: &RegionCode) -> bool {
    match read_scope(caller) {
        Scope::Everything => true,
        Scope::Within(root) => region.is_within(&root),
        Scope::Nothing => false,
    }
}

/// The contributions counted and summed per category, in the order of
/// [`Category::ALL`], categories without incidents left out.
pub fn by_category(contributions: &[Contribution]) -> Value {
    let mut sums = vec![(0u32, 0.0f64); Category::ALL.len()];
    for c in contributions {
        let at = Category::ALL.iter().position(|k| *k == c.category).unwrap_or_default();
        sums[at].0 += 1;
        sums[at].1 += c.contribution;
    }
    let parts: Vec<Value> = Category::ALL
        .iter()
        .zip(sums)
        .filter(|(_, (count, _))| *count > 0)
        .map(|(category, (count, contribution))| json!({"category": category, "count": count, "contribution": contribution}))
        .collect();
    Value::Array(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn caller(role: Role, region: Option<&str>) -> Caller {
        Caller { id: 1, username: "u".into(), role, region: region.map(|r| r.parse().expect("code")) }
    }

    #[test]
    fn only_callers_reading_the_whole_region_see_its_incidents() {
        let city: RegionCode = "73.71".parse().expect("code");
        let province: RegionCode = "73".parse().expect("code");
        assert!(!sees_every_incident(None, &city));
        assert!(sees_every_incident(Some(&caller(Role::Nasional, None)), &city));
        assert!(sees_every_incident(Some(&caller(Role::Analis, None)), &province));
        let operator = caller(Role::KabupatenKota, Some("73.71"));
        assert!(sees_every_incident(Some(&operator), &city));
        assert!(!sees_every_incident(Some(&operator), &province), "the province holds other cities' incidents");
        assert!(!sees_every_incident(Some(&operator), &"31.71".parse().expect("code")));
    }

    #[test]
    fn parts_per_category_sum_to_the_whole() {
        let part = |id, category, contribution| Contribution {
            id,
            occurred_at: 0,
            category,
            contribution,
            severity: crate::incident::Severity::new(3).expect("severity"),
            status: crate::incident::Status::ALL[0],
            kode: None,
            nama: None,
        };
        let parts = [part(1, Category::ALL[0], 1.5), part(2, Category::ALL[1], 2.0), part(3, Category::ALL[0], 0.5)];
        let summed = by_category(&parts);
        assert_eq!(summed[0]["count"], 2);
        assert_eq!(summed[0]["contribution"], 2.0);
        assert_eq!(summed[1]["count"], 1);
        assert_eq!(summed.as_array().map(Vec::len), Some(2));
    }
}
