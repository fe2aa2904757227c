//! Replay: the state of the store at any point of the log.
//!
//! A point is a raft index, a wall-clock time, or a snapshot file. Rules:
//! - Start from the newest *valid* snapshot at or before the target (older kept snapshots are
//!   used when newer ones are damaged), or from an empty store when the WAL reaches back to
//!   index 1.
//! - Apply the store actions of committed, live entries up to the target; with
//!   `include_uncommitted`, also live entries past `HardState.commit` (they are listed).
//! - Entries overwritten by a later term are never applied.
//! - Membership follows the snapshot's `ClusterSnapshot` plus ConfChange entries.
//! - Memory holds the live objects plus the per-entry index of the WAL (zero-copy slices of the
//!   input), not decoded copies of the log: entries are decrypted and decoded in parallel
//!   batches of [`STEP_BATCH`] and applied in order; a base snapshot is read object by object.

use crate::analysis::{Analysis, Decoded, apply_conf, decode_entry, release_entries, snapshot_state};
use crate::error::{Error, Result};
use crate::store::{Membership, Store};
use crate::wal::EntryRec;

/// A point in the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Point {
    /// After applying the entry with this raft index.
    Index(u64),
    /// The last entry whose wall-clock time is at or before this time.
    Time(jiff::Timestamp),
    /// Exactly the content of this snapshot file (name or path ending).
    Snapshot(String),
    /// The last committed entry (or the last entry with uncommitted ones included).
    Last,
}

impl Point {
    /// Parse a `diff --from/--to` value: an index, an RFC 3339 time, or a `.snap` file name.
    pub fn parse(s: &str) -> Result<Point> {
        if let Ok(i) = s.parse::<u64>() {
            return Ok(Point::Index(i));
        }
        if s.ends_with(".snap") {
            return Ok(Point::Snapshot(s.to_string()));
        }
        if s == "last" || s == "end" {
            return Ok(Point::Last);
        }
        parse_time(s).map(Point::Time)
    }
}

/// Parse an RFC 3339 time (a bare date-time without offset is taken as UTC).
pub fn parse_time(s: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let with_z = format!("{s}Z");
    with_z
        .parse::<jiff::Timestamp>()
        .map_err(|e| Error::Usage(format!("{s:?} is not a raft index, an RFC 3339 time or a .snap file: {e}")))
}

/// A replayed state.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// Index the state is at.
    pub index: u64,
    /// Term of that entry (or of the snapshot).
    pub term: u64,
    /// Wall-clock time of the last applied entry that carried one.
    pub time: Option<jiff::Timestamp>,
    /// The store.
    pub store: Store,
    /// Raft membership.
    pub membership: Membership,
    /// The snapshot file the replay started from.
    pub base: Option<String>,
    /// Number of entries applied on top of the base.
    pub applied: usize,
    /// Uncommitted entries that were applied (only with `include_uncommitted`).
    pub uncommitted: Vec<u64>,
    /// Things the reader should know (clamped target, fallbacks).
    pub notes: Vec<String>,
}

fn last_applicable(a: &Analysis, include_uncommitted: bool) -> u64 {
    let commit = a.wal.commit();
    let last_live = a.wal.last_index().unwrap_or(0);
    let snap_max = a.snapshots.iter().filter(|s| s.valid).map(|s| s.index).max().unwrap_or(0);
    let log_end = if include_uncommitted || a.wal.hard_state.is_none() { last_live } else { commit.min(last_live) };
    log_end.max(snap_max)
}

/// Resolve a point to a raft index (and, for snapshot points, the snapshot's position).
pub fn resolve(a: &Analysis, p: &Point, include_uncommitted: bool) -> Result<(u64, Option<usize>)> {
    match p {
        Point::Index(i) => Ok((*i, None)),
        Point::Last => Ok((last_applicable(a, include_uncommitted), None)),
        Point::Snapshot(name) => {
            let base = name.rsplit('/').next().unwrap_or(name);
            let i = a
                .snapshots
                .iter()
                .position(|s| s.file == base)
                .ok_or_else(|| Error::Usage(format!("no snapshot file {base} in this input")))?;
            if !a.snapshots[i].valid {
                return Err(Error::Usage(format!(
                    "snapshot {base} is not usable: {}",
                    a.snapshots[i].problem.clone().unwrap_or_default()
                )));
            }
            Ok((a.snapshots[i].index, Some(i)))
        }
        Point::Time(t) => {
            let commit = a.wal.commit();
            let mut best: Option<u64> = None;
            for e in a.entries.iter().filter(|e| e.overwritten_by_term.is_none()) {
                if !include_uncommitted && a.wal.hard_state.is_some() && e.index > commit {
                    break;
                }
                match e.time {
                    Some(et) if et > *t => break,
                    _ => best = Some(e.index),
                }
            }
            match best {
                Some(i) => Ok((i, None)),
                None => Err(Error::Usage(format!("{t} is before the first entry of this log that carries a time"))),
            }
        }
    }
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The newest valid snapshot at or before the target (the normal choice).
    Auto,
    /// An empty store at index 0 (needs a WAL that reaches back to index 1).
    Empty,
    /// This snapshot (position in [`Analysis::snapshots`]).
    Snapshot(usize),
}

/// The store and membership of snapshot `i`, built object by object (the decoded `api.Snapshot`
/// is never held next to the store).
fn snapshot_store(a: &Analysis, i: usize) -> Result<(Store, Membership)> {
    let s = snapshot_state(a.snap_payloads[i].as_deref().unwrap_or(&[]), a.encrypted, &a.deks, true)
        .map_err(|e| Error::Usage(format!("snapshot {}: {e}", a.snapshots[i].file)))?;
    Ok((s.store.unwrap_or_default(), s.membership.unwrap_or_default()))
}

/// Entries decoded in parallel per step of [`Stepper::advance_to`].
const STEP_BATCH: usize = 1024;

/// Replay to a point.
pub fn replay(a: &Analysis, p: &Point, include_uncommitted: bool) -> Result<Replayed> {
    replay_from(a, p, include_uncommitted, Base::Auto)
}

/// Replay to a point from a chosen base.
pub fn replay_from(a: &Analysis, p: &Point, include_uncommitted: bool, base_choice: Base) -> Result<Replayed> {
    let (mut target, snap_only) = resolve(a, p, include_uncommitted)?;
    let mut notes = Vec::new();
    if let (Some(i), Base::Auto) = (snap_only, base_choice) {
        let (store, membership) = snapshot_store(a, i)?;
        return Ok(Replayed {
            index: a.snapshots[i].index,
            term: a.snapshots[i].term,
            time: None,
            membership,
            store,
            base: Some(a.snapshots[i].file.clone()),
            applied: 0,
            uncommitted: vec![],
            notes,
        });
    }
    let limit = last_applicable(a, include_uncommitted);
    if target > limit {
        notes.push(format!(
            "index {target} is past the last {} entry ({limit}); showing the state at {limit}",
            if include_uncommitted { "available" } else { "committed" }
        ));
        target = limit;
    }
    // Base: the newest valid snapshot at or before the target.
    let base = match base_choice {
        Base::Auto => (0..a.snapshots.len()).rev().find(|&i| a.snapshots[i].valid && a.snapshots[i].index <= target),
        Base::Empty => None,
        Base::Snapshot(i) => {
            if a.snapshots.get(i).is_none_or(|s| !s.valid || s.index > target) {
                return Err(Error::Usage("the chosen base snapshot is not usable for this target".into()));
            }
            Some(i)
        }
    };
    let newest_at_or_before = (0..a.snapshots.len()).rev().find(|&i| a.snapshots[i].index <= target);
    if let (Some(b), Some(n), Base::Auto) = (base, newest_at_or_before, base_choice) {
        if b != n {
            notes.push(format!(
                "snapshot {} is damaged; replaying from the older {}",
                a.snapshots[n].file, a.snapshots[b].file
            ));
        }
    }
    let first_live = a.wal.first_index().unwrap_or(u64::MAX);
    // A snapshot counted valid from its container alone (Detail::Structure) may still fail to
    // decrypt or decode: then fall back to the next older one, as Docker cannot use it either.
    let mut base = base;
    let mut built = None;
    while let Some(i) = base {
        match snapshot_store(a, i) {
            Ok(x) => {
                built = Some(x);
                break;
            }
            Err(e) if base_choice == Base::Auto && !a.snapshots[i].payload_checked => {
                let older = (0..i).rev().find(|&j| a.snapshots[j].valid && a.snapshots[j].index <= target);
                notes.push(match older {
                    Some(j) => format!("{e}; replaying from the older {}", a.snapshots[j].file),
                    None => e.to_string(),
                });
                base = older;
            }
            Err(e) => return Err(e),
        }
    }
    let (store, membership, base_index, base_term, base_name) = match (base, built) {
        (Some(i), Some((store, membership))) => {
            (store, membership, a.snapshots[i].index, a.snapshots[i].term, Some(a.snapshots[i].file.clone()))
        }
        _ if first_live <= 1 || target == 0 => (Store::default(), Membership::default(), 0, 0, None),
        _ => {
            return Err(Error::Usage(format!(
                "no usable snapshot at or before index {target}, and the WAL starts at {first_live}: the state at {target} cannot be rebuilt from this input"
            )));
        }
    };
    if target > base_index && first_live > base_index + 1 && first_live != u64::MAX {
        notes.push(format!(
            "entries {}-{} are missing between the snapshot and the WAL: the state is incomplete",
            base_index + 1,
            first_live - 1
        ));
    }
    let mut st = Stepper {
        a,
        include_uncommitted,
        pos: a.wal.entries.partition_point(|e| e.index <= base_index),
        r: Replayed {
            index: base_index,
            term: base_term,
            time: None,
            store,
            membership,
            base: base_name,
            applied: 0,
            uncommitted: Vec::new(),
            notes,
        },
    };
    st.advance_to(target);
    Ok(st.r)
}

/// Moves a replayed state forward one entry at a time (for walking a window of indexes without
/// replaying from the base again at each step).
pub struct Stepper<'a> {
    a: &'a Analysis,
    include_uncommitted: bool,
    pos: usize,
    /// The state so far.
    pub r: Replayed,
}

impl<'a> Stepper<'a> {
    /// Start from a replayed state.
    pub fn new(a: &'a Analysis, r: Replayed, include_uncommitted: bool) -> Stepper<'a> {
        let pos = a.wal.entries.partition_point(|e| e.index <= r.index);
        Stepper { a, include_uncommitted, pos, r }
    }

    /// Whether the entry at `pos` may be applied (committed, or uncommitted ones included).
    fn applicable(&self, e: &EntryRec) -> bool {
        self.a.wal.hard_state.is_none() || e.index <= self.a.wal.commit() || self.include_uncommitted
    }

    fn apply_decoded(&mut self, e: &EntryRec, d: Decoded) {
        let is_committed = self.a.wal.hard_state.is_none() || e.index <= self.a.wal.commit();
        for (verb, obj) in d.actions {
            let _ = self.r.store.apply(verb, obj);
        }
        if let Some(c) = &d.conf {
            apply_conf(&mut self.r.membership, c);
        }
        if !is_committed {
            self.r.uncommitted.push(e.index);
        }
        if d.summary.time.is_some() {
            self.r.time = d.summary.time;
        }
        self.r.applied += 1;
        self.r.index = e.index;
        self.r.term = e.term;
        self.pos += 1;
    }

    /// Apply the next entry if it is applicable; returns its index.
    pub fn step(&mut self) -> Option<u64> {
        let e = self.a.wal.entries.get(self.pos)?;
        if !self.applicable(e) {
            return None;
        }
        let d = decode_entry(e, self.a.encrypted, &self.a.deks, "");
        self.apply_decoded(e, d);
        Some(e.index)
    }

    /// Apply entries up to and including `target` (the same entries [`Stepper::step`] would,
    /// decrypted and decoded in parallel batches, applied in log order; the next batch decodes on
    /// the pool while this thread applies the current one).
    pub fn advance_to(&mut self, target: u64) {
        use rayon::prelude::*;
        let a: &'a Analysis = self.a;
        let entries = &a.wal.entries;
        let batch_end = |st: &Self, from: usize| {
            let mut end = from;
            while end < entries.len()
                && end - from < STEP_BATCH
                && entries[end].index <= target
                && st.applicable(&entries[end])
            {
                end += 1;
            }
            end
        };
        let decode = |r: std::ops::Range<usize>| -> Vec<Decoded> {
            let out = entries[r.clone()].par_iter().map(|e| decode_entry(e, a.encrypted, &a.deks, "")).collect();
            release_entries(&a.source, entries[r].iter());
            out
        };
        let mut cur = self.pos..batch_end(self, self.pos);
        let mut decoded = decode(cur.clone());
        while !cur.is_empty() {
            let next = cur.end..batch_end(self, cur.end);
            let (n, ()) = rayon::join(
                || if next.is_empty() { Vec::new() } else { decode(next.clone()) },
                || {
                    for (e, d) in entries[cur.clone()].iter().zip(std::mem::take(&mut decoded)) {
                        self.apply_decoded(e, d);
                    }
                },
            );
            decoded = n;
            cur = next;
        }
    }
}

/// The leader at the end of the log, when the data says it: the node this manager voted for in
/// the term of its last entries (every entry of a term is proposed by that term's leader, and a
/// manager votes once per term). Only meaningful for a state at the end of the log.
pub fn probable_leader(a: &Analysis, r: &Replayed) -> Option<u64> {
    let (hs, ..) = a.wal.hard_state?;
    let last = a.wal.entries.last()?;
    (r.index >= last.index && last.term == hs.term && hs.vote != 0).then_some(hs.vote)
}
