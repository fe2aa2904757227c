//! `verify`'s "what Docker would do", held to what real Docker engines did. The golden file
//! `tests/golden/docker-outcomes.json` is written by `scripts/docker-predictions.sh` (run by hand,
//! as root, with a real engine): for each engine version and each damaged variant of the loopback
//! fixtures (`tests/common/variants.rs`), whether the engine started, repaired (and which files it
//! set aside as `.broken`), refused (with its error) or panicked (with its message), and the raft
//! state etcd logged when it started. This test builds the same variants again, runs
//! `swarmsift verify --engine-version <that version>` on each and checks, for every recorded
//! engine:
//! - the predicted outcome is the one the engine had, with its message and its `.broken` files;
//! - the verdict line says the same, and the exit code follows: 1 when the engine did not start,
//!   or came up without entries the directory holds (verify's state reaches past the engine's last
//!   index); 0 for the undamaged control;
//! - a finding names the damaged file and the frame offset or raft index of the damage;
//! - where the engine logged its raft state, verify's commit and last index are the same.
//!
//! Every mismatch is listed before the test fails.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;
#[path = "common/variants.rs"]
mod variants;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

fn golden() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/docker-outcomes.json");
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).expect("golden JSON")
}

fn base(p: &str) -> String {
    Path::new(p).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The engine's outcome class that verify's prediction amounts to, and the `.broken` files it
/// predicts (base names).
fn predicted(j: &Value) -> (&'static str, BTreeSet<String>) {
    let d = &j["docker"];
    let mut broken = BTreeSet::new();
    if let Some(f) = d["repair"]["file"].as_str() {
        broken.insert(format!("{}.broken", base(f)));
    }
    for b in d["snapshots_broken"].as_array().into_iter().flatten() {
        broken.insert(format!("{}.broken", base(b["file"].as_str().unwrap_or(""))));
    }
    let class = match d["outcome"].as_str().unwrap_or("") {
        "panics" => "panicked",
        "refuses" => "refused",
        "starts-locked" => "locked",
        "starts" | "repairs" | "new-raft-log" if !broken.is_empty() => "repaired",
        "starts" | "repairs" | "new-raft-log" => "started",
        other => panic!("unknown outcome {other:?}"),
    };
    (class, broken)
}

/// The part of a predicted message the engine prints: verify's consequence wording
/// ("refuses to start: ...") is its own.
/// When the consequence quotes Docker's words in backticks, those are the part.
fn core(m: &str) -> &str {
    if let Some((_, rest)) = m.split_once('`') {
        if let Some((quoted, _)) = rest.split_once('`') {
            return quoted;
        }
    }
    m.trim_start_matches("refuses to start: ").trim_start_matches("crashes at startup: ")
}

#[test]
fn predictions_match_the_real_engines() {
    let g = golden();
    let engines = g["engines"].as_object().expect("engines");
    assert!(!engines.is_empty(), "no engine recorded: run scripts/docker-predictions.sh");
    let all = variants::all();
    let names: BTreeSet<&str> = all.iter().map(|v| v.name).collect();
    let mut bad: Vec<String> = Vec::new();
    let mut runs = 0;
    for (version, e) in engines {
        let recorded = e["variants"].as_object().expect("variants");
        for k in recorded.keys() {
            if !names.contains(k.as_str()) {
                bad.push(format!("{version}/{k}: recorded, but no such variant in tests/common/variants.rs"));
            }
        }
        for v in &all {
            let Some(rec) = recorded.get(v.name) else {
                bad.push(format!("{version}/{}: not recorded (run scripts/docker-predictions.sh {})", v.name, v.name));
                continue;
            };
            let dir = tempfile::tempdir().unwrap();
            let (swarm, damage) = v.materialize(dir.path());
            let s = swarm.to_str().unwrap();
            let mut args = vec!["verify", s, "--engine-version", version, "--format", "json"];
            if rec["outcome"] == "locked" {
                // The engine starts locked, waiting for the unlock key. Without it nothing can be
                // checked, so verify refuses to judge (no key, no "OK"): exit 2, asking for the
                // key. Its structure-only check must still predict the locked start.
                let (code, out, err) = common::run(&args, &[]);
                if code != 2 || !out.is_empty() || !err.contains("autolock is on: give the unlock key") {
                    bad.push(format!("{version}/{}: without the key: exit {code}, {out}{err}", v.name));
                }
                args.push("--no-decrypt");
            }
            let (code, out, err) = common::run(&args, &[]);
            let j: Value =
                serde_json::from_str(&out).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {out}\n{err}", v.name));
            runs += 1;
            let mut miss = |what: String| bad.push(format!("{version}/{}: {what}", v.name));
            let (class, broken) = predicted(&j);
            let engine = rec["outcome"].as_str().unwrap();
            let message = rec["message"].as_str().unwrap_or("");
            let verdict = j["verdict"].as_str().unwrap_or("");
            let predicted_message = j["docker"]["message"].as_str().unwrap_or("");
            if class != engine {
                miss(format!("engine {engine} {message:?}; verify predicts {class} {predicted_message:?} ({verdict})"));
                continue;
            }
            match engine {
                "refused" | "panicked" => {
                    if predicted_message.is_empty() || !message.contains(core(predicted_message)) {
                        miss(format!("engine said {message:?}; verify predicts {predicted_message:?}"));
                    }
                    let word = if engine == "panicked" { "Docker would crash" } else { "Docker would refuse" };
                    if !verdict.contains(word) {
                        miss(format!("verdict does not say {word:?}: {verdict}"));
                    }
                    if code != 1 {
                        miss(format!("exit {code}, want 1"));
                    }
                }
                _ => {
                    let got: BTreeSet<String> =
                        rec["broken"].as_array().into_iter().flatten().map(|b| base(b.as_str().unwrap())).collect();
                    if got != broken {
                        miss(format!("engine set aside {got:?}; verify predicts {broken:?}"));
                    }
                    if verdict.contains("would refuse") || verdict.contains("would crash") {
                        miss(format!("the engine started; verdict: {verdict}"));
                    }
                    if let (Some(c), Some(l)) = (rec["raft"]["commit"].as_u64(), rec["raft"]["last_index"].as_u64()) {
                        let (pc, pl) = (j["docker"]["commit"].as_u64(), j["docker"]["last_index"].as_u64());
                        if (pc, pl) != (Some(c), Some(l)) {
                            miss(format!("engine's raft: commit {c}, last index {l}; verify: {pc:?}, {pl:?}"));
                        }
                    }
                    // The engine came up without entries that this directory holds (verify's state
                    // reaches them): data lost, which is damage (exit 1). The control exits 0.
                    let held = j["state"]["index"].as_u64().unwrap_or(0);
                    let lost = rec["raft"]["last_index"].as_u64().is_some_and(|l| l < held);
                    let want = if v.mutate.is_none() {
                        Some(0)
                    } else if lost {
                        Some(1)
                    } else {
                        None
                    };
                    if want.is_some_and(|w| w != code) {
                        miss(format!("exit {code}, want {want:?} (engine's last index {})", rec["raft"]["last_index"]));
                    }
                }
            }
            if v.mutate.is_none() && engine == "started" && code != 0 {
                miss(format!("undamaged control exits {code}"));
            }
            // The finding that explains the damage names its file and its offset or index.
            if let Some(file) = &damage.file {
                let file = corrupt::display(file);
                let hit = j["findings"].as_array().into_iter().flatten().any(|f| {
                    f["file"].as_str() == Some(file.as_str())
                        && damage.offset.is_none_or(|o| f["offset"].as_u64() == Some(o))
                        && (damage.offset.is_some() || damage.index.is_none_or(|i| f["index"].as_u64() == Some(i)))
                });
                if !hit {
                    miss(format!(
                        "no finding at {file} offset {:?} index {:?}: {}",
                        damage.offset,
                        damage.index,
                        serde_json::to_string(&j["findings"]).unwrap()
                    ));
                }
            }
        }
    }
    assert!(runs > 0);
    assert!(bad.is_empty(), "{} mismatches over {runs} recorded engine runs:\n{}", bad.len(), bad.join("\n"));
}

/// The miss, from the data alone: the node's own engine version (20.10.24+dfsg1, in its
/// node object) chooses etcd 3.3.12's decoder, which has no record size limit and panics in
/// `makeslice` on a length of `0x00FFFFFFFFFFFFF0`, as the real engine did. Told another engine
/// version (23.0: etcd 3.5.6), the prediction changes to the limit's refusal.
#[test]
fn the_engine_version_in_the_data_chooses_the_decoder() {
    let v = variants::all().into_iter().find(|v| v.name == "churn-huge-length-after-last-record").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (swarm, damage) = v.materialize(dir.path());
    let s = swarm.to_str().unwrap();
    let (code, out, _) = common::run(&["verify", s, "--format", "json"], &[]);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 1);
    assert_eq!(j["docker"]["flavor"], "etcd33", "{}", j["docker"]);
    assert_eq!(j["docker"]["outcome"], "panics", "{}", j["docker"]);
    assert_eq!(j["docker"]["message"], "panic: runtime error: makeslice: len out of range");
    assert!(j["verdict"].as_str().unwrap().starts_with("DAMAGED: Docker would crash"), "{}", j["verdict"]);
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["offset"].as_u64() == damage.offset)
        .unwrap_or_else(|| panic!("{}", j["findings"]));
    assert_eq!(f["file"].as_str(), Some(corrupt::display(damage.file.as_ref().unwrap()).as_str()));
    assert_eq!(f["consequence"], "crashes at startup: panic: runtime error: makeslice: len out of range");
    let (_, text, _) = common::run(&["verify", s], &[]);
    assert!(text.contains("Assuming: Docker 17.09-20.10 (etcd 3.2/3.3.12 WAL code: no limit"), "{text}");
    let golden = golden();
    assert_eq!(golden["engines"]["20.10.24+dfsg1"]["variants"][v.name]["outcome"], "panicked");
    let (code, out, _) = common::run(&["verify", s, "--engine-version", "23.0", "--format", "json"], &[]);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 1);
    assert_eq!(j["docker"]["outcome"], "refuses", "{}", j["docker"]);
    assert!(j["docker"]["message"].as_str().unwrap().contains("wal: max entry size limit exceeded"), "{}", j["docker"]);
}

/// etcd 3.6 came into moby with docker-v29.1.0 (29.0.x still vendors 3.5.16): its `wal.Open`
/// wraps the error for a WAL that does not reach back to the snapshot, as Docker 29.7.2 said on
/// the deleted first segment. 29.0 and 28 keep etcd 3.5's bare `wal: file not found`.
#[test]
fn etcd_36_wraps_the_wal_open_error_from_docker_29_1_on() {
    let v = variants::all().into_iter().find(|v| v.name == "big-wal-deleted-first-segment").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (swarm, _) = v.materialize(dir.path());
    let s = swarm.to_str().unwrap();
    let wrapped = "failed to open WAL: openAtIndex failed: [openAtIndex] selectWALFiles failed: wal: file not found which matches the snapshot index '0'";
    for (engine, flavor, message) in [
        ("29.7.2", "etcd36", wrapped),
        ("29.1.0", "etcd36", wrapped),
        ("29.0.4", "etcd3516", "failed to open WAL: wal: file not found"),
        ("28.5.2", "etcd3516", "failed to open WAL: wal: file not found"),
    ] {
        let (code, out, _) = common::run(&["verify", s, "--engine-version", engine, "--format", "json"], &[]);
        let j: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(code, 1, "{engine}");
        assert_eq!(j["docker"]["flavor"], flavor, "{engine}: {}", j["docker"]);
        assert_eq!(j["docker"]["outcome"], "refuses", "{engine}: {}", j["docker"]);
        assert_eq!(j["docker"]["message"], format!("can't initialize raft node: {message}"), "{engine}");
    }
    let g = golden();
    let rec = g["engines"]["29.7.2"]["variants"][v.name]["message"].as_str().unwrap();
    assert!(rec.ends_with(wrapped), "{rec}");
}
