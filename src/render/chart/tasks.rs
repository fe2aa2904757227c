//! `chart tasks`: the number of tasks in each state over wall-clock time (stacked), failures
//! highlighted.
//!
//! Counts are of the task objects in the store after every committed entry, grouped by current
//! state as `docker service ps` prints it; they include the dead history the task reaper keeps
//! (up to the task history limit per slot), which is what fills snapshots. A failure is a task
//! entering `failed` or `rejected`, exactly as the timeline reports it.

use super::*;
use crate::analyses::history::Step;
use crate::decode::docker_api as dapi;
use crate::decode::object::{Kind, Object, Verb, service_name};
use crate::replay::analysis::Analysis;
use serde::Serialize;
use std::collections::BTreeMap;

/// State groups, bottom of the stack first: (name, states, colour).
pub const GROUPS: [(&str, &[&str], RGBColor); 8] = [
    ("running", &["running"], RGBColor(89, 161, 79)),
    ("starting", &["assigned", "accepted", "preparing", "ready", "starting"], RGBColor(160, 203, 120)),
    ("pending", &["new", "pending"], RGBColor(237, 201, 72)),
    ("complete", &["complete"], RGBColor(118, 183, 178)),
    ("shutdown", &["shutdown"], RGBColor(186, 176, 172)),
    ("orphaned/remove", &["orphaned", "remove"], RGBColor(176, 122, 161)),
    ("rejected", &["rejected"], RGBColor(150, 20, 20)),
    ("failed", &["failed"], RGBColor(225, 60, 60)),
];

/// Group of a state name.
pub fn group_of(state: &str) -> usize {
    GROUPS.iter().position(|g| g.1.contains(&state)).unwrap_or(2)
}

/// Counts after one entry.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Raft index.
    pub index: u64,
    /// Time.
    pub time: String,
    /// Seconds since the first sample.
    pub secs: f64,
    /// Tasks per group (order of [`GROUPS`]).
    pub counts: [u64; 8],
}

/// A task failure.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// Raft index.
    pub index: u64,
    /// Time.
    pub time: String,
    /// Seconds since the first sample.
    pub secs: f64,
    /// Task ID.
    pub task: String,
    /// `service.slot`.
    pub name: String,
    /// `failed` or `rejected`.
    pub state: String,
    /// The error.
    pub err: String,
}

/// The chart's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Tasks {
    /// Input names.
    pub inputs: Vec<String>,
    /// Group names.
    pub groups: Vec<&'static str>,
    /// Samples (entries that changed a count).
    pub samples: Vec<Sample>,
    /// Failures.
    pub failures: Vec<Failure>,
    #[serde(skip)]
    t0: Option<jiff::Timestamp>,
}

fn state_of(o: &Object) -> Option<&'static str> {
    match o {
        Object::Task(t) => Some(dapi::task_state(t.status.as_ref().map(|s| s.state).unwrap_or(0))),
        _ => None,
    }
}

/// Compute.
pub fn compute(a: &Analysis, inputs: Vec<String>) -> Tasks {
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut counts = [0u64; 8];
    let mut raw: Vec<(u64, Option<jiff::Timestamp>, [u64; 8])> = Vec::new();
    let mut fails: Vec<(u64, Option<jiff::Timestamp>, String, String, String, String)> = Vec::new();
    let mut pending: Option<(u64, Option<jiff::Timestamp>)> = None;
    let mut svc_names: BTreeMap<String, String> = BTreeMap::new();
    let flush = |pending: &mut Option<(u64, Option<jiff::Timestamp>)>,
                 raw: &mut Vec<(u64, Option<jiff::Timestamp>, [u64; 8])>,
                 counts: &[u64; 8],
                 force: bool| {
        if let Some((i, t)) = pending.take() {
            if force || raw.last().is_none_or(|l| l.2 != *counts) {
                raw.push((i, t, *counts));
            }
        }
    };
    walk_committed(a, |step| match step {
        Step::Base { index, store, .. } => {
            for o in store.iter(Kind::Task) {
                let g = group_of(state_of(&o).unwrap_or("new"));
                states.insert(o.id().to_string(), g);
                counts[g] += 1;
            }
            for s in store.services() {
                svc_names.insert(s.id.clone(), service_name(&s));
            }
            raw.push((index, None, counts));
        }
        Step::Action { at, verb, before, after } if at.committed && at.overwritten_by_term.is_none() => {
            if pending.is_some_and(|(i, _)| i != at.index) {
                flush(&mut pending, &mut raw, &counts, false);
            }
            pending = Some((at.index, at.time));
            if let Object::Service(s) = after {
                if verb != Verb::Remove {
                    svc_names.insert(s.id.clone(), after.name());
                }
            }
            let Some(st) = state_of(after) else { return };
            if let Some(g) = states.remove(after.id()) {
                counts[g] -= 1;
            }
            if verb != Verb::Remove {
                let g = group_of(st);
                states.insert(after.id().to_string(), g);
                counts[g] += 1;
                let old = before.and_then(state_of).unwrap_or("");
                if (st == "failed" || st == "rejected") && old != st {
                    if let Object::Task(t) = after {
                        let svc = svc_names.get(&t.service_id).cloned().unwrap_or_default();
                        let name =
                            if t.slot != 0 { format!("{svc}.{}", t.slot) } else { format!("{svc}.{}", t.node_id) };
                        let err = t.status.as_ref().map(|s| s.err.clone()).unwrap_or_default();
                        fails.push((at.index, at.time, t.id.clone(), name, st.to_string(), err));
                    }
                }
            }
        }
        _ => {}
    });
    flush(&mut pending, &mut raw, &counts, true);
    let t0 = raw.iter().find_map(|r| r.1);
    let rel = |t: Option<jiff::Timestamp>| match (t.or(t0), t0) {
        (Some(t), Some(t0)) => secs_since(t0, t).max(0.0),
        _ => 0.0,
    };
    let mut last = 0.0f64;
    let samples: Vec<Sample> = raw
        .iter()
        .map(|(i, t, c)| {
            let s = rel(*t).max(last);
            last = s;
            Sample { index: *i, time: t.or(t0).map(|t| t.to_string()).unwrap_or_default(), secs: round6(s), counts: *c }
        })
        .collect();
    let failures = fails
        .into_iter()
        .map(|(index, t, task, name, state, err)| Failure {
            index,
            time: t.map(|t| t.to_string()).unwrap_or_default(),
            secs: round6(rel(t)),
            task,
            name,
            state,
            err,
        })
        .collect();
    Tasks { inputs, groups: GROUPS.iter().map(|g| g.0).collect(), samples, failures, t0 }
}

impl Tasks {
    /// Final counts by group name.
    pub fn last_counts(&self) -> BTreeMap<&'static str, u64> {
        let c = self.samples.last().map(|s| s.counts).unwrap_or_default();
        GROUPS.iter().zip(c).map(|(g, n)| (g.0, n)).collect()
    }

    /// Table form: counts at each change of the largest group, plus the failures.
    pub fn text(&self) -> String {
        let mut o = format!(
            "TASKS BY STATE ({}, {} samples{})\n",
            inputs_label(&self.inputs),
            self.samples.len(),
            match (self.samples.first(), self.samples.last()) {
                (Some(a), Some(b)) => format!(", indexes {}-{}, {} to {}", a.index, b.index, a.time, b.time),
                _ => String::new(),
            }
        );
        let mut h = vec!["INDEX", "TIME"];
        h.extend(GROUPS.iter().map(|g| g.0));
        h.push("TOTAL");
        let mut t = crate::render::table::Table::new(&h);
        // At most ~40 rows: every sample when few, else evenly spaced ones plus the last.
        let step = self.samples.len().div_ceil(40).max(1);
        for (i, s) in self.samples.iter().enumerate() {
            if i % step != 0 && i + 1 != self.samples.len() {
                continue;
            }
            let mut row = vec![s.index.to_string(), short_time(&s.time)];
            row.extend(s.counts.iter().map(|c| c.to_string()));
            row.push(s.counts.iter().sum::<u64>().to_string());
            t.row(row);
        }
        o.push_str(&t.render());
        o.push_str(&format!("\nFAILURES ({})\n", self.failures.len()));
        if !self.failures.is_empty() {
            let mut t = crate::render::table::Table::new(&["INDEX", "TIME", "TASK", "ID", "STATE", "ERROR"]);
            for f in &self.failures {
                t.row(vec![
                    f.index.to_string(),
                    short_time(&f.time),
                    f.name.clone(),
                    f.task.clone(),
                    f.state.clone(),
                    f.err.clone(),
                ]);
            }
            o.push_str(&t.render());
        }
        o
    }
}

/// Failures drawn as one column: where, and how many of each state.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureColumn {
    /// Seconds since the first sample (the column's first failure).
    pub secs: f64,
    /// `failed` failures in it.
    pub failed: usize,
    /// `rejected` failures in it.
    pub rejected: usize,
}

/// Failures (in time order) grouped into columns: each starts at a failure and takes every
/// following one less than `width` seconds after it, so no marker hides another. Every failure is
/// in exactly one column.
pub fn failure_columns(failures: &[Failure], width: f64) -> Vec<FailureColumn> {
    let mut out: Vec<FailureColumn> = Vec::new();
    for f in failures {
        let rejected = f.state == "rejected";
        match out.last_mut() {
            Some(c) if (f.secs - c.secs).abs() < width => {}
            _ => out.push(FailureColumn { secs: f.secs, failed: 0, rejected: 0 }),
        }
        if let Some(c) = out.last_mut() {
            if rejected {
                c.rejected += 1;
            } else {
                c.failed += 1;
            }
        }
    }
    out
}

fn short_time(t: &str) -> String {
    match t.parse::<jiff::Timestamp>() {
        Ok(t) => t.strftime("%H:%M:%S%.3f").to_string(),
        Err(_) => "-".into(),
    }
}

impl Chart for Tasks {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let range = match (self.t0, self.samples.last().and_then(|s| s.time.parse::<jiff::Timestamp>().ok())) {
            (Some(a), Some(b)) => time_range(a, b),
            _ => "no wall-clock times in this log".into(),
        };
        let last = self.samples.last().map(|s| s.counts).unwrap_or_default();
        let sub = vec![
            format!(
                "{}: {range}, raft indexes {}-{}; every task object in the store (dead history included), by current state",
                inputs_label(&self.inputs),
                self.samples.first().map(|s| s.index).unwrap_or(0),
                self.samples.last().map(|s| s.index).unwrap_or(0)
            ),
            format!(
                "at the end: {} tasks ({} running, {} failed, {} rejected); {} task failures, marked in red above the plot",
                last.iter().sum::<u64>(),
                last[0],
                last[7],
                last[6],
                self.failures.len()
            ),
        ];
        let area = header(root, "Tasks by state over time", &sub)?;
        let (area, side) = area.split_horizontally(area.dim_in_pixel().0 - 250);
        let t0 = self.t0.unwrap_or_default();
        let xmax = self.samples.last().map(|s| s.secs).unwrap_or(1.0).max(1.0);
        let ymax_n = self.samples.iter().map(|s| s.counts.iter().sum::<u64>()).max().unwrap_or(1).max(1) as f64;
        let ymax = ymax_n * 1.12 + 1.0;
        let axis = TimeAxis::new(t0, 0.0, xmax);
        let mut chart = ChartBuilder::on(&area)
            .margin_left(16)
            .margin_right(20)
            .margin_bottom(10)
            .margin_top(24)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(axis.desc())
            .y_desc("tasks")
            .axis_desc_style(font(16.0))
            .label_style(font(13.0))
            .x_labels(axis.ticks())
            .x_label_formatter(&|x| axis.label(*x))
            .y_label_formatter(&|y| format!("{:.0}", y))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(de)?;
        // Stacked steps: draw cumulative layers from the top down.
        let mut legend = Vec::new();
        for g in (0..GROUPS.len()).rev() {
            if !self.samples.iter().any(|s| s.counts[g] > 0) {
                continue;
            }
            let mut pts: Vec<(f64, f64)> = Vec::new();
            let mut prev: Option<f64> = None;
            for s in &self.samples {
                let y: f64 = s.counts[..=g].iter().sum::<u64>() as f64;
                if let Some(p) = prev {
                    pts.push((s.secs, p));
                }
                pts.push((s.secs, y));
                prev = Some(y);
            }
            if let Some(p) = prev {
                pts.push((xmax, p));
            }
            let c = GROUPS[g].2;
            chart.draw_series(AreaSeries::new(pts, 0.0, c.filled()).border_style(c.mix(0.9))).map_err(de)?;
            legend.push((GROUPS[g].0.to_string(), Mark::Box(c)));
        }
        // Failures: red ticks at the top, a thin line down. Failures closer than a marker and
        // its count label are wide (30 px) are one column: one marker per state, stacked (failed
        // on top, rejected under it), each with its count when it stands for more than one.
        let px = chart.plotting_area().dim_in_pixel().0.max(1) as f64;
        for col in failure_columns(&self.failures, xmax * 30.0 / px) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(col.secs, 0.0), (col.secs, ymax * 0.97)],
                    GROUPS[7].2.mix(0.35).stroke_width(1),
                )))
                .map_err(de)?;
            let mut row = 0;
            for (n, g) in [(col.failed, 7), (col.rejected, 6)] {
                if n == 0 {
                    continue;
                }
                let c = GROUPS[g].2;
                let y = ymax * (0.97 - 0.045 * row as f64);
                chart.draw_series(std::iter::once(TriangleMarker::new((col.secs, y), 7, c.filled()))).map_err(de)?;
                if n > 1 {
                    let label = Text::new(
                        format!("×{n}"),
                        (8, 0),
                        bold(12.0).color(&c).pos(Pos::new(HPos::Left, VPos::Center)),
                    );
                    chart.draw_series(std::iter::once(EmptyElement::at((col.secs, y)) + label)).map_err(de)?;
                }
                row += 1;
            }
        }
        if !self.failures.is_empty() {
            legend.push((format!("task failure ({})", self.failures.len()), Mark::Line(GROUPS[7].2)));
        }
        legend_panel(&side, "Task state", &legend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(secs: f64, state: &str) -> Failure {
        Failure {
            index: 0,
            time: String::new(),
            secs,
            task: String::new(),
            name: String::new(),
            state: state.into(),
            err: String::new(),
        }
    }

    #[test]
    fn overlapping_failures_share_a_column_with_their_counts() {
        let fs = [
            failure(0.0, "failed"),
            failure(0.5, "failed"),
            failure(0.9, "rejected"),
            failure(5.0, "failed"),
            failure(5.99, "failed"),
            failure(6.0, "failed"),
        ];
        let cols = failure_columns(&fs, 1.0);
        assert_eq!(
            cols,
            [
                FailureColumn { secs: 0.0, failed: 2, rejected: 1 },
                FailureColumn { secs: 5.0, failed: 2, rejected: 0 },
                FailureColumn { secs: 6.0, failed: 1, rejected: 0 },
            ]
        );
        assert_eq!(cols.iter().map(|c| c.failed + c.rejected).sum::<usize>(), fs.len());
        assert_eq!(failure_columns(&[], 1.0), []);
    }

    /// A chart of `failures` over a minute from `t0`, 3 tasks running throughout, as SVG.
    fn drawn(t0: &str, failures: Vec<Failure>) -> String {
        let t0: jiff::Timestamp = t0.parse().unwrap();
        let sample = |index, secs: f64| Sample {
            index,
            time: t0.checked_add(jiff::SignedDuration::from_secs_f64(secs)).unwrap().to_string(),
            secs,
            counts: [3, 0, 0, 0, 0, 0, 0, 0],
        };
        let t = Tasks {
            inputs: vec!["x".into()],
            groups: GROUPS.iter().map(|g| g.0).collect(),
            samples: vec![sample(1, 0.0), sample(2, 60.0)],
            failures,
            t0: Some(t0),
        };
        // `CHART_DUMP=DIR` writes the drawing as a PNG too, for a look (as `tests/charts.rs`).
        if let Some(d) = std::env::var_os("CHART_DUMP") {
            let name = format!("tasks-unit-{}-{}.png", t0.strftime("%H%M%S"), t.failures.len());
            write(&t, &std::path::Path::new(&d).join(name)).unwrap();
        }
        svg(&t).unwrap()
    }

    #[test]
    fn failures_at_one_moment_stay_visible_as_one_counted_marker_per_state() {
        let mut fs: Vec<Failure> = (0..5).map(|k| failure(10.0 + 0.01 * k as f64, "failed")).collect();
        fs.push(failure(10.02, "rejected"));
        fs.push(failure(40.0, "failed"));
        let s = drawn("2026-11-27T11:00:00Z", fs);
        let markers = |fill: &str| {
            let attr = format!("fill=\"{fill}\"");
            s.split("<polygon").skip(1).filter(|p| p.split('>').next().unwrap_or("").contains(&attr)).count()
        };
        assert_eq!(markers("#E13C3C"), 2, "one failed marker per column");
        assert_eq!(markers("#961414"), 1, "the rejected one under it");
        assert!(s.contains("×5\n</text>"), "the column's count");
        assert_eq!(s.matches("×").count(), 1, "a single failure carries no count");
        assert!(s.contains("\n11:00:30\n"), "clock times");
        assert!(!s.contains("Nov 27"), "one day: no date on the axis");
    }

    #[test]
    fn the_tasks_time_axis_shows_the_date_across_midnight() {
        let s = drawn("2026-11-27T23:59:40Z", vec![]);
        assert!(s.contains("Nov 28 00:00:"), "a dated tick after midnight");
        assert!(s.contains("Nov 27 23:59:"), "a dated tick before it");
        assert!(s.contains("2026-11-27 23:59:40 UTC to 2026-11-28 00:00:40 UTC"), "the subtitle's range");
    }
}
