//! Incidents in memory, and their aggregation per region for a time window.
//!
//! Each incident carries its assignment (district, regency, province). Aggregation is
//! one pass over the incidents; per-region lists serve explanations and daily
//! histories without scanning everything.

use std::collections::HashMap;

use geo::{Geometry, Point};
use serde::Serialize;

use super::regions::{level_slot, Assignment, RegionId, RegionIndex};
use super::risk::{RiskModel, DAY};
use crate::incident::{Category, Severity, Status};

/// An incident as the engine keeps it.
#[derive(Debug, Clone)]
pub struct Incident {
    /// Database id.
    pub id: i64,
    /// When it happened, unix seconds.
    pub occurred_at: i64,
    /// Kind of conflict.
    pub category: Category,
    /// Severity 1-5.
    pub severity: Severity,
    /// Handling stage.
    pub status: Status,
    /// District, regency and province.
    pub assignment: Assignment,
    /// The point, or a representative point of a line or polygon, or the label point of
    /// the region of a report known only by region (EPSG:4326).
    pub location: Point<f64>,
    /// The line or polygon, when not a point.
    pub shape: Option<Box<Geometry<f64>>>,
    /// Every region a line or polygon touches.
    pub touched: Box<[RegionId]>,
}

/// A time window ending at `as_of` (unix seconds), `days` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// End of the window, unix seconds.
    pub as_of: i64,
    /// Length in days.
    pub days: u32,
}

impl Window {
    /// Whether `t` lies in the window.
    pub fn contains(&self, t: i64) -> bool {
        t <= self.as_of && t > self.as_of - i64::from(self.days) * DAY
    }
}

/// What a window holds for one region.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct RegionStats {
    /// Incidents in the window.
    pub count: u32,
    /// Incidents per category, in [`Category::ALL`] order.
    pub by_category: [u32; 7],
    /// Incidents per status, in [`Status::ALL`] order.
    pub by_status: [u32; 4],
    /// Sum of the decayed, weighted contributions (the incidents' part of the score).
    pub incident_score: f64,
    /// Active incidents of the recent-severe rule's severity in its days.
    pub recent_severe: u32,
    /// Incidents in the 7 days up to the window's end.
    pub this_week: u32,
    /// Incidents in the 28 days before those.
    pub previous_four_weeks: u32,
    /// Incidents per severity 1-5 (kept as counts so that removals stay exact).
    pub by_severity: [u32; 5],
}

impl RegionStats {
    /// Adds (`sign` = 1) or removes (`sign` = -1) one incident.
    fn apply(&mut self, incident: &Incident, window: Window, model: &RiskModel, sign: i32) {
        let age = window.as_of - incident.occurred_at;
        let add = |n: &mut u32| *n = n.saturating_add_signed(sign);
        if (0..7 * DAY).contains(&age) {
            add(&mut self.this_week);
        } else if (7 * DAY..35 * DAY).contains(&age) {
            add(&mut self.previous_four_weeks);
        }
        if !window.contains(incident.occurred_at) {
            return;
        }
        add(&mut self.count);
        add(&mut self.by_category[incident.category.index()]);
        add(&mut self.by_status[incident.status.index()]);
        self.incident_score +=
            f64::from(sign) * model.incident_weight(incident.severity, incident.category, incident.status, age);
        let rule = &model.rules.recent_severe;
        if incident.status.is_active()
            && incident.severity.get() >= rule.min_severity
            && age < i64::from(rule.days) * DAY
        {
            add(&mut self.recent_severe);
        }
        add(&mut self.by_severity[usize::from(incident.severity.get()) - 1]);
    }

    /// Highest severity in the window (0 when none).
    pub fn max_severity(&self) -> u8 {
        self.by_severity.iter().rposition(|&n| n > 0).map_or(0, |i| i as u8 + 1)
    }
}

/// All incidents, by id, with per-region lists.
#[derive(Debug, Default)]
pub struct Store {
    slots: Vec<Option<Incident>>,
    free: Vec<u32>,
    by_id: HashMap<i64, u32>,
    by_region: Vec<Vec<u32>>,
    /// Slots of the incidents drawn as lines or polygons (few): tiles draw them whole.
    shaped: Vec<u32>,
}

impl Store {
    /// An empty store for `regions` regions.
    pub fn new(regions: usize) -> Store {
        Store { by_region: vec![Vec::new(); regions], ..Store::default() }
    }

    /// Number of incidents.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// An incident by id.
    pub fn get(&self, id: i64) -> Option<&Incident> {
        self.by_id.get(&id).and_then(|&slot| self.slots[slot as usize].as_ref())
    }

    /// Every incident.
    pub fn iter(&self) -> impl Iterator<Item = &Incident> {
        self.slots.iter().flatten()
    }

    /// The incidents assigned to a region (at its own level).
    pub fn in_region(&self, region: RegionId) -> impl Iterator<Item = &Incident> {
        self.by_region[region as usize].iter().filter_map(|&slot| self.slots[slot as usize].as_ref())
    }

    /// The incidents with a line or polygon.
    pub fn shaped(&self) -> impl Iterator<Item = &Incident> {
        self.shaped.iter().filter_map(|&slot| self.slots[slot as usize].as_ref())
    }

    /// Inserts or replaces an incident; returns the one it replaced.
    pub fn upsert(&mut self, incident: Incident) -> Option<Incident> {
        let old = self.remove(incident.id);
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        for region in incident.assignment.regions.iter().flatten() {
            self.by_region[*region as usize].push(slot);
        }
        if incident.shape.is_some() {
            self.shaped.push(slot);
        }
        self.by_id.insert(incident.id, slot);
        self.slots[slot as usize] = Some(incident);
        old
    }

    /// Removes an incident.
    pub fn remove(&mut self, id: i64) -> Option<Incident> {
        let slot = self.by_id.remove(&id)?;
        let incident = self.slots[slot as usize].take()?;
        for region in incident.assignment.regions.iter().flatten() {
            let list = &mut self.by_region[*region as usize];
            if let Some(i) = list.iter().rposition(|&s| s == slot) {
                list.swap_remove(i);
            }
        }
        if incident.shape.is_some() {
            self.shaped.retain(|&s| s != slot);
        }
        self.free.push(slot);
        Some(incident)
    }

    /// Aggregates every region for a window: one pass over all incidents.
    pub fn aggregate(&self, regions: usize, window: Window, model: &RiskModel) -> Vec<RegionStats> {
        let mut stats = vec![RegionStats::default(); regions];
        for incident in self.iter() {
            add_incident(&mut stats, incident, window, model, 1);
        }
        stats
    }

    /// Aggregates one region for a window, from its own list.
    pub fn aggregate_region(&self, region: RegionId, window: Window, model: &RiskModel) -> RegionStats {
        let mut stats = RegionStats::default();
        for incident in self.in_region(region) {
            stats.apply(incident, window, model, 1);
        }
        stats
    }
}

/// Adds or removes one incident's part in every region it is assigned to.
pub fn add_incident(stats: &mut [RegionStats], incident: &Incident, window: Window, model: &RiskModel, sign: i32) {
    for region in incident.assignment.regions.iter().flatten() {
        stats[*region as usize].apply(incident, window, model, sign);
    }
}

/// An assignment for a report known only by its region: that region and its
/// ancestors, at the region's label point.
pub fn region_only_assignment(index: &RegionIndex, region: RegionId) -> Assignment {
    let mut assignment = Assignment::default();
    let mut current = Some(region);
    while let Some(id) = current {
        let r = index.region(id);
        assignment.regions[level_slot(r.level)] = Some(id);
        current = r.parent;
    }
    assignment
}
