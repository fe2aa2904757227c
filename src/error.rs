//! Typed errors and findings.
//!
//! Two kinds of trouble exist in this crate and they are kept apart:
//! - [`Error`]: the tool could not run (unreadable path, bad usage, missing key). The CLI maps
//!   these to exit code 2.
//! - [`Finding`]: something is wrong with the *data* (a CRC mismatch, a torn tail, a record no key
//!   decrypts). Decoders never stop at a finding; they record it with the file, byte offset, raft
//!   index and term where known, and go on. The CLI maps error-severity findings to exit code 1.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

/// Why the tool could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The path exists but is not something we can read as swarm state.
    #[error("{path}: {why}")]
    NotSwarmState {
        /// The path given.
        path: PathBuf,
        /// What was expected.
        why: String,
    },
    /// A key problem that stops decryption of everything (missing or wrong unlock key).
    #[error("{0}")]
    Key(String),
    /// Bad usage (conflicting flags, unparsable values).
    #[error("{0}")]
    Usage(String),
}

/// Convenience alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing is wrong.
    Info,
    /// Unusual, possibly harmless (leftover temp files, uncommitted tail).
    Warning,
    /// Data is damaged or cannot be read.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One problem (or noteworthy fact) found in the data, with where it is.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable machine-readable code, e.g. `wal.crc_mismatch`.
    pub code: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// Display path of the file concerned, if any.
    pub file: Option<String>,
    /// Byte offset in that file, if known.
    pub offset: Option<u64>,
    /// Raft index concerned, if known.
    pub index: Option<u64>,
    /// Raft term concerned, if known.
    pub term: Option<u64>,
    /// One plain sentence.
    pub message: String,
}

impl Finding {
    /// A finding with only a code, severity and message; add locations with the builders.
    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Finding { code, severity, file: None, offset: None, index: None, term: None, message: message.into() }
    }
    /// Set the file.
    pub fn file(mut self, f: impl Into<String>) -> Self {
        self.file = Some(f.into());
        self
    }
    /// Set the byte offset.
    pub fn offset(mut self, o: u64) -> Self {
        self.offset = Some(o);
        self
    }
    /// Set the raft index.
    pub fn index(mut self, i: u64) -> Self {
        self.index = Some(i);
        self
    }
    /// Set the raft term.
    pub fn term(mut self, t: u64) -> Self {
        self.term = Some(t);
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.severity, self.code)?;
        if let Some(file) = &self.file {
            write!(f, " {file}")?;
        }
        if let Some(o) = self.offset {
            write!(f, " @{o:#x}")?;
        }
        if let Some(i) = self.index {
            write!(f, " index {i}")?;
        }
        if let Some(t) = self.term {
            write!(f, " term {t}")?;
        }
        write!(f, ": {}", self.message)
    }
}
