//! The replay engine: the one loop that turns a snapshot plus the WAL into store state. Every
//! command that shows or checks state runs it: the final state of a load, `state --at`, `diff`,
//! `history`, `timeline`, the charts, `archive`, `managers`, verify's store checks, `salvage`.
//!
//! In the spirit of raft-engine's `ReplayMachine`, what a command wants from the walk is a
//! [`Visitor`] plugged into the loop, not a loop of its own. The engine owns the rules:
//!
//! - **One commit rule** ([`Rules`]): an entry is committed when it is live (not overwritten by a
//!   later term) and its index is at or below `HardState.commit`. When the WAL holds no
//!   HardState at all the commit index is unknown: the engine then takes the end of the live log
//!   as the commit point ([`Commit::Unknown`]; what a lone manager restarting on this log would
//!   commit itself), and [`Rules::finding`] says so once, in every command's output.
//! - **One base-snapshot choice** ([`choose_base`]): the newest valid snapshot at or below the
//!   target. A snapshot counted valid from its container alone (a structure-only load) that then
//!   fails to decrypt or decode is replaced by the next older one, with a note. Walks that want
//!   every version of the objects start as early as the log can be read ([`Start::Earliest`]).
//! - **What applies**: live entries above the base, committed ones only unless
//!   `include_uncommitted`. Overwritten entries are visited (when asked) but never applied.
//! - **Nothing is dropped**: a store action that does not fit the store (create of an existing
//!   ID, update or remove of a missing one) is applied as well as it can be and becomes a
//!   `replay.anomaly` finding; an entry that should apply but cannot be read becomes a
//!   `replay.entry_unreadable` finding, with file, offset, index and term.
//!
//! Memory: the live store, plus one batch of decoded entries being applied and one being decoded
//! on the pool ([`BATCH`] entries or [`BATCH_BYTES`] of entry data each, whichever comes first).
//! Mapped pages under a decoded batch are released.

use crate::crypto::Dek;
use crate::decode::entry::{Decoded, DecodedEntry, Encoded, Payload, Want, conf_change_name, decode_entry_with};
use crate::decode::object::{Membership, Object, Verb};
use crate::decode::snapshot::WireSizes;
use crate::error::{Code, Finding, Severity};
use crate::format::wal::release_entries;
use crate::format::wal::{EntryRec, WalLog};
use crate::input::source::Source;
use crate::pb::docker::swarmkit::v1 as api;
use crate::replay::store::{Keep, PackedObject, Store, snapshot_store};
use serde::Serialize;

/// Split entries into batches of at most [`BATCH`] entries and [`BATCH_BYTES`] of data (at least
/// one entry each).
pub fn batches<'e, 'a>(entries: &'e [&'a EntryRec]) -> impl Iterator<Item = &'e [&'a EntryRec]> {
    let mut rest = entries;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut n, mut bytes) = (0, 0);
        while n < rest.len() && n < BATCH && (n == 0 || bytes < BATCH_BYTES) {
            bytes += rest[n].data.len();
            n += 1;
        }
        let (a, b) = rest.split_at(n);
        rest = b;
        Some(a)
    })
}

/// An entry to decode: its position in log order, whether to check it on the wire only, and
/// whether it applies.
type Planned = (usize, (bool, bool));

/// A decoded entry ready to apply: its actions as objects (for steps) or already packed for
/// the store.
struct Ready {
    d: Decoded,
    packed: Vec<(Verb, PackedObject)>,
}

/// A snapshot file with its decoded payload summary.
#[derive(Debug, Clone, Serialize)]
pub struct SnapInfo {
    /// File name.
    pub file: String,
    /// Display path.
    #[serde(skip)]
    pub display: String,
    /// Term.
    pub term: u64,
    /// Index.
    pub index: u64,
    /// Size.
    pub bytes: u64,
    /// Container sound, payload decrypted and decoded.
    pub valid: bool,
    /// ConfState voters (hex raft IDs in JSON).
    #[serde(serialize_with = "crate::format::hex_ids")]
    pub voters: Vec<u64>,
    /// Which DEK decrypted it.
    pub dek: Option<String>,
    /// Membership in the snapshot.
    pub membership: Option<Membership>,
    /// Object counts by kind.
    pub objects: std::collections::BTreeMap<String, usize>,
    /// Why it is not valid.
    pub problem: Option<String>,
    /// Whether the WAL holds a marker for this snapshot.
    pub has_marker: bool,
    /// Whether the payload was decrypted and decoded (false: container checks only, see
    /// [`Detail::Structure`]; `valid` then means a sound container).
    pub payload_checked: bool,
    /// The payload's sizes on the wire, when it was read.
    #[serde(skip)]
    pub wire: Option<WireSizes>,
}

/// Entries decoded in parallel per batch, at most.
pub const BATCH: usize = 2048;

/// Entry data decoded per batch, at most (a batch always holds at least one entry). Entries can
/// be large (a config carries up to 500 KB, a big service update a few MB): bounding the batch
/// by bytes keeps decrypted plaintext and decoded objects in flight to a few times this, however
/// the WAL's entries are sized. Decoded objects are about 20 times their encoding, and the
/// allocator returns a batch's pages only once it is done with them: on a real 303 MB WAL whose
/// entries each create 200 tasks, `info` peaked at 216 MB with 8 MiB batches and at 134 MB
/// with 2 MiB, in the same time (1 MiB and 512 KiB gave no further gain).
pub const BATCH_BYTES: usize = 2 << 20;

/// What the commit index is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "commit", rename_all = "snake_case")]
pub enum Commit {
    /// The last `HardState.commit` of the WAL.
    Known {
        /// The index.
        index: u64,
    },
    /// The WAL holds no HardState record: taken as the end of the live log.
    Unknown {
        /// The end of the live log, used as the commit point.
        assumed: u64,
    },
}

/// The rules every replay follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The commit index.
    pub commit: Commit,
    /// Also apply live entries past the commit index.
    pub include_uncommitted: bool,
}

impl Rules {
    /// The rules for this WAL.
    pub fn new(wal: &WalLog, include_uncommitted: bool) -> Rules {
        let commit = match wal.hard_state {
            Some(_) => Commit::Known { index: wal.commit() },
            None => Commit::Unknown { assumed: wal.last_index().unwrap_or(0) },
        };
        Rules { commit, include_uncommitted }
    }

    /// The commit index in effect (known, or assumed).
    pub fn commit_index(&self) -> u64 {
        match self.commit {
            Commit::Known { index } => index,
            Commit::Unknown { assumed } => assumed,
        }
    }

    /// Whether `HardState.commit` was read from the WAL.
    pub fn commit_known(&self) -> bool {
        matches!(self.commit, Commit::Known { .. })
    }

    /// Committed: live and at or below the commit index.
    pub fn committed(&self, e: &EntryRec) -> bool {
        e.overwritten_by.is_none() && e.index <= self.commit_index()
    }

    /// Applied to the store (above the base): live, and committed unless uncommitted entries
    /// are included.
    pub fn applies(&self, e: &EntryRec) -> bool {
        e.overwritten_by.is_none() && (self.include_uncommitted || e.index <= self.commit_index())
    }

    /// The last index a replay can reach: the end of the committed (or, with uncommitted entries
    /// included, the live) log, or the newest valid snapshot when it is further.
    pub fn end(&self, wal: &WalLog, snapshots: &[SnapInfo]) -> u64 {
        let last_live = wal.last_index().unwrap_or(0);
        let log_end = if self.include_uncommitted { last_live } else { self.commit_index().min(last_live) };
        let snap_max = snapshots.iter().filter(|s| s.valid).map(|s| s.index).max().unwrap_or(0);
        log_end.max(snap_max)
    }

    /// The finding that says how the commit index was decided, when it was not read: the same
    /// words for every command.
    pub fn finding(&self, wal: &WalLog) -> Option<Finding> {
        let Commit::Unknown { assumed } = self.commit else { return None };
        // No WAL at all (a bare dir of snapshots): there is no log to hold a HardState.
        if wal.segments.is_empty() {
            return None;
        }
        let first = wal.first_index();
        let range = match first {
            Some(f) if f <= assumed => format!("entries {f}-{assumed} are treated as committed"),
            _ => "no entry is affected".into(),
        };
        Some(
            Finding::new(
                Code::WalNoHardState,
                Severity::Warning,
                format!(
                    "the WAL holds no HardState record, so the commit index is unknown: {range} (the end of the log, what a lone manager restarting on it would commit), but none of them is proven committed"
                ),
            )
            .index(first.unwrap_or(0)),
        )
    }
}

/// The newest valid snapshot at or below `target`.
pub fn choose_base(snapshots: &[SnapInfo], target: u64) -> Option<usize> {
    (0..snapshots.len()).rev().find(|&i| snapshots[i].valid && snapshots[i].index <= target)
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The base for this target ([`choose_base`]), falling back to older snapshots that read.
    For(u64),
    /// As early as the log can be read: an empty store when the WAL reaches back to index 1 and
    /// every intact live entry up to the first snapshot reads, else the oldest valid snapshot
    /// above the last intact entry no key opens. A damaged entry (its record's CRC fails) is
    /// walked through (a finding), and the state is taken again from the first valid snapshot at
    /// or past it. For walks that want every version of the objects.
    Earliest,
    /// An empty store at index 0.
    Empty,
    /// This snapshot (position in the snapshot list), exactly.
    Snapshot(usize),
}

/// The parts of a loaded input a replay reads.
#[derive(Clone, Copy)]
pub struct Log<'a> {
    /// The scanned WAL.
    pub wal: &'a WalLog,
    /// Snapshots, oldest first.
    pub snapshots: &'a [SnapInfo],
    /// Each snapshot's payload.
    pub payloads: &'a [Option<bytes::Bytes>],
    /// Whether payloads are encrypted.
    pub encrypted: bool,
    /// Usable DEKs.
    pub deks: &'a [Dek],
    /// The input (to release mapped pages).
    pub source: &'a Source,
    /// Entry summaries the load kept (for [`Start::Earliest`]: which entries do not read).
    pub entries: &'a [DecodedEntry],
    /// What the replay's stores keep (the base snapshot's and any it bridges to).
    pub keep: Keep,
    /// Show the replay's progress (the base snapshot read, then the entries decoded) on stderr.
    pub progress: bool,
}

/// Where an entry is, and what the rules say of it.
#[derive(Debug, Clone, Serialize)]
pub struct At {
    /// Raft index.
    pub index: u64,
    /// Term.
    pub term: u64,
    /// Time (from the objects; carried forward from the previous entry when absent).
    pub time: Option<jiff::Timestamp>,
    /// Committed on this manager.
    pub committed: bool,
    /// Set when a later term overwrote this entry (it was never applied).
    pub overwritten_by_term: Option<u64>,
}

/// What a walk reports.
pub enum Step<'a> {
    /// The base snapshot was loaded (its objects are "already there").
    Base {
        /// Snapshot file.
        file: &'a str,
        /// Its index.
        index: u64,
        /// The store loaded.
        store: &'a Store,
    },
    /// A store action.
    Action {
        /// Where.
        at: &'a At,
        /// Verb.
        verb: Verb,
        /// The version before (None on create, or when the object was unknown).
        before: Option<&'a Object>,
        /// The object carried by the action.
        after: &'a Object,
    },
    /// A membership change.
    Conf {
        /// Where.
        at: &'a At,
        /// ConfChange type name.
        change: &'static str,
        /// Raft ID.
        raft_id: u64,
        /// Node ID and address from the context.
        member: Option<(String, String)>,
    },
    /// The first entry of a new term.
    Term {
        /// Where.
        at: &'a At,
        /// Previous term.
        from: u64,
    },
}

/// Which entries a visitor sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only entries that are applied.
    Applied,
    /// Every entry above the base, applied or not (uncommitted, overwritten).
    AfterBase,
    /// Every entry of the log, including those the base snapshot covers.
    All,
}

/// What a command plugs into the loop. Every method has a default that does nothing.
pub trait Visitor: Send {
    /// Which entries to decode and visit.
    fn scope(&self) -> Scope {
        Scope::Applied
    }
    /// Check entries that are not applied on the wire (verbs and kinds only, no objects).
    fn unapplied_on_wire(&self) -> bool {
        false
    }
    /// Whether [`Visitor::step`] is wanted (it costs a copy of each object's previous version).
    fn wants_steps(&self) -> bool {
        false
    }
    /// A step of the walk, in log order.
    fn step(&mut self, _s: Step<'_>) {}
    /// Each visited entry, decoded and classified (`committed`, `in_snapshot` set), in log order,
    /// after its actions were applied (when `applied`).
    fn entry(&mut self, _e: DecodedEntry, _applied: bool) {}
}

/// A visitor that only builds the state.
pub struct StateOnly;
impl Visitor for StateOnly {}

/// A visitor from a closure over [`Step`]s, for walks over every entry after the base.
pub struct Steps<F: FnMut(Step<'_>) + Send>(pub F);
impl<F: FnMut(Step<'_>) + Send> Visitor for Steps<F> {
    fn scope(&self) -> Scope {
        Scope::AfterBase
    }
    fn wants_steps(&self) -> bool {
        true
    }
    fn step(&mut self, s: Step<'_>) {
        (self.0)(s)
    }
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
    /// Index of the base (0 without one).
    pub base_index: u64,
    /// Number of entries applied on top of the base (an entry that cannot be read is not counted:
    /// it is in [`Replayed::unreadable`]).
    pub applied: usize,
    /// Uncommitted entries that were applied (only with `include_uncommitted`).
    pub uncommitted: Vec<u64>,
    /// Entries that should have been applied but could not be read.
    pub unreadable: Vec<u64>,
    /// How the commit index was decided.
    pub commit: Commit,
    /// Things the reader should know (clamped target, fallbacks, gaps).
    pub notes: Vec<String>,
    /// What the replay found: store anomalies, unreadable entries, missing ranges.
    pub findings: Vec<Finding>,
}

/// The engine: a state at some index, moved forward by [`Replay::advance_to`].
pub struct Replay<'a> {
    log: Log<'a>,
    rules: Rules,
    /// Live and overwritten entries in log order (overwritten before the live one at an index).
    order: Vec<&'a EntryRec>,
    pos: usize,
    /// Entries at or below this index are neither visited nor applied (checked elsewhere).
    skip_through: Option<u64>,
    last_term: u64,
    last_time: Option<jiff::Timestamp>,
    base_visited: bool,
    /// The first entry applied since the base that could not be read: the store lacks its
    /// changes until a snapshot at or past it is loaded.
    damaged_since: Option<u64>,
    /// Progress: the base snapshot's bytes, then the entries' bytes each advance decodes.
    bar: crate::progress::Bar,
    /// Whether the bar is in its entries stage.
    bar_entries: bool,
    /// The state so far.
    pub r: Replayed,
}

fn log_order(wal: &WalLog) -> Vec<&EntryRec> {
    let mut all: Vec<&EntryRec> = wal.entries.iter().chain(wal.overwritten.iter()).collect();
    all.sort_by_key(|e| (e.index, e.overwritten_by.is_none(), e.seg, e.offset));
    all
}

/// The oldest snapshot from which the log can be replayed (None: from an empty store). Intact
/// entries that no key opens (a retired DEK: their records' CRCs match) move the start past
/// them, as before a rotation's snapshot nothing else can be read. Entries whose record is
/// damaged (CRC fails) do not: the walk goes through them (each is a `replay.entry_unreadable`
/// finding) and takes the state again from the first valid snapshot at or past them
/// ([`Replay::advance_to`]), so nothing before the damage is dropped.
fn earliest_base(log: &Log<'_>) -> Option<usize> {
    let first = log.wal.first_index().unwrap_or(u64::MAX);
    let damaged = |e: &DecodedEntry| {
        log.wal.segments.iter().position(|s| s.display == e.file).is_some_and(|seg| log.wal.crc_failed(seg, e.offset))
    };
    let unreadable = log
        .entries
        .iter()
        .filter(|e| e.overwritten_by_term.is_none())
        .filter(|e| matches!(e.payload, Payload::Undecryptable { .. } | Payload::Undecodable { .. }))
        .filter(|e| !damaged(e))
        .map(|e| e.index)
        .max();
    if first <= 1 && unreadable.is_none() {
        return None;
    }
    let need = unreadable.unwrap_or(0).max(first.saturating_sub(1));
    let oldest_valid = log.snapshots.iter().position(|s| s.valid);
    log.snapshots.iter().position(|s| s.valid && s.index >= need).or(oldest_valid)
}

impl<'a> Replay<'a> {
    /// Start a replay: load the base, or fail when the state at the target cannot be rebuilt
    /// from this input at all.
    pub fn start(log: Log<'a>, rules: Rules, start: Start) -> Result<Replay<'a>, String> {
        let mut notes = Vec::new();
        let first_live = log.wal.first_index();
        let (mut base, exact, target) = match start {
            Start::For(t) => (choose_base(log.snapshots, t), false, t),
            Start::Earliest => (earliest_base(&log), false, u64::MAX),
            Start::Empty => (None, true, u64::MAX),
            Start::Snapshot(i) => {
                if log.snapshots.get(i).is_none_or(|s| !s.valid) {
                    return Err("the chosen snapshot is not usable".into());
                }
                (Some(i), true, log.snapshots[i].index)
            }
        };
        if let (Start::For(t), Some(b)) = (start, base) {
            if let Some(n) = (0..log.snapshots.len()).rev().find(|&i| log.snapshots[i].index <= t) {
                if n != b {
                    notes.push(format!(
                        "snapshot {} is damaged; replaying from the older {}",
                        log.snapshots[n].file, log.snapshots[b].file
                    ));
                }
            }
        }
        // A snapshot counted valid from its container alone may still fail to decrypt or decode:
        // then the next older one is used, as Docker could not use it either.
        let mut built = None;
        let bar = crate::progress::Bar::new(log.progress);
        if log.progress {
            bar.stage("reading base snapshot", 0);
        }
        while let Some(i) = base {
            let s = &log.snapshots[i];
            let payload = log.payloads[i].as_deref().unwrap_or(&[]);
            bar.grow(payload.len() as u64);
            // The store shares the plaintext, never the ciphertext: its mapped pages go as the
            // ciphertext is copied to be opened in place.
            let store = snapshot_store(payload, log.encrypted, log.deks, log.keep, &|b| log.source.release(b));
            bar.inc(payload.len() as u64);
            match store {
                Ok((st, ss)) => {
                    built = Some((st, ss.membership.unwrap_or_default()));
                    break;
                }
                Err(e) if !exact && !s.payload_checked => {
                    let older = (0..i).rev().find(|&j| log.snapshots[j].valid && log.snapshots[j].index <= target);
                    notes.push(match older {
                        Some(j) => {
                            format!("snapshot {}: {e}; replaying from the older {}", s.file, log.snapshots[j].file)
                        }
                        None => format!("snapshot {}: {e}", s.file),
                    });
                    base = older;
                }
                Err(e) => return Err(format!("snapshot {}: {e}", s.file)),
            }
        }
        let (base, store, membership) = match (base, built) {
            (Some(i), Some((st, m))) => (Some(i), st, m),
            _ => {
                let reaches_one = first_live.is_none_or(|f| f <= 1);
                if !reaches_one && !matches!(start, Start::Empty | Start::Earliest) && target > 0 {
                    return Err(format!(
                        "no usable snapshot at or before index {target}, and the WAL starts at {}: the state at {target} cannot be rebuilt from this input",
                        first_live.unwrap_or(0)
                    ));
                }
                (None, Store::new(log.keep), Membership::default())
            }
        };
        let mut r = Replay::from_base(log, rules, base, store, membership);
        r.bar = bar;
        r.r.notes = notes;
        r.r.findings.extend(gap_finding(log.wal, r.r.base_index));
        Ok(r)
    }

    /// Start from a store built elsewhere (the base snapshot a load already read).
    pub fn from_base(
        log: Log<'a>,
        rules: Rules,
        base: Option<usize>,
        store: Store,
        membership: Membership,
    ) -> Replay<'a> {
        let (base_index, base_term, base_name) = match base {
            Some(i) => (log.snapshots[i].index, log.snapshots[i].term, Some(log.snapshots[i].file.clone())),
            None => (0, 0, None),
        };
        Replay {
            log,
            rules,
            order: log_order(log.wal),
            pos: 0,
            skip_through: None,
            last_term: base_term,
            last_time: None,
            base_visited: false,
            damaged_since: None,
            bar: crate::progress::Bar::new(log.progress),
            bar_entries: false,
            r: Replayed {
                index: base_index,
                term: base_term,
                time: None,
                store,
                membership,
                base: base_name,
                base_index,
                applied: 0,
                uncommitted: Vec::new(),
                unreadable: Vec::new(),
                commit: rules.commit,
                notes: Vec::new(),
                findings: Vec::new(),
            },
        }
    }

    /// The rules of this replay.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// Entries at or below `index` are neither visited nor applied (they were checked by the
    /// caller, and the base covers them).
    pub fn skip_through(&mut self, index: u64) {
        self.skip_through = Some(index);
    }

    /// The index of the next live entry that would be applied, if any.
    pub fn peek_next(&self) -> Option<u64> {
        self.order[self.pos..]
            .iter()
            .find(|e| e.index > self.r.index && self.rules.applies(e))
            .filter(|e| e.index <= self.rules.end(self.log.wal, self.log.snapshots).max(self.r.index))
            .map(|e| e.index)
    }

    /// Apply (and visit) the next applicable entry only; returns its index.
    pub fn step(&mut self, v: &mut dyn Visitor) -> Option<u64> {
        let next = self.peek_next()?;
        self.advance_to(next, v);
        Some(next)
    }

    /// Decide what to do with one entry: `None` skips it, `Some((on_wire, applies))` decodes it.
    fn plan(&self, e: &EntryRec, scope: Scope, on_wire_unapplied: bool) -> Option<(bool, bool)> {
        if self.skip_through.is_some_and(|s| e.index <= s) {
            return None;
        }
        let above = e.index > self.r.base_index;
        let applies = above && self.rules.applies(e);
        match scope {
            _ if applies => Some((false, true)),
            Scope::Applied => None,
            Scope::AfterBase if !above => None,
            // Only entries the base covers may be checked on the wire: uncommitted and overwritten
            // ones are decoded in full, so their summaries name the objects.
            _ => Some((on_wire_unapplied && !above && e.overwritten_by.is_none(), false)),
        }
    }

    /// Apply entries up to and including `target`, visiting them as `v` asks. Entries are
    /// decrypted and decoded in parallel batches on the pool while this thread applies the
    /// previous batch in log order.
    pub fn advance_to(&mut self, target: u64, v: &mut dyn Visitor) {
        use rayon::prelude::*;
        if !self.base_visited {
            self.base_visited = true;
            if v.wants_steps() {
                if let Some(b) = &self.r.base {
                    v.step(Step::Base { file: b, index: self.r.base_index, store: &self.r.store });
                }
            }
        }
        let scope = v.scope();
        let on_wire = v.unapplied_on_wire();
        // Objects of entries that are not applied are only needed for steps; otherwise they are
        // dropped on the pool (freeing them is a large part of the work).
        let keep_unapplied = v.wants_steps();
        let log = self.log;
        if log.progress {
            // This advance's work, as `batch_at` will plan it (a re-base on the way only skips).
            let work = self.order[self.pos..]
                .iter()
                .take_while(|e| e.index <= target)
                .filter(|e| self.plan(e, scope, on_wire).is_some())
                .map(|e| e.data.len() as u64)
                .sum();
            if !self.bar_entries {
                self.bar_entries = true;
                self.bar.stage("replaying entries", 0);
            }
            self.bar.grow(work);
        }
        let order = std::mem::take(&mut self.order);
        let bar_owned = std::mem::replace(&mut self.bar, crate::progress::Bar::counting(false));
        let bar = &bar_owned;
        // The next batch: positions and whether to decode each on the wire.
        let batch_at = |me: &Self, from: usize| -> (usize, Vec<Planned>) {
            let mut end = from;
            let mut todo = Vec::new();
            let mut bytes = 0;
            while end < order.len() && order[end].index <= target && todo.len() < BATCH && bytes < BATCH_BYTES {
                if let Some(w) = me.plan(order[end], scope, on_wire) {
                    todo.push((end, w));
                    bytes += order[end].data.len();
                }
                end += 1;
            }
            (end, todo)
        };
        let decode = |todo: &[Planned]| -> Vec<Ready> {
            let out = todo
                .par_iter()
                .map(|&(p, (w, applies))| {
                    let e = order[p];
                    // Without steps nobody reads the decoded objects: the store takes them as
                    // they were written, and packs them here, on the pool.
                    let want = match (w, keep_unapplied) {
                        (true, _) => Want::Summary,
                        (false, true) => Want::Objects,
                        (false, false) => Want::Encoded { whole: PackedObject::reduced_by(log.keep) },
                    };
                    let mut d = decode_entry_with(e, log.encrypted, log.deks, log.wal.seg_display(e.seg), want);
                    if !applies && !keep_unapplied {
                        d.actions = Vec::new();
                        d.encoded = Vec::new();
                    }
                    let packed = if keep_unapplied {
                        Vec::new()
                    } else {
                        let whole = std::mem::take(&mut d.actions)
                            .into_iter()
                            .map(|(verb, o)| (verb, Encoded::Whole(Box::new(o))));
                        whole
                            .chain(std::mem::take(&mut d.encoded))
                            .map(|(verb, o)| (verb, PackedObject::from_encoded(verb, o, log.keep)))
                            .collect()
                    };
                    Ready { d, packed }
                })
                .collect();
            release_entries(log.source, todo.iter().map(|&(p, _)| order[p]));
            bar.inc(todo.iter().map(|&(p, _)| order[p].data.len() as u64).sum());
            out
        };
        let (mut end, mut todo) = batch_at(self, self.pos);
        let mut decoded = decode(&todo);
        loop {
            let (next_end, next_todo) = batch_at(self, end);
            let (n, ()) = rayon::join(
                || if next_todo.is_empty() { Vec::new() } else { decode(&next_todo) },
                || {
                    for (&(p, _), d) in todo.iter().zip(std::mem::take(&mut decoded)) {
                        self.apply(order[p], d, v);
                    }
                },
            );
            // Entries skipped between batches still move the term forward.
            for e in &order[self.pos..end] {
                if e.overwritten_by.is_none() {
                    self.last_term = self.last_term.max(e.term);
                }
            }
            self.pos = end;
            if next_end == end {
                // The log ended (or reached the target) below a newer snapshot.
                let upto = target.min(self.rules.end(log.wal, log.snapshots));
                self.bridge(upto, v);
                break;
            }
            decoded = n;
            todo = next_todo;
            end = next_end;
        }
        self.order = order;
        self.bar = bar_owned;
    }

    /// Where the log has a hole before `upto` (the next entry to apply is further on, or the log
    /// ends), continue from the newest valid snapshot in the hole: the entries cannot bridge it,
    /// the snapshot holds the state there. Returns whether it moved.
    fn bridge(&mut self, upto: u64, v: &mut dyn Visitor) -> bool {
        let from = self.r.index + 1;
        self.rebase_within(from, upto, v, |s| {
            format!("the log holds no entries {from}-{}: continuing from snapshot {}", s.index, s.file)
        })
    }

    /// Load the newest valid snapshot whose index is in `lo..=hi` and above the state's index
    /// (a newer one that fails to read is noted and the next older tried); `note` says why.
    fn rebase_within(&mut self, lo: u64, hi: u64, v: &mut dyn Visitor, note: impl Fn(&SnapInfo) -> String) -> bool {
        let log = self.log;
        let mut cands: Vec<usize> = (0..log.snapshots.len())
            .filter(|&i| {
                let s = &log.snapshots[i];
                s.valid && s.index >= lo && s.index <= hi && s.index > self.r.base_index
            })
            .collect();
        while let Some(i) = cands.pop() {
            let s = &log.snapshots[i];
            match snapshot_store(log.payloads[i].as_deref().unwrap_or(&[]), log.encrypted, log.deks, log.keep, &|b| {
                log.source.release(b)
            }) {
                Ok((st, ss)) => {
                    self.r.notes.push(note(s));
                    self.r.store = st;
                    self.r.membership = ss.membership.unwrap_or_default();
                    self.r.index = s.index;
                    self.r.term = s.term;
                    self.r.base = Some(s.file.clone());
                    self.r.base_index = s.index;
                    self.last_term = self.last_term.max(s.term);
                    self.damaged_since = None;
                    if v.wants_steps() {
                        v.step(Step::Base { file: &s.file, index: s.index, store: &self.r.store });
                    }
                    return true;
                }
                Err(e) => self.r.notes.push(format!("snapshot {}: {e}", s.file)),
            }
        }
        false
    }

    fn apply(&mut self, e: &EntryRec, ready: Ready, v: &mut dyn Visitor) {
        let Ready { d, packed } = ready;
        if e.overwritten_by.is_none() && e.index > self.r.base_index && self.rules.applies(e) {
            // After an entry that did not read, the state is exact again from a snapshot taken at
            // or past it: load the newest one before this entry.
            if let Some(u) = self.damaged_since {
                self.rebase_within(u, e.index - 1, v, |s| {
                    format!(
                        "entry {u} could not be read, so the state after it lacked its changes; continuing from snapshot {} (index {}), which holds the state there",
                        s.file, s.index
                    )
                });
            }
            if e.index > self.r.index + 1 {
                self.bridge(e.index - 1, v);
            }
        }
        let Decoded { mut summary, actions, conf, .. } = d;
        let live = e.overwritten_by.is_none();
        let above = e.index > self.r.base_index;
        let applies = above && self.rules.applies(e);
        summary.committed = self.rules.committed(e);
        summary.in_snapshot = self.r.base.is_some() && e.index <= self.r.base_index;
        if summary.time.is_some() {
            self.last_time = summary.time;
        }
        let steps = v.wants_steps() && above;
        let at = At {
            index: e.index,
            term: e.term,
            time: summary.time.or(self.last_time),
            committed: summary.committed,
            overwritten_by_term: e.overwritten_by.map(|o| o.0),
        };
        if live && e.term > self.last_term {
            if steps && self.last_term > 0 {
                v.step(Step::Term { at: &at, from: self.last_term });
            }
            self.last_term = e.term;
        }
        let unreadable = matches!(summary.payload, Payload::Undecryptable { .. } | Payload::Undecodable { .. });
        if applies && unreadable {
            let why = match &summary.payload {
                _ if self.log.wal.crc_failed(e.seg, e.offset) => {
                    "its WAL record fails its CRC check: the record is damaged".to_string()
                }
                Payload::Undecryptable { error } => error.to_string(),
                Payload::Undecodable { reason } => reason.clone(),
                _ => String::new(),
            };
            self.r.unreadable.push(e.index);
            self.damaged_since.get_or_insert(e.index);
            self.r.findings.push(
                Finding::new(
                    Code::ReplayEntryUnreadable,
                    Severity::Error,
                    format!("entry {} cannot be read ({why}): the state after it lacks its changes", e.index),
                )
                .file(&summary.file)
                .offset(e.offset)
                .index(e.index)
                .term(e.term),
            );
        }
        let anomaly = |an: crate::replay::store::Anomaly| {
            Finding::new(Code::ReplayAnomaly, Severity::Warning, an.to_string())
                .file(&summary.file)
                .offset(e.offset)
                .index(e.index)
                .term(e.term)
        };
        // After an entry that could not be read, the state lacks its changes until a snapshot
        // holds the state again: an anomaly there follows from that damage (already reported by
        // `replay.entry_unreadable`), it is not a second problem of its own.
        let after_damage = self.damaged_since.filter(|&u| u < e.index);
        let mut found = Vec::new();
        for (verb, obj) in actions {
            if steps {
                let before = self.r.store.get(obj.kind(), obj.id());
                v.step(Step::Action { at: &at, verb, before: before.as_ref(), after: &obj });
            }
            if applies {
                if let Some(an) = self.r.store.apply(verb, obj) {
                    found.push(anomaly(an));
                }
            }
        }
        for (verb, obj) in packed {
            if applies {
                if let Some(an) = self.r.store.apply_packed(verb, obj) {
                    found.push(anomaly(an));
                }
            }
        }
        match after_damage {
            Some(u) if !found.is_empty() => {
                const NOTE: &str = "; store anomalies after it, until the state is taken again from a snapshot, follow from its missing changes and are not reported apart";
                if let Some(f) =
                    self.r.findings.iter_mut().rev().find(|f| {
                        f.code == Code::ReplayEntryUnreadable && f.index == Some(u) && !f.message.ends_with(NOTE)
                    })
                {
                    f.message.push_str(NOTE);
                }
            }
            _ => self.r.findings.extend(found),
        }
        if let Some(c) = &conf {
            if steps {
                v.step(Step::Conf {
                    at: &at,
                    change: conf_change_name(c.0),
                    raft_id: c.1,
                    member: c.2.as_ref().map(|m| (m.node_id.clone(), m.addr.clone())),
                });
            }
            if applies {
                apply_conf(&mut self.r.membership, c);
            }
        }
        if applies {
            if !summary.committed {
                self.r.uncommitted.push(e.index);
            }
            if summary.time.is_some() {
                self.r.time = summary.time;
            }
            if !unreadable {
                self.r.applied += 1;
            }
            self.r.index = e.index;
            self.r.term = e.term;
        }
        v.entry(summary, applies);
    }

    /// The state reached.
    pub fn finish(self) -> Replayed {
        self.r
    }
}

/// The finding for entries missing between the base and the first entry of the WAL.
pub fn gap_finding(wal: &WalLog, base_index: u64) -> Option<Finding> {
    let f = wal.first_index()?;
    (f > base_index + 1).then(|| {
        Finding::new(
            Code::ReplayGap,
            Severity::Error,
            format!(
                "the WAL starts at index {f} but the base snapshot is at {base_index}: entries {}-{} are missing, so the state cannot be rebuilt exactly",
                base_index + 1,
                f - 1
            ),
        )
        .index(base_index + 1)
    })
}

/// Apply a conf change (type, raft ID, member) to a membership.
pub fn apply_conf(m: &mut Membership, conf: &(i32, u64, Option<api::RaftMember>)) {
    let (t, id, member) = conf;
    match t {
        0 | 2 | 3 => {
            let (nid, addr) = member.as_ref().map(|r| (r.node_id.clone(), r.addr.clone())).unwrap_or_default();
            m.members.insert(*id, (nid, addr));
        }
        1 => {
            m.members.remove(id);
            if !m.removed.contains(id) {
                m.removed.push(*id);
            }
        }
        _ => {}
    }
}

/// Walk the log after the earliest readable start, visiting every entry (applied or not) as
/// [`Step`]s: what `history`, `timeline` and the charts read. Overwritten entries are visited
/// (marked) but never applied; uncommitted ones are applied only with `include_uncommitted`.
/// Returns the state at the end, with what the replay found.
pub fn walk(log: Log<'_>, include_uncommitted: bool, visit: impl FnMut(Step<'_>) + Send) -> Result<Replayed, String> {
    let rules = Rules::new(log.wal, include_uncommitted);
    let mut r = Replay::start(log, rules, Start::Earliest)?;
    let mut v = Steps(visit);
    r.advance_to(u64::MAX, &mut v);
    Ok(r.finish())
}
