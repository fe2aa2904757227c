//! The property of issue 11 over the whole corruption matrix: every command's headline verdict
//! (its verdict line, its exit code, its DOCKER column, its VALID column) agrees with its own
//! findings and their consequences. Every named mutator (tests/common/corrupt.rs) is applied to
//! every capture it fits, and `verify`, `info`, `snapshots`, `wal` and `managers` are run on the
//! result as a user would run them. Offsets and indexes come from a clean analysis of each
//! capture, never hardcoded.

mod common;
#[path = "common/corrupt.rs"]
mod corrupt;

use serde_json::Value;
use std::path::{Path, PathBuf};
use swarmsift::replay::analysis::{Analysis, Options};

/// A capture of the matrix: scenario and file.
const CAPTURES: &[(&str, &str)] = &[
    ("churn", "swarm.tar.gz"),
    ("autolock", "swarm.tar.gz"),
    ("three-managers", "manager1.tar.gz"),
    ("modern-three-managers", "manager2.tar.gz"),
];

/// Facts of the clean capture the mutators aim with.
struct Clean {
    /// (index, frame offset, data length) of every live entry, in the last segment.
    entries: Vec<(u64, u64, usize)>,
    newest_snapshot: u64,
}

impl Clean {
    fn of(swarm: &Path, key: Option<&str>) -> Clean {
        let unlock_key = key.map(|k| swarmsift::crypto::keys::UnlockKey::parse(k).unwrap());
        let a = Analysis::load(swarm, &Options { unlock_key, ..Default::default() }).unwrap();
        let last = a.wal.segments.len() - 1;
        Clean {
            entries: a
                .wal
                .entries
                .iter()
                .filter(|e| e.seg == last)
                .map(|e| (e.index, e.offset, e.data.len()))
                .collect(),
            newest_snapshot: a.snapshots.iter().map(|s| s.index).max().unwrap_or(0),
        }
    }
    /// An entry after the newest snapshot (the middle one of them), else the middle entry.
    fn after_snapshot(&self) -> (u64, u64, usize) {
        let after: Vec<_> = self.entries.iter().filter(|e| e.0 > self.newest_snapshot).collect();
        *after.get(after.len() / 2).copied().unwrap_or(&self.entries[self.entries.len() / 2])
    }
    /// An entry the newest snapshot covers, if the last segment holds one.
    fn under_snapshot(&self) -> Option<(u64, u64, usize)> {
        let under: Vec<_> = self.entries.iter().filter(|e| e.0 < self.newest_snapshot).collect();
        under.get(under.len() / 2).map(|e| **e)
    }
}

type Mutator = fn(&Path, &Clean) -> bool;

fn last_seg(s: &Path) -> PathBuf {
    corrupt::segments(s).pop().unwrap()
}

/// The matrix: (name, mutator). A mutator returns false when it does not fit the capture.
const MUTATORS: &[(&str, Mutator)] = &[
    ("clean", |_, _| true),
    ("flip a bit in an entry after the snapshot", |s, c| {
        let (_, off, len) = c.after_snapshot();
        corrupt::flip_bit(&last_seg(s), off + 8 + len as u64 / 2, 3);
        true
    }),
    ("zero the sector of an entry after the snapshot", |s, c| {
        let (_, off, _) = c.after_snapshot();
        corrupt::zero_sector(&last_seg(s), off + 8);
        true
    }),
    ("a copy cut short inside an entry", |s, c| {
        let (_, off, len) = c.after_snapshot();
        corrupt::truncate_at(&last_seg(s), off + 8 + len as u64 / 2);
        true
    }),
    ("an absurd length field", |s, c| {
        let (_, off, _) = c.after_snapshot();
        corrupt::set_len_field(&last_seg(s), off, 0x00FF_FFFF_FFFF_FFF0);
        true
    }),
    ("32 bytes overwritten in an entry after the snapshot", |s, c| {
        let (_, off, len) = c.after_snapshot();
        corrupt::overwrite_bytes(&last_seg(s), off + 8 + len as u64 / 2, 32);
        true
    }),
    ("32 bytes overwritten in an entry under the snapshot", |s, c| {
        let Some((_, off, len)) = c.under_snapshot() else { return false };
        corrupt::overwrite_bytes(&last_seg(s), off + 8 + len as u64 / 2, 32);
        true
    }),
    ("the newest snapshot deleted", |s, _| {
        let Some(n) = corrupt::snapshots(s).pop() else { return false };
        corrupt::delete_snapshot(&n);
        true
    }),
    ("a middle snapshot deleted", |s, _| {
        let snaps = corrupt::snapshots(s);
        if snaps.len() < 3 {
            return false;
        }
        corrupt::delete_snapshot(&snaps[snaps.len() / 2]);
        true
    }),
    ("a bit flipped in the newest snapshot", |s, _| {
        let Some(n) = corrupt::snapshots(s).pop() else { return false };
        let len = std::fs::metadata(&n).unwrap().len();
        corrupt::flip_bit(&n, len / 2, 5);
        true
    }),
    ("the DEK headers stripped", |s, _| {
        corrupt::strip_dek_headers(s);
        true
    }),
    ("every HardState removed", |s, _| {
        corrupt::drop_records(s, swarmsift::format::wal::rtype::STATE);
        true
    }),
    ("an expired certificate", |s, _| {
        corrupt::expire_certificate(s);
        true
    }),
    ("the raft log wiped", |s, _| {
        corrupt::empty_raft_log(s);
        true
    }),
    ("every WAL segment deleted", |s, _| {
        for g in corrupt::segments(s) {
            corrupt::delete_segment(&g);
        }
        true
    }),
];

fn run(args: &[&str], key: Option<&str>) -> (i32, String, String) {
    let env: Vec<(&str, &str)> = key.map(|k| vec![("SWARMSIFT_UNLOCK_KEY", k)]).unwrap_or_default();
    common::run(args, &env)
}

fn json(args: &[&str], key: Option<&str>, what: &str) -> (i32, Value) {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let (code, out, err) = run(&a, key);
    assert!(code == 0 || code == 1, "{what}: {args:?} could not run (exit {code}): {err}");
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{what}: {args:?}: not JSON ({e}): {out}\n{err}"));
    (code, v)
}

fn errors(findings: &Value) -> Vec<&Value> {
    findings.as_array().unwrap().iter().filter(|f| f["severity"] == "error").collect()
}

fn stops(f: &Value) -> bool {
    let c = f["consequence"].as_str().unwrap_or("");
    c.starts_with("refuses to start") || c.starts_with("crashes at startup")
}

/// `verify`: its verdict line, `ok`, `docker.outcome` and exit code against its findings.
fn verify_agrees(what: &str, code: i32, v: &Value) {
    let verdict = v["verdict"].as_str().unwrap();
    let errs = errors(&v["findings"]);
    let outcome = v["docker"]["outcome"].as_str().unwrap();
    assert_eq!(code, i32::from(!errs.is_empty()), "{what}: exit {code} with {} error findings: {verdict}", errs.len());
    assert_eq!(v["ok"], errs.is_empty(), "{what}");
    if errs.is_empty() {
        assert!(verdict.starts_with("OK: ") || verdict.starts_with("BACKUP OK: "), "{what}: {verdict}");
    } else {
        assert!(verdict.starts_with("DAMAGED: "), "{what}: {verdict}");
        let n = errs.len();
        assert!(verdict.contains(&format!("({n} error finding{}", if n == 1 { "" } else { "s" })), "{what}: {verdict}");
    }
    if let Some(f) = errs.iter().find(|f| stops(f)) {
        assert!(matches!(outcome, "refuses" | "panics"), "{what}: outcome {outcome} next to {f}");
        assert!(!verdict.contains("start normally"), "{what}: {verdict} next to {f}");
        assert!(verdict.contains("refuse") || verdict.contains("crash"), "{what}: {verdict} next to {f}");
    }
    match outcome {
        "refuses" | "panics" => {
            assert!(verdict.contains("refuse") || verdict.contains("crash"), "{what}: {outcome}: {verdict}");
            assert!(!errs.is_empty(), "{what}: Docker {outcome} but no error finding: {verdict}");
        }
        "starts" => assert!(
            verdict.contains("start normally")
                || verdict.contains("snapshot archive")
                || verdict.contains("Docker would start, but without"),
            "{what}: {verdict}"
        ),
        "repairs" => assert!(verdict.contains("repair the tail"), "{what}: {verdict}"),
        "starts-locked" => assert!(verdict.contains("start locked"), "{what}: {verdict}"),
        "new-raft-log" => assert!(verdict.contains("new, empty raft log"), "{what}: {verdict}"),
        o => panic!("{what}: unknown outcome {o}"),
    }
    // No consequence says Docker stops while the verdict has it start.
    if matches!(outcome, "starts" | "repairs" | "starts-locked" | "new-raft-log") {
        let stop = v["findings"].as_array().unwrap().iter().find(|f| stops(f) && f["severity"] == "error");
        assert!(stop.is_none(), "{what}: outcome {outcome} next to {}", stop.unwrap());
    }
    let undecryptable = v["findings"].as_array().unwrap().iter().any(|f| {
        matches!(f["code"].as_str(), Some("entry.undecryptable" | "entry.damaged_in_snapshot" | "key.no_match"))
    });
    if undecryptable {
        assert!(!verdict.contains("every entry decrypts"), "{what}: {verdict}");
    }
    if verdict.contains("every entry decrypts") {
        assert_eq!(v["key_access"], "available", "{what}: {verdict}");
    }
}

/// Everything the matrix checks on one (mutated) input.
fn check(what: &str, input: &str, key: Option<&str>) {
    let (vc, v) = json(&["verify", input], key, what);
    verify_agrees(what, vc, &v);
    // Without a usable raft DEK the commands that show payloads cannot run: exit 2, and they say
    // what is missing (never an "OK" over payloads nobody checked).
    if !matches!(v["key_access"].as_str(), Some("available" | "not-encrypted")) {
        for cmd in ["info", "snapshots", "wal"] {
            let (code, out, err) = run(&[cmd, input], key);
            assert!(code == 2 && out.is_empty() && err.contains("could not check"), "{what}: {cmd}: {code} {err}");
        }
        return check_managers(what, input, key, &v);
    }
    // info: exit 1 exactly when its findings hold an error.
    let (ic, i) = json(&["info", input], key, what);
    assert_eq!(ic, i32::from(!errors(&i["findings"]).is_empty()), "{what}: info exit {ic}: {:#}", i["findings"]);
    // snapshots: exit 1 exactly when a file is not valid, and each such file says why.
    let (sc, s) = json(&["snapshots", input], key, what);
    let snaps = s["snapshots"].as_array().unwrap();
    let invalid: Vec<&Value> = snaps.iter().filter(|x| x["valid"] == false).collect();
    assert_eq!(sc, i32::from(!invalid.is_empty()), "{what}: snapshots exit {sc}: {s:#}");
    for x in &invalid {
        assert!(x["problem"].is_string(), "{what}: an invalid snapshot with no reason: {x}");
        let file = format!("/{}", x["file"].as_str().unwrap());
        assert!(
            errors(&i["findings"]).iter().any(|f| f["file"].as_str().is_some_and(|p| p.ends_with(&file))),
            "{what}: snapshot {file} is not valid, but no error finding names it: {:#}",
            i["findings"]
        );
    }
    // wal: the same load's findings as info, the same exit.
    let (wc, _, werr) = run(&["wal", input, "--format", "json"], key);
    assert_eq!(wc, ic, "{what}: wal exit {wc}, info exit {ic}: {werr}");
    check_managers(what, input, key, &v);
}

/// `managers` of this one input: its DOCKER column is verify's outcome, and it is recommended
/// only when Docker starts from it.
fn check_managers(what: &str, input: &str, key: Option<&str>, v: &Value) {
    let (mc, m) = json(&["managers", input], key, what);
    let me = &m["managers"][0];
    assert_eq!(me["docker"], v["docker"]["outcome"], "{what}: managers {} vs verify {}", me["docker"], v["verdict"]);
    let startable = matches!(v["docker"]["outcome"].as_str(), Some("starts" | "repairs" | "starts-locked"));
    if !startable {
        assert!(m["recommendation"].is_null(), "{what}: {} recommended: {}", me["docker"], m["recommendation"]);
    }
    if let Some(l) = m["losses"].as_array().and_then(|l| l.first()) {
        assert_eq!(l["startable"], startable, "{what}: {l}");
    }
    assert_eq!(mc, i32::from(m["recommendation"].is_null() || m["problems"] != 0), "{what}: managers exit {mc}");
}

fn matrix(scenario: &str, capture: &str) {
    let tarball = common::scenario(scenario).join(capture);
    let key = common::unlock_key(scenario);
    let key = key.as_deref();
    let mut ran = 0;
    for (name, m) in MUTATORS {
        let (_d, swarm) = common::unpack(&tarball);
        let clean = Clean::of(&swarm, key);
        if !m(&swarm, &clean) {
            continue;
        }
        check(&format!("{scenario}/{capture}, {name}"), swarm.to_str().unwrap(), key);
        ran += 1;
    }
    // The backup itself, and cut short inside its WAL (an interrupted copy).
    check(&format!("{scenario}/{capture} as a tarball"), tarball.to_str().unwrap(), key);
    let d = tempfile::tempdir().unwrap();
    let cut = d.path().join("cut.tar");
    corrupt::cut_tarball(&tarball, &cut, ".wal", 100_000);
    check(&format!("{scenario}/{capture}, tarball cut inside the WAL"), cut.to_str().unwrap(), key);
    assert!(ran >= MUTATORS.len() - 2, "{scenario}: only {ran} mutators fit");
}

#[test]
fn verdicts_agree_with_findings_on_churn() {
    matrix(CAPTURES[0].0, CAPTURES[0].1);
}

#[test]
fn verdicts_agree_with_findings_on_autolock() {
    matrix(CAPTURES[1].0, CAPTURES[1].1);
}

#[test]
fn verdicts_agree_with_findings_on_three_managers() {
    matrix(CAPTURES[2].0, CAPTURES[2].1);
}

#[test]
fn verdicts_agree_with_findings_on_modern_three_managers() {
    matrix(CAPTURES[3].0, CAPTURES[3].1);
}

/// The manager that panics, as captured (no mutator): verify and managers agree on it.
#[test]
fn verdicts_agree_with_findings_on_the_manager_that_panics() {
    for scenario in ["three-managers", "modern-three-managers"] {
        let t = common::scenario(scenario).join("manager3-after-panic.tar.gz");
        check(&format!("{scenario}/manager3-after-panic"), t.to_str().unwrap(), None);
    }
}
