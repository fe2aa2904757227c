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

/// How one finding of [`log_cut`] bears on a view of the log.
#[derive(Debug, Clone, PartialEq)]
pub enum CutKind {
    /// Nothing readable follows it (a copy cut short, a frame past the end of the file, a
    /// missing tail, committed entries beyond the log, or damage on the last records): the
    /// readable log ends there, and entries written after it cannot be read.
    Ends,
    /// A damaged record that the scan read past (a CRC that fails, a record that does not
    /// decode): the entries after it were read. `rtype` is the record's type when it is known,
    /// `entry` the raft index of the entry it holds when it decodes.
    ReadPast {
        /// The record's type ([`crate::format::wal::rtype`]), when the record decodes.
        rtype: Option<i64>,
        /// The raft index of the entry in it, when it holds one that decodes.
        entry: Option<u64>,
    },
    /// Entries or a segment missing in the middle of the log; the entries after the hole were read.
    Hole,
    /// Other damage in the log with entries read after it.
    Other,
    /// The backup archive is cut short (`input.tarball_truncated`): members after the cut may be
    /// missing, whatever the index.
    Archive,
}

/// A finding that cuts or damages the log a view reaches, with how it bears on that view.
#[derive(Debug, Clone, PartialEq)]
pub struct LogCut {
    /// The finding (a WAL error, or the archive cut).
    pub finding: crate::error::Finding,
    /// How it bears on the view.
    pub kind: CutKind,
    /// The raft index it sits at, when entries were read after it: its entry's, else the last
    /// entry's before it.
    pub at_index: Option<u64>,
}

impl LogCut {
    /// Where the finding points, as `FILE offset N`.
    fn at(&self) -> String {
        let f = &self.finding;
        match (&f.file, f.offset) {
            (Some(file), Some(o)) => format!("{file} offset {o}"),
            (Some(file), None) => file.clone(),
            (None, Some(o)) => format!("offset {o}"),
            (None, None) => "an unknown place".into(),
        }
    }

    /// What it means for a state (`state`, `diff`, `report`): true for this case, never more.
    /// `base_index` is the index of the snapshot the state starts from (0 without one).
    pub fn state_note(&self, base_index: u64) -> String {
        self.note_for("this state", base_index)
    }

    /// [`LogCut::state_note`] for a view named `view` ("this state", "this chart") that rests on
    /// the entries above `base_index` (0: a walk of the whole log).
    pub fn note_for(&self, view: &str, base_index: u64) -> String {
        let f = &self.finding;
        let read = "the scan read past it, and the entries after it were read";
        match &self.kind {
            CutKind::Archive => {
                format!("the backup is cut short, so {view} may lack entries held by members after the cut: {f}")
            }
            CutKind::Ends => {
                format!("the readable log ends at damage, so {view} may lack entries written after it: {f}")
            }
            CutKind::ReadPast { entry: Some(i), .. } if *i <= base_index => format!(
                "a damaged record at {}: it holds entry {i}, which the snapshot {view} starts from (index {base_index}) covers, so {view} does not rest on it; {read}: {f}",
                self.at()
            ),
            CutKind::ReadPast { entry: Some(i), .. } => format!(
                "a damaged record at {}: the entry it holds ({i}) is damaged and may be missing or wrong in {view}; {read}: {f}",
                self.at()
            ),
            CutKind::ReadPast { rtype: Some(t), .. } if *t != crate::format::wal::rtype::ENTRY => {
                format!("a damaged {} record at {}; {read}: {f}", crate::format::wal::rtype::name(*t), self.at())
            }
            CutKind::ReadPast { .. } => format!(
                "a damaged record at {} that does not decode: an entry it may hold may be missing from {view}; {read}: {f}",
                self.at()
            ),
            CutKind::Hole => format!(
                "the log has a hole at {}, so {view} may lack the entries missing there; the entries after it were read: {f}",
                self.at()
            ),
            CutKind::Other => format!(
                "the log has damage at {} that may bear on {view}; the entries after it were read: {f}",
                self.at()
            ),
        }
    }

    /// What it means for a walk of the whole log (`timeline`).
    pub fn timeline_note(&self) -> String {
        let f = &self.finding;
        let (code, msg) = (&f.code, &f.message);
        match &self.kind {
            CutKind::Archive => {
                format!("the backup is cut short: members after the cut may hold later events: [{code}] {msg}")
            }
            CutKind::Ends => {
                format!("the readable log ends at damage: events written after it are not in this data: [{code}] {msg}")
            }
            CutKind::ReadPast { entry: Some(i), .. } => format!(
                "a damaged record at {}: the events of entry {i} may be missing or wrong; the events after it were read: [{code}] {msg}",
                self.at()
            ),
            CutKind::ReadPast { .. } => format!(
                "a damaged record at {}: the scan read past it, and the events after it were read: [{code}] {msg}",
                self.at()
            ),
            CutKind::Hole => format!(
                "the log has a hole at {}: the events of the entries missing there are not in this data; the events after it were read: [{code}] {msg}",
                self.at()
            ),
            CutKind::Other => {
                format!("the log has damage at {}; the events after it were read: [{code}] {msg}", self.at())
            }
        }
    }

    /// The raft index the damage sits at, when entries were read after it (the entry of a
    /// damaged record, else the last entry before it); `None` for a cut at the end.
    pub fn index(&self) -> Option<u64> {
        self.at_index
    }
}

/// How a WAL error finding bears on the log: by what comes after where it points (etcd's
/// decoder stops at the first record whose CRC fails, `wal/decoder.go` `decodeRecord`, but our
/// scan reads past a damaged record and goes on with the next frame).
fn cut_kind(a: &Analysis, f: &crate::error::Finding) -> (CutKind, Option<u64>) {
    use crate::format::wal::SegmentEnd;
    let seg = f.file.as_deref().and_then(|file| a.wal.segments.iter().position(|s| s.display == file));
    // Codes that say the log ends short of what was written.
    let ends = matches!(
        f.code,
        Code::WalCopyTruncated
            | Code::WalFrameBeyondEnd
            | Code::WalTornWrite
            | Code::WalTailSegmentMissing
            | Code::WalCommitBeyondLog
            | Code::WalEntriesAfterEnd
    );
    let Some(si) = seg.filter(|_| !ends) else {
        return (if ends || f.file.is_none() { CutKind::Ends } else { CutKind::Other }, None);
    };
    let off = f.offset.unwrap_or(0);
    // A frame the scan stopped at ends the segment's readable part.
    let stopped = match &a.wal.segments[si].end {
        SegmentEnd::Torn { offset, .. } | SegmentEnd::Corrupt { offset, .. } => *offset <= off,
        _ => false,
    };
    let read_after = !stopped && a.wal.entries.iter().any(|e| (e.seg, e.offset) > (si, off));
    if !read_after {
        return (CutKind::Ends, None);
    }
    let before = a.wal.entries.iter().take_while(|e| (e.seg, e.offset) <= (si, off)).last().map(|e| e.index);
    let kind = match f.code {
        Code::WalIndexGap | Code::WalSegmentSequenceGap | Code::WalHeadMissing => CutKind::Hole,
        Code::WalCrcMismatch
        | Code::WalCrcRecordMismatch
        | Code::WalCrcChainBreak
        | Code::WalMissingCrcRecord
        | Code::WalRecordUndecodable
        | Code::WalEntryUndecodable
        | Code::WalUnknownRecordType
        | Code::WalStateUndecodable
        | Code::WalMarkerUndecodable
        | Code::WalMetadataUndecodable
        | Code::WalMetadataConflict => {
            let records = &a.wal.segments[si].records;
            let rtype = records.binary_search_by_key(&off, |r| r.offset).ok().map(|i| records[i].rtype);
            let entry = a.wal.entries.iter().find(|e| e.seg == si && e.offset == off).map(|e| e.index);
            CutKind::ReadPast { rtype, entry }
        }
        _ => CutKind::Other,
    };
    (kind, f.index.or(before))
}

/// What cuts or damages the log a view reaching `index` shows: the WAL's error findings when
/// `index` is at or past the last readable entry (entries written after frame damage cannot be
/// read; a damaged record the scan read past may be missing or wrong), each with how it bears
/// on the view ([`CutKind`]); and, at any index, an archive cut short (`input.tarball_truncated`),
/// whose missing members may hold anything. A view before the WAL's damage is whole. `state`,
/// `timeline`, `diff`, `report` and the charts all say these findings and exit 1.
pub fn log_cut(a: &Analysis, index: u64) -> Vec<LogCut> {
    let at_end = index >= a.wal.last_index().unwrap_or(0);
    // The WAL's findings as the analysis judged them (a short last segment that ends inside a
    // record is `wal.copy_truncated` there, not the scan's torn write).
    let wal = a
        .findings
        .iter()
        .filter(|f| at_end && f.severity == crate::error::Severity::Error && f.code.as_str().starts_with("wal."));
    let wal = wal.map(|f| {
        let (kind, at_index) = cut_kind(a, f);
        LogCut { kind, at_index, finding: f.clone() }
    });
    let input = a.findings.iter().filter(|f| f.code == Code::InputTarballTruncated);
    let input = input.map(|f| LogCut { finding: f.clone(), kind: CutKind::Archive, at_index: None });
    wal.chain(input).collect()
}

/// [`log_cut`] applied to a state: each finding not already among the state's is added to its
/// findings, with its [`LogCut::state_note`] as a note (so the command exits 1 and says why).
/// Returns the cuts added. The one rule for every command that shows a state (`state`, `diff`,
/// `report`, `archive --state`).
pub fn mark_cut(a: &Analysis, r: &mut Replayed) -> Vec<LogCut> {
    let mut added = Vec::new();
    for c in log_cut(a, r.index) {
        if !r.findings.contains(&c.finding) {
            r.notes.push(c.state_note(r.base_index));
            r.findings.push(c.finding.clone());
            added.push(c);
        }
    }
    added
}

/// The leader at the end of the log, when the data says it: the node this manager voted for in
/// the term of its last entries (every entry of a term is proposed by that term's leader, and a
/// manager votes once per term). Only meaningful for a state at the end of the log.
pub fn probable_leader(a: &Analysis, r: &Replayed) -> Option<u64> {
    let (hs, ..) = a.wal.hard_state?;
    let last = a.wal.entries.last()?;
    (r.index >= last.index && last.term == hs.term && hs.vote != 0).then_some(hs.vote)
}
