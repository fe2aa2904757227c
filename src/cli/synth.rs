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
    /// Write this IPv4 address for every node and manager (raft members on ADDR:2377, the next
    /// managers on the ports after it), so that a real engine started on the output dials only
    /// it, e.g. 127.0.0.1. Default: each node its own address in 10.128.0.0/10.
    #[arg(long, value_name = "IPV4")]
    pub addr: Option<std::net::Ipv4Addr>,
    /// Hardware planning: after writing, read the output back and give the newest snapshot's
    /// size and the restart time of a manager on it (`chart recovery`'s cost at the last index
    /// with the model of measured Docker restarts), on the measured machine and scaled to
    /// --vcpus.
    #[arg(long)]
    pub plan: bool,
    /// With --plan: vCPU counts to scale the restart time to (Amdahl's law with the parallel
    /// fraction measured by runs pinned to fewer CPUs).
    #[arg(long, value_name = "N,N...", value_delimiter = ',', default_values_t = [2u32, 4, 8, 16, 20], requires = "plan")]
    pub vcpus: Vec<u32>,
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
        addr: a.addr,
        ..SynthOptions::default()
    })
}

/// Run `synth`: generate, print the report (text or JSON) into `out`. Exit code 0.
pub fn run_synth(args: &SynthArgs, progress: bool, out: &mut dyn std::io::Write) -> Result<u8> {
    let o = options(args, progress)?;
    let started = std::time::Instant::now();
    let rep = synth::generate(&args.output, &o)?;
    let secs = started.elapsed().as_secs_f64();
    let plan = if args.plan { Some(plan(args, &o, &rep)?) } else { None };
    if args.json || args.format == crate::cli::Format::Json {
        let mut v = serde_json::to_value(&rep).unwrap_or_default();
        v["seconds"] = serde_json::json!(secs);
        if let Some(p) = &plan {
            v["plan"] = serde_json::to_value(p).unwrap_or_default();
        }
        crate::render::json::pretty(out, &v)
    } else {
        let mut t = format!("{}generated in {secs:.1} s\n", synth::report_text(&rep));
        if let Some(p) = &plan {
            t.push_str(&plan_text(p));
        }
        out.write_all(t.as_bytes())
    }
    .map_err(crate::cli::output::error)?;
    Ok(0)
}

/// `synth --plan`: the snapshot size and restart time of the written swarm.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// Nodes written.
    pub nodes: usize,
    /// Tasks in the final state.
    pub live_tasks: u64,
    /// Tasks asked for over the history (`--tasks`).
    pub tasks_created: u64,
    /// The newest snapshot a restart loads (bytes of its file; 0: none written).
    pub snapshot_bytes: u64,
    /// WAL entries after it.
    pub wal_entries: u64,
    /// Their bytes.
    pub wal_bytes: u64,
    /// Restart seconds on the measured machine.
    pub restart_s: f64,
    /// The calibration (model) used.
    pub calibration: crate::render::chart::recovery::Calibration,
    /// Restart seconds scaled to other vCPU counts: (vcpus, seconds).
    pub scaled: Vec<(u32, f64)>,
}

/// Read the written swarm back and price a restart at its last index.
pub fn plan(args: &SynthArgs, o: &SynthOptions, rep: &synth::SynthReport) -> Result<Plan> {
    use crate::render::chart::recovery;
    let opts = crate::replay::analysis::Options {
        unlock_key: o.unlock_key.clone().or_else(|| rep.unlock_key.as_deref().and_then(|k| UnlockKey::parse(k).ok())),
        detail: crate::replay::analysis::Detail::Entries,
        digest_secret_data: true,
        ..Default::default()
    };
    let ar = crate::analyses::archive::load(std::slice::from_ref(&args.output), &opts)?;
    let model = recovery::DockerModel::shipped()?;
    let cal = recovery::Calibration::docker()?;
    let r = recovery::compute(&ar.merged, ar.names.clone(), cal.clone());
    let last = r.points.last();
    let restart_s = last.map(|p| p.total_s).unwrap_or(cal.fixed_s.unwrap_or(0.0));
    Ok(Plan {
        nodes: o.nodes.max(o.managers.clamp(1, 7)),
        live_tasks: rep.live.get("tasks").copied().unwrap_or(0),
        tasks_created: o.tasks,
        snapshot_bytes: last.map(|p| p.snapshot_bytes).unwrap_or(0),
        wal_entries: last.map(|p| p.entries).unwrap_or(0),
        wal_bytes: last.map(|p| p.wal_bytes).unwrap_or(0),
        restart_s,
        scaled: args.vcpus.iter().map(|&v| (v, model.scale(restart_s, v))).collect(),
        calibration: cal,
    })
}

/// The plan as text.
pub fn plan_text(p: &Plan) -> String {
    let mut o = format!(
        "PLAN: {} nodes, {} tasks live ({} asked for)\n  newest snapshot {} bytes ({:.1} MB), then {} WAL entries ({:.1} MB)\n  restart to `docker node ls` answering: {:.1} s on {} CPUs\n  calibration: {}\n",
        p.nodes,
        p.live_tasks,
        p.tasks_created,
        p.snapshot_bytes,
        p.snapshot_bytes as f64 / 1e6,
        p.wal_entries,
        p.wal_bytes as f64 / 1e6,
        p.restart_s,
        p.calibration.cpus.unwrap_or(0),
        p.calibration.text()
    );
    if !p.scaled.is_empty() {
        let pf = p.calibration.parallel_fraction.map(|f| format!("{f:.2}")).unwrap_or_else(|| "unknown".into());
        o.push_str(&format!("  scaled by vCPUs (Amdahl, measured parallel fraction {pf}):"));
        for (v, s) in &p.scaled {
            o.push_str(&format!(" {v} vCPUs {s:.1} s;"));
        }
        o.pop();
        o.push('\n');
    }
    o
}
