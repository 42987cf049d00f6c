//! What a change of the engine did to incidents, for the invalidation of tiles.

use geo::{BoundingRect, Rect};

use crate::engine::store::{Incident, Store, Window};

/// What changed in the incidents, for invalidation.
#[derive(Debug, Clone)]
pub enum IncidentChange {
    /// Nothing.
    None,
    /// Incidents inside these areas (longitude/latitude): their old and new places.
    Areas(Vec<Rect<f64>>),
    /// Possibly any incident.
    All,
}

impl IncidentChange {
    /// Areas above this many are not worth checking one by one.
    const MAX_AREAS: usize = 10_000;

    /// What replacing every incident of `old` by `new` changes in drawings.
    pub fn between(old: &Store, new: &[Incident]) -> IncidentChange {
        let mut areas = Vec::new();
        let mut kept = 0;
        for incident in new {
            match old.get(incident.id) {
                Some(before) if drawn_alike(before, incident) => kept += 1,
                Some(before) => {
                    kept += 1;
                    areas.extend([incident_area(before), incident_area(incident)]);
                }
                None => areas.push(incident_area(incident)),
            }
            if areas.len() > Self::MAX_AREAS {
                return IncidentChange::All;
            }
        }
        if kept < old.len() {
            let ids: std::collections::HashSet<i64> = new.iter().map(|i| i.id).collect();
            areas.extend(old.iter().filter(|i| !ids.contains(&i.id)).map(incident_area));
        }
        IncidentChange::from_areas(areas)
    }

    /// The incidents that entered or left the window when it moved from `before` to
    /// `after`.
    pub fn window_moved(store: &Store, before: Window, after: Window) -> IncidentChange {
        let areas: Vec<Rect<f64>> = store
            .iter()
            .filter(|i| before.contains(i.occurred_at) != after.contains(i.occurred_at))
            .map(incident_area)
            .take(Self::MAX_AREAS + 1)
            .collect();
        IncidentChange::from_areas(areas)
    }

    fn from_areas(areas: Vec<Rect<f64>>) -> IncidentChange {
        match areas.len() {
            0 => IncidentChange::None,
            n if n > Self::MAX_AREAS => IncidentChange::All,
            _ => IncidentChange::Areas(areas),
        }
    }
}

/// Where an incident is drawn: its line or polygon, or its point.
pub fn incident_area(incident: &Incident) -> Rect<f64> {
    incident
        .shape
        .as_ref()
        .and_then(|s| s.bounding_rect())
        .unwrap_or_else(|| Rect::new(incident.location.0, incident.location.0))
}

/// Whether two versions of an incident are drawn the same.
fn drawn_alike(a: &Incident, b: &Incident) -> bool {
    a.occurred_at == b.occurred_at
        && a.category == b.category
        && a.severity == b.severity
        && a.status == b.status
        && a.location == b.location
        && a.shape == b.shape
}
