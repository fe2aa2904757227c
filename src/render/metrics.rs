//! `metrics` output: the series of [`crate::analyses::metrics`] as InfluxDB line protocol,
//! OpenMetrics text (for `promtool tsdb create-blocks-from openmetrics`) or CSV.
//!
//! Invariants:
//! - Line protocol: `measurement,tag=value field=1i <ns>`, one point per line, tags and fields
//!   escaped as InfluxDB requires (`,`, `=` and space in tags; an empty tag is left out, since
//!   InfluxDB refuses empty tag values); integers carry the `i` suffix.
//! - OpenMetrics: one family per field, named `measurement_field` as Telegraf's Prometheus
//!   output names them (`swarm_n_nodes`, `swarm_node_cpu_shares`, `swarm_task_status_count`),
//!   each a gauge whose samples are contiguous (the format requires it), in time order within a
//!   series; timestamps are seconds with millisecond precision (Prometheus' resolution), and
//!   of several points of one series in the same millisecond only the last is written, so a
//!   backfill never sees two values at one time. The text ends with `# EOF`.
//! - CSV: one row per field, `time,index,measurement,node_id,node_hostname,status,field,value`,
//!   quoted where a value needs it.

use crate::analyses::metrics::{Metrics, Row, Series};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// A point's fields: (name, value).
fn fields(s: &Series) -> Vec<(&'static str, i64)> {
    match s {
        Series::Swarm { n_nodes, n_services, n_tasks } => {
            vec![("n_nodes", *n_nodes as i64), ("n_services", *n_services as i64), ("n_tasks", *n_tasks as i64)]
        }
        Series::SwarmNode { cpu_shares, memory, .. } => vec![("cpu_shares", *cpu_shares), ("memory", *memory)],
        Series::SwarmTaskStatus { count, .. } => vec![("count", *count as i64)],
    }
}

/// A point's tags: (key, value), in key order.
fn tags(s: &Series) -> Vec<(&'static str, &str)> {
    match s {
        Series::Swarm { .. } => vec![],
        Series::SwarmNode { node_id, node_hostname, .. } => {
            vec![("node_hostname", node_hostname.as_str()), ("node_id", node_id.as_str())]
        }
        Series::SwarmTaskStatus { status, .. } => vec![("status", status)],
    }
}

fn escape_tag(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ',' | '=' | ' ' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// One point as a line of InfluxDB line protocol.
pub fn influx_line(r: &Row) -> String {
    let mut o = String::from(r.series.measurement());
    for (k, v) in tags(&r.series) {
        if !v.is_empty() {
            o.push_str(&format!(",{k}={}", escape_tag(v)));
        }
    }
    let f: Vec<String> = fields(&r.series).iter().map(|(k, v)| format!("{k}={v}i")).collect();
    o.push_str(&format!(" {} {}", f.join(","), r.time.as_nanosecond()));
    o
}

/// Write line protocol.
pub fn write_influx<W: Write + ?Sized>(w: &mut W, m: &Metrics) -> io::Result<()> {
    for r in &m.rows {
        writeln!(w, "{}", influx_line(r))?;
    }
    Ok(())
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// What each OpenMetrics family holds: (measurement, field) -> help text.
const HELP: [(&str, &str, &str); 6] = [
    ("swarm", "n_nodes", "Nodes in the swarm's store"),
    ("swarm", "n_services", "Services in the swarm's store"),
    ("swarm", "n_tasks", "Task objects in the swarm's store (live and kept history)"),
    ("swarm_node", "cpu_shares", "The node's NanoCPUs"),
    ("swarm_node", "memory", "The node's memory in bytes"),
    ("swarm_task_status", "count", "Tasks in this state"),
];

/// Write OpenMetrics text, family by family.
pub fn write_openmetrics<W: Write + ?Sized>(w: &mut W, m: &Metrics) -> io::Result<()> {
    for (meas, field, help) in HELP {
        let name = format!("{meas}_{field}");
        // Per series (label set): the last value of each millisecond, in time order.
        let mut series: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
        let mut order: Vec<(i64, String)> = Vec::new();
        for r in m.rows.iter().filter(|r| r.series.measurement() == meas) {
            let Some(v) = fields(&r.series).into_iter().find(|(k, _)| *k == field).map(|x| x.1) else { continue };
            let labels: Vec<String> = tags(&r.series)
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                .collect();
            let key = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
            let ms = r.time.as_millisecond();
            let s = series.entry(key.clone()).or_default();
            match s.last_mut() {
                Some(last) if last.0 == ms => last.1 = v,
                _ => {
                    s.push((ms, v));
                    order.push((ms, key));
                }
            }
        }
        if series.is_empty() {
            continue;
        }
        writeln!(w, "# HELP {name} {help}.")?;
        writeln!(w, "# TYPE {name} gauge")?;
        // Samples in time order across the family's series; each series keeps its own order.
        let mut pos: BTreeMap<&str, usize> = BTreeMap::new();
        for (ms, key) in &order {
            let i = pos.entry(key.as_str()).or_default();
            let (t, v) = series[key][*i];
            debug_assert_eq!(t, *ms);
            *i += 1;
            writeln!(w, "{name}{key} {v} {}.{:03}", t.div_euclid(1000), t.rem_euclid(1000))?;
        }
    }
    writeln!(w, "# EOF")
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Write CSV: one row per field.
pub fn write_csv<W: Write + ?Sized>(w: &mut W, m: &Metrics) -> io::Result<()> {
    writeln!(w, "time,index,measurement,node_id,node_hostname,status,field,value")?;
    for r in &m.rows {
        let (id, host, status) = match &r.series {
            Series::SwarmNode { node_id, node_hostname, .. } => (node_id.as_str(), node_hostname.as_str(), ""),
            Series::SwarmTaskStatus { status, .. } => ("", "", *status),
            Series::Swarm { .. } => ("", "", ""),
        };
        for (f, v) in fields(&r.series) {
            writeln!(
                w,
                "{},{},{},{},{},{},{f},{v}",
                r.time,
                r.index,
                r.series.measurement(),
                csv_cell(id),
                csv_cell(host),
                status
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ms: i64, series: Series) -> Row {
        Row { index: 1, time: jiff::Timestamp::from_millisecond(ms).unwrap(), series }
    }

    #[test]
    fn line_protocol_escapes_tags_and_marks_integers() {
        let r = row(
            1_700_000_000_123,
            Series::SwarmNode { node_id: "n1".into(), node_hostname: "a b,c=d".into(), cpu_shares: 2, memory: 3 },
        );
        assert_eq!(
            influx_line(&r),
            "swarm_node,node_hostname=a\\ b\\,c\\=d,node_id=n1 cpu_shares=2i,memory=3i 1700000000123000000"
        );
        let r = row(5, Series::SwarmTaskStatus { status: "running", count: 4 });
        assert_eq!(influx_line(&r), "swarm_task_status,status=running count=4i 5000000");
    }

    #[test]
    fn openmetrics_keeps_families_together_and_one_value_per_millisecond() {
        let m = Metrics {
            rows: vec![
                row(1000, Series::Swarm { n_nodes: 1, n_services: 0, n_tasks: 0 }),
                row(1000, Series::SwarmTaskStatus { status: "running", count: 1 }),
                row(1000, Series::Swarm { n_nodes: 2, n_services: 0, n_tasks: 0 }),
                row(2500, Series::SwarmTaskStatus { status: "failed", count: 1 }),
                row(2500, Series::SwarmTaskStatus { status: "running", count: 0 }),
            ],
            step: None,
            notes: vec![],
            findings: vec![],
        };
        let mut o = Vec::new();
        write_openmetrics(&mut o, &m).unwrap();
        let s = String::from_utf8(o).unwrap();
        assert!(s.contains("swarm_n_nodes 2 1.000\n# HELP swarm_n_services"), "{s}");
        assert!(!s.contains("swarm_n_nodes 1 "), "{s}");
        assert!(
            s.contains(
                "# TYPE swarm_task_status_count gauge\nswarm_task_status_count{status=\"running\"} 1 1.000\nswarm_task_status_count{status=\"failed\"} 1 2.500\nswarm_task_status_count{status=\"running\"} 0 2.500\n"
            ),
            "{s}"
        );
        assert!(s.ends_with("# EOF\n"));
    }
}
