//! `metrics`: the log's history as the monitoring series the Swarm2k/Swarm3k tests watched
//! through Telegraf's swarm input, InfluxDB and Grafana, rebuilt after the fact from the raft log.
//!
//! Three measurements, named as Telegraf named them:
//! - `swarm`: fields `n_nodes`, `n_services`, `n_tasks` (objects in the store, tasks including
//!   the dead history the task reaper keeps, as `state` lists them);
//! - `swarm_node`: tags `node_id`, `node_hostname`; fields `cpu_shares` (the node's NanoCPUs) and
//!   `memory` (its memory bytes), from the node's description;
//! - `swarm_task_status`: one point per task state (tag `status`, the names `docker service ps`
//!   prints: `running`, `failed`, ...), field `count`.
//!
//! Invariants:
//! - **One engine.** The counts come from the one replay walk ([`crate::analyses::history::walk`]):
//!   the base snapshot's store, then every committed, live store action with the object's version
//!   before it, mirrored exactly as the store applies it (create and update leave the object,
//!   remove takes it away, an unknown verb changes nothing). So a point at raft index `i` holds
//!   what `state --at i` shows. No loop of its own, no second copy of the store: the mirror keeps
//!   counts and each node's resources only.
//! - **Timestamps are the log's own.** Each point carries the time of the entry that caused it
//!   (its objects' times, carried forward by the engine). Times are made non-decreasing (a
//!   later entry stamped earlier, from a skewed clock, takes the previous time) so every series
//!   can be stored as written; an entry before the first timed one is folded into the first
//!   timed point (its index is that point's index).
//! - **What is written.** Without a step: at every committed entry that changed a value, the
//!   series whose value changed (a status whose count fell to 0 is written as 0; a node that is
//!   removed is no longer written). With a step: at every multiple of the step from the first
//!   timed entry up to the first multiple at or after the last one (which holds the final
//!   state), every series (every node present, every status seen so far), as a scraper would
//!   have sampled it; the point's index is the last entry at or before that time.

use crate::analyses::history::{Step, walk};
use crate::decode::docker_api as dapi;
use crate::decode::object::{Kind, Object, Verb};
use crate::error::Finding;
use crate::replay::analysis::Analysis;
use crate::replay::store::Store;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What one point measures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "measurement", rename_all = "snake_case")]
pub enum Series {
    /// `swarm`: object counts.
    Swarm {
        /// Nodes.
        n_nodes: u64,
        /// Services.
        n_services: u64,
        /// Tasks (every task object, live or kept as history).
        n_tasks: u64,
    },
    /// `swarm_node`: one node's resources.
    SwarmNode {
        /// Node ID (tag).
        node_id: String,
        /// Hostname (tag).
        node_hostname: String,
        /// NanoCPUs.
        cpu_shares: i64,
        /// Memory bytes.
        memory: i64,
    },
    /// `swarm_task_status`: tasks in one state.
    SwarmTaskStatus {
        /// State name (tag).
        status: &'static str,
        /// Tasks in it.
        count: u64,
    },
}

impl Series {
    /// The measurement's name.
    pub fn measurement(&self) -> &'static str {
        match self {
            Series::Swarm { .. } => "swarm",
            Series::SwarmNode { .. } => "swarm_node",
            Series::SwarmTaskStatus { .. } => "swarm_task_status",
        }
    }
}

/// One point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Raft index of the state the point shows.
    pub index: u64,
    /// Its time.
    pub time: Timestamp,
    /// What it measures.
    #[serde(flatten)]
    pub series: Series,
}

/// The series of one history.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Points, in time order (then index order).
    pub rows: Vec<Row>,
    /// The sampling step, when one was asked for.
    #[serde(skip)]
    pub step: Option<SignedDuration>,
    /// Things the reader should know (no timed entry, clamped times).
    pub notes: Vec<String>,
    /// What the replay found on the way.
    pub findings: Vec<Finding>,
}

/// The most points a `--step` may make per series, so a tiny step over a long log is refused
/// rather than written for hours.
pub const MAX_STEPS: i64 = 1_000_000;

/// A node's (hostname, NanoCPUs, memory bytes).
type NodeRes = (String, i64, i64);

fn node_res(o: &Object) -> Option<NodeRes> {
    let Object::Node(n) = o else { return None };
    let d = n.description.as_ref();
    let host = d.map(|d| d.hostname.clone()).unwrap_or_default();
    let r = d.and_then(|d| d.resources.as_ref());
    Some((host, r.map(|r| r.nano_cpus).unwrap_or(0), r.map(|r| r.memory_bytes).unwrap_or(0)))
}

fn status_of(o: &Object) -> Option<&'static str> {
    match o {
        Object::Task(t) => Some(dapi::task_state(t.status.as_ref().map(|s| s.state).unwrap_or(0))),
        _ => None,
    }
}

/// The counts of a store, kept in step with it through the walk's actions.
#[derive(Default)]
struct Mirror {
    nodes: BTreeMap<String, NodeRes>,
    services: u64,
    tasks: u64,
    /// Every state seen so far, with its count now (0 once emptied).
    status: BTreeMap<&'static str, u64>,
}

impl Mirror {
    fn load(&mut self, st: &Store) {
        self.nodes = st.iter(Kind::Node).filter_map(|o| node_res(&o).map(|r| (o.id().to_string(), r))).collect();
        self.services = st.count(Kind::Service) as u64;
        self.tasks = st.count(Kind::Task) as u64;
        for c in self.status.values_mut() {
            *c = 0;
        }
        // From the tasks' keys: no task is decoded.
        for (_, k) in st.task_keys() {
            *self.status.entry(dapi::task_state(k.state)).or_default() += 1;
        }
    }

    /// Mirror one applied action, as [`Store::apply`] applies it.
    fn apply(&mut self, verb: Verb, before: Option<&Object>, after: &Object) {
        if verb == Verb::Unknown {
            return;
        }
        let stays = verb != Verb::Remove;
        let existed = before.is_some();
        match after.kind() {
            Kind::Node => {
                if stays {
                    if let Some(r) = node_res(after) {
                        self.nodes.insert(after.id().to_string(), r);
                    }
                } else {
                    self.nodes.remove(after.id());
                }
            }
            Kind::Service => self.services = (self.services + stays as u64).saturating_sub(existed as u64),
            Kind::Task => {
                self.tasks = (self.tasks + stays as u64).saturating_sub(existed as u64);
                if let Some(s) = before.and_then(status_of) {
                    let c = self.status.entry(s).or_default();
                    *c = c.saturating_sub(1);
                }
                if stays {
                    if let Some(s) = status_of(after) {
                        *self.status.entry(s).or_default() += 1;
                    }
                }
            }
            _ => {}
        }
    }

    fn swarm(&self) -> Series {
        Series::Swarm { n_nodes: self.nodes.len() as u64, n_services: self.services, n_tasks: self.tasks }
    }
}

/// What was last written, per series (change mode).
#[derive(Default)]
struct Written {
    swarm: Option<Series>,
    nodes: HashMap<String, NodeRes>,
    status: BTreeMap<&'static str, u64>,
}

struct Builder {
    m: Mirror,
    step: Option<SignedDuration>,
    rows: Vec<Row>,
    written: Written,
    /// Index of the last applied entry (or of the base).
    index: u64,
    /// Time of the last timed applied entry, made non-decreasing.
    time: Option<Timestamp>,
    /// Index of the entry being applied (its actions arrive one by one).
    open: Option<u64>,
    /// Next sample time (step mode).
    next: Option<Timestamp>,
    /// A base snapshot was loaded and no entry has been applied on it yet.
    pending_base: bool,
    clamped: usize,
}

impl Builder {
    /// Change mode: write the series whose values changed since they were last written.
    fn emit_changes(&mut self) {
        let Some(time) = self.time else { return };
        let index = self.index;
        let sw = self.m.swarm();
        if self.written.swarm.as_ref() != Some(&sw) {
            self.rows.push(Row { index, time, series: sw.clone() });
            self.written.swarm = Some(sw);
        }
        for (id, r) in &self.m.nodes {
            if self.written.nodes.get(id) != Some(r) {
                self.rows.push(Row { index, time, series: node_series(id, r) });
                self.written.nodes.insert(id.clone(), r.clone());
            }
        }
        self.written.nodes.retain(|id, _| self.m.nodes.contains_key(id));
        for (s, c) in &self.m.status {
            let before = self.written.status.get(s).copied();
            if before != Some(*c) && !(before.is_none() && *c == 0) {
                self.rows.push(Row { index, time, series: Series::SwarmTaskStatus { status: s, count: *c } });
                self.written.status.insert(s, *c);
            }
        }
    }

    /// Step mode: every series, as of `time`.
    fn emit_all(&mut self, time: Timestamp) {
        let index = self.index;
        self.rows.push(Row { index, time, series: self.m.swarm() });
        for (id, r) in &self.m.nodes {
            self.rows.push(Row { index, time, series: node_series(id, r) });
        }
        for (s, c) in &self.m.status {
            self.rows.push(Row { index, time, series: Series::SwarmTaskStatus { status: s, count: *c } });
        }
    }

    /// Step mode: write every sample time before `until` (the state so far holds for them).
    fn emit_steps_before(&mut self, until: Timestamp) {
        let Some(step) = self.step else { return };
        while let Some(t) = self.next.filter(|t| *t < until) {
            self.emit_all(t);
            self.next = t.checked_add(step).ok();
        }
    }

    /// An entry ended: its actions are all applied.
    fn close(&mut self) {
        if self.open.take().is_some() {
            self.pending_base = false;
            if self.step.is_none() {
                self.emit_changes();
            }
        }
    }

    /// A new entry begins at `at`.
    fn begin(&mut self, index: u64, time: Option<Timestamp>) {
        self.close();
        if let Some(t) = time {
            let t = match self.time {
                Some(prev) if t < prev => {
                    self.clamped += 1;
                    prev
                }
                _ => t,
            };
            if let Some(step) = self.step {
                if self.next.is_none() {
                    self.next = Some(ceil_to(t, step));
                }
                // Samples before this entry's time see the state before it.
                self.emit_steps_before(t);
            }
            self.time = Some(t);
        }
        self.open = Some(index);
    }

    fn finish(&mut self) {
        self.close();
        if self.pending_base && self.step.is_none() {
            // A snapshot past the last entry: its state, at the last time known.
            self.emit_changes();
        }
        if let (Some(step), Some(t)) = (self.step, self.time) {
            // Up to the first sample at or after the last entry: it shows the final state.
            self.emit_steps_before(ceil_to(t, step) + SignedDuration::from_nanos(1));
        }
    }
}

fn node_series(id: &str, r: &NodeRes) -> Series {
    Series::SwarmNode { node_id: id.to_string(), node_hostname: r.0.clone(), cpu_shares: r.1, memory: r.2 }
}

/// The first multiple of `step` (counted from the Unix epoch) at or after `t`.
pub fn ceil_to(t: Timestamp, step: SignedDuration) -> Timestamp {
    let s = step.as_nanos().max(1);
    let n = t.as_nanosecond();
    let c = n.div_euclid(s) * s + if n.rem_euclid(s) == 0 { 0 } else { s };
    Timestamp::from_nanosecond(c).unwrap_or(t)
}

/// Parse a `--step` value: `30s`, `1m`, `5m30s`, `1h`, or ISO 8601 (`PT1M`); it must be positive.
pub fn parse_step(s: &str) -> Result<SignedDuration, String> {
    let d: SignedDuration = s.trim().parse().map_err(|e| format!("--step {s:?}: not a duration ({e})"))?;
    if d.as_nanos() < 1_000_000 {
        return Err(format!("--step {s:?}: must be at least 1ms"));
    }
    Ok(d)
}

/// The time span of the log's committed entries (first and last entry time), from the load's
/// entry summaries.
fn span(a: &Analysis) -> Option<(Timestamp, Timestamp)> {
    let commit = a.rules().commit_index();
    let mut it =
        a.entries.iter().filter(|e| e.overwritten_by_term.is_none() && e.index <= commit).filter_map(|e| e.time);
    let first = it.next()?;
    let last = it.fold(first, |m, t| m.max(t));
    Some((first, last))
}

/// The series of a loaded input (entries decoded: [`crate::replay::analysis::Detail::Entries`]),
/// at every committed change or, with `step`, at every multiple of it.
pub fn compute(a: &Analysis, step: Option<SignedDuration>) -> Result<Metrics, String> {
    if let (Some(st), Some((first, last))) = (step, span(a)) {
        let n = last.duration_since(first).as_nanos() / st.as_nanos().max(1);
        if n > MAX_STEPS as i128 {
            return Err(format!(
                "--step {st:#}: the log spans {:#}, which would make {n} points per series (at most {MAX_STEPS}); use a larger step",
                last.duration_since(first)
            ));
        }
    }
    let mut b = Builder {
        m: Mirror::default(),
        step,
        rows: Vec::new(),
        written: Written::default(),
        index: 0,
        time: None,
        open: None,
        next: None,
        pending_base: false,
        clamped: 0,
    };
    let findings = walk(a, false, |s| match s {
        Step::Base { index, store, .. } => {
            // A base met mid-walk (a hole in the log bridged by a snapshot) is a change too: it
            // is written with the next entry applied on it.
            b.close();
            b.m.load(store);
            b.index = index;
            b.pending_base = true;
        }
        Step::Action { at, verb, before, after } if at.committed && at.overwritten_by_term.is_none() => {
            if b.open != Some(at.index) {
                b.begin(at.index, at.time);
            }
            b.m.apply(verb, before, after);
            b.index = at.index;
        }
        _ => {}
    });
    b.finish();
    let mut notes = Vec::new();
    if b.time.is_none() {
        notes.push("no committed entry of this log carries a time: there is nothing to timestamp a point with".into());
    }
    if b.clamped > 0 {
        notes.push(format!(
            "{} entries carry a time earlier than the entry before them (clocks of different managers): they are stamped with the previous time",
            b.clamped
        ));
    }
    Ok(Metrics { rows: b.rows, step, notes, findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_round_up_to_multiples_of_the_step() {
        let t: Timestamp = "2026-11-27T11:23:17.5Z".parse().unwrap();
        let m = parse_step("1m").unwrap();
        assert_eq!(ceil_to(t, m).to_string(), "2026-11-27T11:24:00Z");
        let exact: Timestamp = "2026-11-27T11:24:00Z".parse().unwrap();
        assert_eq!(ceil_to(exact, m), exact);
        assert_eq!(parse_step("PT30S").unwrap(), SignedDuration::from_secs(30));
        assert!(parse_step("0s").is_err());
        assert!(parse_step("-1m").is_err());
        assert!(parse_step("soon").is_err());
    }

    #[test]
    fn the_mirror_follows_the_store_semantics() {
        use crate::pb::docker::swarmkit::v1 as api;
        let task = |id: &str, state: i32| {
            Object::Task(api::Task {
                id: id.into(),
                status: Some(api::TaskStatus { state, ..Default::default() }),
                ..Default::default()
            })
        };
        let mut st = Store::default();
        let mut m = Mirror::default();
        let acts = [
            (Verb::Create, task("a", 512)),
            (Verb::Create, task("b", 512)),
            (Verb::Update, task("a", 704)),
            (Verb::Remove, task("b", 512)),
            (Verb::Remove, task("zz", 512)),
            (Verb::Update, task("c", 640)),
            (Verb::Create, task("c", 0)),
            (Verb::Unknown, task("d", 512)),
        ];
        for (verb, o) in acts {
            let before = st.get(Kind::Task, o.id());
            m.apply(verb, before.as_ref(), &o);
            st.apply(verb, o);
            let mut want: BTreeMap<&str, u64> = BTreeMap::new();
            for s in st.iter(Kind::Task).filter_map(|o| status_of(&o)) {
                *want.entry(s).or_default() += 1;
            }
            let got: BTreeMap<&str, u64> = m.status.iter().filter(|(_, c)| **c > 0).map(|(k, c)| (*k, *c)).collect();
            assert_eq!(got, want);
            assert_eq!(m.tasks, st.count(Kind::Task) as u64);
        }
    }
}
