//! Progress on stderr for long runs: one bar per stage (scan, snapshots, entries), in bytes, or
//! as a share of the work for runs that aim at targets (`synth`).
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

/// Units of a [`Bar::stage_fraction`] stage.
const FRACTION: u64 = 10_000;

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
        Bar::counting(enabled && std::io::stderr().is_terminal())
    }

    /// A bar that counts when `counting` (drawn once [`SHOW_AFTER`] has passed).
    fn counting(counting: bool) -> Bar {
        let bar = counting.then(|| {
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

    /// Start a stage measured as a share of the work (drawn as a percentage): for runs whose
    /// end is a set of targets rather than bytes to read (`synth`).
    pub fn stage_fraction(&self, msg: &'static str) {
        self.stage(msg, FRACTION);
        if let Some(b) = &self.bar {
            b.set_style(
                ProgressStyle::with_template("{msg:>18} [{bar:30}] {percent:>3}% eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
        }
    }

    /// Set the share of the work done in a [`Bar::stage_fraction`] stage (clamped to 0..=1).
    pub fn set_fraction(&self, f: f64) {
        if let Some(b) = &self.bar {
            let f = if f.is_finite() { f.clamp(0.0, 1.0) } else { 0.0 };
            b.set_position((f * FRACTION as f64) as u64);
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

    /// Advance by `n` units. The position never goes past the total: work beyond the stage's
    /// estimate raises the total to the position instead (`117.53 MiB/30.93 MiB` cannot show).
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
            let pos = b.position();
            if b.length().is_none_or(|l| pos > l) {
                b.set_length(pos);
            }
            self.maybe_show(b);
        }
    }

    /// Position in the current stage.
    pub fn position(&self) -> u64 {
        self.bar.as_ref().map_or(0, |b| b.position())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_never_passes_the_total() {
        let b = Bar::counting(true);
        b.stage("x", 100);
        b.inc(60);
        assert_eq!((b.position(), b.len()), (60, 100));
        b.inc(60);
        assert!(b.position() <= b.len(), "{}/{}", b.position(), b.len());
        assert_eq!(b.len(), 120);
        b.stage("y", 0);
        b.inc(5);
        assert_eq!((b.position(), b.len()), (5, 5));
        b.stage_fraction("z");
        b.set_fraction(0.5);
        assert_eq!((b.position(), b.len()), (FRACTION / 2, FRACTION));
        b.set_fraction(7.0);
        assert_eq!(b.position(), FRACTION);
        b.finish();
    }

    #[test]
    fn off_is_off() {
        let b = Bar::new(false);
        b.stage("x", 10);
        b.inc(20);
        assert_eq!((b.position(), b.len()), (0, 0));
    }
}
