//! The recovery chart's calibrations and `synth`'s hardware planning (no Docker needed):
//! - the shipped model of measured Docker restarts (`assets/recovery-model.json`) parses, names
//!   its source, engine version and CPU count, and is the chart's default, labelled so in the
//!   table, the JSON and the SVG legend;
//! - swarmsift's own replay speed is still selectable (`--calibration own`) and labelled as its
//!   own, and fixed rates still work;
//! - `synth --addr` writes only that address, as swarmsift's own `info` and `state` read it back;
//! - `synth --plan` prices the written swarm with the model: the newest snapshot on disk, the
//!   entries after it and the model's formula, scaled by vCPUs.

mod common;

use serde_json::Value;
use std::path::Path;
use swarmsift::render::chart::recovery::{Calibration, DockerModel};

fn model_json() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/recovery-model.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_model_parses_and_names_engine_cpus_and_source() {
    let v = model_json();
    assert_eq!(v["source"], "measured Docker restarts");
    let engine = v["engine"].as_str().unwrap();
    assert!(engine.starts_with("20.10.24"), "engine version: {engine}");
    let cpus = v["cpus"].as_u64().unwrap();
    assert!(cpus >= 1);
    for k in ["fixed_s", "s_per_snapshot_mb", "s_per_wal_entry", "s_per_wal_mb"] {
        let c = v[k].as_f64().unwrap_or_else(|| panic!("{k}"));
        assert!(c >= 0.0 && c.is_finite(), "{k} = {c}");
    }
    // Each measurement file it was fitted to is committed.
    for m in v["measurements"].as_array().unwrap() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(m.as_str().unwrap());
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(text.contains(engine.split(", ").next().unwrap()), "{} names the engine", p.display());
    }
    // Every fitted point is one of those inputs, with the model's value beside it.
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len() as u64, v["fit"]["inputs"].as_u64().unwrap());
    for p in pts {
        let want = v["fixed_s"].as_f64().unwrap()
            + v["s_per_snapshot_mb"].as_f64().unwrap() * p["snapshot_mb"].as_f64().unwrap()
            + v["s_per_wal_entry"].as_f64().unwrap() * p["wal_entries"].as_f64().unwrap()
            + v["s_per_wal_mb"].as_f64().unwrap() * p["wal_mb"].as_f64().unwrap();
        assert!((p["model_s"].as_f64().unwrap() - want).abs() < 0.01, "{p}");
    }
    let m = DockerModel::shipped().unwrap();
    assert_eq!(m.cpus as u64, cpus);
    let c = Calibration::docker().unwrap();
    assert_eq!(c.source, "measured Docker restarts");
    assert_eq!(c.engine.as_deref(), Some(engine));
    assert_eq!(c.cpus, Some(cpus as u32));
    assert_eq!(c.arg(), "docker");
    // The model's own formula.
    let (s, w) = c.seconds(10_000_000, 1_000, 5_000_000);
    let want_s = 10.0 * m.s_per_snapshot_mb;
    let want_w = 1_000.0 * m.s_per_wal_entry + 5.0 * m.s_per_wal_mb;
    assert!((s - want_s).abs() < 1e-9 && (w - want_w).abs() < 1e-9, "{s} {w} vs {want_s} {want_w}");
    // Scaling: the same on the measured CPU count, never slower with more vCPUs.
    assert!((m.scale(10.0, m.cpus) - 10.0).abs() < 1e-9);
    assert!(m.scale(10.0, 16) <= m.scale(10.0, 4) && m.scale(10.0, 4) <= m.scale(10.0, 1));
}

#[test]
fn the_chart_defaults_to_measured_docker_restarts_and_says_so() {
    let v = model_json();
    let engine = v["engine"].as_str().unwrap().to_string();
    let cpus = v["cpus"].as_u64().unwrap();
    let churn = common::scenario("churn").join("swarm.tar.gz");
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("r.svg");
    let (code, out, err) = common::run(
        &["chart", "recovery", churn.to_str().unwrap(), "--format", "json", "-o", svg.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let j = json(&out);
    let cal = &j["calibration"];
    assert_eq!(cal["source"], "measured Docker restarts");
    assert_eq!(cal["engine"].as_str(), Some(engine.as_str()));
    assert_eq!(cal["cpus"].as_u64(), Some(cpus));
    let fixed = v["fixed_s"].as_f64().unwrap();
    let last = j["points"].as_array().unwrap().last().unwrap();
    let total = last["total_s"].as_f64().unwrap();
    let parts = last["start_s"].as_f64().unwrap_or(0.0)
        + last["snapshot_s"].as_f64().unwrap()
        + last["wal_s"].as_f64().unwrap();
    assert!((total - parts).abs() < 1e-6 && (last["start_s"].as_f64().unwrap_or(0.0) - fixed).abs() < 1e-9, "{last}");
    let legend = std::fs::read_to_string(&svg).unwrap();
    let want = format!("calibration: measured Docker restarts: Docker {engine} on {cpus} CPUs");
    assert!(legend.contains(&want), "the SVG legend says {want:?}");
    let (code, text, err) = common::run(&["chart", "recovery", churn.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains(&want) && text.contains("(--calibration docker)"), "{text}");
    // `docker` named explicitly is the same.
    let (_, out2, _) = common::run(
        &["chart", "recovery", churn.to_str().unwrap(), "--format", "json", "--calibration", "docker"],
        &[],
    );
    assert_eq!(json(&out2)["calibration"], j["calibration"]);
}

#[test]
fn swarmsifts_own_speed_is_an_option_labelled_as_its_own() {
    let churn = common::scenario("churn").join("swarm.tar.gz");
    let (code, out, err) =
        common::run(&["chart", "recovery", churn.to_str().unwrap(), "--format", "json", "--calibration", "own"], &[]);
    assert_eq!(code, 0, "{err}");
    let cal = &json(&out)["calibration"];
    assert_eq!(cal["source"], "swarmsift's own replay speed on this machine, not Docker's");
    assert!(cal.get("engine").is_none() && cal.get("fixed_s").is_none(), "{cal}");
    let (code, text, _) = common::run(&["chart", "recovery", churn.to_str().unwrap(), "--calibration", "own"], &[]);
    assert_eq!(code, 0);
    assert!(text.contains("(swarmsift's own replay speed on this machine, not Docker's)"), "{text}");
    // Fixed rates are still taken; anything else is a usage error.
    let (code, out, _) = common::run(
        &["chart", "recovery", churn.to_str().unwrap(), "--format", "json", "--calibration", "1e6,1e4"],
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(json(&out)["calibration"]["source"], "fixed");
    let (code, _, err) = common::run(&["chart", "recovery", churn.to_str().unwrap(), "--calibration", "fast"], &[]);
    assert_eq!(code, 2, "{err}");
}

/// Every address `info` and `state` read back from a swarm dir, plus the two start files.
fn addresses(dir: &Path) -> Vec<String> {
    let d = dir.to_str().unwrap();
    let mut v = Vec::new();
    let (code, out, err) = common::run(&["info", d, "--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "addr" {
                        if let Some(s) = x.as_str() {
                            out.push(s.to_string());
                        }
                    }
                    walk(x, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&json(&out), &mut v);
    let (code, out, err) = common::run(&["state", d, "--format", "json"], &[]);
    assert_eq!(code, 0, "{err}");
    let s = json(&out);
    let nodes = s["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    for n in nodes {
        v.push(n["Status"]["Addr"].as_str().unwrap().to_string());
        if let Some(a) = n["ManagerStatus"]["Addr"].as_str() {
            v.push(a.to_string());
        }
    }
    let st: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap();
    for m in st.as_array().unwrap() {
        v.push(m["addr"].as_str().unwrap().to_string());
    }
    let ds: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("docker-state.json")).unwrap()).unwrap();
    for k in ["LocalAddr", "ListenAddr", "AdvertiseAddr"] {
        v.push(ds[k].as_str().unwrap().to_string());
    }
    v
}

fn host(a: &str) -> &str {
    a.rsplit_once(':').map(|(h, _)| h).unwrap_or(a)
}

#[test]
fn synth_addr_writes_only_that_address() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("s");
    let args =
        ["synth", "-o", out.to_str().unwrap(), "--nodes", "12", "--managers", "3", "--services", "3", "--tasks", "60"];
    let (code, _, err) = common::run(&[&args[..], &["--addr", "127.0.0.1"]].concat(), &[]);
    assert_eq!(code, 0, "{err}");
    let a = addresses(&out);
    // 12 nodes' status addresses, 3 manager addresses, the WAL's own member, 3 state.json peers.
    assert!(a.len() >= 12 + 3 + 3 + 3, "{a:?}");
    assert!(a.iter().all(|x| host(x) == "127.0.0.1"), "{a:?}");
    // Managers share the address on distinct raft ports.
    let mut ports: Vec<&str> = a.iter().filter_map(|x| x.rsplit_once(':').map(|(_, p)| p)).collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports, ["2377", "2378", "2379"]);
    // Without --addr the nodes keep their own addresses in 10.128.0.0/10.
    let out2 = t.path().join("d");
    let mut args2 = args.to_vec();
    args2[2] = out2.to_str().unwrap();
    let (code, _, err) = common::run(&args2, &[]);
    assert_eq!(code, 0, "{err}");
    let b = addresses(&out2);
    assert!(b.iter().filter(|x| !x.starts_with("0.0.0.0")).all(|x| host(x).starts_with("10.")), "{b:?}");
}

#[test]
fn synth_plan_prices_the_written_swarm_with_the_model() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("s");
    let (code, o, err) = common::run(
        &[
            "synth",
            "-o",
            out.to_str().unwrap(),
            "--nodes",
            "40",
            "--managers",
            "1",
            "--services",
            "4",
            "--tasks",
            "400",
            "--snapshot-interval",
            "100",
            "--addr",
            "127.0.0.1",
            "--plan",
            "--vcpus",
            "1,2,16",
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let j = json(&o);
    let p = &j["plan"];
    assert_eq!(p["nodes"], 40);
    assert_eq!(p["tasks_created"], 400);
    assert_eq!(p["live_tasks"], j["live"]["tasks"]);
    // The newest snapshot on disk is what a restart loads.
    let newest = j["snapshots"].as_array().unwrap().last().expect("a snapshot every 100 entries");
    assert_eq!(p["snapshot_bytes"], newest["bytes"]);
    let snap_index =
        u64::from_str_radix(newest["name"].as_str().unwrap().trim_end_matches(".snap").split('-').nth(1).unwrap(), 16)
            .unwrap();
    assert_eq!(p["wal_entries"].as_u64().unwrap(), j["last_index"].as_u64().unwrap() - snap_index);
    let v = model_json();
    let f = |k: &str| v[k].as_f64().unwrap();
    let want = f("fixed_s")
        + f("s_per_snapshot_mb") * p["snapshot_bytes"].as_f64().unwrap() / 1e6
        + f("s_per_wal_entry") * p["wal_entries"].as_f64().unwrap()
        + f("s_per_wal_mb") * p["wal_bytes"].as_f64().unwrap() / 1e6;
    let got = p["restart_s"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    assert_eq!(p["calibration"]["source"], "measured Docker restarts");
    let scaled: Vec<(u64, f64)> =
        p["scaled"].as_array().unwrap().iter().map(|x| (x[0].as_u64().unwrap(), x[1].as_f64().unwrap())).collect();
    assert_eq!(scaled.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2, 16]);
    let m = DockerModel::shipped().unwrap();
    for (n, s) in &scaled {
        assert!((s - m.scale(got, *n as u32)).abs() < 1e-9);
    }
    assert!(scaled[0].1 >= scaled[1].1 && scaled[1].1 >= scaled[2].1);
    // The text form says the same.
    let out2 = t.path().join("t");
    let (code, text, err) = common::run(
        &[
            "synth",
            "-o",
            out2.to_str().unwrap(),
            "--nodes",
            "40",
            "--managers",
            "1",
            "--services",
            "4",
            "--tasks",
            "400",
            "--snapshot-interval",
            "100",
            "--plan",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("PLAN: 40 nodes") && text.contains("calibration: measured Docker restarts"), "{text}");
    // --vcpus needs --plan.
    let (code, _, _) = common::run(&["synth", "-o", t.path().join("u").to_str().unwrap(), "--vcpus", "4"], &[]);
    assert_eq!(code, 2);
}
