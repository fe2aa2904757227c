//! `decrypt`: write a plaintext copy of the raft data for other tools (etcd-dump-logs, a
//! plaintext-reading swarmsift, a hex editor).
//!
//! Output layout: `DIR/raft/wal-v3/<same segment names>` and `DIR/raft/snap-v3/<same snap names>`,
//! i.e. swarmkit's plaintext v3 layout, in etcd's format with every CRC recomputed. Segment
//! boundaries, record order, metadata, HardStates and snapshot markers are kept; only entry and
//! snapshot `data` are replaced by their plaintext. Records no DEK decrypts are copied unchanged
//! and reported.
//!
//! Invariants: the source is never written; the output directory must not exist or be empty, and
//! must not be inside the input directory.

use crate::error::{Error, Result};
use crate::format::wal::{encode::SegmentWriter, rtype};
use crate::pb::{raftpb, snappb};
use crate::replay::analysis::Analysis;
use prost::Message;
use std::path::Path;

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

/// Write the plaintext copy.
pub fn write_plaintext(a: &Analysis, out: &Path) -> Result<DecryptReport> {
    check_output(a, out)?;
    let io = |p: &Path, e: std::io::Error| Error::Io { path: p.to_path_buf(), source: e };
    let wal_dir = out.join("raft").join("wal-v3");
    let snap_dir = out.join("raft").join("snap-v3");
    std::fs::create_dir_all(&wal_dir).map_err(|e| io(&wal_dir, e))?;
    std::fs::create_dir_all(&snap_dir).map_err(|e| io(&snap_dir, e))?;
    let mut rep = DecryptReport { output: out.display().to_string(), ..Default::default() };
    let mut prev_crc = 0u32;
    for seg in &a.wal.segments {
        let mut w = SegmentWriter { buf: Vec::new(), crc: prev_crc, legacy: false };
        for r in &seg.records {
            match r.rtype {
                rtype::CRC => {
                    let c = w.crc;
                    w.record(rtype::CRC, None);
                    let _ = c;
                }
                rtype::ENTRY => {
                    let mut e = match raftpb::Entry::decode(r.data.clone()) {
                        Ok(e) => e,
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
                            Err(_) => rep.entries_left_encrypted.push(e.index()),
                        }
                    }
                    w.record(rtype::ENTRY, Some(&e.encode_to_vec()));
                }
                _ => w.record(r.rtype, Some(&r.data)),
            }
        }
        prev_crc = w.crc;
        let p = wal_dir.join(&seg.name);
        std::fs::write(&p, &w.buf).map_err(|e| io(&p, e))?;
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
        let p = snap_dir.join(name);
        std::fs::write(&p, &file).map_err(|e| io(&p, e))?;
        rep.snapshots += 1;
    }
    // Say what this directory is: `info` and `verify` then report it as a decrypted copy, not
    // as a Docker 1.13 development build missing its key.
    let marker = out.join(crate::input::layout::DECRYPTED_MARKER);
    let note = format!(
        "A plaintext copy of {} written by swarmsift decrypt {}: etcd WAL and snapshots with the payloads decrypted and the CRCs recomputed. Not written by Docker; Docker does not read this layout.\n",
        a.source.input.display(),
        env!("CARGO_PKG_VERSION")
    );
    std::fs::write(&marker, note).map_err(|e| io(&marker, e))?;
    // Keep the node certificate (not the private key) so identity checks still work.
    if let Some(cf) = &a.layout.cert_file {
        if let Ok(b) = a.source.read(cf) {
            let d = out.join("certificates");
            std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
            let p = d.join("swarm-node.crt");
            std::fs::write(&p, &b).map_err(|e| io(&p, e))?;
        }
    }
    Ok(rep)
}
