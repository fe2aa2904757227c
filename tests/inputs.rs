//! Issue 11 case 13: inputs are checked. A value that cannot mean anything is refused (exit 2)
//! and a filter that matches nothing names what it looked for, as `history nosuch` does;
//! `salvage` of bytes that hold no swarm data says so; `synth` says what it clamped.

mod common;

use std::path::Path;

fn churn() -> String {
    common::scenario("churn").join("swarm.tar.gz").display().to_string()
}

/// Exit 2, nothing on stdout, and stderr names `needle`.
fn refused(args: &[&str], needle: &str) {
    let (code, out, err) = common::run(args, &[]);
    assert_eq!(code, 2, "{args:?} must exit 2: {out}{err}");
    assert!(out.is_empty(), "{args:?} printed {out}");
    assert!(err.contains(needle), "{args:?}: {err:?} should name {needle:?}");
}

#[test]
fn an_engine_version_that_is_not_one_is_refused() {
    let c = churn();
    let t = tempfile::tempdir().unwrap();
    let o = t.path().join("out").display().to_string();
    let html = t.path().join("r.html").display().to_string();
    refused(&["verify", &c, "--engine-version", "banana"], "banana");
    refused(&["verify", &c, "--engine-version", "20.10.x"], "20.10.x");
    refused(&["salvage", &c, "-o", &o, "--engine-version", "banana"], "banana");
    refused(&["report", &c, "-o", &html, "--engine-version", "banana"], "banana");
    assert!(!Path::new(&o).exists() && !Path::new(&html).exists(), "nothing written");
    // Real versions are taken.
    for v in ["20.10.24+dfsg1", "27.5", "v28.1.1"] {
        let (code, out, err) = common::run(&["verify", &c, "--engine-version", v], &[]);
        assert_eq!(code, 0, "--engine-version {v}: {out}{err}");
    }
}

#[test]
fn state_filters_that_match_nothing_are_named() {
    let c = churn();
    refused(&["state", &c, "--service", "nosuch"], "\"nosuch\"");
    refused(&["state", &c, "--node", "nosuch"], "\"nosuch\"");
    refused(&["state", &c, "--service", "nosuch", "--format", "json"], "\"nosuch\"");
    // A state name is checked before anything is read, and the valid ones are listed.
    let (code, _, err) = common::run(&["state", &c, "--state", "bogus"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("\"bogus\"") && err.contains("running") && err.contains("failed"), "{err}");
    // The same filters find what is there (churn has a service `web`; states in any case).
    let (code, out, err) = common::run(&["state", &c, "--service", "web"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("web"), "{out}");
    let (code, _, err) = common::run(&["state", &c, "--state", "Running"], &[]);
    assert_eq!(code, 0, "{err}");
    // A service that exists later is named as missing at an earlier point, with that index.
    let (code, _, err) = common::run(&["state", &c, "--service", "web", "--at", "3"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"web\"") && err.contains("at index 3"), "{err}");
}

#[test]
fn timeline_filters_that_match_nothing_are_named() {
    let c = churn();
    // As `state --service nosuch` and `history nosuch`: exit 2, the query named, where it was
    // looked for, and no empty timeline on stdout.
    for args in [
        vec!["timeline", c.as_str(), "--service", "nosuch"],
        vec!["timeline", c.as_str(), "--service", "nosuch", "--format", "json"],
        vec!["timeline", c.as_str(), "--node", "nosuch"],
    ] {
        let (code, out, err) = common::run(&args, &[]);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("\"nosuch\"") && err.contains("in this log"), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: nothing printed before the refusal: {out}");
    }
    // A service that exists is still shown, with its events.
    let (code, out, err) = common::run(&["timeline", &c, "--service", "web"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("web"), "{out}");
}

#[test]
fn wal_id_that_matches_nothing_is_named() {
    let c = churn();
    let (code, _, err) = common::run(&["wal", &c, "--id", "nosuch"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"nosuch\""), "{err}");
    let (code, _, err) = common::run(&["wal", &c, "--id", "web", "--to", "2"], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("\"web\"") && err.contains("up to index 2"), "{err}");
    let (code, out, err) = common::run(&["wal", &c, "--id", "web"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().count() > 2, "{out}");
}

/// Deterministic noise (xorshift64*), so the test is the same on every run.
fn noise(n: usize, mut x: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn salvage_of_random_bytes_says_there_is_no_swarm_data() {
    let t = tempfile::tempdir().unwrap();
    let raft = t.path().join("swarm/raft");
    let wal = raft.join("wal-v3-encrypted");
    let snap = raft.join("snap-v3-encrypted");
    std::fs::create_dir_all(&wal).unwrap();
    std::fs::create_dir_all(&snap).unwrap();
    let seg = wal.join("0000000000000000-0000000000000000.wal");
    std::fs::write(&seg, noise(64 * 1024, 0x9E37_79B9_7F4A_7C15)).unwrap();
    std::fs::write(snap.join("0000000000000002-0000000000000028.snap"), noise(4096, 7)).unwrap();
    let out = t.path().join("salvaged");
    for input in [t.path().join("swarm"), raft.clone()] {
        let _ = std::fs::remove_dir_all(&out);
        let (code, stdout, err) =
            common::run(&["salvage", &input.display().to_string(), "-o", &out.display().to_string()], &[]);
        assert_eq!(code, 1, "{}: {stdout}{err}", input.display());
        assert!(stdout.contains("no swarm data"), "{}: {stdout}", input.display());
        assert!(!stdout.contains("OK"), "{}: {stdout}", input.display());
        assert!(stdout.contains(&seg.display().to_string()), "names the file: {stdout}");
    }
}

#[test]
fn synth_says_what_it_clamped() {
    let t = tempfile::tempdir().unwrap();
    let o = t.path().join("s").display().to_string();
    let args =
        ["synth", "-o", &o, "--managers", "9", "--nodes", "4", "--services", "2", "--tasks", "20", "--seed", "1"];
    let (code, out, err) = common::run(&args, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("--managers 9 was clamped to 7"), "{out}");
    assert!(out.contains("--nodes 4 was raised to 7"), "{out}");
    assert!(out.contains("managers 7"), "{out}");
    let o2 = t.path().join("s2").display().to_string();
    let (code, out, err) = common::run(
        &[
            "synth",
            "-o",
            &o2,
            "--managers",
            "3",
            "--nodes",
            "4",
            "--services",
            "2",
            "--tasks",
            "20",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["adjusted"], serde_json::json!([]), "nothing clamped, nothing said");
}
