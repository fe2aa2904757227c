//! Points of the log (a raft index, a wall-clock time, a snapshot file, the end) and the state at
//! one of them, through the one engine ([`crate::replay::engine`]) with its rules.

use crate::error::{Code, Error, Result};
use crate::replay::analysis::Analysis;
pub use crate::replay::engine::Replayed;
use crate::replay::engine::{Replay, Rules, Start, StateOnly};

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

/// Resolve a point to a raft index (and, for snapshot points, the snapshot's position).
pub fn resolve(a: &Analysis, p: &Point, include_uncommitted: bool) -> Result<(u64, Option<usize>)> {
    let rules = Rules::new(&a.wal, include_uncommitted);
    match p {
        Point::Index(i) => Ok((*i, None)),
        Point::Last => Ok((rules.end(&a.wal, &a.snapshots), None)),
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
            let end = rules.end(&a.wal, &a.snapshots);
            let mut best: Option<u64> = None;
            for e in a.entries.iter().filter(|e| e.overwritten_by_term.is_none()) {
                if e.index > end {
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

/// Replay to a point.
pub fn replay(a: &Analysis, p: &Point, include_uncommitted: bool) -> Result<Replayed> {
    replay_from(a, p, include_uncommitted, Base::Auto)
}

/// Start the engine for a point: the target index it is clamped to, and the replay positioned at
/// its base (not yet advanced).
pub fn start<'a>(
    a: &'a Analysis,
    p: &Point,
    include_uncommitted: bool,
    base_choice: Base,
) -> Result<(u64, Replay<'a>)> {
    let rules = Rules::new(&a.wal, include_uncommitted);
    let (mut target, snap_only) = resolve(a, p, include_uncommitted)?;
    let mut notes = Vec::new();
    let start = match (snap_only, base_choice) {
        (Some(i), Base::Auto) => Start::Snapshot(i),
        (_, Base::Snapshot(i)) => {
            if a.snapshots.get(i).is_none_or(|s| !s.valid || s.index > target) {
                return Err(Error::Usage("the chosen base snapshot is not usable for this target".into()));
            }
            Start::Snapshot(i)
        }
        (_, Base::Empty) => Start::Empty,
        (None, Base::Auto) => {
            let limit = rules.end(&a.wal, &a.snapshots);
            if target > limit {
                notes.push(format!(
                    "index {target} is past the last {} entry ({limit}); showing the state at {limit}",
                    if include_uncommitted { "available" } else { "committed" }
                ));
                target = limit;
            }
            Start::For(target)
        }
    };
    if snap_only.is_some() {
        target = a.snapshots[snap_only.unwrap_or(0)].index;
    }
    let mut r = Replay::start(a.log(), rules, start).map_err(Error::Usage)?;
    if let Some(f) = rules.finding(&a.wal) {
        r.r.notes.push(f.message.clone());
        r.r.findings.insert(0, f);
    }
    r.r.notes.splice(0..0, notes);
    Ok((target, r))
}

/// Replay to a point from a chosen base.
pub fn replay_from(a: &Analysis, p: &Point, include_uncommitted: bool, base_choice: Base) -> Result<Replayed> {
    let (target, mut r) = start(a, p, include_uncommitted, base_choice)?;
    if !(matches!(p, Point::Snapshot(_)) && base_choice == Base::Auto) {
        r.advance_to(target, &mut StateOnly);
    }
    let mut out = r.finish();
    for f in out.findings.iter().filter(|f| f.code != Code::WalNoHardState) {
        out.notes.push(f.to_string());
    }
    Ok(out)
}

/// What cuts the readable log short, for a view that reaches `index`: the WAL's frame damage
/// (a CRC that fails, a copy cut short, a missing segment) when `index` is at or past the last
/// readable entry, since entries written after the damage cannot be read; and, at any index, an
/// archive cut short (`input.tarball_truncated`), whose missing members may hold anything. A view
/// before the WAL's damage is whole. `state` and `timeline` both say these findings and exit 1.
pub fn log_cut(a: &Analysis, index: u64) -> Vec<crate::error::Finding> {
    let at_end = index >= a.wal.last_index().unwrap_or(0);
    let wal = a.wal.findings.iter().filter(|f| at_end && f.severity == crate::error::Severity::Error);
    let input = a.findings.iter().filter(|f| f.code == Code::InputTarballTruncated);
    wal.chain(input).cloned().collect()
}

/// The leader at the end of the log, when the data says it: the node this manager voted for in
/// the term of its last entries (every entry of a term is proposed by that term's leader, and a
/// manager votes once per term). Only meaningful for a state at the end of the log.
pub fn probable_leader(a: &Analysis, r: &Replayed) -> Option<u64> {
    let (hs, ..) = a.wal.hard_state?;
    let last = a.wal.entries.last()?;
    (r.index >= last.index && last.term == hs.term && hs.vote != 0).then_some(hs.vote)
}
