//! Specification of the command line: JSON shapes, filters, exit codes, one-line errors for bad
//! input, and that no command changes a byte of its input.

mod common;

use common::run;
use serde_json::Value;
use std::path::Path;

const CHURN: &str = "fixtures/churn/swarm.tar.gz";

fn json(args: &[&str]) -> Value {
    let (code, out, err) = run(args, &[]);
    assert_eq!(code, 0, "{args:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}\n{out}"))
}

#[test]
fn info_json_has_the_documented_fields_with_exact_values() {
    let v = json(&["info", CHURN, "--format", "json"]);
    assert_eq!(v["hard_state"]["term"], 2);
    assert_eq!(v["hard_state"]["commit"], 220);
    assert!(v["hard_state"]["vote"].as_u64().unwrap() > 0);
    assert_eq!(v["wal"]["first_index"], 1);
    assert_eq!(v["wal"]["last_index"], 220);
    assert_eq!(v["wal"]["entries"], 220);
    let segs = v["wal"]["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0]["file"], "0000000000000000-0000000000000000.wal");
    assert_eq!(segs[0]["bytes"], 64_000_000);
    assert_eq!(segs[0]["end"]["kind"], "zero_tail");
    let snaps = v["snapshots"].as_array().unwrap();
    let idx: Vec<u64> = snaps.iter().map(|s| s["index"].as_u64().unwrap()).collect();
    assert_eq!(idx, vec![40, 80, 120, 160, 200]);
    for s in snaps {
        assert_eq!(s["valid"], true);
        assert_eq!(s["term"], 2);
        assert!(s["bytes"].as_u64().unwrap() > 1000);
        assert!(s["file"].as_str().unwrap().ends_with(".snap"));
    }
    let o = &v["objects"];
    for k in ["nodes", "services", "tasks", "networks", "secrets", "configs", "clusters", "volumes"] {
        assert!(o[k].is_u64(), "objects.{k} missing");
    }
    assert_eq!(o["nodes"], 1);
    assert_eq!(o["services"], 4);
    assert_eq!(o["tasks"], 14);
    assert_eq!(o["clusters"], 1);
    assert_eq!(v["keys"]["autolock"], false);
    assert_eq!(v["node"]["node_id"], "79hwvdcto1z4bexj2sodwatqo");
    assert_eq!(v["certificate"]["node_id"], "79hwvdcto1z4bexj2sodwatqo");
    assert_eq!(v["certificate"]["role"], "swarm-manager");
}

#[test]
fn wal_lists_every_entry_and_filters() {
    let (code, out, _) = run(&["wal", CHURN], &[]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 1 + 220, "header + one line per entry");
    assert!(out.lines().next().unwrap().starts_with("INDEX"));
    let v = json(&["wal", CHURN, "--format", "json", "--from", "100", "--to", "109"]);
    let e = v["entries"].as_array().unwrap();
    assert_eq!(e.len(), 10);
    assert_eq!(e[0]["index"], 100);
    assert!(e.iter().all(|x| x["committed"] == true));
    let v = json(&["wal", CHURN, "--format", "json", "--kind", "secret"]);
    let e = v["entries"].as_array().unwrap();
    assert!(!e.is_empty());
    assert!(e.iter().all(|x| x["actions"].as_array().unwrap().iter().any(|a| a["kind"] == "secret")));
    let v = json(&["wal", CHURN, "--format", "json", "--id", "sec1"]);
    assert!(!v["entries"].as_array().unwrap().is_empty(), "--id matches names too");
}

#[test]
fn snapshots_lists_every_file() {
    let (code, out, _) = run(&["snapshots", CHURN], &[]);
    assert_eq!(code, 0);
    let table: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(table.len(), 6, "header + one line per .snap file");
    assert!(out.contains("SNAPSHOT BYTES BY KIND"), "size forensics follow the table");
    let v = json(&["snapshots", CHURN, "--format", "json"]);
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 5);
    assert_eq!(v["base_snapshot"], "0000000000000002-00000000000000c8.snap");
}

#[test]
fn no_command_changes_its_input() {
    let (_g, dir) = common::unpack(Path::new(CHURN));
    let before = common::tree_digest(&dir);
    let d = dir.to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let plain = out.path().join("plain");
    for args in [
        vec!["info", d],
        vec!["info", d, "--format", "json"],
        vec!["wal", d],
        vec!["snapshots", d],
        vec!["info", d, "--no-mmap"],
        vec!["state", d],
        vec!["state", d, "--at", "50", "--format", "json"],
        vec!["history", d, "web", "--tasks"],
        vec!["diff", d, "--from", "10"],
        vec!["timeline", d],
        vec!["decrypt", d, "-o", plain.to_str().unwrap()],
    ] {
        let (code, _, err) = run(&args, &[]);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    assert_eq!(common::tree_digest(&dir), before, "input changed");
    let tar_before = std::fs::read(CHURN).unwrap();
    run(&["info", CHURN], &[]);
    assert_eq!(std::fs::read(CHURN).unwrap(), tar_before);
}

#[test]
fn decrypt_writes_a_plaintext_copy_that_decodes_to_the_same_state() {
    let out = tempfile::tempdir().unwrap();
    let plain = out.path().join("plain");
    let (code, _, err) = run(&["decrypt", CHURN, "-o", plain.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(plain.join("raft/wal-v3/0000000000000000-0000000000000000.wal").exists());
    assert_eq!(std::fs::read_dir(plain.join("raft/snap-v3")).unwrap().count(), 5, "all snapshots");
    let a = json(&["info", CHURN, "--format", "json"]);
    let b = json(&["info", plain.to_str().unwrap(), "--format", "json"]);
    assert_eq!(b["layout"]["kind"], "v3-plain");
    assert_eq!(b["layout"]["encrypted"], false);
    for k in ["hard_state", "objects", "entry_counts", "state_index"] {
        assert_eq!(a[k], b[k], "{k} differs after decrypt");
    }
    assert_eq!(a["wal"]["entries"], b["wal"]["entries"]);
    // Refuses a non-empty output dir.
    let (code, _, err) = run(&["decrypt", CHURN, "-o", plain.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");
}

fn one_line_error(args: &[&str], env: &[(&str, &str)], needle: &str) {
    let (code, out, err) = run(args, env);
    assert_eq!(code, 2, "{args:?}: expected exit 2, got {code}; stderr: {err}");
    assert!(out.is_empty(), "{args:?}: nothing on stdout");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one-line error, got: {err}");
    assert!(err.contains(needle), "{args:?}: {err:?} should mention {needle:?}");
}

#[test]
fn bad_input_gets_a_one_line_error_and_exit_2() {
    one_line_error(&["info", "/nonexistent/swarm"], &[], "No such file");
    let t = tempfile::tempdir().unwrap();
    let junk = t.path().join("junk.bin");
    std::fs::write(&junk, (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<u8>>()).unwrap();
    one_line_error(&["info", junk.to_str().unwrap()], &[], "tar");
    one_line_error(&["info", t.path().to_str().unwrap()], &[], "not a swarm dir");
    one_line_error(&["wal", CHURN, "--kind", "widget"], &[], "unknown kind");
}

#[test]
fn autolock_needs_the_right_key() {
    let tarball = "fixtures/autolock/swarm.tar.gz";
    let key = common::unlock_key("autolock").expect("autolock key");
    one_line_error(&["info", tarball], &[], "autolock is on");
    let meta: Value = serde_json::from_str(&std::fs::read_to_string("fixtures/autolock/meta.json").unwrap()).unwrap();
    let old = meta["old_unlock_keys"][0].as_str().unwrap();
    one_line_error(&["info", tarball], &[("SWARMSIFT_UNLOCK_KEY", old)], "wrong unlock key");
    one_line_error(&["info", tarball], &[("SWARMSIFT_UNLOCK_KEY", "SWMKEY-2-nonsense")], "SWARMSIFT_UNLOCK_KEY");
    // From the environment and from a file.
    let (code, _, err) = run(&["info", tarball], &[("SWARMSIFT_UNLOCK_KEY", &key)]);
    assert_eq!(code, 0, "{err}");
    let t = tempfile::tempdir().unwrap();
    let kf = t.path().join("key");
    std::fs::write(&kf, format!("{key}\n")).unwrap();
    let (code, out, err) = run(&["info", tarball, "--unlock-key-file", kf.to_str().unwrap(), "--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["keys"]["autolock"], true);
    // Structure only, without the key.
    let (code, out, _) = run(&["info", tarball, "--no-decrypt"], &[]);
    assert_ne!(code, 2);
    assert!(out.contains("HardState"));
}
