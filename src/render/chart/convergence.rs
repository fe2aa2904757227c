//! `chart convergence`: how long the swarm took to get every service back to its desired
//! replicas after each incident.
//!
//! - Running versus desired tasks per service, after every committed entry, computed as
//!   `docker service ls` does: [`crate::render::state::replicas`], and, as the daemon's
//!   `ServiceStatus.RunningTasks`, only tasks on nodes that exist and are not down count as
//!   running (a killed node's tasks stay `running` in the store until it is marked down). Over
//!   wall-clock time taken from the objects' `UpdatedAt` and task status timestamps.
//! - Incidents come from the timeline ([`crate::analyses::history::timeline`]): elections (a leader
//!   change, or a restart of a single manager), nodes going down or unreachable, drains, role
//!   changes, manager removals, service spec changes (update, scale, rollback).
//! - For each incident: the services that had all their replicas running just before it; the
//!   first moment one of them fell short (before the next incident); the first moment after that
//!   when all of them were back. The time from the incident to that moment is its convergence
//!   time. Services that were never converged (unplaceable ones) do not hold the others hostage.
//! - An election entry carries no time of its own; its time is that of the first later entry
//!   that has one (the first write of the new leader).

use super::*;
use crate::analyses::history::{self, Step};
use crate::decode::object::{Kind, Object, Verb, service_name};
use crate::pb::docker::swarmkit::v1 as api;
use crate::render::state::replicas;
use crate::replay::analysis::Analysis;
use crate::replay::store::Store;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A service drawn on the chart.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceInfo {
    /// ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Name.
    pub name: String,
    /// `replicated`, `global` or `job`.
    pub mode: &'static str,
}

/// Running and desired tasks of every service after one entry (only entries that changed
/// something are kept).
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Raft index.
    pub index: u64,
    /// Wall-clock time.
    pub time: String,
    /// Seconds since the first sample.
    pub secs: f64,
    /// Per service (same order as [`Convergence::services`]): `[running, desired]`, or null
    /// when the service does not exist at that point.
    pub replicas: Vec<Option<[u64; 2]>>,
}

/// One incident and how long the swarm took to converge after it.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    /// Number on the chart (1-based).
    pub n: usize,
    /// Raft index of the event.
    pub index: u64,
    /// Term.
    pub term: u64,
    /// Time of the incident.
    pub time: String,
    /// Seconds since the first sample.
    pub secs: f64,
    /// `election`, `manager-restart`, `node-down`, `node-unreachable`, `node-drain`,
    /// `role-change`, `manager-removed`, `node-removed`, `service-update`.
    pub kind: &'static str,
    /// Short label (`update web`, `node down vm`, `restart (term 3)`).
    pub label: String,
    /// The timeline's text (several events at one index are joined; a burst of the same
    /// incident within 5 s is one incident, see `events`).
    pub text: String,
    /// Timeline events merged into this incident.
    pub events: usize,
    /// `recovered`, `no-disruption` or `not-recovered` (by the end of the log).
    pub status: &'static str,
    /// Services that fell short of their desired replicas after it.
    pub affected: Vec<String>,
    /// When they were all back.
    pub recovered_time: Option<String>,
    /// Index where they were all back.
    pub recovered_index: Option<u64>,
    /// Seconds from the incident to recovery.
    pub seconds: Option<f64>,
}

/// The chart's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Convergence {
    /// Input names.
    pub inputs: Vec<String>,
    /// First time.
    pub start: Option<String>,
    /// Last time.
    pub end: Option<String>,
    /// Index range.
    pub first_index: u64,
    /// Index range.
    pub last_index: u64,
    /// Services, by name.
    pub services: Vec<ServiceInfo>,
    /// Samples.
    pub samples: Vec<Sample>,
    /// Incidents.
    pub incidents: Vec<Incident>,
    #[serde(skip)]
    t0: Option<jiff::Timestamp>,
}

fn mode(s: &api::Service) -> &'static str {
    use api::service_spec::Mode;
    match s.spec.as_ref().and_then(|x| x.mode) {
        Some(Mode::Global(_)) => "global",
        Some(Mode::ReplicatedJob(_)) | Some(Mode::GlobalJob(_)) => "job",
        _ => "replicated",
    }
}

/// (index, time, replicas per service) after an entry.
type RawSample = (u64, Option<jiff::Timestamp>, Vec<Option<[u64; 2]>>);

/// `NodeStatus.State` DOWN.
const NODE_DOWN: i32 = 1;

struct Tracker {
    active_nodes: BTreeSet<String>,
    services: BTreeMap<String, api::Service>,
    tasks: BTreeMap<String, Store>,
    order: BTreeMap<String, usize>,
    infos: Vec<ServiceInfo>,
    cur: Vec<Option<[u64; 2]>>,
    dirty: BTreeSet<String>,
    pending: Option<(u64, Option<jiff::Timestamp>)>,
    raw: Vec<RawSample>,
}

impl Tracker {
    fn ord(&mut self, s: &api::Service) -> usize {
        if let Some(o) = self.order.get(&s.id) {
            return *o;
        }
        let o = self.infos.len();
        self.order.insert(s.id.clone(), o);
        self.infos.push(ServiceInfo { id: s.id.clone(), name: service_name(s), mode: mode(s) });
        self.cur.push(None);
        o
    }
    fn apply(&mut self, verb: Verb, o: &Object) {
        match o {
            Object::Service(s) => {
                if verb == Verb::Remove {
                    self.services.remove(&s.id);
                } else {
                    self.services.insert(s.id.clone(), s.clone());
                    self.ord(s);
                }
                self.dirty.insert(s.id.clone());
            }
            Object::Task(t) => {
                // A per-service count of the same actions the engine applied to its own store: an
                // action that does not fit is the engine's `replay.anomaly`, not this index's.
                let _same_as_the_engines = self.tasks.entry(t.service_id.clone()).or_default().apply(verb, o.clone());
                self.dirty.insert(t.service_id.clone());
            }
            Object::Node(n) => {
                let up = verb != Verb::Remove && n.status.as_ref().map(|s| s.state) != Some(NODE_DOWN);
                let was = self.active_nodes.contains(&n.id);
                if up {
                    self.active_nodes.insert(n.id.clone());
                } else {
                    self.active_nodes.remove(&n.id);
                }
                if up != was {
                    self.dirty.extend(self.services.keys().cloned());
                }
            }
            _ => {}
        }
    }
    fn flush(&mut self, force: bool) {
        let Some((index, time)) = self.pending.take() else { return };
        let mut changed = false;
        for id in std::mem::take(&mut self.dirty) {
            let Some(&o) = self.order.get(&id) else { continue };
            let v = self.services.get(&id).map(|s| {
                let empty = Store::default();
                let tasks = self.tasks.get(&id).unwrap_or(&empty);
                let (r, d, _) = replicas(s, tasks);
                // As the daemon counts RunningTasks: only on nodes that exist and are not down.
                let elsewhere = tasks
                    .task_keys()
                    .filter(|(_, t)| t.state == api::TaskState::Running as i32)
                    .filter(|(_, t)| !self.active_nodes.contains(&t.node_id))
                    .count() as u64;
                [r.saturating_sub(elsewhere), d]
            });
            if self.cur[o] != v {
                self.cur[o] = v;
                changed = true;
            }
        }
        if changed || force || self.raw.is_empty() {
            self.raw.push((index, time, self.cur.clone()));
        }
    }
}

fn incident_kind(e: &history::Event, single_manager: bool) -> Option<&'static str> {
    let t = e.text.as_str();
    match e.class {
        // The first election of a new swarm (term 1 -> 2) is its bootstrap, not an incident.
        "election" if t.contains("(was 1)") || t.contains("(was 0)") => None,
        "election" => Some(if single_manager { "manager-restart" } else { "election" }),
        "membership" if t.starts_with("ConfChangeRemoveNode") => Some("manager-removed"),
        "node" => {
            if t.contains(" status: ") && (t.ends_with("-> down") || t.ends_with("-> disconnected")) {
                Some("node-down")
            } else if t.contains("manager reachability: ") && t.ends_with("-> unreachable") {
                Some("node-unreachable")
            } else if t.contains(" availability: ") && (t.ends_with("-> drain") || t.ends_with("-> pause")) {
                Some("node-drain")
            } else if t.contains(" role: ") {
                Some("role-change")
            } else if t.ends_with(" removed") {
                Some("node-removed")
            } else {
                None
            }
        }
        "service" if t.contains(" spec changed: ") => Some("service-update"),
        // Spec changes hidden by redaction (an env value) still start an update.
        "service" if t.contains(" update: updating") || t.contains(" rollback: rollback_started") => {
            Some("service-update")
        }
        _ => None,
    }
}

fn subject(kind: &str, text: &str) -> String {
    // "service web spec changed: ...", "node vm status: ...", "node ID (name) removed".
    let w: Vec<&str> = text.split_whitespace().collect();
    match kind {
        "service-update" | "node-down" | "node-unreachable" | "node-drain" | "role-change" => {
            w.get(1).map(|s| s.to_string()).unwrap_or_default()
        }
        "node-removed" => w.get(2).map(|s| s.trim_matches(['(', ')']).to_string()).unwrap_or_default(),
        _ => String::new(),
    }
}

fn label(kind: &str, subject: &str, term: u64) -> String {
    let with = |what: &str| if subject.is_empty() { what.to_string() } else { format!("{what} {subject}") };
    match kind {
        "service-update" => with("update"),
        "node-down" => with("node down"),
        "node-unreachable" => with("unreachable"),
        "node-drain" => with("drain"),
        "role-change" => with("role change"),
        "node-removed" => with("node removed"),
        "manager-removed" => "manager removed".into(),
        "manager-restart" => format!("restart (term {term})"),
        "election" => format!("election (term {term})"),
        k => k.replace('-', " "),
    }
}

/// Compute the chart's numbers.
pub fn compute(a: &Analysis, inputs: Vec<String>) -> Convergence {
    let mut tr = Tracker {
        active_nodes: BTreeSet::new(),
        services: BTreeMap::new(),
        tasks: BTreeMap::new(),
        order: BTreeMap::new(),
        infos: Vec::new(),
        cur: Vec::new(),
        dirty: BTreeSet::new(),
        pending: None,
        raw: Vec::new(),
    };
    walk_committed(a, |step| match step {
        Step::Base { index, store, .. } => {
            for o in store.iter(Kind::Node).chain(store.iter(Kind::Service)).chain(store.iter(Kind::Task)) {
                tr.apply(Verb::Create, &o);
            }
            tr.pending = Some((index, None));
            tr.flush(false);
        }
        Step::Action { at, verb, after, .. } if at.committed && at.overwritten_by_term.is_none() => {
            if tr.pending.is_some_and(|(i, _)| i != at.index) {
                tr.flush(false);
            }
            tr.pending = Some((at.index, at.time));
            tr.apply(verb, after);
        }
        _ => {}
    });
    tr.flush(true);
    // Times: fill the ones before the first known time, and keep them monotonic.
    let t0 = tr.raw.iter().find_map(|r| r.1);
    let mut samples = Vec::with_capacity(tr.raw.len());
    let mut last = 0.0f64;
    for (index, time, vals) in &tr.raw {
        let t = time.or(t0);
        let secs = match (t, t0) {
            (Some(t), Some(t0)) => secs_since(t0, t).max(last),
            _ => last,
        };
        last = secs;
        samples.push(Sample {
            index: *index,
            time: t.map(|t| t.to_string()).unwrap_or_default(),
            secs: round6(secs),
            replicas: vals.clone(),
        });
    }
    // Pad every sample to the final number of services.
    let n = tr.infos.len();
    for s in &mut samples {
        s.replicas.resize(n, None);
    }
    let jobs: Vec<bool> = tr.infos.iter().map(|i| i.mode == "job").collect();
    // Incidents.
    let single = a.membership.members.len() <= 1;
    let mut incidents: Vec<Incident> = Vec::new();
    let mut last_secs = 0.0f64;
    for e in history::timeline(a) {
        if !e.at.committed || e.at.overwritten_by_term.is_some() {
            continue;
        }
        let Some(kind) = incident_kind(&e, single) else { continue };
        let time = if e.class == "election" {
            a.entries.iter().filter(|x| x.index >= e.at.index && x.overwritten_by_term.is_none()).find_map(|x| x.time)
        } else {
            e.at.time
        };
        let secs = match (time, t0) {
            (Some(t), Some(t0)) => round6(secs_since(t0, t).max(0.0)),
            _ => 0.0,
        };
        let subj = subject(kind, &e.text);
        if let Some(last) = incidents.last_mut() {
            if last.index == e.at.index {
                last.text.push_str("; ");
                last.text.push_str(&e.text);
                continue;
            }
            // The update status that follows a spec change belongs to it.
            let status_event = e.text.contains(" update: ") || e.text.contains(" rollback: ");
            if status_event && last.kind == kind && subject(last.kind, &last.text) == subj && secs - last_secs < 5.0 {
                last.text.push_str("; ");
                last.text.push_str(&e.text);
                continue;
            }
            // A burst of the same incident (same kind and subject within 5 s of the previous
            // one) is one incident.
            if last.kind == kind && subject(last.kind, &last.text) == subj && secs - last_secs < 5.0 {
                last.events += 1;
                last_secs = secs;
                continue;
            }
        }
        last_secs = secs;
        incidents.push(Incident {
            n: incidents.len() + 1,
            index: e.at.index,
            term: e.at.term,
            time: time.map(|t| t.to_string()).unwrap_or_default(),
            secs,
            kind,
            label: label(kind, &subj, e.at.term),
            events: 1,
            text: e.text.clone(),
            status: "no-disruption",
            affected: vec![],
            recovered_time: None,
            recovered_index: None,
            seconds: None,
        });
    }
    for i in incidents.iter_mut().filter(|i| i.events > 1) {
        i.label = format!("{} (x{})", i.label, i.events);
        i.text = format!("{} (and {} more like it, each within 5 s of the previous)", i.text, i.events - 1);
    }
    let converged = |v: &Option<[u64; 2]>| v.is_none_or(|[r, d]| r >= d);
    let next_idx: Vec<u64> = incidents.iter().skip(1).map(|i| i.index).chain([u64::MAX]).collect();
    for (k, inc) in incidents.iter_mut().enumerate() {
        let p0 = samples.partition_point(|s| s.index < inc.index);
        let before = if p0 > 0 { samples.get(p0 - 1) } else { None };
        let Some(before) = before else { continue };
        let set: Vec<usize> = (0..n)
            .filter(|&i| !jobs[i])
            .filter(|&i| before.replicas[i].is_some() && converged(&before.replicas[i]))
            .collect();
        let short =
            |s: &Sample| -> Vec<usize> { set.iter().copied().filter(|&i| !converged(&s.replicas[i])).collect() };
        let Some(p1) = (p0..samples.len())
            .take_while(|&p| samples[p].index < next_idx[k])
            .find(|&p| !short(&samples[p]).is_empty())
        else {
            continue;
        };
        let mut affected: BTreeSet<usize> = BTreeSet::new();
        let mut rec = None;
        for (p, s) in samples.iter().enumerate().skip(p1) {
            let sh = short(s);
            if sh.is_empty() {
                rec = Some(p);
                break;
            }
            affected.extend(sh);
        }
        let mut names: Vec<String> = affected.iter().map(|&i| tr.infos[i].name.clone()).collect();
        names.sort();
        inc.affected = names;
        match rec {
            Some(p) => {
                inc.status = "recovered";
                inc.recovered_time = Some(samples[p].time.clone());
                inc.recovered_index = Some(samples[p].index);
                inc.seconds = Some(round6((samples[p].secs - inc.secs).max(0.0)));
            }
            None => inc.status = "not-recovered",
        }
    }
    let t_end = samples.last().and_then(|s| s.time.parse::<jiff::Timestamp>().ok());
    Convergence {
        inputs,
        start: t0.map(|t| t.to_string()),
        end: t_end.map(|t| t.to_string()),
        first_index: samples.first().map(|s| s.index).unwrap_or(0),
        last_index: samples.last().map(|s| s.index).unwrap_or(0),
        services: tr.infos,
        samples,
        incidents,
        t0,
    }
}

impl Convergence {
    /// The final `[running, desired]` of a service by name.
    pub fn last_replicas(&self, name: &str) -> Option<[u64; 2]> {
        let i = self.services.iter().position(|s| s.name == name)?;
        self.samples.last()?.replicas.get(i).copied().flatten()
    }

    fn when(&self, t: &str) -> String {
        match t.parse::<jiff::Timestamp>() {
            Ok(t) => t.strftime("%H:%M:%S%.3f").to_string(),
            Err(_) => "-".into(),
        }
    }

    /// Table form.
    pub fn text(&self) -> String {
        let mut o = format!(
            "CONVERGENCE AFTER INCIDENTS ({}, {} to {}, indexes {}-{})\n",
            inputs_label(&self.inputs),
            self.start.as_deref().unwrap_or("-"),
            self.end.as_deref().unwrap_or("-"),
            self.first_index,
            self.last_index
        );
        let mut t = crate::render::table::Table::new(&[
            "#",
            "INDEX",
            "TIME",
            "KIND",
            "CONVERGED AFTER",
            "BACK AT",
            "SERVICES SHORT",
            "EVENT",
        ]);
        for i in &self.incidents {
            t.row(vec![
                i.n.to_string(),
                i.index.to_string(),
                self.when(&i.time),
                i.kind.into(),
                match (i.status, i.seconds) {
                    ("recovered", Some(s)) => format!("{s:.3} s"),
                    ("not-recovered", _) => "NOT BY END OF LOG".into(),
                    _ => "no disruption".into(),
                },
                match (&i.recovered_time, i.recovered_index) {
                    (Some(t), Some(x)) => format!("{} (index {x})", self.when(t)),
                    _ => "-".into(),
                },
                if i.affected.is_empty() { "-".into() } else { i.affected.join(",") },
                i.text.clone(),
            ]);
        }
        if self.incidents.is_empty() {
            o.push_str("no incidents in this log\n");
        } else {
            o.push_str(&t.render());
        }
        o.push_str("\nSERVICES AT THE END (running/desired)\n");
        let mut t = crate::render::table::Table::new(&["SERVICE", "MODE", "REPLICAS"]);
        let last = self.samples.last();
        let mut rows: Vec<(String, &'static str, String)> = self
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let r = match last.and_then(|l| l.replicas[i]) {
                    Some([r, d]) => format!("{r}/{d}"),
                    None => "(removed)".into(),
                };
                (s.name.clone(), s.mode, r)
            })
            .collect();
        rows.sort();
        for (n, m, r) in rows {
            t.row(vec![n, m.into(), r]);
        }
        o.push_str(&t.render());
        o
    }
}

/// The incident colours: what each stands for (the legend's words), its kinds, the colour.
/// The last entry takes every kind the others do not name.
const KIND_COLOURS: [(&str, &[&str], RGBColor); 4] = [
    ("election / manager restart", &["election", "manager-restart"], ALERT_RED),
    (
        "node or manager down, unreachable, removed",
        &["node-down", "node-unreachable", "manager-removed", "node-removed"],
        RGBColor(140, 20, 120),
    ),
    ("node drained / role changed", &["node-drain", "role-change"], RGBColor(200, 110, 0)),
    ("service update", &[], RGBColor(60, 60, 60)),
];

/// Which [`KIND_COLOURS`] entry an incident kind has.
fn kind_entry(k: &str) -> usize {
    KIND_COLOURS.iter().position(|(_, kinds, _)| kinds.contains(&k)).unwrap_or(KIND_COLOURS.len() - 1)
}

fn kind_color(k: &str) -> RGBColor {
    KIND_COLOURS[kind_entry(k)].2
}

/// The legend of the incident colours in use, in [`KIND_COLOURS`] order.
pub fn incident_legend(incidents: &[Incident]) -> Vec<(String, RGBColor)> {
    let used: BTreeSet<usize> = incidents.iter().map(|i| kind_entry(i.kind)).collect();
    used.into_iter().map(|e| (KIND_COLOURS[e].0.to_string(), KIND_COLOURS[e].2)).collect()
}

impl Chart for Convergence {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let range = match (&self.start, &self.end) {
            (Some(s), Some(e)) => match (s.parse::<jiff::Timestamp>(), e.parse::<jiff::Timestamp>()) {
                (Ok(s), Ok(e)) => time_range(s, e),
                _ => String::new(),
            },
            _ => "no wall-clock times in this log".into(),
        };
        let rec: Vec<&Incident> = self.incidents.iter().filter(|i| i.status == "recovered").collect();
        let slowest = rec
            .iter()
            .filter_map(|i| i.seconds)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))
            .map(duration_text)
            .unwrap_or_else(|| "-".into());
        let sub = vec![
            format!(
                "{}: {range}, raft indexes {}-{}; per service: running tasks (solid) vs desired (dashed), shortfall in red",
                inputs_label(&self.inputs),
                self.first_index,
                self.last_index
            ),
            format!(
                "{} incidents (numbered lines), {} of them disrupted a service that was converged; slowest convergence {slowest}",
                self.incidents.len(),
                rec.len() + self.incidents.iter().filter(|i| i.status == "not-recovered").count(),
            ),
        ];
        let area = header(root, "Convergence after incidents: running vs desired tasks per service", &sub)?;
        let (w, h) = area.dim_in_pixel();
        let (plot, side) = area.split_horizontally(w - 390);
        let (top, plot) = plot.split_vertically(40);
        let (plot, axis) = plot.split_vertically(h - 40 - 48);
        let t0 = self.t0.unwrap_or_default();
        let xmax = self.samples.last().map(|s| s.secs).unwrap_or(1.0).max(1.0);
        let pad = xmax * 0.01;
        let (x0, x1) = (-pad, xmax + pad);
        let time_axis = TimeAxis::new(t0, x0, x1);
        // Services: at most 8, those that changed the most, drawn by name.
        let mut idx: Vec<usize> = (0..self.services.len()).collect();
        let changes = |i: usize| self.samples.windows(2).filter(|w| w[0].replicas[i] != w[1].replicas[i]).count();
        idx.sort_by_key(|&i| (std::cmp::Reverse(changes(i)), self.services[i].name.clone()));
        let hidden = idx.len().saturating_sub(8);
        idx.truncate(8);
        idx.sort_by_key(|&i| self.services[i].name.clone());
        let rows = plot.split_evenly((idx.len().max(1), 1));
        let (left, right) = (16, 12);
        for (r, &i) in rows.iter().zip(idx.iter()) {
            let color = PALETTE[i % PALETTE.len()];
            let vals: Vec<(f64, Option<[u64; 2]>)> = self.samples.iter().map(|s| (s.secs, s.replicas[i])).collect();
            let ymax = vals.iter().filter_map(|v| v.1).flatten().max().unwrap_or(1).max(1) as f64 * 1.3;
            let mut ch = ChartBuilder::on(r)
                .margin_left(left)
                .margin_right(right)
                .margin_top(3)
                .margin_bottom(3)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, 0f64..ymax)
                .map_err(de)?;
            ch.configure_mesh()
                .disable_x_mesh()
                .x_labels(0)
                .y_labels(3)
                .label_style(font(12.0))
                .y_label_formatter(&|y| if (y - y.round()).abs() < 1e-9 { format!("{:.0}", y) } else { String::new() })
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(225, 225, 225))
                .draw()
                .map_err(de)?;
            // Shortfall, running, desired as steps over the intervals between samples.
            for (k, (t, v)) in vals.iter().enumerate() {
                let t1 = vals.get(k + 1).map(|n| n.0).unwrap_or(xmax);
                if let Some([run, des]) = v {
                    if run < des && t1 > *t {
                        ch.draw_series(std::iter::once(Rectangle::new(
                            [(*t, *run as f64), (t1, *des as f64)],
                            ALERT_RED.mix(0.22).filled(),
                        )))
                        .map_err(de)?;
                    }
                }
            }
            let mut seg_run: Vec<(f64, f64)> = Vec::new();
            let mut seg_des: Vec<(f64, f64)> = Vec::new();
            let flush = |ch: &mut ChartContext<DB, _>,
                         a: &mut Vec<(f64, f64)>,
                         b: &mut Vec<(f64, f64)>|
             -> DrawResult {
                if !b.is_empty() {
                    let pts = simplify(std::mem::take(b));
                    ch.draw_series(std::iter::once(DashedPathElement::new(pts, 6, 4, BLACK.mix(0.7).stroke_width(2))))
                        .map_err(de)?;
                }
                if !a.is_empty() {
                    ch.draw_series(LineSeries::new(simplify(std::mem::take(a)), color.stroke_width(3))).map_err(de)?;
                }
                Ok(())
            };
            for (k, (t, v)) in vals.iter().enumerate() {
                let t1 = vals.get(k + 1).map(|n| n.0).unwrap_or(xmax);
                match v {
                    Some([run, des]) => {
                        seg_run.push((*t, *run as f64));
                        seg_run.push((t1, *run as f64));
                        seg_des.push((*t, *des as f64));
                        seg_des.push((t1, *des as f64));
                    }
                    None => flush(&mut ch, &mut seg_run, &mut seg_des)?,
                }
            }
            flush(&mut ch, &mut seg_run, &mut seg_des)?;
            for inc in &self.incidents {
                ch.draw_series(std::iter::once(PathElement::new(
                    vec![(inc.secs, 0.0), (inc.secs, ymax)],
                    kind_color(inc.kind).mix(0.55).stroke_width(1),
                )))
                .map_err(de)?;
            }
            let now = match vals.last().and_then(|v| v.1) {
                Some([r, d]) => format!("{r}/{d} at the end"),
                None => "removed".into(),
            };
            ch.draw_series(std::iter::once(Text::new(
                format!("{} ({}): {now}", self.services[i].name, self.services[i].mode),
                (x0 + (x1 - x0) * 0.005, ymax * 0.97),
                bold(13.0).color(&color.mix(1.0)).pos(Pos::new(HPos::Left, VPos::Top)),
            )))
            .map_err(de)?;
        }
        // Shared time axis.
        let mut ax = ChartBuilder::on(&axis)
            .margin_left(left)
            .margin_right(right)
            .x_label_area_size(46)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..1f64)
            .map_err(de)?;
        ax.configure_mesh()
            .disable_mesh()
            .disable_y_axis()
            .x_labels(time_axis.ticks())
            .x_desc(time_axis.desc())
            .axis_desc_style(font(14.0))
            .label_style(font(13.0))
            .x_label_formatter(&|x| time_axis.label(*x))
            .draw()
            .map_err(de)?;
        // Incident numbers above the panels (two rows when close together).
        let top_ch = ChartBuilder::on(&top)
            .margin_left(left)
            .margin_right(right)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..2f64)
            .map_err(de)?;
        // Incidents closer than 2% of the time axis share one label ("1-4").
        let near = (x1 - x0) * 0.02;
        let mut clusters: Vec<(f64, usize, usize, &'static str)> = Vec::new();
        for inc in &self.incidents {
            match clusters.last_mut() {
                Some(c) if inc.secs - c.0 < near => c.2 = inc.n,
                _ => clusters.push((inc.secs, inc.n, inc.n, inc.kind)),
            }
        }
        let mut last_x = f64::NEG_INFINITY;
        let mut row = 0;
        for (x, a, b, kind) in clusters {
            row = if x - last_x < near * 2.5 { 1 - row } else { 0 };
            last_x = x;
            let l = if a == b {
                a.to_string()
            } else if b == a + 1 {
                format!("{a},{b}")
            } else {
                format!("{a}-{b}")
            };
            top_ch
                .plotting_area()
                .draw(&Text::new(
                    l,
                    (x, if row == 0 { 1.5 } else { 0.5 }),
                    bold(12.0).color(&kind_color(kind)).pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(de)?;
        }
        // Side panel: the incidents, and under them the legend (incident colours, shortfall).
        let mut notes: Vec<(String, Mark)> =
            incident_legend(&self.incidents).into_iter().map(|(l, c)| (l, Mark::Line(c))).collect();
        notes.push(("fewer running than desired".to_string(), Mark::Box(tint(ALERT_RED, 0.22))));
        if hidden > 0 {
            notes.push((format!("{hidden} steadier services not drawn"), Mark::None));
        }
        let foot_h = 52 + 22 * notes.len() as u32;
        let (side, foot) = side.split_vertically(side.dim_in_pixel().1.saturating_sub(foot_h));
        side.draw(&Text::new("Incidents (UTC): converged after", (8, 30), bold(15.0))).map_err(de)?;
        let max_rows = ((side.dim_in_pixel().1 as i32 - 80) / 19).max(1) as usize;
        let mut y = 56;
        for (r, i) in self.incidents.iter().enumerate() {
            if r + 1 >= max_rows && self.incidents.len() > max_rows {
                side.draw(&Text::new(
                    format!("... {} more (see the table)", self.incidents.len() - r),
                    (8, y),
                    font(13.0),
                ))
                .map_err(de)?;
                break;
            }
            let took = match (i.status, i.seconds) {
                ("recovered", Some(s)) => duration_text(s),
                ("not-recovered", _) => "not by the end".into(),
                _ => "no disruption".into(),
            };
            let line =
                format!("{:>2}  {}  {}: {took}", i.n, self.when(&i.time).chars().take(8).collect::<String>(), i.label);
            side.draw(&Text::new(line, (8, y), font(13.0).color(&kind_color(i.kind)))).map_err(de)?;
            y += 19;
        }
        legend_panel(&foot, "Incident lines and numbers", &notes)
    }
}
