//! What Docker does with this directory when it starts: an emulation of swarmkit's startup path
//! over the raw bytes (never the input files themselves).
//!
//! Order, as in swarmkit `manager/state/raft/storage.go` (`readFromDisk`, `loadAndStart`) and
//! `storage/{storage,snapwrap,walwrap}.go`, with the etcd WAL/snap code it vendors:
//!
//! 1. etcd's snapshotter loads the newest `.snap` whose container is sound; every newer one that
//!    fails is renamed `<name>.broken`. swarmkit then decrypts its payload; a decryption failure is
//!    fatal (no fallback).
//! 2. `wal.Open` at that snapshot: the newest segment whose name index is ≤ the snapshot index,
//!    and sequence numbers from it on must increase by one (else `wal: file not found`).
//! 3. `ReadAll` decodes every record of those segments: frame length rules of the etcd version,
//!    the CRC chain, etcd's torn-write rule in the last segment, metadata equality, entry
//!    continuity after the snapshot (`wal: slice bounds out of range`), the snapshot marker
//!    (`wal: snapshot not found`, which every etcd version loses). `io.ErrUnexpectedEOF` leads to one `wal.Repair` of the last
//!    segment (truncate at the last valid record, keep a `.broken` copy) and a second read;
//!    anything else is `irreparable WAL error`.
//! 4. swarmkit decrypts every entry after the snapshot (`failed to decrypt WAL`), unmarshals the
//!    metadata, and raft's `loadState` panics when `HardState.commit` is outside
//!    `[snapshot index, last index]`.

use crate::crypto::{self, Algorithm, DecryptError, Dek};
use crate::format::wal::{self, rtype};
use crate::pb::{raftpb, walpb};
use bytes::Bytes;
use prost::Message;
use serde::Serialize;

/// Which etcd WAL decoder the Docker engine carries (they differ on bad length fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// etcd 3.2 / 3.3.12 (Docker 17.09-20.10: swarmkit's `vendor.conf` on its `bump_*` branches
    /// pins coreos/etcd 3.2.1, 3.3.9 and, for 20.10, 3.3.12; Debian's 20.10.24 is built from that
    /// vendor dir). The decoder has no limit on a record's length: it allocates
    /// `recBytes + padBytes` before reading. From 2^48 bytes on Go's `makeslice` panics
    /// (`runtime error: makeslice: len out of range`); a smaller length past the end of the file
    /// reads short, `io.ErrUnexpectedEOF`, repaired in the last segment. `ReadAll` has no bounds
    /// check either: an entry past a gap panics (`runtime error: slice bounds out of range`); and
    /// its `wal: snapshot not found` is lost (overwritten by the encoder's nil error), as in every
    /// later etcd too.
    Etcd33,
    /// etcd 3.5.0-3.5.15 (Docker 23-27): a length past the end of the file is a plain
    /// `wal: max entry size limit exceeded, ...` error, never repaired.
    Etcd35,
    /// etcd 3.5.16 (Docker 28.x-29.0.x): the same check wraps `io.ErrUnexpectedEOF`, so in the
    /// last segment it is repaired like a torn write.
    Etcd3516,
    /// etcd 3.6 (Docker 29.1 and later: moby's `vendor/modules.txt` has 3.6.5 from docker-v29.1.0,
    /// 3.6.14 in 29.7.x): the decoder of 3.5.16, and `wal.Open` wraps its errors
    /// (`openAtIndex failed: [openAtIndex] selectWALFiles failed: wal: file not found which
    /// matches the snapshot index 'N'`; a sequence gap is `wal: file sequence numbers (starting
    /// from N) do not increase continuously`).
    Etcd36,
}

impl Flavor {
    /// One line for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Flavor::Etcd33 => {
                "Docker 17.09-20.10 (etcd 3.2/3.3.12 WAL code: no limit on a record's length; a length of 2^48 or more panics in makeslice)"
            }
            Flavor::Etcd35 => "Docker 23.0-27.x (etcd 3.5.6 WAL code)",
            Flavor::Etcd3516 => "Docker 28.0-29.0.x (etcd 3.5.16 WAL code)",
            Flavor::Etcd36 => "Docker 29.1 or later (etcd 3.6 WAL code)",
        }
    }

    /// `wal.Open`'s error when no segment's name index reaches back to the snapshot's index.
    pub fn wal_not_covered(self, snap_index: u64) -> String {
        match self {
            Flavor::Etcd36 => format!(
                "failed to open WAL: openAtIndex failed: [openAtIndex] selectWALFiles failed: wal: file not found which matches the snapshot index '{snap_index}'"
            ),
            _ => "failed to open WAL: wal: file not found".into(),
        }
    }

    /// `wal.Open`'s error when the sequence numbers from the first segment it reads on do not
    /// increase by one (`start`: that segment's position among the WAL files, sorted by name).
    pub fn wal_sequence_gap(self, start: usize) -> String {
        match self {
            Flavor::Etcd36 => format!(
                "failed to open WAL: openAtIndex failed: [openAtIndex] selectWALFiles failed: wal: file sequence numbers (starting from {start}) do not increase continuously"
            ),
            _ => "failed to open WAL: wal: file not found".into(),
        }
    }
}

/// Raw bytes of one segment, in name order.
#[derive(Debug, Clone)]
pub struct SegIn {
    /// File name.
    pub name: String,
    /// Display path.
    pub display: String,
    /// Sequence number from the name.
    pub seq: u64,
    /// Index from the name.
    pub name_index: u64,
    /// Whole file.
    pub data: Bytes,
}

/// A `.snap` file as etcd's loader sees it.
#[derive(Debug, Clone)]
pub struct SnapIn {
    /// File name (etcd sorts these).
    pub name: String,
    /// Display path.
    pub display: String,
    /// Metadata index and term (valid when `container_ok`).
    pub index: u64,
    /// Term.
    pub term: u64,
    /// Container sound (non-empty, CRC, decodes): what etcd's loader checks.
    pub container_ok: bool,
    /// Why not.
    pub container_problem: Option<String>,
    /// The (still encrypted) payload.
    pub payload: Bytes,
}

/// How keys stand, as far as Docker's startup is concerned.
#[derive(Debug, Clone)]
pub enum Keys<'a> {
    /// Plaintext layout.
    NotEncrypted,
    /// These DEKs (current, pending).
    Deks(&'a [Dek]),
    /// Autolock on and no unlock key: Docker starts locked; payloads cannot be checked here.
    Locked,
    /// `swarm-node.key` has no `raft-dek`: Docker writes a fresh DEK, which opens nothing.
    NoDek,
    /// We cannot tell (no key file given, damaged key): payloads are not checked.
    Unknown,
}

/// What stopped Docker.
#[derive(Debug, Clone, Serialize)]
pub struct Stop {
    /// `refuses` (returns an error) or `panics` (raft/etcd panic, the daemon dies).
    pub how: &'static str,
    /// The message Docker prints (after `manager stopped: `).
    pub message: String,
    /// File concerned.
    pub file: Option<String>,
    /// Offset in it.
    pub offset: Option<u64>,
    /// Raft index.
    pub index: Option<u64>,
}

/// A `wal.Repair` that Docker performs.
#[derive(Debug, Clone, Serialize)]
pub struct RepairDone {
    /// Segment number.
    #[serde(skip)]
    pub seg: usize,
    /// File truncated.
    pub file: String,
    /// New length (offset of the damaged frame).
    pub offset: u64,
    /// Entry indexes beyond that point (filled in by the caller, which can resync).
    pub lost: Vec<u64>,
    /// Of those, committed ones.
    pub lost_committed: Vec<u64>,
}

/// Docker's startup, emulated.
#[derive(Debug, Clone, Serialize)]
pub struct DockerSim {
    /// WAL decoder flavor assumed.
    pub flavor: Flavor,
    /// `.snap` files etcd renames to `.broken`, with why.
    pub snapshots_broken: Vec<(String, String)>,
    /// The snapshot Docker loads: (display, index, term).
    pub snapshot_loaded: Option<(String, u64, u64)>,
    /// Segment number ReadAll starts at.
    #[serde(skip)]
    pub start_seg: Option<usize>,
    /// Repair performed.
    pub repair: Option<RepairDone>,
    /// Where reading ended in the last segment: etcd zero-fills from here to the end of the file
    /// when it opens the WAL for writing. (segment number, offset)
    #[serde(skip)]
    pub end_of_log: Option<(usize, u64)>,
    /// Why Docker does not start, if so.
    pub stop: Option<Stop>,
    /// No WAL at all: Docker starts a new raft log.
    pub no_wal: bool,
    /// Autolock on and no key given: Docker starts locked.
    pub locked: bool,
    /// Whether payloads (snapshot, entries) were checked with keys.
    pub payloads_checked: bool,
    /// Entries after the snapshot that Docker reads.
    pub entries_read: usize,
    /// Last index Docker ends up with.
    pub last_index: u64,
    /// HardState.commit Docker ends up with.
    pub commit: u64,
}

impl DockerSim {
    /// Docker would start (possibly after a repair, possibly locked).
    pub fn starts(&self) -> bool {
        self.stop.is_none()
    }
}

/// Result of decoding one frame, etcd style.
enum Dec {
    Rec {
        rt: i64,
        crc: u32,
        data: Bytes,
        next: u64,
        running: u32,
    },
    /// EOF or a zero length field: this segment is done.
    SegEnd,
    UnexpectedEof(String),
    Fatal(String),
    /// The Go runtime panics (the daemon dies).
    Panic(String),
}

/// Go's `maxAlloc` on 64-bit Linux (`1 << heapAddrBits`, 48 bits): `make([]byte, n)` with a larger
/// `n` panics with `makeslice: len out of range` before allocating anything.
pub const GO_MAX_ALLOC: u64 = 1 << 48;

/// gogo-protobuf returns `io.ErrUnexpectedEOF` for truncated fields; other decode errors are
/// plain errors. prost's messages are mapped onto those two classes.
fn proto_err_is_eof(e: &prost::DecodeError) -> bool {
    let s = e.to_string();
    s.contains("buffer underflow") || s.contains("delimited length exceeded") || s.contains("invalid varint")
}

#[allow(clippy::too_many_arguments)]
fn decode_one(data: &Bytes, name: &str, off: u64, running: u32, last: bool, flavor: Flavor, crc_known: bool) -> Dec {
    let len = data.len() as u64;
    let rem = len.saturating_sub(off);
    if rem == 0 {
        return Dec::SegEnd;
    }
    if rem < 8 {
        return Dec::UnexpectedEof("unexpected EOF".into());
    }
    let o = off as usize;
    let Ok(raw) = crate::format::cursor::Cursor::new(&data[o..], off).u64_le("frame length field") else {
        return Dec::UnexpectedEof("unexpected EOF".into());
    };
    if raw == 0 {
        return Dec::SegEnd;
    }
    // etcd reads the field as an int64: a set top bit (the padding flag) makes it negative.
    let f = crate::format::cursor::FrameLen::new(raw);
    let (rec, pad) = (f.rec, f.pad());
    match flavor {
        Flavor::Etcd33 => {
            // `data := make([]byte, recBytes+padBytes)` comes before any check.
            if rec + pad >= GO_MAX_ALLOC {
                return Dec::Panic("runtime error: makeslice: len out of range".into());
            }
        }
        Flavor::Etcd35 | Flavor::Etcd3516 | Flavor::Etcd36 => {
            let limit = len as i64 - off as i64 - pad as i64;
            if rec as i64 > limit {
                return if flavor == Flavor::Etcd35 {
                    Dec::Fatal(format!(
                        "wal: max entry size limit exceeded, recBytes: {rec}, fileSize({len}) - offset({off}) - padBytes({pad}) = entryLimit({limit})"
                    ))
                } else {
                    Dec::UnexpectedEof(format!(
                        "unexpected EOF: [wal] max entry size limit exceeded when decoding \"{name}\", recBytes: {rec}, fileSize({len}) - offset({off}) - padBytes({pad}) = entryLimit({limit})"
                    ))
                };
            }
        }
    }
    let body = off + 8;
    let end = match body.checked_add(rec).and_then(|x| x.checked_add(pad)) {
        Some(e) if e <= len => e,
        _ => return Dec::UnexpectedEof("unexpected EOF".into()),
    };
    let r = match walpb::Record::decode(data.slice(body as usize..(body + rec) as usize)) {
        Ok(r) => r,
        Err(e) => {
            if last && wal::is_torn(data, body, end) {
                return Dec::UnexpectedEof("unexpected EOF".into());
            }
            if proto_err_is_eof(&e) {
                return Dec::UnexpectedEof("unexpected EOF".into());
            }
            return Dec::Fatal(format!("proto: walpb.Record: {e}"));
        }
    };
    let rt = r.r#type.unwrap_or(0);
    let crc = r.crc.unwrap_or(0);
    let payload = r.data.unwrap_or_default();
    let mut run = running;
    if rt != rtype::CRC && crc_known {
        run = crc;
    } else if rt != rtype::CRC {
        run = crc32c::crc32c_append(running, &payload);
        if run != crc {
            if last && wal::is_torn(data, body, end) {
                return Dec::UnexpectedEof("unexpected EOF".into());
            }
            return Dec::Fatal("walpb: crc mismatch".into());
        }
    }
    Dec::Rec { rt, crc, data: payload, next: end, running: run }
}

/// A live entry as ReadAll returns it.
#[derive(Debug, Clone)]
pub struct EntryOut {
    /// Index.
    pub index: u64,
    /// Term.
    pub term: u64,
    /// Type.
    pub etype: i32,
    /// Data (encrypted in the encrypted layout).
    pub data: Bytes,
    /// Segment number.
    pub seg: usize,
    /// Frame offset.
    pub offset: u64,
}

struct ReadOk {
    metadata: Option<Bytes>,
    state: Option<(raftpb::HardState, usize, u64)>,
    ents: Vec<EntryOut>,
    end: (usize, u64),
}

struct ReadErr {
    eof: bool,
    panic: bool,
    message: String,
    seg: Option<usize>,
    offset: Option<u64>,
    index: Option<u64>,
}

fn read_all(
    segs: &[SegIn],
    start: usize,
    snap: (u64, u64),
    flavor: Flavor,
    hints: &Hints<'_>,
) -> Result<ReadOk, ReadErr> {
    let mut running: u32 = 0;
    let mut metadata: Option<Bytes> = None;
    let mut state = None;
    let mut ents: Vec<EntryOut> = Vec::new();
    // Whether an entry was appended yet (the Go slice then has a capacity we do not follow).
    let mut pushed = false;
    let n = segs.len();
    let mut end = (start, 0u64);
    let err = |eof, panic, message: String, seg, offset, index| ReadErr {
        eof,
        panic,
        message,
        seg: Some(seg),
        offset: Some(offset),
        index,
    };
    for (si, seg) in segs.iter().enumerate().skip(start) {
        let last = si + 1 == n;
        let mut off = 0u64;
        let mut released = 0u64;
        loop {
            let crc_known = hints.crc_matched.is_some_and(|f| f(si, off));
            match decode_one(&seg.data, &seg.name, off, running, last, flavor, crc_known) {
                Dec::SegEnd => break,
                Dec::UnexpectedEof(m) => return Err(err(true, false, m, si, off, None)),
                Dec::Fatal(m) => return Err(err(false, false, m, si, off, None)),
                Dec::Panic(m) => return Err(err(false, true, m, si, off, None)),
                Dec::Rec { rt, crc, data, next, running: run } => {
                    running = run;
                    match rt {
                        rtype::ENTRY => {
                            let Ok(e) = raftpb::Entry::decode(data) else {
                                return Err(err(
                                    false,
                                    true,
                                    "unmarshal should never fail (raftpb.Entry)".into(),
                                    si,
                                    off,
                                    None,
                                ));
                            };
                            if e.index() > snap.0 {
                                let up = e.index() - snap.0 - 1;
                                if up > ents.len() as u64 {
                                    if flavor == Flavor::Etcd33 {
                                        // `append(ents[:up], e)` without etcd 3.4's bounds check:
                                        // Go panics. Its capacity is known only while nothing was
                                        // appended yet; past a gap within the spare capacity Go
                                        // would not panic (not modelled).
                                        let cap = if pushed { String::new() } else { " with capacity 0".into() };
                                        return Err(err(
                                            false,
                                            true,
                                            format!("runtime error: slice bounds out of range [:{up}]{cap}"),
                                            si,
                                            off,
                                            Some(e.index()),
                                        ));
                                    }
                                    return Err(err(
                                        false,
                                        false,
                                        "wal: slice bounds out of range".into(),
                                        si,
                                        off,
                                        Some(e.index()),
                                    ));
                                }
                                pushed = true;
                                ents.truncate(up as usize);
                                ents.push(EntryOut {
                                    index: e.index(),
                                    term: e.term(),
                                    etype: e.r#type.unwrap_or(0),
                                    data: e.data.unwrap_or_default(),
                                    seg: si,
                                    offset: off,
                                });
                            }
                        }
                        rtype::STATE => match raftpb::HardState::decode(data) {
                            Ok(h) => state = Some((h, si, off)),
                            Err(_) => {
                                return Err(err(
                                    false,
                                    true,
                                    "unmarshal should never fail (raftpb.HardState)".into(),
                                    si,
                                    off,
                                    None,
                                ));
                            }
                        },
                        rtype::METADATA => {
                            if let Some(m) = &metadata {
                                if *m != data {
                                    return Err(err(
                                        false,
                                        false,
                                        "wal: conflicting metadata found".into(),
                                        si,
                                        off,
                                        None,
                                    ));
                                }
                            }
                            metadata = Some(data);
                        }
                        rtype::CRC => {
                            if running != 0 && crc != running {
                                return Err(err(false, false, "wal: crc mismatch".into(), si, off, None));
                            }
                            running = crc;
                        }
                        rtype::SNAPSHOT => match walpb::Snapshot::decode(data) {
                            Ok(m) => {
                                if m.index() == snap.0 {
                                    if m.term() != snap.1 {
                                        return Err(err(
                                            false,
                                            false,
                                            "wal: snapshot mismatch".into(),
                                            si,
                                            off,
                                            Some(m.index()),
                                        ));
                                    }
                                }
                            }
                            Err(_) => {
                                return Err(err(
                                    false,
                                    true,
                                    "unmarshal should never fail (walpb.Snapshot)".into(),
                                    si,
                                    off,
                                    None,
                                ));
                            }
                        },
                        t => return Err(err(false, false, format!("unexpected block type {t}"), si, off, None)),
                    }
                    off = next;
                    // The read is sequential: what lies behind it can be released as it goes.
                    if let Some(r) = hints.release {
                        if off - released >= 4 << 20 {
                            r(seg.data.get(released as usize..off as usize).unwrap_or_default());
                            released = off;
                        }
                    }
                }
            }
        }
        if let Some(r) = hints.release {
            r(&seg.data);
        }
        end = (si, off);
    }
    // Every etcd Docker carries (3.3.12 through 3.6.14) sets `err = ErrSnapshotNotFound`, then
    // overwrites it with the result of `w.encoder, err = newFileEncoder(...)` when the WAL is open
    // for writing (Docker always opens it so): the missing marker is not reported, and what was
    // read goes on to raft's HardState check. Docker 20.10.24 and 29.7.2 both panicked so.
    Ok(ReadOk { metadata, state, ents, end })
}

/// etcd `wal.Repair` on the last segment: `Ok(Some(offset))` = truncated there, `Ok(None)` =
/// nothing to do, `Err` = cannot repair.
fn repair(seg: &SegIn, flavor: Flavor) -> Result<Option<u64>, ()> {
    let mut off = 0u64;
    let mut running = 0u32;
    loop {
        match decode_one(&seg.data, &seg.name, off, running, true, flavor, false) {
            Dec::Rec { rt, crc, next, running: run, .. } => {
                if rt == rtype::CRC {
                    if running != 0 && crc != running {
                        return Err(());
                    }
                    running = crc;
                } else {
                    running = run;
                }
                off = next;
            }
            Dec::SegEnd => return Ok(None),
            Dec::UnexpectedEof(_) => return Ok(Some(off)),
            Dec::Fatal(_) | Dec::Panic(_) => return Err(()),
        }
    }
}

/// swarmkit's message for an entry or snapshot payload that does not decrypt.
pub fn swarmkit_decrypt_message(data: &[u8], e: &DecryptError) -> String {
    match e {
        DecryptError::NotARecord => "unable to unmarshal as MaybeEncryptedRecord".into(),
        DecryptError::Plaintext => "cannot decrypt record encrypted using NONE".into(),
        DecryptError::UnknownAlgorithm(n) => format!("cannot decrypt record encrypted using {n}"),
        DecryptError::BadNonce { len } => {
            format!("invalid nonce size for NACL secretbox: require 24, got {len}")
        }
        _ => match crypto::record_algorithm(data) {
            Ok(Algorithm::Fernet) => "no decryption key for record encrypted with FERNET_AES_128_CBC".into(),
            _ => "no decryption key for record encrypted with SECRETBOX_SALSA20_POLY1305".into(),
        },
    }
}

fn open(data: &[u8], deks: &[Dek]) -> Result<(), String> {
    crypto::decrypt_record(data, deks).map(|_| ()).map_err(|e| swarmkit_decrypt_message(data, &e))
}

const INIT: &str = "can't initialize raft node: ";

/// Run the emulation.
pub fn simulate(segs: &[SegIn], snaps: &[SnapIn], keys: Keys<'_>, flavor: Flavor, raft_id: Option<u64>) -> DockerSim {
    simulate_with(segs, snaps, keys, flavor, raft_id, &Hints::default())
}

/// A callback handed the bytes of a segment.
pub type SegmentDone<'a> = &'a dyn Fn(&[u8]);

/// What the caller already knows, so that [`simulate_with`] does not do the same work twice. The
/// answers must be exact: a hint only lets the simulation skip a decryption whose outcome is known
/// to be success; failures are always decrypted again here (for Docker's own message).
#[derive(Default)]
pub struct Hints<'a> {
    /// True when the entry record at (segment number, frame offset) is known to decrypt with the
    /// DEKs given in [`Keys::Deks`].
    pub entry_decrypts: Option<&'a dyn Fn(usize, u64) -> bool>,
    /// True when this snapshot file (by name) is known to decrypt with those DEKs.
    pub snap_decrypts: Option<&'a dyn Fn(&str) -> bool>,
    /// Called with each segment's bytes once the simulated read is done with them (to release
    /// mapped pages).
    pub release: Option<SegmentDone<'a>>,
    /// True when the record at (segment number, frame offset) is known to match its stored CRC
    /// (the chain value then is the stored CRC, and computing it again is skipped).
    pub crc_matched: Option<&'a dyn Fn(usize, u64) -> bool>,
}

/// [`simulate`], with what the caller already knows.
pub fn simulate_with(
    segs: &[SegIn],
    snaps: &[SnapIn],
    keys: Keys<'_>,
    flavor: Flavor,
    raft_id: Option<u64>,
    hints: &Hints<'_>,
) -> DockerSim {
    let mut sim = DockerSim {
        flavor,
        snapshots_broken: Vec::new(),
        snapshot_loaded: None,
        start_seg: None,
        repair: None,
        end_of_log: None,
        stop: None,
        no_wal: false,
        locked: matches!(keys, Keys::Locked),
        payloads_checked: matches!(keys, Keys::Deks(_) | Keys::NotEncrypted),
        entries_read: 0,
        last_index: 0,
        commit: 0,
    };
    let refuse = |message: String, file: Option<String>, offset: Option<u64>, index: Option<u64>| Stop {
        how: "refuses",
        message: format!("{INIT}{message}"),
        file,
        offset,
        index,
    };
    // 1. Snapshot: newest sound container, newer broken ones renamed .broken.
    let mut order: Vec<&SnapIn> = snaps.iter().collect();
    order.sort_by(|a, b| b.name.cmp(&a.name));
    let mut loaded: Option<&SnapIn> = None;
    for s in order {
        if s.container_ok {
            loaded = Some(s);
            break;
        }
        sim.snapshots_broken.push((s.display.clone(), s.container_problem.clone().unwrap_or_else(|| "damaged".into())));
    }
    if let Some(s) = loaded {
        sim.snapshot_loaded = Some((s.display.clone(), s.index, s.term));
        let known = hints.snap_decrypts.is_some_and(|f| f(&s.name));
        let bad = match &keys {
            Keys::Deks(_) if known => None,
            Keys::Deks(d) => open(&s.payload, d).err(),
            Keys::NoDek => Some("no decryption key for record encrypted with SECRETBOX_SALSA20_POLY1305".into()),
            _ => None,
        };
        if let Some(m) = bad {
            sim.stop = Some(refuse(m, Some(s.display.clone()), None, Some(s.index)));
            return sim;
        }
    }
    let snap = loaded.map(|s| (s.index, s.term)).unwrap_or((0, 0));
    // 2. Open the WAL.
    if segs.is_empty() {
        sim.no_wal = true;
        return sim;
    }
    let start = segs.iter().rposition(|s| s.name_index <= snap.0);
    let Some(start) = start else {
        sim.stop = Some(refuse(flavor.wal_not_covered(snap.0), None, None, Some(snap.0)));
        return sim;
    };
    if segs[start..].windows(2).any(|w| w[1].seq != w[0].seq.wrapping_add(1)) {
        let bad = segs[start..].windows(2).find(|w| w[1].seq != w[0].seq.wrapping_add(1)).map(|w| w[1].display.clone());
        sim.stop = Some(refuse(flavor.wal_sequence_gap(start), bad, None, None));
        return sim;
    }
    sim.start_seg = Some(start);
    // 3. ReadAll, with one repair of the last segment on io.ErrUnexpectedEOF.
    let mut view: Vec<SegIn> = segs.to_vec();
    let last = view.len() - 1;
    let mut repaired = false;
    let ok = loop {
        match read_all(&view, start, snap, flavor, hints) {
            Ok(ok) => break ok,
            Err(e) => {
                let file = e.seg.map(|s| view[s].display.clone()).or_else(|| loaded.map(|s| s.display.clone()));
                if e.panic {
                    sim.stop = Some(Stop {
                        how: "panics",
                        message: format!("panic: {}", e.message),
                        file,
                        offset: e.offset,
                        index: e.index,
                    });
                    return sim;
                }
                if !e.eof || repaired {
                    sim.stop = Some(refuse(format!("irreparable WAL error: {}", e.message), file, e.offset, e.index));
                    return sim;
                }
                match repair(&view[last], flavor) {
                    Err(()) => {
                        sim.stop = Some(refuse(
                            format!("WAL error cannot be repaired: {}", e.message),
                            file,
                            e.offset,
                            e.index,
                        ));
                        return sim;
                    }
                    Ok(None) => {}
                    Ok(Some(cut)) => {
                        sim.repair = Some(RepairDone {
                            seg: last,
                            file: view[last].display.clone(),
                            offset: cut,
                            lost: Vec::new(),
                            lost_committed: Vec::new(),
                        });
                        view[last].data = view[last].data.slice(..cut as usize);
                    }
                }
                repaired = true;
            }
        }
    };
    sim.end_of_log = Some(ok.end);
    // 4. swarmkit decrypts every entry it got back.
    match &keys {
        Keys::Deks(d) => {
            let known = |e: &EntryOut| hints.entry_decrypts.is_some_and(|f| f(e.seg, e.offset));
            for e in ok.ents.iter().filter(|e| !known(e)) {
                if let Err(m) = open(&e.data, d) {
                    sim.stop = Some(refuse(
                        format!("failed to decrypt WAL: {m}"),
                        Some(view[e.seg].display.clone()),
                        Some(e.offset),
                        Some(e.index),
                    ));
                    return sim;
                }
            }
        }
        Keys::NoDek if !ok.ents.is_empty() => {
            let e = &ok.ents[0];
            sim.stop = Some(refuse(
                "failed to decrypt WAL: no decryption key for record encrypted with SECRETBOX_SALSA20_POLY1305".into(),
                Some(view[e.seg].display.clone()),
                Some(e.offset),
                Some(e.index),
            ));
            return sim;
        }
        _ => {}
    }
    let md = ok.metadata.clone().unwrap_or_default();
    if crate::pb::docker::swarmkit::v1::RaftMember::decode(md).is_err() {
        sim.stop =
            Some(refuse("failed to unmarshal WAL metadata".into(), Some(view[start].display.clone()), None, None));
        return sim;
    }
    sim.entries_read = ok.ents.len();
    let last_index = ok.ents.last().map(|e| e.index).unwrap_or(snap.0);
    sim.last_index = last_index;
    if let Some((h, si, off)) = &ok.state {
        sim.commit = h.commit();
        let empty = h.term() == 0 && h.vote() == 0 && h.commit() == 0;
        if !empty && (h.commit() < snap.0 || h.commit() > last_index) {
            sim.stop = Some(Stop {
                how: "panics",
                message: format!(
                    "panic: {:x} state.commit {} is out of range [{}, {}]",
                    raft_id.unwrap_or(0),
                    h.commit(),
                    snap.0,
                    last_index
                ),
                file: Some(view[*si].display.clone()),
                offset: Some(*off),
                index: Some(h.commit()),
            });
            return sim;
        }
    }
    sim
}

/// Decode the frame at `off` as etcd would, given the chain value before it: `Ok(Some(type))`,
/// `Ok(None)` for the end of the segment, `Err((is_unexpected_eof, message))`.
pub fn probe(
    data: &Bytes,
    name: &str,
    off: u64,
    running: u32,
    last: bool,
    flavor: Flavor,
) -> Result<Option<i64>, (bool, String)> {
    match decode_one(data, name, off, running, last, flavor, false) {
        Dec::Rec { rt, .. } => Ok(Some(rt)),
        Dec::SegEnd => Ok(None),
        Dec::UnexpectedEof(m) => Err((true, m)),
        Dec::Fatal(m) => Err((false, m)),
        Dec::Panic(m) => Err((false, format!("panic: {m}"))),
    }
}
