//! `synth`: generated swarm dirs decode cleanly, replay to every kept snapshot exactly, match what
//! the generator says it made, follow etcd's segment and GC rules, and are deterministic; and the
//! encoders synth uses reproduce real engine files byte for byte.

mod common;

use prost::Message;
use std::path::Path;
use swarmsift::analyses::synth::{SynthOptions, SynthReport, generate};
use swarmsift::crypto::keys::UnlockKey;
use swarmsift::decode::entry::Payload;
use swarmsift::decode::object::{Kind, Membership};
use swarmsift::decode::snapshot::decode_snapshot;
use swarmsift::error::Severity;
use swarmsift::format::wal::{SegmentEnd, encode::SegmentWriter, rtype, scan_segment};
use swarmsift::pb::{raftpb, snappb, walpb};
use swarmsift::replay::analysis::{Analysis, Options};
use swarmsift::replay::point::{Base, Point, replay_from};
use swarmsift::replay::store::Store;

fn small() -> SynthOptions {
    SynthOptions {
        nodes: 14,
        managers: 3,
        services: 4,
        tasks: 250,
        snapshot_interval: 150,
        keep_old_snapshots: 3,
        configs: 2,
        config_bytes: 6_000,
        secrets: 2,
        networks: 2,
        seed: 7,
        ..SynthOptions::default()
    }
}

fn load(dir: &Path, key: Option<&str>) -> Analysis {
    let opts = Options { unlock_key: key.map(|k| UnlockKey::parse(k).unwrap()), ..Options::default() };
    Analysis::load(dir, &opts).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Everything a clean synth dir must satisfy when read back.
fn check_clean(a: &Analysis, rep: &SynthReport) {
    let bad: Vec<_> = a.findings.iter().filter(|f| f.severity >= Severity::Warning).collect();
    assert!(bad.is_empty(), "findings: {bad:#?}");
    // Every entry decrypts and decodes.
    for e in &a.entries {
        assert!(
            !matches!(e.payload, Payload::Undecryptable { .. } | Payload::Undecodable { .. }),
            "entry {}: {:?}",
            e.index,
            e.payload
        );
        assert!(e.committed, "entry {} not committed", e.index);
    }
    assert_eq!(a.wal.last_index(), Some(rep.last_index));
    assert_eq!(a.wal.first_index(), Some(rep.first_wal_index));
    assert_eq!(a.wal.commit(), rep.last_index);
    assert_eq!(a.state_index, rep.last_index);
    // The final state holds what the generator says is live.
    for k in Kind::ALL {
        let want = rep.live.get(k.plural()).copied().unwrap_or(0);
        assert_eq!(a.state.count(k) as u64, want, "{} count", k.plural());
    }
    assert_eq!(a.membership.members.len(), rep.managers);
    // Snapshots on disk as reported, all valid with a marker.
    let names: Vec<&str> = a.snapshots.iter().map(|s| s.file.as_str()).collect();
    let want: Vec<&str> = rep.snapshots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, want);
    for s in &a.snapshots {
        assert!(s.valid && s.has_marker, "{}: {:?}", s.file, s.problem);
    }
    // Entry counts by kind of content.
    let confchanges = a.entries.iter().filter(|e| matches!(e.payload, Payload::ConfChange { .. })).count() as u64;
    if rep.first_wal_index == 1 {
        assert_eq!(confchanges, rep.entries_by_type.get("confchange").copied().unwrap_or(0));
        let created_tasks = a
            .entries
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::Request { actions, .. } => Some(
                    actions
                        .iter()
                        .filter(|x| x.kind == Kind::Task && x.verb == swarmsift::decode::object::Verb::Create)
                        .count(),
                ),
                _ => None,
            })
            .sum::<usize>() as u64;
        assert_eq!(created_tasks, rep.created["tasks"]);
    }
}

/// Replaying from `base` to each newer kept snapshot's index gives exactly that snapshot's store
/// and membership.
fn check_replays(a: &Analysis, base: Base) {
    let first = match base {
        Base::Snapshot(i) => i + 1,
        _ => 0,
    };
    assert!(first < a.snapshots.len(), "nothing to replay to");
    for i in first..a.snapshots.len() {
        let s = &a.snapshots[i];
        let r = replay_from(a, &Point::Index(s.index), false, base).unwrap();
        assert_eq!(r.index, s.index);
        let (snap, _) = decode_snapshot(a.snap_payloads[i].as_deref().unwrap(), a.encrypted, &a.deks).unwrap();
        let want = Store::from_snapshot(snap.store.clone().unwrap_or_default());
        assert!(r.store == want, "replay to {} differs from {}", s.index, s.file);
        let m = snap.membership.as_ref().map(Membership::from_snapshot).unwrap_or_default();
        assert_eq!(r.membership, m, "membership at {}", s.index);
    }
    // And to the end: the same state the pipeline built from the newest snapshot.
    let r = replay_from(a, &Point::Last, false, base).unwrap();
    assert!(r.store == a.state);
}

#[test]
fn small_synth_decodes_cleanly_and_replays_to_every_snapshot() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("swarm");
    let rep = generate(&dir, &small()).unwrap();
    assert!(rep.last_index > 500, "{rep:?}");
    assert!(rep.created["tasks"] >= 250);
    assert!(rep.task_failures > 0);
    assert_eq!(rep.snapshots.len(), 4, "keep 3 old + the newest");
    assert!(rep.snapshots_written > 4);
    let a = load(&dir, None);
    check_clean(&a, &rep);
    assert_eq!(rep.first_wal_index, 1, "one segment: nothing to GC");
    check_replays(&a, Base::Empty);
    // Layout facts: one active segment preallocated to 64,000,000 bytes, plus the spare.
    let wal = dir.join("raft/wal-v3-encrypted");
    assert_eq!(std::fs::metadata(wal.join("0000000000000000-0000000000000000.wal")).unwrap().len(), 64_000_000);
    assert_eq!(std::fs::metadata(wal.join("0.tmp")).unwrap().len(), 64_000_000);
    let head = std::fs::read(wal.join("0000000000000000-0000000000000000.wal")).unwrap();
    assert_eq!(&head[..16], &[0x04, 0, 0, 0, 0, 0, 0, 0x84, 0x08, 0x04, 0x10, 0, 0, 0, 0, 0]);
    // Keys: autolock off, 48-character raft-dek starting EiB, PKCS#8 key, cert of this node.
    assert_eq!(a.keys.autolock, Some(false));
    assert_eq!(a.keys.block_type.as_deref(), Some("PRIVATE KEY"));
    let key = std::fs::read_to_string(dir.join("certificates/swarm-node.key")).unwrap();
    let dek = key.lines().find_map(|l| l.strip_prefix("raft-dek: ")).unwrap();
    assert!(dek.len() == 48 && dek.starts_with("EiB"), "{dek}");
    let cert = a.keys.cert.as_ref().unwrap();
    assert_eq!(cert.node_id, rep.node_id);
    assert_eq!(cert.role, "swarm-manager");
    assert_eq!(cert.cluster_id, rep.cluster_id);
    assert_eq!(a.member.as_ref().unwrap().node_id, rep.node_id);
    // Versions are the previous index, times never go back.
    let mut last_time = None;
    for e in &a.entries {
        if let Payload::Request { actions, .. } = &e.payload {
            for x in actions.iter().filter(|x| x.verb != swarmsift::decode::object::Verb::Remove) {
                assert_eq!(x.version, e.index - 1, "entry {} {:?}", e.index, x);
            }
        }
        if let Some(t) = e.time {
            assert!(last_time.is_none_or(|l| t >= l), "time goes back at {}", e.index);
            last_time = Some(t);
        }
    }
    // The cluster object carries the raft settings given.
    let c = a.state.clusters().next().unwrap();
    let raft = c.spec.as_ref().unwrap().raft.as_ref().unwrap();
    assert_eq!((raft.snapshot_interval, raft.keep_old_snapshots), (150, 3));
    assert_eq!(c.spec.as_ref().unwrap().annotations.as_ref().unwrap().name, "default");
}

#[test]
fn multi_segment_wal_is_cut_and_garbage_collected_like_etcd() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("swarm");
    let o =
        SynthOptions { segment_size: 256 * 1024, tasks: 600, snapshot_interval: 400, keep_old_snapshots: 1, ..small() };
    let rep = generate(&dir, &o).unwrap();
    assert!(rep.segments.len() >= 3, "{:?}", rep.segments);
    assert!(rep.segments_deleted > 0, "GC deleted nothing: {rep:?}");
    let a = load(&dir, None);
    check_clean(&a, &rep);
    let segs = &a.wal.segments;
    assert!(segs[0].seq > 0, "the first segment was garbage collected");
    for (i, s) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        if last {
            assert_eq!(s.size, o.segment_size, "active segment is preallocated");
            assert!(matches!(s.end, SegmentEnd::ZeroTail { .. }));
        } else {
            assert!(s.size >= o.segment_size, "closed segment {} is {} bytes", s.name, s.size);
            assert!(matches!(s.end, SegmentEnd::Eof { .. }), "closed segments are truncated to their end");
            // The next segment starts at the index after this one's last entry.
            let last_here = a.wal.entries.iter().filter(|e| e.seg == i).map(|e| e.index).max().unwrap();
            assert_eq!(segs[i + 1].name_index, last_here + 1);
            assert_eq!(segs[i + 1].seq, s.seq + 1);
        }
    }
    // GC kept the segment holding the oldest kept snapshot's index and nothing older.
    let oldest = a.snapshots[0].index;
    assert!(a.wal.first_index().unwrap() <= oldest + 1);
    assert!(segs.len() < 2 || segs[1].name_index > oldest);
    check_replays(&a, Base::Snapshot(0));
}

#[test]
fn real_size_segments_are_cut_after_64_000_000_bytes() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("swarm");
    // 70 configs of 1,000,000 bytes: one large entry each, like the big-wal capture.
    let o = SynthOptions {
        nodes: 3,
        services: 1,
        tasks: 2,
        configs: 70,
        config_bytes: 1_000_000,
        secrets: 0,
        networks: 0,
        snapshot_interval: 100_000,
        ..small()
    };
    let rep = generate(&dir, &o).unwrap();
    let sizes: Vec<u64> = rep.segments.iter().map(|s| s.bytes).collect();
    assert_eq!(sizes.len(), 2, "{:?}", rep.segments);
    assert!(sizes[0] > 64_000_000 && sizes[0] < 64_000_000 + 1_100_000, "{sizes:?}");
    assert_eq!(sizes[1], 64_000_000);
    assert_eq!(rep.segments[0].name, "0000000000000000-0000000000000000.wal");
    assert!(rep.segments[1].name.starts_with("0000000000000001-"));
    let a = load(&dir, None);
    check_clean(&a, &rep);
    assert_eq!(a.state.count(Kind::Config), 70);
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let t = tempfile::tempdir().unwrap();
    let o = SynthOptions { tasks: 80, snapshot_interval: 100, ..small() };
    generate(&t.path().join("a"), &o).unwrap();
    generate(&t.path().join("b"), &o).unwrap();
    generate(&t.path().join("c"), &SynthOptions { seed: 8, ..o.clone() }).unwrap();
    let (a, b, c) = (
        common::tree_digest(&t.path().join("a")),
        common::tree_digest(&t.path().join("b")),
        common::tree_digest(&t.path().join("c")),
    );
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(generate(&t.path().join("a"), &o).is_err(), "refuses a non-empty output dir");
}

#[test]
fn autolocked_synth_needs_its_unlock_key() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("swarm");
    let rep = generate(&dir, &SynthOptions { autolock: true, tasks: 60, ..small() }).unwrap();
    let key = rep.unlock_key.clone().unwrap();
    assert!(key.starts_with("SWMKEY-1-"));
    let err = Analysis::load(&dir, &Options::default()).unwrap_err();
    assert!(matches!(err, swarmsift::error::Error::Key(_)), "{err}");
    let a = load(&dir, Some(&key));
    check_clean(&a, &rep);
    assert_eq!(a.keys.autolock, Some(true));
    assert_eq!(a.keys.block_type.as_deref(), Some("ENCRYPTED PRIVATE KEY"));
    assert!(a.keys.kek_version.unwrap() > 0);
    let pem = std::fs::read(dir.join("certificates/swarm-node.key")).unwrap();
    let nk = swarmsift::crypto::keys::parse_node_key(&pem).unwrap();
    let kek = UnlockKey::parse(&key).unwrap();
    assert_eq!(
        swarmsift::crypto::keys::verify_private_key_kek(&nk, Some(&kek)).unwrap(),
        swarmsift::crypto::keys::KeyCheck::Ok
    );
    assert_eq!(nk.raft_dek.as_ref().unwrap().value_len(), 104);
    let c = a.state.clusters().next().unwrap();
    assert!(c.spec.as_ref().unwrap().encryption_config.as_ref().unwrap().auto_lock_managers);
    assert_eq!(c.unlock_keys[0].key.as_ref(), kek.as_bytes());
    // The same flags with a given key.
    let d2 = t.path().join("given");
    let o = SynthOptions { unlock_key: Some(UnlockKey::parse(&key).unwrap()), tasks: 60, ..small() };
    let rep2 = generate(&d2, &o).unwrap();
    assert_eq!(rep2.unlock_key.as_deref(), Some(key.as_str()));
    check_clean(&load(&d2, Some(&key)), &rep2);
}

/// The encoders synth writes with (frames, CRC chain, walpb/raftpb/snappb messages) reproduce
/// real engine files byte for byte when fed the records decoded from them.
#[test]
fn re_encoding_real_captures_reproduces_them_byte_for_byte() {
    for capture in ["fixtures/churn/swarm.tar.gz", "fixtures/big-wal/swarm.tar.gz"] {
        let (_g, dir) = common::unpack(Path::new(capture));
        let wal_dir = dir.join("raft/wal-v3-encrypted");
        let mut names: Vec<_> =
            std::fs::read_dir(&wal_dir).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
        names.retain(|n| n.ends_with(".wal"));
        names.sort();
        for name in &names {
            let orig = std::fs::read(wal_dir.join(name)).unwrap();
            let data = bytes::Bytes::from(orig.clone());
            let scan = scan_segment(name, name, &data, false);
            let mut w = SegmentWriter { buf: Vec::new(), crc: scan.first_crc.unwrap(), legacy: false };
            for r in &scan.records {
                if r.rtype == rtype::CRC {
                    w.record(rtype::CRC, None);
                    continue;
                }
                // Decode and re-encode each payload message too.
                let again = match r.rtype {
                    rtype::ENTRY => raftpb::Entry::decode(r.data.clone()).unwrap().encode_to_vec(),
                    rtype::STATE => raftpb::HardState::decode(r.data.clone()).unwrap().encode_to_vec(),
                    rtype::SNAPSHOT => walpb::Snapshot::decode(r.data.clone()).unwrap().encode_to_vec(),
                    _ => r.data.to_vec(),
                };
                assert_eq!(again, r.data.as_ref(), "{capture} {name}: record at {} re-encodes differently", r.offset);
                w.record(r.rtype, Some(&again));
            }
            let mut out = w.buf;
            if let SegmentEnd::ZeroTail { .. } = scan.end {
                out.resize(orig.len(), 0);
            }
            assert!(out == orig, "{capture} {name}: re-encoded segment differs");
        }
        let snap_dir = dir.join("raft/snap-v3-encrypted");
        for e in std::fs::read_dir(&snap_dir).into_iter().flatten().flatten() {
            let orig = std::fs::read(e.path()).unwrap();
            let outer = snappb::Snapshot::decode(orig.as_slice()).unwrap();
            let inner = raftpb::Snapshot::decode(outer.data.clone().unwrap()).unwrap().encode_to_vec();
            assert_eq!(inner, outer.data.as_deref().unwrap());
            let again =
                snappb::Snapshot { crc: Some(crc32c::crc32c(&inner)), data: Some(inner.into()) }.encode_to_vec();
            assert!(again == orig, "{capture} {:?}: re-encoded snapshot differs", e.file_name());
        }
    }
}
