//! `metrics` on the real captures, checked against `state --at` and against the real stores:
//! - every point's counts equal what `state --at INDEX` shows at the point's index, at every
//!   change and at every `--step` sample;
//! - the line protocol is written into Debian's InfluxDB (`influxd`, started here on loopback
//!   with its own temp dir and ports) over HTTP and the counts are queried back at chosen times;
//! - the OpenMetrics text is backfilled with Debian's `promtool tsdb create-blocks-from
//!   openmetrics`, dumped back sample for sample, and queried through a Prometheus server
//!   started on those blocks (loopback, own port).
//!
//! `influxd`, `promtool` and `prometheus` must be installed (`.ci/run` installs the `influxdb`
//! and `prometheus` packages): without them these tests fail, they never skip.

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// (scenario, capture) pairs the tests run on.
const CAPTURES: [(&str, &str); 5] = [
    ("churn", "swarm.tar.gz"),
    ("autolock", "swarm.tar.gz"),
    ("three-managers", "manager1.tar.gz"),
    ("three-managers", "manager2.tar.gz"),
    ("three-managers", "manager3.tar.gz"),
];

fn capture(scenario: &str, file: &str) -> String {
    common::scenario(scenario).join(file).display().to_string()
}

fn env_for(scenario: &str) -> Vec<(&'static str, String)> {
    common::unlock_key(scenario).map(|k| vec![("SWARMSIFT_UNLOCK_KEY", k)]).unwrap_or_default()
}

fn sift(scenario: &str, args: &[&str]) -> String {
    let env = env_for(scenario);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, out, err) = common::run(args, &env);
    assert!(code == 0, "swarmsift {args:?}: exit {code}\n{err}");
    out
}

/// What one state holds, as the series count it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Counts {
    n_nodes: i64,
    n_services: i64,
    n_tasks: i64,
    /// Non-zero task states.
    status: BTreeMap<String, i64>,
    /// node ID -> (cpu_shares, memory)
    nodes: BTreeMap<String, (i64, i64)>,
}

/// `state --at INDEX --format json`, counted.
fn state_at(scenario: &str, path: &str, index: u64) -> Counts {
    let s = sift(scenario, &["state", path, "--at", &index.to_string(), "--format", "json"]);
    let v: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["index"].as_u64(), Some(index), "state --at {index} of {path} is at {}", v["index"]);
    let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let mut c = Counts {
        n_nodes: arr("nodes").len() as i64,
        n_services: arr("services").len() as i64,
        n_tasks: arr("tasks").len() as i64,
        ..Default::default()
    };
    for t in arr("tasks") {
        *c.status.entry(t["Status"]["State"].as_str().unwrap().to_string()).or_default() += 1;
    }
    for n in arr("nodes") {
        let r = &n["Description"]["Resources"];
        c.nodes.insert(
            n["ID"].as_str().unwrap().to_string(),
            (r["NanoCPUs"].as_i64().unwrap_or(0), r["MemoryBytes"].as_i64().unwrap_or(0)),
        );
    }
    c
}

/// One CSV row: (time, index, measurement, node_id, status, field, value).
#[derive(Debug, Clone)]
struct Csv {
    time: jiff::Timestamp,
    index: u64,
    measurement: String,
    node_id: String,
    status: String,
    field: String,
    value: i64,
}

fn csv(scenario: &str, path: &str, step: Option<&str>) -> Vec<Csv> {
    let mut args = vec!["metrics", path, "--format", "csv"];
    if let Some(s) = step {
        args.extend(["--step", s]);
    }
    let out = sift(scenario, &args);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("time,index,measurement,node_id,node_hostname,status,field,value"));
    lines
        .map(|l| {
            // No field of these captures needs quoting (hostnames are plain).
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), 8, "{l}");
            Csv {
                time: c[0].parse().unwrap(),
                index: c[1].parse().unwrap(),
                measurement: c[2].into(),
                node_id: c[3].into(),
                status: c[5].into(),
                field: c[6].into(),
                value: c[7].parse().unwrap(),
            }
        })
        .collect()
}

/// Fold rows into the counts they give (the last value of every series so far).
fn fold(c: &mut Counts, r: &Csv) {
    match (r.measurement.as_str(), r.field.as_str()) {
        ("swarm", "n_nodes") => c.n_nodes = r.value,
        ("swarm", "n_services") => c.n_services = r.value,
        ("swarm", "n_tasks") => c.n_tasks = r.value,
        ("swarm_task_status", "count") => {
            if r.value == 0 {
                c.status.remove(&r.status);
            } else {
                c.status.insert(r.status.clone(), r.value);
            }
        }
        ("swarm_node", "cpu_shares") => c.nodes.entry(r.node_id.clone()).or_default().0 = r.value,
        ("swarm_node", "memory") => c.nodes.entry(r.node_id.clone()).or_default().1 = r.value,
        other => panic!("unexpected series {other:?}"),
    }
}

/// Up to `n` evenly spread items, always with the last.
fn spread<T: Clone>(v: &[T], n: usize) -> Vec<T> {
    if v.len() <= n {
        return v.to_vec();
    }
    let mut out: Vec<T> = (0..n - 1).map(|i| v[i * v.len() / (n - 1)].clone()).collect();
    out.push(v[v.len() - 1].clone());
    out
}

/// Series only say what changed; a removed node stops being written, so the state's nodes are
/// compared with the last values written for them, and their number with `n_nodes`.
fn assert_same(what: &str, got: &Counts, want: &Counts) {
    assert_eq!(
        (got.n_nodes, got.n_services, got.n_tasks, &got.status),
        (want.n_nodes, want.n_services, want.n_tasks, &want.status),
        "{what}"
    );
    for (id, r) in &want.nodes {
        assert_eq!(got.nodes.get(id), Some(r), "{what}: node {id}");
    }
}

#[test]
fn every_change_point_equals_state_at_its_index() {
    for (sc, file) in CAPTURES {
        let path = capture(sc, file);
        let rows = csv(sc, &path, None);
        assert!(rows.len() > 20, "{path}: {} rows", rows.len());
        // Times never go back, indexes only grow.
        assert!(rows.windows(2).all(|w| w[0].time <= w[1].time && w[0].index <= w[1].index), "{path}");
        let mut idx: Vec<u64> = rows.iter().map(|r| r.index).collect();
        idx.dedup();
        let mut folded = Counts::default();
        let mut pos = 0;
        let chosen = spread(&idx, 10);
        for i in &idx {
            while pos < rows.len() && rows[pos].index == *i {
                fold(&mut folded, &rows[pos]);
                pos += 1;
            }
            if chosen.contains(i) {
                assert_same(&format!("{path} at index {i}"), &folded, &state_at(sc, &path, *i));
            }
        }
        // The last point holds the final state (later entries, if any, changed no series).
        let last = sift(sc, &["state", &path, "--format", "json"]);
        let end = serde_json::from_str::<Value>(&last).unwrap()["index"].as_u64().unwrap();
        assert_same(&format!("{path} at the end"), &folded, &state_at(sc, &path, end));
    }
}

#[test]
fn every_step_sample_holds_the_whole_state_at_its_index() {
    for (sc, file) in [CAPTURES[0], CAPTURES[2]] {
        let path = capture(sc, file);
        let rows = csv(sc, &path, Some("15s"));
        let mut times: Vec<jiff::Timestamp> = rows.iter().map(|r| r.time).collect();
        times.dedup();
        assert!(times.len() >= 4, "{path}: {} samples", times.len());
        for w in times.windows(2) {
            assert_eq!(w[1].duration_since(w[0]).as_secs() % 15, 0, "{path}: samples on the 15 s grid");
            assert_eq!(w[0].as_second() % 15, 0);
        }
        // The last sample is at or after the last entry and holds the final state.
        let changes = csv(sc, &path, None);
        let last_change = changes.last().unwrap();
        assert!(*times.last().unwrap() >= last_change.time, "{path}");
        let end: Value = serde_json::from_str(&sift(sc, &["state", &path, "--format", "json"])).unwrap();
        assert_eq!(Some(rows.last().unwrap().index), end["index"].as_u64(), "{path}: the last sample is the end");
        for t in spread(&times, 6) {
            let at: Vec<&Csv> = rows.iter().filter(|r| r.time == t).collect();
            let index = at[0].index;
            assert!(at.iter().all(|r| r.index == index));
            let mut c = Counts::default();
            for r in &at {
                fold(&mut c, r);
            }
            let want = state_at(sc, &path, index);
            // A sample writes every node present: the node sets are equal, not just included.
            assert_eq!(c, want, "{path} sample at {t} (index {index})");
        }
    }
}

// ---- real stores ----------------------------------------------------------------------------

/// A child process killed (by its own PID) when the test ends.
struct Daemon {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(name: &'static str, cmd: &mut Command, log: PathBuf) -> Daemon {
        let f = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} could not be started ({e}): install it (.ci/run does)"));
        Daemon { child, name, log }
    }

    /// Wait until `path` answers with `want` on `port`, or fail with the daemon's log.
    fn wait_ready(&mut self, port: u16, path: &str, want: u16) {
        for _ in 0..600 {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("{} exited ({st}):\n{}", self.name, std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            if let Ok((code, _)) = http(port, "GET", path, b"") {
                if code == want {
                    return;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{} never answered {path}:\n{}", self.name, std::fs::read_to_string(&self.log).unwrap_or_default());
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP/1.0 request to 127.0.0.1 (the server closes the connection after the response).
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default();
    Ok((code, body))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn influx_query(port: u16, db: &str, q: &str) -> Value {
    let (code, body) = http(port, "GET", &format!("/query?db={db}&epoch=ns&q={}", enc(q)), b"").unwrap();
    assert_eq!(code, 200, "{q}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["results"][0]["error"].is_null(), "{q}: {body}");
    v
}

/// The series of one InfluxDB answer: (tags, first row of values by column).
fn influx_series(v: &Value) -> Vec<(BTreeMap<String, String>, BTreeMap<String, Value>)> {
    v["results"][0]["series"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let tags = s["tags"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
                .unwrap_or_default();
            let cols: Vec<String> =
                s["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
            let row = s["values"][0].as_array().unwrap().clone();
            (tags, cols.into_iter().zip(row).collect())
        })
        .collect()
}

#[test]
fn influxdb_stores_the_series_and_answers_the_counts_of_state_at() {
    let dir = tempfile::tempdir().unwrap();
    let (http_port, rpc_port) = (free_port(), free_port());
    let d = dir.path().display();
    let conf = format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc_port}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[retention]\n  enabled = false\n[shard-precreation]\n  enabled = false\n[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n[http]\n  enabled = true\n  bind-address = \"127.0.0.1:{http_port}\"\n  log-enabled = false\n"
    );
    let conf_path = dir.path().join("influxdb.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let mut influxd = Daemon::start(
        "influxd",
        Command::new("influxd").arg("run").arg("-config").arg(&conf_path).env("HOME", dir.path()),
        dir.path().join("influxd.log"),
    );
    influxd.wait_ready(http_port, "/ping", 204);
    for (n, (sc, file)) in [CAPTURES[0], CAPTURES[1], CAPTURES[2]].into_iter().enumerate() {
        let path = capture(sc, file);
        let db = format!("swarm{n}");
        let (code, body) =
            http(http_port, "POST", &format!("/query?q={}", enc(&format!("CREATE DATABASE {db}"))), b"").unwrap();
        assert_eq!(code, 200, "{body}");
        let lines = sift(sc, &["metrics", &path, "--format", "influx"]);
        let (code, body) = http(http_port, "POST", &format!("/write?db={db}&precision=ns"), lines.as_bytes()).unwrap();
        assert_eq!(code, 204, "write of {path}: {body}");
        // Everything written is stored: one point per line.
        let v = influx_query(http_port, &db, "SELECT count(n_tasks) FROM swarm");
        let stored = influx_series(&v)[0].1["count"].as_i64().unwrap();
        // (Points of one series at the same nanosecond are one point to InfluxDB, the last wins.)
        let mut stamps: Vec<&str> =
            lines.lines().filter(|l| l.starts_with("swarm ")).map(|l| l.rsplit(' ').next().unwrap()).collect();
        stamps.dedup();
        assert_eq!(stored as usize, stamps.len(), "{path}");
        // Chosen times: spread over the points; each is the state of the last index at or before it.
        let rows = csv(sc, &path, None);
        dashboard_queries_answer(http_port, &db, &rows);
        let mut times: Vec<(jiff::Timestamp, u64)> = Vec::new();
        for r in &rows {
            match times.last_mut() {
                Some(l) if l.0 == r.time => l.1 = r.index,
                _ => times.push((r.time, r.index)),
            }
        }
        for (t, index) in spread(&times, 6) {
            let ns = t.as_nanosecond();
            let want = state_at(sc, &path, index);
            let mut got = Counts::default();
            let v = influx_query(
                http_port,
                &db,
                &format!(
                    "SELECT last(n_nodes) AS n_nodes, last(n_services) AS n_services, last(n_tasks) AS n_tasks FROM swarm WHERE time <= {ns}"
                ),
            );
            let s = &influx_series(&v)[0].1;
            (got.n_nodes, got.n_services, got.n_tasks) =
                (s["n_nodes"].as_i64().unwrap(), s["n_services"].as_i64().unwrap(), s["n_tasks"].as_i64().unwrap());
            let v = influx_query(
                http_port,
                &db,
                &format!("SELECT last(\"count\") AS c FROM swarm_task_status WHERE time <= {ns} GROUP BY status"),
            );
            for (tags, vals) in influx_series(&v) {
                let c = vals["c"].as_i64().unwrap();
                if c != 0 {
                    got.status.insert(tags["status"].clone(), c);
                }
            }
            let v = influx_query(
                http_port,
                &db,
                &format!(
                    "SELECT last(cpu_shares) AS cpu, last(memory) AS mem FROM swarm_node WHERE time <= {ns} GROUP BY node_id"
                ),
            );
            for (tags, vals) in influx_series(&v) {
                got.nodes
                    .insert(tags["node_id"].clone(), (vals["cpu"].as_i64().unwrap(), vals["mem"].as_i64().unwrap()));
            }
            assert_same(&format!("InfluxDB, {path} at {t} (index {index})"), &got, &want);
        }
    }
}

/// Every query of the shipped Grafana dashboard (docs/grafana-swarm.json) runs on InfluxDB over
/// the log's span and answers with series.
fn dashboard_queries_answer(port: u16, db: &str, rows: &[Csv]) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/grafana-swarm.json");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let (first, last) = (rows[0].time.as_nanosecond(), rows[rows.len() - 1].time.as_nanosecond());
    let mut n = 0;
    for panel in d["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let q = t["query"]
                .as_str()
                .unwrap()
                .replace("$timeFilter", &format!("time >= {first} AND time <= {last}"))
                .replace("$__interval", "1s");
            let v = influx_query(port, db, &q);
            let series = influx_series(&v);
            // A panel of failures has nothing to show for a log without failures.
            let expected =
                !q.contains("'failed'") || rows.iter().any(|r| r.status == "failed" || r.status == "rejected");
            assert_eq!(!series.is_empty(), expected, "dashboard panel {:?}: {q}: {v}", panel["title"]);
            n += 1;
        }
    }
    assert!(n >= 5);
}

/// Parse `promtool tsdb dump` lines: `{__name__="x", status="running"} 4 1795778580000`.
fn dump_samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64, i64)> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let (labels, rest) = l[1..].split_once("} ").unwrap();
            let mut m: BTreeMap<String, String> = labels
                .split(", ")
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            let name = m.remove("__name__").unwrap();
            let (v, t) = rest.split_once(' ').unwrap();
            (name, m, v.parse().unwrap(), t.trim().parse().unwrap())
        })
        .collect()
}

/// OpenMetrics samples of our own output: (name, labels, value, ms).
fn om_samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64, i64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (series, rest) = match l.split_once('}') {
                Some((a, b)) => (a.to_string() + "}", b.trim_start().to_string()),
                None => {
                    let (a, b) = l.split_once(' ').unwrap();
                    (a.to_string(), b.to_string())
                }
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, ls)) => (
                    n.to_string(),
                    ls.trim_end_matches('}')
                        .split(',')
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap();
                            (k.to_string(), v.trim_matches('"').to_string())
                        })
                        .collect(),
                ),
                None => (series, BTreeMap::new()),
            };
            let (v, t) = rest.split_once(' ').unwrap();
            let t: f64 = t.parse().unwrap();
            (name, labels, v.parse().unwrap(), (t * 1000.0).round() as i64)
        })
        .collect()
}

fn promtool(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("promtool could not be run ({e}): install Debian's prometheus (.ci/run does)"));
    assert!(
        out.status.success(),
        "promtool {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn backfill(dir: &Path, name: &str, om: &str) -> PathBuf {
    let file = dir.join(format!("{name}.om"));
    std::fs::write(&file, om).unwrap();
    let data = dir.join(format!("{name}-data"));
    promtool(&[
        "tsdb".as_ref(),
        "create-blocks-from".as_ref(),
        "openmetrics".as_ref(),
        file.as_os_str(),
        data.as_os_str(),
    ]);
    // `tsdb dump` opens the database, which wants a WAL directory (the backfill writes blocks only).
    std::fs::create_dir_all(data.join("wal")).unwrap();
    data
}

#[test]
fn promtool_backfills_the_openmetrics_and_prometheus_answers_the_counts_of_state_at() {
    let dir = tempfile::tempdir().unwrap();
    for (sc, file) in [CAPTURES[0], CAPTURES[2]] {
        let path = capture(sc, file);
        // Every change, backfilled and dumped back: the same samples, one for one.
        let om = sift(sc, &["metrics", &path, "--format", "openmetrics"]);
        assert!(om.ends_with("# EOF\n"));
        let data = backfill(dir.path(), "changes", &om);
        let mut want = om_samples(&om);
        let mut got = dump_samples(&promtool(&["tsdb".as_ref(), "dump".as_ref(), data.as_os_str()]));
        let key = |s: &(String, BTreeMap<String, String>, f64, i64)| (s.0.clone(), format!("{:?}", s.1), s.3);
        want.sort_by_key(key);
        got.sort_by_key(key);
        assert!(want.len() > 50, "{path}: {} samples", want.len());
        assert_eq!(got, want, "{path}: promtool tsdb dump gives back what was backfilled");
        std::fs::remove_dir_all(&data).unwrap();

        // Sampled every minute (within Prometheus' 5-minute lookback), served and queried.
        let om = sift(sc, &["metrics", &path, "--format", "openmetrics", "--step", "1m"]);
        let data = backfill(dir.path(), "steps", &om);
        let port = free_port();
        let conf = dir.path().join("prometheus.yml");
        std::fs::write(&conf, "global:\n  scrape_interval: 1m\n").unwrap();
        let mut prom = Daemon::start(
            "prometheus",
            Command::new("prometheus")
                .arg(format!("--config.file={}", conf.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg("--storage.tsdb.retention.time=100y")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .current_dir(dir.path()),
            dir.path().join("prometheus.log"),
        );
        prom.wait_ready(port, "/-/ready", 200);
        let rows = csv(sc, &path, Some("1m"));
        let mut times: Vec<(jiff::Timestamp, u64)> = rows.iter().map(|r| (r.time, r.index)).collect();
        times.dedup();
        assert!(times.len() >= 2, "{path}: {} samples", times.len());
        for (t, index) in times {
            let want = state_at(sc, &path, index);
            // Only the samples taken at `t`: a series that ended less than 5 minutes before (a
            // node whose hostname tag changed) is still in an instant query's lookback.
            let q = |name: &str| -> Vec<(BTreeMap<String, String>, i64)> {
                let expr = format!("{name} and timestamp({name}) == {}", t.as_second());
                let (code, body) =
                    http(port, "GET", &format!("/api/v1/query?query={}&time={}", enc(&expr), t.as_second()), b"")
                        .unwrap();
                assert_eq!(code, 200, "{expr}: {body}");
                let v: Value = serde_json::from_str(&body).unwrap();
                v["data"]["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        let m = r["metric"]
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                            .collect();
                        (m, r["value"][1].as_str().unwrap().parse::<f64>().unwrap() as i64)
                    })
                    .collect()
            };
            let one = |expr: &str| q(expr).first().map(|x| x.1).unwrap_or_else(|| panic!("{expr} at {t}: no value"));
            let mut got = Counts {
                n_nodes: one("swarm_n_nodes"),
                n_services: one("swarm_n_services"),
                n_tasks: one("swarm_n_tasks"),
                ..Default::default()
            };
            for (m, c) in q("swarm_task_status_count") {
                if c != 0 {
                    got.status.insert(m["status"].clone(), c);
                }
            }
            let mem: BTreeMap<String, i64> =
                q("swarm_node_memory").into_iter().map(|(m, v)| (m["node_id"].clone(), v)).collect();
            for (m, cpu) in q("swarm_node_cpu_shares") {
                let id = m["node_id"].clone();
                got.nodes.insert(id.clone(), (cpu, mem[&id]));
            }
            assert_eq!(got, want, "Prometheus, {path} at {t} (index {index})");
        }
        drop(prom);
        std::fs::remove_dir_all(&data).unwrap();
    }
}
