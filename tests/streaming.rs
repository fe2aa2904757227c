//! Specification of the load levels and the streaming commands (issue 5):
//! - `Detail::Notable` decodes every entry (same counts, same findings, same final state as
//!   `Detail::Entries`) but keeps only uncommitted, overwritten and unreadable entries.
//! - `Detail::Structure` reads no payload; a replay from it gives the same state as from a full
//!   load, and a damaged newest snapshot is skipped by the replay as the full load skips it.
//! - Releasing mapped pages changes nothing: memory-mapped and `--no-mmap` loads agree.
//! - `wal` streams exactly what a table over all rows prints; `--format json` is one document.
//! - `verify --no-decrypt` checks frames and CRC chains without any key and still finds damage.
//! - No progress bar reaches a non-terminal stderr; `--quiet` and `--no-progress` are accepted.

mod common;

#[path = "common/corrupt.rs"]
mod corrupt;
use swarmsift::crypto::keys::UnlockKey;
use swarmsift::input::source::ReadOptions;
use swarmsift::replay::analysis::{Analysis, Detail, Options};
use swarmsift::replay::point::{Point, replay};

fn opts(scenario: &str, detail: Detail) -> Options {
    let unlock_key = common::unlock_key(scenario).map(|k| UnlockKey::parse(&k).unwrap());
    Options { unlock_key, detail, ..Default::default() }
}

fn codes(a: &Analysis) -> Vec<(String, Option<u64>)> {
    a.findings.iter().map(|f| (f.code.to_string(), f.index)).collect()
}

#[test]
fn notable_decodes_everything_but_keeps_only_notable_entries() {
    for (scenario, capture) in
        [("churn", "swarm.tar.gz"), ("autolock", "swarm.tar.gz"), ("three-managers", "manager3-after-panic.tar.gz")]
    {
        let p = common::scenario(scenario).join(capture);
        let full = Analysis::load(&p, &opts(scenario, Detail::Entries)).unwrap();
        let lean = Analysis::load(&p, &opts(scenario, Detail::Notable)).unwrap();
        assert_eq!(full.stats.entries, full.entries.len(), "{scenario}");
        assert_eq!(lean.stats.entries, full.stats.entries, "{scenario}");
        assert_eq!(lean.stats.committed, full.entries.iter().filter(|e| e.committed).count(), "{scenario}");
        assert_eq!(lean.stats.by_action, full.stats.by_action, "{scenario}");
        assert_eq!(codes(&lean), codes(&full), "{scenario}");
        assert!(lean.state == full.state, "{scenario}: final state differs");
        let notable: Vec<u64> = full.entries.iter().filter(|e| e.notable()).map(|e| e.index).collect();
        assert_eq!(lean.entries.iter().map(|e| e.index).collect::<Vec<_>>(), notable, "{scenario}");
        if scenario == "churn" {
            assert!(lean.entries.len() * 10 < full.entries.len(), "a healthy log has few notable entries");
        }
    }
}

#[test]
fn structure_reads_no_payload_and_replays_to_the_same_state() {
    for scenario in ["churn", "autolock", "big-wal"] {
        let p = common::scenario(scenario).join("swarm.tar.gz");
        let full = Analysis::load(&p, &opts(scenario, Detail::Entries)).unwrap();
        let bare = Analysis::load(&p, &opts(scenario, Detail::Structure)).unwrap();
        assert!(bare.entries.is_empty() && !bare.stats.payloads_read);
        assert!(bare.snapshots.iter().all(|s| !s.payload_checked && s.wire.is_none()));
        for point in [Point::Last, Point::Index(full.wal.last_index().unwrap() - 3)] {
            let a = replay(&full, &point, false).unwrap();
            let b = replay(&bare, &point, false).unwrap();
            assert_eq!((a.index, a.term, &a.base), (b.index, b.term, &b.base), "{scenario} {point:?}");
            assert!(a.store == b.store && a.membership == b.membership, "{scenario} {point:?}: state differs");
        }
    }
}

/// Re-seal a `.snap` file around a payload with one ciphertext bit flipped: the container (CRC,
/// metadata) is sound, the payload opens with no DEK.
fn seal_undecryptable(file: &std::path::Path) {
    use prost::Message;
    use swarmsift::pb::{raftpb, snappb};
    let outer = snappb::Snapshot::decode(std::fs::read(file).unwrap().as_slice()).unwrap();
    let mut inner = raftpb::Snapshot::decode(outer.data.clone().unwrap()).unwrap();
    let mut payload = inner.data.clone().unwrap().to_vec();
    let n = payload.len();
    payload[n - 5] ^= 0x10;
    inner.data = Some(payload.into());
    let body = inner.encode_to_vec();
    let sealed = snappb::Snapshot { crc: Some(crc32c::crc32c(&body)), data: Some(body.into()) };
    std::fs::write(file, sealed.encode_to_vec()).unwrap();
}

#[test]
fn structure_replay_falls_back_past_a_snapshot_whose_payload_does_not_decrypt() {
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let newest = corrupt::snapshots(&swarm).pop().unwrap();
    seal_undecryptable(&newest);
    let full = Analysis::load(&swarm, &opts("churn", Detail::Entries)).unwrap();
    let bare = Analysis::load(&swarm, &opts("churn", Detail::Structure)).unwrap();
    let n = full.snapshots.len() - 1;
    assert!(!full.snapshots[n].valid, "the full load reads the payload and rejects it");
    assert!(bare.snapshots[n].valid && !bare.snapshots[n].payload_checked, "a sound container, unread");
    let (a, b) = (replay(&full, &Point::Last, false).unwrap(), replay(&bare, &Point::Last, false).unwrap());
    assert_eq!(a.base, b.base);
    assert_eq!(b.base.as_deref(), Some(full.snapshots[n - 1].file.as_str()));
    assert!(a.store == b.store && a.index == b.index);
    assert!(b.notes.iter().any(|n| n.contains("replaying from the older")), "{:?}", b.notes);
}

#[test]
fn released_pages_read_back_the_same_bytes() {
    let (_t, swarm) = common::unpack(&common::scenario("big-wal").join("swarm.tar.gz"));
    let mapped = Analysis::load(&swarm, &opts("big-wal", Detail::Entries)).unwrap();
    let mut o = opts("big-wal", Detail::Entries);
    o.read = ReadOptions { no_mmap: true };
    let read = Analysis::load(&swarm, &o).unwrap();
    assert!(mapped.state == read.state);
    assert_eq!(codes(&mapped), codes(&read));
    // Entry data is read again after its pages were released: still the same bytes.
    for (x, y) in mapped.wal.entries.iter().zip(read.wal.entries.iter()) {
        assert_eq!(x.data, y.data, "entry {}", x.index);
    }
    let again = replay(&mapped, &Point::Last, false).unwrap();
    assert!(again.store == mapped.state);
}

#[test]
fn wal_json_is_one_document_with_every_entry() {
    let t = common::scenario("churn").join("swarm.tar.gz");
    let t = t.to_str().unwrap();
    let (code, out, _) = common::run(&["wal", t, "--format", "json"], &[]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let a = Analysis::load(std::path::Path::new(t), &opts("churn", Detail::Entries)).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), a.entries.len());
    assert_eq!(serde_json::to_value(&a.entries).unwrap(), v["entries"]);
    assert_eq!(v["hard_state"]["commit"], a.wal.commit());
    let (_, filtered, _) = common::run(&["wal", t, "--format", "json", "--kind", "service"], &[]);
    let f: serde_json::Value = serde_json::from_str(&filtered).unwrap();
    assert!(!f["entries"].as_array().unwrap().is_empty());
    let (_, none, _) = common::run(&["wal", t, "--format", "json", "--from", "999999"], &[]);
    let n: serde_json::Value = serde_json::from_str(&none).unwrap();
    assert_eq!(n["entries"], serde_json::json!([]));
}

#[test]
fn verify_no_decrypt_checks_structure_without_a_key_and_finds_crc_damage() {
    let (_t, swarm) = common::unpack(&common::scenario("autolock").join("swarm.tar.gz"));
    let s = swarm.to_str().unwrap();
    // Autolocked and no key given: structure only, and it says so.
    let (code, out, _) = common::run(&["verify", s, "--no-decrypt"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("payloads not checked (--no-decrypt)"), "{out}");
    // A flipped bit in an entry's payload is a CRC mismatch, found without decrypting.
    let seg = corrupt::segments(&swarm).pop().unwrap();
    let recs = corrupt::records(&seg, true);
    let r = recs.iter().filter(|r| r.rtype == 2 && r.data.len() > 64).nth(3).unwrap();
    corrupt::flip_bit(&seg, r.end - 20, 3);
    let (code, out, _) = common::run(&["verify", s, "--no-decrypt", "--format", "json"], &[]);
    assert_eq!(code, 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found =
        v["findings"].as_array().unwrap().iter().any(|f| f["code"] == "wal.crc_mismatch" && f["offset"] == r.offset);
    assert!(found, "{out}");
}

#[test]
fn no_progress_output_on_a_pipe_and_the_flags_are_accepted() {
    let t = common::scenario("big-wal").join("swarm.tar.gz");
    let t = t.to_str().unwrap();
    for extra in [&[][..], &["--quiet"][..], &["-q"][..], &["--no-progress"][..]] {
        let mut args = vec!["info", t];
        args.extend_from_slice(extra);
        let (code, out, err) = common::run(&args, &[]);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Log"), "{args:?}");
        assert!(err.is_empty(), "{args:?}: stderr is not a terminal, yet: {err:?}");
    }
}

#[test]
fn verify_on_a_projected_store_says_what_it_says_on_the_full_store() {
    use swarmsift::analyses::verify::{self, VerifyOptions};
    let captures = [
        ("churn", "swarm.tar.gz"),
        ("autolock", "swarm.tar.gz"),
        ("big-wal", "swarm.tar.gz"),
        ("three-managers", "manager1.tar.gz"),
        ("three-managers", "manager3-after-panic.tar.gz"),
    ];
    for (scenario, capture) in captures {
        let p = common::scenario(scenario).join(capture);
        let key = || common::unlock_key(scenario).map(|k| UnlockKey::parse(&k).unwrap());
        let full_opts = Options { unlock_key: key(), detail: Detail::Check, ..Default::default() };
        let (a, access) = verify::load_tolerant(&p, &full_opts).unwrap();
        let tasks = a.state.tasks().count();
        let full = verify::verify_loaded(a, access, None).unwrap();
        let projected = verify::verify(&p, &VerifyOptions { unlock_key: key(), ..Default::default() }).unwrap();
        assert_eq!(verify::json(&projected), verify::json(&full), "{scenario}/{capture}");
        if !capture.contains("after-panic") {
            assert!(tasks > 0, "{scenario}/{capture}: the store checks had tasks to look at");
        }
    }
    // A damaged log whose store has dangling references: same findings either way.
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    for s in corrupt::snapshots(&swarm) {
        std::fs::remove_file(s).unwrap();
    }
    let seg = corrupt::segments(&swarm).pop().unwrap();
    let recs = corrupt::records(&seg, true);
    let r = recs.iter().filter(|r| r.rtype == 2 && r.data.len() > 200).nth(5).unwrap();
    corrupt::flip_bit(&seg, r.end - 40, 2);
    let (a, access) = verify::load_tolerant(&swarm, &Options { detail: Detail::Check, ..Default::default() }).unwrap();
    let full = verify::verify_loaded(a, access, None).unwrap();
    let projected = verify::verify(&swarm, &VerifyOptions::default()).unwrap();
    assert!(!full.ok && !full.findings.is_empty());
    assert_eq!(verify::json(&projected), verify::json(&full));
}
