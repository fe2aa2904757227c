//! The `report` command: one self-contained HTML post-mortem of one manager dir or of several
//! managers of one cluster, written to `-o FILE.html` ([`crate::render::report`] lays it out).
//!
//! Invariants:
//! - nothing is computed a second way: the verdict and findings are `verify`'s
//!   ([`crate::analyses::verify`]), the comparison and the recovery command are `managers`'
//!   ([`crate::analyses::managers`]), states come from the one replay
//!   ([`crate::replay::point::replay`]) printed by `state`'s text renderer, the timeline is
//!   `timeline`'s, the charts are `chart`'s ([`crate::cli::chart::compute`]) and the size
//!   forensics are `info`'s and `snapshots`';
//! - a log cut short or damaged is said where a view reaches it, by the one rule
//!   ([`crate::replay::point::log_cut`]): the states, the timeline and the charts, and the
//!   report then exits 1;
//! - secrets stay redacted: every renderer used here is the redacting one, and there is no
//!   `--show-secrets`;
//! - the incident and the last healthy point are derived from findings and the convergence
//!   numbers, and the report says how each was chosen ([`incident`]);
//! - the input is read only; the one file written is `-o`, and only once everything rendered.

use crate::analyses::verify::{self, Verification};
use crate::cli::chart::{ChartKind, compute};
use crate::cli::{Format, KeyArgs, output};
use crate::error::{Error, Result, Severity};
use crate::render::chart::convergence::Convergence;
use crate::render::report::{Cell, Page};
use crate::render::state::StateFilter;
use crate::replay::analysis::Detail;
use crate::replay::point::{self as replay, Point};
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Events of the timeline shown before and after the incident.
const AROUND: usize = 20;

/// Chart size in the report (pixels of the SVG's own coordinates; the page scales it).
const CHART_SIZE: (u32, u32) = (1200, 640);

/// `swarmsift report PATH... -o FILE.html`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Inputs: one manager's swarm dir (or backup), or the dirs of several managers of one
    /// cluster (they are then compared, and the rest of the report is about the one to
    /// recover from).
    #[arg(required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// The HTML file to write (replaced if it exists).
    #[arg(short = 'o', long = "output", value_name = "FILE.html")]
    pub output: PathBuf,
    /// What to print on stdout about the report written.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Unlock key and read mode (the same key serves every manager of a cluster).
    #[command(flatten)]
    pub input: KeyArgs,
    /// Docker engine version to judge consequences for (see `verify --engine-version`).
    #[arg(long, value_name = "VERSION", value_parser = crate::cli::forensics::engine_version_arg)]
    pub engine_version: Option<String>,
    /// Recovery chart: `docker` (default: the model of measured dockerd restarts), `own`
    /// (swarmsift's own replay speed on this machine) or fixed rates, as `chart recovery` takes
    /// them.
    #[arg(long, value_name = "docker|own|SNAP_BYTES_PER_S,ENTRIES_PER_S[,WAL_BYTES_PER_S]")]
    pub calibration: Option<String>,
}

/// The point of the log the report is centred on, and the last healthy point before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// Raft index of the incident (`None`: nothing went wrong that the data shows).
    pub index: Option<u64>,
    /// What it is and why it was chosen.
    pub why: String,
    /// Last index before the incident where every service had its desired replicas running (as
    /// `docker service ls` counts them; services that never had them aside).
    pub healthy: Option<u64>,
    /// How the healthy point was chosen.
    pub healthy_why: String,
}

/// Choose the incident: the first damaged entry `verify` reports (an error finding with a raft
/// index); else the first incident of the convergence chart the swarm did not recover from;
/// else the last one that disrupted services. The last healthy point is the last convergence
/// sample strictly before it where every existing service had all its replicas running, leaving
/// aside services that never had them at any point of the log (unplaceable ones).
pub fn incident(v: &Verification, conv: &Convergence) -> Incident {
    let damage = v
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter_map(|f| f.index.map(|i| (i, f)))
        .min_by_key(|(i, _)| *i);
    let not_recovered = conv.incidents.iter().find(|i| i.status == "not-recovered");
    let disrupted = conv.incidents.iter().rev().find(|i| i.status == "recovered");
    let (index, why) = if let Some((i, f)) = damage {
        (Some(i), format!("first damaged entry verify reports: index {i} ({}: {})", f.code, f.message))
    } else if let Some(x) = not_recovered {
        (
            Some(x.index),
            format!(
                "incident {} the swarm did not recover from by the end of the log: {} at index {} ({})",
                x.n, x.label, x.index, x.time
            ),
        )
    } else if let Some(x) = disrupted {
        (
            Some(x.index),
            format!(
                "last incident that left services short of replicas: {} at index {} ({}), recovered in {}",
                x.label,
                x.index,
                x.time,
                x.seconds.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "?".into())
            ),
        )
    } else {
        (None, "no damage and no incident that disrupted services: the report shows the end of the log".into())
    };
    // Services that never had their replicas (unplaceable ones) do not hold the point hostage,
    // as in the convergence chart.
    let ever: Vec<bool> = (0..conv.services.len())
        .map(|i| {
            conv.samples.iter().any(|s| s.replicas.get(i).copied().flatten().is_some_and(|[r, d]| d > 0 && r >= d))
        })
        .collect();
    // Damage without a raft index (a bad CRC, a torn frame): said, since it cannot centre the
    // timeline.
    let why = match v.findings.iter().find(|f| f.severity == Severity::Error && f.index.is_none()) {
        Some(f) if damage.is_none() => format!(
            "{} at {} offset {} carries no raft index; {why}",
            f.code,
            f.file.as_deref().unwrap_or("?"),
            f.offset.map(|o| o.to_string()).unwrap_or_else(|| "?".into())
        ),
        _ => why,
    };
    let healthy_sample = conv
        .samples
        .iter()
        .rev()
        .filter(|s| index.is_none_or(|i| s.index < i))
        .find(|s| s.replicas.iter().zip(&ever).all(|(x, e)| !e || x.is_none_or(|[run, des]| run >= des)));
    let (healthy, healthy_why) = match healthy_sample {
        Some(s) => (
            Some(s.index),
            format!(
                "index {} ({}): the last point{} where every service had all its desired replicas running (services that never had them, such as unplaceable ones, aside)",
                s.index,
                s.time,
                if index.is_some() { " before the incident" } else { "" }
            ),
        ),
        None => (None, "no point of the log had every service at its desired replicas".into()),
    };
    Incident { index, why, healthy, healthy_why }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

fn utf8(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

fn findings_table(page: &mut Page, v: &Verification) {
    if v.findings.is_empty() {
        page.para("No findings.");
        return;
    }
    let rows = v
        .findings
        .iter()
        .map(|f| {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            (
                sev.to_string(),
                vec![
                    Cell::Text(sev.into()),
                    Cell::Code(f.code.as_str().into()),
                    Cell::Text(crate::render::verify::location(f)),
                    Cell::Text(f.message.clone()),
                    Cell::Text(f.consequence.clone()),
                ],
            )
        })
        .collect();
    page.table(&["SEVERITY", "CODE", "WHERE", "WHAT", "WHAT DOCKER DOES"], rows);
}

/// Run `report`: write the HTML file, print one line (or JSON) about it. Exit 1 when an input
/// has error findings, else 0.
pub fn run_report(args: &ReportArgs, progress: bool, out: &mut dyn Write) -> Result<u8> {
    if args.output.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() != Some("html") {
        return Err(Error::Usage(format!(
            "{}: the report is HTML: the output must end in .html",
            args.output.display()
        )));
    }
    if let Some(c) = &args.calibration {
        crate::render::chart::recovery::Calibration::check_arg(c)?;
    }
    let unlock_key = args.input.unlock_key()?;
    let read = args.input.read();

    // Verdicts of every input, each verified once: with several, the same verifications make
    // the managers comparison (as `managers` loads them); one alone is verified as `verify` does.
    let mut verifications: Vec<(PathBuf, Verification)> = Vec::new();
    let mut unreadable: Vec<(PathBuf, String)> = Vec::new();
    let managers = if args.paths.len() > 1 {
        let verified = crate::analyses::managers::verify_each(
            &args.paths,
            unlock_key.clone(),
            read,
            progress,
            args.engine_version.as_deref(),
        );
        let m = crate::analyses::managers::compare_verified(&args.paths, &verified)?;
        for (p, v) in args.paths.iter().zip(verified) {
            match v {
                Ok(v) => verifications.push((p.clone(), v)),
                Err(e) => unreadable.push((p.clone(), e.to_string())),
            }
        }
        Some(m)
    } else {
        let vopts = verify::VerifyOptions {
            unlock_key: unlock_key.clone(),
            read,
            engine_version: args.engine_version.clone(),
            progress,
            no_decrypt: false,
        };
        for p in &args.paths {
            verifications.push((p.clone(), verify::verify(p, &vopts)?));
        }
        None
    };
    if verifications.is_empty() {
        return Err(Error::Usage("no input could be read".into()));
    }
    for (p, v) in &verifications {
        super::forensics::require_key(p, v)?;
    }
    // The input the rest of the report is about: the one to recover from, else the first one.
    let chosen: PathBuf = managers
        .as_ref()
        .and_then(|m| {
            let rec = m.recommendation.as_ref()?;
            let view = m.managers.iter().find(|v| v.name == rec.manager)?;
            args.paths.iter().find(|p| p.display().to_string() == view.input).cloned()
        })
        .unwrap_or_else(|| verifications[0].0.clone());
    let chosen_v = &verifications.iter().find(|(p, _)| *p == chosen).unwrap_or(&verifications[0]).1;

    let opts = crate::replay::analysis::Options { progress, ..args.input.options(Detail::Entries, progress)? };
    let ar = crate::analyses::archive::load(std::slice::from_ref(&chosen), &opts)?;
    let a = &ar.merged;
    let conv = match compute(ChartKind::Convergence, &ar, None)? {
        crate::cli::chart::Computed::Convergence(c) => c,
        _ => return Err(Error::Usage("convergence numbers of an unexpected kind".into())),
    };
    let inc = incident(chosen_v, &conv);

    let names: Vec<String> = args.paths.iter().map(|p| file_name(p)).collect();
    let mut page = Page::new(
        &format!("Swarm post-mortem: {}", names.join(", ")),
        &format!(
            "swarmsift {} report. Read-only analysis of {} input{}; secrets redacted. The state, timeline, charts and sizes are those of {}.",
            env!("CARGO_PKG_VERSION"),
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            file_name(&chosen)
        ),
    );

    // 1. Verdict and findings.
    page.section("verdict", "Verdict");
    for (p, v) in &verifications {
        if verifications.len() > 1 {
            page.h3(&file_name(p));
        }
        page.verdict(&v.verdict, v.ok);
        page.para(&format!("Assuming: {}.", v.docker.flavor.describe()));
    }
    for (p, e) in &unreadable {
        page.verdict(&format!("{}: cannot be read: {e}", file_name(p)), false);
    }
    page.section("findings", "Findings and what Docker does with them");
    for (p, v) in &verifications {
        if verifications.len() > 1 {
            page.h3(&file_name(p));
        }
        findings_table(&mut page, v);
    }

    // 2. Managers and recovery.
    page.section("managers", "Managers and what to recover from");
    match &managers {
        Some(m) => {
            match &m.recommendation {
                Some(rec) => {
                    page.para(&format!("Recover from {}; run there:", rec.manager));
                    page.command(&rec.command);
                    page.para(&format!("Why: {}.", rec.reason));
                }
                None => page.verdict("No manager here can be started by Docker as it is; salvage one first.", false),
            }
            page.pre(&crate::render::managers::text(m));
        }
        None => {
            page.para(
                "One input: no comparison. To compare the managers of a cluster, give all their dirs (`swarmsift report DIR1 DIR2 DIR3 -o report.html`).",
            );
            let outcome = verify::outcome_word(&chosen_v.docker);
            page.para(&format!("Docker with this directory: {outcome}."));
        }
    }

    // 3. State at the end and at the last healthy point.
    let red_filter = StateFilter::default();
    let me = a.member.as_ref().map(|m| m.node_id.clone());
    // The state at the end says what cuts or damages the log it reaches, as `state` does.
    let mut end = replay::replay(a, &Point::Last, false)?;
    let cuts = replay::mark_cut(a, &mut end);
    let leader = replay::probable_leader(a, &end);
    let mut buf = Vec::new();
    crate::render::state::write_text(&mut buf, &end, &red_filter, me.as_deref(), leader).map_err(output::error)?;
    page.section("state-end", &format!("State at the end of the log (index {})", end.index));
    page.para(&format!(
        "As `swarmsift state {}` prints it: nodes, services and tasks as the docker CLI shows them.",
        file_name(&chosen)
    ));
    page.pre(&utf8(buf));
    page.section("state-healthy", "State at the last healthy point");
    page.para(&format!("Chosen as {}.", inc.healthy_why));
    match inc.healthy {
        Some(h) => {
            let mut r = replay::replay(a, &Point::Index(h), false)?;
            replay::mark_cut(a, &mut r);
            let mut buf = Vec::new();
            crate::render::state::write_text(&mut buf, &r, &red_filter, me.as_deref(), None).map_err(output::error)?;
            page.para(&format!("As `swarmsift state {} --at {h}` prints it.", file_name(&chosen)));
            page.pre(&utf8(buf));
        }
        None => page.para("There is no such point in this log."),
    }

    // 4. Timeline around the incident.
    page.section("timeline", "Timeline around the incident");
    page.para(&format!("Incident: {}.", inc.why));
    let (mut ev, mut found) =
        crate::analyses::history::timeline_with_findings(a, &crate::decode::docker_api::Redaction::default());
    crate::analyses::history::timeline_cut(a, &mut ev, &mut found);
    let centre = match inc.index {
        Some(i) => ev.iter().position(|e| e.at.index >= i).unwrap_or(ev.len()),
        None => ev.len(),
    };
    let (lo, hi) = (centre.saturating_sub(AROUND), (centre + AROUND).min(ev.len()));
    page.para(&format!(
        "Events {}-{} of {} (the {AROUND} before the incident and the {AROUND} from it on); `swarmsift timeline {}` prints them all.",
        lo + 1,
        hi,
        ev.len(),
        file_name(&chosen)
    ));
    let mut buf = Vec::new();
    crate::render::changes::write_timeline_text(&mut buf, &ev[lo..hi]).map_err(output::error)?;
    page.pre(&utf8(buf));

    // 5. The four charts.
    page.section("charts", "Charts");
    // The charts that draw the log up to its end say what cuts or damages it, as `chart` does.
    for n in crate::cli::chart::cut_notes(ChartKind::Tasks, a) {
        page.para(&format!("note (convergence, tasks, recovery): {n}"));
    }
    for (kind, id, caption) in [
        (
            ChartKind::Convergence,
            "chart-convergence",
            "Convergence: running vs desired tasks per service, incidents numbered, time to converge after each.",
        ),
        (ChartKind::Tasks, "chart-tasks", "Tasks in each state over time, failures highlighted."),
        (
            ChartKind::Recovery,
            "chart-recovery",
            "Recovery: what a manager restart costs at every raft index (snapshot load + WAL replay).",
        ),
        (
            ChartKind::Snapshots,
            "chart-snapshots",
            "Snapshots: size of every snapshot by object kind, growth trend, swarmkit's limits.",
        ),
    ] {
        let c = match kind {
            ChartKind::Convergence => crate::cli::chart::Computed::Convergence(conv.clone()),
            k => compute(k, &ar, if k == ChartKind::Recovery { args.calibration.as_deref() } else { None })?,
        };
        page.figure(id, &c.svg(CHART_SIZE)?, caption);
    }

    // 6. Size forensics.
    page.section("sizes", "Size forensics");
    page.pre(&crate::render::sizes::info_text(a));
    let snaps = crate::render::sizes::snapshots_text(a);
    if snaps.is_empty() {
        page.para("No snapshot in this input.");
    } else {
        page.pre(&snaps);
    }

    let html = page.finish(&format!(
        "Written by swarmsift {}. Self-contained: no script, no font, nothing fetched. The same numbers: swarmsift verify, managers, state, timeline, chart, info, snapshots.",
        env!("CARGO_PKG_VERSION")
    ));
    std::fs::write(&args.output, html.as_bytes()).map_err(|e| Error::Io { path: args.output.clone(), source: e })?;

    let bad = verifications.iter().any(|(_, v)| !v.ok) || !unreadable.is_empty() || !cuts.is_empty();
    match args.format {
        Format::Json => crate::render::json::pretty(
            out,
            &json!({
                "output": args.output.display().to_string(),
                "bytes": html.len(),
                "inputs": verifications.iter().map(|(p, v)| json!({"input": p.display().to_string(), "ok": v.ok, "verdict": v.verdict})).collect::<Vec<_>>(),
                "unreadable": unreadable.iter().map(|(p, e)| json!({"input": p.display().to_string(), "error": e})).collect::<Vec<_>>(),
                "about": file_name(&chosen),
                "incident_index": inc.index,
                "healthy_index": inc.healthy,
                "log_cut": cuts.iter().map(|c| c.state_note(end.base_index)).collect::<Vec<_>>(),
            }),
        ),
        Format::Text => writeln!(
            out,
            "wrote {} ({} bytes): {} input{}, {}",
            args.output.display(),
            html.len(),
            verifications.len(),
            if verifications.len() == 1 { "" } else { "s" },
            if bad { "problems found" } else { "no error found" }
        ),
    }
    .map_err(output::error)?;
    Ok(if bad { 1 } else { 0 })
}
