//! The etcd write-ahead log: frames → records → entries.
//!
//! Layering: [`scan_segment`] turns the bytes of one `.wal` file into [`ScannedRecord`]s (frame
//! decoding, `walpb.Record` decoding, the rolling CRC-32C chain, torn-write detection). Segments
//! are independent (each starts with a crc-type record that seeds its chain), so they are scanned
//! in parallel. [`assemble`] then walks the records of all segments in order and builds the raft
//! log: entries (with overwritten ones kept and marked), HardState, snapshot markers and metadata.
//!
//! Invariants:
//! - Never panics and never allocates from a length read from the file: every length is checked
//!   against the bytes that remain before slicing, and record payloads are zero-copy slices of the
//!   segment's bytes.
//! - Keeps going past damage: a CRC mismatch re-seeds the chain from the stored value (as etcd's
//!   raw dump mode does) and continues; an undecodable record with a sane frame length is skipped;
//!   only a frame whose length runs past the end of the file stops the scan of that segment.
//! - A zero length field marks preallocated space (end of log in that segment), as in etcd.

use crate::error::{Code, Finding, Severity};
use crate::pb::{raftpb, walpb};
use bytes::Bytes;
use prost::Message;
use serde::Serialize;

/// etcd's segment size: 64,000,000 bytes (decimal).
pub const SEGMENT_SIZE: u64 = 64_000_000;
/// etcd's sector size for the torn-write rule.
pub const SECTOR: u64 = 512;

/// `walpb.Record.type` values.
pub mod rtype {
    /// Metadata (swarmkit: `api.RaftMember` of the local node).
    pub const METADATA: i64 = 1;
    /// A `raftpb.Entry`.
    pub const ENTRY: i64 = 2;
    /// A `raftpb.HardState`.
    pub const STATE: i64 = 3;
    /// A CRC seed record.
    pub const CRC: i64 = 4;
    /// A `walpb.Snapshot` marker.
    pub const SNAPSHOT: i64 = 5;
    /// Name of a record type.
    pub fn name(t: i64) -> &'static str {
        match t {
            METADATA => "metadata",
            ENTRY => "entry",
            STATE => "state",
            CRC => "crc",
            SNAPSHOT => "snapshot",
            _ => "unknown",
        }
    }
}

/// One record read from a segment.
#[derive(Debug, Clone)]
pub struct ScannedRecord {
    /// Offset of the frame's 8-byte length field.
    pub offset: u64,
    /// Offset just past the frame (after padding).
    pub end: u64,
    /// `walpb.Record.type`.
    pub rtype: i64,
    /// Stored CRC.
    pub crc: u32,
    /// Record data (zero-copy slice).
    pub data: Bytes,
    /// Whether the stored CRC matched the chain.
    pub crc_ok: bool,
}

/// How a segment's scan ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SegmentEnd {
    /// The file ends exactly after the last frame.
    Eof {
        /// Offset of the end.
        offset: u64,
    },
    /// A zero length field: preallocated space follows (normal for the active segment).
    ZeroTail {
        /// Offset of the zero length field.
        offset: u64,
    },
    /// The last frame is incomplete or holds an all-zero sector: a torn write. Docker repairs this
    /// in the last segment by truncating here.
    Torn {
        /// Offset of the damaged frame (= end of valid data).
        offset: u64,
        /// What was seen.
        reason: String,
        /// The file ends inside this frame (its length field, or the length it gives, runs past
        /// the end): where the file is preallocated, a copy cut short rather than a crash.
        past_end: bool,
    },
    /// A frame length points past the end of the file and it is not a torn write: the scan of
    /// this segment cannot go on.
    Corrupt {
        /// Offset of the bad frame.
        offset: u64,
        /// What was seen.
        reason: String,
    },
}

impl SegmentEnd {
    /// Offset of the end of valid data.
    pub fn offset(&self) -> u64 {
        match self {
            SegmentEnd::Eof { offset }
            | SegmentEnd::ZeroTail { offset }
            | SegmentEnd::Torn { offset, .. }
            | SegmentEnd::Corrupt { offset, .. } => *offset,
        }
    }
}

/// The scan of one `.wal` file.
#[derive(Debug, Clone)]
pub struct SegmentScan {
    /// File name.
    pub name: String,
    /// Display path.
    pub display: String,
    /// Sequence number from the name.
    pub seq: u64,
    /// Raft index from the name (index of the first entry expected in it).
    pub name_index: u64,
    /// File size in bytes.
    pub size: u64,
    /// Records in file order.
    pub records: Vec<ScannedRecord>,
    /// How the scan ended.
    pub end: SegmentEnd,
    /// The value of the leading crc-type record, if the segment starts with one.
    pub first_crc: Option<u32>,
    /// The running CRC after the last good record.
    pub last_crc: u32,
    /// Problems found in this segment.
    pub findings: Vec<Finding>,
}

/// Decode one frame header at `off`: (record length, pad bytes, header anomaly).
fn frame_header(len_field: u64) -> (u64, u64, Option<&'static str>) {
    let f = super::cursor::FrameLen::new(len_field);
    let odd = if f.padded() && f.top & 0x78 != 0 {
        Some("unused bits set in the padding byte")
    } else if !f.padded() && f.top != 0 {
        Some("top byte of the length field is set without the padding flag")
    } else {
        None
    };
    (f.rec, f.pad(), odd)
}

/// etcd's torn-write rule: the frame body, split at 512-byte file-offset sector boundaries,
/// contains a chunk that is entirely zero.
pub fn is_torn(data: &[u8], start: u64, end: u64) -> bool {
    let len = data.len() as u64;
    let end = end.min(len);
    if start >= end {
        return false;
    }
    let mut s = start;
    while s < end {
        let next = ((s / SECTOR) + 1) * SECTOR;
        let e = next.min(end);
        if data[s as usize..e as usize].iter().all(|&b| b == 0) {
            return true;
        }
        s = e;
    }
    false
}

/// Scan one segment. `is_last` enables etcd's torn-write rule, which only applies to the last
/// segment.
pub fn scan_segment(name: &str, display: &str, data: &Bytes, is_last: bool) -> SegmentScan {
    scan_segment_with(name, display, data, is_last, &|_, _| {})
}

/// Bytes of a segment scanned between two calls of a scan's `scanned` callback.
const SCANNED_STEP: u64 = 4 << 20;

/// [`scan_segment`], calling `scanned(from, to)` each time about [`SCANNED_STEP`] more bytes
/// have been scanned, with the byte range scanned since the last call (so that the caller can
/// release mapped pages as it goes: a 64 MB segment is otherwise resident whole until its scan
/// ends, and two segments scan at once).
pub fn scan_segment_with(
    name: &str,
    display: &str,
    data: &Bytes,
    is_last: bool,
    scanned: &dyn Fn(u64, u64),
) -> SegmentScan {
    let (seq, name_index) = crate::input::layout::parse_wal_name(name).unwrap_or((0, 0));
    let len = data.len() as u64;
    let mut s = SegmentScan {
        name: name.to_string(),
        display: display.to_string(),
        seq,
        name_index,
        size: len,
        records: Vec::new(),
        end: SegmentEnd::Eof { offset: 0 },
        first_crc: None,
        last_crc: 0,
        findings: Vec::new(),
    };
    let mut off: u64 = 0;
    let mut running: u32 = 0;
    let mut reported: u64 = 0;
    let finding = |code, sev, msg: String, off: u64| Finding::new(code, sev, msg).file(display).offset(off);
    loop {
        if off - reported >= SCANNED_STEP {
            scanned(reported, off);
            reported = off;
        }
        let remaining = len - off;
        if remaining == 0 {
            s.end = SegmentEnd::Eof { offset: off };
            break;
        }
        if remaining < 8 {
            let tail = &data[off as usize..];
            if tail.iter().all(|&b| b == 0) {
                s.end = SegmentEnd::ZeroTail { offset: off };
            } else {
                s.end = SegmentEnd::Torn {
                    offset: off,
                    reason: format!("only {remaining} bytes left for an 8-byte length field"),
                    past_end: true,
                };
            }
            break;
        }
        let o = off as usize;
        let len_field = match super::cursor::Cursor::new(&data[o..], off).u64_le("frame length field") {
            Ok(l) => l,
            Err(_) => break,
        };
        if len_field == 0 {
            s.end = SegmentEnd::ZeroTail { offset: off };
            if let Some(pos) = data[o..].iter().position(|&b| b != 0) {
                let at = off + pos as u64;
                s.findings.push(finding(
                    Code::WalDataAfterZeroTail,
                    Severity::Warning,
                    format!(
                        "non-zero bytes at {at:#x} after the end-of-log marker at {off:#x}: etcd stops reading at the marker and would zero this out when it next opens the WAL for writing"
                    ),
                    at,
                ));
            }
            break;
        }
        let (rec_len, pad, odd) = frame_header(len_field);
        if let Some(why) = odd {
            s.findings.push(finding(
                Code::WalBadPadding,
                Severity::Warning,
                format!("frame length field {len_field:#018x}: {why}"),
                off,
            ));
        }
        let body = off + 8;
        let frame_end = body.checked_add(rec_len).and_then(|x| x.checked_add(pad));
        let frame_end = match frame_end {
            Some(e) if e <= len => e,
            _ => {
                let torn = is_last && is_torn(data, body, len);
                let reason = format!(
                    "frame length {rec_len} (+{pad} pad) at {off:#x} runs past the end of the file ({} bytes left)",
                    remaining - 8
                );
                s.end = if torn || (is_last && rec_len < SEGMENT_SIZE) {
                    SegmentEnd::Torn { offset: off, reason, past_end: true }
                } else {
                    SegmentEnd::Corrupt { offset: off, reason }
                };
                break;
            }
        };
        if pad > 0 && data[(body + rec_len) as usize..frame_end as usize].iter().any(|&b| b != 0) {
            s.findings.push(finding(
                Code::WalBadPadding,
                Severity::Warning,
                "non-zero padding bytes after a record".into(),
                body + rec_len,
            ));
        }
        let rec_bytes = data.slice(body as usize..(body + rec_len) as usize);
        let rec = match walpb::Record::decode(rec_bytes) {
            Ok(r) => r,
            Err(e) => {
                if is_last && is_torn(data, body, frame_end) {
                    s.end = SegmentEnd::Torn {
                        offset: off,
                        reason: format!("record does not decode ({e}) and holds an all-zero sector"),
                        past_end: false,
                    };
                    break;
                }
                s.findings.push(finding(
                    Code::WalRecordUndecodable,
                    Severity::Error,
                    format!("record of {rec_len} bytes does not decode as walpb.Record: {e}; skipped"),
                    off,
                ));
                off = frame_end;
                continue;
            }
        };
        let rt = rec.r#type.unwrap_or(0);
        let stored = rec.crc.unwrap_or(0);
        let payload = rec.data.unwrap_or_default();
        let mut crc_ok = true;
        if rt == rtype::CRC {
            if running != 0 && running != stored {
                crc_ok = false;
                s.findings.push(finding(
                    Code::WalCrcRecordMismatch,
                    Severity::Error,
                    format!("crc record holds {stored:#010x} but the chain so far gives {running:#010x}"),
                    off,
                ));
            }
            if s.records.is_empty() {
                s.first_crc = Some(stored);
            }
            running = stored;
        } else {
            let computed = crc32c::crc32c_append(running, &payload);
            if computed != stored {
                if is_last && is_torn(data, body, frame_end) {
                    s.end = SegmentEnd::Torn {
                        offset: off,
                        reason: "CRC mismatch on a record that holds an all-zero sector".into(),
                        past_end: false,
                    };
                    break;
                }
                crc_ok = false;
                s.findings.push(finding(
                    Code::WalCrcMismatch,
                    Severity::Error,
                    format!("{} record: stored CRC {stored:#010x}, computed {computed:#010x}", rtype::name(rt)),
                    off,
                ));
                running = stored;
            } else {
                running = computed;
            }
            if !(1..=5).contains(&rt) {
                s.findings.push(finding(
                    Code::WalUnknownRecordType,
                    Severity::Error,
                    format!("unknown record type {rt}"),
                    off,
                ));
            }
        }
        s.records.push(ScannedRecord { offset: off, end: frame_end, rtype: rt, crc: stored, data: payload, crc_ok });
        off = frame_end;
    }
    s.last_crc = running;
    match &s.end {
        SegmentEnd::Torn { offset, reason, .. } => {
            let sev = if is_last { Severity::Warning } else { Severity::Error };
            s.findings.push(finding(Code::WalTornWrite, sev, format!("torn write: {reason}"), *offset));
        }
        SegmentEnd::Corrupt { offset, reason } => {
            s.findings.push(finding(Code::WalFrameBeyondEnd, Severity::Error, reason.clone(), *offset));
        }
        _ => {}
    }
    s
}

/// A raft log entry as found in the WAL.
#[derive(Debug, Clone)]
pub struct EntryRec {
    /// Raft index.
    pub index: u64,
    /// Raft term.
    pub term: u64,
    /// `raftpb.EntryType` value.
    pub etype: i32,
    /// `Entry.Data` (encrypted in `wal-v3-encrypted`).
    pub data: Bytes,
    /// Segment number in [`WalLog::segments`].
    pub seg: usize,
    /// Offset of the frame in that segment.
    pub offset: u64,
    /// When a later entry with the same index replaced this one: (term, segment, offset).
    pub overwritten_by: Option<(u64, usize, u64)>,
}

/// Entry type name as etcd prints it.
pub fn entry_type_name(t: i32) -> &'static str {
    match t {
        0 => "EntryNormal",
        1 => "EntryConfChange",
        2 => "EntryConfChangeV2",
        _ => "EntryUnknown",
    }
}

/// A snapshot marker record.
#[derive(Debug, Clone, Serialize)]
pub struct Marker {
    /// Index.
    pub index: u64,
    /// Term.
    pub term: u64,
    /// Whether the marker carries a ConfState (etcd ≥ 3.5, Docker ≥ 23.0).
    pub has_conf_state: bool,
    /// Voters from the ConfState (hex raft IDs in JSON).
    #[serde(serialize_with = "crate::format::hex_ids")]
    pub voters: Vec<u64>,
    /// Segment number.
    pub seg: usize,
    /// Offset in that segment.
    pub offset: u64,
}

/// The HardState in force at the end of the log, and where it was written.
#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq)]
pub struct HardState {
    /// Term.
    pub term: u64,
    /// Vote.
    pub vote: u64,
    /// Commit index.
    pub commit: u64,
}

/// The whole WAL, assembled.
#[derive(Debug, Default)]
pub struct WalLog {
    /// Segment scans in name order.
    pub segments: Vec<SegmentScan>,
    /// The metadata record bytes (first seen).
    pub metadata: Option<Bytes>,
    /// The last HardState, with (segment, offset).
    pub hard_state: Option<(HardState, usize, u64)>,
    /// Number of state records.
    pub state_records: usize,
    /// Snapshot markers in order.
    pub markers: Vec<Marker>,
    /// Live entries in index order (the log as raft sees it).
    pub entries: Vec<EntryRec>,
    /// Entries replaced by a later entry at the same index, in the order they were replaced.
    pub overwritten: Vec<EntryRec>,
    /// Problems found while assembling (plus every segment's own findings).
    pub findings: Vec<Finding>,
}

impl WalLog {
    /// First live index, if any.
    pub fn first_index(&self) -> Option<u64> {
        self.entries.first().map(|e| e.index)
    }
    /// Last live index, if any.
    pub fn last_index(&self) -> Option<u64> {
        self.entries.last().map(|e| e.index)
    }
    /// Commit index from the last HardState (0 if none).
    pub fn commit(&self) -> u64 {
        self.hard_state.map(|h| h.0.commit).unwrap_or(0)
    }
    /// Display path of a segment.
    pub fn seg_display(&self, seg: usize) -> &str {
        self.segments.get(seg).map(|s| s.display.as_str()).unwrap_or("")
    }
    /// Whether the record framed at `offset` of segment `seg` failed its CRC check (false when
    /// it matched or is not known). A record whose CRC fails is damaged: whatever its payload
    /// then does (no key opens it, it does not decode) is the damage, not an event.
    pub fn crc_failed(&self, seg: usize, offset: u64) -> bool {
        self.segments
            .get(seg)
            .and_then(|s| s.records.binary_search_by_key(&offset, |r| r.offset).ok().map(|i| !s.records[i].crc_ok))
            .unwrap_or(false)
    }
}

/// Scan every segment (in parallel) and assemble the log.
pub fn read_wal(segments: Vec<(String, String, Bytes)>) -> WalLog {
    read_wal_with(segments, &|_| {}, &|_| {})
}

/// [`read_wal`], calling `done` with each segment's bytes as soon as its scan is over (to release
/// mapped pages: assembling the log reads only record headers, not entry data; the same bytes may
/// be handed over more than once), and `scanned` with the number of bytes each step of a scan
/// passed: over a whole read these add up to the segments' sizes exactly, once each (progress).
pub fn read_wal_with(
    segments: Vec<(String, String, Bytes)>,
    done: &(dyn Fn(&[u8]) + Sync),
    scanned: &(dyn Fn(u64) + Sync),
) -> WalLog {
    use rayon::prelude::*;
    let n = segments.len();
    let scans: Vec<SegmentScan> = segments
        .par_iter()
        .enumerate()
        .map(|(i, (name, disp, data))| {
            let passed = std::sync::atomic::AtomicU64::new(0);
            let s = scan_segment_with(name, disp, data, i + 1 == n, &|a, b| {
                done(&data[a as usize..b as usize]);
                passed.fetch_add(b - a, std::sync::atomic::Ordering::Relaxed);
                scanned(b - a);
            });
            done(data);
            // The rest of the segment (after the last step, or past where the scan stopped).
            scanned((data.len() as u64).saturating_sub(passed.into_inner()));
            s
        })
        .collect();
    assemble_with(scans, &|si| done(&segments[si].2))
}

/// Build the log from segment scans (in name order).
pub fn assemble(segments: Vec<SegmentScan>) -> WalLog {
    assemble_with(segments, &|_| {})
}

/// [`assemble`], calling `done` with each segment's number once its records are read (reading
/// record headers faults in the pages around them: the caller may release them again).
pub fn assemble_with(segments: Vec<SegmentScan>, done: &dyn Fn(usize)) -> WalLog {
    let mut log = WalLog::default();
    for (i, seg) in segments.iter().enumerate() {
        log.findings.extend(seg.findings.iter().cloned());
        if i > 0 {
            let prev = &segments[i - 1];
            if seg.seq != prev.seq.wrapping_add(1) {
                log.findings.push(
                    Finding::new(
                        Code::WalSegmentSequenceGap,
                        Severity::Error,
                        format!(
                            "segment sequence jumps from {} to {}: a segment is missing (what Docker does depends on the segment it starts reading at: see the consequence)",
                            prev.seq, seg.seq
                        ),
                    )
                    .file(&seg.display),
                );
            }
            if seg.name_index < prev.name_index {
                log.findings.push(
                    Finding::new(
                        Code::WalSegmentIndexOrder,
                        Severity::Error,
                        format!(
                            "segment starts at index {} but the previous one starts at {}",
                            seg.name_index, prev.name_index
                        ),
                    )
                    .file(&seg.display),
                );
            }
            match seg.first_crc {
                Some(c)
                    if c != prev.last_crc
                        && matches!(prev.end, SegmentEnd::Eof { .. } | SegmentEnd::ZeroTail { .. }) =>
                {
                    log.findings.push(
                        Finding::new(
                            Code::WalCrcChainBreak,
                            Severity::Error,
                            format!(
                                "segment starts its CRC chain at {c:#010x} but {} ended at {:#010x}",
                                prev.name, prev.last_crc
                            ),
                        )
                        .file(&seg.display)
                        .offset(0),
                    );
                }
                None if !seg.records.is_empty() => {
                    log.findings.push(
                        Finding::new(
                            Code::WalMissingCrcRecord,
                            Severity::Error,
                            "segment does not start with a crc record",
                        )
                        .file(&seg.display)
                        .offset(0),
                    );
                }
                _ => {}
            }
        }
        if seg.records.is_empty() && seg.size > 0 {
            log.findings.push(
                Finding::new(Code::WalEmptySegment, Severity::Warning, "segment holds no records").file(&seg.display),
            );
        }
    }
    for (si, seg) in segments.iter().enumerate() {
        for r in &seg.records {
            match r.rtype {
                rtype::METADATA => match &log.metadata {
                    None => log.metadata = Some(r.data.clone()),
                    Some(m) if *m != r.data => log.findings.push(
                        Finding::new(
                            Code::WalMetadataConflict,
                            Severity::Error,
                            "metadata record differs from the first one: etcd fails with ErrMetadataConflict",
                        )
                        .file(&seg.display)
                        .offset(r.offset),
                    ),
                    _ => {}
                },
                rtype::STATE => match raftpb::HardState::decode(r.data.clone()) {
                    Ok(h) => {
                        log.state_records += 1;
                        let hs = HardState { term: h.term(), vote: h.vote(), commit: h.commit() };
                        if let Some((prev, ..)) = log.hard_state {
                            if hs.commit < prev.commit {
                                log.findings.push(
                                    Finding::new(
                                        Code::WalCommitRegression,
                                        Severity::Warning,
                                        format!("HardState commit goes back from {} to {}", prev.commit, hs.commit),
                                    )
                                    .file(&seg.display)
                                    .offset(r.offset),
                                );
                            }
                            if hs.term < prev.term {
                                log.findings.push(
                                    Finding::new(
                                        Code::WalTermRegression,
                                        Severity::Error,
                                        format!("HardState term goes back from {} to {}", prev.term, hs.term),
                                    )
                                    .file(&seg.display)
                                    .offset(r.offset),
                                );
                            }
                        }
                        log.hard_state = Some((hs, si, r.offset));
                    }
                    Err(e) => log.findings.push(
                        Finding::new(
                            Code::WalStateUndecodable,
                            Severity::Error,
                            format!("state record does not decode: {e}"),
                        )
                        .file(&seg.display)
                        .offset(r.offset),
                    ),
                },
                rtype::SNAPSHOT => match walpb::Snapshot::decode(r.data.clone()) {
                    Ok(m) => log.markers.push(Marker {
                        index: m.index(),
                        term: m.term(),
                        has_conf_state: m.conf_state.is_some(),
                        voters: m.conf_state.map(|c| c.voters).unwrap_or_default(),
                        seg: si,
                        offset: r.offset,
                    }),
                    Err(e) => log.findings.push(
                        Finding::new(
                            Code::WalMarkerUndecodable,
                            Severity::Error,
                            format!("snapshot marker does not decode: {e}"),
                        )
                        .file(&seg.display)
                        .offset(r.offset),
                    ),
                },
                rtype::ENTRY => match raftpb::Entry::decode(r.data.clone()) {
                    Ok(e) => push_entry(
                        &mut log,
                        EntryRec {
                            index: e.index(),
                            term: e.term(),
                            etype: e.r#type.unwrap_or(0),
                            data: e.data.unwrap_or_default(),
                            seg: si,
                            offset: r.offset,
                            overwritten_by: None,
                        },
                        &seg.display,
                    ),
                    Err(err) => log.findings.push(
                        Finding::new(
                            Code::WalEntryUndecodable,
                            Severity::Error,
                            format!("entry record does not decode as raftpb.Entry: {err}"),
                        )
                        .file(&seg.display)
                        .offset(r.offset),
                    ),
                },
                _ => {}
            }
        }
        done(si);
    }
    log.segments = segments;
    // A snapshot (e.g. received from the leader) covers everything up to its marker's index.
    let last = log.last_index().unwrap_or(0).max(log.markers.iter().map(|m| m.index).max().unwrap_or(0));
    if let Some((hs, si, off)) = log.hard_state {
        if hs.commit > last && !log.entries.is_empty() {
            log.findings.push(
                Finding::new(
                    Code::WalCommitBeyondLog,
                    Severity::Error,
                    format!(
                        "HardState.commit is {} but the log ends at {last}: committed entries {}-{} are missing here",
                        hs.commit,
                        last + 1,
                        hs.commit
                    ),
                )
                .file(log.seg_display(si).to_string())
                .offset(off),
            );
        }
    }
    log
}

fn push_entry(log: &mut WalLog, e: EntryRec, display: &str) {
    let Some(last) = log.entries.last() else {
        log.entries.push(e);
        return;
    };
    let (last_index, last_term) = (last.index, last.term);
    if e.index == last_index.wrapping_add(1) {
        if e.term < last_term {
            log.findings.push(
                Finding::new(
                    Code::WalTermRegression,
                    Severity::Error,
                    format!("entry term {} is lower than the previous entry's term {last_term}", e.term),
                )
                .file(display)
                .offset(e.offset)
                .index(e.index)
                .term(e.term),
            );
        }
        log.entries.push(e);
    } else if e.index <= last_index {
        let pos = log.entries.partition_point(|x| x.index < e.index);
        let mut gone = log.entries.split_off(pos);
        if let (Some(first), Some(lastg)) = (gone.first(), gone.last()) {
            let committed_before = log.hard_state.map(|h| h.0.commit).unwrap_or(0);
            let sev = if first.index <= committed_before { Severity::Error } else { Severity::Info };
            log.findings.push(
                Finding::new(
                    Code::WalEntriesOverwritten,
                    sev,
                    format!(
                        "entries {}-{} (term {}) were replaced by a new leader's entries from index {} (term {}){}",
                        first.index,
                        lastg.index,
                        first.term,
                        e.index,
                        e.term,
                        if sev == Severity::Error {
                            ", although they were already committed"
                        } else {
                            "; they were never committed"
                        }
                    ),
                )
                .file(display)
                .offset(e.offset)
                .index(e.index)
                .term(e.term),
            );
        }
        for g in gone.iter_mut() {
            g.overwritten_by = Some((e.term, e.seg, e.offset));
        }
        log.overwritten.extend(gone);
        log.entries.push(e);
    } else if log.markers.last().is_some_and(|m| m.index.wrapping_add(1) == e.index && m.index > last_index) {
        // A snapshot (typically sent by the leader to a lagging follower) moved the log forward:
        // entries up to the marker's index live in that snapshot, not in the WAL.
        log.findings.push(
            Finding::new(
                Code::WalLogJumpsToSnapshot,
                Severity::Info,
                format!(
                    "the log continues at {} after a snapshot marker; entries {}-{} are only in that snapshot",
                    e.index,
                    last_index + 1,
                    e.index - 1
                ),
            )
            .file(display)
            .offset(e.offset)
            .index(e.index)
            .term(e.term),
        );
        log.entries.push(e);
    } else {
        log.findings.push(
            Finding::new(
                Code::WalIndexGap,
                Severity::Error,
                format!("entries jump from index {last_index} to {}: entries in between are missing", e.index),
            )
            .file(display)
            .offset(e.offset)
            .index(e.index)
            .term(e.term),
        );
        log.entries.push(e);
    }
}

/// Writing side, used by `decrypt`, `salvage` and the test writers: encode records exactly as
/// etcd's encoder does (padded frames, rolling CRC-32C).
pub mod encode {
    use crate::pb::walpb;
    use prost::Message;

    /// A segment being written: frames appended to `buf`, CRC chain in `crc`.
    #[derive(Debug, Default)]
    pub struct SegmentWriter {
        /// Bytes written so far.
        pub buf: Vec<u8>,
        /// Running CRC.
        pub crc: u32,
        /// Write legacy (etcd 2.3) unpadded frames.
        pub legacy: bool,
    }

    impl SegmentWriter {
        /// A writer whose chain starts at `prev_crc` (0 for the first segment). Writes the
        /// leading crc record.
        pub fn new(prev_crc: u32, legacy: bool) -> SegmentWriter {
            let mut w = SegmentWriter { buf: Vec::new(), crc: prev_crc, legacy };
            w.record(super::rtype::CRC, None);
            w
        }
        /// Append one record; data is `None` for crc records.
        pub fn record(&mut self, rtype: i64, data: Option<&[u8]>) {
            if let Some(d) = data {
                self.crc = crc32c::crc32c_append(self.crc, d);
            }
            let rec = walpb::Record {
                r#type: Some(rtype),
                crc: Some(self.crc),
                data: data.map(bytes::Bytes::copy_from_slice),
            };
            let body = rec.encode_to_vec();
            self.frame(&body);
        }
        /// Append one record whose stored CRC does not match its data, as a damaged record
        /// of the original: `stored` is the original's stored value (changed only if it
        /// happens to match here). The chain then goes on from the stored value, as the reader
        /// does past a CRC mismatch, so the records after it stay sound.
        pub fn damaged_record(&mut self, rtype: i64, data: &[u8], stored: u32) {
            let computed = crc32c::crc32c_append(self.crc, data);
            let stored = if stored == computed { !stored } else { stored };
            self.crc = stored;
            let rec = walpb::Record {
                r#type: Some(rtype),
                crc: Some(stored),
                data: Some(bytes::Bytes::copy_from_slice(data)),
            };
            let body = rec.encode_to_vec();
            self.frame(&body);
        }
        /// Append a crc record whose stored value disagrees with the chain, as a damaged crc
        /// record of the original (a leading one that breaks the chain, or one inside a
        /// segment that fails the check): `stored` is the original's value (changed only if it
        /// happens to match here), `data` what the original record carried. The chain then goes
        /// on from the stored value, as the reader re-seeds it from a crc record.
        pub fn damaged_crc_record(&mut self, stored: u32, data: Option<&[u8]>) {
            let stored = if stored == self.crc { !stored } else { stored };
            self.crc = stored;
            let rec = walpb::Record {
                r#type: Some(super::rtype::CRC),
                crc: Some(stored),
                data: data.map(bytes::Bytes::copy_from_slice),
            };
            let body = rec.encode_to_vec();
            self.frame(&body);
        }
        /// Append a raw frame around `body`.
        pub fn frame(&mut self, body: &[u8]) {
            let len = body.len() as u64;
            if self.legacy {
                self.buf.extend_from_slice(&len.to_le_bytes());
                self.buf.extend_from_slice(body);
                return;
            }
            let pad = (8 - (len % 8)) % 8;
            let mut lf = len;
            if pad != 0 {
                lf |= (0x80 | pad) << 56;
            }
            self.buf.extend_from_slice(&lf.to_le_bytes());
            self.buf.extend_from_slice(body);
            self.buf.extend(std::iter::repeat_n(0u8, pad as usize));
        }
    }
}

/// Release the mapped pages under a decoded chunk of entries: per segment, the span from the
/// chunk's first to its last byte (pages shared with the next chunk stay until it is done).
pub fn release_entries<'a>(source: &crate::input::source::Source, chunk: impl IntoIterator<Item = &'a EntryRec>) {
    let mut spans: std::collections::BTreeMap<usize, (usize, usize)> = std::collections::BTreeMap::new();
    for e in chunk.into_iter().filter(|e| !e.data.is_empty()) {
        let (s, t) = (e.data.as_ptr() as usize, e.data.as_ptr() as usize + e.data.len());
        let span = spans.entry(e.seg).or_insert((s, t));
        span.0 = span.0.min(s);
        span.1 = span.1.max(t);
    }
    for (_, (s, t)) in spans {
        source.release_span(s, t);
    }
}
