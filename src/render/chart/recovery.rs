//! `chart recovery`: what a manager restart would cost at every raft index.
//!
//! At index `i` a restarting manager loads the newest snapshot at or before `i`, then replays
//! every WAL entry after that snapshot up to `i`. The cost is converted to seconds with three
//! rates: snapshot bytes per second, entries per second and WAL bytes per second, plus a fixed
//! engine start. Three calibrations, and the chart always names the one it used:
//! - `docker` (the default): the model fitted to real `dockerd` restarts, from its start to
//!   `docker node ls` answering, measured by `benches/restart-time.sh` and fitted by
//!   `benches/fit-restart-model.py` into `assets/recovery-model.json` (shipped in the binary; it
//!   names the engine version and CPU count it was measured with);
//! - `own`: swarmsift's own replay speed, measured on this machine by really loading this
//!   input's snapshots and replaying its entries (decrypt, decode, apply to the store), several
//!   passes, fastest pass kept. It is not Docker's restart time;
//! - fixed rates (`--calibration SNAP,ENTRIES[,WAL]`; golden tests use them).
//!
//! Snapshots are taken where the WAL holds a snapshot marker, or where a kept `.snap` file says
//! so. When a marker's file is no longer kept, its size is estimated by encoding the state
//! replayed at that index the way swarmkit would (the estimate is marked).

use super::*;
use crate::analyses::sizes;
use crate::decode::entry::decode_entry;
use crate::decode::snapshot::decode_snapshot;
use crate::replay::analysis::Analysis;
use crate::replay::point::{self as replay, Point as RPoint};
use crate::replay::store::Store;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Rates that turn work into seconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Calibration {
    /// Snapshot bytes loaded per second (decrypt + decode + build the store).
    pub snapshot_bytes_per_s: f64,
    /// WAL entries replayed per second (fixed cost per entry).
    pub entries_per_s: f64,
    /// WAL bytes replayed per second (cost per byte of entry data); `None` when the data shows
    /// no cost per byte beyond the per-entry cost.
    pub wal_bytes_per_s: Option<f64>,
    /// Where the rates come from: `measured Docker restarts`, `swarmsift's own replay speed on
    /// this machine`, or `fixed`.
    pub source: String,
    /// How it was measured.
    pub note: String,
    /// Seconds every restart costs whatever the data (the engine's own start), measured models
    /// only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_s: Option<f64>,
    /// The engine the model was measured on (`docker` calibration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// CPUs of the machine it was measured on (`docker` calibration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// Amdahl's parallel fraction of a restart, from runs pinned to fewer CPUs (`docker`
    /// calibration): what scaling to other vCPU counts uses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_fraction: Option<f64>,
}

/// The fitted model of real Docker restarts (`benches/fit-restart-model.py`'s output).
pub const DOCKER_MODEL_JSON: &str = include_str!("../../../assets/recovery-model.json");

/// The fields of [`DOCKER_MODEL_JSON`] the chart uses.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct DockerModel {
    /// `measured Docker restarts`.
    pub source: String,
    /// Engine version(s) measured.
    pub engine: String,
    /// CPUs of the machine.
    pub cpus: u32,
    /// Seconds of every restart.
    pub fixed_s: f64,
    /// Seconds per MB (1e6 bytes) of the newest snapshot.
    pub s_per_snapshot_mb: f64,
    /// Seconds per WAL entry after it.
    pub s_per_wal_entry: f64,
    /// Seconds per MB of those entries.
    pub s_per_wal_mb: f64,
    /// Amdahl's parallel fraction.
    pub parallel_fraction: Option<f64>,
    /// The measurement files.
    pub measurements: Vec<String>,
    /// How it was fitted.
    pub fit: serde_json::Value,
}

impl DockerModel {
    /// The shipped model.
    pub fn shipped() -> Result<DockerModel> {
        serde_json::from_str(DOCKER_MODEL_JSON)
            .map_err(|e| Error::Usage(format!("assets/recovery-model.json does not parse: {e}")))
    }

    /// Seconds on `vcpus` CPUs for the same work that takes `secs` on the measured machine
    /// (Amdahl's law with the measured parallel fraction; unchanged when it is unknown).
    pub fn scale(&self, secs: f64, vcpus: u32) -> f64 {
        let p = self.parallel_fraction.unwrap_or(0.0).clamp(0.0, 1.0);
        let at = |n: u32| (1.0 - p) + p / f64::from(n.max(1));
        secs * at(vcpus) / at(self.cpus)
    }
}

/// A rate from seconds per unit (`None` for a zero cost).
fn per(s_per_unit: f64, unit: f64) -> Option<f64> {
    (s_per_unit > 0.0).then(|| unit / s_per_unit)
}

impl Calibration {
    /// Parse `SNAP_BYTES_PER_S,ENTRIES_PER_S[,WAL_BYTES_PER_S]`.
    pub fn parse(s: &str) -> Result<Calibration> {
        let v: Vec<&str> = s.split(',').map(str::trim).collect();
        let num = |x: &str| -> Result<f64> {
            let f: f64 = x.parse().map_err(|_| Error::Usage(format!("--calibration: {x:?} is not a number")))?;
            if f.is_finite() && f > 0.0 {
                Ok(f)
            } else {
                Err(Error::Usage(format!("--calibration: {x:?} must be a positive rate")))
            }
        };
        if v.len() < 2 || v.len() > 3 {
            return Err(Error::Usage("--calibration takes SNAP_BYTES_PER_S,ENTRIES_PER_S[,WAL_BYTES_PER_S]".into()));
        }
        Ok(Calibration {
            snapshot_bytes_per_s: num(v[0])?,
            entries_per_s: num(v[1])?,
            wal_bytes_per_s: match v.get(2) {
                Some(x) => Some(num(x)?),
                None => None,
            },
            source: "fixed".into(),
            note: "given with --calibration".into(),
            fixed_s: None,
            engine: None,
            cpus: None,
            parallel_fraction: None,
        })
    }

    /// Check a `--calibration` value: `docker`, `own` or rates.
    pub fn check_arg(s: &str) -> Result<()> {
        match s.trim() {
            "docker" => Calibration::docker().map(|_| ()),
            "own" => Ok(()),
            r => Calibration::parse(r).map(|_| ()),
        }
    }

    /// The calibration a `--calibration` value names (`None`: the default, `docker`).
    pub fn from_arg(s: Option<&str>, a: &Analysis) -> Result<Calibration> {
        match s.map(str::trim) {
            None | Some("docker") => Calibration::docker(),
            Some("own") => Ok(Calibration::measure(a)),
            Some(r) => Calibration::parse(r),
        }
    }

    /// The shipped model of real Docker restarts.
    pub fn docker() -> Result<Calibration> {
        let m = DockerModel::shipped()?;
        // A zero cost is a rate no data reaches: kept as a huge one so that `seconds` stays
        // one formula.
        let big = 1e300;
        Ok(Calibration {
            snapshot_bytes_per_s: per(m.s_per_snapshot_mb, 1e6).unwrap_or(big),
            entries_per_s: per(m.s_per_wal_entry, 1.0).unwrap_or(big),
            wal_bytes_per_s: per(m.s_per_wal_mb, 1e6),
            source: m.source.clone(),
            note: format!(
                "dockerd {} on {} CPUs, from its start to `docker node ls` answering; fitted to {}",
                m.engine,
                m.cpus,
                m.measurements.join(", ")
            ),
            fixed_s: Some(m.fixed_s),
            engine: Some(m.engine),
            cpus: Some(m.cpus),
            parallel_fraction: m.parallel_fraction,
        })
    }

    /// The calibration as `--calibration` takes it.
    pub fn arg(&self) -> String {
        if self.engine.is_some() {
            return "docker".into();
        }
        let mut s = format!("{:.0},{:.0}", self.snapshot_bytes_per_s, self.entries_per_s);
        if let Some(b) = self.wal_bytes_per_s {
            s.push_str(&format!(",{b:.0}"));
        }
        s
    }

    /// One line for legends and tables.
    pub fn text(&self) -> String {
        let wal = match self.wal_bytes_per_s {
            Some(b) => format!("{} entries/s + {}/s", group(self.entries_per_s), rate(b)),
            None => format!("{} entries/s", group(self.entries_per_s)),
        };
        let head = match (&self.engine, self.cpus) {
            (Some(e), Some(c)) => {
                format!("{}: Docker {e} on {c} CPUs, start {:.2} s + ", self.source, self.fixed_s.unwrap_or(0.0))
            }
            _ => String::new(),
        };
        let snap = if self.snapshot_bytes_per_s >= 1e299 {
            "no cost per snapshot byte seen".to_string()
        } else {
            format!("{}/s", rate(self.snapshot_bytes_per_s))
        };
        let wal = if self.entries_per_s >= 1e299 {
            match self.wal_bytes_per_s {
                Some(b) => format!("{}/s", rate(b)),
                None => "no cost per entry seen".into(),
            }
        } else {
            wal
        };
        if head.is_empty() {
            format!("snapshot load {snap}, WAL replay {wal} ({})", self.source)
        } else {
            format!("{head}snapshot load {snap}, WAL replay {wal}")
        }
    }

    /// Seconds for (snapshot bytes, entries, WAL bytes): (snapshot part, WAL part).
    pub fn seconds(&self, snap_bytes: u64, entries: u64, wal_bytes: u64) -> (f64, f64) {
        let s = snap_bytes as f64 / self.snapshot_bytes_per_s;
        let w = entries as f64 / self.entries_per_s + self.wal_bytes_per_s.map(|b| wal_bytes as f64 / b).unwrap_or(0.0);
        (s, w)
    }

    /// Measure the rates on this machine with this input's own snapshots and entries.
    pub fn measure(a: &Analysis) -> Calibration {
        let budget = Duration::from_millis(400);
        let mut notes = Vec::new();
        // Snapshots: every kept valid one, fastest of several passes.
        let payloads: Vec<&[u8]> = a
            .snapshots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.valid)
            .filter_map(|(i, _)| a.snap_payloads.get(i).and_then(|p| p.as_deref()))
            .collect();
        let snap_rate = if !payloads.is_empty() {
            let bytes: u64 = a.snapshots.iter().filter(|s| s.valid).map(|s| s.bytes).sum();
            let best = best_of(budget / 2, || {
                for p in &payloads {
                    if let Ok((s, _)) = decode_snapshot(p, a.encrypted, &a.deks) {
                        std::hint::black_box(Store::from_snapshot(s.store.unwrap_or_default()));
                    }
                }
            });
            notes.push(format!("{} snapshots ({} B)", payloads.len(), bytes));
            bytes as f64 / best.max(1e-9)
        } else {
            // No snapshot kept: the final state encoded (and encrypted, as swarmkit would
            // write it) as one, then loaded.
            use prost::Message;
            let snap = crate::pb::docker::swarmkit::v1::Snapshot {
                version: 0,
                membership: None,
                store: Some(sizes::store_snapshot(&a.state)),
            };
            let plain = snap.encode_to_vec();
            let (buf, deks) = match a.deks.first() {
                Some(d) if a.encrypted => (crate::crypto::encrypt_secretbox(&plain, d.key(), &[7u8; 24]), &a.deks[..1]),
                _ => (plain, &a.deks[..0]),
            };
            let enc = !deks.is_empty();
            let best = best_of(budget / 2, || {
                if let Ok((s, _)) = decode_snapshot(&buf, enc, deks) {
                    std::hint::black_box(Store::from_snapshot(s.store.unwrap_or_default()));
                }
            });
            notes.push(format!(
                "no snapshot kept: the final state as a{} snapshot ({} B)",
                if enc { "n encrypted" } else { "" },
                buf.len()
            ));
            buf.len().max(1) as f64 / best.max(1e-9)
        };
        // Entries: per-entry time, fastest of several passes, then cost = a + b * bytes.
        let entries = &a.wal.entries;
        let mut per: Vec<f64> = vec![f64::INFINITY; entries.len()];
        let start = Instant::now();
        let mut passes = 0;
        while passes < 5 && (passes < 2 || start.elapsed() < budget) {
            let mut store = Store::default();
            for (i, e) in entries.iter().enumerate() {
                let t = Instant::now();
                let d = decode_entry(e, a.encrypted, &a.deks, "");
                // A timing loop (what one entry costs to decode and apply), not a replay: the
                // state comes from the engine; only the work is measured here.
                for (verb, obj) in d.actions {
                    std::hint::black_box(store.apply(verb, obj));
                }
                let dt = t.elapsed().as_secs_f64();
                if dt < per[i] {
                    per[i] = dt;
                }
            }
            passes += 1;
        }
        let xs: Vec<f64> = entries.iter().map(|e| e.data.len() as f64).collect();
        let (per_entry, per_byte) = fit(&xs, &per);
        notes.push(format!("{} entries x {passes} passes, fastest kept", entries.len()));
        Calibration {
            snapshot_bytes_per_s: sig3(snap_rate),
            entries_per_s: sig3(1.0 / per_entry),
            wal_bytes_per_s: per_byte.map(|b| sig3(1.0 / b)),
            source: "swarmsift's own replay speed on this machine, not Docker's".into(),
            note: notes.join("; "),
            fixed_s: None,
            engine: None,
            cpus: None,
            parallel_fraction: None,
        }
    }
}

/// Three significant digits (so that the legend does not flicker on the last digit).
fn sig3(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let m = 10f64.powi(v.log10().floor() as i32 - 2);
    (v / m).round() * m
}

fn best_of(budget: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut n = 0;
    while n < 5 && (n < 2 || start.elapsed() < budget) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        n += 1;
    }
    best
}

/// Least squares `t = a + b x`; returns (a, Some(b)) or (mean, None) when bytes explain nothing.
fn fit(xs: &[f64], ys: &[f64]) -> (f64, Option<f64>) {
    let n = xs.len().min(ys.len());
    if n == 0 {
        return (1e-6, None);
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n as f64, ys.iter().take(n).sum::<f64>() / n as f64);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for i in 0..n {
        sxy += (xs[i] - mx) * (ys[i] - my);
        sxx += (xs[i] - mx) * (xs[i] - mx);
    }
    let floor = ys.iter().take(n).cloned().fold(f64::INFINITY, f64::min).max(1e-9);
    if sxx <= 0.0 || sxy <= 0.0 {
        return (my.max(floor), None);
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    (a.max(floor), Some(b))
}

fn rate(bps: f64) -> String {
    if bps >= 1e9 {
        format!("{:.2} GB", bps / 1e9)
    } else if bps >= 1e6 {
        format!("{:.1} MB", bps / 1e6)
    } else if bps >= 1e3 {
        format!("{:.1} kB", bps / 1e3)
    } else {
        format!("{bps:.0} B")
    }
}

fn group(v: f64) -> String {
    let s = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a restart would start.
#[derive(Debug, Clone, Serialize)]
pub struct SnapMark {
    /// Snapshot index.
    pub index: u64,
    /// Snapshot term.
    pub term: u64,
    /// Bytes of its `.snap` file (estimated when the file is gone).
    pub bytes: u64,
    /// The kept file, if any.
    pub file: Option<String>,
    /// The size is an estimate (marker without a kept file).
    pub estimated: bool,
}

/// A new term.
#[derive(Debug, Clone, Serialize)]
pub struct Election {
    /// First index of the term.
    pub index: u64,
    /// The term.
    pub term: u64,
    /// The previous term.
    pub from: u64,
}

/// The cost of a restart at one index.
#[derive(Debug, Clone, Serialize)]
pub struct CostPoint {
    /// Raft index.
    pub index: u64,
    /// Term of the entry.
    pub term: u64,
    /// Committed on this manager.
    pub committed: bool,
    /// Index of the snapshot a restart would load (none: replay from index 1).
    pub snapshot_index: Option<u64>,
    /// Its bytes.
    pub snapshot_bytes: u64,
    /// Entries to replay after it.
    pub entries: u64,
    /// Their bytes.
    pub wal_bytes: u64,
    /// Seconds of the engine's own start (measured models only).
    #[serde(skip_serializing_if = "is_zero")]
    pub start_s: f64,
    /// Seconds to load the snapshot.
    pub snapshot_s: f64,
    /// Seconds to replay the entries.
    pub wal_s: f64,
    /// Total seconds.
    pub total_s: f64,
}

/// The whole chart's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    /// Input names.
    pub inputs: Vec<String>,
    /// The rates used.
    pub calibration: Calibration,
    /// Snapshots a restart could start from.
    pub snapshots: Vec<SnapMark>,
    /// Term changes inside the log.
    pub elections: Vec<Election>,
    /// One point per live WAL entry.
    pub points: Vec<CostPoint>,
    /// The tops of the sawtooth: the last index before each snapshot, and the last index.
    pub peaks: Vec<CostPoint>,
    /// Things the reader should know.
    pub notes: Vec<String>,
}

/// Compute the restart cost at every index.
pub fn compute(a: &Analysis, inputs: Vec<String>, cal: Calibration) -> Recovery {
    let mut notes = Vec::new();
    // Snapshot marks: WAL markers and kept valid files.
    let mut marks: Vec<SnapMark> = Vec::new();
    for s in a.snapshots.iter().filter(|s| s.valid) {
        marks.push(SnapMark {
            index: s.index,
            term: s.term,
            bytes: s.bytes,
            file: Some(s.file.clone()),
            estimated: false,
        });
    }
    let voters = a.snapshots.iter().rev().find(|s| s.valid).map(|s| s.voters.len()).unwrap_or(1);
    for m in a.wal.markers.iter().filter(|m| m.index > 0) {
        if marks.iter().any(|x| x.index == m.index) {
            continue;
        }
        let bytes = match replay::replay(a, &RPoint::Index(m.index), false) {
            Ok(r) if r.index == m.index => {
                let plain = sizes::snapshot_plain_bytes(&r.store, &r.membership);
                sizes::snap_file_bytes_estimate(plain, a.encrypted, voters.max(m.voters.len()))
            }
            _ => 0,
        };
        marks.push(SnapMark { index: m.index, term: m.term, bytes, file: None, estimated: true });
    }
    marks.sort_by_key(|m| (m.index, m.term));
    if marks.iter().any(|m| m.estimated) {
        notes.push("snapshots whose file is no longer kept are sized by encoding the state at their index".into());
    }
    // Live entries and prefix sums.
    let entries = &a.wal.entries;
    let mut pre_bytes = Vec::with_capacity(entries.len() + 1);
    pre_bytes.push(0u64);
    for e in entries {
        pre_bytes.push(pre_bytes.last().copied().unwrap_or(0) + e.data.len() as u64);
    }
    let rules = a.rules();
    let first = a.wal.first_index().unwrap_or(0);
    let mut points = Vec::with_capacity(entries.len());
    let mut gap_noted = false;
    for (pos, e) in entries.iter().enumerate() {
        let base = marks.iter().rev().find(|m| m.index <= e.index);
        let (snap_idx, snap_bytes, from) = match base {
            Some(m) => (Some(m.index), m.bytes, m.index),
            None => {
                if first > 1 && !gap_noted {
                    notes.push(format!(
                        "no snapshot before index {first} and the WAL does not reach index 1: early points count only the entries present"
                    ));
                    gap_noted = true;
                }
                (None, 0, 0)
            }
        };
        let start = entries.partition_point(|x| x.index <= from);
        let (n, b) =
            if pos + 1 > start { ((pos + 1 - start) as u64, pre_bytes[pos + 1] - pre_bytes[start]) } else { (0, 0) };
        let (ss, ws) = cal.seconds(snap_bytes, n, b);
        let st = cal.fixed_s.unwrap_or(0.0);
        points.push(CostPoint {
            index: e.index,
            term: e.term,
            committed: rules.committed(e),
            snapshot_index: snap_idx,
            snapshot_bytes: snap_bytes,
            entries: n,
            wal_bytes: b,
            start_s: round9(st),
            snapshot_s: round9(ss),
            wal_s: round9(ws),
            total_s: round9(st + ss + ws),
        });
    }
    // Elections: first entry of each new term among live entries.
    let mut elections = Vec::new();
    let mut last_term = 0;
    for e in entries {
        if e.term > last_term {
            if last_term > 0 {
                elections.push(Election { index: e.index, term: e.term, from: last_term });
            }
            last_term = e.term;
        }
    }
    // Peaks.
    let mut peaks = Vec::new();
    for w in points.windows(2) {
        if w[1].snapshot_index != w[0].snapshot_index {
            peaks.push(w[0].clone());
        }
    }
    if let Some(l) = points.last() {
        peaks.push(l.clone());
    }
    Recovery { inputs, calibration: cal, snapshots: marks, elections, points, peaks, notes }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

fn round9(v: f64) -> f64 {
    (v * 1e9).round() / 1e9
}

impl Recovery {
    /// The worst point.
    pub fn worst(&self) -> Option<&CostPoint> {
        self.points.iter().max_by(|a, b| a.total_s.total_cmp(&b.total_s).then(b.index.cmp(&a.index)))
    }

    /// Table form.
    pub fn text(&self) -> String {
        let mut o = format!(
            "RESTART COST ({}): load the newest snapshot at or before the index, replay the entries after it\n",
            inputs_label(&self.inputs)
        );
        o.push_str(&format!("calibration: {}\n", self.calibration.text()));
        o.push_str(&format!("  {} (--calibration {})\n", self.calibration.note, self.calibration.arg()));
        for n in &self.notes {
            o.push_str(&format!("note: {n}\n"));
        }
        o.push_str("\nPEAKS (last index before each snapshot, and the end of the log)\n");
        let mut t = crate::render::table::Table::new(&[
            "INDEX",
            "TERM",
            "SNAPSHOT",
            "SNAPSHOT BYTES",
            "ENTRIES",
            "WAL BYTES",
            "SNAPSHOT S",
            "WAL S",
            "TOTAL S",
        ]);
        for p in &self.peaks {
            t.row(vec![
                p.index.to_string(),
                p.term.to_string(),
                p.snapshot_index.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                p.snapshot_bytes.to_string(),
                p.entries.to_string(),
                p.wal_bytes.to_string(),
                format!("{:.6}", p.snapshot_s),
                format!("{:.6}", p.wal_s),
                format!("{:.6}", p.total_s),
            ]);
        }
        o.push_str(&t.render());
        o.push_str("\nSNAPSHOTS\n");
        let mut t = crate::render::table::Table::new(&["INDEX", "TERM", "BYTES", "FILE"]);
        for s in &self.snapshots {
            t.row(vec![
                s.index.to_string(),
                s.term.to_string(),
                format!("{}{}", s.bytes, if s.estimated { " (estimated)" } else { "" }),
                s.file.clone().unwrap_or_else(|| "(no longer kept)".into()),
            ]);
        }
        o.push_str(&t.render());
        if !self.elections.is_empty() {
            o.push_str(&format!(
                "\nELECTIONS: {}\n",
                self.elections
                    .iter()
                    .map(|e| format!("term {} at index {}", e.term, e.index))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(w) = self.worst() {
            o.push_str(&format!(
                "\nworst: {} at index {} (snapshot {} B + {} entries, {} B)\n",
                duration_text(w.total_s),
                w.index,
                w.snapshot_bytes,
                w.entries,
                w.wal_bytes
            ));
        }
        o
    }
}

impl Chart for Recovery {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult {
        let (lo, hi) = match (self.points.first(), self.points.last()) {
            (Some(a), Some(b)) => (a.index, b.index),
            _ => (0, 1),
        };
        let terms: Vec<u64> = self.points.iter().map(|p| p.term).collect();
        let (tmin, tmax) = (terms.iter().min().copied().unwrap_or(0), terms.iter().max().copied().unwrap_or(0));
        let sub = vec![
            format!(
                "{}: raft indexes {lo}-{hi}, term{} {}; a restart loads the newest snapshot at or before the index, then replays the WAL entries after it",
                inputs_label(&self.inputs),
                if tmin == tmax { "" } else { "s" },
                if tmin == tmax { tmin.to_string() } else { format!("{tmin}-{tmax}") }
            ),
            match self.worst() {
                Some(w) => format!(
                    "worst: {} at index {} (snapshot {} + {} entries / {}); {} snapshots, {} elections",
                    duration_text(w.total_s),
                    w.index,
                    crate::render::human_bytes(w.snapshot_bytes),
                    w.entries,
                    crate::render::human_bytes(w.wal_bytes),
                    self.snapshots.len(),
                    self.elections.len()
                )
                .replace(" 1 snapshots", " 1 snapshot")
                .replace(" 1 elections", " 1 election"),
                None => "no WAL entries".into(),
            },
        ];
        let area = header(root, "Manager restart cost at every raft index", &sub)?;
        let (area, strip) = area.split_vertically(area.dim_in_pixel().1 - 56);
        let mut legend: Vec<(String, Mark)> = Vec::new();
        let ymax_s = self.points.iter().map(|p| p.total_s).fold(0.0, f64::max).max(1e-9);
        let (mul, unit) = seconds_unit(ymax_s);
        let ymax = ymax_s * mul * 1.25;
        let (x0, x1) = (lo as f64 - 0.5, hi as f64 + 0.5);
        let mut chart = ChartBuilder::on(&area)
            .margin_left(16)
            .margin_right(30)
            .margin_bottom(10)
            .margin_top(10)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, 0f64..ymax)
            .map_err(de)?;
        let span = ymax;
        chart
            .configure_mesh()
            .x_desc("raft index")
            .y_desc(format!("restart time ({unit})"))
            .axis_desc_style(font(16.0))
            .label_style(font(13.0))
            .x_label_formatter(&|x| format!("{:.0}", x))
            .y_label_formatter(&|y| tick(*y, span))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(de)?;
        let blue = PALETTE[0];
        let orange = PALETTE[1];
        // Each band is drawn opaque from the axis, the larger sums first, so what shows of each
        // is its own band in exactly its legend colour (translucent layers from 0 mixed into a
        // brown that no legend entry has).
        let (blue_fill, orange_fill, grey_fill) =
            (RGBColor(160, 185, 211), RGBColor(214, 160, 106), RGBColor(180, 180, 180));
        let tot: Vec<(f64, f64)> = self.points.iter().map(|p| (p.index as f64, p.total_s * mul)).collect();
        let snap: Vec<(f64, f64)> =
            self.points.iter().map(|p| (p.index as f64, (p.start_s + p.snapshot_s) * mul)).collect();
        chart.draw_series(AreaSeries::new(tot, 0.0, blue_fill).border_style(blue.stroke_width(2))).map_err(de)?;
        legend.push(("replay of the WAL entries after the snapshot".into(), Mark::Box(blue_fill)));
        chart.draw_series(AreaSeries::new(snap, 0.0, orange_fill).border_style(orange.stroke_width(2))).map_err(de)?;
        legend.push(("load of the newest snapshot".into(), Mark::Box(orange_fill)));
        if self.points.iter().any(|p| p.start_s > 0.0) {
            let grey = RGBColor(150, 150, 150);
            let st: Vec<(f64, f64)> = self.points.iter().map(|p| (p.index as f64, p.start_s * mul)).collect();
            chart.draw_series(AreaSeries::new(st, 0.0, grey_fill).border_style(grey.stroke_width(1))).map_err(de)?;
            legend.push(("engine start (the same at every index)".into(), Mark::Box(grey_fill)));
        }
        // Snapshot marks.
        let label_every = (self.snapshots.len() / 12).max(1);
        for (i, s) in self.snapshots.iter().enumerate() {
            let x = s.index as f64;
            if x < x0 || x > x1 {
                continue;
            }
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x, 0.0), (x, ymax * 0.93)],
                    3,
                    3,
                    MARK_GREY.stroke_width(1),
                )))
                .map_err(de)?;
            if i % label_every == 0 {
                let l = format!("snap {}{}", s.index, if s.estimated { "*" } else { "" });
                chart
                    .draw_series(std::iter::once(Text::new(
                        l,
                        (x, ymax * 0.985),
                        font(12.0).color(&RGBColor(90, 90, 90)),
                    )))
                    .map_err(de)?;
            }
        }
        legend.push((
            if self.snapshots.iter().any(|s| s.estimated) {
                "snapshot taken (* file no longer kept: size estimated)".into()
            } else {
                "snapshot taken".into()
            },
            Mark::Dashed(MARK_GREY),
        ));
        // Elections.
        for e in &self.elections {
            let x = e.index as f64;
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(x, 0.0), (x, ymax * 0.9)],
                    6,
                    4,
                    ALERT_RED.stroke_width(2),
                )))
                .map_err(de)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("term {}", e.term),
                    (x, ymax * 0.94),
                    font(12.0).color(&ALERT_RED),
                )))
                .map_err(de)?;
        }
        if !self.elections.is_empty() {
            legend.push(("election (new term)".into(), Mark::Dashed(ALERT_RED)));
        }
        legend.push((format!("calibration: {}", self.calibration.text()), Mark::None));
        legend_strip(&strip, 96, &legend)
    }
}
