//! Analyses: what the commands compute from replayed state and the scanned log: verification,
//! object histories, size forensics, manager comparison, archives of copies, salvage, the
//! plaintext copy, and synthetic data sets.
//!
//! Layer: above [`crate::replay::point`], below [`crate::render`]. Nothing here formats text.

pub mod advise;
pub mod archive;
pub mod decrypt;
pub mod history;
pub mod identity;
pub mod managers;
pub mod metrics;
pub mod quorum;
pub mod salvage;
pub mod sizes;
pub mod synth;
pub mod verify;
