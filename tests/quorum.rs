//! Quorum and manager placement on the real captures: `state` (text, JSON, NDJSON, at any
//! index), `info`, `managers` and `timeline` say the same thing, and it matches the raft
//! members and the `docker inspect` truth recorded with the three-manager capture.

mod common;

use serde_json::{Value, json};

fn path(scenario: &str, file: &str) -> String {
    common::scenario(scenario).join(file).display().to_string()
}

fn sift(args: &[&str]) -> String {
    let (code, out, err) = common::run(args, &[]);
    assert_eq!(code, 0, "swarmsift {args:?}: {err}");
    out
}

fn json_of(args: &[&str]) -> Value {
    serde_json::from_str(&sift(args)).unwrap()
}

#[test]
fn state_info_and_managers_give_the_quorum_of_the_raft_members() {
    let m1 = path("three-managers", "manager1.tar.gz");
    let end = json_of(&["state", &m1, "--format", "json"]);
    assert_eq!(end["quorum"], json!({"managers": 3, "quorum": 2, "tolerates": 1}));
    assert_eq!(end["membership"]["members"].as_array().map(|m| m.len()), Some(3), "{}", end["membership"]);
    // The truth: the managers `docker node ls` listed at the end of the recording.
    let truth = common::truth("three-managers", "final.json");
    // (manager1 was killed: down and unreachable, but still a raft member, so still counted.)
    let mut want: Vec<String> = truth["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["ManagerStatus"]["Addr"].as_str().map(String::from))
        .collect();
    let mut got: Vec<String> = end["topology"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["managers"].as_array().unwrap().iter().map(|m| m["addr"].as_str().unwrap().to_string()))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // All three on loopback: one subnet, which the lose-one-group check flags.
    assert_eq!(end["topology"]["layout"], "3(1) = 3");
    assert_eq!(end["topology"]["survives_losing_any_group"], false);
    assert_eq!(end["topology"]["groups"][0]["subnet"], "127.0.0.0/24");
    let info = json_of(&["info", &m1, "--format", "json"]);
    assert_eq!(info["quorum"], end["quorum"]);
    assert_eq!(info["topology"], end["topology"]);
    let paths: Vec<String> =
        ["manager1", "manager2", "manager3"].iter().map(|m| path("three-managers", &format!("{m}.tar.gz"))).collect();
    let mut args = vec!["managers"];
    args.extend(paths.iter().map(|s| s.as_str()));
    args.extend(["--format", "json"]);
    let rep = json_of(&args);
    assert_eq!(rep["quorum"], end["quorum"]);
    assert_eq!(rep["topology"]["layout"], "3(1) = 3");
    let text = sift(&["state", &m1]);
    assert!(text.contains("\nQUORUM\n  3 managers, quorum 2, tolerates 1 failure\n"), "{text}");
    assert!(text.contains("all 3 managers are on 127.0.0.0/24"), "{text}");
    // NDJSON's header record carries it too.
    let nd = sift(&["state", &m1, "--format", "ndjson"]);
    let header: Value = serde_json::from_str(nd.lines().next().unwrap()).unwrap();
    assert_eq!(header["quorum"], end["quorum"]);
    // One manager: no failure tolerated.
    let churn = json_of(&["state", &path("churn", "swarm.tar.gz"), "--format", "json"]);
    assert_eq!(churn["quorum"], json!({"managers": 1, "quorum": 1, "tolerates": 0}));
}

#[test]
fn every_quorum_event_of_the_timeline_is_the_state_at_its_index() {
    for m in ["manager1", "manager2", "manager3"] {
        let p = path("three-managers", &format!("{m}.tar.gz"));
        let tl = json_of(&["timeline", &p, "--format", "json"]);
        let events: Vec<&Value> = tl["events"].as_array().unwrap().iter().filter(|e| e["class"] == "quorum").collect();
        // The recording: 1 -> 2 -> 3, demote (2), promote (3), demote (2), rejoin (3).
        let counts: Vec<String> = events
            .iter()
            .filter_map(|e| {
                e["text"].as_str().unwrap().strip_prefix("managers ").map(|t| t.split(':').next().unwrap().to_string())
            })
            .collect();
        assert_eq!(counts, ["1", "1 -> 2", "2 -> 3", "3 -> 2", "2 -> 3", "3 -> 2", "2 -> 3"], "{m}");
        let below =
            events.iter().filter(|e| e["text"].as_str().unwrap().starts_with("below a safe manager count")).count();
        assert_eq!(below, 2, "{m}: the two demotions left 2 managers");
        for e in events {
            let i = e["index"].as_u64().unwrap();
            let s = json_of(&["state", &p, "--at", &i.to_string(), "--format", "json"]);
            let n = s["quorum"]["managers"].as_u64().unwrap();
            let text = e["text"].as_str().unwrap();
            if let Some(t) = text.strip_prefix("managers ") {
                let now: u64 = t.split(':').next().unwrap().rsplit(' ').next().unwrap().parse().unwrap();
                assert_eq!(now, n, "{m} at {i}: {text}");
                assert!(
                    text.contains(&format!("quorum {}", s["quorum"]["quorum"])),
                    "{m} at {i}: {text} vs {}",
                    s["quorum"]
                );
            }
        }
    }
}

#[test]
fn a_forced_new_cluster_takes_the_quorum_from_3_to_1() {
    let p = path("forced-new-cluster", "manager1.tar.gz");
    let before = common::truth("forced-new-cluster", "01-before-loss.json");
    let managers = before["nodes"].as_array().unwrap().iter().filter(|n| n["Spec"]["Role"] == "manager").count();
    assert_eq!(managers, 3);
    let end = json_of(&["state", &p, "--format", "json"]);
    assert_eq!(end["quorum"], json!({"managers": 1, "quorum": 1, "tolerates": 0}));
    let tl = json_of(&["timeline", &p, "--format", "json"]);
    let texts: Vec<&str> = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["class"] == "quorum")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"managers 3 -> 2: quorum 2, tolerates no failure"), "{texts:?}");
    assert!(texts.contains(&"managers 2 -> 1: quorum 1, tolerates no failure (quorum was 2)"), "{texts:?}");
    assert!(texts.iter().any(|t| t.starts_with("below a safe manager count: 2 managers")), "{texts:?}");
}
