//! The `metrics` command: flags and runner, written into the output it is given
//! ([`crate::cli::output`]). The series are computed by [`crate::analyses::metrics`] and written
//! by [`crate::render::metrics`].
//!
//! Several PATHs are read as one history ([`crate::analyses::archive`]), as `chart` reads them.
//! What the replay met on the way (damage, anomalies) and the notes go to stderr, one line
//! each, since none of the three formats has room for prose; the exit code is 1 when the data
//! has errors.

use crate::analyses::{archive, metrics};
use crate::cli::{KeyArgs, output};
use crate::error::{Error, Result};
use crate::replay::analysis::Detail;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

/// Output format of `metrics`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsFormat {
    /// InfluxDB line protocol (`swarm_task_status,status=running count=4i <ns>`).
    #[default]
    Influx,
    /// OpenMetrics text, for `promtool tsdb create-blocks-from openmetrics` (ends with `# EOF`).
    Openmetrics,
    /// CSV, one row per field: time,index,measurement,node_id,node_hostname,status,field,value.
    Csv,
}

/// The history as the monitoring series Telegraf's swarm input wrote (`swarm`, `swarm_node`,
/// `swarm_task_status`), each point timestamped with the entry that caused it: at every committed
/// change, or every --step.
#[derive(Args, Debug, Clone)]
pub struct MetricsArgs {
    /// Inputs: swarm dirs, raft dirs, tarballs, dirs of .snap/.wal files. Several are read as
    /// one history (copies of the same swarm taken over time).
    #[arg(required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = MetricsFormat::Influx)]
    pub format: MetricsFormat,
    /// Sample every series at every multiple of this duration (30s, 1m, 1h, PT5M) instead of at
    /// every change; use at most 5m for Prometheus, whose queries look back 5 minutes.
    #[arg(long, value_name = "DURATION")]
    pub step: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: KeyArgs,
}

/// Run `metrics`: the series into `out`, findings and notes on stderr. Exit 0, or 1 when the data
/// has errors.
pub fn run_metrics(args: &MetricsArgs, out: &mut dyn Write) -> Result<u8> {
    let step = args.step.as_deref().map(metrics::parse_step).transpose().map_err(Error::Usage)?;
    let ar = archive::load(&args.paths, &args.input.options(Detail::Entries, false)?)?;
    let m = metrics::compute(&ar.merged, step).map_err(Error::Usage)?;
    for n in &m.notes {
        eprintln!("swarmsift: note: {n}");
    }
    for f in &m.findings {
        eprintln!("swarmsift: {f}");
    }
    match args.format {
        MetricsFormat::Influx => crate::render::metrics::write_influx(out, &m),
        MetricsFormat::Openmetrics => crate::render::metrics::write_openmetrics(out, &m),
        MetricsFormat::Csv => crate::render::metrics::write_csv(out, &m),
    }
    .map_err(output::error)?;
    let errors = m.findings.iter().any(|f| f.severity == crate::error::Severity::Error);
    Ok(if ar.merged.has_errors() || errors { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct C {
        #[command(flatten)]
        a: MetricsArgs,
    }

    #[test]
    fn arguments_parse() {
        use clap::CommandFactory;
        C::command().debug_assert();
        let c = C::try_parse_from(["x", "a.tar.gz", "b", "--format", "openmetrics", "--step", "1m"]).unwrap();
        assert_eq!(c.a.paths.len(), 2);
        assert_eq!(c.a.format, MetricsFormat::Openmetrics);
        assert!(C::try_parse_from(["x", "a", "--format", "json"]).is_err());
        assert!(C::try_parse_from(["x"]).is_err());
    }
}
