//! `advise` on the real captures, judged against the `docker inspect` truth recorded with them:
//! the cluster settings, the managers that run tasks, the manager count and placement of the
//! three-manager swarm, and the JSON shape (`{"advice": [...]}`, every item with a code, a
//! severity, evidence and sources).

mod common;

use serde_json::Value;
use std::collections::BTreeSet;

const CODES: [&str; 11] = [
    "managers.not_drained",
    "managers.count",
    "managers.placement",
    "raft.keep_old_snapshots",
    "raft.snapshot_interval",
    "orchestration.task_history",
    "nodes.count",
    "managers.cpu",
    "certificates.expiry",
    "raft.sizes",
    "quorum.lost",
];

fn advise(scenario: &str, file: &str) -> Vec<Value> {
    let p = common::scenario(scenario).join(file).display().to_string();
    let key = common::unlock_key(scenario);
    let env: Vec<(&str, &str)> = key.as_deref().map(|k| vec![("SWARMSIFT_UNLOCK_KEY", k)]).unwrap_or_default();
    let (code, out, err) = common::run(&["advise", &p, "--format", "json"], &env);
    assert_eq!(code, 0, "advise {p}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()), Some(vec!["advice".to_string()]));
    let items = v["advice"].as_array().unwrap().clone();
    let codes: Vec<&str> = items.iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(codes, CODES, "{p}: every item, in checklist order");
    for i in &items {
        assert!(["ok", "info", "warning", "critical"].contains(&i["severity"].as_str().unwrap()), "{i}");
        assert!(!i["judgement"].as_str().unwrap().is_empty(), "{i}");
        assert!(!i["sources"].as_array().unwrap().is_empty(), "{i}: no source");
        for s in i["sources"].as_array().unwrap() {
            assert!(["chapter", "docker-docs", "swarmkit"].contains(&s["from"].as_str().unwrap()), "{s}");
        }
    }
    items
}

fn item<'a>(items: &'a [Value], code: &str) -> &'a Value {
    items.iter().find(|i| i["code"] == code).unwrap()
}

fn sev(items: &[Value], code: &str) -> String {
    item(items, code)["severity"].as_str().unwrap().to_string()
}

/// Node IDs named in an item's evidence.
fn nodes_in(items: &[Value], code: &str) -> BTreeSet<String> {
    item(items, code)["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "node")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Managers that run tasks, by the truth: role manager, not drained, a running task on it.
fn busy_managers(truth: &Value) -> BTreeSet<String> {
    let tasks = truth["tasks"].as_array().unwrap();
    truth["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["Spec"]["Role"] == "manager" && n["Spec"]["Availability"] != "drain")
        .filter(|n| tasks.iter().any(|t| t["NodeID"] == n["ID"] && t["Status"]["State"] == "running"))
        .map(|n| n["ID"].as_str().unwrap().to_string())
        .collect()
}

/// The cluster settings in the truth and what the advice's evidence says of them.
fn settings_agree(items: &[Value], truth: &Value) {
    let raft = &truth["swarm"]["Spec"]["Raft"];
    let first = |code: &str| item(items, code)["evidence"][0]["detail"].as_str().unwrap().to_string();
    assert_eq!(first("raft.keep_old_snapshots"), format!("KeepOldSnapshots {}", raft["KeepOldSnapshots"]));
    assert_eq!(first("raft.snapshot_interval"), format!("SnapshotInterval {}", raft["SnapshotInterval"]));
    let hist = &truth["swarm"]["Spec"]["Orchestration"]["TaskHistoryRetentionLimit"];
    assert!(first("orchestration.task_history").starts_with(&format!("TaskHistoryRetentionLimit {hist};")));
    let keep = raft["KeepOldSnapshots"].as_u64().unwrap();
    assert_eq!(sev(items, "raft.keep_old_snapshots"), if keep > 0 { "warning" } else { "ok" });
    let interval = raft["SnapshotInterval"].as_u64().unwrap();
    assert_eq!(sev(items, "raft.snapshot_interval"), if interval == 10_000 { "ok" } else { "info" });
}

#[test]
fn churn_one_manager_running_tasks_and_kept_snapshots() {
    let items = advise("churn", "swarm.tar.gz");
    let truth = common::truth("churn", "final.json");
    settings_agree(&items, &truth);
    assert_eq!(sev(&items, "managers.count"), "warning");
    assert!(item(&items, "managers.count")["judgement"].as_str().unwrap().starts_with("1 manager"));
    assert_eq!(sev(&items, "managers.not_drained"), "warning");
    assert_eq!(nodes_in(&items, "managers.not_drained"), busy_managers(&truth));
    // The settings were changed after `swarm init`: the evidence names the entry that did it.
    let ev = item(&items, "raft.keep_old_snapshots")["evidence"].as_array().unwrap();
    assert!(
        ev.iter().any(|e| e["detail"] == "keep old snapshots changed from 0 to 4" && e["index"].as_u64().is_some()),
        "{ev:?}"
    );
    assert_eq!(sev(&items, "quorum.lost"), "ok");
    assert_eq!(sev(&items, "nodes.count"), "ok");
}

#[test]
fn three_managers_on_one_subnet_with_demotions_that_are_no_lost_quorum() {
    let truth = common::truth("three-managers", "final.json");
    for m in ["manager1", "manager2", "manager3"] {
        let items = advise("three-managers", &format!("{m}.tar.gz"));
        settings_agree(&items, &truth);
        assert_eq!(sev(&items, "managers.count"), "ok", "{m}");
        assert_eq!(item(&items, "managers.count")["judgement"], "3 managers, quorum 2, tolerates 1 failure");
        assert_eq!(nodes_in(&items, "managers.count").len(), 3);
        // Loopback: all three on 127.0.0.0/24, one network to lose.
        assert_eq!(sev(&items, "managers.placement"), "warning", "{m}");
        assert!(item(&items, "managers.placement")["judgement"].as_str().unwrap().contains("127.0.0.0/24"));
        // Two demotions took the membership to 2 and back, each after a role change: not a
        // forced new cluster.
        assert_eq!(sev(&items, "quorum.lost"), "ok", "{m}");
        assert_eq!(sev(&items, "managers.not_drained"), "warning", "{m}");
        assert_eq!(sev(&items, "certificates.expiry"), "ok", "{m}");
    }
    // manager3 is the one the truth was taken from (after the failover).
    let items = advise("three-managers", "manager3.tar.gz");
    assert_eq!(nodes_in(&items, "managers.not_drained"), busy_managers(&truth));
}

#[test]
fn autolock_and_big_wal() {
    let items = advise("autolock", "swarm.tar.gz");
    settings_agree(&items, &common::truth("autolock", "final.json"));
    assert_eq!(sev(&items, "raft.snapshot_interval"), "ok");
    let items = advise("big-wal", "swarm.tar.gz");
    settings_agree(&items, &common::truth("big-wal", "final.json"));
    // The largest entry is named with its index and size.
    let ev = &item(&items, "raft.sizes")["evidence"][0];
    assert!(ev["detail"].as_str().unwrap().starts_with("largest raft entry: "), "{ev}");
    assert!(ev["index"].as_u64().unwrap() > 0);
}

#[test]
fn the_text_form_lists_every_item_with_its_sources() {
    let p = common::scenario("churn").join("swarm.tar.gz").display().to_string();
    let (code, out, err) = common::run(&["advise", &p], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ADVICE for "), "{out}");
    for c in CODES {
        assert!(out.contains(&format!("] {c}: ")), "{c} missing:\n{out}");
    }
    assert!(out.contains("11 items: 0 critical, 3 warning, 2 info, 6 ok"), "{out}");
    assert!(out.contains("  source (chapter): keep managers drained"), "{out}");
}

#[test]
fn a_lost_quorum_recovered_with_force_new_cluster_is_found() {
    // fixtures/forced-new-cluster: three managers, two stopped (no quorum left), the survivor
    // recovered with `docker swarm init --force-new-cluster`.
    let items = advise("forced-new-cluster", "manager1.tar.gz");
    assert_eq!(sev(&items, "quorum.lost"), "warning");
    let ev = item(&items, "quorum.lost")["evidence"].as_array().unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let d = ev[0]["detail"].as_str().unwrap();
    assert!(d.contains("removed in a row with no demotion, leaving only") && d.ends_with(" of 3"), "{d}");
    // The evidence's index is the first of the removals the timeline shows.
    let p = common::scenario("forced-new-cluster").join("manager1.tar.gz").display().to_string();
    let (code, out, err) = common::run(&["timeline", &p, "--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    let tl: Value = serde_json::from_str(&out).unwrap();
    let removals: Vec<u64> = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["class"] == "membership" && e["text"].as_str().unwrap().starts_with("ConfChangeRemoveNode"))
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(removals.len(), 2, "{removals:?}");
    assert_eq!(ev[0]["index"].as_u64(), Some(removals[0]));
    assert_eq!(removals[1], removals[0] + 1, "consecutive entries");
    // One manager is left.
    assert_eq!(sev(&items, "managers.count"), "warning");
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(common::scenario("forced-new-cluster").join("meta.json")).unwrap(),
    )
    .unwrap();
    let survivor = meta["managers"]["manager1"]["node_id"].as_str().unwrap().to_string();
    assert_eq!(nodes_in(&items, "managers.count"), BTreeSet::from([survivor]));
}
