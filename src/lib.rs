//! swarmsift: offline forensics of Docker Swarm manager state.
//!
//! Data flows one way, and each layer imports only the layers below it:
//!
//! ```text
//! input → format → crypto → decode → replay → analyses → render → cli
//! ```
//!
//! - [`input`]: the bytes (dir, mmap, tarball) and which files are which;
//! - [`format`]: WAL frames and records, snapshot containers, protobuf on the wire;
//! - [`crypto`]: ciphers, keys, the keyring;
//! - [`decode`]: entries and snapshot objects;
//! - [`replay`]: the one engine that turns the log into state;
//! - [`analyses`]: verification, histories, sizes, managers, archives, salvage, synthesis;
//! - [`render`]: text, JSON, charts;
//! - [`cli`]: the commands.
//!
//! [`error`] (errors and findings) and [`progress`] are used by every layer. Nothing in this
//! crate writes to its input.
#![warn(missing_docs)]

pub mod analyses;
pub mod cli;
pub mod crypto;
pub mod decode;
pub mod error;
pub mod format;
pub mod input;
pub mod progress;
pub mod render;
pub mod replay;

pub mod pb {
    //! Generated protobuf types (prost), from our own `.proto` subset under `proto/`.
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/_protos.rs"));
}
