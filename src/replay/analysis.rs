//! The whole pipeline for one input: source → layout → keys → WAL and snapshots → decrypted,
//! decoded entries → the store replayed to the last committed index.
//!
//! Invariants:
//! - Read-only throughout (see [`crate::input::source`]).
//! - Every entry of the WAL appears in [`Analysis::entries`], live or overwritten, marked
//!   committed or not against the last `HardState.commit`.
//! - The final state starts from the newest snapshot that is sound, decrypts and decodes, at or
//!   below the commit index; older kept snapshots are used when newer ones are damaged. Only live,
//!   committed entries above the snapshot index are applied.
//! - Entries are decrypted and decoded in parallel in bounded chunks; full objects are applied
//!   to the store and dropped. How much is kept, and how much is decoded at all, is the
//!   caller's [`Detail`]: a summary of every entry ([`Detail::Entries`]), only of the entries
//!   worth a look ([`Detail::Notable`]: memory does not grow with the WAL; [`Detail::Check`]
//!   also skips building objects the final state does not need), or nothing beyond
//!   the containers ([`Detail::Structure`]: the replay decodes what a state needs).
//! - Mapped pages of the input are released as soon as a stage is done with them
//!   ([`Source::release`]), so resident memory tracks the work in flight, not the input size.

use crate::crypto::Dek;
use crate::crypto::keyring::{KeyInfo, load_keys};
use crate::crypto::keys::UnlockKey;
use crate::decode::entry::{Decoded, DecodedEntry, Payload, decode_entry_with, looks_encrypted, looks_encrypted_data};
use crate::decode::object::{Kind, Membership, Object};
use crate::decode::snapshot::{SnapState, snapshot_state};
use crate::error::{Code, Error, Finding, Result, Severity};
use crate::format::resync;
use crate::format::snap::{self, SnapFile};
use crate::format::wal::{self, EntryRec, WalLog};
use crate::input::layout::{self, Layout, LayoutKind};
use crate::input::source::{ReadOptions, Source};
use crate::pb::docker::swarmkit::v1 as api;
pub use crate::replay::engine::SnapInfo;
use crate::replay::engine::{Log, Replay, Rules, Visitor, choose_base, gap_finding};
use crate::replay::store::{Keep, Store, snapshot_store};
use prost::Message;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Options for loading.
#[derive(Debug, Default)]
pub struct Options {
    /// The unlock key (KEK), when autolock is on.
    pub unlock_key: Option<UnlockKey>,
    /// How to read files.
    pub read: ReadOptions,
    /// Go on without DEKs (structure only) instead of failing.
    pub allow_no_keys: bool,
    /// How much to decode and keep.
    pub detail: Detail,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Build [`Analysis::state`] as a projection ([`Store::projected`]): enough for integrity
    /// checks (`verify`), far smaller, not for printing a state.
    pub projected_store: bool,
    /// Keep secret and config payloads in every store built from this input only as their
    /// SHA-256 ([`Keep::secret_data`] off): for commands that never print them.
    pub digest_secret_data: bool,
}

impl Options {
    /// What the stores built from this input keep.
    pub fn keep(&self) -> Keep {
        Keep { projected_tasks: self.projected_store, secret_data: !self.digest_secret_data }
    }
}

/// Receives entries from [`Analysis::load_with`] as they are decoded.
pub trait EntrySink: Send {
    /// Called once, after the WAL scan and before any entry.
    fn start(&mut self, _wal: &WalLog) {}
    /// Called for every entry, live and overwritten, in log order.
    fn entry(&mut self, e: &DecodedEntry);
    /// Whether [`EntrySink::entry`] does anything. A load that needs no sink may check the
    /// entries a snapshot covers while it reads the snapshots (out of log order).
    fn wants_entries(&self) -> bool {
        true
    }
}

/// A sink that drops everything.
pub struct NoSink;

impl EntrySink for NoSink {
    fn entry(&mut self, _e: &DecodedEntry) {}
    fn wants_entries(&self) -> bool {
        false
    }
}

/// How much of the log [`Analysis::load`] decodes and keeps.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every snapshot and every entry is decrypted and decoded, and [`Analysis::entries`] holds a
    /// summary of each (`wal`, `history`, `timeline`, `--at-time`).
    #[default]
    Entries,
    /// Every snapshot and every entry is decrypted and decoded (so every problem is found and
    /// counted in [`Analysis::stats`]), but [`Analysis::entries`] keeps only notable entries:
    /// uncommitted, overwritten, undecryptable or undecodable ones. Memory does not grow with
    /// the size of a healthy WAL (`info`, `verify`).
    Notable,
    /// As [`Detail::Notable`], but what the final state does not need is checked on the wire
    /// ([`crate::format::wirecheck`]: accepts and rejects what prost does) instead of being decoded into
    /// objects: normal entries covered by the base snapshot, and snapshots other than the base.
    /// Their summaries carry verbs and kinds, not IDs or names; anything rejected is decoded in
    /// full for prost's own error (`verify`, `info`).
    Check,
    /// Only containers: WAL frames and CRC chain, snapshot files' CRC and metadata. No payload is
    /// decrypted: snapshots that are sound containers count as valid until a replay reads them,
    /// [`Analysis::entries`] is empty and [`Analysis::state`] is the empty store at index 0.
    /// For `state`, whose replay decodes exactly the snapshot and entries it needs.
    Structure,
}

/// Counts over every entry of the WAL, whatever [`Detail`] keeps.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EntryStats {
    /// Entries read (live and overwritten).
    pub entries: usize,
    /// Live entries at or below `HardState.commit`.
    pub committed: usize,
    /// Entries by type name.
    pub by_type: BTreeMap<String, usize>,
    /// Store actions by `verb kind`, plus conf changes, no-ops and unreadable payloads.
    pub by_action: BTreeMap<String, usize>,
    /// Entry data bytes (as stored, encrypted or not).
    pub bytes: u64,
    /// Whether payloads were decrypted and decoded (false under [`Detail::Structure`]).
    pub payloads_read: bool,
    /// Entries a DEK decrypted.
    #[serde(skip)]
    pub decrypted: usize,
    /// Entries no DEK decrypted.
    #[serde(skip)]
    pub undecryptable: usize,
}

impl EntryStats {
    /// Add counts made separately.
    pub fn merge(&mut self, o: EntryStats) {
        self.entries += o.entries;
        self.committed += o.committed;
        self.decrypted += o.decrypted;
        self.undecryptable += o.undecryptable;
        self.bytes += o.bytes;
        for (k, v) in o.by_type {
            *self.by_type.entry(k).or_default() += v;
        }
        for (k, v) in o.by_action {
            *self.by_action.entry(k).or_default() += v;
        }
    }

    /// Count one entry.
    pub fn add(&mut self, e: &DecodedEntry) {
        self.entries += 1;
        self.bytes += e.bytes as u64;
        if e.dek.is_some() {
            self.decrypted += 1;
        }
        if matches!(e.payload, Payload::Undecryptable { .. }) {
            self.undecryptable += 1;
        }
        if e.committed {
            self.committed += 1;
        }
        *self.by_type.entry(e.etype.to_string()).or_default() += 1;
        let mut bump = |k: String| *self.by_action.entry(k).or_default() += 1;
        match &e.payload {
            Payload::Empty => bump("(empty no-op)".into()),
            Payload::Request { actions, .. } => {
                for x in actions {
                    bump(format!("{} {}", x.verb.name(), x.kind.name()));
                }
            }
            Payload::ConfChange { change, .. } => bump(change.clone()),
            Payload::Undecryptable { .. } => bump("(undecryptable)".into()),
            Payload::Undecodable { .. } => bump("(undecodable)".into()),
        }
    }
}

/// Everything known about one input.
#[derive(Debug)]
pub struct Analysis {
    /// The input.
    pub source: Source,
    /// The layout.
    pub layout: Layout,
    /// Key facts.
    pub keys: KeyInfo,
    /// Usable DEKs.
    pub deks: Vec<Dek>,
    /// Whether entry/snapshot data is encrypted.
    pub encrypted: bool,
    /// The WAL.
    pub wal: WalLog,
    /// WAL metadata (the local raft member).
    pub member: Option<api::RaftMember>,
    /// Snapshots, oldest first.
    pub snapshots: Vec<SnapInfo>,
    /// Index into `snapshots` of the base used for the final state.
    pub base_snapshot: Option<usize>,
    /// Each snapshot's payload (`raftpb.Snapshot.data`, zero-copy), for replays to other points.
    pub snap_payloads: Vec<Option<bytes::Bytes>>,
    /// Entries, live and overwritten, in index order (overwritten ones before their
    /// replacement): all of them under [`Detail::Entries`], the notable ones under
    /// [`Detail::Notable`], none under [`Detail::Structure`].
    pub entries: Vec<DecodedEntry>,
    /// Counts over every entry.
    pub stats: EntryStats,
    /// What was decoded and kept.
    pub detail: Detail,
    /// The state at the last committed index.
    pub state: Store,
    /// Raft membership at the last committed index.
    pub membership: Membership,
    /// Index the state is at.
    pub state_index: u64,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// The highest commit index a HardState records past damage in the last segment (a torn
    /// frame or a zero length field with readable records after it), when it is above the
    /// readable log's: the cluster committed that far, though this manager's readable log does
    /// not hold it. `None` when no such HardState was found.
    pub commit_past_damage: Option<u64>,
    /// What the stores built from this input keep ([`Options::keep`]); replays to other points
    /// keep the same, with whole tasks.
    pub keep: Keep,
    /// Whether replays of this input show progress ([`Options::progress`]).
    pub progress: bool,
}

/// A backup archive that ends before its end-of-archive marker: where, inside which member, and
/// which members are whole (what the rest of the analysis reads).
fn tarball_truncated(source: &Source, t: &crate::input::source::TarTruncation) -> Finding {
    let whole = if t.whole.len() > 12 {
        format!("{} and {} more", t.whole[..12].join(", "), t.whole.len() - 12)
    } else if t.whole.is_empty() {
        "none".into()
    } else {
        t.whole.join(", ")
    };
    let inside = match &t.partial {
        Some((name, at, size, got)) => format!(
            ", inside member {name} (header at offset {at}; {got} of its {size} bytes are there{})",
            if t.partial_kept { ", read as a segment cut short" } else { ", not used" }
        ),
        None => ", after the last whole member".into(),
    };
    Finding::new(
        Code::InputTarballTruncated,
        Severity::Error,
        format!(
            "the archive is cut short: its tar stream ends at offset {}{inside} ({}; the file has {} bytes). Whole members: {whole}. Only what is whole is analysed; members after the cut are missing",
            t.offset, t.reason, t.file_size
        ),
    )
    .file(source.input.display().to_string())
    .offset(t.offset)
}

/// The findings of one decoded entry (not its replay): unreadable data, and old entries that a
/// retired DEK encrypted (reported once, as a range).
fn classify(s: &DecodedEntry, findings: &mut Vec<Finding>, old_undecryptable: &mut Vec<u64>) {
    match &s.payload {
        Payload::Undecryptable { .. } if s.in_snapshot => old_undecryptable.push(s.index),
        Payload::Undecryptable { error: reason } => findings.push(
            Finding::new(
                Code::EntryUndecryptable,
                Severity::Error,
                format!(
                    "entry data cannot be read: no DEK decrypts it (damaged record, or a key that is gone): {reason}"
                ),
            )
            .file(&s.file)
            .offset(s.offset)
            .index(s.index)
            .term(s.term),
        ),
        Payload::Undecodable { reason } => findings.push(
            Finding::new(
                if s.etype == "EntryNormal" { Code::EntryUndecodable } else { Code::EntryConfChangeUndecodable },
                Severity::Error,
                reason.clone(),
            )
            .file(&s.file)
            .offset(s.offset)
            .index(s.index)
            .term(s.term),
        ),
        _ => {}
    }
}

/// What a load does with each entry the engine visits: count it, classify it, hand it to the
/// sink, and keep it as the detail asks.
struct LoadVisitor<'s> {
    detail: Detail,
    stats: EntryStats,
    entries: Vec<DecodedEntry>,
    findings: Vec<Finding>,
    old_undecryptable: Vec<u64>,
    sink: &'s mut dyn EntrySink,
    bar: &'s crate::progress::Bar,
}

impl Visitor for LoadVisitor<'_> {
    fn scope(&self) -> crate::replay::engine::Scope {
        crate::replay::engine::Scope::All
    }
    fn unapplied_on_wire(&self) -> bool {
        self.detail == Detail::Check
    }
    fn entry(&mut self, e: DecodedEntry, _applied: bool) {
        classify(&e, &mut self.findings, &mut self.old_undecryptable);
        self.stats.add(&e);
        self.sink.entry(&e);
        self.bar.inc(e.bytes as u64);
        if self.detail == Detail::Entries || e.notable() {
            self.entries.push(e);
        }
    }
}

/// What checking the live entries a snapshot covers found: counts, findings, notable entries.
struct Covered {
    stats: EntryStats,
    findings: Vec<Finding>,
    notable: Vec<DecodedEntry>,
    old_undecryptable: Vec<u64>,
}

/// Check live entries covered by the base snapshot (on the wire: none is applied), in chunks.
fn check_covered(
    covered: &[&EntryRec],
    commit: u64,
    encrypted: bool,
    deks: &[Dek],
    wal: &WalLog,
    source: &Source,
    bar: &crate::progress::Bar,
) -> Covered {
    use rayon::prelude::*;
    let mut out = Covered {
        stats: EntryStats { payloads_read: true, ..Default::default() },
        findings: Vec::new(),
        notable: Vec::new(),
        old_undecryptable: Vec::new(),
    };
    for chunk in crate::replay::engine::batches(covered) {
        let decoded: Vec<Decoded> = chunk
            .par_iter()
            .map(|e| decode_entry_with(e, encrypted, deks, wal.seg_display(e.seg), crate::decode::entry::Want::Summary))
            .collect();
        crate::format::wal::release_entries(source, chunk.iter().copied());
        bar.inc(chunk.iter().map(|e| e.data.len() as u64).sum());
        for d in decoded {
            let mut s = d.summary;
            s.committed = s.index <= commit;
            s.in_snapshot = true;
            classify(&s, &mut out.findings, &mut out.old_undecryptable);
            out.stats.add(&s);
            if s.notable() {
                out.notable.push(s);
            }
        }
    }
    out
}

/// Merge two lists sorted by `key`; at equal keys, items of `first` come first.
fn merge_by_index<T>(first: Vec<T>, second: Vec<T>, key: impl Fn(&T) -> u64) -> Vec<T> {
    let mut out = Vec::with_capacity(first.len() + second.len());
    let (mut a, mut b) = (first.into_iter().peekable(), second.into_iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if key(y) < key(x) => out.extend(b.next()),
            (Some(_), _) => out.extend(a.next()),
            (None, Some(_)) => out.extend(b.next()),
            (None, None) => break,
        }
    }
    out
}

/// etcd preallocates the active (last) segment to [`wal::SEGMENT_SIZE`] bytes when it creates
/// it, so a crash leaves a file of that size with a torn frame inside it. A last segment of
/// Docker's own layout that is shorter and ends inside a frame was cut by whatever copied it
/// (an interrupted backup, a full disk): that torn-write finding becomes `wal.copy_truncated`,
/// an error. Other findings pass unchanged.
fn copy_cut_short(f: Finding, wal: &WalLog, layout: &Layout) -> Finding {
    let Some(last) = wal.segments.last() else { return f };
    let wal::SegmentEnd::Torn { offset, past_end: true, .. } = last.end else { return f };
    let cut = f.code == Code::WalTornWrite
        && f.offset == Some(offset)
        && f.file.as_deref() == Some(last.display.as_str())
        && last.size < wal::SEGMENT_SIZE
        && layout.kind == LayoutKind::V3Encrypted;
    if !cut {
        return f;
    }
    Finding {
        code: Code::WalCopyTruncated,
        severity: Severity::Error,
        message: format!(
            "the last segment is {} bytes, shorter than the {} bytes etcd preallocates, and ends inside the record at offset {offset}: the copy was cut short (an interrupted backup or a full disk while copying), not a crash, and whatever followed is missing from it ({})",
            last.size,
            wal::SEGMENT_SIZE,
            f.message.trim_start_matches("torn write: ")
        ),
        ..f
    }
}

/// Readable records past a torn write in the last segment: the torn frame's offset, the entries
/// at and after it (above the last readable entry), and those of them committed (by the readable
/// HardState or one found past the tear).
#[derive(Debug, Clone, PartialEq)]
struct PastTear {
    offset: u64,
    lost: Vec<u64>,
    committed: Vec<u64>,
    /// The highest commit a HardState past the tear records, when above the readable one.
    commit: Option<u64>,
    /// The scan stopped at a zero length field (etcd's end-of-log marker), not a torn frame.
    zero_tail: bool,
}

/// A crash tears the frame being written, and etcd preallocates the segment with zeros, so
/// nothing readable follows a genuine torn write. Records that follow it and that the resync
/// confirms (a decoding frame whose successor continues its CRC chain, [`resync::records_from`])
/// show damage in the middle of what was written (a zeroed sector, a flipped length field):
/// etcd's repair cuts the log there and loses them. Found once here; the search skips runs of
/// zeros, so the rest of a 64 MB preallocated segment costs a scan for the next non-zero byte.
fn past_tear(wal: &WalLog, data: &bytes::Bytes, legacy: bool) -> Option<PastTear> {
    let last = wal.segments.last()?;
    // A zero length field ends etcd's reading just as a torn frame does: a zeroed sector that
    // starts at a frame boundary reads as the end-of-log marker.
    let (offset, zero_tail) = match last.end {
        wal::SegmentEnd::Torn { offset, .. } => (offset, false),
        wal::SegmentEnd::ZeroTail { offset } => (offset, true),
        _ => return None,
    };
    let recs = resync::records_from(&last.name, data, offset, legacy);
    // Only records after the torn frame vouch for damage (the torn frame itself is what a crash leaves).
    let after: Vec<_> = recs.iter().filter(|r| r.offset > offset).collect();
    let readable_end = wal.last_index().unwrap_or(0);
    let readable_commit = wal.commit();
    let mut commit = readable_commit;
    let mut lost: Vec<u64> = Vec::new();
    for r in &after {
        lost.extend(resync::entry_index(r).map(|e| e.0));
        commit = commit.max(resync::state_commit(r).unwrap_or(0));
    }
    if lost.is_empty() {
        return None;
    }
    // The torn record itself, when it held an entry.
    match recs.iter().find(|r| r.offset == offset) {
        Some(r) => lost.extend(resync::entry_index(r).map(|e| e.0)),
        None => lost.extend(resync::partial_entry(data, offset).map(|e| e.0)),
    }
    lost.retain(|&i| i > readable_end);
    lost.sort_unstable();
    lost.dedup();
    let committed: Vec<u64> = lost.iter().copied().filter(|&i| i <= commit).collect();
    let commit = Some(commit).filter(|&c| c > readable_commit);
    Some(PastTear { offset, lost, committed, commit, zero_tail })
}

/// The finding for readable records past a zero length field in the last segment ([`past_tear`]):
/// etcd reads that field as the end of the log, so the entries after it are never read. An error
/// when committed entries are among them (they are lost on this manager), a warning otherwise.
fn entries_after_end(wal: &WalLog, past: &Option<PastTear>) -> Option<Finding> {
    let p = past.as_ref().filter(|p| p.zero_tail)?;
    let seg = wal.segments.last()?;
    let (sev, msg) = if p.committed.is_empty() {
        (
            Severity::Warning,
            format!(
                "entries {} lie after a zero length field at offset {}, which etcd reads as the end of the log",
                ranges(&p.lost),
                p.offset
            ),
        )
    } else {
        (
            Severity::Error,
            format!(
                "entries {} lie after a zero length field at offset {}, which etcd reads as the end of the log; committed entries {} exist only past this point: lost on this manager unless another manager has them",
                ranges(&p.lost),
                p.offset,
                ranges(&p.committed)
            ),
        )
    };
    let f = Finding::new(Code::WalEntriesAfterEnd, sev, msg).file(seg.display.clone()).offset(p.offset);
    Some(match p.lost.first() {
        Some(&i) => f.index(i),
        None => f,
    })
}

/// A sorted list of indexes as ranges: `205-213, 220`. The one writer of index ranges in
/// messages, shared by the load's findings and the analyses above it.
pub fn ranges(v: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j { v[i].to_string() } else { format!("{}-{}", v[i], v[j]) });
        i = j + 1;
    }
    out.join(", ")
}

/// The torn-write finding of the last segment when readable records follow it ([`past_tear`]):
/// with committed entries among them it is damage, an error that names the entries lost past it
/// (every command that shows the log's end says it, [`crate::replay::point::log_cut`]); with
/// uncommitted ones only, a warning that names them. Other findings pass unchanged.
fn records_past_tear(f: Finding, past: &Option<PastTear>) -> Finding {
    let Some(p) = past else { return f };
    if f.code != Code::WalTornWrite || f.offset != Some(p.offset) {
        return f;
    }
    let (severity, tail) = if p.committed.is_empty() {
        (f.severity, format!("entries {} (not committed) exist only past this point", ranges(&p.lost)))
    } else {
        (
            Severity::Error,
            format!(
                "committed entries {} exist only past this point: lost on this manager unless another manager has them",
                ranges(&p.committed)
            ),
        )
    };
    Finding {
        severity,
        index: p.lost.first().copied(),
        message: format!(
            "{}; readable records follow the frame at offset {}, so this is damage inside what was written, not the end of a crash; {tail}",
            f.message, p.offset
        ),
        ..f
    }
}

/// An empty store as the options ask.
fn new_store(opts: &Options) -> Store {
    Store::new(opts.keep())
}

impl Analysis {
    /// The parts of this input the replay engine reads.
    pub fn log(&self) -> Log<'_> {
        Log {
            wal: &self.wal,
            snapshots: &self.snapshots,
            payloads: &self.snap_payloads,
            encrypted: self.encrypted,
            deks: &self.deks,
            source: &self.source,
            entries: &self.entries,
            keep: Keep { projected_tasks: false, ..self.keep },
            progress: self.progress,
        }
    }

    /// The commit rule of this input.
    pub fn rules(&self) -> Rules {
        Rules::new(&self.wal, false)
    }

    /// Load and analyse one input.
    pub fn load(path: &Path, opts: &Options) -> Result<Analysis> {
        Self::load_with(path, opts, &mut NoSink)
    }

    /// [`Analysis::load`], handing the scanned WAL and then every entry's summary to `sink`, in
    /// log order as it is decoded (whatever [`Detail`] keeps), so a caller can stream them out.
    pub fn load_with(path: &Path, opts: &Options, sink: &mut dyn EntrySink) -> Result<Analysis> {
        Self::load_counted(path, opts, sink, &crate::progress::Bar::new(opts.progress))
    }

    /// [`Analysis::load_with`], counting its stages on `bar`.
    pub fn load_counted(
        path: &Path,
        opts: &Options,
        sink: &mut dyn EntrySink,
        bar: &crate::progress::Bar,
    ) -> Result<Analysis> {
        let structure_only = opts.detail == Detail::Structure;
        let source = Source::open(path, opts.read)?;
        let (layout, mut findings) = layout::detect(&source);
        if layout.wal_files.is_empty() && layout.snap_files.is_empty() {
            return Err(Error::NotSwarmState {
                path: path.to_path_buf(),
                why: match &source.truncated {
                    Some(t) => format!(
                        "the archive is cut short at byte {} of its tar stream, before any WAL segment or snapshot",
                        t.offset
                    ),
                    None => "no WAL segments and no snapshots found (a worker node, or not a swarm dir)".into(),
                },
            });
        }
        if let Some(t) = &source.truncated {
            findings.insert(0, tarball_truncated(&source, t));
        }
        // A key file this process may not read (permissions) is a problem of the machine running
        // the tool, not of the data: the tool cannot run (exit 2), no finding is made.
        if let Some(kf) = &layout.key_file {
            if let Err(e @ Error::Io { .. }) = source.read(kf) {
                if matches!(&e, Error::Io { source: io, .. } if io.kind() == std::io::ErrorKind::PermissionDenied) {
                    return Err(e);
                }
            }
        }
        let (keys, deks, _nk) = load_keys(&source, &layout, opts.unlock_key.as_ref(), &mut findings);
        // WAL.
        let mut segs = Vec::new();
        let mut seg_bytes = Vec::new();
        for (name, _) in &layout.wal_files {
            let rel = if layout.wal_dir.is_empty() { name.clone() } else { format!("{}/{}", layout.wal_dir, name) };
            let data = source.read(&rel)?;
            seg_bytes.push(data.clone());
            segs.push((name.clone(), source.display(&rel), data));
        }
        bar.stage("scanning WAL", seg_bytes.iter().map(|b| b.len() as u64).sum());
        let wal = wal::read_wal_with(segs, &|b| source.release(b), &|n| bar.inc(n));
        let past = seg_bytes.last().and_then(|d| past_tear(&wal, d, layout.kind == LayoutKind::Legacy));
        for b in &seg_bytes {
            source.release(b);
        }
        drop(seg_bytes);
        bar.trace("WAL scanned");
        let mut files: Vec<SnapFile> = Vec::with_capacity(layout.snap_files.len());
        for (name, _) in &layout.snap_files {
            let rel = if layout.snap_dir.is_empty() { name.clone() } else { format!("{}/{}", layout.snap_dir, name) };
            let data = source.read(&rel)?;
            files.push(snap::read_snap(name, &source.display(&rel), &data, &|b| source.release(b)));
            source.release(&data);
        }
        bar.trace("snapshot containers checked");
        // A bare dir tells its encryption by its records: the entries, or with no entry (a
        // KeepOldSnapshots archive copied alone), the snapshot payloads.
        let encrypted = match layout.kind.encrypted() {
            Some(e) => e,
            None => {
                !deks.is_empty()
                    || layout.key_file.is_some()
                    || looks_encrypted(&wal)
                    || (wal.entries.is_empty() && looks_encrypted_data(files.iter().filter_map(|f| f.payload.as_ref())))
            }
        };
        if encrypted && deks.is_empty() && !opts.allow_no_keys {
            let why = keys.problem.clone().unwrap_or_else(|| "no raft DEK available".into());
            let hint = if layout.kind == LayoutKind::Bare && layout.wal_files.is_empty() {
                " (a bare dir of encrypted snapshots: give it to `archive` together with the swarm dir or backup whose keys it needs, or use --no-decrypt)"
            } else if keys.autolock == Some(true) {
                " (or --no-decrypt to check the structure only)"
            } else if layout.key_file.is_none() {
                " (give the keys: the swarm dir with certificates/swarm-node.key, or --no-decrypt to check the structure only)"
            } else {
                ""
            };
            return Err(Error::Key(format!("could not check {}: {why}{hint}", source.input.display())));
        }
        findings
            .extend(wal.findings.iter().cloned().map(|f| records_past_tear(copy_cut_short(f, &wal, &layout), &past)));
        findings.extend(entries_after_end(&wal, &past));
        sink.start(&wal);
        let member = wal.metadata.as_ref().and_then(|m| api::RaftMember::decode(m.clone()).ok());
        if wal.metadata.is_some() && member.is_none() {
            findings.push(Finding::new(
                Code::WalMetadataUndecodable,
                Severity::Warning,
                "WAL metadata is not an api.RaftMember",
            ));
        }
        // Snapshots: containers first, then every payload decrypted and decoded object by object
        // in parallel (only the presumptive base builds a store; nothing else is kept).
        let rules = Rules::new(&wal, false);
        let commit = rules.commit_index();
        // The base is the engine's choice over the valid snapshots (the newest one, since a
        // replay's end is at least the newest valid snapshot); until payloads are read, the
        // newest sound container is the presumptive one.
        let presumptive = (0..files.len()).rev().find(|&i| files[i].container_ok);
        // Under Detail::Check without a sink, the entries the presumptive base snapshot covers are
        // checked while the snapshots are read (they need no store); used only if that snapshot
        // turns out to be the base.
        let early_index = presumptive
            .filter(|_| opts.detail == Detail::Check && !sink.wants_entries() && !structure_only)
            .map(|i| files[i].index);
        let covered: Vec<&EntryRec> = match early_index {
            Some(p) => wal.entries.iter().filter(|e| e.index <= p).collect(),
            None => Vec::new(),
        };
        bar.stage(
            "reading snapshots",
            covered.iter().map(|e| e.data.len() as u64).sum::<u64>()
                + if structure_only {
                    0
                } else {
                    files.iter().map(|f| f.payload.as_ref().map_or(0, |p| p.len() as u64)).sum()
                },
        );
        let (walked, early) = rayon::join(
            || {
                use rayon::prelude::*;
                files
                    .par_iter()
                    .enumerate()
                    .map(|(i, sf)| {
                        if structure_only {
                            return None;
                        }
                        let payload = sf.payload.as_deref().unwrap_or(&[]);
                        let build = Some(i) == presumptive;
                        let on_wire = opts.detail == Detail::Check && !build;
                        let r = sf.container_ok.then(|| {
                            if build {
                                snapshot_store(payload, encrypted, &deks, opts.keep(), &|b| source.release(b))
                                    .map(|(st, s)| (s, Some(st)))
                            } else {
                                snapshot_state(payload, encrypted, &deks, None, on_wire).map(|s| (s, None))
                            }
                        });
                        source.release(payload);
                        bar.inc(payload.len() as u64);
                        r
                    })
                    .collect::<Vec<Option<std::result::Result<(SnapState, Option<Store>), String>>>>()
            },
            || early_index.map(|_| check_covered(&covered, commit, encrypted, &deks, &wal, &source, bar)),
        );
        drop(covered);
        let mut snapshots = Vec::with_capacity(files.len());
        let mut built: Vec<Option<(Store, Membership)>> = Vec::with_capacity(files.len());
        let mut snap_payloads = Vec::with_capacity(files.len());
        for (sf, w) in files.into_iter().zip(walked) {
            findings.extend(sf.findings.iter().cloned());
            let mut info = SnapInfo {
                file: sf.name.clone(),
                display: sf.display.clone(),
                term: sf.term,
                index: sf.index,
                bytes: sf.size,
                valid: false,
                voters: sf.voters.clone(),
                dek: None,
                membership: None,
                objects: BTreeMap::new(),
                problem: None,
                has_marker: wal.markers.iter().any(|m| m.index == sf.index && m.term == sf.term),
                payload_checked: !structure_only,
                wire: None,
            };
            let mut b = None;
            match w {
                None if structure_only && sf.container_ok => info.valid = true,
                None => {
                    info.problem = Some(
                        sf.findings.first().map(|f| f.message.clone()).unwrap_or_else(|| "damaged container".into()),
                    );
                }
                Some(Ok((st, store))) => {
                    info.valid = true;
                    info.dek = st.dek;
                    info.membership = st.membership.clone();
                    info.objects = st.objects;
                    info.wire = Some(st.wire);
                    b = store.map(|s| (s, st.membership.unwrap_or_default()));
                }
                // No key to open it with (the key finding says why): a sound container whose
                // payload was not checked, not a damaged snapshot.
                Some(Err(_)) if encrypted && deks.is_empty() && sf.container_ok => {
                    info.valid = true;
                    info.payload_checked = false;
                }
                Some(Err(e)) => {
                    findings.push(
                        Finding::new(Code::SnapPayload, Severity::Error, format!("snapshot payload: {e}"))
                            .file(&sf.display)
                            .index(sf.index)
                            .term(sf.term),
                    );
                    info.problem = Some(e);
                }
            }
            snapshots.push(info);
            built.push(b);
            snap_payloads.push(if sf.container_ok { sf.payload.clone() } else { None });
        }
        let base_snapshot = choose_base(&snapshots, rules.end(&wal, &snapshots));
        let newest = snapshots.len().checked_sub(1);
        if let (Some(b), Some(n)) = (base_snapshot, newest) {
            if b != n {
                findings.push(
                    Finding::new(
                        Code::SnapFallback,
                        Severity::Warning,
                        format!(
                            "the newest snapshot {} is not usable; the state is rebuilt from the older {}",
                            snapshots[n].file, snapshots[b].file
                        ),
                    )
                    .file(snapshots[n].display.clone()),
                );
            }
        }
        let (state, membership, base_index) = match base_snapshot {
            _ if structure_only => (Store::default(), Membership::default(), 0),
            Some(i) => {
                let (st, m) = match built[i].take() {
                    Some(x) => x,
                    // The presumptive base was not usable: build the store from this one.
                    None => snapshot_store(
                        snap_payloads[i].as_deref().unwrap_or(&[]),
                        encrypted,
                        &deks,
                        opts.keep(),
                        &|b| source.release(b),
                    )
                    .map(|(st, s)| (st, s.membership.unwrap_or_default()))
                    .unwrap_or_default(),
                };
                (st, m, snapshots[i].index)
            }
            None => (new_store(opts), Membership::default(), 0),
        };
        drop(built);
        // The entries, through the engine: every one is decoded and visited (counted, classified,
        // kept as the detail asks); the live committed ones above the base are applied.
        findings.extend(rules.finding(&wal));
        findings.extend(gap_finding(&wal, base_index));
        // The early check counts only if its snapshot is the base.
        let early = early.filter(|_| base_snapshot.is_some_and(|b| Some(snapshots[b].index) == early_index));
        let done_upto = early.as_ref().map(|_| base_index);
        bar.stage(
            "decoding entries",
            if structure_only {
                0
            } else {
                // What the walk below decodes: every entry, live and overwritten, but those the
                // early check did.
                wal.entries
                    .iter()
                    .chain(wal.overwritten.iter())
                    .filter(|e| done_upto.is_none_or(|u| e.index > u))
                    .map(|e| e.data.len() as u64)
                    .sum()
            },
        );
        let log = Log {
            wal: &wal,
            snapshots: &snapshots,
            payloads: &snap_payloads,
            encrypted,
            deks: &deks,
            source: &source,
            entries: &[],
            keep: opts.keep(),
            progress: false,
        };
        let mut replay = Replay::from_base(log, rules, base_snapshot.filter(|_| !structure_only), state, membership);
        if let Some(u) = done_upto {
            replay.skip_through(u);
        }
        let mut v = LoadVisitor {
            detail: opts.detail,
            stats: EntryStats { payloads_read: !structure_only, ..Default::default() },
            entries: Vec::new(),
            findings: Vec::new(),
            old_undecryptable: Vec::new(),
            sink,
            bar,
        };
        if !structure_only {
            replay.advance_to(u64::MAX, &mut v);
        }
        let r = replay.finish();
        bar.finish();
        let LoadVisitor { mut stats, mut entries, findings: mut entry_findings, mut old_undecryptable, .. } = v;
        let (state, membership, state_index) = (r.store, r.membership, r.index);
        // What the replay found (anomalies), in log order with the entries' own findings; an
        // applied entry that does not read is already reported by its own finding.
        let replay_findings: Vec<Finding> =
            r.findings.into_iter().filter(|f| f.code != Code::ReplayEntryUnreadable).collect();
        entry_findings = merge_by_index(entry_findings, replay_findings, |f| f.index.unwrap_or(0));
        // Merge what the early check found, in log order (at one index, an overwritten entry comes
        // before the live one, and only live entries were checked early).
        if let Some(c) = early {
            stats.merge(c.stats);
            entry_findings = merge_by_index(entry_findings, c.findings, |f| f.index.unwrap_or(0));
            entries = merge_by_index(entries, c.notable, |e| e.index);
            old_undecryptable.extend(c.old_undecryptable);
            old_undecryptable.sort_unstable();
        }
        // A record whose CRC fails is damaged: what its payload then does (no key opens it) is
        // that damage, never evidence of a retired key.
        let crc_failed = |index: u64| {
            let pos = wal.entries.partition_point(|e| e.index < index);
            wal.entries.get(pos).is_some_and(|e| e.index == index && wal.crc_failed(e.seg, e.offset))
        };
        for f in entry_findings.iter_mut().filter(|f| f.code == Code::EntryUndecryptable) {
            if f.index.is_some_and(crc_failed) {
                f.message = "entry data cannot be read: its WAL record fails its CRC check, so the record is damaged (no key can open a damaged record)".into();
            }
        }
        // No DEK at all (autolock without the unlock key, no key file, --no-decrypt): nothing was
        // tried, so no entry "fails" to decrypt; one finding says the payloads were not checked.
        if encrypted && deks.is_empty() && stats.payloads_read {
            entry_findings.retain(|f| f.code != Code::EntryUndecryptable);
            old_undecryptable.clear();
            let mut f = Finding::new(
                Code::KeyNotChecked,
                Severity::Info,
                format!(
                    "no raft DEK ({}): no entry or snapshot payload was decrypted; frames, CRC chains and snapshot containers were checked",
                    keys.problem.clone().unwrap_or_else(|| "no key".into())
                ),
            );
            if let Some(k) = &keys.key_file {
                f = f.file(k.clone());
            }
            entry_findings.push(f);
        }
        // A copy written by `decrypt` keeps entries under a retired DEK encrypted and lists them
        // in its marker: they read as "left encrypted: retired DEK", not as entries that do not
        // decode (those stay errors).
        let retired = |i: u64| layout.retired_dek_entries.iter().any(|&(a, b)| a <= i && i <= b);
        let (left, rest): (Vec<Finding>, Vec<Finding>) = entry_findings.into_iter().partition(|f| {
            layout.decrypted_copy
                && matches!(f.code, Code::EntryUndecodable | Code::EntryConfChangeUndecodable)
                && f.index.is_some_and(retired)
        });
        entry_findings = rest;
        if let (Some(f), Some(l)) = (left.first(), left.last()) {
            entry_findings.push(
                Finding::new(
                    Code::EntryUndecryptableInSnapshot,
                    Severity::Info,
                    format!(
                        "left encrypted: retired DEK: {} entries between index {} and {}: `swarmsift decrypt` copied them still encrypted because a DEK rotation retired their key; the snapshot covers them, so nothing is lost",
                        left.len(),
                        f.index.unwrap_or(0),
                        l.index.unwrap_or(0)
                    ),
                )
                .file(f.file.clone().unwrap_or_default())
                .index(f.index.unwrap_or(0)),
            );
        }
        let (damaged_old, old_undecryptable): (Vec<u64>, Vec<u64>) =
            old_undecryptable.into_iter().partition(|&i| crc_failed(i));
        for i in damaged_old {
            let e = &wal.entries[wal.entries.partition_point(|e| e.index < i)];
            entry_findings.push(
                Finding::new(
                    Code::EntryDamagedInSnapshot,
                    Severity::Warning,
                    "entry data cannot be read: its WAL record fails its CRC check, so the record is damaged; the snapshot covers this entry, so the state does not depend on it",
                )
                .file(wal.seg_display(e.seg))
                .offset(e.offset)
                .index(e.index)
                .term(e.term),
            );
        }
        entry_findings.sort_by_key(|f| f.index.unwrap_or(0));
        findings.extend(entry_findings);
        // No record at all opens with the keys of this input: not a key rotation, a key from
        // elsewhere.
        let no_match = encrypted
            && !deks.is_empty()
            && !structure_only
            && stats.decrypted == 0
            && stats.undecryptable > 0
            && !snapshots.iter().any(|s| s.valid && s.dek.is_some());
        if no_match {
            findings.push(
                Finding::new(
                    Code::KeyNoMatch,
                    Severity::Error,
                    format!(
                        "the raft DEK of this input's swarm-node.key opens none of its {} encrypted entries{}: the key file comes from another node or cluster than the raft data (files of two managers were mixed)",
                        stats.undecryptable,
                        if snapshots.is_empty() { String::new() } else { format!(" and none of its {} snapshots", snapshots.len()) }
                    ),
                )
                .file(keys.key_file.clone().unwrap_or_default()),
            );
        }
        if let (false, Some(f), Some(l)) = (no_match, old_undecryptable.first(), old_undecryptable.last()) {
            findings.push(
                Finding::new(
                    Code::EntryUndecryptableInSnapshot,
                    Severity::Info,
                    format!(
                        "{} entries between index {f} and {l} are encrypted with a DEK that is gone (retired by a DEK rotation); they are covered by the snapshot, so nothing is lost",
                        old_undecryptable.len()
                    ),
                )
                .index(*f),
            );
        }
        let uncommitted: Vec<&EntryRec> = wal.entries.iter().filter(|e| e.index > commit).collect();
        if let (Some(f), Some(l)) = (uncommitted.first(), uncommitted.last()) {
            if rules.commit_known() {
                findings.push(
                    Finding::new(
                        Code::WalUncommittedTail,
                        Severity::Info,
                        format!(
                            "entries {}-{} are past HardState.commit {commit}: not committed on this manager; raft may still commit or discard them",
                            f.index, l.index
                        ),
                    )
                    .index(f.index),
                );
            }
        }
        for s in &snapshots {
            if !s.has_marker && s.index > 0 && !wal.segments.is_empty() {
                let covered =
                    wal.markers.iter().any(|m| m.index < s.index) || wal.first_index().is_some_and(|f| f <= s.index);
                if covered {
                    findings.push(
                        Finding::new(
                            Code::SnapNoMarker,
                            Severity::Warning,
                            "no snapshot marker in the WAL for this snapshot",
                        )
                        .file(&s.display)
                        .index(s.index)
                        .term(s.term),
                    );
                }
            }
        }
        if let (Some(m), Some(c)) = (&member, &keys.cert) {
            if m.node_id != c.node_id {
                findings.push(Finding::new(
                    Code::KeyCertNodeMismatch,
                    Severity::Error,
                    format!("certificate CN {} is not the node ID {} in the WAL metadata", c.node_id, m.node_id),
                ));
            }
        }
        Ok(Analysis {
            source,
            layout,
            keys,
            deks,
            encrypted,
            wal,
            member,
            snapshots,
            base_snapshot,
            snap_payloads,
            entries,
            state,
            membership,
            state_index,
            findings,
            commit_past_damage: past.as_ref().and_then(|p| p.commit),
            stats,
            detail: opts.detail,
            keep: opts.keep(),
            progress: opts.progress,
        })
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The Docker version era, with the evidence for it.
    ///
    /// The WAL dates itself only through its snapshot markers (etcd 3.5, in Docker 23.0 and
    /// later, adds a ConfState to them). A WAL without one (no snapshot taken yet) is dated by
    /// the node's own engine version in the store, when there is one.
    pub fn era(&self) -> Vec<String> {
        let mut v = Vec::new();
        let engine = self.own_engine_version();
        match self.layout.kind {
            LayoutKind::Legacy => v.push("Docker 1.12 (plaintext wal/snap, etcd 2.3 frames)".to_string()),
            LayoutKind::V3Plain if self.layout.decrypted_copy => v.push(
                "a plaintext copy written by `swarmsift decrypt` (wal-v3, etcd format), not by Docker".to_string(),
            ),
            LayoutKind::V3Plain => v.push("Docker 1.13 development build (plaintext wal-v3)".to_string()),
            LayoutKind::V3Encrypted => {
                let markers: Vec<_> = self.wal.markers.iter().filter(|m| m.index > 0).collect();
                let major = engine.as_deref().and_then(|e| {
                    e.trim_start_matches('v').split(['.', '-', '+']).next().and_then(|m| m.parse::<u32>().ok())
                });
                if markers.iter().any(|m| m.has_conf_state) {
                    v.push("Docker 23.0 or later (snapshot markers carry a ConfState: etcd 3.5+)".to_string());
                } else if !markers.is_empty() {
                    v.push("Docker 1.13 to 20.10 (snapshot markers without ConfState: etcd 3.0-3.3)".to_string());
                } else if let Some(m) = major.filter(|m| *m >= 23) {
                    v.push(format!(
                        "Docker 23.0 or later (no snapshot marker to date the WAL; the node's engine is {m}.x: etcd 3.5+)"
                    ));
                } else if let Some(m) = major.filter(|m| (1..23).contains(m)) {
                    v.push(format!(
                        "Docker 1.13 to 20.10 (no snapshot marker to date the WAL; the node's engine is {m}.x: etcd 3.0-3.3)"
                    ));
                } else {
                    v.push("Docker 1.13 or later (wal-v3-encrypted)".to_string());
                }
            }
            LayoutKind::Bare => {}
        }
        if let Some(ev) = engine {
            v.push(format!("engine {ev} (this node's own description in the store)"));
        }
        v
    }

    /// The engine version in this node's own description in the store, if any.
    fn own_engine_version(&self) -> Option<String> {
        let m = self.member.as_ref()?;
        let Some(Object::Node(n)) = self.state.get(Kind::Node, &m.node_id) else { return None };
        let ev = n.description.as_ref()?.engine.as_ref()?.engine_version.clone();
        (!ev.is_empty()).then_some(ev)
    }
}
