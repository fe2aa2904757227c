//! The command line: flags ([`args`]), the commands ([`mod@run`]) and their one output path
//! ([`output`]), plus the flag types shared by the subcommands: one definition of the output
//! format and of how an input is opened, so that every command spells `--format`,
//! `--unlock-key-file` and `--no-mmap` the same way and builds its [`Options`] the same way.
//!
//! Layer: the top one. The binary (`src/main.rs`) only calls [`parse`] and [`run()`] and turns
//! the result into an exit code: 0 = ok, 1 = problems found in the data, 2 = could not run.

pub mod advise;
pub mod args;
pub mod chart;
pub mod forensics;
pub mod generate;
pub mod metrics;
pub mod output;
pub mod report;
pub mod run;
pub mod synth;

pub use args::{Cli, parse};
pub use run::run;

use crate::error::Result;
use crate::input::source::ReadOptions;
use crate::replay::analysis::{Detail, Options};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Output format.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Human-readable text (tables in the docker CLI's style).
    #[default]
    Text,
    /// One JSON document (schemas in docs/json.md).
    Json,
}

/// Output format of the commands whose output is a list of records (`state`, `wal`, `history`,
/// `timeline`, `diff`): [`Format`]'s two, and NDJSON. Kept apart from [`Format`] so that the
/// other commands reject `--format ndjson` as a usage error instead of ignoring it.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamFormat {
    /// Human-readable text (tables in the docker CLI's style).
    #[default]
    Text,
    /// One JSON document (schemas in docs/json.md).
    Json,
    /// One compact JSON object per line (records in docs/json.md).
    Ndjson,
}

/// How to open an input: the unlock key and the read mode.
#[derive(Args, Debug, Clone, Default)]
pub struct KeyArgs {
    /// File holding the unlock key (SWMKEY-1-...), needed when autolock is on. The key can also be
    /// given in the SWARMSIFT_UNLOCK_KEY environment variable (never on the command line).
    #[arg(long, value_name = "FILE")]
    pub unlock_key_file: Option<PathBuf>,
    /// Read files into memory instead of memory-mapping them (safer if a daemon may still write).
    #[arg(long)]
    pub no_mmap: bool,
}

impl KeyArgs {
    /// Read options.
    pub fn read(&self) -> ReadOptions {
        ReadOptions { no_mmap: self.no_mmap }
    }

    /// The unlock key, read from its file or the environment (none when neither gives one).
    pub fn unlock_key(&self) -> Result<Option<crate::crypto::keys::UnlockKey>> {
        crate::crypto::keyring::unlock_key_from(self.unlock_key_file.as_deref())
    }

    /// Load options: the unlock key read from its file or the environment, the read mode, and
    /// how much to decode.
    pub fn options(&self, detail: Detail, progress: bool) -> Result<Options> {
        Ok(Options { unlock_key: self.unlock_key()?, read: self.read(), detail, progress, ..Default::default() })
    }
}
