//! The `generate` command: a man page or a shell completion script, printed on stdout, built
//! from the clap definitions of `crate::cli::args`, which the caller passes in as the command (so
//! that they cannot drift from `--help`, and this module does not import the one that names it).
//!
//! Invariants: prints only into the output it is given; reads no input.

use crate::cli::output;
use crate::error::Result;
use clap::{Args, ValueEnum};
use clap_complete::Shell;
use std::io::Write;

/// What to generate.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// The man page (roff): `swarmsift generate man > /usr/local/share/man/man1/swarmsift.1`.
    Man,
    /// Bash completions: into `~/.local/share/bash-completion/completions/swarmsift`.
    CompleteBash,
    /// Zsh completions: into a file named `_swarmsift` in a directory of `$fpath`.
    CompleteZsh,
    /// Fish completions: into `~/.config/fish/completions/swarmsift.fish`.
    CompleteFish,
}

/// `swarmsift generate man|complete-bash|complete-zsh|complete-fish`: print it on stdout.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// What to print.
    #[arg(value_enum)]
    pub what: What,
}

/// Run `generate` for `cmd`, the whole command line's definition: always exit 0 unless stdout
/// fails.
pub fn run_generate(args: &GenerateArgs, mut cmd: clap::Command, out: &mut dyn Write) -> Result<u8> {
    let mut buf: Vec<u8> = Vec::new();
    match args.what {
        What::Man => clap_mangen::Man::new(cmd).render(&mut buf).map_err(output::error)?,
        What::CompleteBash => clap_complete::generate(Shell::Bash, &mut cmd, "swarmsift", &mut buf),
        What::CompleteZsh => clap_complete::generate(Shell::Zsh, &mut cmd, "swarmsift", &mut buf),
        What::CompleteFish => clap_complete::generate(Shell::Fish, &mut cmd, "swarmsift", &mut buf),
    }
    out.write_all(&buf).map_err(output::error)?;
    Ok(0)
}
