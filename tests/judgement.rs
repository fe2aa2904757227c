//! Forensic judgement (issue 11): no verdict that contradicts a finding, no damage that passes in
//! silence, no advice across clusters. Each test damages a real capture with a named mutator
//! (tests/common/corrupt.rs), runs the binary as a user would, and asserts the verdict, the exit
//! code and where the finding points (file, offset or index). Offsets and indexes come from a
//! clean analysis of the capture, never hardcoded.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;

use serde_json::Value;
use std::path::{Path, PathBuf};
use swarmsift::replay::analysis::{Analysis, Options};

const CHURN: &str = "fixtures/churn/swarm.tar.gz";
const MANAGER1: &str = "fixtures/three-managers/manager1.tar.gz";
const MANAGER2: &str = "fixtures/three-managers/manager2.tar.gz";

fn fixture(t: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(t).display().to_string()
}

fn unpack(t: &str) -> (tempfile::TempDir, PathBuf) {
    common::unpack(Path::new(&fixture(t)))
}

fn run(args: &[&str]) -> (i32, String, String) {
    common::run(args, &[])
}

fn json(args: &[&str]) -> (i32, Value) {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let (code, out, err) = run(&a);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}\n{err}"));
    (code, v)
}

/// (frame offset, entry bytes) of a live entry of the clean capture.
fn entry_at(swarm: &Path, index: u64) -> (u64, usize) {
    let a = Analysis::load(swarm, &Options::default()).unwrap();
    let e = a.wal.entries.iter().find(|e| e.index == index).unwrap();
    (e.offset, e.data.len())
}

/// The headline agrees with the findings: when a finding says Docker does not start, the verdict
/// says so too, never "start normally".
fn headline_agrees(v: &Value) {
    let verdict = v["verdict"].as_str().unwrap();
    let blocking = v["findings"].as_array().unwrap().iter().find(|f| {
        let c = f["consequence"].as_str().unwrap_or("");
        f["severity"] == "error" && (c.starts_with("refuses to start") || c.starts_with("crashes at startup"))
    });
    if let Some(f) = blocking {
        assert!(!verdict.contains("start normally"), "verdict {verdict:?} next to {f}");
        assert!(verdict.contains("refuse") || verdict.contains("crash"), "verdict {verdict:?} next to {f}");
        assert!(matches!(v["docker"]["outcome"].as_str(), Some("refuses" | "panics")), "{}", v["docker"]);
    }
    let undecryptable = v["findings"].as_array().unwrap().iter().any(|f| {
        matches!(f["code"].as_str(), Some("entry.undecryptable" | "entry.damaged_in_snapshot" | "key.no_match"))
    });
    if undecryptable {
        assert!(!verdict.contains("every entry decrypts"), "{verdict}");
    }
}

fn finding<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code}: {:#}", v["findings"]))
}

// 1. Managers of different clusters.

#[test]
fn managers_of_two_clusters_are_kept_apart_and_get_no_advice() {
    let (code, out, _) = run(&["managers", &fixture(CHURN), &fixture(MANAGER1)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DIFFERENT CLUSTERS (2)"), "{out}");
    assert!(!out.contains("Recover from"), "{out}");
    assert!(!out.contains("agree on every index"), "{out}");
    // The evidence: both cluster IDs (the certificates' O=) and the first common entry.
    for id in ["ler2v8qxqg9gp7eeubob7ixi6", "c2x2mlh5csyy3iarx24vjnhue"] {
        assert!(out.contains(id), "{id}: {out}");
    }
    assert!(out.contains("index 1 term 1 holds different entries"), "{out}");
    let (code, j) = json(&["managers", &fixture(CHURN), &fixture(MANAGER1)]);
    assert_eq!(code, 1);
    assert!(j["recommendation"].is_null(), "{}", j["recommendation"]);
    assert_eq!(j["clusters"].as_array().unwrap().len(), 2);
    assert!(j["losses"].as_array().unwrap().is_empty());
    // Managers of one cluster are still compared and advised.
    let (code, j) = json(&["managers", &fixture(MANAGER1), &fixture(MANAGER2)]);
    assert_eq!(code, 0, "{j:#}");
    assert!(j["clusters"].as_array().unwrap().is_empty());
    assert_eq!(j["recommendation"]["manager"], "manager2");
}

#[test]
fn archive_of_two_clusters_merges_only_one() {
    let (code, out, _) = run(&["archive", &fixture(MANAGER1), &fixture(CHURN)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("archive.different_clusters"), "{out}");
    assert!(!out.contains("archive.entry_conflict"), "{out}");
    assert!(!out.contains("the first is used"), "{out}");
    assert!(out.contains("not merged: another cluster"), "{out}");
    // The merged history is churn's alone: its state at its own end.
    let (_, a, _) = run(&["state", &fixture(CHURN), "--format", "json"]);
    let (_, b, _) = run(&["archive", &fixture(MANAGER1), &fixture(CHURN), "--state", "last", "--format", "json"]);
    let (a, b): (Value, Value) = (serde_json::from_str(&a).unwrap(), serde_json::from_str(&b).unwrap());
    let services = |v: &Value| -> Vec<String> {
        let s = v.get("services").or_else(|| v["state"].get("services")).cloned().unwrap_or_default();
        s.as_array().unwrap().iter().map(|x| x["ID"].as_str().unwrap_or("").to_string()).collect()
    };
    assert_eq!(services(&a), services(&b));
}

// 2. A bare dir of encrypted old snapshots.

#[test]
fn bare_dir_of_encrypted_snapshots_is_a_snapshot_archive_not_corrupt() {
    let (d, swarm) = unpack(CHURN);
    let bare = d.path().join("kept-snapshots");
    std::fs::create_dir(&bare).unwrap();
    for s in corrupt::snapshots(&swarm) {
        std::fs::copy(&s, bare.join(s.file_name().unwrap())).unwrap();
    }
    let b = bare.to_str().unwrap();
    // Without the keys its payloads cannot be checked: exit 2, "could not check", as `info`
    // says (never "plaintext" or "corrupt"); --no-decrypt judges the structure.
    let (code, out, err) = run(&["verify", b]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("could not check") && !err.contains("plaintext"), "{err}");
    let (code, v) = json(&["verify", b, "--no-decrypt"]);
    assert_eq!(code, 0, "{v:#}");
    let verdict = v["verdict"].as_str().unwrap();
    assert!(verdict.contains("snapshot archive"), "{verdict}");
    assert!(!verdict.contains("plaintext"), "{verdict}");
    let text = v.to_string();
    assert!(!text.contains("not an api.Snapshot"), "{text}");
    assert!(!text.contains("refuses to start"), "{text}");
    headline_agrees(&v);
    let (code, out, _) = run(&["info", b, "--no-decrypt"]);
    assert!(out.contains("encrypted") && !out.contains("plaintext"), "{code} {out}");
    // Commands that need the payloads say what it is and what to do.
    let (code, _, err) = run(&["state", b]);
    assert_eq!(code, 2);
    assert!(err.contains("bare dir of encrypted snapshots"), "{err}");
    // With the keys of its swarm dir, through `archive`, no sentinel leaks into any output.
    let s = swarm.to_str().unwrap();
    for args in [
        vec!["verify", b],
        vec!["info", b, "--no-decrypt"],
        vec!["snapshots", b, "--no-decrypt"],
        vec!["state", b, "--no-decrypt"],
        vec!["timeline", b, "--no-decrypt"],
        vec!["archive", b, s],
        vec!["archive", b, s, "--state", "last"],
        vec!["archive", b, s, "--timeline"],
    ] {
        let (_, out, err) = run(&args);
        assert!(!out.contains("18446744073709551615") && !err.contains("18446744073709551615"), "{args:?}: {out}{err}");
    }
}

// 3. A damaged entry never changes other commands' output in silence.

#[test]
fn overwritten_bytes_in_an_entry_show_in_state_at_and_timeline() {
    let (_d, clean) = unpack(CHURN);
    let (_e, swarm) = unpack(CHURN);
    let (off, len) = entry_at(&swarm, 150);
    corrupt::overwrite_bytes(&corrupt::segments(&swarm)[0], off + 8 + len as u64 / 2, 32);
    let s = swarm.to_str().unwrap();
    // State at 155 (replayed from the snapshot at 120 through the damage): exit 1, a note.
    let (code, out, _) = run(&["state", s, "--at", "155"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("replay.entry_unreadable") && out.contains("index 150"), "{out}");
    assert!(out.contains("+ 34 entries"), "the unreadable entry is not counted as applied: {out}");
    // The state at 160 comes from the snapshot at 160: not affected, exit 0.
    let (code, out, _) = run(&["state", s, "--at", "160"]);
    assert_eq!(code, 0, "{out}");
    // Timeline: every event before the damage is still there, the damage is an event, and the
    // state is taken again from the snapshot after it.
    let (code, t) = json(&["timeline", s]);
    assert_eq!(code, 1);
    let (code0, t0) = json(&["timeline", clean.to_str().unwrap()]);
    assert_eq!(code0, 0);
    let events = |v: &Value, below: u64| -> Vec<String> {
        let list = v.get("events").unwrap_or(v).as_array().unwrap().clone();
        list.iter()
            .filter(|e| e["index"].as_u64().unwrap_or(0) < below && e["class"] != "damage")
            .map(|e| format!("{} {} {}", e["index"], e["class"], e["text"]))
            .collect()
    };
    let before = events(&t0, 150);
    assert!(before.iter().any(|e| e.contains("created")), "{before:?}");
    assert_eq!(events(&t, 150), before);
    let list = t.get("events").unwrap_or(&t).as_array().unwrap().clone();
    let dmg = list.iter().find(|e| e["class"] == "damage").expect("a damage event");
    assert_eq!(dmg["index"], 150);
    assert!(dmg["text"].as_str().unwrap().contains("CRC"), "{dmg}");
    assert!(list.iter().any(|e| e["index"] == 160 && e["text"].as_str().unwrap().contains("state taken again")));
}

#[test]
fn final_state_with_an_unreadable_entry_exits_1() {
    let (_d, swarm) = unpack(CHURN);
    let (off, len) = entry_at(&swarm, 210);
    corrupt::overwrite_bytes(&corrupt::segments(&swarm)[0], off + 8 + len as u64 / 2, 32);
    let (code, out, _) = run(&["state", swarm.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("replay.entry_unreadable") && out.contains("index 210"), "{out}");
    let (code, j) = json(&["state", swarm.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(j["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("index 210")), "{}", j["notes"]);
    // The clean capture: exit 0.
    let (_e, clean) = unpack(CHURN);
    assert_eq!(run(&["state", clean.to_str().unwrap()]).0, 0);
}

// 4. Verdicts derived from the findings.

#[test]
fn expired_certificate_is_never_a_normal_start() {
    let (_d, swarm) = unpack(CHURN);
    corrupt::expire_certificate(&swarm);
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = finding(&v, "key.cert_expired");
    assert!(f["file"].as_str().unwrap().ends_with("certificates/swarm-node.crt"), "{f}");
    let verdict = v["verdict"].as_str().unwrap();
    assert!(verdict.starts_with("DAMAGED: Docker would refuse to start the swarm component"), "{verdict}");
    assert_eq!(v["docker"]["outcome"], "refuses");
    headline_agrees(&v);
    // `managers` does not call it startable, nor recommend it.
    let (_, m) = json(&["managers", swarm.to_str().unwrap()]);
    assert_eq!(m["managers"][0]["docker"], "refuses", "{m:#}");
    assert!(m["recommendation"].is_null(), "{}", m["recommendation"]);
}

#[test]
fn certificate_of_another_node_beside_the_key_refuses_to_start() {
    let (_d, swarm) = unpack(MANAGER1);
    let (_e, other) = unpack(MANAGER2);
    let s = swarm.to_str().unwrap();
    // The clean capture's pair matches, and says it was checked.
    let (code, v) = json(&["info", s]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["keys"]["cert_matches_key"], true, "{:#}", v["keys"]);
    corrupt::cert_of_another_node(&swarm, &other);
    for cmd in ["verify", "info"] {
        let (code, v) = json(&[cmd, s]);
        assert_eq!(code, 1, "{cmd}: {v:#}");
        let f = finding(&v, "key.cert_key_mismatch");
        assert_eq!(f["severity"], "error", "{f}");
        assert!(f["file"].as_str().unwrap().ends_with("certificates/swarm-node.crt"), "{f}");
        if cmd == "verify" {
            assert!(f["consequence"].as_str().unwrap().starts_with("refuses to start"), "{f}");
            let verdict = v["verdict"].as_str().unwrap();
            assert!(verdict.starts_with("DAMAGED: Docker would refuse to start"), "{verdict}");
            assert!(verdict.contains("private key does not match public key"), "{verdict}");
            assert_eq!(v["docker"]["outcome"], "refuses");
            headline_agrees(&v);
        }
    }
}

#[test]
fn certificate_against_an_encrypted_key_is_compared_only_with_the_unlock_key() {
    let (_d, swarm) = unpack("fixtures/autolock/swarm.tar.gz");
    let (_e, other) = unpack(CHURN);
    let s = swarm.to_str().unwrap();
    let key = common::unlock_key("autolock").unwrap();
    let t = tempfile::tempdir().unwrap();
    let kf = t.path().join("unlock");
    std::fs::write(&kf, &key).unwrap();
    let kf = kf.to_str().unwrap();
    let (code, v) = json(&["info", s, "--unlock-key-file", kf]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["keys"]["cert_matches_key"], true, "{:#}", v["keys"]);
    corrupt::cert_of_another_node(&swarm, &other);
    // Without the unlock key the KEK-encrypted key cannot be read: not checked, no finding
    // (info refuses without the key, exit 2; --no-decrypt shows the structure).
    let (code, _, _) = run(&["info", s]);
    assert_eq!(code, 2);
    let (_, v) = json(&["info", s, "--no-decrypt"]);
    assert!(v["keys"]["cert_matches_key"].is_null(), "{:#}", v["keys"]);
    assert!(!v["findings"].as_array().unwrap().iter().any(|f| f["code"] == "key.cert_key_mismatch"), "{v:#}");
    // With it, the key is decrypted and the mismatch found.
    let (code, v) = json(&["verify", s, "--unlock-key-file", kf]);
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "key.cert_key_mismatch");
    assert!(f["file"].as_str().unwrap().ends_with("certificates/swarm-node.crt"), "{f}");
    headline_agrees(&v);
}

#[test]
fn raft_dir_copied_without_its_key_is_not_checked_by_verify_nor_info() {
    let (d, swarm) = unpack(MANAGER1);
    let raft = d.path().join("copied").join("raft");
    std::fs::create_dir_all(raft.join("wal-v3-encrypted")).unwrap();
    std::fs::create_dir_all(raft.join("snap-v3-encrypted")).unwrap();
    for s in corrupt::segments(&swarm) {
        std::fs::copy(&s, raft.join("wal-v3-encrypted").join(s.file_name().unwrap())).unwrap();
    }
    for s in corrupt::snapshots(&swarm) {
        std::fs::copy(&s, raft.join("snap-v3-encrypted").join(s.file_name().unwrap())).unwrap();
    }
    let r = raft.to_str().unwrap();
    // Both refuse alike: exit 2, "could not check", and say to give the keys.
    for cmd in ["verify", "info"] {
        let (code, out, err) = run(&[cmd, r]);
        assert_eq!(code, 2, "{cmd}: {out}{err}");
        assert!(out.is_empty(), "{cmd}: {out}");
        assert!(err.contains("could not check") && err.contains("give the keys"), "{cmd}: {err}");
    }
    // --no-decrypt: both check the structure and agree.
    let (vc, v) = json(&["verify", r, "--no-decrypt"]);
    let (ic, i) = json(&["info", r, "--no-decrypt"]);
    assert_eq!((vc, ic), (0, 0), "{v:#}\n{i:#}");
    assert!(v["verdict"].as_str().unwrap().contains("payloads not checked"), "{}", v["verdict"]);
}

#[test]
fn every_entry_decrypts_only_when_it_does() {
    // An entry after the snapshot that no key opens.
    let (_d, swarm) = unpack(CHURN);
    let (off, len) = entry_at(&swarm, 210);
    corrupt::overwrite_bytes(&corrupt::segments(&swarm)[0], off + 8 + len as u64 / 2, 32);
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(finding(&v, "entry.undecryptable")["index"], 210);
    assert!(v["verdict"].as_str().unwrap().contains("1 of 220 entries do not decrypt"), "{}", v["verdict"]);
    headline_agrees(&v);
    // A key file of another cluster's manager: no record opens at all.
    let (_e, swarm) = unpack(CHURN);
    let (_f, other) = unpack(MANAGER1);
    for f in ["swarm-node.key", "swarm-node.crt", "swarm-root-ca.crt"] {
        std::fs::copy(other.join("certificates").join(f), swarm.join("certificates").join(f)).unwrap();
    }
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 1);
    let f = finding(&v, "key.no_match");
    assert!(f["file"].as_str().unwrap().ends_with("certificates/swarm-node.key"), "{f}");
    assert!(v["verdict"].as_str().unwrap().contains("no entry decrypts with this input's key"), "{}", v["verdict"]);
    assert!(!v.to_string().contains("retired by a DEK rotation"), "{v:#}");
    headline_agrees(&v);
}

#[test]
fn missing_middle_segment_before_the_snapshots_segment_is_judged_as_docker_reads() {
    let (_d, swarm) = unpack(CHURN);
    let segs = corrupt::split_segment(&swarm, &[101, 181]);
    // The clean split reads as the one segment did.
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 0, "{v:#}");
    // Docker opens the WAL at the segment named 181 for its snapshot at 200: the one before it
    // is never opened.
    corrupt::delete_segment(&segs[1]);
    let (_, v) = json(&["verify", swarm.to_str().unwrap()]);
    headline_agrees(&v);
    assert_eq!(v["docker"]["outcome"], "starts", "{v:#}");
    let f = finding(&v, "wal.segment_sequence_gap");
    let c = f["consequence"].as_str().unwrap();
    assert!(!c.contains("file not found") && c.starts_with("starts normally"), "{c}");
    assert!(!f["message"].as_str().unwrap().contains("refuse"), "{f}");
    assert!(c.contains(segs[2].file_name().unwrap().to_str().unwrap()), "{c}");
}

// 5. A damaged record is damage, not a key rotation.

#[test]
fn crc_damaged_record_under_the_snapshot_is_not_a_dek_rotation() {
    let (_d, swarm) = unpack(CHURN);
    let (off, len) = entry_at(&swarm, 150);
    let seg = corrupt::segments(&swarm)[0].clone();
    corrupt::overwrite_bytes(&seg, off + 8 + len as u64 / 2, 32);
    for args in [vec!["verify"], vec!["info"]] {
        let mut a = args.clone();
        a.push(swarm.to_str().unwrap());
        let (code, v) = json(&a);
        assert_eq!(code, 1, "{args:?}");
        let text = v.to_string();
        assert!(!text.contains("DEK rotation") && !text.contains("retired"), "{args:?}: {text}");
        if args[0] == "verify" {
            let f = finding(&v, "entry.damaged_in_snapshot");
            assert_eq!(f["index"], 150);
            assert_eq!(f["offset"], off);
            assert_eq!(f["file"].as_str().unwrap(), corrupt::display(&seg));
            assert_eq!(finding(&v, "wal.crc_mismatch")["offset"], off);
            headline_agrees(&v);
        }
    }
}

// 6. A copy cut short is not a crash.

#[test]
fn short_last_segment_ending_inside_a_record_is_a_truncated_copy() {
    let (_d, swarm) = unpack(CHURN);
    let (off, _) = entry_at(&swarm, 210);
    let seg = corrupt::segments(&swarm)[0].clone();
    corrupt::truncate_at(&seg, off + 300);
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "wal.copy_truncated");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["offset"], off);
    assert_eq!(f["file"].as_str().unwrap(), corrupt::display(&seg));
    assert!(v["verdict"].as_str().unwrap().starts_with("DAMAGED"), "{}", v["verdict"]);
    headline_agrees(&v);
    assert_eq!(run(&["info", swarm.to_str().unwrap()]).0, 1);
}

#[test]
fn torn_write_in_a_full_length_segment_stays_a_torn_write() {
    let (_d, swarm) = unpack(CHURN);
    let (off, _) = entry_at(&swarm, 219);
    let seg = corrupt::segments(&swarm)[0].clone();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), 64_000_000);
    corrupt::zero_sector(&seg, off + 8 + 512);
    let (_, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert!(v.to_string().contains("wal.torn_write"), "{v:#}");
    assert!(!v.to_string().contains("wal.copy_truncated"), "{v:#}");
    headline_agrees(&v);
}

/// The note of a `state --format json` document, joined.
fn notes(v: &Value) -> String {
    v["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_zeroed_sector_with_committed_entries_after_it_is_damage_for_every_command() {
    // A 512-byte sector zeroed inside entry 201 of the full-length (preallocated) segment: the
    // scan stops there as at a torn write, but entries 202-220 follow, readable and CRC-valid.
    let (_d, swarm) = unpack(CHURN);
    let (off, _) = entry_at(&swarm, 201);
    let seg = corrupt::segments(&swarm)[0].clone();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), 64_000_000);
    corrupt::zero_sector(&seg, off + 8 + 100);
    let s = swarm.to_str().unwrap();
    // The one finding, made at load time.
    let a = Analysis::load(&swarm, &Options::default()).unwrap();
    let f = a.findings.iter().find(|f| f.code.as_str() == "wal.torn_write").expect("torn write finding");
    assert_eq!(f.severity, swarmsift::error::Severity::Error, "{f}");
    assert_eq!(f.file.as_deref(), Some(corrupt::display(&seg).as_str()));
    assert_eq!(f.offset, Some(off));
    assert_eq!(f.index, Some(201));
    assert!(f.message.contains("committed entries 201-220 exist only past this point"), "{f}");
    // state says the log ends at damage, names file, offset and the entries past it, exits 1.
    let (code, v) = json(&["state", s]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["index"], 200);
    let n = notes(&v);
    assert!(n.contains("the readable log ends at damage"), "{n}");
    assert!(n.contains(&corrupt::display(&seg)), "{n}");
    assert!(n.contains(&format!("at offset {off}")), "{n}");
    assert!(n.contains("committed entries 201-220 exist only past this point"), "{n}");
    let (code, out, _) = run(&["state", s]);
    assert_eq!(code, 1);
    assert!(out.contains("note: the readable log ends at damage"), "{out}");
    for args in [vec!["timeline", s], vec!["diff", s, s], vec!["chart", "tasks", s]] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(format!("{out}{err}").contains("201-220"), "{args:?}: {out}{err}");
    }
    // verify keeps its verdict, and says the problem once.
    let (code, v) = json(&["verify", s]);
    assert_eq!(code, 1);
    assert!(
        v["verdict"].as_str().unwrap().starts_with(&format!(
            "DAMAGED: Docker would repair the tail of {} (cut at offset {off}) and lose 20 entries (201-220; committed: 201-220)",
            seg.file_name().unwrap().to_str().unwrap()
        )),
        "{}",
        v["verdict"]
    );
    let torn = finding(&v, "wal.torn_write");
    assert_eq!(torn["severity"], "error");
    assert_eq!(torn["offset"], off);
    assert_eq!(torn["message"].as_str().unwrap().matches("exist only past this point").count(), 1, "{torn}");
    assert_eq!(v["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == "error").count(), 1, "{v:#}");
    headline_agrees(&v);
}

#[test]
fn a_zero_length_field_with_committed_entries_after_it_is_damage_for_every_command() {
    // Entry 201's frame length zeroed (a zeroed sector that starts at a frame boundary): etcd
    // reads it as the end-of-log marker, yet entry 201's record and entries 202-220 after it are still there, readable and CRC-valid. The
    // load finds them once; state and timeline say so and exit 1, as verify does.
    let (_d, swarm) = unpack(CHURN);
    let (off, _) = entry_at(&swarm, 201);
    let seg = corrupt::segments(&swarm)[0].clone();
    corrupt::set_len_field(&seg, off, 0);
    let s = swarm.to_str().unwrap();
    let a = Analysis::load(&swarm, &Options::default()).unwrap();
    let f = a.findings.iter().find(|f| f.code.as_str() == "wal.entries_after_end").expect("entries after end");
    assert_eq!(f.severity, swarmsift::error::Severity::Error, "{f}");
    assert_eq!(f.file.as_deref(), Some(corrupt::display(&seg).as_str()));
    assert_eq!(f.offset, Some(off));
    assert_eq!(f.index, Some(201));
    assert!(f.message.contains("committed entries 201-220 exist only past this point"), "{f}");
    let (code, v) = json(&["state", s]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["index"], 200);
    let n = notes(&v);
    assert!(n.contains("the readable log ends at damage") && n.contains("201-220"), "{n}");
    let (code, out, err) = run(&["timeline", s]);
    assert_eq!(code, 1, "{out}{err}");
    let (code, v) = json(&["verify", s]);
    assert_eq!(code, 1);
    assert!(
        v["verdict"].as_str().unwrap().starts_with("DAMAGED: Docker would start, but without entries 201-220"),
        "{}",
        v["verdict"]
    );
    let same = v["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "wal.entries_after_end").count();
    assert_eq!(same, 1, "{v:#}");
    assert_eq!(finding(&v, "wal.entries_after_end")["offset"], off);
    headline_agrees(&v);
    // managers counts the HardState past the damage as what the cluster committed: this
    // manager holds only up to 200, so it is no holder of every committed entry and loses 201-220.
    let (code, v) = json(&["managers", s]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["cluster_commit"], 220, "{v:#}");
    assert_eq!(v["holders"], serde_json::json!([]), "{v:#}");
    let lost = v["losses"][0]["committed_lost"].as_array().unwrap();
    assert_eq!((lost.first(), lost.last(), lost.len()), (Some(&201.into()), Some(&220.into()), 20), "{v:#}");
}

#[test]
fn a_torn_write_at_the_true_end_stays_a_warning() {
    // The last entry torn, nothing readable after it: what a crash leaves.
    let (_d, swarm) = unpack(CHURN);
    let (off, _) = entry_at(&swarm, 220);
    let seg = corrupt::segments(&swarm)[0].clone();
    corrupt::tear_tail(&seg, off);
    let s = swarm.to_str().unwrap();
    let a = Analysis::load(&swarm, &Options::default()).unwrap();
    let f = a.findings.iter().find(|f| f.code.as_str() == "wal.torn_write").expect("torn write finding");
    assert_eq!(f.severity, swarmsift::error::Severity::Warning, "{f}");
    assert_eq!(f.offset, Some(off));
    assert!(!f.message.contains("readable records follow"), "{f}");
    let (code, v) = json(&["state", s]);
    assert_eq!(code, 0, "{v:#}");
    assert!(!notes(&v).contains("ends at damage"), "{v:#}");
}

#[test]
fn entries_under_a_retired_dek_are_not_damage_in_a_walk() {
    // autolock rotated its DEK: the oldest entries are intact but no key opens them, and a
    // snapshot covers them. The walk starts at that snapshot, as before: no damage, exit 0.
    let key = common::unlock_key("autolock").unwrap();
    let (code, out, err) =
        common::run(&["timeline", &fixture("fixtures/autolock/swarm.tar.gz")], &[("SWARMSIFT_UNLOCK_KEY", &key)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("damage"), "{out}");
    assert!(out.contains("history starts from snapshot"), "{out}");
}

// 7. Snapshot files that were deleted.

/// The snapshot files of churn, oldest first, with their indexes.
fn churn_snapshots(swarm: &Path) -> Vec<(PathBuf, u64)> {
    let a = Analysis::load(swarm, &Options::default()).unwrap();
    corrupt::snapshots(swarm)
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let s = a.snapshots.iter().find(|s| s.file == name).unwrap();
            (p, s.index)
        })
        .collect()
}

#[test]
fn one_missing_newest_snapshot_file_is_a_crash_not_a_deletion() {
    let (_d, swarm) = unpack(CHURN);
    let snaps = churn_snapshots(&swarm);
    let (newest, index) = snaps.last().unwrap().clone();
    corrupt::delete_snapshot(&newest);
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(finding(&v, "snap.marker_without_file")["index"], index);
    assert!(!v.to_string().contains("snap.files_deleted"), "{v:#}");
    headline_agrees(&v);
    // The oldest file gone is what KeepOldSnapshots GC does: nothing to report.
    let (_e, swarm) = unpack(CHURN);
    corrupt::delete_snapshot(&churn_snapshots(&swarm)[0].0);
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 0, "{v:#}");
    assert!(!v.to_string().contains("snap.files_deleted") && !v.to_string().contains("marker_without_file"), "{v:#}");
}

#[test]
fn snapshot_files_missing_between_kept_ones_were_deleted() {
    let (_d, swarm) = unpack(CHURN);
    let snaps = churn_snapshots(&swarm);
    // A middle file: neither a crash (not the newest) nor GC (older files are kept).
    let (middle, index) = snaps[2].clone();
    corrupt::delete_snapshot(&middle);
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "snap.files_deleted");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["index"], index);
    assert_eq!(f["file"].as_str().unwrap(), corrupt::display(&middle));
    assert!(f["message"].as_str().unwrap().contains(middle.file_name().unwrap().to_str().unwrap()), "{f}");
    assert!(v["verdict"].as_str().unwrap().starts_with("DAMAGED: Docker would start normally"), "{}", v["verdict"]);
    headline_agrees(&v);
    // The two newest gone: the newest is explained by a crash, the one before it was deleted.
    let (_e, swarm) = unpack(CHURN);
    let snaps = churn_snapshots(&swarm);
    let n = snaps.len();
    corrupt::delete_snapshot(&snaps[n - 1].0);
    corrupt::delete_snapshot(&snaps[n - 2].0);
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "snap.files_deleted");
    assert_eq!(f["index"], snaps[n - 2].1);
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains(snaps[n - 2].0.file_name().unwrap().to_str().unwrap()), "{msg}");
    assert!(!msg.contains(snaps[n - 1].0.file_name().unwrap().to_str().unwrap()), "{msg}");
    assert_eq!(finding(&v, "snap.marker_without_file")["index"], snaps[n - 1].1);
    headline_agrees(&v);
}

// 8. No key, no "OK".

const AUTOLOCK: &str = "fixtures/autolock/swarm.tar.gz";

#[test]
fn autolocked_swarm_without_its_key_cannot_be_called_ok() {
    let t = fixture(AUTOLOCK);
    for cmd in ["verify", "info"] {
        let (code, out, err) = run(&[cmd, &t]);
        assert_eq!(code, 2, "{cmd}: {out}{err}");
        assert!(out.is_empty(), "{cmd}: {out}");
        assert!(err.contains("could not check") && err.contains("unlock key"), "{cmd}: {err}");
    }
    // Nor does the post-mortem report call it OK: it is not written.
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let (code, out, err) = run(&["report", &t, "-o", html.to_str().unwrap()]);
    assert_eq!(code, 2, "report: {out}{err}");
    assert!(err.contains("could not check") && err.contains("unlock key"), "report: {err}");
    assert!(!html.exists(), "report written without the key");
    // With --no-decrypt both check the structure and agree: no error, exit 0.
    let (vc, v) = json(&["verify", &t, "--no-decrypt"]);
    let (ic, i) = json(&["info", &t, "--no-decrypt"]);
    assert_eq!((vc, ic), (0, 0), "{v:#}\n{i:#}");
    let errors = |v: &Value| v["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == "error").count();
    assert_eq!(errors(&v), 0);
    assert_eq!(errors(&i), 0, "{:#}", i["findings"]);
    assert!(!i.to_string().contains("entry.undecryptable"), "{:#}", i["findings"]);
    assert!(v["verdict"].as_str().unwrap().contains("payloads not checked"), "{}", v["verdict"]);
    // snapshots --no-decrypt: sound containers whose payload was not opened, exit 0.
    let (code, out, _) = run(&["snapshots", &t, "--no-decrypt"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not checked (no key)") && !out.contains(" NO "), "{out}");
    // With the key: checked, OK.
    let key = common::unlock_key("autolock").unwrap();
    let (code, out, err) = common::run(&["verify", &t], &[("SWARMSIFT_UNLOCK_KEY", &key)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("BACKUP OK"), "{out}");
}

#[test]
fn unreadable_key_file_is_a_local_problem_not_a_finding() {
    use std::os::unix::fs::PermissionsExt;
    let (d, swarm) = unpack(CHURN);
    // Everything readable for everyone except the key file (0600, owned by whoever unpacked it).
    fn open_up(p: &Path) {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let q = e.path();
            if q.is_dir() {
                std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o755)).unwrap();
                open_up(&q);
            } else {
                std::fs::set_permissions(&q, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
    }
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    open_up(d.path());
    let key = swarm.join("certificates/swarm-node.key");
    let root = unsafe { libc::geteuid() } == 0;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(if root { 0o600 } else { 0o000 })).unwrap();
    // root reads any file: run the tool as nobody, from a copy of the binary nobody can reach.
    let bin = assert_cmd::cargo::cargo_bin("swarmsift");
    let copy = d.path().join("swarmsift");
    std::fs::copy(&bin, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    for cmd in ["verify", "info"] {
        let mut c = if root {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(&copy);
            c
        } else {
            std::process::Command::new(&copy)
        };
        let out = c.args([cmd, swarm.to_str().unwrap()]).env_remove("SWARMSIFT_UNLOCK_KEY").output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{cmd}: {stdout}{stderr}");
        assert!(stdout.is_empty(), "{cmd}: no finding, no report: {stdout}");
        assert!(stderr.contains("swarm-node.key") && stderr.contains("ermission denied"), "{cmd}: {stderr}");
    }
}

// 9. A manager that will panic.

#[test]
fn empty_raft_log_of_a_member_of_a_bigger_cluster_panics_at_the_first_heartbeat() {
    for scenario in ["three-managers", "modern-three-managers"] {
        let t = fixture(&format!("fixtures/{scenario}/manager3-after-panic.tar.gz"));
        let (code, v) = json(&["verify", &t]);
        assert_eq!(code, 1, "{scenario}: {v:#}");
        assert_eq!(v["docker"]["outcome"], "panics", "{scenario}: {v:#}");
        let verdict = v["verdict"].as_str().unwrap();
        assert!(verdict.starts_with("DAMAGED: Docker would crash") && verdict.contains("tocommit"), "{verdict}");
        let f = finding(&v, "wal.empty_log_member");
        assert!(f["file"].as_str().unwrap().ends_with("state.json"), "{f}");
        assert!(f["consequence"].as_str().unwrap().starts_with("crashes at startup"), "{f}");
        headline_agrees(&v);
        // managers: its DOCKER column says so, and it is never the one to recover from.
        let m1 = fixture(&format!("fixtures/{scenario}/manager1.tar.gz"));
        let (_, m) = json(&["managers", &m1, &t]);
        let me = m["managers"].as_array().unwrap().iter().find(|x| x["name"] == "manager3-after-panic").unwrap();
        assert_eq!(me["docker"], "panics", "{m:#}");
        assert_ne!(m["recommendation"]["manager"], "manager3-after-panic", "{m:#}");
        let (_, out, _) = run(&["managers", &m1, &t]);
        let row = out.lines().find(|l| l.starts_with("manager3-after-panic")).unwrap_or_default();
        assert!(!row.contains("starts"), "{out}");
    }
    // The same empty log on a lone manager (its state.json lists only itself) is not this case.
    let (_d, swarm) = unpack(CHURN);
    corrupt::empty_raft_log(&swarm);
    let (_, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert!(!v.to_string().contains("wal.empty_log_member"), "{v:#}");
    // ... until its state.json says other managers exist.
    let peers = r#"[{"node_id":"79hwvdcto1z4bexj2sodwatqo","addr":"127.0.0.2:2377"},{"node_id":"aaaaaaaaaaaaaaaaaaaaaaaaa","addr":"127.0.0.9:2377"}]"#;
    let own = std::fs::read_to_string(swarm.join("state.json")).unwrap();
    assert!(own.contains("79hwvdcto1z4bexj2sodwatqo"), "{own}");
    std::fs::write(swarm.join("state.json"), peers).unwrap();
    let (code, v) = json(&["verify", swarm.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(finding(&v, "wal.empty_log_member")["message"].as_str().unwrap().contains("aaaaaaaaaaaaaaaaaaaaaaaaa"));
}

// 10. A truncated backup tarball.

#[test]
fn tarball_cut_inside_the_wal_is_a_finding_and_what_is_whole_is_analysed() {
    let d = tempfile::tempdir().unwrap();
    let cut = d.path().join("cut.tar");
    let (_u, swarm) = unpack(CHURN);
    let (off, _) = entry_at(&swarm, 210);
    let at = corrupt::cut_tarball(Path::new(&fixture(CHURN)), &cut, ".wal", off + 300);
    let c = cut.to_str().unwrap();
    let (code, v) = json(&["verify", c]);
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "input.tarball_truncated");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["offset"], at);
    assert_eq!(f["file"], c);
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("inside member swarm/raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal"), "{msg}");
    assert!(
        msg.contains("swarm/certificates/swarm-node.key") && msg.contains("0000000000000002-00000000000000c8.snap"),
        "{msg}"
    );
    assert!(!msg.contains("docker-state.json"), "the member after the cut is not whole: {msg}");
    // The WAL as far as it goes is a copy cut short inside entry 210.
    assert_eq!(finding(&v, "wal.copy_truncated")["offset"], off);
    assert!(v["verdict"].as_str().unwrap().starts_with("DAMAGED"), "{}", v["verdict"]);
    headline_agrees(&v);
    let (code, i) = json(&["info", c]);
    assert_eq!(code, 1);
    assert!(i.to_string().contains("input.tarball_truncated"));
    // salvage works from it.
    let o = d.path().join("salvaged");
    let (code, out, err) = run(&["salvage", c, "-o", o.to_str().unwrap()]);
    assert!(code == 0 || code == 1, "{out}{err}");
    assert!(o.join("certificates/swarm-node.key").exists(), "{out}");
    let (code, v) = json(&["verify", o.to_str().unwrap()]);
    assert_eq!(code, 0, "the salvaged copy verifies: {v:#}");
    assert_eq!(v["docker"]["last_index"].as_u64().unwrap(), 209, "{v:#}");
}

#[test]
fn tarball_cut_at_a_member_boundary_or_compressed_is_still_a_finding() {
    let d = tempfile::tempdir().unwrap();
    // Every member whole, the end-of-archive blocks gone.
    let cut = d.path().join("no-end.tar");
    let at = corrupt::cut_tarball_after_last_member(Path::new(&fixture(CHURN)), &cut);
    let (code, v) = json(&["verify", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let f = finding(&v, "input.tarball_truncated");
    assert_eq!(f["offset"], at);
    assert!(f["message"].as_str().unwrap().contains("no end-of-archive marker"), "{f}");
    // `state` and `timeline` of that copy say it too, and exit 1: members after the cut may be
    // missing, so the end of this log is not known to be the end of the manager's.
    let (code, st) = json(&["state", cut.to_str().unwrap()]);
    assert_eq!(code, 1, "{st:#}");
    let notes = st["notes"].to_string();
    assert!(notes.contains("input.tarball_truncated") && notes.contains(&format!("offset {at}")), "{notes}");
    assert_eq!(st["index"], 220, "everything whole is still shown");
    let (code, tl) = json(&["timeline", cut.to_str().unwrap()]);
    assert_eq!(code, 1);
    let last = tl["events"].as_array().unwrap().iter().rfind(|e| e["class"] == "damage").expect("a damage event");
    assert!(last["text"].as_str().unwrap().contains("input.tarball_truncated"), "{last}");
    assert_eq!(last["index"], 220, "{last}");
    // The sound tarball's state and timeline have neither.
    let (code, st) = json(&["state", &fixture(CHURN)]);
    assert_eq!(code, 0);
    assert!(!st["notes"].to_string().contains("input.tarball_truncated"));
    let (code, tl) = json(&["timeline", &fixture(CHURN)]);
    assert_eq!(code, 0);
    assert!(!tl.to_string().contains("input.tarball_truncated"));
    // The .tar.gz copy itself interrupted at three quarters: a finding, never "could not run".
    let gz = d.path().join("cut.tar.gz");
    let len = std::fs::metadata(fixture(CHURN)).unwrap().len();
    corrupt::cut_file_copy(Path::new(&fixture(CHURN)), &gz, len * 3 / 4);
    let (code, v) = json(&["verify", gz.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    finding(&v, "input.tarball_truncated");
    headline_agrees(&v);
    // The sound tarball: no such finding.
    let (code, v) = json(&["verify", &fixture(CHURN)]);
    assert_eq!(code, 0);
    assert!(!v.to_string().contains("input.tarball_truncated"));
}

// Noticed with cases 7-10.

#[test]
fn bare_snapshot_dir_without_key_is_not_checked_rather_than_invalid_and_has_no_hard_state_finding() {
    let (d, swarm) = unpack(CHURN);
    let bare = d.path().join("kept");
    std::fs::create_dir(&bare).unwrap();
    for s in corrupt::snapshots(&swarm) {
        std::fs::copy(&s, bare.join(s.file_name().unwrap())).unwrap();
    }
    let b = bare.to_str().unwrap();
    let (code, out, _) = run(&["snapshots", b, "--no-decrypt"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("not checked (no key)") && !out.contains(" NO "), "{out}");
    for cmd in ["info", "verify"] {
        let (_, v) = json(&[cmd, b, "--no-decrypt"]);
        assert!(!v.to_string().contains("wal.no_hard_state"), "{cmd}: there is no WAL: {v:#}");
    }
}

#[test]
fn no_store_anomaly_is_reported_between_damage_and_the_snapshot_after_it() {
    let (_d, swarm) = unpack(CHURN);
    let (off, len) = entry_at(&swarm, 150);
    corrupt::overwrite_bytes(&corrupt::segments(&swarm)[0], off + 8 + len as u64 / 2, 32);
    let (code, t) = json(&["timeline", swarm.to_str().unwrap()]);
    assert_eq!(code, 1);
    let list = t.get("events").unwrap_or(&t).as_array().unwrap().clone();
    let damage: Vec<&Value> = list.iter().filter(|e| e["class"] == "damage").collect();
    assert_eq!(damage.len(), 1, "only the damaged entry itself: {damage:#?}");
    assert_eq!(damage[0]["index"], 150);
    assert!(!list.iter().any(|e| e["text"].as_str().unwrap_or("").contains("replay.anomaly")), "{list:#?}");
}

// 3, continued. Damage in the WAL's frames ends the readable log: a state at its end says so.

/// The notes of `state --format json` on `s`, with its exit code.
fn state_notes(s: &str, extra: &[&str]) -> (i32, Vec<String>) {
    let mut args = vec!["state", s];
    args.extend(extra);
    let (code, v) = json(&args);
    (code, v["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect())
}

#[test]
fn a_state_at_the_end_of_a_log_cut_by_damage_says_so_and_exits_1() {
    // The last segment cut inside entry 215's record (a copy cut short): nothing after it can be
    // read, and the state at the end of the readable log (214) says so.
    let (_d, swarm) = unpack(CHURN);
    let seg = &corrupt::segments(&swarm)[0];
    let (off, _) = entry_at(&swarm, 215);
    corrupt::truncate_at(seg, off + 20);
    let s = swarm.to_str().unwrap();
    let (code, out, err) = run(&["state", s]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with("STATE at index 214 "), "{out}");
    let note = out.lines().find(|l| l.starts_with("note: the readable log ends at damage")).expect(&out);
    assert!(note.contains("so this state may lack entries written after it"), "{note}");
    assert!(note.contains("wal.copy_truncated") && note.contains(&corrupt::display(seg)), "{note}");
    assert!(note.contains(&format!("@{off:#x}")), "{note}");
    assert!(!out.contains("were read"), "nothing after the cut was read: {out}");
    let (code, notes) = state_notes(s, &[]);
    assert_eq!(code, 1);
    assert!(notes.iter().any(|n| n.contains("wal.copy_truncated") && n.contains("readable log ends")), "{notes:?}");
    // Timeline: the same cut, at the last readable index.
    let (code, t) = json(&["timeline", s]);
    assert_eq!(code, 1);
    let last = t["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["class"].as_str(), last["index"].as_u64()), (Some("damage"), Some(214)), "{last}");
    assert!(last["text"].as_str().unwrap().starts_with("the readable log ends at damage"), "{last}");
    // A state well before the damage is not affected.
    let (code, out, _) = run(&["state", s, "--at", "20"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("readable log ends at damage"), "{out}");
}

// 3, continued. A damaged record the scan read past is said as such, not as the end of the log.

#[test]
fn a_damaged_record_the_scan_read_past_is_not_called_the_end_of_the_readable_log() {
    // 32 bytes overwritten inside entry 210 (after the newest snapshot, 200): its CRC fails, the
    // scan reads past it, entries 211-220 are read.
    let (_d, swarm) = unpack(CHURN);
    let seg = &corrupt::segments(&swarm)[0];
    let (off, len) = entry_at(&swarm, 210);
    corrupt::overwrite_bytes(seg, off + 8 + len as u64 / 2, 32);
    let s = swarm.to_str().unwrap();
    let (code, out, err) = run(&["state", s]);
    assert_eq!(code, 1, "the damage is an error: {out}{err}");
    assert!(out.starts_with("STATE at index 220 "), "the entries after the damage were read: {out}");
    assert!(!out.contains("readable log ends at damage"), "it does not end there: {out}");
    let note = out.lines().find(|l| l.contains("[wal.crc_mismatch]")).expect(&out);
    let want = format!(
        "note: a damaged record at {} offset {off}: the entry it holds (210) is damaged and may be missing or wrong in this state; the scan read past it, and the entries after it were read: error [wal.crc_mismatch]",
        corrupt::display(seg)
    );
    assert!(
        note.starts_with(&want),
        "{note}
want: {want}"
    );
    // Timeline: no cut at the end; the damaged entry is an event where it is.
    let (code, t) = json(&["timeline", s]);
    assert_eq!(code, 1);
    let text = t.to_string();
    assert!(!text.contains("readable log ends at damage"), "{text}");
    let dmg: Vec<&Value> = t["events"].as_array().unwrap().iter().filter(|e| e["class"] == "damage").collect();
    assert_eq!(dmg.len(), 1, "{dmg:#?}");
    assert_eq!(dmg[0]["index"], 210);

    // The same damage on entry 150, which the snapshot the final state starts from (200) covers:
    // said as such (the state does not rest on it), still exit 1.
    let (_e, swarm) = unpack(CHURN);
    let seg = &corrupt::segments(&swarm)[0];
    let (off, len) = entry_at(&swarm, 150);
    corrupt::overwrite_bytes(seg, off + 8 + len as u64 / 2, 32);
    let s = swarm.to_str().unwrap();
    let (code, notes) = state_notes(s, &[]);
    assert_eq!(code, 1);
    let n = notes.iter().find(|n| n.contains("[wal.crc_mismatch]")).expect("a note on the damage");
    assert!(
        n.starts_with(&format!(
            "a damaged record at {} offset {off}: it holds entry 150, which the snapshot this state starts from (index 200) covers, so this state does not rest on it; the scan read past it",
            corrupt::display(seg)
        )),
        "{n}"
    );
    assert!(!notes.iter().any(|n| n.contains("readable log ends")), "{notes:?}");

    // Only the record's stored CRC damaged (one bit of the CRC field, entry 215): the entry still
    // decrypts, so the walk meets no unreadable entry; the timeline says the damaged record at
    // its entry's index, not a cut at the end.
    let (_f, swarm) = unpack(CHURN);
    let seg = &corrupt::segments(&swarm)[0];
    let rec = corrupt::records(seg, true).into_iter().find(|r| r.offset == entry_at(&swarm, 215).0).unwrap();
    // walpb.Record: 0x08 type, 0x10 crc varint, ...: the crc's first byte.
    corrupt::flip_bit(seg, rec.offset + 8 + 3, 0);
    let s = swarm.to_str().unwrap();
    let (code, notes) = state_notes(s, &[]);
    assert_eq!(code, 1, "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n.contains("the entry it holds (215) is damaged and may be missing or wrong in this state")),
        "{notes:?}"
    );
    let (code, t) = json(&["timeline", s]);
    assert_eq!(code, 1);
    // (The scan goes on from the stored value, so the record after it, a HardState, fails its
    // check too: a damaged record read past, said at the index it sits at, 215.)
    let dmg: Vec<&Value> = t["events"].as_array().unwrap().iter().filter(|e| e["class"] == "damage").collect();
    assert!(!dmg.is_empty() && dmg.iter().all(|e| e["index"] == 215), "{dmg:#?}");
    let text = dmg[0]["text"].as_str().unwrap();
    assert!(text.contains("the events of entry 215 may be missing or wrong; the events after it were read"), "{text}");
    assert!(text.contains("[wal.crc_mismatch]") && text.contains(&format!("offset {}", rec.offset)), "{text}");
    // The events after it are there.
    assert!(t["events"].as_array().unwrap().iter().any(|e| e["index"].as_u64() > Some(215)), "{t:#}");
}

// 3, continued. Every command that shows the state at the end of a cut log says so and exits 1:
// `diff` (its later side), `report` (its states, timeline and charts) and the charts that draw
// the log to its end, through the same rule as `state` (`replay::point::log_cut`).

/// `diff`, `report` and `chart` on `s`, whose log is cut by the finding `code`.
fn every_view_of_the_end_says_the_cut(s: &str, code: &str, words: &str) {
    let said = |t: &str| t.contains(code) && t.contains(words);
    // diff to the end: text notes and JSON notes of its later side.
    let (c, out, err) = run(&["diff", s, "--from", "100"]);
    assert_eq!(c, 1, "diff: {out}{err}");
    assert!(out.lines().any(|l| l.starts_with("note: ") && said(l)), "diff: {out}");
    let (c, v) = json(&["diff", s, "--from", "100"]);
    assert_eq!(c, 1);
    assert!(v["to"]["notes"].as_array().unwrap().iter().any(|n| said(n.as_str().unwrap())), "diff: {}", v["to"]);
    // diff of the input with itself (two PATHs): both ends are the end of the log.
    let (c, v) = json(&["diff", s, s]);
    assert_eq!(c, 1);
    for side in ["from", "to"] {
        assert!(v[side]["notes"].to_string().contains(code), "diff PATH PATH {side}: {}", v[side]);
    }
    // The charts that draw the log up to its end.
    for kind in ["convergence", "tasks", "recovery"] {
        let mut args = vec!["chart", kind, s];
        if kind == "recovery" {
            args.extend(["--calibration", "50000000,20000"]);
        }
        let (c, out, err) = run(&args);
        assert_eq!(c, 1, "chart {kind}: {out}{err}");
        assert!(
            out.lines().any(|l| l.starts_with("note: ") && said(l) && l.contains("this chart")),
            "chart {kind}: {out}"
        );
        let (c, v) = json(&args);
        assert_eq!(c, 1, "chart {kind}");
        assert!(
            v["notes"].as_array().unwrap().iter().any(|n| said(n.as_str().unwrap())),
            "chart {kind}: {}",
            v["notes"]
        );
    }
    // report: the state at the end, the timeline and the charts say it; exit 1.
    let d = tempfile::tempdir().unwrap();
    let html = d.path().join("r.html");
    let h = html.to_str().unwrap();
    let (c, v) = json(&["report", s, "-o", h, "--calibration", "50000000,20000"]);
    assert_eq!(c, 1, "report: {v:#}");
    assert!(v["log_cut"].as_array().unwrap().iter().any(|n| said(n.as_str().unwrap())), "report: {v:#}");
    let src = std::fs::read_to_string(&html).unwrap();
    let end = src.find("<section id=\"state-end\">").unwrap();
    let healthy = src.find("<section id=\"state-healthy\">").unwrap();
    assert!(said(&src[end..healthy]), "report: the state at the end says the cut");
    let charts = src.find("<section id=\"charts\">").unwrap();
    assert!(said(&src[charts..]) && src[charts..].contains("this chart"), "report: the charts say the cut");
}

#[test]
fn diff_report_and_chart_at_the_end_of_a_cut_log_say_so_and_exit_1() {
    // The WAL cut inside entry 215's record (wal.copy_truncated).
    let (_d, swarm) = unpack(CHURN);
    let (off, _) = entry_at(&swarm, 215);
    corrupt::truncate_at(&corrupt::segments(&swarm)[0], off + 20);
    let s = swarm.to_str().unwrap();
    every_view_of_the_end_says_the_cut(s, "wal.copy_truncated", "the readable log ends at damage");
    // A view before the damage is whole: diff between two points before it, exit 0, no note.
    let (c, out, _) = run(&["diff", s, "--from", "20", "--to", "100"]);
    assert_eq!(c, 0, "{out}");
    assert!(!out.contains("note:"), "{out}");
    let (c, v) = json(&["diff", s, "--from", "20", "--to", "100"]);
    assert_eq!(c, 0);
    assert!(v["from"].get("notes").is_none() && v["to"].get("notes").is_none(), "{v:#}");

    // A backup cut short after its last whole member: a cut at every index.
    let d = tempfile::tempdir().unwrap();
    let cut = d.path().join("no-end.tar");
    let at = corrupt::cut_tarball_after_last_member(Path::new(&fixture(CHURN)), &cut);
    let c = cut.to_str().unwrap();
    every_view_of_the_end_says_the_cut(c, "input.tarball_truncated", "the backup is cut short");
    let (code, v) = json(&["diff", c, "--from", "20", "--to", "100"]);
    assert_eq!(code, 1, "members after the cut may hold anything, at any index: {v:#}");
    assert!(v["to"]["notes"].to_string().contains(&format!("offset {at}")), "{v:#}");

    // The sound capture: none of them says a cut, and they exit 0.
    let sound = fixture(CHURN);
    let (code, out, _) = run(&["diff", &sound, "--from", "100"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("note:"), "{out}");
    for kind in ["convergence", "tasks"] {
        let (code, v) = json(&["chart", kind, &sound]);
        assert_eq!(code, 0, "chart {kind}");
        assert!(v.get("notes").is_none(), "chart {kind}: {}", v["notes"]);
    }
}
