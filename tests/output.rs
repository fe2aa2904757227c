//! The output path: `--format ndjson` gives one JSON object per line holding exactly the objects
//! of the `--format json` document; a failed write on stdout is exit 2 with one error line; a
//! reader that goes away ends the run quietly; commands that cannot write NDJSON refuse it.

mod common;

use common::run;
use serde_json::Value;
use std::process::{Command, Stdio};

const CHURN: &str = "fixtures/churn/swarm.tar.gz";

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    let (code, out, err) = run(&a, &[]);
    assert_eq!(code, 0, "{a:?} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{a:?}: not JSON: {e}"))
}

/// The records of `args --format ndjson`: every line one JSON object, no blank lines.
fn ndjson(args: &[&str]) -> Vec<Value> {
    let mut a = args.to_vec();
    a.extend(["--format", "ndjson"]);
    let (code, out, err) = run(&a, &[]);
    assert_eq!(code, 0, "{a:?} failed: {err}");
    assert!(out.is_empty() || out.ends_with('\n'), "{a:?}: last line unterminated");
    out.lines()
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{a:?} line {}: {e}: {l}", i + 1));
            assert!(v.is_object(), "{a:?} line {}: not an object: {l}", i + 1);
            v
        })
        .collect()
}

#[test]
fn state_ndjson_is_a_header_and_the_documents_objects() {
    const ARRAYS: [(&str, &str); 8] = [
        ("node", "nodes"),
        ("service", "services"),
        ("task", "tasks"),
        ("network", "networks"),
        ("secret", "secrets"),
        ("config", "configs"),
        ("cluster", "clusters"),
        ("volume", "volumes"),
    ];
    for args in [
        vec!["state", CHURN],
        vec!["state", CHURN, "--at", "100"],
        vec!["state", CHURN, "--service", "web"],
        vec!["state", CHURN, "--kind", "task", "--state", "running"],
    ] {
        let doc = json(&args);
        let recs = ndjson(&args);
        let (header, objects) = recs.split_first().expect("a header line");
        assert_eq!(header["kind"], "header", "{args:?}: first line");
        // The header holds every top-level field of the document that is not an array of objects.
        let mut want = doc.as_object().unwrap().clone();
        for (_, key) in ARRAYS {
            want.remove(key).unwrap_or_else(|| panic!("{args:?}: document without {key}"));
        }
        let mut got = header.as_object().unwrap().clone();
        got.remove("kind");
        assert_eq!(Value::Object(got), Value::Object(want), "{args:?}: header");
        // Then every object, in the document's order, as {"kind", "object"}.
        let want: Vec<(String, Value)> = ARRAYS
            .iter()
            .flat_map(|(kind, key)| doc[*key].as_array().unwrap().iter().map(|o| (kind.to_string(), o.clone())))
            .collect();
        let got: Vec<(String, Value)> = objects
            .iter()
            .map(|r| {
                assert_eq!(r.as_object().unwrap().len(), 2, "{args:?}: record {r}");
                (r["kind"].as_str().expect("kind").to_string(), r["object"].clone())
            })
            .collect();
        assert!(!got.is_empty(), "{args:?}: no objects");
        assert_eq!(got, want, "{args:?}: objects");
    }
}

#[test]
fn wal_ndjson_lines_are_the_entries_array() {
    for args in
        [vec!["wal", CHURN], vec!["wal", CHURN, "--from", "100", "--to", "109"], vec!["wal", CHURN, "--kind", "secret"]]
    {
        let doc = json(&args);
        let recs = ndjson(&args);
        assert!(!recs.is_empty(), "{args:?}");
        assert_eq!(&recs, doc["entries"].as_array().unwrap(), "{args:?}");
    }
    assert_eq!(ndjson(&["wal", CHURN]).len(), 220);
    // Nothing matches: no line at all.
    assert!(ndjson(&["wal", CHURN, "--from", "5000"]).is_empty());
}

#[test]
fn history_ndjson_lines_are_the_versions() {
    for args in [vec!["history", CHURN, "web"], vec!["history", CHURN, "web", "--tasks"]] {
        let doc = json(&args);
        let recs = ndjson(&args);
        assert!(recs.len() > 1, "{args:?}");
        assert_eq!(&recs, doc["versions"].as_array().unwrap(), "{args:?}");
    }
}

#[test]
fn timeline_ndjson_lines_are_the_events() {
    for args in [vec!["timeline", CHURN], vec!["timeline", CHURN, "--kind", "service"]] {
        let doc = json(&args);
        let recs = ndjson(&args);
        assert!(!recs.is_empty(), "{args:?}");
        assert_eq!(&recs, doc["events"].as_array().unwrap(), "{args:?}");
    }
}

#[test]
fn diff_ndjson_is_a_header_and_one_line_per_change() {
    let tm = "fixtures/three-managers";
    let (m1, m2) = (format!("{tm}/manager1.tar.gz"), format!("{tm}/manager2.tar.gz"));
    for args in [
        vec!["diff", CHURN],
        vec!["diff", CHURN, "--from", "40", "--to", "200"],
        vec!["diff", CHURN, "--from", "100", "--kind", "service"],
        vec!["diff", &m1, &m2],
    ] {
        let doc = json(&args);
        let recs = ndjson(&args);
        let (header, changes) = recs.split_first().expect("a header line");
        assert_eq!(header, &serde_json::json!({"kind": "header", "from": doc["from"], "to": doc["to"]}), "{args:?}");
        let want: Vec<Value> = ["created", "removed", "updated"]
            .iter()
            .flat_map(|k| doc[*k].as_array().unwrap().iter().map(move |o| serde_json::json!({"kind": k, "object": o})))
            .collect();
        assert_eq!(changes, &want[..], "{args:?}");
    }
    let recs = ndjson(&["diff", CHURN, "--from", "40", "--to", "200"]);
    for k in ["created", "removed", "updated"] {
        assert!(recs.iter().any(|r| r["kind"] == k), "churn 40..200 has {k} objects");
    }
}

#[test]
fn a_full_disk_on_stdout_is_exit_2_with_one_error_line() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("no /dev/full here: skipped");
        return;
    };
    for args in [
        vec!["wal", CHURN],
        vec!["wal", CHURN, "--format", "ndjson"],
        vec!["state", CHURN, "--format", "json"],
        vec!["state", CHURN, "--format", "ndjson"],
        vec!["info", CHURN],
        vec!["timeline", CHURN, "--format", "json"],
        vec!["verify", CHURN],
        vec!["chart", "tasks", CHURN],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_swarmsift"))
            .args(&args)
            .env_remove("SWARMSIFT_UNLOCK_KEY")
            .stdout(full.try_clone().unwrap())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one error line: {err:?}");
        assert!(err.starts_with("swarmsift: <stdout>: "), "{args:?}: {err:?}");
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    for args in [vec!["wal", CHURN], vec!["state", CHURN, "--format", "json"], vec!["info", CHURN]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_swarmsift"))
            .args(&args)
            .env_remove("SWARMSIFT_UNLOCK_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before anything is written: every write fails with EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: no error line: {err:?}");
    }
}

#[test]
fn commands_without_ndjson_refuse_it() {
    for args in [
        vec!["info", CHURN, "--format", "ndjson"],
        vec!["snapshots", CHURN, "--format", "ndjson"],
        vec!["verify", CHURN, "--format", "ndjson"],
        vec!["chart", "tasks", CHURN, "--format", "ndjson"],
        vec!["archive", CHURN, "--format", "ndjson"],
    ] {
        let (code, out, err) = run(&args, &[]);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}: printed {out:?}");
        assert!(err.contains("invalid value 'ndjson' for '--format <FORMAT>'"), "{args:?}: {err}");
    }
}
