//! The one output path: every command writes what it prints into one [`Output`], a buffered
//! writer on stdout, object by object as it renders; nothing else in the crate prints to stdout.
//!
//! Invariants:
//! - a failed write or flush is an error ([`Error::Io`] on `<stdout>`, exit code 2), never
//!   ignored: `swarmsift wal ... > /dev/full` fails;
//! - a broken pipe (the reader went away: `swarmsift wal ... | head`) is not a failure:
//!   [`is_broken_pipe`] tells the binary to end quietly with exit code 0;
//! - [`Output::finish`] flushes and reports the error; dropping an `Output` flushes too but
//!   loses the error, so every successful run ends with `finish`.
//!
//! The buffer wraps [`std::io::Stdout`] rather than a `StdoutLock`: `wal` hands the writer to the
//! load as its [`crate::replay::analysis::EntrySink`], which must be `Send`, and a lock guard is
//! not. The lock is then taken once per buffer flush (64 KiB), which costs nothing measurable.

use crate::error::Error;
use std::io::{self, BufWriter, Stdout, Write};
use std::path::PathBuf;

/// Bytes buffered before a write to stdout.
const BUFFER: usize = 1 << 16;

/// The buffered stdout every command writes into.
pub struct Output {
    w: BufWriter<Stdout>,
}

impl Output {
    /// A buffer on the process's stdout.
    pub fn stdout() -> Output {
        Output { w: BufWriter::with_capacity(BUFFER, io::stdout()) }
    }

    /// Flush everything written; the write error, if any.
    pub fn finish(mut self) -> crate::error::Result<()> {
        self.w.flush().map_err(error)
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.w.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// A write error on the output as the crate's error (one line: `<stdout>: <why>`).
pub fn error(e: io::Error) -> Error {
    Error::Io { path: PathBuf::from("<stdout>"), source: e }
}

/// Whether the error is a broken pipe on the output: the reader has gone, which ends the program
/// quietly with exit code 0 (as `grep`, `rg` and `cat` do) instead of an error line.
pub fn is_broken_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
}
