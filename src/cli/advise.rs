//! The `advise` command: flags and runner, written into the output it is given
//! ([`crate::cli::output`]). The checklist is [`crate::analyses::advise`]'s.

use crate::cli::{Format, KeyArgs, output};
use crate::error::Result;
use crate::replay::analysis::{Analysis, Detail, Options};
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

/// The production checklist (drained managers, manager count and placement, snapshot
/// retention and interval, task history, node count, certificates, sizes against swarmkit's
/// limits, a lost quorum), judged on the data, each item with its evidence and source.
#[derive(Args, Debug, Clone)]
pub struct AdviseArgs {
    /// Input: swarm dir, raft dir, .tar/.tar.gz backup, or a dir of .wal/.snap files.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub input: KeyArgs,
}

/// Run `advise`. Exit 0, or 1 when the data has errors (the checklist is printed either way).
pub fn run_advise(args: &AdviseArgs, progress: bool, out: &mut dyn Write) -> Result<u8> {
    let opts: Options = args.input.options(Detail::Entries, progress)?;
    let a = Analysis::load(&args.path, &opts)?;
    let items = crate::analyses::advise::advise(&a);
    match args.format {
        Format::Json => crate::render::json::pretty(out, &json!({ "advice": items })),
        Format::Text => out.write_all(
            crate::render::advise::text(
                &items,
                &format!("ADVICE for {} (final state at index {})", args.path.display(), a.state_index),
            )
            .as_bytes(),
        ),
    }
    .map_err(output::error)?;
    Ok(if a.has_errors() { 1 } else { 0 })
}
