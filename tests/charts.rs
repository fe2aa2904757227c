//! Charts and archives on the real captures:
//! - golden SVGs: every chart renders byte-identically from a clean checkout on any machine
//!   (shipped font, fixed calibration, no paths or "now"); regenerate them with
//!   `UPDATE_GOLDEN=1 cargo test`;
//! - the numbers behind each chart match what `info`, `snapshots`, `state` and `timeline` say;
//! - `archive` orders, de-duplicates and validates several copies and merges them into one
//!   history that gives the same state as the newest copy.
//!
//! `CHART_DUMP=DIR cargo test --test charts dump_images` writes every chart as SVG and PNG into
//! DIR for a look.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use swarmsift::analyses::archive::{self, Archive};
use swarmsift::analyses::history;
use swarmsift::cli::chart::{ChartKind, Computed, compute};
use swarmsift::crypto::keys::UnlockKey;
use swarmsift::decode::object::Kind;
use swarmsift::render::chart::{convergence, recovery, snapshots, tasks};
use swarmsift::replay::analysis::{Analysis, Options};

/// The calibration golden tests use (snapshot 10 MB/s, 100k entries/s, WAL 20 MB/s).
const CAL: &str = "10000000,100000,20000000";
const SIZE: (u32, u32) = (1280, 720);

fn opts(scenario: &str) -> Options {
    let unlock_key = common::unlock_key(scenario).map(|k| UnlockKey::parse(&k).unwrap());
    Options { unlock_key, ..Default::default() }
}

fn archive_of(scenario: &str, captures: &[&str]) -> Archive {
    let paths: Vec<PathBuf> = captures.iter().map(|c| common::scenario(scenario).join(c)).collect();
    archive::load(&paths, &opts(scenario)).unwrap()
}

fn single(scenario: &str, capture: &str) -> Analysis {
    Analysis::load(&common::scenario(scenario).join(capture), &opts(scenario)).unwrap()
}

fn golden(case: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(case);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    if want != got {
        let first = want.lines().zip(got.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{case} differs from {} at line {}:\n  want: {:?}\n  got:  {:?}\n(UPDATE_GOLDEN=1 regenerates)",
            path.display(),
            first + 1,
            want.lines().nth(first).unwrap_or(""),
            got.lines().nth(first).unwrap_or("")
        );
    }
}

fn chart(kind: ChartKind, ar: &Archive) -> Computed {
    compute(kind, ar, (kind == ChartKind::Recovery).then_some(CAL)).unwrap()
}

#[test]
fn golden_svgs_of_the_churn_capture() {
    let ar = archive_of("churn", &["swarm.tar.gz"]);
    for (kind, name) in [
        (ChartKind::Recovery, "recovery"),
        (ChartKind::Snapshots, "snapshots"),
        (ChartKind::Tasks, "tasks"),
        (ChartKind::Convergence, "convergence"),
    ] {
        let c = chart(kind, &ar);
        let svg = c.svg(SIZE).unwrap();
        assert!(svg.starts_with("<svg"), "{name}");
        assert!(svg.contains("font-family=\"sans-serif\""), "{name}: the registered family");
        assert!(!svg.contains("/work") && !svg.contains("/tmp") && !svg.contains("fixtures"), "{name}: no paths");
        assert!(svg.contains("swarm.tar.gz"), "{name}: the input's file name is in the title");
        golden(&format!("chart-churn-{name}.svg"), &svg);
        if kind == ChartKind::Convergence {
            // The README shows this one.
            let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/chart-convergence.svg");
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&doc, &svg).unwrap();
            }
            assert_eq!(std::fs::read_to_string(&doc).unwrap(), svg, "docs/chart-convergence.svg is current");
        }
        // The same numbers give the same bytes.
        assert_eq!(chart(kind, &ar).svg(SIZE).unwrap(), svg, "{name} is deterministic");
    }
}

#[test]
fn golden_svgs_of_the_failover_across_three_managers() {
    let ar = archive_of("three-managers", &["manager1.tar.gz", "manager2.tar.gz", "manager3.tar.gz"]);
    golden("chart-three-managers-convergence.svg", &chart(ChartKind::Convergence, &ar).svg(SIZE).unwrap());
    golden("chart-three-managers-recovery.svg", &chart(ChartKind::Recovery, &ar).svg(SIZE).unwrap());
}

#[test]
fn incident_colours_have_a_legend() {
    for (sc, caps) in [
        ("churn", vec!["swarm.tar.gz"]),
        ("three-managers", vec!["manager1.tar.gz", "manager2.tar.gz", "manager3.tar.gz"]),
    ] {
        let ar = archive_of(sc, &caps);
        let c = convergence::compute(&ar.merged, ar.names.clone());
        let legend = convergence::incident_legend(&c.incidents);
        let svg = Computed::Convergence(c.clone()).svg(SIZE).unwrap();
        assert!(svg.contains("\nIncident lines and numbers\n</text>"), "{sc}");
        // Every colour an incident is drawn in has one legend entry, in that colour.
        let kinds: std::collections::BTreeSet<&str> = c.incidents.iter().map(|i| i.kind).collect();
        assert!(legend.len() >= 2 && legend.len() <= kinds.len(), "{sc}: {legend:?} for {kinds:?}");
        for (label, colour) in &legend {
            assert!(svg.contains(&format!("\n{label}\n</text>")), "{sc}: {label}");
            let hex = format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2);
            assert!(svg.contains(&hex), "{sc}: {label} in {hex}");
        }
    }
}

#[test]
fn overlapping_task_failures_are_counted_not_hidden() {
    let ar = archive_of("churn", &["swarm.tar.gz"]);
    let t = tasks::compute(&ar.merged, ar.names.clone());
    // The churn capture's failures come close together: a second apart or less, closer than a
    // marker is wide on the drawing's time axis.
    assert!(t.failures.len() >= 2);
    let svg = Computed::Tasks(t.clone()).svg(SIZE).unwrap();
    // Each count label stands for failures that would otherwise hide each other; together they
    // stay within the total, and every failure is under a marker.
    let counts: Vec<usize> = svg
        .split('×')
        .skip(1)
        .filter_map(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(!counts.is_empty() && counts.iter().all(|&n| n > 1), "{counts:?}");
    assert!(counts.iter().sum::<usize>() <= t.failures.len(), "{counts:?}");
    // Failure markers: triangles (three points) in the failed or rejected colour.
    let markers = svg
        .split("<polygon ")
        .skip(1)
        .filter_map(|p| p.split("/>").next())
        .filter(|p| p.contains("fill=\"#E13C3C\"") || p.contains("fill=\"#961414\""))
        .filter(|p| {
            p.split("points=\"")
                .nth(1)
                .is_some_and(|pts| pts.split('"').next().unwrap_or("").split_whitespace().count() == 3)
        })
        .count();
    let shown = markers - counts.len() + counts.iter().sum::<usize>();
    assert_eq!(shown, t.failures.len(), "{markers} markers, counts {counts:?}");
}

#[test]
fn the_recovery_legend_shows_the_calibration() {
    let ar = archive_of("churn", &["swarm.tar.gz"]);
    let svg = chart(ChartKind::Recovery, &ar).svg(SIZE).unwrap();
    assert!(svg.contains("calibration: snapshot load 10.0 MB/s, WAL replay 100,000 entries/s + 20.0 MB/s (fixed)"));
    // swarmsift's own replay speed, measured on this machine, and said to be its own.
    let m = recovery::Calibration::measure(&ar.merged);
    assert_eq!(m.source, "swarmsift's own replay speed on this machine, not Docker's");
    assert!(m.snapshot_bytes_per_s > 0.0 && m.entries_per_s > 0.0);
    let r = recovery::compute(&ar.merged, ar.names.clone(), m.clone());
    assert!(r.text().contains(&format!("--calibration {}", m.arg())), "the table gives the rates back as an option");
    assert!(recovery::Calibration::parse("1,2,3,4").is_err());
    assert!(recovery::Calibration::parse("0,2").is_err());
}

#[test]
fn recovery_matches_info_snapshots_and_timeline() {
    let a = single("churn", "swarm.tar.gz");
    let cal = recovery::Calibration::parse(CAL).unwrap();
    let r = recovery::compute(&a, vec!["swarm.tar.gz".into()], cal.clone());
    // One point per live WAL entry (info: wal.entries).
    assert_eq!(r.points.len(), a.wal.entries.len());
    assert_eq!(r.points.first().unwrap().index, a.wal.first_index().unwrap());
    assert_eq!(r.points.last().unwrap().index, a.wal.last_index().unwrap());
    // Snapshot marks are the kept files with the sizes `snapshots` prints.
    let marks: Vec<(u64, u64, bool)> = r.snapshots.iter().map(|s| (s.index, s.bytes, s.estimated)).collect();
    let files: Vec<(u64, u64, bool)> = a.snapshots.iter().map(|s| (s.index, s.bytes, false)).collect();
    assert_eq!(marks, files);
    assert_eq!(r.snapshots.iter().map(|s| s.index).collect::<Vec<_>>(), vec![40, 80, 120, 160, 200]);
    // Elections are the timeline's.
    let tl: Vec<(u64, u64)> =
        history::timeline(&a).iter().filter(|e| e.class == "election").map(|e| (e.at.index, e.at.term)).collect();
    assert_eq!(r.elections.iter().map(|e| (e.index, e.term)).collect::<Vec<_>>(), tl);
    // A sawtooth: the cost drops right after each snapshot and a restart there replays nothing.
    for s in &r.snapshots {
        let at = r.points.iter().find(|p| p.index == s.index).unwrap();
        assert_eq!((at.snapshot_index, at.entries, at.snapshot_bytes), (Some(s.index), 0, s.bytes));
        let before = r.points.iter().find(|p| p.index == s.index - 1).unwrap();
        assert!(before.total_s > at.total_s, "drop at snapshot {}", s.index);
    }
    // The end of the log: the newest snapshot plus every live entry after it.
    let last = r.points.last().unwrap();
    let after: Vec<_> = a.wal.entries.iter().filter(|e| e.index > 200).collect();
    assert_eq!(last.entries as usize, after.len());
    assert_eq!(last.wal_bytes, after.iter().map(|e| e.data.len() as u64).sum::<u64>());
    let (s, w) = cal.seconds(last.snapshot_bytes, last.entries, last.wal_bytes);
    assert!((last.total_s - (s + w)).abs() < 1e-8);
    assert_eq!(r.peaks.len(), 6, "one peak before each of the 5 snapshots, and the end");
}

#[test]
fn snapshot_sizes_are_estimated_from_the_state_within_two_percent() {
    // A snapshot whose file is gone is sized by encoding the state at its index; check the
    // estimate against every snapshot that is kept.
    let a = single("churn", "swarm.tar.gz");
    for s in &a.snapshots {
        let r = swarmsift::replay::point::replay(&a, &swarmsift::replay::point::Point::Index(s.index), false).unwrap();
        let plain = swarmsift::analyses::sizes::snapshot_plain_bytes(&r.store, &r.membership);
        let est = swarmsift::analyses::sizes::snap_file_bytes_estimate(plain, a.encrypted, s.voters.len());
        let err = (est as f64 - s.bytes as f64).abs() / s.bytes as f64;
        assert!(err < 0.02, "{}: estimated {est}, file {}", s.file, s.bytes);
    }
}

#[test]
fn snapshots_chart_matches_snapshots() {
    let ar = archive_of("churn", &["swarm.tar.gz"]);
    let Computed::Snapshots(c) = chart(ChartKind::Snapshots, &ar) else { panic!() };
    assert_eq!(c.bars.len(), ar.merged.snapshots.len());
    for (b, s) in c.bars.iter().zip(&ar.merged.snapshots) {
        assert_eq!((b.sizes.index, b.sizes.term, b.sizes.bytes), (s.index, s.term, s.bytes));
        for (k, n) in &s.objects {
            let got = b.sizes.kinds.iter().find(|x| x.kind == k.as_str()).map(|x| x.count).unwrap_or(0);
            assert_eq!(got, *n, "{} {k}", s.file);
        }
        let layers: u64 =
            b.sizes.kinds.iter().map(|k| k.bytes).sum::<u64>() + b.sizes.membership_bytes + b.sizes.framing_bytes;
        assert_eq!(layers, b.sizes.bytes, "the stack adds up to the file size");
    }
    let t = c.trend.as_ref().unwrap();
    assert!(t.bytes_per_1000_entries > 0.0, "the churn store grows");
    assert_eq!(c.largest_bytes, 13358);
    // JSON has the same numbers.
    let v = chart(ChartKind::Snapshots, &ar).json();
    assert_eq!(v["bars"][4]["bytes"], 13358);
    assert_eq!(v["bars"][4]["file"], "0000000000000002-00000000000000c8.snap");
}

fn task_groups(st: &swarmsift::replay::store::Store) -> BTreeMap<&'static str, u64> {
    let mut m: BTreeMap<&'static str, u64> = tasks::GROUPS.iter().map(|g| (g.0, 0)).collect();
    for t in st.tasks() {
        let s = swarmsift::decode::docker_api::task_state(t.status.as_ref().map(|x| x.state).unwrap_or(0));
        *m.get_mut(tasks::GROUPS[tasks::group_of(s)].0).unwrap() += 1;
    }
    m
}

#[test]
fn tasks_chart_matches_state_and_timeline() {
    for (sc, cap) in [("churn", "swarm.tar.gz"), ("three-managers", "manager3.tar.gz"), ("autolock", "swarm.tar.gz")] {
        let a = single(sc, cap);
        let c = tasks::compute(&a, vec![cap.into()]);
        // The last sample is the state `info` and `state` show.
        assert_eq!(c.last_counts(), task_groups(&a.state), "{sc}");
        assert_eq!(c.last_counts().values().sum::<u64>() as usize, a.state.count(Kind::Task), "{sc}");
        // Failures are the timeline's task failures.
        let tl: Vec<u64> = history::timeline(&a)
            .iter()
            .filter(|e| e.class == "task" && e.at.committed && e.at.overwritten_by_term.is_none())
            .map(|e| e.at.index)
            .collect();
        assert_eq!(c.failures.iter().map(|f| f.index).collect::<Vec<_>>(), tl, "{sc}");
        // Samples go forward in index and time.
        assert!(c.samples.windows(2).all(|w| w[0].index < w[1].index && w[0].secs <= w[1].secs));
    }
    let a = single("churn", "swarm.tar.gz");
    let c = tasks::compute(&a, vec![]);
    assert_eq!(c.failures.len(), 4, "failer: 3 restarts after the first failure (scenario step 20)");
    assert!(c.failures.iter().all(|f| f.name == "failer.1" && f.err == "task: non-zero exit (1)"));
}

#[test]
fn convergence_matches_state_and_timeline() {
    use swarmsift::pb::docker::swarmkit::v1 as api;
    for (sc, caps) in [
        ("churn", vec!["swarm.tar.gz"]),
        ("three-managers", vec!["manager3.tar.gz"]),
        ("three-managers", vec!["manager1.tar.gz", "manager2.tar.gz", "manager3.tar.gz"]),
        ("autolock", vec!["swarm.tar.gz"]),
    ] {
        let ar = archive_of(sc, &caps);
        let a = &ar.merged;
        let c = convergence::compute(a, ar.names.clone());
        // Final replicas are `docker service ls`'s: running tasks on nodes that are not down.
        let down: Vec<String> =
            a.state.nodes().filter(|n| n.status.as_ref().map(|s| s.state) == Some(1)).map(|n| n.id).collect();
        for s in a.state.services() {
            let name = swarmsift::decode::object::Object::Service(s.clone()).name();
            let (run, des, _) = swarmsift::render::state::replicas(&s, &a.state);
            let on_down = a
                .state
                .tasks()
                .filter(|t| t.service_id == s.id && down.contains(&t.node_id))
                .filter(|t| t.status.as_ref().map(|x| x.state) == Some(api::TaskState::Running as i32))
                .count() as u64;
            assert_eq!(c.last_replicas(&name), Some([run - on_down, des]), "{sc} {name}");
        }
        // Every incident is a timeline event at the same index.
        let tl = history::timeline(a);
        for i in &c.incidents {
            assert!(tl.iter().any(|e| e.at.index == i.index && i.text.starts_with(&e.text)), "{sc}: {i:?}");
            if let (Some(s), Some(r)) = (i.seconds, i.recovered_index) {
                assert!(s >= 0.0 && r >= i.index);
            }
        }
    }
    // Churn (scenario steps 14-16 and 22): each rolling update of web takes one task down and
    // back (update delay and container start: 10-20 s); the drain stops web and glob until the
    // node is active again.
    let ar = archive_of("churn", &["swarm.tar.gz"]);
    let c = convergence::compute(&ar.merged, ar.names.clone());
    let web: Vec<&convergence::Incident> =
        c.incidents.iter().filter(|i| i.kind == "service-update" && i.affected == ["web"]).collect();
    assert!(web.len() >= 4, "{web:?}");
    assert!(web.iter().filter(|i| i.seconds.is_some_and(|s| (10.0..20.0).contains(&s))).count() >= 3);
    let drain = c.incidents.iter().find(|i| i.kind == "node-drain").unwrap();
    assert_eq!(drain.affected, ["glob", "web"]);
    assert_eq!(drain.status, "recovered");
    let back = drain.recovered_time.as_deref().unwrap().parse::<jiff::Timestamp>().unwrap();
    // Recorded: drained at 11:24:16.9, active again at 11:24:19.4 (the drain took effect at
    // 11:24:02 in the log: the CLI waited for the web task to move).
    assert!(back > "2026-11-27T11:24:17Z".parse().unwrap() && back < "2026-11-27T11:24:21Z".parse().unwrap(), "{back}");
    // The unplaceable service never holds the others hostage: it was never converged.
    assert!(c.incidents.iter().all(|i| !i.affected.contains(&"mars".to_string())));
    // Bursts are one incident: mars was scaled 5 -> 9 -> 5 six times (step 26).
    assert!(c.incidents.iter().any(|i| i.kind == "service-update" && i.events == 12 && i.label.contains("mars")));
    // The failover: the leader's node goes down, its tasks stop counting, and come back.
    let ar = archive_of("three-managers", &["manager1.tar.gz", "manager2.tar.gz", "manager3.tar.gz"]);
    let c = convergence::compute(&ar.merged, ar.names.clone());
    assert!(c.incidents.iter().any(|i| i.kind == "election" && i.term == 3));
    let down = c.incidents.iter().rfind(|i| i.kind == "node-down").unwrap();
    assert_eq!(down.status, "recovered");
    assert!(down.affected.contains(&"tm-sleep".to_string()));
}

#[test]
fn archive_merges_a_kept_snapshots_dir_and_a_raft_dir_without_keys() {
    // A capture, a KeepOldSnapshots copy of two of its old snapshots (a bare dir, no keys), and
    // its raft dir alone (no certificates: keys come from the other copies).
    let (_t, swarm) = common::unpack(&common::scenario("churn").join("swarm.tar.gz"));
    let extra = tempfile::tempdir().unwrap();
    let snaps = extra.path().join("kept-snaps");
    std::fs::create_dir(&snaps).unwrap();
    let sd = swarm.join("raft/snap-v3-encrypted");
    for f in ["0000000000000002-0000000000000028.snap", "0000000000000002-0000000000000050.snap"] {
        std::fs::copy(sd.join(f), snaps.join(f)).unwrap();
    }
    let raft = extra.path().join("raft-copy");
    std::fs::create_dir_all(raft.join("wal-v3-encrypted")).unwrap();
    for e in std::fs::read_dir(swarm.join("raft/wal-v3-encrypted")).unwrap().flatten() {
        std::fs::copy(e.path(), raft.join("wal-v3-encrypted").join(e.file_name())).unwrap();
    }
    let tarball = common::scenario("churn").join("swarm.tar.gz");
    let ar = archive::load(&[snaps.clone(), tarball.clone(), raft.clone()], &Options::default()).unwrap();
    let r = &ar.report;
    assert_eq!(r.inputs.len(), 3);
    assert_eq!(r.inputs.last().unwrap().name, "swarm.tar.gz", "ordered by raft position: the full copy last");
    assert!(r.inputs.iter().any(|i| i.name == "raft-copy" && !i.notes.is_empty()), "keys borrowed");
    assert_eq!(r.snapshot_files, 7);
    assert_eq!(r.snapshots.len(), 5, "same term, index and CRC is one snapshot");
    assert!(r.snapshots.iter().all(|s| s.valid && !s.conflict), "the bare copies decrypt with the capture's keys");
    assert_eq!(r.snapshots.iter().filter(|s| s.found_in.len() == 2).count(), 2);
    assert_eq!((r.entries_read, r.entries_merged, r.overwritten), (440, 220, 0));
    assert_eq!(r.wal.len(), 1);
    assert_eq!((r.wal[0].first, r.wal[0].last), (1, 220));
    assert!(r.conflicts.is_empty() && !ar.has_errors());
    // The merged history is the capture's.
    let a = single("churn", "swarm.tar.gz");
    assert!(ar.merged.state == a.state);
    assert_eq!(ar.merged.state_index, a.state_index);
    assert_eq!(history::timeline(&ar.merged).len(), history::timeline(&a).len());
    // `chart snapshots` over the archive: every distinct snapshot once, with the input it is from.
    let Computed::Snapshots(c) = chart(ChartKind::Snapshots, &ar) else { panic!() };
    assert_eq!(c.bars.iter().map(|b| b.sizes.index).collect::<Vec<_>>(), vec![40, 80, 120, 160, 200]);
    assert!(c.bars.iter().all(|b| b.sizes.valid));
    // Listings.
    let text = swarmsift::render::archive::text(&ar);
    assert!(text.contains("SNAPSHOTS (5 distinct in 7 files)"), "{text}");
    let v = ar.json();
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 5);
    assert_eq!(v["inputs"][2]["name"], "swarm.tar.gz");
}

#[test]
fn archive_of_three_managers_is_one_log() {
    let ar = archive_of("three-managers", &["manager2.tar.gz", "manager1.tar.gz", "manager3.tar.gz"]);
    let r = &ar.report;
    assert_eq!(r.inputs[0].name, "manager1.tar.gz", "the killed leader's copy is the oldest (term 2)");
    assert_eq!(r.snapshots.len(), 1, "each manager's own encryption of the same snapshot is one snapshot");
    assert!(r.snapshots[0].reencrypted && r.snapshots[0].found_in.len() == 3);
    assert!(r.conflicts.is_empty(), "{:?}", r.conflicts);
    assert_eq!(r.entries_merged, 164);
    assert_eq!(r.commit, 164);
    let m3 = single("three-managers", "manager3.tar.gz");
    assert!(ar.merged.state == m3.state, "the merged state is the newest copy's");
    assert!(ar.merged.findings.iter().any(|f| f.code.as_str() == "archive.several_nodes"));
    // `state`/`diff` over the merged history.
    let before =
        swarmsift::replay::point::replay(&ar.merged, &swarmsift::replay::point::Point::Index(103), false).unwrap();
    let d = history::diff_stores(
        &before.store,
        &ar.merged.state,
        &swarmsift::decode::docker_api::Redaction::default(),
        Some(Kind::Service),
    );
    assert!(d.created.iter().any(|o| o.name == "tm-after"), "created after the failover");
}

#[test]
fn every_chart_renders_png_and_svg_files() {
    let ar = archive_of("autolock", &["swarm.tar.gz"]);
    let dir = tempfile::tempdir().unwrap();
    for kind in [ChartKind::Recovery, ChartKind::Convergence, ChartKind::Snapshots, ChartKind::Tasks] {
        let c = chart(kind, &ar);
        let png = dir.path().join(format!("{kind:?}.png"));
        c.write(&png, (800, 450)).unwrap();
        let b = std::fs::read(&png).unwrap();
        assert!(b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 2000, "{kind:?}");
        let svg = dir.path().join(format!("{kind:?}.svg"));
        c.write(&svg, SIZE).unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().contains("<text"));
        assert!(c.write(&dir.path().join("x.jpg"), SIZE).is_err(), "only .svg and .png");
    }
}

#[test]
fn size_forensics_of_the_churn_state() {
    let a = single("churn", "swarm.tar.gz");
    let f = swarmsift::analyses::sizes::forensics(&a.state, "final");
    assert_eq!(f.by_kind.iter().map(|k| k.bytes).sum::<u64>(), f.store_bytes);
    assert_eq!(f.by_kind.iter().find(|k| k.kind == "tasks").unwrap().count, a.state.count(Kind::Task));
    // cfg2 was created at the end and never used (step 28); cfg1 and sec1 are web's.
    let unref: Vec<&str> = f.unreferenced.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(unref, ["cfg2"]);
    assert_eq!(f.dead_history.limit, 3, "--task-history-limit 3");
    assert!(f.limits.iter().all(|l| !l.over));
    let names: Vec<&str> = f.by_service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"web") && names.contains(&"failer"));
    let text = swarmsift::render::sizes::forensics_text(&f);
    for s in [
        "SIZE FORENSICS",
        "BYTES BY SERVICE",
        "BYTES BY NODE",
        "LARGEST OBJECTS",
        "UNREFERENCED",
        "DEAD TASK HISTORY",
        "LIMITS",
    ] {
        assert!(text.contains(s), "{s}");
    }
    // The renderers `info` and `snapshots` can append.
    assert!(swarmsift::render::sizes::info_text(&a).contains("largest raft entry in the WAL"));
    let st = swarmsift::render::sizes::snapshots_text(&a);
    assert_eq!(st.lines().filter(|l| l.starts_with("0000000000000002-")).count(), 5);
    let v = swarmsift::analyses::sizes::snapshots_json(&a);
    assert_eq!(v[0]["bytes"], 8831);
}

#[test]
fn snapshots_chart_of_several_archives_keeps_the_source() {
    let ar = archive_of("three-managers", &["manager1.tar.gz", "manager3.tar.gz"]);
    let c = snapshots::compute(
        ar.names.clone(),
        ar.snapshot_sources.iter().cloned().zip(swarmsift::analyses::sizes::all_snapshot_sizes(&ar.merged)).collect(),
    );
    assert_eq!(c.bars.len(), 1);
    assert_eq!(c.bars[0].source, "manager1.tar.gz");
    assert!(c.text().contains("manager1.tar.gz, manager3.tar.gz"));
}

#[test]
fn the_commands_print_and_write() {
    use swarmsift::cli::chart::{ArchiveArgs, ChartArgs, InputArgs, NumbersFormat, run_archive_to, run_chart_to};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.svg");
    let input = InputArgs { unlock_key_file: None, no_mmap: false };
    let args = ChartArgs {
        kind: ChartKind::Tasks,
        paths: vec![common::scenario("churn").join("swarm.tar.gz")],
        output: Some(out.clone()),
        format: NumbersFormat::Json,
        calibration: None,
        size: "1000x600".into(),
        input: input.clone(),
    };
    let mut printed = Vec::new();
    assert_eq!(run_chart_to(&args, false, &mut printed).unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&printed).unwrap();
    assert_eq!(v["image"], out.display().to_string());
    assert_eq!(v["failures"].as_array().unwrap().len(), 4);
    assert!(std::fs::read_to_string(&out).unwrap().starts_with("<svg width=\"1000\" height=\"600\""));
    let bad = ChartArgs { kind: ChartKind::Snapshots, calibration: Some("1,2".into()), ..args.clone() };
    assert!(run_chart_to(&bad, false, &mut Vec::new()).is_err(), "--calibration is for recovery only");
    let bad = ChartArgs { output: Some(dir.path().join("t.gif")), ..args.clone() };
    assert!(run_chart_to(&bad, false, &mut Vec::new()).is_err());
    let a = ArchiveArgs {
        paths: vec![common::scenario("churn").join("swarm.tar.gz")],
        format: NumbersFormat::Text,
        state: Some("100".into()),
        diff: None,
        timeline: false,
        show_secrets: false,
        input,
    };
    let mut printed = Vec::new();
    assert_eq!(run_archive_to(&a, false, &mut printed).unwrap(), 0);
    assert!(String::from_utf8(printed).unwrap().starts_with("STATE at index 100"));
    let mut printed = Vec::new();
    let d = ArchiveArgs { state: None, diff: Some("40,last".into()), ..a.clone() };
    assert_eq!(run_archive_to(&d, false, &mut printed).unwrap(), 0);
    assert!(String::from_utf8(printed).unwrap().starts_with("DIFF index 40 -> index 220"));
    let bad = ArchiveArgs { state: None, diff: Some("40".into()), ..a.clone() };
    assert!(run_archive_to(&bad, false, &mut Vec::new()).is_err());
    let mut printed = Vec::new();
    let l = ArchiveArgs { state: None, format: NumbersFormat::Json, ..a.clone() };
    assert_eq!(run_archive_to(&l, false, &mut printed).unwrap(), 0);
    let v: serde_json::Value = serde_json::from_slice(&printed).unwrap();
    assert_eq!(v["inputs"][0]["name"], "swarm.tar.gz");
}

#[test]
fn dump_images() {
    let Some(out) = std::env::var_os("CHART_DUMP") else { return };
    let out = PathBuf::from(out);
    for (sc, caps) in [
        ("churn", vec!["swarm.tar.gz"]),
        ("autolock", vec!["swarm.tar.gz"]),
        ("three-managers", vec!["manager1.tar.gz", "manager2.tar.gz", "manager3.tar.gz"]),
    ] {
        let ar = archive_of(sc, &caps);
        for k in [ChartKind::Recovery, ChartKind::Convergence, ChartKind::Snapshots, ChartKind::Tasks] {
            let c = compute(k, &ar, None).unwrap();
            let name = format!("{sc}-{k:?}").to_lowercase();
            c.write(&out.join(format!("{name}.png")), SIZE).unwrap();
            c.write(&out.join(format!("{name}.svg")), SIZE).unwrap();
        }
    }
}
