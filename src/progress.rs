//! Progress on stderr for long runs: one bar per stage (scan, snapshots, entries), in bytes.
//!
//! Invariants:
//! - Nothing is drawn unless the caller asked for progress *and* stderr is a terminal; stdout is
//!   never touched, so piped and JSON output stay clean.
//! - The bar only appears once a run has lasted [`SHOW_AFTER`]: short runs never flicker.
//! - Cheap to call from worker threads (an atomic add on a shared bar).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A run shorter than this shows no bar.
pub const SHOW_AFTER: Duration = Duration::from_millis(400);

/// A progress bar that may be off.
pub struct Bar {
    bar: Option<ProgressBar>,
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
        Bar { bar, started: Instant::now(), shown: AtomicBool::new(false) }
    }

    /// Start a stage of `len` units (bytes).
    pub fn stage(&self, msg: &'static str, len: u64) {
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
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn maybe_show(&self, b: &ProgressBar) {
        if !self.shown.load(Ordering::Relaxed) && self.started.elapsed() >= SHOW_AFTER {
            self.shown.store(true, Ordering::Relaxed);
            b.set_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.finish();
    }
}
