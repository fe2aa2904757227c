//! `chart snapshots`: the size of every kept snapshot (of one input, or of several archives
//! merged), stacked by object kind, with object counts, the growth trend, and swarmkit's 4 MiB
//! gRPC message and 1.5 MiB transaction limits.
//!
//! The bar heights are the `.snap` file sizes `snapshots` prints. Each bar is split into the
//! encoded bytes of each kind (exact protobuf lengths inside the decrypted snapshot), the raft
//! membership, and the framing (encryption record, raft and snap containers).

use super::*;
use crate::analyses::sizes::{GRPC_LIMIT, SnapshotSizes, TXN_LIMIT};
use serde::Serialize;

/// One bar.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    /// Input the file came from (file name).
    pub source: String,
    /// The breakdown.
    #[serde(flatten)]
    pub sizes: SnapshotSizes,
    /// Objects in it.
    pub objects: usize,
}

/// Linear growth of snapshot size with the raft index.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    /// Bytes per 1000 raft entries.
    pub bytes_per_1000_entries: f64,
    /// Bytes at index 0 (intercept).
    pub intercept: f64,
}

/// The chart's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshots {
    /// Input names.
    pub inputs: Vec<String>,
    /// Bars, by index.
    pub bars: Vec<Bar>,
    /// Growth trend (two or more valid snapshots).
    pub trend: Option<Trend>,
    /// The largest snapshot as a share of the gRPC and transaction limits.
    pub largest_bytes: u64,
    /// largest / 4 MiB.
    pub grpc_ratio: f64,
    /// largest / 1.5 MiB.
    pub transaction_ratio: f64,
}

/// The stack layers, bottom first: (label, colour).
pub const LAYERS: [(&str, RGBColor); 10] = [
    ("tasks", PALETTE[0]),
    ("services", PALETTE[1]),
    ("nodes", PALETTE[2]),
    ("networks", PALETTE[4]),
    ("secrets", PALETTE[3]),
    ("configs", PALETTE[5]),
    ("clusters", PALETTE[6]),
    ("other kinds", PALETTE[7]),
    ("raft membership", PALETTE[8]),
    ("framing", PALETTE[9]),
];

fn layer_bytes(s: &SnapshotSizes) -> [u64; 10] {
    [
        s.kind("tasks"),
        s.kind("services"),
        s.kind("nodes"),
        s.kind("networks"),
        s.kind("secrets"),
        s.kind("configs"),
        s.kind("clusters"),
        s.kind("volumes") + s.kind("resources") + s.kind("extensions"),
        s.membership_bytes,
        s.framing_bytes,
    ]
}

/// Build from snapshot breakdowns and the input each came from.
pub fn compute(inputs: Vec<String>, list: Vec<(String, SnapshotSizes)>) -> Snapshots {
    let mut bars: Vec<Bar> =
        list.into_iter().map(|(source, sizes)| Bar { objects: sizes.objects(), source, sizes }).collect();
    bars.sort_by(|a, b| {
        (a.sizes.index, a.sizes.term, &a.sizes.file).cmp(&(b.sizes.index, b.sizes.term, &b.sizes.file))
    });
    let pts: Vec<(f64, f64)> =
        bars.iter().filter(|b| b.sizes.valid).map(|b| (b.sizes.index as f64, b.sizes.bytes as f64)).collect();
    let trend = if pts.len() >= 2 {
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx > 0.0 {
            let b = sxy / sxx;
            Some(Trend { bytes_per_1000_entries: round6(b * 1000.0), intercept: round6(my - b * mx) })
        } else {
            None
        }
    } else {
        None
    };
    let largest_bytes = bars.iter().map(|b| b.sizes.bytes).max().unwrap_or(0);
    Snapshots {
        inputs,
        bars,
        trend,
        largest_bytes,
        grpc_ratio: round6(largest_bytes as f64 / GRPC_LIMIT as f64),
        transaction_ratio: round6(largest_bytes as f64 / TXN_LIMIT as f64),
    }
}

impl Snapshots {
    /// Table form.
    pub fn text(&self) -> String {
        let mut o = format!("SNAPSHOT SIZES ({})\n", inputs_label(&self.inputs));
        if self.bars.is_empty() {
            o.push_str("no snapshot in this input\n");
            return o;
        }
        let mut t = crate::render::table::Table::new(&[
            "INDEX",
            "TERM",
            "FILE",
            "SOURCE",
            "BYTES",
            "OBJECTS",
            "TASKS",
            "SERVICES",
            "NODES",
            "NETWORKS",
            "SECRETS",
            "CONFIGS",
            "CLUSTERS",
            "OTHER",
            "MEMBERSHIP",
            "FRAMING",
        ]);
        for b in &self.bars {
            let l = layer_bytes(&b.sizes);
            let c = |k: &str| b.sizes.kinds.iter().find(|x| x.kind == k).map(|x| x.count).unwrap_or(0);
            let cell = |i: usize, k: &str| format!("{}/{}", l[i], c(k));
            if !b.sizes.valid {
                t.row(vec![
                    b.sizes.index.to_string(),
                    b.sizes.term.to_string(),
                    b.sizes.file.clone(),
                    b.source.clone(),
                    b.sizes.bytes.to_string(),
                    "(not readable)".into(),
                ]);
                continue;
            }
            t.row(vec![
                b.sizes.index.to_string(),
                b.sizes.term.to_string(),
                b.sizes.file.clone(),
                b.source.clone(),
                b.sizes.bytes.to_string(),
                b.objects.to_string(),
                cell(0, "tasks"),
                cell(1, "services"),
                cell(2, "nodes"),
                cell(3, "networks"),
                cell(4, "secrets"),
                cell(5, "configs"),
                cell(6, "clusters"),
                l[7].to_string(),
                l[8].to_string(),
                l[9].to_string(),
            ]);
        }
        o.push_str(&t.render());
        o.push_str("(kind columns: bytes/count)\n");
        if let Some(tr) = &self.trend {
            o.push_str(&format!("trend: {:+.1} bytes per 1000 raft entries\n", tr.bytes_per_1000_entries));
        }
        o.push_str(&format!(
            "largest: {} B = {:.3}% of the 4 MiB gRPC message limit, {:.3}% of the 1.5 MiB transaction limit\n",
            self.largest_bytes,
            self.grpc_ratio * 100.0,
            self.transaction_ratio * 100.0
        ));
        o
    }
}

impl Chart for Snapshots {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let n = self.bars.len();
        if n == 0 {
            // No data: say so, instead of an empty axis and ratios against nothing.
            let area = header(
                root,
                "Snapshot sizes by object kind",
                &[format!("{}: no snapshot in this input", inputs_label(&self.inputs))],
            )?;
            let (w, h) = area.dim_in_pixel();
            area.draw(&Text::new(
                "No .snap file to chart: the swarm has not taken a snapshot yet, or its snap dir is empty.".to_string(),
                ((w as i32) / 2, (h as i32) / 3),
                font(18.0).color(&RGBColor(90, 90, 90)).pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(de)?;
            return Ok(());
        }
        let idx = |f: fn(&Bar) -> u64| self.bars.iter().map(f).collect::<Vec<u64>>();
        let ixs = idx(|b| b.sizes.index);
        let sub = vec![
            format!(
                "{}: {n} snapshot{} at raft indexes {}; bars are the .snap file sizes, split by what the bytes hold",
                inputs_label(&self.inputs),
                if n == 1 { "" } else { "s" },
                match (ixs.first(), ixs.last()) {
                    (Some(a), Some(b)) if a != b => format!("{a}-{b}"),
                    (Some(a), _) => a.to_string(),
                    _ => "-".into(),
                }
            ),
            format!(
                "largest {} = {:.2}% of swarmkit's 4 MiB gRPC message limit, {:.2}% of its 1.5 MiB transaction limit{}",
                crate::render::human_bytes(self.largest_bytes),
                self.grpc_ratio * 100.0,
                self.transaction_ratio * 100.0,
                match &self.trend {
                    Some(t) => format!(
                        "; growth {}{} per 1000 entries",
                        if t.bytes_per_1000_entries < 0.0 { "-" } else { "+" },
                        crate::render::human_bytes(t.bytes_per_1000_entries.abs().round() as u64)
                    ),
                    None => String::new(),
                }
            ),
        ];
        let area = header(root, "Snapshot sizes by object kind", &sub)?;
        let (area, side) = area.split_horizontally(area.dim_in_pixel().0 - 330);
        let mut legend: Vec<(String, Mark)> = Vec::new();
        let maxb = self.largest_bytes.max(1) as f64;
        // Show the limits inside the plot only when they are within reach of the bars.
        let show_txn = (TXN_LIMIT as f64) < maxb * 3.0;
        let show_grpc = (GRPC_LIMIT as f64) < maxb * 3.0;
        let top = if show_grpc {
            GRPC_LIMIT as f64 * 1.1
        } else if show_txn {
            (TXN_LIMIT as f64 * 1.15).max(maxb * 1.3)
        } else {
            maxb * 1.3
        };
        let (div, unit) = byte_unit(top);
        let ymax = top / div;
        let mut chart = ChartBuilder::on(&area)
            .margin_left(16)
            .margin_right(30)
            .margin_bottom(10)
            .margin_top(10)
            .x_label_area_size(60)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.6f64..(n.max(1) as f64 - 0.4), 0f64..ymax)
            .map_err(de)?;
        let labels: Vec<String> = self
            .bars
            .iter()
            .map(|b| {
                let multi_term = self.bars.iter().any(|x| x.sizes.term != b.sizes.term);
                if multi_term { format!("{} (t{})", b.sizes.index, b.sizes.term) } else { b.sizes.index.to_string() }
            })
            .collect();
        let span = ymax;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("snapshot (raft index it was taken at)")
            .y_desc(format!("size ({unit})"))
            .axis_desc_style(font(16.0))
            .label_style(font(13.0))
            .x_labels(n.max(1) * 2 + 1)
            .x_label_formatter(&|x| {
                let r = x.round();
                if (x - r).abs() < 1e-6 && r >= 0.0 {
                    labels.get(r as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|y| tick(*y, span))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(de)?;
        let w = 0.34;
        let used: Vec<bool> =
            (0..LAYERS.len()).map(|l| self.bars.iter().any(|b| layer_bytes(&b.sizes)[l] > 0)).collect();
        for (i, b) in self.bars.iter().enumerate() {
            let x = i as f64;
            if !b.sizes.valid {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x - w, 0.0), (x + w, b.sizes.bytes as f64 / div)],
                        MARK_GREY.mix(0.3).filled(),
                    )))
                    .map_err(de)?;
                continue;
            }
            let mut y = 0.0;
            for (l, v) in layer_bytes(&b.sizes).iter().enumerate() {
                if *v == 0 {
                    continue;
                }
                let y1 = y + *v as f64 / div;
                chart
                    .draw_series(std::iter::once(Rectangle::new([(x - w, y), (x + w, y1)], LAYERS[l].1.filled())))
                    .map_err(de)?;
                // Object counts inside segments tall enough to hold them.
                let kinds: [&[&str]; 7] =
                    [&["tasks"], &["services"], &["nodes"], &["networks"], &["secrets"], &["configs"], &["clusters"]];
                if l < kinds.len() && y1 - y >= ymax * 0.045 {
                    let n: usize = b.sizes.kinds.iter().filter(|k| kinds[l].contains(&k.kind)).map(|k| k.count).sum();
                    let name = if n == 1 { kinds[l][0].trim_end_matches('s') } else { kinds[l][0] };
                    chart
                        .draw_series(std::iter::once(Text::new(
                            format!("{n} {name}"),
                            (x, (y + y1) / 2.0),
                            font(12.0).color(&WHITE).pos(Pos::new(HPos::Center, VPos::Center)),
                        )))
                        .map_err(de)?;
                }
                y = y1;
            }
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x - w, 0.0), (x + w, y)],
                    BLACK.mix(0.5).stroke_width(1),
                )))
                .map_err(de)?;
            let ty = self
                .trend
                .as_ref()
                .map(|t| (t.intercept + t.bytes_per_1000_entries * b.sizes.index as f64 / 1000.0) / div)
                .unwrap_or(0.0);
            let y = if ty > y && ty < y + ymax * 0.08 { ty } else { y };
            chart
                .draw_series([
                    Text::new(
                        crate::render::human_bytes(b.sizes.bytes),
                        (x, y + ymax * 0.045),
                        font(13.0).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ),
                    Text::new(
                        format!("{} objects", b.objects),
                        (x, y + ymax * 0.01),
                        font(12.0).color(&RGBColor(80, 80, 80)).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ),
                ])
                .map_err(de)?;
        }
        for (l, (name, color)) in LAYERS.iter().enumerate().rev() {
            if used[l] {
                legend.push((name.to_string(), Mark::Box(*color)));
            }
        }
        if let Some(t) = &self.trend {
            let pts: Vec<(f64, f64)> = self
                .bars
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    (i as f64, (t.intercept + t.bytes_per_1000_entries * b.sizes.index as f64 / 1000.0) / div)
                })
                .collect();
            chart.draw_series(std::iter::once(DashedPathElement::new(pts, 8, 5, BLACK.stroke_width(2)))).map_err(de)?;
            legend.push(("growth trend (least squares)".into(), Mark::Dashed(BLACK)));
        }
        let x1 = n.max(1) as f64 - 0.4;
        for (show, lim, name) in [
            (show_txn, TXN_LIMIT, "1.5 MiB raft transaction limit"),
            (show_grpc, GRPC_LIMIT, "4 MiB gRPC message limit"),
        ] {
            if show {
                let y = lim as f64 / div;
                chart
                    .draw_series(std::iter::once(PathElement::new(vec![(-0.6, y), (x1, y)], ALERT_RED.stroke_width(2))))
                    .map_err(de)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        name.to_string(),
                        (x1, y),
                        font(13.0).color(&ALERT_RED).pos(Pos::new(HPos::Right, VPos::Bottom)),
                    )))
                    .map_err(de)?;
            }
        }
        if show_txn || show_grpc {
            legend.push(("swarmkit limit".into(), Mark::Line(ALERT_RED)));
        }
        if !show_txn {
            legend
                .push((format!("1.5 MiB transaction limit: {:.0}x the largest", TXN_LIMIT as f64 / maxb), Mark::None));
        }
        if !show_grpc {
            legend.push((format!("4 MiB gRPC limit: {:.0}x the largest", GRPC_LIMIT as f64 / maxb), Mark::None));
        }
        legend_panel(&side, "What the bytes hold", &legend)
    }
}
