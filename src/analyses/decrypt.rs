//! `decrypt`: write a plaintext copy of the raft data for other tools (etcd-dump-logs, a
//! plaintext-reading swarmsift, a hex editor).
//!
//! Output layout: `DIR/raft/wal-v3/<same segment names>` and `DIR/raft/snap-v3/<same snap names>`,
//! i.e. swarmkit's plaintext v3 layout, in etcd's format with every CRC recomputed, except that a
//! record whose CRC fails in the original is copied byte for byte with a CRC that fails too, and a
//! crc record that fails its check (inside a segment, or a leading one that breaks the chain from
//! the segment before) keeps a value that disagrees with the copy's chain. Segment
//! boundaries, record order, metadata, HardStates and snapshot markers are kept; only entry and
//! snapshot `data` are replaced by their plaintext. Records no DEK decrypts are copied unchanged
//! and reported.
//!
//! The copy holds plaintext secrets (secret and config data, env values, join tokens), so it is
//! written for its owner only: directories 0700, files 0600 (the originals are 0600 too), and the
//! report says so. An entry left encrypted says why: `retired DEK` (its record is sound and the
//! base snapshot covers it, so a DEK rotation retired its key and nothing is lost), `damaged
//! record` (its CRC fails) or `no key` (no DEK of this input opens it). The marker file lists
//! the retired-DEK entries, so that reading the copy reports them as "left encrypted: retired
//! DEK", not as entries that do not decode.
//!
//! Invariants: the source is never written; the output directory must not exist or be empty, and
//! must not be inside the input directory; nothing is created with more than owner access.

use crate::error::{Error, Result};
use crate::format::wal::{encode::SegmentWriter, rtype};
use crate::pb::{raftpb, snappb};
use crate::replay::analysis::Analysis;
use prost::Message;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Mode of every directory `decrypt` creates: the copy holds plaintext secrets.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file `decrypt` writes.
pub const FILE_MODE: u32 = 0o600;

/// Why an entry was copied still encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LeftReason {
    /// The record is sound and the base snapshot covers the entry: its DEK was retired by a
    /// rotation. Nothing is lost.
    #[serde(rename = "retired DEK")]
    RetiredDek,
    /// The record fails its CRC check.
    #[serde(rename = "damaged record")]
    DamagedRecord,
    /// No DEK of this input opens it, and no snapshot covers it.
    #[serde(rename = "no key")]
    NoKey,
}

impl LeftReason {
    /// The words of the report.
    pub fn words(self) -> &'static str {
        match self {
            LeftReason::RetiredDek => "retired DEK",
            LeftReason::DamagedRecord => "damaged record",
            LeftReason::NoKey => "no key",
        }
    }
}

/// One entry copied still encrypted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeftEncrypted {
    /// Raft index.
    pub index: u64,
    /// Segment (display path of the input's file) and frame offset.
    pub file: String,
    /// Frame offset in the input's segment.
    pub offset: u64,
    /// Why.
    pub reason: LeftReason,
}

/// The marker line listing the entries left encrypted under a retired DEK, as index ranges
/// (`1-40,45`); [`crate::input::layout`] reads it back.
pub const RETIRED_DEK_LINE: &str = crate::input::layout::RETIRED_DEK_LINE;

/// What `decrypt` did.
#[derive(Debug, Default, serde::Serialize)]
pub struct DecryptReport {
    /// Output directory.
    pub output: String,
    /// Segments written.
    pub segments: usize,
    /// Entries decrypted.
    pub entries_decrypted: usize,
    /// Entries copied unchanged because nothing decrypted them.
    pub entries_left_encrypted: Vec<u64>,
    /// The same entries, each with where it is and why it was left encrypted.
    pub left_encrypted: Vec<LeftEncrypted>,
    /// The copy holds plaintext secrets: always true, said so that no reader misses it.
    pub plaintext_secrets: bool,
    /// Mode of the directories written (0700).
    pub dir_mode: String,
    /// Mode of the files written (0600).
    pub file_mode: String,
    /// Snapshots written.
    pub snapshots: usize,
    /// Snapshots that could not be decrypted (skipped).
    pub snapshots_skipped: Vec<String>,
}

fn check_output(a: &Analysis, out: &Path) -> Result<()> {
    if out.exists() {
        let empty =
            std::fs::read_dir(out).map_err(|e| Error::Io { path: out.to_path_buf(), source: e })?.next().is_none();
        if !empty {
            return Err(Error::Usage(format!("{}: output directory exists and is not empty", out.display())));
        }
    }
    if let Some(root) = a.source.root_dir() {
        let r = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let o = std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf());
        if o.starts_with(&r) {
            return Err(Error::Usage(format!(
                "{}: output must not be inside the input {}",
                out.display(),
                root.display()
            )));
        }
    }
    Ok(())
}

fn io(p: &Path, e: std::io::Error) -> Error {
    Error::Io { path: p.to_path_buf(), source: e }
}

/// Create `dir` and its missing parents with mode 0700 (whatever the umask leaves: the mode is
/// set again after creation), and the output root itself to 0700 when it already existed empty.
fn make_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir).map_err(|e| io(dir, e))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE)).map_err(|e| io(dir, e))
}

/// Write a new file with mode 0600: created with that mode (never widened by the umask, and
/// never an existing file: the output dir was empty), then set again to be sure.
fn write_file(p: &Path, data: &[u8]) -> Result<()> {
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(p).map_err(|e| io(p, e))?;
    f.write_all(data).map_err(|e| io(p, e))?;
    f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE)).map_err(|e| io(p, e))
}

/// Index ranges `1-40,45` of sorted indexes.
pub fn ranges(ix: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ix.len() {
        let mut j = i;
        while j + 1 < ix.len() && ix[j + 1] == ix[j] + 1 {
            j += 1;
        }
        out.push(if i == j { ix[i].to_string() } else { format!("{}-{}", ix[i], ix[j]) });
        i = j + 1;
    }
    out.join(",")
}

/// Write the plaintext copy.
pub fn write_plaintext(a: &Analysis, out: &Path) -> Result<DecryptReport> {
    check_output(a, out)?;
    let wal_dir = out.join("raft").join("wal-v3");
    let snap_dir = out.join("raft").join("snap-v3");
    make_dir(out)?;
    make_dir(&out.join("raft"))?;
    make_dir(&wal_dir)?;
    make_dir(&snap_dir)?;
    let mut rep = DecryptReport {
        output: out.display().to_string(),
        plaintext_secrets: true,
        dir_mode: format!("{DIR_MODE:04o}"),
        file_mode: format!("{FILE_MODE:04o}"),
        ..Default::default()
    };
    // Which entries the base snapshot covers, by where their record is.
    let covered: std::collections::HashSet<(&str, u64)> =
        a.entries.iter().filter(|e| e.in_snapshot).map(|e| (e.file.as_str(), e.offset)).collect();
    let mut prev_crc = 0u32;
    for (si, seg) in a.wal.segments.iter().enumerate() {
        let mut w = SegmentWriter { buf: Vec::new(), crc: prev_crc, legacy: false };
        // The original's leading crc record breaks the chain from the segment before: the copy's
        // breaks it too (`wal.crc_chain_break` at the same file and offset 0).
        let chain_broken =
            a.wal.findings.iter().any(|f| {
                f.code == crate::error::Code::WalCrcChainBreak && f.file.as_deref() == Some(seg.display.as_str())
            });
        for (ri, r) in seg.records.iter().enumerate() {
            match r.rtype {
                // A crc record that fails the check in the original (`wal.crc_mismatch` inside a
                // segment, or a leading one that breaks the chain) fails it in the copy too.
                rtype::CRC if !r.crc_ok || (ri == 0 && chain_broken) => {
                    w.damaged_crc_record(r.crc, (!r.data.is_empty()).then_some(&r.data[..]));
                }
                rtype::CRC => w.record(rtype::CRC, None),
                rtype::ENTRY => {
                    let mut e = match raftpb::Entry::decode(r.data.clone()) {
                        Ok(e) => e,
                        Err(_) if !r.crc_ok => {
                            w.damaged_record(r.rtype, &r.data, r.crc);
                            continue;
                        }
                        Err(_) => {
                            w.record(r.rtype, Some(&r.data));
                            continue;
                        }
                    };
                    let data = e.data.clone().unwrap_or_default();
                    if !data.is_empty() && a.encrypted {
                        match crate::crypto::decrypt_record(&data, &a.deks) {
                            Ok(d) => {
                                e.data = Some(d.plaintext.into());
                                rep.entries_decrypted += 1;
                            }
                            Err(_) => {
                                let reason = if a.wal.crc_failed(si, r.offset) {
                                    LeftReason::DamagedRecord
                                } else if covered.contains(&(seg.display.as_str(), r.offset)) {
                                    LeftReason::RetiredDek
                                } else {
                                    LeftReason::NoKey
                                };
                                rep.entries_left_encrypted.push(e.index());
                                rep.left_encrypted.push(LeftEncrypted {
                                    index: e.index(),
                                    file: seg.display.clone(),
                                    offset: r.offset,
                                    reason,
                                });
                            }
                        }
                    }
                    // A record whose CRC fails in the original fails it in the copy too, byte
                    // for byte: the copy is never more trustworthy than the original (verify on
                    // it reports the same damage at the same record).
                    if r.crc_ok {
                        w.record(rtype::ENTRY, Some(&e.encode_to_vec()));
                    } else {
                        w.damaged_record(rtype::ENTRY, &r.data, r.crc);
                    }
                }
                _ if !r.crc_ok => w.damaged_record(r.rtype, &r.data, r.crc),
                _ => w.record(r.rtype, Some(&r.data)),
            }
        }
        prev_crc = w.crc;
        write_file(&wal_dir.join(&seg.name), &w.buf)?;
        rep.segments += 1;
    }
    for (name, _) in &a.layout.snap_files {
        let rel = if a.layout.snap_dir.is_empty() { name.clone() } else { format!("{}/{}", a.layout.snap_dir, name) };
        let data = a.source.read(&rel)?;
        let Ok(outer) = snappb::Snapshot::decode(data.clone()) else {
            rep.snapshots_skipped.push(name.clone());
            continue;
        };
        let Ok(mut rs) = raftpb::Snapshot::decode(outer.data.clone().unwrap_or_default()) else {
            rep.snapshots_skipped.push(name.clone());
            continue;
        };
        if a.encrypted {
            match crate::crypto::decrypt_record(rs.data.as_deref().unwrap_or(&[]), &a.deks) {
                Ok(d) => rs.data = Some(d.plaintext.into()),
                Err(_) => {
                    rep.snapshots_skipped.push(name.clone());
                    continue;
                }
            }
        }
        let body = rs.encode_to_vec();
        let crc = crc32c::crc32c(&body);
        let file = snappb::Snapshot { crc: Some(crc), data: Some(body.into()) }.encode_to_vec();
        write_file(&snap_dir.join(name), &file)?;
        rep.snapshots += 1;
    }
    // Say what this directory is: `info` and `verify` then report it as a decrypted copy, not
    // as a Docker 1.13 development build missing its key.
    let marker = out.join(crate::input::layout::DECRYPTED_MARKER);
    let mut note = format!(
        "A plaintext copy of {} written by swarmsift decrypt {}: etcd WAL and snapshots with the payloads decrypted and the CRCs recomputed. It holds plaintext secrets: keep it private (0700/0600) and delete it when done. Not written by Docker; Docker does not read this layout.\n",
        a.source.input.display(),
        env!("CARGO_PKG_VERSION")
    );
    let retired: Vec<u64> =
        rep.left_encrypted.iter().filter(|l| l.reason == LeftReason::RetiredDek).map(|l| l.index).collect();
    if !retired.is_empty() {
        note.push_str(&format!("{RETIRED_DEK_LINE}{}\n", ranges(&retired)));
    }
    write_file(&marker, note.as_bytes())?;
    // Keep the node certificate (not the private key) so identity checks still work.
    if let Some(cf) = &a.layout.cert_file {
        if let Ok(b) = a.source.read(cf) {
            let d = out.join("certificates");
            make_dir(&d)?;
            write_file(&d.join("swarm-node.crt"), &b)?;
        }
    }
    Ok(rep)
}

/// Exit code: 0 when every entry was decrypted or is left encrypted under a retired DEK (the
/// snapshot covers it) and every snapshot was written; 1 otherwise.
pub fn exit_code(rep: &DecryptReport) -> u8 {
    let lost = rep.left_encrypted.iter().any(|l| l.reason != LeftReason::RetiredDek);
    u8::from(lost || !rep.snapshots_skipped.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_ranges() {
        assert_eq!(super::ranges(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        assert_eq!(super::ranges(&[]), "");
    }
}
