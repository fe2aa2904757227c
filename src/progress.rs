//! Progress on stderr for long runs: one bar per stage (scan, snapshots, entries), in bytes, or
//! as a share of the work for runs that aim at targets (`synth`).
//!
//! Invariants:
//! - Nothing is drawn unless the caller asked for progress *and* stderr is a terminal; stdout is
//!   never touched, so piped and JSON output stay clean.
//! - The bar only appears once a run has lasted [`SHOW_AFTER`]: short runs never flicker.
//! - Cheap to call from worker threads (an atomic add on a shared bar).
//! - The position never goes past the stage's total: each stage's total is the work its caller
//!   will count, exactly (`117.53 MiB/30.93 MiB` came from counting a WAL segment's bytes three
//!   times). Should a caller still count more, the total is raised to the position.
//! - With `SWARMSIFT_TRACE=1` in the environment, each stage boundary prints the elapsed time and
//!   the process's resident memory (anonymous and file-backed, and the peak) to stderr: how the
//!   benchmark numbers in `docs/performance.md` are broken down. A bar that was asked for then
//!   counts even off a terminal (drawn only on one), and each stage's end prints
//!   `stage NAME: POSITION/TOTAL` as the caller declared the total, before any raise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
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
    /// Whether the bar may be drawn (stderr is a terminal).
    draw: bool,
    started: Instant,
    shown: AtomicBool,
    /// The current stage: its name and the total its caller declared (and grew).
    current: Mutex<Option<(&'static str, u64)>>,
    /// Every ended stage: name, position, declared total.
    ended: Mutex<Vec<Stage>>,
}

/// An ended stage: its name, the position reached, and the total its caller declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// The stage's message.
    pub name: &'static str,
    /// Units counted.
    pub position: u64,
    /// Units the caller said the stage would count.
    pub declared: u64,
}

impl Bar {
    /// A bar, drawn on stderr only when `enabled` and stderr is a terminal (with
    /// `SWARMSIFT_TRACE=1`, an enabled bar counts off a terminal too, undrawn).
    pub fn new(enabled: bool) -> Bar {
        let terminal = std::io::stderr().is_terminal();
        let mut b = Bar::counting(enabled && (terminal || trace_on()));
        b.draw = terminal;
        b
    }

    /// A bar that counts when `counting` (drawn once [`SHOW_AFTER`] has passed, on a terminal),
    /// for tests of a caller's accounting ([`Bar::stages`]).
    pub fn counting(counting: bool) -> Bar {
        let bar = counting.then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            b.set_style(
                ProgressStyle::with_template("{msg:>18} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b
        });
        Bar {
            bar,
            trace: trace_on(),
            draw: false,
            started: Instant::now(),
            shown: AtomicBool::new(false),
            current: Mutex::new(None),
            ended: Mutex::new(Vec::new()),
        }
    }

    /// Start a stage of `len` units (bytes).
    pub fn stage(&self, msg: &'static str, len: u64) {
        self.end_stage();
        self.trace(msg);
        if let Some(b) = &self.bar {
            *lock(&self.current) = Some((msg, len));
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

    /// Add `n` units to the current stage's total (work found as the stage goes: a replay
    /// advanced several times declares each advance's work when it starts).
    pub fn grow(&self, n: u64) {
        if let Some(b) = &self.bar {
            if let Some((_, declared)) = lock(&self.current).as_mut() {
                *declared += n;
            }
            b.set_length(b.length().unwrap_or(0).max(b.position()) + n);
        }
    }

    /// The stages ended so far (each [`Bar::stage`] and [`Bar::finish`] ends the current one),
    /// with what was counted against what was declared. Empty for a bar that does not count.
    pub fn stages(&self) -> Vec<Stage> {
        lock(&self.ended).clone()
    }

    fn end_stage(&self) {
        let Some(b) = &self.bar else { return };
        let Some((name, declared)) = lock(&self.current).take() else { return };
        let s = Stage { name, position: b.position(), declared };
        if self.trace {
            eprintln!(
                "[trace {:>7.2}s] stage {}: {}/{}",
                self.started.elapsed().as_secs_f64(),
                s.name,
                s.position,
                s.declared
            );
        }
        lock(&self.ended).push(s);
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
        self.end_stage();
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
        if self.draw && !self.shown.load(Ordering::Relaxed) && self.started.elapsed() >= SHOW_AFTER {
            self.shown.store(true, Ordering::Relaxed);
            b.set_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        }
    }
}

fn trace_on() -> bool {
    std::env::var_os("SWARMSIFT_TRACE").is_some_and(|v| v == "1")
}

/// A lock that a panicked holder does not poison for us (the data is plain counts).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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
        self.end_stage();
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
    fn stages_keep_what_their_callers_declared() {
        let b = Bar::counting(true);
        b.stage("a", 10);
        b.inc(10);
        b.stage("b", 0);
        b.grow(30);
        b.inc(20);
        b.grow(5);
        b.inc(15);
        b.stage("c", 4);
        b.inc(9);
        b.finish();
        let got: Vec<(&str, u64, u64)> = b.stages().iter().map(|s| (s.name, s.position, s.declared)).collect();
        // The overshoot of `c` is kept as declared (the bar itself shows 9/9).
        assert_eq!(got, [("a", 10, 10), ("b", 35, 35), ("c", 9, 4)]);
        assert_eq!(Bar::counting(false).stages(), []);
    }

    #[test]
    fn off_is_off() {
        let b = Bar::new(false);
        b.stage("x", 10);
        b.inc(20);
        assert_eq!((b.position(), b.len()), (0, 0));
    }
}
