//! Progress on stderr for long runs: one bar per stage (scan, snapshots, entries), in bytes.
//!
//! Invariants:
//! - Nothing is drawn unless the caller asked for progress *and* stderr is a terminal; stdout is
//!   never touched, so piped and JSON output stay clean.
//! - The bar only appears once a run has lasted [`SHOW_AFTER`]: short runs never flicker.
//! - Cheap to call from worker threads (an atomic add on a shared bar).
//! - With `SWARMSIFT_TRACE=1` in the environment, each stage boundary prints the elapsed time and
//!   the process's resident memory (anonymous and file-backed, and the peak) to stderr: how the
//!   benchmark numbers in `docs/performance.md` are broken down.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A run shorter than this shows no bar.
pub const SHOW_AFTER: Duration = Duration::from_millis(400);

/// A progress bar that may be off.
pub struct Bar {
    bar: Option<ProgressBar>,
    trace: bool,
    started: Instant,
    shown: AtomicBool,
}

impl Bar {
    /// A bar, drawn on stderr only when `enabled` and stderr is a terminal.
    pub fn new(enabled: bool) -> Bar {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            b.set_style(
                ProgressStyle::with_template("{msg:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        let trace = std::env::var_os("SWARMSIFT_TRACE").is_some_and(|v| v == "1");
        Bar { bar, trace, started: Instant::now(), shown: AtomicBool::new(false) }
    }

    /// Start a stage of `len` units (bytes).
    pub fn stage(&self, msg: &'static str, len: u64) {
        self.trace(msg);
        if let Some(b) = &self.bar {
            b.set_message(msg);
            b.set_length(len);
            b.set_position(0);
            b.reset_eta();
            self.maybe_show(b);
        }
    }

    /// Length of the current stage.
    pub fn len(&self) -> u64 {
        self.bar.as_ref().and_then(|b| b.length()).unwrap_or(0)
    }

    /// Whether the current stage is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Advance by `n` units.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
            self.maybe_show(b);
        }
    }

    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        self.trace("done");
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// With `SWARMSIFT_TRACE=1`: elapsed time and resident memory, on stderr.
    pub fn trace(&self, what: &str) {
        if self.trace {
            eprintln!("[trace {:>7.2}s {}] {what}", self.started.elapsed().as_secs_f64(), memory_line());
        }
    }

    fn maybe_show(&self, b: &ProgressBar) {
        if !self.shown.load(Ordering::Relaxed) && self.started.elapsed() >= SHOW_AFTER {
            self.shown.store(true, Ordering::Relaxed);
            b.set_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        }
    }
}

/// `rss N MB (anon A, file F), peak P MB` from `/proc/self/status` (empty elsewhere).
fn memory_line() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    format!(
        "rss {} MB (anon {}, file {}), peak {} MB",
        kb("VmRSS:") / 1024,
        kb("RssAnon:") / 1024,
        kb("RssFile:") / 1024,
        kb("VmHWM:") / 1024
    )
}

impl Drop for Bar {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
