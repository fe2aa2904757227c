//! The `swarmsift` binary, thin as ripgrep's: parse the command line, run it, turn the result
//! into an exit code (0 = ok, 1 = problems found in the data, 2 = could not run, with one error
//! line on stderr). Everything else is in the library, [`swarmsift::cli`].

use std::process::ExitCode;

// Decoding allocates and frees millions of small protobuf objects: mimalloc spends about a
// quarter less CPU on that than glibc's allocator (docs/performance.md) and returns freed memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: how long freed memory stays mapped before it goes back to
/// the OS (default 10 ms, which in practice keeps a replay's freed batches resident: on a 303 MB
/// WAL `info` ended holding 219 MB it no longer used, against 26 MB with 0).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // SAFETY: sets one entry of mimalloc's option table, before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    let cli = match swarmsift::cli::parse() {
        Ok(cli) => cli,
        // --help, --version or a usage error: clap has printed it.
        Err(code) => return code,
    };
    match swarmsift::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        // The reader of our output went away (`| head`): nothing more to say.
        Err(e) if swarmsift::cli::output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swarmsift: {e}");
            ExitCode::from(2)
        }
    }
}
