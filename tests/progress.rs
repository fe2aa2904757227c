//! Specification of progress (issue 14, build item 4):
//! - Every stage a load counts ends exactly at the total it declared: the WAL scan counts each
//!   segment's bytes once (it used to count them up to three times: `117.53 MiB/30.93 MiB`),
//!   the snapshot stage each payload and covered entry once, the entry stage each entry it
//!   decodes. On damaged input a stage may end short of its total, never past it.
//! - `state` shows progress while it reads its base snapshot and replays the entries, and
//!   `chart` while it computes (both replays, after the load): with `SWARMSIFT_TRACE=1` each
//!   stage's end is printed as `stage NAME: POSITION/TOTAL`; with `--no-progress` nothing counts.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;

use swarmsift::crypto::keys::UnlockKey;
use swarmsift::progress::{Bar, Stage};
use swarmsift::replay::analysis::{Analysis, Detail, NoSink, Options};

/// The stages of one load, and whether the input holds a snapshot file and a WAL entry.
fn stages(path: &std::path::Path, key: Option<String>, detail: Detail) -> (Vec<Stage>, bool, bool) {
    let unlock_key = key.map(|k| UnlockKey::parse(&k).unwrap());
    let bar = Bar::counting(true);
    let opts = Options { unlock_key, detail, progress: true, ..Default::default() };
    let a =
        Analysis::load_counted(path, &opts, &mut NoSink, &bar).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (bar.stages(), !a.snapshots.is_empty(), !a.wal.entries.is_empty())
}

#[test]
fn every_load_stage_ends_at_its_declared_total() {
    let captures = [
        ("churn", "swarm.tar.gz"),
        ("big-wal", "swarm.tar.gz"),
        ("autolock", "swarm.tar.gz"),
        ("modern-fips", "swarm.tar.gz"),
        ("three-managers", "manager1.tar.gz"),
        ("three-managers", "manager3-after-panic.tar.gz"),
    ];
    for (scenario, capture) in captures {
        let path = common::scenario(scenario).join(capture);
        for detail in [Detail::Structure, Detail::Entries, Detail::Notable, Detail::Check] {
            let (found, snapshots, entries) = stages(&path, common::unlock_key(scenario), detail);
            let what = format!("{scenario}/{capture} at {detail:?}");
            let names: Vec<&str> = found.iter().map(|s| s.name).collect();
            assert_eq!(names, ["scanning WAL", "reading snapshots", "decoding entries"], "{what}");
            for s in &found {
                assert_eq!(s.position, s.declared, "{what}: {s:?}");
            }
            assert!(found[0].declared > 0, "{what}: {found:?}");
            if detail != Detail::Structure {
                assert_eq!(found[2].declared > 0, entries, "{what}: {found:?}");
                assert_eq!(found[1].declared > 0, snapshots, "{what}: {found:?}");
            }
        }
    }
}

#[test]
fn a_damaged_copy_never_counts_past_a_total() {
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let segs = corrupt::segments(&swarm);
    let last = segs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    corrupt::zero_sector(&segs[0], 4096);
    corrupt::truncate_at(last, len / 2 + 3);
    for detail in [Detail::Structure, Detail::Entries, Detail::Check] {
        let (found, ..) = stages(&swarm, None, detail);
        assert_eq!(found.len(), 3, "{detail:?}: {found:?}");
        for s in &found {
            assert!(s.position <= s.declared, "{detail:?}: {s:?}");
        }
        assert_eq!(found[0].position, found[0].declared, "the scan reads every byte: {found:?}");
    }
}

/// The `stage NAME: POSITION/TOTAL` lines of a traced run.
fn traced(args: &[&str]) -> Vec<(String, u64, u64)> {
    let (code, _out, err) = common::run(args, &[("SWARMSIFT_TRACE", "1")]);
    assert!(code == 0 || code == 1, "{args:?}: exit {code}: {err}");
    err.lines()
        .filter_map(|l| l.split_once("] stage ").map(|(_, s)| s))
        .filter_map(|s| {
            let (name, counts) = s.rsplit_once(": ")?;
            let (p, d) = counts.split_once('/')?;
            Some((name.to_string(), p.parse().ok()?, d.parse().ok()?))
        })
        .collect()
}

#[test]
fn state_and_chart_show_progress_while_they_replay() {
    let churn = common::scenario("churn").join("swarm.tar.gz");
    let churn = churn.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let png = tmp.path().join("c.svg");
    let png = png.to_str().unwrap();
    let runs: [&[&str]; 4] = [
        &["state", churn, "--format", "json"],
        &["state", churn, "--at", "150", "--format", "json"],
        &["chart", "convergence", churn, "-o", png],
        &["chart", "tasks", churn, "-o", png],
    ];
    for args in runs {
        let found = traced(args);
        let replayed: Vec<_> = found.iter().filter(|(n, ..)| n == "replaying entries").collect();
        assert!(!replayed.is_empty(), "{args:?}: {found:?}");
        assert!(replayed.iter().any(|(_, _, d)| *d > 0), "{args:?}: {found:?}");
        for (name, p, d) in &found {
            assert!(p <= d, "{args:?}: stage {name}: {p}/{d}");
        }
        if args[0] == "state" {
            let base: Vec<_> = found.iter().filter(|(n, ..)| n == "reading base snapshot").collect();
            assert!(base.iter().any(|(_, p, d)| *d > 0 && p == d), "{args:?}: {found:?}");
            assert!(replayed.iter().all(|(_, p, d)| p == d), "{args:?}: {found:?}");
        }
    }
    let mut quiet = vec!["--no-progress"];
    quiet.extend(runs[0]);
    assert_eq!(traced(&quiet), [], "--no-progress counts nothing");
}
