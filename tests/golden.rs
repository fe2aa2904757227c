//! Golden outputs: the text and JSON of each command on the churn capture, compared byte for
//! byte with `tests/golden/<case>`. Regenerate them all with `UPDATE_GOLDEN=1 cargo test`.
//!
//! Only one thing in these outputs depends on the day the test runs: whether the capture's node
//! certificate has expired. It is normalised before comparing.

mod common;

use std::path::Path;

const CHURN: &str = "fixtures/churn/swarm.tar.gz";

fn normalise(s: &str) -> String {
    s.replace(" (EXPIRED)", "").replace("\"expired\": true", "\"expired\": false")
}

fn golden(case: &str, args: &[&str]) {
    let (code, out, err) = common::run(args, &[]);
    assert!(code == 0 || code == 1, "{args:?}: exit {code}: {err}");
    let out = normalise(&out);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(case);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &out).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1 to create it)", path.display()));
    if want != out {
        let first = want.lines().zip(out.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{case} differs from {} at line {}:\n  want: {:?}\n  got:  {:?}\n(UPDATE_GOLDEN=1 regenerates)",
            path.display(),
            first + 1,
            want.lines().nth(first).unwrap_or(""),
            out.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn info_text() {
    golden("churn.info", &["info", CHURN]);
}

#[test]
fn info_json() {
    golden("churn.info.json", &["info", CHURN, "--format", "json"]);
}

#[test]
fn wal_text() {
    golden("churn.wal", &["wal", CHURN]);
}

#[test]
fn snapshots_text() {
    golden("churn.snapshots", &["snapshots", CHURN]);
}

#[test]
fn state_text() {
    golden("churn.state", &["state", CHURN]);
}

#[test]
fn state_at_100_json() {
    golden("churn.state-at-100.json", &["state", CHURN, "--at", "100", "--format", "json"]);
}

#[test]
fn timeline_text() {
    golden("churn.timeline", &["timeline", CHURN]);
}

#[test]
fn history_text() {
    golden("churn.history-web", &["history", CHURN, "web"]);
}
