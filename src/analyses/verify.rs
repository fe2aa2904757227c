//! `verify`: run every check on one input and say, for each problem, what Docker itself will do
//! with this directory.
//!
//! The analysis ([`crate::replay::analysis`]) already reports what is wrong with the bytes. This module
//! adds the checks that need the whole picture ([`checks`]: markers against `.snap` files, WAL
//! coverage of kept snapshots, HardState against the snapshot, the rebuilt store, certificate
//! expiry, keys) and an emulation of Docker's own startup ([`sim`]) that decides, from the same
//! bytes, whether Docker starts, repairs the tail (and which entries that costs), or refuses to
//! start and with which message. Every finding gets a `consequence`.
//!
//! Invariants:
//! - Never stops at the first problem; a key that is missing is a finding, not a failure
//!   (payloads are then not checked, and the report says so).
//! - Read-only, like everything else: the emulation runs on the bytes in memory.

pub mod checks;
/// Finding intact records after damage (in the format layer, where the analysis uses it too).
pub use crate::format::resync;
pub mod sim;

use crate::crypto::keys::UnlockKey;
use crate::decode::entry::Payload;
use crate::decode::object::Kind;
use crate::error::{Code, Error, Finding, Result, Severity};
use crate::format::wal;
use crate::input::source::{InputKind, ReadOptions};
use crate::replay::analysis::{Analysis, Options};
use serde::Serialize;
use sim::{DockerSim, Flavor, Keys, SegIn, SnapIn};
use std::path::Path;

/// Options for [`verify`].
#[derive(Debug, Default, Clone)]
pub struct VerifyOptions {
    /// Unlock key, when autolock is on.
    pub unlock_key: Option<UnlockKey>,
    /// How to read files.
    pub read: ReadOptions,
    /// Docker engine version to assume (e.g. `20.10`, `27.3`); default: the node's own engine
    /// version from the store, else the era the WAL shows.
    pub engine_version: Option<String>,
    /// Show a progress bar on stderr when it is a terminal.
    pub progress: bool,
    /// Frames, CRC chains and snapshot containers only: no payload is decrypted or decoded.
    pub no_decrypt: bool,
}

/// Whether the payloads could be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAccess {
    /// The DEK(s) were unwrapped.
    Available,
    /// Plaintext layout: no keys needed.
    NotEncrypted,
    /// Autolock on and no unlock key given.
    Locked,
    /// `swarm-node.key` has no `raft-dek` header.
    NoDek,
    /// No `certificates/swarm-node.key` in the input.
    NoKeyFile,
    /// The key file or its DEK header is damaged.
    Damaged,
    /// Payload checks were not asked for (`verify --no-decrypt`).
    NotAsked,
}

impl KeyAccess {
    /// Payloads were decrypted and checked.
    pub fn payloads_checked(self) -> bool {
        matches!(self, KeyAccess::Available | KeyAccess::NotEncrypted)
    }
}

/// Load an input; when the data is encrypted and no DEK can be had, load it again structure-only
/// instead of failing. A wrong unlock key given by the user is still an error (exit 2).
pub fn load_tolerant(path: &Path, opts: &Options) -> Result<(Analysis, KeyAccess)> {
    let had_key = opts.unlock_key.is_some();
    let first = Analysis::load(path, &Options { unlock_key: opts.unlock_key.clone(), allow_no_keys: false, ..*opts });
    let a = match first {
        Ok(a) => a,
        Err(Error::Key(msg)) => {
            let a =
                Analysis::load(path, &Options { unlock_key: opts.unlock_key.clone(), allow_no_keys: true, ..*opts })?;
            let problem = a.keys.problem.clone().unwrap_or_default();
            // A key file with no DEK header is a finding about the data (`key.no_dek`), whatever
            // unlock key is given; a key that does not open the headers is the user's mistake.
            if had_key && problem.contains("wrong unlock key") {
                return Err(Error::Key(msg));
            }
            a
        }
        Err(e) => return Err(e),
    };
    let access = if !a.encrypted {
        KeyAccess::NotEncrypted
    } else if !a.deks.is_empty() {
        KeyAccess::Available
    } else if a.keys.key_file.is_none() {
        KeyAccess::NoKeyFile
    } else if a.keys.block_type.is_some() && !a.keys.has_dek && !a.keys.rotation_pending {
        KeyAccess::NoDek
    } else if a.keys.autolock == Some(true) {
        KeyAccess::Locked
    } else {
        KeyAccess::Damaged
    };
    Ok((a, access))
}

/// The raw bytes of every segment, in name order.
pub fn raw_segments(a: &Analysis) -> Result<Vec<SegIn>> {
    let mut out = Vec::new();
    for (name, _) in &a.layout.wal_files {
        let rel = if a.layout.wal_dir.is_empty() { name.clone() } else { format!("{}/{}", a.layout.wal_dir, name) };
        let data = a.source.read(&rel)?;
        let (seq, name_index) = crate::input::layout::parse_wal_name(name).unwrap_or((0, 0));
        out.push(SegIn { name: name.clone(), display: a.source.display(&rel), seq, name_index, data });
    }
    Ok(out)
}

/// Every `.snap` file as etcd's loader sees it.
pub fn raw_snaps(a: &Analysis) -> Result<Vec<SnapIn>> {
    let mut out = Vec::new();
    for (name, _) in &a.layout.snap_files {
        let rel = if a.layout.snap_dir.is_empty() { name.clone() } else { format!("{}/{}", a.layout.snap_dir, name) };
        let data = a.source.read(&rel)?;
        let display = a.source.display(&rel);
        let sf = crate::format::snap::read_snap(name, &display, &data, &|b| a.source.release(b));
        a.source.release(&data);
        out.push(SnapIn {
            name: name.clone(),
            display,
            index: sf.index,
            term: sf.term,
            container_ok: sf.container_ok,
            container_problem: sf.findings.iter().find(|f| f.severity == Severity::Error).map(|f| f.message.clone()),
            payload: sf.payload.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The node's own engine version, from its node object in the rebuilt state.
pub fn engine_version(a: &Analysis) -> Option<String> {
    let m = a.member.as_ref()?;
    match a.state.get(Kind::Node, &m.node_id)? {
        crate::decode::object::Object::Node(n) => {
            let v = n.description.as_ref()?.engine.as_ref()?.engine_version.clone();
            (!v.is_empty()).then_some(v)
        }
        _ => None,
    }
}

/// Which etcd WAL decoder to assume.
pub fn detect_flavor(a: &Analysis, given: Option<&str>) -> Flavor {
    let v = given.map(String::from).or_else(|| engine_version(a));
    if let Some(v) = v {
        let major: Option<u32> = v.trim_start_matches('v').split(['.', '-', '+']).next().and_then(|m| m.parse().ok());
        match major {
            Some(m) if m >= 30 => return Flavor::Etcd36,
            Some(29) => {
                // etcd 3.6 from docker-v29.1.0 on; 29.0.x still had 3.5.16.
                let minor: u32 = v.split(['.', '-', '+']).nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
                return if minor >= 1 { Flavor::Etcd36 } else { Flavor::Etcd3516 };
            }
            Some(m) if m >= 28 => return Flavor::Etcd3516,
            Some(m) if m >= 23 => return Flavor::Etcd35,
            Some(_) => return Flavor::Etcd33,
            None => {}
        }
    }
    if a.wal.markers.iter().any(|m| m.index > 0 && m.has_conf_state) { Flavor::Etcd36 } else { Flavor::Etcd33 }
}

/// One finding with what Docker does about it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VFinding {
    /// Stable code.
    pub code: Code,
    /// Severity.
    pub severity: Severity,
    /// File.
    pub file: Option<String>,
    /// Byte offset.
    pub offset: Option<u64>,
    /// Raft index.
    pub index: Option<u64>,
    /// Raft term.
    pub term: Option<u64>,
    /// What it means.
    pub message: String,
    /// What Docker does with this directory because of it.
    pub consequence: String,
}

impl VFinding {
    fn new(f: Finding, consequence: String) -> VFinding {
        VFinding {
            code: f.code,
            severity: f.severity,
            file: f.file,
            offset: f.offset,
            index: f.index,
            term: f.term,
            message: f.message,
            consequence,
        }
    }
}

/// The result of `verify`.
#[derive(Debug)]
pub struct Verification {
    /// The input as given.
    pub input: String,
    /// What kind of input.
    pub input_kind: InputKind,
    /// No error findings.
    pub ok: bool,
    /// One line: the verdict.
    pub verdict: String,
    /// Docker's startup, emulated.
    pub docker: DockerSim,
    /// Whether payloads were checked.
    pub key_access: KeyAccess,
    /// Every finding, errors first.
    pub findings: Vec<VFinding>,
    /// The analysis it is based on.
    pub analysis: Analysis,
}

impl Verification {
    /// The finding that keeps Docker from starting when the emulation of its WAL and snapshot
    /// reading does not: an expired certificate, a key it cannot read (the headline is derived
    /// from the findings, never from the emulation alone).
    pub fn blocking(&self) -> Option<&VFinding> {
        blocking(&self.findings)
    }
    /// Whether Docker would start from this directory, as the findings judge it.
    pub fn starts(&self) -> bool {
        self.docker.starts() && self.blocking().is_none()
    }
    /// `starts`, `repairs`, `starts-locked`, `new-raft-log`, `refuses`, `panics`: the emulation's
    /// outcome, unless a finding says Docker does not get that far.
    pub fn outcome(&self) -> &'static str {
        match (&self.docker.stop, self.blocking()) {
            (None, Some(f)) if f.consequence.starts_with("crashes") => "panics",
            (None, Some(_)) => "refuses",
            _ => outcome_word(&self.docker),
        }
    }
}

/// A bare dir of `.snap` files and no WAL: a KeepOldSnapshots archive, judged as snapshots.
fn snapshot_archive(a: &Analysis) -> bool {
    a.layout.kind == crate::input::layout::LayoutKind::Bare && a.layout.wal_files.is_empty()
}

/// The first error finding whose consequence is that Docker does not start.
fn blocking(findings: &[VFinding]) -> Option<&VFinding> {
    findings.iter().find(|f| {
        f.severity == Severity::Error
            && (f.consequence.starts_with("refuses to start") || f.consequence.starts_with("crashes at startup"))
    })
}

pub use crate::replay::analysis::ranges;

struct Ctx<'a> {
    a: &'a Analysis,
    raw: &'a [SegIn],
    sim: &'a DockerSim,
    legacy: bool,
    snap_index: u64,
}

enum Probe {
    Decodes(Option<i64>),
    Eof(String),
    Fatal(String),
    /// The Go runtime panics reading this frame (etcd 3.3's unbounded allocation).
    Panic(String),
}

impl Ctx<'_> {
    fn seg_of(&self, file: &Option<String>) -> Option<usize> {
        let f = file.as_deref()?;
        self.raw.iter().position(|s| s.display == f)
    }
    fn last_seg(&self) -> usize {
        self.raw.len().saturating_sub(1)
    }
    /// Whether Docker's ReadAll reads this segment (None: Docker stops before choosing).
    fn reads(&self, seg: usize) -> Option<bool> {
        self.sim.start_seg.map(|s| seg >= s)
    }
    fn not_read(&self, seg: usize) -> String {
        let start = self.sim.start_seg.and_then(|s| self.raw.get(s)).map(|s| s.name.clone()).unwrap_or_default();
        format!(
            "starts normally: Docker starts reading the WAL at {start} (the segment covering snapshot index {}) and never reads {}",
            self.snap_index,
            self.raw.get(seg).map(|s| s.name.as_str()).unwrap_or("this segment")
        )
    }
    /// Decode the frame at `off` as etcd would, with the chain value the record before it left.
    fn probe(&self, seg: usize, off: u64) -> Probe {
        let Some(s) = self.raw.get(seg) else { return Probe::Decodes(None) };
        let recs = self.a.wal.segments.get(seg).map(|g| g.records.as_slice()).unwrap_or(&[]);
        let running = recs.iter().rev().find(|r| r.end <= off).map(|r| r.crc).unwrap_or(0);
        let last = seg == self.last_seg();
        match sim::probe(&s.data, &s.name, off, running, last, self.sim.flavor) {
            Ok(rt) => Probe::Decodes(rt),
            Err((true, m)) => Probe::Eof(m),
            Err((false, m)) if m.starts_with("panic: ") => Probe::Panic(m),
            Err((false, m)) => Probe::Fatal(m),
        }
    }
    /// Entries at or after `off` in segment `seg` (resyncing past damage), above the snapshot.
    fn entries_beyond(&self, seg: usize, off: u64) -> (Vec<u64>, Vec<u64>) {
        let Some(s) = self.raw.get(seg) else { return (vec![], vec![]) };
        let recs = resync::records_from(&s.name, &s.data, off, self.legacy);
        let mut commit = self.a.wal.commit();
        let mut idx: Vec<u64> = Vec::new();
        if recs.first().is_none_or(|r| r.offset != off) {
            // The record at the cut itself, partly written.
            if let Some((i, _)) = resync::partial_entry(&s.data, off) {
                idx.push(i);
            }
        }
        for r in &recs {
            if let Some((i, _)) = resync::entry_index(r) {
                idx.push(i);
            }
            if let Some(c) = resync::state_commit(r) {
                commit = commit.max(c);
            }
        }
        idx.retain(|&i| i > self.snap_index);
        idx.sort_unstable();
        idx.dedup();
        let committed = idx.iter().copied().filter(|&i| i <= commit).collect();
        (idx, committed)
    }
    fn repair_phrase(&self, seg: usize, off: u64, lost: &[u64]) -> String {
        let name = self.raw.get(seg).map(|s| s.name.as_str()).unwrap_or("");
        let head =
            format!("repairs the tail: truncates {name} at offset {off} (keeping the whole file as {name}.broken)");
        if lost.is_empty() {
            format!("{head}; no entry is lost")
        } else {
            format!("{head} and loses {} entries (indexes {})", lost.len(), ranges(lost))
        }
    }
    fn frame_consequence(&self, f: &Finding) -> Option<String> {
        let seg = self.seg_of(&f.file)?;
        let off = f.offset?;
        if self.reads(seg) == Some(false) {
            return Some(self.not_read(seg));
        }
        Some(match self.probe(seg, off) {
            Probe::Decodes(Some(rt)) => {
                if !(1..=5).contains(&rt) {
                    format!(
                        "refuses to start: can't initialize raft node: irreparable WAL error: unexpected block type {rt}"
                    )
                } else {
                    "starts normally: etcd reads this frame without complaint".into()
                }
            }
            Probe::Decodes(None) => "starts normally: etcd ends this segment here".into(),
            Probe::Eof(_) if seg == self.last_seg() => {
                let (lost, _) = self.entries_beyond(seg, off);
                self.repair_phrase(seg, off, &lost)
            }
            Probe::Eof(m) => format!(
                "refuses to start: can't initialize raft node: irreparable WAL error: {m} (the damage is not in the last segment, so etcd's repair does not apply)"
            ),
            Probe::Fatal(m) => format!("refuses to start: can't initialize raft node: irreparable WAL error: {m}"),
            Probe::Panic(m) => format!("crashes at startup: {m}"),
        })
    }
}

const STARTS: &str = "starts normally";

fn default_consequence(f: &Finding, c: &Ctx) -> String {
    let a = c.a;
    let seg = c.seg_of(&f.file);
    let refuse = |m: &str| format!("refuses to start: can't initialize raft node: {m}");
    let loaded_file = c.sim.snapshot_loaded.as_ref().map(|s| s.0.as_str());
    match f.code {
        Code::LayoutStaleDir => {
            "starts normally: Docker ignores this dir (it migrates a legacy dir only when the current one is missing)".into()
        }
        Code::LayoutTmpLeftover => "starts normally: Docker ignores it".into(),
        Code::LayoutBrokenFile => {
            "starts normally: Docker ignores .broken files (they hold what an earlier repair or snapshot load set aside)".into()
        }
        Code::WalTornWrite | Code::WalCopyTruncated | Code::WalFrameBeyondEnd | Code::WalRecordUndecodable | Code::WalBadPadding
        | Code::WalUnknownRecordType => c.frame_consequence(f).unwrap_or_else(|| STARTS.into()),
        Code::WalCrcRecordMismatch => match seg {
            Some(s) if c.reads(s) == Some(false) => c.not_read(s),
            Some(s) if c.sim.start_seg == Some(s) && f.offset == Some(0) => {
                "starts normally: the first segment Docker reads seeds its CRC chain from this record".into()
            }
            _ => refuse("irreparable WAL error: wal: crc mismatch"),
        },
        Code::WalCrcMismatch => {
            c.frame_consequence(f).unwrap_or_else(|| refuse("irreparable WAL error: walpb: crc mismatch"))
        }
        Code::WalCrcChainBreak => match seg {
            Some(s) if c.reads(s) == Some(false) || c.sim.start_seg == Some(s) => {
                "starts normally: Docker starts reading at or after this segment, where the chain is re-seeded".into()
            }
            _ => refuse("irreparable WAL error: wal: crc mismatch"),
        },
        Code::WalMissingCrcRecord => match seg {
            Some(s) if c.sim.start_seg == Some(s) => refuse("irreparable WAL error: walpb: crc mismatch"),
            _ => "starts normally: etcd does not require the crc record when the chain continues".into(),
        },
        Code::WalDataAfterZeroTail => {
            if seg == Some(c.last_seg()) {
                "starts normally: etcd stops at the zero length field and zero-fills everything after it when it opens the WAL for writing".into()
            } else {
                "starts normally: etcd moves on to the next segment at the zero length field; the bytes after it are never read".into()
            }
        }
        // The gap lies before segment `s`: it matters only when Docker starts reading before it.
        // Starting at `s` or later (the segment its snapshot needs), the missing file is one
        // Docker never opens.
        Code::WalSegmentSequenceGap => match (seg, c.sim.start_seg) {
            (Some(s), Some(st)) if s <= st => format!(
                "starts normally as far as this goes: Docker opens the WAL at {} for its snapshot (index {}), after the missing segment, which it never reads",
                c.raw.get(st).map(|r| r.name.as_str()).unwrap_or("a later segment"),
                c.snap_index
            ),
            _ => refuse(&c.sim.flavor.wal_sequence_gap(c.sim.start_seg.unwrap_or(0))),
        },
        Code::WalSegmentIndexOrder => {
            "Docker picks its first segment by name index; with names out of order it may start in the wrong segment (see the verdict)".into()
        }
        Code::WalEmptySegment => "starts normally: etcd moves on to the next segment".into(),
        Code::WalMetadataConflict => match seg {
            Some(s) if c.reads(s) == Some(false) => c.not_read(s),
            _ => refuse("irreparable WAL error: wal: conflicting metadata found"),
        },
        Code::WalEntriesOverwritten => {
            "starts normally: raft keeps the later entries, as it did when they were written".into()
        }
        Code::WalIndexGap | Code::ReplayGap => {
            if f.index.is_some_and(|i| i > c.snap_index) {
                if c.sim.flavor == Flavor::Etcd33 {
                    // etcd 3.3.12's ReadAll has no bounds check: `append(ents[:gap], e)` panics.
                    "crashes at startup: panic: runtime error: slice bounds out of range".into()
                } else {
                    refuse("irreparable WAL error: wal: slice bounds out of range")
                }
            } else {
                format!("starts normally: Docker skips entries up to its snapshot index {}", c.snap_index)
            }
        }
        Code::WalTermRegression | Code::WalCommitRegression => {
            "starts normally: etcd does not check terms or commit order when reading".into()
        }
        Code::WalCommitBeyondLog | Code::WalCommitBehindSnapshot => {
            let last = a.wal.last_index().unwrap_or(c.snap_index).max(c.snap_index);
            format!(
                "crashes at startup: raft panics `{:x} state.commit {} is out of range [{}, {}]`",
                a.member.as_ref().map(|m| m.raft_id).unwrap_or(0),
                a.wal.commit(),
                c.snap_index,
                last
            )
        }
        Code::WalUncommittedTail => {
            "starts normally: raft keeps these entries; the cluster commits or discards them".into()
        }
        Code::WalLogJumpsToSnapshot => STARTS.into(),
        Code::WalStateUndecodable | Code::WalMarkerUndecodable | Code::WalEntryUndecodable => match seg {
            Some(s) if c.reads(s) == Some(false) => c.not_read(s),
            _ => "crashes at startup: etcd panics `unmarshal should never fail`".into(),
        },
        Code::WalMetadataUndecodable => refuse("failed to unmarshal WAL metadata"),
        Code::WalSnapshotNotCovered => {
            if f.file.as_deref() == loaded_file {
                refuse(&c.sim.flavor.wal_not_covered(c.snap_index))
            } else {
                format!(
                    "starts normally; but this snapshot is no fallback: if the newer ones break, Docker fails with `{}`",
                    c.sim.flavor.wal_not_covered(f.index.unwrap_or(0))
                )
            }
        }
        Code::WalHeadMissing => refuse(&c.sim.flavor.wal_not_covered(c.snap_index)),
        Code::WalTailSegmentMissing | Code::WalSegmentCutShort => format!(
            "starts normally, but from a shorter log: this manager comes back at index {} and whatever followed is gone (unless another manager has it)",
            a.wal.last_index().unwrap_or(0)
        ),
        Code::WalMissing if snapshot_archive(a) => {
            "not a swarm dir: Docker starts a manager from its whole swarm dir, and this is a snapshot archive; restore the snapshots next to their WAL and keys".into()
        }
        Code::WalMissing => {
            "starts a new, empty raft log: the snapshots are not used, so a single manager comes up with no services, secrets or configs (with other managers it catches up from them)".into()
        }
        Code::SnapEmpty | Code::SnapUndecodable | Code::SnapCrcMismatch => {
            if c.sim.snapshots_broken.iter().any(|b| Some(&b.0) == f.file.as_ref()) {
                let name = f.file.as_deref().and_then(|p| p.rsplit('/').next()).unwrap_or("it");
                let then = match &c.sim.snapshot_loaded {
                    Some((d, i, _)) => format!(
                        "loads the older {} (index {i})",
                        d.rsplit('/').next().unwrap_or(d)
                    ),
                    None => "finds no snapshot left, so it replays the whole WAL from index 1".into(),
                };
                let outcome = match &c.sim.stop {
                    Some(s) => format!("; Docker then {} to start: {}", s.how.trim_end_matches('s'), s.message),
                    None => "; Docker then starts normally from there".into(),
                };
                format!("etcd renames it to {name}.broken and {then}{outcome}")
            } else {
                "starts normally: Docker loads a newer snapshot and never reads this one".into()
            }
        }
        Code::SnapNameMismatch => "starts normally: etcd uses the index and term inside the file".into(),
        Code::SnapPayload => {
            if f.file.as_deref() == loaded_file {
                refuse(&f.message.replace("snapshot payload: ", ""))
            } else {
                "starts normally: Docker loads a newer snapshot and never decrypts this one".into()
            }
        }
        Code::SnapFallback => match &c.sim.stop {
            Some(s) => format!("{} to start: {}", s.how, s.message),
            None => STARTS.into(),
        },
        Code::SnapNoMarker => {
            if f.file.as_deref() == loaded_file {
                // Every etcd loses its ErrSnapshotNotFound (see sim::Flavor::Etcd33).
                match &c.sim.stop {
                    Some(s) if s.how == "panics" => format!("crashes at startup: {}", s.message),
                    Some(s) => format!("refuses to start: {}", s.message),
                    None => "starts normally: etcd does not report a missing snapshot marker when it opens the WAL for writing".into(),
                }
            } else {
                "starts normally: Docker loads a newer snapshot".into()
            }
        }
        Code::SnapFilesDeleted => {
            "starts from the newest .snap file left, when the WAL reaches back to it (see the WAL findings); the deleted files are no fallback".into()
        }
        Code::WalEmptyLogMember => {
            "crashes at startup: raft panics `tocommit(N) is out of range [lastIndex(0)]. Was the raft log corrupted, truncated, or lost?` at the leader's first heartbeat, on every start (N: how far the leader last knew this member's log to go)".into()
        }
        Code::InputTarballTruncated => {
            "cannot be judged for what is missing: a restore from this archive lacks the members after the cut; what is whole is judged by the other findings".into()
        }
        Code::SnapMarkerWithoutFile => {
            "starts normally: Docker loads the newest .snap file it has; a marker alone is harmless".into()
        }
        Code::EntryUndecryptable | Code::ReplayEntryUnreadable => {
            if f.index.is_some_and(|i| i > c.snap_index) {
                refuse("failed to decrypt WAL: no decryption key for record encrypted with SECRETBOX_SALSA20_POLY1305")
            } else {
                "starts normally: Docker never decrypts entries its snapshot covers".into()
            }
        }
        Code::EntryUndecryptableInSnapshot => {
            "starts normally: Docker never decrypts entries its snapshot covers".into()
        }
        Code::EntryDamagedInSnapshot => {
            "never decrypts this entry (its snapshot covers it), but its WAL reader checks every record's CRC: see the CRC finding at this offset".into()
        }
        Code::KeyNoMatch => match &c.sim.stop {
            Some(s) => format!("{} to start: {}", s.how, s.message),
            None => refuse("failed to decrypt WAL: no decryption key for record encrypted with SECRETBOX_SALSA20_POLY1305"),
        },
        Code::EntryUndecodable | Code::EntryConfChangeUndecodable => {
            if !f.index.is_some_and(|i| i > c.snap_index && i <= a.rules().commit_index()) {
                STARTS.into()
            } else if f.code == Code::EntryConfChangeUndecodable {
                refuse("failed to unmarshal config change")
            } else {
                "starts; swarmkit logs `failed to process committed entries` and skips this entry, so its changes are missing from the state".into()
            }
        }
        Code::ReplayAnomaly => {
            "starts normally; swarmkit logs `failed to apply actions from raft` for this entry".into()
        }
        Code::StoreNoCluster => {
            "starts; when it becomes leader the manager creates a default cluster object, so swarm settings (raft, autolock, CA, join tokens) revert to defaults".into()
        }
        Code::StoreTaskMissingService | Code::StoreTaskMissingNode | Code::StoreDuplicateSlot | Code::StoreDanglingReference => {
            "starts normally; the orchestrator acts on this state as it finds it".into()
        }
        Code::KeyUnreadable => "refuses to start: the node's TLS key (certificates/swarm-node.key) cannot be loaded".into(),
        Code::KeyCertUnreadable => {
            "refuses to start the swarm component: the node certificate cannot be loaded".into()
        }
        Code::KeyCertNodeMismatch => {
            "starts with a split identity: the certificate and the raft log come from different nodes (files of two nodes were mixed)".into()
        }
        Code::KeyCertKeyMismatch => {
            "refuses to start: `tls: private key does not match public key` (Go's tls.X509KeyPair, called when the node loads certificates/swarm-node.crt and swarm-node.key)".into()
        }
        Code::KeyCertExpired => {
            "refuses to start the swarm component: `x509: certificate has expired or is not yet valid` (renew it with `swarm-rafttool renew-certs`, or rejoin the node)".into()
        }
        Code::KeyLocked => "starts locked: the manager waits for `docker swarm unlock` with the unlock key".into(),
        Code::KeyNoDek => {
            "refuses to start: Docker first writes a fresh raft-dek into swarm-node.key, which opens none of the existing data".into()
        }
        Code::KeyMissing => {
            "cannot be judged: Docker needs certificates/swarm-node.key (it holds the raft DEK) to start this manager".into()
        }
        Code::KeyDamaged => "refuses to start: the raft DEK in swarm-node.key cannot be read".into(),
        Code::KeyNotChecked => {
            "not judged: no payload was decrypted, so whether Docker can read the entries and snapshots is not known".into()
        }
        Code::WalNoHardState => {
            "starts; etcd begins at commit 0 and applies these entries only when a leader commits an entry of its own term (this manager itself, when it is alone)".into()
        }
        // Replaced below by what the emulation found past the end of the log.
        Code::WalEntriesAfterEnd => {
            "starts normally: etcd ends the log at the zero length field and never reads these entries".into()
        }
        Code::DockerRepairsTail => {
            "repairs the tail: etcd cuts the last segment at the damage and drops the records after it".into()
        }
        Code::DockerStartFailure | Code::ReplayNoStart => match &c.sim.stop {
            Some(s) => format!("{} to start: {}", s.how, s.message),
            None => STARTS.into(),
        },
        // Found only when several copies are read as one history; no copy is changed, and
        // Docker reads one manager dir.
        Code::ArchiveEntryConflict
        | Code::ArchiveDifferentClusters
        | Code::ArchiveEntryOverwritten
        | Code::ArchiveNoState
        | Code::ArchiveSeveralNodes
        | Code::ArchiveWalGap => {
            "no effect on Docker's startup: this is about how the copies fit together".into()
        }
    }
}

/// Codes whose meaning depends on payloads we could not decrypt.
const PAYLOAD_CODES: &[Code] = &[
    Code::EntryUndecryptable,
    Code::EntryUndecryptableInSnapshot,
    Code::EntryDamagedInSnapshot,
    Code::KeyNoMatch,
    Code::EntryUndecodable,
    Code::SnapPayload,
    Code::SnapFallback,
    Code::ReplayGap,
    Code::ReplayAnomaly,
    // The analysis' own "no DEK" note: verify says it its own way (key_finding).
    Code::KeyNotChecked,
];

fn key_finding(a: &Analysis, access: KeyAccess) -> Option<Finding> {
    let file = a.keys.key_file.clone();
    let f = match access {
        KeyAccess::Available | KeyAccess::NotEncrypted => return None,
        KeyAccess::Locked => Finding::new(
            Code::KeyLocked,
            Severity::Warning,
            "autolock is on and no unlock key was given (--unlock-key-file or SWARMSIFT_UNLOCK_KEY): only the structure was checked, not the encrypted payloads",
        ),
        KeyAccess::NoDek => Finding::new(
            Code::KeyNoDek,
            Severity::Error,
            "swarm-node.key has no raft-dek header: nothing can decrypt the WAL entries and snapshots of this manager",
        ),
        KeyAccess::NoKeyFile => Finding::new(
            Code::KeyMissing,
            Severity::Warning,
            "there is no certificates/swarm-node.key in this input: only the structure was checked, not the encrypted payloads",
        ),
        KeyAccess::NotAsked => Finding::new(
            Code::KeyNotChecked,
            Severity::Info,
            "--no-decrypt: frames, CRC chains and snapshot containers were checked; no entry or snapshot payload was decrypted or decoded",
        ),
        KeyAccess::Damaged => Finding::new(
            Code::KeyDamaged,
            Severity::Error,
            format!(
                "the raft DEK cannot be read from swarm-node.key: {}",
                a.keys.problem.clone().unwrap_or_else(|| "unknown problem".into())
            ),
        ),
    };
    Some(match file {
        Some(p) => f.file(p),
        None => f,
    })
}

/// Run `verify` on one input.
pub fn verify(path: &Path, opts: &VerifyOptions) -> Result<Verification> {
    let lo = Options {
        unlock_key: opts.unlock_key.clone(),
        read: opts.read,
        detail: if opts.no_decrypt {
            crate::replay::analysis::Detail::Structure
        } else {
            crate::replay::analysis::Detail::Check
        },
        progress: opts.progress,
        // The store checks read only IDs, names, slots, nodes and states of tasks, and never a
        // secret's or config's payload.
        projected_store: true,
        digest_secret_data: true,
        ..Default::default()
    };
    let (a, access) = load_tolerant(path, &lo)?;
    let access = if opts.no_decrypt { KeyAccess::NotAsked } else { access };
    verify_loaded(a, access, opts.engine_version.as_deref())
}

/// Run `verify` on an analysis already loaded with [`load_tolerant`].
pub fn verify_loaded(a: Analysis, access: KeyAccess, engine: Option<&str>) -> Result<Verification> {
    let raw = raw_segments(&a)?;
    let snaps = raw_snaps(&a)?;
    let flavor = detect_flavor(&a, engine);
    let keys = match access {
        KeyAccess::Available => Keys::Deks(&a.deks),
        KeyAccess::NotEncrypted => Keys::NotEncrypted,
        KeyAccess::Locked => Keys::Locked,
        KeyAccess::NoDek => Keys::NoDek,
        // Docker starts an autolocked manager locked whatever we were asked to decrypt: the
        // prediction with --no-decrypt is the same locked start.
        KeyAccess::NotAsked if a.keys.autolock == Some(true) => Keys::Locked,
        KeyAccess::NoKeyFile | KeyAccess::Damaged | KeyAccess::NotAsked => Keys::Unknown,
    };
    // The analysis already decrypted every entry and snapshot with the same DEKs: the simulation
    // need not decrypt again the records it found sound (failures are redone for Docker's text).
    let analysed: Vec<(usize, u64)> = {
        let mut v: Vec<(usize, u64)> = if a.stats.payloads_read {
            a.wal.entries.iter().chain(a.wal.overwritten.iter()).map(|e| (e.seg, e.offset)).collect()
        } else {
            Vec::new()
        };
        v.sort_unstable();
        v
    };
    let failed: std::collections::HashSet<(String, u64)> = a
        .entries
        .iter()
        .filter(|e| matches!(e.payload, crate::decode::entry::Payload::Undecryptable { .. }))
        .map(|e| (e.file.clone(), e.offset))
        .collect();
    let entry_ok = |seg: usize, off: u64| {
        analysed.binary_search(&(seg, off)).is_ok() && !failed.contains(&(a.wal.seg_display(seg).to_string(), off))
    };
    let snap_ok =
        |name: &str| a.snapshots.iter().any(|s| s.file == name && s.valid && s.payload_checked && s.dek.is_some());
    let release = |b: &[u8]| a.source.release(b);
    // Records whose CRC the scanner already matched (same file, same frame offset, same bytes).
    let crc_ok = |seg: usize, off: u64| {
        a.wal
            .segments
            .get(seg)
            .is_some_and(|s| s.records.binary_search_by_key(&off, |r| r.offset).is_ok_and(|i| s.records[i].crc_ok))
    };
    let hints = sim::Hints {
        entry_decrypts: Some(&entry_ok),
        snap_decrypts: Some(&snap_ok),
        release: Some(&release),
        crc_matched: Some(&crc_ok),
    };
    let mut docker = sim::simulate_with(&raw, &snaps, keys, flavor, a.member.as_ref().map(|m| m.raft_id), &hints);
    let snap_index = docker.snapshot_loaded.as_ref().map(|s| s.1).unwrap_or(0);
    let legacy = a.layout.kind == crate::input::layout::LayoutKind::Legacy;
    // Base findings.
    let mut base: Vec<Finding> =
        a.findings.iter().filter(|f| access.payloads_checked() || !PAYLOAD_CODES.contains(&f.code)).cloned().collect();
    base.extend(key_finding(&a, access));
    base.extend(checks::snapshot_coverage(&a));
    base.extend(checks::last_segment(&a));
    base.extend(checks::hard_state(&a, snap_index));
    base.extend(checks::certificate(&a));
    base.extend(checks::empty_log_member(&a));
    if snapshot_archive(&a) {
        for f in base.iter_mut().filter(|f| f.code == Code::WalMissing) {
            f.severity = Severity::Info;
            f.message = "snapshots and no WAL: a bare dir of .snap files (a KeepOldSnapshots archive, or a snap dir copied without its WAL); its snapshot files are checked, there is no log here".into();
        }
    }
    if access.payloads_checked() {
        base.extend(checks::store(&a));
    }
    // Lost entries for a repair, and entries after the end-of-log marker.
    let (repair_lost, eol_lost) = {
        let ctx = Ctx { a: &a, raw: &raw, sim: &docker, legacy, snap_index };
        let repair_lost = docker.repair.as_ref().map(|r| ctx.entries_beyond(r.seg, r.offset));
        // A zero length field in the last segment ends etcd's reading there, records after it or not.
        let eol_lost = match a.wal.segments.last().map(|g| &g.end) {
            Some(wal::SegmentEnd::ZeroTail { offset }) if docker.repair.is_none() => {
                let seg = raw.len() - 1;
                let (all, committed) = ctx.entries_beyond(seg, *offset);
                (!all.is_empty()).then_some((seg, *offset, all, committed))
            }
            _ => None,
        };
        (repair_lost, eol_lost)
    };
    if let (Some(r), Some((lost, committed))) = (docker.repair.as_mut(), repair_lost) {
        r.lost = lost;
        r.lost_committed = committed;
    }
    // The load finds entries past the marker once (`wal.entries_after_end`); this is for a load
    // that did not (it is the same rule).
    let found_at_load = base.iter().any(|f| f.code == Code::WalEntriesAfterEnd);
    if let Some((seg, off, all, committed)) = eol_lost.as_ref().filter(|_| !found_at_load) {
        let s = &raw[*seg];
        let sev = if committed.is_empty() { Severity::Warning } else { Severity::Error };
        let msg = if committed.is_empty() {
            format!(
                "entries {} lie after a zero length field at offset {off}, which etcd reads as the end of the log",
                ranges(all)
            )
        } else {
            format!(
                "entries {} lie after a zero length field at offset {off}, which etcd reads as the end of the log; committed entries {} exist only past this point: lost on this manager unless another manager has them",
                ranges(all),
                ranges(committed)
            )
        };
        base.push(Finding::new(Code::WalEntriesAfterEnd, sev, msg).file(s.display.clone()).offset(*off));
    }
    // Consequences.
    let ctx = Ctx { a: &a, raw: &raw, sim: &docker, legacy, snap_index };
    let mut out: Vec<VFinding> = Vec::with_capacity(base.len());
    for f in base {
        let c = default_consequence(&f, &ctx);
        out.push(VFinding::new(f, c));
    }
    if let Some((seg, off, all, _)) = &eol_lost {
        if let Some(v) = out.iter_mut().find(|v| v.code == Code::WalEntriesAfterEnd) {
            v.consequence = if docker.stop.is_none() {
                format!(
                    "starts normally but without entries {}: etcd ends the log at offset {off} of {} and zero-fills the rest when it opens the WAL for writing",
                    ranges(all),
                    raw[*seg].name
                )
            } else {
                format!(
                    "etcd ends the log at offset {off} of {}: entries {} are never read (see the verdict for what that leads to)",
                    raw[*seg].name,
                    ranges(all)
                )
            };
        }
    }
    // The repair, attached to the finding at its offset.
    if let Some(r) = &docker.repair {
        let phrase = ctx.repair_phrase(r.seg, r.offset, &r.lost);
        let extra = if !r.lost_committed.is_empty() {
            format!(
                " Committed entries {} exist only past this point: lost on this manager unless another manager has them.",
                ranges(&r.lost_committed)
            )
        } else if !r.lost.is_empty() {
            format!(" Entries {} (not committed) exist only past this point.", ranges(&r.lost))
        } else {
            String::new()
        };
        match out.iter_mut().find(|v| v.file.as_deref() == Some(r.file.as_str()) && v.offset == Some(r.offset)) {
            Some(v) => {
                v.consequence = phrase;
                // The analysis already names entries it found past a torn write (one finding).
                if !v.message.contains("exist only past this point") {
                    v.message.push_str(&extra.replace(" Committed", "; committed").replace(" Entries", "; entries"));
                }
                if !r.lost_committed.is_empty() {
                    v.severity = Severity::Error;
                }
                if v.message.ends_with('.') {
                    v.message.pop();
                }
            }
            None => out.push(VFinding {
                code: Code::DockerRepairsTail,
                severity: if r.lost_committed.is_empty() { Severity::Warning } else { Severity::Error },
                file: Some(r.file.clone()),
                offset: Some(r.offset),
                index: r.lost.first().copied(),
                term: None,
                message: format!("etcd would find an incomplete record here and cut the log.{extra}")
                    .trim()
                    .to_string(),
                consequence: phrase,
            }),
        }
    }
    // The stop, attached to the finding it comes from.
    if let Some(stop) = &docker.stop {
        let verb = if stop.how == "panics" { "crashes at startup" } else { "refuses to start" };
        let cons = format!("{verb}: {}", stop.message);
        let pos = out
            .iter()
            .position(|v| {
                stop.file.is_some() && v.file == stop.file && stop.offset.is_some() && v.offset == stop.offset
            })
            .or_else(|| {
                let codes: &[Code] = if stop.message.contains("snapshot not found") {
                    &[Code::SnapNoMarker, Code::WalSnapshotNotCovered]
                } else if stop.message.contains("file not found")
                    || stop.message.contains("do not increase continuously")
                {
                    &[Code::WalSnapshotNotCovered, Code::WalSegmentSequenceGap, Code::WalHeadMissing]
                } else if stop.message.contains("state.commit") {
                    &[Code::WalCommitBeyondLog, Code::WalCommitBehindSnapshot]
                } else if stop.message.contains("slice bounds") {
                    &[Code::WalIndexGap, Code::ReplayGap]
                } else if stop.message.contains("decrypt WAL") || stop.message.contains("decryption key") {
                    &[Code::KeyNoDek, Code::KeyNoMatch, Code::EntryUndecryptable, Code::SnapPayload, Code::KeyDamaged]
                } else {
                    &[]
                };
                out.iter()
                    .position(|v| codes.contains(&v.code) && (stop.file.is_none() || v.file == stop.file))
                    .or_else(|| out.iter().position(|v| codes.contains(&v.code)))
            });
        match pos {
            Some(i) => {
                out[i].consequence = cons;
                if out[i].severity != Severity::Error && !docker.locked {
                    out[i].severity = Severity::Error;
                }
            }
            None => out.push(VFinding {
                code: Code::DockerStartFailure,
                severity: Severity::Error,
                file: stop.file.clone(),
                offset: stop.offset,
                index: stop.index,
                term: None,
                message: format!(
                    "Docker's own reader stops here{}",
                    match (&stop.file, stop.offset) {
                        (Some(_), Some(o)) => format!(" (offset {o})"),
                        _ => String::new(),
                    }
                ),
                consequence: cons,
            }),
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let ok = !out.iter().any(|f| f.severity == Severity::Error);
    let early_end = eol_lost.as_ref().map(|(seg, off, all, _)| (raw[*seg].name.clone(), *off, all.clone()));
    let verdict = verdict(&a, access, &docker, &out, ok, early_end);
    Ok(Verification {
        input: a.source.input.display().to_string(),
        input_kind: a.source.kind,
        ok,
        verdict,
        docker,
        key_access: access,
        findings: out,
        analysis: a,
    })
}

fn verdict(
    a: &Analysis,
    access: KeyAccess,
    d: &DockerSim,
    findings: &[VFinding],
    ok: bool,
    early_end: Option<(String, u64, Vec<u64>)>,
) -> String {
    let what = if a.source.kind == InputKind::Tarball { "BACKUP OK" } else { "OK" };
    let docker = if let Some(s) = &d.stop {
        format!(
            "Docker would {} to start: {}",
            if s.how == "panics" { "crash when trying" } else { "refuse" },
            s.message
        )
    } else if let Some(f) = blocking(findings) {
        // The emulation reads the files through; a finding stops Docker before or beside that.
        let c = f.consequence.replacen("refuses to start", "refuse to start", 1).replacen(
            "crashes at startup",
            "crash at startup",
            1,
        );
        format!("Docker would {c}")
    } else if snapshot_archive(a) {
        "not a swarm dir, a snapshot archive (Docker does not start from it)".to_string()
    } else if d.no_wal {
        "Docker would start a new, empty raft log (no WAL segment)".to_string()
    } else if let Some(r) = &d.repair {
        if r.lost.is_empty() {
            format!(
                "Docker would repair the tail of {} (cut at offset {}) and lose no entry",
                name_of(&r.file),
                r.offset
            )
        } else {
            format!(
                "Docker would repair the tail of {} (cut at offset {}) and lose {} entries ({}{})",
                name_of(&r.file),
                r.offset,
                r.lost.len(),
                ranges(&r.lost),
                if r.lost_committed.is_empty() {
                    ", none committed".to_string()
                } else {
                    format!("; committed: {}", ranges(&r.lost_committed))
                }
            )
        }
    } else if let Some((name, off, lost)) = &early_end {
        format!(
            "Docker would start, but without entries {} (a zero length field at offset {off} of {name} ends its log there)",
            ranges(lost)
        )
    } else if d.locked {
        "Docker would start locked, waiting for `docker swarm unlock`".to_string()
    } else {
        "Docker would start normally".to_string()
    };
    let facts = {
        let n = a.snapshots.len();
        let newest = a.snapshots.iter().map(|s| s.index).max();
        let snaps = match newest {
            Some(i) => format!("{n} snapshot{} (newest {i})", if n == 1 { "" } else { "s" }),
            None => "no snapshot".to_string(),
        };
        let walr = match (a.wal.first_index(), a.wal.last_index()) {
            (Some(f), Some(l)) if a.rules().commit_known() => format!("WAL {f}-{l}, committed to {}", a.wal.commit()),
            (Some(f), Some(l)) => format!("WAL {f}-{l}, commit index unknown (no HardState; taken as {l})"),
            _ => "WAL empty".to_string(),
        };
        let (dec, undec) = (a.stats.decrypted, a.stats.undecryptable);
        let keys = match access {
            KeyAccess::Available if undec == 0 && dec == 0 => "no entry to decrypt".to_string(),
            KeyAccess::Available if undec == 0 => "every entry decrypts".to_string(),
            KeyAccess::Available if dec == 0 => format!("no entry decrypts with this input's key ({undec} tried)"),
            KeyAccess::Available => format!("{undec} of {} entries do not decrypt", dec + undec),
            KeyAccess::NotEncrypted => "plaintext layout".to_string(),
            KeyAccess::NotAsked => "payloads not checked (--no-decrypt)".to_string(),
            _ => "payloads not checked (no usable key)".to_string(),
        };
        format!("{snaps}, {walr}, {keys}")
    };
    if ok {
        format!("{what}: {docker}: {facts}")
    } else {
        let errors = findings.iter().filter(|f| f.severity == Severity::Error).count();
        format!("DAMAGED: {docker} ({errors} error finding{}; {facts})", if errors == 1 { "" } else { "s" })
    }
}

fn name_of(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// JSON: `{"ok", "verdict", "input", "docker", "key_access", "findings": [...]}`.
pub fn json(v: &Verification) -> serde_json::Value {
    serde_json::json!({
        "ok": v.ok,
        "verdict": v.verdict,
        "input": v.input,
        "key_access": v.key_access,
        "docker": {
            "flavor": v.docker.flavor,
            "assumed": v.docker.flavor.describe(),
            "outcome": v.outcome(),
            "message": v.docker.stop.as_ref().map(|s| s.message.clone()).or_else(|| v.blocking().map(|f| f.consequence.clone())),
            "snapshot_loaded": v.docker.snapshot_loaded.as_ref().map(|s| serde_json::json!({"file": s.0, "index": s.1, "term": s.2})),
            "snapshots_broken": v.docker.snapshots_broken.iter().map(|b| serde_json::json!({"file": b.0, "reason": b.1})).collect::<Vec<_>>(),
            "repair": v.docker.repair,
            "last_index": v.docker.last_index,
            "commit": v.docker.commit,
            "payloads_checked": v.docker.payloads_checked,
        },
        "state": {
            "index": v.analysis.state_index,
            "commit": v.analysis.rules().commit,
            "objects": crate::decode::object::Kind::ALL
                .iter()
                .filter(|k| !matches!(k, crate::decode::object::Kind::Resource | crate::decode::object::Kind::Extension))
                .map(|k| (k.plural().to_string(), serde_json::json!(v.analysis.state.count(*k))))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
        },
        "findings": v.findings,
    })
}

/// `starts`, `repairs`, `starts-locked`, `new-raft-log`, `refuses`, `panics`.
pub fn outcome_word(d: &DockerSim) -> &'static str {
    match (&d.stop, d.no_wal, &d.repair, d.locked) {
        (Some(s), ..) if s.how == "panics" => "panics",
        (Some(_), ..) => "refuses",
        (None, true, ..) => "new-raft-log",
        (None, false, Some(_), _) => "repairs",
        (None, false, None, true) => "starts-locked",
        _ => "starts",
    }
}

/// Exit code for a verification: 0 no error findings, 1 error findings.
pub fn exit_code(v: &Verification) -> u8 {
    if v.ok { 0 } else { 1 }
}

/// Entries of the analysis that a verification found lost, with their store actions (for reports).
pub fn describe_entries(a: &Analysis, idx: &[u64]) -> Vec<String> {
    idx.iter()
        .filter_map(|i| a.entries.iter().rev().find(|e| e.index == *i && e.overwritten_by_term.is_none()))
        .map(|e| match &e.payload {
            Payload::Request { actions, .. } => format!(
                "{}: {}",
                e.index,
                actions
                    .iter()
                    .map(|x| format!("{} {} {} {}", x.verb.name(), x.kind.name(), x.id, x.name))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Payload::ConfChange { change, raft_id, .. } => format!("{}: {change} raft {raft_id:x}", e.index),
            Payload::Empty => format!("{}: (empty no-op)", e.index),
            _ => format!("{}: (unreadable)", e.index),
        })
        .collect()
}
