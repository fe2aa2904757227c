//! The command line's definition: the clap types for `swarmsift` and every subcommand's flags.
//!
//! Invariants: this module only declares and validates flags; it opens nothing and prints
//! nothing (`crate::cli::run` does). The doc comments on the clap types are the help texts the
//! binary prints, word for word: editing one changes `--help`. The clap types themselves carry no
//! doc comment of their own where clap would take it as a command's about text.

use crate::cli::forensics::{ManagersArgs, SalvageArgs, VerifyArgs};
use crate::cli::{Format, KeyArgs, StreamFormat};
use crate::decode::object::Kind;
use crate::error::{Error, Result};
use crate::render::state::StateFilter;
use crate::replay::point::Point;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

// The whole command line (no doc comment: clap would print it as the long about text).
#[allow(missing_docs)]
#[derive(Parser, Debug)]
#[command(
    name = "swarmsift",
    version,
    about = "Offline forensics of Docker Swarm manager state (/var/lib/docker/swarm): raft WAL, snapshots and keys. Never writes to its input.",
    after_help = "PATH is a swarm dir (/var/lib/docker/swarm), its raft/ dir, a .tar/.tar.gz backup of it, or a bare dir of .wal/.snap files.\nExit codes: 0 = ok, 1 = problems found in the data, 2 = could not run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
    /// No progress bar (same as --no-progress). The bar is only drawn on a terminal, on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No progress bar on stderr.
    #[arg(long, global = true)]
    pub no_progress: bool,
}

impl Cli {
    /// Whether a progress bar may be drawn (it still needs stderr to be a terminal).
    pub fn progress(&self) -> bool {
        !(self.quiet || self.no_progress)
    }
}

// The flags every single-input command shares; `F` is its `--format` type: [`Format`], or
// [`StreamFormat`] for the commands that also write NDJSON.
#[allow(missing_docs)]
#[derive(Args, Debug, Clone)]
pub struct Common<F: ValueEnum + Default + Clone + Send + Sync + 'static = Format> {
    /// Input: swarm dir, raft dir, .tar/.tar.gz backup, or a dir of .wal/.snap files.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = F::default())]
    pub format: F,
    #[command(flatten)]
    pub input: KeyArgs,
    /// Go on without the raft DEK: show structure only, payloads are reported undecryptable.
    #[arg(long)]
    pub no_decrypt: bool,
}

// `--show-secrets`: only on the commands that print secret, config or env data when asked
// (`state`, `history`, `diff`, `timeline`); the others reject it as an unknown flag instead of ignoring it.
#[allow(missing_docs)]
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct SecretArgs {
    /// Show secret data, config data, keys and env values instead of redacting them.
    #[arg(long)]
    pub show_secrets: bool,
}

// The point of the log a state is taken at: `--at`, `--at-time`, `--at-snapshot` (one at most).
#[allow(missing_docs)]
#[derive(Args, Debug, Clone)]
#[group(multiple = false)]
pub struct PointArgs {
    /// State after the entry with this raft index.
    #[arg(long, value_name = "INDEX")]
    pub at: Option<u64>,
    /// State at this wall-clock time (RFC 3339), from the objects' UpdatedAt and task status times.
    #[arg(long, value_name = "RFC3339")]
    pub at_time: Option<String>,
    /// Exactly the content of this snapshot file.
    #[arg(long, value_name = "FILE")]
    pub at_snapshot: Option<String>,
}

impl PointArgs {
    /// The point the flags name ([`Point::Last`] without any).
    pub fn point(&self) -> Result<Point> {
        Ok(if let Some(i) = self.at {
            Point::Index(i)
        } else if let Some(t) = &self.at_time {
            Point::Time(crate::replay::point::parse_time(t)?)
        } else if let Some(s) = &self.at_snapshot {
            Point::Snapshot(s.clone())
        } else {
            Point::Last
        })
    }
}

// Filters of `state` and `timeline`.
#[allow(missing_docs)]
#[derive(Args, Debug, Clone)]
pub struct FilterArgs {
    /// Also apply entries past HardState.commit (they are labelled).
    #[arg(long)]
    pub include_uncommitted: bool,
    /// Only this kind (node, service, task, network, secret, config, cluster, volume).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this service (name, ID or ID prefix) and its tasks.
    #[arg(long)]
    pub service: Option<String>,
    /// Only this node (hostname, ID or ID prefix) and its tasks.
    #[arg(long)]
    pub node: Option<String>,
    /// Only tasks in this current state (running, failed, shutdown, ...).
    #[arg(long)]
    pub state: Option<String>,
}

impl FilterArgs {
    /// The filter the flags describe; an unknown `--kind` is a usage error.
    pub fn filter(&self) -> Result<StateFilter> {
        Ok(StateFilter {
            kind: parse_kind(self.kind.as_deref())?,
            service: self.service.clone(),
            node: self.node.clone(),
            state: match &self.state {
                Some(s) => Some(parse_task_state(s)?),
                None => None,
            },
        })
    }
}

/// A `--state` value: a task state as `docker service ps` prints it (any case); a usage error
/// naming the states otherwise.
pub fn parse_task_state(s: &str) -> Result<String> {
    let names: Vec<&str> = (0..=1024).map(crate::decode::docker_api::task_state).filter(|n| *n != "unknown").collect();
    let mut names = names;
    names.dedup();
    let q = s.to_ascii_lowercase();
    if names.contains(&q.as_str()) {
        Ok(q)
    } else {
        Err(Error::Usage(format!("--state {s:?} is not a task state (one of: {})", names.join(", "))))
    }
}

/// A `--kind` value: `None` without one, a usage error for an unknown kind.
pub fn parse_kind(k: Option<&str>) -> Result<Option<Kind>> {
    match k {
        Some(k) => Ok(Some(Kind::parse(k).ok_or_else(|| Error::Usage(format!("unknown kind {k:?}")))?)),
        None => Ok(None),
    }
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// The whole picture on one screen: layout, identity, keys, WAL, snapshots, counts.
    Info(Common),
    /// One line per raft entry: index, term, type, committed, actions.
    Wal {
        #[command(flatten)]
        #[allow(missing_docs)]
        common: Common<StreamFormat>,
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
        #[allow(missing_docs)]
        common: Common<StreamFormat>,
        #[command(flatten)]
        #[allow(missing_docs)]
        point: PointArgs,
        #[command(flatten)]
        #[allow(missing_docs)]
        filter: FilterArgs,
        #[command(flatten)]
        #[allow(missing_docs)]
        secrets: SecretArgs,
    },
    /// Every version of one object (ID, unique ID prefix or name), with field-level diffs.
    History {
        #[command(flatten)]
        #[allow(missing_docs)]
        common: Common<StreamFormat>,
        /// Object ID, unique ID prefix, or name.
        object: String,
        /// For a service, include its tasks.
        #[arg(long)]
        tasks: bool,
        #[command(flatten)]
        #[allow(missing_docs)]
        secrets: SecretArgs,
    },
    /// Objects created, updated (with field diffs) and removed between two points, or between
    /// the final states of two inputs (`diff PATH1 PATH2`).
    Diff {
        #[command(flatten)]
        #[allow(missing_docs)]
        common: Common<StreamFormat>,
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
        #[command(flatten)]
        #[allow(missing_docs)]
        secrets: SecretArgs,
    },
    /// Events in order: elections, membership, node status/availability, services, task failures,
    /// snapshots.
    Timeline {
        #[command(flatten)]
        #[allow(missing_docs)]
        common: Common<StreamFormat>,
        #[command(flatten)]
        #[allow(missing_docs)]
        filter: FilterArgs,
        #[command(flatten)]
        #[allow(missing_docs)]
        secrets: SecretArgs,
    },
    /// Run every check and report every problem, with what Docker would do with this directory.
    Verify(VerifyArgs),
    /// Write a repaired copy to a new directory (never touches the input) and say what was dropped.
    Salvage(SalvageArgs),
    /// Compare the swarm dirs of several managers of one cluster: which holds the best log.
    Managers(ManagersArgs),
    /// Write a synthetic swarm dir of a chosen scale in Docker's exact format.
    Synth(crate::cli::synth::SynthArgs),
    /// Charts (SVG or PNG by extension): recovery, convergence, snapshots, tasks.
    Chart(crate::cli::chart::ChartArgs),
    /// Treat several copies of swarm or snap dirs, taken over time, as one history.
    Archive(crate::cli::chart::ArchiveArgs),
    /// The production checklist judged on the data: each item with its evidence and source.
    Advise(crate::cli::advise::AdviseArgs),
    /// The history as monitoring series (swarm, swarm_node, swarm_task_status): InfluxDB line
    /// protocol, OpenMetrics or CSV.
    Metrics(crate::cli::metrics::MetricsArgs),
    /// Write a plaintext copy (etcd format, all snapshots) to a new directory. Never touches the source.
    Decrypt {
        /// Input: swarm dir, raft dir, .tar/.tar.gz backup, or a dir of .wal/.snap files.
        path: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::default())]
        format: Format,
        #[command(flatten)]
        #[allow(missing_docs)]
        input: KeyArgs,
        /// Output directory (must not exist or be empty).
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// Write a post-mortem as one self-contained HTML file: verdict and findings, managers and
    /// what to recover from, state at the end and at the last healthy point, timeline, charts,
    /// sizes.
    Report(crate::cli::report::ReportArgs),
    /// Print a man page or a shell completion script, from these very flag definitions.
    Generate(crate::cli::generate::GenerateArgs),
}

/// Parse the process's arguments. On `--help`, `--version` or a usage error clap has printed
/// what it prints and the `Err` holds the exit code (0 for help and version, 2 for usage).
pub fn parse() -> std::result::Result<Cli, std::process::ExitCode> {
    Cli::try_parse().map_err(|e| {
        let code = if e.use_stderr() { 2 } else { 0 };
        let _ = e.print();
        std::process::ExitCode::from(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ndjson_only_where_it_is_written() {
        for cmd in ["state", "wal", "history", "timeline", "diff"] {
            let mut args = vec!["swarmsift", cmd, "p"];
            if cmd == "history" {
                args.push("web");
            }
            args.extend(["--format", "ndjson"]);
            assert!(Cli::try_parse_from(&args).is_ok(), "{cmd} takes --format ndjson");
        }
        for cmd in ["info", "snapshots"] {
            assert!(Cli::try_parse_from(["swarmsift", cmd, "p", "--format", "ndjson"]).is_err(), "{cmd}");
        }
        assert!(Cli::try_parse_from(["swarmsift", "decrypt", "p", "-o", "d", "--format", "ndjson"]).is_err());
    }
}
