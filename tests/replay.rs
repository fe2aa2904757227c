//! Specification of replay (`state --at`):
//! - Replaying the WAL from index 1 reproduces every snapshot the engine kept, exactly: the
//!   engine's own snapshots are the truth for the state at their index.
//! - At every index, replaying from the newest snapshot and from scratch give the same state.
//! - `state --at` reproduces each `docker inspect` moment the recorder took during a scenario.
//!   The comparison is sound while the engine keeps writing between two inspect calls: a truth
//!   moment was taken during [taken_at, taken_until]; every object it shows must have had exactly
//!   that version at some index inside the matching index window, and every object that existed
//!   through the whole window (and belongs to what was inspected) must be shown.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use swarmsift::crypto::keys::UnlockKey;
use swarmsift::decode::object::{Kind, Object};
use swarmsift::replay::analysis::{Analysis, Options};
use swarmsift::replay::engine::StateOnly;
use swarmsift::replay::point::{Base, Point, replay, replay_from};

fn load(scenario: &str, capture: &str) -> Analysis {
    let unlock_key = common::unlock_key(scenario).map(|k| UnlockKey::parse(&k).unwrap());
    let p = common::scenario(scenario).join(capture);
    Analysis::load(&p, &Options { unlock_key, ..Default::default() }).unwrap()
}

/// Every snapshot the engine kept is reproduced by replay: from index 1 (the WAL of these
/// captures still starts there) and, from the second on, from the snapshot before it.
///
/// After a raft DEK rotation (`modern-autolock`, `modern-fips`) nothing before the rotation's
/// own snapshot can be read: the entries up to it are under a DEK that swarmkit retired. That
/// snapshot is then the oldest one kept; the load must say so with one finding that covers
/// exactly the entries 1 to its index, and every later snapshot is reproduced from it.
fn every_kept_snapshot_is_reproduced(scenario: &str, capture: &str, min_snapshots: usize) {
    let a = load(scenario, capture);
    let what = format!("{scenario}/{capture}");
    assert!(a.snapshots.len() >= min_snapshots, "{what}: {} snapshots", a.snapshots.len());
    assert_eq!(a.wal.first_index(), Some(1), "{what}");
    let retired: Vec<_> = a.findings.iter().filter(|f| f.code.as_str() == "entry.undecryptable_in_snapshot").collect();
    assert!(retired.len() <= 1, "{what}: {retired:?}");
    for (i, s) in a.snapshots.iter().enumerate() {
        assert!(s.valid, "{what}: snapshot {} does not decode", s.file);
        let engine = replay_from(&a, &Point::Snapshot(s.file.clone()), false, Base::Auto).unwrap();
        if let Some(f) = retired.first() {
            if i == 0 {
                assert_eq!(f.index, Some(1), "{what}: {f:?}");
                let span = format!(
                    "{} entries between index 1 and {} are encrypted with a DEK that is gone",
                    s.index, s.index
                );
                assert!(f.message.contains(&span), "{what}: {} (oldest snapshot at {})", f.message, s.index);
                continue;
            }
        } else {
            let ours = replay_from(&a, &Point::Index(s.index), false, Base::Empty).unwrap();
            assert_eq!(ours.index, s.index);
            assert!(
                ours.store == engine.store,
                "{what}: replay from scratch differs from snapshot {} at {}",
                s.file,
                s.index
            );
            assert_eq!(ours.membership, engine.membership, "{what}: membership at {}", s.index);
        }
        if i > 0 {
            for base in [0, i - 1] {
                let ours = replay_from(&a, &Point::Index(s.index), false, Base::Snapshot(base)).unwrap();
                assert_eq!(ours.index, s.index);
                assert!(ours.store == engine.store, "{what}: from snapshot {base} to {}", s.file);
                assert_eq!(ours.membership, engine.membership, "{what}: membership at {}", s.index);
            }
        }
    }
}

#[test]
fn replay_from_index_1_reproduces_every_kept_snapshot() {
    every_kept_snapshot_is_reproduced("churn", "swarm.tar.gz", 2);
}

#[test]
fn replay_reproduces_every_kept_snapshot_of_the_docker_29_captures() {
    every_kept_snapshot_is_reproduced("modern-autolock", "swarm.tar.gz", 3);
    every_kept_snapshot_is_reproduced("modern-fips", "swarm.tar.gz", 3);
    // manager1 was killed (at index 94) before its first snapshot (interval 100): it has none.
    for m in ["manager2", "manager3"] {
        every_kept_snapshot_is_reproduced("modern-three-managers", &format!("{m}.tar.gz"), 1);
    }
}

#[test]
fn every_index_gives_the_same_state_from_scratch_and_from_snapshots() {
    let a = load("churn", "swarm.tar.gz");
    let last = a.wal.commit();
    for i in (1..=last).step_by(7).chain([last]) {
        let auto = replay(&a, &Point::Index(i), false).unwrap();
        let scratch = replay_from(&a, &Point::Index(i), false, Base::Empty).unwrap();
        assert_eq!(auto.index, i);
        assert!(auto.store == scratch.store, "state at {i} depends on the base");
    }
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// Objects of the inspected kinds in a store, as (kind, id) → version, limited to what `docker
/// inspect` lists: swarm-scoped networks, tasks of listed services.
fn inspected(st: &swarmsift::replay::store::Store, services: &BTreeSet<String>) -> BTreeMap<(Kind, String), u64> {
    let mut m = BTreeMap::new();
    for k in [Kind::Node, Kind::Service, Kind::Task, Kind::Network, Kind::Secret, Kind::Config] {
        for o in st.iter(k) {
            match o {
                Object::Task(t) if !services.contains(&t.service_id) => continue,
                Object::Network(n)
                    if n.spec
                        .as_ref()
                        .and_then(|s| s.annotations.as_ref())
                        .is_some_and(|a| a.labels.get("com.docker.swarm.predefined").is_some_and(|v| v == "true")) =>
                {
                    continue;
                }
                _ => {}
            }
            m.insert((k, o.id().to_string()), o.version());
        }
    }
    m
}

fn truth_objects(t: &Value) -> BTreeMap<(Kind, String), u64> {
    let mut m = BTreeMap::new();
    for (k, key, id) in [
        (Kind::Node, "nodes", "ID"),
        (Kind::Service, "services", "ID"),
        (Kind::Task, "tasks", "ID"),
        (Kind::Network, "networks", "Id"),
        (Kind::Secret, "secrets", "ID"),
        (Kind::Config, "configs", "ID"),
    ] {
        for o in t[key].as_array().unwrap() {
            // `docker network inspect` has no Version; networks are checked for presence only.
            let v = o["Version"]["Index"].as_u64().unwrap_or(0);
            m.insert((k, o[id].as_str().unwrap().to_string()), v);
        }
    }
    m
}

/// Check one truth moment; returns mismatches.
fn check_moment(a: &Analysis, t: &Value) -> Vec<String> {
    let slack = jiff::SignedDuration::from_secs(2);
    let from = ts(t["taken_at"].as_str().unwrap()) - slack;
    let until = ts(t["taken_until"].as_str().unwrap()) + slack;
    // The window's upper end may include entries past the on-disk HardState.commit: a leader
    // serves an entry as soon as it is committed in memory, and a manager killed right after
    // (three-managers' manager1) never persisted the HardState that says so.
    let lo = swarmsift::replay::point::resolve(a, &Point::Time(from), false).map(|x| x.0).unwrap_or(0);
    let hi = swarmsift::replay::point::resolve(a, &Point::Time(until), true).unwrap().0;
    let truth = truth_objects(t);
    let services: BTreeSet<String> =
        truth.keys().filter(|(k, _)| *k == Kind::Service).map(|(_, id)| id.clone()).collect();
    // Every (object, version) seen anywhere in the window, and objects present throughout.
    let mut seen: BTreeMap<(Kind, String), BTreeSet<u64>> = BTreeMap::new();
    let mut always: Option<BTreeSet<(Kind, String)>> = None;
    let (start, mut stepper) = swarmsift::replay::point::start(a, &Point::Index(lo), true, Base::Auto).unwrap();
    stepper.advance_to(start, &mut StateOnly);
    loop {
        let objs = inspected(&stepper.r.store, &services);
        for (k, v) in &objs {
            seen.entry(k.clone()).or_default().insert(*v);
        }
        let keys: BTreeSet<_> = objs.keys().cloned().collect();
        always = Some(match always {
            None => keys,
            Some(a) => a.intersection(&keys).cloned().collect(),
        });
        if stepper.r.index >= hi || stepper.step(&mut StateOnly).is_none() {
            break;
        }
    }
    let mut bad = Vec::new();
    for (key, v) in &truth {
        match seen.get(key) {
            None => bad.push(format!("{key:?} never exists in index window {lo}-{hi}")),
            Some(vs) if key.0 != Kind::Network && !vs.contains(v) => {
                bad.push(format!("{key:?} version {v} not seen in window {lo}-{hi} (saw {vs:?})"))
            }
            _ => {}
        }
    }
    for key in always.unwrap_or_default() {
        if !truth.contains_key(&key) {
            bad.push(format!("{key:?} exists throughout {lo}-{hi} but docker did not list it"));
        }
    }
    bad
}

fn check_scenario(scenario: &str, capture: &str) {
    let a = load(scenario, capture);
    let dir = common::scenario(scenario).join("truth");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 3, "at least three moments per scenario");
    for f in files {
        let t: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        if t["from_manager"].as_str().is_some_and(|m| !capture.starts_with(m) && capture != "swarm.tar.gz") {
            continue;
        }
        let bad = check_moment(&a, &t);
        assert!(bad.is_empty(), "{}: state --at differs from docker inspect:\n{}", f.display(), bad.join("\n"));
    }
}

#[test]
fn state_at_reproduces_every_inspect_moment_of_churn() {
    check_scenario("churn", "swarm.tar.gz");
}

#[test]
fn state_at_reproduces_every_inspect_moment_of_autolock() {
    check_scenario("autolock", "swarm.tar.gz");
}

#[test]
fn the_moment_check_can_fail() {
    let a = load("churn", "swarm.tar.gz");
    let mut t = common::truth("churn", "02-after-updates.json");
    t["services"][0]["Version"]["Index"] = Value::from(999_999);
    assert!(!check_moment(&a, &t).is_empty());
    let _ = Path::new("");
}

#[test]
fn state_at_reproduces_every_inspect_moment_of_big_wal() {
    check_scenario("big-wal", "swarm.tar.gz");
}

/// Each moment is checked against the capture of the manager it was taken from.
#[test]
fn state_at_reproduces_every_inspect_moment_of_three_managers() {
    for m in ["manager1", "manager2", "manager3"] {
        check_scenario_from("three-managers", &format!("{m}.tar.gz"), m);
    }
}

#[test]
fn state_at_reproduces_every_inspect_moment_of_modern_autolock() {
    check_scenario("modern-autolock", "swarm.tar.gz");
}

#[test]
fn state_at_reproduces_every_inspect_moment_of_modern_fips() {
    check_scenario("modern-fips", "swarm.tar.gz");
}

#[test]
fn state_at_reproduces_every_inspect_moment_of_modern_three_managers() {
    let mut checked = 0;
    for m in ["manager1", "manager2", "manager3"] {
        checked += check_scenario_from("modern-three-managers", &format!("{m}.tar.gz"), m);
    }
    let moments = std::fs::read_dir(common::scenario("modern-three-managers").join("truth")).unwrap().count();
    assert_eq!(checked, moments, "every moment was taken from one of the three captured managers");
}

/// Checks the moments taken from `manager` against its capture; returns how many there were.
fn check_scenario_from(scenario: &str, capture: &str, manager: &str) -> usize {
    let a = load(scenario, capture);
    let dir = common::scenario(scenario).join("truth");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let mut checked = 0;
    for f in files {
        let t: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        if t["from_manager"].as_str() != Some(manager) {
            continue;
        }
        let bad = check_moment(&a, &t);
        assert!(
            bad.is_empty(),
            "{} ({capture}): state --at differs from docker inspect:\n{}",
            f.display(),
            bad.join("\n")
        );
        checked += 1;
    }
    checked
}
