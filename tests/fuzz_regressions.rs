//! Replays every input committed under `fuzz/regressions/<target>/` (crashers found by
//! `cargo fuzz`, minimized) through the same function the fuzz target runs, so a fixed crash
//! stays fixed in ordinary `cargo test`. Also runs each target over bytes of the real captures and
//! their truncations, which keeps the harness itself honest.

#[allow(dead_code)]
#[path = "../fuzz/harness.rs"]
mod harness;

mod common;

use std::path::Path;

#[test]
fn committed_crashers_replay_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut n = 0;
    for (name, f) in harness::TARGETS {
        let dir = root.join(name);
        assert!(dir.is_dir(), "{} missing", dir.display());
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
        files.sort();
        for p in files {
            if p.file_name().unwrap().to_string_lossy().starts_with('.') {
                continue;
            }
            let data = std::fs::read(&p).unwrap();
            f(&data);
            n += 1;
        }
    }
    eprintln!("replayed {n} committed fuzz inputs");
}

#[test]
fn targets_survive_real_bytes_and_their_truncations() {
    let (_d, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let seg = std::fs::read(swarm.join("raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal")).unwrap();
    let used = seg.iter().rposition(|&b| b != 0).unwrap() + 64;
    let seg = &seg[..used];
    let snaps: Vec<_> = std::fs::read_dir(swarm.join("raft/snap-v3-encrypted")).unwrap().flatten().collect();
    let snap = std::fs::read(snaps[0].path()).unwrap();
    let key = std::fs::read(swarm.join("certificates/swarm-node.key")).unwrap();
    let crt = std::fs::read(swarm.join("certificates/swarm-node.crt")).unwrap();
    let mut with_flag = vec![1u8];
    with_flag.extend_from_slice(seg);
    harness::scan_segment(&with_flag);
    let mut split = vec![90u8, 128];
    split.extend_from_slice(seg);
    harness::assemble(&split);
    harness::read_snap(&snap);
    harness::decode_payload(&snap);
    harness::parse_node_key(&key);
    harness::parse_node_key(&crt);
    for cut in (0..seg.len()).step_by(seg.len() / 97 + 1) {
        harness::scan_segment(&with_flag[..cut]);
        harness::assemble(&split[..cut.min(split.len())]);
    }
    for cut in (0..snap.len()).step_by(snap.len() / 61 + 1) {
        harness::read_snap(&snap[..cut]);
        harness::decode_payload(&snap[..cut]);
    }
    for cut in 0..key.len() {
        harness::parse_node_key(&key[..cut]);
    }
    // The tarball, key-file and unlock-key targets: a small real backup (keys, state, the
    // start of the WAL), plain and gzipped, and cut short; the key file; a real unlock key.
    let mut tar = tar::Builder::new(Vec::new());
    for rel in ["certificates/swarm-node.key", "certificates/swarm-node.crt", "state.json"] {
        tar.append_path_with_name(swarm.join(rel), format!("swarm/{rel}")).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(4096);
    h.set_mode(0o600);
    h.set_cksum();
    tar.append_data(&mut h, "swarm/raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal", &seg[..4096]).unwrap();
    let tarball = tar.into_inner().unwrap();
    for flag in [0u8, 1] {
        let mut input = vec![flag];
        input.extend_from_slice(&tarball);
        for cut in (0..input.len()).step_by(input.len() / 23 + 1).chain([input.len()]) {
            harness::tarball(&input[..cut]);
        }
    }
    let mut kf = vec![0u8];
    kf.extend_from_slice(&key);
    harness::key_file(&kf);
    let unlock = common::unlock_key("autolock").unwrap();
    harness::unlock_key(unlock.as_bytes());
    for cut in 0..unlock.len() {
        harness::unlock_key(&unlock.as_bytes()[..cut]);
    }
}
