//! The `swarmsift` binary, thin as ripgrep's: parse the command line, run it, turn the result
//! into an exit code (0 = ok, 1 = problems found in the data, 2 = could not run, with one error
//! line on stderr). Everything else is in the library, [`swarmsift::cli`].

use std::process::ExitCode;

// Decoding allocates and frees millions of small protobuf objects: mimalloc spends about a
// quarter less CPU on that than glibc's allocator (docs/performance.md) and returns freed memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: how long freed memory stays mapped before it goes back to
/// the OS. 0 gave it back at once, and every batch of a replay then faulted in fresh zeroed
/// pages: on the real 303 MB WAL `state` spent 0.87 s of system time so, against 0.19 s with
/// mimalloc's default of 10 ms, at 86 MB against 90 MB peak (docs/performance.md, issue 10's
/// third round). The default is kept, set here so that the choice is visible.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
const PURGE_DELAY_MS: std::ffi::c_long = 10;

fn main() -> ExitCode {
    // SAFETY: sets one entry of mimalloc's option table, before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    // No transparent huge pages for this process: a replay allocates and frees batch-sized
    // buffers, and a huge page makes each first touch zero 2 MiB; with them off the real WAL's
    // `info`/`verify` peaked 20-30 MB lower. SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
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
