//! Input: where the bytes come from (a swarm dir, a raft dir, a tarball, a bare dir of files)
//! and which files in it are the WAL, the snapshots and the keys.
//!
//! Layer: the bottom. Read-only by construction: nothing here opens a file for writing.

pub mod layout;
pub mod source;
