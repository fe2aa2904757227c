//! Specification of layout detection and of the plaintext layouts that today's engine no longer
//! writes: Docker 1.13 dev builds' `wal-v3`/`snap-v3` and Docker 1.12's `wal`/`snap` with
//! unpadded frames. Those are produced here from a real capture by a test writer that follows the
//! format facts (etcd v2.3.2 encoder: 8-byte length, no padding bits, no alignment).

mod common;

use std::path::Path;
use swarmsift::format::wal::{encode::SegmentWriter, rtype, scan_segment};
use swarmsift::input::layout::LayoutKind;
use swarmsift::replay::analysis::{Analysis, Options};

const CHURN: &str = "fixtures/churn/swarm.tar.gz";

fn load(p: &Path) -> Analysis {
    Analysis::load(p, &Options::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Decrypt the churn capture into `<dir>/plain` (a `wal-v3`/`snap-v3` layout).
fn plaintext_copy(dir: &Path) -> std::path::PathBuf {
    let a = load(Path::new(CHURN));
    let out = dir.join("plain");
    swarmsift::analyses::decrypt::write_plaintext(&a, &out).expect("decrypt");
    out
}

/// Re-encode a plaintext v3 WAL dir as Docker 1.12 would have written it: unpadded frames.
fn write_legacy(plain: &Path, out: &Path) {
    let wal = out.join("raft/wal");
    let snap = out.join("raft/snap");
    std::fs::create_dir_all(&wal).unwrap();
    std::fs::create_dir_all(&snap).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(plain.join("raft/wal-v3")).unwrap().flatten().map(|e| e.path()).collect();
    names.sort();
    let mut prev = 0;
    for p in names {
        let data = bytes::Bytes::from(std::fs::read(&p).unwrap());
        let name = p.file_name().unwrap().to_str().unwrap();
        let scan = scan_segment(name, name, &data, false);
        let mut w = SegmentWriter { buf: Vec::new(), crc: prev, legacy: true };
        for r in &scan.records {
            if r.rtype == rtype::CRC { w.record(rtype::CRC, None) } else { w.record(r.rtype, Some(&r.data)) }
        }
        prev = w.crc;
        std::fs::write(wal.join(name), &w.buf).unwrap();
    }
    for e in std::fs::read_dir(plain.join("raft/snap-v3")).unwrap().flatten() {
        std::fs::copy(e.path(), snap.join(e.file_name())).unwrap();
    }
}

#[test]
fn plaintext_v3_layout_decodes_to_the_same_state() {
    let t = tempfile::tempdir().unwrap();
    let plain = plaintext_copy(t.path());
    let a = load(Path::new(CHURN));
    let b = load(&plain);
    assert_eq!(b.layout.kind, LayoutKind::V3Plain);
    assert!(!b.encrypted);
    assert_eq!(a.state, b.state);
    assert_eq!(a.wal.hard_state.map(|h| h.0), b.wal.hard_state.map(|h| h.0));
    assert!(!b.has_errors(), "{:#?}", b.findings);
}

#[test]
fn legacy_unpadded_layout_decodes_to_the_same_state() {
    let t = tempfile::tempdir().unwrap();
    let plain = plaintext_copy(t.path());
    let legacy = t.path().join("legacy");
    write_legacy(&plain, &legacy);
    // Unpadded: at least one frame length field has no padding flag yet a length not divisible by 8.
    let seg = std::fs::read(legacy.join("raft/wal/0000000000000000-0000000000000000.wal")).unwrap();
    let first = u64::from_le_bytes(seg[..8].try_into().unwrap());
    assert_eq!(first >> 56, 0, "legacy frames carry no padding flag");
    let a = load(Path::new(CHURN));
    let b = load(&legacy);
    assert_eq!(b.layout.kind, LayoutKind::Legacy);
    assert_eq!(a.state, b.state);
    assert_eq!(b.entries.len(), a.entries.len());
    assert!(!b.has_errors(), "{:#?}", b.findings);
    assert!(b.era()[0].contains("1.12"));
}

#[test]
fn stale_legacy_dirs_and_leftovers_are_reported_not_read() {
    let (_g, dir) = common::unpack(Path::new(CHURN));
    let t = tempfile::tempdir().unwrap();
    let plain = plaintext_copy(t.path());
    // An upgraded manager keeps its frozen 1.12 dirs; a crash can leave .tmp dirs and .broken files.
    write_legacy(&plain, &dir);
    std::fs::create_dir_all(dir.join("raft/wal-v3-encrypted.tmp")).unwrap();
    std::fs::write(dir.join("raft/snap-v3-encrypted/0000000000000001-0000000000000001.snap.broken"), b"x").unwrap();
    let a = load(&dir);
    assert_eq!(a.layout.kind, LayoutKind::V3Encrypted);
    let codes: Vec<&str> = a.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "layout.stale_dir").count(), 2, "{codes:?}");
    assert!(codes.contains(&"layout.tmp_leftover"), "{codes:?}");
    assert!(codes.contains(&"layout.broken_file"), "{codes:?}");
    let clean = load(Path::new(CHURN));
    assert_eq!(a.state, clean.state);
}

#[test]
fn a_bare_directory_of_wal_and_snap_files_is_read() {
    let t = tempfile::tempdir().unwrap();
    let plain = plaintext_copy(t.path());
    let bare = t.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    for sub in ["raft/wal-v3", "raft/snap-v3"] {
        for e in std::fs::read_dir(plain.join(sub)).unwrap().flatten() {
            std::fs::copy(e.path(), bare.join(e.file_name())).unwrap();
        }
    }
    let b = load(&bare);
    assert_eq!(b.source.kind, swarmsift::input::source::InputKind::BareDir);
    assert_eq!(b.state, load(Path::new(CHURN)).state);
}

/// A new leader rewrote the uncommitted tail: entries keep their place in `wal`, are marked
/// overwritten, and are never applied.
#[test]
fn entries_overwritten_by_a_later_term_are_kept_marked_and_not_applied() {
    use prost::Message;
    use swarmsift::pb::raftpb;
    let t = tempfile::tempdir().unwrap();
    let plain = plaintext_copy(t.path());
    let seg = plain.join("raft/wal-v3/0000000000000000-0000000000000000.wal");
    let data = bytes::Bytes::from(std::fs::read(&seg).unwrap());
    let scan = scan_segment("x", "x", &data, true);
    let a0 = load(&plain);
    let last = a0.wal.last_index().unwrap();
    let hs = a0.wal.hard_state.unwrap().0;
    // Pretend the last 3 entries were never committed, then a term-9 leader replaced the last 2.
    let mut w = SegmentWriter { buf: data.to_vec(), crc: scan.last_crc, legacy: false };
    let state = |commit: u64, term: u64| raftpb::HardState { term: Some(term), vote: Some(1), commit: Some(commit) };
    w.record(rtype::STATE, Some(&state(last - 3, hs.term).encode_to_vec()));
    for i in [last - 1, last] {
        let e = raftpb::Entry { term: Some(9), index: Some(i), r#type: Some(0), data: None };
        w.record(rtype::ENTRY, Some(&e.encode_to_vec()));
    }
    w.record(rtype::STATE, Some(&state(last, 9).encode_to_vec()));
    std::fs::write(&seg, &w.buf).unwrap();
    let a = load(&plain);
    assert_eq!(a.wal.overwritten.len(), 2);
    assert!(a.wal.overwritten.iter().all(|e| e.overwritten_by.map(|o| o.0) == Some(9)));
    let marked: Vec<_> = a.entries.iter().filter(|e| e.overwritten_by_term == Some(9)).map(|e| e.index).collect();
    assert_eq!(marked, vec![last - 1, last]);
    assert!(a.findings.iter().any(|f| f.code.as_str() == "wal.entries_overwritten"));
    // The replaced entries' writes are gone from the state: it equals the state at last-2 plus
    // two no-ops.
    let at = swarmsift::replay::point::replay(&a0, &swarmsift::replay::point::Point::Index(last - 2), false).unwrap();
    assert!(a.state == at.store, "overwritten entries must not be applied");
    let (code, out, _) = common::run(&["wal", plain.to_str().unwrap(), "--from", &(last - 1).to_string()], &[]);
    assert!(code <= 1);
    assert_eq!(out.matches("overwritten(term 9)").count(), 2, "{out}");
}
