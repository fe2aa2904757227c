//! Specification: the final state decoded from a real capture equals what `docker inspect`
//! printed right before the engine stopped, object by object (IDs, `Version.Index`, task states,
//! node status and availability, service names and replica counts).
//!
//! The captures and truth files were recorded from real Docker engines by `fixtures/record.sh`.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use swarmsift::crypto::keys::UnlockKey;
use swarmsift::decode::object::{Kind, Object};
use swarmsift::pb::docker::swarmkit::v1 as api;
use swarmsift::replay::analysis::{Analysis, Options};

fn load(path: &Path, scenario: &str) -> Analysis {
    let unlock_key = common::unlock_key(scenario).map(|k| UnlockKey::parse(&k).expect("unlock key"));
    Analysis::load(path, &Options { unlock_key, ..Default::default() })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn truth_index(v: &Value) -> u64 {
    v["Version"]["Index"].as_u64().expect("Version.Index")
}

fn by_id<'a>(arr: &'a Value, key: &str) -> BTreeMap<String, &'a Value> {
    arr.as_array()
        .map(|a| a.iter().map(|o| (o[key].as_str().unwrap_or_default().to_string(), o)).collect())
        .unwrap_or_default()
}

use swarmsift::decode::docker_api::{availability, node_state, task_state};

/// Compare the state of `a` with one truth moment; returns a list of mismatches.
fn compare(a: &Analysis, t: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let st = &a.state;
    // Nodes: same set, same version, status and availability.
    let tn = by_id(&t["nodes"], "ID");
    let sn: BTreeSet<String> = st.iter(Kind::Node).map(|o| o.id().to_string()).collect();
    if sn != tn.keys().cloned().collect() {
        bad.push(format!("node IDs differ: decoded {sn:?}, truth {:?}", tn.keys().collect::<Vec<_>>()));
    }
    for (id, tv) in &tn {
        let Some(Object::Node(n)) = st.get(Kind::Node, id) else { continue };
        let o = Object::Node(n.clone());
        if o.version() != truth_index(tv) {
            bad.push(format!("node {id}: version {} vs truth {}", o.version(), truth_index(tv)));
        }
        let state = node_state(n.status.as_ref().map(|s| s.state).unwrap_or(0));
        if state != tv["Status"]["State"].as_str().unwrap_or("") {
            bad.push(format!("node {id}: state {state} vs truth {}", tv["Status"]["State"]));
        }
        let avail = availability(n.spec.as_ref().map(|s| s.availability).unwrap_or(0));
        if avail != tv["Spec"]["Availability"].as_str().unwrap_or("") {
            bad.push(format!("node {id}: availability {avail} vs truth {}", tv["Spec"]["Availability"]));
        }
    }
    // Services.
    let ts = by_id(&t["services"], "ID");
    let ss: BTreeSet<String> = st.iter(Kind::Service).map(|o| o.id().to_string()).collect();
    if ss != ts.keys().cloned().collect() {
        bad.push(format!("service IDs differ: decoded {ss:?}, truth {:?}", ts.keys().collect::<Vec<_>>()));
    }
    for (id, tv) in &ts {
        let Some(o @ Object::Service(s)) = st.get(Kind::Service, id) else { continue };
        if o.version() != truth_index(tv) {
            bad.push(format!("service {id}: version {} vs truth {}", o.version(), truth_index(tv)));
        }
        if o.name() != tv["Spec"]["Name"].as_str().unwrap_or("") {
            bad.push(format!("service {id}: name {} vs truth {}", o.name(), tv["Spec"]["Name"]));
        }
        let replicas = match s.spec.as_ref().and_then(|x| x.mode) {
            Some(api::service_spec::Mode::Replicated(r)) => Some(r.replicas),
            _ => None,
        };
        if replicas != tv["Spec"]["Mode"]["Replicated"]["Replicas"].as_u64() {
            bad.push(format!(
                "service {id}: replicas {replicas:?} vs truth {}",
                tv["Spec"]["Mode"]["Replicated"]["Replicas"]
            ));
        }
    }
    // Tasks: every truth task exists with the same version, state and desired state; every decoded
    // task of a listed service is in the truth.
    let tt = by_id(&t["tasks"], "ID");
    for (id, tv) in &tt {
        match st.get(Kind::Task, id) {
            Some(o @ Object::Task(task)) => {
                if o.version() != truth_index(tv) {
                    bad.push(format!("task {id}: version {} vs truth {}", o.version(), truth_index(tv)));
                }
                let s = task_state(task.status.as_ref().map(|s| s.state).unwrap_or(0));
                if s != tv["Status"]["State"].as_str().unwrap_or("") {
                    bad.push(format!("task {id}: state {s} vs truth {}", tv["Status"]["State"]));
                }
                let d = task_state(task.desired_state);
                if d != tv["DesiredState"].as_str().unwrap_or("") {
                    bad.push(format!("task {id}: desired {d} vs truth {}", tv["DesiredState"]));
                }
                if task.slot != tv["Slot"].as_u64().unwrap_or(0) {
                    bad.push(format!("task {id}: slot {} vs truth {}", task.slot, tv["Slot"]));
                }
            }
            _ => bad.push(format!("task {id} in truth is missing from the decoded state")),
        }
    }
    for o in st.iter(Kind::Task) {
        if let Object::Task(task) = o {
            if ts.contains_key(&task.service_id) && !tt.contains_key(&task.id) {
                bad.push(format!("decoded task {} of service {} is not in the truth", task.id, task.service_id));
            }
        }
    }
    // Networks: every swarm-scoped network; extras must be swarmkit's predefined local networks.
    let tw = by_id(&t["networks"], "Id");
    for id in tw.keys() {
        if st.get(Kind::Network, id).is_none() {
            bad.push(format!("network {id} missing"));
        }
    }
    for o in st.iter(Kind::Network) {
        if let Object::Network(n) = o {
            let predefined = n
                .spec
                .as_ref()
                .and_then(|s| s.annotations.as_ref())
                .is_some_and(|a| a.labels.get("com.docker.swarm.predefined").map(String::as_str) == Some("true"));
            if !tw.contains_key(&n.id) && !predefined {
                bad.push(format!("decoded network {} is not in the truth", n.id));
            }
        }
    }
    // Secrets and configs: same set and versions.
    for (kind, key) in [(Kind::Secret, "secrets"), (Kind::Config, "configs")] {
        let tv = by_id(&t[key], "ID");
        let sv: BTreeMap<String, u64> = st.iter(kind).map(|o| (o.id().to_string(), o.version())).collect();
        let tvv: BTreeMap<String, u64> = tv.iter().map(|(k, v)| (k.clone(), truth_index(v))).collect();
        if sv != tvv {
            bad.push(format!("{key} differ: decoded {sv:?}, truth {tvv:?}"));
        }
    }
    // The cluster object.
    if t["swarm"].is_object() {
        let cid = t["swarm"]["ID"].as_str().unwrap_or("");
        match st.get(Kind::Cluster, cid) {
            Some(o) if o.version() == truth_index(&t["swarm"]) => {}
            Some(o) => bad.push(format!("cluster version {} vs truth {}", o.version(), truth_index(&t["swarm"]))),
            None => bad.push(format!("cluster {cid} missing")),
        }
    }
    bad
}

fn check_final(scenario: &str, capture: &str) {
    let t = common::truth(scenario, "final.json");
    let tarball = common::scenario(scenario).join(capture);
    // Straight from the backup tarball, and from the unpacked directory: same answer.
    let from_tar = load(&tarball, scenario);
    let bad = compare(&from_tar, &t);
    assert!(bad.is_empty(), "{scenario}/{capture} (tarball) differs from docker inspect:\n{}", bad.join("\n"));
    let (_guard, dir) = common::unpack(&tarball);
    let from_dir = load(&dir, scenario);
    assert_eq!(from_dir.state, from_tar.state, "dir and tarball give different states");
    let from_raft = load(&dir.join("raft"), scenario);
    assert_eq!(from_raft.state, from_tar.state, "raft dir and swarm dir give different states");
    assert!(!from_tar.has_errors(), "unexpected error findings: {:#?}", from_tar.findings);
}

#[test]
fn churn_final_state_equals_docker_inspect() {
    check_final("churn", "swarm.tar.gz");
}

#[test]
fn autolock_final_state_equals_docker_inspect() {
    if !common::scenario("autolock").exists() {
        return;
    }
    check_final("autolock", "swarm.tar.gz");
}

#[test]
fn churn_every_snapshot_and_entry_decodes() {
    let a = load(&common::scenario("churn").join("swarm.tar.gz"), "churn");
    assert_eq!(a.snapshots.len(), 5, "KeepOldSnapshots 4 ⇒ five .snap files");
    assert!(a.snapshots.iter().all(|s| s.valid));
    assert!(a.entries.iter().all(|e| !matches!(
        e.payload,
        swarmsift::decode::entry::Payload::Undecryptable { .. } | swarmsift::decode::entry::Payload::Undecodable { .. }
    )));
    let hs = a.wal.hard_state.expect("hard state").0;
    assert_eq!(Some(hs.commit), a.wal.last_index(), "a stopped single manager has committed its whole log");
    assert_eq!(a.wal.first_index(), Some(1));
}

#[test]
fn the_comparison_can_fail() {
    // The final state must NOT match an earlier moment: proves `compare` looks at real differences.
    let a = load(&common::scenario("churn").join("swarm.tar.gz"), "churn");
    let early = common::truth("churn", "01-after-create.json");
    assert!(!compare(&a, &early).is_empty());
}

#[test]
fn big_wal_spanning_two_segments_equals_docker_inspect() {
    let a = load(&common::scenario("big-wal").join("swarm.tar.gz"), "big-wal");
    assert_eq!(a.wal.segments.len(), 2, "the WAL grew past one 64,000,000-byte segment");
    assert!(a.wal.segments[0].size > 64_000_000, "a closed segment is slightly over the segment size");
    assert_eq!(
        a.wal.segments[1].name_index,
        a.wal.segments[0].records.iter().filter(|r| r.rtype == 2).count() as u64 + 1
    );
    check_final("big-wal", "swarm.tar.gz");
}

/// The truth of three-managers was taken from the new leader after the old one was killed.
#[test]
fn three_managers_final_state_equals_docker_inspect_on_every_live_manager() {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(common::scenario("three-managers").join("meta.json")).unwrap())
            .unwrap();
    let killed = meta["killed_leader"].as_str().unwrap_or("manager1").to_string();
    for m in ["manager1", "manager2", "manager3"] {
        if m == killed {
            continue;
        }
        check_final("three-managers", &format!("{m}.tar.gz"));
    }
}

/// A swarm that lost quorum, recovered with `docker swarm init --force-new-cluster`.
#[test]
fn forced_new_cluster_final_state_equals_docker_inspect() {
    check_final("forced-new-cluster", "manager1.tar.gz");
}
