//! Typed errors and findings.
//!
//! Two kinds of trouble exist in this crate and they are kept apart:
//! - [`Error`]: the tool could not run (unreadable path, bad usage, missing key). The CLI maps
//!   these to exit code 2.
//! - [`Finding`]: something is wrong with the *data* (a CRC mismatch, a torn tail, a record no key
//!   decrypts). Decoders never stop at a finding; they record it with the file, byte offset, raft
//!   index and term where known, and go on. The CLI maps error-severity findings to exit code 1.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Why the tool could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not something we can read as swarm state.
    #[error("{path}: {why}")]
    NotSwarmState {
        /// The path given.
        path: PathBuf,
        /// What was expected.
        why: String,
    },
    /// A key problem that stops decryption of everything (missing or wrong unlock key).
    #[error("{0}")]
    Key(String),
    /// Bad usage (conflicting flags, unparsable values).
    #[error("{0}")]
    Usage(String),
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A finding's code: what kind of problem it is. Its string (`wal.crc_mismatch`, ...) is the
/// stable machine-readable form in JSON and text; two variants may share a string where they are
/// the same problem and differ only in what it costs (a detail the consequence table needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    /// `archive.different_clusters`: the copies come from more than one cluster.
    ArchiveDifferentClusters,
    /// `archive.entry_conflict`
    ArchiveEntryConflict,
    /// `archive.entry_overwritten`
    ArchiveEntryOverwritten,
    /// `archive.no_state`
    ArchiveNoState,
    /// `archive.several_nodes`
    ArchiveSeveralNodes,
    /// `archive.wal_gap`
    ArchiveWalGap,
    /// `docker.repairs_tail`: Docker's own WAL repair would cut the tail.
    DockerRepairsTail,
    /// `docker.start_failure`: Docker would not start, from the emulation of its startup.
    DockerStartFailure,
    /// `entry.undecodable`
    EntryUndecodable,
    /// `entry.undecryptable`
    EntryUndecryptable,
    /// `entry.undecryptable_in_snapshot`
    EntryUndecryptableInSnapshot,
    /// `entry.damaged_in_snapshot`: an entry the snapshot covers whose record fails its CRC.
    EntryDamagedInSnapshot,
    /// `key.cert_expired`
    KeyCertExpired,
    /// `key.cert_node_mismatch`
    KeyCertNodeMismatch,
    /// `key.cert_unreadable`
    KeyCertUnreadable,
    /// `key.cert_key_mismatch`: `swarm-node.crt` is not the certificate of `swarm-node.key`.
    KeyCertKeyMismatch,
    /// `key.damaged`
    KeyDamaged,
    /// `key.locked`
    KeyLocked,
    /// `key.missing`
    KeyMissing,
    /// `key.no_match`: the DEK opens no record of the input at all.
    KeyNoMatch,
    /// `key.no_dek`
    KeyNoDek,
    /// `key.not_checked`
    KeyNotChecked,
    /// `key.unreadable`
    KeyUnreadable,
    /// `layout.broken_file`
    LayoutBrokenFile,
    /// `layout.stale_dir`
    LayoutStaleDir,
    /// `layout.tmp_leftover`
    LayoutTmpLeftover,
    /// `replay.anomaly`
    ReplayAnomaly,
    /// `replay.entry_unreadable`
    ReplayEntryUnreadable,
    /// `replay.gap`
    ReplayGap,
    /// `replay.no_start`
    ReplayNoStart,
    /// `snap.crc_mismatch`
    SnapCrcMismatch,
    /// `snap.empty`
    SnapEmpty,
    /// `snap.fallback`
    SnapFallback,
    /// `snap.marker_without_file`
    SnapMarkerWithoutFile,
    /// `snap.name_mismatch`
    SnapNameMismatch,
    /// `snap.no_marker`
    SnapNoMarker,
    /// `snap.payload`
    SnapPayload,
    /// `snap.undecodable`
    SnapUndecodable,
    /// `store.dangling_reference`
    StoreDanglingReference,
    /// `store.duplicate_slot`
    StoreDuplicateSlot,
    /// `store.no_cluster`
    StoreNoCluster,
    /// `store.task_missing_node`
    StoreTaskMissingNode,
    /// `store.task_missing_service`
    StoreTaskMissingService,
    /// `wal.bad_padding`
    WalBadPadding,
    /// `wal.commit_behind_snapshot`
    WalCommitBehindSnapshot,
    /// `wal.commit_beyond_log`
    WalCommitBeyondLog,
    /// `wal.commit_regression`
    WalCommitRegression,
    /// `wal.copy_truncated`: the last segment is shorter than etcd's preallocation and ends
    /// inside a record (a copy cut short).
    WalCopyTruncated,
    /// `wal.crc_chain_break`
    WalCrcChainBreak,
    /// `wal.crc_mismatch`
    WalCrcMismatch,
    /// `wal.data_after_zero_tail`
    WalDataAfterZeroTail,
    /// `wal.empty_segment`
    WalEmptySegment,
    /// `wal.entries_after_end`
    WalEntriesAfterEnd,
    /// `wal.entries_overwritten`
    WalEntriesOverwritten,
    /// `wal.entry_undecodable`
    WalEntryUndecodable,
    /// `wal.frame_beyond_end`
    WalFrameBeyondEnd,
    /// `wal.head_missing`
    WalHeadMissing,
    /// `wal.index_gap`
    WalIndexGap,
    /// `wal.log_jumps_to_snapshot`
    WalLogJumpsToSnapshot,
    /// `wal.marker_undecodable`
    WalMarkerUndecodable,
    /// `wal.metadata_conflict`
    WalMetadataConflict,
    /// `wal.metadata_undecodable`
    WalMetadataUndecodable,
    /// `wal.missing`
    WalMissing,
    /// `wal.missing_crc_record`
    WalMissingCrcRecord,
    /// `wal.no_hard_state`
    WalNoHardState,
    /// `wal.record_undecodable`
    WalRecordUndecodable,
    /// `wal.segment_cut_short`
    WalSegmentCutShort,
    /// `wal.segment_index_order`
    WalSegmentIndexOrder,
    /// `wal.segment_sequence_gap`
    WalSegmentSequenceGap,
    /// `wal.snapshot_not_covered`
    WalSnapshotNotCovered,
    /// `wal.state_undecodable`
    WalStateUndecodable,
    /// `wal.tail_segment_missing`
    WalTailSegmentMissing,
    /// `wal.term_regression`
    WalTermRegression,
    /// `wal.torn_write`
    WalTornWrite,
    /// `wal.uncommitted_tail`
    WalUncommittedTail,
    /// `wal.unknown_record_type`
    WalUnknownRecordType,
    /// `wal.crc_mismatch` on a segment's leading crc record (it disagrees with the chain so far).
    WalCrcRecordMismatch,
    /// `entry.undecodable` on a conf change entry (Docker refuses to start on it, where it skips a
    /// bad normal entry).
    EntryConfChangeUndecodable,
    /// `snap.files_deleted`: snapshot files that neither a crash (the newest marker's file) nor
    /// KeepOldSnapshots GC (files older than the oldest kept one) explains.
    SnapFilesDeleted,
    /// `wal.empty_log_member`: no entry and no snapshot, on a node whose `state.json` lists other
    /// managers: the leader's first heartbeat makes raft panic (`tocommit(N) is out of range`).
    WalEmptyLogMember,
    /// `input.tarball_truncated`: the backup archive ends before its end-of-archive marker.
    InputTarballTruncated,
}

impl Code {
    /// The stable string form.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::ArchiveDifferentClusters => "archive.different_clusters",
            Code::ArchiveEntryConflict => "archive.entry_conflict",
            Code::ArchiveEntryOverwritten => "archive.entry_overwritten",
            Code::ArchiveNoState => "archive.no_state",
            Code::ArchiveSeveralNodes => "archive.several_nodes",
            Code::ArchiveWalGap => "archive.wal_gap",
            Code::DockerRepairsTail => "docker.repairs_tail",
            Code::DockerStartFailure => "docker.start_failure",
            Code::EntryUndecodable => "entry.undecodable",
            Code::EntryUndecryptable => "entry.undecryptable",
            Code::EntryUndecryptableInSnapshot => "entry.undecryptable_in_snapshot",
            Code::EntryDamagedInSnapshot => "entry.damaged_in_snapshot",
            Code::KeyCertExpired => "key.cert_expired",
            Code::KeyCertNodeMismatch => "key.cert_node_mismatch",
            Code::KeyCertUnreadable => "key.cert_unreadable",
            Code::KeyCertKeyMismatch => "key.cert_key_mismatch",
            Code::KeyDamaged => "key.damaged",
            Code::KeyLocked => "key.locked",
            Code::KeyMissing => "key.missing",
            Code::KeyNoMatch => "key.no_match",
            Code::KeyNoDek => "key.no_dek",
            Code::KeyNotChecked => "key.not_checked",
            Code::KeyUnreadable => "key.unreadable",
            Code::LayoutBrokenFile => "layout.broken_file",
            Code::LayoutStaleDir => "layout.stale_dir",
            Code::LayoutTmpLeftover => "layout.tmp_leftover",
            Code::ReplayAnomaly => "replay.anomaly",
            Code::ReplayEntryUnreadable => "replay.entry_unreadable",
            Code::ReplayGap => "replay.gap",
            Code::ReplayNoStart => "replay.no_start",
            Code::SnapCrcMismatch => "snap.crc_mismatch",
            Code::SnapEmpty => "snap.empty",
            Code::SnapFallback => "snap.fallback",
            Code::SnapMarkerWithoutFile => "snap.marker_without_file",
            Code::SnapNameMismatch => "snap.name_mismatch",
            Code::SnapNoMarker => "snap.no_marker",
            Code::SnapPayload => "snap.payload",
            Code::SnapUndecodable => "snap.undecodable",
            Code::StoreDanglingReference => "store.dangling_reference",
            Code::StoreDuplicateSlot => "store.duplicate_slot",
            Code::StoreNoCluster => "store.no_cluster",
            Code::StoreTaskMissingNode => "store.task_missing_node",
            Code::StoreTaskMissingService => "store.task_missing_service",
            Code::WalBadPadding => "wal.bad_padding",
            Code::WalCommitBehindSnapshot => "wal.commit_behind_snapshot",
            Code::WalCommitBeyondLog => "wal.commit_beyond_log",
            Code::WalCommitRegression => "wal.commit_regression",
            Code::WalCopyTruncated => "wal.copy_truncated",
            Code::WalCrcChainBreak => "wal.crc_chain_break",
            Code::WalCrcMismatch => "wal.crc_mismatch",
            Code::WalDataAfterZeroTail => "wal.data_after_zero_tail",
            Code::WalEmptySegment => "wal.empty_segment",
            Code::WalEntriesAfterEnd => "wal.entries_after_end",
            Code::WalEntriesOverwritten => "wal.entries_overwritten",
            Code::WalEntryUndecodable => "wal.entry_undecodable",
            Code::WalFrameBeyondEnd => "wal.frame_beyond_end",
            Code::WalHeadMissing => "wal.head_missing",
            Code::WalIndexGap => "wal.index_gap",
            Code::WalLogJumpsToSnapshot => "wal.log_jumps_to_snapshot",
            Code::WalMarkerUndecodable => "wal.marker_undecodable",
            Code::WalMetadataConflict => "wal.metadata_conflict",
            Code::WalMetadataUndecodable => "wal.metadata_undecodable",
            Code::WalMissing => "wal.missing",
            Code::WalMissingCrcRecord => "wal.missing_crc_record",
            Code::WalNoHardState => "wal.no_hard_state",
            Code::WalRecordUndecodable => "wal.record_undecodable",
            Code::WalSegmentCutShort => "wal.segment_cut_short",
            Code::WalSegmentIndexOrder => "wal.segment_index_order",
            Code::WalSegmentSequenceGap => "wal.segment_sequence_gap",
            Code::WalSnapshotNotCovered => "wal.snapshot_not_covered",
            Code::WalStateUndecodable => "wal.state_undecodable",
            Code::WalTailSegmentMissing => "wal.tail_segment_missing",
            Code::WalTermRegression => "wal.term_regression",
            Code::WalTornWrite => "wal.torn_write",
            Code::WalUncommittedTail => "wal.uncommitted_tail",
            Code::WalUnknownRecordType => "wal.unknown_record_type",
            Code::WalCrcRecordMismatch => "wal.crc_mismatch",
            Code::SnapFilesDeleted => "snap.files_deleted",
            Code::WalEmptyLogMember => "wal.empty_log_member",
            Code::InputTarballTruncated => "input.tarball_truncated",
            Code::EntryConfChangeUndecodable => "entry.undecodable",
        }
    }
    /// The layer or analysis that reports it: the part before the dot.
    pub fn area(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or("")
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing is wrong.
    Info,
    /// Unusual, possibly harmless (leftover temp files, uncommitted tail).
    Warning,
    /// Data is damaged or cannot be read.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem (or noteworthy fact) found in the data, with where it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// What kind of problem (its string form is stable: `wal.crc_mismatch`, ...).
    pub code: Code,
    /// How bad it is.
    pub severity: Severity,
    /// Display path of the file concerned, if any.
    pub file: Option<String>,
    /// Byte offset in that file, if known.
    pub offset: Option<u64>,
    /// Raft index concerned, if known.
    pub index: Option<u64>,
    /// Raft term concerned, if known.
    pub term: Option<u64>,
    /// One plain sentence.
    pub message: String,
}

impl Finding {
    /// A finding with only a code, severity and message; add locations with the builders.
    pub fn new(code: Code, severity: Severity, message: impl Into<String>) -> Self {
        Finding { code, severity, file: None, offset: None, index: None, term: None, message: message.into() }
    }
    /// Set the file.
    pub fn file(mut self, f: impl Into<String>) -> Self {
        self.file = Some(f.into());
        self
    }
    /// Set the byte offset.
    pub fn offset(mut self, o: u64) -> Self {
        self.offset = Some(o);
        self
    }
    /// Set the raft index.
    pub fn index(mut self, i: u64) -> Self {
        self.index = Some(i);
        self
    }
    /// Set the raft term.
    pub fn term(mut self, t: u64) -> Self {
        self.term = Some(t);
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.severity, self.code)?;
        if let Some(file) = &self.file {
            write!(f, " {file}")?;
        }
        if let Some(o) = self.offset {
            write!(f, " @{o:#x}")?;
        }
        if let Some(i) = self.index {
            write!(f, " index {i}")?;
        }
        if let Some(t) = self.term {
            write!(f, " term {t}")?;
        }
        write!(f, ": {}", self.message)
    }
}
