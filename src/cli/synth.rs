//! The `synth` command: flags and output (written into the output it is given,
//! [`crate::cli::output`]). The generator itself is [`crate::analyses::synth`].

use crate::analyses::synth::{self, SynthOptions};
use crate::crypto::keys::UnlockKey;
use crate::error::{Error, Result};
use std::path::PathBuf;

/// `swarmsift synth -o DIR`: write a swarm dir of a chosen scale in Docker's exact format, from a
/// seeded simulation (defaults model Swarm3k: 4,700 nodes, 3 managers, about 100,000 tasks).
#[derive(clap::Args, Debug, Clone)]
pub struct SynthArgs {
    /// Output swarm dir (must not exist or be empty); gets raft/, certificates/, state.json,
    /// docker-state.json.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Nodes in total, managers included.
    #[arg(long, default_value_t = 4_700)]
    pub nodes: usize,
    /// Managers (raft members, 1-7).
    #[arg(long, default_value_t = 3)]
    pub managers: usize,
    /// Services created at the start (churn keeps about this many).
    #[arg(long, default_value_t = 200)]
    pub services: usize,
    /// Tasks to create over the history (approximate: the run stops once every target is met).
    #[arg(long, default_value_t = 100_000)]
    pub tasks: u64,
    /// Raft entries to write at least.
    #[arg(long, default_value_t = 0)]
    pub entries: u64,
    /// WAL bytes to write at least, e.g. 1000000000 or 1G / 500M (counting segments GC deleted).
    #[arg(long, value_parser = parse_size, default_value = "0")]
    pub wal_bytes: u64,
    /// Seed: the same seed and flags give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Cluster raft snapshot interval (entries).
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_interval: u64,
    /// Older snapshots kept besides the newest (docker swarm --max-snapshots).
    #[arg(long, default_value_t = 0)]
    pub keep_old_snapshots: u64,
    /// Task history retention limit per slot.
    #[arg(long, default_value_t = 5)]
    pub task_history: u64,
    /// Configs to create.
    #[arg(long, default_value_t = 20)]
    pub configs: usize,
    /// Bytes of each config (base64 text; swarmkit allows up to 1000 KiB).
    #[arg(long, value_parser = parse_size, default_value = "100000")]
    pub config_bytes: u64,
    /// Secrets to create.
    #[arg(long, default_value_t = 20)]
    pub secrets: usize,
    /// Overlay networks to create.
    #[arg(long, default_value_t = 8)]
    pub networks: usize,
    /// Turn autolock on with a key generated from the seed (printed).
    #[arg(long)]
    pub autolock: bool,
    /// Turn autolock on with this unlock key (a file holding SWMKEY-1-...).
    #[arg(long, value_name = "FILE")]
    pub unlock_key_file: Option<PathBuf>,
    /// When the simulated history starts (RFC 3339); the clock only moves forward from there.
    #[arg(long, default_value = "2025-03-03T09:00:00Z")]
    pub start: String,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = crate::cli::Format::Text)]
    pub format: crate::cli::Format,
    /// Same as --format json (kept for scripts written before --format).
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
}

/// Parse a byte count with an optional K/M/G suffix (decimal: 1G = 1,000,000,000).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1_000),
        Some('m' | 'M') => (&t[..t.len() - 1], 1_000_000),
        Some('g' | 'G') => (&t[..t.len() - 1], 1_000_000_000),
        _ => (t, 1),
    };
    num.trim().parse::<u64>().map(|n| n * mult).map_err(|e| format!("{s:?}: {e}"))
}

/// Options from the flags.
pub fn options(a: &SynthArgs, progress: bool) -> Result<SynthOptions> {
    let unlock_key = match &a.unlock_key_file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::Io { path: p.clone(), source: e })?;
            Some(UnlockKey::parse(&text).map_err(|e| Error::Key(format!("{}: {e}", p.display())))?)
        }
        None => None,
    };
    let config_bytes = usize::try_from(a.config_bytes).map_err(|_| Error::Usage("--config-bytes too large".into()))?;
    let start = crate::replay::point::parse_time(&a.start)?;
    let start_unix = u64::try_from(start.as_second()).map_err(|_| Error::Usage("--start must be after 1970".into()))?;
    Ok(SynthOptions {
        start_unix,
        nodes: a.nodes,
        managers: a.managers,
        services: a.services,
        tasks: a.tasks,
        entries: a.entries,
        wal_bytes: a.wal_bytes,
        seed: a.seed,
        snapshot_interval: a.snapshot_interval,
        keep_old_snapshots: a.keep_old_snapshots,
        task_history: a.task_history,
        configs: a.configs,
        config_bytes,
        secrets: a.secrets,
        networks: a.networks,
        autolock: a.autolock || unlock_key.is_some(),
        unlock_key,
        progress,
        ..SynthOptions::default()
    })
}

/// Run `synth`: generate, print the report (text or JSON) into `out`. Exit code 0.
pub fn run_synth(args: &SynthArgs, progress: bool, out: &mut dyn std::io::Write) -> Result<u8> {
    let o = options(args, progress)?;
    let started = std::time::Instant::now();
    let rep = synth::generate(&args.output, &o)?;
    let secs = started.elapsed().as_secs_f64();
    if args.json || args.format == crate::cli::Format::Json {
        let mut v = serde_json::to_value(&rep).unwrap_or_default();
        v["seconds"] = serde_json::json!(secs);
        crate::render::json::pretty(out, &v)
    } else {
        writeln!(out, "{}generated in {secs:.1} s", synth::report_text(&rep))
    }
    .map_err(crate::cli::output::error)?;
    Ok(0)
}
