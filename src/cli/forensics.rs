//! The `verify`, `salvage` and `managers` subcommands: clap arguments and run functions that
//! write their report into the output they are given ([`crate::cli::output`]) and return the
//! exit code (0 = ok, 1 = problems found in the data; errors map to 2 in `main`).

use crate::cli::output;
use crate::error::Result;
use crate::render::json::pretty;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

pub use crate::cli::Format;
use crate::cli::KeyArgs;

/// `--engine-version`: a Docker engine version, `[v]MAJOR[.MINOR[.PATCH]]` with an optional
/// `-`/`+`/`~` suffix (`20.10.24+dfsg1`, `27.5.1`, `v24.0`, `28`). Anything else is refused
/// (exit 2) rather than silently judged as some default engine.
pub fn engine_version_arg(s: &str) -> std::result::Result<String, String> {
    let t = s.trim();
    let core_end = t.find(['-', '+', '~']).unwrap_or(t.len());
    let (core, suffix) = t.split_at(core_end);
    let core = core.strip_prefix('v').unwrap_or(core);
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_digit());
    let suffix_ok = suffix.len() <= 64
        && suffix.bytes().skip(1).all(|b| b.is_ascii_alphanumeric() || b"._+~-".contains(&b))
        && suffix.len() != 1;
    if parts.len() <= 3 && parts.iter().all(numeric) && suffix_ok {
        Ok(t.to_string())
    } else {
        Err(format!("{s:?} is not a Docker engine version (expected MAJOR[.MINOR[.PATCH]], e.g. 20.10.24 or 27.5)"))
    }
}

/// `swarmsift verify PATH`.
#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// Input: swarm dir, raft dir, .tar/.tar.gz backup, or a dir of .wal/.snap files.
    pub path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Unlock key (without it an autolocked manager is checked for structure only; it is the
    /// same for every manager of a cluster) and read mode.
    #[command(flatten)]
    pub input: KeyArgs,
    /// Docker engine version to judge consequences for (e.g. 20.10, 24.0, 28.1); default: the
    /// node's own engine version found in the store.
    #[arg(long, value_name = "VERSION", value_parser = engine_version_arg)]
    pub engine_version: Option<String>,
    /// Check frames, CRC chains and snapshot containers only: no entry or snapshot payload is
    /// decrypted or decoded (fast; no key needed).
    #[arg(long)]
    pub no_decrypt: bool,
}

/// `swarmsift salvage PATH -o DIR`.
#[derive(Args, Debug, Clone)]
pub struct SalvageArgs {
    /// Input: swarm dir, raft dir, .tar/.tar.gz backup, or a dir of .wal/.snap files.
    pub path: PathBuf,
    /// Output directory: must not exist or be empty, and must not be inside the input.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Unlock key (without it an autolocked manager is checked for structure only; it is the
    /// same for every manager of a cluster) and read mode.
    #[command(flatten)]
    pub input: KeyArgs,
    /// Docker engine version the copy is meant for (see `verify --engine-version`).
    #[arg(long, value_name = "VERSION", value_parser = engine_version_arg)]
    pub engine_version: Option<String>,
}

/// `swarmsift managers DIR...`.
#[derive(Args, Debug, Clone)]
pub struct ManagersArgs {
    /// The swarm dirs (or backups) of the managers of one cluster.
    #[arg(required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Unlock key (without it an autolocked manager is checked for structure only; it is the
    /// same for every manager of a cluster) and read mode.
    #[command(flatten)]
    pub input: KeyArgs,
}

/// No key, no "OK": an autolocked manager without its unlock key had no payload checked, so
/// nothing can be said about them. `verify` and `report` refuse it (exit 2); only `verify
/// --no-decrypt` asks for the structure alone.
pub(crate) fn require_key(path: &std::path::Path, v: &crate::analyses::verify::Verification) -> Result<()> {
    // An encrypted input with no key file at all (a `raft/` dir copied alone): its payloads
    // were not checked either, so `verify` refuses it as `info` does (exit 2).
    if v.key_access == crate::analyses::verify::KeyAccess::NoKeyFile {
        return Err(crate::error::Error::Key(format!(
            "could not check {}: its payloads are encrypted and there is no certificates/swarm-node.key: give the keys (the swarm dir, or `archive` with the swarm dir or backup whose keys it needs), or --no-decrypt to check the structure only",
            path.display()
        )));
    }
    if v.key_access == crate::analyses::verify::KeyAccess::Locked {
        return Err(crate::error::Error::Key(format!(
            "could not check {}: autolock is on: give the unlock key with --unlock-key-file or SWARMSIFT_UNLOCK_KEY (or --no-decrypt to check the structure only)",
            path.display()
        )));
    }
    Ok(())
}

/// Run `verify`.
pub fn run_verify(args: VerifyArgs, progress: bool, out: &mut dyn Write) -> Result<u8> {
    let unlock_key = args.input.unlock_key()?;
    let opts = crate::analyses::verify::VerifyOptions {
        unlock_key,
        read: args.input.read(),
        engine_version: args.engine_version,
        progress,
        no_decrypt: args.no_decrypt,
    };
    let v = crate::analyses::verify::verify(&args.path, &opts)?;
    if !args.no_decrypt {
        require_key(&args.path, &v)?;
    }
    match args.format {
        Format::Json => pretty(out, &crate::analyses::verify::json(&v)),
        Format::Text => out.write_all(crate::render::verify::text(&v).as_bytes()),
    }
    .map_err(output::error)?;
    Ok(crate::analyses::verify::exit_code(&v))
}

/// Run `salvage`.
pub fn run_salvage(args: SalvageArgs, progress: bool, out: &mut dyn Write) -> Result<u8> {
    let unlock_key = args.input.unlock_key()?;
    let opts = crate::analyses::salvage::SalvageOptions {
        unlock_key,
        read: args.input.read(),
        engine_version: args.engine_version,
        progress,
    };
    let rep = crate::analyses::salvage::salvage(&args.path, &args.output, &opts)?;
    match args.format {
        Format::Json => pretty(out, &rep),
        Format::Text => out.write_all(crate::render::salvage::text(&rep).as_bytes()),
    }
    .map_err(output::error)?;
    Ok(if rep.copy_verifies { 0 } else { 1 })
}

/// Run `managers`.
pub fn run_managers(args: ManagersArgs, progress: bool, out: &mut dyn Write) -> Result<u8> {
    let unlock_key = args.input.unlock_key()?;
    let read = args.input.read();
    let rep = crate::analyses::managers::compare_with(&args.paths, unlock_key, read, progress)?;
    match args.format {
        Format::Json => pretty(out, &rep),
        Format::Text => out.write_all(crate::render::managers::text(&rep).as_bytes()),
    }
    .map_err(output::error)?;
    Ok(if rep.recommendation.is_some() && rep.problems == 0 { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::engine_version_arg;

    #[test]
    fn engine_versions_are_checked() {
        for ok in ["20.10.24+dfsg1", "27.5.1", "v24.0", "28", "1.13.1-rc1", "20.10.24~3-0~debian-bookworm"] {
            assert_eq!(engine_version_arg(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in ["banana", "", "v", "20.", ".10", "20.10.24.1", "20.x", "20-", "1.2.3 4", "+dfsg1"] {
            let e = engine_version_arg(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
