//! The `chart` and `archive` commands: clap arguments and runners that write into the output
//! they are given ([`crate::cli::output`]).
//!
//! `chart KIND PATH... [-o FILE.svg|FILE.png] [--format text|json]` always prints the chart's
//! numbers (a table, or JSON), and writes the image when `-o` is given. Several PATHs are read
//! as one history ([`crate::analyses::archive`]).
//!
//! `archive PATH... [--format text|json]` lists, orders, de-duplicates and validates the
//! snapshots and WAL ranges of several copies; `--state`, `--diff` and `--timeline` run those
//! views over the merged history.

use crate::analyses::archive::{self, Archive};
use crate::cli::output;
use crate::decode::docker_api::Redaction;
use crate::error::{Error, Result};
use crate::render::changes::DiffEnd;
use crate::render::chart::{self, Chart, convergence, recovery, snapshots, tasks};
use crate::render::json::pretty;
use crate::replay::analysis::{Detail, Options};
use crate::replay::point::{self as replay, Point};

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;

/// Chart kinds.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Cost of a manager restart at every raft index (snapshot load + WAL replay), in seconds.
    Recovery,
    /// Running vs desired tasks per service over time, incidents, time to converge after each.
    Convergence,
    /// Size of every snapshot, stacked by object kind, with the growth trend and swarmkit limits.
    Snapshots,
    /// Tasks in each state over time, failures highlighted.
    Tasks,
}

/// Output format of the numbers (the shared [`crate::cli::Format`]).
pub use crate::cli::Format as NumbersFormat;
/// Input options shared by `chart` and `archive` (the shared [`crate::cli::KeyArgs`]).
pub use crate::cli::KeyArgs as InputArgs;

/// Charts as SVG or PNG (by the -o extension), with the same numbers printed as tables or JSON:
/// recovery (restart cost at every raft index), convergence (running vs desired after
/// incidents), snapshots (sizes by object kind), tasks (by state over time). Several PATHs are
/// read as one history.
#[derive(Args, Debug, Clone)]
pub struct ChartArgs {
    /// What to chart.
    #[arg(value_enum)]
    pub kind: ChartKind,
    /// Inputs: swarm dirs, raft dirs, tarballs, dirs of .snap/.wal files. Several are read as
    /// one history (copies of the same swarm taken over time).
    #[arg(required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Write the chart here: .svg or .png.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// How to print the chart's numbers.
    #[arg(long, value_enum, default_value_t = NumbersFormat::Text)]
    pub format: NumbersFormat,
    /// recovery: what turns the work into seconds. `docker` (default): the model of real dockerd
    /// restarts measured by benches/restart-time.sh (it names the engine version and CPU count);
    /// `own`: swarmsift's own replay speed on this machine (not Docker's restart time); or fixed
    /// rates: snapshot bytes/s, entries/s and optionally WAL bytes/s.
    #[arg(long, value_name = "docker|own|SNAP_BYTES_PER_S,ENTRIES_PER_S[,WAL_BYTES_PER_S]")]
    pub calibration: Option<String>,
    /// Image size in pixels.
    #[arg(long, value_name = "WxH", default_value = "1280x720")]
    pub size: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,
}

/// Several copies of one swarm's state taken over time (swarm dirs, raft dirs, tarballs, snap
/// dirs) as one history: lists, orders, de-duplicates and validates their snapshots and WAL
/// ranges; --state, --diff and --timeline run over the merged history.
#[derive(Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("view").args(["state", "diff", "timeline"]).multiple(false)))]
pub struct ArchiveArgs {
    /// Copies of one swarm's manager state taken over time: swarm dirs, raft dirs, tarballs,
    /// KeepOldSnapshots dirs of .snap files, dirs of .wal files.
    #[arg(required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = NumbersFormat::Text)]
    pub format: NumbersFormat,
    /// Print the merged history's state at this point: raft index, RFC 3339 time, .snap file, or `last`.
    #[arg(long, value_name = "POINT")]
    pub state: Option<String>,
    /// Print what changed in the merged history between two points: FROM,TO (index, time, .snap or `last`).
    #[arg(long, value_name = "FROM,TO")]
    pub diff: Option<String>,
    /// Print the merged history's timeline.
    #[arg(long)]
    pub timeline: bool,
    /// Show secret data, config data, keys and env values instead of redacting them.
    #[arg(long)]
    pub show_secrets: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: InputArgs,
}

/// Parse `--size WxH`.
pub fn parse_size(s: &str) -> Result<(u32, u32)> {
    let bad = || Error::Usage(format!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 1280x720"));
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?);
    if !(400..=8000).contains(&w) || !(300..=8000).contains(&h) {
        return Err(Error::Usage(format!("--size {s:?}: between 400x300 and 8000x8000")));
    }
    Ok((w, h))
}

/// A chart with a chosen size.
struct Sized<'a, C: Chart>(&'a C, (u32, u32));

impl<C: Chart> Chart for Sized<'_, C> {
    fn size(&self) -> (u32, u32) {
        self.1
    }
    fn draw<DB: plotters::prelude::DrawingBackend>(
        &self,
        root: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    ) -> chart::DrawResult {
        self.0.draw(root)
    }
}

/// Numbers of any chart kind, ready to print or draw.
pub enum Computed {
    /// recovery
    Recovery(recovery::Recovery),
    /// convergence
    Convergence(convergence::Convergence),
    /// snapshots
    Snapshots(snapshots::Snapshots),
    /// tasks
    Tasks(tasks::Tasks),
}

impl Computed {
    /// Table form.
    pub fn text(&self) -> String {
        match self {
            Computed::Recovery(c) => c.text(),
            Computed::Convergence(c) => c.text(),
            Computed::Snapshots(c) => c.text(),
            Computed::Tasks(c) => c.text(),
        }
    }
    /// JSON form.
    pub fn json(&self) -> Value {
        fn v<T: Serialize>(t: &T) -> Value {
            serde_json::to_value(t).unwrap_or(Value::Null)
        }
        match self {
            Computed::Recovery(c) => v(c),
            Computed::Convergence(c) => v(c),
            Computed::Snapshots(c) => v(c),
            Computed::Tasks(c) => v(c),
        }
    }
    /// SVG document.
    pub fn svg(&self, size: (u32, u32)) -> Result<String> {
        match self {
            Computed::Recovery(c) => chart::svg(&Sized(c, size)),
            Computed::Convergence(c) => chart::svg(&Sized(c, size)),
            Computed::Snapshots(c) => chart::svg(&Sized(c, size)),
            Computed::Tasks(c) => chart::svg(&Sized(c, size)),
        }
    }
    /// Write the image (SVG or PNG by extension).
    pub fn write(&self, path: &std::path::Path, size: (u32, u32)) -> Result<()> {
        match self {
            Computed::Recovery(c) => chart::write(&Sized(c, size), path),
            Computed::Convergence(c) => chart::write(&Sized(c, size), path),
            Computed::Snapshots(c) => chart::write(&Sized(c, size), path),
            Computed::Tasks(c) => chart::write(&Sized(c, size), path),
        }
    }
}

/// Compute a chart's numbers from a loaded archive (one input or several).
pub fn compute(kind: ChartKind, ar: &Archive, calibration: Option<&str>) -> Result<Computed> {
    let a = &ar.merged;
    let inputs = ar.names.clone();
    Ok(match kind {
        ChartKind::Recovery => {
            let cal = recovery::Calibration::from_arg(calibration, a)?;
            Computed::Recovery(recovery::compute(a, inputs, cal))
        }
        ChartKind::Convergence => Computed::Convergence(convergence::compute(a, inputs)),
        ChartKind::Tasks => Computed::Tasks(tasks::compute(a, inputs)),
        ChartKind::Snapshots => {
            let sizes = crate::analyses::sizes::all_snapshot_sizes(a);
            let list = ar.snapshot_sources.iter().cloned().zip(sizes).collect();
            Computed::Snapshots(snapshots::compute(inputs, list))
        }
    })
}

/// Run `chart`: prints the numbers into `out`, writes the image. Exit 0, or 1 when the data has
/// errors.
pub fn run_chart_to(args: &ChartArgs, progress: bool, out: &mut dyn Write) -> Result<u8> {
    let size = parse_size(&args.size)?;
    if let Some(o) = &args.output {
        chart::ImageFormat::from_path(o)?;
    }
    if args.calibration.is_some() && args.kind != ChartKind::Recovery {
        return Err(Error::Usage("--calibration applies to `chart recovery` only".into()));
    }
    if let Some(c) = &args.calibration {
        recovery::Calibration::check_arg(c)?;
    }
    // Charts never show a secret's or config's payload.
    let opts = Options { digest_secret_data: true, ..args.input.options(Detail::Entries, progress)? };
    let ar = archive::load(&args.paths, &opts)?;
    let c = compute(args.kind, &ar, args.calibration.as_deref())?;
    if let Some(o) = &args.output {
        c.write(o, size)?;
    }
    let notes = cut_notes(args.kind, &ar.merged);
    match args.format {
        NumbersFormat::Json => {
            let mut v = c.json();
            if let Value::Object(m) = &mut v {
                if let Some(o) = &args.output {
                    m.insert("image".into(), json!(o.display().to_string()));
                }
                if !notes.is_empty() {
                    m.insert("notes".into(), json!(notes));
                }
            }
            pretty(out, &v)
        }
        NumbersFormat::Text => {
            let mut s = c.text();
            for n in &notes {
                s.push_str(&format!("note: {n}\n"));
            }
            if let Some(o) = &args.output {
                s.push_str(&format!("\nwrote {}\n", o.display()));
            }
            out.write_all(s.as_bytes())
        }
    }
    .map_err(output::error)?;
    Ok(if ar.merged.has_errors() || !notes.is_empty() { 1 } else { 0 })
}

/// What cuts or damages the log a chart draws up to its end (recovery, convergence and tasks draw
/// every index up to the last one), said as `state` says it at that index
/// ([`replay::log_cut`]); the snapshots chart draws the snapshot files, not the log.
pub fn cut_notes(kind: ChartKind, a: &crate::replay::analysis::Analysis) -> Vec<String> {
    if kind == ChartKind::Snapshots {
        return Vec::new();
    }
    // The charts walk from as early as the log reaches: they rest on every entry.
    let end = a.wal.last_index().unwrap_or(0);
    replay::log_cut(a, end).iter().map(|c| c.note_for("this chart", 0)).collect()
}

/// Run `archive`: the listing, or a view of the merged history, printed into `out`. Exit 0, or 1
/// on errors or conflicts in the copies.
pub fn run_archive_to(args: &ArchiveArgs, progress: bool, out: &mut dyn Write) -> Result<u8> {
    // Payloads are printed only with --show-secrets: otherwise the stores keep a digest.
    let opts = Options { digest_secret_data: !args.show_secrets, ..args.input.options(Detail::Entries, progress)? };
    let ar = archive::load(&args.paths, &opts)?;
    let a = &ar.merged;
    let red = Redaction { show_secrets: args.show_secrets, ..Default::default() };
    let json = args.format == NumbersFormat::Json;
    // A view that shows the state at the end of a log cut short says so (as `state` does).
    let mut cut = false;
    if let Some(p) = &args.state {
        let mut r = replay::replay(a, &Point::parse(p)?, false)?;
        cut |= !replay::mark_cut(a, &mut r).is_empty();
        let f = crate::render::state::StateFilter::default();
        let me = a.member.as_ref().map(|m| m.node_id.clone());
        let leader = replay::probable_leader(a, &r);
        if json {
            crate::render::state::write_json(out, &r, &f, &red, me.as_deref(), leader)
        } else {
            crate::render::state::write_text(out, &r, &f, me.as_deref(), leader)
        }
    } else if let Some(d) = &args.diff {
        let (from, to) = d.split_once(',').ok_or_else(|| Error::Usage(format!("--diff {d:?}: expected FROM,TO")))?;
        let mut ra = replay::replay(a, &Point::parse(from.trim())?, false)?;
        let mut rb = replay::replay(a, &Point::parse(to.trim())?, false)?;
        cut |= !replay::mark_cut(a, &mut ra).is_empty();
        cut |= !replay::mark_cut(a, &mut rb).is_empty();
        let dd = crate::analyses::history::diff_stores(&ra.store, &rb.store, &red, None);
        let ea = DiffEnd { label: format!("index {}", ra.index), index: ra.index, term: ra.term, notes: ra.notes };
        let eb = DiffEnd { label: format!("index {}", rb.index), index: rb.index, term: rb.term, notes: rb.notes };
        if json {
            crate::render::changes::write_diff_json(out, &ea, &eb, &dd)
        } else {
            crate::render::changes::write_diff_text(out, &ea.label, &eb.label, &dd).and_then(|()| {
                let mut said: Vec<&String> = Vec::new();
                for n in ea.notes.iter().chain(&eb.notes) {
                    if !said.contains(&n) {
                        writeln!(out, "note: {n}")?;
                        said.push(n);
                    }
                }
                Ok(())
            })
        }
    } else if args.timeline {
        let (mut ev, mut found) = crate::analyses::history::timeline_with_findings(a, &red);
        crate::analyses::history::timeline_cut(a, &mut ev, &mut found);
        cut |= found.iter().any(|f| f.severity == crate::error::Severity::Error);
        if json {
            crate::render::changes::write_timeline_json(out, &ev)
        } else {
            crate::render::changes::write_timeline_text(out, &ev)
        }
    } else if json {
        pretty(out, &ar.json())
    } else {
        out.write_all(crate::render::archive::text(&ar).as_bytes())
    }
    .map_err(output::error)?;
    Ok(if ar.has_errors() || cut { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct C {
        #[command(flatten)]
        a: ChartArgs,
    }
    #[derive(Parser)]
    struct A {
        #[command(flatten)]
        a: ArchiveArgs,
    }

    #[test]
    fn arguments_parse() {
        use clap::CommandFactory;
        C::command().debug_assert();
        A::command().debug_assert();
        let c =
            C::try_parse_from(["x", "recovery", "a.tar.gz", "b", "-o", "r.svg", "--calibration", "1e6,1e4"]).unwrap();
        assert_eq!(c.a.kind, ChartKind::Recovery);
        assert_eq!(c.a.paths.len(), 2);
        assert!(A::try_parse_from(["x", "a", "--state", "5", "--timeline"]).is_err());
        assert_eq!(parse_size("800x600").unwrap(), (800, 600));
        assert!(parse_size("8x6").is_err());
    }
}
