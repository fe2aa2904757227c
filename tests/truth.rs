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
        let Some(ref o @ Object::Service(ref s)) = st.get(Kind::Service, id) else { continue };
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
            Some(ref o @ Object::Task(ref task)) => {
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

/// The truth of a three-manager scenario was taken from the new leader after the old one was
/// killed; every manager that was still running then must show it.
fn check_final_on_every_live_manager(scenario: &str) {
    let meta = common::meta(scenario);
    let killed = meta["killed_leader"].as_str().expect("meta.json killed_leader").to_string();
    let mut checked = 0;
    for m in ["manager1", "manager2", "manager3"] {
        if m == killed {
            continue;
        }
        check_final(scenario, &format!("{m}.tar.gz"));
        checked += 1;
    }
    assert_eq!(checked, 2, "{scenario}: two managers survive the kill");
}

#[test]
fn three_managers_final_state_equals_docker_inspect_on_every_live_manager() {
    check_final_on_every_live_manager("three-managers");
}

// ---- captures from Docker 29 (fixtures/record.sh modern-*)

#[test]
fn modern_autolock_final_state_equals_docker_inspect() {
    check_final("modern-autolock", "swarm.tar.gz");
}

#[test]
fn modern_three_managers_final_state_equals_docker_inspect_on_every_live_manager() {
    check_final_on_every_live_manager("modern-three-managers");
}

#[test]
fn modern_fips_final_state_equals_docker_inspect() {
    check_final("modern-fips", "swarm.tar.gz");
}

/// The FIPS-mode capture really is Fernet: every entry's and every snapshot's record says
/// algorithm 2, and they all decrypt (the final-state test above needs them).
#[test]
fn modern_fips_is_encrypted_with_fernet_throughout() {
    use swarmsift::crypto::{Algorithm, record_algorithm};
    let meta = common::meta("modern-fips");
    assert_eq!(meta["fips"], true);
    assert_eq!(meta["cipher"], "fernet");
    let a = load(&common::scenario("modern-fips").join("swarm.tar.gz"), "modern-fips");
    let with_data: Vec<_> = a.wal.entries.iter().filter(|e| !e.data.is_empty()).collect();
    assert!(with_data.len() > 100, "{} entries with data", with_data.len());
    for e in with_data {
        assert_eq!(record_algorithm(&e.data).ok(), Some(Algorithm::Fernet), "entry {}", e.index);
    }
    assert!(!a.snapshots.is_empty());
    assert!(a.snapshots.iter().all(|s| s.valid), "every snapshot decrypts and decodes");
    let (_guard, swarm) = common::unpack(&common::scenario("modern-fips").join("swarm.tar.gz"));
    let snapdir = swarm.join("raft/snap-v3-encrypted");
    let mut snaps = 0;
    for f in std::fs::read_dir(&snapdir).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        let data = bytes::Bytes::from(std::fs::read(f.path()).unwrap());
        let snap = swarmsift::format::snap::read_snap(&name, &name, &data, &|_| ());
        let payload = snap.payload.expect("snapshot payload");
        assert_eq!(record_algorithm(&payload).ok(), Some(Algorithm::Fernet), "{name}");
        snaps += 1;
    }
    assert_eq!(snaps, a.snapshots.len());
    // Autolock rotated the DEK right after init: the entries up to the rotation's snapshot (the
    // oldest kept) are under the retired DEK; every entry after it decrypts and decodes.
    let oldest = a.snapshots[0].index;
    for e in a.entries.iter().filter(|e| e.index > oldest) {
        assert!(
            !matches!(
                e.payload,
                swarmsift::decode::entry::Payload::Undecryptable { .. }
                    | swarmsift::decode::entry::Payload::Undecodable { .. }
            ),
            "entry {}",
            e.index
        );
    }
    // The cluster of a FIPS-mode manager is named "FIPS.<id>" (swarmkit's generateFIPSClusterID).
    let cid = meta["cluster_id"].as_str().unwrap();
    assert!(cid.starts_with("FIPS."), "{cid}");
    assert!(a.state.get(Kind::Cluster, cid).is_some());
}

/// `era()` (the `Docker era` line of `info`) names the engine range of every capture: from the
/// snapshot markers when there is one, else from the node's own engine version.
#[test]
fn docker_era_names_the_engine_range_of_every_capture() {
    const OLD: &str = "Docker 1.13 to 20.10 (snapshot markers without ConfState: etcd 3.0-3.3)";
    const NEW: &str = "Docker 23.0 or later (snapshot markers carry a ConfState: etcd 3.5+)";
    const OLD_NO_MARKER: &str =
        "Docker 1.13 to 20.10 (no snapshot marker to date the WAL; the node's engine is 20.x: etcd 3.0-3.3)";
    const NEW_NO_MARKER: &str =
        "Docker 23.0 or later (no snapshot marker to date the WAL; the node's engine is 29.x: etcd 3.5+)";
    let captures = [
        ("churn", "swarm.tar.gz", OLD),
        ("autolock", "swarm.tar.gz", OLD),
        ("three-managers", "manager2.tar.gz", OLD),
        ("big-wal", "swarm.tar.gz", OLD_NO_MARKER),
        ("modern-autolock", "swarm.tar.gz", NEW),
        ("modern-fips", "swarm.tar.gz", NEW),
        ("modern-three-managers", "manager1.tar.gz", NEW_NO_MARKER),
        ("modern-three-managers", "manager2.tar.gz", NEW),
        ("modern-three-managers", "manager3.tar.gz", NEW),
    ];
    for (scenario, capture, range) in captures {
        let a = load(&common::scenario(scenario).join(capture), scenario);
        let era = a.era();
        assert_eq!(era.first().map(String::as_str), Some(range), "{scenario}/{capture}: {era:?}");
        let version = common::meta(scenario)["engine_version"].as_str().unwrap().to_string();
        let own = format!("engine {version} (this node's own description in the store)");
        assert_eq!(era.get(1), Some(&own), "{scenario}/{capture}: {era:?}");
    }
    // A manager whose log was wiped has no node object of its own: nothing dates it.
    let wiped = "modern-three-managers";
    let a = load(&common::scenario(wiped).join("manager3-after-panic.tar.gz"), wiped);
    assert_eq!(a.era(), vec!["Docker 1.13 or later (wal-v3-encrypted)".to_string()]);
    // `info` prints the same line.
    let tarball = common::scenario("modern-three-managers").join("manager1.tar.gz");
    let (code, out, err) = common::run(&["info", tarball.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("Docker era:    {NEW_NO_MARKER}; engine 29.7.2")), "{out}");
}

/// A swarm that lost quorum, recovered with `docker swarm init --force-new-cluster`.
#[test]
fn forced_new_cluster_final_state_equals_docker_inspect() {
    check_final("forced-new-cluster", "manager1.tar.gz");
}
