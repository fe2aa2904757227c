//! One truth: every command that reports state gets it from the same replay engine, so on the
//! same input they all report the same final index and the same objects. Checked on every real
//! capture and on damaged copies of them (the corruption matrix's mutators), including a WAL
//! whose HardState records were all removed (the commit index is then unknown, and every
//! command says so the same way).
//!
//! The commands compared: the library's loads at each detail level (what `info`, `verify`,
//! `wal`, `history`, `timeline` build on), `replay` to the end (`state`, `diff`), the engine's
//! earliest-start walk (`history`, `timeline`, the charts), `archive` over the one input, and
//! from the binary `state`, `info`, `verify`, `archive --state last` and `diff PATH PATH`, each
//! as JSON.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use swarmsift::crypto::keys::UnlockKey;
use swarmsift::decode::object::Kind;
use swarmsift::replay::analysis::{Analysis, Detail, Options};
use swarmsift::replay::point::{Point, replay};
use swarmsift::replay::store::Store;

/// Kinds the commands print (state's JSON has these arrays; info and verify count them).
const KINDS: [Kind; 7] =
    [Kind::Node, Kind::Service, Kind::Task, Kind::Network, Kind::Secret, Kind::Config, Kind::Cluster];

/// What a command says the final state is: its index and, per kind, object ID → version.
#[derive(Debug, Clone, PartialEq)]
struct Said {
    index: u64,
    objects: BTreeMap<&'static str, BTreeMap<String, u64>>,
}

impl Said {
    fn of_store(index: u64, st: &Store) -> Said {
        let objects = KINDS
            .iter()
            .map(|k| (k.plural(), st.iter(*k).map(|o| (o.id().to_string(), o.version())).collect()))
            .collect();
        Said { index, objects }
    }
    fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.objects.iter().map(|(k, v)| (*k, v.len())).collect()
    }
}

/// The objects of a `state --format json` document (or `archive --state`'s).
fn of_state_json(v: &Value) -> Said {
    let index = v["index"].as_u64().unwrap_or_else(|| panic!("no index in {v}"));
    let objects = KINDS
        .iter()
        .map(|k| {
            let m = v[k.plural()]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|o| {
                            (
                                o["ID"].as_str().unwrap_or_default().to_string(),
                                o["Version"]["Index"].as_u64().unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (k.plural(), m)
        })
        .collect();
    Said { index, objects }
}

fn counts_of(v: &Value) -> BTreeMap<&'static str, usize> {
    KINDS.iter().map(|k| (k.plural(), v[k.plural()].as_u64().unwrap_or(0) as usize)).collect()
}

fn load(path: &Path, key: Option<&str>, detail: Detail) -> Analysis {
    let opts = Options { unlock_key: key.map(|k| UnlockKey::parse(k).unwrap()), detail, ..Default::default() };
    Analysis::load(path, &opts).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(args: &[&str], key: Option<&str>) -> Value {
    let env: Vec<(&str, &str)> = key.map(|k| vec![("SWARMSIFT_UNLOCK_KEY", k)]).unwrap_or_default();
    let (code, out, err) = common::run(args, &env);
    assert!(code == 0 || code == 1, "{args:?}: exit {code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// Every state-reporting command on one input: all must agree with the full load.
fn all_agree(label: &str, path: &Path, key: Option<&str>) {
    let p = path.to_str().unwrap();
    let full = load(path, key, Detail::Entries);
    let truth = Said::of_store(full.state_index, &full.state);
    let mut said: Vec<(&str, Said)> = Vec::new();
    for (name, d) in [("load notable (wal)", Detail::Notable), ("load check (info, verify)", Detail::Check)] {
        let a = load(path, key, d);
        said.push((name, Said::of_store(a.state_index, &a.state)));
    }
    let structure = load(path, key, Detail::Structure);
    let r = replay(&structure, &Point::Last, false).unwrap_or_else(|e| panic!("{label}: replay: {e}"));
    said.push(("replay to the end (state, diff)", Said::of_store(r.index, &r.store)));
    let w = swarmsift::replay::engine::walk(full.log(), false, |_| {}).unwrap();
    said.push(("earliest-start walk (history, timeline, charts)", Said::of_store(w.index, &w.store)));
    let opts = Options { unlock_key: key.map(|k| UnlockKey::parse(k).unwrap()), ..Default::default() };
    let ar = swarmsift::analyses::archive::load(&[PathBuf::from(path)], &opts).unwrap();
    said.push(("archive of this one input", Said::of_store(ar.merged.state_index, &ar.merged.state)));
    said.push(("cli state", of_state_json(&json(&["state", p, "--format", "json"], key))));
    said.push((
        "cli archive --state last",
        of_state_json(&json(&["archive", p, "--state", "last", "--format", "json"], key)),
    ));
    for (name, s) in &said {
        assert_eq!(s, &truth, "{label}: {name} disagrees with the full load");
    }
    // Commands that print the index and counts rather than every object.
    let info = json(&["info", p, "--format", "json"], key);
    assert_eq!(info["state_index"].as_u64(), Some(truth.index), "{label}: info's index");
    assert_eq!(counts_of(&info["objects"]), truth.counts(), "{label}: info's counts");
    let verify = json(&["verify", p, "--format", "json"], key);
    assert_eq!(verify["state"]["index"].as_u64(), Some(truth.index), "{label}: verify's index");
    assert_eq!(counts_of(&verify["state"]["objects"]), truth.counts(), "{label}: verify's counts");
    let diff = json(&["diff", p, p, "--format", "json"], key);
    for side in ["from", "to"] {
        assert_eq!(diff[side]["index"].as_u64(), Some(truth.index), "{label}: diff's {side} index: {diff}");
    }
    for what in ["created", "removed", "updated"] {
        assert_eq!(diff[what].as_array().map(|a| a.len()), Some(0), "{label}: diff of an input with itself: {what}");
    }
    // How the commit index was decided is said the same way by every command.
    let no_hs = full.wal.hard_state.is_none();
    let says = |v: &Value| v.to_string().contains("wal.no_hard_state");
    assert_eq!(says(&info["findings"]), no_hs, "{label}: info on the unknown commit");
    assert_eq!(says(&verify["findings"]), no_hs, "{label}: verify on the unknown commit");
    assert_eq!(
        json(&["state", p, "--format", "json"], key)["notes"].to_string().contains("HardState"),
        no_hs,
        "{label}: state on the unknown commit"
    );
}

#[test]
fn every_capture() {
    for (name, file) in [
        ("churn", "swarm.tar.gz"),
        ("autolock", "swarm.tar.gz"),
        ("three-managers", "manager1.tar.gz"),
        ("three-managers", "manager2.tar.gz"),
        ("three-managers", "manager3.tar.gz"),
        ("three-managers", "manager3-after-panic.tar.gz"),
        ("big-wal", "swarm.tar.gz"),
        ("modern-autolock", "swarm.tar.gz"),
        ("modern-fips", "swarm.tar.gz"),
        ("modern-three-managers", "manager1.tar.gz"),
        ("modern-three-managers", "manager2.tar.gz"),
        ("modern-three-managers", "manager3.tar.gz"),
        ("modern-three-managers", "manager3-after-panic.tar.gz"),
    ] {
        let key = common::unlock_key(name);
        let tarball = common::scenario(name).join(file);
        all_agree(&format!("{name}/{file}"), &tarball, key.as_deref());
    }
}

/// Every command that shows the state at the end of the log says the same cuts of it (the one
/// rule, `replay::point::log_cut`), each with its finding code, and exits 1 when there is one:
/// `state`, `diff PATH PATH` (both ends), `archive --state last` and the charts that draw the log
/// to its end. Without a cut, none says one.
fn cuts_said_alike(label: &str, path: &Path, key: Option<&str>) {
    let p = path.to_str().unwrap();
    let a = load(path, key, Detail::Entries);
    let end = a.wal.last_index().unwrap_or(0);
    let want: Vec<String> =
        swarmsift::replay::point::log_cut(&a, end).iter().map(|c| c.finding.code.as_str().to_string()).collect();
    let env: Vec<(&str, &str)> = key.map(|k| vec![("SWARMSIFT_UNLOCK_KEY", k)]).unwrap_or_default();
    let runs: [(&str, Vec<&str>, &[&str]); 5] = [
        ("state", vec!["state", p, "--format", "json"], &["notes"]),
        ("diff PATH PATH", vec!["diff", p, p, "--format", "json"], &["from", "to"]),
        ("archive --state last", vec!["archive", p, "--state", "last", "--format", "json"], &["notes"]),
        ("chart convergence", vec!["chart", "convergence", p, "--format", "json"], &["notes"]),
        ("chart tasks", vec!["chart", "tasks", p, "--format", "json"], &["notes"]),
    ];
    for (name, args, fields) in runs {
        let (code, out, err) = common::run(&args, &env);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{label}: {name}: {e}: {out}{err}"));
        for field in fields {
            let notes = &v[field];
            let notes = if *field == "notes" { notes.to_string() } else { notes["notes"].to_string() };
            for code in &want {
                assert!(notes.contains(&format!("[{code}]")), "{label}: {name} does not say the cut {code}: {notes}");
            }
            for phrase in ["readable log ends at damage", "scan read past", "backup is cut short", "has a hole"] {
                assert!(
                    !want.is_empty() || !notes.contains(phrase),
                    "{label}: {name} says a cut there is not: {notes}"
                );
            }
        }
        if !want.is_empty() {
            assert_eq!(code, 1, "{label}: {name} exits 1 on a cut log {want:?}");
        }
    }
}

/// A damaged copy of a capture, made by one mutator.
fn damaged(name: &str, what: &str, mutate: impl FnOnce(&Path)) {
    let (_guard, swarm) = common::unpack(&common::scenario(name).join("swarm.tar.gz"));
    mutate(&swarm);
    let key = common::unlock_key(name);
    all_agree(&format!("{name} with {what}"), &swarm, key.as_deref());
    cuts_said_alike(&format!("{name} with {what}"), &swarm, key.as_deref());
}

#[test]
fn without_any_hard_state() {
    damaged("churn", "every HardState removed", |s| corrupt::drop_records(s, swarmsift::format::wal::rtype::STATE));
    damaged("autolock", "every HardState removed", |s| corrupt::drop_records(s, swarmsift::format::wal::rtype::STATE));
    // The verdict names the unknown commit instead of "committed to 0".
    let (_g, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    corrupt::drop_records(&swarm, swarmsift::format::wal::rtype::STATE);
    let v = json(&["verify", swarm.to_str().unwrap(), "--format", "json"], None);
    let verdict = v["verdict"].as_str().unwrap();
    assert!(verdict.contains("commit index unknown"), "{verdict}");
    assert!(!verdict.contains("committed to 0"), "{verdict}");
}

/// The live entries of the last segment of a capture, as (offset, end, index).
fn last_entries(swarm: &Path) -> Vec<(u64, u64, u64)> {
    let segs = corrupt::segments(swarm);
    let seg = segs.last().unwrap();
    corrupt::records(seg, true)
        .iter()
        .filter(|r| r.rtype == swarmsift::format::wal::rtype::ENTRY)
        .map(|r| {
            use prost::Message;
            let e = swarmsift::pb::raftpb::Entry::decode(r.data.clone()).unwrap();
            (r.offset, r.end, e.index())
        })
        .collect()
}

#[test]
fn damaged_copies() {
    damaged("churn", "a bit flipped in an entry after the snapshot", |s| {
        let e = *last_entries(s).iter().find(|e| e.2 == 210).unwrap();
        let seg = corrupt::segments(s).pop().unwrap();
        corrupt::flip_bit(&seg, e.1 - 5, 3);
    });
    damaged("churn", "32 bytes overwritten inside an entry", |s| {
        let e = *last_entries(s).iter().find(|e| e.2 == 205).unwrap();
        let seg = corrupt::segments(s).pop().unwrap();
        let mut data = std::fs::read(&seg).unwrap();
        let at = (e.0 + (e.1 - e.0) / 2) as usize;
        data[at..at + 32].fill(0x5a);
        std::fs::write(&seg, data).unwrap();
    });
    damaged("churn", "a cut inside a record", |s| {
        let e = *last_entries(s).iter().find(|e| e.2 == 215).unwrap();
        let seg = corrupt::segments(s).pop().unwrap();
        corrupt::truncate_at(&seg, e.0 + 20);
    });
    damaged("churn", "a zeroed sector in the middle of the log", |s| {
        let e = *last_entries(s).iter().find(|e| e.2 == 150).unwrap();
        let seg = corrupt::segments(s).pop().unwrap();
        corrupt::zero_sector(&seg, e.0 + 16);
    });
    damaged("churn", "the newest snapshot deleted", |s| {
        corrupt::delete_snapshot(corrupt::snapshots(s).last().unwrap());
    });
    damaged("churn", "the newest snapshot damaged", |s| {
        let snap = corrupt::snapshots(s).pop().unwrap();
        let len = std::fs::metadata(&snap).unwrap().len();
        corrupt::flip_bit(&snap, len / 2, 1);
    });
    damaged("autolock", "the newest snapshot deleted", |s| {
        corrupt::delete_snapshot(corrupt::snapshots(s).last().unwrap());
    });
}
