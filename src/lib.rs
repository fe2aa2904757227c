//! swarmsift: offline forensics of Docker Swarm manager state.
//!
//! Data flows one way: bytes ([`source`]) → frames and records ([`wal`], [`snap`]) → entries →
//! store actions ([`analysis`]) → state ([`store`]) → reports ([`report`]). Nothing in this crate
//! writes to its input.
#![warn(missing_docs)]

pub mod analysis;
pub mod archive;
pub mod chart;
pub mod cli;
pub mod commands_chart;
pub mod commands_forensics;
pub mod commands_synth;
pub mod crypto;
pub mod decrypt;
pub mod docker_api;
pub mod error;
pub mod history;
pub mod keys;
pub mod layout;
pub mod managers;
pub mod progress;
pub mod replay;
pub mod report;
pub mod salvage;
pub mod sizes;
pub mod snap;
pub mod source;
pub mod store;
pub mod synth;
pub mod verify;
pub mod wal;
pub mod wirecheck;

pub mod pb {
    //! Generated protobuf types (prost), from our own `.proto` subset under `proto/`.
    #![allow(missing_docs, clippy::all)]
    include!(concat!(env!("OUT_DIR"), "/_protos.rs"));
}
