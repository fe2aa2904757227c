//! Specification of `history`, `diff` and `timeline` on the churn capture, whose scenario.md
//! lists what was done: services scaled, env added, image updated then rolled back, a failing
//! service, a removed service, a drain and back.

mod common;

use common::run;
use serde_json::Value;

const CHURN: &str = "fixtures/churn/swarm.tar.gz";

fn json(args: &[&str]) -> Value {
    let (code, out, err) = run(args, &[]);
    assert_eq!(code, 0, "{args:?}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn history_of_a_service_shows_scale_env_image_and_rollback() {
    let v = json(&["history", CHURN, "web", "--format", "json"]);
    assert_eq!(v["object"]["kind"], "service");
    let versions = v["versions"].as_array().unwrap();
    assert_eq!(versions[0]["action"], "create");
    let changes: Vec<(String, Value, Value)> = versions
        .iter()
        .flat_map(|x| x["changes"].as_array().unwrap().iter())
        .map(|c| (c["path"].as_str().unwrap().to_string(), c["old"].clone(), c["new"].clone()))
        .collect();
    let has = |p: &str, new: Value| changes.iter().any(|(path, _, n)| path == p && *n == new);
    assert!(has("Spec.Mode.Replicated.Replicas", Value::from(3)), "scaled to 3");
    assert!(has("Spec.TaskTemplate.ContainerSpec.Image", Value::from("bb:2")), "image update");
    assert!(has("Spec.TaskTemplate.ContainerSpec.Image", Value::from("bb:1")), "rollback");
    assert!(has("UpdateStatus.State", Value::from("rollback_completed")));
    // Env values are redacted unless asked.
    let text = serde_json::to_string(&v).unwrap();
    assert!(text.contains("FOO=<redacted>"), "env redacted");
    let shown = json(&["history", CHURN, "web", "--format", "json", "--show-secrets"]);
    assert!(!serde_json::to_string(&shown).unwrap().contains("FOO=<redacted>"));
    // Versions come in log order and carry their Version.Index.
    let idx: Vec<u64> = versions.iter().map(|x| x["index"].as_u64().unwrap()).collect();
    assert!(idx.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn history_of_a_task_walks_its_states() {
    let v = json(&["history", CHURN, "failer", "--tasks", "--format", "json"]);
    let states: Vec<String> = v["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == "task")
        .map(|x| x["object"]["Status"]["State"].as_str().unwrap_or("").to_string())
        .collect();
    for s in ["new", "pending", "assigned", "failed"] {
        assert!(states.iter().any(|x| x == s), "a task went through {s}: {states:?}");
    }
}

#[test]
fn diff_between_two_indexes_lists_created_removed_updated() {
    let v = json(&["diff", CHURN, "--from", "1", "--to", "last", "--format", "json"]);
    let created: Vec<&str> = v["created"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert!(created.contains(&"web") && created.contains(&"failer"), "{created:?}");
    // Nothing is "removed" relative to index 1 except objects that existed then.
    let v = json(&["diff", CHURN, "--from", "60", "--to", "last", "--format", "json"]);
    let removed: Vec<&str> = v["removed"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert!(removed.contains(&"tmp"), "service tmp was removed: {removed:?}");
    assert!(v["updated"].as_array().unwrap().iter().any(|u| u["kind"] == "node"));
    // A diff of an input with itself is empty.
    let same = json(&["diff", CHURN, CHURN, "--format", "json"]);
    assert_eq!(same["created"].as_array().unwrap().len() + same["removed"].as_array().unwrap().len(), 0);
    assert!(same["updated"].as_array().unwrap().is_empty());
}

#[test]
fn diff_of_two_managers_shows_what_one_lacks() {
    let v = json(&[
        "diff",
        "fixtures/three-managers/manager1.tar.gz",
        "fixtures/three-managers/manager2.tar.gz",
        "--format",
        "json",
    ]);
    // manager1 was killed before the failover changes: manager2 has more.
    assert!(!v["created"].as_array().unwrap().is_empty() || !v["updated"].as_array().unwrap().is_empty());
}

#[test]
fn timeline_has_elections_drain_rollback_failures_and_snapshots() {
    let v = json(&["timeline", CHURN, "--format", "json"]);
    let ev = v["events"].as_array().unwrap();
    let any = |class: &str, needle: &str| {
        ev.iter().any(|e| e["class"] == class && e["text"].as_str().unwrap().contains(needle))
    };
    assert!(any("election", "term 2 begins"));
    assert!(any("node", "availability: active -> drain"));
    assert!(any("node", "availability: drain -> active"));
    assert!(any("service", "rollback"));
    assert!(any("service", "service tmp removed"));
    assert!(any("task", "failed: task: non-zero exit (1)"));
    assert_eq!(
        ev.iter().filter(|e| e["class"] == "snapshot" && e["text"].as_str().unwrap().contains("is kept")).count(),
        5
    );
    let idx: Vec<u64> = ev.iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert!(idx.windows(2).all(|w| w[0] <= w[1]), "events in index order");
    // Filters.
    let f = json(&["timeline", CHURN, "--format", "json", "--state", "failed"]);
    assert!(f["events"].as_array().unwrap().iter().all(|e| e["class"] == "task"));
    assert_eq!(f["events"].as_array().unwrap().len(), 4);
}

#[test]
fn timeline_of_a_failover_shows_the_new_term() {
    let v = json(&["timeline", "fixtures/three-managers/manager2.tar.gz", "--format", "json"]);
    let ev = v["events"].as_array().unwrap();
    assert!(ev.iter().any(|e| e["class"] == "election" && e["term"].as_u64().unwrap() >= 3));
    assert!(ev.iter().any(|e| e["class"] == "membership"));
}

#[test]
fn state_filters_and_points() {
    let v = json(&["state", CHURN, "--format", "json", "--service", "web", "--kind", "task"]);
    assert!(v["tasks"].as_array().unwrap().iter().all(|t| t["ServiceID"] == v["tasks"][0]["ServiceID"]));
    let at = json(&["state", CHURN, "--format", "json", "--at", "50"]);
    assert_eq!(at["index"], 50);
    let snap = json(&["state", CHURN, "--format", "json", "--at-snapshot", "0000000000000002-0000000000000050.snap"]);
    assert_eq!(snap["index"], 80);
    assert_eq!(snap["base_snapshot"], "0000000000000002-0000000000000050.snap");
    let t = at["time"].as_str().unwrap().to_string();
    let by_time = json(&["state", CHURN, "--format", "json", "--at-time", &t]);
    assert!(by_time["index"].as_u64().unwrap() >= 50);
    let s = json(&["state", CHURN, "--format", "json", "--kind", "secret"]);
    assert_eq!(s["secrets"][0]["Spec"]["Data"], "<redacted>");
    let (code, out, _) = run(&["state", CHURN], &[]);
    assert_eq!(code, 0);
    for h in
        ["NODES", "SERVICES", "TASKS", "NETWORKS", "SECRETS", "CONFIGS", "CLUSTER", "RAFT MEMBERS", " \\_ failer.1"]
    {
        assert!(out.contains(h), "state text has {h}");
    }
}

/// Config payloads: `state --show-secrets` prints each config's `Spec.Data` as `docker config
/// inspect` did (the truth of the capture); without the flag every payload is `<redacted>`,
/// and the same configs are listed with the same versions. (The stores of a run without
/// `--show-secrets` keep only a digest of each payload.)
#[test]
fn config_payloads_are_shown_only_when_asked_and_then_exactly() {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string("fixtures/churn/truth/final.json").unwrap()).unwrap();
    // `docker config inspect` and `state --format json` give configs the same shape.
    let rows = |v: &Value| -> Vec<(String, u64, String)> {
        v["configs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["ID"].as_str().unwrap().to_string(),
                    c["Version"]["Index"].as_u64().unwrap(),
                    c["Spec"]["Data"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let want = rows(&truth);
    assert_eq!(want.len(), 2, "the churn capture has two configs");
    let mut shown = rows(&json(&["state", CHURN, "--format", "json", "--show-secrets"]));
    let mut want_sorted = want.clone();
    shown.sort();
    want_sorted.sort();
    assert_eq!(shown, want_sorted);
    let hidden = rows(&json(&["state", CHURN, "--format", "json"]));
    assert_eq!(hidden.len(), 2);
    for (id, version, data) in &hidden {
        assert_eq!(data, "<redacted>", "config {id}");
        assert!(want.iter().any(|(i, v, _)| i == id && v == version), "config {id} at version {version}");
    }
    // A config created between two points is a change in both modes.
    for extra in [&[][..], &["--show-secrets"][..]] {
        let mut args = vec!["diff", CHURN, "--from", "200", "--to", "last", "--format", "json", "--kind", "config"];
        args.extend_from_slice(extra);
        let d = json(&args);
        let created: Vec<&str> = d["created"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(created, vec!["cfg2"], "{extra:?}");
    }
}
