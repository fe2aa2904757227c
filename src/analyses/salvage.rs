//! `salvage`: write a repaired copy of a damaged manager into a new directory.
//!
//! What it does, in this order:
//! - keeps every `.snap` file that is sound (container, and payload when keys are at hand) and
//!   drops the others; their markers stay (Docker only looks for the marker of the snapshot it
//!   loads);
//! - collects every record it can trust, in file order, from every segment: the scanner's
//!   records, plus those found past a torn frame, a bad length field or a zeroed sector
//!   ([`crate::analyses::verify::resync`]); a record whose CRC does not match is kept only when its payload
//!   proves itself (an entry that decrypts with the DEK, which authenticates it);
//! - rebuilds the log as raft sees it: where entries are missing, a gap covered by the snapshot is
//!   filled with empty placeholders (Docker never reads them), a gap left by a damaged record is
//!   bridged with no-op entries (encrypted with the same DEK, so Docker reads them as leader
//!   no-ops) and reported as lost, and anything else (a missing segment) cuts the log there;
//! - re-encodes the WAL with a fresh, continuous CRC chain (same segment grouping, sequence
//!   numbers increasing by one, each segment named after its first entry), adds the snapshot
//!   marker Docker needs if it is missing, and ends with a HardState whose commit lies within
//!   `[snapshot index, last index]`;
//! - copies `certificates/`, `docker-state.json`, `state.json` (and `worker/` when it can be read)
//!   so the copy is a swarm dir Docker starts from with the same keys;
//! - verifies the copy and reports exactly what was dropped: indexes, and the objects those
//!   entries touched.
//!
//! The input is never written. The output directory must not exist or be empty, and must not be
//! inside the input.

use crate::analyses::verify::{self, KeyAccess, VFinding, resync};
use crate::crypto::keys::UnlockKey;
use crate::error::{Error, Result};
use crate::format::wal::{EntryRec, ScannedRecord, SegmentEnd, encode::SegmentWriter, rtype};
use crate::input::source::ReadOptions;
use crate::pb::{raftpb, walpb};
use crate::replay::analysis::Analysis;
use bytes::Bytes;
use prost::Message;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Gaps left by damage that are bridged with no-ops; longer ones cut the log.
const MAX_BRIDGE: u64 = 4096;

/// Options for [`salvage`].
#[derive(Debug, Default, Clone)]
pub struct SalvageOptions {
    /// Unlock key, when autolock is on.
    pub unlock_key: Option<UnlockKey>,
    /// How to read files.
    pub read: ReadOptions,
    /// Docker engine version the copy is meant for (consequences in the final verification).
    pub engine_version: Option<String>,
    /// Show a progress bar on stderr when it is a terminal (the load and the final check).
    pub progress: bool,
}

/// Something left out of the copy.
#[derive(Debug, Clone, Serialize)]
pub struct Dropped {
    /// What: `damaged bytes`, `torn tail`, `entries`, `no-op placeholders`, `snapshot`,
    /// `records`.
    pub what: String,
    /// File it was in.
    pub file: Option<String>,
    /// Offset there.
    pub offset: Option<u64>,
    /// Raft indexes lost.
    pub indexes: Vec<u64>,
    /// Of those, committed ones.
    pub committed: Vec<u64>,
    /// Why.
    pub reason: String,
    /// Objects those entries touched: `index: verb kind id name`.
    pub objects: Vec<String>,
}

/// The HardState written at the end of the copy.
#[derive(Debug, Clone, Serialize)]
pub struct HardStateOut {
    /// Term.
    pub term: u64,
    /// Vote.
    pub vote: u64,
    /// Commit.
    pub commit: u64,
    /// Commit of the last HardState kept from the input, when it was changed.
    pub was_commit: Option<u64>,
}

/// What `salvage` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SalvageReport {
    /// Input.
    pub input: String,
    /// Output directory.
    pub output: String,
    /// WAL segments written.
    pub segments: Vec<String>,
    /// Snapshots copied.
    pub snapshots: Vec<String>,
    /// Entries in the copy: first and last index.
    pub first_index: Option<u64>,
    /// Last index.
    pub last_index: Option<u64>,
    /// Everything left out.
    pub dropped: Vec<Dropped>,
    /// Indexes filled with empty placeholders because the snapshot covers them (nothing lost).
    pub placeholders_in_snapshot: Vec<u64>,
    /// Frames recovered whole although their length field was damaged: (file, offset).
    pub recovered_frames: Vec<(String, u64)>,
    /// When the segment files were not in the order of their content: the order used.
    pub segments_reordered: Vec<String>,
    /// A snapshot marker added for the snapshot Docker will load: its index.
    pub marker_added: Option<u64>,
    /// The final HardState.
    pub hard_state: Option<HardStateOut>,
    /// Other files copied (relative paths).
    pub copied: Vec<String>,
    /// Files not copied, with why.
    pub not_copied: Vec<String>,
    /// Whether payloads could be checked (keys available).
    pub payloads_checked: bool,
    /// Verification of the copy.
    pub verify_verdict: String,
    /// Its findings.
    pub verify_findings: Vec<VFinding>,
    /// The copy verifies with no error and Docker would start from it without a repair.
    pub copy_verifies: bool,
    /// The input holds no swarm data: no WAL record of any segment passes its CRC check and no
    /// snapshot container parses. Nothing is written then (a copy of nothing would start as an
    /// empty swarm), and [`SalvageReport::verify_verdict`] says so.
    pub no_swarm_data: bool,
}

#[derive(Debug, Clone)]
enum Item {
    Entry { index: u64, raw: Bytes },
    Placeholder { index: u64, term: u64, data: Option<Vec<u8>> },
    State(raftpb::HardState, Bytes),
    Marker(u64, u64, Bytes),
    AddedMarker(u64, u64, Vec<u64>),
}

#[derive(Debug, Clone)]
struct Placed {
    seg: usize,
    item: Item,
}

fn check_output(a: &Analysis, input: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::Usage(format!("{}: exists and is not a directory", out.display())));
        }
        let empty =
            std::fs::read_dir(out).map_err(|e| Error::Io { path: out.to_path_buf(), source: e })?.next().is_none();
        if !empty {
            return Err(Error::Usage(format!("{}: output directory exists and is not empty", out.display())));
        }
    }
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    // The nearest existing ancestor of the output, canonicalized, plus the rest.
    let mut probe = out.to_path_buf();
    let mut rest = Vec::new();
    while !probe.exists() {
        match (probe.file_name().map(|s| s.to_os_string()), probe.parent()) {
            (Some(n), Some(p)) => {
                rest.push(n);
                probe = if p.as_os_str().is_empty() { PathBuf::from(".") } else { p.to_path_buf() };
            }
            _ => break,
        }
    }
    let mut o = canon(&probe);
    for n in rest.iter().rev() {
        o.push(n);
    }
    let mut roots = vec![canon(input)];
    if let Some(r) = a.source.root_dir() {
        roots.push(canon(r));
    }
    for r in roots {
        if o == r || (r.is_dir() && o.starts_with(&r)) {
            return Err(Error::Usage(format!(
                "{}: output must not be inside the input {}",
                out.display(),
                r.display()
            )));
        }
    }
    Ok(())
}

fn random_nonce(index: u64) -> [u8; 24] {
    let mut n = [0u8; 24];
    let ok = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut n)).is_ok();
    if !ok {
        use sha2::Digest;
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let h = sha2::Sha256::digest(format!("swarmsift salvage {index} {t} {}", std::process::id()).as_bytes());
        n.copy_from_slice(&h[..24]);
    }
    n
}

/// Describe entries (index: verb kind id name; ...) with the analysis' keys.
fn describe(a: &Analysis, ents: &[(u64, u64, i32, Bytes, String, u64)]) -> Vec<String> {
    ents.iter()
        .map(|(index, term, etype, data, file, offset)| {
            let rec = EntryRec {
                index: *index,
                term: *term,
                etype: *etype,
                data: data.clone(),
                seg: 0,
                offset: *offset,
                overwritten_by: None,
            };
            let d = crate::decode::entry::decode_entry(&rec, a.encrypted, &a.deks, file);
            match &d.summary.payload {
                crate::decode::entry::Payload::Request { actions, .. } => format!(
                    "{index}: {}",
                    if actions.is_empty() {
                        "(no actions)".to_string()
                    } else {
                        actions
                            .iter()
                            .map(|x| format!("{} {} {} {}", x.verb.name(), x.kind.name(), x.id, x.name))
                            .collect::<Vec<_>>()
                            .join("; ")
                    }
                ),
                crate::decode::entry::Payload::ConfChange { change, raft_id, node_id, .. } => {
                    format!(
                        "{index}: {change} raft {raft_id:x}{}",
                        node_id.as_ref().map(|n| format!(" node {n}")).unwrap_or_default()
                    )
                }
                crate::decode::entry::Payload::Empty => format!("{index}: (empty no-op)"),
                crate::decode::entry::Payload::Undecryptable { .. } => format!("{index}: (cannot be decrypted)"),
                crate::decode::entry::Payload::Undecodable { .. } => format!("{index}: (does not decode)"),
            }
        })
        .collect()
}

/// Whether a record whose CRC cannot vouch for it proves itself.
fn entry_proves_itself(a: &Analysis, access: KeyAccess, e: &raftpb::Entry) -> bool {
    let data = e.data.clone().unwrap_or_default();
    match access {
        KeyAccess::Available => data.is_empty() || crate::crypto::decrypt_record(&data, &a.deks).is_ok(),
        KeyAccess::NotEncrypted => match e.r#type.unwrap_or(0) {
            0 => data.is_empty() || crate::pb::docker::swarmkit::v1::InternalRaftRequest::decode(data).is_ok(),
            1 => raftpb::ConfChange::decode(data).is_ok(),
            _ => false,
        },
        _ => false,
    }
}

/// Run `salvage`.
pub fn salvage(input: &Path, out: &Path, opts: &SalvageOptions) -> Result<SalvageReport> {
    let (a, access) = verify::load_tolerant(
        input,
        &crate::replay::analysis::Options {
            unlock_key: opts.unlock_key.clone(),
            read: opts.read,
            progress: opts.progress,
            ..Default::default()
        },
    )?;
    check_output(&a, input, out)?;
    let raw = verify::raw_segments(&a)?;
    let snaps = verify::raw_snaps(&a)?;
    // Bytes that hold no record and no snapshot are not a swarm to salvage: say so, write nothing.
    let any_record = a.wal.segments.iter().any(|s| s.records.iter().any(|r| r.crc_ok));
    if !any_record && !snaps.iter().any(|s| s.container_ok) {
        let files: Vec<String> =
            a.wal.segments.iter().map(|s| s.display.clone()).chain(snaps.iter().map(|s| s.display.clone())).collect();
        return Ok(SalvageReport {
            input: input.display().to_string(),
            output: out.display().to_string(),
            payloads_checked: access.payloads_checked(),
            verify_verdict: format!(
                "no swarm data: no WAL record passes its CRC check and no snapshot parses in {}; nothing was written",
                if files.is_empty() { "this input".to_string() } else { files.join(", ") }
            ),
            no_swarm_data: true,
            ..Default::default()
        });
    }
    let legacy = a.layout.kind == crate::input::layout::LayoutKind::Legacy;
    let payloads_checked = access.payloads_checked();
    let can_encrypt = matches!(access, KeyAccess::Available | KeyAccess::NotEncrypted);
    let mut dropped: Vec<Dropped> = Vec::new();
    let mut not_copied: Vec<String> = Vec::new();

    // Snapshots to keep.
    let mut kept_snaps: Vec<usize> = Vec::new();
    for (i, s) in snaps.iter().enumerate() {
        let info = a.snapshots.iter().find(|x| x.file == s.name);
        let payload_ok = !payloads_checked || info.is_some_and(|x| x.valid);
        if s.container_ok && payload_ok {
            kept_snaps.push(i);
        } else {
            dropped.push(Dropped {
                what: "snapshot".into(),
                file: Some(s.display.clone()),
                offset: None,
                indexes: vec![],
                committed: vec![],
                reason: s
                    .container_problem
                    .clone()
                    .or_else(|| info.and_then(|x| x.problem.clone()))
                    .unwrap_or_else(|| "unusable".into()),
                objects: vec![],
            });
        }
    }
    let base = kept_snaps.iter().map(|&i| &snaps[i]).max_by(|x, y| x.name.cmp(&y.name));
    let (s_index, s_term) = base.map(|s| (s.index, s.term)).unwrap_or((0, 0));
    let voters: Vec<u64> =
        base.and_then(|s| a.snapshots.iter().find(|x| x.file == s.name)).map(|x| x.voters.clone()).unwrap_or_default();
    let markers_have_conf = a.wal.markers.iter().any(|m| m.index > 0 && m.has_conf_state);

    // Reference metadata: the first one whose CRC matched.
    let reference_md: Option<Bytes> = a
        .wal
        .segments
        .iter()
        .flat_map(|s| s.records.iter())
        .find(|r| r.rtype == rtype::METADATA && r.crc_ok)
        .map(|r| r.data.clone())
        .or_else(|| a.wal.metadata.clone());

    // All trustworthy records, in order; damage is noted between them.
    let commit_in = a.wal.commit();
    let mut placed: Vec<Placed> = Vec::new();
    let mut last: Option<(u64, u64)> = None; // (index, term) of the last live entry
    let mut damage = false;
    let mut cut: Option<(usize, u64, String)> = None;
    let mut lost_after_cut: Vec<(u64, u64, i32, Bytes, String, u64)> = Vec::new();
    let mut placeholders_in_snapshot: Vec<u64> = Vec::new();
    let mut bridged: Vec<(u64, String, u64)> = Vec::new(); // (index, file, offset of next good entry)
    let mut dropped_states = 0usize;
    let mut damaged_terms: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut recovered: Vec<(String, u64)> = Vec::new();
    let mut reordered: Vec<String> = Vec::new();
    let mut rejected: Vec<(u64, u64, i32, Bytes, String, u64)> = Vec::new();
    let mut prev_seq: Option<u64> = None;
    // Segments in the order of their content (a copy with swapped or renamed files is put back in
    // order); segments holding no entry keep their place after the one before them.
    let mut keys: Vec<u64> = Vec::new();
    for seg in &a.wal.segments {
        let k = seg.records.iter().find_map(resync::entry_index).map(|e| e.0);
        let prev = keys.last().copied().unwrap_or(0);
        keys.push(k.unwrap_or(prev));
    }
    let mut order: Vec<usize> = (0..a.wal.segments.len()).collect();
    order.sort_by_key(|&i| keys[i]);
    if order.iter().enumerate().any(|(k, &i)| k != i) {
        reordered = order.iter().map(|&i| a.wal.segments[i].name.clone()).collect();
    }
    for &si in &order {
        let seg = &a.wal.segments[si];
        let data = &raw[si].data;
        if let Some(p) = prev_seq {
            if seg.seq != p.wrapping_add(1) {
                // A segment is missing: that is not damage we can bridge.
                damage = false;
            }
        }
        prev_seq = Some(seg.seq);
        let mut recs: Vec<ScannedRecord> = seg.records.clone();
        let stop = seg.end.offset();
        let tail_nonzero = data.get(stop as usize..).is_some_and(|t| t.iter().any(|&b| b != 0));
        let early = matches!(seg.end, SegmentEnd::Torn { .. } | SegmentEnd::Corrupt { .. })
            || (matches!(seg.end, SegmentEnd::ZeroTail { .. }) && tail_nonzero);
        if early {
            let extra = resync::records_from(&seg.name, data, stop, legacy);
            if extra.is_empty() && cut.is_none() {
                let last_nz = data.iter().rposition(|&b| b != 0).map(|p| p as u64 + 1).unwrap_or(stop);
                dropped.push(Dropped {
                    what: "torn tail".into(),
                    file: Some(seg.display.clone()),
                    offset: Some(stop),
                    indexes: vec![],
                    committed: vec![],
                    reason: format!(
                        "{} bytes from offset {stop} hold no complete record ({}): the log is cut at the last valid record",
                        last_nz.saturating_sub(stop),
                        end_reason(&seg.end)
                    ),
                    objects: vec![],
                });
            }
            recs.extend(extra);
        }
        // Fill single-frame holes whose only damage is the length field.
        let mut filled: Vec<ScannedRecord> = Vec::with_capacity(recs.len());
        for r in recs {
            if let Some(p) = filled.last() {
                if p.end < r.offset {
                    match resync::recover_frame(data, p.end, r.offset, p.crc, legacy) {
                        Some(x) if p.crc_ok => {
                            recovered.push((seg.display.clone(), x.offset));
                            filled.push(x);
                        }
                        _ if cut.is_none() => dropped.push(Dropped {
                            what: "damaged bytes".into(),
                            file: Some(seg.display.clone()),
                            offset: Some(p.end),
                            indexes: vec![],
                            committed: vec![],
                            reason: format!(
                                "bytes {}-{} do not form valid records ({}); the intact records after them are kept",
                                p.end,
                                r.offset,
                                end_reason(&seg.end)
                            ),
                            objects: vec![],
                        }),
                        _ => {}
                    }
                }
            }
            filled.push(r);
        }
        // A record whose CRC could not be checked (first after a resync) is vouched for by the
        // record before it when they are contiguous and the chain continues.
        for i in 1..filled.len() {
            let (p_end, p_crc, p_ok) = (filled[i - 1].end, filled[i - 1].crc, filled[i - 1].crc_ok);
            let r = &mut filled[i];
            if !r.crc_ok && p_ok && p_end == r.offset && r.rtype != rtype::CRC {
                r.crc_ok = crc32c::crc32c_append(p_crc, &r.data) == r.crc;
            }
        }
        let mut prev_end: Option<u64> = None;
        for r in &filled {
            if prev_end.is_some_and(|e| e != r.offset) {
                damage = true;
            }
            prev_end = Some(r.end);
            if cut.is_some() {
                if r.rtype == rtype::ENTRY {
                    if let Ok(e) = raftpb::Entry::decode(r.data.clone()) {
                        lost_after_cut.push((
                            e.index(),
                            e.term(),
                            e.r#type.unwrap_or(0),
                            e.data.unwrap_or_default(),
                            seg.display.clone(),
                            r.offset,
                        ));
                    }
                }
                continue;
            }
            match r.rtype {
                rtype::CRC | rtype::METADATA => {}
                rtype::STATE => match raftpb::HardState::decode(r.data.clone()) {
                    Ok(h) if r.crc_ok => placed.push(Placed { seg: si, item: Item::State(h, r.data.clone()) }),
                    _ => {
                        dropped_states += 1;
                        damage = true;
                    }
                },
                rtype::SNAPSHOT => match walpb::Snapshot::decode(r.data.clone()) {
                    Ok(m) if r.crc_ok || (m.index(), m.term()) == (s_index, s_term) => {
                        placed.push(Placed { seg: si, item: Item::Marker(m.index(), m.term(), r.data.clone()) })
                    }
                    _ => damage = true,
                },
                rtype::ENTRY => {
                    let Ok(e) = raftpb::Entry::decode(r.data.clone()) else {
                        damage = true;
                        continue;
                    };
                    if !r.crc_ok && !entry_proves_itself(&a, access, &e) {
                        damage = true;
                        damaged_terms.insert(e.index(), e.term());
                        rejected.push((
                            e.index(),
                            e.term(),
                            e.r#type.unwrap_or(0),
                            e.data.clone().unwrap_or_default(),
                            seg.display.clone(),
                            r.offset,
                        ));
                        continue;
                    }
                    let (idx, term) = (e.index(), e.term());
                    let gap = match last {
                        None if idx <= s_index + 1 || idx == 1 => None,
                        None => Some((s_index + 1, idx - 1)),
                        Some((l, _)) if idx <= l + 1 => None,
                        Some((l, _)) => Some((l + 1, idx - 1)),
                    };
                    if let Some((g0, g1)) = gap {
                        let fill_term = last.map(|x| x.1).unwrap_or(term);
                        if g1 <= s_index {
                            for i in g0..=g1 {
                                placed.push(Placed {
                                    seg: si,
                                    item: Item::Placeholder { index: i, term: fill_term, data: None },
                                });
                                placeholders_in_snapshot.push(i);
                            }
                        } else if damage && can_encrypt && last.is_some() && g1 - g0 < MAX_BRIDGE {
                            for i in g0..=g1 {
                                let t = damaged_terms
                                    .get(&i)
                                    .copied()
                                    .filter(|&t| t >= fill_term && t <= term)
                                    .unwrap_or(fill_term);
                                let data = if i <= s_index {
                                    placeholders_in_snapshot.push(i);
                                    None
                                } else {
                                    bridged.push((i, seg.display.clone(), r.offset));
                                    if a.encrypted {
                                        let dek = a.deks.first().map(|d| d.key().to_vec()).unwrap_or_default();
                                        Some(crate::crypto::encrypt_secretbox(&[], &dek, &random_nonce(i)))
                                    } else {
                                        Some(Vec::new())
                                    }
                                };
                                placed.push(Placed { seg: si, item: Item::Placeholder { index: i, term: t, data } });
                            }
                        } else {
                            let gap = crate::analyses::verify::ranges(&(g0..=g1).collect::<Vec<_>>());
                            let why = if !damage {
                                format!("entries {gap} are missing (a segment or part of one is gone)")
                            } else if !can_encrypt {
                                format!(
                                    "entries {gap} are damaged and, without the DEK, no-op entries cannot be written in their place"
                                )
                            } else {
                                format!("entries {gap} are missing")
                            };
                            lost_after_cut.extend(rejected.drain(..).filter(|x| x.0 >= g0 && x.0 <= g1));
                            cut = Some((si, r.offset, why));
                            lost_after_cut.push((
                                idx,
                                term,
                                e.r#type.unwrap_or(0),
                                e.data.unwrap_or_default(),
                                seg.display.clone(),
                                r.offset,
                            ));
                            continue;
                        }
                    }
                    placed.push(Placed { seg: si, item: Item::Entry { index: idx, raw: r.data.clone() } });
                    last = Some((idx, term));
                    damage = false;
                    rejected.clear();
                }
                _ => damage = true,
            }
        }
    }
    if let Some((si, off, why)) = &cut {
        let idx: Vec<u64> = {
            let mut v: Vec<u64> = lost_after_cut.iter().map(|x| x.0).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let committed: Vec<u64> = idx.iter().copied().filter(|&i| i <= commit_in).collect();
        dropped.push(Dropped {
            what: "entries".into(),
            file: Some(a.wal.seg_display(*si).to_string()),
            offset: Some(*off),
            indexes: idx,
            committed,
            reason: format!("the log is cut here: {why}; raft cannot skip entries, so everything after is left out"),
            objects: describe(&a, &lost_after_cut),
        });
    }
    if !bridged.is_empty() {
        let idx: Vec<u64> = bridged.iter().map(|b| b.0).collect();
        dropped.push(Dropped {
            what: "entries replaced by no-ops".into(),
            file: Some(bridged[0].1.clone()),
            offset: None,
            indexes: idx.clone(),
            committed: idx.iter().copied().filter(|&i| i <= commit_in).collect(),
            reason: "these records are damaged beyond use; empty no-op entries (encrypted with the same DEK) keep the later entries usable, but the changes these entries made are lost".into(),
            objects: idx.iter().map(|i| format!("{i}: (unreadable)")).collect(),
        });
    }
    if let Some(tail) = order.last().and_then(|&i| a.wal.segments.get(i)) {
        if matches!(tail.end, SegmentEnd::Eof { .. }) && tail.size >= crate::format::wal::SEGMENT_SIZE {
            dropped.push(Dropped {
                what: "missing segment".into(),
                file: Some(tail.display.clone()),
                offset: Some(tail.size),
                indexes: vec![],
                committed: vec![],
                reason: format!(
                    "the input's last segment is a closed one: the segment etcd cut after it (entries after {}) is not in the input and cannot be recovered from it",
                    last.map(|l| l.0).unwrap_or(0)
                ),
                objects: vec![],
            });
        }
    }
    if dropped_states > 0 {
        dropped.push(Dropped {
            what: "records".into(),
            file: None,
            offset: None,
            indexes: vec![],
            committed: vec![],
            reason: format!("{dropped_states} damaged HardState record(s) left out (a later one, or the final one written by salvage, takes their place)"),
            objects: vec![],
        });
    }

    // The marker Docker needs for the snapshot it will load.
    let mut marker_added = None;
    let has_marker = placed.iter().any(|p| matches!(p.item, Item::Marker(i, t, _) if i == s_index && t == s_term));
    if !has_marker {
        let pos = placed
            .iter()
            .position(
                |p| matches!(p.item, Item::Entry { index, .. } | Item::Placeholder { index, .. } if index > s_index),
            )
            .unwrap_or(placed.len());
        let seg = placed.get(pos).or_else(|| placed.last()).map(|p| p.seg).unwrap_or(0);
        let v = if markers_have_conf { voters.clone() } else { Vec::new() };
        placed.insert(pos, Placed { seg, item: Item::AddedMarker(s_index, s_term, v) });
        marker_added = Some(s_index);
    }

    // The final HardState.
    let last_index = last.map(|l| l.0).unwrap_or(0);
    let top = last_index.max(s_index);
    let last_state = placed.iter().rev().find_map(|p| match &p.item {
        Item::State(h, _) => Some(*h),
        _ => None,
    });
    let max_commit = placed
        .iter()
        .filter_map(|p| match &p.item {
            Item::State(h, _) => Some(h.commit()),
            _ => None,
        })
        .max()
        .unwrap_or(s_index);
    let commit = max_commit.clamp(s_index, top);
    let term = last_state.as_ref().map(|h| h.term()).unwrap_or(0).max(last.map(|l| l.1).unwrap_or(s_term));
    let vote = last_state.as_ref().map(|h| h.vote()).unwrap_or(0);
    let needs_state = match &last_state {
        Some(h) => h.commit() != commit || h.term() != term,
        None => last_index > 0 || s_index > 0,
    };
    let hard_state = if needs_state || last_state.is_some() {
        Some(HardStateOut {
            term,
            vote,
            commit,
            was_commit: last_state.as_ref().map(|h| h.commit()).filter(|&c| c != commit),
        })
    } else {
        None
    };
    if needs_state {
        let h = raftpb::HardState { term: Some(term), vote: Some(vote), commit: Some(commit) };
        let seg = placed.last().map(|p| p.seg).unwrap_or(0);
        let raw = Bytes::from(h.encode_to_vec());
        placed.push(Placed { seg, item: Item::State(h, raw) });
    }

    // Write.
    let io = |p: &Path, e: std::io::Error| Error::Io { path: p.to_path_buf(), source: e };
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let wal_dir = if a.layout.wal_dir.is_empty() { out.to_path_buf() } else { out.join(&a.layout.wal_dir) };
    let snap_dir = if a.layout.snap_dir.is_empty() { out.to_path_buf() } else { out.join(&a.layout.snap_dir) };
    for d in [&wal_dir, &snap_dir] {
        std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        set_mode(d, 0o700);
    }
    let md = reference_md.clone().unwrap_or_default();
    let mut groups: Vec<(usize, Vec<&Placed>)> = Vec::new();
    for p in &placed {
        match groups.last_mut() {
            Some((s, v)) if *s == p.seg => v.push(p),
            _ => groups.push((p.seg, vec![p])),
        }
    }
    let first_seq = a.wal.segments.iter().map(|s| s.seq).min().unwrap_or(0);
    let mut prev_crc = 0u32;
    let mut prev_last: u64 = 0;
    let mut state_so_far: Option<raftpb::HardState> = None;
    let mut segments_written = Vec::new();
    let mut first_index = None;
    for (k, (si, items)) in groups.iter().enumerate() {
        let first_entry = items.iter().find_map(|p| match &p.item {
            Item::Entry { index, .. } | Item::Placeholder { index, .. } => Some(*index),
            _ => None,
        });
        let name_index = if k == 0 {
            let orig = a.wal.segments.get(*si).map(|s| s.name_index).unwrap_or(0);
            first_entry.map(|f| f.min(orig)).unwrap_or(orig).min(s_index)
        } else {
            first_entry.unwrap_or(prev_last + 1)
        };
        let seq = first_seq + k as u64;
        let mut w = SegmentWriter::new(prev_crc, legacy);
        w.record(rtype::METADATA, Some(&md));
        if k > 0 {
            if let Some(h) = &state_so_far {
                w.record(rtype::STATE, Some(&h.encode_to_vec()));
            }
        }
        for p in items {
            match &p.item {
                Item::Entry { index, raw, .. } => {
                    w.record(rtype::ENTRY, Some(raw));
                    prev_last = *index;
                    first_index.get_or_insert(*index);
                }
                Item::Placeholder { index, term, data } => {
                    let e = raftpb::Entry {
                        r#type: Some(0),
                        term: Some(*term),
                        index: Some(*index),
                        data: data.clone().map(Bytes::from),
                    };
                    w.record(rtype::ENTRY, Some(&e.encode_to_vec()));
                    prev_last = *index;
                    first_index.get_or_insert(*index);
                }
                Item::State(h, raw) => {
                    w.record(rtype::STATE, Some(raw));
                    state_so_far = Some(*h);
                }
                Item::Marker(_, _, raw) => w.record(rtype::SNAPSHOT, Some(raw)),
                Item::AddedMarker(i, t, v) => {
                    let m = walpb::Snapshot {
                        index: Some(*i),
                        term: Some(*t),
                        conf_state: if markers_have_conf {
                            Some(raftpb::ConfState { voters: v.clone(), ..Default::default() })
                        } else {
                            None
                        },
                    };
                    w.record(rtype::SNAPSHOT, Some(&m.encode_to_vec()));
                }
            }
        }
        prev_crc = w.crc;
        let name = format!("{seq:016x}-{name_index:016x}.wal");
        let p = wal_dir.join(&name);
        std::fs::write(&p, &w.buf).map_err(|e| io(&p, e))?;
        set_mode(&p, 0o600);
        segments_written.push(name);
    }
    // The last segment looks like etcd's active one: preallocated to 64,000,000 bytes (a sparse
    // zero tail). A last segment already that big was closed by etcd: start the next one, as
    // etcd's cut would have.
    if let Some(last_name) = segments_written.last().cloned() {
        let p = wal_dir.join(&last_name);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        if len >= crate::format::wal::SEGMENT_SIZE {
            let seq = first_seq + segments_written.len() as u64;
            let mut w = SegmentWriter::new(prev_crc, legacy);
            w.record(rtype::METADATA, Some(&md));
            if let Some(h) = &state_so_far {
                w.record(rtype::STATE, Some(&h.encode_to_vec()));
            }
            let name = format!("{seq:016x}-{:016x}.wal", prev_last + 1);
            let q = wal_dir.join(&name);
            std::fs::write(&q, &w.buf).map_err(|e| io(&q, e))?;
            set_mode(&q, 0o600);
            segments_written.push(name);
        }
        if !legacy {
            if let Some(n) = segments_written.last() {
                let q = wal_dir.join(n);
                let f = std::fs::OpenOptions::new().write(true).open(&q).map_err(|e| io(&q, e))?;
                let cur = f.metadata().map(|m| m.len()).unwrap_or(0);
                if cur < crate::format::wal::SEGMENT_SIZE {
                    f.set_len(crate::format::wal::SEGMENT_SIZE).map_err(|e| io(&q, e))?;
                }
            }
        }
    }
    if groups.is_empty() {
        // No record survived at all: write a fresh first segment so Docker finds a WAL.
        let mut w = SegmentWriter::new(0, legacy);
        w.record(rtype::METADATA, Some(&md));
        let m = walpb::Snapshot { index: Some(s_index), term: Some(s_term), conf_state: None };
        w.record(rtype::SNAPSHOT, Some(&m.encode_to_vec()));
        let name = format!("{first_seq:016x}-{s_index:016x}.wal");
        let p = wal_dir.join(&name);
        std::fs::write(&p, &w.buf).map_err(|e| io(&p, e))?;
        set_mode(&p, 0o600);
        segments_written.push(name);
    }
    let mut snapshots_written = Vec::new();
    for &i in &kept_snaps {
        let s = &snaps[i];
        let rel =
            if a.layout.snap_dir.is_empty() { s.name.clone() } else { format!("{}/{}", a.layout.snap_dir, s.name) };
        let bytes = a.source.read(&rel)?;
        let p = snap_dir.join(&s.name);
        std::fs::write(&p, &bytes).map_err(|e| io(&p, e))?;
        set_mode(&p, 0o644);
        snapshots_written.push(s.name.clone());
    }
    // Other swarm-dir files.
    let mut copied = Vec::new();
    let raft_prefix = if a.source.dir_exists("raft") { "raft/" } else { "" };
    for e in a.source.entries.iter().filter(|e| !e.is_dir) {
        let rel = e.rel.as_str();
        let wanted = rel.starts_with("certificates/")
            || rel == "docker-state.json"
            || rel == "state.json"
            || rel.starts_with("worker/");
        if !wanted {
            let in_raft = !raft_prefix.is_empty() && rel.starts_with(raft_prefix);
            let ours = (a.layout.wal_dir.is_empty() || rel.starts_with(&format!("{}/", a.layout.wal_dir)))
                && rel.ends_with(".wal")
                || (a.layout.snap_dir.is_empty() || rel.starts_with(&format!("{}/", a.layout.snap_dir)))
                    && rel.ends_with(".snap");
            if in_raft && !ours {
                not_copied.push(format!("{rel} (not part of the WAL/snapshot pair in use)"));
            }
            continue;
        }
        match a.source.read(rel) {
            Ok(b) => {
                let p = out.join(rel);
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
                }
                std::fs::write(&p, &b).map_err(|e| io(&p, e))?;
                let mode = original_mode(&a, rel).unwrap_or(if rel.ends_with(".key") || rel.ends_with(".json") {
                    0o600
                } else {
                    0o644
                });
                set_mode(&p, mode);
                copied.push(rel.to_string());
            }
            Err(_) => not_copied.push(format!("{rel} (not readable from this input; Docker recreates it)")),
        }
    }
    if a.source.kind == crate::input::source::InputKind::Tarball {
        let missing: Vec<String> = not_copied
            .iter()
            .filter(|n| n.ends_with("(not readable from this input; Docker recreates it)"))
            .map(|n| n.split(" (").next().unwrap_or("").to_string())
            .collect();
        if !missing.is_empty() {
            let got = copy_from_tarball(input, &a, &missing, out)?;
            not_copied.retain(|n| !got.iter().any(|g| n.starts_with(&format!("{g} ("))));
            copied.extend(got);
        }
    }
    // Verify the copy.
    let vopts = verify::VerifyOptions {
        unlock_key: opts.unlock_key.clone(),
        read: opts.read,
        engine_version: opts.engine_version.clone(),
        progress: opts.progress,
        no_decrypt: false,
    };
    let (verdict, vf, verifies) = match verify::verify(out, &vopts) {
        Ok(v) => {
            let good = v.ok && v.docker.starts() && v.docker.repair.is_none();
            (v.verdict.clone(), v.findings.clone(), good)
        }
        Err(e) => (format!("the copy cannot be verified: {e}"), Vec::new(), false),
    };
    Ok(SalvageReport {
        input: input.display().to_string(),
        output: out.display().to_string(),
        segments: segments_written,
        snapshots: snapshots_written,
        first_index,
        last_index: (last_index > 0).then_some(last_index),
        dropped,
        placeholders_in_snapshot,
        recovered_frames: recovered,
        segments_reordered: reordered,
        marker_added,
        hard_state,
        copied,
        not_copied,
        payloads_checked,
        verify_verdict: verdict,
        verify_findings: vf,
        copy_verifies: verifies,
        no_swarm_data: false,
    })
}

/// Files the tarball reader did not keep in memory (it keeps only what analysis needs): stream
/// the archive once more and write them straight to the output.
fn copy_from_tarball(input: &Path, a: &Analysis, rels: &[String], out: &Path) -> Result<Vec<String>> {
    use std::io::Read;
    let io = |p: &Path, e: std::io::Error| Error::Io { path: p.to_path_buf(), source: e };
    // The member name of a file we know gives the archive's prefix for the swarm root.
    let probe = a
        .layout
        .wal_files
        .first()
        .map(|(n, _)| if a.layout.wal_dir.is_empty() { n.clone() } else { format!("{}/{}", a.layout.wal_dir, n) });
    let open = || -> Result<tar::Archive<Box<dyn Read>>> {
        let mut f = std::fs::File::open(input).map_err(|e| io(input, e))?;
        let mut magic = [0u8; 2];
        let n = f.read(&mut magic).map_err(|e| io(input, e))?;
        let f = std::fs::File::open(input).map_err(|e| io(input, e))?;
        let r: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
            Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(f)))
        } else {
            Box::new(std::io::BufReader::new(f))
        };
        Ok(tar::Archive::new(r))
    };
    let norm = |p: &str| p.trim_start_matches("./").trim_start_matches('/').to_string();
    let mut prefix = None;
    if let Some(probe) = &probe {
        let mut ar = open()?;
        for e in ar.entries().map_err(|e| io(input, e))?.flatten() {
            let name = norm(&e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default());
            if let Some(p) = name.strip_suffix(probe.as_str()) {
                prefix = Some(p.to_string());
                break;
            }
        }
    }
    let Some(prefix) = prefix else { return Ok(Vec::new()) };
    let mut got = Vec::new();
    let mut ar = open()?;
    for e in ar.entries().map_err(|e| io(input, e))? {
        let Ok(mut e) = e else { break };
        let name = norm(&e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default());
        let Some(rel) = name.strip_prefix(&prefix) else { continue };
        if !rels.iter().any(|r| r == rel) || !e.header().entry_type().is_file() {
            continue;
        }
        let p = out.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|x| io(d, x))?;
        }
        let mut f = std::fs::File::create(&p).map_err(|x| io(&p, x))?;
        // An archive cut short: the member the cut falls in is not whole, so it is not copied
        // (the input's findings name it), and nothing after it exists.
        if std::io::copy(&mut e, &mut f).is_err() {
            drop(f);
            let _ = std::fs::remove_file(&p);
            break;
        }
        let mode = e.header().mode().unwrap_or(0o600) & 0o7777;
        set_mode(&p, mode);
        got.push(rel.to_string());
    }
    Ok(got)
}

fn end_reason(e: &SegmentEnd) -> String {
    match e {
        SegmentEnd::Torn { reason, .. } | SegmentEnd::Corrupt { reason, .. } => reason.clone(),
        SegmentEnd::ZeroTail { offset } => format!("a zero length field at {offset} ends the log early"),
        SegmentEnd::Eof { .. } => "end of file".into(),
    }
}

fn original_mode(a: &Analysis, rel: &str) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let root = a.source.root_dir()?;
    std::fs::metadata(root.join(rel)).ok().map(|m| m.permissions().mode() & 0o7777)
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
}
