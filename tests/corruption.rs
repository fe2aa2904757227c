//! The corruption matrix: real captures damaged by named mutators (tests/common/corrupt.rs),
//! checked through the library and through the binary. For each case: the finding code, its
//! file and offset or index, the consequence (what Docker does), and that nothing panics.
//! Indexes and offsets are taken from a clean analysis of the unmutated capture, never hardcoded.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;

use serde_json::Value;
use std::path::{Path, PathBuf};
use swarmsift::analyses::verify::{self, VFinding, Verification, VerifyOptions};
use swarmsift::error::Severity;
use swarmsift::replay::analysis::{Analysis, Options};

const CHURN: &str = "fixtures/churn/swarm.tar.gz";
const AUTOLOCK: &str = "fixtures/autolock/swarm.tar.gz";
const BIGWAL: &str = "fixtures/big-wal/swarm.tar.gz";

fn unpack(t: &str) -> (tempfile::TempDir, PathBuf) {
    common::unpack(Path::new(env!("CARGO_MANIFEST_DIR")).join(t).as_path())
}

/// Facts of the clean capture.
struct Clean {
    seg: PathBuf,
    /// (index, segment number, frame offset) of every live entry.
    entries: Vec<(u64, usize, u64)>,
    commit: u64,
    last: u64,
    newest_snapshot: u64,
    markers: Vec<(u64, u64)>,
}

impl Clean {
    fn of(swarm: &Path) -> Clean {
        let a = Analysis::load(swarm, &Options::default()).expect("clean capture loads");
        let segs = corrupt::segments(swarm);
        Clean {
            seg: segs.last().unwrap().clone(),
            entries: a.wal.entries.iter().map(|e| (e.index, e.seg, e.offset)).collect(),
            commit: a.wal.commit(),
            last: a.wal.last_index().unwrap(),
            newest_snapshot: a.snapshots.iter().map(|s| s.index).max().unwrap_or(0),
            markers: a.wal.markers.iter().map(|m| (m.index, m.offset)).collect(),
        }
    }
    fn offset_of(&self, index: u64) -> u64 {
        self.entries.iter().find(|e| e.0 == index).unwrap().2
    }
}

fn lib(swarm: &Path) -> Verification {
    verify::verify(swarm, &VerifyOptions::default()).unwrap_or_else(|e| panic!("verify {}: {e}", swarm.display()))
}

/// Whether `main.rs` has the `verify` subcommand yet (it is wired separately from the library).
fn cli_wired() -> bool {
    static W: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *W.get_or_init(|| {
        let (code, out, _) = common::run(&["verify", "--help"], &[]);
        let w = code == 0 && out.contains("Docker");
        if !w {
            eprintln!("NOTE: the binary has no `verify` subcommand yet: binary checks skipped");
        }
        w
    })
}

fn bin(swarm: &Path) -> (i32, Value) {
    let (code, out, err) = common::run(&["verify", swarm.to_str().unwrap(), "--format", "json"], &[]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}\n{err}"));
    (code, v)
}

fn find<'a>(v: &'a Verification, code: &str) -> &'a VFinding {
    v.findings
        .iter()
        .find(|f| f.code.as_str() == code)
        .unwrap_or_else(|| panic!("no {code} finding; got:\n{}", swarmsift::render::verify::text(v)))
}

/// Library and binary agree on the codes and the exit status.
fn agree(v: &Verification, swarm: &Path) {
    if !cli_wired() {
        return;
    }
    let (code, j) = bin(swarm);
    assert_eq!(code, if v.ok { 0 } else { 1 }, "{}", swarmsift::render::verify::text(v));
    assert_eq!(j["ok"], v.ok);
    let codes: Vec<&str> = j["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    let lib_codes: Vec<&str> = v.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, lib_codes);
    for f in j["findings"].as_array().unwrap() {
        for k in ["code", "severity", "file", "offset", "index", "term", "message", "consequence"] {
            assert!(f.get(k).is_some(), "finding without {k}: {f}");
        }
    }
}

#[test]
fn clean_captures_verify_ok() {
    for t in [CHURN, BIGWAL, "fixtures/three-managers/manager1.tar.gz", "fixtures/three-managers/manager2.tar.gz"] {
        let (_d, swarm) = unpack(t);
        let v = lib(&swarm);
        assert!(v.ok, "{t}: {}", swarmsift::render::verify::text(&v));
        assert!(v.docker.starts() && v.docker.repair.is_none(), "{t}: {}", swarmsift::render::verify::text(&v));
        assert!(v.verdict.starts_with("OK: Docker would start normally"), "{}", v.verdict);
        agree(&v, &swarm);
        // The tarball itself is a backup.
        let vt = verify::verify(Path::new(t), &VerifyOptions::default()).unwrap();
        assert!(vt.verdict.starts_with("BACKUP OK"), "{}", vt.verdict);
    }
}

/// The Docker 29 captures, FIPS mode included, verify like the 20.10 ones: with their unlock
/// key every payload after the DEK rotation decrypts and Docker would start normally.
#[test]
fn docker_29_captures_verify_ok() {
    for (scenario, capture) in [
        ("modern-autolock", "swarm.tar.gz"),
        ("modern-fips", "swarm.tar.gz"),
        ("modern-three-managers", "manager2.tar.gz"),
        ("modern-three-managers", "manager3.tar.gz"),
    ] {
        let t = format!("fixtures/{scenario}/{capture}");
        let unlock_key = common::unlock_key(scenario).map(|k| swarmsift::crypto::keys::UnlockKey::parse(&k).unwrap());
        let opts = VerifyOptions { unlock_key, ..Default::default() };
        let v = verify::verify(Path::new(&t), &opts).unwrap();
        assert!(v.ok, "{t}: {}", swarmsift::render::verify::text(&v));
        assert!(v.verdict.starts_with("BACKUP OK: Docker would start normally"), "{t}: {}", v.verdict);
        assert!(v.findings.iter().all(|f| f.severity == Severity::Info), "{t}: {:?}", v.findings);
    }
}

#[test]
fn flip_bit_in_an_entry_after_the_snapshot() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let k = c.newest_snapshot + 5;
    let off = c.offset_of(k);
    corrupt::flip_bit(&c.seg, off + 40, 3);
    let v = lib(&swarm);
    assert!(!v.ok);
    let f = v
        .findings
        .iter()
        .find(|f| f.offset == Some(off))
        .unwrap_or_else(|| panic!("{}", swarmsift::render::verify::text(&v)));
    assert_eq!(f.file.as_deref(), Some(corrupt::display(&c.seg).as_str()));
    match f.code.as_str() {
        "wal.crc_mismatch" => {
            assert!(f.consequence.contains("irreparable WAL error: walpb: crc mismatch"), "{}", f.consequence);
            assert_eq!(verify::outcome_word(&v.docker), "refuses");
            assert!(v.verdict.starts_with("DAMAGED: Docker would refuse to start"), "{}", v.verdict);
        }
        // etcd's torn-write rule can apply when a sector boundary leaves a chunk of zero padding.
        "wal.torn_write" => assert!(f.consequence.starts_with("repairs the tail"), "{}", f.consequence),
        other => panic!("unexpected {other}: {}", swarmsift::render::verify::text(&v)),
    }
    agree(&v, &swarm);
}

#[test]
fn flip_bit_in_an_old_entry_still_stops_docker() {
    // Docker reads every record of the segments it opens, also those its snapshot covers.
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let k = c.newest_snapshot / 2;
    let off = c.offset_of(k);
    corrupt::flip_bit(&c.seg, off + 30, 0);
    let v = lib(&swarm);
    let f = v
        .findings
        .iter()
        .find(|f| f.offset == Some(off))
        .unwrap_or_else(|| panic!("{}", swarmsift::render::verify::text(&v)));
    assert!(
        f.code.as_str() == "wal.crc_mismatch" || f.code.as_str() == "wal.torn_write",
        "{}",
        swarmsift::render::verify::text(&v)
    );
    if f.code.as_str() == "wal.crc_mismatch" {
        assert_eq!(f.severity, Severity::Error);
        assert!(f.consequence.starts_with("refuses to start"), "{}", f.consequence);
        // Entries after it are still read (the chain is re-seeded): the state is complete.
        assert_eq!(v.analysis.wal.last_index(), Some(c.last));
    }
    agree(&v, &swarm);
}

#[test]
fn zero_sector_in_the_middle_of_the_log() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let k = c.newest_snapshot - 30;
    let rec = corrupt::records(&c.seg, true).into_iter().find(|r| r.offset == c.offset_of(k)).unwrap();
    // A sector that starts inside this record's body.
    let target = (rec.offset + 8).div_ceil(512) * 512;
    let hit = corrupt::records(&c.seg, true).into_iter().find(|r| r.offset + 8 <= target && target < r.end);
    let zeroed = corrupt::zero_sector(&c.seg, target);
    let v = lib(&swarm);
    let Some(hit) = hit else {
        // The sector starts on a length field: etcd reads a zero length as the end of the log.
        find(&v, "wal.entries_after_end");
        return;
    };
    let f = find(&v, "wal.torn_write");
    assert_eq!(f.offset, Some(hit.offset), "sector {zeroed}: {}", swarmsift::render::verify::text(&v));
    assert_eq!(f.file.as_deref(), Some(corrupt::display(&c.seg).as_str()));
    assert!(f.consequence.starts_with("repairs the tail"), "{}", f.consequence);
    // Every entry from the damaged one to the end is lost, and they were committed.
    let first_lost = c.entries.iter().find(|e| e.2 >= hit.offset).unwrap().0;
    let lost = v.docker.repair.as_ref().unwrap();
    assert_eq!(lost.lost.first(), Some(&first_lost));
    assert_eq!(lost.lost.last(), Some(&c.last));
    assert!(f.message.contains(&format!("committed entries {first_lost}-{}", c.commit.min(c.last))), "{}", f.message);
    assert!(f.consequence.contains(&format!("indexes {first_lost}-{}", c.last)), "{}", f.consequence);
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(verify::outcome_word(&v.docker), "repairs");
    agree(&v, &swarm);
}

#[test]
fn truncate_at_a_record_boundary() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let k = c.last - 5;
    corrupt::truncate_at(&c.seg, c.offset_of(k));
    let v = lib(&swarm);
    let f = find(&v, "wal.segment_cut_short");
    assert_eq!(f.offset, Some(c.offset_of(k)));
    assert_eq!(f.file.as_deref(), Some(corrupt::display(&c.seg).as_str()));
    assert!(f.consequence.contains(&format!("index {}", k - 1)), "{}", f.consequence);
    assert!(v.docker.starts());
    agree(&v, &swarm);
}

#[test]
fn truncate_inside_a_record() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let k = c.last - 5;
    let off = c.offset_of(k);
    corrupt::truncate_at(&c.seg, off + 13);
    let v = lib(&swarm);
    // Shorter than etcd's preallocation and cut inside a record: a copy cut short, damage.
    let f = find(&v, "wal.copy_truncated");
    assert_eq!(f.offset, Some(off));
    assert_eq!(f.severity, Severity::Error);
    assert!(!v.ok);
    assert!(f.consequence.starts_with("repairs the tail"), "{}", f.consequence);
    assert_eq!(v.docker.repair.as_ref().unwrap().offset, off);
    agree(&v, &swarm);
}

#[test]
fn absurd_length_field_is_refused_without_allocating() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let k = c.newest_snapshot + 2;
    let off = c.offset_of(k);
    corrupt::set_len_field(&c.seg, off, 1u64 << 55);
    let v = lib(&swarm);
    let f = v
        .findings
        .iter()
        .find(|f| f.offset == Some(off))
        .unwrap_or_else(|| panic!("{}", swarmsift::render::verify::text(&v)));
    assert_eq!(f.code.as_str(), "wal.torn_write");
    assert_eq!(f.severity, Severity::Error);
    // Docker 20.10 (etcd 3.3.12: no limit) allocates 2^55 bytes: Go's makeslice panics, as the real
    // engine does (tests/golden/docker-outcomes.json); etcd 3.5.16+ would repair instead.
    assert_eq!(f.consequence, "crashes at startup: panic: runtime error: makeslice: len out of range");
    assert_eq!(verify::outcome_word(&v.docker), "panics");
    let v28 =
        verify::verify(&swarm, &VerifyOptions { engine_version: Some("28.0".into()), ..Default::default() }).unwrap();
    assert_eq!(verify::outcome_word(&v28.docker), "repairs", "{}", swarmsift::render::verify::text(&v28));
    let v24 =
        verify::verify(&swarm, &VerifyOptions { engine_version: Some("24.0".into()), ..Default::default() }).unwrap();
    assert!(
        v24.docker.stop.as_ref().unwrap().message.contains("entryLimit"),
        "{}",
        swarmsift::render::verify::text(&v24)
    );
    agree(&v, &swarm);
    // Memory stays bounded: run the binary under a 1 GiB address-space limit (the segment alone
    // is 64 MB; a length of 2^55 must not turn into an allocation).
    let exe = assert_cmd::cargo::cargo_bin("swarmsift");
    let cmd = if cli_wired() { "verify" } else { "info" };
    for len in [1u64 << 55, u64::MAX, (1u64 << 56) - 1, 0x8700_0000_0000_0000 | 0x7fff_ffff] {
        corrupt::set_len_field(&c.seg, off, len);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -v 1048576; exec '{}' {cmd} '{}' --no-mmap", exe.display(), swarm.display()))
            .output()
            .unwrap();
        let code = out.status.code();
        assert!(matches!(code, Some(0) | Some(1)), "len {len:#x}: {code:?} {}", String::from_utf8_lossy(&out.stderr));
        if cmd == "verify" {
            assert_eq!(code, Some(1));
        }
    }
}

#[test]
fn zero_length_field_ends_the_log_early() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let k = c.last - 10;
    let off = c.offset_of(k);
    corrupt::set_len_field(&c.seg, off, 0);
    let v = lib(&swarm);
    let f = find(&v, "wal.entries_after_end");
    assert_eq!(f.offset, Some(off));
    assert_eq!(f.severity, Severity::Error);
    // The entry whose length field is gone is lost too: etcd never reads past the zero.
    assert!(f.message.contains(&format!("committed entries {k}-{}", c.commit.min(c.last))), "{}", f.message);
    assert!(f.consequence.starts_with("starts normally but without entries"), "{}", f.consequence);
    find(&v, "wal.data_after_zero_tail");
    agree(&v, &swarm);
}

#[test]
fn deleted_segment() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    corrupt::delete_segment(&c.seg);
    let v = lib(&swarm);
    let f = find(&v, "wal.missing");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.consequence.contains("new, empty raft log"), "{}", f.consequence);
    assert_eq!(verify::outcome_word(&v.docker), "new-raft-log");
    agree(&v, &swarm);
}

#[test]
fn deleted_newest_snapshot() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let snaps = corrupt::snapshots(&swarm);
    corrupt::delete_snapshot(snaps.last().unwrap());
    let v = lib(&swarm);
    let f = find(&v, "snap.marker_without_file");
    assert_eq!(f.index, Some(c.newest_snapshot));
    let marker_off = c.markers.iter().find(|m| m.0 == c.newest_snapshot).unwrap().1;
    assert_eq!(f.offset, Some(marker_off));
    assert_eq!(f.file.as_deref(), Some(corrupt::display(&c.seg).as_str()));
    assert!(v.ok, "{}", swarmsift::render::verify::text(&v));
    assert!(v.docker.starts());
    assert!(v.docker.snapshot_loaded.as_ref().unwrap().1 < c.newest_snapshot);
    agree(&v, &swarm);
}

#[test]
fn damaged_newest_snapshot_falls_back() {
    let (_d, swarm) = unpack(CHURN);
    let snaps = corrupt::snapshots(&swarm);
    let newest = snaps.last().unwrap();
    let len = std::fs::metadata(newest).unwrap().len();
    corrupt::flip_bit(newest, len / 2, 5);
    let v = lib(&swarm);
    let f = find(&v, "snap.crc_mismatch");
    assert_eq!(f.file.as_deref(), Some(corrupt::display(newest).as_str()));
    assert!(f.consequence.contains(".broken") && f.consequence.contains("loads the older"), "{}", f.consequence);
    assert!(v.docker.starts(), "{}", swarmsift::render::verify::text(&v));
    agree(&v, &swarm);
}

#[test]
fn stripped_dek_headers() {
    let (_d, swarm) = unpack(CHURN);
    corrupt::strip_dek_headers(&swarm);
    let v = lib(&swarm);
    let f = find(&v, "key.no_dek");
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.consequence.contains("no decryption key for record encrypted with SECRETBOX_SALSA20_POLY1305"),
        "{}",
        f.consequence
    );
    assert!(f.file.as_deref().unwrap().ends_with("certificates/swarm-node.key"));
    // Structure was still checked: no payload noise.
    assert!(!v.findings.iter().any(|f| f.code.as_str() == "entry.undecryptable"));
    agree(&v, &swarm);
}

#[test]
fn autolock_without_and_with_the_key() {
    let (_d, swarm) = unpack(AUTOLOCK);
    let v = lib(&swarm);
    assert!(v.ok, "{}", swarmsift::render::verify::text(&v));
    let f = find(&v, "key.locked");
    assert!(f.consequence.starts_with("starts locked"));
    assert_eq!(verify::outcome_word(&v.docker), "starts-locked");
    let key = common::unlock_key("autolock").unwrap();
    let opts = VerifyOptions {
        unlock_key: Some(swarmsift::crypto::keys::UnlockKey::parse(&key).unwrap()),
        ..Default::default()
    };
    let v = verify::verify(&swarm, &opts).unwrap();
    assert!(
        v.ok && v.findings.iter().all(|f| f.severity != Severity::Error),
        "{}",
        swarmsift::render::verify::text(&v)
    );
    assert_eq!(verify::outcome_word(&v.docker), "starts");
    if cli_wired() {
        let (code, out, _) = common::run(
            &["verify", swarm.to_str().unwrap(), "--format", "json"],
            &[("SWARMSIFT_UNLOCK_KEY", key.as_str())],
        );
        assert_eq!(code, 0, "{out}");
        // A wrong key cannot run (exit 2), it is not a finding.
        let (code, _, err) = common::run(
            &["verify", swarm.to_str().unwrap()],
            &[("SWARMSIFT_UNLOCK_KEY", "SWMKEY-1-o3itqtyXi+imq6ovI49sy4DepO1n8P36PHHzKumUqOU")],
        );
        assert_eq!(code, 2, "{err}");
    }
    let wrong =
        swarmsift::crypto::keys::UnlockKey::parse("SWMKEY-1-o3itqtyXi+imq6ovI49sy4DepO1n8P36PHHzKumUqOU").unwrap();
    assert!(verify::verify(&swarm, &VerifyOptions { unlock_key: Some(wrong), ..Default::default() }).is_err());
    // A flipped bit is still found without the key.
    let c = corrupt::segments(&swarm);
    let recs = corrupt::records(c.last().unwrap(), true);
    let r = &recs[recs.len() / 2];
    corrupt::flip_bit(c.last().unwrap(), r.offset + 12, 1);
    let v = lib(&swarm);
    assert!(v.findings.iter().any(|f| f.offset == Some(r.offset)), "{}", swarmsift::render::verify::text(&v));
    assert!(!v.ok);
}

#[test]
fn big_wal_swapped_segments() {
    let (_d, swarm) = unpack(BIGWAL);
    let segs = corrupt::segments(&swarm);
    assert!(segs.len() >= 2);
    corrupt::swap_segments(&segs[0], &segs[1]);
    let v = lib(&swarm);
    assert!(!v.ok);
    // etcd 3.3.12 has no bounds check before `append(ents[:gap], e)`: Go panics, as the real
    // 20.10.24 engine does; etcd 3.5 refuses with `wal: slice bounds out of range`.
    assert_eq!(verify::outcome_word(&v.docker), "panics", "{}", swarmsift::render::verify::text(&v));
    assert!(
        v.docker.stop.as_ref().unwrap().message.starts_with("panic: runtime error: slice bounds out of range [:"),
        "{}",
        swarmsift::render::verify::text(&v)
    );
    let v23 =
        verify::verify(&swarm, &VerifyOptions { engine_version: Some("23.0".into()), ..Default::default() }).unwrap();
    assert_eq!(verify::outcome_word(&v23.docker), "refuses", "{}", swarmsift::render::verify::text(&v23));
    assert!(v23.docker.stop.as_ref().unwrap().message.contains("wal: slice bounds out of range"));
    // The first segment now starts mid-chain and the old first segment re-seeds at 0.
    assert!(
        v.findings
            .iter()
            .any(|f| f.code.as_str() == "wal.crc_chain_break" || f.code.as_str() == "wal.entries_overwritten")
    );
    agree(&v, &swarm);
}

#[test]
fn big_wal_deleted_first_segment() {
    let (_d, swarm) = unpack(BIGWAL);
    let segs = corrupt::segments(&swarm);
    corrupt::delete_segment(&segs[0]);
    let v = lib(&swarm);
    let f = find(&v, "wal.head_missing");
    assert!(f.consequence.contains("failed to open WAL: wal: file not found"), "{}", f.consequence);
    assert_eq!(verify::outcome_word(&v.docker), "refuses");
    agree(&v, &swarm);
}

#[test]
fn big_wal_deleted_last_segment() {
    let (_d, swarm) = unpack(BIGWAL);
    let segs = corrupt::segments(&swarm);
    let clean = Clean::of(&swarm);
    corrupt::delete_segment(segs.last().unwrap());
    let v = lib(&swarm);
    let f = find(&v, "wal.tail_segment_missing");
    assert_eq!(f.file.as_deref(), Some(corrupt::display(&segs[0]).as_str()));
    assert_eq!(f.severity, Severity::Error);
    let last0 = clean.entries.iter().filter(|e| e.1 == 0).map(|e| e.0).max().unwrap();
    assert!(f.message.contains(&format!("after index {last0}")), "{}", f.message);
    agree(&v, &swarm);
}

#[test]
fn three_managers_torn_tail_on_a_follower() {
    // A crash while writing the last records: the sectors from some point on never reached the
    // disk (etcd writes whole 512-byte sectors, so they read as zeros).
    let (_d, swarm) = unpack("fixtures/three-managers/manager2.tar.gz");
    let c = Clean::of(&swarm);
    let recs = corrupt::records(&c.seg, true);
    // The last entry record with a sector boundary inside its body (past its first 64 bytes).
    let (rec, boundary) = recs
        .iter()
        .rev()
        .filter(|r| r.rtype == swarmsift::format::wal::rtype::ENTRY)
        .find_map(|r| {
            let b = (r.offset + 72).div_ceil(512) * 512;
            (b < r.end).then_some((r.clone(), b))
        })
        .unwrap();
    for s in 0..8 {
        corrupt::zero_sector(&c.seg, boundary + s * 512);
    }
    let v = lib(&swarm);
    let f = v
        .findings
        .iter()
        .find(|f| f.offset == Some(rec.offset))
        .unwrap_or_else(|| panic!("{}", swarmsift::render::verify::text(&v)));
    assert_eq!(f.code.as_str(), "wal.torn_write");
    assert!(f.consequence.starts_with("repairs the tail"), "{}", f.consequence);
    // The torn entry is known from its first bytes; entries whose frames were zeroed entirely
    // cannot be counted from this dir.
    let lost: Vec<u64> = c.entries.iter().filter(|e| e.2 >= rec.offset).map(|e| e.0).collect();
    let got = &v.docker.repair.as_ref().unwrap().lost;
    assert_eq!(got.first(), lost.first(), "{}", swarmsift::render::verify::text(&v));
    assert!(got.iter().all(|i| lost.contains(i)));
    agree(&v, &swarm);
}

/// Every sampled record boundary: truncate at it and inside the record after it, set an absurd
/// length there, flip bits: never a panic, library and binary agree, and the finding sits at the
/// damaged record.
#[test]
fn sweep_record_boundaries() {
    let (_d, swarm) = unpack(CHURN);
    let c = Clean::of(&swarm);
    let pristine = std::fs::read(&c.seg).unwrap();
    let recs = corrupt::records(&c.seg, true);
    let step = (recs.len() / 12).max(1);
    for (n, r) in recs.iter().enumerate().step_by(step).skip(1) {
        for case in 0..4 {
            std::fs::write(&c.seg, &pristine).unwrap();
            match case {
                0 => corrupt::truncate_at(&c.seg, r.offset),
                1 => corrupt::truncate_at(&c.seg, r.offset + 8 + (r.end - r.offset - 8) / 2),
                2 => corrupt::set_len_field(&c.seg, r.offset, 0x00ff_ffff_ffff_ff00),
                _ => corrupt::flip_bit(&c.seg, r.offset + 8 + (r.end - r.offset - 8) / 3, (n % 8) as u8),
            }
            let v = lib(&swarm);
            if case > 0 {
                assert!(
                    v.findings.iter().any(|f| f.offset == Some(r.offset) && f.severity >= Severity::Warning),
                    "record {n} case {case}: {}",
                    swarmsift::render::verify::text(&v)
                );
            }
            if n % (step * 4) == 0 {
                agree(&v, &swarm);
            }
        }
    }
}
