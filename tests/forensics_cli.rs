//! `verify`, `salvage` and `managers` through the binary and the library: JSON shapes, exit
//! codes, the verdict line, inputs left byte-for-byte unchanged, salvaged copies that verify and
//! rebuild the state that survived, and the manager comparison on the real three-manager capture.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use swarmsift::analyses::salvage::{SalvageOptions, salvage};
use swarmsift::analyses::verify::{self, VerifyOptions};
use swarmsift::decode::entry::Payload;
use swarmsift::decode::object::Kind;
use swarmsift::replay::analysis::{Analysis, Options};
use swarmsift::replay::point::{Point, replay};
use swarmsift::replay::store::Store;

const CHURN: &str = "fixtures/churn/swarm.tar.gz";
const TM: &str = "fixtures/three-managers";

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn unpack(t: &str) -> (tempfile::TempDir, PathBuf) {
    common::unpack(&fixture(t))
}

fn load(p: &Path) -> Analysis {
    Analysis::load(p, &Options::default()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Whether `main.rs` has the forensics subcommands yet (they are wired separately).
fn cli_wired() -> bool {
    let (code, out, _) = common::run(&["verify", "--help"], &[]);
    let w = code == 0 && out.contains("Docker");
    if !w {
        eprintln!("NOTE: the binary has no `verify`/`salvage`/`managers` subcommands yet: CLI checks skipped");
    }
    w
}

fn json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = common::run(args, &[]);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}\n{err}"));
    (code, v)
}

/// Stores equal except for objects whose IDs are in `skip`.
fn same_state(a: &Store, b: &Store, skip: &BTreeSet<String>) {
    for k in Kind::ALL {
        let ia: Vec<_> = a.iter(k).filter(|o| !skip.contains(o.id())).collect();
        let ib: Vec<_> = b.iter(k).filter(|o| !skip.contains(o.id())).collect();
        assert_eq!(ia.len(), ib.len(), "{} count", k.name());
        for (x, y) in ia.iter().zip(ib.iter()) {
            assert_eq!(x, y, "{} {}", k.name(), x.id());
        }
    }
}

fn entry_offset(a: &Analysis, index: u64) -> u64 {
    a.wal.entries.iter().find(|e| e.index == index).unwrap().offset
}

fn touched(a: &Analysis, index: u64) -> BTreeSet<String> {
    a.entries
        .iter()
        .filter(|e| e.index == index)
        .flat_map(|e| match &e.payload {
            Payload::Request { actions, .. } => actions.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
            _ => vec![],
        })
        .collect()
}

#[test]
fn verify_json_shape_exit_codes_and_text_verdict() {
    if !cli_wired() {
        return;
    }
    let (code, v) = json(&["verify", CHURN, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v["ok"], true);
    assert!(v["findings"].as_array().unwrap().is_empty());
    assert_eq!(v["docker"]["outcome"], "starts");
    assert!(v["verdict"].as_str().unwrap().starts_with("BACKUP OK"));
    let (code, out, _) = common::run(&["verify", CHURN], &[]);
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().starts_with("BACKUP OK: Docker would start normally"), "{out}");
    // Could not run: exit 2, one line on stderr.
    let (code, _, err) = common::run(&["verify", "Cargo.toml"], &[]);
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let (code, _, _) = common::run(&["verify", "/nonexistent/swarm"], &[]);
    assert_eq!(code, 2);
    // Damaged: exit 1, verdict first, findings grouped by severity with their consequence.
    let (_d, swarm) = unpack(CHURN);
    let a = load(&swarm);
    let seg = corrupt::segments(&swarm).pop().unwrap();
    let k = a.wal.last_index().unwrap() - 3;
    corrupt::flip_bit(&seg, entry_offset(&a, k) + 50, 2);
    let (code, out, _) = common::run(&["verify", swarm.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("DAMAGED: Docker would"), "{out}");
    assert!(out.contains("\nERRORS ("), "{out}");
    assert!(out.contains("      Docker: "), "{out}");
    let (code, v) = json(&["verify", swarm.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    let f = &v["findings"][0];
    for key in ["code", "severity", "file", "offset", "index", "term", "message", "consequence"] {
        assert!(f.get(key).is_some(), "{key} missing: {f}");
    }
    assert_eq!(f["severity"], "error");
}

#[test]
fn verify_works_on_swarm_dir_raft_dir_and_tarball() {
    let (_d, swarm) = unpack(CHURN);
    for p in [swarm.clone(), swarm.join("raft"), fixture(CHURN)] {
        let v = verify::verify(&p, &VerifyOptions::default()).unwrap();
        assert!(v.ok, "{}: {}", p.display(), swarmsift::render::verify::text(&v));
        assert_eq!(verify::outcome_word(&v.docker), "starts");
    }
}

#[test]
fn commands_leave_their_input_unchanged() {
    if !cli_wired() {
        return;
    }
    let (_d, swarm) = unpack(CHURN);
    let a = load(&swarm);
    let seg = corrupt::segments(&swarm).pop().unwrap();
    corrupt::zero_sector(&seg, entry_offset(&a, a.wal.last_index().unwrap() - 8) + 100);
    let before = common::tree_digest(&swarm);
    let out = tempfile::tempdir().unwrap();
    let s = swarm.to_str().unwrap();
    let o = out.path().join("copy");
    for args in [
        vec!["verify", s],
        vec!["verify", s, "--format", "json"],
        vec!["verify", s, "--no-mmap"],
        vec!["salvage", s, "-o", o.to_str().unwrap()],
        vec!["managers", s, CHURN],
    ] {
        let (code, _, err) = common::run(&args, &[]);
        assert!(code == 0 || code == 1, "{args:?}: {err}");
        assert_eq!(common::tree_digest(&swarm), before, "{args:?} changed its input");
    }
}

#[test]
fn salvage_refuses_unsafe_outputs() {
    if !cli_wired() {
        return;
    }
    let (d, swarm) = unpack(CHURN);
    let s = swarm.to_str().unwrap();
    let inside = swarm.join("raft/copy");
    let (code, _, err) = common::run(&["salvage", s, "-o", inside.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("inside the input"), "{err}");
    assert!(!inside.exists());
    let full = d.path().join("full");
    std::fs::create_dir(&full).unwrap();
    std::fs::write(full.join("x"), b"x").unwrap();
    let (code, _, err) = common::run(&["salvage", s, "-o", full.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty"), "{err}");
    let (code, _, _) = common::run(&["salvage", s, "-o", s], &[]);
    assert_eq!(code, 2);
}

#[test]
fn salvage_of_a_clean_capture_is_a_faithful_copy() {
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("copy");
    let rep = salvage(&fixture(CHURN), &o, &SalvageOptions::default()).unwrap();
    assert!(rep.copy_verifies, "{}", swarmsift::render::salvage::text(&rep));
    assert!(rep.dropped.is_empty(), "{:?}", rep.dropped);
    let a = load(&fixture(CHURN));
    let b = load(&o);
    assert_eq!(a.state, b.state);
    assert_eq!(a.wal.commit(), b.wal.commit());
    assert_eq!(a.wal.last_index(), b.wal.last_index());
    assert_eq!(a.snapshots.len(), b.snapshots.len());
    for f in ["certificates/swarm-node.key", "certificates/swarm-node.crt", "docker-state.json", "state.json"] {
        assert!(o.join(f).exists(), "{f} not copied");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(o.join("certificates/swarm-node.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn salvage_bridges_a_damaged_entry_and_keeps_the_rest() {
    let (_d, swarm) = unpack(CHURN);
    let clean = load(&swarm);
    let s = clean.snapshots.iter().map(|x| x.index).max().unwrap();
    let k = s + 5;
    let seg = corrupt::segments(&swarm).pop().unwrap();
    corrupt::flip_bit(&seg, entry_offset(&clean, k) + 60, 4);
    assert!(!verify::verify(&swarm, &VerifyOptions::default()).unwrap().ok);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("copy");
    let rep = salvage(&swarm, &o, &SalvageOptions::default()).unwrap();
    let v = serde_json::to_value(&rep).unwrap();
    assert_eq!(v["copy_verifies"], true, "{}", swarmsift::render::salvage::text(&rep));
    let lost: Vec<u64> = v["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["indexes"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap()))
        .collect();
    assert_eq!(lost, vec![k], "{v}");
    let b = load(&o);
    assert_eq!(b.wal.last_index(), clean.wal.last_index());
    assert_eq!(b.wal.commit(), clean.wal.commit());
    // Everything but what entry k touched is as in the clean capture.
    same_state(&clean.state, &b.state, &touched(&clean, k));
    let vb = verify::verify(&o, &VerifyOptions::default()).unwrap();
    assert!(
        vb.ok && vb.findings.iter().all(|f| f.severity == swarmsift::error::Severity::Info),
        "{}",
        swarmsift::render::verify::text(&vb)
    );
}

#[test]
fn salvage_recovers_a_record_whose_length_field_was_zeroed() {
    let (_d, swarm) = unpack(CHURN);
    let clean = load(&swarm);
    let k = clean.wal.last_index().unwrap() - 12;
    let seg = corrupt::segments(&swarm).pop().unwrap();
    corrupt::set_len_field(&seg, entry_offset(&clean, k), 0);
    let v = verify::verify(&swarm, &VerifyOptions::default()).unwrap();
    assert!(!v.ok);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("copy");
    let rep = salvage(&swarm, &o, &SalvageOptions::default()).unwrap();
    assert!(rep.copy_verifies, "{}", swarmsift::render::salvage::text(&rep));
    assert_eq!(rep.recovered_frames.len(), 1);
    assert!(rep.dropped.iter().all(|d| d.indexes.is_empty()), "{}", swarmsift::render::salvage::text(&rep));
    assert_eq!(load(&o).state, clean.state);
}

#[test]
fn salvage_cuts_a_torn_tail() {
    let (_d, swarm) = unpack(CHURN);
    let clean = load(&swarm);
    let k = clean.wal.last_index().unwrap() - 4;
    let seg = corrupt::segments(&swarm).pop().unwrap();
    corrupt::truncate_at(&seg, entry_offset(&clean, k) + 21);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("copy");
    let rep = salvage(&swarm, &o, &SalvageOptions::default()).unwrap();
    assert!(rep.copy_verifies, "{}", swarmsift::render::salvage::text(&rep));
    assert!(rep.dropped.iter().any(|d| d.what == "torn tail"), "{}", swarmsift::render::salvage::text(&rep));
    assert_eq!(rep.last_index, Some(k - 1));
    let b = load(&o);
    let at = b.wal.commit();
    assert!(at < k);
    let want = replay(&clean, &Point::Index(at), false).unwrap();
    assert_eq!(b.state, want.store);
}

#[test]
fn salvage_drops_a_damaged_snapshot_and_zeroed_sectors() {
    let (_d, swarm) = unpack(CHURN);
    let clean = load(&swarm);
    let snaps = corrupt::snapshots(&swarm);
    let newest = snaps.last().unwrap();
    let len = std::fs::metadata(newest).unwrap().len();
    corrupt::flip_bit(newest, len / 3, 1);
    let s_old =
        clean.snapshots.iter().map(|x| x.index).filter(|&i| i < clean.snapshots.last().unwrap().index).max().unwrap();
    let seg = corrupt::segments(&swarm).pop().unwrap();
    let k = s_old + 7;
    corrupt::zero_sector(&seg, entry_offset(&clean, k) + 64);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("copy");
    let rep = salvage(&swarm, &o, &SalvageOptions::default()).unwrap();
    let t = swarmsift::render::salvage::text(&rep);
    assert!(rep.copy_verifies, "{t}");
    assert!(
        rep.dropped.iter().any(|d| d.what == "snapshot"
            && d.file.as_deref().unwrap().ends_with(newest.file_name().unwrap().to_str().unwrap())),
        "{t}"
    );
    assert_eq!(rep.snapshots.len(), snaps.len() - 1);
    let lost: Vec<u64> = rep.dropped.iter().flat_map(|d| d.indexes.iter().copied()).collect();
    assert!(lost.contains(&k), "{t}");
    let b = load(&o);
    assert_eq!(b.wal.last_index(), clean.wal.last_index());
    let skip: BTreeSet<String> = lost.iter().flat_map(|&i| touched(&clean, i)).collect();
    same_state(&clean.state, &b.state, &skip);
}

#[test]
fn salvage_without_the_unlock_key_cuts_instead_of_bridging() {
    let (_d, swarm) = unpack("fixtures/autolock/swarm.tar.gz");
    let key = swarmsift::crypto::keys::UnlockKey::parse(&common::unlock_key("autolock").unwrap()).unwrap();
    let clean = Analysis::load(&swarm, &Options { unlock_key: Some(key.clone()), ..Default::default() }).unwrap();
    let s = clean.snapshots.iter().map(|x| x.index).max().unwrap();
    let last = clean.wal.last_index().unwrap();
    let k = s + (last - s) / 2;
    let seg = corrupt::segments(&swarm).pop().unwrap();
    corrupt::flip_bit(&seg, entry_offset(&clean, k) + 33, 6);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("nokey");
    let rep = salvage(&swarm, &o, &SalvageOptions::default()).unwrap();
    assert!(!rep.payloads_checked);
    let lost: Vec<u64> = rep.dropped.iter().flat_map(|d| d.indexes.iter().copied()).collect();
    assert_eq!(lost, (k..=last).collect::<Vec<_>>(), "{}", swarmsift::render::salvage::text(&rep));
    assert!(rep.copy_verifies, "{}", swarmsift::render::salvage::text(&rep));
    let o2 = out.path().join("withkey");
    let opts = SalvageOptions { unlock_key: Some(key.clone()), ..Default::default() };
    let rep = salvage(&swarm, &o2, &opts).unwrap();
    let lost: Vec<u64> = rep.dropped.iter().flat_map(|d| d.indexes.iter().copied()).collect();
    assert_eq!(lost, vec![k], "{}", swarmsift::render::salvage::text(&rep));
    assert!(rep.copy_verifies, "{}", swarmsift::render::salvage::text(&rep));
    // The copy keeps the encryption: the same unlock key opens it.
    let b = Analysis::load(&o2, &Options { unlock_key: Some(key), ..Default::default() }).unwrap();
    assert_eq!(b.wal.last_index(), Some(last));
    assert!(b.findings.iter().all(|f| f.code.as_str() != "entry.undecryptable"));
}

#[test]
fn salvage_puts_swapped_segments_back_in_order() {
    let (_d, swarm) = unpack("fixtures/big-wal/swarm.tar.gz");
    let clean = load(&swarm);
    let segs = corrupt::segments(&swarm);
    corrupt::swap_segments(&segs[0], &segs[1]);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().join("copy");
    let rep = salvage(&swarm, &o, &SalvageOptions::default()).unwrap();
    assert!(rep.copy_verifies, "{}", swarmsift::render::salvage::text(&rep));
    assert_eq!(rep.segments_reordered.len(), 2);
    let b = load(&o);
    assert_eq!(b.state, clean.state);
    let names: Vec<String> =
        corrupt::segments(&o).iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let want: Vec<String> = segs.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, want, "segment names follow etcd's rule again");
}

#[test]
fn managers_recommend_a_manager_with_every_committed_entry() {
    let ms: Vec<String> = (1..=3).map(|i| fixture(&format!("{TM}/manager{i}.tar.gz")).display().to_string()).collect();
    let analyses: Vec<Analysis> = ms.iter().map(|m| load(Path::new(m))).collect();
    let max_commit = analyses.iter().map(|a| a.wal.commit()).max().unwrap();
    let best: Vec<String> =
        (1..=3).filter(|i| analyses[i - 1].wal.commit() == max_commit).map(|i| format!("manager{i}")).collect();
    let paths: Vec<PathBuf> = ms.iter().map(PathBuf::from).collect();
    let rep = swarmsift::analyses::managers::compare(&paths, None, Default::default()).unwrap();
    assert_eq!(rep.problems, 0, "{}", swarmsift::render::managers::text(&rep));
    let v = serde_json::to_value(&rep).unwrap();
    assert_eq!(v["cluster_commit"], max_commit);
    let rec = v["recommendation"]["manager"].as_str().unwrap();
    assert!(best.iter().any(|b| b == rec), "{rec} not in {best:?}");
    assert!(v["recommendation"]["command"].as_str().unwrap().starts_with("docker swarm init --force-new-cluster"));
    let holders: Vec<&str> = v["holders"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    for b in &best {
        assert!(holders.contains(&b.as_str()));
    }
    // The killed leader lost what was committed after its own commit index.
    let m1 = &analyses[0];
    let l1 = v["losses"].as_array().unwrap().iter().find(|l| l["manager"] == "manager1").unwrap();
    let lost: Vec<u64> = l1["committed_lost"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    assert_eq!(lost, ((m1.wal.commit() + 1)..=max_commit).collect::<Vec<_>>());
    for m in v["managers"].as_array().unwrap() {
        for k in ["raft_id", "node_id", "addr", "term", "commit", "last_index", "last_term", "snapshot_index", "docker"]
        {
            assert!(m.get(k).is_some(), "{k}");
        }
    }
    assert!(swarmsift::render::managers::text(&rep).contains("RECOVERY"));
    if cli_wired() {
        let (code, out, _) = common::run(&["managers", &ms[0], &ms[1], &ms[2]], &[]);
        assert_eq!(code, 0);
        assert!(out.contains("RECOVERY"), "{out}");
        let (code, j) = json(&["managers", &ms[0], &ms[1], &ms[2], "--format", "json"]);
        assert_eq!(code, 0);
        assert_eq!(j["recommendation"]["manager"], v["recommendation"]["manager"]);
    }
}

#[test]
fn managers_explain_the_tocommit_panic() {
    explains_the_tocommit_panic(TM);
}

/// Docker 29.7.2 (etcd raft 3.6) still panics the same way after demote/restart/promote.
#[test]
fn managers_explain_the_tocommit_panic_of_docker_29() {
    explains_the_tocommit_panic("fixtures/modern-three-managers");
}

fn explains_the_tocommit_panic(tm: &str) {
    let m1 = fixture(&format!("{tm}/manager1.tar.gz"));
    let m2 = fixture(&format!("{tm}/manager2.tar.gz"));
    let m3 = fixture(&format!("{tm}/manager3-after-panic.tar.gz"));
    let rep = swarmsift::analyses::managers::compare(&[m1, m2.clone(), m3.clone()], None, Default::default()).unwrap();
    let panicked = load(&m3);
    let raft_id = panicked.member.as_ref().unwrap().raft_id;
    let ref_a = load(&m2);
    let added = ref_a
        .entries
        .iter()
        .find_map(|e| match &e.payload {
            Payload::ConfChange { change, raft_id: r, .. } if *r == raft_id && change == "ConfChangeAddNode" => {
                Some(e.index)
            }
            _ => None,
        })
        .unwrap();
    let b = rep.behind.iter().find(|b| b.manager == "manager3-after-panic").expect("explained");
    assert_eq!(b.last_index, 0);
    assert_eq!(b.added_at, Some(added));
    assert!(b.explanation.contains("tocommit(N) is out of range [lastIndex(0)]"), "{}", b.explanation);
    assert!(b.explanation.contains("29180"));
    // The N Docker printed lies within the bounds given.
    let md = std::fs::read_to_string(fixture(&format!("{tm}/scenario.md"))).unwrap();
    let n: u64 = md.split("tocommit(").nth(1).unwrap().split(')').next().unwrap().parse().unwrap();
    let (lo, hi) = b.tocommit_between.unwrap();
    assert!(lo <= n && n <= hi, "{n} not in {lo}-{hi}");
    assert!(rep.recommendation.as_ref().unwrap().manager != "manager3-after-panic");
}
