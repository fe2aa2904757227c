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
    let (code, v) = json(&["verify", b]);
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
