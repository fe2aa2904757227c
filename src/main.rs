//! The `swarmsift` command line. Thin: parses flags, calls the library, prints, sets the exit
//! code (0 = ok, 1 = problems found in the data, 2 = could not run).

use clap::{Args, Parser, Subcommand};
use swarmsift::cli::{Format, KeyArgs};

// Decoding allocates and frees millions of small protobuf objects: mimalloc spends about a
// quarter less CPU on that than glibc's allocator (docs/performance.md) and returns freed memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use swarmsift::decode::docker_api::Redaction;
use swarmsift::decode::object::Kind;
use swarmsift::render;
use swarmsift::replay::analysis::{Analysis, Detail, Options};
use swarmsift::replay::point::{self as replay, Point};

#[derive(Parser, Debug)]
#[command(
    name = "swarmsift",
    version,
    about = "Offline forensics of Docker Swarm manager state (/var/lib/docker/swarm): raft WAL, snapshots and keys. Never writes to its input.",
    after_help = "PATH is a swarm dir (/var/lib/docker/swarm), its raft/ dir, a .tar/.tar.gz backup of it, or a bare dir of .wal/.snap files.\nExit codes: 0 = ok, 1 = problems found in the data, 2 = could not run."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// No progress bar (same as --no-progress). The bar is only drawn on a terminal, on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// No progress bar on stderr.
    #[arg(long, global = true)]
    no_progress: bool,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Input: swarm dir, raft dir, .tar/.tar.gz backup, or a dir of .wal/.snap files.
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    input: KeyArgs,
    /// Show secret data, config data, keys and env values instead of redacting them.
    #[arg(long)]
    show_secrets: bool,
    /// Go on without the raft DEK: show structure only, payloads are reported undecryptable.
    #[arg(long)]
    no_decrypt: bool,
}

#[derive(Args, Debug, Clone)]
#[group(multiple = false)]
struct PointArgs {
    /// State after the entry with this raft index.
    #[arg(long, value_name = "INDEX")]
    at: Option<u64>,
    /// State at this wall-clock time (RFC 3339), from the objects' UpdatedAt and task status times.
    #[arg(long, value_name = "RFC3339")]
    at_time: Option<String>,
    /// Exactly the content of this snapshot file.
    #[arg(long, value_name = "FILE")]
    at_snapshot: Option<String>,
}

impl PointArgs {
    fn point(&self) -> Result<Point, swarmsift::error::Error> {
        Ok(if let Some(i) = self.at {
            Point::Index(i)
        } else if let Some(t) = &self.at_time {
            Point::Time(swarmsift::replay::point::parse_time(t)?)
        } else if let Some(s) = &self.at_snapshot {
            Point::Snapshot(s.clone())
        } else {
            Point::Last
        })
    }
}

#[derive(Args, Debug, Clone)]
struct FilterArgs {
    /// Also apply entries past HardState.commit (they are labelled).
    #[arg(long)]
    include_uncommitted: bool,
    /// Only this kind (node, service, task, network, secret, config, cluster, volume).
    #[arg(long)]
    kind: Option<String>,
    /// Only this service (name, ID or ID prefix) and its tasks.
    #[arg(long)]
    service: Option<String>,
    /// Only this node (hostname, ID or ID prefix) and its tasks.
    #[arg(long)]
    node: Option<String>,
    /// Only tasks in this current state (running, failed, shutdown, ...).
    #[arg(long)]
    state: Option<String>,
}

impl FilterArgs {
    fn filter(&self) -> Result<render::state::StateFilter, swarmsift::error::Error> {
        let kind = match &self.kind {
            Some(k) => {
                Some(Kind::parse(k).ok_or_else(|| swarmsift::error::Error::Usage(format!("unknown kind {k:?}")))?)
            }
            None => None,
        };
        Ok(render::state::StateFilter {
            kind,
            service: self.service.clone(),
            node: self.node.clone(),
            state: self.state.as_ref().map(|s| s.to_ascii_lowercase()),
        })
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// The whole picture on one screen: layout, identity, keys, WAL, snapshots, counts.
    Info(Common),
    /// One line per raft entry: index, term, type, committed, actions.
    Wal {
        #[command(flatten)]
        common: Common,
        /// Lowest index to show.
        #[arg(long)]
        from: Option<u64>,
        /// Highest index to show.
        #[arg(long)]
        to: Option<u64>,
        /// Only entries acting on this kind (node, service, task, network, secret, config, cluster, volume).
        #[arg(long)]
        kind: Option<String>,
        /// Only entries acting on this object ID (prefix) or name.
        #[arg(long)]
        id: Option<String>,
    },
    /// Each snapshot file: term, index, bytes, object counts, validity.
    Snapshots(Common),
    /// The swarm's state (nodes, services, tasks, networks, secrets, configs, cluster, raft members)
    /// at any point of the log.
    State {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        point: PointArgs,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Every version of one object (ID, unique ID prefix or name), with field-level diffs.
    History {
        #[command(flatten)]
        common: Common,
        /// Object ID, unique ID prefix, or name.
        object: String,
        /// For a service, include its tasks.
        #[arg(long)]
        tasks: bool,
    },
    /// Objects created, updated (with field diffs) and removed between two points, or between
    /// the final states of two inputs (`diff PATH1 PATH2`).
    Diff {
        #[command(flatten)]
        common: Common,
        /// A second input to compare with (another manager, another backup).
        other: Option<PathBuf>,
        /// From: raft index, RFC 3339 time, or .snap file (default: first state of the log).
        #[arg(long)]
        from: Option<String>,
        /// To: raft index, RFC 3339 time, or .snap file (default: last committed).
        #[arg(long)]
        to: Option<String>,
        /// Only this kind.
        #[arg(long)]
        kind: Option<String>,
    },
    /// Events in order: elections, membership, node status/availability, services, task failures,
    /// snapshots.
    Timeline {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Run every check and report every problem, with what Docker would do with this directory.
    Verify(swarmsift::cli::forensics::VerifyArgs),
    /// Write a repaired copy to a new directory (never touches the input) and say what was dropped.
    Salvage(swarmsift::cli::forensics::SalvageArgs),
    /// Compare the swarm dirs of several managers of one cluster: which holds the best log.
    Managers(swarmsift::cli::forensics::ManagersArgs),
    /// Write a synthetic swarm dir of a chosen scale in Docker's exact format.
    Synth(swarmsift::cli::synth::SynthArgs),
    /// Charts (SVG or PNG by extension): recovery, convergence, snapshots, tasks.
    Chart(swarmsift::cli::chart::ChartArgs),
    /// Treat several copies of swarm or snap dirs, taken over time, as one history.
    Archive(swarmsift::cli::chart::ArchiveArgs),
    /// Write a plaintext copy (etcd format, all snapshots) to a new directory. Never touches the source.
    Decrypt {
        #[command(flatten)]
        common: Common,
        /// Output directory (must not exist or be empty).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
}

/// Options for loading one input.
fn options(c: &Common, detail: Detail, progress: bool) -> Result<Options, swarmsift::error::Error> {
    Ok(Options { allow_no_keys: c.no_decrypt, ..c.input.options(detail, progress)? })
}

fn emit(s: &str) -> bool {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => true,
        Err(_) => false,
    }
}

fn json_out(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

fn run(cli: Cli) -> Result<u8, swarmsift::error::Error> {
    let progress = !(cli.quiet || cli.no_progress);
    // Every entry decoded, summaries kept (history, timeline, times).
    let load = |c: &Common| Analysis::load(&c.path, &options(c, Detail::Entries, progress)?);
    // Every entry and snapshot checked (what the final state does not need on the wire only),
    // only notable entries kept: memory does not grow with the WAL.
    let load_checked = |c: &Common| Analysis::load(&c.path, &options(c, Detail::Check, progress)?);
    // Containers only: a replay decodes what the state needs.
    let load_structure = |c: &Common| Analysis::load(&c.path, &options(c, Detail::Structure, progress)?);
    match cli.cmd {
        Cmd::Info(c) => {
            let a = load_checked(&c)?;
            let s = match c.format {
                Format::Json => json_out(&render::info::json(&a)),
                Format::Text => render::info::text(&a),
            };
            emit(&s);
            Ok(if a.has_errors() { 1 } else { 0 })
        }
        Cmd::Wal { common: c, from, to, kind, id } => {
            let kind = match kind {
                Some(k) => {
                    Some(Kind::parse(&k).ok_or_else(|| swarmsift::error::Error::Usage(format!("unknown kind {k:?}")))?)
                }
                None => None,
            };
            let f = render::walcmd::WalFilter { from, to, kind, id };
            // Rows go out as entries are decoded: nothing per entry is kept.
            let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
            let mut stream = render::walcmd::WalStream::new(out, f, c.format == Format::Json);
            let a = Analysis::load_with(&c.path, &options(&c, Detail::Notable, progress)?, &mut stream)?;
            if let Err(e) = stream.finish() {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(swarmsift::error::Error::Io { path: "<stdout>".into(), source: e });
                }
            }
            Ok(if a.has_errors() { 1 } else { 0 })
        }
        Cmd::Snapshots(c) => {
            let a = load_checked(&c)?;
            let s = match c.format {
                Format::Json => json_out(&render::walcmd::snapshots_json(&a)),
                Format::Text => {
                    if a.snapshots.is_empty() {
                        "no snapshots\n".to_string()
                    } else {
                        render::walcmd::snapshots_table(&a) + &swarmsift::render::sizes::snapshots_text(&a)
                    }
                }
            };
            emit(&s);
            Ok(if a.snapshots.iter().any(|s| !s.valid) { 1 } else { 0 })
        }
        Cmd::State { common: c, point, filter } => {
            let f = filter.filter()?;
            let p = point.point()?;
            // A time needs every entry's time; otherwise the replay decodes only the base
            // snapshot and the entries above it, once.
            let a = if matches!(p, Point::Time(_)) { load(&c)? } else { load_structure(&c)? };
            let r = replay::replay(&a, &p, filter.include_uncommitted)?;
            let me = a.member.as_ref().map(|m| m.node_id.clone());
            let leader = replay::probable_leader(&a, &r);
            let s = match c.format {
                Format::Json => json_out(&render::state::json(
                    &r,
                    &f,
                    &Redaction { show_secrets: c.show_secrets },
                    me.as_deref(),
                    leader,
                )),
                Format::Text => render::state::text(&r, &f, me.as_deref(), leader),
            };
            emit(&s);
            Ok(0)
        }
        Cmd::History { common: c, object, tasks } => {
            let a = load(&c)?;
            let (kind, id, name) =
                swarmsift::analyses::history::resolve_object(&a, &object).map_err(swarmsift::error::Error::Usage)?;
            let red = Redaction { show_secrets: c.show_secrets };
            let v = swarmsift::analyses::history::history(&a, kind, &id, tasks && kind == Kind::Service, &red);
            let s = match c.format {
                Format::Json => json_out(&render::changes::history_json(kind.name(), &id, &name, &v)),
                Format::Text => format!("{} {id} ({name})\n{}", kind.name(), render::changes::history_text(&v)),
            };
            emit(&s);
            Ok(0)
        }
        Cmd::Diff { common: c, other, from, to, kind } => {
            let kind = match kind {
                Some(k) => {
                    Some(Kind::parse(&k).ok_or_else(|| swarmsift::error::Error::Usage(format!("unknown kind {k:?}")))?)
                }
                None => None,
            };
            let red = Redaction { show_secrets: c.show_secrets };
            let times = [&from, &to]
                .iter()
                .any(|x| x.as_deref().map(Point::parse).is_some_and(|p| matches!(p, Ok(Point::Time(_)))));
            let a = if times { load(&c)? } else { load_structure(&c)? };
            let (ra, rb, la, lb) = match other {
                Some(p2) => {
                    if from.is_some() || to.is_some() {
                        return Err(swarmsift::error::Error::Usage(
                            "give --from/--to or a second PATH, not both".into(),
                        ));
                    }
                    let mut c2 = c.clone();
                    c2.path = p2;
                    let b = load_structure(&c2)?;
                    let ra = replay::replay(&a, &Point::Last, false)?;
                    let rb = replay::replay(&b, &Point::Last, false)?;
                    let la = format!("{} @{}", c.path.display(), ra.index);
                    let lb = format!("{} @{}", c2.path.display(), rb.index);
                    (ra, rb, la, lb)
                }
                None => {
                    let pf = match &from {
                        Some(s) => Point::parse(s)?,
                        None => Point::Index(a.base_snapshot.map(|_| 0).unwrap_or(0)),
                    };
                    let pt = match &to {
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
                                (Some(i), _) => {
                                    replay::replay(&a, &Point::Snapshot(a.snapshots[i].file.clone()), false)?
                                }
                            }
                        }
                        p => replay::replay(&a, &p, false)?,
                    };
                    let rb = replay::replay(&a, &pt, false)?;
                    let (la, lb) = (format!("index {}", ra.index), format!("index {}", rb.index));
                    (ra, rb, la, lb)
                }
            };
            let d = swarmsift::analyses::history::diff_stores(&ra.store, &rb.store, &red, kind);
            let s = match c.format {
                Format::Json => json_out(&render::changes::diff_json(
                    serde_json::json!({"label": la, "index": ra.index, "term": ra.term}),
                    serde_json::json!({"label": lb, "index": rb.index, "term": rb.term}),
                    &d,
                )),
                Format::Text => render::changes::diff_text(&la, &lb, &d),
            };
            emit(&s);
            Ok(0)
        }
        Cmd::Timeline { common: c, filter } => {
            let f = filter.filter()?;
            let a = load(&c)?;
            let mut ev = swarmsift::analyses::history::timeline(&a);
            ev.retain(|e| timeline_keep(&a, e, &f));
            let s = match c.format {
                Format::Json => json_out(&serde_json::json!({"events": ev})),
                Format::Text => render::changes::timeline_text(&ev),
            };
            emit(&s);
            Ok(0)
        }
        Cmd::Verify(args) => swarmsift::cli::forensics::run_verify(args, progress),
        Cmd::Salvage(args) => swarmsift::cli::forensics::run_salvage(args),
        Cmd::Managers(args) => swarmsift::cli::forensics::run_managers(args),
        Cmd::Synth(args) => swarmsift::cli::synth::run_synth(&args),
        Cmd::Chart(args) => swarmsift::cli::chart::run_chart(&args),
        Cmd::Archive(args) => swarmsift::cli::chart::run_archive(&args),
        Cmd::Decrypt { common: c, output } => {
            let a = load(&c)?;
            let rep = swarmsift::analyses::decrypt::write_plaintext(&a, &output)?;
            let s = match c.format {
                Format::Json => json_out(&serde_json::to_value(&rep).unwrap_or_default()),
                Format::Text => format!(
                    "wrote {}: {} WAL segments ({} entries decrypted, {} left encrypted), {} snapshots ({} skipped)\n",
                    rep.output,
                    rep.segments,
                    rep.entries_decrypted,
                    rep.entries_left_encrypted.len(),
                    rep.snapshots,
                    rep.snapshots_skipped.len()
                ),
            };
            emit(&s);
            Ok(if rep.entries_left_encrypted.is_empty() && rep.snapshots_skipped.is_empty() { 0 } else { 1 })
        }
    }
}

/// Timeline filters: kind, service (its events and its tasks'), node, task state.
fn timeline_keep(a: &Analysis, e: &swarmsift::analyses::history::Event, f: &render::state::StateFilter) -> bool {
    if let Some(k) = f.kind {
        if e.kind != Some(k) {
            return false;
        }
    }
    let name_of = |id: &str| -> String {
        a.entries
            .iter()
            .find_map(|x| match &x.payload {
                swarmsift::decode::entry::Payload::Request { actions, .. } => {
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("swarmsift: {e}");
            ExitCode::from(2)
        }
    }
}
