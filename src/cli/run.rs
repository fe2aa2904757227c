//! The commands: each parsed subcommand loads its input, calls the analyses and renders into the
//! one output ([`crate::cli::output`]); the result is the exit code.
//!
//! Invariants: every command writes only into the writer it is given (never to stdout itself),
//! and a write error is returned, not ignored. Exit codes: `Ok(0)` ok, `Ok(1)` problems found
//! in the data; an `Err` is exit code 2 (the binary prints it as one line), except a broken pipe
//! on the output ([`crate::cli::output::is_broken_pipe`]).

use crate::cli::args::{Cli, Cmd, Common, FilterArgs, PointArgs, SecretArgs, parse_kind};
use crate::cli::output::{self, Output};
use crate::cli::{Format, StreamFormat};
use crate::decode::docker_api::Redaction;
use crate::decode::object::Kind;
use crate::error::{Error, Result};
use crate::render;
use crate::render::changes::DiffEnd;
use crate::render::state::StateFilter;
use crate::replay::analysis::{Analysis, Detail, Options};
use crate::replay::point::{self as replay, Point};
use clap::ValueEnum;
use std::io::Write;
use std::path::PathBuf;

/// The writer commands print into: `Send`, because `wal` hands it to the load as its sink.
pub type Out<'a> = &'a mut (dyn Write + Send);

/// Run a parsed command line, printing on stdout; the exit code (0 or 1).
pub fn run(cli: Cli) -> Result<u8> {
    let mut out = Output::stdout();
    let code = run_to(cli, &mut out)?;
    out.finish()?;
    Ok(code)
}

/// Reject a flag the command cannot honour in this combination, instead of ignoring it:
/// `--show-secrets` with the text tables of `state` and `archive --state` (they never print
/// secret data; the other commands that print none do not take the flag at all),
/// the global `--quiet`/`--no-progress` on `generate` (no progress
/// to hide).
pub fn check_flags(cli: &Cli) -> Result<()> {
    let nope = |cmd: &str, flag: &str, why: &str| Err(Error::Usage(format!("`{cmd}` does not take {flag}: {why}")));
    match &cli.cmd {
        Cmd::State { common, secrets, .. } if secrets.show_secrets && common.format == StreamFormat::Text => nope(
            "state --format text",
            "--show-secrets",
            "its tables never print secret or config data; use --format json or ndjson",
        ),
        Cmd::Archive(a) if a.show_secrets && a.diff.is_none() && (a.state.is_none() || a.format == Format::Text) => {
            nope(
                "archive",
                "--show-secrets",
                "only --diff, and --state with --format json, print secret or config data",
            )
        }
        Cmd::Generate(_) if !cli.progress() => nope("generate", "--quiet/--no-progress", "it draws no progress bar"),
        _ => Ok(()),
    }
}

/// [`run`] printing into `out` (flushed by the caller).
pub fn run_to(cli: Cli, out: Out<'_>) -> Result<u8> {
    check_flags(&cli)?;
    let progress = cli.progress();
    match cli.cmd {
        Cmd::Info(c) => info(&c, progress, out),
        Cmd::Wal { common, from, to, kind, id } => wal(&common, from, to, kind.as_deref(), id, progress, out),
        Cmd::Snapshots(c) => snapshots(&c, progress, out),
        Cmd::State { common, point, filter, secrets } => state(&common, &point, &filter, secrets, progress, out),
        Cmd::History { common, object, tasks, secrets } => history(&common, &object, tasks, secrets, progress, out),
        Cmd::Diff { common, other, from, to, kind, secrets } => {
            diff(&common, other, (from.as_deref(), to.as_deref()), kind.as_deref(), secrets, progress, out)
        }
        Cmd::Timeline { common, filter, secrets } => timeline(&common, &filter, secrets, progress, out),
        Cmd::Verify(args) => crate::cli::forensics::run_verify(args, progress, out),
        Cmd::Salvage(args) => crate::cli::forensics::run_salvage(args, progress, out),
        Cmd::Managers(args) => crate::cli::forensics::run_managers(args, progress, out),
        Cmd::Synth(args) => crate::cli::synth::run_synth(&args, progress, out),
        Cmd::Chart(args) => crate::cli::chart::run_chart_to(&args, progress, out),
        Cmd::Archive(args) => crate::cli::chart::run_archive_to(&args, progress, out),
        Cmd::Decrypt { path, format, input, output } => {
            decrypt(&Common { path, format, input, no_decrypt: false }, &output, progress, out)
        }
        Cmd::Report(args) => crate::cli::report::run_report(&args, progress, out),
        Cmd::Generate(args) => crate::cli::generate::run_generate(&args, <Cli as clap::CommandFactory>::command(), out),
        Cmd::Metrics(args) => crate::cli::metrics::run_metrics(&args, out),
        Cmd::Advise(args) => crate::cli::advise::run_advise(&args, progress, out),
    }
}

/// Options for loading one input.
fn options<F: ValueEnum + Default + Clone + Send + Sync + 'static>(
    c: &Common<F>,
    detail: Detail,
    progress: bool,
) -> Result<Options> {
    // Only `state`, `history` and `diff` with --show-secrets print a secret's or config's
    // payload ([`load_shown`]): every other load keeps only a digest of each in its stores.
    Ok(Options { allow_no_keys: c.no_decrypt, digest_secret_data: true, ..c.input.options(detail, progress)? })
}

/// Load an input: `Entries` (every entry decoded, summaries kept: history, timeline, times),
/// `Check` (every entry and snapshot checked, only notable entries kept: memory does not grow
/// with the WAL) or `Structure` (containers only: a replay decodes what the state needs).
fn load<F: ValueEnum + Default + Clone + Send + Sync + 'static>(
    c: &Common<F>,
    detail: Detail,
    progress: bool,
) -> Result<Analysis> {
    Analysis::load(&c.path, &options(c, detail, progress)?)
}

/// [`load`] for a command that prints payloads when `secrets.show_secrets` is set: its stores then
/// keep them.
fn load_shown<F: ValueEnum + Default + Clone + Send + Sync + 'static>(
    c: &Common<F>,
    detail: Detail,
    progress: bool,
    secrets: &SecretArgs,
) -> Result<Analysis> {
    let o = Options { digest_secret_data: !secrets.show_secrets, ..options(c, detail, progress)? };
    Analysis::load(&c.path, &o)
}

fn code(a: &Analysis) -> u8 {
    if a.has_errors() { 1 } else { 0 }
}

fn info(c: &Common, progress: bool, out: Out<'_>) -> Result<u8> {
    let a = load(c, Detail::Check, progress)?;
    match c.format {
        Format::Json => render::json::pretty(out, &render::info::json(&a)),
        Format::Text => out.write_all(render::info::text(&a).as_bytes()),
    }
    .map_err(output::error)?;
    Ok(code(&a))
}

fn wal(
    c: &Common<StreamFormat>,
    from: Option<u64>,
    to: Option<u64>,
    kind: Option<&str>,
    id: Option<String>,
    progress: bool,
    out: Out<'_>,
) -> Result<u8> {
    let query = id.clone();
    let f = render::walcmd::WalFilter { from, to, kind: parse_kind(kind)?, id };
    let format = match c.format {
        StreamFormat::Text => render::walcmd::WalFormat::Text,
        StreamFormat::Json => render::walcmd::WalFormat::Json,
        StreamFormat::Ndjson => render::walcmd::WalFormat::Ndjson,
    };
    // Rows go out as entries are decoded: nothing per entry is kept.
    let mut stream = render::walcmd::WalStream::new(out, f, format);
    let a = Analysis::load_with(&c.path, &options(c, Detail::Notable, progress)?, &mut stream)?;
    let shown = stream.shown();
    stream.finish().map_err(output::error)?;
    // A query that matched nothing is named, as `history` does, not answered by an empty table.
    if let (Some(q), 0) = (query, shown) {
        let range = match (from, to) {
            (None, None) => String::new(),
            (Some(f), None) => format!(" from index {f} on"),
            (None, Some(t)) => format!(" up to index {t}"),
            (Some(f), Some(t)) => format!(" between index {f} and {t}"),
        };
        return Err(Error::Usage(format!(
            "no entry{range} acts on an object with ID, ID prefix or name {q:?}, or on raft member {q:?}"
        )));
    }
    Ok(code(&a))
}

fn snapshots(c: &Common, progress: bool, out: Out<'_>) -> Result<u8> {
    let a = load(c, Detail::Check, progress)?;
    match c.format {
        Format::Json => render::json::pretty(out, &render::walcmd::snapshots_json(&a)),
        Format::Text if a.snapshots.is_empty() => out.write_all(b"no snapshots\n"),
        Format::Text => out
            .write_all(render::walcmd::snapshots_table(&a).as_bytes())
            .and_then(|()| out.write_all(crate::render::sizes::snapshots_text(&a).as_bytes())),
    }
    .map_err(output::error)?;
    Ok(if a.snapshots.iter().any(|s| !s.valid) { 1 } else { 0 })
}

fn state(
    c: &Common<StreamFormat>,
    point: &PointArgs,
    filter: &FilterArgs,
    secrets: SecretArgs,
    progress: bool,
    out: Out<'_>,
) -> Result<u8> {
    let f = filter.filter()?;
    let p = point.point()?;
    // A time needs every entry's time; otherwise the replay decodes only the base snapshot and
    // the entries above it, once.
    let detail = if matches!(p, Point::Time(_)) { Detail::Entries } else { Detail::Structure };
    let a = load_shown(c, detail, progress, &secrets)?;
    let mut r = replay::replay(&a, &p, filter.include_uncommitted)?;
    unmatched_filter(&r, &f)?;
    // Damage that cuts or damages the log this state reaches is said, and the command exits 1.
    replay::mark_cut(&a, &mut r);
    let me = a.member.as_ref().map(|m| m.node_id.clone());
    let leader = replay::probable_leader(&a, &r);
    let red = Redaction { show_secrets: secrets.show_secrets, ..Default::default() };
    match c.format {
        StreamFormat::Json => render::state::write_json(out, &r, &f, &red, me.as_deref(), leader),
        StreamFormat::Ndjson => render::state::write_ndjson(out, &r, &f, &red, me.as_deref(), leader),
        StreamFormat::Text => render::state::write_text(out, &r, &f, me.as_deref(), leader),
    }
    .map_err(output::error)?;
    Ok(affected(&r.findings))
}

/// A `--service` or `--node` that names nothing in the state shown is a usage error that names
/// it (as `history` names an object it cannot find), not an empty table.
fn unmatched_filter(r: &replay::Replayed, f: &render::state::StateFilter) -> Result<()> {
    use render::state::matches_id_or_name;
    let names = render::state::hostnames(&r.store);
    unmatched_query(
        f,
        &format!("at index {}", r.index),
        |q| r.store.services().any(|s| matches_id_or_name(q, &s.id, &crate::decode::object::service_name(&s))),
        |q| {
            r.store.ids(Kind::Node).any(|id| matches_id_or_name(q, id, names.get(id).map(String::as_str).unwrap_or("")))
        },
    )
}

/// The one check behind [`unmatched_filter`] (a state) and `timeline` (a whole log): `service`
/// and `node` say whether a query names anything `where_` ("at index N", "in this log").
fn unmatched_query(
    f: &render::state::StateFilter,
    where_: &str,
    service: impl Fn(&str) -> bool,
    node: impl Fn(&str) -> bool,
) -> Result<()> {
    if let Some(q) = f.service.as_deref().filter(|q| !service(q)) {
        return Err(Error::Usage(format!("--service {q:?}: no service with that name, ID or ID prefix {where_}")));
    }
    if let Some(q) = f.node.as_deref().filter(|q| !node(q)) {
        return Err(Error::Usage(format!("--node {q:?}: no node with that hostname, ID or ID prefix {where_}")));
    }
    Ok(())
}

/// Exit code of a command that shows a state or a walk: 1 when what it shows is affected by
/// damage (an entry that should apply but cannot be read, a hole in the log, a walk that cannot
/// start), which its notes name; 0 otherwise.
fn affected(found: &[crate::error::Finding]) -> u8 {
    u8::from(found.iter().any(|f| f.severity == crate::error::Severity::Error))
}

/// The damage behind a non-zero [`affected`], one `note:` line each, for outputs that have no
/// notes of their own.
fn damage_notes(out: Out<'_>, found: &[crate::error::Finding]) -> std::io::Result<()> {
    for f in found.iter().filter(|f| f.severity == crate::error::Severity::Error) {
        writeln!(out, "note: {f}")?;
    }
    Ok(())
}

fn history(
    c: &Common<StreamFormat>,
    object: &str,
    tasks: bool,
    secrets: SecretArgs,
    progress: bool,
    out: Out<'_>,
) -> Result<u8> {
    let a = load_shown(c, Detail::Entries, progress, &secrets)?;
    let (kind, id, name) = crate::analyses::history::resolve_object(&a, object).map_err(Error::Usage)?;
    let red = Redaction { show_secrets: secrets.show_secrets, ..Default::default() };
    let (v, found) =
        crate::analyses::history::history_with_findings(&a, kind, &id, tasks && kind == Kind::Service, &red);
    match c.format {
        StreamFormat::Json => render::changes::write_history_json(out, kind.name(), &id, &name, &v),
        StreamFormat::Ndjson => render::changes::write_history_ndjson(out, &v),
        StreamFormat::Text => render::changes::write_history_text(out, kind.name(), &id, &name, &v)
            .and_then(|()| damage_notes(out, &found)),
    }
    .map_err(output::error)?;
    Ok(affected(&found))
}

fn diff(
    c: &Common<StreamFormat>,
    other: Option<PathBuf>,
    (from, to): (Option<&str>, Option<&str>),
    kind: Option<&str>,
    secrets: SecretArgs,
    progress: bool,
    out: Out<'_>,
) -> Result<u8> {
    let kind = parse_kind(kind)?;
    let red = Redaction { show_secrets: secrets.show_secrets, ..Default::default() };
    let times = [from, to].iter().any(|x| x.map(Point::parse).is_some_and(|p| matches!(p, Ok(Point::Time(_)))));
    let a = load_shown(c, if times { Detail::Entries } else { Detail::Structure }, progress, &secrets)?;
    let (ra, rb, la, lb, ca, cb) = match other {
        Some(p2) => {
            if from.is_some() || to.is_some() {
                return Err(Error::Usage("give --from/--to or a second PATH, not both".into()));
            }
            let mut c2 = c.clone();
            c2.path = p2;
            let b = load_shown(&c2, Detail::Structure, progress, &secrets)?;
            let mut ra = replay::replay(&a, &Point::Last, false)?;
            let mut rb = replay::replay(&b, &Point::Last, false)?;
            // Each side is the end of its own log: a cut or damage there is said.
            let ca = replay::mark_cut(&a, &mut ra);
            let cb = replay::mark_cut(&b, &mut rb);
            let la = format!("{} @{}", c.path.display(), ra.index);
            let lb = format!("{} @{}", c2.path.display(), rb.index);
            (ra, rb, la, lb, ca, cb)
        }
        None => {
            let pf = match from {
                Some(s) => Point::parse(s)?,
                None => Point::Index(a.base_snapshot.map(|_| 0).unwrap_or(0)),
            };
            let pt = match to {
                Some(s) => Point::parse(s)?,
                None => Point::Last,
            };
            let ra = match pf {
                Point::Index(0) => {
                    let first = a.snapshots.iter().position(|s| s.valid);
                    match (first, a.wal.first_index()) {
                        (_, Some(1)) | (None, _) => {
                            replay::replay_from(&a, &Point::Index(0), false, replay::Base::Empty)?
                        }
                        (Some(i), _) => replay::replay(&a, &Point::Snapshot(a.snapshots[i].file.clone()), false)?,
                    }
                }
                p => replay::replay(&a, &p, false)?,
            };
            let mut ra = ra;
            let mut rb = replay::replay(&a, &pt, false)?;
            // A side at or past the end of the readable log says what cuts or damages it (the
            // archive cut at any index), as `state` does; a diff of two points before the
            // damage is not affected. One input: each cut is said once.
            let ca = replay::mark_cut(&a, &mut ra);
            let mut cb = replay::mark_cut(&a, &mut rb);
            cb.retain(|c| !ca.contains(c));
            let (la, lb) = (format!("index {}", ra.index), format!("index {}", rb.index));
            (ra, rb, la, lb, ca, cb)
        }
    };
    let d = crate::analyses::history::diff_stores(&ra.store, &rb.store, &red, kind);
    let ea = DiffEnd { label: la, index: ra.index, term: ra.term, notes: ra.notes.clone() };
    let eb = DiffEnd { label: lb, index: rb.index, term: rb.term, notes: rb.notes.clone() };
    match c.format {
        StreamFormat::Json => render::changes::write_diff_json(out, &ea, &eb, &d),
        StreamFormat::Ndjson => render::changes::write_diff_ndjson(out, &ea, &eb, &d),
        StreamFormat::Text => render::changes::write_diff_text(out, &ea.label, &eb.label, &d)
            .and_then(|()| diff_notes(out, &ra, &ca, &[]))
            .and_then(|()| diff_notes(out, &rb, &cb, &ca)),
    }
    .map_err(output::error)?;
    Ok(affected(&ra.findings).max(affected(&rb.findings)))
}

/// The notes of one side of a `diff` that bear on damage: each cut of the log with what it means
/// ([`replay::LogCut::state_note`]), then the other error findings of its replay. A finding of
/// `said` (cuts the other side said already: one input, the archive cut) is not said again.
fn diff_notes(
    out: Out<'_>,
    r: &replay::Replayed,
    cuts: &[replay::LogCut],
    said: &[replay::LogCut],
) -> std::io::Result<()> {
    for c in cuts {
        writeln!(out, "note: {}", c.state_note(r.base_index))?;
    }
    let is_cut = |f: &crate::error::Finding| cuts.iter().chain(said).any(|c| c.finding == *f);
    let rest: Vec<crate::error::Finding> = r.findings.iter().filter(|f| !is_cut(f)).cloned().collect();
    damage_notes(out, &rest)
}

fn timeline(
    c: &Common<StreamFormat>,
    filter: &FilterArgs,
    secrets: SecretArgs,
    progress: bool,
    out: Out<'_>,
) -> Result<u8> {
    let f = filter.filter()?;
    let a = load_shown(c, Detail::Entries, progress, &secrets)?;
    let red = Redaction { show_secrets: secrets.show_secrets, ..Default::default() };
    let (mut ev, mut found) = crate::analyses::history::timeline_with_findings(&a, &red);
    crate::analyses::history::timeline_cut(&a, &mut ev, &mut found);
    // A service or node that no event and no object of the log names is refused, as `state`
    // refuses it: the same check, over the whole log instead of one state.
    let only = |service: Option<&str>, node: Option<&str>| StateFilter {
        service: service.map(str::to_string),
        node: node.map(str::to_string),
        ..Default::default()
    };
    let named =
        |q: &str, k: Kind| matches!(crate::analyses::history::resolve_object(&a, q), Ok((kind, ..)) if kind == k);
    unmatched_query(
        &f,
        "in this log",
        |q| named(q, Kind::Service) || ev.iter().any(|e| timeline_keep(&a, e, &only(Some(q), None))),
        |q| named(q, Kind::Node) || ev.iter().any(|e| timeline_keep(&a, e, &only(None, Some(q)))),
    )?;
    ev.retain(|e| timeline_keep(&a, e, &f));
    match c.format {
        StreamFormat::Json => render::changes::write_timeline_json(out, &ev),
        StreamFormat::Ndjson => render::changes::write_timeline_ndjson(out, &ev),
        StreamFormat::Text => render::changes::write_timeline_text(out, &ev),
    }
    .map_err(output::error)?;
    Ok(affected(&found))
}

fn decrypt(c: &Common, output_dir: &std::path::Path, progress: bool, out: Out<'_>) -> Result<u8> {
    let a = load(c, Detail::Entries, progress)?;
    let rep = crate::analyses::decrypt::write_plaintext(&a, output_dir)?;
    match c.format {
        Format::Json => render::json::pretty(out, &rep),
        Format::Text => out.write_all(render::decrypt::text(&rep).as_bytes()),
    }
    .map_err(output::error)?;
    Ok(crate::analyses::decrypt::exit_code(&rep))
}

/// Timeline filters: kind, service (its events and its tasks'), node, task state.
fn timeline_keep(a: &Analysis, e: &crate::analyses::history::Event, f: &StateFilter) -> bool {
    if let Some(k) = f.kind {
        if e.kind != Some(k) {
            return false;
        }
    }
    let name_of = |id: &str| -> String {
        a.entries
            .iter()
            .find_map(|x| match &x.payload {
                crate::decode::entry::Payload::Request { actions, .. } => {
                    actions.iter().find(|y| y.id == id && !y.name.is_empty()).map(|y| y.name.clone())
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    if let Some(q) = &f.service {
        let ok = match (e.kind, &e.id) {
            (Some(Kind::Service), Some(id)) => id.starts_with(q.as_str()) || name_of(id) == *q,
            (Some(Kind::Task), Some(_)) => e.text.contains(&format!("task {q}.")),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    if let Some(q) = &f.node {
        let ok = match (e.kind, &e.id) {
            (Some(Kind::Node), Some(id)) => id.starts_with(q.as_str()) || e.text.contains(&format!("node {q} ")),
            _ => e.text.contains(q.as_str()),
        };
        if !ok {
            return false;
        }
    }
    if let Some(s) = &f.state {
        if !(e.class == "task" && e.text.contains(&format!(" {s}:"))) {
            return false;
        }
    }
    true
}
