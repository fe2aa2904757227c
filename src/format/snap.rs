//! `.snap` files: `snappb.Snapshot{crc, data}` around a `raftpb.Snapshot` whose `data` is
//! swarmkit's `api.Snapshot` (wrapped in `MaybeEncryptedRecord` in the encrypted layout).
//!
//! This module checks the container only (CRC-32C, metadata, name); decrypting and decoding the
//! payload happens in [`crate::replay::analysis`], where the keys are known. Every file is examined, not
//! only the newest, and nothing is renamed (etcd's loader renames bad files to `.broken`).

use crate::error::{Code, Finding, Severity};
use crate::pb::{raftpb, snappb};
use bytes::Bytes;
use prost::Message;

/// One `.snap` file's container.
#[derive(Debug, Clone)]
pub struct SnapFile {
    /// File name.
    pub name: String,
    /// Display path.
    pub display: String,
    /// Size in bytes.
    pub size: u64,
    /// (term, index) from the file name.
    pub name_term_index: Option<(u64, u64)>,
    /// Metadata term.
    pub term: u64,
    /// Metadata index.
    pub index: u64,
    /// ConfState voters.
    pub voters: Vec<u64>,
    /// ConfState learners.
    pub learners: Vec<u64>,
    /// The snapshot payload (`raftpb.Snapshot.data`), still encrypted if the layout is.
    pub payload: Option<Bytes>,
    /// Whether the container is sound (CRC ok, decodes, metadata present).
    pub container_ok: bool,
    /// Problems found.
    pub findings: Vec<Finding>,
}

/// Check and parse one `.snap` file. `release` is told of each part of the data once its CRC is
/// summed (a mapped file's pages can go; pass `&|_| ()` otherwise).
pub fn read_snap(name: &str, display: &str, data: &Bytes, release: &dyn Fn(&[u8])) -> SnapFile {
    let mut s = SnapFile {
        name: name.to_string(),
        display: display.to_string(),
        size: data.len() as u64,
        name_term_index: crate::input::layout::parse_snap_name(name),
        term: 0,
        index: 0,
        voters: vec![],
        learners: vec![],
        payload: None,
        container_ok: false,
        findings: vec![],
    };
    let bad = |code, msg: String| Finding::new(code, Severity::Error, msg).file(display).offset(0);
    if data.is_empty() {
        s.findings.push(bad(Code::SnapEmpty, "snapshot file is empty: etcd fails with ErrEmptySnapshot".into()));
        return s;
    }
    let outer = match snappb::Snapshot::decode(data.clone()) {
        Ok(o) => o,
        Err(e) => {
            s.findings.push(bad(Code::SnapUndecodable, format!("not a snappb.Snapshot: {e}")));
            return s;
        }
    };
    let body = outer.data.clone().unwrap_or_default();
    let stored = outer.crc();
    if body.is_empty() || stored == 0 {
        s.findings
            .push(bad(Code::SnapEmpty, "snapshot has no data or a zero CRC: etcd fails with ErrEmptySnapshot".into()));
        return s;
    }
    // In 1 MiB steps, each handed to `release` once summed: the caller can drop mapped pages as
    // the check goes (the payload is read again only when it is opened).
    let computed = body.chunks(1 << 20).fold(0, |crc, c| {
        let crc = crc32c::crc32c_append(crc, c);
        release(c);
        crc
    });
    let crc_ok = computed == stored;
    if !crc_ok {
        s.findings.push(bad(
            Code::SnapCrcMismatch,
            format!("stored CRC {stored:#010x}, computed {computed:#010x}: etcd renames this file to .broken and falls back to an older snapshot"),
        ));
    }
    match raftpb::Snapshot::decode(body) {
        Ok(rs) => {
            let md = rs.metadata.unwrap_or_default();
            s.term = md.term();
            s.index = md.index();
            let cs = md.conf_state.unwrap_or_default();
            s.voters = cs.voters;
            s.learners = cs.learners;
            s.payload = rs.data;
            s.container_ok = crc_ok;
            if let Some((t, i)) = s.name_term_index {
                if (t, i) != (s.term, s.index) {
                    s.findings.push(
                        Finding::new(
                            Code::SnapNameMismatch,
                            Severity::Warning,
                            format!(
                                "file name says term {t} index {i} but the metadata says term {} index {}",
                                s.term, s.index
                            ),
                        )
                        .file(display)
                        .index(s.index)
                        .term(s.term),
                    );
                }
            }
        }
        Err(e) => s.findings.push(bad(Code::SnapUndecodable, format!("data is not a raftpb.Snapshot: {e}"))),
    }
    s
}
